package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hpcgate/hpcgate/test/ehpcsim/simulator"
	"github.com/hpcgate/hpcgate/test/fcemu"
	"github.com/hpcgate/hpcgate/test/harness"
	"github.com/hpcgate/hpcgate/test/osssim"
)

// Issue 14 through the real entry points, with the inputs the issue
// names: events posted to a function that does not take them, a client's
// X-Forwarded-Proto, an object key that starts an option, an OSS event
// from MNS, and a second record with a null key.

const ownAccount = "123456"

// trustEvents are the raw events the tests post.
type trustEvents struct{}

func (trustEvents) timer() []byte {
	b, _ := json.Marshal(map[string]any{"triggerTime": "2026-11-27T02:00:00Z", "triggerName": "nightly",
		"payload": `{"clusterId":"` + cluster + `","command":"echo timer","wait":20}`})
	return b
}

func (trustEvents) eventBridge(source string) []byte {
	b, _ := json.Marshal(map[string]any{"id": "ev-1", "source": source, "specversion": "1.0", "type": "custom.run",
		"aliyunaccountid": ownAccount, "data": map[string]any{"clusterId": cluster, "command": "echo eventbridge", "wait": 20}})
	return b
}

func ossRec(bucket, key string, mut ...func(r, object map[string]any)) map[string]any {
	object := map[string]any{"key": key, "size": 3, "eTag": "E"}
	r := map[string]any{"eventName": "ObjectCreated:PutObject", "eventSource": "acs:oss", "eventTime": "2026-11-27T06:21:35.000Z",
		"eventVersion": "1.0", "region": "cn-hangzhou", "responseElements": map[string]any{"requestId": "R-" + key},
		"oss": map[string]any{"bucket": map[string]any{"name": bucket, "arn": "acs:oss:cn-hangzhou:" + ownAccount + ":" + bucket}, "object": object}}
	for _, m := range mut {
		m(r, object)
	}
	return r
}

func ossEvents(recs ...map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"events": recs})
	return b
}

func (trustEvents) invoke() []byte {
	return []byte(`{"clusterId":"` + cluster + `","command":"echo invoke","wait":20}`)
}

// httpTrigger is an FC HTTP trigger event for POST /v1/commands.
func httpTrigger(body, token, xfp string) []byte {
	b, _ := json.Marshal(map[string]any{
		"version": "v1", "rawPath": "/v1/commands", "isBase64Encoded": true,
		"body":            base64.StdEncoding.EncodeToString([]byte(body)),
		"headers":         map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json", "X-Forwarded-Proto": xfp},
		"queryParameters": map[string]string{},
		"requestContext": map[string]any{"accountId": ownAccount, "domainName": "x.cn-hangzhou.fcapp.run", "requestId": "1-abc",
			"http": map[string]any{"method": "POST", "path": "/v1/commands", "protocol": "HTTP/1.1", "sourceIp": "10.1.2.3", "userAgent": "curl"}},
	})
	return b
}

// trustPolicies is the e2e governance data plus what these tests need: a
// user allowed only over secure transport (carol) and a route whose
// placeholder starts an argv element (bucket sorted).
const trustPolicies = "testdata/trust"

// startTrustLocal runs local mode with trustPolicies.
func startTrustLocal(t *testing.T, endpoint string, p *idp, env ...string) *local {
	t.Helper()
	l, err := harness.StartLocal(t.Context(), harness.LocalConfig{
		Binary: binary, Endpoint: endpoint, Policies: trustPolicies, IDP: p.IDP,
		Env: append([]string{"HPCGATE_LOG_LEVEL=info"}, env...),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		l.Close()
		if t.Failed() {
			t.Logf("gateway logs:\n%s", l.Logs())
		}
	})
	return &local{base: l.Base, logs: logsFunc(l.Logs)}
}

// fcFunction is the gateway binary under the FC emulator.
type fcFunction struct {
	emu *fcemu.Emulator
}

func startFC(t *testing.T, endpoint string, p *idp, env ...string) *fcFunction {
	t.Helper()
	policies, err := filepath.Abs(trustPolicies)
	if err != nil {
		t.Fatal(err)
	}
	emu, err := fcemu.New(fcemu.Config{FunctionName: "hpcgate", Timeout: 30 * time.Second, AccountID: ownAccount})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	proc, err := emu.Start(t.Context(), binary, append([]string{
		"HPCGATE_EHPC_ENDPOINT=" + endpoint,
		"HPCGATE_POLICIES_DIR=" + policies,
		"HPCGATE_JWKS_FILE=" + p.JWKSFile,
		"HPCGATE_JWT_ISSUER=" + harness.Issuer,
		"HPCGATE_JWT_AUDIENCE=" + harness.Audience,
		"HPCGATE_ACCOUNT_ID=" + ownAccount,
		"HPCGATE_OWNER_KEY=" + ownerKey,
	}, env...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("function logs:\n%s", proc.Logs())
		}
	})
	return &fcFunction{emu: emu}
}

// invoke answers the function's results: one, a list, or the result in an
// HTTP trigger's response object.
func (f *fcFunction) invoke(t *testing.T, payload []byte) []result {
	t.Helper()
	resp, err := f.emu.Invoke(t.Context(), fcemu.Invocation{Payload: payload, Timeout: 30 * time.Second,
		Credentials: fcemu.Credentials{AccessKeyID: simulator.DefaultAccessKeyID, AccessKeySecret: simulator.DefaultAccessKeySecret}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Error != nil {
		t.Fatalf("function error: %+v", resp.Error)
	}
	return decodeResults(t, resp.Body)
}

func decodeResults(t *testing.T, body []byte) []result {
	t.Helper()
	var hr struct {
		StatusCode *int   `json:"statusCode"`
		Body       string `json:"body"`
	}
	if json.Unmarshal(body, &hr) == nil && hr.StatusCode != nil {
		body = []byte(hr.Body)
	}
	if bytes.HasPrefix(bytes.TrimSpace(body), []byte("[")) {
		var list []result
		if err := json.Unmarshal(body, &list); err != nil {
			t.Fatalf("not a list of results: %s", body)
		}
		return list
	}
	var r result
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("not a result: %s", body)
	}
	return []result{r}
}

// refusal is what a case expects: every result with this status and
// error code, and no command run.
type refusal struct{ status, code string }

func checkRefused(t *testing.T, sim *simulator.Simulator, before int, got []result, want refusal) {
	t.Helper()
	if n := sim.Invocations() - before; n != 0 {
		t.Errorf("%d commands ran", n)
	}
	if len(got) != 1 {
		t.Fatalf("want one result for the whole event, got %d: %+v", len(got), got)
	}
	r := got[0]
	if r.Status != want.status || r.Error == nil || r.Error.Code != want.code {
		t.Errorf("result %s %+v, want %s %s", r.Status, r.Error, want.status, want.code)
	}
}

// TestTrustBoundaryFC runs issue 14's attacks against an HTTP function and
// an event function under the FC emulator, and the legitimate triggers
// each must still serve.
func TestTrustBoundaryFC(t *testing.T) {
	sim, endpoint := newSim(t, 1)
	p := newIDP(t)
	var ev trustEvents
	httpFn := startFC(t, endpoint, p, "HPCGATE_EVENTS=http")
	eventFn := startFC(t, endpoint, p, "HPCGATE_EVENTS=oss,eventbridge,timer")
	httpsFn := startFC(t, endpoint, p, "HPCGATE_EVENTS=http", "HPCGATE_HTTPS_ONLY=true")
	alice, carol := p.token(t, "alice"), p.token(t, "carol")
	echo := `{"clusterId":"` + cluster + `","command":"echo hi","wait":20}`

	notAccepted := refusal{"invalid", "EventNotAccepted"}
	invalid := refusal{"invalid", "InvalidEvent"}
	refused := map[string]struct {
		fn      *fcFunction
		payload []byte
		want    refusal
	}{
		// Point 1: direct invokes posing as triggers.
		"timer event to the http function":       {httpFn, ev.timer(), notAccepted},
		"eventbridge event to the http function": {httpFn, ev.eventBridge("custom.app"), notAccepted},
		"oss event to the http function":         {httpFn, ossEvents(ossRec("raw-data", "incoming/a.csv")), notAccepted},
		"direct invoke to the http function":     {httpFn, ev.invoke(), notAccepted},
		"direct invoke to the event function":    {eventFn, ev.invoke(), notAccepted},
		"http event to the event function":       {eventFn, httpTrigger(echo, alice, "https"), notAccepted},
		"oss bucket of another account": {eventFn, ossEvents(ossRec("raw-data", "incoming/a.csv", func(r, _ map[string]any) {
			r["oss"].(map[string]any)["bucket"].(map[string]any)["arn"] = "acs:oss:cn-hangzhou:999999:raw-data"
		})), invalid},
		// Point 3: a placeholder that starts an element.
		"object key --output=/tmp/x with route {object.key}.csv": {eventFn, ossEvents(ossRec("sorted", "--output=/tmp/x")), invalid},
		// Point 5: malformed events.
		"eventSource acs:mns": {eventFn, ossEvents(ossRec("raw-data", "incoming/a.csv", func(r, _ map[string]any) { r["eventSource"] = "acs:mns" })), invalid},
		"second record with key null": {eventFn, ossEvents(ossRec("raw-data", "incoming/a.csv"),
			ossRec("raw-data", "incoming/b.csv", func(_, o map[string]any) { o["key"] = nil })), invalid},
	}
	for name, tc := range refused {
		t.Run(name, func(t *testing.T) {
			before := sim.Invocations()
			checkRefused(t, sim, before, tc.fn.invoke(t, tc.payload), tc.want)
		})
	}

	// Point 2: acs:SecureTransport. carol may run echo only over HTTPS.
	for _, xfp := range []string{"http, https", "https"} {
		t.Run("X-Forwarded-Proto "+xfp+" is not secure transport", func(t *testing.T) {
			before := sim.Invocations()
			got := httpFn.invoke(t, httpTrigger(echo, carol, xfp))
			if len(got) != 1 || got[0].Status != "denied" || sim.Invocations() != before {
				t.Fatalf("carol over X-Forwarded-Proto %q: %+v", xfp, got)
			}
		})
	}
	t.Run("an HTTPS-only deployment vouches for secure transport", func(t *testing.T) {
		got := httpsFn.invoke(t, httpTrigger(echo, carol, "http"))
		if len(got) != 1 || got[0].Status != "succeeded" {
			t.Fatalf("carol on the HTTPS-only deployment: %+v", got)
		}
	})

	// What works for legitimate triggers keeps working.
	legit := map[string]struct {
		fn      *fcFunction
		payload []byte
		output  []string
	}{
		"http trigger":       {httpFn, httpTrigger(echo, alice, ""), []string{"hi\n"}},
		"timer":              {eventFn, ev.timer(), []string{"timer\n"}},
		"eventbridge custom": {eventFn, ev.eventBridge("custom.app"), []string{"eventbridge\n"}},
		"oss, two records":   {eventFn, ossEvents(ossRec("raw-data", "incoming/a.csv"), ossRec("raw-data", "incoming/b c.csv")), []string{"incoming/a.csv\n", "incoming/b c.csv\n"}},
	}
	for name, tc := range legit {
		t.Run(name, func(t *testing.T) {
			got := tc.fn.invoke(t, tc.payload)
			if len(got) != len(tc.output) {
				t.Fatalf("results %+v, want %d", got, len(tc.output))
			}
			for i, r := range got {
				if r.Status != "succeeded" || len(r.Results) != 1 || r.Results[0].Output != tc.output[i] {
					t.Errorf("[%d] %+v, want output %q", i, r, tc.output[i])
				}
			}
		})
	}
}

// TestTrustBoundaryLocal runs the same attacks through local mode's
// POST /invoke, which answers what the function would.
func TestTrustBoundaryLocal(t *testing.T) {
	sim, endpoint := newSim(t, 1)
	p := newIDP(t)
	var ev trustEvents
	// Local mode takes only HTTP unless told otherwise.
	plain := startTrustLocal(t, endpoint, p)
	events := startTrustLocal(t, endpoint, p, "HPCGATE_EVENTS=oss,eventbridge,timer", "HPCGATE_ACCOUNT_ID="+ownAccount)
	notAccepted := refusal{"invalid", "EventNotAccepted"}
	invalid := refusal{"invalid", "InvalidEvent"}
	cases := map[string]struct {
		gw      *local
		payload []byte
		want    refusal
	}{
		"timer event":                    {plain, ev.timer(), notAccepted},
		"eventbridge event":              {plain, ev.eventBridge("custom.app"), notAccepted},
		"oss event":                      {plain, ossEvents(ossRec("raw-data", "incoming/a.csv")), notAccepted},
		"direct invoke":                  {plain, ev.invoke(), notAccepted},
		"object key --output=/tmp/x":     {events, ossEvents(ossRec("sorted", "--output=/tmp/x")), invalid},
		"eventSource acs:mns":            {events, ossEvents(ossRec("raw-data", "incoming/a.csv", func(r, _ map[string]any) { r["eventSource"] = "acs:mns" })), invalid},
		"second record with key null":    {events, ossEvents(ossRec("raw-data", "incoming/a.csv"), ossRec("raw-data", "x", func(_, o map[string]any) { o["key"] = nil })), invalid},
		"eventbridge of another account": {events, bytes.Replace(ev.eventBridge("custom.app"), []byte(`"`+ownAccount+`"`), []byte(`"999999"`), 1), invalid},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			before := sim.Invocations()
			_, _, out := tc.gw.do(t, "POST", "/invoke", "", tc.payload)
			checkRefused(t, sim, before, decodeResults(t, out), tc.want)
		})
	}
	// A client's X-Forwarded-Proto does not make local plain HTTP secure.
	t.Run("X-Forwarded-Proto on a plain listener", func(t *testing.T) {
		before := sim.Invocations()
		req, err := http.NewRequestWithContext(t.Context(), "POST", plain.base+"/v1/commands",
			strings.NewReader(`{"clusterId":"`+cluster+`","command":"echo hi","wait":20}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+p.token(t, "carol"))
		req.Header.Set("X-Forwarded-Proto", "http, https")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 403 || !strings.Contains(string(raw), `"denied"`) || sim.Invocations() != before {
			t.Fatalf("answered %d: %s", resp.StatusCode, raw)
		}
	})
	// Local mode's POST /invoke takes raw HTTP trigger events from any
	// client of the listener, so an event's requestContext.http.sourceIp
	// is the client's to write there: the listener's own peer must be
	// acs:SourceIp, and the local plain listener is not secure transport
	// even on a deployment that vouches HTTPS for FC's trigger. dave may
	// run echo only from 10.0.0.0/8; carol only over secure transport.
	httpsLocal := startTrustLocal(t, endpoint, p, "HPCGATE_HTTPS_ONLY=true")
	echo := `{"clusterId":"` + cluster + `","command":"echo hi","wait":20}`
	for name, tc := range map[string]struct {
		gw    *local
		event []byte
	}{
		"an HTTP event's sourceIp through /invoke":            {plain, httpTrigger(echo, p.token(t, "dave"), "")},
		"an HTTP event on an HTTPS-only deployment's /invoke": {httpsLocal, httpTrigger(echo, p.token(t, "carol"), "https")},
	} {
		t.Run(name, func(t *testing.T) {
			before := sim.Invocations()
			_, _, out := tc.gw.do(t, "POST", "/invoke", "", tc.event)
			if got := decodeResults(t, out); len(got) != 1 || got[0].Status != "denied" || sim.Invocations() != before {
				t.Fatalf("answered %s", out)
			}
		})
	}
	t.Run("timer where the deployment takes timers", func(t *testing.T) {
		_, _, out := events.do(t, "POST", "/invoke", "", ev.timer())
		if got := decodeResults(t, out); len(got) != 1 || got[0].Status != "succeeded" {
			t.Fatalf("%s", out)
		}
	})
}

// newOSS starts the OSS stand-in with the raw bucket; the given keys may
// do what deploy/ram/event-function-policy.json lets the event function do.
func newOSS(t *testing.T, keys map[string][2]string) (*osssim.Server, string) {
	t.Helper()
	s := osssim.New(osssim.Config{Account: ownAccount})
	endpoint, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.CreateBucket("raw-data")
	doc, err := os.ReadFile("../../deploy/ram/event-function-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	doc = bytes.ReplaceAll(bytes.ReplaceAll(doc, []byte("{{ACCOUNT_ID}}"), []byte(ownAccount)), []byte("{{RAW_BUCKET}}"), []byte("raw-data"))
	for id, v := range keys {
		if v[1] != "" {
			s.AddSTS(id, v[0], v[1], time.Now().Add(time.Hour))
		} else {
			s.AddKey(id, v[0])
		}
		if err := s.SetPolicy(id, doc); err != nil {
			t.Fatal(err)
		}
	}
	return s, endpoint
}

// TestObjectVerification: an OSS record runs only when HeadObject, signed
// with the function's credentials, shows its object with its eTag.
func TestObjectVerification(t *testing.T) {
	sim, endpoint := newSim(t, 1)
	p := newIDP(t)
	const (
		ak     = "STS.e2eEventsKey"
		secret = "e2e-events-secret"
		token  = "e2e-events-token"
	)
	sim.AddSTS(ak, secret, token, time.Now().Add(time.Hour))
	store, ossEndpoint := newOSS(t, map[string][2]string{
		ak:                           {secret, token},
		simulator.DefaultAccessKeyID: {simulator.DefaultAccessKeySecret, ""},
	})
	etag := store.Put("raw-data", "incoming/a.csv", []byte("a,b\n"))
	withETag := func(key, etag string) []byte {
		return ossEvents(ossRec("raw-data", key, func(_, o map[string]any) { o["eTag"] = strings.Trim(etag, `"`) }))
	}
	removed := func(bucket, key string) []byte {
		return ossEvents(ossRec(bucket, key, func(r, _ map[string]any) { r["eventName"] = "ObjectRemoved:DeleteObject" }))
	}
	cases := map[string]struct {
		payload []byte
		ok      bool
	}{
		"object with the record's eTag": {withETag("incoming/a.csv", etag), true},
		"object with another eTag":      {withETag("incoming/a.csv", "0123456789ABCDEF0123456789ABCDEF"), false},
		"object that does not exist":    {withETag("incoming/nothing.csv", etag), false},
		// A removal can only be checked by the object being gone; a
		// bucket that does not exist has no trigger that could have
		// sent it (say one deleted, or not yet made, that a policy
		// still names).
		"removal in a bucket that does not exist": {removed("ghost", "incoming/a.csv"), false},
		"removal of an object that is gone":       {removed("raw-data", "incoming/gone.csv"), true},
	}
	env := []string{"HPCGATE_EVENTS=oss", "HPCGATE_VERIFY_OBJECTS=true", "HPCGATE_OSS_ENDPOINT=" + ossEndpoint}

	fn := startFC(t, endpoint, p, env...)
	gw := startTrustLocal(t, endpoint, p, append(env, "HPCGATE_ACCOUNT_ID="+ownAccount)...)
	for name, tc := range cases {
		check := func(t *testing.T, got []result, before int) {
			t.Helper()
			if tc.ok {
				if len(got) != 1 || got[0].Status != "succeeded" || sim.Invocations()-before != 1 {
					t.Fatalf("%+v", got)
				}
				return
			}
			checkRefused(t, sim, before, got, refusal{"invalid", "InvalidEvent"})
		}
		t.Run("fc/"+name, func(t *testing.T) {
			before, heads := sim.Invocations(), store.Count("HeadObject")
			resp, err := fn.emu.Invoke(t.Context(), fcemu.Invocation{Payload: tc.payload, Timeout: 30 * time.Second,
				Credentials: fcemu.Credentials{AccessKeyID: ak, AccessKeySecret: secret, SecurityToken: token}})
			if err != nil || resp.Error != nil {
				t.Fatalf("%v %+v", err, resp.Error)
			}
			check(t, decodeResults(t, resp.Body), before)
			if store.Count("HeadObject") != heads+1 {
				t.Errorf("HeadObject asked %d times", store.Count("HeadObject")-heads)
			}
		})
		t.Run("local/"+name, func(t *testing.T) {
			before := sim.Invocations()
			_, _, out := gw.do(t, "POST", "/invoke", "", tc.payload)
			check(t, decodeResults(t, out), before)
		})
	}
	t.Run("fc/OSS unreachable is retryable and runs nothing", func(t *testing.T) {
		store.Inject(osssim.Fault{Op: "HeadObject", Drop: true, Times: 10})
		defer store.ClearFaults()
		before := sim.Invocations()
		got := fn.invoke(t, withETag("incoming/a.csv", etag))
		if sim.Invocations() != before || len(got) != 1 || got[0].Error == nil || !got[0].Error.Retryable {
			t.Fatalf("%+v", got)
		}
	})
}

// TestLocalListensOnLoopback: issue 14 point 6. Local mode serves the
// unauthenticated POST /invoke, which takes raw FC events; listening
// beyond loopback must not happen without a word: it is refused unless
// asked for by name, and then warned about.
func TestLocalListensOnLoopback(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
		t.Run(addr, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, "local", "--listen", addr, "--policies", trustPolicies)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if ctx.Err() != nil {
				t.Fatalf("local mode served %s (not loopback) without --insecure-listen", addr)
			}
			if err == nil || !strings.Contains(stderr.String(), "--insecure-listen") {
				t.Fatalf("exit %v, stderr:\n%s", err, stderr.String())
			}
		})
	}
}
