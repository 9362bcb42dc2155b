// Package load drives the real gateway binary in local mode against the
// E-HPC simulator: a mixed load of allowed, denied and invalid requests,
// injected E-HPC and policy faults, and malformed requests and events.
package load

import (
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/hpcgate/hpcgate/test/ehpcsim/simulator"
	"github.com/hpcgate/hpcgate/test/harness"
)

// binary is the gateway, built once for the package.
var binary string

func TestMain(m *testing.M) { os.Exit(harness.RunWithGateway(m, &binary)) }

// env is one gateway in local mode in front of its own simulator.
type env struct {
	sim    *simulator.Simulator
	direct *harness.Direct
	gw     *harness.Local
	client *harness.Client
	token  string
}

// noPolicies, as start's policies, gives the gateway no policy directory.
const noPolicies = "-"

// start runs a simulator of nodes nodes and a gateway in front of it with
// the harness policies, or the policy directory policies when not empty.
func start(t *testing.T, nodes int, policies string, extraEnv ...string) *env {
	t.Helper()
	sim, endpoint, err := harness.NewSimulator(nodes)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	switch policies {
	case "":
		if policies, err = harness.WritePolicies(t.TempDir()); err != nil {
			t.Fatal(err)
		}
	case noPolicies:
		policies = ""
	}
	idp, err := harness.NewIDP(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	gw, err := harness.StartLocal(t.Context(), harness.LocalConfig{
		Binary: binary, Endpoint: endpoint, Policies: policies, IDP: idp, Env: extraEnv,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		gw.Close()
		if t.Failed() {
			t.Logf("gateway logs (tail):\n%s", tail(gw.Logs(), 4000))
		}
	})
	direct, err := harness.NewDirect(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	token, err := idp.Token(harness.User)
	if err != nil {
		t.Fatal(err)
	}
	return &env{sim: sim, direct: direct, gw: gw, client: harness.NewClient(gw.Base, 128), token: token}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// command posts one request for the harness cluster.
func (e *env) command(t *testing.T, command string, wait any) (int, harness.Result) {
	t.Helper()
	code, res, raw, err := e.client.Do(t.Context(), "POST", "/v1/commands", e.token,
		map[string]any{"clusterId": harness.Cluster, "command": command, "wait": wait})
	if err != nil {
		t.Fatalf("POST %q: %v (%s)", command, err, raw)
	}
	return code, res
}

// stillServes checks that the gateway runs a fresh command afterwards.
func (e *env) stillServes(t *testing.T, tag string) {
	t.Helper()
	cmd := "echo still-serving-" + tag
	code, res := e.command(t, cmd, false)
	if code != 202 || res.Status != "accepted" || res.CommandID == "" {
		t.Fatalf("after the fault: %d %+v, want 202 accepted with a commandId", code, res)
	}
	if n := e.runs(cmd); n != 1 {
		t.Fatalf("after the fault: %q ran %d times, want 1", cmd, n)
	}
}

// status reads a command's status and output through the gateway, for
// as long as it runs (at most 10 s).
func (e *env) status(t *testing.T, commandID string) harness.Result {
	t.Helper()
	path := "/v1/commands/" + commandID + "?clusterId=" + harness.Cluster
	for range 100 {
		code, res, raw, err := e.client.Do(t.Context(), "GET", path, e.token, nil)
		if err != nil || code >= 300 {
			t.Fatalf("GET %s: %d %v (%s)", path, code, err, raw)
		}
		if res.Status != "running" {
			return res
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GET %s: still running", path)
	return harness.Result{}
}

// markerLine is the last line the gateway adds to every command it
// sends: a shell comment with a random marker, by which it finds the
// command again when E-HPC's answer is lost, and the seal of its owner.
var markerLine = regexp.MustCompile(`\n# hpcgate:[A-Z2-7]{26,}(?: o1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43})?$`)

// unmark returns the command a caller asked for, given the text E-HPC
// received.
func unmark(sent string) string {
	return markerLine.ReplaceAllString(sent, "")
}

// runs counts the executions of the command a caller asked for.
func (e *env) runs(command string) int {
	return e.sim.RunsBy(unmark)[command]
}

// invokeCalls counts the InvokeShellCommand calls that carried command.
func (e *env) invokeCalls(command string) int {
	n := 0
	for _, c := range e.sim.Calls() {
		if c.Action == "InvokeShellCommand" && unmark(c.Params.Get("Command")) == command {
			n++
		}
	}
	return n
}

// sentMarked reports whether every InvokeShellCommand call that carried
// command had a marker line, and there was at least one.
func (e *env) sentMarked(command string) bool {
	n := 0
	for _, c := range e.sim.Calls() {
		if sent := c.Params.Get("Command"); c.Action == "InvokeShellCommand" && unmark(sent) == command {
			if !markerLine.MatchString(sent) {
				return false
			}
			n++
		}
	}
	return n > 0
}
