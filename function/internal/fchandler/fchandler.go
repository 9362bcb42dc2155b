// Package fchandler is the Function Compute entry: decode the raw event
// (trigger), turn it into calls (ingress), run each through the pipeline
// (gate). Every rule about who an event may speak for lives in ingress.
//
// HTTP trigger events are served by the same net/http handlers as local
// mode and answered with FC's HTTP response object; their body is always
// a request from the authenticated caller, never an event. OSS trigger
// events and EventBridge batches answer with a list of results, one per
// record; every other event answers with one result.
package fchandler

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"

	"github.com/aliyun/fc-runtime-go-sdk/fccontext"

	"github.com/hpcgate/hpcgate/function/internal/audit"
	"github.com/hpcgate/hpcgate/function/internal/gate"
	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/function/internal/ingress"
	"github.com/hpcgate/hpcgate/function/internal/trigger"
)

// pipeline is the part of the gate the handler calls.
type pipeline interface {
	Run(ctx context.Context, c hpcgate.Call) hpcgate.Result
	Reject(ctx context.Context, c hpcgate.Call, err error) hpcgate.Result
}

// Handler handles raw FC events.
type Handler struct {
	Gate    pipeline
	Ingress *ingress.Ingress
	// HTTP serves HTTP trigger events: the API without local-only routes.
	HTTP         http.Handler
	MaxBodyBytes int
}

// Invoke handles one raw event and returns what FC should answer. It
// never returns an error for a request that failed: that is a result.
func (h *Handler) Invoke(ctx context.Context, raw []byte) (any, error) {
	var facts ingress.Facts
	if fctx, ok := fccontext.FromContext(ctx); ok {
		if fctx.RequestID != "" && audit.RequestID(ctx) == "" {
			ctx = audit.WithRequestID(ctx, fctx.RequestID)
		}
		// fc-runtime-go-sdk v0.3.1 does not pass x-fc-async-task-id on,
		// so AsyncTaskID stays empty under the SDK's loop.
		facts.Account = fctx.AccountId
	}
	ev, err := trigger.DecodeLimit(raw, h.MaxBodyBytes)
	if err != nil {
		return h.Gate.Reject(ctx, hpcgate.Call{Trigger: "unknown"}, err), nil
	}
	if ev.Kind == trigger.KindHTTP {
		if err := h.Ingress.Accepts(ev.Kind); err != nil {
			return h.Gate.Reject(ctx, hpcgate.Call{Trigger: string(ev.Kind)}, err), nil
		}
		return h.Ingress.ServeHTTP(ctx, h.HTTP, ev.HTTP), nil
	}
	d, err := h.Ingress.Calls(ctx, ev, facts)
	if err != nil {
		return h.Gate.Reject(ctx, hpcgate.Call{Trigger: string(ev.Kind)}, err), nil
	}
	results := make([]hpcgate.Result, len(d.Items))
	for i, it := range d.Items {
		if it.Err != nil {
			results[i] = h.Gate.Reject(ctx, it.Call, it.Err)
			continue
		}
		results[i] = h.Gate.Run(ctx, it.Call)
	}
	var out any = results
	if !d.List && len(results) == 1 {
		out = results[0]
	}
	for i, it := range d.Items {
		if it.Call.Identity != "" && gate.Redeliver(results[i]) {
			return out, &RedeliverError{Results: results}
		}
	}
	return out, nil
}

// RedeliverError is the function error the handler returns for an event
// that must be delivered again (gate.Redeliver): FC's asynchronous
// invocation retries a function error, up to the configured attempts and
// event age, then sends the event to the failure destination. Records
// that ran answer as duplicates on the next delivery, so the whole event
// can be retried. Results holds the result of every record.
type RedeliverError struct {
	Results []hpcgate.Result
}

func (e *RedeliverError) Error() string {
	var b strings.Builder
	b.WriteString("hpcgate: deliver this event again:")
	for i, r := range e.Results {
		if gate.Redeliver(r) {
			fmt.Fprintf(&b, " record %d: %s: %s;", i, r.Error.Code, r.Error.Message)
		}
	}
	return strings.TrimSuffix(b.String(), ";")
}

// ErrorResponse is the body FC gives a function error: errorMessage and
// errorType, as fc-runtime-go-sdk reports a returned error.
func ErrorResponse(err error) []byte {
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	b, _ := json.Marshal(map[string]string{"errorMessage": err.Error(), "errorType": t.Name()})
	return b
}

// Response is the JSON an invocation answers with; for tests and the
// local /invoke endpoint, which answer exactly what FC would.
func Response(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		e := hpcgate.AsError(err)
		b, _ = json.Marshal(hpcgate.Result{Status: hpcgate.ResultStatus(e), Error: e.Body()})
	}
	return b
}
