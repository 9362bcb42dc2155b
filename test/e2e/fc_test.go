package e2e

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hpcgate/hpcgate/test/ehpcsim/simulator"
	"github.com/hpcgate/hpcgate/test/fcemu"
	"github.com/hpcgate/hpcgate/test/harness"
)

// TestFunctionCompute drives the real binary through the FC runtime API,
// one trigger kind after another, and checks at the simulator that every
// E-HPC call was signed with the invocation's STS credentials.
func TestFunctionCompute(t *testing.T) {
	sim, endpoint := newSim(t, 2)
	const (
		ak     = "STS.e2eInvocationKey"
		secret = "e2e-invocation-secret"
		token  = "e2e-security-token"
	)
	sim.AddSTS(ak, secret, token, time.Now().Add(time.Hour))
	p := newIDP(t)
	policies, err := filepath.Abs("testdata/policies")
	if err != nil {
		t.Fatal(err)
	}

	// As s.yaml deploys it: FC runs the initializer before the first request.
	emu, err := fcemu.New(fcemu.Config{FunctionName: "hpcgate", Timeout: 30 * time.Second, AccountID: "123456", Initializer: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	proc, err := emu.Start(t.Context(), binary, []string{
		"HPCGATE_EHPC_ENDPOINT=" + endpoint,
		"HPCGATE_POLICIES_DIR=" + policies,
		"HPCGATE_JWKS_FILE=" + p.JWKSFile,
		"HPCGATE_JWT_ISSUER=" + harness.Issuer,
		"HPCGATE_JWT_AUDIENCE=" + harness.Audience,
		"HPCGATE_ACCOUNT_ID=123456",
		// One function that takes every kind: what worked for each
		// trigger before the split into an HTTP and an event function.
		"HPCGATE_EVENTS=http,invoke,oss,eventbridge,timer",
		"HPCGATE_OWNER_KEY=" + ownerKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	alice := p.token(t, "alice")

	request := `{"clusterId":"` + cluster + `","command":"echo via-KIND","wait":20}`
	httpEvent := func(body, auth string) []byte {
		ev := map[string]any{
			"version": "v1", "rawPath": "/v1/commands", "isBase64Encoded": true,
			"body":            base64.StdEncoding.EncodeToString([]byte(body)),
			"headers":         map[string]string{"Authorization": auth, "Content-Type": "application/json", "X-Forwarded-Proto": "https"},
			"queryParameters": map[string]string{},
			"requestContext": map[string]any{"accountId": "123456", "domainName": "x.cn-hangzhou.fcapp.run", "requestId": "1-abc",
				"http": map[string]any{"method": "POST", "path": "/v1/commands", "protocol": "HTTP/1.1", "sourceIp": "10.1.2.3", "userAgent": "curl"}},
		}
		b, _ := json.Marshal(ev)
		return b
	}
	ossEvent := func(key string) []byte {
		b, _ := json.Marshal(map[string]any{"events": []any{map[string]any{
			"eventName": "ObjectCreated:PutObject", "eventSource": "acs:oss", "eventTime": "2026-11-27T06:21:35.000Z",
			"eventVersion": "1.0", "region": "cn-hangzhou",
			"oss": map[string]any{"bucket": map[string]any{"name": "raw-data", "arn": "acs:oss:cn-hangzhou:123456:raw-data"},
				"object": map[string]any{"key": key, "size": 3, "eTag": "E"}},
		}}})
		return b
	}
	cloudEvent := func(source string, data any) []byte {
		b, _ := json.Marshal(map[string]any{"id": "ev-1", "source": source, "specversion": "1.0", "type": "custom.run",
			"time": "2026-11-27T06:21:35Z", "datacontenttype": "application/json", "data": data})
		return b
	}
	var reqData any
	json.Unmarshal([]byte(strings.ReplaceAll(request, "KIND", "eventbridge")), &reqData)
	timer, _ := json.Marshal(map[string]any{"triggerTime": "2026-11-27T06:00:00Z", "triggerName": "nightly",
		"payload": strings.ReplaceAll(request, "KIND", "timer")})

	tests := map[string]struct {
		payload    []byte
		http       bool // answered with FC's HTTP response object
		list       bool // answered with one result per record
		wantStatus string
		wantHTTP   int
		wantOutput string
		fault      *simulator.Fault // injected before the invocation
	}{
		"http trigger":                {payload: httpEvent(strings.ReplaceAll(request, "KIND", "http"), "Bearer "+alice), http: true, wantStatus: "succeeded", wantHTTP: 200, wantOutput: "via-http\n"},
		"http trigger, no token":      {payload: httpEvent(request, ""), http: true, wantStatus: "unauthenticated", wantHTTP: 401},
		"http body that is an event":  {payload: httpEvent(string(ossEvent("incoming/x.csv")), "Bearer "+alice), http: true, wantStatus: "invalid", wantHTTP: 400},
		"direct invoke":               {payload: []byte(strings.ReplaceAll(request, "KIND", "invoke")), wantStatus: "succeeded", wantOutput: "via-invoke\n"},
		"timer":                       {payload: timer, wantStatus: "succeeded", wantOutput: "via-timer\n"},
		"eventbridge custom":          {payload: cloudEvent("custom.app", reqData), wantStatus: "succeeded", wantOutput: "via-eventbridge\n"},
		"eventbridge from a stranger": {payload: cloudEvent("custom.other", reqData), wantStatus: "denied"},
		"oss":                         {payload: ossEvent("incoming/a b.csv"), list: true, wantStatus: "succeeded", wantOutput: "incoming/a b.csv\n"},
		"oss without a route":         {payload: ossEvent("elsewhere/a.csv"), list: true, wantStatus: "invalid"},
		"not an event":                {payload: []byte(`{"hello":"world"}`), wantStatus: "invalid"},
		// The command runs but E-HPC's answer is lost: the function finds
		// its CommandId by the marker it sent, and waits for it.
		"direct invoke, answer lost": {payload: []byte(strings.ReplaceAll(request, "KIND", "lost")), wantStatus: "succeeded", wantOutput: "via-lost\n",
			fault: &simulator.Fault{Action: "InvokeShellCommand", DropAfterExecute: true}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			before := len(sim.Calls())
			if tt.fault != nil {
				sim.Inject(*tt.fault)
			}
			resp, err := emu.Invoke(t.Context(), fcemu.Invocation{Payload: tt.payload, Timeout: 30 * time.Second,
				Credentials: fcemu.Credentials{AccessKeyID: ak, AccessKeySecret: secret, SecurityToken: token}})
			if err != nil {
				t.Fatal(err)
			}
			if resp.Error != nil {
				t.Fatalf("function error: %+v", resp.Error)
			}
			body := resp.Body
			if tt.http {
				var hr struct {
					StatusCode int    `json:"statusCode"`
					Body       string `json:"body"`
				}
				if err := json.Unmarshal(body, &hr); err != nil {
					t.Fatalf("not an HTTP response object: %s", body)
				}
				if hr.StatusCode != tt.wantHTTP {
					t.Errorf("statusCode %d, want %d: %s", hr.StatusCode, tt.wantHTTP, hr.Body)
				}
				body = []byte(hr.Body)
			}
			var res result
			if tt.list {
				var list []result
				if err := json.Unmarshal(body, &list); err != nil || len(list) != 1 {
					t.Fatalf("want a list of one result: %s", body)
				}
				res = list[0]
			} else if err := json.Unmarshal(body, &res); err != nil {
				t.Fatalf("not a result: %s", body)
			}
			if res.Status != tt.wantStatus {
				t.Fatalf("status %q, want %q: %s", res.Status, tt.wantStatus, body)
			}
			if tt.wantOutput != "" {
				if len(res.Results) == 0 || res.Results[0].Output != tt.wantOutput {
					t.Errorf("output: %s", body)
				}
			}
			calls := sim.Calls()[before:]
			if tt.wantStatus == "succeeded" && len(calls) == 0 {
				t.Fatal("no E-HPC call was made")
			}
			if tt.fault != nil {
				// Exactly one invocation, the one that ran; the result
				// carries its CommandId.
				var sent []string
				for _, c := range calls {
					if c.Action == "InvokeShellCommand" {
						sent = append(sent, c.Params.Get("Command"))
					}
				}
				if len(sent) != 1 || sim.Runs(sent[0]) != 1 || !strings.HasPrefix(sent[0], "echo via-lost\n# hpcgate:") {
					t.Fatalf("invocations %q: want one, marked, run once", sent)
				}
				if res.CommandID == "" || sim.Wait(t.Context(), res.CommandID) != nil {
					t.Errorf("commandId %q is not the simulator's", res.CommandID)
				}
			}
			for _, c := range calls {
				if tt.fault != nil && c.Action == tt.fault.Action && c.Code == "DropAfterExecute" {
					c.Code = ""
				}
				if c.AccessKeyID != ak || c.SecurityToken != token || c.Code != "" {
					t.Errorf("%s signed with key %q token %q (answer %q), want the invocation's STS credentials", c.Action, c.AccessKeyID, c.SecurityToken, c.Code)
				}
			}
		})
	}

	logs := string(proc.Logs())
	for _, s := range []string{secret, token, alice} {
		if strings.Contains(logs, s) {
			t.Errorf("function logs contain a secret (%.10s…)", s)
		}
	}
	if !strings.Contains(logs, `"msg":"audit"`) {
		t.Errorf("no audit records in the function's logs:\n%s", logs)
	}
}

// TestFunctionComputeBadPolicy: a policy set that does not compile stops
// the instance at start, before any request is served, though the compile
// runs beside the runtime loop; FC then reports the failed initializer.
func TestFunctionComputeBadPolicy(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "governance.json"), []byte(`{"policies": {"P": {"Version": "1", "Statement": [{"Effect": "Alow"}]}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	emu, err := fcemu.New(fcemu.Config{Initializer: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	_, err = emu.Start(t.Context(), binary, []string{"HPCGATE_POLICIES_DIR=" + dir, "HPCGATE_ACCOUNT_ID=123456"})
	if err == nil || !strings.Contains(err.Error(), `"msg":"start failed"`) {
		t.Fatalf("Start with a bad policy set: %v, want the instance to stop with \"start failed\"", err)
	}
}
