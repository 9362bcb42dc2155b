package ingress

import "encoding/json"

// identity encodes an event's source identity as kind:["part",...]: JSON
// keeps the parts apart whatever they hold, so two different events can
// never share an identity.
func identity(kind string, parts ...string) string {
	b, _ := json.Marshal(parts)
	return kind + ":" + string(b)
}
