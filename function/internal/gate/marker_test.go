package gate

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hpcgate/hpcgate/function/internal/audit"
	"github.com/hpcgate/hpcgate/function/internal/ehpc"
	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/function/internal/shellscan"
)

// markerLine is the last line of a marked command.
var markerLine = regexp.MustCompile(`\n# hpcgate:[A-Z2-7]{26,}$`)

// newScanGate is a gate with the real shell analyser, so that commands
// are marked as in production.
func newScanGate(cmd *fakeCmd, logs *bytes.Buffer) *Gate {
	return New(&fakeAuth{decide: allow}, cmd, Options{
		Region: "cn-hangzhou", Account: "123456", MaxTimeout: 3600, MaxNodes: 4,
		DefaultWait: 5 * time.Second, MaxWait: 30 * time.Second, DeadlineSlack: time.Second,
		Analyze: shellscan.Analyze, Logger: audit.NewLogger(logs, 0),
	})
}

// checkInert asserts that the marker line after canonical changes no fact
// of the analysis but the comment feature, by analysing the marked text
// independently of mark's own check.
func checkInert(t *testing.T, an hpcgate.Analysis, marked string) {
	t.Helper()
	got, err := shellscan.Analyze(marked)
	if err != nil {
		t.Fatalf("marked command %q rejected: %v", marked, err)
	}
	if got.Canonical != marked {
		t.Errorf("marked command is not canonical:\n%q\n%q", marked, got.Canonical)
	}
	if !slices.Contains(got.Features, commentFeature) {
		t.Errorf("marked command %q: features %v lack %q", marked, got.Features, commentFeature)
	}
	want := an
	want.Canonical = marked
	want.Features = slices.DeleteFunc(slices.Clone(an.Features), func(f string) bool { return f == commentFeature })
	got.Features = slices.DeleteFunc(got.Features, func(f string) bool { return f == commentFeature })
	if !reflect.DeepEqual(got, want) {
		t.Errorf("marker changes the analysis of %q:\n got %+v\nwant %+v", an.Canonical, got, want)
	}
}

func TestMarkIsInert(t *testing.T) {
	g := newScanGate(&fakeCmd{}, &bytes.Buffer{})
	for name, cmd := range map[string]string{
		"simple":                     "squeue -u alice",
		"sequence":                   "cd /data && ls -l; echo done",
		"trailing comment":           "sinfo # show the partitions",
		"background":                 "sleep 10 &",
		"heredoc":                    "cat <<EOF > /tmp/out\n$(date) is run, this is data\nEOF",
		"quoted heredoc":             "cat <<'EOF'\n$(rm x) is data\nEOF",
		"heredoc dash":               "cat <<-EOF\n\tindented\n\tEOF",
		"two heredocs":               "cat <<A; cat <<B\na\nA\nb\nB",
		"heredoc in pipeline":        "cat <<EOF | grep x\nx\nEOF",
		"here-string":                "grep x <<< 'rm -rf /'",
		"heredoc to shell":           "bash <<EOF\necho hi\nEOF",
		"function definition":        "f() { echo in f; }; f",
		"if":                         "if true; then echo yes; else echo no; fi",
		"for loop":                   "for i in 1 2 3; do echo $i; done",
		"case":                       "case $x in a) echo a ;; *) echo other ;; esac",
		"subshell":                   "(cd /tmp && ls)",
		"single-quoted multiline":    "echo 'line one\nline two'",
		"double-quoted multiline":    "echo \"line one\nline two\"",
		"backslash at end of word":   `echo a\\`,
		"escaped newline inside":     "echo a \\\n b",
		"comment only after command": "ls\n# a note",
		"arithmetic":                 "echo $((1 + 2))",
	} {
		t.Run(name, func(t *testing.T) {
			an, err := shellscan.Analyze(cmd)
			if err != nil {
				t.Fatal(err)
			}
			sent, marker, why := g.mark(an, "ehpc-hz-abc", "user:alice")
			if marker == "" {
				t.Fatalf("not marked (%s): %q", why, an.Canonical)
			}
			if sent != an.Canonical+"\n# "+marker || !markerLine.MatchString(sent) {
				t.Fatalf("sent %q, want the canonical form and the marker line", sent)
			}
			checkInert(t, an, sent)
		})
	}
}

// TestMarkIsInertOnSeeds marks every command of the analyser's fuzz seed
// corpus that it accepts.
func TestMarkIsInertOnSeeds(t *testing.T) {
	dir := filepath.Join("..", "shellscan", "testdata", "fuzz", "FuzzAnalyze")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Skipf("no seed corpus: %v", err)
	}
	g := newScanGate(&fakeCmd{}, &bytes.Buffer{})
	marked := 0
	for _, ent := range entries {
		b, err := os.ReadFile(filepath.Join(dir, ent.Name()))
		if err != nil {
			t.Fatal(err)
		}
		cmd, ok := seedString(string(b))
		if !ok {
			continue
		}
		an, err := shellscan.Analyze(cmd)
		if err != nil {
			continue
		}
		t.Run(ent.Name(), func(t *testing.T) {
			sent, marker, why := g.mark(an, "ehpc-hz-abc", "user:alice")
			if marker == "" {
				if why == unmarkedTooLong {
					return
				}
				t.Fatalf("not marked (%s): %q", why, an.Canonical)
			}
			marked++
			checkInert(t, an, sent)
		})
	}
	if marked == 0 {
		t.Fatal("no seed was marked")
	}
	t.Logf("%d seeds marked", marked)
}

// seedString decodes a one-string corpus file of go test fuzz v1.
func seedString(file string) (string, bool) {
	header, body, ok := strings.Cut(strings.TrimSpace(file), "\n")
	if !ok || header != "go test fuzz v1" {
		return "", false
	}
	lit, ok := strings.CutPrefix(strings.TrimSpace(body), "string(")
	if !ok {
		return "", false
	}
	s, err := strconv.Unquote(strings.TrimSuffix(lit, ")"))
	return s, err == nil
}

func TestMarkRefusesWhatItCannotProve(t *testing.T) {
	long, err := shellscan.Analyze("echo " + strings.Repeat("a", hpcgate.MaxCommandLen-20))
	if err != nil {
		t.Fatal(err)
	}
	if sent, marker, why := newScanGate(&fakeCmd{}, &bytes.Buffer{}).mark(long, "ehpc-hz-abc", "user:alice"); sent != long.Canonical || marker != "" || why != unmarkedTooLong {
		t.Errorf("a command near the length limit: sent %d chars, marker %q, why %q; want it unmarked as too long", len(sent), marker, why)
	}
	// The stand-in analyser gives the marked text other facts.
	an, err := analyze("squeue")
	if err != nil {
		t.Fatal(err)
	}
	if sent, marker, why := newGate(&fakeAuth{decide: allow}, &fakeCmd{}, &bytes.Buffer{}).mark(an, "ehpc-hz-abc", "user:alice"); sent != an.Canonical || marker != "" || why != unmarkedChanged {
		t.Errorf("facts changed: sent %q, marker %q, why %q; want it unmarked", sent, marker, why)
	}
}

func TestMarkersAreUnique(t *testing.T) {
	an, err := shellscan.Analyze("squeue")
	if err != nil {
		t.Fatal(err)
	}
	g := newScanGate(&fakeCmd{}, &bytes.Buffer{})
	seen := map[string]bool{}
	for range 1000 {
		_, m, _ := g.mark(an, "ehpc-hz-abc", "user:alice")
		if m == "" || seen[m] {
			t.Fatalf("marker %q empty or repeated", m)
		}
		seen[m] = true
	}
}

// listed answers FindMarked as E-HPC would after accepting every command
// cmd was asked to invoke: the one carrying the marker, if any.
func listed(cmd *fakeCmd) func(marker string) (ehpc.MarkSearch, error) {
	return func(marker string) (ehpc.MarkSearch, error) {
		s := ehpc.MarkSearch{Total: len(cmd.invoked)}
		for i, r := range cmd.invoked {
			s.Searched++
			if ehpc.MarkedBy(r.Command, marker) {
				s.Command = ehpc.Command{CommandID: "c-found" + strconv.Itoa(i), Content: r.Command}
				return s, nil
			}
		}
		return s, nil
	}
}

func TestRunRecoversLostAnswer(t *testing.T) {
	lost := func(code string, retryable bool) func(hpcgate.Request) (ehpc.Invocation, error) {
		return func(hpcgate.Request) (ehpc.Invocation, error) {
			return ehpc.Invocation{}, &hpcgate.Error{Code: code, Status: http.StatusBadGateway, Retryable: retryable, Source: hpcgate.SourceEHPC,
				Message: "the command may have started: look it up before sending it again", Err: errors.New("connection reset")}
		}
	}
	unlisted := func(string) (ehpc.MarkSearch, error) { return ehpc.MarkSearch{Searched: 7, Total: 7}, nil }
	const canon = "squeue -u alice"
	tests := map[string]struct {
		command     string
		invoke      func(hpcgate.Request) (ehpc.Invocation, error)
		find        func(cmd *fakeCmd) func(string) (ehpc.MarkSearch, error)
		wait        *time.Duration
		wantStatus  string
		wantHTTP    int
		wantID      string
		wantCode    string
		wantMessage string // in the error message
		wantLookups int
		wantMarked  bool
		wantRetry   bool
	}{
		"dropped after execution: found, then waited": {
			invoke: lost(hpcgate.CodeOutcomeUnknown, false), find: listed,
			wantStatus: hpcgate.StatusSucceeded, wantHTTP: 200, wantID: "c-found0", wantLookups: 1, wantMarked: true},
		"unreadable answer: found, not waited": {
			invoke: lost(hpcgate.CodeOutcomeUnknown, false), find: listed, wait: dur(0),
			wantStatus: hpcgate.StatusAccepted, wantHTTP: 202, wantID: "c-found0", wantLookups: 1, wantMarked: true},
		"timeout after the command was sent: found": {
			invoke: lost(hpcgate.CodeUpstreamTimeout, false), find: listed, wait: dur(0),
			wantStatus: hpcgate.StatusAccepted, wantHTTP: 202, wantID: "c-found0", wantLookups: 1, wantMarked: true},
		"not listed: the outcome stays unknown": {
			invoke: lost(hpcgate.CodeOutcomeUnknown, false), find: func(*fakeCmd) func(string) (ehpc.MarkSearch, error) { return unlisted },
			wantStatus: hpcgate.StatusError, wantHTTP: 502, wantCode: hpcgate.CodeOutcomeUnknown,
			wantMessage: "lists no command carrying the marker", wantLookups: findTries, wantMarked: true},
		"look-up fails: the outcome stays unknown": {
			invoke: lost(hpcgate.CodeOutcomeUnknown, false),
			find: func(*fakeCmd) func(string) (ehpc.MarkSearch, error) {
				return func(string) (ehpc.MarkSearch, error) {
					return ehpc.MarkSearch{}, &hpcgate.Error{Code: "Throttling", Status: 503, Retryable: true, Source: hpcgate.SourceEHPC}
				}
			},
			wantStatus: hpcgate.StatusError, wantHTTP: 502, wantCode: hpcgate.CodeOutcomeUnknown,
			wantMessage: "in ListCommands failed (Throttling)", wantLookups: findTries, wantMarked: true},
		"too long for a marker: cannot be recovered": {
			command: "echo " + strings.Repeat("x", hpcgate.MaxCommandLen-20),
			invoke:  lost(hpcgate.CodeOutcomeUnknown, false), find: listed,
			wantStatus: hpcgate.StatusError, wantHTTP: 502, wantCode: hpcgate.CodeOutcomeUnknown,
			wantMessage: "its CommandId cannot be recovered: the command is too long to carry a marker"},
		"an error answer is final: no look-up": {
			invoke: func(hpcgate.Request) (ehpc.Invocation, error) {
				return ehpc.Invocation{}, &hpcgate.Error{Code: "ClusterNotFound", Status: 404, Source: hpcgate.SourceEHPC, Message: "no such cluster"}
			},
			find: listed, wantStatus: hpcgate.StatusError, wantHTTP: 404, wantCode: "ClusterNotFound", wantMarked: true},
		"nothing sent before the deadline: no look-up": {
			invoke: lost(hpcgate.CodeUpstreamTimeout, true), find: listed,
			wantStatus: hpcgate.StatusError, wantHTTP: 502, wantCode: hpcgate.CodeUpstreamTimeout, wantMarked: true, wantRetry: true},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			cmd := &fakeCmd{invoke: tt.invoke, wait: finished}
			cmd.find = tt.find(cmd)
			command := cmp.Or(tt.command, canon)
			res := newScanGate(cmd, &logs).Run(t.Context(), Call{Principal: user, Trigger: hpcgate.TriggerHTTP,
				Request: hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: command}, Wait: tt.wait})

			if len(cmd.invoked) != 1 {
				t.Fatalf("invoked %d times, want once", len(cmd.invoked))
			}
			sent := cmd.invoked[0].Command
			if got := markerLine.MatchString(sent); got != tt.wantMarked {
				t.Errorf("sent %.60q…: marked %v, want %v", sent, got, tt.wantMarked)
			}
			if res.Request.Command != command || strings.Contains(res.Request.Command, "hpcgate:") {
				t.Errorf("result shows %.60q…, want the canonical form without the marker", res.Request.Command)
			}
			if res.Status != tt.wantStatus || HTTPStatus(res) != tt.wantHTTP || res.CommandID != tt.wantID {
				t.Errorf("result %s/%d commandId %q, want %s/%d %q (error %+v)", res.Status, HTTPStatus(res), res.CommandID, tt.wantStatus, tt.wantHTTP, tt.wantID, res.Error)
			}
			if tt.wantCode != "" {
				if res.Error == nil || res.Error.Code != tt.wantCode || res.Error.Retryable != tt.wantRetry ||
					!strings.Contains(res.Error.Message, tt.wantMessage) {
					t.Errorf("error %+v, want %s with %q", res.Error, tt.wantCode, tt.wantMessage)
				}
			} else if res.Error != nil {
				t.Errorf("error %+v, want none", res.Error)
			}
			if len(cmd.markers) != tt.wantLookups {
				t.Errorf("%d look-ups, want %d", len(cmd.markers), tt.wantLookups)
			}
			for _, m := range cmd.markers {
				if !strings.HasSuffix(sent, "\n# "+m) {
					t.Errorf("looked up %q, which is not the marker sent", m)
				}
			}
			if tt.wantStatus == hpcgate.StatusSucceeded && !slices.Equal(cmd.waitIDs, []string{tt.wantID}) {
				t.Errorf("waited for %v, want the recovered %s", cmd.waitIDs, tt.wantID)
			}
			if n := strings.Count(logs.String(), `"msg":"audit"`); n != 1 {
				t.Errorf("audit records = %d, want 1", n)
			}
			if tt.wantID != "" && !strings.Contains(logs.String(), `"commandId":"`+tt.wantID+`"`) {
				t.Errorf("audit record lacks the recovered commandId:\n%s", logs.String())
			}
		})
	}
}

func TestRecoveryRespectsTheDeadline(t *testing.T) {
	cmd := &fakeCmd{wait: finished, invoke: func(hpcgate.Request) (ehpc.Invocation, error) {
		return ehpc.Invocation{}, &hpcgate.Error{Code: hpcgate.CodeOutcomeUnknown, Status: 502, Source: hpcgate.SourceEHPC, Message: "lost"}
	}}
	var findDeadline time.Time
	cmd.find = func(string) (ehpc.MarkSearch, error) { return ehpc.MarkSearch{}, nil }
	g := newScanGate(cmd, &bytes.Buffer{})
	g.cmd = deadlineRecorder{cmd, &findDeadline}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	res := g.Run(ctx, Call{Principal: user, Request: hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: "squeue"}, Wait: dur(0)})
	if res.Error == nil || res.Error.Code != hpcgate.CodeOutcomeUnknown {
		t.Fatalf("result %+v", res)
	}
	dl, _ := ctx.Deadline()
	if left := dl.Sub(findDeadline); left < 900*time.Millisecond {
		t.Errorf("look-up ends %s before the deadline, want at least the 1s slack", left)
	}

	// No time left: no look-up, and the message says so.
	cmd.markers = nil
	ctx, cancel = context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	res = g.Run(ctx, Call{Principal: user, Request: hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: "squeue"}, Wait: dur(0)})
	if res.Error == nil || !strings.Contains(res.Error.Message, "no time was left") || len(cmd.markers) != 0 {
		t.Errorf("result %+v after %d look-ups; want no look-up and a message saying so", res.Error, len(cmd.markers))
	}
}

type deadlineRecorder struct {
	*fakeCmd
	deadline *time.Time
}

func (d deadlineRecorder) FindMarked(ctx context.Context, cluster, marker string) (ehpc.MarkSearch, error) {
	*d.deadline, _ = ctx.Deadline()
	return d.fakeCmd.FindMarked(ctx, cluster, marker)
}

// BenchmarkMark measures what marking adds to each invocation: a marker
// from crypto/rand and one more analysis of the marked text.
func BenchmarkMark(b *testing.B) {
	for name, cmd := range map[string]string{
		"short":   "squeue -u alice",
		"heredoc": "cat <<EOF > /tmp/job.sh\n#!/bin/bash\n#SBATCH -N 2\nsrun hostname\nEOF\nsbatch /tmp/job.sh",
	} {
		an, err := shellscan.Analyze(cmd)
		if err != nil {
			b.Fatal(err)
		}
		g := newScanGate(&fakeCmd{}, &bytes.Buffer{})
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, m, _ := g.mark(an, "ehpc-hz-abc", "user:alice"); m == "" {
					b.Fatal("not marked")
				}
			}
		})
	}
}
