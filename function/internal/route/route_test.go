package route

import (
	"slices"
	"strings"
	"testing"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

func TestSubstitute(t *testing.T) {
	vals := map[string]string{"bucket": "b", "object.key": "dir/-x.csv", "object.size": "7", "event.name": "-n", "region": "r"}
	cases := map[string]struct {
		tmpl []string
		vals map[string]string // default vals
		want []string
		err  string
	}{
		"part of an element":       {tmpl: []string{"p", "s3://{bucket}/{object.key}"}, want: []string{"p", "s3://b/dir/-x.csv"}},
		"braces that are not ours": {tmpl: []string{"awk", "{print $1}", "{ x }", "{}", "{1abc}"}, want: []string{"awk", "{print $1}", "{ x }", "{}", "{1abc}"}},
		"escaped brace":            {tmpl: []string{"p", "{{bucket}"}, want: []string{"p", "{bucket}"}},
		"adjacent placeholders":    {tmpl: []string{"p", "{bucket}{object.size}{region}"}, want: []string{"p", "b7r"}},
		"unknown placeholder":      {tmpl: []string{"p", "{objekt.key}"}, err: "unknown placeholder {objekt.key}"},
		"no value for event":       {tmpl: []string{"p", "{event.id}"}, err: "has no value"},
		"option value refused":     {tmpl: []string{"p", "{event.name}"}, err: `starts with "-"`},
		"option value after --":    {tmpl: []string{"p", "--", "{event.name}"}, want: []string{"p", "--", "-n"}},
		"option inside an element": {tmpl: []string{"p", "--name={event.name}"}, want: []string{"p", "--name=-n"}},
		// Issue 14: a placeholder that starts an element decides its first
		// character as much as one that fills it.
		"option starting an element":      {tmpl: []string{"/usr/bin/sort", "{object.key}.csv"}, vals: map[string]string{"object.key": "--output=/tmp/x"}, err: `starts with "-" from {object.key}`},
		"option starting after --":        {tmpl: []string{"/usr/bin/sort", "--", "{object.key}.csv"}, vals: map[string]string{"object.key": "--output=/tmp/x"}, want: []string{"/usr/bin/sort", "--", "--output=/tmp/x.csv"}},
		"empty value then a dash":         {tmpl: []string{"p", "{object.etag}-{bucket}"}, vals: map[string]string{"object.etag": "", "bucket": "b"}, err: `starts with "-"`},
		"two placeholders, second dash":   {tmpl: []string{"p", "{object.etag}{bucket}"}, vals: map[string]string{"object.etag": "", "bucket": "-b"}, err: `starts with "-"`},
		"literal dash is the route's own": {tmpl: []string{"p", "-{bucket}"}, want: []string{"p", "-b"}},
		"literal before the placeholder":  {tmpl: []string{"p", "./{object.key}"}, want: []string{"p", "./dir/-x.csv"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			v := vals
			if tc.vals != nil {
				v = tc.vals
			}
			got, err := Expand(tc.tmpl, v)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestCommand(t *testing.T) {
	for _, argv := range [][]string{{"if", "then"}, {"!", "x"}, {"a=b"}, {"ls", ""}, {"time", "x"}, {"[[", "x"}, {"{", "}"}, {"echo", "a\\"}, {"x", "a\u00a0b", "\u200b", "\x01\x7f\u0085", "\xff\xfe", "1\n2"}} {
		cmd, err := Command(argv)
		if err != nil {
			t.Errorf("Command(%q): %v", argv, err)
			continue
		}
		if words, err := Words(cmd); err != nil || !slices.Equal(words, argv) {
			t.Errorf("Command(%q) = %s, parses to %q (%v)", argv, cmd, words, err)
		}
	}
	for _, argv := range [][]string{nil, {"a\x00b"}, {"x", strings.Repeat("a", hpcgate.MaxCommandLen)}} {
		if cmd, err := Command(argv); err == nil {
			t.Errorf("Command(%.40q) = %.40q, want an error", argv, cmd)
		}
	}
	for _, cmd := range []string{"a; b", "a | b", "x=1 a", "a > f", "a $x", "a *", "! a", "a &", "a $(b)", "{ a; }", "a # c"} {
		if w, err := Words(cmd); err == nil {
			t.Errorf("Words(%q) = %q, want an error", cmd, w)
		}
	}
}

var testRoutes = []hpcgate.Route{
	{Name: "ingest-csv",
		Match:   hpcgate.RouteMatch{Trigger: "oss", Bucket: []string{"raw-data"}, Events: []string{"oss:ObjectCreated:*"}, Prefix: "incoming/", Suffix: ".csv"},
		Request: hpcgate.RouteRequest{ClusterID: "ehpc-hz-abc", WorkingDir: "/data", Timeout: 600, Argv: []string{"/opt/pipelines/ingest.sh", "--", "{object.key}"}}},
	{Name: "any-raw-delete",
		Match:   hpcgate.RouteMatch{Trigger: "oss", Bucket: []string{"raw-*"}, Events: []string{"ObjectRemoved:Delete?bject"}},
		Request: hpcgate.RouteRequest{ClusterID: "ehpc-hz-abc", InstanceIDs: []string{"i-1"}, Argv: []string{"/opt/pipelines/forget.sh", "--bucket={bucket}", "--", "{object.key}"}}},
	{Name: "eb-custom",
		Match:   hpcgate.RouteMatch{Trigger: "eventbridge", Source: []string{"pipeline.*"}, Type: []string{"hpcgate:Nightly*"}},
		Request: hpcgate.RouteRequest{ClusterID: "ehpc-hz-abc", Argv: []string{"/opt/pipelines/nightly.sh", "{event.id}", "{region}", "{event.time}"}}},
	{Name: "eb-oss-logs",
		Match:   hpcgate.RouteMatch{Trigger: "eventbridge", Source: []string{"acs.oss"}, Suffix: ".log"},
		Request: hpcgate.RouteRequest{ClusterID: "ehpc-hz-abc", Argv: []string{"/opt/logs.sh", "{bucket}/{object.key}", "{object.size}", "{object.etag}", "{event.name}"}}},
}

func TestValidate(t *testing.T) {
	// Issue 18: an awk program is a literal argv element, and loading
	// governance data asks this same Validate.
	awk := hpcgate.Route{Name: "awk", Match: hpcgate.RouteMatch{Trigger: "oss"},
		Request: hpcgate.RouteRequest{ClusterID: "c", Argv: []string{"/usr/bin/awk", "{print $1}", "{object.key}"}}}
	if err := Validate([]hpcgate.Route{awk}); err != nil {
		t.Fatalf("Validate(awk '{print $1}' route) = %v", err)
	}
	ok := hpcgate.Route{Name: "r", Match: hpcgate.RouteMatch{Trigger: "oss"}, Request: hpcgate.RouteRequest{ClusterID: "c", Argv: []string{"/bin/x", "{object.key}"}}}
	if err := Validate(append(slices.Clone(testRoutes), ok)); err != nil {
		t.Fatalf("Validate(good routes) = %v", err)
	}
	mut := func(f func(r *hpcgate.Route)) []hpcgate.Route {
		r := ok
		r.Request.Argv = slices.Clone(ok.Request.Argv)
		f(&r)
		return []hpcgate.Route{r}
	}
	cases := map[string]struct {
		routes []hpcgate.Route
		want   string
	}{
		"no name":              {mut(func(r *hpcgate.Route) { r.Name = "" }), "name: empty"},
		"duplicate name":       {[]hpcgate.Route{ok, ok}, "used twice"},
		"no trigger":           {mut(func(r *hpcgate.Route) { r.Match.Trigger = "" }), "match.trigger"},
		"http trigger":         {mut(func(r *hpcgate.Route) { r.Match.Trigger = "http" }), "match.trigger"},
		"source on oss":        {mut(func(r *hpcgate.Route) { r.Match.Source = []string{"acs.oss"} }), "eventbridge routes"},
		"empty pattern":        {mut(func(r *hpcgate.Route) { r.Match.Events = []string{""} }), "match.events[0]"},
		"no cluster":           {mut(func(r *hpcgate.Route) { r.Request.ClusterID = "" }), "clusterId"},
		"negative timeout":     {mut(func(r *hpcgate.Route) { r.Request.Timeout = -1 }), "timeout"},
		"no argv":              {mut(func(r *hpcgate.Route) { r.Request.Argv = nil }), "argv: empty"},
		"placeholder program":  {mut(func(r *hpcgate.Route) { r.Request.Argv[0] = "{object.key}" }), "argv[0]"},
		"empty program":        {mut(func(r *hpcgate.Route) { r.Request.Argv[0] = "" }), "argv[0]"},
		"unknown placeholder":  {mut(func(r *hpcgate.Route) { r.Request.Argv[1] = "{object.name}" }), "unknown placeholder {object.name}"},
		"NUL in argv":          {mut(func(r *hpcgate.Route) { r.Request.Argv[1] = "a\x00" }), "NUL"},
		"invalid UTF-8 prefix": {mut(func(r *hpcgate.Route) { r.Match.Prefix = "\xff" }), "prefix"},
		"empty instance id":    {mut(func(r *hpcgate.Route) { r.Request.InstanceIDs = []string{""} }), "instanceIds[0]"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := Validate(tc.routes)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// FuzzCommand: any argv either fails to quote or parses back to itself.
func FuzzCommand(f *testing.F) {
	for _, s := range []string{"a b", "$(x)", "'", "\"", "\\", "\n", "-rf", "{a,b}", "~", "\u00a0", "\xff", "!", "if", "a=b", "#"} {
		f.Add("/bin/p", s)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		argv := []string{a, b}
		cmd, err := Command(argv)
		if err != nil {
			return
		}
		words, err := Words(cmd)
		if err != nil || !slices.Equal(words, argv) {
			t.Fatalf("Command(%q) = %q parses to %q (%v)", argv, cmd, words, err)
		}
	})
}
