package claim

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/function/internal/pause"
)

// Defaults of Config.
const (
	DefaultPrefix         = "hpcgate/claims/"
	DefaultLease          = 10 * time.Minute
	DefaultWait           = 15 * time.Second
	DefaultPoll           = 250 * time.Millisecond
	DefaultMaxGenerations = 8
)

// Config configures a Ledger. Zero fields take the defaults above, but
// for Wait: zero means a copy does not wait (negative: the default).
type Config struct {
	Store  Store
	Prefix string // key prefix of every claim object
	// Lease is how long a claim without an outcome counts as in flight:
	// longer than a sent InvokeShellCommand can take to reach E-HPC. Only
	// after it may a claim whose marker E-HPC does not list be taken over.
	Lease time.Duration
	// Wait is how long a copy that finds a claim in flight waits for its
	// outcome before it refuses (and is delivered again), Poll how often
	// it reads the outcome meanwhile.
	Wait, Poll     time.Duration
	MaxGenerations int
	Now            func() time.Time
	Logger         *slog.Logger
}

// Ledger decides, for each delivery of an event, whether it runs the
// event's command or answers as a duplicate. Safe for concurrent use.
type Ledger struct{ cfg Config }

// New returns a Ledger over cfg.Store.
func New(cfg Config) *Ledger {
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Wait < 0 {
		cfg.Wait = DefaultWait
	}
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.MaxGenerations <= 0 {
		cfg.MaxGenerations = DefaultMaxGenerations
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Ledger{cfg: cfg}
}

// Attempt is one delivery of an event about to send its command.
type Attempt struct {
	Identity  string // what the event's source guarantees unique
	ClusterID string // where the command goes (and is looked up)
	Marker    string // the marker line the command carries; "" when none
	Owner     string // names the delivery in the claim (FC request id), for operators
	// Lookup finds the command carrying marker in E-HPC's ListCommands
	// of clusterID: its CommandId, or "" when E-HPC lists none.
	Lookup func(ctx context.Context, clusterID, marker string) (string, error)
}

// Claim is the object a delivery creates before it sends the command.
type Claim struct {
	Identity   string    `json:"identity"`
	Generation int       `json:"generation"`
	ClusterID  string    `json:"clusterId"`
	Marker     string    `json:"marker,omitempty"`
	Owner      string    `json:"owner,omitempty"`
	Nonce      string    `json:"nonce"`
	Claimed    time.Time `json:"claimed"`
	LeaseUntil time.Time `json:"leaseUntil"`
}

// Outcome is the object beside a claim saying how it ended: the command
// E-HPC accepted, or why none was sent (then the claim may be taken over).
type Outcome struct {
	CommandID string    `json:"commandId,omitempty"`
	ClusterID string    `json:"clusterId,omitempty"`
	Released  string    `json:"released,omitempty"`
	Claimed   time.Time `json:"claimed"`
	At        time.Time `json:"at"`
}

// Original is the command an earlier delivery of the event started.
type Original struct {
	CommandID  string
	ClusterID  string
	Claimed    time.Time
	Generation int
}

// Verdict is what Acquire decided: exactly one of Ticket (this delivery
// owns the claim and sends the command) and Original (a duplicate).
type Verdict struct {
	Ticket   *Ticket
	Original *Original
}

// Ticket is an owned claim. Its holder sends the command, then records
// how it went with Complete or Release.
type Ticket struct {
	l     *Ledger
	claim Claim
	key   string
}

// Key returns the object key of the claim, for logs.
func (t *Ticket) Key() string { return t.key }

// Generation returns the claim's generation (0 for the first delivery
// that claimed the event).
func (t *Ticket) Generation() int { return t.claim.Generation }

// Complete records the command E-HPC accepted. A failure is logged, not
// returned: the command runs, and later copies find it by its marker.
func (t *Ticket) Complete(ctx context.Context, commandID string) {
	t.l.writeOutcome(ctx, t.claim, Outcome{CommandID: commandID, ClusterID: t.claim.ClusterID})
}

// Release records that the command surely never reached E-HPC, so the
// next delivery may take the event over at once.
func (t *Ticket) Release(ctx context.Context, why string) {
	t.l.writeOutcome(ctx, t.claim, Outcome{Released: why})
}

func (l *Ledger) writeOutcome(ctx context.Context, c Claim, o Outcome) {
	o.Claimed, o.At = c.Claimed, l.cfg.Now().UTC()
	b, _ := json.Marshal(o)
	key := l.key(c.Identity, c.Generation, "outcome")
	if err := l.cfg.Store.Create(context.WithoutCancel(ctx), key, b); err != nil && !errors.Is(err, ErrExists) {
		l.cfg.Logger.WarnContext(ctx, "claim outcome not recorded", "key", key, "err", err)
	}
}

// key is where generation gen of identity's claim (kind "claim") or its
// outcome (kind "outcome") lives: the identity is hashed, so any string
// makes a valid, fixed-length object name.
func (l *Ledger) key(identity string, gen int, kind string) string {
	sum := sha256.Sum256([]byte(identity))
	return l.cfg.Prefix + hex.EncodeToString(sum[:]) + "/" + strconv.Itoa(gen) + "." + kind
}

// Acquire claims the event of a, or finds what an earlier delivery did.
// Errors are *hpcgate.Error with a claim code: nothing may be sent, and
// the event should be delivered again later.
func (l *Ledger) Acquire(ctx context.Context, a Attempt) (Verdict, error) {
	if a.Identity == "" {
		return Verdict{}, errors.New("claim: empty identity")
	}
	nonce := rand.Text()
	for gen := 0; gen < l.cfg.MaxGenerations; gen++ {
		now := l.cfg.Now().UTC()
		c := Claim{Identity: a.Identity, Generation: gen, ClusterID: a.ClusterID, Marker: a.Marker, Owner: a.Owner,
			Nonce: nonce, Claimed: now, LeaseUntil: now.Add(l.cfg.Lease)}
		key := l.key(a.Identity, gen, "claim")
		b, _ := json.Marshal(c)
		err := l.cfg.Store.Create(ctx, key, b)
		switch {
		case err == nil:
			return Verdict{Ticket: &Ticket{l: l, claim: c, key: key}}, nil
		case !errors.Is(err, ErrExists):
			// The create may have gone through with its answer lost: read
			// it back; it is ours only if it carries our nonce.
			if got, gerr := l.readClaim(ctx, key); gerr == nil && got.Nonce == nonce {
				return Verdict{Ticket: &Ticket{l: l, claim: got, key: key}}, nil
			}
			return Verdict{}, unavailable(fmt.Sprintf("creating claim %s", key), err)
		}
		orig, next, err := l.resolve(ctx, a, gen)
		if err != nil || orig != nil {
			return Verdict{Original: orig}, err
		}
		if !next {
			panic("claim: resolve decided nothing")
		}
		l.cfg.Logger.InfoContext(ctx, "claim taken over", "key", key, "generation", gen+1)
	}
	return Verdict{}, &hpcgate.Error{Code: hpcgate.CodeEventUnresolved, Source: hpcgate.SourceGate, Status: http.StatusConflict,
		Message: fmt.Sprintf("the event was claimed %d times without a command reaching E-HPC; nothing was sent; the claims are under %s", l.cfg.MaxGenerations, l.key(a.Identity, 0, "claim"))}
}

// resolve learns what became of generation gen of a's event, which
// exists: the command it started (orig), or that it may be taken over
// (next), or an error when neither can be known yet.
func (l *Ledger) resolve(ctx context.Context, a Attempt, gen int) (orig *Original, next bool, err error) {
	ckey, okey := l.key(a.Identity, gen, "claim"), l.key(a.Identity, gen, "outcome")
	c, err := l.readClaim(ctx, ckey)
	if err != nil {
		return nil, false, unavailable("reading claim "+ckey, err)
	}
	// The wait is on the real clock, the lease on the ledger's.
	wctx, cancel := context.WithTimeout(ctx, l.cfg.Wait)
	defer cancel()
	for {
		o, err := l.readOutcome(ctx, okey)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return nil, false, unavailable("reading claim outcome "+okey, err)
		case o.CommandID != "":
			return &Original{CommandID: o.CommandID, ClusterID: cmp.Or(o.ClusterID, c.ClusterID), Claimed: c.Claimed, Generation: gen}, false, nil
		default: // released: nothing was sent
			return nil, true, nil
		}
		if l.cfg.Now().After(c.LeaseUntil) || !pause.Within(wctx, l.cfg.Poll) {
			break
		}
	}
	// No outcome: the owner is still at it, or ended without recording
	// one. E-HPC's list of commands tells whether the command arrived.
	if c.Marker == "" {
		if l.cfg.Now().After(c.LeaseUntil) {
			return nil, false, &hpcgate.Error{Code: hpcgate.CodeEventUnresolved, Source: hpcgate.SourceGate, Status: http.StatusConflict,
				Message: fmt.Sprintf("claim %s (claimed %s) has no outcome and its command carries no marker to look up: whether it ran cannot be known; nothing was sent", ckey, c.Claimed.Format(time.RFC3339))}
		}
		return nil, false, inProgress(c, ckey, "")
	}
	id, err := a.Lookup(ctx, c.ClusterID, c.Marker)
	if err != nil {
		return nil, false, inProgress(c, ckey, "; looking its marker up in ListCommands failed ("+hpcgate.AsError(err).Code+")")
	}
	if id != "" {
		l.writeOutcome(ctx, c, Outcome{CommandID: id, ClusterID: c.ClusterID})
		return &Original{CommandID: id, ClusterID: c.ClusterID, Claimed: c.Claimed, Generation: gen}, false, nil
	}
	if !l.cfg.Now().After(c.LeaseUntil) {
		return nil, false, inProgress(c, ckey, "; E-HPC lists no command with its marker yet")
	}
	return nil, true, nil
}

func (l *Ledger) readClaim(ctx context.Context, key string) (Claim, error) {
	var c Claim
	b, err := l.cfg.Store.Get(ctx, key)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	return c, err
}

func (l *Ledger) readOutcome(ctx context.Context, key string) (Outcome, error) {
	var o Outcome
	b, err := l.cfg.Store.Get(ctx, key)
	if err == nil {
		err = json.Unmarshal(b, &o)
	}
	return o, err
}

func unavailable(what string, err error) error {
	return &hpcgate.Error{Code: hpcgate.CodeClaimUnavailable, Source: hpcgate.SourceGate, Status: http.StatusServiceUnavailable, Retryable: true,
		Message: "the claim store failed (" + what + "); nothing was sent; deliver the event again", Err: err}
}

func inProgress(c Claim, key, more string) error {
	return &hpcgate.Error{Code: hpcgate.CodeEventInProgress, Source: hpcgate.SourceGate, Status: http.StatusConflict, Retryable: true,
		Message: fmt.Sprintf("another delivery of this event holds claim %s (claimed %s, lease until %s) and its outcome is not known yet%s; nothing was sent; deliver the event again",
			key, c.Claimed.Format(time.RFC3339), c.LeaseUntil.Format(time.RFC3339), more)}
}
