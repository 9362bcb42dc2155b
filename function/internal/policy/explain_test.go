package policy

import (
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/policies"
)

// goAllows is the decision explain's Go tests give: no attached Deny
// statement holds, and some attached Allow does.
func goAllows(s *Set, q Query, now time.Time) bool {
	q.Request = q.Request.WithDefaults()
	keys := requestKeys(q, now)
	resource := Resource(q.Region, q.Account, q.Request.ClusterID)
	action := strings.ToLower(q.Action)
	allow := false
	for _, p := range s.gov.attached(q.Principal) {
		for i, st := range s.gov.policies[p].statements {
			if slices.ContainsFunc(st.actions, func(a string) bool { return hpcgate.Wildcard(a, action) }) == st.notAction {
				continue
			}
			if _, missed := nearMiss(p, i, st, keys, resource); missed {
				continue
			}
			if st.effect == "Deny" {
				return false
			}
			allow = true
		}
	}
	return allow
}

// TestExplainAgreesWithRego holds the Go tests that explain decisions to
// the compiled Rego: over random requests against every policy of the RAM
// library's test data and the example set, both give the same verdict.
// A near miss that disagreed with the decision would mislead whoever
// reads it.
func TestExplainAgreesWithRego(t *testing.T) {
	lib, err := os.ReadFile("../../../policies/lib/ram_test.json")
	if err != nil {
		t.Fatal(err)
	}
	libSet, err := Compile(t.Context(), fstest.MapFS{"data.json": {Data: lib}}, "lib")
	if err != nil {
		t.Fatal(err)
	}
	example, err := Compile(t.Context(), policies.FS, "")
	if err != nil {
		t.Fatal(err)
	}
	pick := func(r *rand.Rand, vs ...string) string { return vs[r.IntN(len(vs))] }
	some := func(r *rand.Rand, vs ...string) []string {
		var out []string
		for range r.IntN(3) {
			if v := pick(r, vs...); !slices.Contains(out, v) {
				out = append(out, v)
			}
		}
		slices.Sort(out)
		return out
	}
	ptr := func(r *rand.Rand) *bool {
		switch r.IntN(3) {
		case 0:
			return nil
		case 1:
			return new(true)
		}
		return new(false)
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := rand.New(rand.NewPCG(15, 15))
	for _, tc := range []struct {
		set   *Set
		users []string
	}{
		{libSet, nil},
		{example, []string{"alice", "bob", "carol", "mallory"}},
	} {
		users := tc.users
		if users == nil {
			for p := range tc.set.gov.policies {
				users = append(users, "t-"+p)
			}
			slices.Sort(users)
		}
		allowed := 0
		for n := range 4000 {
			at := base.Add(time.Duration(r.IntN(12)-2) * time.Hour)
			q := Query{
				Principal: hpcgate.Principal{Type: hpcgate.PrincipalUser, ID: users[n%len(users)], Groups: some(r, "researchers", "hpc-operators", "other"), MFA: ptr(r)},
				Action:    pick(r, hpcgate.ActionInvoke, hpcgate.ActionInvoke, hpcgate.ActionListResults),
				Request: hpcgate.Request{
					ClusterID:   pick(r, "c1", "c2", "c7", "c10", "C1", "c9", "ehpc-hz-1", "ehpc-sz-", "ehpc-z-1", "EHPC-hz-1", "a[b]{c}.x", "ab{c}.x", "ehpc-1", "ehpc-hz-abc", "ehpc-hz-demo01"),
					WorkingDir:  pick(r, "", "/data", "/DATA", "/Data", "/data2", "/tmp", "/home/alice"),
					Timeout:     []int{0, 60, 61, 99, 100, 101, 120, 600, 601, 3600}[r.IntN(10)],
					InstanceIDs: some(r, "i-a", "i-b", "i-login1"),
				},
				Analysis: &hpcgate.Analysis{
					Programs:          some(r, "squeue", "sinfo", "rm", "ls", "Squeue", "cat", "<dynamic>", "bash"),
					CommandLines:      some(r, "squeue", "squeue -u a", "squeuex", "ls", "ls -l", "rm -rf x", "sinfo -N", "scancel 1"),
					Features:          some(r, "pipe", "sequence", "heredoc", "command-substitution", "comment"),
					OutputRedirects:   some(r, "/dev/null", "/tmp/x"),
					InputRedirects:    some(r, "/etc/passwd", "in.txt"),
					AssignedVariables: some(r, "PATH", "LD_PRELOAD", "X"),
				},
				Context: hpcgate.RequestContext{
					SourceIP:        pick(r, "", "10.1.2.3", "10.20.1.5", "192.168.1.1", "192.168.1.2", "2001:db8::1", "2001:db9::1", "::ffff:10.1.2.3", "172.16.0.1", "::ffff:172.16.0.1", "11.0.0.1", "10.9.9.9"),
					SecureTransport: ptr(r),
					CurrentTime:     &at,
				},
				Trigger: pick(r, "http", "oss", ""),
				Region:  "cn-hangzhou", Account: "1",
			}
			d, err := tc.set.decide(t.Context(), q, base)
			if err != nil {
				t.Fatalf("%+v: %v", q, err)
			}
			if got := goAllows(tc.set, q, base); got != d.Allow {
				t.Fatalf("Rego allow=%v, Go allow=%v for %+v %+v %+v\nreasons %+v near misses %+v", d.Allow, got, q.Principal, q.Request, *q.Analysis, d.Reasons, d.NearMisses)
			}
			if d.Allow {
				allowed++
			}
			if !d.Allow && len(d.Reasons) == 1 && d.Reasons[0].Policy == "" && d.Explanation == "" {
				t.Fatalf("implicit deny without an explanation")
			}
		}
		if allowed < 40 || allowed > 3800 {
			t.Errorf("%d of 4000 random requests allowed: the test hardly tells the verdicts apart", allowed)
		}
		t.Logf("%s: %d of 4000 allowed", tc.set.revision, allowed)
	}
}
