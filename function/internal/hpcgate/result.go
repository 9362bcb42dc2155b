package hpcgate

import "net/http"

// Result statuses.
const (
	StatusSucceeded       = "succeeded"
	StatusPartial         = "partial"
	StatusFailed          = "failed"
	StatusTimedOut        = "timed_out"
	StatusRunning         = "running"
	StatusAccepted        = "accepted"
	StatusDenied          = "denied"
	StatusInvalid         = "invalid"
	StatusUnauthenticated = "unauthenticated"
	StatusError           = "error"
)

// statusHTTP is the HTTP status of the result statuses that are not
// errors; an error's status is its code's (codeClasses).
var statusHTTP = map[string]int{
	StatusSucceeded: http.StatusOK,
	StatusPartial:   http.StatusOK,
	StatusFailed:    http.StatusOK,
	StatusTimedOut:  http.StatusOK,
	StatusAccepted:  http.StatusAccepted,
	StatusRunning:   http.StatusAccepted,
}

// HTTPStatus is the HTTP status of r for the HTTP trigger: 200 when
// finished (or decided in a dry run), 202 while accepted or running, the
// error's status otherwise.
func (r Result) HTTPStatus() int {
	if st, ok := statusHTTP[r.Status]; ok {
		if st == http.StatusAccepted && r.CommandID == "" { // a dry run: decided, nothing started
			return http.StatusOK
		}
		return st
	}
	if r.Error != nil && r.Error.HTTPStatus != 0 {
		return r.Error.HTTPStatus
	}
	return http.StatusInternalServerError
}

// Result is the one normalized answer every trigger returns, whatever happened.
type Result struct {
	Status    string          `json:"status"`
	Request   *Request        `json:"request,omitempty"`
	Decision  *ResultDecision `json:"decision,omitempty"`
	CommandID string          `json:"commandId,omitempty"`
	// RequestID is the gateway's id of this answer (FC's request id
	// behind FC): the requestId of its audit record and X-Request-Id.
	RequestID string `json:"requestId,omitempty"`
	// EHPCRequestID is E-HPC's RequestId of InvokeShellCommand.
	EHPCRequestID string       `json:"ehpcRequestId,omitempty"`
	InstanceIDs   []string     `json:"instanceIds,omitempty"`
	Results       []NodeResult `json:"results,omitempty"`
	Summary       *Summary     `json:"summary,omitempty"`
	Error         *ErrorBody   `json:"error,omitempty"`
	// Wait is set when the gateway waited less than the caller asked.
	Wait *WaitLimit `json:"wait,omitempty"`
	// Duplicate is set when the answer is to an event delivered again:
	// CommandID is then the command an earlier delivery started, and this
	// delivery sent nothing.
	Duplicate *Duplicate `json:"duplicate,omitempty"`
}

// Duplicate names the earlier delivery of an event whose command ran.
type Duplicate struct {
	CommandID string `json:"commandId"` // the original command
	Claimed   string `json:"claimed"`   // RFC 3339: when the earlier delivery claimed the event
}

// WaitLimit says why a wait was shorter than asked.
type WaitLimit struct {
	Requested float64 `json:"requested"` // seconds the caller asked for
	Allowed   float64 `json:"allowed"`   // seconds the gateway could wait
	// LimitedBy is WaitLimitDeadline or WaitLimitMax.
	LimitedBy string `json:"limitedBy"`
	// Deadline is the function's deadline (RFC 3339), with WaitLimitDeadline.
	Deadline string `json:"deadline,omitempty"`
}

// Reasons a wait is shorter than asked.
const (
	WaitLimitDeadline = "deadline" // the function's deadline, less time to answer
	WaitLimitMax      = "maxWait"  // HPCGATE_MAX_WAIT
)

// ResultDecision is the part of a Decision a caller sees.
type ResultDecision struct {
	Allow       bool       `json:"allow"`
	Reasons     []Reason   `json:"reasons"`
	NearMisses  []NearMiss `json:"nearMisses,omitempty"`
	Explanation string     `json:"explanation,omitempty"`
}

// NodeResult is one node's outcome of a command.
type NodeResult struct {
	InstanceID string `json:"instanceId"`
	Status     string `json:"status"`   // E-HPC's: Finished, Running, Failed, Stopped
	ExitCode   *int   `json:"exitCode"` // nil until the node has finished
	Output     string `json:"output"`
	Truncated  bool   `json:"truncated"`
	FinishedAt string `json:"finishedAt,omitempty"`
}

// Summary counts nodes by outcome.
type Summary struct {
	Nodes     int `json:"nodes"`
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	Running   int `json:"running"`
}

// ErrorBody is the error member of a Result: safe to show the caller.
type ErrorBody struct {
	Code       string `json:"code"`
	Message    string `json:"message"`
	HTTPStatus int    `json:"httpStatus"`
	Retryable  bool   `json:"retryable"`
	Source     string `json:"source"`
}
