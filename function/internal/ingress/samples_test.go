package ingress

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/function/internal/route"
	"github.com/hpcgate/hpcgate/function/internal/trigger"
	"github.com/hpcgate/hpcgate/test/goldenfile"
)

// sampleRoutes is the route of the embedded governance data.
var sampleRoutes = []hpcgate.Route{{Name: "ingest-csv",
	Match:   hpcgate.RouteMatch{Trigger: "oss", Bucket: []string{"raw-data"}, Events: []string{"ObjectCreated:*"}, Prefix: "incoming/", Suffix: ".csv"},
	Request: hpcgate.RouteRequest{ClusterID: "ehpc-hz-abc", WorkingDir: "/data", Timeout: 600, Argv: []string{"/opt/pipelines/ingest.sh", "--", "{object.key}"}}}}

// goldenItem is what one item of a delivery became, as the golden files
// show it.
type goldenItem struct {
	Call  hpcgate.Call `json:"call"`
	Error string       `json:"error,omitempty"`
}

// TestSamples: what each sample event of deploy/events becomes on a
// deployment that takes every kind, in the samples' account.
func TestSamples(t *testing.T) {
	files, err := filepath.Glob("../../../deploy/events/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples: %v", err)
	}
	in, err := New(Config{Accept: Kinds, Account: "123456789012", InvokePrincipal: "invoke", Routes: func() []hpcgate.Route { return sampleRoutes }})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := trigger.Decode(raw)
			if err != nil {
				t.Fatal(err)
			}
			d, err := in.Calls(t.Context(), ev, Facts{})
			if err != nil {
				t.Fatalf("sample refused: %v", err)
			}
			var got []goldenItem
			for _, it := range d.Items {
				g := goldenItem{Call: it.Call}
				if it.Err != nil {
					g.Error = it.Err.Error()
				}
				got = append(got, g)
			}
			goldenfile.JSON(t, filepath.Join("testdata", name+".golden.json"), map[string]any{"list": d.List, "items": got})
		})
	}
}

// FuzzCalls: whatever an event holds, the ingress stage does not panic,
// an event it refuses makes no calls, and every routed command parses
// back to one argv in which no element the route's placeholder starts
// begins with "-" before a "--".
func FuzzCalls(f *testing.F) {
	files, _ := filepath.Glob("../../../deploy/events/*.json")
	for _, p := range files {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(string(b))
		}
	}
	f.Add(`{"events":[{"eventName":"ObjectCreated:PutObject","eventSource":"acs:oss","oss":{"bucket":{"name":"raw-data","arn":"acs:oss:cn-hangzhou:123456789012:raw-data"},"object":{"key":"--output=/tmp/x","eTag":"E"}}}]}`)
	f.Add(`{"events":[{"eventName":"ObjectCreated:PutObject","eventSource":"acs:mns","oss":{"bucket":{"name":"raw-data","arn":"acs:oss:cn-hangzhou:123456789012:raw-data"},"object":{"key":"incoming/a.csv","eTag":"E"}}}]}`)
	routes := []hpcgate.Route{
		{Name: "sort", Match: hpcgate.RouteMatch{Trigger: "oss"}, Request: hpcgate.RouteRequest{ClusterID: "ehpc-hz-abc", Argv: []string{"/usr/bin/sort", "{object.key}.csv", "{bucket}"}}},
		{Name: "eb", Match: hpcgate.RouteMatch{Trigger: "eventbridge"}, Request: hpcgate.RouteRequest{ClusterID: "ehpc-hz-abc", Argv: []string{"/bin/p", "{event.id}{region}", "x{event.time}"}}},
	}
	in, err := New(Config{Accept: Kinds, Account: "123456789012", InvokePrincipal: "invoke", Routes: func() []hpcgate.Route { return routes }})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		ev, err := trigger.Decode([]byte(raw))
		if err != nil || ev.Kind == trigger.KindHTTP {
			return
		}
		d, err := in.Calls(t.Context(), ev, Facts{})
		if err != nil {
			if len(d.Items) != 0 {
				t.Fatalf("refused event made calls: %v", err)
			}
			return
		}
		for _, it := range d.Items {
			if it.Err != nil || it.Call.Route == "" {
				continue
			}
			argv, err := route.Words(it.Call.Request.Command)
			if err != nil || !utf8.ValidString(it.Call.Request.Command) {
				t.Fatalf("routed command %q does not parse back: %v", it.Call.Request.Command, err)
			}
			// sort's argv[1] and eb's argv[1] are started by a placeholder.
			if len(argv) > 1 && strings.HasPrefix(argv[1], "-") {
				t.Fatalf("placeholder made an option: %q", argv)
			}
		}
	})
}
