package authn

import (
	"fmt"
	"testing"

	"github.com/lestrrat-go/jwx/v3/jws"
)

// signRaw signs payload exactly as given, with d's key and kid.
func signRaw(t *testing.T, d *DevIssuer, payload string) string {
	t.Helper()
	h := jws.NewHeaders()
	if err := h.Set("kid", d.kid); err != nil {
		t.Fatal(err)
	}
	tok, err := jws.Sign([]byte(payload), jws.WithKey(d.alg, d.priv, jws.WithProtectedHeaders(h)))
	if err != nil {
		t.Fatal(err)
	}
	return string(tok)
}

// TestDuplicateClaims: issue 14 point 6. A claim given twice has two
// readings (encoding/json and jwx keep the last, other parsers the
// first), so a signed token that says "sub" twice names two users; it
// is refused, at any depth (a nested groups claim included).
func TestDuplicateClaims(t *testing.T) {
	iss := newTestIssuer(t)
	iss.now = fixedClock()
	v, err := New(Config{JWKS: iss.JWKS(), Issuer: LocalIssuer, Audience: LocalAudience, GroupsClaim: "realm_access.roles"})
	if err != nil {
		t.Fatal(err)
	}
	v.now = fixedClock()
	now := t0.Unix()
	std := fmt.Sprintf(`"iss":%q,"aud":%q,"iat":%d,"exp":%d`, LocalIssuer, LocalAudience, now, now+3600)
	for name, payload := range map[string]string{
		"sub twice":           `{` + std + `,"sub":"mallory","sub":"alice"}`,
		"exp twice":           `{` + std + `,"sub":"alice","exp":1}`,
		"nested groups twice": `{` + std + `,"sub":"alice","realm_access":{"roles":["x"],"roles":["admins"]}}`,
		"escaped key twice":   `{` + std + `,"sub":"alice","s\u0075b":"mallory"}`,
	} {
		t.Run(name, func(t *testing.T) {
			tok := signRaw(t, iss, payload)
			if p, err := v.Verify(t.Context(), tok); err == nil {
				t.Fatalf("token with a duplicate claim accepted as %+v", p)
			}
		})
	}
	// The same token without the duplicate is fine (the helper works).
	if _, err := v.Verify(t.Context(), signRaw(t, iss, `{`+std+`,"sub":"alice"}`)); err != nil {
		t.Fatalf("plain token: %v", err)
	}
}
