package shellscan

import (
	"bufio"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The oracle learns what bash starts from strace: every execve that bash
// itself makes (the shell or one of its forks that has not yet become
// another program), by path, whatever the path. What the programs bash
// starts go on to run is theirs, not bash's: `/bin/sh -c x` starts /bin/sh,
// which is the analysis's to list; x is the policy's to judge. Wrappers
// are the exception: the analysis lists what they run, so the oracle runs
// the real ones (timeout, env, xargs, find, …) and follows them too.
//
// The trace is written with -f -xx: every line is a pid and one syscall,
// strings in \xNN escapes, and a syscall interrupted by another process's
// line is split into "<unfinished ...>" and "<... name resumed>".

var (
	traceLine    = regexp.MustCompile(`^(\d+) +(.*)$`)
	traceResumed = regexp.MustCompile(`^<\.\.\. (\w+) resumed>`)
	traceCall    = regexp.MustCompile(`^(\w+)\(`)
	tracePath    = regexp.MustCompile(`^execve\("((?:\\x[0-9a-f]{2})*)"`)
	traceResult  = regexp.MustCompile(`\) += (-?\d+|\?)`)
)

// traceEvent is one execve or fork of one process.
type traceEvent struct {
	exec  bool   // execve, else a fork
	path  string // the execve's path
	child int    // the fork's new pid
	ok    bool   // the execve succeeded (or its result is unknown)
}

// bashExecs returns the paths bash (the first process traced, and its
// forks until they become another program) asked execve to run, in the
// order each process made them. A process that becomes a program follows
// accepts is followed as bash is.
func bashExecs(r io.Reader, follows func(path string) bool) []string {
	events := map[int][]traceEvent{}
	pending := map[int]traceEvent{}
	root := -1
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<24)
	for sc.Scan() {
		m := traceLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		rest := m[2]
		var ev traceEvent
		if r := traceResumed.FindStringSubmatch(rest); r != nil {
			p, ok := pending[pid]
			if !ok {
				continue
			}
			delete(pending, pid)
			ev = p
		} else if c := traceCall.FindStringSubmatch(rest); c != nil {
			switch c[1] {
			case "execve":
				ev.exec = true
				if p := tracePath.FindStringSubmatch(rest); p != nil {
					b, _ := hex.DecodeString(strings.ReplaceAll(p[1], `\x`, ""))
					ev.path = string(b)
				}
			case "clone", "clone3", "fork", "vfork":
			default:
				continue
			}
			if strings.HasSuffix(rest, "<unfinished ...>") {
				pending[pid] = ev
				continue
			}
		} else {
			continue
		}
		res := traceResult.FindStringSubmatch(rest)
		if res == nil {
			continue
		}
		if ev.exec {
			ev.ok = res[1] == "?" || res[1] == "0"
			if root < 0 {
				// The first execve is bash's own start.
				root = pid
				continue
			}
		} else {
			n, err := strconv.Atoi(res[1])
			if err != nil || n <= 0 {
				continue
			}
			ev.child = n
		}
		events[pid] = append(events[pid], ev)
	}
	// A process is followed until its first execve that succeeds of a
	// program not followed; a fork made while it is followed is too.
	var execs []string
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, ev := range events[pid] {
			if !ev.exec {
				queue = append(queue, ev.child)
				continue
			}
			execs = append(execs, ev.path)
			if ev.ok && !follows(ev.path) {
				break
			}
		}
	}
	return execs
}

// TestBashExecs reads a trace strace wrote for
//
//	ls /nonexist | cat; /bin/sh -c "true; /bin/true" & (cd /; ./bin/true); wait; /nonexistent/x; exec /bin/true
//
// with PATH=/usr/bin:/bin: the /bin/true that /bin/sh starts is not bash's.
func TestBashExecs(t *testing.T) {
	f, err := os.Open("testdata/oracle/trace.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := bashExecs(f, func(string) bool { return false })
	want := []string{"/usr/bin/ls", "/usr/bin/cat", "/bin/sh", "./bin/true", "/nonexistent/x", "/bin/true"}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("bashExecs = %q, want %q", got, want)
	}
	// Followed, /bin/sh's own /bin/true counts.
	f.Seek(0, io.SeekStart)
	got = bashExecs(f, func(p string) bool { return p == "/bin/sh" })
	want = append(want, "/bin/true")
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("bashExecs following /bin/sh = %q, want %q", got, want)
	}
}

// TestOracleSeesPaths makes sure the oracle sees programs bash starts by
// path, and only those bash starts.
func TestOracleSeesPaths(t *testing.T) {
	o := newOracle(t)
	for _, tc := range []struct {
		command   string
		want, not []string
	}{
		{command: "/bin/true x", want: []string{"/bin/true"}},
		{command: "cd /bin && ./true", want: []string{"./true"}},
		{command: "/nonexistent/x; touch a", want: []string{"/nonexistent/x", "touch"}},
		{command: "(exec /bin/true) & wait", want: []string{"/bin/true"}},
		{command: "nosuch", want: []string{"nosuch"}},
		{command: "/bin/sh -c 'touch a; /bin/true'", want: []string{"/bin/sh"}, not: []string{"touch", "/bin/true"}},
		// Real wrappers are followed: what they run counts.
		{command: "timeout 5 env -u x nice -n 1 touch a", want: []string{"timeout", "env", "nice", "touch"}},
		{command: "/usr/bin/env X=1 touch a", want: []string{"/usr/bin/env", "touch"}},
		{command: "find . -maxdepth 0 -exec touch a ';'", want: []string{"find", "touch"}},
		{command: "xargs", want: []string{"xargs", "echo"}},
		{command: "env -u {x,true} false", want: []string{"env", "true"}, not: []string{"false"}},
	} {
		got := o.run(t, tc.command).names()
		for _, w := range tc.want {
			if !slices.Contains(got, w) {
				t.Errorf("bash -c %q started %q; the oracle does not see %q", tc.command, got, w)
			}
		}
		for _, n := range tc.not {
			if slices.Contains(got, n) {
				t.Errorf("bash -c %q: the oracle counts %q, which bash did not start (%q)", tc.command, n, got)
			}
		}
	}
	// command -p looks in the standard directories: the program is the
	// touch the analysis names.
	if got := o.run(t, "command -p touch a").names(); len(got) != 1 || !lists([]string{"touch"}, got[0], "") || got[0] == "touch" {
		t.Errorf("bash -c 'command -p touch a' started %q, want touch from a standard directory", got)
	}
	// ~/x is the path bash expands it to; the analysis must list that.
	if got := o.run(t, "~/x").names(); len(got) != 1 || !strings.HasSuffix(got[0], "/work/x") {
		t.Errorf("bash -c '~/x' started %q, want its home's x", got)
	}
}

// TestOracleLeavesNothing makes sure no process of a run outlives it:
// real wrappers (setsid, timeout) leave bash's process group, and a run
// left behind by the thousand could exhaust the machine's processes.
func TestOracleLeavesNothing(t *testing.T) {
	o := newOracle(t)
	if !o.asUser {
		t.Skip("only a run as nobody has a PID namespace of its own (needs root)")
	}
	o.run(t, "setsid -f /bin/sleep 97; timeout 99 /bin/sleep 98 & (/bin/sleep 96 &); nohup /bin/sleep 95 &")
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if c := strings.ReplaceAll(string(b), "\x00", " "); strings.HasPrefix(c, "/bin/sleep 9") {
			t.Errorf("%s outlived its run: %s", filepath.Dir(p), c)
		}
	}
}
