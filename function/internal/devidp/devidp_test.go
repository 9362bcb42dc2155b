package devidp

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hpcgate/hpcgate/function/internal/authn"
)

func newProvider(t *testing.T) (*Provider, *authn.Verifier) {
	iss, err := authn.NewDevIssuer()
	if err != nil {
		t.Fatal(err)
	}
	v, err := authn.New(iss.Config())
	if err != nil {
		t.Fatal(err)
	}
	return New(iss, "alice", []string{"researchers"}, time.Hour), v
}

const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-and-some-more"

func challenge(v string) string {
	s := sha256.Sum256([]byte(v))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

// signIn posts the one-click form and returns the code from the redirect.
func signIn(t *testing.T, h http.Handler, redirect string) (string, int) {
	form := url.Values{"client_id": {ClientID}, "redirect_uri": {redirect}, "state": {"st"}, "code_challenge": {challenge(verifier)},
		"code_challenge_method": {"S256"}, "user": {"bob"}, "groups": {"researchers, physics"}}
	req := httptest.NewRequest("POST", "http://127.0.0.1:9000"+Path+"/authorize", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != http.StatusSeeOther {
		return "", w.Code
	}
	u, _ := url.Parse(w.Header().Get("Location"))
	if u.Query().Get("state") != "st" {
		t.Errorf("redirect %s lost the state", u)
	}
	return u.Query().Get("code"), w.Code
}

func exchange(h http.Handler, code, codeVerifier, redirect string) (*httptest.ResponseRecorder, map[string]any) {
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {codeVerifier}, "client_id": {ClientID}, "redirect_uri": {redirect}}
	req := httptest.NewRequest("POST", "http://127.0.0.1:9000"+Path+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	var body map[string]any
	json.Unmarshal(w.Body.Bytes(), &body)
	return w, body
}

func TestCodeFlowWithPKCE(t *testing.T) {
	p, v := newProvider(t)
	h := p.Handler()
	const redirect = "http://127.0.0.1:9000/"
	code, status := signIn(t, h, redirect)
	if code == "" {
		t.Fatalf("sign-in: HTTP %d", status)
	}
	w, body := exchange(h, code, verifier, redirect)
	if w.Code != 200 {
		t.Fatalf("token: HTTP %d %v", w.Code, body)
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer "+body["access_token"].(string))
	pr, err := v.VerifyRequest(req)
	if err != nil || pr.ID != "bob" || len(pr.Groups) != 2 || pr.Groups[1] != "physics" {
		t.Errorf("principal %+v, %v", pr, err)
	}
	if w, _ := exchange(h, code, verifier, redirect); w.Code != 400 {
		t.Errorf("a code used twice: HTTP %d, want 400", w.Code)
	}
}

func TestRefusals(t *testing.T) {
	p, _ := newProvider(t)
	h := p.Handler()
	const redirect = "http://127.0.0.1:9000/"
	if _, status := signIn(t, h, "https://evil.example/"); status != 400 {
		t.Errorf("redirect to another origin: HTTP %d, want 400", status)
	}
	code, _ := signIn(t, h, redirect)
	if w, _ := exchange(h, code, "another-verifier-of-enough-length-for-pkce-0123456789", redirect); w.Code != 400 {
		t.Errorf("wrong verifier: HTTP %d, want 400", w.Code)
	}
	code, _ = signIn(t, h, redirect)
	if w, _ := exchange(h, code, verifier, "http://127.0.0.1:9000/other"); w.Code != 400 {
		t.Errorf("another redirect_uri: HTTP %d, want 400", w.Code)
	}
	code, _ = signIn(t, h, redirect)
	p.now = func() time.Time { return time.Now().Add(2 * codeTTL) }
	if w, _ := exchange(h, code, verifier, redirect); w.Code != 400 {
		t.Errorf("expired code: HTTP %d, want 400", w.Code)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "http://127.0.0.1:9000"+Path+"/authorize?response_type=code&client_id="+ClientID+"&redirect_uri=http://127.0.0.1:9000/&code_challenge_method=plain&code_challenge=x", nil))
	if w.Code != 400 {
		t.Errorf("plain PKCE: HTTP %d, want 400", w.Code)
	}
}
