// Package ingress turns a decoded FC event into the calls the gate runs:
// for each, who asks (the principal), through which trigger, with which
// request context (the acs: condition keys), which request, and the
// event's source identity. It owns every rule about who an event may
// speak for, in one place:
//
//   - Which kinds of event a deployment accepts is configuration
//     (HPCGATE_EVENTS). A kind not accepted is refused before anything
//     else, so a deployment serving researchers over HTTP cannot be made
//     to act as a timer, an OSS bucket or an EventBridge source by a
//     direct InvokeFunction: FC cannot tell a direct invoke from a
//     trigger, only the deployment's RAM policy can keep direct invokes
//     off the function that accepts trigger events.
//   - Events are all or nothing: every record is checked before any
//     runs, and a record that is malformed, claims another source than
//     its kind (eventSource must be acs:oss), names a bucket outside the
//     function's own account, whose object does not exist with that eTag
//     (when object verification is on), or whose values cannot fill its
//     route's argv makes the whole event invalid; nothing runs.
//   - Context clients cannot set: acs:SourceIp comes only from FC's own
//     field (requestContext.http.sourceIp) or the local listener's peer;
//     acs:SecureTransport only from what the deployment vouches for
//     (HPCGATE_HTTPS_ONLY) or the local listener itself, never from a
//     header; otherwise it is absent.
//
// Principals for events are made here and nowhere else: oss:<bucket>,
// eventbridge:<source>, timer:<trigger name>, and the configured
// principal of direct invokes.
package ingress
