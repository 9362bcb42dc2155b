package bundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing/fstest"
	"time"
	"unicode"

	"github.com/open-policy-agent/opa/v1/ast"
	opabundle "github.com/open-policy-agent/opa/v1/bundle"

	"github.com/hpcgate/hpcgate/function/internal/policy"
	"github.com/hpcgate/hpcgate/policies"
)

// Defaults, named so docs and code cannot drift apart.
const (
	DefaultInterval = 60 * time.Second
	DefaultTimeout  = 30 * time.Second // one fetch, and one background check
	DefaultMaxBytes = 32 << 20         // the bundle, and each file in it
)

// GovernanceFile is the name the bundle's data document gets in the file
// system handed to policy.Compile.
const GovernanceFile = "governance.json"

// Config says where the bundle is and how to trust it.
type Config struct {
	// Source is oss://bucket/key (read with OSS, see the OSS field), a
	// local path, a file:// URL, or an https URL (http only for a
	// loopback host), such as a pre-signed OSS object URL.
	Source string
	// PublicKey verifies bundle signatures: PEM text (a public key or a
	// certificate) or the path of a PEM file. "" accepts unsigned bundles
	// and logs a warning once; production should always set it.
	PublicKey string
	// Algorithm is the signature algorithm; "" takes it from the key
	// (RS256 for RSA, ES256/ES384/ES512 by ECDSA curve).
	Algorithm string
	// Interval between checks for Run and MaybeRefresh; <= 0 means
	// DefaultInterval.
	Interval time.Duration
	// MaxBytes caps the bundle and each file in it; <= 0 means
	// DefaultMaxBytes.
	MaxBytes int64
	// OSS reads an oss://bucket/key source with the function's own
	// credentials; required for one.
	OSS ObjectReader
	// HTTPClient fetches URLs; nil means a client with DefaultTimeout that
	// follows redirects only to https (or loopback http).
	HTTPClient *http.Client
	// Logger receives load, refusal and swap records; nil means slog.Default().
	Logger *slog.Logger
}

// LogValue keeps key material out of logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("source", redactSource(c.Source)),
		slog.Bool("verified", c.PublicKey != ""),
		slog.Duration("interval", c.Interval),
	)
}

// Status is what a health check or a log line needs to know about the
// loader.
type Status struct {
	Source     string    `json:"source"`              // without credentials or query
	Revision   string    `json:"revision"`            // of the set in force; "" = none, every decision fails closed
	Verified   bool      `json:"verified"`            // bundle signatures are checked
	LastCheck  time.Time `json:"lastCheck"`           // start of the last check; zero before the first
	LastChange time.Time `json:"lastChange"`          // when this loader last installed a set
	LastError  string    `json:"lastError,omitempty"` // why the last check failed; "" when it succeeded
	// LastSuccess is the start of the last check that found the set in
	// force current (or installed a new one); StaleSeconds is the time
	// since, which grows while checks fail and the last good set stays.
	LastSuccess  time.Time `json:"lastSuccess"`
	StaleSeconds *int64    `json:"staleSeconds,omitempty"` // nil before the first success
}

// Loader keeps a policy.Engine's set in step with a bundle.
type Loader struct {
	src      source
	vc       *opabundle.VerificationConfig // nil: signatures are not checked
	engine   *policy.Engine
	interval time.Duration
	maxBytes int64
	log      *slog.Logger
	compile  func(context.Context, fs.FS, string) (*policy.Set, error)

	mu         sync.Mutex // serializes checks; guards the fields below
	etag       string     // of the bundle in force
	digest     string     // sha256 of the bundle in force
	refused    string     // sha256 of the last refused bundle
	refusedErr error
	refusedTag string // ETag of the last refused bundle: asked for next, so an unchanged bad upload costs a 304

	inflight  atomic.Bool
	lastCheck atomic.Int64 // unix nanoseconds

	stmu   sync.Mutex
	status Status
}

// New returns a Loader for cfg that installs sets into engine. It checks
// the configuration (source, key) but fetches nothing: call Load.
func New(cfg Config, engine *policy.Engine) (*Loader, error) {
	if engine == nil {
		return nil, errors.New("bundle: nil engine")
	}
	l := &Loader{
		engine:   engine,
		interval: cfg.Interval,
		maxBytes: cfg.MaxBytes,
		log:      cfg.Logger,
		compile:  policy.Compile,
	}
	if l.interval <= 0 {
		l.interval = DefaultInterval
	}
	if l.maxBytes <= 0 {
		l.maxBytes = DefaultMaxBytes
	}
	if l.log == nil {
		l.log = slog.Default()
	}
	src, err := newSource(cfg.Source, cfg.HTTPClient, cfg.OSS, l.maxBytes)
	if err != nil {
		return nil, err
	}
	l.src = src
	if cfg.PublicKey != "" {
		key, alg, err := readPublicKey(cfg.PublicKey, cfg.Algorithm)
		if err != nil {
			return nil, err
		}
		l.vc = opabundle.NewVerificationConfig(map[string]*opabundle.KeyConfig{
			keyID: {Key: key, Algorithm: alg},
		}, keyID, "", nil)
	} else {
		l.log.Warn("policy bundle signatures are not verified: configure a public key (HPCGATE_POLICY_BUNDLE_PUBLIC_KEY) in production",
			"source", src.String())
	}
	l.status = Status{Source: src.String(), Verified: l.vc != nil}
	return l, nil
}

// Load checks the bundle once: a conditional fetch, then, for new
// content, signature verification, compilation and validation, and a swap
// into the engine only when all of them pass. On any failure it logs at
// error level and returns the error; the engine keeps the set in force
// (none, if none was ever loaded: every decision then fails closed).
// Unchanged content (304, or the same bytes) returns nil without
// recompiling. Concurrent calls run one after the other.
func (l *Loader) Load(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	start := time.Now()
	l.lastCheck.Store(start.UnixNano())
	err := l.check(ctx)
	l.stmu.Lock()
	l.status.LastCheck = start
	l.status.LastError = ""
	if err != nil {
		l.status.LastError = err.Error()
	} else {
		l.status.LastSuccess = start
	}
	l.stmu.Unlock()
	return err
}

func (l *Loader) check(ctx context.Context) error {
	in := l.inForce()
	etag := l.etag
	if l.refusedTag != "" {
		etag = l.refusedTag
	}
	f, err := l.src.fetch(ctx, etag)
	if err != nil {
		err = fmt.Errorf("policy bundle %s: %w", l.src, err)
		l.refuse(in, "policy bundle check failed", err)
		return err
	}
	if f.notModified && l.refusedTag != "" && etag == l.refusedTag {
		l.refuse(in, "policy bundle refused", l.refusedErr)
		return l.refusedErr
	}
	if f.notModified {
		l.log.Debug("policy bundle unchanged", "source", l.src.String(), "revision", in, "notModified", true)
		return nil
	}
	sum := sha256.Sum256(f.data)
	digest := hex.EncodeToString(sum[:])
	if digest == l.digest && l.engine.Current() != nil {
		l.etag, l.refusedTag = f.etag, ""
		l.log.Debug("policy bundle unchanged", "source", l.src.String(), "revision", in)
		return nil
	}
	if digest == l.refused {
		// The same bytes were refused before; refusing is deterministic.
		l.refusedTag = f.etag
		l.refuse(in, "policy bundle refused", l.refusedErr)
		return l.refusedErr
	}
	set, err := l.open(ctx, f.data, digest)
	if err != nil {
		err = fmt.Errorf("policy bundle %s: %w", l.src, err)
		if ctx.Err() == nil {
			l.refused, l.refusedErr, l.refusedTag = digest, err, f.etag
		}
		l.refuse(in, "policy bundle refused", err)
		return err
	}
	l.engine.Swap(set)
	l.etag, l.digest = f.etag, digest
	l.refused, l.refusedErr, l.refusedTag = "", nil, ""
	l.stmu.Lock()
	l.status.LastChange = time.Now()
	l.stmu.Unlock()
	l.log.Info("policy bundle loaded", "source", l.src.String(), "from", in, "to", set.Revision())
	return nil
}

// refuse logs a failed check loudly, saying what stays in force.
func (l *Loader) refuse(inForce, msg string, err error) {
	if inForce == "" {
		l.log.Error(msg+"; no policy set is loaded, every request is denied", "source", l.src.String(), "error", err)
		return
	}
	l.log.Error(msg+"; keeping the policy set in force", "source", l.src.String(), "revision", inForce, "error", err)
}

func (l *Loader) inForce() string {
	if s := l.engine.Current(); s != nil {
		return s.Revision()
	}
	return ""
}

// open reads, verifies and compiles bundle bytes.
func (l *Loader) open(ctx context.Context, data []byte, digest string) (*policy.Set, error) {
	r := opabundle.NewReader(bytes.NewReader(data)).
		WithSizeLimitBytes(l.maxBytes).
		WithRegoVersion(ast.RegoV1)
	if l.vc != nil {
		r = r.WithBundleVerificationConfig(l.vc)
	} else {
		r = r.WithSkipBundleVerification(true)
	}
	b, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	switch {
	case b.Type() != opabundle.SnapshotBundleType:
		return nil, errors.New("delta bundles are not supported")
	case len(b.WasmModules) > 0 || len(b.PlanModules) > 0:
		return nil, errors.New("wasm and plan modules are not supported")
	}
	rev, err := revision(b.Manifest.Revision, digest)
	if err != nil {
		return nil, err
	}
	fsys, err := l.toFS(b)
	if err != nil {
		return nil, err
	}
	set, err := l.compile(ctx, fsys, rev)
	if err != nil {
		return nil, err
	}
	return set, nil
}

// toFS lays a bundle out as policy.Compile reads it: the data document as
// one governance file, and each extension module at the top level under
// its path with "/" turned into "_". A bundle built from a copy of the
// policies/ directory (`opa build -b policies`) also holds Rego tests and
// the RAM library (lib/ram.rego): tests are skipped, as in a directory,
// and the library is always the built-in one, so a copy of it is skipped
// too (logged when it differs from the built-in one).
func (l *Loader) toFS(b opabundle.Bundle) (fs.FS, error) {
	data := b.Data
	if data == nil {
		data = map[string]any{}
	}
	gov, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("data document: %w", err)
	}
	fsys := fstest.MapFS{GovernanceFile: {Data: gov, Mode: 0o444}}
	for _, m := range b.Modules {
		if strings.HasSuffix(m.Path, "_test.rego") {
			continue
		}
		if m.Parsed != nil && m.Parsed.Package.Path.Equal(ramPackage) {
			if lib, err := fs.ReadFile(policies.Library, policies.LibraryFile); err != nil || !bytes.Equal(bytes.TrimSpace(lib), bytes.TrimSpace(m.Raw)) {
				l.log.Warn("policy bundle holds a RAM library that differs from the built-in one; the built-in one is used", "source", l.src.String(), "module", m.Path)
			}
			continue
		}
		name := strings.ReplaceAll(strings.TrimPrefix(m.Path, "/"), "/", "_")
		if _, dup := fsys[name]; dup {
			return nil, fmt.Errorf("modules %s: two modules map to the name %s", m.Path, name)
		}
		fsys[name] = &fstest.MapFile{Data: m.Raw, Mode: 0o444}
	}
	return fsys, nil
}

// ramPackage is the package of the built-in RAM library.
var ramPackage = ast.MustParseRef("data.hpcgate.ram")

const maxRevisionLen = 128

// revision names a bundle's set: "bundle:" and the manifest revision, or
// the start of the bundle digest when the manifest names none.
func revision(manifest, digest string) (string, error) {
	if manifest == "" {
		return "bundle:sha256:" + digest[:16], nil
	}
	if len(manifest) > maxRevisionLen || strings.IndexFunc(manifest, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return "", fmt.Errorf("manifest revision must be at most %d printable characters", maxRevisionLen)
	}
	return "bundle:" + manifest, nil
}

// Run checks the bundle every Interval (with ±10% jitter, so a fleet does
// not poll in step) until ctx ends. It does not check at once: call Load
// first. FC freezes background goroutines between invocations, so there
// pair it with MaybeRefresh.
func (l *Loader) Run(ctx context.Context) {
	for {
		jitter := time.Duration(rand.Int64N(int64(l.interval)/5+1)) - l.interval/10
		t := time.NewTimer(l.interval + jitter)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		_ = l.Load(ctx) // Load logs its failures
	}
}

// MaybeRefresh is the per-request hook: when Interval has passed since the
// last check and no check is running, it starts one in the background and
// returns at once. The check outlives ctx's cancellation (not its values)
// and is bounded by DefaultTimeout.
func (l *Loader) MaybeRefresh(ctx context.Context) {
	if time.Since(time.Unix(0, l.lastCheck.Load())) < l.interval {
		return
	}
	if !l.inflight.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer l.inflight.Store(false)
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultTimeout)
		defer cancel()
		_ = l.Load(ctx)
	}()
}

// Status reports the revision in force and the last check.
func (l *Loader) Status() Status {
	l.stmu.Lock()
	s := l.status
	l.stmu.Unlock()
	s.Revision = l.inForce()
	if !s.LastSuccess.IsZero() {
		stale := int64(time.Since(s.LastSuccess) / time.Second)
		s.StaleSeconds = &stale
	}
	return s
}

// redactSource names a configured source for logs before it is parsed.
func redactSource(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	if i := strings.Index(raw, "://"); i >= 0 {
		if j := strings.Index(raw[i+3:], "@"); j >= 0 && !strings.Contains(raw[i+3:i+3+j], "/") {
			raw = raw[:i+3] + raw[i+3+j+1:]
		}
	}
	return raw
}
