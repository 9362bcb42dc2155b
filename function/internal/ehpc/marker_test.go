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
		"as sent":                     {Mark("echo hi", m), m, true},
		"with CRLF and trailing nl":   {"echo hi\r\n# " + m + "\r\n", m, true},
		"sealed":                      {MarkSealed("echo hi", m, "o1.x.y"), m, true},
		"a longer marker":             {Mark("echo hi", m+"X"), m, false},
		"marker not on the last line": {Mark("echo hi", m) + "\necho later", m, false},
		"another marker":              {Mark("echo hi", NewMarker()), m, false},
		"unmarked":                    {"echo hi", m, false},
		"empty marker":                {"echo hi\n# ", "", false},
		"bare prefix":                 {Mark("echo hi", MarkerPrefix), MarkerPrefix, false},
	}
	for name, tt := range tests {
		if got := MarkedBy(tt.content, tt.marker); got != tt.want {
			t.Errorf("%s: MarkedBy = %v, want %v", name, got, tt.want)
		}
	}
}

func TestParseMarked(t *testing.T) {
	m := NewMarker()
	const seal = "o1.dXNlcjphbGljZQ.AAAA-_"
	tests := map[string]struct {
		content string
		want    Marked
		ok      bool
	}{
		"unsealed":                  {Mark("echo hi", m), Marked{Command: "echo hi", Marker: m}, true},
		"sealed":                    {MarkSealed("echo hi", m, seal), Marked{Command: "echo hi", Marker: m, Seal: seal}, true},
		"empty seal is unsealed":    {MarkSealed("echo hi", m, ""), Marked{Command: "echo hi", Marker: m}, true},
		"multi-line command":        {MarkSealed("echo a\necho b", m, seal), Marked{Command: "echo a\necho b", Marker: m, Seal: seal}, true},
		"CRLF and a trailing line":  {"echo a\r\necho b\r\n# " + m + " " + seal + "\r\n", Marked{Command: "echo a\necho b", Marker: m, Seal: seal}, true},
		"not the last line":         {MarkSealed("echo hi", m, seal) + "\necho more", Marked{}, false},
		"alone, no command":         {"# " + m + " " + seal, Marked{}, false},
		"text after the seal":       {MarkSealed("echo hi", m, seal) + " x", Marked{}, false},
		"two spaces":                {"echo hi\n# " + m + "  " + seal, Marked{}, false},
		"tab instead of space":      {"echo hi\n# " + m + "\t" + seal, Marked{}, false},
		"indented":                  {"echo hi\n  # " + m, Marked{}, false},
		"no space after #":          {"echo hi\n#" + m, Marked{}, false},
		"marker cut to its prefix":  {"echo hi\n# " + MarkerPrefix, Marked{}, false},
		"unicode in the marker":     {"echo hi\n# " + MarkerPrefix + "ÄBC", Marked{}, false},
		"unicode in the seal":       {"echo hi\n# " + m + " o1.ü.x", Marked{}, false},
		"fullwidth digits":          {"echo hi\n# " + MarkerPrefix + "１２３", Marked{}, false},
		"bidi control in the seal":  {"echo hi\n# " + m + " o1.\u202e.x", Marked{}, false},
		"a quote in the seal":       {"echo hi\n# " + m + " o1.'x", Marked{}, false},
		"marker in a string, wraps": {"echo '\n# " + m + "'", Marked{}, false},
		"empty":                     {"", Marked{}, false},
	}
	for name, tt := range tests {
		got, ok := ParseMarked(tt.content)
		if ok != tt.ok || got != tt.want {
			t.Errorf("%s: ParseMarked = %+v, %v; want %+v, %v", name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestHasMarkerLine(t *testing.T) {
	m := NewMarker()
	tests := map[string]bool{
		"echo hi":                            false,
		"grep hpcgate: log":                  false,
		"echo '# hpcgate:X'":                 false,
		"echo hi # hpcgate:X":                false,
		"echo hi\n  # hpcgate:X":             false,
		Mark("echo hi", m):                   true,
		"# " + m + "\necho hi":               true,
		"cat <<EOF\n# hpcgate:X o1.a.b\nEOF": true,
		"echo hi\r\n# hpcgate:X":             true,
	}
	for cmd, want := range tests {
		if got := HasMarkerLine(cmd); got != want {
			t.Errorf("HasMarkerLine(%q) = %v, want %v", cmd, got, want)
		}
	}
}

func TestFindCommand(t *testing.T) {
	tests := map[string]struct {
		answer    func(int, url.Values, http.ResponseWriter, *http.Request)
		id        string
		wantFound bool
		wantCode  string
	}{
		"listed":                       {answer: listing(120, -1, ""), id: "c-101", wantFound: true},
		"not listed":                   {answer: listing(3, -1, ""), id: "c-9"},
		"a prefix is not the id":       {answer: listing(20, -1, ""), id: "c-1x"},
		"unknown command is not found": {answer: errAnswer(404, "ObjectNotFound"), id: "c-1"},
		"unknown cluster is not found": {answer: errAnswer(404, "ClusterNotFound"), id: "c-1"},
		"throttled is an error":        {answer: errAnswer(400, "Throttling.User"), id: "c-1", wantCode: "Throttling.User"},
		"listed twice counts as none": {answer: func(_ int, q url.Values, w http.ResponseWriter, _ *http.Request) {
			answer(w, 200, `{"RequestId":"R","PageNumber":1,"PageSize":50,"TotalCount":2,"Commands":{"Command":[`+
				`{"CommandId":"c-1","CommandContent":"echo a"},{"CommandId":"c-1","CommandContent":"echo b"}]}}`)
		}, id: "c-1"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c, _ := newCanned(t, tt.answer)
			cmd, found, err := c.FindCommand(t.Context(), "ehpc-hz-abc", tt.id)
			if tt.wantCode != "" {
				if e := asError(t, err); e.Code != tt.wantCode || found {
					t.Errorf("FindCommand = %v, %v; want %s", found, e, tt.wantCode)
				}
				return
			}
			if err != nil || found != tt.wantFound || (found && cmd.CommandID != tt.id) {
				t.Errorf("FindCommand = %+v, %v, %v; want found %v", cmd, found, err, tt.wantFound)
			}
		})
	}
}

func errAnswer(status int, code string) func(int, url.Values, http.ResponseWriter, *http.Request) {
	return func(_ int, _ url.Values, w http.ResponseWriter, _ *http.Request) {
		answer(w, status, errBody(code, "no"))
	}
}
