// Package httpapi serves the gateway's HTTP interface — POST /v1/commands,
// GET /v1/commands/{commandId}?clusterId=, GET /healthz — for the FC HTTP
// trigger and for local mode alike. Every answer, errors included, is the
// normalized result as JSON.
package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"

	"github.com/hpcgate/hpcgate/function/internal/audit"
	"github.com/hpcgate/hpcgate/function/internal/gate"
	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/function/internal/ingress"
	"github.com/hpcgate/hpcgate/function/internal/policy"
	"github.com/hpcgate/hpcgate/function/internal/trigger"
)

// pipeline is the part of the gate the handlers call.
type pipeline interface {
	Run(ctx context.Context, c gate.Call) hpcgate.Result
	Status(ctx context.Context, c gate.Call, commandID string) hpcgate.Result
	Reject(ctx context.Context, c gate.Call, err error) hpcgate.Result
}

// authenticator turns a request's bearer token into a principal.
type authenticator interface {
	VerifyRequest(r *http.Request) (hpcgate.Principal, error)
}

// Server holds what the handlers need.
type Server struct {
	Gate pipeline
	// Auth verifies callers. With none configured every request is
	// refused as unauthenticated: there is no anonymous access.
	Auth         authenticator
	MaxBodyBytes int
	// Revision reports the policy revision in force, "" when none is
	// loaded (then /healthz answers 503).
	Revision func() string
	// Policy reports what the set in force holds (revision and counts),
	// false when none is loaded; /healthz shows it.
	Policy func() (policy.Stats, bool)
	// Bundle reports on the policy bundle (source, last check, last
	// error, how stale the set in force is); nil when policy does not
	// come from a bundle. /healthz shows it under "bundle".
	Bundle func() any
	// Extra routes, for local mode's POST /invoke.
	Extra map[string]http.Handler
	// Grants describes a caller's statements for GET /v1/me.
	Grants grantLister
	// Page serves the researchers' page at GET / and its files.
	Page http.Handler
	// Log takes the audit records of GET /v1/me.
	Log *slog.Logger
}

// Handler returns the HTTP handler of the API.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/commands", s.commands)
	mux.HandleFunc("/v1/commands/{commandId}", s.command)
	mux.HandleFunc("/healthz", s.health)
	mux.HandleFunc("GET /v1/me", s.me)
	if s.Page != nil {
		mux.Handle("GET /{$}", s.Page)
		mux.Handle("GET /ui/", s.Page)
	}
	for pattern, h := range s.Extra {
		mux.Handle(pattern, h)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, hpcgate.Errorf(hpcgate.CodeNotFound, "no such endpoint; see POST /v1/commands"))
	})
	return withRequestID(mux)
}

// withRequestID gives every request an id for its logs (FC's request id
// when the FC handler set one) and echoes it in X-Request-Id.
func withRequestID(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := audit.RequestID(r.Context())
		if id == "" {
			var b [8]byte
			rand.Read(b[:])
			id = hex.EncodeToString(b[:])
			r = r.WithContext(audit.WithRequestID(r.Context(), id))
		}
		w.Header().Set("X-Request-Id", id)
		h.ServeHTTP(w, r)
	})
}

func (s *Server) commands(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeError(w, r, hpcgate.Errorf(hpcgate.CodeMethodNotAllowed, "use POST to run a command"))
		return
	}
	call, ok := s.authenticated(w, r)
	if !ok {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(s.MaxBodyBytes)))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			err = hpcgate.Errorf(hpcgate.CodeTooLarge, "request body is larger than %d bytes", s.MaxBodyBytes)
		} else {
			err = hpcgate.Invalid("request body could not be read")
		}
		writeResult(w, s.Gate.Reject(r.Context(), call, err))
		return
	}
	// The body must be strict JSON whatever Content-Type says: plain
	// `curl -d` labels it a form, and since every request needs a bearer
	// token, which browsers never attach on their own, the label guards
	// nothing.
	pl, err := trigger.DecodePayload(body, s.MaxBodyBytes)
	if err != nil {
		writeResult(w, s.Gate.Reject(r.Context(), call, err))
		return
	}
	writeResult(w, s.Gate.Run(r.Context(), ingress.WithPayload(call, pl)))
}

func (s *Server) command(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, r, hpcgate.Errorf(hpcgate.CodeMethodNotAllowed, "use GET to read a command's status"))
		return
	}
	call, ok := s.authenticated(w, r)
	if !ok {
		return
	}
	call.Request.ClusterID = r.URL.Query().Get("clusterId")
	var err error
	if call.Wait, err = waitParam(r.URL.Query()); err != nil {
		writeResult(w, s.Gate.Reject(r.Context(), call, err))
		return
	}
	writeResult(w, s.Gate.Status(r.Context(), call, r.PathValue("commandId")))
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	rev := ""
	if s.Revision != nil {
		rev = s.Revision()
	}
	status, code := "ok", http.StatusOK
	if rev == "" {
		status, code = "no policy loaded", http.StatusServiceUnavailable
	}
	body := map[string]any{"status": status, "policyRevision": rev}
	if s.Policy != nil {
		if st, ok := s.Policy(); ok {
			body["policy"] = st
		}
	}
	if s.Bundle != nil {
		body["bundle"] = s.Bundle()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(body)
}

// authenticated starts the call of an authenticated caller, or answers
// the request itself (401) and reports false.
func (s *Server) authenticated(w http.ResponseWriter, r *http.Request) (gate.Call, bool) {
	call := ingress.HTTPCall(r)
	var err error
	if s.Auth == nil {
		err = &hpcgate.Error{Code: hpcgate.CodeUnauthenticated, Message: "no identity provider is configured", Source: hpcgate.SourceGate, Status: hpcgate.HTTPStatusOf(hpcgate.CodeUnauthenticated)}
	} else {
		call.Principal, err = s.Auth.VerifyRequest(r)
	}
	if err != nil {
		writeResult(w, s.Gate.Reject(r.Context(), call, err))
		return call, false
	}
	return call, true
}

func writeResult(w http.ResponseWriter, res hpcgate.Result) {
	status := res.HTTPStatus()
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="hpcgate"`)
	}
	pollHeaders(w.Header(), res)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(res)
}

// writeError answers a request that never reached the gateway (no such
// endpoint or method) with e, in the result shape.
func writeError(w http.ResponseWriter, r *http.Request, e *hpcgate.Error) {
	writeResult(w, hpcgate.Result{Status: hpcgate.ResultStatus(e), RequestID: audit.RequestID(r.Context()), Error: e.Body()})
}
