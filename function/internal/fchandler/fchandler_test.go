package fchandler

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/hpcgate/hpcgate/function/internal/gate"
	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/function/internal/ingress"
	"github.com/hpcgate/hpcgate/function/internal/trigger"
)

// fakeGate records what reaches the pipeline.
type fakeGate struct {
	runs    []gate.Call
	rejects []gate.Call
}

func (f *fakeGate) Run(_ context.Context, c gate.Call) hpcgate.Result {
	f.runs = append(f.runs, c)
	return hpcgate.Result{Status: hpcgate.StatusAccepted, CommandID: "c-1"}
}

func (f *fakeGate) Reject(_ context.Context, c gate.Call, err error) hpcgate.Result {
	f.rejects = append(f.rejects, c)
	return hpcgate.Result{Status: hpcgate.StatusInvalid, Error: hpcgate.AsError(err).Body()}
}

var routes = []hpcgate.Route{{
	Name:    "ingest",
	Match:   hpcgate.RouteMatch{Trigger: "oss", Bucket: hpcgate.StringList{"raw-data"}, Prefix: "incoming/"},
	Request: hpcgate.RouteRequest{ClusterID: "ehpc-hz-abc", Argv: []string{"/opt/ingest.sh", "--", "{object.key}"}},
}}

func ossRecord(key string) map[string]any {
	return map[string]any{"eventName": "ObjectCreated:PutObject", "eventSource": "acs:oss", "eventTime": "2026-11-27T06:21:35.000Z",
		"eventVersion": "1.0", "region": "cn-hangzhou",
		"oss": map[string]any{"bucket": map[string]any{"name": "raw-data", "arn": "acs:oss:cn-hangzhou:123456789012:raw-data"}, "object": map[string]any{"key": key, "size": 1, "eTag": "E"}}}
}

// newIngress accepts kinds (all when none are given) for account
// 123456789012 with the test routes.
func newIngress(t *testing.T, kinds ...string) *ingress.Ingress {
	t.Helper()
	if len(kinds) == 0 {
		kinds = ingress.Kinds
	}
	in, err := ingress.New(ingress.Config{Accept: kinds, Account: "123456789012", InvokePrincipal: "invoke",
		Routes: func() []hpcgate.Route { return routes }})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func TestInvokeDispatch(t *testing.T) {
	request := `{"clusterId":"ehpc-hz-abc","command":"sinfo"}`
	timer, _ := json.Marshal(map[string]any{"triggerTime": "2026-11-27T06:00:00Z", "triggerName": "nightly", "payload": request})
	oss, _ := json.Marshal(map[string]any{"events": []any{ossRecord("incoming/a.csv"), ossRecord("elsewhere/b.csv")}})
	custom, _ := json.Marshal(map[string]any{"id": "1", "source": "custom.app", "specversion": "1.0", "type": "run",
		"data": json.RawMessage(request)})

	tests := map[string]struct {
		raw           string
		wantRuns      []string // principal ids that reached Run, in order
		wantRejects   int
		wantList      int // >0: the answer is a list of that many results
		wantTrigger   string
		wantHTTPReply bool
		accept        []string // kinds the deployment accepts; default all
	}{
		"direct invoke is the invoke principal": {raw: request, wantRuns: []string{"invoke"}, wantTrigger: "invoke"},
		"timer is timer:<name>":                 {raw: string(timer), wantRuns: []string{"timer:nightly"}, wantTrigger: "timer"},
		"custom eventbridge event":              {raw: string(custom), wantRuns: []string{"eventbridge:custom.app"}, wantTrigger: "eventbridge"},
		"oss answers one result per record":     {raw: string(oss), wantRuns: []string{"oss:raw-data"}, wantRejects: 1, wantList: 2, wantTrigger: "oss"},
		"not an event":                          {raw: `{"hello":"world"}`, wantRejects: 1},
		"not json":                              {raw: `squeue`, wantRejects: 1},
		"http trigger event goes to the HTTP API": {
			raw:           `{"version":"v1","rawPath":"/healthz","headers":{},"queryParameters":{},"requestContext":{"http":{"method":"GET","sourceIp":"10.0.0.1"}}}`,
			wantHTTPReply: true},
		"timer refused where only http is accepted":  {raw: string(timer), accept: []string{"http"}, wantRejects: 1},
		"oss refused by an http deployment":          {raw: string(oss), accept: []string{"http"}, wantRejects: 1},
		"custom event refused by an http deployment": {raw: string(custom), accept: []string{"http", "invoke"}, wantRejects: 1},
		"invoke refused by an event deployment":      {raw: request, accept: []string{"oss", "eventbridge", "timer"}, wantRejects: 1},
		"http event refused by an event deployment": {
			raw:    `{"version":"v1","rawPath":"/healthz","headers":{},"queryParameters":{},"requestContext":{"http":{"method":"GET","sourceIp":"10.0.0.1"}}}`,
			accept: []string{"oss", "eventbridge", "timer"}, wantRejects: 1},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			fg := &fakeGate{}
			h := &Handler{
				Gate: fg, Ingress: newIngress(t, tt.accept...), MaxBodyBytes: 1 << 16,
				HTTP: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					w.Write([]byte(`{"path":"` + r.URL.Path + `"}`))
				}),
			}
			out, err := h.Invoke(t.Context(), []byte(tt.raw))
			if err != nil {
				t.Fatalf("Invoke returned an error; results carry failures: %v", err)
			}
			var got []string
			for _, c := range fg.runs {
				got = append(got, c.Principal.ID)
				if c.Trigger != tt.wantTrigger {
					t.Errorf("trigger = %q, want %q", c.Trigger, tt.wantTrigger)
				}
				if c.Principal.Type != hpcgate.PrincipalService {
					t.Errorf("principal type = %q", c.Principal.Type)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.wantRuns, ",") {
				t.Errorf("runs by %v, want %v", got, tt.wantRuns)
			}
			if len(fg.rejects) != tt.wantRejects {
				t.Errorf("rejects = %d, want %d", len(fg.rejects), tt.wantRejects)
			}
			switch v := out.(type) {
			case []hpcgate.Result:
				if len(v) != tt.wantList {
					t.Errorf("list of %d results, want %d", len(v), tt.wantList)
				}
			case hpcgate.Result:
				if tt.wantList > 0 || tt.wantHTTPReply {
					t.Errorf("answer is one result: %+v", v)
				}
			case trigger.HTTPTriggerResponse:
				if !tt.wantHTTPReply || v.StatusCode != 200 || v.Body != `{"path":"/healthz"}` {
					t.Errorf("HTTP reply = %+v", v)
				}
			default:
				t.Errorf("answer of type %T", out)
			}
		})
	}
}

func TestRoutedRequestIsQuoted(t *testing.T) {
	fg := &fakeGate{}
	h := &Handler{Gate: fg, Ingress: newIngress(t), MaxBodyBytes: 1 << 16}
	raw, _ := json.Marshal(map[string]any{"events": []any{ossRecord("incoming/a b;rm -rf ~.csv")}})
	h.Invoke(t.Context(), raw)
	if len(fg.runs) != 1 {
		t.Fatalf("runs = %d", len(fg.runs))
	}
	c := fg.runs[0]
	if want := `/opt/ingest.sh -- 'incoming/a b;rm -rf ~.csv'`; c.Request.Command != want || c.Route != "ingest" {
		t.Errorf("command %q route %q, want %q", c.Request.Command, c.Route, want)
	}
}
