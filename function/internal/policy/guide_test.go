package policy

import (
	"os"
	"strings"
	"testing"
)

// TestGuideConditionKeys: policies/README.md has a row with an example
// for every condition key.
func TestGuideConditionKeys(t *testing.T) {
	doc, err := os.ReadFile("../../../policies/README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(doc), "\n## Condition keys\n")
	section, _, _ = strings.Cut(section, "\n## ")
	for key := range conditionKeys {
		if !strings.Contains(section, "\n| `"+key+"` |") || !strings.Contains(section, `"`+key+`"`) {
			t.Errorf("the condition key table has no row with an example for %s", key)
		}
	}
}
