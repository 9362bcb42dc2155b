package ehpc

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/fc-runtime-go-sdk/fccontext"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/test/ehpcsim/simulator"
)

// Integration tests: the client, through the real SDK, against the E-HPC
// simulator, which verifies signatures and really runs the commands.

// newSim starts a simulator (nodes: number of nodes of its one cluster,
// 0 = the default 3) and a client signing with its dev key.
func newSim(t *testing.T, nodes int) (*simulator.Simulator, *Client) {
	t.Helper()
	cfg := simulator.DefaultConfig()
	cfg.Dir = t.TempDir()
	if nodes > 0 {
		cfg.Clusters = []simulator.Cluster{{ID: simulator.DefaultClusterID, Nodes: simulator.NodeIDs(nodes)}}
	}
	s, err := simulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ep, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := newTestClient(t, Config{Endpoint: ep, Credentials: credentials.NewStaticAKCredentialsProvider(simulator.DefaultAccessKeyID, simulator.DefaultAccessKeySecret)})
	return s, c
}

func simRequest(cmd string, nodes ...string) hpcgate.Request {
	return hpcgate.Request{ClusterID: simulator.DefaultClusterID, Command: cmd, Timeout: 30, InstanceIDs: nodes}
}

// invokeWait invokes r and waits up to 20 s for its outcome.
func invokeWait(t *testing.T, ctx context.Context, c *Client, r hpcgate.Request) (Invocation, Outcome) {
	t.Helper()
	inv, err := c.Invoke(ctx, r)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	out, err := c.Wait(ctxTimeout(t, 20*time.Second), r.ClusterID, inv.CommandID, 20*time.Second)
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return inv, out
}

func TestSimInvoke(t *testing.T) {
	nodes := simulator.NodeIDs(3)
	tests := map[string]struct {
		req        hpcgate.Request
		wantNodes  []string
		wantStatus string
		wantSum    hpcgate.Summary
	}{
		"one node": {
			req:        simRequest(`echo "hello $EHPC_INSTANCE_ID"`, nodes[1]),
			wantNodes:  nodes[1:2],
			wantStatus: hpcgate.StatusSucceeded, wantSum: hpcgate.Summary{Nodes: 1, Succeeded: 1},
		},
		"all nodes": {
			req:        simRequest(`echo "hello $EHPC_INSTANCE_ID"`),
			wantNodes:  nodes,
			wantStatus: hpcgate.StatusSucceeded, wantSum: hpcgate.Summary{Nodes: 3, Succeeded: 3},
		},
		"partial": {
			req:        simRequest(`echo "hello $EHPC_INSTANCE_ID"; [ "$EHPC_INSTANCE_ID" = ` + nodes[0] + ` ]`),
			wantNodes:  nodes,
			wantStatus: hpcgate.StatusPartial, wantSum: hpcgate.Summary{Nodes: 3, Succeeded: 1, Failed: 2},
		},
		"failed": {
			req:        simRequest(`echo "hello $EHPC_INSTANCE_ID"; exit 3`, nodes[0], nodes[2]),
			wantNodes:  []string{nodes[0], nodes[2]},
			wantStatus: hpcgate.StatusFailed, wantSum: hpcgate.Summary{Nodes: 2, Failed: 2},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s, c := newSim(t, 0)
			inv, out := invokeWait(t, t.Context(), c, tc.req)
			if !slices.Equal(inv.InstanceIDs, tc.wantNodes) || inv.RequestID == "" {
				t.Errorf("Invocation = %+v, want nodes %q", inv, tc.wantNodes)
			}
			if out.Status != tc.wantStatus || out.Summary != tc.wantSum {
				t.Errorf("outcome %s %+v, want %s %+v", out.Status, out.Summary, tc.wantStatus, tc.wantSum)
			}
			for _, r := range out.Results {
				if r.Output != "hello "+r.InstanceID+"\n" || r.Truncated || r.FinishedAt == "" {
					t.Errorf("node %s: %+v", r.InstanceID, r)
				}
			}
			if got := s.Runs(tc.req.Command); got != 1 {
				t.Errorf("Runs = %d, want 1", got)
			}
		})
	}
}

func TestSimCommandTimeoutIsTimedOut(t *testing.T) {
	_, c := newSim(t, 0)
	r := simRequest("sleep 20", simulator.NodeIDs(1)...)
	r.Timeout = 1
	_, out := invokeWait(t, t.Context(), c, r)
	if out.Status != hpcgate.StatusTimedOut || out.Results[0].Status != NodeStopped {
		t.Errorf("outcome %+v, want timed_out with a Stopped node", out)
	}
}

func TestSimWaitDeadlineReturnsRunning(t *testing.T) {
	s, c := newSim(t, 0)
	r := simRequest("sleep 20")
	inv, err := c.Invoke(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Wait(ctxTimeout(t, 20*time.Second), r.ClusterID, inv.CommandID, 500*time.Millisecond)
	if err != nil {
		t.Fatalf("Wait: %v, want no error", err)
	}
	if out.Status != hpcgate.StatusRunning || out.Summary.Running != 3 || len(out.InstanceIDs) != 3 {
		t.Errorf("outcome %+v, want running on 3 nodes", out)
	}
	if s.Invocations() != 1 {
		t.Errorf("Invocations = %d", s.Invocations())
	}
}

func TestSimResultsPagination(t *testing.T) {
	s, c := newSim(t, 120)
	r := simRequest(`echo "$EHPC_INSTANCE_ID"`)
	inv, out := invokeWait(t, t.Context(), c, r)
	if len(inv.InstanceIDs) != 120 || out.Status != hpcgate.StatusSucceeded || out.Summary.Nodes != 120 {
		t.Fatalf("%d nodes invoked, outcome %s %+v", len(inv.InstanceIDs), out.Status, out.Summary)
	}
	var pages []string
	for _, call := range s.Calls() {
		if call.Action == ActionListInvocationResults {
			pages = append(pages, call.Params.Get("PageNumber")+"/"+call.Params.Get("PageSize"))
		}
	}
	if !slices.Equal(pages, []string{"1/50", "2/50", "3/50"}) {
		t.Errorf("result pages read: %q, want 1..3 of 50", pages)
	}
	// Compare with what the simulator answers to a bare SDK call (under
	// heavy load it may lose a node's output; the client must pass on
	// exactly what E-HPC said).
	raw := rawResults(t, c, inv.CommandID)
	empty := 0
	for _, n := range out.Results {
		if n.Output != raw[n.InstanceID] {
			t.Errorf("node %s output %q, E-HPC said %q", n.InstanceID, n.Output, raw[n.InstanceID])
		}
		if n.Output != n.InstanceID+"\n" {
			empty++
		}
	}
	if empty > 0 {
		t.Logf("%d nodes without the expected output in the simulator's own answer", empty)
	}
}

// rawResults reads every result page with the bare SDK and returns each
// node's Message.
func rawResults(t *testing.T, c *Client, commandID string) map[string]string {
	t.Helper()
	s, err := sdk.NewClientWithOptions(c.region, sdk.NewConfig().WithScheme("HTTP"), credentials.NewStaticAKCredentialsProvider(simulator.DefaultAccessKeyID, simulator.DefaultAccessKeySecret))
	if err != nil {
		t.Fatal(err)
	}
	msgs := map[string]string{}
	for page := 1; page <= 3; page++ {
		req := commonRequest(benchTarget{endpoint: "http://" + c.domain}, ActionListInvocationResults, map[string]string{
			"ClusterId": simulator.DefaultClusterID, "CommandId": commandID, "PageNumber": fmt.Sprint(page), "PageSize": "50"})
		resp, err := s.ProcessCommonRequest(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			InvocationResults struct {
				InvocationResult []struct{ InstanceId, Message string }
			}
		}
		if err := json.Unmarshal(resp.GetHttpContentBytes(), &body); err != nil {
			t.Fatal(err)
		}
		for _, r := range body.InvocationResults.InvocationResult {
			msgs[r.InstanceId] = r.Message
		}
	}
	if len(msgs) != 120 {
		t.Fatalf("bare SDK read %d records, want 120", len(msgs))
	}
	return msgs
}

func TestSimOutputCap(t *testing.T) {
	_, c := newSim(t, 0)
	c.cap = 1001
	r := simRequest(`for i in $(seq 1 600); do printf 'é'; done`, simulator.NodeIDs(1)...)
	_, out := invokeWait(t, t.Context(), c, r)
	got := out.Results[0]
	if !got.Truncated || len(got.Output) != 1000 || !utf8.ValidString(got.Output) {
		t.Errorf("output of %d bytes, truncated %t, valid %t; want 1000 bytes of é", len(got.Output), got.Truncated, utf8.ValidString(got.Output))
	}
}

func TestSimErrorCodesMapped(t *testing.T) {
	s, c := newSim(t, 0)
	for code, status := range simulator.ErrorCodes {
		t.Run(code, func(t *testing.T) {
			cmd := "echo " + code
			want := Lookup(code, status)
			times := 1
			if answeredBeforeExecution(code) {
				times = c.retry.attempts // every attempt refused
			}
			s.Inject(simulator.Fault{Action: ActionInvokeShellCommand, Code: code, Times: times})
			_, err := c.Invoke(t.Context(), simRequest(cmd))
			e := asError(t, err)
			if e.Code != code || e.Status != want.Status || e.Retryable != want.Retryable || e.Source != hpcgate.SourceEHPC || e.Message == "" {
				t.Errorf("got %s/%d/retryable=%t/%q, want %s/%d/retryable=%t", e.Code, e.Status, e.Retryable, e.Message, code, want.Status, want.Retryable)
			}
			if _, known := exactCodes[code]; !known {
				t.Errorf("code %s is not in ErrorTable", code)
			}
			if n := s.Runs(cmd); n != 0 {
				t.Errorf("Runs = %d, want 0", n)
			}
			// The same code on a read.
			times = 1
			if want.Retryable || status >= 500 {
				times = c.retry.attempts
			}
			s.Inject(simulator.Fault{Action: ActionListCommands, Code: code, Times: times})
			_, err = c.ListCommands(t.Context(), simulator.DefaultClusterID, "")
			if e := asError(t, err); e.Code != code || e.Status != want.Status {
				t.Errorf("ListCommands: got %s/%d, want %s/%d", e.Code, e.Status, code, want.Status)
			}
		})
	}
}

func TestSimCredentials(t *testing.T) {
	s, c := newSim(t, 0)
	now := time.Now()
	s.AddSTS("STS.hpcgateValid01", "sts-secret", "token-valid", now.Add(time.Hour))
	s.AddSTS("STS.hpcgateOld0001", "sts-secret", "token-old", now.Add(-time.Minute))
	fc := func(ak, secret, token string) context.Context {
		return fccontext.NewContext(t.Context(), &fccontext.FcContext{RequestID: "fc-req", Credentials: fccontext.Credentials{AccessKeyId: ak, AccessKeySecret: secret, SecurityToken: token}})
	}
	tests := map[string]struct {
		ctx      context.Context
		client   *Client
		wantCode string
		wantAK   string
	}{
		"STS from the FC context":  {ctx: fc("STS.hpcgateValid01", "sts-secret", "token-valid"), client: c, wantAK: "STS.hpcgateValid01"},
		"expired STS token":        {ctx: fc("STS.hpcgateOld0001", "sts-secret", "token-old"), client: c, wantCode: simulator.CodeSecurityTokenExpired},
		"STS token of another key": {ctx: fc("STS.hpcgateValid01", "sts-secret", "token-old"), client: c, wantCode: simulator.CodeSecurityTokenMismatch},
		"fallback long-term key":   {ctx: t.Context(), client: c, wantAK: simulator.DefaultAccessKeyID},
		"wrong secret":             {ctx: fc("STS.hpcgateValid01", "not-the-secret", "token-valid"), client: c, wantCode: simulator.CodeSignatureDoesNotMatch},
		"unknown key":              {ctx: fc("LTAIunknownKey01", "x", ""), client: c, wantCode: simulator.CodeAccessKeyNotFound},
		"wrong fallback secret":    {ctx: t.Context(), client: newTestClient(t, Config{Endpoint: c.scheme + "://" + c.domain, Credentials: credentials.NewStaticAKCredentialsProvider(simulator.DefaultAccessKeyID, "wrong")}), wantCode: simulator.CodeSignatureDoesNotMatch},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cmd := "echo " + strings.ReplaceAll(name, " ", "-")
			before := len(s.Calls())
			inv, err := tc.client.Invoke(tc.ctx, simRequest(cmd))
			calls := s.Calls()[before:]
			if tc.wantCode != "" {
				e := asError(t, err)
				if e.Code != tc.wantCode || e.Status != 502 {
					t.Errorf("got %s/%d, want %s/502", e.Code, e.Status, tc.wantCode)
				}
				for _, leak := range []string{"string to sign", "token-", "sts-secret", "GET&"} {
					if strings.Contains(e.Error(), leak) {
						t.Errorf("error %q leaks %q", e.Error(), leak)
					}
				}
				if n := s.Runs(cmd); n != 0 {
					t.Errorf("Runs = %d", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			if len(calls) != 1 || calls[0].AccessKeyID != tc.wantAK {
				t.Fatalf("calls %+v, want one signed by %s", calls, tc.wantAK)
			}
			wantToken := ""
			if strings.HasPrefix(tc.wantAK, "STS.") {
				wantToken = "token-valid"
			}
			if calls[0].SecurityToken != wantToken {
				t.Errorf("SecurityToken %q, want %q", calls[0].SecurityToken, wantToken)
			}
			// Reading the results uses the same credentials.
			out, err := tc.client.Wait(tc.ctx, simulator.DefaultClusterID, inv.CommandID, time.Minute)
			if err != nil || out.Status != hpcgate.StatusSucceeded {
				t.Fatalf("Wait = %+v, %v", out, err)
			}
			for _, call := range s.Calls()[before:] {
				if call.AccessKeyID != tc.wantAK {
					t.Errorf("%s signed by %s", call.Action, call.AccessKeyID)
				}
			}
		})
	}
}

// TestSimFaultsNeverRunTwice checks every way a call can fail after E-HPC
// accepted it: none may lead to a second execution.
func TestSimFaultsNeverRunTwice(t *testing.T) {
	tests := map[string]struct {
		fault    simulator.Fault
		ctx      time.Duration
		wantCode string // "" = success
		wantRuns int
	}{
		"dropped after execution":  {fault: simulator.Fault{DropAfterExecute: true}, wantCode: hpcgate.CodeOutcomeUnknown, wantRuns: 1},
		"malformed answer":         {fault: simulator.Fault{MalformedBody: true}, wantCode: hpcgate.CodeOutcomeUnknown, wantRuns: 1},
		"dropped before execution": {fault: simulator.Fault{DropBeforeExecute: true}, wantCode: hpcgate.CodeOutcomeUnknown, wantRuns: 0},
		"slow answer":              {fault: simulator.Fault{Latency: 3 * time.Second}, ctx: 300 * time.Millisecond, wantCode: hpcgate.CodeUpstreamTimeout, wantRuns: 0},
		"throttled once":           {fault: simulator.Fault{Code: "Throttling.User"}, wantRuns: 1},
		"unavailable twice":        {fault: simulator.Fault{Code: "ServiceUnavailable", Times: 2}, wantRuns: 1},
		"unknown error":            {fault: simulator.Fault{Code: "UnknownError"}, wantCode: "UnknownError", wantRuns: 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s, c := newSim(t, 0)
			// A first invocation leaves a kept-alive connection for the
			// faulty one: net/http would resend a plain GET on it.
			if _, err := c.Invoke(t.Context(), simRequest("echo warm-up")); err != nil {
				t.Fatal(err)
			}
			marker := NewMarker()
			cmd := Mark("echo "+strings.ReplaceAll(name, " ", "-"), marker)
			f := tc.fault
			f.Action = ActionInvokeShellCommand
			s.Inject(f)
			ctx := t.Context()
			if tc.ctx > 0 {
				ctx = ctxTimeout(t, tc.ctx)
			}
			inv, err := c.Invoke(ctx, simRequest(cmd))
			if tc.wantCode == "" {
				if err != nil {
					t.Fatalf("Invoke: %v", err)
				}
				if err := s.Wait(ctxTimeout(t, 10*time.Second), inv.CommandID); err != nil {
					t.Fatal(err)
				}
			} else {
				e := asError(t, err)
				if e.Code != tc.wantCode || e.Retryable {
					t.Errorf("got %+v, want %s, not retryable", e, tc.wantCode)
				}
			}
			// Give a late execution the chance to show.
			time.Sleep(50 * time.Millisecond)
			if got := s.Runs(cmd); got != tc.wantRuns {
				t.Errorf("Runs(%q) = %d, want %d", cmd, got, tc.wantRuns)
			}
			if got := s.Invocations(); got != tc.wantRuns+1 {
				t.Errorf("Invocations = %d, want %d", got, tc.wantRuns+1)
			}
			// The marker finds what ran, and only that.
			found, err := c.FindMarked(t.Context(), simulator.DefaultClusterID, marker)
			if err != nil {
				t.Fatalf("FindMarked: %v", err)
			}
			// The simulator lists newest first: a hit is the first command
			// read; without one, only the warm-up is listed.
			if found.Found() != (tc.wantRuns == 1) || found.Searched != 1 || found.Total != tc.wantRuns+1 {
				t.Fatalf("FindMarked = %+v, want found=%v after reading 1 of %d", found, tc.wantRuns == 1, tc.wantRuns+1)
			}
			if tc.wantRuns == 1 {
				if found.Command.Content != cmd || (tc.wantCode == "" && found.Command.CommandID != inv.CommandID) {
					t.Errorf("found %+v, want the command sent (id %q)", found.Command, inv.CommandID)
				}
				if err := s.Wait(ctxTimeout(t, 10*time.Second), found.Command.CommandID); err != nil {
					t.Errorf("the recovered CommandId is not the simulator's: %v", err)
				}
			}
		})
	}
}

func TestSimReadFaultsAreRetried(t *testing.T) {
	s, c := newSim(t, 0)
	r := simRequest("echo read-faults")
	inv, err := c.Invoke(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(ctxTimeout(t, 10*time.Second), inv.CommandID); err != nil {
		t.Fatal(err)
	}
	s.Inject(simulator.Fault{Action: ActionListInvocationStatus, DropAfterExecute: true})
	s.Inject(simulator.Fault{Action: ActionListInvocationResults, MalformedBody: true})
	s.Inject(simulator.Fault{Action: ActionListInvocationResults, Code: "Throttling"})
	out, err := c.Results(t.Context(), r.ClusterID, inv.CommandID)
	if err != nil || out.Status != hpcgate.StatusSucceeded || len(out.Results) != 3 {
		t.Fatalf("Results = %+v, %v", out, err)
	}
	n := map[string]int{}
	for _, call := range s.Calls() {
		n[call.Action]++
	}
	if n[ActionListInvocationStatus] != 2 || n[ActionListInvocationResults] != 3 {
		t.Errorf("calls %v, want 2 status and 3 results", n)
	}
}

func TestSimListCommands(t *testing.T) {
	s, c := newSim(t, 0)
	r := simRequest("echo listed")
	r.WorkingDir = "/tmp"
	inv, err := c.Invoke(t.Context(), r)
	if err != nil {
		t.Fatal(err)
	}
	s.Wait(ctxTimeout(t, 10*time.Second), inv.CommandID)
	cmds, err := c.ListCommands(t.Context(), r.ClusterID, inv.CommandID)
	if err != nil {
		t.Fatal(err)
	}
	want := Command{CommandID: inv.CommandID, Content: "echo listed", WorkingDir: "/tmp", Timeout: 30}
	if len(cmds) != 1 || cmds[0] != want {
		t.Errorf("ListCommands = %+v, want %+v", cmds, want)
	}
}

func TestSimConcurrentCallsWithDifferentCredentials(t *testing.T) {
	s, c := newSim(t, 0)
	exp := time.Now().Add(time.Hour)
	const n = 8
	errs := make(chan error, n)
	for i := range n {
		ak := fmt.Sprintf("STS.concurrent%04d", i)
		s.AddSTS(ak, "secret-"+ak, "token-"+ak, exp)
		go func() {
			ctx := fccontext.NewContext(t.Context(), &fccontext.FcContext{Credentials: fccontext.Credentials{AccessKeyId: ak, AccessKeySecret: "secret-" + ak, SecurityToken: "token-" + ak}})
			_, err := c.Invoke(ctx, simRequest("echo "+ak, simulator.NodeIDs(1)...))
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	for _, call := range s.Calls() {
		if call.Params.Get("Command") != "echo "+call.AccessKeyID {
			t.Errorf("%s sent %q", call.AccessKeyID, call.Params.Get("Command"))
		}
	}
}
