package shellscan

import (
	"reflect"
	"strings"
	"testing"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

// TestPrintBuf checks that the printer's output is read back the same
// however it arrives in pieces.
func TestPrintBuf(t *testing.T) {
	for _, tc := range []struct{ want, out string }{
		{"ls -l", "ls -l\n"},         // canonical
		{"ls -l", "ls -l"},           // no final newline
		{"ls  -l", "ls -l\n"},        // differs in the middle
		{"ls", "ls -l\n"},            // longer
		{"ls -l", "ls\n"},            // shorter
		{"ls\n", "ls\n"},             // want ends with a newline
		{"ls", "ls\n\n"},             // two newlines
		{"ls", "lsx"},                // differs where the newline goes
		{"ls", ""},                   // nothing printed
		{"", "\n"},                   // nothing wanted
		{"a\nb", "a\nb\n"},           // several lines
		{"a\tb", "a\tb\n"},           // tab
		{"é x", "é  x\n"},            // multibyte
		{"echo hi", "echo hi\n"},     // canonical, longer
		{"echo hi", "echo hi there"}, // prefix then more
	} {
		want := strings.TrimSuffix(tc.out, "\n")
		// Every split of out into up to three writes, empty ones too.
		for i := 0; i <= len(tc.out); i++ {
			for j := i; j <= len(tc.out); j++ {
				w := printBuf{want: tc.want}
				for _, p := range []string{tc.out[:i], tc.out[i:j], tc.out[j:]} {
					if n, err := w.Write([]byte(p)); n != len(p) || err != nil {
						t.Fatalf("Write(%q) = %d, %v", p, n, err)
					}
				}
				if got := w.text(); got != want {
					t.Fatalf("want %q, out %q split at %d,%d: text %q, want %q", tc.want, tc.out, i, j, got, want)
				}
			}
		}
	}
}

// TestAnalyzeLongNotCanonical covers long commands that need a second
// round of printing.
func TestAnalyzeLongNotCanonical(t *testing.T) {
	cmd := realistic(MaxLength)
	a, err := Analyze(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if a.Canonical == cmd || !strings.Contains(a.Canonical, ">/tmp/alice-sacct.txt") {
		t.Fatalf("canonical form not printed: %q", a.Canonical)
	}
	checkAnalysis(t, a)
	b, err := Analyze(a.Canonical)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("the canonical form has other facts:\n%+v\n%+v", a, b)
	}

	// A walk that fails in the second round fails the analysis.
	pad := strings.Repeat("echo  x\n", 64)
	for _, bad := range []string{
		pad + "echo @(a$b)",
		pad + deep("$(", ")", "x", 300),
	} {
		_, err := Analyze(bad)
		if err == nil {
			t.Fatalf("Analyze(%.20q…) accepted", bad)
		}
		checkError(t, err)
	}
}

// TestAnalyzeListsAreSeparate checks that appending to one list of an
// analysis changes no other.
func TestAnalyzeListsAreSeparate(t *testing.T) {
	a, err := Analyze("{ a 1; b 2; } >f; A=1 c 3 >g 2>h; declare x=1 y; let z=1")
	if err != nil {
		t.Fatal(err)
	}
	clone := func(s []hpcgate.SimpleCommand) []hpcgate.SimpleCommand {
		c := make([]hpcgate.SimpleCommand, len(s))
		for i, x := range s {
			c[i] = hpcgate.SimpleCommand{
				Argv:        append([]string{}, x.Argv...),
				Assignments: append([]string{}, x.Assignments...),
				Redirects:   append([]hpcgate.Redirect{}, x.Redirects...),
			}
		}
		return c
	}
	before := clone(a.Simple)
	for i := range a.Simple {
		s := &a.Simple[i]
		s.Argv = append(s.Argv, "X")
		s.Assignments = append(s.Assignments, "X=1")
		s.Redirects = append(s.Redirects, hpcgate.Redirect{Op: ">", Target: "X"})
	}
	for i, s := range a.Simple {
		n := len(before[i].Argv)
		if !reflect.DeepEqual(s.Argv[:n], before[i].Argv) ||
			!reflect.DeepEqual(s.Assignments[:len(before[i].Assignments)], before[i].Assignments) ||
			!reflect.DeepEqual(s.Redirects[:len(before[i].Redirects)], before[i].Redirects) {
			t.Fatalf("command %d changed when others grew: %+v, was %+v", i, s, before[i])
		}
	}
}
