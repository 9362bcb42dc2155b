package policy

import (
	"net/netip"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

// keyType is the type of a condition key's value; it decides which
// operator family may test the key.
type keyType int

const (
	keyString keyType = iota
	keyNumber
	keyBool
	keyDate
	keyIP
)

func (t keyType) String() string {
	return [...]string{"string", "number", "bool", "date", "ip"}[t]
}

type keySpec struct {
	typ   keyType
	multi bool
}

// Condition keys the gate computes (DESIGN.md). Whether a key is
// multi-valued is fixed: loading rejects a plain operator on a multi key.
var conditionKeys = map[string]keySpec{
	"ehpc:ClusterId":           {keyString, false},
	"ehpc:WorkingDir":          {keyString, false},
	"ehpc:Timeout":             {keyNumber, false},
	"ehpc:InstanceId":          {keyString, true},
	"hpcgate:TargetsAllNodes":  {keyBool, false},
	"hpcgate:InstanceCount":    {keyNumber, false},
	"hpcgate:Program":          {keyString, true},
	"hpcgate:CommandLine":      {keyString, true},
	"hpcgate:ShellFeature":     {keyString, true},
	"hpcgate:OutputRedirect":   {keyString, true},
	"hpcgate:InputRedirect":    {keyString, true},
	"hpcgate:AssignedVariable": {keyString, true},
	"hpcgate:PrincipalType":    {keyString, false},
	"hpcgate:Trigger":          {keyString, false},
	"acs:SourceIp":             {keyIP, false},
	"acs:SecureTransport":      {keyBool, false},
	"acs:CurrentTime":          {keyDate, false},
	"acs:MFAPresent":           {keyBool, false},
	"hpcgate:CommandOwner":     {keyString, false},
	"hpcgate:OwnCommand":       {keyBool, false},
}

// Resource returns the resource ARN of a request on a cluster.
func Resource(region, account, clusterID string) string {
	return "acs:ehpc:" + region + ":" + account + ":cluster/" + clusterID
}

// resourceField is the input field of the resource ARN.
const resourceField = "resource"

// matchIPField names, in an inputShape, the addresses of input.match: the
// IP keys' values by address family (input.match["ip4:acs:SourceIp"] or
// ["ip6:acs:SourceIp"]), which the generated IpAddress tests read instead
// of telling the families apart themselves. The rest of input.match is
// always built.
const matchIPField = "match.ip"

// inputShape says which parts of the input a policy set reads: building
// the input costs about as much as a small evaluation, so what nothing
// reads is left out. The RAM library reads principal, action and keys;
// the generated module reads resource only for some Resource patterns;
// extension rules read what their references name.
type inputShape struct {
	all     bool            // every field and key
	fields  map[string]bool // top-level fields read besides action, match and keys
	keys    map[string]bool // the condition keys read, unless allKeys
	allKeys bool
}

func (s *inputShape) field(f string) bool { return s.all || s.fields[f] }
func (s *inputShape) key(k string) bool   { return s.all || s.allKeys || s.keys[k] }

// fieldCount bounds the number of top-level fields an input of the shape
// holds (action, match, keys and those it reads), to size the object.
func (s *inputShape) fieldCount() int {
	if s.all {
		return 11
	}
	return 3 + len(s.fields)
}

// keyCount is how many condition keys an input of the shape holds at most.
func (s *inputShape) keyCount() int {
	if s.all || s.allKeys {
		return len(conditionKeys)
	}
	return len(s.keys)
}

// addReads records the parts of the input module m reads. A reference to
// the whole input, or to a field or key not named by a string constant,
// reads all of it; one to the RAM library reads every key.
func (s *inputShape) addReads(m *ast.Module) {
	var vis *ast.GenericVisitor
	vis = ast.NewGenericVisitor(func(x any) bool {
		t, ok := x.(*ast.Term)
		if !ok {
			return false
		}
		switch v := t.Value.(type) {
		case ast.Var:
			if t.Equal(ast.InputRootDocument) {
				s.all = true
			}
		case ast.Ref:
			if v.HasPrefix(ramLibrary) {
				// The library's functions read keys their caller names.
				s.allKeys = true
			}
			if !v[0].Equal(ast.InputRootDocument) {
				return false
			}
			s.addRef(v)
			for _, u := range v[1:] {
				vis.Walk(u) // references inside, e.g. input.keys[input.x]
			}
			return true
		}
		return false
	})
	vis.Walk(m)
}

func (s *inputShape) addRef(r ast.Ref) {
	if len(r) < 2 {
		s.all = true
		return
	}
	f, ok := r[1].Value.(ast.String)
	if !ok {
		s.all = true
		return
	}
	s.fields[string(f)] = true
	if f == "match" {
		s.fields[matchIPField] = true
	}
	if f != "keys" {
		return
	}
	if len(r) < 3 {
		s.allKeys = true
		return
	}
	if k, ok := r[2].Value.(ast.String); ok {
		s.keys[string(k)] = true
	} else {
		s.allKeys = true
	}
}

var ramLibrary = ast.MustParseRef("data.hpcgate.ram")

// everything is the shape of the whole input.
var everything = &inputShape{all: true}

// input builds the whole evaluation input of q (what an extension rule
// that reads all of it sees).
func input(q Query, now time.Time) ast.Value { return buildInput(q, now, everything) }

// buildInput builds the evaluation input of q with the parts shape says
// are read, directly as an AST value: this skips the reflection of
// ast.InterfaceToValue on the hot path.
func buildInput(q Query, now time.Time, shape *inputShape) ast.Value {
	need := shape.key
	r := q.Request

	keys := ast.NewObjectWithCapacity(shape.keyCount())
	// put inserts key k if it is read; where building the value allocates,
	// the caller asks need first.
	put := func(k string, v *ast.Term) {
		if need(k) {
			keys.Insert(sterm(k), v)
		}
	}
	put("ehpc:ClusterId", ast.StringTerm(r.ClusterID))
	if need("ehpc:WorkingDir") {
		put("ehpc:WorkingDir", ast.StringTerm(r.WorkingDir))
	}
	put("ehpc:Timeout", ast.InternedTerm(r.Timeout))
	if need("ehpc:InstanceId") {
		put("ehpc:InstanceId", stringArray(r.InstanceIDs))
	}
	put("hpcgate:TargetsAllNodes", ast.InternedTerm(len(r.InstanceIDs) == 0))
	put("hpcgate:InstanceCount", ast.InternedTerm(len(r.InstanceIDs)))
	if q.Principal.Type != "" {
		put("hpcgate:PrincipalType", sterm(q.Principal.Type))
	}
	if q.Trigger != "" {
		put("hpcgate:Trigger", sterm(q.Trigger))
	}
	// The context object is for extension rules only.
	var ctx ast.Object
	withCtx := shape.field("context")
	if withCtx {
		ctx = ast.NewObject()
	}
	match := ast.NewObjectWithCapacity(4)
	match.Insert(sterm("own"), ast.StringTerm(q.Action+"/"+q.Principal.Type+"/"+q.Principal.ID))
	match.Insert(sterm("any"), sterm(q.Action+"/"+q.Principal.Type))
	if q.Principal.Type == hpcgate.PrincipalUser && len(q.Principal.Groups) > 0 {
		groups := make([]*ast.Term, len(q.Principal.Groups))
		for i, g := range q.Principal.Groups {
			groups[i] = ast.StringTerm(q.Action + "/" + g)
		}
		match.Insert(sterm("groups"), ast.ArrayTerm(groups...))
	}
	if q.Context.SourceIP != "" {
		if withCtx {
			ctx.Insert(sterm("sourceIp"), ast.StringTerm(q.Context.SourceIP))
		}
		// An address that does not parse is an absent key: positive IP
		// operators then fail and NotIpAddress matches.
		if need("acs:SourceIp") {
			if a, err := netip.ParseAddr(q.Context.SourceIP); err == nil {
				ip := ast.StringTerm(a.WithZone("").String())
				put("acs:SourceIp", ip)
				if shape.field(matchIPField) {
					field := sourceIP6
					if a.Is4() {
						field = sourceIP4
					}
					match.Insert(field, ip)
				}
			}
		}
	}
	if st := q.Context.SecureTransport; st != nil {
		if withCtx {
			ctx.Insert(sterm("secureTransport"), ast.InternedTerm(*st))
		}
		put("acs:SecureTransport", ast.InternedTerm(*st))
	}
	if q.Context.CurrentTime != nil {
		now = *q.Context.CurrentTime
	}
	if need("acs:CurrentTime") || withCtx {
		t := ast.StringTerm(now.UTC().Format(time.RFC3339Nano))
		if withCtx {
			ctx.Insert(sterm("currentTime"), t)
		}
		put("acs:CurrentTime", t)
	}
	if q.Principal.MFA != nil {
		put("acs:MFAPresent", ast.InternedTerm(*q.Principal.MFA))
	}
	if owner, own, read := commandOwnerKeys(q); read {
		if owner != "" {
			put("hpcgate:CommandOwner", ast.StringTerm(owner))
		}
		put("hpcgate:OwnCommand", ast.InternedTerm(own))
	}

	in := ast.NewObjectWithCapacity(shape.fieldCount())
	in.Insert(sterm("action"), sterm(q.Action))
	in.Insert(sterm("match"), ast.NewTerm(match))
	if shape.field("principal") {
		principal := ast.NewObject(
			item("type", sterm(q.Principal.Type)),
			item("id", ast.StringTerm(q.Principal.ID)),
			item("groups", stringArray(q.Principal.Groups)),
		)
		if q.Principal.MFA != nil {
			principal.Insert(sterm("mfa"), ast.InternedTerm(*q.Principal.MFA))
		}
		in.Insert(sterm("principal"), ast.NewTerm(principal))
	}
	if shape.field(resourceField) {
		in.Insert(sterm(resourceField), ast.StringTerm(Resource(q.Region, q.Account, r.ClusterID)))
	}
	if shape.field("request") {
		in.Insert(sterm("request"), ast.ObjectTerm(
			item("clusterId", ast.StringTerm(r.ClusterID)),
			item("command", ast.StringTerm(r.Command)),
			item("workingDir", ast.StringTerm(r.WorkingDir)),
			item("timeout", ast.InternedTerm(r.Timeout)),
			item("instanceIds", stringArray(r.InstanceIDs)),
		))
	}
	if withCtx {
		in.Insert(sterm("context"), ast.NewTerm(ctx))
	}
	for _, f := range [...]struct{ name, v string }{{"trigger", q.Trigger}, {"region", q.Region}, {"account", q.Account}} {
		if shape.field(f.name) {
			in.Insert(sterm(f.name), ast.StringTerm(f.v))
		}
	}
	// Multi-valued keys are always present, empty without a command, so
	// that ForAllValues holds and ForAnyValue fails for them.
	a := q.Analysis
	if a == nil {
		a = &hpcgate.Analysis{}
	}
	for _, kv := range [...]struct {
		k  string
		vs []string
	}{
		{"hpcgate:Program", a.Programs}, {"hpcgate:CommandLine", a.CommandLines}, {"hpcgate:ShellFeature", a.Features},
		{"hpcgate:OutputRedirect", a.OutputRedirects}, {"hpcgate:InputRedirect", a.InputRedirects},
		{"hpcgate:AssignedVariable", a.AssignedVariables},
	} {
		if need(kv.k) {
			put(kv.k, stringArray(kv.vs))
		}
	}
	if q.Analysis != nil && shape.field("command") {
		simple := make([]*ast.Term, len(a.Simple))
		for i, s := range a.Simple {
			redirects := make([]*ast.Term, len(s.Redirects))
			for j, rd := range s.Redirects {
				redirects[j] = ast.ObjectTerm(item("op", ast.StringTerm(rd.Op)), item("target", ast.StringTerm(rd.Target)))
			}
			simple[i] = ast.ObjectTerm(
				item("argv", stringArray(s.Argv)),
				item("assignments", stringArray(s.Assignments)),
				item("redirects", ast.ArrayTerm(redirects...)),
			)
		}
		in.Insert(sterm("command"), ast.ObjectTerm(
			item("simple", ast.ArrayTerm(simple...)),
			item("features", stringArray(a.Features)),
		))
	}
	in.Insert(sterm("keys"), ast.NewTerm(keys))
	return in
}

// commandOwnerKeys gives the owner keys of q. A read knows whose command
// it reads: hpcgate:CommandOwner (owner, "" absent) when a seal proves
// it, and always hpcgate:OwnCommand (own), whether that is the requester
// itself. read is false for any other action: neither key exists then.
func commandOwnerKeys(q Query) (owner string, own, read bool) {
	if q.Action != hpcgate.ActionListResults {
		return "", false, false
	}
	return q.CommandOwner, q.CommandOwner != "" && q.CommandOwner == q.Principal.Owner(), true
}

func item(k string, v *ast.Term) [2]*ast.Term { return ast.Item(sterm(k), v) }

// sourceIP4 and sourceIP6 are the input.match fields that hold acs:SourceIp
// by its address family: ip6 for any IPv6 address, IPv4-mapped ones
// included, ip4 for an IPv4 one. ipTest writes the tests that read them.
var (
	sourceIP4 = ast.StringTerm("ip4:acs:SourceIp")
	sourceIP6 = ast.StringTerm("ip6:acs:SourceIp")
)

// staticTerms holds the terms of the input's field names and condition
// keys, shared by every input (evaluation never modifies a term).
var staticTerms = func() map[string]*ast.Term {
	m := map[string]*ast.Term{}
	for _, s := range []string{"type", "id", "groups", "mfa", "clusterId", "command", "workingDir", "timeout", "instanceIds",
		"sourceIp", "secureTransport", "currentTime", "principal", "action", "resource", "request", "context", "trigger",
		"region", "account", "keys", "match", "own", "any", "simple", "features", "argv", "assignments", "redirects", "op", "target",
		hpcgate.ActionInvoke, hpcgate.ActionListResults, hpcgate.PrincipalUser, hpcgate.PrincipalService,
		hpcgate.TriggerHTTP, hpcgate.TriggerOSS, hpcgate.TriggerEventBridge, hpcgate.TriggerTimer, hpcgate.TriggerInvoke} {
		m[s] = ast.StringTerm(s)
	}
	for k := range conditionKeys {
		m[k] = ast.StringTerm(k)
	}
	for _, a := range []string{hpcgate.ActionInvoke, hpcgate.ActionListResults} {
		for _, t := range []string{hpcgate.PrincipalUser, hpcgate.PrincipalService} {
			m[a+"/"+t] = ast.StringTerm(a + "/" + t)
		}
	}
	return m
}()

// sterm is the term of a static string.
func sterm(s string) *ast.Term {
	if t, ok := staticTerms[s]; ok {
		return t
	}
	return ast.StringTerm(s)
}

// emptyArray is shared by every empty list of the input.
var emptyArray = ast.ArrayTerm()

func stringArray(ss []string) *ast.Term {
	if len(ss) == 0 {
		return emptyArray
	}
	ts := make([]*ast.Term, len(ss))
	for i, s := range ss {
		ts[i] = ast.StringTerm(s)
	}
	return ast.ArrayTerm(ts...)
}

// principalTypes are the principal types a request may carry.
var principalTypes = map[string]bool{hpcgate.PrincipalUser: true, hpcgate.PrincipalService: true}
