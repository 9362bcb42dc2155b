package gate

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hpcgate/hpcgate/function/internal/ehpc"
	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/function/internal/owner"
	"github.com/hpcgate/hpcgate/function/internal/policy"
	"github.com/hpcgate/hpcgate/function/internal/shellscan"
)

var (
	olga  = hpcgate.Principal{Type: hpcgate.PrincipalUser, ID: "olga", Groups: []string{"operators"}}
	alice = hpcgate.Principal{Type: hpcgate.PrincipalUser, ID: "alice", Groups: []string{"researchers"}}
)

// ownedGate is a gate with the real analyser and owner keys, whose fake
// E-HPC lists commands as they were sent, under their ids.
func ownedGate(t *testing.T, auth *fakeAuth) (*Gate, *fakeCmd, *owner.Keys) {
	t.Helper()
	keys := owner.Generate()
	cmd := &fakeCmd{wait: finished}
	sent := map[string]string{}
	cmd.invoke = func(r hpcgate.Request) (ehpc.Invocation, error) {
		id := "c-sent" + string(rune('a'+len(sent)))
		sent[id] = r.Command
		return ehpc.Invocation{CommandID: id, InstanceIDs: []string{"i-a"}}, nil
	}
	cmd.listed = func(id string) (ehpc.Command, bool, error) {
		content, ok := sent[id]
		return ehpc.Command{CommandID: id, Content: content}, ok, nil
	}
	g := newScanGate(cmd, &bytes.Buffer{})
	g.auth = auth
	g.opt.Owners = keys
	return g, cmd, keys
}

// readOwner reads commandID as p and returns the CommandOwner the policy saw.
func readOwner(t *testing.T, g *Gate, auth *fakeAuth, p hpcgate.Principal, commandID string) string {
	t.Helper()
	auth.queries = nil
	res := g.Status(t.Context(), Call{Principal: p, Trigger: "http", Request: hpcgate.Request{ClusterID: "ehpc-hz-abc"}}, commandID)
	if len(auth.queries) != 1 {
		t.Fatalf("read of %s: %d decisions (%+v)", commandID, len(auth.queries), res)
	}
	q := auth.queries[0]
	if q.Action != hpcgate.ActionListResults {
		t.Fatalf("action %s", q.Action)
	}
	return q.CommandOwner
}

func TestOwnerIsSealedAndVerified(t *testing.T) {
	auth := &fakeAuth{decide: allow}
	g, cmd, _ := ownedGate(t, auth)
	run := func(p hpcgate.Principal, command string) string {
		res := g.Run(t.Context(), Call{Principal: p, Trigger: "http", Request: hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: command}, Wait: dur(0)})
		if res.Status != hpcgate.StatusAccepted {
			t.Fatalf("run %q: %+v", command, res)
		}
		return res.CommandID
	}
	olgas := run(olga, "uname -a")
	alices := run(alice, "squeue -u alice")
	svc := run(hpcgate.Principal{Type: hpcgate.PrincipalService, ID: "oss:raw-data"}, "ls")
	wire := cmd.invoked[0].Command
	if m, ok := ehpc.ParseMarked(wire); !ok || m.Seal == "" || m.Command != "uname -a" {
		t.Fatalf("sent %q: want the canonical command and a sealed marker line", wire)
	}
	if strings.Contains(wire, "olga") {
		t.Errorf("the owner is written raw on the marker line: %q", wire)
	}
	for name, tt := range map[string]struct {
		reader hpcgate.Principal
		id     string
		want   string
	}{
		"the operator's command, read by alice": {alice, olgas, "user:olga"},
		"alice's own":                           {alice, alices, "user:alice"},
		"a service's":                           {olga, svc, "service:oss:raw-data"},
		"not listed":                            {alice, "c-nosuch", ""},
	} {
		if got := readOwner(t, g, auth, tt.reader, tt.id); got != tt.want {
			t.Errorf("%s: CommandOwner %q, want %q", name, got, tt.want)
		}
	}
}

// TestOwnerAttacks lists commands as E-HPC might show them after someone
// tried to pass one off as another's: none may have an owner.
func TestOwnerAttacks(t *testing.T) {
	auth := &fakeAuth{decide: allow}
	g, _, keys := ownedGate(t, auth)
	marker := ehpc.NewMarker()
	olgaSeal := keys.Seal("ehpc-hz-abc", marker, "uname -a", "user:olga")
	aliceSeal := keys.Seal("ehpc-hz-abc", marker, "uname -a", "user:alice")
	other := owner.Generate().Seal("ehpc-hz-abc", marker, "uname -a", "user:alice")
	listings := []struct{ name, content string }{
		{"started outside hpcgate", "uname -a"},
		{"marker without a seal", ehpc.Mark("uname -a", marker)},
		{"seal replayed onto another command", ehpc.MarkSealed("cat /etc/shadow", marker, aliceSeal)},
		{"seal replayed under another marker", ehpc.MarkSealed("uname -a", ehpc.NewMarker(), aliceSeal)},
		{"seal of another cluster's command", ehpc.MarkSealed("uname -a", marker, keys.Seal("ehpc-hz-other", marker, "uname -a", "user:alice"))},
		{"seal of another deployment", ehpc.MarkSealed("uname -a", marker, other)},
		{"owner edited, mac kept", ehpc.MarkSealed("uname -a", marker, strings.Replace(olgaSeal, "dXNlcjpvbGdh", "dXNlcjphbGljZQ", 1))},
		{"seal truncated", ehpc.MarkSealed("uname -a", marker, aliceSeal[:len(aliceSeal)-10])},
		{"marker line cut", ehpc.MarkSealed("uname -a", marker, aliceSeal)[:20]},
		{"sealed line followed by another", ehpc.MarkSealed("uname -a", marker, aliceSeal) + "\nid"},
		{"sealed line followed by a second marker", ehpc.MarkSealed(ehpc.MarkSealed("uname -a", marker, aliceSeal), ehpc.NewMarker(), "o1.eA.eA")},
		{"command text prefixed", ehpc.MarkSealed("id; uname -a", marker, aliceSeal)},
		{"command text respaced", ehpc.MarkSealed("uname  -a", marker, aliceSeal)},
		{"unicode look-alike in the prefix", strings.Replace(ehpc.MarkSealed("uname -a", marker, aliceSeal), "hpcgate:", "hpcgat\u0435:", 1)},
		{"bidi override before the seal", "uname -a\n# " + marker + " \u202e" + aliceSeal},
		{"NUL inside the seal", "uname -a\n# " + marker + " " + aliceSeal[:5] + "\x00" + aliceSeal[5:]},
	}
	g.cmd.(*fakeCmd).listed = func(id string) (ehpc.Command, bool, error) {
		i, err := strconv.Atoi(strings.TrimPrefix(id, "c-"))
		if err != nil || i >= len(listings) {
			return ehpc.Command{}, false, nil
		}
		return ehpc.Command{CommandID: id, Content: listings[i].content}, true, nil
	}
	for i, l := range listings {
		if got := readOwner(t, g, auth, alice, "c-"+strconv.Itoa(i)); got != "" {
			t.Errorf("%s: CommandOwner %q, want none", l.name, got)
		}
	}
	// The genuine seal does open, so the cases above fail for their flaw.
	listings = append(listings, struct{ name, content string }{"genuine", ehpc.MarkSealed("uname -a", marker, aliceSeal)})
	if got := readOwner(t, g, auth, alice, "c-"+strconv.Itoa(len(listings)-1)); got != "user:alice" {
		t.Errorf("genuine: CommandOwner %q, want user:alice", got)
	}
}

func TestRunRefusesCopiedMarkerLines(t *testing.T) {
	auth := &fakeAuth{decide: allow}
	g, cmd, keys := ownedGate(t, auth)
	marker := ehpc.NewMarker()
	seal := keys.Seal("ehpc-hz-abc", marker, "uname -a", "user:olga")
	for name, command := range map[string]string{
		"a copied sealed line":     ehpc.MarkSealed("uname -a", marker, seal),
		"a copied line first":      "# " + marker + " " + seal + "\nuname -a",
		"a copied line in heredoc": "cat <<EOF\n# " + marker + " " + seal + "\nEOF",
		"a bare marker line":       "uname -a\n# hpcgate:X",
	} {
		res := g.Run(t.Context(), Call{Principal: alice, Trigger: "http", Request: hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: command}, Wait: dur(0)})
		if res.Status != hpcgate.StatusInvalid || res.Error == nil || res.Error.Code != hpcgate.CodeInvalidCommand {
			t.Errorf("%s: %+v, want InvalidCommand", name, res)
		}
	}
	if len(cmd.invoked) != 0 {
		t.Errorf("sent %d commands", len(cmd.invoked))
	}
	// A comment that merely mentions the prefix is fine.
	res := g.Run(t.Context(), Call{Principal: alice, Trigger: "http", Request: hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: "grep hpcgate: /var/log/x # hpcgate:X"}, Wait: dur(0)})
	if res.Status != hpcgate.StatusAccepted {
		t.Errorf("a mention of the prefix: %+v", res)
	}
}

func TestOwnerLookup(t *testing.T) {
	t.Run("a failed look-up fails the read, before any decision", func(t *testing.T) {
		auth := &fakeAuth{decide: allow}
		g, cmd, _ := ownedGate(t, auth)
		cmd.listed = func(string) (ehpc.Command, bool, error) {
			return ehpc.Command{}, false, &hpcgate.Error{Code: "Throttling.User", Source: hpcgate.SourceEHPC, Status: http.StatusServiceUnavailable, Retryable: true}
		}
		res := g.Status(t.Context(), Call{Principal: olga, Request: hpcgate.Request{ClusterID: "ehpc-hz-abc"}}, "c-abc")
		if res.Status != hpcgate.StatusError || res.Error.Code != "Throttling.User" || len(auth.queries) != 0 {
			t.Errorf("%+v after %d decisions", res, len(auth.queries))
		}
	})
	t.Run("without keys nothing is looked up and nobody owns anything", func(t *testing.T) {
		auth := &fakeAuth{decide: allow}
		cmd := &fakeCmd{wait: finished, invoke: started, listed: func(string) (ehpc.Command, bool, error) {
			return ehpc.Command{}, false, errors.New("must not be called")
		}}
		g := newScanGate(cmd, &bytes.Buffer{})
		g.auth = auth
		res := g.Run(t.Context(), Call{Principal: alice, Request: hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: "uname -a"}, Wait: dur(0)})
		if m, ok := ehpc.ParseMarked(cmd.invoked[0].Command); !ok || m.Seal != "" {
			t.Errorf("sent %q: want an unsealed marker", cmd.invoked[0].Command)
		}
		if got := readOwner(t, g, auth, alice, res.CommandID); got != "" {
			t.Errorf("CommandOwner %q", got)
		}
	})
	t.Run("a seal that does not fit is left out, the marker kept", func(t *testing.T) {
		auth := &fakeAuth{decide: allow}
		g, cmd, _ := ownedGate(t, auth)
		long := "echo " + strings.Repeat("a", hpcgate.MaxCommandLen-len("echo ")-60)
		res := g.Run(t.Context(), Call{Principal: alice, Request: hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: long}, Wait: dur(0)})
		m, ok := ehpc.ParseMarked(cmd.invoked[0].Command)
		if !ok || m.Seal != "" || res.Status != hpcgate.StatusAccepted {
			t.Fatalf("sent %q (%v): want the marker without the seal", cmd.invoked[0].Command, ok)
		}
		if got := readOwner(t, g, auth, alice, res.CommandID); got != "" {
			t.Errorf("CommandOwner %q", got)
		}
	})
}

// TestSealedMarkIsInert: the seal on the marker line changes nothing the
// analyser sees but the comment, whatever the owner's characters.
func TestSealedMarkIsInert(t *testing.T) {
	g := newScanGate(&fakeCmd{}, &bytes.Buffer{})
	g.opt.Owners = owner.Generate()
	for _, who := range []string{"user:alice", "user:Zoë 用户\u202e\n$(id)", "service:oss:raw-data", "user:'\"`;|&"} {
		for _, cmd := range []string{"squeue -u alice", "cat <<EOF\ndata\nEOF", "echo a \\\n b", "sinfo # note"} {
			an, err := shellscan.Analyze(cmd)
			if err != nil {
				t.Fatal(err)
			}
			sent, marker, why := g.mark(an, "ehpc-hz-abc", who)
			m, ok := ehpc.ParseMarked(sent)
			if marker == "" || !ok || m.Seal == "" || m.Command != an.Canonical {
				t.Fatalf("owner %q, %q: sent %q (%s)", who, cmd, sent, why)
			}
			checkInert(t, an, sent)
		}
	}
}

// TestStatusDecidesOnTheOwnerBeforeReading: a read that the verified
// owner makes the policy refuse neither long-polls nor reads the output.
func TestStatusDecidesOnTheOwnerBeforeReading(t *testing.T) {
	auth := &fakeAuth{decide: allow}
	g, cmd, _ := ownedGate(t, auth)
	run := g.Run(t.Context(), Call{Principal: olga, Trigger: "http", Request: hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: "uname -a"}, Wait: dur(0)})
	if run.Status != hpcgate.StatusAccepted {
		t.Fatalf("run: %+v", run)
	}
	reads := 0
	cmd.wait = func(context.Context) (ehpc.Outcome, error) { reads++; return finished(t.Context()) }
	auth.decide = func(q policy.Query) (hpcgate.Decision, error) {
		if q.Action == hpcgate.ActionListResults && q.CommandOwner != q.Principal.Owner() {
			return deny(q)
		}
		return allow(q)
	}
	for name, wait := range map[string]*time.Duration{"no wait": nil, "wait 30s": dur(30 * time.Second), "wait as long as allowed": dur(WaitAsLongAsAllowed)} {
		res := g.Status(t.Context(), Call{Principal: alice, Trigger: "http", Request: hpcgate.Request{ClusterID: "ehpc-hz-abc"}, Wait: wait}, run.CommandID)
		if res.Status != hpcgate.StatusDenied || reads != 0 || cmd.waited != 0 {
			t.Errorf("%s: alice reads olga's command: %+v after %d reads and %d waits; want denied, nothing read", name, res, reads, cmd.waited)
		}
	}
	if res := g.Status(t.Context(), Call{Principal: olga, Trigger: "http", Request: hpcgate.Request{ClusterID: "ehpc-hz-abc"}, Wait: dur(time.Second)}, run.CommandID); res.Status != hpcgate.StatusSucceeded || cmd.waited != 1 {
		t.Errorf("olga reads her own: %+v after %d waits; want one wait", res, cmd.waited)
	}
}
