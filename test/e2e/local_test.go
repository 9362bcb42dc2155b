package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/hpcgate/hpcgate/test/ehpcsim/simulator"
)

func TestLocalHTTP(t *testing.T) {
	sim, endpoint := newSim(t, 3)
	p := newIDP(t)
	gw := startLocal(t, endpoint, p)
	alice := p.token(t, "alice")
	mallory := p.token(t, "mallory")

	tests := map[string]struct {
		token      string
		body       any
		wantHTTP   int
		wantStatus string
		wantCode   string
		wantRuns   int // executions of the command in the simulator
	}{
		"allowed command with wait returns every node's output": {
			token: alice, body: map[string]any{"clusterId": cluster, "command": "echo hello from $EHPC_INSTANCE_ID", "wait": 20},
			wantHTTP: 200, wantStatus: "succeeded", wantRuns: 1},
		"no statement allows this user": {
			token: mallory, body: map[string]any{"clusterId": cluster, "command": "echo hi"},
			wantHTTP: 403, wantStatus: "denied", wantCode: "PolicyDenied"},
		"a program outside the allow-list is denied": {
			token: alice, body: map[string]any{"clusterId": cluster, "command": "echo hi; rm -rf ~"},
			wantHTTP: 403, wantStatus: "denied", wantCode: "PolicyDenied"},
		"an explicit deny wins over the allow": {
			token: alice, body: map[string]any{"clusterId": cluster, "command": "echo hi > /tmp/x"},
			wantHTTP: 403, wantStatus: "denied", wantCode: "PolicyDenied"},
		"a command that does not parse is invalid": {
			token: alice, body: map[string]any{"clusterId": cluster, "command": "echo $(("},
			wantHTTP: 400, wantStatus: "invalid", wantCode: "InvalidCommand"},
		"an unknown field is invalid": {
			token: alice, body: map[string]any{"clusterId": cluster, "command": "echo hi", "sudo": true},
			wantHTTP: 400, wantStatus: "invalid", wantCode: "InvalidRequest"},
		"no token is unauthenticated": {
			body:     map[string]any{"clusterId": cluster, "command": "echo hi"},
			wantHTTP: 401, wantStatus: "unauthenticated", wantCode: "Unauthenticated"},
		"a forged token is unauthenticated": {
			token: alice[:len(alice)-4] + "AAAA", body: map[string]any{"clusterId": cluster, "command": "echo hi"},
			wantHTTP: 401, wantStatus: "unauthenticated", wantCode: "Unauthenticated"},
		"an unknown cluster is E-HPC's 404": {
			token: alice, body: map[string]any{"clusterId": "ehpc-hz-nosuch", "command": "echo nosuch"},
			wantHTTP: 404, wantStatus: "error", wantCode: "ClusterNotFound"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			before := sim.Invocations()
			status, res, raw := gw.do(t, "POST", "/v1/commands", tt.token, tt.body)
			if status != tt.wantHTTP || res.Status != tt.wantStatus {
				t.Fatalf("HTTP %d status %q, want %d %q: %s", status, res.Status, tt.wantHTTP, tt.wantStatus, raw)
			}
			if tt.wantCode != "" && (res.Error == nil || res.Error.Code != tt.wantCode) {
				t.Errorf("error = %+v, want code %s", res.Error, tt.wantCode)
			}
			if got := sim.Invocations() - before; got != tt.wantRuns {
				t.Errorf("simulator ran %d commands, want %d", got, tt.wantRuns)
			}
			if tt.wantStatus == "succeeded" {
				if len(res.Results) != 3 || res.Summary == nil || res.Summary.Succeeded != 3 {
					t.Fatalf("results: %s", raw)
				}
				for _, r := range res.Results {
					if want := "hello from " + r.InstanceID + "\n"; r.Output != want {
						t.Errorf("node %s output %q, want %q", r.InstanceID, r.Output, want)
					}
				}
				if res.Decision == nil || !res.Decision.Allow || res.Decision.Reasons[0].Sid != "EchoAndHostname" {
					t.Errorf("decision: %+v", res.Decision)
				}
			}
			if tt.wantStatus == "denied" && (res.Decision == nil || len(res.Decision.Reasons) == 0) {
				t.Errorf("a deny must say why: %s", raw)
			}
		})
	}

	t.Run("status of an accepted command", func(t *testing.T) {
		status, res, raw := gw.do(t, "POST", "/v1/commands", alice, map[string]any{"clusterId": cluster, "command": "echo later", "wait": false})
		if status != 202 || res.Status != "accepted" || res.CommandID == "" {
			t.Fatalf("HTTP %d: %s", status, raw)
		}
		// Long-polls until the command has ended (or 20 s have passed).
		path := fmt.Sprintf("/v1/commands/%s?clusterId=%s&wait=20", res.CommandID, cluster)
		status, res, raw = gw.do(t, "GET", path, alice, nil)
		if status != 200 || res.Status != "succeeded" || len(res.Results) != 3 || res.Results[0].Output != "later\n" {
			t.Fatalf("HTTP %d: %s", status, raw)
		}
		if status, _, _ := gw.do(t, "GET", path, mallory, nil); status != 403 {
			t.Errorf("another user read the output: HTTP %d", status)
		}
	})

	t.Run("dry run decides without running", func(t *testing.T) {
		before := sim.Invocations()
		status, res, raw := gw.do(t, "POST", "/v1/commands", alice, map[string]any{"clusterId": cluster, "command": "echo dry", "dryRun": true})
		if status != 200 || res.Decision == nil || !res.Decision.Allow || res.CommandID != "" || sim.Invocations() != before {
			t.Fatalf("HTTP %d: %s", status, raw)
		}
	})

	// Last: the faults it injects and the client does not use up stay queued.
	t.Run("upstream unavailable is a retryable 503 and runs nothing", func(t *testing.T) {
		// The client retries what E-HPC answered before running, so
		// inject more failures than it retries.
		sim.Inject(simulator.Fault{Action: "InvokeShellCommand", Times: 10, Code: "ServiceUnavailable"})
		before := sim.Invocations()
		status, res, raw := gw.do(t, "POST", "/v1/commands", alice, map[string]any{"clusterId": cluster, "command": "echo unavailable"})
		if status != 503 || res.Status != "error" || res.Error == nil || res.Error.Code != "ServiceUnavailable" || !res.Error.Retryable {
			t.Fatalf("HTTP %d: %s", status, raw)
		}
		if sim.Invocations() != before {
			t.Errorf("a command ran although E-HPC refused it")
		}
	})

	t.Run("logs hold no token and no secret", func(t *testing.T) {
		logs := gw.logs.String()
		for _, secret := range []string{alice, mallory, simulator.DefaultAccessKeySecret, strings.Split(alice, ".")[2]} {
			if strings.Contains(logs, secret) {
				t.Errorf("logs contain a secret (%.12s…)", secret)
			}
		}
		if n := strings.Count(logs, `"msg":"audit"`); n < len(tests) {
			t.Errorf("%d audit records for at least %d requests", n, len(tests))
		}
	})
}

// TestLocalOSSKeysRunExactlyTheTemplate sends OSS events whose object keys
// are full of shell syntax through POST /invoke: each must run the route's
// argv with the key as one argument, and nothing else.
func TestLocalOSSKeysRunExactlyTheTemplate(t *testing.T) {
	sim, endpoint := newSim(t, 1)
	p := newIDP(t)
	gw := startLocal(t, endpoint, p, "HPCGATE_EVENTS=oss", "HPCGATE_ACCOUNT_ID=123456")
	keys := []string{
		"incoming/$(touch pwned).csv",
		"incoming/a b;c.csv",
		"incoming/`id`.csv",
		"incoming/'\"\\.csv",
		"incoming/x && rm -rf ~.csv",
		"incoming/ünïcödé.csv",
		"incoming/-rf.csv",
		"incoming/$HOME${IFS}x.csv",
	}
	for _, key := range keys {
		t.Run(key, func(t *testing.T) {
			event := map[string]any{"events": []any{map[string]any{
				"eventName": "ObjectCreated:PutObject", "eventSource": "acs:oss", "eventTime": "2026-11-27T06:21:35.000Z",
				"eventVersion": "1.0", "region": "cn-hangzhou",
				"oss": map[string]any{
					"bucket": map[string]any{"name": "raw-data", "arn": "acs:oss:cn-hangzhou:123456:raw-data"},
					"object": map[string]any{"key": key, "size": 10, "eTag": "ABC"},
				},
			}}}
			raw, _ := json.Marshal(event)
			before := sim.Invocations()
			_, _, out := gw.do(t, "POST", "/invoke", "", raw)
			var results []result
			if err := json.Unmarshal(out, &results); err != nil || len(results) != 1 {
				t.Fatalf("want one result per record: %s", out)
			}
			res := results[0]
			if res.Status == "accepted" || res.Status == "running" {
				t.Fatalf("event runs should wait by default: %s", out)
			}
			if res.Status != "succeeded" || len(res.Results) != 1 || res.Results[0].Output != key+"\n" {
				t.Fatalf("key %q: %s", key, out)
			}
			if sim.Invocations()-before != 1 {
				t.Errorf("ran %d commands", sim.Invocations()-before)
			}
		})
	}
}
