package authn

import (
	"errors"
	"strings"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

// The only messages a caller ever sees. They say what to do (send a token,
// get a new one) and nothing about which check failed.
const (
	msgMissingToken    = "missing bearer token"
	msgMalformedHeader = "malformed authorization header"
	msgInvalid         = "invalid token"
	msgExpired         = "token expired"
	msgUnavailable     = "token verification unavailable"
)

// Internal causes (Err of the returned *hpcgate.Error).
var (
	errNoHeader       = errors.New("no authorization header")
	errManyHeaders    = errors.New("more than one authorization header")
	errHeaderTooLarge = errors.New("authorization header too large")
	errNotBearer      = errors.New("authorization scheme is not bearer")
	errEmptyBearer    = errors.New("bearer scheme without a token")
	errManyTokens     = errors.New("more than one token after bearer")
	errEmptyToken     = errors.New("empty token")
	errTokenTooLarge  = errors.New("token too large")
)

func unauthenticated(msg string, cause error) *hpcgate.Error {
	e := hpcgate.Errorf(hpcgate.CodeUnauthenticated, "%s", msg)
	e.Err = cause
	return e
}

func invalid(cause error) *hpcgate.Error { return unauthenticated(msgInvalid, cause) }

// unavailable is a key set that could not be loaded: no token can be
// verified, and the caller may retry.
func unavailable(cause error) *hpcgate.Error {
	e := hpcgate.Errorf(hpcgate.CodeAuthUnavailable, "%s", msgUnavailable)
	e.Retryable, e.Err = true, cause
	return e
}

// scrub drops an internal cause that quotes any part of the token (a
// library error might), keeping the error's code and message.
func scrub(err error, token string) error {
	e := hpcgate.AsError(err)
	if e.Err == nil || token == "" {
		return e
	}
	text := e.Err.Error()
	for part := range strings.SplitSeq(token, ".") {
		if len(part) >= 8 && strings.Contains(text, part) || strings.Contains(text, token) {
			c := *e
			c.Err = errors.New("cause withheld: it quoted the token")
			return &c
		}
	}
	return e
}
