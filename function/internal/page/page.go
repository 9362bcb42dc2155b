// Package page serves the researchers' page: plain HTML, CSS and
// JavaScript embedded in the binary (no build step), which signs in with
// OpenID Connect (authorization code flow with PKCE, in the browser),
// shows the caller's grants (GET /v1/me), decides a command as it is typed
// (dry runs) and runs it, watching each node.
package page

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
)

//go:embed static
var static embed.FS

// Config is what the page needs to sign a researcher in.
type Config struct {
	// Issuer and ClientID name the OpenID provider and the page's public
	// client there. Without a ClientID the page offers only a pasted token.
	Issuer   string `json:"issuer,omitempty"`
	ClientID string `json:"clientId,omitempty"`
	Scopes   string `json:"scopes,omitempty"`
	// Discovery is the URL of the provider's metadata; "" means
	// Issuer + "/.well-known/openid-configuration".
	Discovery string `json:"discovery,omitempty"`
	// Dev marks local mode's dev provider, which the page names as such.
	Dev bool `json:"dev,omitempty"`
	// Clusters are cluster ids to offer (local mode's simulated cluster).
	Clusters []string `json:"clusters,omitempty"`
}

// Handler serves the page at / and its files and config under /ui/.
func Handler(cfg Config) http.Handler {
	files, _ := fs.Sub(static, "static")
	if cfg.ClientID != "" && cfg.Discovery == "" {
		cfg.Discovery = strings.TrimSuffix(cfg.Issuer, "/") + "/.well-known/openid-configuration"
	}
	conf, _ := json.Marshal(cfg)
	csp := contentSecurityPolicy(cfg)
	fileServer := http.StripPrefix("/ui/", http.FileServerFS(files))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		// The authorization code arrives in the page's URL: no Referer
		// may carry it away.
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		switch r.URL.Path {
		case "/":
			h.Set("Cache-Control", "no-cache")
			http.ServeFileFS(w, r, files, "index.html")
		case "/ui/config.json":
			h.Set("Content-Type", "application/json")
			h.Set("Cache-Control", "no-cache")
			w.Write(conf)
		case "/ui/index.html":
			http.Redirect(w, r, "/", http.StatusMovedPermanently)
		default:
			h.Set("Cache-Control", "no-cache")
			fileServer.ServeHTTP(w, r)
		}
	})
}

// contentSecurityPolicy allows the page's own files and API, and the
// OpenID provider's origin for its metadata and token endpoint; no
// inline script, no frames.
func contentSecurityPolicy(cfg Config) string {
	connect := []string{"'self'"}
	for _, u := range []string{cfg.Issuer, cfg.Discovery} {
		if o := origin(u); o != "" {
			connect = append(connect, o)
		}
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src " + strings.Join(connect, " ") + "; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
}

func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
