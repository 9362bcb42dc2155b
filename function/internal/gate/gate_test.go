package gate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hpcgate/hpcgate/function/internal/audit"
	"github.com/hpcgate/hpcgate/function/internal/ehpc"
	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/function/internal/policy"
)

type fakeAuth struct {
	decide  func(q policy.Query) (hpcgate.Decision, error)
	queries []policy.Query
}

func (f *fakeAuth) Decide(_ context.Context, q policy.Query) (hpcgate.Decision, error) {
	f.queries = append(f.queries, q)
	return f.decide(q)
}

type fakeCmd struct {
	invoke func(r hpcgate.Request) (ehpc.Invocation, error)
	wait   func(ctx context.Context) (ehpc.Outcome, error)
	find   func(marker string) (ehpc.MarkSearch, error) // nil: nothing listed
	// listed answers FindCommand; nil: E-HPC lists what was invoked,
	// under the id started gives.
	listed  func(commandID string) (ehpc.Command, bool, error)
	invoked []hpcgate.Request
	waited  int
	waitIDs []string
	waitFor []time.Duration
	markers []string // looked up
}

func (f *fakeCmd) Invoke(_ context.Context, r hpcgate.Request) (ehpc.Invocation, error) {
	f.invoked = append(f.invoked, r)
	return f.invoke(r)
}

func (f *fakeCmd) Wait(ctx context.Context, _, commandID string, d time.Duration) (ehpc.Outcome, error) {
	f.waited++
	f.waitFor = append(f.waitFor, d)
	f.waitIDs = append(f.waitIDs, commandID)
	return f.wait(ctx)
}

func (f *fakeCmd) FindMarked(_ context.Context, _, marker string) (ehpc.MarkSearch, error) {
	f.markers = append(f.markers, marker)
	if f.find == nil {
		return ehpc.MarkSearch{}, nil
	}
	return f.find(marker)
}

func (f *fakeCmd) FindCommand(_ context.Context, _, commandID string) (ehpc.Command, bool, error) {
	if f.listed != nil {
		return f.listed(commandID)
	}
	if len(f.invoked) == 0 {
		return ehpc.Command{}, false, nil
	}
	last := f.invoked[len(f.invoked)-1]
	return ehpc.Command{CommandID: commandID, Content: last.Command, WorkingDir: last.WorkingDir, Timeout: last.Timeout}, true, nil
}

func (f *fakeCmd) Results(ctx context.Context, _, _ string) (ehpc.Outcome, error) { return f.wait(ctx) }

func allow(q policy.Query) (hpcgate.Decision, error) {
	return hpcgate.Decision{Allow: true, Reasons: []hpcgate.Reason{{Effect: "Allow", Policy: "P", Sid: "S"}}}, nil
}

func deny(q policy.Query) (hpcgate.Decision, error) {
	return hpcgate.Decision{Reasons: []hpcgate.Reason{{Effect: "Deny", Detail: "no statement allows"}}}, nil
}

func started(r hpcgate.Request) (ehpc.Invocation, error) {
	return ehpc.Invocation{CommandID: "c-abc123", RequestID: "REQ-1", InstanceIDs: []string{"i-a", "i-b"}}, nil
}

func finished(context.Context) (ehpc.Outcome, error) {
	return ehpc.Outcome{Status: hpcgate.StatusSucceeded, InstanceIDs: []string{"i-a", "i-b"},
		Results: []hpcgate.NodeResult{{InstanceID: "i-a", Status: "Finished", Output: "ok\n"}, {InstanceID: "i-b", Status: "Finished", Output: "ok\n"}},
		Summary: hpcgate.Summary{Nodes: 2, Succeeded: 2}}, nil
}

// analyze stands in for the shell analyser: its canonical form is marked,
// so tests can tell which form reached the policy and E-HPC.
func analyze(cmd string) (hpcgate.Analysis, error) {
	if strings.Contains(cmd, "((") {
		return hpcgate.Analysis{}, &hpcgate.Error{Code: hpcgate.CodeInvalidCommand, Message: "1:3: does not parse", Source: hpcgate.SourceGate, Status: 400}
	}
	return hpcgate.Analysis{Canonical: "canonical(" + cmd + ")", Programs: []string{cmd}}, nil
}

func dur(d time.Duration) *time.Duration { return &d }

func newGate(auth *fakeAuth, cmd *fakeCmd, logs *bytes.Buffer) *Gate {
	return New(auth, cmd, Options{
		Region: "cn-hangzhou", Account: "123456", MaxTimeout: 3600, MaxNodes: 4,
		DefaultWait: 5 * time.Second, MaxWait: 30 * time.Second, DeadlineSlack: time.Second,
		Analyze: analyze, Logger: audit.NewLogger(logs, 0),
	})
}

var user = hpcgate.Principal{Type: hpcgate.PrincipalUser, ID: "alice", Groups: []string{"researchers"}}

func TestRun(t *testing.T) {
	good := hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: "squeue"}
	tests := map[string]struct {
		req        hpcgate.Request
		wait       *time.Duration
		dryRun     bool
		decide     func(policy.Query) (hpcgate.Decision, error)
		invoke     func(hpcgate.Request) (ehpc.Invocation, error)
		waitFn     func(context.Context) (ehpc.Outcome, error)
		wantStatus string
		wantHTTP   int
		wantCode   string
		wantDecide bool
		wantInvoke bool
	}{
		"allowed and waited returns each node's output": {
			req: good, decide: allow, invoke: started, waitFn: finished,
			wantStatus: hpcgate.StatusSucceeded, wantHTTP: 200, wantDecide: true, wantInvoke: true},
		"wait false returns the command id at once": {
			req: good, wait: dur(0), decide: allow, invoke: started, waitFn: finished,
			wantStatus: hpcgate.StatusAccepted, wantHTTP: 202, wantDecide: true, wantInvoke: true},
		"dry run decides and runs nothing": {
			req: good, dryRun: true, decide: allow, invoke: started, waitFn: finished,
			wantStatus: hpcgate.StatusAccepted, wantHTTP: 200, wantDecide: true},
		"deny runs nothing": {
			req: good, decide: deny, invoke: started, waitFn: finished,
			wantStatus: hpcgate.StatusDenied, wantHTTP: 403, wantCode: hpcgate.CodePolicyDenied, wantDecide: true},
		"policy failure fails closed with 503": {
			req: good, decide: func(policy.Query) (hpcgate.Decision, error) {
				return hpcgate.Decision{Allow: true}, errors.New("eval timeout")
			},
			invoke: started, waitFn: finished,
			wantStatus: hpcgate.StatusError, wantHTTP: 503, wantCode: hpcgate.CodePolicyUnavailable, wantDecide: true},
		"unparsable command is invalid before the policy": {
			req: hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: "echo (("}, decide: allow, invoke: started, waitFn: finished,
			wantStatus: hpcgate.StatusInvalid, wantHTTP: 400, wantCode: hpcgate.CodeInvalidCommand},
		"missing cluster": {
			req: hpcgate.Request{Command: "squeue"}, decide: allow, invoke: started, waitFn: finished,
			wantStatus: hpcgate.StatusInvalid, wantHTTP: 400, wantCode: hpcgate.CodeInvalidRequest},
		"malformed cluster id": {
			req: hpcgate.Request{ClusterID: "ehpc-hz-a;b", Command: "squeue"}, decide: allow, invoke: started, waitFn: finished,
			wantStatus: hpcgate.StatusInvalid, wantHTTP: 400, wantCode: hpcgate.CodeInvalidRequest},
		"timeout beyond the maximum": {
			req: hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: "squeue", Timeout: 3601}, decide: allow, invoke: started, waitFn: finished,
			wantStatus: hpcgate.StatusInvalid, wantHTTP: 400, wantCode: hpcgate.CodeInvalidRequest},
		"relative working dir": {
			req: hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: "squeue", WorkingDir: "data"}, decide: allow, invoke: started, waitFn: finished,
			wantStatus: hpcgate.StatusInvalid, wantHTTP: 400, wantCode: hpcgate.CodeInvalidRequest},
		"working dir climbing out": {
			req: hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: "squeue", WorkingDir: "/data/../etc"}, decide: allow, invoke: started, waitFn: finished,
			wantStatus: hpcgate.StatusInvalid, wantHTTP: 400, wantCode: hpcgate.CodeInvalidRequest},
		"working dir with a bidi override": {
			req: hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: "squeue", WorkingDir: "/tmp/\u202edcba"}, decide: allow, invoke: started, waitFn: finished,
			wantStatus: hpcgate.StatusInvalid, wantHTTP: 400, wantCode: hpcgate.CodeInvalidRequest},
		"working dir with a zero-width space": {
			req: hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: "squeue", WorkingDir: "/data\u200b"}, decide: allow, invoke: started, waitFn: finished,
			wantStatus: hpcgate.StatusInvalid, wantHTTP: 400, wantCode: hpcgate.CodeInvalidRequest},
		"working dir with a line separator": {
			req: hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: "squeue", WorkingDir: "/data\u2028x"}, decide: allow, invoke: started, waitFn: finished,
			wantStatus: hpcgate.StatusInvalid, wantHTTP: 400, wantCode: hpcgate.CodeInvalidRequest},
		"working dir with a newline": {
			req: hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: "squeue", WorkingDir: "/data\nx"}, decide: allow, invoke: started, waitFn: finished,
			wantStatus: hpcgate.StatusInvalid, wantHTTP: 400, wantCode: hpcgate.CodeInvalidRequest},
		"working dir with a C1 control": {
			req: hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: "squeue", WorkingDir: "/data\u0085"}, decide: allow, invoke: started, waitFn: finished,
			wantStatus: hpcgate.StatusInvalid, wantHTTP: 400, wantCode: hpcgate.CodeInvalidRequest},
		"working dir with invalid UTF-8": {
			req: hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: "squeue", WorkingDir: "/data\xff"}, decide: allow, invoke: started, waitFn: finished,
			wantStatus: hpcgate.StatusInvalid, wantHTTP: 400, wantCode: hpcgate.CodeInvalidRequest},
		"working dir in another script is fine": {
			req: hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: "squeue", WorkingDir: "/data/数据/zoë", Timeout: 1}, decide: allow, invoke: started, waitFn: finished,
			wantStatus: hpcgate.StatusSucceeded, wantHTTP: 200, wantDecide: true, wantInvoke: true},
		"too many nodes": {
			req: hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: "squeue", InstanceIDs: []string{"i-1", "i-2", "i-3", "i-4", "i-5"}}, decide: allow, invoke: started, waitFn: finished,
			wantStatus: hpcgate.StatusInvalid, wantHTTP: 400, wantCode: hpcgate.CodeInvalidRequest},
		"node listed twice": {
			req: hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: "squeue", InstanceIDs: []string{"i-1", "i-1"}}, decide: allow, invoke: started, waitFn: finished,
			wantStatus: hpcgate.StatusInvalid, wantHTTP: 400, wantCode: hpcgate.CodeInvalidRequest},
		"upstream error keeps its code and status": {
			req: good, decide: allow,
			invoke: func(hpcgate.Request) (ehpc.Invocation, error) {
				return ehpc.Invocation{}, &hpcgate.Error{Code: "ClusterNotFound", Message: "no such cluster", Source: hpcgate.SourceEHPC, Status: 404}
			},
			waitFn: finished, wantStatus: hpcgate.StatusError, wantHTTP: 404, wantCode: "ClusterNotFound", wantDecide: true, wantInvoke: true},
		"results out of reach keep the command id": {
			req: good, decide: allow, invoke: started,
			waitFn: func(context.Context) (ehpc.Outcome, error) {
				return ehpc.Outcome{}, &hpcgate.Error{Code: "ServiceUnavailable", Message: "try later", Source: hpcgate.SourceEHPC, Status: 503, Retryable: true}
			},
			wantStatus: hpcgate.StatusRunning, wantHTTP: 202, wantCode: "ServiceUnavailable", wantDecide: true, wantInvoke: true},
		"a panic after the invoke still reports the command id": {
			req: good, decide: allow, invoke: started,
			waitFn:     func(context.Context) (ehpc.Outcome, error) { panic("boom") },
			wantStatus: hpcgate.StatusError, wantHTTP: 500, wantCode: hpcgate.CodeInternal, wantDecide: true, wantInvoke: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			auth := &fakeAuth{decide: tt.decide}
			cmd := &fakeCmd{invoke: tt.invoke, wait: tt.waitFn}
			g := newGate(auth, cmd, &logs)
			res := g.Run(t.Context(), Call{Principal: user, Trigger: hpcgate.TriggerHTTP, Request: tt.req, Wait: tt.wait, DryRun: tt.dryRun})

			if res.Status != tt.wantStatus {
				t.Errorf("status = %q, want %q (error %+v)", res.Status, tt.wantStatus, res.Error)
			}
			if got := HTTPStatus(res); got != tt.wantHTTP {
				t.Errorf("HTTPStatus = %d, want %d", got, tt.wantHTTP)
			}
			gotCode := ""
			if res.Error != nil {
				gotCode = res.Error.Code
			}
			if gotCode != tt.wantCode {
				t.Errorf("error code = %q, want %q", gotCode, tt.wantCode)
			}
			if got := len(auth.queries) > 0; got != tt.wantDecide {
				t.Errorf("policy consulted = %v, want %v", got, tt.wantDecide)
			}
			if got := len(cmd.invoked); got > 1 || (got == 1) != tt.wantInvoke {
				t.Errorf("invocations = %d, want invoked=%v and never twice", got, tt.wantInvoke)
			}
			if tt.wantInvoke && res.CommandID == "" && res.Status != hpcgate.StatusError {
				t.Errorf("accepted command lost its id: %+v", res)
			}
			if tt.wantInvoke && res.Status == hpcgate.StatusError && tt.wantCode == hpcgate.CodeInternal && res.CommandID != "c-abc123" {
				t.Errorf("panic lost the command id: %+v", res)
			}
			if n := strings.Count(logs.String(), `"msg":"audit"`); n != 1 {
				t.Errorf("audit records = %d, want 1:\n%s", n, logs.String())
			}
		})
	}
}

func TestRunSendsWhatWasAuthorized(t *testing.T) {
	auth := &fakeAuth{decide: allow}
	cmd := &fakeCmd{invoke: started, wait: finished}
	var logs bytes.Buffer
	res := newGate(auth, cmd, &logs).Run(t.Context(), Call{Principal: user, Trigger: hpcgate.TriggerHTTP,
		Request: hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: "squeue -u alice"}})

	const canon = "canonical(squeue -u alice)"
	q := auth.queries[0]
	if q.Request.Command != canon || q.Analysis == nil || q.Request.WorkingDir != "/root" || q.Request.Timeout != 60 {
		t.Errorf("policy saw %+v", q.Request)
	}
	if q.Action != hpcgate.ActionInvoke || q.Region != "cn-hangzhou" || q.Account != "123456" || q.Trigger != "http" {
		t.Errorf("query = %+v", q)
	}
	if cmd.invoked[0].Command != canon {
		t.Errorf("E-HPC got %q, want the canonical form", cmd.invoked[0].Command)
	}
	if res.Request.Command != canon {
		t.Errorf("result shows %q, want the canonical form", res.Request.Command)
	}
	var rec map[string]any
	if err := json.Unmarshal(logs.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["commandId"] != "c-abc123" || rec["status"] != "succeeded" || rec["decision"].(map[string]any)["allow"] != true {
		t.Errorf("audit record = %v", rec)
	}
}

func TestWaitIsBoundedByTheDeadline(t *testing.T) {
	cmd := &fakeCmd{invoke: started, wait: func(ctx context.Context) (ehpc.Outcome, error) {
		return ehpc.Outcome{Status: hpcgate.StatusRunning}, nil
	}}
	g := newGate(&fakeAuth{decide: allow}, cmd, &bytes.Buffer{})
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Second)
	defer cancel()
	res := g.Run(ctx, Call{Principal: user, Request: hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: "sleep 100"}, Wait: dur(20 * time.Second)})
	if res.Status != hpcgate.StatusRunning || res.CommandID == "" {
		t.Fatalf("result = %+v", res)
	}
	if d := cmd.waitFor[0]; d > 3*time.Second || d <= 0 {
		t.Errorf("waited %s, want at most the 4s deadline less the 1s slack", d)
	}
	dl, _ := ctx.Deadline()
	if w := res.Wait; w == nil || w.LimitedBy != hpcgate.WaitLimitDeadline || w.Requested != 20 || w.Allowed > 3 || w.Deadline != dl.UTC().Format(time.RFC3339Nano) {
		t.Errorf("result.wait = %+v, want the deadline named", res.Wait)
	}
}

func TestWaitFor(t *testing.T) {
	tests := []struct {
		name     string
		want     *time.Duration
		deadline time.Duration // 0: none
		wait     time.Duration
		limit    string
	}{
		{name: "default wait", want: nil, wait: 5 * time.Second},
		{name: "asked and granted", want: dur(12 * time.Second), wait: 12 * time.Second},
		{name: "more than the maximum", want: dur(45 * time.Second), wait: 30 * time.Second, limit: hpcgate.WaitLimitMax},
		{name: "true is as long as allowed, not shortened", want: dur(WaitAsLongAsAllowed), wait: 30 * time.Second},
		{name: "no wait", want: dur(0), wait: 0},
		{name: "deadline first", want: dur(20 * time.Second), deadline: 6 * time.Second, limit: hpcgate.WaitLimitDeadline},
		{name: "deadline already within the slack", want: dur(20 * time.Second), deadline: 500 * time.Millisecond, wait: 0, limit: hpcgate.WaitLimitDeadline},
	}
	g := newGate(&fakeAuth{decide: allow}, &fakeCmd{}, &bytes.Buffer{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			if tt.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.deadline)
				defer cancel()
			}
			var res hpcgate.Result
			got := g.waitFor(ctx, tt.want, &res)
			switch {
			case tt.limit == hpcgate.WaitLimitDeadline:
				if got < 0 || got > max(tt.deadline-time.Second, 0) {
					t.Errorf("wait %s, want below the deadline less the slack", got)
				}
			case got != tt.wait:
				t.Errorf("wait %s, want %s", got, tt.wait)
			}
			var limit string
			if res.Wait != nil {
				limit = res.Wait.LimitedBy
			}
			if limit != tt.limit {
				t.Errorf("result.wait = %+v, want limitedBy %q", res.Wait, tt.limit)
			}
		})
	}
}

func TestStatusLongPolls(t *testing.T) {
	cmd := &fakeCmd{wait: finished}
	g := newGate(&fakeAuth{decide: allow}, cmd, &bytes.Buffer{})
	call := Call{Principal: user, Trigger: "http", Request: hpcgate.Request{ClusterID: "ehpc-hz-abc"}}
	if res := g.Status(t.Context(), call, "c-abc123"); res.Status != hpcgate.StatusSucceeded || cmd.waited != 0 {
		t.Fatalf("without wait: %+v after %d waits, want one read", res, cmd.waited)
	}
	call.Wait = dur(8 * time.Second)
	if res := g.Status(t.Context(), call, "c-abc123"); res.Status != hpcgate.StatusSucceeded || cmd.waited != 1 || cmd.waitFor[0] != 8*time.Second {
		t.Fatalf("wait 8: %+v after waits %v, want one wait of 8s", res, cmd.waitFor)
	}
	call.Wait = dur(0)
	if g.Status(t.Context(), call, "c-abc123"); cmd.waited != 1 {
		t.Errorf("wait 0 waited")
	}
}

func TestEveryAnswerCarriesTheRequestID(t *testing.T) {
	ctx := audit.WithRequestID(t.Context(), "req-42")
	for name, res := range map[string]hpcgate.Result{
		"run":    newGate(&fakeAuth{decide: allow}, &fakeCmd{invoke: started, wait: finished}, &bytes.Buffer{}).Run(ctx, Call{Principal: user, Request: hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: "squeue"}}),
		"denied": newGate(&fakeAuth{decide: deny}, &fakeCmd{}, &bytes.Buffer{}).Run(ctx, Call{Principal: user, Request: hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: "squeue"}}),
		"reject": newGate(&fakeAuth{decide: allow}, &fakeCmd{}, &bytes.Buffer{}).Reject(ctx, Call{}, hpcgate.Invalid("bad")),
	} {
		if res.RequestID != "req-42" {
			t.Errorf("%s: requestId %q, want req-42", name, res.RequestID)
		}
	}
	var logs bytes.Buffer
	res := newGate(&fakeAuth{decide: allow}, &fakeCmd{invoke: started, wait: finished}, &logs).Run(ctx, Call{Principal: user, Request: hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: "squeue"}})
	if res.EHPCRequestID != "REQ-1" {
		t.Errorf("ehpcRequestId %q, want E-HPC's REQ-1", res.EHPCRequestID)
	}
	var rec map[string]any
	if err := json.Unmarshal(logs.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["requestId"] != "req-42" || rec["ehpcRequestId"] != "REQ-1" {
		t.Errorf("audit record ids %v / %v, want the answer's req-42 and E-HPC's REQ-1", rec["requestId"], rec["ehpcRequestId"])
	}
}

func TestStatusAuthorizesListResults(t *testing.T) {
	auth := &fakeAuth{decide: allow}
	cmd := &fakeCmd{wait: finished}
	g := newGate(auth, cmd, &bytes.Buffer{})
	res := g.Status(t.Context(), Call{Principal: user, Trigger: "http", Request: hpcgate.Request{ClusterID: "ehpc-hz-abc"}}, "c-abc123")
	if res.Status != hpcgate.StatusSucceeded || len(res.Results) != 2 {
		t.Fatalf("result = %+v", res)
	}
	if q := auth.queries[0]; q.Action != hpcgate.ActionListResults || q.Analysis != nil {
		t.Errorf("query = %+v", q)
	}
	for name, id := range map[string]string{"bad command id": "c-a/b", "empty": ""} {
		if res := g.Status(t.Context(), Call{Principal: user, Request: hpcgate.Request{ClusterID: "ehpc-hz-abc"}}, id); res.Status != hpcgate.StatusInvalid {
			t.Errorf("%s: status = %q", name, res.Status)
		}
	}
}

func TestRejectMapsStatus(t *testing.T) {
	g := newGate(&fakeAuth{decide: allow}, &fakeCmd{}, &bytes.Buffer{})
	for name, tt := range map[string]struct {
		err        error
		wantStatus string
		wantHTTP   int
	}{
		"no token":                {hpcgate.Errorf(hpcgate.CodeUnauthenticated, "missing bearer token"), hpcgate.StatusUnauthenticated, 401},
		"key set unavailable":     {hpcgate.Errorf(hpcgate.CodeAuthUnavailable, "token verification unavailable"), hpcgate.StatusError, 503},
		"not an event":            {hpcgate.Errorf(hpcgate.CodeInvalidEvent, "not an event"), hpcgate.StatusInvalid, 400},
		"too large":               {hpcgate.Errorf(hpcgate.CodeTooLarge, "too large"), hpcgate.StatusInvalid, 413},
		"an E-HPC code":           {&hpcgate.Error{Code: "ClusterNotFound", Status: 404, Source: hpcgate.SourceEHPC}, hpcgate.StatusError, 404},
		"an error without a code": {errors.New("boom"), hpcgate.StatusError, 500},
	} {
		res := g.Reject(t.Context(), Call{Trigger: "http"}, tt.err)
		if res.Status != tt.wantStatus || HTTPStatus(res) != tt.wantHTTP {
			t.Errorf("%s: result = %+v, want %s %d", name, res, tt.wantStatus, tt.wantHTTP)
		}
	}
}

// TestAuditRecordHoldsWhatAReplayNeeds: the principal with groups and MFA,
// the trigger, the context facts with the current time the decision used,
// region and account (issue 14, point 6; check --replay reads them).
func TestAuditRecordHoldsWhatAReplayNeeds(t *testing.T) {
	auth := &fakeAuth{decide: allow}
	var logs bytes.Buffer
	g := newGate(auth, &fakeCmd{invoke: started, wait: finished}, &logs)
	g.opt.Now = func() time.Time { return time.Date(2026, 12, 5, 7, 0, 0, 0, time.UTC) }
	mfa, secure := true, true
	p := user
	p.MFA = &mfa
	g.Run(t.Context(), Call{Principal: p, Trigger: hpcgate.TriggerHTTP,
		Context: hpcgate.RequestContext{SourceIP: "10.20.1.5", SecureTransport: &secure},
		Request: hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: "squeue"}})
	if ct := auth.queries[0].Context.CurrentTime; ct == nil || !ct.Equal(g.opt.Now()) {
		t.Errorf("the policy decided at %v, want the gate's clock", ct)
	}
	var rec struct {
		Principal map[string]any `json:"principal"`
		Trigger   string         `json:"trigger"`
		Context   map[string]any `json:"context"`
		Region    string         `json:"region"`
		Account   string         `json:"account"`
	}
	if err := json.Unmarshal(logs.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"sourceIp": "10.20.1.5", "secureTransport": true, "currentTime": "2026-12-05T07:00:00Z"}
	if fmt.Sprint(rec.Context) != fmt.Sprint(want) || rec.Principal["mfa"] != true || fmt.Sprint(rec.Principal["groups"]) != "[researchers]" ||
		rec.Trigger != "http" || rec.Region != "cn-hangzhou" || rec.Account != "123456" {
		t.Errorf("audit record = %s", logs.Bytes())
	}
}

func TestDecisionDetail(t *testing.T) {
	full := hpcgate.Decision{
		Reasons:     []hpcgate.Reason{{Effect: "Deny", Policy: "P", Sid: "NoRedirects", Matched: []hpcgate.Condition{{Key: "hpcgate:OutputRedirect", Operator: "ForAnyValue:StringNotEquals", Values: []string{"/dev/null"}, RequestValues: []string{"/tmp/x"}}}}},
		NearMisses:  []hpcgate.NearMiss{{Policy: "P", Sid: "S"}},
		Explanation: "Denied by P/NoRedirects, because hpcgate:OutputRedirect is /tmp/x.",
	}
	for level, want := range map[string]bool{"": true, DetailFull: true, DetailReasons: false} {
		var logs bytes.Buffer
		g := newGate(&fakeAuth{decide: func(policy.Query) (hpcgate.Decision, error) { return full, nil }}, &fakeCmd{}, &logs)
		g.opt.DecisionDetail = level
		res := g.Run(t.Context(), Call{Principal: user, Request: hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: "squeue > /tmp/x"}})
		d := res.Decision
		if d == nil || d.Allow || len(d.Reasons) != 1 || d.Reasons[0].Sid != "NoRedirects" {
			t.Fatalf("%q: decision %+v", level, d)
		}
		if got := d.Reasons[0].Matched != nil && d.NearMisses != nil && d.Explanation != ""; got != want {
			t.Errorf("%q: detail shown = %v, want %v: %+v", level, got, want, d)
		}
		if !strings.Contains(logs.String(), `"matched":[{"key":"hpcgate:OutputRedirect"`) || !strings.Contains(logs.String(), `"explanation":"Denied by P/NoRedirects`) {
			t.Errorf("%q: the audit record must keep the full detail: %s", level, logs.String())
		}
	}
}
