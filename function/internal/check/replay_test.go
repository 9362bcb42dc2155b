package check

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hpcgate/hpcgate/function/internal/audit"
	"github.com/hpcgate/hpcgate/function/internal/gate"
	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/function/internal/policy"
	"github.com/hpcgate/hpcgate/function/internal/shellscan"
)

// gatewayLog runs calls through the real gate (dry runs: decided and
// audited, nothing invoked) with the embedded policies and returns the
// log the gateway writes, with a line that is not an audit record.
func gatewayLog(t *testing.T, calls []gate.Call) []byte {
	t.Helper()
	set, err := policy.Default(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := audit.NewLogger(&logs, 0)
	log.Info("policy bundle loaded")
	logs.WriteString("not JSON at all\n")
	g := gate.New(policy.NewEngine(set), nil, gate.Options{
		Region: "cn-hangzhou", Account: "123456", MaxTimeout: 3600, MaxNodes: 8,
		Analyze: shellscan.Analyze, Logger: log,
		Now: func() time.Time { return time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC) },
	})
	for i, c := range calls {
		c.DryRun = true
		g.Run(audit.WithRequestID(t.Context(), "req-"+string(rune('a'+i))), c)
	}
	return logs.Bytes()
}

// newPolicies is a governance change: only squeue, for alice and bob,
// without the baseline.
const newPolicies = `{
  "policies": {"OnlySqueue": {"Version": "1", "Statement": [{"Sid": "Squeue", "Effect": "Allow", "Action": "ehpc:InvokeShellCommand",
    "Resource": "acs:ehpc:*:*:cluster/ehpc-hz-*",
    "Condition": {"ForAllValues:StringLike": {"hpcgate:CommandLine": ["squeue", "squeue *"]}, "ForAnyValue:StringLike": {"hpcgate:Program": ["*"]}}}]}},
  "attachments": {"user": {"alice": ["OnlySqueue"], "bob": ["OnlySqueue"]}}
}`

func TestReplay(t *testing.T) {
	campus := hpcgate.RequestContext{SourceIP: "10.20.1.5"}
	alice := hpcgate.Principal{Type: hpcgate.PrincipalUser, ID: "alice", Groups: []string{"researchers"}}
	bob := hpcgate.Principal{Type: hpcgate.PrincipalUser, ID: "bob"}
	call := func(p hpcgate.Principal, cluster, command string) gate.Call {
		return gate.Call{Principal: p, Trigger: hpcgate.TriggerHTTP, Context: campus, Request: hpcgate.Request{ClusterID: cluster, Command: command}}
	}
	log := gatewayLog(t, []gate.Call{
		call(alice, "ehpc-hz-abc", "squeue -u alice"),  // allow, stays
		call(alice, "ehpc-hz-abc", "sinfo -N"),         // allow → deny: nothing allows sinfo now
		call(bob, "ehpc-hz-abc", "squeue"),             // deny → allow: bob had nothing
		call(alice, "ehpc-hz-abc", "squeue > /tmp/q"),  // deny → allow: no baseline any more
		call(alice, "not a cluster", "squeue"),         // invalid: never decided
		call(bob, "ehpc-sz-1", "squeue -u bob"),        // deny, stays
		call(alice, "ehpc-hz-abc", "squeue | grep me"), // deny, stays
	})
	file := filepath.Join(t.TempDir(), "gateway.log")
	if err := os.WriteFile(file, log, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "data.json"), []byte(newPolicies), 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("a change lists every flipped decision", func(t *testing.T) {
		out, errOut, code := run(t, "", "--policies", dir, "--replay", file)
		if code != 2 {
			t.Fatalf("exit %d, want 2\n%s%s", code, out, errOut)
		}
		var changes []Change
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var c Change
			if err := json.Unmarshal([]byte(line), &c); err != nil {
				t.Fatalf("%v: %s", err, line)
			}
			changes = append(changes, c)
		}
		want := []struct{ id, principal, command, before, after string }{
			{"req-b", "alice", "sinfo -N", "allow", "deny"},
			{"req-c", "bob", "squeue", "deny", "allow"},
			{"req-d", "alice", "squeue >/tmp/q", "deny", "allow"},
		}
		if len(changes) != len(want) {
			t.Fatalf("%d changes, want %d:\n%s", len(changes), len(want), out)
		}
		for i, w := range want {
			c := changes[i]
			if c.RequestID != w.id || c.Principal.ID != w.principal || c.Request.Command != w.command || c.Before != w.before || c.After != w.after {
				t.Errorf("change %d = %s %s %q %s→%s, want %+v", i, c.RequestID, c.Principal.ID, c.Request.Command, c.Before, c.After, w)
			}
		}
		if c := changes[0]; len(c.NearMisses) != 1 || c.NearMisses[0].Policy != "OnlySqueue" || c.Explanation == "" || len(c.BeforeReasons) == 0 {
			t.Errorf("a new deny must say why, against what allowed before: %+v", c)
		}
		for _, s := range []string{
			"replayed 6 audit records of 9 log lines (2 other lines, 1 records without a decision skipped)",
			"3 decisions change: allow→deny 1, deny→allow 2",
			"  user alice: allow→deny 1, deny→allow 1\n",
			"  user bob: deny→allow 1\n",
			"  allowed by OnlySqueue/Squeue: deny→allow 2\n",
			"  no statement allows (was ResearcherBasic/ReadOnlySlurm): allow→deny 1\n",
		} {
			if !strings.Contains(errOut, s) {
				t.Errorf("summary lacks %q:\n%s", s, errOut)
			}
		}
	})

	t.Run("the same policies change nothing", func(t *testing.T) {
		out, errOut, code := run(t, "", "--replay", file)
		if code != 0 || out != "" || !strings.Contains(errOut, "0 decisions change: none") {
			t.Errorf("exit %d\n%s%s", code, out, errOut)
		}
	})

	t.Run("the log from stdin", func(t *testing.T) {
		_, _, code := run(t, string(log), "--policies", dir, "--replay", "-")
		if code != 2 {
			t.Errorf("exit %d, want 2", code)
		}
	})

	t.Run("errors exit 1", func(t *testing.T) {
		if _, errOut, code := run(t, "", "--policies", dir, "--replay", filepath.Join(dir, "missing.log")); code != 1 || !strings.Contains(errOut, "missing.log") {
			t.Errorf("missing log: exit %d %s", code, errOut)
		}
		if _, errOut, code := run(t, "", "--policies", "testdata/badpolicies", "--replay", file); code != 1 || !strings.Contains(errOut, "load policies") {
			t.Errorf("bad policies: exit %d %s", code, errOut)
		}
		bad := strings.Replace(string(log), `"command":"sinfo -N"`, `"command":"sinfo $(("`, 1)
		out, _, code := run(t, bad, "--policies", dir, "--replay", "-")
		if code != 1 || !strings.Contains(out, `"after":"error"`) {
			t.Errorf("a record that cannot be decided again: exit %d\n%s", code, out)
		}
	})
}
