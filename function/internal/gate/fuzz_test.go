package gate

import (
	"errors"
	"net/http"
	"path"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

// FuzzValidate feeds arbitrary requests to validate: it never panics, a
// refusal is always a 400 InvalidRequest naming the field, and what it
// accepts is well formed (the properties E-HPC and the policy rely on).
func FuzzValidate(f *testing.F) {
	for _, s := range []struct {
		cluster, command, wd string
		timeout              int
		ids                  string // comma-separated
	}{
		{"ehpc-hz-demo01", "squeue -u alice", "", 0, ""},
		{"ehpc-hz-demo01", "ls", "/root", 60, "i-hpcgatedemo00001,i-hpcgatedemo00002"},
		{"ehpc-hz-demo01", "ls", "/data/", 3600, "i-a"},
		{"ehpc-hz-demo01", "ls", "/a/../b", 10, ""},
		{"ehpc-hz-demo01", "ls", "relative", 10, ""},
		{"ehpc-hz-demo01", "ls", "//x", 10, ""},
		{"ehpc-hz-demo01", "ls", "/tmp/\x00", 10, ""},
		{"ehpc-hz-demo01", "ls", "/tmp/\xff", 10, ""},
		{"ehpc-hz-demo01", "ls", "/", -1, ""},
		{"ehpc-hz-demo01", "ls", "/", 3601, ""},
		{"ehpc-hz-demo01", "ls", "/", 1, "i-a,i-a"},
		{"ehpc-hz-demo01", "ls", "/", 1, "i-a,,i-b"},
		{"ehpc-hz-demo01", "ls", "/", 1, "i-1,i-2,i-3,i-4,i-5"},
		{"ehpc-hz-demo01\n", "ls", "", 0, ""},
		{"EHPC-x", "ls", "", 0, ""},
		{"ehpc-", "ls", "", 0, ""},
		{"", "", "", 0, ""},
		{"ehpc-a", "", "", 0, ""},
		{"ehpc-" + strings.Repeat("a", 65), "ls", "", 0, ""},
		{"ehpc-hz-demo01", "ls", "/" + strings.Repeat("a", 1100), 0, ""},
		{"ehpc-hz-demo01", "ls", "/tmp/\u202e", 0, "i-\u0131"},
	} {
		f.Add(s.cluster, s.command, s.wd, s.timeout, s.ids)
	}
	g := New(nil, nil, Options{MaxTimeout: 3600, MaxNodes: 4})
	f.Fuzz(func(t *testing.T, cluster, command, wd string, timeout int, ids string) {
		r := hpcgate.Request{ClusterID: cluster, Command: command, WorkingDir: wd, Timeout: timeout}
		if ids != "" {
			r.InstanceIDs = strings.Split(ids, ",")
		}
		err := g.validate(r)
		if err != nil {
			var e *hpcgate.Error
			if !errors.As(err, &e) {
				t.Fatalf("validate(%+v) = %T %v, want *hpcgate.Error", r, err, err)
			}
			if e.Code != hpcgate.CodeInvalidRequest || e.Status != http.StatusBadRequest {
				t.Fatalf("validate(%+v) = %s/%d, want %s/400", r, e.Code, e.Status, hpcgate.CodeInvalidRequest)
			}
			field, _, ok := strings.Cut(e.Message, ":")
			if !ok || !strings.Contains("clusterId command timeout workingDir instanceIds", strings.SplitN(field, "[", 2)[0]) {
				t.Fatalf("validate(%+v): message %q does not name a field", r, e.Message)
			}
			return
		}
		// Accepted: every property the later stages rely on holds.
		if !clusterRE.MatchString(cluster) || command == "" {
			t.Fatalf("accepted cluster %q command %q", cluster, command)
		}
		if timeout < 0 || timeout > 3600 {
			t.Fatalf("accepted timeout %d", timeout)
		}
		if wd != "" {
			if !strings.HasPrefix(wd, "/") || len(wd) > maxWorkingDir || !utf8.ValidString(wd) {
				t.Fatalf("accepted workingDir %q", wd)
			}
			if strings.IndexFunc(wd, func(r rune) bool { return unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == utf8.RuneError }) >= 0 {
				t.Fatalf("accepted workingDir with a control or format character %q", wd)
			}
			if c := path.Clean(wd); c != wd && c+"/" != wd {
				t.Fatalf("accepted unclean workingDir %q", wd)
			}
		}
		if len(r.InstanceIDs) > 4 {
			t.Fatalf("accepted %d nodes", len(r.InstanceIDs))
		}
		seen := map[string]bool{}
		for _, id := range r.InstanceIDs {
			if !instanceRE.MatchString(id) || seen[id] {
				t.Fatalf("accepted instanceIds %q", r.InstanceIDs)
			}
			seen[id] = true
		}
	})
}
