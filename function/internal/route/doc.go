// Package route is the argv template of the governance data's event
// routes: what a route may say (Validate, used when governance data
// loads), how an event's values fill its argv (Expand), and how that argv
// becomes one bash command that parses back to exactly it (Command).
// Matching events to routes, and judging the values an event carries,
// belong to the ingress stage.
//
// Each argv element is a template. {bucket}, {object.key},
// {object.size}, {object.etag}, {event.name}, {event.time}, {event.id}
// and {region} are replaced by the event's values; "{{" is a literal "{";
// any other brace is literal, so awk programs such as '{print $1}' need
// no escaping; an unknown {name} is an error at load time. A placeholder
// fills one element or part of one, never more: every element is quoted
// for bash (mvdan.cc/sh syntax.Quote) and the command is parsed back to
// check that it is exactly the argv.
//
// An element that a placeholder starts and that comes out starting with
// "-" is refused unless an element "--" comes before it (see Expand).
package route
