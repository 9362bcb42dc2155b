package authn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/lestrrat-go/jwx/v3/jwa"

	"github.com/hpcgate/hpcgate/test/goldenfile"
)

func asGateError(err error) *hpcgate.Error {
	var e *hpcgate.Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

func TestTokenRedacts(t *testing.T) {
	const secret = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
	tok := Token(secret)
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("request", "token", tok, "group", slog.GroupValue(slog.Any("auth", tok)))
	marshalled, err := json.Marshal(struct{ Auth Token }{tok})
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"Sprint":   fmt.Sprint(tok),
		"%v":       fmt.Sprintf("%v", tok),
		"%+v":      fmt.Sprintf("%+v", tok),
		"%#v":      fmt.Sprintf("%#v", tok),
		"%s":       fmt.Sprintf("%s", tok),
		"%q":       fmt.Sprintf("%q", tok),
		"%x":       fmt.Sprintf("%x", tok),
		"in slice": fmt.Sprintf("%v", []Token{tok}),
		"slog":     logged.String(),
		"json":     string(marshalled),
	}
	for name, out := range outputs {
		if strings.Contains(out, secret) || strings.Contains(out, "eyJ") {
			t.Errorf("%s leaks the token: %s", name, out)
		}
	}
	if outputs["Sprint"] != redacted {
		t.Errorf("Sprint = %q, want %q", outputs["Sprint"], redacted)
	}
	if string(tok) != secret {
		t.Error("string conversion lost the token")
	}
}

func TestDevIssuer(t *testing.T) {
	d := newTestIssuer(t)
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(d.JWKS(), &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 1 {
		t.Fatalf("JWKS has %d keys, want 1", len(set.Keys))
	}
	k := set.Keys[0]
	if k["kid"] != d.KeyID() || d.KeyID() == "" || k["alg"] != "ES256" || k["use"] != "sig" || k["kty"] != "EC" {
		t.Errorf("JWKS key = %v", k)
	}
	if _, ok := k["d"]; ok {
		t.Fatal("JWKS publishes the private key")
	}

	tests := []struct {
		name    string
		sub     string
		groups  []string
		mfa     bool
		ttl     time.Duration
		wantErr bool
	}{
		{"user with groups and mfa", "carol", []string{"hpc"}, true, time.Hour, false},
		{"user without groups", "dave", nil, false, time.Minute, false},
		{"empty sub", "", nil, false, time.Hour, true},
		{"zero ttl", "erin", nil, false, 0, true},
	}
	v := newTestVerifier(t, d.Config())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := d.Token(tt.sub, tt.groups, tt.mfa, tt.ttl)
			if tt.wantErr {
				if err == nil {
					t.Fatal("Token succeeded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			p, err := v.Verify(t.Context(), tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if p.ID != tt.sub || fmt.Sprint(p.Groups) != fmt.Sprint(tt.groups) || p.MFA == nil || *p.MFA != tt.mfa {
				t.Errorf("principal = %+v", p)
			}
		})
	}

	// A token outlives its ttl by no more than the leeway.
	tok, err := d.Token("frank", nil, false, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	later := newTestVerifier(t, d.Config())
	later.now = func() time.Time { return t0.Add(time.Minute + DefaultLeeway + time.Second) }
	_, err = later.Verify(t.Context(), tok)
	if e := asGateError(err); e == nil || e.Message != msgExpired {
		t.Fatalf("after ttl: %v, want %q", err, msgExpired)
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, bc := range []struct {
		name string
		iss  func() *DevIssuer
	}{
		{"ES256", func() *DevIssuer { return newTestIssuer(b) }},
		{"RS256", func() *DevIssuer { return newRSAIssuer(b, jwa.RS256()) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			d := bc.iss()
			v := newTestVerifier(b, d.Config())
			tok, err := d.Token("alice", []string{"researchers", "hpc"}, true, time.Hour)
			if err != nil {
				b.Fatal(err)
			}
			ctx := b.Context()
			b.ReportAllocs()
			for b.Loop() {
				clear(v.verified.m) // the full check, every time
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("ES256-remembered", func(b *testing.B) {
		d := newTestIssuer(b)
		v := newTestVerifier(b, d.Config())
		tok, err := d.Token("alice", []string{"researchers", "hpc"}, true, time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(b.Context(), tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestErrorBodiesGolden pins what a caller sees for each kind of failure.
func TestErrorBodiesGolden(t *testing.T) {
	iss := newTestIssuer(t)
	v := newTestVerifier(t, iss.Config())
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer down.Close()
	remote := newRemoteVerifier(t, down.URL, &clock{t: t0})
	good := mint(t, iss, goodClaims(nil), nil)

	cases := []struct {
		name   string
		v      *Verifier
		header string // "" = no Authorization header
	}{
		{"no-header", v, ""},
		{"basic-scheme", v, "Basic YWxpY2U6c2VjcmV0"},
		{"two-tokens", v, "Bearer " + good + " " + good},
		{"garbage", v, "Bearer garbage"},
		{"expired", v, "Bearer " + mint(t, iss, goodClaims(map[string]any{"exp": t0.Unix() - 3600}), nil)},
		{"wrong-issuer", v, "Bearer " + mint(t, iss, goodClaims(map[string]any{"iss": "someone-else"}), nil)},
		{"keys-unavailable", remote, "Bearer " + good},
	}
	got := map[string]*hpcgate.ErrorBody{}
	for _, c := range cases {
		r := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/v1/commands", nil)
		if c.header != "" {
			r.Header.Set("Authorization", c.header)
		}
		_, err := c.v.VerifyRequest(r)
		e := asGateError(err)
		if e == nil {
			t.Fatalf("%s: error %v is not *hpcgate.Error", c.name, err)
		}
		got[c.name] = e.Body()
	}
	goldenfile.JSON(t, "testdata/errors.golden.json", got)
}

// FuzzVerify checks that no input panics, verifies, or leaks into the error.
func FuzzVerify(f *testing.F) {
	iss := newTestIssuer(f)
	v := newTestVerifier(f, iss.Config())
	f.Add(mint(f, iss, goodClaims(map[string]any{"iss": "x"}), nil))
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.")
	f.Add("a.b.c")
	f.Add("")
	allowed := map[string]bool{msgMissingToken: true, msgInvalid: true, msgExpired: true}
	f.Fuzz(func(t *testing.T, token string) {
		p, err := v.Verify(t.Context(), token)
		if err == nil {
			t.Fatalf("fuzzed token verified: %+v", p)
		}
		e := asGateError(err)
		if e == nil || e.Status != http.StatusUnauthorized || !allowed[e.Message] {
			t.Fatalf("unexpected error %v", err)
		}
		// Code and Message are fixed strings; the cause is what could leak.
		if len(token) >= 8 && e.Err != nil && strings.Contains(e.Err.Error(), token) {
			t.Fatalf("error cause quotes the token: %v", err)
		}
	})
}

// TestVerifiedCache: a token verified once is remembered by its digest,
// but a hit still honours expiry and the current key set, and callers
// cannot change what later hits return.
func TestVerifiedCache(t *testing.T) {
	d := newTestIssuer(t)
	v := newTestVerifier(t, d.Config())
	tok, err := d.Token("alice", []string{"researchers"}, false, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.verified.m) != 1 {
		t.Fatalf("cache holds %d tokens after one verification, want 1", len(v.verified.m))
	}
	p.Groups[0] = "operators"
	again, err := v.Verify(t.Context(), tok)
	if err != nil || again.ID != "alice" || fmt.Sprint(again.Groups) != "[researchers]" {
		t.Fatalf("cached verification = %+v, %v; want alice in [researchers]", again, err)
	}

	// Past exp plus the leeway, the remembered token is expired too.
	v.now = func() time.Time { return t0.Add(time.Minute + DefaultLeeway + time.Second) }
	if _, err := v.Verify(t.Context(), tok); asGateError(err) == nil || asGateError(err).Message != msgExpired {
		t.Fatalf("after ttl: %v, want %q", err, msgExpired)
	}

	// A new key set without the issuer's key ends the entry.
	v.now = fixedClock()
	other := newTestIssuer(t)
	set, err := parseKeySet(other.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	v.keys = staticKeys{set}
	if _, err := v.Verify(t.Context(), tok); err == nil {
		t.Fatal("token verified after its key left the key set")
	}

	// A tampered copy is a different digest and fails the full check.
	v.keys = staticKeys{mustKeySet(t, d)}
	// Change the signature's first character: its last one may carry only
	// padding bits that decoding ignores.
	sig := strings.LastIndexByte(tok, '.') + 1
	c := "A"
	if tok[sig] == 'A' {
		c = "B"
	}
	if _, err := v.Verify(t.Context(), tok[:sig]+c+tok[sig+1:]); err == nil {
		t.Fatal("tampered token verified")
	}
}

func mustKeySet(t *testing.T, d *DevIssuer) *keySet {
	t.Helper()
	set, err := parseKeySet(d.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	return set
}
