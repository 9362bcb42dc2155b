package e2e

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"

	"github.com/hpcgate/hpcgate/test/ehpcsim/simulator"
	"github.com/hpcgate/hpcgate/test/fcemu"
	"github.com/hpcgate/hpcgate/test/harness"
)

// ownerKey is the deployment secret of the FC runs (32 bytes, base64).
var ownerKey = base64.StdEncoding.EncodeToString([]byte("e2e owner key, 32 bytes or more!"))

// caller sends one HTTP request to a gateway under test and returns the
// HTTP status and the result.
type caller func(t *testing.T, method, path, token string, body any) (int, result)

// TestOwnerScopedReadsLocal and TestOwnerScopedReadsFC: a researcher
// reads the output of her own commands only, an operator every command's;
// commands hpcgate did not start, and copies of a sealed marker, belong
// to nobody.
func TestOwnerScopedReadsLocal(t *testing.T) {
	sim, endpoint := newSim(t, 2)
	p := newIDP(t)
	l, err := harness.StartLocal(t.Context(), harness.LocalConfig{
		Binary: binary, Endpoint: endpoint, Policies: "testdata/owners", IDP: p.IDP,
		Env: []string{"HPCGATE_LOG_LEVEL=info"},
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
	gw := &local{base: l.Base, logs: logsFunc(l.Logs)}
	ownerScopedReads(t, sim, endpoint, p, func(t *testing.T, method, path, token string, body any) (int, result) {
		status, res, _ := gw.do(t, method, path, token, body)
		return status, res
	})
}

func TestOwnerScopedReadsFC(t *testing.T) {
	sim, endpoint := newSim(t, 2)
	p := newIDP(t)
	policies, err := filepath.Abs("testdata/owners")
	if err != nil {
		t.Fatal(err)
	}
	emu, err := fcemu.New(fcemu.Config{FunctionName: "hpcgate", Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	proc, err := emu.Start(t.Context(), binary, append(harness.SimulatorEnv(),
		"HPCGATE_EHPC_ENDPOINT="+endpoint, "HPCGATE_POLICIES_DIR="+policies,
		"HPCGATE_JWKS_FILE="+p.JWKSFile, "HPCGATE_JWT_ISSUER="+harness.Issuer, "HPCGATE_JWT_AUDIENCE="+harness.Audience,
		"HPCGATE_ACCOUNT_ID=123456", "HPCGATE_OWNER_KEY="+ownerKey))
	if err != nil {
		t.Fatal(err)
	}
	ownerScopedReads(t, sim, endpoint, p, func(t *testing.T, method, path, token string, body any) (int, result) {
		t.Helper()
		u, err := url.Parse(path)
		if err != nil {
			t.Fatal(err)
		}
		query := map[string]string{}
		for k, v := range u.Query() {
			query[k] = v[0]
		}
		raw := ""
		if body != nil {
			b, _ := json.Marshal(body)
			raw = string(b)
		}
		ev, _ := json.Marshal(map[string]any{
			"version": "v1", "rawPath": u.Path, "isBase64Encoded": true,
			"body":            base64.StdEncoding.EncodeToString([]byte(raw)),
			"headers":         map[string]string{"Authorization": "Bearer " + token, "Content-Type": "application/json"},
			"queryParameters": query,
			"requestContext": map[string]any{"accountId": "123456", "domainName": "x.cn-hangzhou.fcapp.run", "requestId": "1-abc",
				"http": map[string]any{"method": method, "path": u.Path, "protocol": "HTTP/1.1", "sourceIp": "10.1.2.3", "userAgent": "e2e"}},
		})
		resp, err := emu.Invoke(t.Context(), fcemu.Invocation{Payload: ev, Timeout: 30 * time.Second})
		if err != nil || resp.Error != nil {
			t.Fatalf("%s %s: %v %+v\n%s", method, path, err, resp.Error, proc.Logs())
		}
		var hr struct {
			StatusCode int    `json:"statusCode"`
			Body       string `json:"body"`
		}
		var res result
		if err := json.Unmarshal(resp.Body, &hr); err != nil || json.Unmarshal([]byte(hr.Body), &res) != nil {
			t.Fatalf("%s %s: not an HTTP response with a result: %s", method, path, resp.Body)
		}
		return hr.StatusCode, res
	})
	if logs := string(proc.Logs()); strings.Contains(logs, ownerKey) {
		t.Error("the function logged HPCGATE_OWNER_KEY")
	}
}

// TestFCRefusesToStartWithoutOwnerKey: a deployment that forgot the
// secret learns it at once, not from researchers who cannot read.
func TestFCRefusesToStartWithoutOwnerKey(t *testing.T) {
	emu, err := fcemu.New(fcemu.Config{FunctionName: "hpcgate", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	for name, tt := range map[string]struct{ value, want string }{
		"unset":     {"", "HPCGATE_OWNER_KEY is not set"},
		"too short": {base64.StdEncoding.EncodeToString([]byte("short")), "HPCGATE_OWNER_KEY: key 1: 5 bytes"},
	} {
		t.Run(name, func(t *testing.T) {
			env := []string{"HPCGATE_ACCOUNT_ID=123456", "HPCGATE_EHPC_ENDPOINT=http://127.0.0.1:1"}
			if tt.value != "" {
				env = append(env, "HPCGATE_OWNER_KEY="+tt.value)
			}
			proc, err := emu.Start(t.Context(), binary, env)
			if err != nil {
				t.Fatal(err)
			}
			select {
			case <-proc.Done():
			case <-time.After(20 * time.Second):
				t.Fatal("the function did not stop")
			}
			logs := string(proc.Logs())
			if !strings.Contains(logs, tt.want) {
				t.Errorf("logs lack %q:\n%s", tt.want, logs)
			}
			if tt.value != "" && strings.Contains(logs, tt.value) {
				t.Error("the logs quote the key")
			}
		})
	}
}

func ownerScopedReads(t *testing.T, sim *simulator.Simulator, endpoint string, p *idp, call caller) {
	alice := p.token(t, "alice", "researchers")
	bob := p.token(t, "bob", "researchers")
	olga := p.token(t, "ops-olga", "operators")
	audit := p.token(t, "ada", "auditors")

	run := func(token, command string) string {
		t.Helper()
		status, res := call(t, "POST", "/v1/commands", token, map[string]any{"clusterId": cluster, "command": command, "wait": 20})
		if status != 200 || res.Status != "succeeded" || res.CommandID == "" {
			t.Fatalf("run %q: HTTP %d %+v", command, status, res)
		}
		return res.CommandID
	}
	operators := run(olga, "uname -a")
	alices := run(alice, "echo mine")
	outside := directInvoke(t, sim, endpoint, "uname -a")
	forged := directInvoke(t, sim, endpoint, "uname -a\n# hpcgate:AAAAAAAAAAAAAAAAAAAAAAAAAA o1."+
		base64.RawURLEncoding.EncodeToString([]byte("user:alice"))+"."+base64.RawURLEncoding.EncodeToString(make([]byte, 32)))
	// A verbatim copy of the operator's command, marker line and all, made
	// with E-HPC rights: it is the operator's, never alice's.
	copied := directInvoke(t, sim, endpoint, listedContent(t, endpoint, operators))

	tests := []struct {
		name, reader, token, id string
		want                    int
	}{
		{"a researcher reads her own", "alice", alice, alices, 200},
		{"a researcher cannot read an operator's uname -a", "alice", alice, operators, 403},
		{"nor another researcher's", "bob", bob, alices, 403},
		{"nor a command started outside hpcgate", "alice", alice, outside, 403},
		{"nor one with a forged seal naming her", "alice", alice, forged, 403},
		{"nor a copy of an operator's", "alice", alice, copied, 403},
		{"an operator reads a researcher's", "ops-olga", olga, alices, 200},
		{"an operator reads her own", "ops-olga", olga, operators, 200},
		{"an operator reads one started outside", "ops-olga", olga, outside, 200},
		{"an auditor reads operators' commands by owner", "ada", audit, operators, 200},
		{"and no researcher's", "ada", audit, alices, 403},
		{"and no unowned one", "ada", audit, forged, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, res := call(t, "GET", "/v1/commands/"+tt.id+"?clusterId="+cluster, tt.token, nil)
			if status != tt.want {
				t.Fatalf("%s reads %s: HTTP %d, want %d: %+v", tt.reader, tt.id, status, tt.want, res)
			}
			if tt.want == 200 && (len(res.Results) == 0 || res.Results[0].Output == "") {
				t.Errorf("no output: %+v", res)
			}
			if tt.want == 403 && (len(res.Results) != 0 || res.Error == nil || res.Error.Code != "PolicyDenied") {
				t.Errorf("a denied read shows %+v", res)
			}
		})
	}

	t.Run("a marker line cannot be sent through the gateway", func(t *testing.T) {
		before := sim.Invocations()
		status, res := call(t, "POST", "/v1/commands", alice, map[string]any{"clusterId": cluster, "command": listedContent(t, endpoint, operators)})
		if status != 400 || res.Error == nil || res.Error.Code != "InvalidCommand" || sim.Invocations() != before {
			t.Errorf("HTTP %d %+v; want 400 InvalidCommand and nothing run", status, res)
		}
	})
}

// directInvoke runs command on the e2e cluster through E-HPC itself, as
// someone with E-HPC rights would, bypassing hpcgate, and waits until it
// has finished.
func directInvoke(t *testing.T, sim *simulator.Simulator, endpoint, command string) string {
	t.Helper()
	var out struct{ CommandId string }
	ehpcCall(t, endpoint, "InvokeShellCommand", map[string]string{"ClusterId": cluster, "Command": command}, &out)
	if out.CommandId == "" {
		t.Fatal("no CommandId")
	}
	if err := sim.Wait(t.Context(), out.CommandId); err != nil {
		t.Fatal(err)
	}
	return out.CommandId
}

// listedContent is the command text E-HPC keeps for commandID.
func listedContent(t *testing.T, endpoint, commandID string) string {
	t.Helper()
	var out struct {
		Commands struct {
			Command []struct{ CommandId, CommandContent string }
		}
	}
	ehpcCall(t, endpoint, "ListCommands", map[string]string{"ClusterId": cluster, "CommandId": commandID}, &out)
	if len(out.Commands.Command) != 1 {
		t.Fatalf("ListCommands %s: %+v", commandID, out)
	}
	return out.Commands.Command[0].CommandContent
}

func ehpcCall(t *testing.T, endpoint, action string, params map[string]string, out any) {
	t.Helper()
	c, err := sdk.NewClientWithAccessKey(simulator.DefaultRegion, simulator.DefaultAccessKeyID, simulator.DefaultAccessKeySecret)
	if err != nil {
		t.Fatal(err)
	}
	r := requests.NewCommonRequest()
	r.Method, r.Scheme, r.Domain, r.Version, r.ApiName = "GET", "http", strings.TrimPrefix(endpoint, "http://"), simulator.APIVersion, action
	for k, v := range params {
		r.QueryParams[k] = v
	}
	resp, err := c.ProcessCommonRequest(r)
	if err != nil {
		t.Fatalf("%s: %v", action, err)
	}
	if err := json.Unmarshal(resp.GetHttpContentBytes(), out); err != nil {
		t.Fatalf("%s: %v", action, err)
	}
}
