package httpapi

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
)

func TestHealthShowsTheBundle(t *testing.T) {
	type status struct {
		Source       string `json:"source"`
		LastError    string `json:"lastError"`
		StaleSeconds int64  `json:"staleSeconds"`
	}
	s := &Server{Gate: &fakeGate{}, Revision: func() string { return "bundle:r2" },
		Bundle: func() any { return status{Source: "oss://b/k", LastError: "access denied", StaleSeconds: 125} }}
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/healthz", nil))
	var got struct {
		Status         string `json:"status"`
		PolicyRevision string `json:"policyRevision"`
		Bundle         status `json:"bundle"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != 200 {
		t.Fatalf("HTTP %d: %s", w.Code, w.Body)
	}
	// The last good set still decides: healthy, with the staleness shown.
	if got.Status != "ok" || got.PolicyRevision != "bundle:r2" || got.Bundle.StaleSeconds != 125 || got.Bundle.LastError != "access denied" {
		t.Fatalf("healthz: %s", w.Body)
	}

	s.Bundle = nil
	w = httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest("GET", "/healthz", nil))
	var plain map[string]any
	json.Unmarshal(w.Body.Bytes(), &plain)
	if _, ok := plain["bundle"]; ok {
		t.Fatalf("bundle shown without a bundle: %s", w.Body)
	}
}
