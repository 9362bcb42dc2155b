package gate

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/hpcgate/hpcgate/function/internal/ehpc"
	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/function/internal/pause"
)

// An invocation whose answer is lost (the connection broke after E-HPC
// accepted it, or its 2xx answer could not be read) ran or will run, but
// its CommandId never arrived. Sending it again could run it twice, so the
// gate never does: it sends every command with a last line holding a
// shell comment with a random marker, and looks the marker up in
// ListCommands to learn the CommandId.

// commentFeature is the analyser's ShellFeature for comments: the only
// fact a marker line may change.
const commentFeature = "comment"

// Why a command was sent without a marker.
const (
	unmarkedTooLong = "the command is too long to carry a marker"
	unmarkedChanged = "a marker line would change what the command runs"
)

// mark returns the command to send for an analysed request on clusterID
// by owner: its canonical form with a marker line (ehpc.MarkSealed) that
// also seals owner when the gate has keys, provided the analyser confirms
// that the line is inert: the marked text is its own canonical form, and
// every fact but the comment feature is that of the canonical form. A
// seal that would make the text too long is left out (the command then
// has no owner, but can still be found). Otherwise it returns the
// canonical form, no marker, and why.
func (g *Gate) mark(an hpcgate.Analysis, clusterID, owner string) (command, marker, why string) {
	marker = ehpc.NewMarker()
	marked := ehpc.Mark(an.Canonical, marker)
	if g.opt.Owners != nil {
		if seal := g.opt.Owners.Seal(clusterID, marker, an.Canonical, owner); seal != "" {
			if s := ehpc.MarkSealed(an.Canonical, marker, seal); utf8.RuneCountInString(s) <= hpcgate.MaxCommandLen {
				marked = s
			}
		}
	}
	if utf8.RuneCountInString(marked) > hpcgate.MaxCommandLen {
		return an.Canonical, "", unmarkedTooLong
	}
	got, err := g.opt.Analyze(marked)
	if err != nil || got.Canonical != marked || !sameFacts(an, got) {
		return an.Canonical, "", unmarkedChanged
	}
	return marked, marker, ""
}

// copiedMarker refuses a command with a line that begins like a marker
// line: sent without the gate's own marker (too long for one), the copied
// line would be its last, and the command would pass for the one that
// carried it first.
func copiedMarker(an hpcgate.Analysis) error {
	if !ehpc.HasMarkerLine(an.Canonical) {
		return nil
	}
	return hpcgate.Errorf(hpcgate.CodeInvalidCommand, "invalid command: a line may not begin with %q, which marks the gateway's own last line", "# "+ehpc.MarkerPrefix)
}

// sameFacts reports whether a and b describe the same commands, ignoring
// the comment feature.
func sameFacts(a, b hpcgate.Analysis) bool {
	noComment := func(fs []string) []string {
		return slices.DeleteFunc(slices.Clone(fs), func(f string) bool { return f == commentFeature })
	}
	return slices.Equal(noComment(a.Features), noComment(b.Features)) &&
		slices.Equal(a.Programs, b.Programs) &&
		slices.Equal(a.CommandLines, b.CommandLines) &&
		slices.Equal(a.OutputRedirects, b.OutputRedirects) &&
		slices.Equal(a.InputRedirects, b.InputRedirects) &&
		slices.Equal(a.AssignedVariables, b.AssignedVariables) &&
		reflect.DeepEqual(a.Simple, b.Simple)
}

// Bounds of the look-up of an invocation whose answer was lost.
const (
	findTimeout = 10 * time.Second       // for all attempts together
	findPause   = 500 * time.Millisecond // before looking again, for a listing that lags
	findTries   = 2
)

// lostAnswer reports whether err from Invoke means that E-HPC may have
// accepted the command without its answer reaching the gate.
func lostAnswer(err error) bool {
	var e *hpcgate.Error
	if !errors.As(err, &e) || e.Source != hpcgate.SourceEHPC || e.Retryable {
		return false
	}
	return e.Code == hpcgate.CodeOutcomeUnknown || e.Code == hpcgate.CodeUpstreamTimeout
}

// findBudget is how long a look-up in ListCommands may take: findTimeout,
// or what the deadline leaves after the slack needed to answer.
func (g *Gate) findBudget(ctx context.Context) time.Duration {
	budget := findTimeout
	if dl, ok := ctx.Deadline(); ok {
		budget = min(budget, time.Until(dl)-g.opt.DeadlineSlack)
	}
	return budget
}

// invocationOf is the invocation of commandID for req as E-HPC keeps it,
// without the RequestId of an answer the gate did not get: the nodes are
// those the request named ([] for all).
func invocationOf(req hpcgate.Request, commandID string) ehpc.Invocation {
	ids := slices.Clone(req.InstanceIDs)
	if ids == nil {
		ids = []string{}
	}
	return ehpc.Invocation{CommandID: commandID, InstanceIDs: ids}
}

// recoverInvocation looks up, by its marker, the command an invocation
// whose answer was lost started. It only reads: the command is never sent
// again. Found, it returns the invocation as E-HPC keeps it (no RequestId:
// that was in the lost answer). Otherwise it returns invokeErr with a
// message saying what the look-up showed; the outcome stays unknown, since
// a command may still arrive after the look-up.
func (g *Gate) recoverInvocation(ctx context.Context, req hpcgate.Request, marker, why string, invokeErr error) (ehpc.Invocation, error) {
	e := *hpcgate.AsError(invokeErr)
	if marker == "" {
		e.Message += "; its CommandId cannot be recovered: " + why
		return ehpc.Invocation{}, &e
	}
	log := g.opt.Logger.With("clusterId", req.ClusterID, "marker", marker, "invokeError", e.Code)
	budget := g.findBudget(ctx)
	if budget <= 0 {
		e.Message += fmt.Sprintf("; no time was left to look for the command carrying the marker %q in ListCommands", marker)
		log.WarnContext(ctx, "invocation outcome unknown; no time to look it up")
		return ehpc.Invocation{}, &e
	}
	fctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()

	var (
		s   ehpc.MarkSearch
		err error
	)
	for try := 1; ; try++ {
		s, err = g.cmd.FindMarked(fctx, req.ClusterID, marker)
		if err == nil && s.Found() {
			log.WarnContext(ctx, "invocation answer lost; CommandId recovered from ListCommands", "commandId", s.Command.CommandID, "try", try)
			return invocationOf(req, s.Command.CommandID), nil
		}
		if try >= findTries || !pause.Within(fctx, findPause) {
			break
		}
	}
	if err != nil {
		le := hpcgate.AsError(err)
		e.Message += fmt.Sprintf("; looking for the command carrying the marker %q in ListCommands failed (%s)", marker, le.Code)
		e.Err = errors.Join(e.Err, err)
		log.WarnContext(ctx, "invocation outcome unknown; look-up failed", "err", err)
		return ehpc.Invocation{}, &e
	}
	e.Message += fmt.Sprintf("; E-HPC lists no command carrying the marker %q (searched %d of the %d commands it keeps for the cluster); if the command arrives later, ListCommands shows it with that marker", marker, s.Searched, s.Total)
	log.WarnContext(ctx, "invocation outcome unknown; no command carries its marker", "searched", s.Searched, "total", s.Total)
	return ehpc.Invocation{}, &e
}
