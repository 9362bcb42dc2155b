package shellscan

import (
	"slices"
	"strings"
	"testing"
	"time"

	"mvdan.cc/sh/v3/syntax"
)

// typical is a short, realistic researcher command.
const typical = `squeue -u alice --format '%i %j %T' | head`

// realistic builds a long, realistic command of about n characters.
func realistic(n int) string {
	parts := []string{
		`squeue -u alice --format '%i %j %T %M %l' --states=RUNNING,PENDING | grep -v "COMPLETING" | head -n 20`,
		`sinfo -N -l --partition=gpu | awk '{print $1, $4}' | sort -u`,
		`if [[ -d /data/alice/run-42 ]]; then ls -la /data/alice/run-42/*.log 2>/dev/null | tail -n 5; fi`,
		`for j in 101 102 103; do scontrol show job "$j" | grep -E 'JobState|RunTime'; done`,
		`sacct -u alice --starttime=2024-01-01 --format=JobID,JobName%30,State,Elapsed,MaxRSS > /tmp/alice-sacct.txt`,
		`du -sh /data/alice/* 2>/dev/null | sort -h | tail -n 3 && df -h /data`,
	}
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		p := parts[i%len(parts)]
		if b.Len()+len(p)+1 > n {
			break
		}
		if b.Len() > 0 {
			b.WriteString("\n")
		}
		b.WriteString(p)
	}
	return b.String()
}

// benchAnalyze reports, beside the mean, the median and 99th percentile of
// single analyses, which a busy machine disturbs less than the mean.
func benchAnalyze(b *testing.B, cmd string) {
	b.ReportAllocs()
	b.SetBytes(int64(len(cmd)))
	var times []time.Duration
	for b.Loop() {
		start := time.Now()
		_, err := Analyze(cmd)
		times = append(times, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(times[len(times)*99/100].Nanoseconds()), "p99-ns")
}

func BenchmarkAnalyzeTypical(b *testing.B) { benchAnalyze(b, typical) }

func BenchmarkAnalyzeRealistic2048(b *testing.B) {
	cmd := realistic(MaxLength)
	if len(cmd) < MaxLength-120 {
		b.Fatalf("command is only %d bytes", len(cmd))
	}
	benchAnalyze(b, cmd)
}

// deep nests n levels of open+close around x, within the length limit.
func deep(open, close, x string, n int) string {
	return strings.Repeat(open, n) + x + strings.Repeat(close, n)
}

func benchDeep(b *testing.B, cmd string) {
	b.ReportAllocs()
	for b.Loop() {
		Analyze(cmd)
	}
}

func BenchmarkDeepCmdSubst(b *testing.B) { benchDeep(b, deep("$(", ")", "x", 680)) }
func BenchmarkDeepArithm(b *testing.B)   { benchDeep(b, "(("+deep("(", ")", "1", 1020)+"))") }
func BenchmarkDeepBlock(b *testing.B)    { benchDeep(b, deep("{ ", "; }", "x", 400)) }
func BenchmarkDeepSubshell(b *testing.B) { benchDeep(b, deep("(", ")", "x", 1020)) }
func BenchmarkDeepParam(b *testing.B)    { benchDeep(b, "echo "+deep("${a:-", "}", "x", 330)) }
func BenchmarkDeepIf(b *testing.B)       { benchDeep(b, deep("if x; then ", "; fi", "x", 130)) }
func BenchmarkLongPipeline(b *testing.B) { benchDeep(b, "a"+strings.Repeat("|a", 1020)) }
func BenchmarkLongSum(b *testing.B)      { benchDeep(b, "echo $(("+"1"+strings.Repeat("+1", 1000)+"))") }

func BenchmarkParseOnly(b *testing.B) {
	cmd := realistic(MaxLength)
	an := analysers.Get().(*analyser)
	b.ReportAllocs()
	for b.Loop() {
		an.parse(cmd)
	}
}

// BenchmarkPrintOnly prints the tree of a long command that is not
// canonical, as the first round of canonicalize does.
func BenchmarkPrintOnly(b *testing.B) {
	cmd := realistic(MaxLength)
	an := analysers.Get().(*analyser)
	f, err := an.parse(cmd)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		an.print(f, cmd)
	}
}

// BenchmarkScanOnly walks the tree of a long command.
func BenchmarkScanOnly(b *testing.B) {
	cmd := realistic(MaxLength)
	f, err := syntax.NewParser(syntax.Variant(syntax.LangBash), syntax.KeepComments(true)).Parse(strings.NewReader(cmd), "")
	if err != nil {
		b.Fatal(err)
	}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		s := newScan(cmd, buf)
		s.stmts(f.Stmts, f.Last, nil)
		buf = s.buf
		if s.err != nil {
			b.Fatal(s.err)
		}
	}
}

// BenchmarkAnalyzeOverParse times, in the same loop, one parse of a long
// realistic command and one analysis of it, and reports the ratio of their
// medians (issue 18: at most 2). A busy machine disturbs both alike.
func BenchmarkAnalyzeOverParse(b *testing.B) {
	cmd := realistic(MaxLength)
	p := syntax.NewParser(syntax.Variant(syntax.LangBash), syntax.KeepComments(true))
	var parses, analyses []time.Duration
	for b.Loop() {
		start := time.Now()
		if _, err := p.Parse(strings.NewReader(cmd), ""); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		if _, err := Analyze(cmd); err != nil {
			b.Fatal(err)
		}
		parses, analyses = append(parses, mid.Sub(start)), append(analyses, time.Since(mid))
	}
	slices.Sort(parses)
	slices.Sort(analyses)
	pm, am := parses[len(parses)/2], analyses[len(analyses)/2]
	b.ReportMetric(float64(pm.Nanoseconds()), "parse-p50-ns")
	b.ReportMetric(float64(am.Nanoseconds()), "analyze-p50-ns")
	b.ReportMetric(float64(am)/float64(pm), "analyze/parse")
}
