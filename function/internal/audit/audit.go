// Package audit writes the gateway's logs as JSON through log/slog, tags
// every record with the invocation's request id, and defines the one audit
// record each request leaves: who, what, the decision and its reasons,
// E-HPC ids, outcome and duration. Secrets never reach it: the record has
// no field that could hold a token or a key.
package audit

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

type ctxKey struct{}

// WithRequestID returns ctx carrying the invocation's request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// RequestID returns the request id carried by ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// NewLogger returns a JSON logger writing to w whose records carry the
// request id of the context they are logged with.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(requestIDHandler{slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})})
}

type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("requestId", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// Record is the audit record of one request.
type Record struct {
	Principal     hpcgate.Principal
	Trigger       string
	Route         string // the event route that made the request, if any
	Event         string // the event's identity (claim step), if any
	Action        string
	Request       *hpcgate.Request // as authorized: the canonical command
	Decision      *hpcgate.Decision
	Result        *hpcgate.Result
	Started       time.Time
	InternalError error // the cause behind an error result; never shown to the caller

	// Context, Region and Account are the rest of what the decision was
	// made on (the context with the current time it used), so that the
	// record can be decided again: `check --replay`.
	Context         *hpcgate.RequestContext
	Region, Account string
}

// Log writes r as one "audit" record at info level (warn when the request
// failed inside the gateway or upstream).
func Log(ctx context.Context, l *slog.Logger, r Record) {
	principal := []any{slog.String("type", r.Principal.Type), slog.String("id", r.Principal.ID), slog.Any("groups", r.Principal.Groups)}
	if r.Principal.MFA != nil {
		principal = append(principal, slog.Bool("mfa", *r.Principal.MFA))
	}
	attrs := []slog.Attr{
		slog.Group("principal", principal...),
		slog.String("trigger", r.Trigger),
		slog.String("action", r.Action),
	}
	if c := r.Context; c != nil {
		var ctx []any
		if c.SourceIP != "" {
			ctx = append(ctx, slog.String("sourceIp", c.SourceIP))
		}
		if c.SecureTransport != nil {
			ctx = append(ctx, slog.Bool("secureTransport", *c.SecureTransport))
		}
		if c.CurrentTime != nil {
			ctx = append(ctx, slog.String("currentTime", c.CurrentTime.UTC().Format(time.RFC3339Nano)))
		}
		attrs = append(attrs, slog.Group("context", ctx...), slog.String("region", r.Region), slog.String("account", r.Account))
	}
	if r.Route != "" {
		attrs = append(attrs, slog.String("route", r.Route))
	}
	if r.Event != "" {
		attrs = append(attrs, slog.String("event", r.Event))
	}
	if q := r.Request; q != nil {
		attrs = append(attrs, slog.Group("request",
			slog.String("clusterId", q.ClusterID), slog.String("command", q.Command),
			slog.String("workingDir", q.WorkingDir), slog.Int("timeout", q.Timeout),
			slog.Any("instanceIds", q.InstanceIDs)))
	}
	if d := r.Decision; d != nil {
		decision := []any{slog.Bool("allow", d.Allow), slog.Any("reasons", d.Reasons),
			slog.String("resource", d.Resource), slog.String("policyRevision", d.Revision)}
		if d.Explanation != "" {
			decision = append(decision, slog.String("explanation", d.Explanation))
		}
		attrs = append(attrs, slog.Group("decision", decision...))
	}
	level := slog.LevelInfo
	if res := r.Result; res != nil {
		attrs = append(attrs, slog.String("status", res.Status))
		if res.CommandID != "" {
			attrs = append(attrs, slog.String("commandId", res.CommandID))
		}
		if res.EHPCRequestID != "" {
			attrs = append(attrs, slog.String("ehpcRequestId", res.EHPCRequestID))
		}
		if len(res.InstanceIDs) > 0 {
			attrs = append(attrs, slog.Any("instanceIds", res.InstanceIDs))
		}
		if d := res.Duplicate; d != nil {
			attrs = append(attrs, slog.Group("duplicate", slog.String("commandId", d.CommandID), slog.String("claimed", d.Claimed)))
		}
		if res.Summary != nil {
			attrs = append(attrs, slog.Any("summary", *res.Summary))
		}
		if e := res.Error; e != nil {
			attrs = append(attrs, slog.Group("error", slog.String("code", e.Code), slog.String("source", e.Source),
				slog.Int("httpStatus", e.HTTPStatus), slog.Bool("retryable", e.Retryable)))
			if res.Status == hpcgate.StatusError {
				level = slog.LevelWarn
			}
		}
	}
	if r.InternalError != nil {
		attrs = append(attrs, slog.String("cause", r.InternalError.Error()))
	}
	if !r.Started.IsZero() {
		attrs = append(attrs, slog.Float64("durationMs", float64(time.Since(r.Started).Microseconds())/1000))
	}
	l.LogAttrs(ctx, level, "audit", attrs...)
}
