package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hpcgate/hpcgate/function/internal/gate"
	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

// runningGate answers every command as still running on its cluster.
type runningGate struct {
	fakeGate
	status string
}

func (f *runningGate) Run(_ context.Context, c gate.Call) hpcgate.Result {
	f.runs = append(f.runs, c)
	return hpcgate.Result{Status: f.status, CommandID: "c-1", Request: &hpcgate.Request{ClusterID: c.Request.ClusterID}}
}

func (f *runningGate) Status(_ context.Context, c gate.Call, id string) hpcgate.Result {
	f.statuses = append(f.statuses, c)
	return hpcgate.Result{Status: f.status, CommandID: id, Request: &hpcgate.Request{ClusterID: c.Request.ClusterID}}
}

func TestAcceptedCarriesLocationAndRetryAfter(t *testing.T) {
	tests := map[string]struct {
		status       string
		method, path string
		wantLocation string
	}{
		"running after the wait": {hpcgate.StatusRunning, "POST", "/v1/commands", "/v1/commands/c-1?clusterId=ehpc-hz-a%2Bb"},
		"accepted, not waited":   {hpcgate.StatusAccepted, "POST", "/v1/commands", "/v1/commands/c-1?clusterId=ehpc-hz-a%2Bb"},
		"still running on GET":   {hpcgate.StatusRunning, "GET", "/v1/commands/c-1?clusterId=ehpc-hz-a%2Bb", "/v1/commands/c-1?clusterId=ehpc-hz-a%2Bb"},
		"finished: no location":  {hpcgate.StatusSucceeded, "POST", "/v1/commands", ""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			s := &Server{Gate: &runningGate{status: tt.status}, Auth: fakeAuth{}, MaxBodyBytes: 1024}
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(`{"clusterId":"ehpc-hz-a+b","command":"ls"}`))
			req.Header.Set("Authorization", "Bearer good")
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, req)
			if got := w.Header().Get("Location"); got != tt.wantLocation {
				t.Errorf("Location %q, want %q", got, tt.wantLocation)
			}
			if ra := w.Header().Get("Retry-After"); (tt.wantLocation != "") != (ra == "2") {
				t.Errorf("Retry-After %q with HTTP %d", ra, w.Code)
			}
		})
	}
}

func TestStatusWaitParameter(t *testing.T) {
	tests := map[string]struct {
		query    string
		wantHTTP int
		want     *time.Duration
	}{
		"absent answers at once": {"", 200, nil},
		"seconds":                {"&wait=10", 200, dur(10 * time.Second)},
		"fraction":               {"&wait=0.5", 200, dur(500 * time.Millisecond)},
		"zero":                   {"&wait=0", 200, dur(0)},
		"true":                   {"&wait=true", 200, dur(gate.WaitAsLongAsAllowed)},
		"negative":               {"&wait=-1", 400, nil},
		"not a number":           {"&wait=soon", 400, nil},
		"beyond a day":           {"&wait=86401", 400, nil},
		"NaN":                    {"&wait=NaN", 400, nil},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			fg := &fakeGate{}
			s := &Server{Gate: fg, Auth: fakeAuth{}, MaxBodyBytes: 1024}
			req := httptest.NewRequest("GET", "/v1/commands/c-1?clusterId=ehpc-hz-a"+tt.query, nil)
			req.Header.Set("Authorization", "Bearer good")
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, req)
			if w.Code != tt.wantHTTP {
				t.Fatalf("HTTP %d, want %d: %s", w.Code, tt.wantHTTP, w.Body)
			}
			if tt.wantHTTP != 200 {
				return
			}
			got := fg.statuses[0].Wait
			if (got == nil) != (tt.want == nil) || (got != nil && *got != *tt.want) {
				t.Errorf("wait %v, want %v", got, tt.want)
			}
		})
	}
}

func dur(d time.Duration) *time.Duration { return &d }

type fakeGrants struct{ ok bool }

func (f fakeGrants) Grants(p hpcgate.Principal) ([]hpcgate.Grant, string, bool) {
	if !f.ok {
		return nil, "", false
	}
	return []hpcgate.Grant{{Policy: "P", Effect: "Allow", Via: "user:" + p.ID, Actions: []string{hpcgate.ActionInvoke}, Clusters: []string{"ehpc-hz-*"}}}, "rev-1", true
}

func TestMe(t *testing.T) {
	tests := map[string]struct {
		auth     string
		grants   grantLister
		wantHTTP int
	}{
		"signed in":       {"Bearer good", fakeGrants{ok: true}, 200},
		"not signed in":   {"", fakeGrants{ok: true}, 401},
		"no policy":       {"Bearer good", fakeGrants{ok: false}, 503},
		"no grant lister": {"Bearer good", nil, 503},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			s := &Server{Gate: &fakeGate{}, Auth: fakeAuth{}, MaxBodyBytes: 1024, Grants: tt.grants}
			req := httptest.NewRequest("GET", "/v1/me", nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			w := httptest.NewRecorder()
			s.Handler().ServeHTTP(w, req)
			if w.Code != tt.wantHTTP {
				t.Fatalf("HTTP %d, want %d: %s", w.Code, tt.wantHTTP, w.Body)
			}
			if w.Code != 200 {
				return
			}
			var me Me
			if err := json.Unmarshal(w.Body.Bytes(), &me); err != nil {
				t.Fatal(err)
			}
			if me.Principal.ID != "alice" || len(me.Grants) != 1 || me.PolicyRevision != "rev-1" || me.RequestID == "" || me.RequestID != w.Header().Get("X-Request-Id") {
				t.Errorf("me = %+v", me)
			}
		})
	}
}

func TestPageRoutes(t *testing.T) {
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("page " + r.URL.Path)) })
	s := &Server{Gate: &fakeGate{}, Auth: fakeAuth{}, MaxBodyBytes: 1024, Page: page}
	for path, want := range map[string]int{"/": 200, "/ui/app.js": 200, "/nothing": 404} {
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		if w.Code != want {
			t.Errorf("GET %s: HTTP %d, want %d", path, w.Code, want)
		}
	}
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest("POST", "/", nil))
	if w.Code != 404 {
		t.Errorf("POST /: HTTP %d, want the API's 404", w.Code)
	}
}
