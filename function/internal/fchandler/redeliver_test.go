package fchandler

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

// resultGate answers every run with res and records the calls.
type resultGate struct {
	fakeGate
	res func(c hpcgate.Call) hpcgate.Result
}

func (g *resultGate) Run(_ context.Context, c hpcgate.Call) hpcgate.Result {
	g.runs = append(g.runs, c)
	return g.res(c)
}

func TestRedeliver(t *testing.T) {
	unavailable := hpcgate.Result{Status: hpcgate.StatusError, Error: &hpcgate.ErrorBody{Code: hpcgate.CodeClaimUnavailable, Message: "the claim store failed", Retryable: true}}
	denied := hpcgate.Result{Status: hpcgate.StatusDenied, Error: &hpcgate.ErrorBody{Code: hpcgate.CodePolicyDenied}}
	ok := hpcgate.Result{Status: hpcgate.StatusAccepted, CommandID: "c-1"}
	twoRecords, _ := json.Marshal(map[string]any{"events": []any{ossRecord("incoming/a.csv"), ossRecord("incoming/b.csv")}})
	tests := map[string]struct {
		raw       string
		res       func(hpcgate.Call) hpcgate.Result
		wantError bool
	}{
		"a keyed invoke whose claim failed is delivered again": {
			raw: `{"clusterId":"ehpc-hz-abc","command":"sinfo","idempotencyKey":"k"}`, res: func(hpcgate.Call) hpcgate.Result { return unavailable }, wantError: true},
		"an invoke without a key is answered, never retried": {
			raw: `{"clusterId":"ehpc-hz-abc","command":"sinfo"}`, res: func(hpcgate.Call) hpcgate.Result { return unavailable }},
		"a denial is an answer": {
			raw: `{"clusterId":"ehpc-hz-abc","command":"sinfo","idempotencyKey":"k"}`, res: func(hpcgate.Call) hpcgate.Result { return denied }},
		"one record of two to retry: the whole event is delivered again": {
			raw: string(twoRecords), wantError: true, res: func(c hpcgate.Call) hpcgate.Result {
				if strings.Contains(c.Request.Command, "b.csv") {
					return unavailable
				}
				return ok
			}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := &resultGate{res: tc.res}
			h := &Handler{Gate: g, Ingress: newIngress(t, "invoke", "oss"), MaxBodyBytes: 1 << 16}
			_, err := h.Invoke(t.Context(), []byte(tc.raw))
			var re *RedeliverError
			if got := errors.As(err, &re); got != tc.wantError {
				t.Fatalf("function error %v, want one: %v", err, tc.wantError)
			}
			if tc.wantError && (!strings.HasPrefix(err.Error(), "hpcgate: deliver this event again:") || !strings.Contains(err.Error(), hpcgate.CodeClaimUnavailable)) {
				t.Errorf("message %q: want the code of the record to retry", err)
			}
			for _, c := range g.runs {
				if c.Identity == "" && strings.Contains(tc.raw, "idempotencyKey") {
					t.Errorf("call without identity: %+v", c)
				}
			}
		})
	}
	if b := ErrorResponse(&RedeliverError{}); !strings.Contains(string(b), `"errorType":"RedeliverError"`) {
		t.Errorf("error response %s: want the type name as fc-runtime-go-sdk reports it", b)
	}
}
