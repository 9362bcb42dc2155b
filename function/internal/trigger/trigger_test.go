package trigger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"

	"github.com/hpcgate/hpcgate/test/goldenfile"
)

// httpSummary is what Request made of an HTTP trigger event.
type httpSummary struct {
	Method     string      `json:"method"`
	URL        string      `json:"url"`
	Host       string      `json:"host"`
	RemoteAddr string      `json:"remoteAddr"`
	TLS        bool        `json:"tls"`
	Proto      string      `json:"proto"`
	Header     http.Header `json:"header"`
	Body       string      `json:"body"`
}

type golden struct {
	Event   Event        `json:"event"`
	Request *httpSummary `json:"request,omitempty"`
}

var fixtures = map[string]Kind{
	"http-post":          KindHTTP,
	"http-get":           KindHTTP,
	"http-base64":        KindHTTP,
	"invoke":             KindInvoke,
	"oss-put":            KindOSS,
	"oss-multi":          KindOSS,
	"eventbridge-oss":    KindEventBridge,
	"eventbridge-custom": KindEventBridge,
	"eventbridge-batch":  KindEventBridge,
	"timer":              KindTimer,
}

func TestDecodeFixtures(t *testing.T) {
	for name, kind := range fixtures {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			ev, err := Decode(raw)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if ev.Kind != kind {
				t.Fatalf("kind = %q, want %q", ev.Kind, kind)
			}
			g := golden{Event: ev}
			if kind == KindHTTP {
				r, err := ev.HTTP.Request(t.Context())
				if err != nil {
					t.Fatalf("Request: %v", err)
				}
				body, _ := io.ReadAll(r.Body)
				g.Request = &httpSummary{Method: r.Method, URL: r.URL.String(), Host: r.Host, RemoteAddr: r.RemoteAddr,
					TLS: r.TLS != nil, Proto: r.Proto, Header: r.Header, Body: string(body)}
				if r.Context() != t.Context() {
					t.Error("request does not carry the given context")
				}
			}
			goldenfile.JSON(t, filepath.Join("testdata", name+".golden.json"), g)
		})
	}
}

func TestDecodeDetails(t *testing.T) {
	read := func(name string) Event {
		raw, err := os.ReadFile(filepath.Join("testdata", name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		ev, err := Decode(raw)
		if err != nil {
			t.Fatal(err)
		}
		return ev
	}
	if ev := read("timer"); ev.Timer.Request.Command != "squeue --states=RUNNING" || ev.Timer.Request.Wait.Duration != WaitMax {
		t.Errorf("timer request = %+v", ev.Timer.Request)
	}
	if ev := read("invoke"); ev.Invoke.Timeout != 120 || ev.Invoke.Wait.Ptr() == nil || *ev.Invoke.Wait.Ptr() != 45*time.Second {
		t.Errorf("invoke = %+v", ev.Invoke)
	}
	ev := read("eventbridge-batch")
	if len(ev.EventBridge) != 3 || ev.EventBridge[0].DataKind != DataOSS || ev.EventBridge[2].DataKind != DataRequest {
		t.Errorf("batch kinds = %+v", ev.EventBridge)
	}
	if ev.EventBridge[1].OSS.OSS.Object.Key != "input/-rf.csv" {
		t.Errorf("batch[1] key = %q", ev.EventBridge[1].OSS.OSS.Object.Key)
	}
}

func TestDecodeMalformed(t *testing.T) {
	big := `{"command":"` + strings.Repeat("a", DefaultMaxBytes) + `"}`
	httpEv := func(mut string) string {
		return `{"version":"v1","rawPath":"/v1/commands",` + mut + `"requestContext":{"http":{"method":"POST","sourceIp":"203.0.113.7"}}}`
	}
	cases := map[string]struct {
		raw    string
		status int
		want   string // part of the message
	}{
		"empty":                        {"", 400, "empty input"},
		"only whitespace":              {"  \n", 400, "empty input"},
		"truncated object":             {`{"command":"ls"`, 400, "end of JSON"},
		"truncated string":             {`{"command":"l`, 400, "end of JSON"},
		"deeply nested lists":          {strings.Repeat("[", 100000), 400, "nested deeper"},
		"deeply nested objects":        {strings.Repeat(`{"a":`, 50) + "1" + strings.Repeat("}", 50), 400, "nested deeper"},
		"scalar":                       {`42`, 400, "want a JSON object or list"},
		"string":                       {`"hello"`, 400, "want a JSON object or list"},
		"null":                         {`null`, 400, "want a JSON object or list"},
		"empty object":                 {`{}`, 400, "not recognized"},
		"unknown object":               {`{"foo":1}`, 400, "not recognized"},
		"empty list":                   {`[]`, 400, "want 1 to"},
		"list of numbers":              {`[1,2]`, 400, "want a CloudEvent"},
		"trailing data":                {`{"command":"ls"} {}`, 400, "after the JSON value"},
		"trailing garbage":             {`{"command":"ls"}x`, 400, "after the JSON value"},
		"byte order mark":              {"\xEF\xBB\xBF{\"command\":\"ls\"}", 400, "byte order mark"},
		"invalid UTF-8":                {"{\"command\":\"ls \xff\"}", 400, "UTF-8"},
		"duplicate key":                {`{"command":"ls","command":"rm -rf /"}`, 400, "duplicate key"},
		"duplicate key other case":     {`{"command":"ls","Command":"rm -rf /"}`, 400, "duplicate key"},
		"duplicate key by escape":      {`{"command":"ls","\u0063ommand":"rm"}`, 400, "duplicate key"},
		"nested duplicate key":         {`{"events":[{"eventName":"x","oss":{"bucket":{"name":"b"},"object":{"key":"a","key":"b"}}}]}`, 400, "duplicate key"},
		"unknown request field":        {`{"command":"ls","clusterId":"c","sudo":true}`, 400, `unknown field "sudo"`},
		"request field wrong case":     {`{"Command":"ls"}`, 400, "not recognized"},
		"request and event":            {`{"command":"ls","events":[]}`, 400, "ambiguous"},
		"request and cloudevent":       {`{"specversion":"1.0","id":"1","source":"s","type":"t","command":"ls"}`, 400, "ambiguous"},
		"http and oss":                 {`{"rawPath":"/","events":[]}`, 400, "ambiguous"},
		"timeout too large":            {`{"command":"ls","timeout":1e400}`, 400, "timeout"},
		"timeout negative":             {`{"command":"ls","timeout":-1}`, 400, "timeout"},
		"timeout 2^63":                 {`{"command":"ls","timeout":9223372036854775808}`, 400, "timeout"},
		"timeout fraction":             {`{"command":"ls","timeout":1.5}`, 400, "timeout"},
		"timeout zero":                 {`{"command":"ls","timeout":0}`, 400, "timeout"},
		"timeout string":               {`{"command":"ls","timeout":"60"}`, 400, "timeout"},
		"command number":               {`{"command":5}`, 400, "command: want a string"},
		"command null":                 {`{"command":null}`, 400, "command: want a string"},
		"command with NUL":             {`{"command":"ls\u0000x"}`, 400, "NUL"},
		"instanceIds string":           {`{"command":"ls","instanceIds":"i-1"}`, 400, "instanceIds"},
		"instanceIds number item":      {`{"command":"ls","instanceIds":[1]}`, 400, "instanceIds"},
		"instanceIds empty item":       {`{"command":"ls","instanceIds":[""]}`, 400, "instanceIds[0]"},
		"wait negative":                {`{"command":"ls","wait":-3}`, 400, "wait"},
		"wait string":                  {`{"command":"ls","wait":"10"}`, 400, "wait"},
		"wait huge":                    {`{"command":"ls","wait":1e400}`, 400, "wait"},
		"dryRun string":                {`{"command":"ls","dryRun":"yes"}`, 400, "dryRun"},
		"huge event":                   {big, 413, "over the limit"},
		"oss events not list":          {`{"events":{}}`, 400, "want a list"},
		"oss no records":               {`{"events":[]}`, 400, "want 1 to"},
		"oss extra member":             {`{"events":[{}],"command":"ls"}`, 400, "ambiguous"},
		"oss unknown top member":       {`{"events":[{}],"foo":1}`, 400, `unknown member "foo"`},
		"oss record missing bucket":    {`{"events":[{"eventName":"ObjectCreated:PutObject","oss":{"object":{"key":"a"}}}]}`, 400, "bucket.name"},
		"oss record missing eventName": {`{"events":[{"oss":{"bucket":{"name":"b"},"object":{"key":"a"}}}]}`, 400, "eventName"},
		"oss size string":              {`{"events":[{"eventName":"x","oss":{"bucket":{"name":"b"},"object":{"key":"a","size":"1"}}}]}`, 400, "size"},
		"oss size out of range":        {`{"events":[{"eventName":"x","oss":{"bucket":{"name":"b"},"object":{"key":"a","size":1e400}}}]}`, 400, "size"},
		"oss size negative":            {`{"events":[{"eventName":"x","oss":{"bucket":{"name":"b"},"object":{"key":"a","size":-1}}}]}`, 400, "negative"},
		"oss bad eventTime":            {`{"events":[{"eventName":"x","eventTime":"yesterday","oss":{"bucket":{"name":"b"},"object":{"key":"a"}}}]}`, 400, "eventTime"},
		"oss record a string":          {`{"events":["x"]}`, 400, "want an object"},
		"cloudevent bad specversion":   {`{"specversion":"0.3","id":"1","source":"s","type":"t"}`, 400, "specversion"},
		"cloudevent missing id":        {`{"specversion":"1.0","source":"s","type":"t"}`, 400, "id: missing"},
		"cloudevent bad attribute":     {`{"specversion":"1.0","id":"1","source":"s","type":"t","Data-X":1}`, 400, "attribute name"},
		"cloudevent oss data missing":  {`{"specversion":"1.0","id":"1","source":"acs.oss","type":"oss:ObjectCreated:PutObject"}`, 400, "want an OSS record"},
		"cloudevent half request":      {`{"specversion":"1.0","id":"1","source":"s","type":"t","data":{"command":"ls","extra":1}}`, 400, `unknown field "extra"`},
		"cloudevent string not json":   {`["not json"]`, 400, "malformed JSON"},
		"cloudevent string not ce":     {`["{\"command\":\"ls\"}"]`, 400, "not a CloudEvent"},
		"cloudevent string dup key":    {`["{\"specversion\":\"1.0\",\"id\":\"1\",\"id\":\"2\",\"source\":\"s\",\"type\":\"t\"}"]`, 400, "duplicate key"},
		"timer missing payload":        {`{"triggerTime":"2026-11-27T10:02:58Z","triggerName":"t"}`, 400, "payload: missing"},
		"timer payload not request":    {`{"triggerTime":"2026-11-27T10:02:58Z","triggerName":"t","payload":"TestPayload"}`, 400, "payload"},
		"timer payload unknown field":  {`{"triggerTime":"2026-11-27T10:02:58Z","triggerName":"t","payload":"{\"command\":\"ls\",\"x\":1}"}`, 400, `unknown field "x"`},
		"timer bad time":               {`{"triggerTime":"now","triggerName":"t","payload":"{}"}`, 400, "triggerTime"},
		"timer extra member":           {`{"triggerTime":"2026-11-27T10:02:58Z","triggerName":"t","payload":"{}","x":1}`, 400, `unknown member "x"`},
		"http missing requestContext":  {`{"version":"v1","rawPath":"/"}`, 400, "requestContext: missing"},
		"http invalid base64":          {httpEv(`"isBase64Encoded":true,"body":"!!!not base64",`), 400, "base64"},
		"http headers not strings":     {httpEv(`"headers":{"a":1},`), 400, "headers.a"},
		"http header CRLF":             {httpEv(`"headers":{"X-A":"a\r\nX-B: b"},`), 400, "control character"},
		"http header bad name":         {httpEv(`"headers":{"X A":"a"},`), 400, "bad header name"},
		"http duplicate header":        {httpEv(`"headers":{"Authorization":"a","authorization":"b"},`), 400, "duplicate key"},
		"http rawPath with query":      {`{"version":"v1","rawPath":"/a?b=c","requestContext":{"http":{"method":"GET"}}}`, 400, "rawPath"},
		"http rawPath relative":        {`{"version":"v1","rawPath":"a","requestContext":{"http":{"method":"GET"}}}`, 400, "rawPath"},
		"http rawPath bad escape":      {`{"version":"v1","rawPath":"/%zz","requestContext":{"http":{"method":"GET"}}}`, 400, "rawPath"},
		"http method empty":            {`{"version":"v1","rawPath":"/","requestContext":{"http":{"method":""}}}`, 400, "method"},
		"http method with space":       {`{"version":"v1","rawPath":"/","requestContext":{"http":{"method":"GET /x"}}}`, 400, "method"},
		"http method number":           {`{"version":"v1","rawPath":"/","requestContext":{"http":{"method":1}}}`, 400, "method"},
		"http bad sourceIp":            {`{"version":"v1","rawPath":"/","requestContext":{"http":{"method":"GET","sourceIp":"11.11.11.**"}}}`, 400, "sourceIp"},
		"http huge body":               {`{"version":"v1","rawPath":"/","body":"` + strings.Repeat("QUFB", DefaultMaxBytes/4) + `","isBase64Encoded":true,"requestContext":{"http":{"method":"GET"}}}`, 413, "over the limit"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Decode([]byte(tc.raw))
			var he *hpcgate.Error
			if !errors.As(err, &he) {
				t.Fatalf("Decode error = %v, want *hpcgate.Error", err)
			}
			if he.Status != tc.status || he.Status < 400 || he.Status > 499 {
				t.Errorf("status = %d, want %d", he.Status, tc.status)
			}
			if want := map[bool]string{true: hpcgate.CodeTooLarge, false: hpcgate.CodeInvalidEvent}[tc.status == 413]; he.Code != want {
				t.Errorf("code = %q, want %q", he.Code, want)
			}
			if !strings.Contains(he.Message, tc.want) {
				t.Errorf("message %q does not say %q", he.Message, tc.want)
			}
		})
	}
}

func TestDecodePayload(t *testing.T) {
	cases := map[string]struct {
		body    string
		max     int
		want    Payload
		status  int
		message string
	}{
		"all fields": {body: `{"clusterId":"c","command":"ls -l","workingDir":"/tmp","timeout":30,"instanceIds":["i-1"],"wait":2.5,"dryRun":true}`,
			want: Payload{Request: hpcgate.Request{ClusterID: "c", Command: "ls -l", WorkingDir: "/tmp", Timeout: 30, InstanceIDs: []string{"i-1"}},
				Wait: WaitSpec{Set: true, Duration: 2500 * time.Millisecond}, DryRun: true}},
		"wait false":       {body: `{"command":"ls","wait":false}`, want: Payload{Request: hpcgate.Request{Command: "ls"}, Wait: WaitSpec{Set: true}}},
		"wait zero":        {body: `{"command":"ls","wait":0}`, want: Payload{Request: hpcgate.Request{Command: "ls"}, Wait: WaitSpec{Set: true}}},
		"wait true":        {body: `{"command":"ls","wait":true}`, want: Payload{Request: hpcgate.Request{Command: "ls"}, Wait: WaitSpec{Set: true, Duration: WaitMax}}},
		"empty object":     {body: `{}`, want: Payload{}},
		"event shape":      {body: `{"events":[]}`, status: 400, message: `unknown field "events"`},
		"list":             {body: `[]`, status: 400, message: "want a JSON object"},
		"over the cap":     {body: `{"command":"ls"}`, max: 5, status: 413, message: "over the limit"},
		"duplicate":        {body: `{"wait":1,"wait":2}`, status: 400, message: "duplicate key"},
		"timeout exponent": {body: `{"timeout":1e3}`, status: 400, message: "timeout"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p, err := DecodePayload([]byte(tc.body), tc.max)
			if tc.status == 0 {
				if err != nil {
					t.Fatal(err)
				}
				g, _ := json.Marshal(p)
				w, _ := json.Marshal(tc.want)
				if string(g) != string(w) || p.Wait != tc.want.Wait {
					t.Errorf("got %s %+v, want %s %+v", g, p.Wait, w, tc.want.Wait)
				}
				return
			}
			var he *hpcgate.Error
			wantCode := map[bool]string{true: hpcgate.CodeTooLarge, false: hpcgate.CodeInvalidRequest}[tc.status == 413]
			if !errors.As(err, &he) || he.Status != tc.status || he.Code != wantCode || !strings.Contains(he.Message, tc.message) {
				t.Fatalf("err = %v, want %d %s saying %q", err, tc.status, wantCode, tc.message)
			}
		})
	}
}

func TestServeEvent(t *testing.T) {
	raw, err := os.ReadFile("testdata/http-base64.json")
	if err != nil {
		t.Fatal(err)
	}
	ev, err := Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	var seen *http.Request
	var seenBody string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r
		b, _ := io.ReadAll(r.Body)
		seenBody = string(b)
		w.Header().Add("X-Multi", "a")
		w.Header().Add("X-Multi", "b")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		w.Write([]byte(`{"status":"accepted"}`))
		w.WriteHeader(http.StatusTeapot) // ignored, as net/http does
	})
	resp := ServeEvent(t.Context(), h, ev.HTTP)
	if seen.Method != "POST" || seen.URL.Path != "/v1/commands" || seen.URL.Query().Get("dryRun") != "true" ||
		seen.Header.Get("Authorization") == "" || seen.TLS != nil || seen.RemoteAddr != "198.51.100.20:0" {
		t.Errorf("handler saw %s %s tls=%v remote=%q", seen.Method, seen.URL, seen.TLS != nil, seen.RemoteAddr)
	}
	if seenBody != `{"clusterId":"ehpc-hz-demo01","command":"sinfo"}` {
		t.Errorf("handler body = %q", seenBody)
	}
	want := HTTPTriggerResponse{StatusCode: 202, Headers: map[string]string{"Content-Type": "application/json", "X-Multi": "a,b"}, Body: `{"status":"accepted"}`}
	g, _ := json.Marshal(resp)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("response = %s, want %s", g, w)
	}

	// Binary output goes back base64-encoded; a silent handler is a 200.
	resp = ServeEvent(t.Context(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte{0xff, 0x00}) }), ev.HTTP)
	if resp.StatusCode != 200 || !resp.IsBase64Encoded || resp.Body != "/wA=" {
		t.Errorf("binary response = %+v", resp)
	}
	resp = ServeEvent(t.Context(), http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}), ev.HTTP)
	if resp.StatusCode != 200 || resp.Body != "" {
		t.Errorf("empty response = %+v", resp)
	}
	// An event that cannot make a request answers 400 without calling the handler.
	bad := ev.HTTP
	bad.RawPath = "/%zz"
	called := false
	resp = ServeEvent(t.Context(), http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true }), bad)
	if called || resp.StatusCode != 400 || !strings.Contains(resp.Body, `"status":"invalid"`) {
		t.Errorf("bad event: called=%v response=%+v", called, resp)
	}
}

func TestCheckObjectKey(t *testing.T) {
	good := []string{"a.csv", "incoming/$(rm -rf ~).csv", "a b;c.csv", "'\"`.csv", "-rf.csv", "数据/ü.csv", "a..b/c", ".hidden"}
	bad := []string{"a\u200bb", "a\u2028b", "", "/abs", `\win`, "a\x00b", "a\nb", "a\x7fb", "a\u0085b", "a\ufffdb", "x/../y", "./x", "a/.", strings.Repeat("k", MaxKeyBytes+1), "bad\xff"}
	for _, k := range good {
		if err := CheckObjectKey(k); err != nil {
			t.Errorf("CheckObjectKey(%q) = %v, want nil", k, err)
		}
	}
	for _, k := range bad {
		if err := CheckObjectKey(k); err == nil {
			t.Errorf("CheckObjectKey(%.40q) = nil, want an error", k)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, name := range []string{"http-post", "oss-put", "eventbridge-batch", "invoke"} {
		raw, err := os.ReadFile(filepath.Join("testdata", name+".json"))
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := Decode(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestLogRedacts(t *testing.T) {
	raw, err := os.ReadFile("testdata/http-post.json")
	if err != nil {
		t.Fatal(err)
	}
	ev, err := Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "event", ev, "http", ev.HTTP)
	out := buf.String() + fmt.Sprint(ev) + fmt.Sprintf("%v %+v", ev.HTTP, ev.HTTP)
	if strings.Contains(out, "eyJhbGci") || !strings.Contains(out, "/v1/commands") {
		t.Errorf("log output leaks the token or lacks the path: %s", out)
	}
}

// TestDecodeHTTPIgnoresNewEnvelopeMembers: FC writes the HTTP event's
// envelope; a member it adds must not refuse every request.
func TestDecodeHTTPIgnoresNewEnvelopeMembers(t *testing.T) {
	raw := `{"version":"v1","rawPath":"/v1/commands","cookies":["a=b"],"requestContext":{"http":{"method":"POST","sourceIp":"203.0.113.7"}}}`
	ev, err := Decode([]byte(raw))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if ev.Kind != KindHTTP || ev.HTTP.RequestContext.HTTP.Method != "POST" {
		t.Errorf("event = %+v", ev)
	}
}
