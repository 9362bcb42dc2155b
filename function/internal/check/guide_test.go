package check

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hpcgate/hpcgate/function/internal/shellscan"
)

// TestGuideShellFeatures holds the feature table of policies/README.md to
// the analyser: every feature is listed once, and each example reports its
// feature.
func TestGuideShellFeatures(t *testing.T) {
	doc, err := os.ReadFile("../../../policies/README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(doc), "\n## Shell features\n")
	section, _, _ = strings.Cut(section, "\n## ")
	row := regexp.MustCompile("(?m)^\\| `([a-z-]+)` \\| `(.+)` \\|$")
	var listed []string
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		feature, example := m[1], strings.ReplaceAll(m[2], `\|`, "|")
		listed = append(listed, feature)
		a, err := shellscan.Analyze(example)
		if err != nil {
			t.Errorf("%s: example %q: %v", feature, example, err)
			continue
		}
		if !slices.Contains(a.Features, feature) {
			t.Errorf("%s: example %q reports %q", feature, example, a.Features)
		}
	}
	if want := shellscan.Features(); !slices.Equal(listed, want) {
		t.Errorf("the guide lists\n%q\nthe analyser reports\n%q", listed, want)
	}
}
