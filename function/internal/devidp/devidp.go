// Package devidp is local mode's OpenID provider: the authorization code
// flow with PKCE over authn.DevIssuer, with a one-click sign-in form, so
// that `function local` shows the researchers' page signing in as a real
// provider would make it. It is for a developer's machine only: anyone
// who can reach it can sign in as anyone.
package devidp

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/hpcgate/hpcgate/function/internal/authn"
)

// Path is where the provider is served; its metadata is at
// Path + "/.well-known/openid-configuration".
const Path = "/dev/oidc"

// ClientID is the one client the provider knows: the page.
const ClientID = "hpcgate-page"

// codeTTL bounds how long an authorization code may wait for its exchange.
const codeTTL = time.Minute

// Provider signs researchers in with the dev issuer's tokens.
type Provider struct {
	issuer *authn.DevIssuer
	// User and Groups prefill the sign-in form.
	User   string
	Groups []string
	// TTL is how long a token is valid.
	TTL time.Duration

	mu    sync.Mutex
	codes map[string]grant
	now   func() time.Time
}

type grant struct {
	redirectURI, challenge string
	user                   string
	groups                 []string
	expires                time.Time
}

// New returns a provider minting tokens with issuer.
func New(issuer *authn.DevIssuer, user string, groups []string, ttl time.Duration) *Provider {
	return &Provider{issuer: issuer, User: user, Groups: groups, TTL: ttl, codes: map[string]grant{}, now: time.Now}
}

// Handler serves the provider under Path.
func (p *Provider) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Path+"/.well-known/openid-configuration", p.metadata)
	mux.HandleFunc("GET "+Path+"/authorize", p.form)
	mux.HandleFunc("POST "+Path+"/authorize", p.authorize)
	mux.HandleFunc("POST "+Path+"/token", p.token)
	return mux
}

func (p *Provider) metadata(w http.ResponseWriter, r *http.Request) {
	base := "http://" + r.Host + Path
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                authn.LocalIssuer,
		"authorization_endpoint":                base + "/authorize",
		"token_endpoint":                        base + "/token",
		"response_types_supported":              []string{"code"},
		"grant_types_supported":                 []string{"authorization_code"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"none"},
		"scopes_supported":                      []string{"openid", "profile"},
	})
}

var formPage = template.Must(template.New("form").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hpcgate dev sign-in</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 32rem; margin: 3rem auto">
<h1>Local dev sign-in</h1>
<p>This is <code>function local</code>'s development identity provider. Anyone on this machine may sign in as anyone.</p>
<form method="post" action="{{.Action}}">
{{range $k, $v := .Hidden}}<input type="hidden" name="{{$k}}" value="{{$v}}">
{{end}}<p><label>User <input name="user" id="user" value="{{.User}}" required></label></p>
<p><label>Groups (comma separated) <input name="groups" id="groups" value="{{.Groups}}"></label></p>
<p><button type="submit" id="dev-signin" autofocus>Sign in as {{.User}}</button></p>
</form></body></html>`))

// form shows the one-click sign-in after checking what the page asked.
func (p *Provider) form(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if msg := p.checkRequest(r, q); msg != "" {
		http.Error(w, msg, http.StatusBadRequest)
		return
	}
	hidden := map[string]string{}
	for _, k := range []string{"client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method", "nonce", "scope"} {
		hidden[k] = q.Get(k)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'")
	formPage.Execute(w, map[string]any{"Action": Path + "/authorize", "Hidden": hidden, "User": p.User, "Groups": strings.Join(p.Groups, ",")})
}

// checkRequest validates an authorization request: the known client, a
// redirect back to the page's own origin (never elsewhere), PKCE S256.
func (p *Provider) checkRequest(r *http.Request, q url.Values) string {
	if q.Get("response_type") != "code" {
		return "response_type: want code"
	}
	if q.Get("client_id") != ClientID {
		return "client_id: unknown client"
	}
	u, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || u.Host != r.Host || (u.Scheme != "http" && u.Scheme != "https") {
		return "redirect_uri: want a URL of this server"
	}
	if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) < 43 {
		return "PKCE: want code_challenge_method S256 and a code_challenge"
	}
	return ""
}

func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	f := r.PostForm
	if msg := p.checkRequest(r, withType(f)); msg != "" {
		http.Error(w, msg, http.StatusBadRequest)
		return
	}
	user := strings.TrimSpace(f.Get("user"))
	if user == "" {
		http.Error(w, "user: required", http.StatusBadRequest)
		return
	}
	var groups []string
	for _, g := range strings.Split(f.Get("groups"), ",") {
		if g = strings.TrimSpace(g); g != "" {
			groups = append(groups, g)
		}
	}
	code := rand.Text()
	p.mu.Lock()
	now := p.now()
	for c, g := range p.codes {
		if now.After(g.expires) {
			delete(p.codes, c)
		}
	}
	p.codes[code] = grant{redirectURI: f.Get("redirect_uri"), challenge: f.Get("code_challenge"), user: user, groups: groups, expires: now.Add(codeTTL)}
	p.mu.Unlock()
	u, _ := url.Parse(f.Get("redirect_uri"))
	q := u.Query()
	q.Set("code", code)
	q.Set("state", f.Get("state"))
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

func withType(f url.Values) url.Values {
	q := url.Values{}
	for k, v := range f {
		q[k] = v
	}
	q.Set("response_type", "code")
	return q
}

// token exchanges a code, once, for the verifier that hashes to its
// challenge.
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		oauthError(w, "invalid_request", "bad form")
		return
	}
	f := r.PostForm
	if f.Get("grant_type") != "authorization_code" {
		oauthError(w, "unsupported_grant_type", "want authorization_code")
		return
	}
	if f.Get("client_id") != ClientID {
		oauthError(w, "invalid_client", "unknown client")
		return
	}
	p.mu.Lock()
	g, ok := p.codes[f.Get("code")]
	delete(p.codes, f.Get("code"))
	p.mu.Unlock()
	sum := sha256.Sum256([]byte(f.Get("code_verifier")))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	if !ok || p.now().After(g.expires) || g.redirectURI != f.Get("redirect_uri") ||
		subtle.ConstantTimeCompare([]byte(challenge), []byte(g.challenge)) != 1 {
		oauthError(w, "invalid_grant", "the code is unknown, used, expired, or not this verifier's")
		return
	}
	tok, err := p.issuer.Token(g.user, g.groups, false, p.TTL)
	if err != nil {
		oauthError(w, "server_error", err.Error())
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok, "id_token": tok, "token_type": "Bearer", "expires_in": int(p.TTL.Seconds()),
	})
}

func oauthError(w http.ResponseWriter, code, desc string) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": code, "error_description": desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
