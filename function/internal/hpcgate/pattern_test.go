package hpcgate

import (
	"regexp"
	"strings"
	"testing"
)

// TestPatternMatchesCountedForm: each bounded pattern the gate uses
// matches exactly what its counted form does, at and around its bounds.
func TestPatternMatchesCountedForm(t *testing.T) {
	for _, tc := range []struct {
		counted, plus, prefix string
		max                   int
		char                  string
	}{
		{`^ehpc-[A-Za-z0-9-]{1,64}$`, `^ehpc-[A-Za-z0-9-]+$`, "ehpc-", 69, "a"},
		{`^i-[A-Za-z0-9]{1,64}$`, `^i-[A-Za-z0-9]+$`, "i-", 66, "Z"},
		{`^c-[A-Za-z0-9]{1,64}$`, `^c-[A-Za-z0-9]+$`, "c-", 66, "9"},
		{`^[A-Za-z0-9-]{1,128}$`, `^[A-Za-z0-9-]+$`, "", 128, "-"},
		{`^[a-z0-9]{1,40}$`, `^[a-z0-9]+$`, "", 40, "x"},
	} {
		want, got := regexp.MustCompile(tc.counted), MustPattern(tc.plus, tc.max)
		var cases []string
		for n := range tc.max + 3 {
			body := strings.Repeat(tc.char, n)
			cases = append(cases, tc.prefix+body, tc.prefix+body+"é", tc.prefix+body+"\n", tc.prefix+body+"_", "_"+tc.prefix+body)
		}
		matched := 0
		for _, s := range cases {
			if got.MatchString(s) != want.MatchString(s) {
				t.Errorf("%s: %q: bounded form says %v", tc.counted, s, got.MatchString(s))
			}
			if want.MatchString(s) {
				matched++
			}
		}
		if matched != tc.max-len(tc.prefix) {
			t.Errorf("%s: %d of the cases match, want %d", tc.counted, matched, tc.max-len(tc.prefix))
		}
	}
}
