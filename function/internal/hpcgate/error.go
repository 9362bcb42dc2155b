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

// Codes the gateway itself uses. E-HPC codes pass through verbatim. Each
// has one line in codeClasses.
const (
	CodeInvalidRequest      = "InvalidRequest"
	CodeInvalidCommand      = "InvalidCommand"
	CodeInvalidEvent        = "InvalidEvent"
	CodeNoRoute             = "NoMatchingRoute"
	CodeEventNotAccepted    = "EventNotAccepted"
	CodeTooLarge            = "PayloadTooLarge"
	CodeMethodNotAllowed    = "MethodNotAllowed"
	CodeNotFound            = "NotFound"
	CodeUnauthenticated     = "Unauthenticated"
	CodeAuthUnavailable     = "AuthenticationUnavailable"
	CodePolicyDenied        = "PolicyDenied"
	CodePolicyUnavailable   = "PolicyUnavailable"
	CodeOutcomeUnknown      = "OutcomeUnknown"
	CodeUpstreamTimeout     = "UpstreamTimeout"
	CodeUpstreamFailure     = "UpstreamFailure"
	CodeUpstreamUnavailable = "UpstreamUnavailable"
	CodeInternal            = "InternalError"
)

// Class is what a code means to the caller: the result status and the
// HTTP status of the HTTP trigger.
type Class struct {
	Status string
	HTTP   int
}

// codeClasses is the one table from the gateway's codes to result and HTTP
// status. An E-HPC code is not in it: its HTTP status comes from the ehpc
// package's table, and its result status is always StatusError.
var codeClasses = map[string]Class{
	CodeInvalidRequest:      {StatusInvalid, http.StatusBadRequest},
	CodeInvalidCommand:      {StatusInvalid, http.StatusBadRequest},
	CodeInvalidEvent:        {StatusInvalid, http.StatusBadRequest},
	CodeNoRoute:             {StatusInvalid, http.StatusBadRequest},
	CodeEventNotAccepted:    {StatusInvalid, http.StatusBadRequest},
	CodeTooLarge:            {StatusInvalid, http.StatusRequestEntityTooLarge},
	CodeMethodNotAllowed:    {StatusInvalid, http.StatusMethodNotAllowed},
	CodeNotFound:            {StatusInvalid, http.StatusNotFound},
	CodeUnauthenticated:     {StatusUnauthenticated, http.StatusUnauthorized},
	CodeAuthUnavailable:     {StatusError, http.StatusServiceUnavailable},
	CodePolicyDenied:        {StatusDenied, http.StatusForbidden},
	CodePolicyUnavailable:   {StatusError, http.StatusServiceUnavailable},
	CodeOutcomeUnknown:      {StatusError, http.StatusBadGateway},
	CodeUpstreamTimeout:     {StatusError, http.StatusGatewayTimeout},
	CodeUpstreamFailure:     {StatusError, http.StatusBadGateway},
	CodeUpstreamUnavailable: {StatusError, http.StatusServiceUnavailable},
	CodeInternal:            {StatusError, http.StatusInternalServerError},
}

// ClassOf returns the class of a gateway code; ok is false for any other
// code (E-HPC's).
func ClassOf(code string) (c Class, ok bool) {
	c, ok = codeClasses[code]
	return c, ok
}

// HTTPStatusOf is the HTTP status of a gateway code (500 for any other).
func HTTPStatusOf(code string) int {
	if c, ok := codeClasses[code]; ok {
		return c.HTTP
	}
	return http.StatusInternalServerError
}

// ResultStatus is the result status of a request that ends with err: the
// class of a gateway code, StatusError for anything else.
func ResultStatus(err error) string {
	if c, ok := codeClasses[AsError(err).Code]; ok {
		return c.Status
	}
	return StatusError
}

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

// Errorf returns a gate-sourced Error with the given gateway code; its
// HTTP status is the code's (codeClasses).
func Errorf(code string, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Source: SourceGate, Status: HTTPStatusOf(code)}
}

// Invalid returns a 400 InvalidRequest error with a message safe to show.
func Invalid(format string, args ...any) *Error {
	return Errorf(CodeInvalidRequest, format, args...)
}

// AsError returns err as an *Error; anything untyped becomes an internal
// error whose message reveals nothing.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: CodeInternal, Message: "internal error", Source: SourceGate, Status: HTTPStatusOf(CodeInternal), Err: err}
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
