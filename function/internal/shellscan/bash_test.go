package shellscan

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// unquoteCases are words whose unquoted form the analyser computes
// itself; bash is the reference.
var unquoteCases = []string{
	`r''m`, `\rm`, `"r"m`, `'r'"m"`, `$'\x72m'`, `$'\162\155'`, `$'\u0072m'`, `$'\U0000006D'`,
	`$'rm\0junk'`, `$'rm\x00junk'`, `$'r\u0000m'`, `$'a\cAb'`, `$'a\c?b'`, `$'a\c@b'`, `$'\c\\x'`, `$'x\c'`,
	`$'\a\b\e\E\f\n\r\t\v'`, `$'\\\'\"\?'`, `$'\z\q'`, `$'\x'`, `$'\xg'`, `$'\x4'`, `$'\x414'`, `$'\x{41}B'`,
	`$'\x{4142}'`, `$'\x{}z'`, `$'\u00e9'`, `$'\U0001F600'`, `$'\u'`, `$'\uZ'`, `$'\777'`, `$'\08'`, `$'\1\12\123\1234'`,
	`"a\$b\"c\\d\e\'f"`, `"\x41"`, `"a\
b"`, `a\
b`, `\\\\`, `a\ b`, `'\n'`, `$"loc"`, `"$'x'"`, `'"'`, `"'"`, `é\é`, `x\é`, `x'y'"z"$'w'`,
}

func TestUnquoteMatchesBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		skipOrFail(t, "bash not found")
	}
	for _, w := range unquoteCases {
		a, err := Analyze("printf %s\\\\0 " + w)
		if err != nil {
			t.Errorf("Analyze(%q): %v", w, err)
			continue
		}
		got := a.Simple[0].Argv[2:]
		cmd := exec.Command(bash, "-c", a.Canonical)
		cmd.Env = []string{"LC_ALL=C.UTF-8", "PATH=/usr/bin:/bin"}
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("bash -c %q: %v", a.Canonical, err)
			continue
		}
		want := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
		if !slices.Equal(got, want) {
			t.Errorf("word %s: analyser says %q, bash says %q", w, got, want)
		}
	}
}
