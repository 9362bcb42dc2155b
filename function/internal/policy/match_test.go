package policy

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/policies"
)

func TestNotStarMatchesNothing(t *testing.T) {
	tests := map[string]string{
		"NotAction *":   `{"Effect": "Allow", "NotAction": "*", "Resource": "*"}`,
		"NotResource *": `{"Effect": "Allow", "Action": "ehpc:*", "NotResource": "*"}`,
	}
	for name, st := range tests {
		t.Run(name, func(t *testing.T) {
			s, err := Compile(t.Context(), fstest.MapFS{"g.json": {Data: []byte(doc(st))}}, "test")
			if err != nil {
				t.Fatal(err)
			}
			for _, action := range []string{hpcgate.ActionInvoke, hpcgate.ActionListResults} {
				q := query(hpcgate.Principal{Type: "user", ID: "alice"})
				q.Action = action
				d, err := NewEngine(s).Decide(t.Context(), q)
				if err != nil || d.Allow {
					t.Errorf("%s: decision %+v, %v: want a deny", action, d, err)
				}
			}
		})
	}
}

// TestOnlyGateActions: a decision is only for the gate's two actions, as
// the gate spells them; anything else is an error, never a decision.
func TestOnlyGateActions(t *testing.T) {
	s, err := Compile(t.Context(), fstest.MapFS{"g.json": {Data: []byte(doc(`{"Effect": "Allow", "Action": "*", "Resource": "*"}`))}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	for _, action := range []string{"ehpc:Other", "EHPC:InvokeShellCommand", ""} {
		t.Run(action, func(t *testing.T) {
			q := query(hpcgate.Principal{Type: "user", ID: "alice"})
			q.Action = action
			d, err := NewEngine(s).Decide(t.Context(), q)
			if hpcgate.AsError(err).Code != hpcgate.CodeInvalidRequest || d.Allow {
				t.Errorf("decision %+v, %v: want an InvalidRequest error", d, err)
			}
		})
	}
}

// TestOnlyKnownPrincipalTypes: the rules' guards join action, principal
// type and id with "/", so a type outside user and service ("user/x" with
// id "y" would read as user "x/y") is an error, never a decision.
func TestOnlyKnownPrincipalTypes(t *testing.T) {
	s, err := Compile(t.Context(), fstest.MapFS{"g.json": {Data: []byte(`{"policies": {"P": {"Version": "1", "Statement": [` +
		`{"Effect": "Allow", "Action": "*", "Resource": "*"}]}}, "attachments": {"user": {"x/y": ["P"]}, "group": {"g": ["P"]}}}`)}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	e := NewEngine(s)
	if d, err := e.Decide(t.Context(), query(hpcgate.Principal{Type: "user", ID: "x/y"})); err != nil || !d.Allow {
		t.Fatalf("user x/y: decision %+v, %v: want an allow", d, err)
	}
	for _, p := range []hpcgate.Principal{{Type: "user/x", ID: "y"}, {Type: "group", ID: "g"}, {Type: "", ID: "x/y"}, {Type: "User", ID: "x/y"}} {
		d, err := e.Decide(t.Context(), query(p))
		if hpcgate.AsError(err).Code != hpcgate.CodeInvalidRequest || d.Allow {
			t.Errorf("%+v: decision %+v, %v: want an InvalidRequest error", p, d, err)
		}
	}
}

// TestResourceForms checks the resource tests written for OPA's rule
// index (cluster id ==, in, startswith, any_prefix_match, and the indexed
// pre-test of other patterns) against the plain wildcard match of the
// resource ARN, in Allow and NotResource form.
func TestResourceForms(t *testing.T) {
	lists := [][]string{
		{"acs:ehpc:*:*:cluster/ehpc-hz-abc"},
		{"acs:ehpc:*:*:cluster/ehpc-hz-abc", "acs:ehpc:*:*:cluster/prod-1"},
		{"acs:ehpc:*:*:cluster/ehpc-hz-*"},
		{"acs:ehpc:*:*:cluster/ehpc-hz-*", "acs:ehpc:*:*:cluster/prod-**"},
		{"acs:ehpc:*:*:cluster/ehpc-hz-abc", "acs:ehpc:*:*:cluster/prod-*"},
		{"acs:ehpc:*:*:cluster/*"},
		{"acs:ehpc:*:*:cluster/*", "acs:ehpc:*:*:cluster/x"},
		{"acs:ehpc:*:*:cluster/ehpc-?z-*"},
		{"acs:ehpc:*:*:cluster/ehpc-*-abc"},
		{"acs:ehpc:cn-hangzhou:123456:cluster/ehpc-hz-*"},
		{"acs:ehpc:cn-shanghai:*:cluster/ehpc-hz-*"},
		{"acs:ehpc:*:*:cluster/ehpc-hz-*", "acs:ehpc:cn-hangzhou:*:cluster/x*"},
		{"acs:ehpc:*:*:clu*"},
		{"acs:ehpc:*:*:*"},
		{"acs:*:*:*:cluster/ehpc-hz-abc"},
		{"acs:ehpc:*:*:cluster/ehpc-hz-abc:x"},
		{"acs:ecs:*:*:cluster/ehpc-hz-abc"},
		{"acs:ehpc:*:*:cluster/"},
	}
	clusters := []string{"ehpc-hz-abc", "ehpc-hz-", "ehpc-sz-abc", "prod-1", "prod-", "x", "ehpc-hz-abcd", "EHPC-hz-abc"}
	for _, list := range lists {
		for _, not := range []bool{false, true} {
			field := "Resource"
			if not {
				field = "NotResource"
			}
			res, _ := json.Marshal(list)
			src := doc(fmt.Sprintf(`{"Effect": "Allow", "Action": "ehpc:*", %q: %s}`, field, res))
			s, err := Compile(t.Context(), fstest.MapFS{"g.json": {Data: []byte(src)}}, "test")
			if err != nil {
				t.Fatalf("%s %v: %v", field, list, err)
			}
			for _, c := range clusters {
				q := query(hpcgate.Principal{Type: "user", ID: "alice"})
				q.Request.ClusterID = c
				arn := Resource(q.Region, q.Account, c)
				want := slices.ContainsFunc(list, func(p string) bool { return hpcgate.Wildcard(p, arn) }) != not
				d, err := NewEngine(s).Decide(t.Context(), q)
				if err != nil || d.Allow != want {
					t.Errorf("%s %v, cluster %s: allow %v, %v; want %v", field, list, c, d.Allow, err, want)
				}
			}
		}
	}
}

// TestForAnyValueForms checks ForAnyValue tests, written with an indexed
// guard or as one rule per value, on empty and non-empty keys, in Deny
// statements (where a wrong index would let a request through).
func TestForAnyValueForms(t *testing.T) {
	tests := []struct {
		cond     string
		programs []string
		deny     bool
	}{
		{`"ForAnyValue:StringEquals": {"hpcgate:Program": ["rm", "dd"]}`, []string{"ls", "dd"}, true},
		{`"ForAnyValue:StringEquals": {"hpcgate:Program": ["rm", "dd"]}`, []string{"ls"}, false},
		{`"ForAnyValue:StringEquals": {"hpcgate:Program": ["rm", "dd"]}`, []string{}, false},
		{`"ForAnyValue:StringNotEquals": {"hpcgate:Program": ["ls"]}`, []string{"ls", "rm"}, true},
		{`"ForAnyValue:StringNotEquals": {"hpcgate:Program": ["ls"]}`, []string{"ls"}, false},
		{`"ForAnyValue:StringNotEquals": {"hpcgate:Program": ["ls"]}`, []string{}, false},
		{`"ForAnyValue:StringLike": {"hpcgate:Program": ["*sh"]}`, []string{"ls", "bash"}, true},
		{`"ForAnyValue:StringLike": {"hpcgate:Program": ["*sh"]}`, []string{}, false},
		{`"ForAnyValue:StringEqualsIgnoreCase": {"hpcgate:Program": ["RM"]}`, []string{"rm"}, true},
		{`"ForAllValues:StringEquals": {"hpcgate:Program": ["ls"]}`, []string{}, true},
		{`"ForAllValues:StringEquals": {"hpcgate:Program": ["ls"]}`, []string{"ls", "rm"}, false},
		{`"ForAllValues:StringNotEquals": {"hpcgate:Program": ["rm"]}`, []string{"ls"}, true},
		{`"ForAllValues:StringNotEquals": {"hpcgate:Program": ["rm"]}`, []string{"ls", "rm"}, false},
		{`"ForAnyValue:StringEquals": {"hpcgate:Program": ["rm"]}, "NumericLessThan": {"ehpc:Timeout": 100}`, []string{"rm"}, true},
		{`"ForAnyValue:StringEquals": {"hpcgate:Program": ["rm"]}, "NumericLessThan": {"ehpc:Timeout": 10}`, []string{"rm"}, false},
	}
	for _, tc := range tests {
		src := fmt.Sprintf(`{"policies": {"P": {"Version": "1", "Statement": [
			{"Sid": "All", "Effect": "Allow", "Action": "ehpc:*", "Resource": "*"},
			{"Sid": "D", "Effect": "Deny", "Action": "ehpc:*", "Resource": "*", "Condition": {%s}}]}},
			"attachments": {"group": {"staff": ["P"]}}}`, tc.cond)
		s, err := Compile(t.Context(), fstest.MapFS{"g.json": {Data: []byte(src)}}, "test")
		if err != nil {
			t.Fatalf("%s: %v", tc.cond, err)
		}
		q := query(hpcgate.Principal{Type: "user", ID: "bob", Groups: []string{"x", "staff"}})
		q.Analysis = &hpcgate.Analysis{Programs: tc.programs}
		d, err := NewEngine(s).Decide(t.Context(), q)
		if err != nil || d.Allow == tc.deny {
			t.Errorf("%s, programs %q: decision %+v, %v; want deny %v", tc.cond, tc.programs, d, err, tc.deny)
		}
	}
}

// TestOddAttachmentIDs: ids are data, never format strings or Rego syntax.
func TestOddAttachmentIDs(t *testing.T) {
	for _, id := range []string{"50%s", `a"b`, "x]y", "ünïcode", "a\\b", "%!v"} {
		src := fmt.Sprintf(`{"policies": {"P": {"Version": "1", "Statement": [{"Sid": "A", "Effect": "Allow", "Action": "ehpc:*", "Resource": "*"}]}},
			"attachments": {"user": {%[1]q: ["P"]}, "group": {%[1]q: ["P"]}}}`, id)
		s, err := Compile(t.Context(), fstest.MapFS{"g.json": {Data: []byte(src)}}, "test")
		if err != nil {
			t.Fatalf("%q: %v", id, err)
		}
		for _, p := range []hpcgate.Principal{{Type: "user", ID: id}, {Type: "user", ID: "other", Groups: []string{id}}} {
			if d, err := NewEngine(s).Decide(t.Context(), query(p)); err != nil || !d.Allow {
				t.Errorf("%q as %+v: decision %+v, %v; want allow", id, p, d, err)
			}
		}
		if d, err := NewEngine(s).Decide(t.Context(), query(hpcgate.Principal{Type: "user", ID: "other"})); err != nil || d.Allow {
			t.Errorf("%q: another user: decision %+v, %v; want deny", id, d, err)
		}
	}
}

// TestIPFormsMatchLibrary: the inline IpAddress test agrees with the
// library's ip_in (what NotIpAddress negates) on every list of ranges drawn
// from a pool of IPv4, IPv6 and IPv4-mapped IPv6 ranges and every address.
func TestIPFormsMatchLibrary(t *testing.T) {
	pool := []string{"10.0.0.0/8", "10.1.2.3", "192.168.0.0/16", "0.0.0.0/0", "2001:db8::/32", "::/0",
		"::ffff:10.0.0.0/104", "::ffff:0:0/96", "::1", "fe80::/10", "::ffff:192.168.1.1", "64:ff9b::/96"}
	addrs := []string{"10.1.2.3", "10.9.9.9", "192.168.1.1", "8.8.8.8", "0.0.0.0", "2001:db8::1", "::1", "::",
		"::ffff:10.1.2.3", "::ffff:192.168.1.1", "::ffff:8.8.8.8", "fe80::1", "64:ff9b::a01:203", "2002::1"}
	var src strings.Builder
	src.WriteString("package t\n\nimport future.keywords.or\n\n")
	lists := 0
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		n := 1 + rng.IntN(4)
		var list []string
		for range n {
			list = append(list, pool[rng.IntN(len(pool))])
		}
		if i < len(pool) {
			list = []string{pool[i]} // each range alone too
		}
		raw, err := json.Marshal(list)
		if err != nil {
			t.Fatal(err)
		}
		vals, err := conditionValues(raw)
		if err != nil {
			t.Fatal(err)
		}
		neg, err := compileCondition("acs:SourceIp", "", operators["NotIpAddress"], vals)
		if err != nil {
			t.Fatal(err)
		}
		pos, err := compileCondition("acs:SourceIp", "", operators["IpAddress"], vals)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&src, "library contains %d if %s\n\ninline contains %d if {\n\t%s\n}\n\n", i, strings.TrimPrefix(neg, "not "), i, pos)
		lists++
	}
	lib, err := fs.ReadFile(policies.Library, policies.LibraryFile)
	if err != nil {
		t.Fatal(err)
	}
	pq, err := rego.New(append(regoOptions(), rego.Query("x := data.t.library; y := data.t.inline"),
		rego.Module("lib.rego", string(lib)), rego.Module("t.rego", src.String()))...).PrepareForEval(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	matched := 0
	for _, a := range append(addrs, "") {
		q := Query{Action: hpcgate.ActionInvoke, Principal: hpcgate.Principal{Type: hpcgate.PrincipalUser, ID: "u"}}
		q.Context.SourceIP = a
		rs, err := pq.Eval(t.Context(), rego.EvalParsedInput(input(q, time.Now())))
		if err != nil || len(rs) != 1 {
			t.Fatalf("%q: %v %v", a, rs, err)
		}
		lib, inl := rs[0].Bindings["x"], rs[0].Bindings["y"]
		if !reflect.DeepEqual(lib, inl) {
			t.Errorf("address %q: library matches lists %v, inline %v", a, lib, inl)
		}
		matched += len(lib.([]any))
	}
	if matched == 0 || matched == lists*(len(addrs)+1) {
		t.Fatalf("%d of %d (list, address) pairs match: the comparison tells nothing", matched, lists*(len(addrs)+1))
	}
	t.Logf("%d lists x %d addresses, %d matches, alike", lists, len(addrs)+1, matched)
}

// TestWithMatchAgreesWithGate: Rego tests build input.match with the
// library's with_match; it must derive what the gate builds in Go.
func TestWithMatchAgreesWithGate(t *testing.T) {
	lib, err := fs.ReadFile(policies.Library, policies.LibraryFile)
	if err != nil {
		t.Fatal(err)
	}
	pq, err := rego.New(append(regoOptions(), rego.Query("m := data.hpcgate.ram.with_match(input).match"),
		rego.Module("lib.rego", string(lib)))...).PrepareForEval(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	// without copies o without the fields drop says to leave out.
	without := func(o ast.Object, drop func(k, v *ast.Term) bool) ast.Object {
		out := ast.NewObject()
		o.Foreach(func(k, v *ast.Term) {
			if !drop(k, v) {
				out.Insert(k, v)
			}
		})
		return out
	}
	matchKey := ast.StringTerm("match")
	// The gate leaves an empty groups list out, with_match writes it.
	emptyList := func(_, v *ast.Term) bool { a, ok := v.Value.(*ast.Array); return ok && a.Len() == 0 }
	n := 0
	for _, p := range []hpcgate.Principal{
		{Type: "user", ID: "alice", Groups: []string{"researchers", "staff"}},
		{Type: "user", ID: "a/b c", Groups: []string{}},
		{Type: "user", ID: "bob"},
		{Type: "service", ID: "oss:raw-data", Groups: []string{"ignored"}},
	} {
		for _, ip := range []string{"", "10.20.0.5", "::ffff:10.20.0.5", "::FFFF:10.20.0.5", "2001:db8:20::1", "fe80::1%eth0", "not-an-ip"} {
			for _, action := range gateActions {
				q := query(p)
				q.Action, q.Context.SourceIP = action, ip
				in := input(q, time.Now()).(ast.Object)
				want := in.Get(matchKey).Value
				rs, err := pq.Eval(t.Context(), rego.EvalParsedInput(without(in, func(k, _ *ast.Term) bool { return k.Equal(matchKey) })))
				if err != nil || len(rs) != 1 {
					t.Fatalf("%+v: %v %v", q, rs, err)
				}
				got, err := ast.InterfaceToValue(rs[0].Bindings["m"])
				if err != nil {
					t.Fatal(err)
				}
				if without(got.(ast.Object), emptyList).Compare(want) != 0 {
					t.Errorf("principal %+v, action %s, address %q: with_match %v, the gate %v", p, action, ip, got, want)
				}
				n++
			}
		}
	}
	t.Logf("%d inputs alike", n)
}
