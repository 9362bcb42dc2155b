// Command bench measures the gateway against its baselines, each pair in
// the same run, and prints one table:
//
//	go run ./test/bench [--quick]
//
// Run it from the module root on an otherwise idle machine. It builds the
// gateway, the hello-world FC function and the OPA CLI (from the OPA module
// in go.mod), then measures decision latency (in process vs an OPA server
// over loopback HTTP), cold start (vs hello-world), gateway overhead (vs a
// direct SDK call), throughput, peak RSS, and the code package size.
// --quick uses fewer samples and finishes in under a minute once built.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/hpcgate/hpcgate/deploy/fczip"
	"github.com/hpcgate/hpcgate/test/fcemu"
	"github.com/hpcgate/hpcgate/test/harness"
)

// settings are the sample counts of one run.
type settings struct {
	decisions  int           // samples per policy size, each side
	coldStarts int           // cold starts per binary
	overhead   int           // sequential requests per side
	throughput time.Duration // per side
	traces     int           // traced cold starts for the breakdown
	only       []string      // steps to run; empty = all
}

var (
	full  = settings{decisions: 2000, coldStarts: 15, overhead: 1000, throughput: 10 * time.Second, traces: 5}
	quick = settings{decisions: 200, coldStarts: 5, overhead: 200, throughput: 3 * time.Second, traces: 3}
)

// row is one line of the table.
type row struct {
	figure, value, baseline, compare, goal string
	pass                                   *bool
}

func main() {
	q := flag.Bool("quick", false, "fewer samples: finishes in under a minute once built")
	out := flag.String("o", "", "also write the table (Markdown) to this file")
	only := flag.String("only", "", "comma-separated steps to run: decisions, coldstart, gateway, sizes (default all)")
	flag.Parse()
	s := full
	if *q {
		s = quick
	}
	if *only != "" {
		s.only = strings.Split(*only, ",")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rows, err := run(ctx, s)
	printTable(os.Stdout, rows)
	if *out != "" {
		var b bytes.Buffer
		printMarkdown(&b, rows)
		if werr := os.WriteFile(*out, b.Bytes(), 0o644); werr != nil {
			fmt.Fprintln(os.Stderr, "bench:", werr)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

func run(ctx context.Context, s settings) ([]row, error) {
	if _, err := os.Stat("go.mod"); err != nil {
		return nil, errors.New("run from the module root (go run ./test/bench)")
	}
	work, err := os.MkdirTemp("", "hpcgate-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	logf("building the gateway, hello-world and the OPA CLI")
	began := time.Now()
	gateway, err := fcemu.BuildBinary(ctx, harness.GatewayPackage, filepath.Join(work, "hpcgate"))
	if err != nil {
		return nil, err
	}
	ehpcsim, err := fcemu.BuildBinary(ctx, "github.com/hpcgate/hpcgate/test/ehpcsim", filepath.Join(work, "ehpcsim"))
	if err != nil {
		return nil, err
	}
	// Cold starts run the binaries deploy/package ships: stripped, without
	// local mode.
	fcGateway, err := packaged(ctx, fczip.DefaultPackage, filepath.Join(work, "fc-hpcgate"))
	if err != nil {
		return nil, err
	}
	fcHello, err := packaged(ctx, "./test/fcemu/hello", filepath.Join(work, "fc-hello"))
	if err != nil {
		return nil, err
	}
	opa := filepath.Join(work, "opa")
	if b, err := exec.CommandContext(ctx, "go", "build", "-o", opa, "github.com/open-policy-agent/opa").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build the OPA CLI: %v\n%s", err, b)
	}
	// The policy benchmarks compile before the clock starts.
	if b, err := exec.CommandContext(ctx, "go", "test", "-c", "-o", filepath.Join(work, "policy.test"), "./function/internal/policy").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build the policy benchmarks: %v\n%s", err, b)
	}
	logf("built in %v", time.Since(began).Round(time.Second))

	var rows []row
	var errs []error
	steps := []struct {
		name string
		run  func() ([]row, error)
	}{
		{"decisions", func() ([]row, error) { return decisions(ctx, s, work, opa) }},
		{"coldstart", func() ([]row, error) { return coldStart(ctx, s, fcGateway, fcHello) }},
		{"gateway", func() ([]row, error) { return gatewayRuns(ctx, s, work, gateway, ehpcsim) }},
		{"sizes", func() ([]row, error) { return sizes(ctx, work) }},
	}
	for _, step := range steps {
		if len(s.only) > 0 && !slices.Contains(s.only, step.name) {
			continue
		}
		t0 := time.Now()
		r, err := step.run()
		logf("  took %v", time.Since(t0).Round(100*time.Millisecond))
		rows = append(rows, r...)
		if err != nil {
			// The other steps still run: one failure (an OPA server too
			// slow on a busy machine) should not hide every other figure.
			logf("%s: %v", step.name, err)
			errs = append(errs, fmt.Errorf("%s: %w", step.name, err))
		}
	}
	return rows, errors.Join(errs...)
}

// ---- decision latency ----------------------------------------------------

var benchLine = regexp.MustCompile(`^Benchmark(\S+?)(?:-\d+)?\s+\d+\s+(.*)$`)

// decisions runs the policy package's benchmarks: BenchmarkDecisionLatency
// alternates blocks of in-process decisions with the same decisions asked of an OPA
// server (same Rego, same input) over loopback HTTP.
func decisions(ctx context.Context, s settings, work, opa string) ([]row, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	srv := exec.CommandContext(ctx, opa, "run", "--server", "--addr", addr, "--log-level", "error")
	srv.Stdout, srv.Stderr = io.Discard, io.Discard
	if err := srv.Start(); err != nil {
		return nil, err
	}
	defer func() { srv.Process.Kill(); srv.Wait() }()
	if err := waitHTTP(ctx, "http://"+addr+"/health"); err != nil {
		return nil, fmt.Errorf("OPA server: %w", err)
	}
	logf("decision latency: in process vs OPA server at %s (%d samples per size)", addr, s.decisions)
	cmd := exec.CommandContext(ctx, filepath.Join(work, "policy.test"), "-test.run", "^$",
		"-test.bench", "^Benchmark(DecisionLatency|CompileExample)$", "-test.benchtime", strconv.Itoa(s.decisions)+"x", "-test.count", "1")
	cmd.Dir = "function/internal/policy"
	cmd.Env = append(os.Environ(), "HPCGATE_BENCH_OPA_URL=http://"+addr)
	outb, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("policy benchmarks: %v\n%s", err, outb)
	}
	metrics := map[string]map[string]float64{}
	for line := range strings.Lines(string(outb)) {
		m := benchLine.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		f := strings.Fields(m[2])
		vals := map[string]float64{}
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err == nil {
				vals[f[i+1]] = v
			}
		}
		metrics[m[1]] = vals
	}
	var rows []row
	for _, n := range []int{10, 100, 1000, 10000} {
		m := metrics[fmt.Sprintf("DecisionLatency/statements=%d", n)]
		if m == nil {
			return rows, fmt.Errorf("no result for %d statements in:\n%s", n, outb)
		}
		for _, p := range []string{"p50", "p99"} {
			in, base := m[p+"-µs"], m["opa-"+p+"-µs"]
			rows = append(rows, row{
				figure:   fmt.Sprintf("decision %s, %d statements (analysis + policy)", p, n),
				value:    fmtMicros(in),
				baseline: fmtMicros(base) + " OPA server",
				compare:  fmt.Sprintf("%.1f× faster", base/in),
				goal:     "≥ 10× faster", pass: passed(base >= 10*in),
			})
		}
	}
	if m := metrics["CompileExample"]; m != nil {
		rows = append(rows, row{figure: "policy compile (embedded set, at start)", value: fmtMicros(m["ns/op"] / 1e3), baseline: "—", compare: "—", goal: "—"})
	}
	return rows, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitHTTP(ctx context.Context, url string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return errors.New("not ready after 30 s")
}

// ---- cold start ----------------------------------------------------------

// initializer is the initializer timeout both functions run with, as
// s.yaml deploys hpcgate: FC runs it before it routes the first request.
const initializer = 30 * time.Second

// packaged builds pkg as deploy/package does and writes the binary to out.
func packaged(ctx context.Context, pkg, out string) (string, error) {
	bin, err := fczip.Build(ctx, "", pkg)
	if err != nil {
		return "", err
	}
	return out, os.WriteFile(out, bin, 0o755)
}

// benchOwnerKey is the owner-sealing secret of the benchmarked function
// (FC refuses to start without one).
const benchOwnerKey = "YmVuY2ggb3duZXIga2V5LCAzMiBieXRlcyBvciBtb3JlIQ=="

// coldStart alternates cold starts of the gateway and of hello-world under
// the FC runtime-API emulator: exec to the first answer, each binary as
// deploy/package builds it, without and with its initializer run first. The
// gateway gets a direct-invoke dry run, so it compiles its embedded
// policies, analyses and decides, but needs no E-HPC. Traced runs then
// break the gateway's cold start down.
func coldStart(ctx context.Context, s settings, gateway, hello string) ([]row, error) {
	logf("cold start: %d alternating runs of each of four kinds", s.coldStarts)
	payload := []byte(`{"clusterId":"ehpc-hz-demo01","command":"squeue -u alice","dryRun":true}`)
	env := []string{"HPCGATE_LOG_LEVEL=error", "HPCGATE_ACCOUNT_ID=123456", "HPCGATE_EVENTS=invoke", "HPCGATE_OWNER_KEY=" + benchOwnerKey}
	// Four kinds, alternated: each binary with and without the initializer.
	type kind struct {
		bin  string
		cfg  fcemu.Config
		runs []time.Duration
	}
	kinds := []*kind{{bin: gateway}, {bin: hello}, {bin: gateway, cfg: fcemu.Config{Initializer: initializer}}, {bin: hello, cfg: fcemu.Config{Initializer: initializer}}}
	for i := range s.coldStarts {
		for j := range kinds {
			k := kinds[(i+j)%len(kinds)]
			d, err := fcemu.ColdStart(ctx, k.cfg, k.bin, env, payload)
			if err != nil {
				return nil, err
			}
			k.runs = append(k.runs, d)
		}
	}
	var rows []row
	for i, name := range []string{"no initializer", "initializer first, as s.yaml deploys it"} {
		g, h := median(kinds[2*i].runs), median(kinds[2*i+1].runs)
		ratio := float64(g) / float64(h)
		rows = append(rows, row{
			figure: "cold start, exec → first answer (median, " + name + ")", value: fmtDur(g), baseline: fmtDur(h) + " hello-world",
			compare: fmt.Sprintf("%.2f×", ratio), goal: "≤ 2.5×", pass: passed(ratio <= 2.5),
		})
	}
	logf("cold start breakdown: %d traced runs", s.traces)
	b, err := breakdown(ctx, s.traces, gateway, payload)
	if err != nil {
		logf("breakdown: %v", err)
		return rows, nil
	}
	return append(rows, b...), nil
}

var initLine = regexp.MustCompile(`^init (\S+) @[0-9.]+ ms, ([0-9.]+) ms clock`)

// trace is what one traced cold start of the gateway reports.
type trace struct {
	total, toMain, inits, policy, ready, decision time.Duration
	pkgs                                          map[string]time.Duration
}

// breakdown cold-starts the gateway n times with GODEBUG=inittrace=1 and
// debug logs, and returns the median of each part: exec → main (process
// start, runtime, paging, package init), package init by package (from
// inittrace), the policy compile and main → policy ready (from the
// gateway's "policy ready" record), and the first decision (the audit
// record's durationMs of the dry run).
func breakdown(ctx context.Context, n int, gateway string, payload []byte) ([]row, error) {
	env := []string{"HPCGATE_LOG_LEVEL=debug", "HPCGATE_ACCOUNT_ID=123456", "GODEBUG=inittrace=1", "HPCGATE_EVENTS=invoke", "HPCGATE_OWNER_KEY=" + benchOwnerKey}
	var ts []trace
	for range n {
		t, err := traceOnce(ctx, gateway, env, payload)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	med := func(f func(trace) time.Duration) time.Duration {
		var d []time.Duration
		for _, t := range ts {
			d = append(d, f(t))
		}
		return median(d)
	}
	pkgMed := map[string]time.Duration{}
	for p := range ts[0].pkgs {
		pkgMed[p] = med(func(t trace) time.Duration { return t.pkgs[p] })
	}
	names := slices.Collect(maps.Keys(pkgMed))
	sort.Slice(names, func(i, j int) bool { return pkgMed[names[i]] > pkgMed[names[j]] })
	var top []string
	for _, p := range names[:min(4, len(names))] {
		top = append(top, fmt.Sprintf("%s %s", strings.TrimPrefix(p, "github.com/"), fmtDur(pkgMed[p])))
	}
	toMain, inits := med(func(t trace) time.Duration { return t.toMain }), med(func(t trace) time.Duration { return t.inits })
	return []row{
		{figure: fmt.Sprintf("  traced cold start (median of %d, inittrace and debug logs on)", n), value: fmtDur(med(func(t trace) time.Duration { return t.total })), baseline: "—", compare: "—", goal: "—"},
		{figure: "    exec → main: process start, runtime, paging", value: fmtDur(toMain - inits), baseline: "—", compare: "—", goal: "—"},
		{figure: "    exec → main: package init (GODEBUG=inittrace=1)", value: fmtDur(inits), baseline: "—", compare: strings.Join(top, ", "), goal: "—"},
		{figure: "    main → policy ready (compile beside the runtime loop)", value: fmtDur(med(func(t trace) time.Duration { return t.ready })), baseline: "—",
			compare: "of which compile " + fmtDur(med(func(t trace) time.Duration { return t.policy })), goal: "—"},
		{figure: "    first decision (dry run: analyse, decide, answer)", value: fmtDur(med(func(t trace) time.Duration { return t.decision })), baseline: "—", compare: "—", goal: "—"},
	}, nil
}

// traceOnce runs one traced cold start and reads its parts from the logs.
func traceOnce(ctx context.Context, gateway string, env []string, payload []byte) (trace, error) {
	e, err := fcemu.New(fcemu.Config{Initializer: initializer})
	if err != nil {
		return trace{}, err
	}
	defer e.Close()
	p, err := e.Start(ctx, gateway, env)
	if err != nil {
		return trace{}, err
	}
	defer p.Close()
	resp, err := e.Invoke(ctx, fcemu.Invocation{Payload: payload})
	total := time.Since(p.Started())
	if err != nil {
		return trace{}, err
	}
	if resp.Error != nil {
		return trace{}, resp.Error
	}
	// The audit record is written before the answer is posted, but may
	// still be in the pipe.
	if err := p.WaitLog(ctx, `"msg":"audit"`); err != nil {
		return trace{}, err
	}
	return parseTrace(total, p.Started(), p.Logs())
}

// parseTrace reads inittrace lines and the JSON records of one run.
func parseTrace(total time.Duration, started time.Time, logs []byte) (trace, error) {
	t := trace{total: total, pkgs: map[string]time.Duration{}}
	var main time.Time
	sc := bufio.NewScanner(bytes.NewReader(logs))
	for sc.Scan() {
		line := sc.Bytes()
		if m := initLine.FindSubmatch(line); m != nil {
			ms, _ := strconv.ParseFloat(string(m[2]), 64)
			d := time.Duration(ms * float64(time.Millisecond))
			t.pkgs[string(m[1])] += d
			t.inits += d
			continue
		}
		var rec struct {
			Msg        string  `json:"msg"`
			Main       int64   `json:"main"`
			PolicyMs   float64 `json:"policyMs"`
			ReadyMs    float64 `json:"readyMs"`
			DurationMs float64 `json:"durationMs"`
		}
		if json.Unmarshal(line, &rec) != nil {
			continue
		}
		switch rec.Msg {
		case "policy ready":
			main = time.Unix(0, rec.Main)
			t.policy = time.Duration(rec.PolicyMs * float64(time.Millisecond))
			t.ready = time.Duration(rec.ReadyMs * float64(time.Millisecond))
		case "audit":
			t.decision = time.Duration(rec.DurationMs * float64(time.Millisecond))
		}
	}
	if main.IsZero() || len(t.pkgs) == 0 || t.decision == 0 {
		tail := logs[max(0, len(logs)-3000):]
		return t, fmt.Errorf("want an init trace (%d packages), a \"policy ready\" record (%v) and an audit record (%v) in the logs, ending:\n%s",
			len(t.pkgs), !main.IsZero(), t.decision != 0, tail)
	}
	t.toMain = main.Sub(started)
	return t, nil
}

// ---- through local mode --------------------------------------------------

// gatewayRuns measures, with the gateway in local mode in front of the
// zero-latency simulator: the overhead over a direct SDK call, the
// throughput at 64 clients, and the peak RSS with 200 requests in flight.
func gatewayRuns(ctx context.Context, s settings, work, gateway, ehpcsim string) ([]row, error) {
	// The simulator runs in a process of its own, as E-HPC does: the
	// direct SDK call then crosses a process boundary as a real caller's
	// would, and the gateway adds exactly one hop. (In the bench's own
	// process the direct call would skip the cross-process wake-ups every
	// real call pays, and charge them to the gateway.)
	endpoint, stopSim, err := startSimulator(ctx, ehpcsim, filepath.Join(work, "nodes"))
	if err != nil {
		return nil, err
	}
	defer stopSim()
	policies, err := harness.WritePolicies(filepath.Join(work, "policies"))
	if err != nil {
		return nil, err
	}
	idp, err := harness.NewIDP(work)
	if err != nil {
		return nil, err
	}
	token, err := idp.Token(harness.User)
	if err != nil {
		return nil, err
	}
	direct, err := harness.NewDirect(endpoint)
	if err != nil {
		return nil, err
	}
	cfg := harness.LocalConfig{Binary: gateway, Endpoint: endpoint, Policies: policies, IDP: idp,
		Env: []string{"GOMAXPROCS=" + strconv.Itoa(min(2, runtime.NumCPU()))}}
	gw, err := harness.StartLocal(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer gw.Close()
	client := harness.NewClient(gw.Base, 256)
	viaGateway := func(cmd string) error {
		status, res, raw, err := client.Do(ctx, "POST", "/v1/commands", token,
			map[string]any{"clusterId": harness.Cluster, "command": cmd, "wait": false})
		if err != nil {
			return err
		}
		if status != 202 || res.CommandID == "" {
			return fmt.Errorf("gateway answered %d: %.300s", status, raw)
		}
		return nil
	}
	dryRun := func(cmd string) error {
		status, _, raw, err := client.Do(ctx, "POST", "/v1/commands", token,
			map[string]any{"clusterId": harness.Cluster, "command": cmd, "dryRun": true})
		if err == nil && status != 200 {
			err = fmt.Errorf("dry run answered %d: %.300s", status, raw)
		}
		return err
	}
	viaSDK := func(cmd string) error {
		_, _, err := direct.Invoke(harness.Cluster, cmd)
		return err
	}

	// Overhead: sequential, alternating, after a warm-up of each.
	logf("gateway overhead: %d sequential requests each way", s.overhead)
	for i := range 20 {
		if err := viaGateway(fmt.Sprintf("echo warm-%d", i)); err != nil {
			return nil, err
		}
		if err := viaSDK(fmt.Sprintf("echo warm-sdk-%d", i)); err != nil {
			return nil, err
		}
	}
	var tg, td, tdry []time.Duration
	timed := func(f func(string) error, cmd string, dst *[]time.Duration) error {
		t0 := time.Now()
		err := f(cmd)
		*dst = append(*dst, time.Since(t0))
		return err
	}
	for i := range s.overhead {
		// Alternate which goes first, so neither always follows the other.
		first, second := func() error { return timed(viaGateway, fmt.Sprintf("echo overhead-%d", i), &tg) },
			func() error { return timed(viaSDK, fmt.Sprintf("echo overhead-sdk-%d", i), &td) }
		if i%2 == 1 {
			first, second = second, first
		}
		if err := errors.Join(first(), second(), timed(dryRun, fmt.Sprintf("echo dry-%d", i), &tdry)); err != nil {
			return nil, err
		}
	}
	added := median(tg) - median(td)
	rows := []row{{
		figure: "request, POST /v1/commands wait:false (p50, one ES256 token, verified once)", value: fmtDur(median(tg)),
		baseline: fmtDur(median(td)) + " direct SDK call", compare: "+" + fmtDur(added), goal: "≤ +1 ms", pass: passed(added <= time.Millisecond),
	}}
	rows = append(rows, row{figure: "  same, p99", value: fmtDur(pct(tg, 0.99)), baseline: fmtDur(pct(td, 0.99)), compare: "+" + fmtDur(pct(tg, 0.99)-pct(td, 0.99)), goal: "—"})
	rows = append(rows, row{figure: "  dry run through the gateway (no E-HPC call), p50", value: fmtDur(median(tdry)), baseline: "—", compare: "—", goal: "—"})

	// Throughput at 64 clients: the gateway vs the simulator alone.
	logf("throughput: 64 clients, %v each way", s.throughput)
	gr, gerr := load(ctx, 64, s.throughput, viaGateway)
	dr, derr := load(ctx, 64, s.throughput, viaSDK)
	if gerr != nil || derr != nil {
		return rows, errors.Join(gerr, derr)
	}
	rows = append(rows, row{
		figure: fmt.Sprintf("throughput, 64 clients, %d cores (requests/s)", runtime.NumCPU()), value: fmt.Sprintf("%.0f", gr),
		baseline: fmt.Sprintf("%.0f direct SDK", dr), compare: fmt.Sprintf("%.0f%%", 100*gr/dr), goal: "—",
	})

	// Peak RSS with 200 requests in flight, on a fresh gateway.
	gw.Close()
	gw2, err := harness.StartLocal(ctx, cfg)
	if err != nil {
		return rows, err
	}
	defer gw2.Close()
	idle, err := harness.PeakRSS(gw2.PID())
	if err != nil {
		return rows, err
	}
	logf("peak RSS: 200 requests in flight")
	client2 := harness.NewClient(gw2.Base, 256)
	var wg sync.WaitGroup
	var failed atomic.Int64
	var firstErr atomic.Value
	for i := range 200 {
		wg.Go(func() {
			status, res, raw, err := client2.Do(ctx, "POST", "/v1/commands", token,
				map[string]any{"clusterId": harness.Cluster, "command": fmt.Sprintf("sleep 2; echo inflight-%d", i), "wait": 10})
			if err == nil && (status != 200 || res.Status != "succeeded") {
				err = fmt.Errorf("%d %.200s", status, raw)
			}
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err)
			}
		})
	}
	wg.Wait()
	peak, err := harness.PeakRSS(gw2.PID())
	if err != nil {
		return rows, err
	}
	note := "all 200 succeeded"
	if n := failed.Load(); n > 0 {
		note = fmt.Sprintf("%d failed: %v", n, firstErr.Load())
	}
	rows = append(rows, row{
		figure: "peak RSS (VmHWM), 200 requests in flight", value: fmtMB(peak), baseline: fmtMB(idle) + " idle",
		compare: note, goal: "≤ 64 MB", pass: passed(peak <= 64<<20 && failed.Load() == 0),
	})
	return rows, nil
}

// startSimulator starts the ehpcsim binary on a free loopback port with
// the harness cluster of one node, and returns its endpoint.
func startSimulator(ctx context.Context, bin, dir string) (string, func(), error) {
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.CommandContext(ctx, bin, "--listen", addr, "--cluster", harness.Cluster, "--nodes", "1", "--dir", dir, "--log-level", "error")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait() }
	endpoint := "http://" + addr
	// Any answer (an unsigned request is refused) means it serves.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(endpoint + "/"); err == nil {
			resp.Body.Close()
			return endpoint, stop, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop()
			return "", nil, errors.New("ehpcsim: not serving after 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// load runs clients concurrent callers of f for d and returns the
// successful calls per second; any failure is an error.
func load(ctx context.Context, clients int, d time.Duration, f func(string) error) (float64, error) {
	var n, failed atomic.Int64
	var first atomic.Value
	var wg sync.WaitGroup
	stop := time.Now().Add(d)
	began := time.Now()
	var seq atomic.Int64
	for range clients {
		wg.Go(func() {
			for time.Now().Before(stop) && ctx.Err() == nil {
				if err := f(fmt.Sprintf("true tp-%d", seq.Add(1))); err != nil {
					failed.Add(1)
					first.CompareAndSwap(nil, err)
					continue
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		return 0, fmt.Errorf("%d failed calls, first: %v", failed.Load(), first.Load())
	}
	return float64(n.Load()) / time.Since(began).Seconds(), nil
}

// ---- package size --------------------------------------------------------

// sizes builds the FC code packages of the gateway and of hello-world.
func sizes(ctx context.Context, work string) ([]row, error) {
	logf("code package sizes")
	gw, err := fczip.Package(ctx, "", "./function", filepath.Join(work, "code.zip"))
	if err != nil {
		return nil, err
	}
	hw, err := fczip.Package(ctx, "", "./test/fcemu/hello", filepath.Join(work, "hello.zip"))
	if err != nil {
		return nil, err
	}
	return []row{
		{figure: "code.zip (linux/amd64)", value: fmtMB(int64(gw.ZipSize)), baseline: fmtMB(int64(hw.ZipSize)) + " hello-world",
			compare: fmt.Sprintf("%.1f×", float64(gw.ZipSize)/float64(hw.ZipSize)), goal: "≤ 10 MB", pass: passed(gw.ZipSize <= 10<<20)},
		{figure: "binary, stripped (-s -w)", value: fmtMB(int64(gw.BinarySize)), baseline: fmtMB(int64(hw.BinarySize)) + " hello-world",
			compare: fmt.Sprintf("%.1f×", float64(gw.BinarySize)/float64(hw.BinarySize)), goal: "—"},
	}, nil
}

// ---- helpers -------------------------------------------------------------

func median(d []time.Duration) time.Duration { return pct(d, 0.5) }

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(int(p*float64(len(s))), len(s)-1)]
}

func fmtMicros(us float64) string {
	if us >= 1000 {
		return fmt.Sprintf("%.2f ms", us/1000)
	}
	return fmt.Sprintf("%.0f µs", us)
}

func fmtDur(d time.Duration) string { return fmtMicros(float64(d.Nanoseconds()) / 1e3) }

func fmtMB(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

func passed(ok bool) *bool { return &ok }

func verdict(p *bool) string {
	switch {
	case p == nil:
		return ""
	case *p:
		return "pass"
	default:
		return "FAIL"
	}
}

func printTable(w io.Writer, rows []row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tvalue\tbaseline\tcompared\tgoal\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.figure, r.value, r.baseline, r.compare, r.goal, verdict(r.pass))
	}
	tw.Flush()
}

func printMarkdown(w io.Writer, rows []row) {
	fmt.Fprintln(w, "| figure | value | baseline | compared | goal | |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- |")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", r.figure, r.value, r.baseline, r.compare, r.goal, verdict(r.pass))
	}
}
