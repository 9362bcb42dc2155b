package bundle

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	opabundle "github.com/open-policy-agent/opa/v1/bundle"
	"github.com/open-policy-agent/opa/v1/util"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/function/internal/policy"
)

// keyPair is a PEM private key and its PEM public key.
type keyPair struct{ priv, pub []byte }

var (
	rsaKeys = sync.OnceValue(func() [2]keyPair { return [2]keyPair{newRSA(), newRSA()} })
	ecKeys  = sync.OnceValue(newEC)
)

func newRSA() keyPair {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		panic(err)
	}
	return keyPair{
		priv: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}),
		pub:  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
	}
}

func newEC() keyPair {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	priv, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		panic(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		panic(err)
	}
	return keyPair{
		priv: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: priv}),
		pub:  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}),
	}
}

// governance allows alice the command lines matching pattern.
func governance(pattern, operator string) []byte {
	return fmt.Appendf(nil, `{
  "policies": {"Shell": {"Version": "1", "Statement": [
    {"Sid": "Allowed", "Effect": "Allow", "Action": "ehpc:InvokeShellCommand", "Resource": "*",
     "Condition": {%q: {"hpcgate:CommandLine": [%q]}}}]}},
  "attachments": {"user": {"alice": ["Shell"]}}
}`, operator, pattern)
}

var (
	govEcho = governance("echo *", "ForAllValues:StringLike") // allows "echo hi"
	govLs   = governance("ls *", "ForAllValues:StringLike")   // denies "echo hi"
)

const goodExt = "package hpcgate.ext.site\n\ndeny contains \"no root\" if input.request.workingDir == \"/\"\n"

func build(t testing.TB, data []byte, modules map[string]string, rev string, key []byte) []byte {
	t.Helper()
	b, err := Build(data, modules, rev, key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// decide asks e whether alice may run "echo hi".
func decide(t testing.TB, e *policy.Engine) (bool, error) {
	t.Helper()
	return decideIn(t, e, "")
}

// decideIn asks e whether alice may run "echo hi" in workingDir.
func decideIn(t testing.TB, e *policy.Engine, workingDir string) (bool, error) {
	t.Helper()
	d, err := e.Decide(t.Context(), policy.Query{
		Principal: hpcgate.Principal{Type: hpcgate.PrincipalUser, ID: "alice"},
		Request:   hpcgate.Request{ClusterID: "ehpc-hz-1", Command: "echo hi", WorkingDir: workingDir}.WithDefaults(),
		Analysis:  &hpcgate.Analysis{Programs: []string{"echo"}, CommandLines: []string{"echo hi"}, Features: []string{}},
		Action:    hpcgate.ActionInvoke,
		Trigger:   hpcgate.TriggerHTTP,
		Region:    "cn-hangzhou", Account: "123456",
	})
	return d.Allow, err
}

// bundleServer serves one bundle on loopback with an ETag, or a status.
type bundleServer struct {
	*httptest.Server
	mu          sync.Mutex
	body        []byte
	status      int
	noETag      bool
	hits        atomic.Int64 // requests
	notModified atomic.Int64 // 304 answers
	arrived     chan struct{}
	release     chan struct{}
}

func newBundleServer(t *testing.T, body []byte) *bundleServer {
	s := &bundleServer{body: body}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *bundleServer) set(body []byte, status int) {
	s.mu.Lock()
	s.body, s.status = body, status
	s.mu.Unlock()
}

func (s *bundleServer) serve(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	if s.arrived != nil {
		s.arrived <- struct{}{}
		<-s.release
	}
	s.mu.Lock()
	body, status, noETag := s.body, s.status, s.noETag
	s.mu.Unlock()
	if status != 0 {
		http.Error(w, "unavailable", status)
		return
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	if !noETag {
		if r.Header.Get("If-None-Match") == etag {
			s.notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
	}
	w.Header().Set("Content-Type", "application/gzip")
	w.Write(body)
}

// lockedBuffer collects log output written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLoader(t *testing.T, cfg Config, e *policy.Engine) (*Loader, *lockedBuffer) {
	t.Helper()
	logs := &lockedBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l, err := New(cfg, e)
	if err != nil {
		t.Fatal(err)
	}
	return l, logs
}

// countCompiles wraps l's compiler to count compilations.
func countCompiles(l *Loader) *atomic.Int64 {
	var n atomic.Int64
	inner := l.compile
	l.compile = func(ctx context.Context, fsys fs.FS, rev string) (*policy.Set, error) {
		n.Add(1)
		return inner(ctx, fsys, rev)
	}
	return &n
}

// waitFor polls cond with a generous bound: it fails only if cond never holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func tampered(t *testing.T, key []byte) []byte {
	t.Helper()
	var signed, changed any
	if err := util.UnmarshalJSON(govLs, &signed); err != nil {
		t.Fatal(err)
	}
	if err := util.UnmarshalJSON(govEcho, &changed); err != nil {
		t.Fatal(err)
	}
	b := opabundle.Bundle{Data: signed.(map[string]any), Manifest: opabundle.Manifest{Revision: "r-tampered"}}
	if err := b.GenerateSignature(opabundle.NewSigningConfig(string(key), "RS256", ""), "default", false); err != nil {
		t.Fatal(err)
	}
	b.Data = changed.(map[string]any)
	var buf bytes.Buffer
	if err := opabundle.NewWriter(&buf).DisableFormat(true).Write(b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestLoadAfterGood loads a good signed bundle (alice may echo), then
// serves the next one: only a good update changes the decision.
func TestLoadAfterGood(t *testing.T) {
	keys := rsaKeys()
	key, other := keys[0], keys[1]
	good := build(t, govEcho, map[string]string{"ext/site.rego": goodExt}, "r1", key.priv)
	tests := map[string]struct {
		next      func(t *testing.T) []byte
		status    int
		wantErr   string // "" = the next bundle loads
		wantAllow bool
		wantRev   string
	}{
		"updated good bundle": {
			next:    func(t *testing.T) []byte { return build(t, govLs, nil, "r2", key.priv) },
			wantRev: "bundle:r2",
		},
		"updated good bundle without manifest revision": {
			next: func(t *testing.T) []byte { return build(t, govLs, nil, "", key.priv) },
		},
		"rego syntax error": {
			next: func(t *testing.T) []byte {
				return build(t, govLs, map[string]string{"site.rego": "package hpcgate.ext.site\ndeny contains x if {"}, "r2", key.priv)
			},
			wantErr:   "rego_parse_error",
			wantAllow: true, wantRev: "bundle:r1",
		},
		"extension outside hpcgate.ext": {
			next: func(t *testing.T) []byte {
				return build(t, govLs, map[string]string{"site.rego": "package site\n\ndeny contains \"x\" if true\n"}, "r2", key.priv)
			},
			wantErr:   "not under hpcgate.ext",
			wantAllow: true, wantRev: "bundle:r1",
		},
		"unknown condition operator": {
			next: func(t *testing.T) []byte {
				return build(t, governance("ls *", "ForAllValues:StringLikeTypo"), nil, "r2", key.priv)
			},
			wantErr:   "StringLikeTypo",
			wantAllow: true, wantRev: "bundle:r1",
		},
		"data document is not governance data": {
			next: func(t *testing.T) []byte {
				return build(t, []byte(`{"policies": [], "other": 1}`), nil, "r2", key.priv)
			},
			wantErr:   "governance.json",
			wantAllow: true, wantRev: "bundle:r1",
		},
		// What `opa build -b` makes of a directory whose governance file is
		// not named data.json: an empty data document (issue 15).
		"empty data document": {
			next: func(t *testing.T) []byte {
				return build(t, nil, map[string]string{"ext/site.rego": goodExt}, "r2", key.priv)
			},
			wantErr:   "no governance data",
			wantAllow: true, wantRev: "bundle:r1",
		},
		"policies attached to nobody": {
			next: func(t *testing.T) []byte {
				return build(t, []byte(`{"policies": {"P": {"Version": "1", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}}}`), nil, "r2", key.priv)
			},
			wantErr:   "no attachments",
			wantAllow: true, wantRev: "bundle:r1",
		},
		"corrupt gzip": {
			next:      func(t *testing.T) []byte { return []byte("this is not a bundle") },
			wantErr:   "read:",
			wantAllow: true, wantRev: "bundle:r1",
		},
		"truncated bundle": {
			next:      func(t *testing.T) []byte { b := build(t, govLs, nil, "r2", key.priv); return b[:len(b)/2] },
			wantErr:   "read:",
			wantAllow: true, wantRev: "bundle:r1",
		},
		"unsigned bundle": {
			next:      func(t *testing.T) []byte { return build(t, govLs, nil, "r2", nil) },
			wantErr:   "missing .signatures.json",
			wantAllow: true, wantRev: "bundle:r1",
		},
		"bundle signed by another key": {
			next:      func(t *testing.T) []byte { return build(t, govLs, nil, "r2", other.priv) },
			wantErr:   "verify",
			wantAllow: true, wantRev: "bundle:r1",
		},
		"bundle changed after signing": {
			next:      func(t *testing.T) []byte { return tampered(t, key.priv) },
			wantErr:   "data.json",
			wantAllow: true, wantRev: "bundle:r1",
		},
		"manifest revision with a control character": {
			next:      func(t *testing.T) []byte { return build(t, govLs, nil, "r2\nforged", key.priv) },
			wantErr:   "printable",
			wantAllow: true, wantRev: "bundle:r1",
		},
		"server error": {
			status:    http.StatusInternalServerError,
			wantErr:   "http status 500",
			wantAllow: true, wantRev: "bundle:r1",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			srv := newBundleServer(t, good)
			e := policy.NewEngine(nil)
			l, logs := newLoader(t, Config{Source: srv.URL + "/b.tar.gz", PublicKey: string(key.pub)}, e)
			if err := l.Load(t.Context()); err != nil {
				t.Fatalf("first load: %v", err)
			}
			if allow, err := decide(t, e); err != nil || !allow {
				t.Fatalf("first bundle: allow=%v err=%v, want allow", allow, err)
			}
			var next []byte
			if tc.next != nil {
				next = tc.next(t)
			}
			srv.set(next, tc.status)
			err := l.Load(t.Context())
			st := l.Status()
			if tc.wantErr == "" {
				if err != nil || st.LastError != "" {
					t.Fatalf("Load = %v (status %q), want success", err, st.LastError)
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Load = %v, want an error containing %q", err, tc.wantErr)
				}
				if st.LastError != err.Error() {
					t.Errorf("Status.LastError = %q, want %q", st.LastError, err)
				}
				if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "keeping the policy set in force") {
					t.Errorf("refusal not logged at error level:\n%s", logs)
				}
			}
			allow, derr := decide(t, e)
			if derr != nil || allow != tc.wantAllow {
				t.Errorf("decision after: allow=%v err=%v, want allow=%v", allow, derr, tc.wantAllow)
			}
			if tc.wantRev != "" && st.Revision != tc.wantRev {
				t.Errorf("revision in force = %q, want %q", st.Revision, tc.wantRev)
			}
			if tc.wantRev == "" && tc.wantErr == "" && !strings.HasPrefix(st.Revision, "bundle:sha256:") {
				t.Errorf("revision in force = %q, want a bundle digest", st.Revision)
			}
			if strings.Contains(logs.String(), "BEGIN") {
				t.Errorf("key material in logs:\n%s", logs)
			}
		})
	}
}

func TestNotModifiedDoesNotRecompile(t *testing.T) {
	key := rsaKeys()[0]
	tests := map[string]struct{ noETag bool }{
		"server sends an ETag: 304":              {},
		"server sends no ETag: same bytes again": {noETag: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			srv := newBundleServer(t, build(t, govEcho, nil, "r1", key.priv))
			srv.noETag = tc.noETag
			e := policy.NewEngine(nil)
			l, _ := newLoader(t, Config{Source: srv.URL, PublicKey: string(key.pub)}, e)
			compiles := countCompiles(l)
			if err := l.Load(t.Context()); err != nil {
				t.Fatal(err)
			}
			first := e.Current()
			for range 3 {
				if err := l.Load(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			if got := compiles.Load(); got != 1 {
				t.Errorf("compiled %d times, want 1", got)
			}
			if e.Current() != first {
				t.Error("the set was swapped for unchanged content")
			}
			want := int64(3)
			if tc.noETag {
				want = 0
			}
			if got := srv.notModified.Load(); got != want {
				t.Errorf("304 answers = %d, want %d", got, want)
			}
		})
	}
}

func TestRefusedBundleIsNotRecompiled(t *testing.T) {
	key := rsaKeys()[0]
	srv := newBundleServer(t, build(t, govEcho, nil, "r1", key.priv))
	e := policy.NewEngine(nil)
	l, _ := newLoader(t, Config{Source: srv.URL, PublicKey: string(key.pub)}, e)
	compiles := countCompiles(l)
	if err := l.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	srv.set(build(t, governance("ls *", "NoSuchOperator"), nil, "r2", key.priv), 0)
	for range 3 {
		if err := l.Load(t.Context()); err == nil || !strings.Contains(err.Error(), "NoSuchOperator") {
			t.Fatalf("Load = %v, want the refusal", err)
		}
	}
	if got := compiles.Load(); got != 2 {
		t.Errorf("compiled %d times, want 2 (good once, bad once)", got)
	}
}

// TestRunFollowsUpdates: a good update changes the decision within an
// interval or so; a bad one never does.
func TestRunFollowsUpdates(t *testing.T) {
	key := rsaKeys()[0]
	srv := newBundleServer(t, build(t, govEcho, nil, "r1", key.priv))
	e := policy.NewEngine(nil)
	l, _ := newLoader(t, Config{Source: srv.URL, PublicKey: string(key.pub), Interval: 50 * time.Millisecond}, e)
	if err := l.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { l.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	srv.set(build(t, govLs, nil, "r2", key.priv), 0)
	waitFor(t, "the update to take effect", func() bool {
		allow, err := decide(t, e)
		return err == nil && !allow
	})
	if got := l.Status().Revision; got != "bundle:r2" {
		t.Fatalf("revision = %q, want bundle:r2", got)
	}

	bad := map[string][]byte{
		"unsigned":     build(t, govEcho, nil, "r3", nil),
		"other key":    build(t, govEcho, nil, "r3", rsaKeys()[1].priv),
		"syntax error": build(t, govEcho, map[string]string{"x.rego": "package hpcgate.ext.x\ndeny contains"}, "r3", key.priv),
		"corrupt":      []byte("\x1f\x8b garbage"),
	}
	for name, b := range bad {
		srv.set(b, 0)
		from := srv.hits.Load()
		waitFor(t, name+" to be fetched three times", func() bool { return srv.hits.Load() >= from+3 })
		waitFor(t, name+" to be reported", func() bool { return l.Status().LastError != "" })
		if allow, err := decide(t, e); err != nil || allow {
			t.Fatalf("%s: decision changed: allow=%v err=%v", name, allow, err)
		}
		if got := l.Status().Revision; got != "bundle:r2" {
			t.Fatalf("%s: revision = %q, want bundle:r2", name, got)
		}
	}
}

func TestNeverLoadedFailsClosed(t *testing.T) {
	key := rsaKeys()[0]
	tests := map[string]struct {
		body   []byte
		status int
	}{
		"server error":    {status: http.StatusServiceUnavailable},
		"unsigned bundle": {body: build(t, govEcho, nil, "r1", nil)},
		"broken bundle":   {body: []byte("nope")},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			srv := newBundleServer(t, tc.body)
			srv.set(tc.body, tc.status)
			e := policy.NewEngine(nil)
			l, logs := newLoader(t, Config{Source: srv.URL, PublicKey: string(key.pub)}, e)
			if err := l.Load(t.Context()); err == nil {
				t.Fatal("Load succeeded")
			}
			_, err := decide(t, e)
			var he *hpcgate.Error
			if !errors.As(err, &he) || he.Code != hpcgate.CodePolicyUnavailable {
				t.Fatalf("Decide error = %v, want %s", err, hpcgate.CodePolicyUnavailable)
			}
			if st := l.Status(); st.Revision != "" || st.LastError == "" {
				t.Errorf("status = %+v, want no revision and an error", st)
			}
			if !strings.Contains(logs.String(), "every request is denied") {
				t.Errorf("log does not say requests are denied:\n%s", logs)
			}
		})
	}
}

func TestLocalFile(t *testing.T) {
	key := rsaKeys()[0]
	dir := t.TempDir()
	p := filepath.Join(dir, "bundle.tar.gz")
	for name, src := range map[string]string{"path": p, "file URL": "file://" + p} {
		t.Run(name, func(t *testing.T) {
			write := func(b []byte) {
				if err := os.WriteFile(p, b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			write(build(t, govEcho, nil, "f1", key.priv))
			e := policy.NewEngine(nil)
			l, _ := newLoader(t, Config{Source: src, PublicKey: string(key.pub)}, e)
			compiles := countCompiles(l)
			if err := l.Load(t.Context()); err != nil {
				t.Fatal(err)
			}
			if err := l.Load(t.Context()); err != nil {
				t.Fatal(err)
			}
			if allow, err := decide(t, e); err != nil || !allow {
				t.Fatalf("allow=%v err=%v, want allow", allow, err)
			}
			write(build(t, govEcho, nil, "f2", nil))
			if err := l.Load(t.Context()); err == nil {
				t.Fatal("unsigned file loaded")
			}
			write(build(t, govLs, nil, "f3", key.priv))
			if err := l.Load(t.Context()); err != nil {
				t.Fatal(err)
			}
			if allow, err := decide(t, e); err != nil || allow {
				t.Fatalf("allow=%v err=%v, want deny", allow, err)
			}
			if got, want := compiles.Load(), int64(2); got != want {
				t.Errorf("compiled %d times, want %d", got, want)
			}
			if got := l.Status().Revision; got != "bundle:f3" {
				t.Errorf("revision = %q", got)
			}
			os.Remove(p)
			if err := l.Load(t.Context()); err == nil {
				t.Error("missing file: Load succeeded")
			}
			if got := l.Status().Revision; got != "bundle:f3" {
				t.Errorf("after a missing file, revision = %q", got)
			}
		})
	}
}

func TestUnsignedAcceptedWithoutKey(t *testing.T) {
	srv := newBundleServer(t, build(t, govEcho, nil, "u1", nil))
	e := policy.NewEngine(nil)
	l, logs := newLoader(t, Config{Source: srv.URL}, e)
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "not verified") {
		t.Errorf("no start-up warning:\n%s", logs)
	}
	if err := l.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	// A signed bundle loads too: its signature is simply not checked.
	srv.set(build(t, govLs, nil, "u2", rsaKeys()[1].priv), 0)
	if err := l.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := l.Status(); st.Revision != "bundle:u2" || st.Verified {
		t.Errorf("status = %+v", st)
	}
}

func TestPublicKeyForms(t *testing.T) {
	rk, ek := rsaKeys()[0], ecKeys()
	path := filepath.Join(t.TempDir(), "pub.pem")
	if err := os.WriteFile(path, rk.pub, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		key, alg string
		signer   []byte
	}{
		"RSA PEM text":                  {key: string(rk.pub), signer: rk.priv},
		"RSA PEM file":                  {key: path, signer: rk.priv},
		"RSA PEM with literal newlines": {key: strings.ReplaceAll(strings.TrimSpace(string(rk.pub)), "\n", `\n`), signer: rk.priv},
		"ECDSA P-256 PEM text":          {key: string(ek.pub), signer: ek.priv},
		"RSA with explicit RS256":       {key: string(rk.pub), alg: "RS256", signer: rk.priv},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			srv := newBundleServer(t, build(t, govEcho, nil, "k1", tc.signer))
			e := policy.NewEngine(nil)
			l, _ := newLoader(t, Config{Source: srv.URL, PublicKey: tc.key, Algorithm: tc.alg}, e)
			if err := l.Load(t.Context()); err != nil {
				t.Fatal(err)
			}
			if !l.Status().Verified {
				t.Error("Status.Verified = false")
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	rk := rsaKeys()[0]
	e := policy.NewEngine(nil)
	tests := map[string]struct {
		cfg  Config
		want string
	}{
		"no source":                            {Config{}, "no source"},
		"plain http to a remote host":          {Config{Source: "http://bundles.example.com/b.tar.gz"}, "https"},
		"http to a loopback-like name":         {Config{Source: "http://127.0.0.1.nip.io/b.tar.gz"}, "https"},
		"unknown scheme":                       {Config{Source: "ftp://example.com/b.tar.gz"}, "scheme"},
		"file URL with a remote host":          {Config{Source: "file://host/b.tar.gz"}, "file:///"},
		"key neither PEM nor a file":           {Config{Source: "b.tar.gz", PublicKey: "not-a-key"}, "neither PEM"},
		"private key as verification key":      {Config{Source: "b.tar.gz", PublicKey: string(rk.priv)}, "private key"},
		"algorithm that does not suit the key": {Config{Source: "b.tar.gz", PublicKey: string(rk.pub), Algorithm: "ES256"}, "does not suit"},
		"HMAC algorithm":                       {Config{Source: "b.tar.gz", PublicKey: string(rk.pub), Algorithm: "HS256"}, "does not suit"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tc.cfg.Logger = slog.New(slog.DiscardHandler)
			_, err := New(tc.cfg, e)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New = %v, want an error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "BEGIN") {
				t.Errorf("error echoes key material: %v", err)
			}
		})
	}
	if _, err := New(Config{Source: "b.tar.gz"}, nil); err == nil {
		t.Error("New accepted a nil engine")
	}
}

func TestURLQueryNeverLogged(t *testing.T) {
	srv := newBundleServer(t, nil)
	srv.set(nil, http.StatusForbidden)
	e := policy.NewEngine(nil)
	l, logs := newLoader(t, Config{Source: srv.URL + "/b.tar.gz?Expires=1&Signature=s3cr3t", PublicKey: string(rsaKeys()[0].pub)}, e)
	err := l.Load(t.Context())
	if err == nil {
		t.Fatal("Load succeeded")
	}
	for _, s := range []string{err.Error(), logs.String(), l.Status().Source, l.Status().LastError} {
		if strings.Contains(s, "s3cr3t") {
			t.Errorf("signature leaked: %s", s)
		}
	}
	if !strings.Contains(l.Status().Source, "/b.tar.gz") {
		t.Errorf("source = %q", l.Status().Source)
	}
}

func TestMaybeRefresh(t *testing.T) {
	key := rsaKeys()[0]
	t.Run("one background check at a time", func(t *testing.T) {
		srv := newBundleServer(t, build(t, govEcho, nil, "m1", key.priv))
		srv.arrived, srv.release = make(chan struct{}), make(chan struct{})
		e := policy.NewEngine(nil)
		l, _ := newLoader(t, Config{Source: srv.URL, PublicKey: string(key.pub), Interval: time.Nanosecond}, e)
		l.MaybeRefresh(t.Context())
		<-srv.arrived // the check is now blocked in the server
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() { l.MaybeRefresh(t.Context()) })
		}
		wg.Wait()
		close(srv.release)
		waitFor(t, "the check to finish", func() bool { return !l.inflight.Load() })
		if got := srv.hits.Load(); got != 1 {
			t.Errorf("server saw %d requests, want 1", got)
		}
		if got := l.Status().Revision; got != "bundle:m1" {
			t.Errorf("revision = %q", got)
		}
	})
	t.Run("nothing before the interval has passed", func(t *testing.T) {
		srv := newBundleServer(t, build(t, govEcho, nil, "m1", key.priv))
		e := policy.NewEngine(nil)
		l, _ := newLoader(t, Config{Source: srv.URL, PublicKey: string(key.pub), Interval: time.Hour}, e)
		if err := l.Load(t.Context()); err != nil {
			t.Fatal(err)
		}
		for range 10 {
			l.MaybeRefresh(t.Context())
		}
		if l.inflight.Load() || srv.hits.Load() != 1 {
			t.Errorf("MaybeRefresh checked before the interval: %d requests", srv.hits.Load())
		}
	})
	t.Run("picks up an update, outliving the request context", func(t *testing.T) {
		srv := newBundleServer(t, build(t, govEcho, nil, "m1", key.priv))
		e := policy.NewEngine(nil)
		l, _ := newLoader(t, Config{Source: srv.URL, PublicKey: string(key.pub), Interval: 20 * time.Millisecond}, e)
		if err := l.Load(t.Context()); err != nil {
			t.Fatal(err)
		}
		srv.set(build(t, govLs, nil, "m2", key.priv), 0)
		waitFor(t, "the update", func() bool {
			ctx, cancel := context.WithCancel(t.Context())
			l.MaybeRefresh(ctx)
			cancel() // the request ends at once
			return l.Status().Revision == "bundle:m2"
		})
		if allow, err := decide(t, e); err != nil || allow {
			t.Errorf("allow=%v err=%v, want deny", allow, err)
		}
	})
}

func TestBuildIsReadableByOPA(t *testing.T) {
	key := rsaKeys()[0]
	raw := build(t, govEcho, map[string]string{"/ext/site.rego": goodExt}, "b1", key.priv)
	vc := opabundle.NewVerificationConfig(map[string]*opabundle.KeyConfig{"default": {Key: string(key.pub), Algorithm: "RS256"}}, "", "", nil)
	b, err := opabundle.NewReader(bytes.NewReader(raw)).WithBundleVerificationConfig(vc).Read()
	if err != nil {
		t.Fatal(err)
	}
	if b.Manifest.Revision != "b1" || len(b.Modules) != 1 || b.Modules[0].Path != "/ext/site.rego" {
		t.Errorf("bundle = revision %q, %d modules", b.Manifest.Revision, len(b.Modules))
	}
	if _, ok := b.Data["policies"]; !ok {
		t.Errorf("data = %v", b.Data)
	}
	if _, err := Build([]byte(`[1]`), nil, "", nil); err == nil {
		t.Error("Build accepted a non-object data document")
	}
}

func BenchmarkLoadNotModified(b *testing.B) {
	key := rsaKeys()[0]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotModified)
	}))
	defer srv.Close()
	l, err := New(Config{Source: srv.URL, PublicKey: string(key.pub), Logger: slog.New(slog.DiscardHandler)}, policy.NewEngine(nil))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := l.Load(b.Context()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen measures verifying and compiling a signed bundle, the cost
// of one swap.
func BenchmarkOpen(b *testing.B) {
	key := rsaKeys()[0]
	raw := build(b, govEcho, map[string]string{"site.rego": goodExt}, "b1", key.priv)
	l, err := New(Config{Source: "unused.tar.gz", PublicKey: string(key.pub), Logger: slog.New(slog.DiscardHandler)}, policy.NewEngine(nil))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := l.open(b.Context(), raw, strings.Repeat("0", 64)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMaybeRefreshIdle(b *testing.B) {
	l, err := New(Config{Source: "unused.tar.gz", Interval: time.Hour, Logger: slog.New(slog.DiscardHandler)}, policy.NewEngine(nil))
	if err != nil {
		b.Fatal(err)
	}
	l.lastCheck.Store(time.Now().UnixNano())
	for b.Loop() {
		l.MaybeRefresh(b.Context())
	}
}

func TestSizeCap(t *testing.T) {
	key := rsaKeys()[0]
	raw := build(t, govEcho, nil, "s1", key.priv)
	srv := newBundleServer(t, raw)
	p := filepath.Join(t.TempDir(), "b.tar.gz")
	if err := os.WriteFile(p, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]string{"http": srv.URL, "file": p} {
		t.Run(name, func(t *testing.T) {
			e := policy.NewEngine(nil)
			l, _ := newLoader(t, Config{Source: src, PublicKey: string(key.pub), MaxBytes: int64(len(raw)) - 1}, e)
			if err := l.Load(t.Context()); err == nil || !strings.Contains(err.Error(), "larger than") {
				t.Fatalf("Load = %v, want the size cap", err)
			}
			if e.Current() != nil {
				t.Error("an oversized bundle was installed")
			}
		})
	}
}

// TestOPACLIBundle loads a bundle that `opa build` signed (see
// testdata/opa-cli/README.md), so the documented workflow is the tested one.
func TestOPACLIBundle(t *testing.T) {
	src := filepath.Join("testdata", "opa-cli", "bundle.tar.gz")
	e := policy.NewEngine(nil)
	l, _ := newLoader(t, Config{Source: src, PublicKey: filepath.Join("testdata", "opa-cli", "pub.pem")}, e)
	if err := l.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := l.Status().Revision; got != "bundle:opa-cli-1" {
		t.Errorf("revision = %q, want bundle:opa-cli-1", got)
	}
	if allow, err := decideIn(t, e, "/home/alice"); err != nil || !allow {
		t.Errorf("echo in /home/alice: allow=%v err=%v, want allow", allow, err)
	}
	if allow, err := decideIn(t, e, "/"); err != nil || allow {
		t.Errorf("echo in / (extension deny): allow=%v err=%v, want deny", allow, err)
	}

	other := policy.NewEngine(nil)
	l2, _ := newLoader(t, Config{Source: src, PublicKey: string(rsaKeys()[0].pub)}, other)
	if err := l2.Load(t.Context()); err == nil || other.Current() != nil {
		t.Errorf("bundle verified with an unrelated key: %v", err)
	}
}

func TestConfigLogValue(t *testing.T) {
	var buf bytes.Buffer
	cfg := Config{Source: "https://user:pw@bucket.example.com/b.tar.gz?Signature=s3cr3t", PublicKey: string(rsaKeys()[0].pub)}
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("start", "bundle", cfg)
	for _, leak := range []string{"BEGIN", "s3cr3t", "pw@"} {
		if strings.Contains(buf.String(), leak) {
			t.Errorf("log holds %q: %s", leak, buf.String())
		}
	}
	if !strings.Contains(buf.String(), `"source":"https://bucket.example.com/b.tar.gz"`) || !strings.Contains(buf.String(), `"verified":true`) {
		t.Errorf("log = %s", buf.String())
	}
}
