package ingress

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/function/internal/shellscan"
	"github.com/hpcgate/hpcgate/function/internal/trigger"
)

const (
	timerJSON   = `{"triggerTime":"2026-11-27T02:00:00Z","triggerName":"nightly-sinfo","payload":"{\"clusterId\":\"ehpc-hz-demo01\",\"command\":\"sinfo\"}"}`
	customJSON  = `{"id":"e-1","source":"hpcgate.pipeline","specversion":"1.0","type":"hpcgate:Command:Requested","aliyunaccountid":"123456789012","data":{"clusterId":"ehpc-hz-demo01","command":"sinfo"}}`
	invokeJSON  = `{"clusterId":"ehpc-hz-demo01","command":"sinfo"}`
	httpJSON    = `{"version":"v1","rawPath":"/healthz","requestContext":{"http":{"method":"GET","sourceIp":"10.0.0.1"}}}`
	eventFnKind = "oss,eventbridge,timer"
)

var ingestCSV = []hpcgate.Route{testRoutes[0]}

func decodeRaw(t *testing.T, raw string) trigger.Event {
	t.Helper()
	ev, err := trigger.Decode([]byte(raw))
	if err != nil {
		t.Fatalf("Decode(%s): %v", raw, err)
	}
	return ev
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var he *hpcgate.Error
	if !errors.As(err, &he) || he.Code != code {
		t.Fatalf("err = %v, want %s", err, code)
	}
}

// TestAcceptedKinds: issue 14 point 1. A deployment takes only the kinds
// it lists; a timer, EventBridge or OSS event sent to the HTTP function
// is refused before any principal is made.
func TestAcceptedKinds(t *testing.T) {
	oss := mustJSON(map[string]any{"events": []any{ossRecord("raw-data", "ObjectCreated:PutObject", "incoming/a.csv")}})
	cases := map[string]struct {
		accept string
		raw    string
		ok     bool
	}{
		"http function refuses a timer event":        {"http", timerJSON, false},
		"http function refuses an eventbridge event": {"http", customJSON, false},
		"http function refuses an oss event":         {"http", oss, false},
		"http function refuses a direct invoke":      {"http", invokeJSON, false},
		"event function takes a timer event":         {eventFnKind, timerJSON, true},
		"event function takes an eventbridge event":  {eventFnKind, customJSON, true},
		"event function takes an oss event":          {eventFnKind, oss, true},
		"event function refuses a direct invoke":     {eventFnKind, invokeJSON, false},
		"event function refuses an http event":       {eventFnKind, httpJSON, false},
		"nothing accepted refuses everything":        {"", timerJSON, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var kinds []string
			if tc.accept != "" {
				kinds = strings.Split(tc.accept, ",")
			}
			in, err := New(Config{Accept: kinds, Account: account, Routes: func() []hpcgate.Route { return ingestCSV }})
			if err != nil {
				t.Fatal(err)
			}
			ev := decodeRaw(t, tc.raw)
			if err := in.Accepts(ev.Kind); (err == nil) != tc.ok {
				t.Fatalf("Accepts(%s) = %v", ev.Kind, err)
			}
			if ev.Kind == trigger.KindHTTP {
				return
			}
			d, err := in.Calls(t.Context(), ev, Facts{})
			if !tc.ok {
				wantCode(t, err, hpcgate.CodeEventNotAccepted)
				if len(d.Items) != 0 {
					t.Fatalf("refused event made calls: %+v", d.Items)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
		})
	}
	if _, err := New(Config{Accept: []string{"mns"}}); err == nil {
		t.Error("New accepted an unknown kind")
	}
}

func TestPrincipalsAndIdentity(t *testing.T) {
	oss := ossRecord("raw-data", "ObjectCreated:PutObject", "incoming/a.csv")
	oss["oss"].(map[string]any)["object"].(map[string]any)["sequencer"] = "0000018C"
	ossNoSeq := ossRecord("raw-data", "ObjectCreated:PutObject", "incoming/b.csv")
	ebOSS := ebEvent(t, "acs.oss", "oss:ObjectCreated:PutObject", ossRecord("raw-data", "ObjectCreated:PutObject", "incoming/z.csv"))
	cases := map[string]struct {
		raw       string
		facts     Facts
		principal string
		trigger   string
		identity  string
	}{
		"timer":                         {raw: timerJSON, principal: "timer:nightly-sinfo", trigger: "timer", identity: `timer:["nightly-sinfo","2026-11-27T02:00:00Z"]`},
		"custom eventbridge":            {raw: customJSON, principal: "eventbridge:hpcgate.pipeline", trigger: "eventbridge", identity: `eventbridge:["hpcgate.pipeline","e-1"]`},
		"oss with sequencer":            {raw: mustJSON(map[string]any{"events": []any{oss}}), principal: "oss:raw-data", trigger: "oss", identity: `oss:["raw-data","incoming/a.csv","ETAG1","0000018C"]`},
		"oss without sequencer":         {raw: mustJSON(map[string]any{"events": []any{ossNoSeq}}), principal: "oss:raw-data", trigger: "oss", identity: `oss:["raw-data","incoming/b.csv","ETAG1","REQ-raw-data"]`},
		"oss through eventbridge":       {raw: mustJSON(ebOSS), principal: "oss:raw-data", trigger: "eventbridge", identity: `oss:["raw-data","incoming/z.csv","ETAG1","REQ-raw-data"]`}, // the record's own: runs once by either path
		"direct invoke without key":     {raw: invokeJSON, principal: "invoke", trigger: "invoke"},
		"direct invoke with its key":    {raw: `{"clusterId":"ehpc-hz-demo01","command":"sinfo","idempotencyKey":"run-42"}`, principal: "invoke", trigger: "invoke", identity: `invoke:["run-42"]`},
		"direct invoke in async mode":   {raw: invokeJSON, facts: Facts{AsyncTaskID: "task-7"}, principal: "invoke", trigger: "invoke", identity: `invoke-task:["task-7"]`},
		"the caller's key wins over FC": {raw: `{"clusterId":"ehpc-hz-demo01","command":"sinfo","idempotencyKey":"k"}`, facts: Facts{AsyncTaskID: "task-7"}, principal: "invoke", trigger: "invoke", identity: `invoke:["k"]`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			d, err := newIngress(t, testRoutes).Calls(t.Context(), decodeRaw(t, tc.raw), tc.facts)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Items) != 1 || d.Items[0].Err != nil {
				t.Fatalf("items = %+v", d.Items)
			}
			c := d.Items[0].Call
			if c.Principal.Type != hpcgate.PrincipalService || c.Principal.ID != tc.principal || c.Trigger != tc.trigger || c.Identity != tc.identity {
				t.Errorf("call = principal %+v trigger %q identity %q; want %q %q %q", c.Principal, c.Trigger, c.Identity, tc.principal, tc.trigger, tc.identity)
			}
		})
	}
	// The invoked function's own account, as FC tells it, wins.
	in := newIngress(t, testRoutes)
	raw := mustJSON(map[string]any{"events": []any{ossRecord("raw-data", "ObjectCreated:PutObject", "incoming/a.csv")}})
	if _, err := in.Calls(t.Context(), decodeRaw(t, raw), Facts{Account: "999"}); err == nil {
		t.Error("a bucket of the configured account passed when FC says the function is in another")
	}
	if _, err := trigger.Decode([]byte(`{"clusterId":"c","command":"sinfo","idempotencyKey":"has space"}`)); err == nil {
		t.Error("idempotencyKey with a space decoded")
	}
}

// TestStrictEvents: issue 14 points 1 and 5. Any record that is not what
// its kind says makes the whole event invalid and nothing runs.
func TestStrictEvents(t *testing.T) {
	rec := func(mut func(r map[string]any)) map[string]any {
		r := ossRecord("raw-data", "ObjectCreated:PutObject", "incoming/a.csv")
		mut(r)
		return r
	}
	bucket := func(r map[string]any) map[string]any { return r["oss"].(map[string]any)["bucket"].(map[string]any) }
	object := func(r map[string]any) map[string]any { return r["oss"].(map[string]any)["object"].(map[string]any) }
	good := rec(func(map[string]any) {})
	events := func(recs ...map[string]any) string { return mustJSON(map[string]any{"events": recs}) }
	cases := map[string]struct {
		raw  string
		want string // in the error message
	}{
		"eventSource acs:mns": {events(rec(func(r map[string]any) { r["eventSource"] = "acs:mns" })), `eventSource: want "acs:oss"`},
		"eventSource missing": {events(rec(func(r map[string]any) { delete(r, "eventSource") })), "eventSource"},
		"second record's key null": {events(good, rec(func(r map[string]any) { object(r)["key"] = nil })),
			"events[1]: oss.object.key"},
		"second record's key with a control character": {events(good, rec(func(r map[string]any) { object(r)["key"] = "incoming/\a.csv" })),
			"events[1]: oss.object.key"},
		"bucket of another account": {events(rec(func(r map[string]any) { bucket(r)["arn"] = "acs:oss:cn-hangzhou:999999999999:raw-data" })),
			"not the function's own"},
		"arn names another bucket": {events(rec(func(r map[string]any) { bucket(r)["arn"] = "acs:oss:cn-hangzhou:" + account + ":other" })),
			`names bucket "other"`},
		"no arn":                   {events(rec(func(r map[string]any) { delete(bucket(r), "arn") })), "oss.bucket.arn"},
		"owner of another account": {events(rec(func(r map[string]any) { bucket(r)["ownerIdentity"] = "999" })), "ownerIdentity"},
		"created without eTag":     {events(rec(func(r map[string]any) { delete(object(r), "eTag") })), "eTag: missing"},
		// Routes match "oss:ObjectCreated:*" and "ObjectCreated:*" alike,
		// so every rule about created objects must too.
		"created (oss: prefix) without eTag": {events(rec(func(r map[string]any) {
			r["eventName"] = "oss:ObjectCreated:PutObject"
			delete(object(r), "eTag")
		})), "eTag: missing"},
		"eventbridge oss record from mns": {mustJSON(ebEvent(t, "acs.oss", "oss:ObjectCreated:PutObject", rec(func(r map[string]any) { r["eventSource"] = "acs:mns" }))),
			"eventSource"},
		"eventbridge oss of another account": {mustJSON(ebEvent(t, "acs.oss", "oss:ObjectCreated:PutObject", rec(func(r map[string]any) {
			bucket(r)["arn"] = "acs:oss:cn-hangzhou:999999999999:raw-data"
		}))), "not the function's own"},
		"eventbridge type and record disagree": {mustJSON(ebEvent(t, "acs.oss", "oss:ObjectRemoved:DeleteObject", good)), "does not match"},
		"eventbridge event of another account": {strings.Replace(customJSON, account, "999999999999", 1), "aliyunaccountid"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			items, err := calls(t, testRoutes, decodeRaw(t, tc.raw))
			wantCode(t, err, hpcgate.CodeInvalidEvent)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to say %q", err, tc.want)
			}
			if len(items) != 0 {
				t.Errorf("an invalid event made calls: %+v", items)
			}
		})
	}
	// Without the function's account no bucket is its own.
	in, _ := New(Config{Accept: Kinds, Routes: func() []hpcgate.Route { return testRoutes }})
	if _, err := in.Calls(t.Context(), decodeRaw(t, events(good)), Facts{}); err == nil || !strings.Contains(err.Error(), "HPCGATE_ACCOUNT_ID") {
		t.Errorf("no account: err = %v", err)
	}
}

// TestOptionInjection: issue 14 point 3, with the route and key it names.
// The whole event is invalid; the first, harmless record does not run.
func TestOptionInjection(t *testing.T) {
	sortRoute := []hpcgate.Route{{Name: "sort", Match: hpcgate.RouteMatch{Trigger: "oss"},
		Request: hpcgate.RouteRequest{ClusterID: "ehpc-hz-abc", Argv: []string{"/usr/bin/sort", "{object.key}.csv"}}}}
	raw := mustJSON(map[string]any{"events": []any{
		ossRecord("raw-data", "ObjectCreated:PutObject", "incoming/a"),
		ossRecord("raw-data", "ObjectCreated:PutObject", "--output=/tmp/x"),
	}})
	items, err := calls(t, sortRoute, decodeRaw(t, raw))
	wantCode(t, err, hpcgate.CodeInvalidEvent)
	if !strings.Contains(err.Error(), `starts with "-"`) || len(items) != 0 {
		t.Fatalf("err = %v, items = %+v", err, items)
	}
	sortRoute[0].Request.Argv = []string{"/usr/bin/sort", "--", "{object.key}.csv"}
	items, err = calls(t, sortRoute, decodeRaw(t, raw))
	if err != nil || items[1].Call.Request.Command != "/usr/bin/sort -- '--output=/tmp/x.csv'" {
		t.Fatalf("after --: %v, %+v", err, items)
	}
}

// fakeOSS answers HeadObject from a map of key to eTag.
type fakeOSS struct {
	objects map[string]string
	err     error
	asked   []string
}

func (f *fakeOSS) HeadObject(_ context.Context, bucket, key string) (Object, error) {
	f.asked = append(f.asked, bucket+"/"+key)
	if f.err != nil {
		return Object{}, f.err
	}
	etag, ok := f.objects[bucket+"/"+key]
	if !ok {
		return Object{}, ErrNoSuchObject
	}
	return Object{ETag: etag}, nil
}

func TestVerifyObjects(t *testing.T) {
	created := func(key string) map[string]any { return ossRecord("raw-data", "ObjectCreated:PutObject", key) }
	removed := func(key string) map[string]any { return ossRecord("raw-2", "ObjectRemoved:DeleteObject", key) }
	cases := map[string]struct {
		recs     []map[string]any
		objects  map[string]string
		ossErr   error
		wantCode string // "" = calls made
		retry    bool
	}{
		"object exists with that eTag":   {recs: []map[string]any{created("incoming/a.csv")}, objects: map[string]string{"raw-data/incoming/a.csv": `"etag1"`}},
		"object has another eTag":        {recs: []map[string]any{created("incoming/a.csv")}, objects: map[string]string{"raw-data/incoming/a.csv": `"OTHER"`}, wantCode: hpcgate.CodeInvalidEvent},
		"object does not exist":          {recs: []map[string]any{created("incoming/a.csv")}, wantCode: hpcgate.CodeInvalidEvent},
		"second of two does not exist":   {recs: []map[string]any{created("incoming/a.csv"), created("incoming/b.csv")}, objects: map[string]string{"raw-data/incoming/a.csv": "ETAG1"}, wantCode: hpcgate.CodeInvalidEvent},
		"removed object is gone":         {recs: []map[string]any{removed("x/y")}},
		"removed object still there":     {recs: []map[string]any{removed("x/y")}, objects: map[string]string{"raw-2/x/y": "E"}, wantCode: hpcgate.CodeInvalidEvent},
		"removed, bucket does not exist": {recs: []map[string]any{removed("x/y")}, ossErr: fmt.Errorf("%w: NoSuchBucket", ErrNoSuchBucket), wantCode: hpcgate.CodeInvalidEvent},
		"oss unreachable":                {recs: []map[string]any{created("incoming/a.csv")}, ossErr: errors.New("dial tcp: refused"), wantCode: hpcgate.CodeUpstreamFailure, retry: true},
		"unrouted record is not asked":   {recs: []map[string]any{created("elsewhere/a.txt")}},
		// The event name as routes read it (with or without "oss:").
		"oss: prefix, object exists with that eTag": {recs: []map[string]any{ossRecord("raw-data", "oss:ObjectCreated:PutObject", "incoming/a.csv")}, objects: map[string]string{"raw-data/incoming/a.csv": "ETAG1"}},
		"oss: prefix, object has another eTag":      {recs: []map[string]any{ossRecord("raw-data", "oss:ObjectCreated:PutObject", "incoming/a.csv")}, objects: map[string]string{"raw-data/incoming/a.csv": "OTHER"}, wantCode: hpcgate.CodeInvalidEvent},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			f := &fakeOSS{objects: tc.objects, err: tc.ossErr}
			in, err := New(Config{Accept: Kinds, Account: account, Objects: f, Routes: func() []hpcgate.Route { return testRoutes }})
			if err != nil {
				t.Fatal(err)
			}
			d, err := in.Calls(t.Context(), decodeRaw(t, mustJSON(map[string]any{"events": tc.recs})), Facts{})
			if tc.wantCode == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCode(t, err, tc.wantCode)
			if he := hpcgate.AsError(err); he.Retryable != tc.retry {
				t.Errorf("retryable = %v, want %v", he.Retryable, tc.retry)
			}
			if len(d.Items) != 0 {
				t.Errorf("a refused event made calls")
			}
		})
	}
	// Through EventBridge the same holds.
	f := &fakeOSS{}
	in, _ := New(Config{Accept: Kinds, Account: account, Objects: f, Routes: func() []hpcgate.Route { return testRoutes }})
	eb := mustJSON(ebEvent(t, "acs.oss", "oss:ObjectCreated:PutObject", created("incoming/z.csv")))
	if _, err := in.Calls(t.Context(), decodeRaw(t, eb), Facts{}); err == nil || len(f.asked) != 1 {
		t.Errorf("eventbridge OSS event of a missing object: err %v, asked %q", err, f.asked)
	}
}

// TestHTTPContext: issue 14 point 2. SecureTransport is what the
// deployment vouches for, never X-Forwarded-Proto; SourceIp is FC's field.
func TestHTTPContext(t *testing.T) {
	event := func(xfp string) trigger.HTTPEvent {
		raw := mustJSON(map[string]any{"version": "v1", "rawPath": "/v1/commands",
			"headers":        map[string]string{"X-Forwarded-Proto": xfp, "X-Forwarded-For": "10.9.9.9"},
			"requestContext": map[string]any{"http": map[string]any{"method": "POST", "sourceIp": "198.51.100.7"}}})
		return decodeRaw(t, raw).HTTP
	}
	var seen hpcgate.Call
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = HTTPCall(r) })
	for _, xfp := range []string{"http, https", "https", "http", ""} {
		for _, httpsOnly := range []bool{false, true} {
			in, _ := New(Config{Accept: []string{"http"}, HTTPSOnly: httpsOnly})
			in.ServeHTTP(t.Context(), h, event(xfp))
			if seen.Context.SourceIP != "198.51.100.7" {
				t.Errorf("sourceIp = %q, want FC's field", seen.Context.SourceIP)
			}
			switch {
			case httpsOnly && (seen.Context.SecureTransport == nil || !*seen.Context.SecureTransport):
				t.Errorf("X-Forwarded-Proto %q, HTTPS-only deployment: secureTransport = %v, want true", xfp, seen.Context.SecureTransport)
			case !httpsOnly && seen.Context.SecureTransport != nil:
				t.Errorf("X-Forwarded-Proto %q: secureTransport = %v, want absent", xfp, *seen.Context.SecureTransport)
			}
		}
	}
	// An HTTP event local mode's /invoke received: its writer is the
	// listener's client, so the connection is the fact, not the event's
	// sourceIp nor HPCGATE_HTTPS_ONLY.
	for _, httpsOnly := range []bool{false, true} {
		in, _ := New(Config{Accept: []string{"http"}, HTTPSOnly: httpsOnly})
		post := httptest.NewRequest("POST", "/invoke", nil)
		post.RemoteAddr = "127.0.0.1:4444"
		in.ServeHTTP(FromListener(t.Context(), post), h, event("https"))
		if seen.Context.SourceIP != "127.0.0.1" || seen.Context.SecureTransport == nil || *seen.Context.SecureTransport {
			t.Errorf("/invoke HTTP event, HTTPS-only %v: sourceIp %q, secureTransport %v; want the listener's peer, false", httpsOnly, seen.Context.SourceIP, seen.Context.SecureTransport)
		}
	}
	// A request this process accepted itself: the connection is the fact.
	r := httptest.NewRequest("POST", "/v1/commands", nil)
	r.Header.Set("X-Forwarded-Proto", "https")
	r.RemoteAddr = "127.0.0.1:5555"
	c := HTTPCall(r)
	if c.Context.SecureTransport == nil || *c.Context.SecureTransport || c.Context.SourceIP != "127.0.0.1" || c.Trigger != "http" {
		t.Errorf("plain local request: %+v", c)
	}
}

// TestAllOrNothingValues (held when tried): a record whose values fill its route's argv
// but make a command the gate refuses (an invisible or line-separator
// character from an eTag, a region, an event name, a bucket or a
// CloudEvent id) must make the whole event invalid here, before any
// record runs; otherwise the gate refuses that record alone and the
// others of the same event run.
func TestAllOrNothingValues(t *testing.T) {
	routes := []hpcgate.Route{
		{Name: "oss-all", Match: hpcgate.RouteMatch{Trigger: "oss"},
			Request: hpcgate.RouteRequest{ClusterID: "ehpc-hz-abc", Argv: []string{"/bin/p", "--", "{bucket}", "{object.etag}", "{region}", "{event.name}", "{object.key}"}}},
		{Name: "eb-all", Match: hpcgate.RouteMatch{Trigger: "eventbridge", Source: []string{"pipeline.*"}},
			Request: hpcgate.RouteRequest{ClusterID: "ehpc-hz-abc", Argv: []string{"/bin/p", "--", "{event.id}", "{region}", "{event.name}"}}},
	}
	good := ossRecord("raw-data", "ObjectCreated:PutObject", "incoming/a.csv")
	bad := func(mut func(r map[string]any)) map[string]any {
		r := ossRecord("raw-data", "ObjectCreated:PutObject", "incoming/b.csv")
		mut(r)
		return r
	}
	object := func(r map[string]any) map[string]any { return r["oss"].(map[string]any)["object"].(map[string]any) }
	eb := func(mut func(e map[string]any)) map[string]any {
		e := ebEvent(t, "pipeline.nightly", "hpcgate:Nightly", map[string]any{"date": "x"})
		mut(e)
		return e
	}
	cases := map[string]any{}
	for name, c := range map[string]string{"RLO": "\u202e", "ZWSP": "\u200b", "LS": "\u2028", "PS": "\u2029", "BOM": "\ufeff"} {
		cases["oss eTag "+name] = map[string]any{"events": []any{good, bad(func(r map[string]any) { object(r)["eTag"] = "E" + c })}}
		cases["oss region "+name] = map[string]any{"events": []any{good, bad(func(r map[string]any) { r["region"] = "cn" + c })}}
		cases["oss eventName "+name] = map[string]any{"events": []any{good, bad(func(r map[string]any) { r["eventName"] = "ObjectCreated:Put" + c })}}
		cases["oss bucket "+name] = map[string]any{"events": []any{good, bad(func(r map[string]any) {
			b := r["oss"].(map[string]any)["bucket"].(map[string]any)
			b["name"], b["arn"] = "raw"+c, "acs:oss:cn-hangzhou:"+account+":raw"+c
		})}}
		cases["eventbridge id "+name] = []any{eb(func(map[string]any) {}), eb(func(e map[string]any) { e["id"] = "EB" + c })}
		cases["eventbridge region "+name] = []any{eb(func(map[string]any) {}), eb(func(e map[string]any) { e["aliyunregionid"] = "cn" + c })}
		cases["eventbridge type "+name] = []any{eb(func(map[string]any) {}), eb(func(e map[string]any) { e["type"] = "hpcgate:Nightly" + c })}
	}
	for name, ev := range cases {
		t.Run(name, func(t *testing.T) {
			items, err := calls(t, routes, decode(t, ev))
			if err == nil {
				for i, it := range items {
					if _, aerr := shellscan.Analyze(it.Call.Request.Command); it.Err == nil && aerr != nil {
						t.Errorf("item %d ran past ingress with a command the gate refuses (%v), while the others run", i, aerr)
					}
				}
				return
			}
			wantCode(t, err, hpcgate.CodeInvalidEvent)
		})
	}
}
