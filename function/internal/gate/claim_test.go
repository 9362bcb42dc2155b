package gate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hpcgate/hpcgate/function/internal/audit"
	"github.com/hpcgate/hpcgate/function/internal/claim"
	"github.com/hpcgate/hpcgate/function/internal/ehpc"
	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/function/internal/shellscan"
)

// claimClock is the ledger's clock, moved by tests to end leases.
type claimClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *claimClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *claimClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// brokenStore fails every call, as an unreachable OSS would.
type brokenStore struct{}

func (brokenStore) Create(context.Context, string, []byte) error {
	return errors.New("dial tcp: i/o timeout")
}
func (brokenStore) Get(context.Context, string) ([]byte, error) {
	return nil, errors.New("dial tcp: i/o timeout")
}

func newClaimGate(cmd *fakeCmd, store claim.Store, clk *claimClock, logs *bytes.Buffer) *Gate {
	return New(&fakeAuth{decide: allow}, cmd, Options{
		Region: "cn-hangzhou", Account: "123456", MaxTimeout: 3600, MaxNodes: 4,
		DefaultWait: 5 * time.Second, MaxWait: 30 * time.Second, DeadlineSlack: time.Second,
		Analyze: shellscan.Analyze, Logger: audit.NewLogger(logs, 0),
		Claims: claim.New(claim.Config{Store: store, Lease: time.Minute, Wait: 20 * time.Millisecond, Poll: time.Millisecond, Now: clk.now}),
	})
}

var pipeline = hpcgate.Principal{Type: hpcgate.PrincipalService, ID: "oss:raw-data"}

func eventCall(identity string) Call {
	return Call{Principal: pipeline, Trigger: hpcgate.TriggerOSS, Route: "ingest", Identity: identity, Wait: dur(0),
		Request: hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: "/opt/pipelines/ingest.sh -- incoming/a.csv"}}
}

func lost(hpcgate.Request) (ehpc.Invocation, error) {
	return ehpc.Invocation{}, &hpcgate.Error{Code: hpcgate.CodeOutcomeUnknown, Source: hpcgate.SourceEHPC, Status: http.StatusBadGateway, Message: "connection reset after sending"}
}

func TestEventRunsOnce(t *testing.T) {
	ctx := t.Context()
	var logs bytes.Buffer
	cmd := &fakeCmd{invoke: started, wait: finished}
	g := newClaimGate(cmd, claim.NewMemory(), &claimClock{t: time.Unix(1e9, 0)}, &logs)

	first := g.Run(ctx, eventCall(`["oss","raw-data","incoming/a.csv","E1","sequencer","01"]`))
	if first.Status != hpcgate.StatusAccepted || first.CommandID != "c-abc123" || first.Duplicate != nil {
		t.Fatalf("first delivery: %+v", first)
	}
	logs.Reset()
	for i := range 3 {
		id := fmt.Sprintf("req-dup-%d", i)
		dup := g.Run(audit.WithRequestID(ctx, id), eventCall(`["oss","raw-data","incoming/a.csv","E1","sequencer","01"]`))
		if dup.Status != hpcgate.StatusAccepted || dup.CommandID != "c-abc123" || dup.Duplicate == nil || dup.Duplicate.CommandID != "c-abc123" || dup.Error != nil {
			t.Fatalf("delivery %d: %+v; want a duplicate of c-abc123", i+2, dup)
		}
		if dup.RequestID != id {
			t.Errorf("delivery %d: requestId %q, want this delivery's %q", i+2, dup.RequestID, id)
		}
		if Redeliver(dup) {
			t.Error("a duplicate must not ask to be delivered again")
		}
	}
	if len(cmd.invoked) != 1 {
		t.Fatalf("E-HPC invoked %d times, want 1", len(cmd.invoked))
	}
	rec := audits(t, &logs)[0]
	if d, _ := rec["duplicate"].(map[string]any); d["commandId"] != "c-abc123" || rec["event"] == nil || rec["requestId"] != "req-dup-0" {
		t.Errorf("duplicate's audit record: %v; want duplicate.commandId, event and requestId", rec)
	}

	// A new version of the object, another principal: new events.
	g.Run(ctx, eventCall(`["oss","raw-data","incoming/a.csv","E2","sequencer","02"]`))
	other := eventCall(`["oss","raw-data","incoming/a.csv","E1","sequencer","01"]`)
	other.Principal = hpcgate.Principal{Type: hpcgate.PrincipalService, ID: "oss:other"}
	g.Run(ctx, other)
	// No identity: every call runs.
	g.Run(ctx, eventCall(""))
	g.Run(ctx, eventCall(""))
	if len(cmd.invoked) != 5 {
		t.Errorf("E-HPC invoked %d times, want 5", len(cmd.invoked))
	}
}

func TestLostAnswerTakenOverAfterTheLease(t *testing.T) {
	ctx := t.Context()
	clk := &claimClock{t: time.Unix(1e9, 0)}
	cmd := &fakeCmd{invoke: lost, wait: finished}
	g := newClaimGate(cmd, claim.NewMemory(), clk, &bytes.Buffer{})
	id := `["timer","nightly","2026-12-05T02:00:00Z"]`

	// The answer is lost and E-HPC lists nothing: the delivery fails and
	// asks to be delivered again.
	res := g.Run(ctx, eventCall(id))
	if res.Error == nil || res.Error.Code != hpcgate.CodeOutcomeUnknown || !Redeliver(res) {
		t.Fatalf("lost answer: %+v; want OutcomeUnknown to be redelivered", res)
	}
	// Delivered again within the lease: refused, nothing sent.
	res = g.Run(ctx, eventCall(id))
	if res.Error == nil || res.Error.Code != hpcgate.CodeEventInProgress || !Redeliver(res) || len(cmd.invoked) != 1 {
		t.Fatalf("within the lease: %+v, %d invocations; want EventInProgress, 1", res, len(cmd.invoked))
	}
	// After the lease, still not listed: taken over, sent with a marker of its own.
	clk.add(2 * time.Minute)
	cmd.invoke = started
	res = g.Run(ctx, eventCall(id))
	if res.CommandID != "c-abc123" || res.Duplicate != nil || len(cmd.invoked) != 2 {
		t.Fatalf("after the lease: %+v, %d invocations", res, len(cmd.invoked))
	}
	// Markers are random, never derived from the (guessable) identity.
	if a, b := cmd.invoked[0].Command, cmd.invoked[1].Command; a == b || !strings.Contains(a, ehpc.MarkerPrefix) || !strings.Contains(b, ehpc.MarkerPrefix) {
		t.Errorf("the takeover sent %q, the first %q: want each marked, with its own marker", b, a)
	}
}

func TestRetryAfterLostAnswerFindsTheCommand(t *testing.T) {
	ctx := t.Context()
	cmd := &fakeCmd{invoke: lost, wait: finished}
	g := newClaimGate(cmd, claim.NewMemory(), &claimClock{t: time.Unix(1e9, 0)}, &bytes.Buffer{})
	id := `["eventbridge","acs.oss","EV-1"]`
	if res := g.Run(ctx, eventCall(id)); !Redeliver(res) {
		t.Fatalf("lost answer: %+v", res)
	}
	// The command did arrive; E-HPC lists it now.
	marker := cmd.markers[0]
	cmd.find = func(m string) (ehpc.MarkSearch, error) {
		if m != marker {
			return ehpc.MarkSearch{}, nil
		}
		return ehpc.MarkSearch{Command: ehpc.Command{CommandID: "c-late"}}, nil
	}
	for range 2 {
		res := g.Run(ctx, eventCall(id))
		if res.Duplicate == nil || res.CommandID != "c-late" || Redeliver(res) {
			t.Fatalf("redelivery: %+v; want a duplicate of c-late", res)
		}
	}
	if len(cmd.invoked) != 1 {
		t.Errorf("E-HPC invoked %d times, want 1", len(cmd.invoked))
	}
}

func TestRefusedCommandIsReleased(t *testing.T) {
	ctx := t.Context()
	cmd := &fakeCmd{wait: finished, invoke: func(hpcgate.Request) (ehpc.Invocation, error) {
		return ehpc.Invocation{}, &hpcgate.Error{Code: "Throttling", Source: hpcgate.SourceEHPC, Status: 503, Retryable: true, Message: "slow down"}
	}}
	g := newClaimGate(cmd, claim.NewMemory(), &claimClock{t: time.Unix(1e9, 0)}, &bytes.Buffer{})
	id := `["invoke","job-42"]`
	if res := g.Run(ctx, eventCall(id)); !Redeliver(res) {
		t.Fatalf("throttled: %+v; want it delivered again", res)
	}
	cmd.invoke = started
	if res := g.Run(ctx, eventCall(id)); res.CommandID != "c-abc123" || res.Duplicate != nil {
		t.Fatalf("after a refusal: %+v; want the command to run", res)
	}
	if len(cmd.invoked) != 2 {
		t.Errorf("E-HPC invoked %d times, want 2 (the first was refused)", len(cmd.invoked))
	}
}

func TestClaimStoreFaultSendsNothing(t *testing.T) {
	cmd := &fakeCmd{invoke: started, wait: finished}
	var logs bytes.Buffer
	g := newClaimGate(cmd, brokenStore{}, &claimClock{t: time.Unix(1e9, 0)}, &logs)
	res := g.Run(t.Context(), eventCall(`["invoke","job-1"]`))
	if res.Status != hpcgate.StatusError || res.Error.Code != hpcgate.CodeClaimUnavailable || !Redeliver(res) || len(cmd.invoked) != 0 {
		t.Fatalf("store down: %+v, %d invocations; want ClaimUnavailable, redelivered, nothing sent", res, len(cmd.invoked))
	}
	if strings.Contains(res.Error.Message, "i/o timeout") {
		t.Errorf("message %q shows the internal cause", res.Error.Message)
	}
	if rec := audits(t, &logs)[0]; !strings.Contains(rec["cause"].(string), "i/o timeout") {
		t.Errorf("audit record %v: want the cause", rec)
	}
}

// audits returns the audit records logged.
func audits(t *testing.T, logs *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if rec["msg"] == "audit" {
			out = append(out, rec)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no audit record in %s", logs.String())
	}
	return out
}
