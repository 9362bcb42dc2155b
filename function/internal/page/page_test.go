package page

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	h := Handler(Config{Issuer: "https://idp.example.org/realms/hpc", ClientID: "hpcgate-page", Scopes: "openid"})
	tests := map[string]struct {
		path, wantType, wantBody string
		wantCode                 int
	}{
		"the page":        {"/", "text/html", `<script src="/ui/app.js"`, 200},
		"script":          {"/ui/app.js", "javascript", "code_challenge_method", 200},
		"style":           {"/ui/app.css", "text/css", "#panes", 200},
		"config":          {"/ui/config.json", "application/json", `"discovery":"https://idp.example.org/realms/hpc/.well-known/openid-configuration"`, 200},
		"no such file":    {"/ui/nothing.js", "", "", 404},
		"index redirects": {"/ui/index.html", "", "", 301},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", tt.path, nil))
			if w.Code != tt.wantCode {
				t.Fatalf("HTTP %d, want %d", w.Code, tt.wantCode)
			}
			if !strings.Contains(w.Header().Get("Content-Type"), tt.wantType) || !strings.Contains(w.Body.String(), tt.wantBody) {
				t.Errorf("%s: %q, body lacks %q", tt.path, w.Header().Get("Content-Type"), tt.wantBody)
			}
			csp := w.Header().Get("Content-Security-Policy")
			if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "connect-src 'self' https://idp.example.org") || strings.Contains(csp, "unsafe") {
				t.Errorf("CSP %q", csp)
			}
			if w.Header().Get("Referrer-Policy") != "no-referrer" {
				t.Error("the page must not leak its URL (with the authorization code) in Referer")
			}
		})
	}
}

func TestConfigWithoutClient(t *testing.T) {
	w := httptest.NewRecorder()
	Handler(Config{}).ServeHTTP(w, httptest.NewRequest("GET", "/ui/config.json", nil))
	var c Config
	if err := json.Unmarshal(w.Body.Bytes(), &c); err != nil || c.ClientID != "" || c.Discovery != "" {
		t.Errorf("config %s, %v: want no sign-in offered", w.Body, err)
	}
}
