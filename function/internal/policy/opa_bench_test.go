package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/format"

	"github.com/hpcgate/hpcgate/function/internal/shellscan"
)

// OPAServerEnv names the environment variable that points
// BenchmarkDecisionLatency at an OPA server (`opa run --server`, base URL
// such as http://127.0.0.1:8181) serving the same policy as the baseline.
const OPAServerEnv = "HPCGATE_BENCH_OPA_URL"

// benchCommand is the command every latency sample analyses and decides.
const benchCommand = "squeue -u alice -t R"

// opaModules returns the Rego source of every module a policy set compiled
// from fsys evaluates (the generated governance module, the extension
// collector, the RAM library and the extension rules), formatted so that
// an OPA server can load them as they are.
func opaModules(tb testing.TB, fsys fs.FS) map[string]string {
	tb.Helper()
	gov, exts, _, err := load(fsys)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := gov.build(exts)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]string{}
	for name, m := range c.modules {
		src, err := format.AstWithOpts(m, format.Opts{RegoVersion: ast.RegoV1})
		if err != nil {
			tb.Fatalf("format %s: %v", name, err)
		}
		out[name] = string(src)
	}
	return out
}

// opaServer is an OPA server the benchmark loads policies into.
type opaServer struct {
	base   string
	client *http.Client
}

// load puts modules on the server, replacing those of the same name: the
// RAM library first, since the generated module calls its functions, then
// the extension rules, the collector of their reasons and the governance.
func (o *opaServer) load(tb testing.TB, modules map[string]string) {
	tb.Helper()
	rank := func(name string) int {
		switch {
		case strings.HasSuffix(name, "lib/ram.rego"):
			return 0
		case name == "hpcgate/extensions.rego":
			return 2
		case name == "hpcgate/governance.rego":
			return 3
		}
		return 1
	}
	names := sortedKeys(modules)
	slices.SortStableFunc(names, func(a, b string) int { return rank(a) - rank(b) })
	for _, name := range names {
		id := strings.ReplaceAll(name, "/", "_")
		o.do(tb, http.MethodPut, "/v1/policies/"+url.PathEscape(id), "text/plain", []byte(modules[name]))
	}
}

func (o *opaServer) do(tb testing.TB, method, path, ctype string, body []byte) []byte {
	tb.Helper()
	req, err := http.NewRequest(method, o.base+path, bytes.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := o.client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode/100 != 2 {
		tb.Fatalf("OPA %s %s: %s: %.2000s", method, path, resp.Status, b)
	}
	return b
}

// decide asks the server for the decision on q, the way a gateway that
// deploys OPA as a sidecar would: analyse, build the input, POST it.
func (o *opaServer) decide(tb testing.TB, q Query) bool {
	an, err := shellscan.Analyze(benchCommand)
	if err != nil {
		tb.Fatal(err)
	}
	q.Analysis = &an
	q.Request.Command = an.Canonical
	v, err := ast.JSON(input(q, time.Now()))
	if err != nil {
		tb.Fatal(err)
	}
	body, err := json.Marshal(map[string]any{"input": v})
	if err != nil {
		tb.Fatal(err)
	}
	raw := o.do(tb, http.MethodPost, "/v1/data/hpcgate/ram/decision", "application/json", body)
	var out struct {
		Result *struct {
			Allow bool `json:"allow"`
		} `json:"result"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.Result == nil {
		tb.Fatalf("OPA answer %.500s: %v", raw, err)
	}
	return out.Result.Allow
}

// BenchmarkDecisionLatency measures one decision as the gateway makes it
// (analysis of the command, then the policy) in process, at growing policy
// sizes, and reports p50 and p99. With HPCGATE_BENCH_OPA_URL set it
// alternates, in blocks of 50 samples, with the same decisions asked of
// that OPA server over HTTP with the same Rego and input, reported as
// opa-p50-µs and opa-p99-µs.
func BenchmarkDecisionLatency(b *testing.B) {
	var opa *opaServer
	if u := os.Getenv(OPAServerEnv); u != "" {
		opa = &opaServer{base: strings.TrimSuffix(u, "/"), client: &http.Client{Timeout: 30 * time.Second}}
	}
	for _, n := range []int{10, 100, 1000, 10000} {
		b.Run(fmt.Sprintf("statements=%d", n), func(b *testing.B) {
			p := max(n/5, 2)
			fsys := fstest.MapFS{"governance.json": {Data: SyntheticGovernance(n, p)}}
			s, err := Compile(b.Context(), fsys, "bench")
			if err != nil {
				b.Fatal(err)
			}
			e := NewEngine(s)
			local := func(q Query) bool {
				an, err := shellscan.Analyze(benchCommand)
				if err != nil {
					b.Fatal(err)
				}
				q.Analysis = &an
				q.Request.Command = an.Canonical
				d, err := e.Decide(b.Context(), q)
				if err != nil {
					b.Fatal(err)
				}
				return d.Allow
			}
			if !local(benchQuery(0)) {
				b.Fatal("the reference query is denied in process")
			}
			if opa != nil {
				opa.load(b, opaModules(b, fsys))
				// Both must decide alike, allow and deny, or the
				// comparison means nothing.
				for _, i := range []int{0, 1, 2, 3} {
					q := benchQuery(i % p)
					if i%2 == 1 {
						q.Request.ClusterID = "ehpc-nomatch-x"
					}
					if l, o := local(q), opa.decide(b, q); l != o {
						b.Fatalf("query %d: in process allow=%v, OPA server allow=%v", i, l, o)
					}
				}
			}
			// Both sides start in a steady state: the compilation's
			// garbage collected here, the server's given time to settle
			// after its policy upload.
			runtime.GC()
			if opa != nil {
				time.Sleep(500 * time.Millisecond)
			}
			// Blocks of samples alternate, so that drift on a shared
			// machine hits both sides alike, while no in-process sample
			// runs in the wake of an HTTP exchange (the server finishing
			// its request, the client's connection goroutines), which
			// would charge part of the baseline to the in-process side.
			// A short pause on each switch lets the side that ran last
			// settle (its server goroutines, a garbage collection it
			// started) before the other is timed.
			const block, settle = 50, 2 * time.Millisecond
			var in, out []time.Duration
			var pending []Query
			flush := func() {
				time.Sleep(settle)
				defer time.Sleep(settle)
				for _, q := range pending {
					t0 := time.Now()
					opa.decide(b, q)
					out = append(out, time.Since(t0))
				}
				pending = pending[:0]
			}
			for i := 0; b.Loop(); i++ {
				q := benchQuery((i * 2) % p)
				t0 := time.Now()
				local(q)
				in = append(in, time.Since(t0))
				if opa != nil {
					if pending = append(pending, q); len(pending) == block {
						flush()
					}
				}
			}
			if opa != nil {
				flush()
			}
			reportPercentiles(b, in, "")
			reportPercentiles(b, out, "opa-")
		})
	}
}

func reportPercentiles(b *testing.B, samples []time.Duration, prefix string) {
	if len(samples) == 0 {
		return
	}
	slices.Sort(samples)
	at := func(p float64) float64 {
		i := min(int(p*float64(len(samples))), len(samples)-1)
		return float64(samples[i].Nanoseconds()) / 1e3
	}
	b.ReportMetric(at(0.50), prefix+"p50-µs")
	b.ReportMetric(at(0.99), prefix+"p99-µs")
}
