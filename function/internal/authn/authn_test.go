package authn

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"
	"github.com/lestrrat-go/jwx/v3/jws/jwsbb"
)

// t0 is the fixed "now" of every test: no test depends on the wall clock.
var t0 = time.Date(2026, 3, 11, 5, 40, 45, 0, time.UTC)

func fixedClock() func() time.Time { return func() time.Time { return t0 } }

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

// testRSAKey is generated once: 2048-bit generation is the slowest step.
func testRSAKey(t testing.TB) *rsa.PrivateKey {
	rsaOnce.Do(func() {
		var err error
		if rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return rsaKey
}

func newTestIssuer(t testing.TB) *DevIssuer {
	t.Helper()
	d, err := NewDevIssuer()
	if err != nil {
		t.Fatal(err)
	}
	d.now = fixedClock()
	return d
}

func newRSAIssuer(t testing.TB, alg jwa.SignatureAlgorithm) *DevIssuer {
	t.Helper()
	d, err := newIssuer(alg, testRSAKey(t))
	if err != nil {
		t.Fatal(err)
	}
	d.now = fixedClock()
	return d
}

func newTestVerifier(t testing.TB, cfg Config) *Verifier {
	t.Helper()
	v, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	v.now = fixedClock()
	return v
}

// mergeJWKS returns one key set holding the keys of every issuer.
func mergeJWKS(t testing.TB, issuers ...*DevIssuer) []byte {
	t.Helper()
	var all struct {
		Keys []json.RawMessage `json:"keys"`
	}
	for _, d := range issuers {
		var s struct {
			Keys []json.RawMessage `json:"keys"`
		}
		if err := json.Unmarshal(d.JWKS(), &s); err != nil {
			t.Fatal(err)
		}
		all.Keys = append(all.Keys, s.Keys...)
	}
	b, err := json.Marshal(all)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mint(t testing.TB, d *DevIssuer, claims, hdr map[string]any) string {
	t.Helper()
	tok, err := d.TokenWith(claims, hdr)
	if err != nil {
		t.Fatalf("TokenWith: %v", err)
	}
	return tok
}

func b64(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// hsToken signs header.payload with HMAC-SHA256 under secret: the alg
// confusion attack, when secret is the verifier's public key.
func hsToken(hdr, claims map[string]any, secret []byte) string {
	input := b64(hdr) + "." + b64(claims)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// rawSigned signs arbitrary header and claims with d's key, bypassing the
// header checks of jws.Sign.
func rawSigned(t testing.TB, d *DevIssuer, hdr, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return rawSignedPayload(t, d, hdr, b)
}

func rawSignedPayload(t testing.TB, d *DevIssuer, hdr map[string]any, payload []byte) string {
	t.Helper()
	input := b64(hdr) + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig, err := jwsbb.Sign(d.priv, d.alg.String(), []byte(input), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// claimsText signs a payload of the issuer, audience, sub "alice" and
// groups ["researchers"] followed by members, verbatim JSON text that may
// repeat a name (which a map cannot).
func claimsText(t *testing.T, d *DevIssuer, members string) string {
	t.Helper()
	payload := fmt.Sprintf(`{"iss":%q,"aud":%q,"sub":"alice","groups":["researchers"],"amr":["pwd"],%s}`, LocalIssuer, LocalAudience, members)
	return rawSignedPayload(t, d, map[string]any{"alg": "ES256", "kid": d.KeyID()}, []byte(payload))
}

func goodClaims(extra map[string]any) map[string]any {
	c := map[string]any{"sub": "alice", "groups": []string{"researchers"}, "amr": []string{"pwd"}}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

// assertAuthError checks err is the 401 (or 503) gate error with message
// msg, and that nothing it prints carries the token.
func assertAuthError(t *testing.T, err error, status int, msg, token string) {
	t.Helper()
	var e *hpcgate.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not *hpcgate.Error", err, err)
	}
	// A key set that cannot be loaded is the identity provider's fault,
	// not the caller's: AuthenticationUnavailable, 503.
	code := map[bool]string{true: hpcgate.CodeAuthUnavailable, false: hpcgate.CodeUnauthenticated}[status == http.StatusServiceUnavailable]
	if e.Code != code || e.Status != status || e.Source != hpcgate.SourceGate || e.Message != msg {
		t.Errorf("error = %+v, want code %s status %d message %q", e.Body(), code, status, msg)
	}
	assertNoToken(t, token, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", e.Body()))
	t.Logf("cause: %v", e.Err)
}

func assertNoToken(t *testing.T, token string, texts ...string) {
	t.Helper()
	if token == "" {
		return
	}
	for _, text := range texts {
		if strings.Contains(text, token) {
			t.Fatalf("error text carries the token: %s", text)
		}
		for part := range strings.SplitSeq(token, ".") {
			if len(part) >= 8 && strings.Contains(text, part) {
				t.Fatalf("error text carries a token segment: %s", text)
			}
		}
	}
}

func TestVerify(t *testing.T) {
	iss := newTestIssuer(t)
	other := newTestIssuer(t) // a key the verifier does not trust
	rs := newRSAIssuer(t, jwa.RS256())
	ps := newRSAIssuer(t, jwa.PS256()) // the same RSA key (and kid) signing PS256
	_, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ed, err := newIssuer(jwa.EdDSA(), edPriv)
	if err != nil {
		t.Fatal(err)
	}
	ed.now = fixedClock()
	jwks := mergeJWKS(t, iss, rs, ed)

	base := Config{JWKS: jwks, Issuer: LocalIssuer, Audience: LocalAudience}
	withGroups := func(claim string) Config { c := base; c.GroupsClaim = claim; return c }
	onlyES256 := base
	onlyES256.Algorithms = []string{"ES256"}

	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: must(x509.MarshalPKIXPublicKey(&testRSAKey(t).PublicKey))})
	ecPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	attackerJWK, _ := jwk.Import(ecPriv.Public())
	attacker, _ := newIssuer(jwa.ES256(), ecPriv)
	attacker.now = fixedClock()
	yes, no := true, false

	type want struct {
		p      hpcgate.Principal
		msg    string // "" = success
		status int
	}
	ok := func(id string, groups []string, mfa *bool) want {
		return want{p: hpcgate.Principal{Type: "user", ID: id, Groups: groups, MFA: mfa}}
	}
	fail := func(msg string) want { return want{msg: msg, status: http.StatusUnauthorized} }
	now := t0.Unix()

	tests := []struct {
		name  string
		cfg   Config
		token func() string
		want  want
	}{
		{"valid ES256 token", base, func() string { return mint(t, iss, goodClaims(nil), nil) }, ok("alice", []string{"researchers"}, &no)},
		{"valid RS256 token", base, func() string { return mint(t, rs, goodClaims(nil), nil) }, ok("alice", []string{"researchers"}, &no)},
		{"valid EdDSA token", base, func() string { return mint(t, ed, goodClaims(nil), nil) }, ok("alice", []string{"researchers"}, &no)},
		{"token from DevIssuer.Token", base, func() string { return must(iss.Token("bob", []string{"a", "b"}, true, time.Minute)) }, ok("bob", []string{"a", "b"}, &yes)},
		{"amr with mfa", base, func() string { return mint(t, iss, goodClaims(map[string]any{"amr": []string{"pwd", "mfa"}}), nil) }, ok("alice", []string{"researchers"}, &yes)},
		{"amr without mfa", base, func() string { return mint(t, iss, goodClaims(map[string]any{"amr": []string{"pwd", "otp"}}), nil) }, ok("alice", []string{"researchers"}, &no)},
		{"amr missing", base, func() string { return mint(t, iss, goodClaims(map[string]any{"amr": nil}), nil) }, ok("alice", []string{"researchers"}, &no)},
		{"amr a string is rejected", base, func() string { return mint(t, iss, goodClaims(map[string]any{"amr": "mfa"}), nil) }, fail(msgInvalid)},
		{"amr with a number is rejected", base, func() string { return mint(t, iss, goodClaims(map[string]any{"amr": []any{"mfa", 1}}), nil) }, fail(msgInvalid)},
		{"expired", base, func() string { return mint(t, iss, goodClaims(map[string]any{"exp": now - 31}), nil) }, fail(msgExpired)},
		{"expired within leeway", base, func() string { return mint(t, iss, goodClaims(map[string]any{"exp": now - 20}), nil) }, ok("alice", []string{"researchers"}, &no)},
		{"exp missing", base, func() string { return mint(t, iss, goodClaims(map[string]any{"exp": nil}), nil) }, fail(msgInvalid)},
		{"exp a string", base, func() string { return mint(t, iss, goodClaims(map[string]any{"exp": "tomorrow"}), nil) }, fail(msgInvalid)},
		// RFC 7519 NumericDate is a JSON number; a string of digits is not one.
		{"exp a string of digits", base, func() string { return mint(t, iss, goodClaims(map[string]any{"exp": fmt.Sprint(now + 3600)}), nil) }, fail(msgInvalid)},
		{"nbf a string of digits", base, func() string { return mint(t, iss, goodClaims(map[string]any{"nbf": fmt.Sprint(now - 10)}), nil) }, fail(msgInvalid)},
		{"iat a string of digits", base, func() string { return mint(t, iss, goodClaims(map[string]any{"iat": fmt.Sprint(now - 10)}), nil) }, fail(msgInvalid)},
		{"not yet valid", base, func() string { return mint(t, iss, goodClaims(map[string]any{"nbf": now + 120}), nil) }, fail(msgInvalid)},
		{"nbf within leeway", base, func() string { return mint(t, iss, goodClaims(map[string]any{"nbf": now + 20}), nil) }, ok("alice", []string{"researchers"}, &no)},
		{"issued in the future", base, func() string { return mint(t, iss, goodClaims(map[string]any{"iat": now + 3600}), nil) }, fail(msgInvalid)},
		{"wrong issuer", base, func() string { return mint(t, iss, goodClaims(map[string]any{"iss": "https://evil.example"}), nil) }, fail(msgInvalid)},
		{"issuer differs in case", base, func() string { return mint(t, iss, goodClaims(map[string]any{"iss": "HPCGATE-local"}), nil) }, fail(msgInvalid)},
		{"issuer missing", base, func() string { return mint(t, iss, goodClaims(map[string]any{"iss": nil}), nil) }, fail(msgInvalid)},
		{"wrong audience", base, func() string { return mint(t, iss, goodClaims(map[string]any{"aud": "other-service"}), nil) }, fail(msgInvalid)},
		{"audience list containing ours", base, func() string {
			return mint(t, iss, goodClaims(map[string]any{"aud": []string{"x", LocalAudience}}), nil)
		}, ok("alice", []string{"researchers"}, &no)},
		{"audience list without ours", base, func() string { return mint(t, iss, goodClaims(map[string]any{"aud": []string{"x", "y"}}), nil) }, fail(msgInvalid)},
		{"audience missing", base, func() string { return mint(t, iss, goodClaims(map[string]any{"aud": nil}), nil) }, fail(msgInvalid)},
		{"sub missing", base, func() string { return mint(t, iss, goodClaims(map[string]any{"sub": nil}), nil) }, fail(msgInvalid)},
		{"sub empty", base, func() string { return mint(t, iss, goodClaims(map[string]any{"sub": ""}), nil) }, fail(msgInvalid)},
		{"sub a number", base, func() string { return mint(t, iss, goodClaims(map[string]any{"sub": 42}), nil) }, fail(msgInvalid)},
		{"sub with a control character", base, func() string { return mint(t, iss, goodClaims(map[string]any{"sub": "ali\nce"}), nil) }, fail(msgInvalid)},
		{"sub with trailing space", base, func() string { return mint(t, iss, goodClaims(map[string]any{"sub": "alice "}), nil) }, fail(msgInvalid)},
		{"sub too long", base, func() string { return mint(t, iss, goodClaims(map[string]any{"sub": strings.Repeat("a", 257)}), nil) }, fail(msgInvalid)},
		{"sub of 256 bytes", base, func() string {
			return mint(t, iss, goodClaims(map[string]any{"sub": strings.Repeat("a", 256), "groups": nil}), nil)
		}, ok(strings.Repeat("a", 256), nil, &no)},
		{"sub unicode", base, func() string {
			return mint(t, iss, goodClaims(map[string]any{"sub": "jürgen@example.com", "groups": nil}), nil)
		}, ok("jürgen@example.com", nil, &no)},
		{"groups a list", base, func() string { return mint(t, iss, goodClaims(map[string]any{"groups": []string{"a", "b", "a"}}), nil) }, ok("alice", []string{"a", "b"}, &no)},
		{"groups a string", base, func() string { return mint(t, iss, goodClaims(map[string]any{"groups": "admins"}), nil) }, ok("alice", []string{"admins"}, &no)},
		{"groups missing", base, func() string { return mint(t, iss, goodClaims(map[string]any{"groups": nil}), nil) }, ok("alice", nil, &no)},
		{"groups empty list", base, func() string { return mint(t, iss, goodClaims(map[string]any{"groups": []string{}}), nil) }, ok("alice", nil, &no)},
		{"groups a number", base, func() string { return mint(t, iss, goodClaims(map[string]any{"groups": 7}), nil) }, fail(msgInvalid)},
		{"groups an object", base, func() string { return mint(t, iss, goodClaims(map[string]any{"groups": map[string]any{"a": 1}}), nil) }, fail(msgInvalid)},
		{"groups list with a number", base, func() string { return mint(t, iss, goodClaims(map[string]any{"groups": []any{"a", 1}}), nil) }, fail(msgInvalid)},
		{"groups list with an empty name", base, func() string { return mint(t, iss, goodClaims(map[string]any{"groups": []string{"a", ""}}), nil) }, fail(msgInvalid)},
		{"groups too many", base, func() string {
			g := make([]string, MaxGroups+1)
			for i := range g {
				g[i] = fmt.Sprint("g", i)
			}
			return mint(t, iss, goodClaims(map[string]any{"groups": g}), nil)
		}, fail(msgInvalid)},
		{"custom groups claim", withGroups("roles"), func() string {
			return mint(t, iss, goodClaims(map[string]any{"roles": []string{"ops"}}), nil)
		}, ok("alice", []string{"ops"}, &no)},
		{"custom groups claim absent ignores groups", withGroups("roles"), func() string { return mint(t, iss, goodClaims(nil), nil) }, ok("alice", nil, &no)},
		{"nested groups claim", withGroups("realm_access.roles"), func() string {
			return mint(t, iss, goodClaims(map[string]any{"realm_access": map[string]any{"roles": []string{"hpc"}}}), nil)
		}, ok("alice", []string{"hpc"}, &no)},
		{"nested groups claim of wrong shape", withGroups("realm_access.roles"), func() string {
			return mint(t, iss, goodClaims(map[string]any{"realm_access": map[string]any{"roles": 3}}), nil)
		}, fail(msgInvalid)},

		{"alg none", base, func() string {
			return b64(map[string]any{"alg": "none", "typ": "JWT"}) + "." + b64(goodClaims(map[string]any{"iss": LocalIssuer, "aud": LocalAudience, "exp": now + 60})) + "."
		}, fail(msgInvalid)},
		{"alg none with a signature segment", base, func() string {
			return b64(map[string]any{"alg": "none"}) + "." + b64(goodClaims(map[string]any{"iss": LocalIssuer, "aud": LocalAudience, "exp": now + 60})) + ".c2ln"
		}, fail(msgInvalid)},
		{"HS256 keyed with the JWKS bytes", base, func() string {
			return hsToken(map[string]any{"alg": "HS256", "kid": rs.KeyID()}, goodClaims(map[string]any{"iss": LocalIssuer, "aud": LocalAudience, "exp": now + 60}), jwks)
		}, fail(msgInvalid)},
		{"HS256 keyed with the RSA public key PEM", base, func() string {
			return hsToken(map[string]any{"alg": "HS256", "kid": rs.KeyID()}, goodClaims(map[string]any{"iss": LocalIssuer, "aud": LocalAudience, "exp": now + 60}), rsaPEM)
		}, fail(msgInvalid)},
		{"signed by an unknown key with a trusted kid", base, func() string {
			return mint(t, other, goodClaims(nil), map[string]any{"kid": iss.KeyID()})
		}, fail(msgInvalid)},
		{"signed by an unknown key and kid", base, func() string { return mint(t, other, goodClaims(nil), nil) }, fail(msgInvalid)},
		{"signed by an unknown key without kid", base, func() string {
			return mint(t, other, goodClaims(nil), map[string]any{"kid": nil})
		}, fail(msgInvalid)},
		{"trusted key without kid in the token", base, func() string {
			return mint(t, iss, goodClaims(nil), map[string]any{"kid": nil})
		}, ok("alice", []string{"researchers"}, &no)},
		{"kid not a string", base, func() string {
			return rawSigned(t, iss, map[string]any{"alg": "ES256", "kid": 5}, goodClaims(map[string]any{"iss": LocalIssuer, "aud": LocalAudience, "exp": now + 60}))
		}, fail(msgInvalid)},
		{"kid empty", base, func() string {
			return rawSigned(t, iss, map[string]any{"alg": "ES256", "kid": ""}, goodClaims(map[string]any{"iss": LocalIssuer, "aud": LocalAudience, "exp": now + 60}))
		}, fail(msgInvalid)},
		{"raw signed control token verifies", base, func() string {
			return rawSigned(t, iss, map[string]any{"alg": "ES256", "kid": iss.KeyID()}, goodClaims(map[string]any{"iss": LocalIssuer, "aud": LocalAudience, "exp": now + 60}))
		}, ok("alice", []string{"researchers"}, &no)},
		{"payload not a JSON object", base, func() string {
			return rawSignedPayload(t, iss, map[string]any{"alg": "ES256", "kid": iss.KeyID()}, []byte(`["sub","alice"]`))
		}, fail(msgInvalid)},
		{"payload a nested compact token", base, func() string {
			inner := mint(t, other, goodClaims(nil), nil)
			return rawSignedPayload(t, iss, map[string]any{"alg": "ES256", "kid": iss.KeyID(), "cty": "JWT"}, []byte(inner))
		}, fail(msgInvalid)},
		// RFC 7519: NumericDate is a JSON number, and a claim named twice
		// must not let a reader pick which one counts.
		{"exp a numeric string", base, func() string { return mint(t, iss, goodClaims(map[string]any{"exp": fmt.Sprint(now + 600)}), nil) }, fail(msgInvalid)},
		{"nbf a numeric string", base, func() string { return mint(t, iss, goodClaims(map[string]any{"nbf": fmt.Sprint(now - 60)}), nil) }, fail(msgInvalid)},
		{"iat a numeric string", base, func() string { return mint(t, iss, goodClaims(map[string]any{"iat": fmt.Sprint(now)}), nil) }, fail(msgInvalid)},
		{"exp null", base, func() string { return claimsText(t, iss, `"exp":null`) }, fail(msgInvalid)},
		{"exp true", base, func() string { return claimsText(t, iss, `"exp":true`) }, fail(msgInvalid)},
		{"exp a list", base, func() string { return claimsText(t, iss, fmt.Sprintf(`"exp":[%d]`, now+600)) }, fail(msgInvalid)},
		{"exp a fraction", base, func() string { return claimsText(t, iss, fmt.Sprintf(`"exp":%d.5`, now+600)) }, ok("alice", []string{"researchers"}, &no)},
		{"exp twice, later one valid", base, func() string {
			return claimsText(t, iss, fmt.Sprintf(`"exp":%d,"exp":%d`, now-3600, now+600))
		}, fail(msgInvalid)},
		{"sub twice", base, func() string { return claimsText(t, iss, fmt.Sprintf(`"exp":%d,"sub":"bob","sub":"alice"`, now+600)) }, fail(msgInvalid)},
		{"groups twice", base, func() string {
			return claimsText(t, iss, fmt.Sprintf(`"exp":%d,"groups":["x"],"groups":["researchers"]`, now+600))
		}, fail(msgInvalid)},
		{"a nested claim twice", withGroups("realm_access.roles"), func() string {
			return claimsText(t, iss, fmt.Sprintf(`"exp":%d,"realm_access":{"roles":["x"],"roles":["hpc"]}`, now+600))
		}, fail(msgInvalid)},
		{"names that differ only in case are two claims", base, func() string {
			return claimsText(t, iss, fmt.Sprintf(`"exp":%d,"Sub":"bob"`, now+600))
		}, ok("alice", []string{"researchers"}, &no)},
		{"an escaped name equal to another", base, func() string {
			return claimsText(t, iss, fmt.Sprintf(`"exp":%d,"s\u0075b":"bob"`, now+600))
		}, fail(msgInvalid)},
		{"data after the claims object", base, func() string {
			return rawSignedPayload(t, iss, map[string]any{"alg": "ES256", "kid": iss.KeyID()},
				[]byte(fmt.Sprintf(`{"iss":%q,"aud":%q,"sub":"alice","exp":%d} {}`, LocalIssuer, LocalAudience, now+600)))
		}, fail(msgInvalid)},
		{"disallowed alg RS256 when only ES256", onlyES256, func() string { return mint(t, rs, goodClaims(nil), nil) }, fail(msgInvalid)},
		{"ES256 allowed when only ES256", onlyES256, func() string { return mint(t, iss, goodClaims(nil), nil) }, ok("alice", []string{"researchers"}, &no)},
		{"PS256 by a key whose JWK says RS256", base, func() string {
			return mint(t, ps, goodClaims(nil), map[string]any{"kid": rs.KeyID()})
		}, fail(msgInvalid)},
		{"embedded jwk header is not trusted", base, func() string {
			return mint(t, attacker, goodClaims(nil), map[string]any{"jwk": attackerJWK, "kid": nil})
		}, fail(msgInvalid)},
		{"b64 header is refused", base, func() string {
			return rawSigned(t, iss, map[string]any{"alg": "ES256", "kid": iss.KeyID(), "b64": true}, goodClaims(map[string]any{"iss": LocalIssuer, "aud": LocalAudience, "exp": now + 60}))
		}, fail(msgInvalid)},
		{"crit header is refused", base, func() string {
			return mint(t, iss, goodClaims(nil), map[string]any{"crit": []string{"exp"}})
		}, fail(msgInvalid)},

		{"empty token", base, func() string { return "" }, fail(msgMissingToken)},
		{"garbage", base, func() string { return "not a token at all" }, fail(msgInvalid)},
		{"two segments", base, func() string { return "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9" }, fail(msgInvalid)},
		{"four segments", base, func() string { return mint(t, iss, goodClaims(nil), nil) + ".eyJ9" }, fail(msgInvalid)},
		{"padded base64", base, func() string { return "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9=.c2ln" }, fail(msgInvalid)},
		{"header not JSON", base, func() string { return base64.RawURLEncoding.EncodeToString([]byte("{alg")) + ".eyJ9.c2lnbmF0dXJl" }, fail(msgInvalid)},
		{"huge", base, func() string {
			return mint(t, iss, goodClaims(map[string]any{"pad": strings.Repeat("x", MaxTokenBytes)}), nil)
		}, fail(msgInvalid)},
		{"tampered payload", base, func() string {
			tok := mint(t, iss, goodClaims(nil), nil)
			parts := strings.Split(tok, ".")
			parts[1] = b64(goodClaims(map[string]any{"sub": "root", "iss": LocalIssuer, "aud": LocalAudience, "exp": now + 60}))
			return strings.Join(parts, ".")
		}, fail(msgInvalid)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newTestVerifier(t, tt.cfg)
			token := tt.token()
			got, err := v.Verify(t.Context(), token)
			if tt.want.msg != "" {
				assertAuthError(t, err, tt.want.status, tt.want.msg, token)
				if !reflect.DeepEqual(got, hpcgate.Principal{}) {
					t.Errorf("principal on failure = %+v, want zero", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want.p) {
				t.Errorf("principal = %+v (mfa %v), want %+v (mfa %v)", got, deref(got.MFA), tt.want.p, deref(tt.want.p.MFA))
			}
		})
	}
}

func deref(b *bool) any {
	if b == nil {
		return nil
	}
	return *b
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestVerifyRequest(t *testing.T) {
	iss := newTestIssuer(t)
	v := newTestVerifier(t, iss.Config())
	tok := mint(t, iss, goodClaims(nil), nil)

	tests := []struct {
		name    string
		headers []string // Authorization values
		wantMsg string   // "" = success
	}{
		{"bearer token", []string{"Bearer " + tok}, ""},
		{"scheme in lower case", []string{"bearer " + tok}, ""},
		{"scheme in upper case with extra spaces", []string{"BEARER   " + tok + "  "}, ""},
		{"missing header", nil, msgMissingToken},
		{"empty header", []string{""}, msgMissingToken},
		{"basic scheme", []string{"Basic YWxpY2U6c2VjcmV0"}, msgMissingToken},
		{"bearer without token", []string{"Bearer"}, msgMissingToken},
		{"bearer with only spaces", []string{"Bearer    "}, msgMissingToken},
		{"bearer with two tokens", []string{"Bearer " + tok + " " + tok}, msgMalformedHeader},
		{"bearer with comma separated tokens", []string{"Bearer " + tok + "," + tok}, msgMalformedHeader},
		{"two authorization headers", []string{"Bearer " + tok, "Bearer " + tok}, msgMalformedHeader},
		{"token glued to scheme", []string{"Bearer" + tok}, msgMissingToken},
		{"huge header", []string{"Bearer " + strings.Repeat("a", MaxTokenBytes+100)}, msgMalformedHeader},
		{"bearer with garbage", []string{"Bearer abc"}, msgInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://127.0.0.1/v1/commands", nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range tt.headers {
				r.Header.Add("Authorization", h)
			}
			p, err := v.VerifyRequest(r)
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("VerifyRequest: %v", err)
				}
				if p.ID != "alice" || p.Type != "user" {
					t.Errorf("principal = %+v", p)
				}
				return
			}
			assertAuthError(t, err, http.StatusUnauthorized, tt.wantMsg, tok)
		})
	}
}

func TestNew(t *testing.T) {
	iss := newTestIssuer(t)
	dir := t.TempDir()
	file := dir + "/jwks.json"
	if err := os.WriteFile(file, iss.JWKS(), 0o600); err != nil {
		t.Fatal(err)
	}
	sym := []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0","kid":"h"}]}`)
	privJWK, _ := jwk.Import(testRSAKey(t))
	privSet := must(json.Marshal(map[string]any{"keys": []any{privJWK}}))
	encOnly := []byte(strings.Replace(string(iss.JWKS()), `"use":"sig"`, `"use":"enc"`, 1))
	opsSign := []byte(strings.Replace(string(iss.JWKS()), `"use":"sig"`, `"key_ops":["sign"]`, 1))
	weakRSA, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	weakJWK, _ := jwk.Import(&weakRSA.PublicKey)
	weakSet := must(json.Marshal(map[string]any{"keys": []any{weakJWK}}))
	good := Config{JWKS: iss.JWKS(), Issuer: LocalIssuer, Audience: LocalAudience}
	with := func(f func(*Config)) Config { c := good; f(&c); return c }

	tests := []struct {
		name    string
		cfg     Config
		wantErr string // "" = success
	}{
		{"inline jwks", good, ""},
		{"jwks file", with(func(c *Config) { c.JWKS = nil; c.JWKSFile = file }), ""},
		{"https url", with(func(c *Config) { c.JWKS = nil; c.JWKSURL = "https://idp.example/.well-known/jwks.json" }), ""},
		{"http loopback ip", with(func(c *Config) { c.JWKS = nil; c.JWKSURL = "http://127.0.0.1:8080/jwks" }), ""},
		{"http loopback ipv6", with(func(c *Config) { c.JWKS = nil; c.JWKSURL = "http://[::1]:8080/jwks" }), ""},
		{"http localhost", with(func(c *Config) { c.JWKS = nil; c.JWKSURL = "http://localhost:8080/jwks" }), ""},
		{"algorithms subset", with(func(c *Config) { c.Algorithms = []string{"ES256", "PS512"} }), ""},
		{"no source", with(func(c *Config) { c.JWKS = nil }), "exactly one"},
		{"two sources", with(func(c *Config) { c.JWKSFile = file }), "exactly one"},
		{"no issuer", with(func(c *Config) { c.Issuer = "" }), "issuer and audience"},
		{"no audience", with(func(c *Config) { c.Audience = "" }), "issuer and audience"},
		{"alg none", with(func(c *Config) { c.Algorithms = []string{"none"} }), "not allowed"},
		{"alg HS256", with(func(c *Config) { c.Algorithms = []string{"ES256", "HS256"} }), "not allowed"},
		{"alg in lower case", with(func(c *Config) { c.Algorithms = []string{"es256"} }), "not allowed"},
		{"negative leeway", with(func(c *Config) { c.Leeway = -time.Second }), "leeway"},
		{"huge leeway", with(func(c *Config) { c.Leeway = time.Hour }), "leeway"},
		{"http non-loopback url", with(func(c *Config) { c.JWKS = nil; c.JWKSURL = "http://idp.example/jwks" }), "https"},
		{"http url with loopback-looking name", with(func(c *Config) { c.JWKS = nil; c.JWKSURL = "http://127.0.0.1.nip.io/jwks" }), "https"},
		{"file url", with(func(c *Config) { c.JWKS = nil; c.JWKSURL = "file:///etc/jwks" }), "https"},
		{"url without host", with(func(c *Config) { c.JWKS = nil; c.JWKSURL = "https:///jwks" }), "no host"},
		{"missing file", with(func(c *Config) { c.JWKS = nil; c.JWKSFile = dir + "/nope.json" }), "jwks file"},
		{"jwks not JSON", with(func(c *Config) { c.JWKS = []byte("{") }), "inline jwks"},
		{"jwks with only a symmetric key", with(func(c *Config) { c.JWKS = sym }), "no usable"},
		{"jwks with only a private key", with(func(c *Config) { c.JWKS = privSet }), "no usable"},
		{"jwks with only an encryption key", with(func(c *Config) { c.JWKS = encOnly }), "no usable"},
		{"jwks with only a 1024-bit RSA key", with(func(c *Config) { c.JWKS = weakSet }), "no usable"},
		{"jwks with key_ops sign only", with(func(c *Config) { c.JWKS = opsSign }), "no usable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := New(tt.cfg)
			if tt.wantErr == "" {
				if err != nil || v == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestKeySuitsAlg guards alg confusion below the allow-list: a key only
// ever verifies the algorithm family (and curve) it belongs to.
func TestKeySuitsAlg(t *testing.T) {
	ec256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	rsaPub := &testRSAKey(t).PublicKey
	tests := []struct {
		name string
		key  verificationKey
		alg  string
		want bool
	}{
		{"rsa RS256", verificationKey{raw: rsaPub}, "RS256", true},
		{"rsa PS512", verificationKey{raw: rsaPub}, "PS512", true},
		{"rsa HS256", verificationKey{raw: rsaPub}, "HS256", false},
		{"rsa none", verificationKey{raw: rsaPub}, "none", false},
		{"rsa ES256", verificationKey{raw: rsaPub}, "ES256", false},
		{"rsa with own alg RS256 asked PS256", verificationKey{raw: rsaPub, alg: "RS256"}, "PS256", false},
		{"p256 ES256", verificationKey{raw: &ec256.PublicKey}, "ES256", true},
		{"p256 ES384", verificationKey{raw: &ec256.PublicKey}, "ES384", false},
		{"p384 ES384", verificationKey{raw: &ec384.PublicKey}, "ES384", true},
		{"ed25519 EdDSA", verificationKey{raw: edPub}, "EdDSA", true},
		{"ed25519 ES256", verificationKey{raw: edPub}, "ES256", false},
		{"ed25519 HS256", verificationKey{raw: edPub}, "HS256", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.key.suits(tt.alg); got != tt.want {
				t.Errorf("suits(%s) = %v, want %v", tt.alg, got, tt.want)
			}
		})
	}
}

func TestScrub(t *testing.T) {
	token := "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz"
	tests := []struct {
		name     string
		cause    error
		withheld bool
	}{
		{"cause quoting the whole token", fmt.Errorf("parse %q failed", token), true},
		{"cause quoting the payload", errors.New("bad payload eyJzdWIiOiJhbGljZSJ9"), true},
		{"cause without token material", errors.New("signature mismatch"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := scrub(invalid(tt.cause), token)
			assertAuthError(t, err, http.StatusUnauthorized, msgInvalid, token)
			if got := errors.Is(err, tt.cause); got == tt.withheld {
				t.Errorf("cause kept = %v, want %v", got, !tt.withheld)
			}
		})
	}
}

func TestVerifyHonoursContext(t *testing.T) {
	iss := newTestIssuer(t)
	v := newTestVerifier(t, iss.Config())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	// A static key set needs no I/O: a done context does not fail a
	// verification that never waits.
	if _, err := v.Verify(ctx, mint(t, iss, goodClaims(nil), nil)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}
