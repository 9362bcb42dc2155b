package policy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown/cache"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/policies"
)

// ExtensionPrefix is the package prefix of extension rules.
const ExtensionPrefix = "hpcgate.ext"

const decisionQuery = "data.hpcgate.ram.decision"

// Builtins extension rules may not call: nothing in a decision reaches the network.
var forbiddenBuiltins = map[string]bool{
	"http.send": true, "net.lookup_ip_addr": true, "opa.runtime": true,
}

// Set is one compiled, validated policy set: governance data, extension
// rules and the built-in RAM library, prepared for evaluation.
type Set struct {
	revision string
	routes   []hpcgate.Route
	query    rego.PreparedEvalQuery
	shape    *inputShape // the parts of the input the set reads
	// patterns keeps the compiled glob patterns of this set across
	// evaluations (OPA's global cache holds only 100).
	patterns cache.InterQueryValueCache
	// memo is OPA's per-evaluation cache of rule values, which the set
	// needs only with extension rules: the library and the generated rules
	// read no document twice on the way to an Allow (deny, read twice when
	// something denies, is a handful of rules), so filling the cache costs
	// more than it saves. Extension rules may read one helper rule many
	// times, and keep it.
	memo bool
	gov  *governance // the statements, for explaining decisions and Grants
	// stats counts what the set holds.
	stats Stats
}

// Stats counts what a policy set holds: a health check shows it, so that a
// set that loaded but holds less than intended is seen.
type Stats struct {
	Revision       string `json:"revision"`
	Policies       int    `json:"policies"`
	Statements     int    `json:"statements"`
	Principals     int    `json:"principals"` // attachment entries: users, groups, services, "*"
	Routes         int    `json:"routes"`
	ExtensionRules int    `json:"extensionRules"` // extension modules
}

// Stats returns the counts of the set.
func (s *Set) Stats() Stats { return s.stats }

// Routes returns the routes of the governance data, in order.
func (s *Set) Routes() []hpcgate.Route { return slices.Clone(s.routes) }

// Revision names the policy set, for the audit record.
func (s *Set) Revision() string { return s.revision }

// Default compiles the governance data and extension rules embedded in the
// binary (policies.FS). Its revision is a digest of their content.
func Default(ctx context.Context) (*Set, error) {
	return Compile(ctx, policies.FS, "")
}

// Compile validates and compiles a policy set from the top level of fsys:
// every *.json file is governance data (merged; a policy or route defined
// twice is an error), every *.rego file other than *_test.rego is an
// extension rule module in a package under hpcgate.ext. An empty revision
// is replaced by a digest of the files.
func Compile(ctx context.Context, fsys fs.FS, revision string) (*Set, error) {
	gov, extensions, digest, err := load(fsys)
	if err != nil {
		return nil, err
	}
	if revision == "" {
		revision = digest
	}
	s, err := prepare(ctx, gov, extensions)
	if err != nil {
		return nil, err
	}
	s.revision, s.routes, s.gov = revision, gov.routes, gov
	s.stats = Stats{Revision: revision, Policies: len(gov.policies), Routes: len(gov.routes), ExtensionRules: len(extensions)}
	for _, p := range gov.policies {
		s.stats.Statements += len(p.statements)
	}
	for _, ids := range gov.attachments {
		s.stats.Principals += len(ids)
	}
	return s, nil
}

// load reads and validates the governance data and extension modules at
// the top level of fsys, and digests them.
func load(fsys fs.FS) (*governance, []*ast.Module, string, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, nil, "", fmt.Errorf("read policies: %w", err)
	}
	gov := newGovernance()
	var modules []*ast.Module
	digest := sha256.New()
	files := 0 // governance files
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || (!strings.HasSuffix(name, ".json") && !strings.HasSuffix(name, ".rego")) || strings.HasSuffix(name, "_test.rego") {
			continue
		}
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, nil, "", fmt.Errorf("read policies: %w", err)
		}
		fmt.Fprintf(digest, "%s\x00%d\x00", name, len(data))
		digest.Write(data)
		if strings.HasSuffix(name, ".json") {
			files++
			if err := gov.add(name, data); err != nil {
				return nil, nil, "", err
			}
			continue
		}
		m, err := parseExtension(name, data)
		if err != nil {
			return nil, nil, "", err
		}
		modules = append(modules, m)
	}
	if err := gov.finish(); err != nil {
		return nil, nil, "", err
	}
	if err := gov.complete(files); err != nil {
		return nil, nil, "", err
	}
	return gov, modules, "sha256:" + hex.EncodeToString(digest.Sum(nil))[:16], nil
}

// parseExtension parses an extension module and checks that it can only
// add deny reasons: its package is under hpcgate.ext and any rule named
// deny is a set ("deny contains reason if ...").
func parseExtension(name string, src []byte) (*ast.Module, error) {
	m, err := ast.ParseModuleWithOpts(name, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		return nil, fmt.Errorf("extension %s: %w", name, err)
	}
	pkg := strings.TrimPrefix(m.Package.Path.String(), "data.")
	if !strings.HasPrefix(pkg, ExtensionPrefix+".") {
		return nil, fmt.Errorf("extension %s: package %s is not under %s (e.g. package %s.site)", name, pkg, ExtensionPrefix, ExtensionPrefix)
	}
	for _, r := range m.Rules {
		ref := r.Head.Ref()
		if len(ref) == 0 || !ref[0].Equal(ast.VarTerm("deny")) {
			continue
		}
		if len(ref) != 1 || r.Head.RuleKind() != ast.MultiValue {
			return nil, fmt.Errorf("extension %s:%d: rule deny must be a set of strings (deny contains reason if ...)", name, r.Location.Row)
		}
	}
	return m, nil
}

// extensionModule collects the deny reasons of every extension package.
// An element that is not a string gives a reason marked "invalid", which
// turns the decision into an error (fail closed). Without extensions the
// package is empty.
func extensionModule(modules []*ast.Module) *ast.Module {
	pkgs := map[string]bool{}
	for _, m := range modules {
		for _, r := range m.Rules {
			if ref := r.Head.Ref(); len(ref) == 1 && ref[0].Equal(ast.VarTerm("deny")) {
				pkgs[m.Package.Path.String()] = true
			}
		}
	}
	var b strings.Builder
	b.WriteString("package hpcgate.gov\n\n")
	for _, p := range sortedKeys(pkgs) {
		name := strings.TrimPrefix(p, "data.")
		fmt.Fprintf(&b, "deny contains {\"effect\": \"Deny\", \"policy\": %q, \"detail\": r} if {\n\tsome r in %s.deny\n\tis_string(r)\n}\n\n", name, p)
		fmt.Fprintf(&b, "deny contains {\"effect\": \"Deny\", \"policy\": %q, \"detail\": \"deny holds a value that is not a string\", \"invalid\": true} if {\n\tsome r in %s.deny\n\tnot is_string(r)\n}\n\n", name, p)
	}
	return ast.MustParseModuleWithOpts(b.String(), ast.ParserOptions{RegoVersion: ast.RegoV1})
}

// prepare compiles the policy set into a Set without revision and routes.
func prepare(ctx context.Context, gov *governance, extensions []*ast.Module) (*Set, error) {
	c, err := gov.build(extensions)
	if err != nil {
		return nil, err
	}
	opts := append(regoOptions(), rego.Query(decisionQuery))
	for _, name := range sortedKeys(c.modules) {
		opts = append(opts, rego.ParsedModule(c.modules[name]))
	}
	q, err := rego.New(opts...).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("compile policies: %w", err)
	}
	entries := 1000 + 2*c.globs
	patterns := cache.NewInterQueryValueCache(ctx, &cache.Config{
		InterQueryBuiltinValueCache: cache.InterQueryBuiltinValueCacheConfig{MaxNumEntries: &entries},
	})
	// One evaluation at load time does the lazy work of the first one and
	// proves the set evaluates at all.
	trial := input(Query{Action: hpcgate.ActionInvoke, Principal: hpcgate.Principal{Type: hpcgate.PrincipalUser}}, time.Now())
	if _, err := q.Eval(ctx, rego.EvalParsedInput(trial), rego.EvalInterQueryBuiltinValueCache(patterns)); err != nil {
		return nil, fmt.Errorf("compile policies: trial evaluation: %w", err)
	}
	shape := &inputShape{fields: map[string]bool{resourceField: c.resource, matchIPField: c.ip}, keys: gov.usedKeys()}
	for _, m := range extensions {
		shape.addReads(m)
	}
	return &Set{query: q, patterns: patterns, shape: shape, memo: len(extensions) > 0}, nil
}

// regoOptions are the compiler settings every evaluation uses: Rego v1,
// strict compilation, builtin errors as errors, no network builtins.
func regoOptions() []func(*rego.Rego) {
	caps := ast.CapabilitiesForThisVersion()
	caps.Builtins = slices.DeleteFunc(slices.Clone(caps.Builtins), func(b *ast.Builtin) bool { return forbiddenBuiltins[b.Name] })
	return []func(*rego.Rego){
		rego.SetRegoVersion(ast.RegoV1),
		rego.Strict(true),
		rego.StrictBuiltinErrors(true),
		rego.Capabilities(caps),
	}
}

// compiled is a policy set before preparation: the generated module that
// holds one rule per statement and attachment, and extension modules.
type compiled struct {
	modules  map[string]*ast.Module
	globs    int  // glob.match calls in the generated module
	resource bool // the generated module reads input.resource
	ip       bool // the generated module reads an address from input.match
}

// gateActions are the actions the gate asks about, in their spelling: the
// only actions a decision is for. Statements' Action and NotAction are
// matched against them (ignoring case) when the policy set loads.
var gateActions = []string{hpcgate.ActionInvoke, hpcgate.ActionListResults}

// build compiles governance data into Rego, the package hpcgate.gov the
// RAM library reads. deny holds the reasons of the matching Deny
// statements: one rule per statement, attachment and gate action whose
// body tests the action and the principal, the Resource and the
// Condition. allow_own, allow_any and allow_group[<action>/<group>] hold
// the decision of the first matching Allow statement of an attachment:
// one chain of such rules per attachment and action.
func (g *governance) build(extensions []*ast.Module) (*compiled, error) {
	lib, err := fs.ReadFile(policies.Library, policies.LibraryFile)
	if err != nil {
		return nil, err
	}
	var src strings.Builder
	src.WriteString("package hpcgate.gov\n\nimport future.keywords.or\n\n")
	type compiledStatement struct {
		effect  string   // "deny" or "allow"
		reason  string   // the reason object, a Rego literal
		actions []string // the gate actions it applies to
		bodies  []string // alternatives, each testing Resource and Condition
	}
	byPolicy := map[string][]compiledStatement{}
	for _, pname := range g.order {
		for _, st := range g.policies[pname].statements {
			cs := compiledStatement{effect: strings.ToLower(st.effect)}
			if st.effect == "Deny" {
				cs.reason = lit(map[string]any{"effect": st.effect, "policy": pname, "sid": st.sid, "detail": st.detail})
			} else {
				cs.reason = lit(map[string]any{"effect": st.effect, "policy": pname, "sid": st.sid})
			}
			for _, a := range gateActions {
				if slices.ContainsFunc(st.actions, func(p string) bool { return hpcgate.Wildcard(p, strings.ToLower(a)) }) != st.notAction {
					cs.actions = append(cs.actions, a)
				}
			}
			var body []string
			if expr := resourceExpr(st.resources, st.notResource); expr != "" {
				body = append(body, expr)
			}
			// One condition with alternatives (the first) makes one rule
			// per alternative; any other is tested as a whole.
			var alts []string
			for _, c := range st.conditions {
				if alts == nil && c.alts != nil {
					alts = c.alts
					continue
				}
				body = append(body, c.expr)
			}
			if alts == nil {
				cs.bodies = []string{joinBody(body...)}
			}
			for _, a := range alts {
				cs.bodies = append(cs.bodies, joinBody(append([]string{a}, body...)...))
			}
			byPolicy[pname] = append(byPolicy[pname], cs)
		}
	}
	// Every rule is guarded by one test OPA's rule index decides (see
	// attachmentGuard): the action, and the principal (its id, one of a
	// user's groups, or any of its type for "*"). The index then picks the
	// rules of the request's principal and action, whatever the size of the
	// policy set, and of those the few that can match the request.
	//
	// Deny statements repeat per attachment and action as rules of one set:
	// every match is a reason. Allow statements form one chain per
	// attachment and action (rule, else, else, ... in policy and statement
	// order) whose value is the decision: evaluation stops at the first that
	// matches, since one Allow is all a decision needs. The chains of
	// attachments to one principal and to every principal of a type are
	// definitions of one rule each (allow_own, allow_any): the guards leave
	// at most one defined. A group's chains are allow_group[<action>/<group>].
	for _, typ := range sortedKeys(g.attachments) {
		for _, id := range sortedKeys(g.attachments[typ]) {
			for _, action := range gateActions {
				guard, head := attachmentGuard(typ, id, action)
				var links []string // "decision if {body}"
				seen := map[string]bool{}
				for _, p := range g.attachments[typ][id] {
					if seen[p] {
						continue
					}
					seen[p] = true
					for _, cs := range byPolicy[p] {
						if !slices.Contains(cs.actions, action) {
							continue
						}
						for _, body := range cs.bodies {
							body = joinBody(guard, body)
							if cs.effect == "allow" {
								links = append(links, fmt.Sprintf("{\"allow\": true, \"reasons\": [%s]} if {\n\t%s\n}", cs.reason, body))
								continue
							}
							fmt.Fprintf(&src, "deny contains %s if {\n\t%s\n}\n\n", cs.reason, body)
						}
					}
				}
				if len(links) > 0 {
					fmt.Fprintf(&src, "%s := %s\n\n", head, strings.Join(links, " else := "))
				}
			}
		}
	}
	gen, err := ast.ParseModuleWithOpts("hpcgate/governance.rego", src.String(), ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		return nil, fmt.Errorf("compile governance: %w", err)
	}
	// The library's METADATA is documentation nothing reads: not
	// processing it saves ~5% of a compile.
	libMod, err := ast.ParseModuleWithOpts(path.Join("hpcgate", policies.LibraryFile), string(lib), ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		return nil, fmt.Errorf("compile library: %w", err)
	}
	modules := map[string]*ast.Module{
		"hpcgate/governance.rego":    gen,
		"hpcgate/extensions.rego":    extensionModule(extensions),
		libMod.Package.Location.File: libMod,
	}
	for _, m := range extensions {
		modules[m.Package.Location.File] = m
	}
	return &compiled{modules: modules, globs: strings.Count(src.String(), "glob.match("), resource: strings.Contains(src.String(), "input.resource"),
		ip: strings.Contains(src.String(), `input.match["ip`)}, nil
}

// attachmentGuard returns the test that a request is for action and by a
// principal the attachment (typ, id) applies to, and the rule the
// attachment's Allow chain defines. It is one comparison with a value of
// input.match, which OPA's rule index decides and the evaluation then
// costs one expression: the value joins the action, the principal type and
// the principal id (or one of a user's groups) with "/", unambiguous since
// neither an action nor a type holds one.
func attachmentGuard(typ, id, action string) (guard, head string) {
	switch {
	case typ == "group":
		return lit(action+"/"+id) + " in input.match.groups", "allow_group[" + lit(action+"/"+id) + "]"
	case id == "*":
		return "input.match.any == " + lit(action+"/"+typ), "allow_any"
	default:
		return "input.match.own == " + lit(action+"/"+typ+"/"+id), "allow_own"
	}
}

// joinBody joins the non-empty expressions of a rule body, one per line.
func joinBody(exprs ...string) string {
	return strings.Join(slices.DeleteFunc(slices.Clone(exprs), func(e string) bool { return e == "" }), "\n\t")
}

func hasWildcard(s string) bool { return strings.ContainsAny(s, "*?") }

// patternExpr is a Rego expression testing subject against * and ?
// patterns ("" when every subject matches).
func patternExpr(list []string, subject string, not bool) string {
	var expr string
	switch {
	case slices.ContainsFunc(list, func(s string) bool { return strings.Trim(s, "*") == "" }):
		if !not {
			return ""
		}
		expr = "true" // NotAction/NotResource "*" matches nothing
	case len(list) == 1 && !hasWildcard(list[0]):
		expr = fmt.Sprintf("%s == %s", subject, lit(list[0]))
	case len(list) == 1 && strings.Count(list[0], "*") == 1 && strings.HasSuffix(list[0], "*") && !strings.Contains(list[0], "?"):
		expr = fmt.Sprintf("startswith(%s, %s)", subject, lit(strings.TrimSuffix(list[0], "*")))
	default:
		expr = fmt.Sprintf("glob.match(%s, null, %s)", lit(likeGlob(list)), subject)
	}
	if not {
		return "not " + expr
	}
	return expr
}

// clusterKey is the cluster id of the request: the resource ARN is
// acs:ehpc:<region>:<account>:cluster/<id> with no ":" inside a field
// (Set.decide refuses any other), so a pattern with exactly four ":" holds
// its fields against the resource's fields one to one.
const clusterKey = `input.keys["ehpc:ClusterId"]`

// resourceExpr is a Rego expression testing input.resource against the
// * and ? patterns of a Resource or NotResource list ("" when every
// resource matches). Patterns of the form acs:ehpc:*:*:cluster/<id> and
// acs:ehpc:*:*:cluster/<prefix>* test the cluster id instead, with ==,
// in, startswith or strings.any_prefix_match: OPA's rule index decides
// those, so a statement for other clusters is never evaluated. Any other
// list whose patterns all pin a literal start of the cluster id gets that
// as an indexed pre-test before the exact one.
func resourceExpr(list []string, not bool) string {
	exact, prefixes, hints := clusterPatterns(list)
	var expr string
	switch {
	case slices.ContainsFunc(list, func(s string) bool { return strings.Trim(s, "*") == "" }):
		return patternExpr(list, "input.resource", not)
	case len(exact)+len(prefixes) == len(list) && slices.Contains(prefixes, ""):
		// acs:ehpc:*:*:cluster/* is every resource.
		return patternExpr([]string{"*"}, "input.resource", not)
	case len(exact) == len(list) && len(list) == 1:
		expr = fmt.Sprintf("%s == %s", clusterKey, lit(exact[0]))
	case len(exact) == len(list):
		expr = fmt.Sprintf("%s in %s", clusterKey, litSet(exact))
	case len(prefixes) == len(list) && len(list) == 1:
		expr = fmt.Sprintf("startswith(%s, %s)", clusterKey, lit(prefixes[0]))
	case len(prefixes) == len(list):
		expr = fmt.Sprintf("strings.any_prefix_match(%s, %s)", clusterKey, litList(prefixes))
	default:
		expr = patternExpr(list, "input.resource", not)
		if !not && len(hints) == len(list) {
			expr = fmt.Sprintf("strings.any_prefix_match(%s, %s)\n\t%s", clusterKey, litList(hints), expr)
		}
		return expr
	}
	if not {
		return "not " + expr
	}
	return expr
}

// clusterPatterns sorts Resource patterns: exact holds the cluster ids of
// the patterns acs:ehpc:*:*:cluster/<id>, prefixes those of
// acs:ehpc:*:*:cluster/<prefix>*; hints holds, for every pattern with four
// ":" and a relative part cluster/<literal>..., that literal when it is
// not empty.
func clusterPatterns(list []string) (exact, prefixes, hints []string) {
	const any = "acs:ehpc:*:*:cluster/"
	for _, p := range list {
		if rest, ok := strings.CutPrefix(p, any); ok && !strings.ContainsAny(rest, ":?") {
			if !strings.Contains(rest, "*") {
				exact = append(exact, rest)
			} else if stem := strings.TrimRight(rest, "*"); !strings.Contains(stem, "*") {
				prefixes = append(prefixes, stem)
			}
		}
		if strings.Count(p, ":") != 4 {
			continue
		}
		rel, ok := strings.CutPrefix(p[strings.LastIndexByte(p, ':')+1:], "cluster/")
		if !ok {
			continue
		}
		if i := strings.IndexAny(rel, "*?"); i >= 0 {
			rel = rel[:i]
		}
		if rel != "" {
			hints = append(hints, rel)
		}
	}
	return exact, prefixes, hints
}
