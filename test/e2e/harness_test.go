package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/hpcgate/hpcgate/test/ehpcsim/simulator"
	"github.com/hpcgate/hpcgate/test/harness"
)

const cluster = "ehpc-e2e01"

// binary is the gateway, built once for the whole package.
var binary string

func TestMain(m *testing.M) { os.Exit(harness.RunWithGateway(m, &binary)) }

// idp mints tokens the gateway under test accepts.
type idp struct{ *harness.IDP }

func newIDP(t *testing.T) *idp {
	t.Helper()
	p, err := harness.NewIDP(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &idp{p}
}

func (p *idp) token(t *testing.T, sub string, groups ...string) string {
	t.Helper()
	tok, err := p.Token(sub, groups...)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// newSim starts an E-HPC simulator with the e2e cluster of n nodes.
func newSim(t *testing.T, n int) (*simulator.Simulator, string) {
	t.Helper()
	cfg := simulator.DefaultConfig()
	cfg.Clusters = []simulator.Cluster{{ID: cluster, Status: "Running", Nodes: simulator.NodeIDs(n)}}
	sim, err := simulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sim.Close() })
	endpoint, err := sim.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return sim, endpoint
}

// local is a running `hpcgate local`.
type local struct {
	base string
	logs interface{ String() string }
}

type logsFunc func() string

func (f logsFunc) String() string { return f() }

// startLocal runs the gateway in local mode against endpoint with the
// e2e policies and the idp's keys, and waits until it serves.
func startLocal(t *testing.T, endpoint string, p *idp, env ...string) *local {
	t.Helper()
	l, err := harness.StartLocal(t.Context(), harness.LocalConfig{
		Binary: binary, Endpoint: endpoint, Policies: "testdata/policies", IDP: p.IDP,
		Env: append([]string{"HPCGATE_LOG_LEVEL=info"}, env...),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		l.Close()
		if t.Failed() {
			t.Logf("gateway logs:\n%s", l.Logs())
		}
	})
	return &local{base: l.Base, logs: logsFunc(l.Logs)}
}

// result is the normalized result as a caller reads it.
type result = harness.Result

func (l *local) do(t *testing.T, method, path, token string, body any) (int, result, []byte) {
	t.Helper()
	status, _, raw, err := harness.NewClient(l.base, 1).Do(t.Context(), method, path, token, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	var res result
	if bytes.HasPrefix(raw, []byte("[")) {
		return status, res, raw // a list of results; the caller decodes it
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatalf("%s %s: answer is not JSON (%v): %s", method, path, err, raw)
	}
	return status, res, raw
}
