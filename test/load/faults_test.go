package load

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hpcgate/hpcgate/test/ehpcsim/simulator"
	"github.com/hpcgate/hpcgate/test/harness"
)

// codeExpectation is how the gateway must report an E-HPC error code: the
// code verbatim, the HTTP status and whether trying again later may help
// (README "The normalized result"; the mapping rules of the ehpc client).
type codeExpectation struct {
	status    int
	retryable bool
	// resent: the gateway may send the command again by itself, because
	// this answer proves E-HPC did not run it.
	resent bool
}

// expectedCodes covers every code the simulator can answer with (the E-HPC
// error table of InvokeShellCommand and the API gateway's codes); codes
// not listed here must be 502 and not retryable.
var expectedCodes = map[string]codeExpectation{
	"InvalidParams":                {status: 400},
	"InvalidClusterStatus":         {status: 409},
	"ConflictOpt":                  {status: 409, retryable: true},
	"ClusterNotFound":              {status: 404},
	"ObjectNotFound":               {status: 404},
	"ManagerNotFound":              {status: 409},
	"PartFailure":                  {status: 409},
	"ServiceUnavailable":           {status: 503, retryable: true, resent: true},
	"Throttling":                   {status: 503, retryable: true, resent: true},
	"Throttling.User":              {status: 503, retryable: true, resent: true},
	"Throttling.Api":               {status: 503, retryable: true, resent: true},
	"MissingParameter":             {status: 400},
	"InvalidParameter.Format":      {status: 400},
	"SignatureNonceUsed":           {status: 502, retryable: true},
	"InvalidSecurityToken.Expired": {status: 502, retryable: true},
}

// TestFaults injects every E-HPC error code, throttling, slow answers,
// connections reset before and after execution and malformed answers, and
// checks for each: the normalized result (code, status, retryable),
// nothing ran twice, the caller learns the CommandId of what ran (or is
// told the outcome is unknown), and the gateway keeps serving.
func TestFaults(t *testing.T) {
	e := start(t, 1, "")
	codes := make([]string, 0, len(simulator.ErrorCodes))
	for c := range simulator.ErrorCodes {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	for i, code := range codes {
		want, ok := expectedCodes[code]
		if !ok {
			want = codeExpectation{status: 502}
		}
		t.Run("code="+code, func(t *testing.T) {
			cmd := fmt.Sprintf("echo fault-code-%d", i)
			// One answer with the code: a code that proves nothing ran is
			// resent once and the command then runs once; any other code
			// is final and nothing runs.
			e.sim.Inject(simulator.Fault{Action: "InvokeShellCommand", Code: code})
			status, res := e.command(t, cmd, false)
			if want.resent {
				if status != 202 || res.CommandID == "" || e.runs(cmd) != 1 || e.invokeCalls(cmd) != 2 {
					t.Fatalf("one %s answer: %d %+v, runs %d, calls %d; want accepted after one resend, run once",
						code, status, res, e.runs(cmd), e.invokeCalls(cmd))
				}
				// Persistent: the resends are bounded and the error
				// reaches the caller; nothing ran.
				cmd += "-persistent"
				e.sim.Inject(simulator.Fault{Action: "InvokeShellCommand", Code: code, Times: 50})
				status, res = e.command(t, cmd, false)
				if err := e.direct.Drain(); err != nil {
					t.Fatal(err)
				}
				if calls := e.invokeCalls(cmd); calls < 2 || calls > 5 {
					t.Errorf("persistent %s: %d calls, want a bounded number of resends", code, calls)
				}
			} else if calls := e.invokeCalls(cmd); calls != 1 {
				t.Errorf("%s: the command was sent %d times, want once", code, calls)
			}
			checkError(t, status, res, code, want.status, want.retryable)
			if res.CommandID != "" || e.runs(cmd) != 0 {
				t.Errorf("%s: commandId %q, runs %d; want nothing run", code, res.CommandID, e.runs(cmd))
			}
			e.stillServes(t, fmt.Sprintf("code-%d", i))
		})
	}

	t.Run("drop-before-execute", func(t *testing.T) {
		cmd := "echo fault-drop-before"
		e.sim.Inject(simulator.Fault{Action: "InvokeShellCommand", DropBeforeExecute: true})
		status, res := e.command(t, cmd, false)
		// The gateway cannot tell a reset before execution from one after:
		// it must not resend, and must say the outcome is unknown.
		checkError(t, status, res, "OutcomeUnknown", http.StatusBadGateway, false)
		if e.runs(cmd) != 0 || e.invokeCalls(cmd) != 1 || !e.sentMarked(cmd) {
			t.Errorf("runs %d, calls %d, marked %v; want 0 runs, 1 marked call", e.runs(cmd), e.invokeCalls(cmd), e.sentMarked(cmd))
		}
		// It looked the command up, found nothing and says so; it still
		// cannot promise that nothing will run.
		if !strings.Contains(res.Error.Message, "look it up") || !strings.Contains(res.Error.Message, "lists no command carrying the marker") {
			t.Errorf("message %q: want the advice to look it up and what the look-up showed", res.Error.Message)
		}
		e.stillServes(t, "drop-before")
	})

	// The command ran but its answer was lost (the connection dropped, or
	// a 2xx answer that cannot be read): the gateway finds it by the
	// marker it sent with it, never sends it again, and answers as if the
	// answer had arrived.
	for _, f := range []struct {
		name  string
		fault simulator.Fault
	}{
		{"drop-after-execute", simulator.Fault{Action: "InvokeShellCommand", DropAfterExecute: true}},
		{"malformed-answer", simulator.Fault{Action: "InvokeShellCommand", MalformedBody: true}},
	} {
		for _, wait := range []any{false, 10} {
			name := fmt.Sprintf("%s/wait=%v", f.name, wait)
			t.Run(name, func(t *testing.T) {
				cmd := fmt.Sprintf("echo fault-%s-%v", f.name, wait)
				e.sim.Inject(f.fault)
				status, res := e.command(t, cmd, wait)
				if e.runs(cmd) != 1 || e.invokeCalls(cmd) != 1 || !e.sentMarked(cmd) {
					t.Fatalf("runs %d, calls %d, marked %v; want exactly one marked call and one run",
						e.runs(cmd), e.invokeCalls(cmd), e.sentMarked(cmd))
				}
				if res.CommandID == "" {
					t.Fatalf("%d %+v: the command ran but the result carries no commandId", status, res)
				}
				if res.Error != nil || res.Request == nil || res.Request.Command != cmd {
					t.Errorf("result %+v: want no error and the command as asked, without the marker", res)
				}
				if wait == false && (status != 202 || res.Status != "accepted") {
					t.Errorf("%d %s: want 202 accepted", status, res.Status)
				}
				if wait != false && (status != 200 || res.Status != "succeeded" || len(res.Results) != 1 || res.Results[0].Output != strings.TrimPrefix(cmd, "echo ")+"\n") {
					t.Errorf("%d %+v: want 200 succeeded with the output", status, res)
				}
				// The commandId is the one of the command that ran.
				out := e.status(t, res.CommandID)
				if out.Status != "succeeded" || len(out.Results) != 1 || out.Results[0].Output != strings.TrimPrefix(cmd, "echo ")+"\n" {
					t.Errorf("status of %s: %+v, want the output of %q", res.CommandID, out, cmd)
				}
				if e.runs(cmd) != 1 || e.invokeCalls(cmd) != 1 {
					t.Errorf("after the look-up: runs %d, calls %d; want one of each", e.runs(cmd), e.invokeCalls(cmd))
				}
				e.stillServes(t, strings.ReplaceAll(name, "/", "-"))
			})
		}
	}

	t.Run("slow-status-past-wait", func(t *testing.T) {
		cmd := "echo fault-slow-status"
		e.sim.Inject(simulator.Fault{Action: "ListInvocationStatus", Latency: 3 * time.Second, Times: 3})
		status, res := e.command(t, cmd, 1)
		if err := e.direct.Drain(); err != nil {
			t.Fatal(err)
		}
		if status != 202 || res.Status != "running" || res.CommandID == "" {
			t.Fatalf("%d %+v: want 202 running with the commandId (the wait ended first)", status, res)
		}
		if e.runs(cmd) != 1 {
			t.Errorf("ran %d times", e.runs(cmd))
		}
		e.stillServes(t, "slow-status")
	})

	t.Run("status-errors-while-waiting", func(t *testing.T) {
		cmd := "echo fault-status-errors"
		e.sim.Inject(simulator.Fault{Action: "ListInvocationStatus", Code: "ServiceUnavailable", Times: 2})
		e.sim.Inject(simulator.Fault{Action: "ListInvocationStatus", DropAfterExecute: true})
		status, res := e.command(t, cmd, 10)
		if res.CommandID == "" || e.runs(cmd) != 1 {
			t.Fatalf("%d %+v, runs %d: want the commandId and one run", status, res, e.runs(cmd))
		}
		if status != 200 || res.Status != "succeeded" {
			t.Errorf("%d %s: want 200 succeeded once the status reads recover", status, res.Status)
		}
		e.stillServes(t, "status-errors")
	})

	t.Run("slow-invoke-past-deadline", func(t *testing.T) {
		if testing.Short() {
			t.Skip("waits out the 10 s E-HPC call timeout")
		}
		cmd := "echo fault-slow-invoke"
		e.sim.Inject(simulator.Fault{Action: "InvokeShellCommand", Latency: 11 * time.Second})
		began := time.Now()
		status, res := e.command(t, cmd, false)
		checkError(t, status, res, "UpstreamTimeout", http.StatusGatewayTimeout, false)
		// The simulator records the call once its slow answer is done.
		time.Sleep(time.Until(began.Add(11*time.Second + 500*time.Millisecond)))
		if e.invokeCalls(cmd) != 1 || e.runs(cmd) > 1 {
			t.Errorf("calls %d, runs %d: want one call, at most one run", e.invokeCalls(cmd), e.runs(cmd))
		}
		if e.runs(cmd) == 1 && res.CommandID == "" {
			t.Logf("gap: %s ran after the gateway gave up; the result carries no commandId", cmd)
		}
		e.stillServes(t, "slow-invoke")
	})
}

func checkError(t *testing.T, status int, res harness.Result, code string, httpStatus int, retryable bool) {
	t.Helper()
	if res.Error == nil {
		t.Fatalf("%d %+v: want error %s", status, res, code)
	}
	if status != httpStatus || res.Status != "error" || res.Error.Code != code || res.Error.HTTPStatus != httpStatus ||
		res.Error.Retryable != retryable || res.Error.Source != "ehpc" {
		t.Errorf("%d %s %+v; want %d error %s retryable=%v source ehpc", status, res.Status, *res.Error, httpStatus, code, retryable)
	}
}

// TestPolicyFaults: a broken policy bundle, an extension rule whose
// evaluation fails and one that loops each refuse the request with 503
// PolicyUnavailable; nothing runs, and the gateway keeps serving.
func TestPolicyFaults(t *testing.T) {
	t.Run("rules", func(t *testing.T) {
		dir, err := harness.WritePolicies(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		ext := `package hpcgate.ext.faults

deny contains reason if {
	input.request.command == "echo evaluation-error"
	reason := sprintf("%d", [to_number("not a number")])
}

deny contains "slow" if {
	input.request.command == "echo looping-rule"
	some i in numbers.range(1, 100000)
	some j in numbers.range(1, 100000)
	i * j < 0
}
`
		if err := os.WriteFile(filepath.Join(dir, "faults.rego"), []byte(ext), 0o600); err != nil {
			t.Fatal(err)
		}
		e := start(t, 1, dir)
		for _, cmd := range []string{"echo evaluation-error", "echo looping-rule"} {
			status, res := e.command(t, cmd, false)
			checkPolicyUnavailable(t, cmd, status, res)
			if e.runs(cmd) != 0 {
				t.Errorf("%s ran", cmd)
			}
			e.stillServes(t, strings.Fields(cmd)[1])
		}
	})
	t.Run("broken-bundle", func(t *testing.T) {
		bundle := filepath.Join(t.TempDir(), "bundle.tar.gz")
		if err := os.WriteFile(bundle, []byte("\x1f\x8b\x08\x00 not really a gzip stream"), 0o600); err != nil {
			t.Fatal(err)
		}
		e := start(t, 1, noPolicies, "HPCGATE_POLICY_BUNDLE_URL="+bundle)
		cmd := "echo broken-bundle"
		status, res := e.command(t, cmd, false)
		checkPolicyUnavailable(t, cmd, status, res)
		if n := e.sim.Invocations(); n != 0 {
			t.Errorf("%d commands ran without a policy", n)
		}
	})
}

func checkPolicyUnavailable(t *testing.T, cmd string, status int, res harness.Result) {
	t.Helper()
	if status != 503 || res.Status != "error" || res.Error == nil || res.Error.Code != "PolicyUnavailable" || res.Error.Source != "policy" || res.CommandID != "" {
		t.Errorf("%s: %d %+v; want 503 PolicyUnavailable from the policy, nothing run", cmd, status, res)
	}
	if res.Decision != nil && res.Decision.Allow {
		t.Errorf("%s: decision allows", cmd)
	}
}
