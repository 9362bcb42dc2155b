package gate

import (
	"context"
	"encoding/json"

	"github.com/hpcgate/hpcgate/function/internal/audit"
	"github.com/hpcgate/hpcgate/function/internal/claim"
	"github.com/hpcgate/hpcgate/function/internal/ehpc"
	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

// The claim step: a call that carries an event identity (Call.Identity)
// claims the event in the ledger before its command is sent. The
// delivery that creates the claim sends the command and records the
// CommandId (or that nothing was sent); every other delivery of the same
// event sends nothing and answers with the original CommandId and
// Result.Duplicate. A claim whose command never reached E-HPC is taken
// over after its lease, once its marker is not in ListCommands. When the
// claim store fails, nothing is sent (fail closed) and the result's
// error asks for the event to be delivered again (see Redeliver).

// claimer is the ledger of event claims (claim.Ledger).
type claimer interface {
	Acquire(ctx context.Context, a claim.Attempt) (claim.Verdict, error)
}

// claimIdentity scopes the event identity to the principal it speaks
// for, so that no caller can meet another's claims.
func claimIdentity(c Call) string {
	b, _ := json.Marshal([]string{c.Principal.Type, c.Principal.ID, c.Identity})
	return string(b)
}

// The marker an event's command carries is random, like every other
// (ehpc.NewMarker), and the claim records it, so that a copy looks up the
// marker of the claim it found. A marker derived from the identity would
// let a takeover send the same one, but identities are guessable (a
// timer's name and schedule), and a researcher allowed to run a command
// with a comment could plant `# hpcgate:<marker>` in ListCommands ahead of
// the event, making a stale claim look done and the event never run.

// claimEvent runs the claim step for c: a ticket when this delivery is
// to send the command, the original when an earlier one did, neither
// when c carries no identity.
func (g *Gate) claimEvent(ctx context.Context, c Call, req hpcgate.Request, marker string) (*claim.Ticket, *claim.Original, error) {
	if c.Identity == "" || g.opt.Claims == nil {
		return nil, nil, nil
	}
	v, err := g.opt.Claims.Acquire(ctx, claim.Attempt{
		Identity: claimIdentity(c), ClusterID: req.ClusterID, Marker: marker,
		Owner: audit.RequestID(ctx), Lookup: g.lookupMarked,
	})
	return v.Ticket, v.Original, err
}

// lookupMarked finds the CommandId of the command carrying marker, within
// what the deadline leaves.
func (g *Gate) lookupMarked(ctx context.Context, clusterID, marker string) (string, error) {
	budget := g.findBudget(ctx)
	if budget <= 0 {
		return "", context.DeadlineExceeded
	}
	fctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	s, err := g.cmd.FindMarked(fctx, clusterID, marker)
	if err != nil {
		return "", err
	}
	return s.Command.CommandID, nil
}

// settle records in the ticket how sending went: the CommandId; or, when
// the command surely never left (E-HPC answered with an error, or it
// failed before sending), a release, so the next delivery runs it. When
// the answer was lost and the command not found, nothing is recorded:
// the next delivery looks the marker up once the lease is over.
func settle(ctx context.Context, t *claim.Ticket, inv ehpc.Invocation, sent bool, err error) {
	switch {
	case t == nil:
	case err == nil:
		t.Complete(ctx, inv.CommandID)
	case !sent:
		t.Release(ctx, hpcgate.AsError(err).Code)
	}
}

// duplicateOf is the invocation a duplicate answers with: the original's
// CommandId; E-HPC's RequestId was in the original's answer.
func duplicateOf(req hpcgate.Request, o *claim.Original) ehpc.Invocation {
	return invocationOf(req, o.CommandID)
}

// Redeliver reports whether an event whose result is r should be
// delivered again: its delivery sent nothing because the claim store
// failed or another delivery holds the claim, or whether its command
// arrived is not known, or E-HPC refused it for now (a retryable error).
// The FC handler answers such an event with an error, so FC's
// asynchronous retry delivers it again, and the claim step makes sure the
// command still runs at most once. Only for calls with an identity.
func Redeliver(r hpcgate.Result) bool {
	e := r.Error
	if e == nil || r.Status != hpcgate.StatusError {
		return false
	}
	switch e.Code {
	case hpcgate.CodeClaimUnavailable, hpcgate.CodeEventInProgress, hpcgate.CodeEventUnresolved, hpcgate.CodeOutcomeUnknown:
		return true
	}
	return e.Retryable
}
