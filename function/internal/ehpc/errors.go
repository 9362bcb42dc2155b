package ehpc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"unicode"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

// ErrorMapping says how one E-HPC (or Alibaba Cloud gateway) error code
// becomes an *hpcgate.Error: the HTTP status the gateway answers with and
// whether the caller may try again later.
type ErrorMapping struct {
	Code           string // E-HPC code, kept verbatim in hpcgate.Error.Code
	UpstreamStatus int    // the status E-HPC documents for it
	Status         int    // the status the gateway answers with
	Retryable      bool   // whether the caller may send the same request again later
	// Prefix makes the row match every code that starts with Code + "."
	// (AgentError.Timeout, Throttling.User, ...) when no row names it exactly.
	Prefix bool
}

// ErrorTable maps every error code E-HPC and the Alibaba Cloud API gateway
// are known to answer InvokeShellCommand and the List* actions with. The
// rules behind it:
//   - the caller's own mistakes pass through as 400 (InvalidParams,
//     MissingParameter, InvalidParameter.Format);
//   - 404 and 409 from E-HPC pass through (ClusterNotFound, ObjectNotFound,
//     PartFailure); cluster states that forbid the command (E-HPC's 403
//     InvalidClusterStatus, ConflictOpt) become 409 Conflict;
//   - anything that says the gateway's own credentials, signature, clock or
//     account are wrong (NotAuthorized, Forbidden.RAM, Signature*,
//     InvalidAccessKeyId.*, InvalidSecurityToken.*, NotEnabled, InDebt) and
//     anything that says the gateway called a wrong API is 502: not the
//     caller's fault, and not something the caller can fix;
//   - upstream failures (UnknownError, EcsError, AgentError, AliyunError)
//     are 502; throttling and ServiceUnavailable are 503 and retryable.
//
// Codes not in the table are mapped by family (a Throttling*, Signature*,
// InvalidAccessKeyId*, InvalidSecurityToken* or Missing* prefix) and
// otherwise by the upstream status: 400 stays 400, 404 and 409 pass through,
// 429 and 503 become a retryable 503, everything else is 502.
var ErrorTable = []ErrorMapping{
	// E-HPC codes (InvokeShellCommand error table).
	{Code: "InvalidParams", UpstreamStatus: 400, Status: http.StatusBadRequest},
	{Code: "NotEnabled", UpstreamStatus: 400, Status: http.StatusBadGateway},
	{Code: "InDebt", UpstreamStatus: 400, Status: http.StatusBadGateway},
	{Code: "InvalidClusterStatus", UpstreamStatus: 403, Status: http.StatusConflict},
	{Code: "ConflictOpt", UpstreamStatus: 403, Status: http.StatusConflict, Retryable: true},
	{Code: "ClusterNotFound", UpstreamStatus: 404, Status: http.StatusNotFound},
	{Code: "ObjectNotFound", UpstreamStatus: 404, Status: http.StatusNotFound},
	{Code: "ManagerNotFound", UpstreamStatus: 404, Status: http.StatusConflict},
	{Code: "EcsError", UpstreamStatus: 406, Status: http.StatusBadGateway, Prefix: true},
	{Code: "AgentError", UpstreamStatus: 406, Status: http.StatusBadGateway, Prefix: true},
	{Code: "AliyunError", UpstreamStatus: 406, Status: http.StatusBadGateway, Prefix: true},
	{Code: "NotAuthorized", UpstreamStatus: 407, Status: http.StatusBadGateway},
	{Code: "PartFailure", UpstreamStatus: 409, Status: http.StatusConflict},
	{Code: "UnknownError", UpstreamStatus: 500, Status: http.StatusBadGateway},
	{Code: "ServiceUnavailable", UpstreamStatus: 503, Status: http.StatusServiceUnavailable, Retryable: true},

	// Gateway (POP) codes common to every RPC API.
	{Code: "SignatureDoesNotMatch", UpstreamStatus: 400, Status: http.StatusBadGateway},
	{Code: "IncompleteSignature", UpstreamStatus: 400, Status: http.StatusBadGateway},
	{Code: "SignatureNonceUsed", UpstreamStatus: 400, Status: http.StatusBadGateway, Retryable: true},
	{Code: "InvalidTimeStamp.Expired", UpstreamStatus: 400, Status: http.StatusBadGateway},
	{Code: "InvalidTimeStamp.Format", UpstreamStatus: 400, Status: http.StatusBadGateway},
	{Code: "InvalidAccessKeyId.NotFound", UpstreamStatus: 404, Status: http.StatusBadGateway},
	{Code: "InvalidAccessKeyId.Inactive", UpstreamStatus: 400, Status: http.StatusBadGateway},
	{Code: "InvalidAccessKeyId", UpstreamStatus: 400, Status: http.StatusBadGateway, Prefix: true},
	// FC hands out fresh STS credentials per invocation: a later call may succeed.
	{Code: "InvalidSecurityToken.Expired", UpstreamStatus: 400, Status: http.StatusBadGateway, Retryable: true},
	{Code: "InvalidSecurityToken.Malformed", UpstreamStatus: 400, Status: http.StatusBadGateway},
	{Code: "InvalidSecurityToken.MismatchWithAccessKey", UpstreamStatus: 400, Status: http.StatusBadGateway},
	{Code: "InvalidSecurityToken", UpstreamStatus: 400, Status: http.StatusBadGateway, Prefix: true},
	{Code: "Throttling", UpstreamStatus: 400, Status: http.StatusServiceUnavailable, Retryable: true, Prefix: true},
	{Code: "Throttling.User", UpstreamStatus: 400, Status: http.StatusServiceUnavailable, Retryable: true},
	{Code: "Throttling.Api", UpstreamStatus: 400, Status: http.StatusServiceUnavailable, Retryable: true},
	{Code: "MissingParameter", UpstreamStatus: 400, Status: http.StatusBadRequest},
	{Code: "InvalidParameter.Format", UpstreamStatus: 400, Status: http.StatusBadRequest},
	{Code: "InvalidApi.NotFound", UpstreamStatus: 404, Status: http.StatusBadGateway},
	{Code: "InvalidAction.NotFound", UpstreamStatus: 404, Status: http.StatusBadGateway},
	{Code: "UnsupportedHTTPMethod", UpstreamStatus: 400, Status: http.StatusBadGateway},
	{Code: "Forbidden.RAM", UpstreamStatus: 403, Status: http.StatusBadGateway},
	{Code: "Forbidden", UpstreamStatus: 403, Status: http.StatusBadGateway, Prefix: true},
}

var (
	exactCodes  = map[string]ErrorMapping{}
	prefixCodes []ErrorMapping
)

func init() {
	for _, m := range ErrorTable {
		if _, dup := exactCodes[m.Code]; dup {
			panic("ehpc: duplicate error code " + m.Code)
		}
		exactCodes[m.Code] = m
		if m.Prefix {
			prefixCodes = append(prefixCodes, m)
		}
	}
}

// Lookup returns how code (answered with HTTP status upstream) is mapped.
func Lookup(code string, upstream int) ErrorMapping {
	if m, ok := exactCodes[code]; ok {
		return m
	}
	for _, m := range prefixCodes {
		if strings.HasPrefix(code, m.Code+".") {
			m.Code, m.UpstreamStatus = code, upstream
			return m
		}
	}
	m := ErrorMapping{Code: code, UpstreamStatus: upstream, Status: http.StatusBadGateway}
	switch {
	case strings.HasPrefix(code, "Signature"), strings.HasPrefix(code, "InvalidAccessKeyId"),
		strings.HasPrefix(code, "InvalidSecurityToken"), strings.HasPrefix(code, "Forbidden"):
	case strings.HasPrefix(code, "Throttling"):
		m.Status, m.Retryable = http.StatusServiceUnavailable, true
	case strings.HasPrefix(code, "Missing"):
		m.Status = http.StatusBadRequest
	case upstream == http.StatusBadRequest, upstream == http.StatusNotFound, upstream == http.StatusConflict:
		m.Status = upstream
	case upstream == http.StatusTooManyRequests, upstream == http.StatusServiceUnavailable:
		m.Status, m.Retryable = http.StatusServiceUnavailable, true
	}
	return m
}

// answeredBeforeExecution reports whether an error answer to
// InvokeShellCommand proves that E-HPC did not run the command, so that
// sending it again cannot run it twice. Throttling is decided by the API
// gateway before the request reaches E-HPC; ServiceUnavailable is the
// gateway's "temporary failure of the server" answer, given instead of
// forwarding. Every other error answer is final for the invocation.
func answeredBeforeExecution(code string) bool {
	return code == "Throttling" || strings.HasPrefix(code, "Throttling.") || code == "ServiceUnavailable"
}

// UpstreamError is the internal cause kept in hpcgate.Error.Err for an
// error answer from E-HPC. It holds nothing secret: the message is the
// sanitized one.
type UpstreamError struct {
	Action    string
	Code      string
	Status    int
	RequestID string
	HostID    string
	Message   string
}

func (e *UpstreamError) Error() string {
	return fmt.Sprintf("%s: E-HPC answered %d %s (request %s): %s", e.Action, e.Status, e.Code, e.RequestID, e.Message)
}

// fromServerError maps an SDK server error (any non-2xx answer).
func fromServerError(action string, se *sdkerrors.ServerError) *hpcgate.Error {
	code := se.ErrorCode()
	msg := safeMessage(se.Message())
	cause := &UpstreamError{Action: action, Code: code, Status: se.HttpStatus(), RequestID: se.RequestId(), HostID: se.HostId(), Message: msg}
	if code == "" {
		// No E-HPC error body: a proxy or load balancer answered.
		code := hpcgate.CodeUpstreamFailure
		if se.HttpStatus() == http.StatusServiceUnavailable || se.HttpStatus() == http.StatusTooManyRequests {
			code = hpcgate.CodeUpstreamUnavailable
		}
		return &hpcgate.Error{Code: code, Status: hpcgate.HTTPStatusOf(code), Retryable: true, Source: hpcgate.SourceEHPC,
			Message: fmt.Sprintf("E-HPC answered HTTP %d without an error code", se.HttpStatus()), Err: cause}
	}
	m := Lookup(code, se.HttpStatus())
	if msg == "" {
		msg = code
	}
	return &hpcgate.Error{Code: code, Status: m.Status, Retryable: m.Retryable, Source: hpcgate.SourceEHPC, Message: msg, Err: cause}
}

const maxMessage = 512

// safeMessage strips from an E-HPC message what must not reach a caller or
// a log: the string-to-sign that SignatureDoesNotMatch and
// IncompleteSignature echo back (it holds the AccessKeyId and the
// SecurityToken), any credential-looking query parameter, control
// characters, and anything beyond maxMessage bytes.
func safeMessage(s string) string {
	if i := strings.Index(strings.ToLower(s), "string to sign"); i >= 0 {
		s = strings.TrimSpace(s[:i])
		s = strings.TrimSuffix(strings.TrimSuffix(s, "server"), "Server")
	}
	s = redact(s)
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > maxMessage {
		s = truncateUTF8(s, maxMessage)
	}
	return s
}

// secretParam matches credential-bearing parameters in URLs, query strings
// and percent-encoded strings-to-sign.
var secretParam = regexp.MustCompile(`(?i)(SecurityToken|Signature|AccessKeyId|AccessKeySecret|BearerToken)(=|%3D|%253D)[^&\s"']*`)

// redact replaces the value of every credential-bearing parameter in s.
func redact(s string) string {
	return secretParam.ReplaceAllString(s, "$1$2[redacted]")
}

// transportError maps an error that is not an answer from E-HPC: the
// request failed on the way, or its answer could not be read.
//
// sent reports whether a connection was obtained, after which some bytes
// of the request may have reached E-HPC. invoke marks InvokeShellCommand,
// whose outcome is then unknown.
func transportError(ctx context.Context, action string, err error, sent, invoke bool) *hpcgate.Error {
	msg := err.Error()
	var ue *url.Error
	if errors.As(err, &ue) {
		msg = ue.Op + " " + redactURL(ue.URL) + ": " + ue.Err.Error()
	}
	cause := errors.New(action + ": " + redact(msg))
	timeout := isTimeout(err) || errors.Is(ctx.Err(), context.DeadlineExceeded)
	e := &hpcgate.Error{Source: hpcgate.SourceEHPC, Err: cause, Retryable: true}
	switch {
	case timeout:
		e.Code, e.Status = hpcgate.CodeUpstreamTimeout, hpcgate.HTTPStatusOf(hpcgate.CodeUpstreamTimeout)
		e.Message = "E-HPC did not answer in time"
	default:
		e.Code, e.Status = hpcgate.CodeUpstreamFailure, hpcgate.HTTPStatusOf(hpcgate.CodeUpstreamFailure)
		e.Message = "E-HPC could not be reached"
	}
	if invoke && sent {
		e.Retryable = false
		if !timeout {
			e.Code = hpcgate.CodeOutcomeUnknown
			e.Message = "the connection to E-HPC failed after the command was sent; it may have started: look it up before sending it again"
		} else {
			e.Message = "E-HPC did not answer in time; the command may have started: look it up before sending it again"
		}
	}
	return e
}

// outcomeUnknown is the error for a 2xx answer to InvokeShellCommand that
// cannot be read: E-HPC accepted something, so the command may run.
func outcomeUnknown(cause error) *hpcgate.Error {
	return &hpcgate.Error{Code: hpcgate.CodeOutcomeUnknown, Status: hpcgate.HTTPStatusOf(hpcgate.CodeOutcomeUnknown), Retryable: false, Source: hpcgate.SourceEHPC,
		Message: "E-HPC accepted the command but its answer could not be read; it may run: look it up before sending it again",
		Err:     cause}
}

// malformed is the error for a 2xx answer to a read that cannot be parsed.
func malformed(action string, cause error) *hpcgate.Error {
	return &hpcgate.Error{Code: hpcgate.CodeUpstreamFailure, Status: hpcgate.HTTPStatusOf(hpcgate.CodeUpstreamFailure), Retryable: true, Source: hpcgate.SourceEHPC,
		Message: "E-HPC answered " + action + " with a body that could not be read", Err: cause}
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isDialError reports whether err happened while opening the connection,
// before anything of the request could be written.
func isDialError(err error) bool {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return true
	}
	var de *net.DNSError
	return errors.As(err, &de)
}

// ctxError maps a context that ended before a call could start.
func ctxError(action string, err error) *hpcgate.Error {
	e := &hpcgate.Error{Code: hpcgate.CodeUpstreamTimeout, Status: hpcgate.HTTPStatusOf(hpcgate.CodeUpstreamTimeout), Retryable: true, Source: hpcgate.SourceEHPC,
		Message: "no time left to call E-HPC", Err: fmt.Errorf("%s: %w", action, err)}
	if errors.Is(err, context.Canceled) {
		e.Message = "the request was canceled before E-HPC was called"
	}
	return e
}

// redactURL keeps scheme, host and action of an SDK request URL.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[url]"
	}
	return u.Scheme + "://" + u.Host + "/?Action=" + u.Query().Get("Action")
}
