package ingress

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/function/internal/route"
	"github.com/hpcgate/hpcgate/function/internal/shellscan"
	"github.com/hpcgate/hpcgate/function/internal/trigger"
)

// account is the function's own account in these tests.
const account = "123456789012"

// newIngress accepts every kind for account with routes.
func newIngress(t testing.TB, routes []hpcgate.Route) *Ingress {
	t.Helper()
	in, err := New(Config{Accept: Kinds, Account: account, InvokePrincipal: "invoke", Routes: func() []hpcgate.Route { return routes }})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// calls is what an event becomes under routes, or why it is refused.
func calls(t *testing.T, routes []hpcgate.Route, ev trigger.Event) ([]Item, error) {
	t.Helper()
	d, err := newIngress(t, routes).Calls(t.Context(), ev, Facts{})
	return d.Items, err
}

func ossRecord(bucket, event, key string) map[string]any {
	return map[string]any{
		"eventName": event, "eventSource": "acs:oss", "eventTime": "2026-11-27T06:21:35.000Z", "eventVersion": "1.0",
		"region": "cn-hangzhou", "responseElements": map[string]any{"requestId": "REQ-" + bucket},
		"oss": map[string]any{"bucket": map[string]any{"name": bucket, "arn": "acs:oss:cn-hangzhou:" + account + ":" + bucket},
			"object": map[string]any{"key": key, "size": 42, "eTag": "ETAG1"}},
	}
}

func ossEvent(t *testing.T, recs ...map[string]any) trigger.Event {
	t.Helper()
	return decode(t, map[string]any{"events": recs})
}

func ebEvent(t *testing.T, source, typ string, data any) map[string]any {
	return map[string]any{"id": "EB-1", "source": source, "specversion": "1.0", "type": typ,
		"time": "2026-11-27T05:40:45.000Z", "aliyunregionid": "cn-shanghai", "data": data}
}

func decode(t *testing.T, v any) trigger.Event {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := trigger.Decode(raw)
	if err != nil {
		t.Fatalf("Decode(%s): %v", raw, err)
	}
	return ev
}

var testRoutes = []hpcgate.Route{
	{Name: "ingest-csv",
		Match:   hpcgate.RouteMatch{Trigger: "oss", Bucket: []string{"raw-data"}, Events: []string{"oss:ObjectCreated:*"}, Prefix: "incoming/", Suffix: ".csv"},
		Request: hpcgate.RouteRequest{ClusterID: "ehpc-hz-abc", WorkingDir: "/data", Timeout: 600, Argv: []string{"/opt/pipelines/ingest.sh", "--", "{object.key}"}}},
	{Name: "any-raw-delete",
		Match:   hpcgate.RouteMatch{Trigger: "oss", Bucket: []string{"raw-*"}, Events: []string{"ObjectRemoved:Delete?bject"}},
		Request: hpcgate.RouteRequest{ClusterID: "ehpc-hz-abc", InstanceIDs: []string{"i-1"}, Argv: []string{"/opt/pipelines/forget.sh", "--bucket={bucket}", "--", "{object.key}"}}},
	{Name: "eb-custom",
		Match:   hpcgate.RouteMatch{Trigger: "eventbridge", Source: []string{"pipeline.*"}, Type: []string{"hpcgate:Nightly*"}},
		Request: hpcgate.RouteRequest{ClusterID: "ehpc-hz-abc", Argv: []string{"/opt/pipelines/nightly.sh", "{event.id}", "{region}", "{event.time}"}}},
	{Name: "eb-oss-logs",
		Match:   hpcgate.RouteMatch{Trigger: "eventbridge", Source: []string{"acs.oss"}, Suffix: ".log"},
		Request: hpcgate.RouteRequest{ClusterID: "ehpc-hz-abc", Argv: []string{"/opt/logs.sh", "{bucket}/{object.key}", "{object.size}", "{object.etag}", "{event.name}"}}},
}

func TestRouteMatching(t *testing.T) {
	cases := map[string]struct {
		ev        func(t *testing.T) trigger.Event
		routes    []string // matched route per record; "" = no route
		principal []string
		argv      [][]string
	}{
		"oss put csv": {ev: func(t *testing.T) trigger.Event {
			return ossEvent(t, ossRecord("raw-data", "ObjectCreated:PutObject", "incoming/a.csv"))
		}, routes: []string{"ingest-csv"}, principal: []string{"oss:raw-data"},
			argv: [][]string{{"/opt/pipelines/ingest.sh", "--", "incoming/a.csv"}}},
		"oss wrong suffix": {ev: func(t *testing.T) trigger.Event {
			return ossEvent(t, ossRecord("raw-data", "ObjectCreated:PutObject", "incoming/a.txt"))
		}, routes: []string{""}, principal: []string{"oss:raw-data"}},
		"oss wrong prefix": {ev: func(t *testing.T) trigger.Event {
			return ossEvent(t, ossRecord("raw-data", "ObjectCreated:PutObject", "outgoing/a.csv"))
		}, routes: []string{""}},
		"oss wrong bucket": {ev: func(t *testing.T) trigger.Event {
			return ossEvent(t, ossRecord("other", "ObjectCreated:PutObject", "incoming/a.csv"))
		}, routes: []string{""}},
		"oss event name with prefix": {ev: func(t *testing.T) trigger.Event {
			return ossEvent(t, ossRecord("raw-data", "oss:ObjectCreated:PostObject", "incoming/a.csv"))
		}, routes: []string{"ingest-csv"}},
		"oss wildcard bucket and ?": {ev: func(t *testing.T) trigger.Event {
			return ossEvent(t, ossRecord("raw-2", "ObjectRemoved:DeleteObject", "x/y"))
		}, routes: []string{"any-raw-delete"}, principal: []string{"oss:raw-2"},
			argv: [][]string{{"/opt/pipelines/forget.sh", "--bucket=raw-2", "--", "x/y"}}},
		"oss multi: one per record, no route answers alone": {ev: func(t *testing.T) trigger.Event {
			return ossEvent(t,
				ossRecord("raw-data", "ObjectCreated:PutObject", "incoming/a.csv"),
				ossRecord("raw-data", "ObjectCreated:PutObject", "incoming/c.txt"),
				ossRecord("raw-data", "ObjectCreated:PutObject", "incoming/d.csv"))
		}, routes: []string{"ingest-csv", "", "ingest-csv"}},
		"eventbridge oss matches oss route": {ev: func(t *testing.T) trigger.Event {
			return decode(t, ebEvent(t, "acs.oss", "oss:ObjectCreated:PutObject", ossRecord("raw-data", "ObjectCreated:PutObject", "incoming/z.csv")))
		}, routes: []string{"ingest-csv"}, principal: []string{"oss:raw-data"}},
		"eventbridge oss matches eventbridge route": {ev: func(t *testing.T) trigger.Event {
			return decode(t, ebEvent(t, "acs.oss", "oss:ObjectCreated:PutObject", ossRecord("logs", "ObjectCreated:PutObject", "a/b.log")))
		}, routes: []string{"eb-oss-logs"}, principal: []string{"eventbridge:acs.oss"},
			argv: [][]string{{"/opt/logs.sh", "logs/a/b.log", "42", "ETAG1", "ObjectCreated:PutObject"}}},
		"eventbridge custom by source and type": {ev: func(t *testing.T) trigger.Event {
			return decode(t, ebEvent(t, "pipeline.nightly", "hpcgate:NightlyReport", map[string]any{"date": "2026-11-26"}))
		}, routes: []string{"eb-custom"}, principal: []string{"eventbridge:pipeline.nightly"},
			argv: [][]string{{"/opt/pipelines/nightly.sh", "EB-1", "cn-shanghai", "2026-11-27T05:40:45.000Z"}}},
		"eventbridge custom wrong type": {ev: func(t *testing.T) trigger.Event {
			return decode(t, ebEvent(t, "pipeline.nightly", "hpcgate:Other", nil))
		}, routes: []string{""}, principal: []string{"eventbridge:pipeline.nightly"}},
		"eventbridge request needs no route": {ev: func(t *testing.T) trigger.Event {
			return decode(t, ebEvent(t, "pipeline.adhoc", "hpcgate:Run", map[string]any{"clusterId": "c", "command": "squeue", "dryRun": true}))
		}, routes: []string{""}, principal: []string{"eventbridge:pipeline.adhoc"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := calls(t, testRoutes, tc.ev(t))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.routes) {
				t.Fatalf("got %d results, want %d", len(got), len(tc.routes))
			}
			for i, g := range got {
				want := tc.routes[i]
				if g.Call.Route != want {
					t.Errorf("[%d] route %q, want %q", i, g.Call.Route, want)
				}
				var he *hpcgate.Error
				switch {
				case want == "" && g.Call.Request.Command == "":
					if !errors.As(g.Err, &he) || he.Code != hpcgate.CodeNoRoute || he.Status != 400 {
						t.Errorf("[%d] err = %v, want 400 NoMatchingRoute", i, g.Err)
					}
				case g.Err != nil:
					t.Errorf("[%d] err = %v", i, g.Err)
				}
				if tc.principal != nil && (g.Call.Principal.ID != tc.principal[i] || g.Call.Principal.Type != hpcgate.PrincipalService) {
					t.Errorf("[%d] principal %+v, want service %q", i, g.Call.Principal, tc.principal[i])
				}
				if tc.argv != nil {
					if argv, err := route.Words(g.Call.Request.Command); err != nil || !slices.Equal(argv, tc.argv[i]) {
						t.Errorf("[%d] argv %q (%v), want %q", i, argv, err, tc.argv[i])
					}
				}
			}
		})
	}
}

func TestRoutedRequestFields(t *testing.T) {
	got, err := calls(t, testRoutes, ossEvent(t, ossRecord("raw-data", "ObjectCreated:PutObject", "incoming/a b.csv")))
	if err != nil || got[0].Err != nil {
		t.Fatal(err, got[0].Err)
	}
	want := hpcgate.Request{ClusterID: "ehpc-hz-abc", WorkingDir: "/data", Timeout: 600, Command: "/opt/pipelines/ingest.sh -- 'incoming/a b.csv'"}
	if g := got[0].Call.Request; g.ClusterID != want.ClusterID || g.WorkingDir != want.WorkingDir || g.Timeout != want.Timeout || g.Command != want.Command || g.InstanceIDs != nil {
		t.Errorf("request = %+v, want %+v", g, want)
	}
	ev := decode(t, ebEvent(t, "pipeline.adhoc", "hpcgate:Run", map[string]any{"clusterId": "c", "command": "squeue", "wait": 5, "dryRun": true}))
	got, _ = calls(t, testRoutes, ev)
	if g := got[0]; g.Err != nil || g.Call.Request.Command != "squeue" || !g.Call.DryRun || g.Call.Wait == nil || g.Call.Route != "" {
		t.Errorf("carried request = %+v", g)
	}
	if _, err := calls(t, testRoutes, trigger.Event{Kind: trigger.KindHTTP}); err == nil {
		t.Error("Calls(http event) = nil error; HTTP events are served, not called")
	}
}

// TestHostileKeys: whatever an object is called, the command parses back
// to exactly the template argv with the key as one argument.
func TestHostileKeys(t *testing.T) {
	keys := []string{
		"incoming/$(rm -rf ~).csv", "incoming/a b;c.csv", "incoming/'\"\n.csv", "incoming/-rf.csv",
		"incoming/`id`.csv", "incoming/${IFS}x.csv", "incoming/a|b&c>d<e.csv", "incoming/*.csv", "incoming/[a-z]?.csv",
		"incoming/{a,b}.csv", "incoming/~root.csv", "incoming/#x.csv", "incoming/x=y.csv", "incoming/\\n.csv",
		"incoming/数据 ü 🙂.csv", "incoming/'.csv", "incoming/!!.csv", "incoming/\t.csv", "incoming/$'\\x41'.csv",
	}
	for _, key := range keys {
		t.Run(fmt.Sprintf("%q", key), func(t *testing.T) {
			got, err := calls(t, testRoutes, ossEvent(t, ossRecord("raw-data", "ObjectCreated:PutObject", key)))
			if strings.ContainsAny(key, "\n\t") {
				// Control characters make the event invalid.
				if err == nil {
					t.Fatalf("key with a control character accepted: %q", got[0].Call.Request.Command)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got[0].Err != nil {
				t.Fatal(got[0].Err)
			}
			argv := []string{"/opt/pipelines/ingest.sh", "--", key}
			cmd := got[0].Call.Request.Command
			words, err := route.Words(cmd)
			if err != nil || !slices.Equal(words, argv) {
				t.Fatalf("%s parses to %q (%v), want %q", cmd, words, err, argv)
			}
			// The same holds for the shell analyser, and for the
			// canonical form it sends to E-HPC.
			an, err := shellscan.Analyze(cmd)
			if err != nil {
				t.Fatalf("Analyze(%s): %v", cmd, err)
			}
			if len(an.Simple) != 1 || !slices.Equal(an.Simple[0].Argv, argv) {
				t.Errorf("Analyze(%s).Simple = %+v", cmd, an.Simple)
			}
			if words, err := route.Words(an.Canonical); err != nil || !slices.Equal(words, argv) {
				t.Errorf("canonical %s parses to %q (%v)", an.Canonical, words, err)
			}
		})
	}
}

func BenchmarkCalls(b *testing.B) {
	raw, _ := json.Marshal(map[string]any{"events": []any{ossRecord("raw-data", "ObjectCreated:PutObject", "incoming/$(rm -rf ~) a;b.csv")}})
	ev, err := trigger.Decode(raw)
	if err != nil {
		b.Fatal(err)
	}
	in := newIngress(b, testRoutes)
	for b.Loop() {
		got, err := in.Calls(b.Context(), ev, Facts{})
		if err == nil {
			err = got.Items[0].Err
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}
