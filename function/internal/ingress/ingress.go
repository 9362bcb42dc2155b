package ingress

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/function/internal/trigger"
)

// Kinds are the kinds of event a deployment accepts.
var Kinds = []string{hpcgate.TriggerHTTP, hpcgate.TriggerInvoke, hpcgate.TriggerOSS, hpcgate.TriggerEventBridge, hpcgate.TriggerTimer}

// Config is what the ingress stage needs to know about its deployment.
type Config struct {
	// Accept lists the kinds of event this deployment takes (see Kinds);
	// every other kind is refused with EventNotAccepted.
	Accept []string
	// Account is the function's own account id. An FC invocation's own
	// account (Facts.Account) wins; with neither, OSS events are refused,
	// since no bucket can be shown to be the function's own.
	Account string
	// InvokePrincipal is the service principal of direct invokes.
	InvokePrincipal string
	// HTTPSOnly says the deployment serves its HTTP trigger over HTTPS
	// only (for example a custom domain that refuses plain HTTP), which
	// makes acs:SecureTransport true for HTTP trigger requests. Without
	// it the key is absent: the event does not say which scheme was used.
	HTTPSOnly bool
	// Routes returns the event routes of the policy set in force.
	Routes func() []hpcgate.Route
	// Objects, when set, verifies that the object of every routed OSS
	// record exists with the record's eTag (or, for a removal, no longer
	// exists), asked with the function's own credentials.
	Objects ObjectHeader
}

// Facts are what FC tells about one invocation, outside the event.
type Facts struct {
	Account     string // the invoked function's account id
	AsyncTaskID string // FC's async task id, when async task mode is on
}

// Ingress turns events into calls. It is safe for concurrent use.
type Ingress struct{ cfg Config }

// New returns an Ingress for cfg. Accept must list only Kinds.
func New(cfg Config) (*Ingress, error) {
	for _, k := range cfg.Accept {
		if !slices.Contains(Kinds, k) {
			return nil, fmt.Errorf("accepted events: unknown kind %q (want %s)", k, strings.Join(Kinds, ", "))
		}
	}
	return &Ingress{cfg: cfg}, nil
}

// Item is one call of a delivery, or (Err non-nil) the reason a record
// runs nothing on its own (a record no route matches).
type Item struct {
	Call hpcgate.Call
	Err  error
}

// Delivery is what one event became.
type Delivery struct {
	// List says the event answers with a list of results, one per item
	// (OSS trigger events and EventBridge batches); otherwise with one.
	List  bool
	Items []Item
}

// Accepts refuses an event of a kind the deployment does not take.
func (in *Ingress) Accepts(kind trigger.Kind) error {
	if slices.Contains(in.cfg.Accept, string(kind)) {
		return nil
	}
	return hpcgate.Errorf(hpcgate.CodeEventNotAccepted, "this deployment does not accept %s events (it accepts: %s)", kind, cmp.Or(strings.Join(in.cfg.Accept, ", "), "none"))
}

// Calls turns a decoded event other than an HTTP trigger event into its
// calls. An error refuses the whole event: nothing of it may run. The
// HTTP trigger is served by ServeHTTP instead, whose handlers make their
// calls with HTTPCall.
func (in *Ingress) Calls(ctx context.Context, ev trigger.Event, f Facts) (Delivery, error) {
	if err := in.Accepts(ev.Kind); err != nil {
		return Delivery{}, err
	}
	account := cmp.Or(f.Account, in.cfg.Account)
	switch ev.Kind {
	case trigger.KindInvoke:
		return one(in.invokeCall(ev.Invoke, f)), nil
	case trigger.KindTimer:
		return one(timerCall(ev.Timer)), nil
	case trigger.KindOSS:
		return in.ossCalls(ctx, ev.OSS, account)
	case trigger.KindEventBridge:
		return in.eventBridgeCalls(ctx, ev.EventBridge, account)
	}
	return Delivery{}, invalidEvent("a %s event makes no calls", ev.Kind)
}

func one(c hpcgate.Call) Delivery { return Delivery{Items: []Item{{Call: c}}} }

// service is the one constructor of event principals.
func service(kind, id string) hpcgate.Principal {
	return hpcgate.Principal{Type: hpcgate.PrincipalService, ID: kind + ":" + id}
}

// WithPayload returns c carrying the request, wait and dry-run flag of a
// request body: the one place a payload becomes a call, for the HTTP API
// and for every event that carries a request.
func WithPayload(c hpcgate.Call, pl trigger.Payload) hpcgate.Call {
	c.Request, c.Wait, c.DryRun = pl.Request, pl.Wait.Ptr(), pl.DryRun
	return c
}

// payloadCall is a call for a request an event carries.
func payloadCall(p hpcgate.Principal, trig string, pl trigger.Payload) hpcgate.Call {
	return WithPayload(hpcgate.Call{Principal: p, Trigger: trig}, pl)
}

func (in *Ingress) invokeCall(pl trigger.Payload, f Facts) hpcgate.Call {
	p := hpcgate.Principal{Type: hpcgate.PrincipalService, ID: in.cfg.InvokePrincipal}
	c := payloadCall(p, hpcgate.TriggerInvoke, pl)
	switch {
	case pl.IdempotencyKey != "":
		c.Identity = identity("invoke", pl.IdempotencyKey)
	case f.AsyncTaskID != "":
		c.Identity = identity("invoke-task", f.AsyncTaskID)
	}
	return c
}

func timerCall(t trigger.TimerEvent) hpcgate.Call {
	c := payloadCall(service("timer", t.TriggerName), hpcgate.TriggerTimer, t.Request)
	c.Identity = identity("timer", t.TriggerName, t.TriggerTime)
	return c
}

func invalidEvent(format string, args ...any) *hpcgate.Error {
	return hpcgate.Errorf(hpcgate.CodeInvalidEvent, format, args...)
}
