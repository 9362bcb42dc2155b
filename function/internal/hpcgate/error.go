package hpcgate

import (
	"errors"
	"fmt"
	"net/http"
)

// Error sources.
const (
	SourceEHPC   = "ehpc"
	SourceGate   = "gate"
	SourcePolicy = "policy"
)

// Codes the gateway itself uses. E-HPC codes pass through verbatim.
const (
	CodeInvalidRequest    = "InvalidRequest"
	CodeInvalidCommand    = "InvalidCommand"
	CodeInvalidEvent      = "InvalidEvent"
	CodeEventNotAccepted  = "EventNotAccepted"
	CodeNoRoute           = "NoMatchingRoute"
	CodeUnauthenticated   = "Unauthenticated"
	CodePolicyDenied      = "PolicyDenied"
	CodePolicyUnavailable = "PolicyUnavailable"
	CodeOutcomeUnknown    = "OutcomeUnknown"
	CodeUpstreamTimeout   = "UpstreamTimeout"
	CodeUpstreamFailure   = "UpstreamFailure"
	CodeNotFound          = "NotFound"
	CodeInternal          = "InternalError"
)

// Error is a failure that carries what the caller may see (Code, Message,
// Status, Retryable, Source) apart from the internal cause (Err), which is
// logged and never returned.
type Error struct {
	Code      string
	Message   string
	Source    string
	Status    int
	Retryable bool
	Err       error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

// Unwrap returns the internal cause.
func (e *Error) Unwrap() error { return e.Err }

// Body returns the part of e a caller sees.
func (e *Error) Body() *ErrorBody {
	return &ErrorBody{Code: e.Code, Message: e.Message, HTTPStatus: e.Status, Retryable: e.Retryable, Source: e.Source}
}

// Errorf returns a gate-sourced Error with the given code and HTTP status.
func Errorf(code string, status int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Source: SourceGate, Status: status}
}

// Invalid returns a 400 InvalidRequest error with a message safe to show.
func Invalid(format string, args ...any) *Error {
	return Errorf(CodeInvalidRequest, http.StatusBadRequest, format, args...)
}

// AsError returns err as an *Error; anything untyped becomes an internal
// error whose message reveals nothing.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeInternal, Message: "internal error", Source: SourceGate, Status: http.StatusInternalServerError, Err: err}
}

// Codes of the claim step: an event delivered again must not run twice.
const (
	// CodeClaimUnavailable: the claim store could not be read or written;
	// nothing was sent. The event is delivered again (fail closed).
	CodeClaimUnavailable = "ClaimUnavailable"
	// CodeEventInProgress: another delivery of the event holds its claim
	// and its outcome is not known yet; nothing was sent by this one.
	CodeEventInProgress = "EventInProgress"
	// CodeEventUnresolved: a claim for the event exists whose command can
	// be neither found nor ruled out; nothing was sent by this delivery,
	// and none will be until an operator resolves the claim.
	CodeEventUnresolved = "EventUnresolved"
)
