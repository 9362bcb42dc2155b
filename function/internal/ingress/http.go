package ingress

import (
	"context"
	"net"
	"net/http"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/function/internal/trigger"
)

// listener is what this process's own listener knows of a connection
// that delivered a raw event (local mode's POST /invoke).
type listener struct {
	peer   string // the TCP peer's IP, "" when it is not one
	secure bool   // the connection is TLS
}

type listenerKey struct{}

// FromListener marks ctx as serving a raw event that r, a request this
// process's own listener accepted, carried (local mode's POST /invoke).
// Whoever reaches that listener writes the event, so for an HTTP trigger
// event ServeHTTP takes acs:SourceIp and acs:SecureTransport from r's
// connection, as for any other local request, never from the event's
// requestContext.http.sourceIp nor from HPCGATE_HTTPS_ONLY (which vouches
// for FC's trigger, not for this listener).
func FromListener(ctx context.Context, r *http.Request) context.Context {
	l := listener{secure: r.TLS != nil}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil && net.ParseIP(host) != nil {
		l.peer = host
	}
	return context.WithValue(ctx, listenerKey{}, l)
}

// viaTrigger marks the context of a request that FC's HTTP trigger
// delivered as an event; it holds what the deployment vouches for about
// its transport.
type viaTrigger struct{ secure *bool }

type viaTriggerKey struct{}

// ServeHTTP serves an HTTP trigger event with h and returns FC's
// response object. The request's context tells HTTPCall that the
// request came through FC: its peer address is FC's requestContext
// field, and whether it came over HTTPS is only what the deployment
// vouches for (Config.HTTPSOnly).
func (in *Ingress) ServeHTTP(ctx context.Context, h http.Handler, e trigger.HTTPEvent) trigger.HTTPTriggerResponse {
	v := viaTrigger{}
	if l, ok := ctx.Value(listenerKey{}).(listener); ok {
		e.RequestContext.HTTP.SourceIP = l.peer
		v.secure = &l.secure
	} else if in.cfg.HTTPSOnly {
		t := true
		v.secure = &t
	}
	return trigger.ServeEvent(context.WithValue(ctx, viaTriggerKey{}, v), h, e)
}

// HTTPCall starts the call of an HTTP request: trigger http, and the
// context facts the transport gives. acs:SourceIp is the peer address
// (FC's requestContext.http.sourceIp for the HTTP trigger, the TCP peer
// for local mode), never a header such as X-Forwarded-For.
// acs:SecureTransport is, for the HTTP trigger, true when the deployment
// says it is HTTPS-only and absent otherwise; for a request this process
// accepted itself, whether the connection is TLS. X-Forwarded-Proto is
// never read: the caller can write it.
func HTTPCall(r *http.Request) hpcgate.Call {
	c := hpcgate.Call{Trigger: hpcgate.TriggerHTTP}
	if v, ok := r.Context().Value(viaTriggerKey{}).(viaTrigger); ok {
		c.Context.SecureTransport = v.secure
	} else {
		secure := r.TLS != nil
		c.Context.SecureTransport = &secure
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil && net.ParseIP(host) != nil {
		c.Context.SourceIP = host
	}
	return c
}
