// Package ehpc is the gateway's client of the E-HPC interactive-command API
// (version 2018-04-12: InvokeShellCommand, ListInvocationStatus,
// ListInvocationResults, ListCommands), built on the Alibaba Cloud SDK core
// (sdk.Client and requests.CommonRequest, signed RPC over GET). Nothing
// above this package sees SDK types: every failure is an *hpcgate.Error
// with Source "ehpc".
//
// # Endpoint and credentials
//
// Calls go to https://ehpc.<region>.aliyuncs.com, or to Config.Endpoint
// (scheme://host[:port]); plain http is refused unless the host is
// loopback. Each call is signed with the function invocation's STS
// credentials from fccontext.FromContext(ctx) when they are present, else
// with Config.Credentials (by default the SDK's chain, which reads
// ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET and
// ALIBABA_CLOUD_SECURITY_TOKEN first). SDK clients are pooled and each
// serves one call at a time with that call's credentials: the SDK writes
// per-call timeouts into its client, so one client must not serve
// concurrent calls, and creating one costs tens of microseconds. Secrets
// never reach a log or an error: Credentials redacts itself, SDK errors are
// replaced by UpstreamError, and URLs in transport errors lose their query.
// New refuses to start when Config.Debug (the process's DEBUG, which the
// caller passes in) names "sdk", since the SDK then prints every signed
// request, security token included, to standard output.
//
// # Timeouts
//
// The SDK call takes no context. Each HTTP exchange gets a timeout of what
// the context's deadline leaves (at most Config.CallTimeout, 10 s by
// default; connect at most 5 s), and the call's context is attached to the
// exchange, so a canceled context ends it too. A context that is already
// done sends nothing.
//
// # Retries
//
// A command must never run twice, so the SDK's AutoRetry is off and
// net/http cannot replay an invocation. InvokeShellCommand is sent again
// only when E-HPC surely did not run it: the dial failed before any
// connection existed, or the answer was Throttling* or ServiceUnavailable
// (given by the API gateway before E-HPC sees the request). Any other
// failure once the request may have left is CodeUpstreamTimeout (504) or
// CodeOutcomeUnknown (502), not retryable; so is a 2xx answer that cannot
// be read. Kept-alive connections are reused only when idle for under 5 s,
// so a connection the server closed rarely turns a command that never
// left into an unknown outcome. Reads (List*) are retried on transport
// errors, 5xx, throttling and unreadable answers: up to 4 attempts with
// jittered backoff, never past the deadline.
//
// # Finding a command whose answer was lost
//
// NewMarker makes a random marker and Mark appends it to a command as a
// last-line shell comment ("# hpcgate:<id>", with MarkSealed also a seal
// of who started it, which ParseMarked reads back). FindMarked reads at
// most FindPages pages of ListCommands and returns the command carrying
// it, so a lost answer's CommandId is recovered without sending anything
// again. Whether the comment is inert after a given command is for the
// caller to establish.
//
// # Errors and results
//
// E-HPC's error code is kept verbatim in hpcgate.Error.Code; ErrorTable
// gives each known code's HTTP status and retryability. Messages are
// E-HPC's, stripped of the string-to-sign SignatureDoesNotMatch echoes and
// of anything that looks like a credential. Wait polls ListInvocationStatus
// until every node has ended or the deadline (keeping time to read
// ListInvocationResults), and answers Status running, without error, when
// the deadline comes first. Output is kept as E-HPC sends it and cut to
// Config.OutputCap at a UTF-8 boundary; Outcome holds the status rules.
package ehpc
