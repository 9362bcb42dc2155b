// Package gate is the pipeline every request goes through, whatever its
// trigger: validate, analyse the command, authorize it, invoke E-HPC, wait,
// normalize. Each request leaves exactly one audit record, and each way out
// of the pipeline is the same hpcgate.Result shape.
//
// A command is never sent twice. E-HPC gets the canonical form of the
// command followed by a comment line with a random marker (ehpc.Mark),
// when the analyser confirms that the line changes nothing the command
// runs and the text stays within 2,048 characters; the result and the
// audit record show the canonical form without it. When the answer to
// InvokeShellCommand is lost after the command may have left
// (OutcomeUnknown, or a timeout after sending), the gate looks the marker
// up in ListCommands within what the deadline leaves (at most 10 s, two
// tries 0.5 s apart). Found, the invocation goes on as if its answer had
// arrived: status accepted with the CommandId, or the outcome when the
// caller waits; only E-HPC's RequestId is missing. Not found, the error
// stays, not retryable, and its message names the marker and says what
// the look-up showed: a command may still arrive later, so the gate cannot
// promise that nothing runs.
//
// The marker line also seals who started the command (Options.Owners,
// package owner). Reading a command's results, the gate finds it in
// ListCommands, opens the seal and gives the policy the verified owner
// (hpcgate:CommandOwner, hpcgate:OwnCommand). A command with a line that
// begins like a marker line is refused, so no marker can be passed on.
package gate

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hpcgate/hpcgate/function/internal/audit"
	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

// authorizer decides; a returned error means no decision could be made.
type authorizer interface {
	Decide(ctx context.Context, q hpcgate.Query) (hpcgate.Decision, error)
}

// commander is the part of the E-HPC client the pipeline calls.
type commander interface {
	Invoke(ctx context.Context, r hpcgate.Request) (hpcgate.Invocation, error)
	Wait(ctx context.Context, clusterID, commandID string, d time.Duration) (hpcgate.Outcome, error)
	Results(ctx context.Context, clusterID, commandID string) (hpcgate.Outcome, error)
	FindMarked(ctx context.Context, clusterID, marker string) (hpcgate.MarkSearch, error)
	FindCommand(ctx context.Context, clusterID, commandID string) (hpcgate.ListedCommand, bool, error)
}

// Options bound what a request may ask for and say where it runs.
type Options struct {
	Region, Account string
	MaxTimeout      int           // seconds
	MaxNodes        int           // nodes one request may name
	DefaultWait     time.Duration // when a call does not say
	MaxWait         time.Duration
	DeadlineSlack   time.Duration // kept back from the context deadline to answer in
	Analyze         func(command string) (hpcgate.Analysis, error)
	// Owners seals who starts each command on its marker line and opens
	// the seal when its results are read (hpcgate:CommandOwner); nil:
	// no command has an owner.
	Owners sealer
	Logger *slog.Logger
	Now    func() time.Time
	// DecisionDetail is how much of a decision the caller sees: DetailFull
	// ("" too) or DetailReasons.
	DecisionDetail string
	// Claims is the ledger of event claims; nil means no claim step
	// (every delivery runs), for tests only.
	Claims claimer
}

// Decision detail levels (HPCGATE_DECISION_DETAIL).
const (
	// DetailFull shows the reasons with the values that matched, the near
	// misses of an implicit deny and the sentence that explains a deny.
	DetailFull = "full"
	// DetailReasons shows only which statements decided, not what they
	// test: for deployments that keep their policies' content to
	// themselves. Audit records and check always have the full detail.
	DetailReasons = "reasons"
)

// Gate runs the pipeline. It is safe for concurrent use.
type Gate struct {
	auth authorizer
	cmd  commander
	opt  Options
}

// New returns a Gate deciding with auth and running commands with cmd.
func New(auth authorizer, cmd commander, opt Options) *Gate {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Gate{auth: auth, cmd: cmd, opt: opt}
}

// Call is one request entering the pipeline; the vocabulary package
// defines it, so the ingress stage that makes calls needs no gate. The
// alias keeps gate.Call working for callers written before the move.
type Call = hpcgate.Call

// Run takes c through the pipeline and returns its normalized result.
func (g *Gate) Run(ctx context.Context, c Call) (res hpcgate.Result) {
	rec := audit.Record{Principal: c.Principal, Trigger: c.Trigger, Route: c.Route, Action: hpcgate.ActionInvoke, Started: g.opt.Now()}
	defer g.finish(ctx, &rec, &res)

	req := c.Request
	res.Request = &req
	if err := g.validate(req); err != nil {
		return g.fail(&rec, res, err)
	}
	req = req.WithDefaults()
	an, err := g.opt.Analyze(req.Command)
	if err != nil {
		return g.fail(&rec, res, err)
	}
	if err := copiedMarker(an); err != nil {
		return g.fail(&rec, res, err)
	}
	// From here on the request is the one the policy sees and E-HPC runs.
	req.Command = an.Canonical
	rec.Request = &req

	if !g.authorize(ctx, g.query(c, req, &an, hpcgate.ActionInvoke), &rec, &res) {
		return res
	}
	if c.DryRun {
		res.Status = hpcgate.StatusAccepted
		return res
	}

	// E-HPC gets the canonical form with a marker line, so that the
	// command can be found if the answer is lost; the result and the
	// audit record keep the canonical form.
	wire := req
	var marker, why string
	wire.Command, marker, why = g.mark(an, req.ClusterID, c.Principal.Owner())

	// An event delivered again runs nothing: the claim step (claim.go)
	// answers it with the command of the delivery that claimed it.
	rec.Event = c.Identity
	ticket, orig, err := g.claimEvent(ctx, c, req, marker)
	if err != nil {
		return g.fail(&rec, res, err)
	}
	var inv hpcgate.Invocation
	cluster := req.ClusterID
	if orig != nil {
		inv = duplicateOf(req, orig)
		res.Duplicate = &hpcgate.Duplicate{CommandID: orig.CommandID, Claimed: orig.Claimed.UTC().Format(time.RFC3339Nano)}
		cluster = orig.ClusterID
	} else {
		inv, err = g.cmd.Invoke(ctx, wire)
		sent := err == nil || lostAnswer(err)
		if err != nil && lostAnswer(err) {
			// Found, the invocation goes on as if its answer had arrived.
			rec.InternalError = err
			inv, err = g.recoverInvocation(ctx, req, marker, why, err)
		}
		settle(ctx, ticket, inv, sent, err)
		if err != nil {
			return g.fail(&rec, res, err)
		}
	}
	res.CommandID, res.EHPCRequestID, res.InstanceIDs = inv.CommandID, inv.RequestID, inv.InstanceIDs
	res.Status = hpcgate.StatusAccepted

	wait := g.waitFor(ctx, c.Wait, &res)
	if wait <= 0 {
		return res
	}
	out, err := g.cmd.Wait(ctx, cluster, inv.CommandID, wait)
	if err != nil {
		// The command runs; only its results are out of reach. The
		// caller keeps the CommandId to ask again.
		e := hpcgate.AsError(err)
		rec.InternalError = err
		res.Status = hpcgate.StatusRunning
		res.Error = e.Body()
		return res
	}
	g.applyOutcome(&res, out)
	return res
}

// Status reports a command's status and output to a principal allowed
// ehpc:ListInvocationResults on its cluster. The policy learns the
// command's verified owner (hpcgate:CommandOwner, hpcgate:OwnCommand), so
// that it can grant a principal its own commands only.
// With c.Wait set above zero it long-polls: it answers when the command
// ends or the wait (bounded as for Run) has passed.
func (g *Gate) Status(ctx context.Context, c Call, commandID string) (res hpcgate.Result) {
	rec := audit.Record{Principal: c.Principal, Trigger: c.Trigger, Action: hpcgate.ActionListResults, Started: g.opt.Now()}
	defer g.finish(ctx, &rec, &res)
	req := hpcgate.Request{ClusterID: c.Request.ClusterID}
	res.Request = &req
	if !clusterRE.MatchString(req.ClusterID) {
		return g.fail(&rec, res, hpcgate.Invalid("clusterId: want an E-HPC cluster id such as ehpc-hz-abc123"))
	}
	if !commandRE.MatchString(commandID) {
		return g.fail(&rec, res, hpcgate.Invalid("commandId: want an E-HPC command id such as c-hz01v8vudql1234"))
	}
	rec.Request = &req
	res.CommandID = commandID
	owner, err := g.commandOwner(ctx, req.ClusterID, commandID)
	if err != nil {
		return g.fail(&rec, res, err)
	}
	q := g.query(c, req, nil, hpcgate.ActionListResults)
	q.CommandOwner = owner
	if !g.authorize(ctx, q, &rec, &res) {
		return res
	}
	var out hpcgate.Outcome
	if c.Wait != nil && *c.Wait > 0 {
		out, err = g.cmd.Wait(ctx, req.ClusterID, commandID, g.waitFor(ctx, c.Wait, &res))
	} else {
		out, err = g.cmd.Results(ctx, req.ClusterID, commandID)
	}
	if err != nil {
		return g.fail(&rec, res, err)
	}
	g.applyOutcome(&res, out)
	return res
}

// finish runs deferred at the end of a request: it turns a panic into an
// error result and writes the request's one audit record. Whatever broke,
// the caller still learns of a command that was accepted: the ids already
// in res are kept.
func (g *Gate) finish(ctx context.Context, rec *audit.Record, res *hpcgate.Result) {
	if p := recover(); p != nil {
		rec.InternalError = fmt.Errorf("panic: %v", p)
		res.Status = hpcgate.StatusError
		res.Error = hpcgate.AsError(rec.InternalError).Body()
	}
	res.RequestID = audit.RequestID(ctx)
	rec.Result = res
	audit.Log(ctx, g.opt.Logger, *rec)
}

// Reject records and returns the result of a request refused before the
// pipeline could start: an event that did not decode, a missing token.
func (g *Gate) Reject(ctx context.Context, c Call, err error) hpcgate.Result {
	rec := audit.Record{Principal: c.Principal, Trigger: c.Trigger, Route: c.Route, Action: hpcgate.ActionInvoke, Started: g.opt.Now()}
	res := g.fail(&rec, hpcgate.Result{RequestID: audit.RequestID(ctx)}, err)
	rec.Result = &res
	audit.Log(ctx, g.opt.Logger, rec)
	return res
}

// authorize asks the policy about q and records the decision in rec and
// res. False means res is final: denied, or no decision could be made
// (which refuses the request too: fail closed).
func (g *Gate) authorize(ctx context.Context, q hpcgate.Query, rec *audit.Record, res *hpcgate.Result) bool {
	rec.Context, rec.Region, rec.Account = &q.Context, q.Region, q.Account
	dec, err := g.auth.Decide(ctx, q)
	if err != nil {
		*res = g.fail(rec, *res, policyUnavailable(err))
		return false
	}
	rec.Decision = &dec
	res.Decision = g.shown(dec)
	if !dec.Allow {
		*res = g.fail(rec, *res, denied())
		return false
	}
	return true
}

// shown is the part of dec the caller sees, at the configured detail.
func (g *Gate) shown(dec hpcgate.Decision) *hpcgate.ResultDecision {
	if g.opt.DecisionDetail == DetailReasons {
		reasons := make([]hpcgate.Reason, len(dec.Reasons))
		for i, r := range dec.Reasons {
			r.Matched = nil
			reasons[i] = r
		}
		return &hpcgate.ResultDecision{Allow: dec.Allow, Reasons: reasons}
	}
	return &hpcgate.ResultDecision{Allow: dec.Allow, Reasons: dec.Reasons, NearMisses: dec.NearMisses, Explanation: dec.Explanation}
}

// fail ends res with err: its status is the error code's (hpcgate's one
// table of codes).
func (g *Gate) fail(rec *audit.Record, res hpcgate.Result, err error) hpcgate.Result {
	e := hpcgate.AsError(err)
	if e.Err != nil {
		rec.InternalError = e.Err
	}
	res.Status = hpcgate.ResultStatus(e)
	res.Error = e.Body()
	return res
}

// query is the question for the policy. It fixes the current time the
// decision uses, so that the audit record can replay it.
func (g *Gate) query(c Call, req hpcgate.Request, an *hpcgate.Analysis, action string) hpcgate.Query {
	if c.Context.CurrentTime == nil {
		now := g.opt.Now().UTC()
		c.Context.CurrentTime = &now
	}
	return hpcgate.Query{
		Principal: c.Principal,
		Request:   req,
		Analysis:  an,
		Action:    action,
		Context:   c.Context,
		Trigger:   c.Trigger,
		Region:    g.opt.Region,
		Account:   cmp.Or(c.Account, g.opt.Account),
	}
}

// waitFor bounds the requested wait by the configured maximum and by what
// the context deadline leaves after the slack needed to answer. When that
// shortens a wait of a number of seconds, res says so (and names the
// deadline); "wait": true asks for as long as allowed, which no bound
// shortens.
func (g *Gate) waitFor(ctx context.Context, want *time.Duration, res *hpcgate.Result) time.Duration {
	w := g.opt.DefaultWait
	if want != nil {
		w = *want
	}
	asked := w
	limit := &hpcgate.WaitLimit{LimitedBy: hpcgate.WaitLimitMax}
	w = min(w, g.opt.MaxWait)
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl) - g.opt.DeadlineSlack; left < w {
			w = left
			limit = &hpcgate.WaitLimit{LimitedBy: hpcgate.WaitLimitDeadline, Deadline: dl.UTC().Format(time.RFC3339Nano)}
		}
	}
	w = max(w, 0)
	if w < asked && (want == nil || *want != WaitAsLongAsAllowed) {
		limit.Requested, limit.Allowed = asked.Seconds(), w.Round(time.Millisecond).Seconds()
		res.Wait = limit
	}
	return w
}

// WaitAsLongAsAllowed is the wait of `"wait": true`: the longest the
// gateway allows (trigger.WaitMax has the same value).
const WaitAsLongAsAllowed = time.Duration(math.MaxInt64)

func (g *Gate) applyOutcome(res *hpcgate.Result, out hpcgate.Outcome) {
	res.Status = out.Status
	res.Results = out.Results
	sum := out.Summary
	res.Summary = &sum
	if len(out.InstanceIDs) > 0 {
		res.InstanceIDs = out.InstanceIDs
	}
}

func policyUnavailable(err error) error {
	var e *hpcgate.Error
	if errors.As(err, &e) && e.Code == hpcgate.CodePolicyUnavailable {
		return e
	}
	return &hpcgate.Error{Code: hpcgate.CodePolicyUnavailable, Message: "no policy decision could be made", Source: hpcgate.SourcePolicy, Status: hpcgate.HTTPStatusOf(hpcgate.CodePolicyUnavailable), Err: err}
}

func denied() error {
	return &hpcgate.Error{Code: hpcgate.CodePolicyDenied, Message: "the policy does not allow this request; see decision.reasons", Source: hpcgate.SourcePolicy, Status: hpcgate.HTTPStatusOf(hpcgate.CodePolicyDenied)}
}

var (
	clusterRE  = hpcgate.MustPattern(`^ehpc-[A-Za-z0-9-]+$`, 5+64)
	instanceRE = hpcgate.MustPattern(`^i-[A-Za-z0-9]+$`, 2+64)
	commandRE  = hpcgate.MustPattern(`^c-[A-Za-z0-9]+$`, 2+64)
)

const maxWorkingDir = 1024

// validate checks what the API and sane bounds require before anything is
// analysed. The command's own checks (length, characters, syntax) belong to
// the analyser, which names the position of what it rejects.
func (g *Gate) validate(r hpcgate.Request) error {
	if r.ClusterID == "" {
		return hpcgate.Invalid("clusterId: required")
	}
	if !clusterRE.MatchString(r.ClusterID) {
		return hpcgate.Invalid("clusterId: want an E-HPC cluster id such as ehpc-hz-abc123")
	}
	if r.Command == "" {
		return hpcgate.Invalid("command: required")
	}
	if r.Timeout < 0 || r.Timeout > g.opt.MaxTimeout {
		return hpcgate.Invalid("timeout: want 1 to %d seconds, got %d", g.opt.MaxTimeout, r.Timeout)
	}
	if wd := r.WorkingDir; wd != "" {
		switch {
		case len(wd) > maxWorkingDir:
			return hpcgate.Invalid("workingDir: longer than %d bytes", maxWorkingDir)
		case !strings.HasPrefix(wd, "/"):
			return hpcgate.Invalid("workingDir: want an absolute path")
		case !utf8.ValidString(wd):
			return hpcgate.Invalid("workingDir: not valid UTF-8")
		case strings.ContainsAny(wd, "\n\t\uFFFD"):
			return hpcgate.Invalid("workingDir: holds a line break, a tab or U+FFFD")
		}
		// The characters a command may not hold (bidi overrides, zero-width
		// and control characters) are refused in its directory too.
		for _, r := range wd {
			if why := hpcgate.ForbiddenRune(r); why != "" {
				return hpcgate.Invalid("workingDir: %s U+%04X is not allowed", why, r)
			}
		}
		if path.Clean(wd) != wd && path.Clean(wd)+"/" != wd {
			return hpcgate.Invalid("workingDir: want a clean path (no ., .. or //)")
		}
	}
	if len(r.InstanceIDs) > g.opt.MaxNodes {
		return hpcgate.Invalid("instanceIds: at most %d nodes, got %d", g.opt.MaxNodes, len(r.InstanceIDs))
	}
	seen := make(map[string]bool, len(r.InstanceIDs))
	for i, id := range r.InstanceIDs {
		if !instanceRE.MatchString(id) {
			return hpcgate.Invalid("instanceIds[%d]: want a node id such as i-bp1in9hmw3ur52x0abcd", i)
		}
		if seen[id] {
			return hpcgate.Invalid("instanceIds[%d]: %s is listed twice", i, id)
		}
		seen[id] = true
	}
	return nil
}

// HTTPStatus is the HTTP status of a result for the HTTP trigger.
//
// Deprecated: use r.HTTPStatus(); kept for callers on other branches.
func HTTPStatus(r hpcgate.Result) int { return r.HTTPStatus() }
