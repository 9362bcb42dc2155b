package ehpc

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// listing answers ListCommands from n commands, newest first, the one at
// index hit carrying marker (hit < 0: none does).
func listing(n, hit int, marker string) func(int, url.Values, http.ResponseWriter, *http.Request) {
	return func(_ int, q url.Values, w http.ResponseWriter, _ *http.Request) {
		page, _ := strconv.Atoi(q.Get("PageNumber"))
		size, _ := strconv.Atoi(q.Get("PageSize"))
		type cmd struct{ CommandId, CommandContent, WorkingDir, Timeout string }
		var cs []cmd
		for i := (page - 1) * size; i < min(page*size, n); i++ {
			content := Mark(fmt.Sprintf("echo %d", i), NewMarker())
			if i == hit {
				content = Mark(fmt.Sprintf("echo %d", i), marker)
			}
			cs = append(cs, cmd{CommandId: fmt.Sprintf("c-%d", i), CommandContent: content, WorkingDir: "/root", Timeout: "60"})
		}
		body, _ := json.Marshal(map[string]any{"RequestId": "R", "PageNumber": page, "PageSize": size, "TotalCount": n,
			"Commands": map[string]any{"Command": cs}})
		answer(w, 200, string(body))
	}
}

func TestFindMarked(t *testing.T) {
	marker := NewMarker()
	tests := map[string]struct {
		n, hit       int
		wantID       string
		wantSearched int
		wantPages    int
	}{
		"newest":                {n: 120, hit: 0, wantID: "c-0", wantSearched: 1, wantPages: 1},
		"on the third page":     {n: 120, hit: 101, wantID: "c-101", wantSearched: 102, wantPages: 3},
		"none carries it":       {n: 120, hit: -1, wantSearched: 120, wantPages: 3},
		"no commands":           {n: 0, hit: -1, wantSearched: 0, wantPages: 1},
		"beyond the page bound": {n: FindPages*PageSize + 10, hit: FindPages*PageSize + 1, wantSearched: FindPages * PageSize, wantPages: FindPages},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c, cs := newCanned(t, listing(tt.n, tt.hit, marker))
			got, err := c.FindMarked(t.Context(), "ehpc-hz-abc", marker)
			if err != nil {
				t.Fatal(err)
			}
			if got.Command.CommandID != tt.wantID || got.Found() != (tt.wantID != "") || got.Searched != tt.wantSearched || got.Total != tt.n {
				t.Errorf("FindMarked = %+v, want id %q after %d of %d", got, tt.wantID, tt.wantSearched, tt.n)
			}
			if got.Found() && !strings.HasSuffix(got.Command.Content, "\n# "+marker) {
				t.Errorf("content %q does not carry the marker", got.Command.Content)
			}
			reqs := cs.requests()
			if len(reqs) != tt.wantPages {
				t.Errorf("%d pages read, want %d", len(reqs), tt.wantPages)
			}
			for _, q := range reqs {
				if q.Get("Action") != ActionListCommands || q.Get("ClusterId") != "ehpc-hz-abc" || q.Has("CommandId") || q.Get("PageSize") != "50" {
					t.Errorf("query %v", q)
				}
			}
		})
	}
}

func TestFindMarkedFailsAfterRetries(t *testing.T) {
	c, cs := newCanned(t, func(_ int, _ url.Values, w http.ResponseWriter, _ *http.Request) {
		answer(w, 503, errBody("ServiceUnavailable", "try later"))
	})
	got, err := c.FindMarked(t.Context(), "ehpc-hz-abc", NewMarker())
	if e := asError(t, err); e.Code != "ServiceUnavailable" || got.Found() {
		t.Errorf("FindMarked = %+v, %+v; want ServiceUnavailable, nothing found", got, e)
	}
	if n := cs.count(ActionListCommands); n < 2 {
		t.Errorf("%d attempts, want the read retried", n)
	}
	if n := cs.count(ActionInvokeShellCommand); n != 0 {
		t.Errorf("%d invocations sent by a look-up", n)
	}
}

func TestMarkedBy(t *testing.T) {
	m := NewMarker()
	if len(m) != len(MarkerPrefix)+26 || !strings.HasPrefix(m, MarkerPrefix) {
		t.Fatalf("marker %q", m)
	}
	tests := map[string]struct {
		content, marker string
		want            bool
	}{
		"as sent":                   {Mark("echo hi", m), m, true},
		"with CRLF and trailing nl": {"echo hi\r\n# " + m + "\r\n", m, true},
		"another marker":            {Mark("echo hi", NewMarker()), m, false},
		"unmarked":                  {"echo hi", m, false},
		"empty marker":              {"echo hi\n# ", "", false},
		"bare prefix":               {Mark("echo hi", MarkerPrefix), MarkerPrefix, false},
	}
	for name, tt := range tests {
		if got := MarkedBy(tt.content, tt.marker); got != tt.want {
			t.Errorf("%s: MarkedBy = %v, want %v", name, got, tt.want)
		}
	}
}
