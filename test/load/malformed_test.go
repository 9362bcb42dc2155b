package load

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/hpcgate/hpcgate/test/harness"
)

// valid is a request the harness policy allows: were any malformed form of
// it accepted, it would run.
const valid = `{"clusterId":"ehpc-bench01","command":"echo malformed","wait":false}`

func nested(depth int) string {
	return `{"clusterId":"ehpc-bench01","command":"echo malformed","instanceIds":` +
		strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`
}

// malformedBodies are request bodies for POST /v1/commands (and, wrapped,
// for every trigger kind).
var malformedBodies = []struct{ name, body string }{
	{"empty", ``},
	{"null", `null`},
	{"array", `[` + valid + `]`},
	{"string", `"echo malformed"`},
	{"truncated", valid[:len(valid)-9]},
	{"trailing garbage", valid + `{}`},
	{"deeply nested", nested(10000)},
	{"nested 64", nested(64)},
	{"clusterId number", `{"clusterId":123,"command":"echo malformed"}`},
	{"command list", `{"clusterId":"ehpc-bench01","command":["echo","malformed"]}`},
	{"timeout string", `{"clusterId":"ehpc-bench01","command":"echo malformed","timeout":"60"}`},
	{"timeout fraction", `{"clusterId":"ehpc-bench01","command":"echo malformed","timeout":1.5}`},
	{"timeout huge", `{"clusterId":"ehpc-bench01","command":"echo malformed","timeout":1e400}`},
	{"timeout beyond int64", `{"clusterId":"ehpc-bench01","command":"echo malformed","timeout":99999999999999999999}`},
	{"timeout negative", `{"clusterId":"ehpc-bench01","command":"echo malformed","timeout":-1}`},
	{"wait huge", `{"clusterId":"ehpc-bench01","command":"echo malformed","wait":1e400}`},
	{"wait string", `{"clusterId":"ehpc-bench01","command":"echo malformed","wait":"no"}`},
	{"wait negative", `{"clusterId":"ehpc-bench01","command":"echo malformed","wait":-5}`},
	{"dryRun string", `{"clusterId":"ehpc-bench01","command":"echo malformed","dryRun":"false"}`},
	{"instanceIds string", `{"clusterId":"ehpc-bench01","command":"echo malformed","instanceIds":"i-hpcgatedemo00001"}`},
	{"instanceIds numbers", `{"clusterId":"ehpc-bench01","command":"echo malformed","instanceIds":[1,2]}`},
	{"duplicate key", `{"clusterId":"ehpc-bench01","command":"echo malformed","command":"echo twice"}`},
	{"duplicate key other case", `{"clusterId":"ehpc-bench01","command":"echo malformed","Command":"echo twice"}`},
	{"unknown field", `{"clusterId":"ehpc-bench01","command":"echo malformed","sudo":true}`},
	{"invalid UTF-8 in command", "{\"clusterId\":\"ehpc-bench01\",\"command\":\"echo mal\xffformed\"}"},
	{"invalid UTF-8 in key", "{\"clusterId\":\"ehpc-bench01\",\"comm\xc3and\":\"echo malformed\"}"},
	{"lone surrogate escape", `{"clusterId":"ehpc-bench01","command":"echo mal\ud800formed"}`},
	{"NUL escape", `{"clusterId":"ehpc-bench01","command":"echo mal\u0000formed"}`},
	{"BOM", "\xef\xbb\xbf" + valid},
	{"huge body", `{"clusterId":"ehpc-bench01","command":"echo malformed","workingDir":"/` + strings.Repeat("a", 100<<10) + `"}`},
	{"huge command", `{"clusterId":"ehpc-bench01","command":"echo ` + strings.Repeat("a", 4000) + `"}`},
	{"comment", `{"clusterId":"ehpc-bench01", /* x */ "command":"echo malformed"}`},
	{"single quotes", `{'clusterId':'ehpc-bench01','command':'echo malformed'}`},
	{"NaN", `{"clusterId":"ehpc-bench01","command":"echo malformed","timeout":NaN}`},
}

// TestMalformedRequests: every malformed body is refused with a clear 4xx
// normalized result, through the HTTP API and inside every kind of raw FC
// event (local mode's POST /invoke), and nothing runs.
func TestMalformedRequests(t *testing.T) {
	// Every kind accepted, so that each malformed event meets its decoder
	// rather than the refusal of a kind the deployment does not take.
	e := start(t, 1, "", "HPCGATE_EVENTS=http,invoke,oss,eventbridge,timer", "HPCGATE_ACCOUNT_ID=123456789012")
	for _, c := range malformedBodies {
		t.Run("http/"+c.name, func(t *testing.T) {
			status, res, raw, err := e.client.Do(t.Context(), "POST", "/v1/commands", e.token, c.body)
			if err != nil {
				t.Fatal(err)
			}
			checkRejected(t, status, res, raw)
		})
	}
	for _, c := range malformedBodies {
		for kind, event := range wrapped(c.body, e.token) {
			t.Run(kind+"/"+c.name, func(t *testing.T) {
				status, res, raw, err := e.client.Do(t.Context(), "POST", "/invoke", "", event)
				if status == 413 && len(event) > 64<<10 {
					// Local mode's /invoke refuses what FC's InvokeFunction
					// would: a payload over the size limit, before any handler.
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if status != 200 && status/100 != 4 {
					t.Fatalf("/invoke answered %d: %.300s", status, raw)
				}
				if status == 200 && kind == "http-trigger" {
					status, res, raw = unwrapHTTP(t, raw)
				} else if status == 200 {
					status = errStatus(res)
				}
				checkRejected(t, status, res, raw)
			})
		}
	}
	for _, c := range []struct{ name, event string }{
		{"http trigger invalid base64", httpEvent(`!!not base64!!`, e.token)},
		{"http trigger base64 of invalid UTF-8", httpEvent(base64.StdEncoding.EncodeToString([]byte("{\"clusterId\":\"ehpc-bench01\",\"command\":\"echo \xff\"}")), e.token)},
		{"timer payload not a string", `{"triggerTime":"2026-11-27T02:00:00Z","triggerName":"nightly","payload":{"clusterId":"ehpc-bench01"}}`},
		{"oss records wrong type", `{"events":{"eventName":"ObjectCreated:PutObject"}}`},
		{"oss truncated", `{"events":[{"eventName":"ObjectCreated:PutObject","eventSource":"acs:oss","oss":{"bucket":{"name":"raw-data"`},
		{"eventbridge data wrong type", `{"id":"1","source":"custom.app","specversion":"1.0","type":"x","data":"echo malformed"}`},
		{"ambiguous kind", `{"triggerTime":"2026-11-27T02:00:00Z","triggerName":"nightly","payload":"{}","events":[]}`},
		{"BOM event", "\xef\xbb\xbf" + valid},
	} {
		t.Run("event/"+c.name, func(t *testing.T) {
			status, res, raw, err := e.client.Do(t.Context(), "POST", "/invoke", "", c.event)
			if err != nil {
				t.Fatal(err)
			}
			if status == 200 && strings.Contains(c.name, "http trigger") {
				status, res, raw = unwrapHTTP(t, raw)
			} else if status == 200 {
				status = errStatus(res)
			}
			checkRejected(t, status, res, raw)
		})
	}
	if n := e.sim.Invocations(); n != 0 {
		t.Errorf("%d malformed requests ran", n)
	}
	// And it still serves a well-formed one.
	e.stillServes(t, "malformed")
}

func checkRejected(t *testing.T, status int, res harness.Result, raw []byte) {
	t.Helper()
	if status/100 != 4 || res.Error == nil || res.Error.HTTPStatus/100 != 4 || res.Error.Message == "" ||
		(res.Status != "invalid" && res.Status != "unauthenticated") || res.CommandID != "" {
		t.Errorf("answer %d %.400s; want a 4xx invalid result with an error message, nothing run", status, raw)
	}
}

// wrapped puts body into each event kind that carries a request: a direct
// invoke (the body is the event), a timer payload, an EventBridge event's
// data, and an HTTP trigger event (base64, as FC sends binary bodies).
func wrapped(body, token string) map[string]string {
	out := map[string]string{
		"invoke":       body,
		"timer":        `{"triggerTime":"2026-11-27T02:00:00Z","triggerName":"nightly","payload":` + rawString(body) + `}`,
		"http-trigger": httpEvent(base64.StdEncoding.EncodeToString([]byte(body)), token),
	}
	if json.Valid([]byte(body)) {
		out["eventbridge"] = `{"id":"1","source":"custom.app","specversion":"1.0","type":"hpcgate:Command:Requested","time":"2026-11-27T09:31:00Z","data":` + body + `}`
	}
	return out
}

// rawString quotes s as a JSON string but keeps its bytes, even invalid
// UTF-8, as they are (json.Marshal would replace them).
func rawString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20:
			fmt.Fprintf(&b, `\u%04x`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// httpEvent is an FC HTTP trigger event posting the base64 body with a
// bearer token.
func httpEvent(body, token string) string {
	b, _ := json.Marshal(map[string]any{
		"version": "v1", "rawPath": "/v1/commands", "body": body, "isBase64Encoded": true,
		"headers": map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + token},
		"requestContext": map[string]any{
			"accountId": "1234567890123456", "domainName": "x.fcapp.run", "requestId": "1-2-3",
			"time": "2026-11-27T06:41:13Z", "timeEpoch": "1795761673000",
			"http": map[string]any{"method": "POST", "path": "/v1/commands", "protocol": "HTTP/1.1", "sourceIp": "198.51.100.20"},
		},
	})
	return string(b)
}

// unwrapHTTP reads the FC HTTP trigger response object /invoke answers
// with for an HTTP trigger event.
func unwrapHTTP(t *testing.T, raw []byte) (int, harness.Result, []byte) {
	t.Helper()
	var out struct {
		StatusCode      int    `json:"statusCode"`
		Body            string `json:"body"`
		IsBase64Encoded bool   `json:"isBase64Encoded"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("not an HTTP trigger response: %.300s", raw)
	}
	body := []byte(out.Body)
	if out.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(out.Body)
		if err != nil {
			t.Fatal(err)
		}
		body = b
	}
	var res harness.Result
	if out.StatusCode == 0 {
		// Not wrapped: the event was refused before it reached the API.
		json.Unmarshal(raw, &res)
		return errStatus(res), res, raw
	}
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatalf("HTTP trigger body is not a result: %.300s", body)
	}
	return out.StatusCode, res, body
}

// errStatus is the HTTP status a result's error names (0 without one).
func errStatus(res harness.Result) int {
	if res.Error == nil {
		return 0
	}
	return res.Error.HTTPStatus
}
