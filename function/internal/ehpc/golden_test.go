package ehpc

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/hpcgate/hpcgate/test/goldenfile"
)

// TestOutcomeGolden normalizes captured-shape answers into an Outcome and
// compares its JSON with a golden file.
func TestOutcomeGolden(t *testing.T) {
	tests := map[string]struct{ status, results string }{
		"mixed": {"status-mixed.json", "results-mixed.json"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st, err := os.ReadFile(filepath.Join("testdata", tc.status))
			if err != nil {
				t.Fatal(err)
			}
			rs, err := os.ReadFile(filepath.Join("testdata", tc.results))
			if err != nil {
				t.Fatal(err)
			}
			c, _ := newCanned(t, func(_ int, q url.Values, w http.ResponseWriter, _ *http.Request) {
				if q.Get("Action") == ActionListInvocationStatus {
					answer(w, 200, string(st))
					return
				}
				answer(w, 200, string(rs))
			})
			out, err := c.Results(t.Context(), "ehpc-hz-abc", "c-hz01v8x80o3abcd")
			if err != nil {
				t.Fatal(err)
			}
			goldenfile.JSON(t, filepath.Join("testdata", name+".golden.json"), out)
		})
	}
}
