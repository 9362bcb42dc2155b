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
// The SDK's AutoRetry is off. InvokeShellCommand is sent again only when
// E-HPC surely did not run it: dialing failed before any connection
// existed (a *net.OpError with Op "dial" and no connection obtained), or
// the answer was Throttling* or ServiceUnavailable, which the API gateway
// gives before the request reaches E-HPC. After a timeout, a reset or a
// dropped connection once the request may have left, nothing is resent:
// the error is CodeUpstreamTimeout (504) or CodeOutcomeUnknown (502), not
// retryable, and ListCommands tells whether the command was accepted. A
// 2xx answer that cannot be read or lacks a CommandId is CodeOutcomeUnknown,
// never retried.
//
// # Finding a command whose answer was lost
//
// NewMarker makes a random marker and Mark appends it to a command as a
// last line holding a shell comment ("# hpcgate:<26 base32 characters>",
// with MarkSealed also a seal of who started it, which ParseMarked reads
// back; see marker.go).
// FindMarked reads ListCommands of the cluster, at most FindPages pages of
// PageSize in E-HPC's order (the order is not documented, so it stops only
// at a match or at the bound), and returns the command whose content
// carries the marker: the CommandId of an invocation whose answer was
// lost, found without sending anything again. Whether the comment line is
// inert after a given command is for the caller to establish. Invocations are made non-replayable so that net/http
// cannot resend one by itself (it does so for a plain GET on a kept-alive
// connection that fails), and reuse a kept-alive connection only when it
// has been idle for less than 5 s, so that a connection the server has
// closed rarely turns a command that never left into an unknown outcome. Reads (List*) are retried on transport errors, 5xx,
// throttling and unreadable answers: up to 4 attempts, backoff from
// 100 ms doubling to 1 s with jitter, never past the deadline.
//
// # Errors
//
// E-HPC's error code is kept verbatim in hpcgate.Error.Code; ErrorTable
// gives the HTTP status and retryability of every known code (see its
// comment for the rules: caller mistakes 400, 404/409 pass through, the
// gateway's own credential or account problems 502, throttling and
// ServiceUnavailable 503 retryable, upstream failures 502). Messages are
// E-HPC's, stripped of the string-to-sign that SignatureDoesNotMatch echoes
// and of anything that looks like a credential. Transport failures are
// CodeUpstreamTimeout (504) or CodeUpstreamFailure (502).
//
// # Results
//
// Wait polls ListInvocationStatus (100 ms, ×1.5, up to 2 s) until every
// node has ended or the deadline, keeping a fifth of the time (at most 1 s)
// to read ListInvocationResults, all pages of 50. If the deadline comes
// first it returns Status running with what is known, and no error.
// InstanceIds are flattened from any shape E-HPC answers with. Output
// (Message) is kept as E-HPC sends it (not base64-decoded) and cut to
// Config.OutputCap bytes (64 KiB) at a UTF-8 boundary, with Truncated set.
// The status rules are on Outcome: succeeded when
// every node finished with exit code 0, partial when some did, timed_out
// when none did and one was Stopped, failed otherwise, running while any
// node runs.
package ehpc
