package hpcgate

import "time"

// Call is one request entering the pipeline, with who made it and how.
// The ingress stage makes every call from an event; nothing else makes
// principals for events.
type Call struct {
	Principal Principal      `json:"principal"`
	Trigger   string         `json:"trigger"`
	Context   RequestContext `json:"context"`
	Route     string         `json:"route,omitempty"`   // the event route that produced Request, if any
	Account   string         `json:"account,omitempty"` // overrides the configured account
	Request   Request        `json:"request"`
	Wait      *time.Duration `json:"wait,omitempty"` // nil: the gateway's default wait; 0: do not wait
	DryRun    bool           `json:"dryRun,omitempty"`
	// Identity is what the event's source guarantees unique (bucket, key,
	// eTag and sequencer of an OSS record; source and id of a CloudEvent;
	// trigger name and time of a timer; the caller's idempotency key or
	// FC's async task id of a direct invoke); empty for HTTP requests and
	// for direct invokes that carry neither. Redeliveries share it.
	Identity string `json:"identity,omitempty"`
}
