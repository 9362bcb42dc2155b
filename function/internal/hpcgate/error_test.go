package hpcgate

import (
	"errors"
	"net/http"
	"testing"
)

// TestCodeClasses pins the one table of gateway codes: the result status
// and the HTTP status each gives, and that every code has a line.
func TestCodeClasses(t *testing.T) {
	want := map[string]Class{
		CodeInvalidRequest:      {StatusInvalid, 400},
		CodeInvalidCommand:      {StatusInvalid, 400},
		CodeInvalidEvent:        {StatusInvalid, 400},
		CodeNoRoute:             {StatusInvalid, 400},
		CodeEventNotAccepted:    {StatusInvalid, 400},
		CodeTooLarge:            {StatusInvalid, 413},
		CodeMethodNotAllowed:    {StatusInvalid, 405},
		CodeNotFound:            {StatusInvalid, 404},
		CodeUnauthenticated:     {StatusUnauthenticated, 401},
		CodeAuthUnavailable:     {StatusError, 503},
		CodePolicyDenied:        {StatusDenied, 403},
		CodePolicyUnavailable:   {StatusError, 503},
		CodeOutcomeUnknown:      {StatusError, 502},
		CodeUpstreamTimeout:     {StatusError, 504},
		CodeUpstreamFailure:     {StatusError, 502},
		CodeUpstreamUnavailable: {StatusError, 503},
		CodeInternal:            {StatusError, 500},
	}
	if len(codeClasses) != len(want) {
		t.Errorf("%d codes in the table, %d pinned here", len(codeClasses), len(want))
	}
	for code, c := range want {
		got, ok := ClassOf(code)
		if !ok || got != c {
			t.Errorf("%s: %+v, want %+v", code, got, c)
		}
		e := Errorf(code, "x")
		if e.Status != c.HTTP || ResultStatus(e) != c.Status || e.Source != SourceGate {
			t.Errorf("Errorf(%s) = %+v, result status %s", code, e, ResultStatus(e))
		}
	}
	if ResultStatus(&Error{Code: "ClusterNotFound", Status: 404}) != StatusError || ResultStatus(errors.New("x")) != StatusError {
		t.Error("an E-HPC code or an untyped error is not an error result")
	}
}

func TestResultHTTPStatus(t *testing.T) {
	for _, tt := range []struct {
		r    Result
		want int
	}{
		{Result{Status: StatusSucceeded, CommandID: "c-1"}, http.StatusOK},
		{Result{Status: StatusFailed, CommandID: "c-1"}, http.StatusOK},
		{Result{Status: StatusAccepted, CommandID: "c-1"}, http.StatusAccepted},
		{Result{Status: StatusRunning, CommandID: "c-1"}, http.StatusAccepted},
		{Result{Status: StatusAccepted}, http.StatusOK}, // a dry run
		{Result{Status: StatusDenied, Error: Errorf(CodePolicyDenied, "no").Body()}, http.StatusForbidden},
		{Result{Status: StatusError}, http.StatusInternalServerError},
	} {
		if got := tt.r.HTTPStatus(); got != tt.want {
			t.Errorf("%+v: %d, want %d", tt.r, got, tt.want)
		}
	}
}
