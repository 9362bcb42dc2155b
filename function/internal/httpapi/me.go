package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/hpcgate/hpcgate/function/internal/audit"
	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

// ActionDescribeCaller names GET /v1/me in audit records.
const ActionDescribeCaller = "hpcgate:DescribeCaller"

// grantLister describes what the statements attached to a principal say.
type grantLister interface {
	Grants(p hpcgate.Principal) (grants []hpcgate.Grant, revision string, ok bool)
}

// Me is the answer of GET /v1/me: who the caller is and what the
// statements attached to it allow and deny. It describes; only a request
// (or a dry run) is decided.
type Me struct {
	Principal      hpcgate.Principal `json:"principal"`
	Grants         []hpcgate.Grant   `json:"grants"`
	PolicyRevision string            `json:"policyRevision"`
	RequestID      string            `json:"requestId"`
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	call, ok := s.authenticated(w, r)
	if !ok {
		return
	}
	var (
		grants []hpcgate.Grant
		rev    string
	)
	if s.Grants != nil {
		grants, rev, ok = s.Grants.Grants(call.Principal)
	}
	if s.Grants == nil || !ok {
		writeResult(w, s.Gate.Reject(r.Context(), call, &hpcgate.Error{Code: hpcgate.CodePolicyUnavailable, Message: "no policy is loaded", Source: hpcgate.SourcePolicy, Status: http.StatusServiceUnavailable}))
		return
	}
	id := audit.RequestID(r.Context())
	if s.Log != nil {
		audit.Log(r.Context(), s.Log, audit.Record{Principal: call.Principal, Trigger: call.Trigger, Action: ActionDescribeCaller,
			Result: &hpcgate.Result{Status: hpcgate.StatusSucceeded, RequestID: id}})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(Me{Principal: call.Principal, Grants: grants, PolicyRevision: rev, RequestID: id})
}
