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
}

// Resource returns the resource ARN of a request on a cluster.
func Resource(region, account, clusterID string) string {
	return "acs:ehpc:" + region + ":" + account + ":cluster/" + clusterID
}

// input builds the whole evaluation input of q (what extension rules see)
// directly as an AST value: this skips the reflection of
// ast.InterfaceToValue on the hot path.
// resourceField is the input field of the resource ARN; used names it
// when a statement tests the ARN itself.
const resourceField = "resource"

func input(q Query, now time.Time) ast.Value { return buildInput(q, now, true, nil) }

// buildInput builds the evaluation input of q; unless full, only what the
// RAM library reads: principal, action, and of resource and the keys
// those in used.
// Building the input costs about as much as a small evaluation, so the
// keys no statement tests are left out.
func buildInput(q Query, now time.Time, full bool, used map[string]bool) ast.Value {
	need := func(k string) bool { return full || used[k] }
	r := q.Request

	principal := ast.NewObject(
		item("type", sterm(q.Principal.Type)),
		item("id", ast.StringTerm(q.Principal.ID)),
		item("groups", stringArray(q.Principal.Groups)),
	)
	if q.Principal.MFA != nil {
		principal.Insert(sterm("mfa"), ast.InternedTerm(*q.Principal.MFA))
	}
	keys := ast.NewObjectWithCapacity(len(conditionKeys))
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
	if full {
		ctx = ast.NewObject()
	}
	if q.Context.SourceIP != "" {
		if full {
			ctx.Insert(sterm("sourceIp"), ast.StringTerm(q.Context.SourceIP))
		}
		// An address that does not parse is an absent key: positive IP
		// operators then fail and NotIpAddress matches.
		if a, err := netip.ParseAddr(q.Context.SourceIP); err == nil && need("acs:SourceIp") {
			put("acs:SourceIp", ast.StringTerm(a.WithZone("").String()))
		}
	}
	if st := q.Context.SecureTransport; st != nil {
		if full {
			ctx.Insert(sterm("secureTransport"), ast.InternedTerm(*st))
		}
		put("acs:SecureTransport", ast.InternedTerm(*st))
	}
	if q.Context.CurrentTime != nil {
		now = *q.Context.CurrentTime
	}
	if need("acs:CurrentTime") {
		t := ast.StringTerm(now.UTC().Format(time.RFC3339Nano))
		if full {
			ctx.Insert(sterm("currentTime"), t)
		}
		put("acs:CurrentTime", t)
	}
	if q.Principal.MFA != nil {
		put("acs:MFAPresent", ast.InternedTerm(*q.Principal.MFA))
	}

	in := ast.NewObject(
		item("principal", ast.NewTerm(principal)),
		item("action", sterm(q.Action)),
	)
	if need(resourceField) {
		in.Insert(sterm(resourceField), ast.StringTerm(Resource(q.Region, q.Account, r.ClusterID)))
	}
	if full {
		in.Insert(sterm("request"), ast.ObjectTerm(
			item("clusterId", ast.StringTerm(r.ClusterID)),
			item("command", ast.StringTerm(r.Command)),
			item("workingDir", ast.StringTerm(r.WorkingDir)),
			item("timeout", ast.InternedTerm(r.Timeout)),
			item("instanceIds", stringArray(r.InstanceIDs)),
		))
		in.Insert(sterm("context"), ast.NewTerm(ctx))
		in.Insert(sterm("trigger"), ast.StringTerm(q.Trigger))
		in.Insert(sterm("region"), ast.StringTerm(q.Region))
		in.Insert(sterm("account"), ast.StringTerm(q.Account))
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
	if q.Analysis != nil && full {
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

func item(k string, v *ast.Term) [2]*ast.Term { return ast.Item(sterm(k), v) }

// staticTerms holds the terms of the input's field names and condition
// keys, shared by every input (evaluation never modifies a term).
var staticTerms = func() map[string]*ast.Term {
	m := map[string]*ast.Term{}
	for _, s := range []string{"type", "id", "groups", "mfa", "clusterId", "command", "workingDir", "timeout", "instanceIds",
		"sourceIp", "secureTransport", "currentTime", "principal", "action", "resource", "request", "context", "trigger",
		"region", "account", "keys", "simple", "features", "argv", "assignments", "redirects", "op", "target",
		hpcgate.ActionInvoke, hpcgate.ActionListResults, hpcgate.PrincipalUser, hpcgate.PrincipalService,
		hpcgate.TriggerHTTP, hpcgate.TriggerOSS, hpcgate.TriggerEventBridge, hpcgate.TriggerTimer, hpcgate.TriggerInvoke} {
		m[s] = ast.StringTerm(s)
	}
	for k := range conditionKeys {
		m[k] = ast.StringTerm(k)
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
