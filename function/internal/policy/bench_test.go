package policy

import (
	"fmt"
	"runtime"

	"github.com/open-policy-agent/opa/v1/rego"
	"golang.org/x/sys/unix"
	"slices"
	"testing"
	"testing/fstest"
	"time"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/policies"
)

func syntheticSet(tb testing.TB, statements, principals int) *Set {
	tb.Helper()
	s, err := Compile(tb.Context(), fstest.MapFS{"governance.json": {Data: SyntheticGovernance(statements, principals)}}, "bench")
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// benchQuery asks for principal p (a user in group gp+1, so it sees two
// policies) to run squeue on a cluster the synthetic statements cover.
func benchQuery(p int) Query {
	st := true
	return Query{
		Principal: hpcgate.Principal{Type: "user", ID: fmt.Sprintf("u%d", p), Groups: []string{fmt.Sprintf("g%d", p+1), "staff"}},
		Request:   hpcgate.Request{ClusterID: "ehpc-0-abc", Command: "squeue -u alice", Timeout: 300}.WithDefaults(),
		Analysis: &hpcgate.Analysis{
			Programs: []string{"squeue"}, CommandLines: []string{"squeue -u alice"}, Features: []string{},
			OutputRedirects: []string{}, InputRedirects: []string{}, AssignedVariables: []string{},
			Simple: []hpcgate.SimpleCommand{{Argv: []string{"squeue", "-u", "alice"}, Assignments: []string{}, Redirects: []hpcgate.Redirect{}}},
		},
		Action:  hpcgate.ActionInvoke,
		Context: hpcgate.RequestContext{SourceIP: "10.20.3.4", SecureTransport: &st},
		Trigger: hpcgate.TriggerHTTP, Region: "cn-hangzhou", Account: "123456",
	}
}

func benchDecide(b *testing.B, s *Set, principals int) {
	e := NewEngine(s)
	ctx := b.Context()
	if d, err := e.Decide(ctx, benchQuery(0)); err != nil || !d.Allow {
		b.Fatalf("decision %+v, %v: want allow", d, err)
	}
	// Wall time, and the CPU time of this thread: on a busy machine the
	// latter is what the decision costs.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var wall, cpu []time.Duration
	for i := 0; b.Loop(); i++ {
		q := benchQuery((i * 2) % principals)
		t0, c0 := time.Now(), threadTime()
		if _, err := e.Decide(ctx, q); err != nil {
			b.Fatal(err)
		}
		cpu = append(cpu, threadTime()-c0)
		wall = append(wall, time.Since(t0))
	}
	reportP50(b, wall, "p50-µs")
	reportP50(b, cpu, "p50-cpu-µs")
}

func threadTime() time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		panic(err)
	}
	return time.Duration(ts.Nano())
}

func reportP50(b *testing.B, samples []time.Duration, unit string) {
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	b.ReportMetric(float64(samples[len(samples)/2].Nanoseconds())/1e3, unit)
}

// BenchmarkDecide1000Statements200Principals is the reference decision
// cost, command analysis excluded.
func BenchmarkDecide1000Statements200Principals(b *testing.B) {
	benchDecide(b, syntheticSet(b, 1000, 200), 200)
}

// BenchmarkDecideScaling keeps 5 statements per principal and grows the
// policy set: the cost should stay nearly flat.
func BenchmarkDecideScaling(b *testing.B) {
	for _, n := range []int{10, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("statements=%d", n), func(b *testing.B) {
			p := max(n/5, 2)
			benchDecide(b, syntheticSet(b, n, p), p)
		})
	}
}

// BenchmarkDecideExample decides with the embedded example policies.
func BenchmarkDecideExample(b *testing.B) {
	s, err := Default(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	e := NewEngine(s)
	q := benchQuery(0)
	q.Principal = hpcgate.Principal{Type: "user", ID: "alice", Groups: []string{"researchers"}}
	q.Request.ClusterID = "ehpc-hz-abc"
	if d, err := e.Decide(b.Context(), q); err != nil || !d.Allow {
		b.Fatalf("decision %+v, %v: want allow", d, err)
	}
	for b.Loop() {
		if _, err := e.Decide(b.Context(), q); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompileExample is the start-up cost of the embedded policies.
func BenchmarkCompileExample(b *testing.B) {
	for b.Loop() {
		if _, err := Compile(b.Context(), policies.FS, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTrivialPolicy is the reference floor: one rule, same input and
// options, to compare the decision cost with on a busy machine.
func BenchmarkTrivialPolicy(b *testing.B) {
	pq, err := rego.New(append(regoOptions(), rego.Query("data.t.allow"),
		rego.Module("t.rego", "package t\n\nallow if input.principal.id == \"u0\"\n"))...).PrepareForEval(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	in := input(benchQuery(0), time.Now())
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var wall, cpu []time.Duration
	for b.Loop() {
		t0, c0 := time.Now(), threadTime()
		if _, err := pq.Eval(b.Context(), rego.EvalParsedInput(in)); err != nil {
			b.Fatal(err)
		}
		cpu = append(cpu, threadTime()-c0)
		wall = append(wall, time.Since(t0))
	}
	reportP50(b, wall, "p50-µs")
	reportP50(b, cpu, "p50-cpu-µs")
}

// BenchmarkDecideExampleDeny compares, in one run, an allow with the two
// kinds of deny of the embedded example policies, and each deny with the
// same decision unexplained (the Set without its statements): the ratio
// is what near misses and matched values cost, paid only on deny.
func BenchmarkDecideExampleDeny(b *testing.B) {
	s, err := Default(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	bare := *s
	bare.gov = nil
	q := benchQuery(0)
	q.Principal = hpcgate.Principal{Type: "user", ID: "alice", Groups: []string{"researchers"}}
	q.Request.ClusterID = "ehpc-hz-abc"
	implicit := q
	implicit.Analysis = &hpcgate.Analysis{Programs: []string{"grep", "squeue"}, CommandLines: []string{"grep RUNNING", "squeue -u alice"},
		Features: []string{"pipe"}, OutputRedirects: []string{}, InputRedirects: []string{}, AssignedVariables: []string{}}
	explicit := q
	explicit.Analysis = &hpcgate.Analysis{Programs: []string{"squeue"}, CommandLines: []string{"squeue -u alice"},
		Features: []string{"output-redirect"}, OutputRedirects: []string{"/tmp/q"}, InputRedirects: []string{}, AssignedVariables: []string{}}
	for _, c := range []struct {
		name  string
		set   *Set
		q     Query
		allow bool
	}{
		{"allow", s, q, true},
		{"implicit-deny", s, implicit, false},
		{"implicit-deny-unexplained", &bare, implicit, false},
		{"explicit-deny", s, explicit, false},
		{"explicit-deny-unexplained", &bare, explicit, false},
	} {
		b.Run(c.name, func(b *testing.B) {
			e := NewEngine(c.set)
			if d, err := e.Decide(b.Context(), c.q); err != nil || d.Allow != c.allow || (c.set == s && !c.allow && d.Explanation == "") {
				b.Fatalf("decision %+v, %v", d, err)
			}
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var cpu []time.Duration
			for b.Loop() {
				c0 := threadTime()
				if _, err := e.Decide(b.Context(), c.q); err != nil {
					b.Fatal(err)
				}
				cpu = append(cpu, threadTime()-c0)
			}
			reportP50(b, cpu, "p50-cpu-µs")
		})
	}
}
