package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hpcgate/hpcgate/function/internal/gate"
	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/function/internal/policy"
)

// fakeGate records calls and answers as the real gate would in shape.
type fakeGate struct{ runs, statuses []gate.Call }

func (f *fakeGate) Run(_ context.Context, c gate.Call) hpcgate.Result {
	f.runs = append(f.runs, c)
	return hpcgate.Result{Status: hpcgate.StatusAccepted, CommandID: "c-1"}
}

func (f *fakeGate) Status(_ context.Context, c gate.Call, id string) hpcgate.Result {
	f.statuses = append(f.statuses, c)
	return hpcgate.Result{Status: hpcgate.StatusSucceeded, CommandID: id}
}

func (f *fakeGate) Reject(_ context.Context, c gate.Call, err error) hpcgate.Result {
	e := hpcgate.AsError(err)
	st := hpcgate.StatusInvalid
	if e.Code == hpcgate.CodeUnauthenticated {
		st = hpcgate.StatusUnauthenticated
	}
	return hpcgate.Result{Status: st, Error: e.Body()}
}

type fakeAuth struct{}

func (fakeAuth) VerifyRequest(r *http.Request) (hpcgate.Principal, error) {
	if r.Header.Get("Authorization") != "Bearer good" {
		return hpcgate.Principal{}, &hpcgate.Error{Code: hpcgate.CodeUnauthenticated, Message: "invalid token", Status: 401, Source: hpcgate.SourceGate}
	}
	return hpcgate.Principal{Type: "user", ID: "alice"}, nil
}

func TestHandler(t *testing.T) {
	tests := map[string]struct {
		method, path, auth, ctype, body string
		wantHTTP                        int
		wantRuns                        int
		wantStatus                      string
	}{
		"post runs the request":  {"POST", "/v1/commands", "Bearer good", "application/json", `{"clusterId":"ehpc-hz-a","command":"ls"}`, 202, 1, "accepted"},
		"json with charset":      {"POST", "/v1/commands", "Bearer good", "application/json; charset=utf-8", `{"clusterId":"ehpc-hz-a","command":"ls"}`, 202, 1, "accepted"},
		"no token":               {"POST", "/v1/commands", "", "application/json", `{}`, 401, 0, "unauthenticated"},
		"bad token":              {"POST", "/v1/commands", "Bearer bad", "application/json", `{}`, 401, 0, "unauthenticated"},
		"not json":               {"POST", "/v1/commands", "Bearer good", "text/plain", `ls`, 400, 0, "invalid"},
		"json labelled a form":   {"POST", "/v1/commands", "Bearer good", "application/x-www-form-urlencoded", `{"clusterId":"ehpc-hz-a","command":"ls"}`, 202, 1, "accepted"},
		"body over the cap":      {"POST", "/v1/commands", "Bearer good", "application/json", `{"command":"` + strings.Repeat("a", 2000) + `"}`, 413, 0, "invalid"},
		"malformed json":         {"POST", "/v1/commands", "Bearer good", "application/json", `{"clusterId":`, 400, 0, "invalid"},
		"get on the collection":  {"GET", "/v1/commands", "Bearer good", "", ``, 405, 0, "invalid"},
		"status":                 {"GET", "/v1/commands/c-1?clusterId=ehpc-hz-a", "Bearer good", "", ``, 200, 0, "succeeded"},
		"status without a token": {"GET", "/v1/commands/c-1?clusterId=ehpc-hz-a", "", "", ``, 401, 0, "unauthenticated"},
		"unknown path":           {"GET", "/v2/whatever", "Bearer good", "", ``, 404, 0, "invalid"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			fg := &fakeGate{}
			s := &Server{Gate: fg, Auth: fakeAuth{}, MaxBodyBytes: 1024}
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, req)
			if w.Code != tt.wantHTTP {
				t.Errorf("HTTP %d, want %d: %s", w.Code, tt.wantHTTP, w.Body)
			}
			var res hpcgate.Result
			if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil || res.Status != tt.wantStatus {
				t.Errorf("body %s (%v), want status %q", w.Body, err, tt.wantStatus)
			}
			if len(fg.runs) != tt.wantRuns {
				t.Errorf("runs = %d, want %d", len(fg.runs), tt.wantRuns)
			}
			if w.Code == 401 && w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if w.Header().Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id")
			}
		})
	}
}

func TestCallCarriesTransportFacts(t *testing.T) {
	fg := &fakeGate{}
	s := &Server{Gate: fg, Auth: fakeAuth{}, MaxBodyBytes: 1024}
	req := httptest.NewRequest("POST", "/v1/commands", strings.NewReader(`{"clusterId":"ehpc-hz-a","command":"ls","wait":5,"dryRun":true}`))
	req.RemoteAddr = "10.1.2.3:5555"
	req.Header.Set("Authorization", "Bearer good")
	s.Handler().ServeHTTP(httptest.NewRecorder(), req)
	c := fg.runs[0]
	if c.Context.SourceIP != "10.1.2.3" || c.Context.SecureTransport == nil || *c.Context.SecureTransport ||
		c.Principal.ID != "alice" || c.Trigger != "http" || !c.DryRun || c.Wait == nil || c.Wait.Seconds() != 5 {
		t.Errorf("call = %+v", c)
	}
}

func TestNoAuthenticatorRefusesEveryone(t *testing.T) {
	s := &Server{Gate: &fakeGate{}, MaxBodyBytes: 1024}
	req := httptest.NewRequest("POST", "/v1/commands", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer good")
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, req)
	if w.Code != 401 {
		t.Errorf("HTTP %d, want 401", w.Code)
	}
}

func TestHealth(t *testing.T) {
	for rev, want := range map[string]int{"embedded:abc": 200, "": 503} {
		s := &Server{Gate: &fakeGate{}, Revision: func() string { return rev }}
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/healthz", nil))
		if w.Code != want {
			t.Errorf("revision %q: HTTP %d, want %d", rev, w.Code, want)
		}
	}
}

func TestHealthShowsWhatTheSetHolds(t *testing.T) {
	stats := policy.Stats{Revision: "bundle:r7", Policies: 3, Statements: 9, Principals: 4, Routes: 1, ExtensionRules: 1}
	s := &Server{Gate: &fakeGate{}, Revision: func() string { return "bundle:r7" }, Policy: func() (policy.Stats, bool) { return stats, true }}
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/healthz", nil))
	want := `{"policy":{"revision":"bundle:r7","policies":3,"statements":9,"principals":4,"routes":1,"extensionRules":1},"policyRevision":"bundle:r7","status":"ok"}`
	if w.Code != 200 || strings.TrimSpace(w.Body.String()) != want {
		t.Errorf("HTTP %d %s\nwant 200 %s", w.Code, w.Body, want)
	}
}
