package claim_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hpcgate/hpcgate/function/internal/claim"
	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

// clock is a settable clock for leases.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// faulty wraps a store and fails what its funcs say.
type faulty struct {
	claim.Store
	create func(key string) (apply bool, err error)
	get    func(key string) error
}

func (f *faulty) Create(ctx context.Context, key string, body []byte) error {
	if f.create != nil {
		if apply, err := f.create(key); err != nil {
			if apply {
				_ = f.Store.Create(ctx, key, body)
			}
			return err
		}
	}
	return f.Store.Create(ctx, key, body)
}

func (f *faulty) Get(ctx context.Context, key string) ([]byte, error) {
	if f.get != nil {
		if err := f.get(key); err != nil {
			return nil, err
		}
	}
	return f.Store.Get(ctx, key)
}

var errFault = errors.New("503 ServiceUnavailable")

// lister stands in for ListCommands: the markers E-HPC lists.
type lister struct {
	mu      sync.Mutex
	markers map[string]string
	calls   atomic.Int32
}

func (l *lister) add(marker, id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.markers == nil {
		l.markers = map[string]string{}
	}
	l.markers[marker] = id
}

func (l *lister) Lookup(_ context.Context, _, marker string) (string, error) {
	l.calls.Add(1)
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.markers[marker], nil
}

func newLedger(s claim.Store, c *clock) *claim.Ledger {
	return claim.New(claim.Config{Store: s, Lease: time.Minute, Wait: 50 * time.Millisecond, Poll: time.Millisecond, Now: c.Now})
}

func attempt(ls *lister) claim.Attempt {
	return claim.Attempt{Identity: "oss:raw-data/incoming/a.csv#etag#seq1", ClusterID: "ehpc-hz-abc", Marker: "hpcgate:EVENT", Lookup: ls.Lookup}
}

func code(err error) string {
	var e *hpcgate.Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err != nil {
		return "untyped: " + err.Error()
	}
	return ""
}

func TestSequentialRedeliveryFindsTheOriginal(t *testing.T) {
	ctx := t.Context()
	c := &clock{t: time.Unix(1e9, 0)}
	ls := &lister{}
	l := newLedger(claim.NewMemory(), c)
	v, err := l.Acquire(ctx, attempt(ls))
	if err != nil || v.Ticket == nil {
		t.Fatalf("first delivery: %+v, %v; want a ticket", v, err)
	}
	v.Ticket.Complete(ctx, "c-first")
	for i := range 3 {
		v, err := l.Acquire(ctx, attempt(ls))
		if err != nil || v.Original == nil || v.Original.CommandID != "c-first" || v.Ticket != nil {
			t.Fatalf("delivery %d: %+v, %v; want the original c-first", i+2, v, err)
		}
	}
	if n := ls.calls.Load(); n != 0 {
		t.Errorf("ListCommands looked up %d times; an outcome on record needs none", n)
	}
}

func TestConcurrentCopiesOneOwner(t *testing.T) {
	for name, store := range map[string]func(t *testing.T) claim.Store{
		"memory": func(*testing.T) claim.Store { return claim.NewMemory() },
		"dir": func(t *testing.T) claim.Store {
			d, err := claim.NewDir(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return d
		},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			ls := &lister{}
			// A real clock: copies wait for the owner's outcome.
			l := claim.New(claim.Config{Store: store(t), Lease: time.Minute, Wait: 10 * time.Second, Poll: time.Millisecond})
			const copies = 16
			var (
				wg      sync.WaitGroup
				tickets atomic.Int32
				dups    atomic.Int32
				errs    = make(chan error, copies)
			)
			for range copies {
				wg.Go(func() {
					v, err := l.Acquire(ctx, attempt(ls))
					switch {
					case err != nil:
						errs <- err
					case v.Ticket != nil:
						tickets.Add(1)
						v.Ticket.Complete(ctx, "c-one")
					case v.Original.CommandID == "c-one":
						dups.Add(1)
					default:
						errs <- errors.New("duplicate names " + v.Original.CommandID)
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			if tickets.Load() != 1 || dups.Load() != copies-1 {
				t.Errorf("owners %d, duplicates %d; want 1 and %d", tickets.Load(), dups.Load(), copies-1)
			}
		})
	}
}

func TestUnresolvedClaims(t *testing.T) {
	tests := map[string]struct {
		release     bool   // the owner released its claim
		listed      string // CommandId E-HPC lists with the marker
		expire      bool   // the lease has run out when the copy comes
		unmarked    bool   // the command carried no marker
		wantCode    string
		wantOrig    string
		wantGen     int // generation of the new ticket
		wantLookups bool
	}{
		"released: taken over at once":                 {release: true, wantGen: 1},
		"in flight, not listed: refused":               {wantCode: hpcgate.CodeEventInProgress, wantLookups: true},
		"in flight, listed: the original":              {listed: "c-lost", wantOrig: "c-lost", wantLookups: true},
		"lease over, listed: the original":             {listed: "c-lost", expire: true, wantOrig: "c-lost", wantLookups: true},
		"lease over, not listed: taken over":           {expire: true, wantGen: 1, wantLookups: true},
		"unmarked, in flight: refused":                 {unmarked: true, wantCode: hpcgate.CodeEventInProgress},
		"unmarked, lease over: unresolved, never runs": {unmarked: true, expire: true, wantCode: hpcgate.CodeEventUnresolved},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			c := &clock{t: time.Unix(1e9, 0)}
			ls := &lister{}
			l := newLedger(claim.NewMemory(), c)
			a := attempt(ls)
			if tc.unmarked {
				a.Marker = ""
			}
			first, err := l.Acquire(ctx, a)
			if err != nil || first.Ticket == nil {
				t.Fatalf("first delivery: %+v, %v", first, err)
			}
			if tc.release {
				first.Ticket.Release(ctx, "E-HPC refused it")
			}
			if tc.listed != "" {
				ls.add(a.Marker, tc.listed)
			}
			if tc.expire {
				c.Add(2 * time.Minute)
			}
			v, err := l.Acquire(ctx, a)
			lookedUp := ls.calls.Load() > 0
			if code(err) != tc.wantCode {
				t.Fatalf("second delivery: error %v, want code %q", err, tc.wantCode)
			}
			switch {
			case tc.wantOrig != "":
				if v.Original == nil || v.Original.CommandID != tc.wantOrig {
					t.Fatalf("second delivery: %+v; want original %s", v, tc.wantOrig)
				}
				// The look-up is recorded: a third copy reads it.
				before := ls.calls.Load()
				if v, err := l.Acquire(ctx, a); err != nil || v.Original == nil || v.Original.CommandID != tc.wantOrig || ls.calls.Load() != before {
					t.Errorf("third delivery: %+v, %v, lookups %d→%d", v, err, before, ls.calls.Load())
				}
			case tc.wantCode == "":
				if v.Ticket == nil || v.Ticket.Generation() != tc.wantGen {
					t.Fatalf("second delivery: %+v; want a ticket of generation %d", v, tc.wantGen)
				}
				// Whoever comes next finds the new generation in flight.
				if _, err := l.Acquire(ctx, a); tc.release && code(err) != hpcgate.CodeEventInProgress {
					t.Errorf("third delivery: %v; want EventInProgress", err)
				}
			}
			if lookedUp != tc.wantLookups {
				t.Errorf("second delivery looked up in ListCommands: %v, want %v", lookedUp, tc.wantLookups)
			}
		})
	}
}

func TestStoreFaultsFailClosed(t *testing.T) {
	tests := map[string]struct {
		create      func(key string) (bool, error)
		get         func(key string) error
		prior       bool // an earlier delivery holds the claim
		wantCode    string
		wantTicket  bool
		wantMessage string
	}{
		"create fails": {
			create:   func(string) (bool, error) { return false, errFault },
			wantCode: hpcgate.CodeClaimUnavailable, wantMessage: "nothing was sent",
		},
		"create applied, answer lost: read back as ours": {
			create:     func(string) (bool, error) { return true, errFault },
			wantTicket: true,
		},
		"create and read back fail": {
			create:   func(string) (bool, error) { return true, errFault },
			get:      func(string) error { return errFault },
			wantCode: hpcgate.CodeClaimUnavailable,
		},
		"reading the existing claim fails": {
			prior:    true,
			get:      func(string) error { return errFault },
			wantCode: hpcgate.CodeClaimUnavailable,
		},
		"reading the outcome fails": {
			prior:    true,
			get:      func(key string) error { return map[bool]error{true: errFault}[strings.HasSuffix(key, ".outcome")] },
			wantCode: hpcgate.CodeClaimUnavailable,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			c := &clock{t: time.Unix(1e9, 0)}
			ls := &lister{}
			mem := claim.NewMemory()
			if tc.prior {
				v, err := newLedger(mem, c).Acquire(ctx, attempt(ls))
				if err != nil {
					t.Fatal(err)
				}
				v.Ticket.Complete(ctx, "c-first")
			}
			l := newLedger(&faulty{Store: mem, create: tc.create, get: tc.get}, c)
			v, err := l.Acquire(ctx, attempt(ls))
			if code(err) != tc.wantCode || (v.Ticket != nil) != tc.wantTicket {
				t.Fatalf("got %+v, %v; want code %q, ticket %v", v, err, tc.wantCode, tc.wantTicket)
			}
			if err != nil {
				e := hpcgate.AsError(err)
				if e.Code == hpcgate.CodeClaimUnavailable && !e.Retryable {
					t.Error("a store fault must be retryable: the event is delivered again")
				}
				if !strings.Contains(e.Message, tc.wantMessage) || strings.Contains(e.Message, errFault.Error()) {
					t.Errorf("message %q: want %q and no internal cause", e.Message, tc.wantMessage)
				}
			}
		})
	}
}

func TestGenerationsAreBounded(t *testing.T) {
	ctx := t.Context()
	c := &clock{t: time.Unix(1e9, 0)}
	l := claim.New(claim.Config{Store: claim.NewMemory(), MaxGenerations: 3, Now: c.Now, Wait: -1})
	ls := &lister{}
	for gen := range 3 {
		v, err := l.Acquire(ctx, attempt(ls))
		if err != nil || v.Ticket == nil || v.Ticket.Generation() != gen {
			t.Fatalf("delivery %d: %+v, %v", gen, v, err)
		}
		v.Ticket.Release(ctx, "refused")
	}
	if _, err := l.Acquire(ctx, attempt(ls)); code(err) != hpcgate.CodeEventUnresolved {
		t.Fatalf("after 3 released generations: %v; want EventUnresolved", err)
	}
}

func TestDistinctIdentitiesDoNotMeet(t *testing.T) {
	ctx := t.Context()
	l := claim.New(claim.Config{Store: claim.NewMemory()})
	ls := &lister{}
	for _, id := range []string{"oss:b/k#etag1#s1", "oss:b/k#etag2#s2", "eventbridge:acs.oss#1"} {
		a := attempt(ls)
		a.Identity = id
		if v, err := l.Acquire(ctx, a); err != nil || v.Ticket == nil {
			t.Errorf("%s: %+v, %v; want its own claim", id, v, err)
		}
	}
}
