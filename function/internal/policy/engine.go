package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

// EvalTimeout bounds one evaluation, whatever the caller's deadline, so an
// expensive extension rule ends in a (fail-closed) error.
const EvalTimeout = time.Second

// Query is one authorization question; the vocabulary package defines
// it, so the gate that asks needs nothing of this package.
type Query = hpcgate.Query

// Engine holds the current policy set and decides with it. The set can be
// swapped while decisions run.
type Engine struct {
	cur atomic.Pointer[Set]
	now func() time.Time
}

// NewEngine returns an Engine deciding with s. With a nil s every decision
// fails closed until Swap installs a set.
func NewEngine(s *Set) *Engine {
	e := &Engine{now: time.Now}
	e.cur.Store(s)
	return e
}

// Swap installs s for the decisions that start from now on.
func (e *Engine) Swap(s *Set) { e.cur.Store(s) }

// Current returns the installed set, or nil.
func (e *Engine) Current() *Set { return e.cur.Load() }

// Decide evaluates q with the current set. A deny is a Decision, not an
// error: the error is for when no decision could be made (no set, an
// evaluation error, a timeout, a result of unexpected shape), and is then an
// *hpcgate.Error with code PolicyUnavailable and status 503.
func (e *Engine) Decide(ctx context.Context, q Query) (hpcgate.Decision, error) {
	s := e.cur.Load()
	if s == nil {
		return hpcgate.Decision{}, unavailable("no policy set is loaded", nil)
	}
	return s.decide(ctx, q, e.now())
}

// Evaluation options decisions share: no metrics, the result as the AST
// term itself (readDecision reads it without a JSON round trip), and,
// unless the set memoizes, no cache of rule values.
var (
	noMetrics = metrics.NoOp()
	rawResult = rego.EvalGenerateJSON(func(t *ast.Term, _ *rego.EvalContext) (any, error) { return t, nil })
	noMemo    = rego.EvalVirtualCache(noVirtualCache{})
)

// noVirtualCache is a rule-value cache that keeps nothing.
type noVirtualCache struct{}

func (noVirtualCache) Push()                         {}
func (noVirtualCache) Pop()                          {}
func (noVirtualCache) Get(ast.Ref) (*ast.Term, bool) { return nil, false }
func (noVirtualCache) Put(ast.Ref, *ast.Term)        {}
func (noVirtualCache) Keys() []ast.Ref               { return nil }

func (s *Set) decide(ctx context.Context, q Query, now time.Time) (hpcgate.Decision, error) {
	if err := ctx.Err(); err != nil {
		return hpcgate.Decision{}, unavailable("policy evaluation cancelled", err)
	}
	q.Request = q.Request.WithDefaults()
	if !slices.Contains(gateActions, q.Action) {
		return hpcgate.Decision{}, hpcgate.Invalid("action: %q (want %q or %q)", q.Action, hpcgate.ActionInvoke, hpcgate.ActionListResults)
	}
	// The rules' guards join action, type and id with "/" (see
	// attachmentGuard): unambiguous only while the type is one of these.
	if !principalTypes[q.Principal.Type] {
		return hpcgate.Decision{}, hpcgate.Invalid("principal.type: %q (want %q or %q)", q.Principal.Type, hpcgate.PrincipalUser, hpcgate.PrincipalService)
	}
	// The resource tests read the cluster id in place of the ARN (see
	// clusterKey): that holds only while no field holds a ":".
	for _, f := range [...]struct{ name, v string }{{"region", q.Region}, {"account", q.Account}, {"clusterId", q.Request.ClusterID}} {
		if strings.Contains(f.v, ":") {
			return hpcgate.Decision{}, hpcgate.Invalid("%s: may not contain \":\"", f.name)
		}
	}
	d := hpcgate.Decision{
		Principal: q.Principal,
		Action:    q.Action,
		Resource:  Resource(q.Region, q.Account, q.Request.ClusterID),
		Revision:  s.revision,
	}
	// The caller's deadline and EvalTimeout both end the evaluation (see
	// deadline).
	cancel := &deadline{ctx: ctx, until: time.Now().Add(EvalTimeout)}
	opts := []rego.EvalOption{rego.EvalParsedInput(buildInput(q, now, s.shape)), rego.EvalExternalCancel(cancel),
		rego.EvalMetrics(noMetrics), rawResult, rego.EvalInterQueryBuiltinValueCache(s.patterns), noMemo}
	if s.memo {
		opts = opts[:len(opts)-1]
	}
	rs, err := s.query.Eval(ctx, opts...)
	if err != nil {
		if cancel.done.Load() || cancel.expired() {
			return d, unavailable("policy evaluation timed out", err)
		}
		return d, unavailable("policy evaluation failed", err)
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return d, unavailable("policy evaluation failed", fmt.Errorf("undefined decision (%d results)", len(rs)))
	}
	t, ok := rs[0].Expressions[0].Value.(*ast.Term)
	if !ok {
		return d, unavailable("policy evaluation failed", fmt.Errorf("decision is %T, want a term", rs[0].Expressions[0].Value))
	}
	if err := readDecision(t.Value, &d); err != nil {
		return d, unavailable("policy evaluation failed", err)
	}
	if !d.Allow && s.gov != nil {
		s.explain(q, now, &d)
	}
	return d, nil
}

// deadline ends an evaluation when its context ends or its time is up.
// OPA asks Cancelled before every expression (and in the loops of some
// builtins); looking at the context and the clock every 32nd time costs
// less than arming a timer and a context callback per decision, and ends
// an evaluation that overruns within a few dozen expressions.
type deadline struct {
	ctx   context.Context
	until time.Time
	calls atomic.Uint32
	done  atomic.Bool
}

var _ topdown.Cancel = (*deadline)(nil)

func (d *deadline) Cancel() { d.done.Store(true) }

func (d *deadline) Cancelled() bool {
	if d.done.Load() {
		return true
	}
	if d.calls.Add(1)%32 != 0 {
		return false
	}
	return d.expired()
}

// expired looks at the context and the clock now, and remembers a yes.
func (d *deadline) expired() bool {
	if d.ctx.Err() != nil || time.Now().After(d.until) {
		d.done.Store(true)
		return true
	}
	return false
}

var (
	keyAllow   = ast.InternedTerm("allow")
	keyReasons = ast.InternedTerm("reasons")
	keyInvalid = ast.InternedTerm("invalid")
	reasonKeys = [...]*ast.Term{ast.InternedTerm("effect"), ast.InternedTerm("policy"), ast.InternedTerm("sid"), ast.InternedTerm("detail")}
)

// readDecision accepts only the shape the RAM library produces and checks
// that reasons agree with the verdict.
func readDecision(v ast.Value, d *hpcgate.Decision) error {
	obj, ok := v.(ast.Object)
	if !ok {
		return fmt.Errorf("decision is %v, want an object", ast.ValueName(v))
	}
	var allow ast.Boolean
	if x := obj.Get(keyAllow); x != nil {
		allow, ok = x.Value.(ast.Boolean)
	}
	if !ok {
		return errors.New("decision.allow is missing or not a boolean")
	}
	var list *ast.Array
	if x := obj.Get(keyReasons); x != nil {
		list, _ = x.Value.(*ast.Array)
	}
	if list == nil || list.Len() == 0 {
		return errors.New("decision.reasons is missing or empty")
	}
	want := "Deny"
	if allow {
		want = "Allow"
	}
	d.Reasons = make([]hpcgate.Reason, list.Len())
	for i := range list.Len() {
		m, ok := list.Elem(i).Value.(ast.Object)
		if !ok {
			return fmt.Errorf("decision reason is %v, want an object", ast.ValueName(list.Elem(i).Value))
		}
		reason := &d.Reasons[i]
		for j, dst := range [...]*string{&reason.Effect, &reason.Policy, &reason.Sid, &reason.Detail} {
			if x := m.Get(reasonKeys[j]); x != nil {
				str, ok := x.Value.(ast.String)
				if !ok {
					return fmt.Errorf("decision reason %v is %v, want a string", reasonKeys[j], ast.ValueName(x.Value))
				}
				*dst = string(str)
			}
		}
		if m.Get(keyInvalid) != nil {
			return fmt.Errorf("extension %s: deny holds a value that is not a string", reason.Policy)
		}
		if reason.Effect != want {
			return fmt.Errorf("decision allow=%v has a reason with effect %q", allow, reason.Effect)
		}
	}
	d.Allow = bool(allow)
	return nil
}

func unavailable(msg string, err error) *hpcgate.Error {
	return &hpcgate.Error{Code: hpcgate.CodePolicyUnavailable, Message: msg, Source: hpcgate.SourcePolicy, Status: hpcgate.HTTPStatusOf(hpcgate.CodePolicyUnavailable), Err: err}
}
