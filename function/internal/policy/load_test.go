package policy

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/policies"
)

// doc wraps one statement into governance data with policy "P" attached to
// user alice.
func doc(statement string) string {
	return fmt.Sprintf(`{"policies": {"P": {"Version": "1", "Statement": [%s]}}, "attachments": {"user": {"alice": ["P"]}}}`, statement)
}

func TestCompileRejects(t *testing.T) {
	const allow = `"Effect": "Allow", "Action": "ehpc:InvokeShellCommand", "Resource": "*"`
	tests := map[string]struct {
		files map[string]string
		want  string
	}{
		"unknown effect": {
			map[string]string{"g.json": doc(`{"Sid": "S", "Effect": "allow", "Action": "ehpc:*", "Resource": "*"}`)},
			`g.json: policy "P" statement "S": Effect: unknown effect "allow"`,
		},
		"unknown operator": {
			map[string]string{"g.json": doc(`{"Sid": "ReadOnlySlurm", ` + allow + `, "Condition": {"StringEqual": {"ehpc:ClusterId": "x"}}}`)},
			`policy "P" statement "ReadOnlySlurm": Condition: unknown operator "StringEqual"`,
		},
		"IfExists is not an operator": {
			map[string]string{"g.json": doc(`{"Sid": "S", ` + allow + `, "Condition": {"StringEqualsIfExists": {"ehpc:ClusterId": "x"}}}`)},
			`statement "S": Condition: unknown operator "StringEqualsIfExists"`,
		},
		"unknown qualifier": {
			map[string]string{"g.json": doc(`{"Sid": "S", ` + allow + `, "Condition": {"ForAll:StringEquals": {"hpcgate:Program": "x"}}}`)},
			`statement "S": Condition: unknown qualifier "ForAll"`,
		},
		"unknown condition key": {
			map[string]string{"g.json": doc(`{"Sid": "S", ` + allow + `, "Condition": {"StringEquals": {"ehpc:Cluster": "x"}}}`)},
			`statement "S": Condition: StringEquals: unknown condition key "ehpc:Cluster"`,
		},
		"condition key in the wrong case": {
			map[string]string{"g.json": doc(`{"Sid": "S", ` + allow + `, "Condition": {"IpAddress": {"acs:sourceip": "10.0.0.0/8"}}}`)},
			`unknown condition key "acs:sourceip" (did you mean "acs:SourceIp"?)`,
		},
		"other acs key": {
			map[string]string{"g.json": doc(`{"Sid": "S", ` + allow + `, "Condition": {"StringEquals": {"acs:UserAgent": "x"}}}`)},
			`unknown condition key "acs:UserAgent"`,
		},
		"plain operator on a multi-valued key": {
			map[string]string{"g.json": doc(`{"Sid": "S", ` + allow + `, "Condition": {"StringEquals": {"hpcgate:Program": "squeue"}}}`)},
			`statement "S": Condition: StringEquals hpcgate:Program: multi-valued key needs ForAllValues: or ForAnyValue:`,
		},
		"qualifier on a single-valued key": {
			map[string]string{"g.json": doc(`{"Sid": "S", ` + allow + `, "Condition": {"ForAnyValue:StringEquals": {"ehpc:ClusterId": "x"}}}`)},
			`statement "S": Condition: ForAnyValue:StringEquals ehpc:ClusterId: ForAllValues:/ForAnyValue: apply to multi-valued keys only`,
		},
		"operator family does not fit the key": {
			map[string]string{"g.json": doc(`{"Sid": "S", ` + allow + `, "Condition": {"NumericLessThan": {"ehpc:ClusterId": 3}}}`)},
			`statement "S": Condition: NumericLessThan ehpc:ClusterId: a string key takes String operators`,
		},
		"non-numeric value": {
			map[string]string{"g.json": doc(`{"Sid": "S", ` + allow + `, "Condition": {"NumericLessThanEquals": {"ehpc:Timeout": "600s"}}}`)},
			`statement "S": Condition: NumericLessThanEquals ehpc:Timeout: "600s" is not a number`,
		},
		"bad CIDR": {
			map[string]string{"g.json": doc(`{"Sid": "S", ` + allow + `, "Condition": {"NotIpAddress": {"acs:SourceIp": ["10.0.0.0/33"]}}}`)},
			`statement "S": Condition: NotIpAddress acs:SourceIp: "10.0.0.0/33" is not an IP address or CIDR`,
		},
		"bad IP": {
			map[string]string{"g.json": doc(`{"Sid": "S", ` + allow + `, "Condition": {"IpAddress": {"acs:SourceIp": "10.0.0.256"}}}`)},
			`"10.0.0.256" is not an IP address or CIDR`,
		},
		"bad date": {
			map[string]string{"g.json": doc(`{"Sid": "S", ` + allow + `, "Condition": {"DateLessThan": {"acs:CurrentTime": "2026-01-01 10:00"}}}`)},
			`statement "S": Condition: DateLessThan acs:CurrentTime: "2026-01-01 10:00" is not an RFC 3339 date-time`,
		},
		"non-bool under Bool": {
			map[string]string{"g.json": doc(`{"Sid": "S", ` + allow + `, "Condition": {"Bool": {"acs:MFAPresent": "yes"}}}`)},
			`statement "S": Condition: Bool acs:MFAPresent: "yes" is not true or false`,
		},
		"empty value list": {
			map[string]string{"g.json": doc(`{"Sid": "S", ` + allow + `, "Condition": {"StringEquals": {"ehpc:ClusterId": []}}}`)},
			`statement "S": Condition: StringEquals ehpc:ClusterId: no values`,
		},
		"missing Action": {
			map[string]string{"g.json": doc(`{"Sid": "S", "Effect": "Deny", "Resource": "*"}`)},
			`statement "S": Action: missing (a statement needs Action or NotAction)`,
		},
		"both Action and NotAction": {
			map[string]string{"g.json": doc(`{"Effect": "Deny", "Action": "ehpc:*", "NotAction": "ehpc:X", "Resource": "*"}`)},
			`policy "P" statement[0]: Action: both Action and NotAction given`,
		},
		"missing Resource": {
			map[string]string{"g.json": doc(`{"Sid": "S", "Effect": "Deny", "Action": "ehpc:*"}`)},
			`statement "S": Resource: missing (a statement needs Resource or NotResource)`,
		},
		"both Resource and NotResource": {
			map[string]string{"g.json": doc(`{"Sid": "S", "Effect": "Deny", "Action": "ehpc:*", "Resource": "*", "NotResource": "*"}`)},
			`statement "S": Resource: both Resource and NotResource given`,
		},
		"malformed ARN": {
			map[string]string{"g.json": doc(`{"Sid": "S", "Effect": "Deny", "Action": "ehpc:*", "Resource": "cluster/ehpc-hz-*"}`)},
			`statement "S": Resource: malformed ARN pattern "cluster/ehpc-hz-*"`,
		},
		"malformed action": {
			map[string]string{"g.json": doc(`{"Sid": "S", "Effect": "Deny", "Action": "InvokeShellCommand", "Resource": "*"}`)},
			`statement "S": Action: malformed action "InvokeShellCommand"`,
		},
		"misspelt statement field": {
			map[string]string{"g.json": doc(`{"Sid": "S", ` + allow + `, "Condtion": {}}`)},
			`statement "S": Condtion: unknown field`,
		},
		"Principal element": {
			map[string]string{"g.json": doc(`{"Sid": "S", ` + allow + `, "Principal": {"RAM": ["x"]}}`)},
			`statement "S": Principal: not supported in identity policies`,
		},
		"duplicate Sid": {
			map[string]string{"g.json": doc(`{"Sid": "S", ` + allow + `}, {"Sid": "S", ` + allow + `}`)},
			`policy "P" statement "S": Sid: duplicate`,
		},
		"wrong Version": {
			map[string]string{"g.json": `{"policies": {"P": {"Version": "2012-10-17", "Statement": [{` + allow + `}]}}}`},
			`policy "P": Version: want "1", got "2012-10-17"`,
		},
		"attachment to a missing policy": {
			map[string]string{"g.json": `{"policies": {}, "attachments": {"group": {"researchers": ["ResearcherBasc"]}}}`},
			`attachments.group["researchers"]: unknown policy "ResearcherBasc"`,
		},
		"unknown principal type": {
			map[string]string{"g.json": `{"policies": {}, "attachments": {"users": {"alice": []}}}`},
			`attachments: unknown principal type "users"`,
		},
		"unknown top-level field": {
			map[string]string{"g.json": `{"policy": {}}`},
			`g.json: json: unknown field "policy"`,
		},
		"policy defined in two files": {
			map[string]string{"a.json": doc(`{` + allow + `}`), "b.json": doc(`{` + allow + `}`)},
			`b.json: policy "P" is defined twice`,
		},
		"route with an unknown trigger": {
			map[string]string{"g.json": `{"routes": [{"name": "r", "match": {"trigger": "http"}, "request": {"clusterId": "c", "argv": ["x"]}}]}`},
			`g.json: routes[0] "r": match.trigger: want "oss" or "eventbridge", got "http"`,
		},
		"route with an unknown placeholder": {
			map[string]string{"g.json": `{"routes": [{"name": "r", "match": {"trigger": "oss"}, "request": {"clusterId": "c", "argv": ["x", "{object.name}"]}}]}`},
			`routes[0] "r": request.argv[1]: unknown placeholder {object.name}`,
		},
		"route defined twice": {
			map[string]string{"g.json": `{"routes": [{"name": "r", "match": {"trigger": "oss"}, "request": {"clusterId": "c", "argv": ["x"]}}, {"name": "r", "match": {"trigger": "oss"}, "request": {"clusterId": "c", "argv": ["x"]}}]}`},
			`routes[1]: route "r" is defined twice`,
		},
		// A set that would deny everything never loads (issue 15): an
		// empty bundle must not replace a working set.
		"no governance file at all": {
			map[string]string{"site.rego": "package hpcgate.ext.site\n\ndeny contains \"x\" if false\n"},
			`no governance data: no *.json file (a bundle carries only files named data.json`,
		},
		"an empty document, as opa build makes of a directory without data.json": {
			map[string]string{"data.json": `{}`},
			`no governance data: no policies`,
		},
		"policies without attachments": {
			map[string]string{"g.json": `{"policies": {"P": {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}}}`},
			`no attachments: no policy is attached to any principal`,
		},
		"attachments that attach nothing": {
			map[string]string{"g.json": `{"policies": {"P": {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}}, "attachments": {"user": {"alice": []}, "group": {}}}`},
			`no attachments`,
		},
		"extension outside hpcgate.ext": {
			map[string]string{"x.rego": "package site\n\ndeny contains \"x\" if false\n"},
			`extension x.rego: package site is not under hpcgate.ext`,
		},
		"extension with a boolean deny": {
			map[string]string{"x.rego": "package hpcgate.ext.site\n\ndeny if input.action == \"x\"\n"},
			`extension x.rego:3: rule deny must be a set of strings`,
		},
		"extension that does not compile": {
			map[string]string{"g.json": doc(`{"Effect": "Allow", "Action": "ehpc:InvokeShellCommand", "Resource": "*"}`), "x.rego": "package hpcgate.ext.site\n\ndeny contains x if x := undefined_fn(1)\n"},
			`compile policies`,
		},
		"extension calling http.send": {
			map[string]string{"g.json": doc(`{"Effect": "Allow", "Action": "ehpc:InvokeShellCommand", "Resource": "*"}`), "x.rego": "package hpcgate.ext.site\n\ndeny contains \"x\" if http.send({\"method\": \"get\", \"url\": \"http://127.0.0.1\"})\n"},
			`http.send`,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for n, src := range tc.files {
				fsys[n] = &fstest.MapFile{Data: []byte(src)}
			}
			_, err := Compile(t.Context(), fsys, "test")
			if err == nil {
				t.Fatalf("Compile succeeded, want error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %q\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

func TestCompileAccepts(t *testing.T) {
	tests := map[string]string{
		"exact action, no conditions": doc(`{"Effect": "Allow", "Action": "ehpc:InvokeShellCommand", "Resource": "*"}`),
		"numbers as strings, bools as strings, plain IP": doc(`{"Effect": "Deny", "Action": "ehpc:InvokeShellCommand", "Resource": "acs:ehpc:cn-hangzhou:123:cluster/c1",
			"Condition": {"NumericGreaterThan": {"ehpc:Timeout": "600"}, "Bool": {"acs:SecureTransport": "False"}, "IpAddress": {"acs:SourceIp": ["10.0.0.1", "::1"]}}}`),
		"every operator family": doc(`{"Effect": "Allow", "NotAction": "ehpc:List*", "NotResource": ["acs:ehpc:*:*:cluster/prod-?", "acs:ehpc:*:*:cluster/x{y}"],
			"Condition": {"StringNotEqualsIgnoreCase": {"ehpc:WorkingDir": "/TMP"}, "ForAnyValue:StringNotLike": {"hpcgate:CommandLine": "rm *"},
			"DateGreaterThanEquals": {"acs:CurrentTime": "2026-01-01T00:00:00+08:00"}, "NumericNotEquals": {"hpcgate:InstanceCount": [0, 1.5]},
			"ForAllValues:StringNotEquals": {"hpcgate:AssignedVariable": ["PATH"]}, "NotIpAddress": {"acs:SourceIp": "2001:db8::/32"}}}`),
	}
	for name, gov := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := Compile(t.Context(), fstest.MapFS{"g.json": {Data: []byte(gov)}}, "test"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestAwkRouteLoads: issue 14/18. An awk program is a literal argv
// element; governance data loading and the route package agree on it.
func TestAwkRouteLoads(t *testing.T) {
	g := `{"policies": {"P": {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "ehpc:InvokeShellCommand", "Resource": "*"}]}},
	       "attachments": {"service": {"oss:raw-data": ["P"]}},
	       "routes": [{"name": "first-column", "match": {"trigger": "oss", "bucket": "raw-data"},
	                   "request": {"clusterId": "ehpc-hz-abc", "argv": ["/usr/bin/awk", "{print $1}", "--", "{object.key}"]}}]}`
	s, err := Compile(t.Context(), fstest.MapFS{"g.json": {Data: []byte(g)}}, "test")
	if err != nil {
		t.Fatalf("Compile(awk '{print $1}' route) = %v", err)
	}
	if r := s.Routes(); len(r) != 1 || r[0].Request.Argv[1] != "{print $1}" {
		t.Errorf("Routes() = %+v", r)
	}
}

func TestCompileExampleAndRoutes(t *testing.T) {
	s, err := Default(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.Revision(), "sha256:") {
		t.Errorf("Revision() = %q, want a digest", s.Revision())
	}
	routes := s.Routes()
	if len(routes) != 1 || routes[0].Name != "ingest-csv" || routes[0].Request.Argv[2] != "{object.key}" {
		t.Errorf("Routes() = %+v, want the ingest-csv route", routes)
	}
}

func query(principal hpcgate.Principal) Query {
	return Query{
		Principal: principal,
		Request:   hpcgate.Request{ClusterID: "ehpc-hz-abc", Command: "squeue"}.WithDefaults(),
		Analysis:  &hpcgate.Analysis{Programs: []string{"squeue"}, CommandLines: []string{"squeue"}},
		Action:    hpcgate.ActionInvoke,
		Context:   hpcgate.RequestContext{SourceIP: "10.20.0.5"},
		Trigger:   hpcgate.TriggerHTTP,
		Region:    "cn-hangzhou", Account: "123456",
	}
}

func TestDecideFailsClosed(t *testing.T) {
	ext := func(src string) *Set {
		s, err := Compile(t.Context(), fstest.MapFS{
			"g.json": {Data: []byte(doc(`{"Effect": "Allow", "Action": "ehpc:*", "Resource": "*"}`))},
			"x.rego": {Data: []byte("package hpcgate.ext.site\n\n" + src)},
		}, "test")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	alice := hpcgate.Principal{Type: "user", ID: "alice"}
	// Some 9 million steps: far longer than EvalTimeout.
	slow := "deny contains \"slow\" if {\n\tinput.request.clusterId == \"ehpc-hz-abc\"\n\tsome i in numbers.range(1, 3000)\n\tsome j in numbers.range(1, 3000)\n\ti * j < 0\n}\n"
	tests := map[string]struct {
		set      *Set
		deadline time.Duration
		timedOut bool // the message says the evaluation timed out
	}{
		"no policy set":                 {nil, 0, false},
		"extension deny holds a number": {ext("deny contains 42 if true\n"), 0, false},
		"extension raises a type error": {ext("deny contains x if {\n\tinput.request.clusterId == \"ehpc-hz-abc\"\n\tx := sprintf(\"%v\", input.request.timeout)\n}\n"), 0, false},
		"evaluation past the deadline":  {ext(slow), time.Millisecond, true},
		// No caller deadline: EvalTimeout ends it (the test takes that long).
		"evaluation past EvalTimeout": {ext(slow), 0, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			if tc.deadline > 0 {
				var cancel func()
				ctx, cancel = contextWithTimeout(ctx, tc.deadline)
				defer cancel()
			}
			d, err := NewEngine(tc.set).Decide(ctx, query(alice))
			var he *hpcgate.Error
			if !errors.As(err, &he) || he.Code != hpcgate.CodePolicyUnavailable || he.Status != http.StatusServiceUnavailable || he.Source != hpcgate.SourcePolicy {
				t.Fatalf("Decide = %+v, %v; want a PolicyUnavailable 503 error", d, err)
			}
			if d.Allow {
				t.Error("decision allows")
			}
			if got := strings.Contains(he.Message, "timed out"); got != tc.timedOut {
				t.Errorf("message %q: says it timed out = %v, want %v", he.Message, got, tc.timedOut)
			}
		})
	}
}

func TestDecide(t *testing.T) {
	s, err := Default(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(nil)
	e.Swap(s)
	if e.Current() != s {
		t.Fatal("Current() is not the swapped set")
	}
	yes := true
	tests := map[string]struct {
		q         Query
		allow     bool
		wantSid   string
		wantEmpty bool
	}{
		"researcher runs squeue":        {q: query(hpcgate.Principal{Type: "user", ID: "alice", Groups: []string{"researchers"}}), allow: true, wantSid: "ReadOnlySlurm"},
		"stranger is implicitly denied": {q: query(hpcgate.Principal{Type: "user", ID: "mallory"})},
		"dynamic program is denied": {q: func() Query {
			q := query(hpcgate.Principal{Type: "user", ID: "alice", Groups: []string{"researchers"}})
			q.Analysis = &hpcgate.Analysis{Programs: []string{hpcgate.DynamicProgram}, CommandLines: []string{"$x"}, Features: []string{"parameter-expansion"}}
			return q
		}(), wantSid: "NoDynamicPrograms"},
		"operator with MFA reads results": {q: func() Query {
			q := query(hpcgate.Principal{Type: "user", ID: "bob", Groups: []string{"hpc-operators"}, MFA: &yes})
			q.Action, q.Analysis, q.Context.SecureTransport = hpcgate.ActionListResults, nil, &yes
			return q
		}(), allow: true, wantSid: "OperatorResults"},
		"researcher reads own results": {q: func() Query {
			q := query(hpcgate.Principal{Type: "user", ID: "alice", Groups: []string{"researchers"}})
			q.Action, q.Analysis, q.CommandOwner = hpcgate.ActionListResults, nil, "user:alice"
			return q
		}(), allow: true, wantSid: "ReadOwnResults"},
		"researcher reads an operator's results": {q: func() Query {
			q := query(hpcgate.Principal{Type: "user", ID: "alice", Groups: []string{"researchers"}})
			q.Action, q.Analysis, q.CommandOwner = hpcgate.ActionListResults, nil, "user:olga"
			return q
		}()},
		"researcher reads an unowned command": {q: func() Query {
			q := query(hpcgate.Principal{Type: "user", ID: "alice", Groups: []string{"researchers"}})
			q.Action, q.Analysis = hpcgate.ActionListResults, nil
			return q
		}()},
		"a service named like the researcher": {q: func() Query {
			q := query(hpcgate.Principal{Type: "service", ID: "alice"})
			q.Action, q.Analysis, q.CommandOwner = hpcgate.ActionListResults, nil, "user:alice"
			return q
		}()},
		"operator reads a researcher's results": {q: func() Query {
			q := query(hpcgate.Principal{Type: "user", ID: "bob", Groups: []string{"hpc-operators"}, MFA: &yes})
			q.Action, q.Analysis, q.Context.SecureTransport, q.CommandOwner = hpcgate.ActionListResults, nil, &yes, "user:alice"
			return q
		}(), allow: true, wantSid: "OperatorResults"},
		"operator without MFA": {q: func() Query {
			q := query(hpcgate.Principal{Type: "user", ID: "bob", Groups: []string{"hpc-operators"}})
			q.Action, q.Analysis, q.Context.SecureTransport = hpcgate.ActionListResults, nil, &yes
			return q
		}()},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d, err := e.Decide(t.Context(), tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allow != tc.allow || len(d.Reasons) == 0 {
				t.Fatalf("decision = %+v, want allow=%v with reasons", d, tc.allow)
			}
			if tc.wantSid != "" && d.Reasons[0].Sid != tc.wantSid {
				t.Errorf("reasons = %+v, want first sid %q", d.Reasons, tc.wantSid)
			}
			if tc.wantSid == "" && d.Reasons[0].Detail != "no statement allows" {
				t.Errorf("reasons = %+v, want the implicit deny", d.Reasons)
			}
			if d.Revision != s.Revision() || d.Resource != "acs:ehpc:cn-hangzhou:123456:cluster/ehpc-hz-abc" || d.Action != tc.q.Action {
				t.Errorf("decision = %+v: wrong revision, resource or action", d)
			}
		})
	}
}

func contextWithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}

// TestUsedKeysDecideAlike: a set builds an input with only the parts its
// statements and extension rules read, and caches rule values only with
// extension rules; its decisions must be those made with the whole input
// and the other cache setting.
func TestUsedKeysDecideAlike(t *testing.T) {
	data, err := fs.ReadFile(policies.FS, "data.json")
	if err != nil {
		t.Fatal(err)
	}
	example, err := Compile(t.Context(), fstest.MapFS{"governance.json": {Data: data}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if example.shape.all || example.shape.key("hpcgate:InstanceCount") || example.shape.field("request") {
		t.Fatalf("example set reads every key (shape %+v): the test compares nothing", example.shape)
	}
	withExtension, err := Default(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if withExtension.shape.all || !withExtension.shape.field("command") || withExtension.shape.field("request") {
		t.Fatalf("example set with its extension rules: shape %+v, want the command and no request", withExtension.shape)
	}
	yes, no := true, false
	var allowed, denied int
	for _, s := range []*Set{example, withExtension, syntheticSet(t, 100, 10)} {
		// The reference reads every key, and caches rule values where s
		// does not (and the other way round).
		all := *s
		all.shape, all.memo = everything, !s.memo
		for _, p := range []hpcgate.Principal{
			{Type: "user", ID: "alice", Groups: []string{"researchers"}},
			{Type: "user", ID: "bob", Groups: []string{"hpc-operators"}, MFA: &yes},
			{Type: "user", ID: "bob", Groups: []string{"hpc-operators"}, MFA: &no},
			{Type: "service", ID: "oss:raw-data"},
			{Type: "user", ID: "u0", Groups: []string{"g1"}},
			{Type: "user", ID: "u3", Groups: []string{"g3", "staff"}},
		} {
			for _, ip := range []string{"", "10.20.0.5", "::ffff:10.20.0.5", "2001:db8:20::1", "192.0.2.1", "not-an-ip"} {
				for _, st := range []*bool{nil, &yes, &no} {
					for _, action := range gateActions {
						for i, timeout := range []int{60, 900, 300} {
							q := query(p)
							if i == 2 { // what the example extension rule denies
								q.Analysis = &hpcgate.Analysis{Programs: []string{"bash"}, CommandLines: []string{"bash"}, Features: []string{"heredoc", "input-redirect"},
									Simple: []hpcgate.SimpleCommand{{Argv: []string{"bash"}, Redirects: []hpcgate.Redirect{{Op: "<<", Target: "EOF"}}}}}
							}
							q.Request.ClusterID = []string{"ehpc-hz-abc", "ehpc-0-abc", "ehpc-3-x"}[timeout%7%3]
							q.Request.Timeout, q.Action = timeout, action
							q.Context.SourceIP, q.Context.SecureTransport = ip, st
							if action == hpcgate.ActionListResults {
								q.Analysis = nil
							}
							want, err := all.decide(t.Context(), q, time.Now())
							if err != nil {
								t.Fatal(err)
							}
							got, err := s.decide(t.Context(), q, time.Now())
							if err != nil {
								t.Fatal(err)
							}
							if !reflect.DeepEqual(got, want) {
								t.Fatalf("%+v: with the used keys %+v, with every key %+v", q, got, want)
							}
							if got.Allow {
								allowed++
							} else {
								denied++
							}
						}
					}
				}
			}
		}
	}
	if allowed == 0 || denied == 0 {
		t.Fatalf("%d allowed, %d denied: the queries do not exercise the policies", allowed, denied)
	}
	t.Logf("%d allowed, %d denied alike", allowed, denied)
}

func TestInputShape(t *testing.T) {
	tests := map[string]struct {
		src     string
		all     bool
		fields  []string
		keys    []string
		allKeys bool
	}{
		"nested field":        {src: `deny contains "x" if input.command.simple[_].argv[0] == "rm"`, fields: []string{"command"}},
		"one key":             {src: `deny contains "x" if input.keys["ehpc:Timeout"] > 5`, fields: []string{"keys"}, keys: []string{"ehpc:Timeout"}},
		"key by variable":     {src: "deny contains \"x\" if {\n\tk := \"a\"\n\tinput.keys[k]\n}", fields: []string{"keys"}, allKeys: true},
		"all keys":            {src: `deny contains "x" if count(input.keys) > 3`, fields: []string{"keys"}, allKeys: true},
		"whole input":         {src: "deny contains \"x\" if {\n\tx := input\n\tx.request\n}", all: true},
		"field by variable":   {src: "deny contains \"x\" if {\n\tsome f\n\tinput[f] == 1\n}", all: true},
		"walk":                {src: "deny contains \"x\" if {\n\twalk(input, [p, v])\n\tv == 1\n}", all: true},
		"import":              {src: "import input.request as req\n\ndeny contains \"x\" if req.timeout > 5", fields: []string{"request"}},
		"inside another ref":  {src: `deny contains "x" if data.site.blocked[input.trigger]`, fields: []string{"trigger"}},
		"inside an input ref": {src: `deny contains "x" if input.keys[input.context.sourceIp]`, fields: []string{"keys", "context"}, allKeys: true},
		"in a head":           {src: `deny contains input.region if true`, fields: []string{"region"}},
		"library call":        {src: `deny contains "x" if data.hpcgate.ram.eq("ehpc:WorkingDir", {"/tmp"})`, allKeys: true},
		"library import":      {src: "import data.hpcgate.ram\n\ndeny contains \"x\" if ram.like(\"ehpc:WorkingDir\", \"/tmp*\")", allKeys: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m, err := parseExtension("x.rego", []byte("package hpcgate.ext.site\n\n"+tc.src+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			s := &inputShape{fields: map[string]bool{}, keys: map[string]bool{}}
			s.addReads(m)
			if s.all != tc.all || s.allKeys != tc.allKeys {
				t.Errorf("all=%v allKeys=%v, want %v %v", s.all, s.allKeys, tc.all, tc.allKeys)
			}
			if got := sortedKeys(s.fields); !tc.all && !slices.Equal(got, sorted(tc.fields)) {
				t.Errorf("fields %v, want %v", got, sorted(tc.fields))
			}
			if got := sortedKeys(s.keys); !slices.Equal(got, sorted(tc.keys)) {
				t.Errorf("keys %v, want %v", got, sorted(tc.keys))
			}
		})
	}
}

func sorted(ss []string) []string {
	ss = slices.Clone(ss)
	slices.Sort(ss)
	if ss == nil {
		return []string{}
	}
	return ss
}

// An extension rule calling a library function reads a key through it:
// the input must still hold that key though no statement tests it.
func TestExtensionReadsKeyThroughLibrary(t *testing.T) {
	s, err := Compile(t.Context(), fstest.MapFS{
		"g.json": {Data: []byte(doc(`{"Effect": "Allow", "Action": "ehpc:*", "Resource": "*"}`))},
		"x.rego": {Data: []byte("package hpcgate.ext.site\n\ndeny contains \"no /tmp\" if data.hpcgate.ram.like(\"ehpc:WorkingDir\", \"/tmp*\")\n")},
	}, "test")
	if err != nil {
		t.Fatal(err)
	}
	q := query(hpcgate.Principal{Type: "user", ID: "alice"})
	q.Request.WorkingDir = "/tmp/x"
	d, err := NewEngine(s).Decide(t.Context(), q)
	if err != nil {
		t.Fatal(err)
	}
	if d.Allow || len(d.Reasons) != 1 || d.Reasons[0].Detail != "no /tmp" {
		t.Fatalf("decision %+v, want the extension's deny", d)
	}
}

// TestOwnerKeys checks the command-owner keys of the input: present on
// reads only, and "own" only for the very principal that owns it.
func TestOwnerKeys(t *testing.T) {
	alice := hpcgate.Principal{Type: "user", ID: "alice", Groups: []string{"researchers"}}
	read := func(p hpcgate.Principal, owner string) Query {
		return Query{Action: hpcgate.ActionListResults, Principal: p, CommandOwner: owner, Request: hpcgate.Request{ClusterID: "ehpc-hz-abc"}}
	}
	tests := map[string]struct {
		q          Query
		owner, own any // nil: absent
	}{
		"own":                 {q: read(alice, "user:alice"), owner: "user:alice", own: true},
		"another's":           {q: read(alice, "user:olga"), owner: "user:olga", own: false},
		"unowned":             {q: read(alice, ""), own: false},
		"same id, other type": {q: read(hpcgate.Principal{Type: "service", ID: "alice"}, "user:alice"), owner: "user:alice", own: false},
		"id with a colon":     {q: read(hpcgate.Principal{Type: "service", ID: "oss:raw-data"}, "service:oss:raw-data"), owner: "service:oss:raw-data", own: true},
		"an invocation has neither": {q: func() Query {
			q := read(alice, "user:alice")
			q.Action = hpcgate.ActionInvoke
			return q
		}()},
	}
	for name, tt := range tests {
		v, err := ast.JSON(input(tt.q, time.Now()))
		if err != nil {
			t.Fatal(err)
		}
		keys := v.(map[string]any)["keys"].(map[string]any)
		if got, ok := keys["hpcgate:CommandOwner"]; got != tt.owner || ok != (tt.owner != nil) {
			t.Errorf("%s: hpcgate:CommandOwner = %v (present %v), want %v", name, got, ok, tt.owner)
		}
		if got, ok := keys["hpcgate:OwnCommand"]; got != tt.own || ok != (tt.own != nil) {
			t.Errorf("%s: hpcgate:OwnCommand = %v (present %v), want %v", name, got, ok, tt.own)
		}
	}
}
