package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hpcgate/hpcgate/test/harness"
)

// opaBuild builds a signed bundle of dir with the OPA CLI pinned in
// go.mod, as policies/README.md tells platform teams to.
func opaBuild(t *testing.T, dir, key, out string) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "go", "-C", "../..", "tool", "opa", "build", "-b", dir, "--signing-key", key, "-o", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("opa build: %v\n%s", err, b)
	}
}

// policyDir writes governance data under name into a new directory.
func policyDir(t *testing.T, name string, data []byte) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// signingKey writes an RSA key pair as PEM files and returns their paths.
func signingKey(t *testing.T) (priv, pub string) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	priv, pub = filepath.Join(dir, "key.pem"), filepath.Join(dir, "pub.pem")
	if err := os.WriteFile(priv, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

// startWithBundle runs local mode with a policy bundle instead of a
// directory, polled every second.
func startWithBundle(t *testing.T, endpoint string, p *idp, bundle, pub string) *harness.Local {
	t.Helper()
	l, err := harness.StartLocal(t.Context(), harness.LocalConfig{
		Binary: binary, Endpoint: endpoint, IDP: p.IDP,
		Env: []string{"HPCGATE_LOG_LEVEL=info", "HPCGATE_POLICY_BUNDLE_URL=" + bundle,
			"HPCGATE_POLICY_BUNDLE_PUBLIC_KEY=" + pub, "HPCGATE_POLICY_POLL_INTERVAL=1s"},
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
	return l
}

type health struct {
	Status   string `json:"status"`
	Revision string `json:"policyRevision"`
	Policy   *struct {
		Policies, Statements, Principals, Routes, ExtensionRules int
	} `json:"policy"`
}

func getHealth(t *testing.T, gw *local) (int, health) {
	t.Helper()
	status, _, raw, err := harness.NewClient(gw.base, 1).Do(t.Context(), "GET", "/healthz", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var h health
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatalf("healthz: %v: %s", err, raw)
	}
	return status, h
}

// decision is the decision of a result with what explains a deny.
type decision struct {
	Decision struct {
		Allow   bool `json:"allow"`
		Reasons []struct {
			Sid     string `json:"sid"`
			Matched []struct {
				Key       string   `json:"key"`
				Offending []string `json:"offending"`
			} `json:"matched"`
		} `json:"reasons"`
		NearMisses []struct {
			Policy string `json:"policy"`
			Sid    string `json:"sid"`
			Failed []struct {
				Key           string   `json:"key"`
				Operator      string   `json:"operator"`
				Values        []string `json:"values"`
				RequestValues []string `json:"requestValues"`
				Offending     []string `json:"offending"`
			} `json:"failed"`
		} `json:"nearMisses"`
		Explanation string `json:"explanation"`
	} `json:"decision"`
}

// TestLocalGovernance is issue 15 through local mode: a bundle built with
// opa build as the guide says serves and shows what it holds, an empty one
// never replaces it, a denial explains itself, and the gateway's own log
// replays under changed policies with the built binary's check.
func TestLocalGovernance(t *testing.T) {
	_, endpoint := newSim(t, 1)
	p := newIDP(t)
	alice := p.token(t, "alice")
	gov, err := os.ReadFile("testdata/policies/governance.json")
	if err != nil {
		t.Fatal(err)
	}
	key, pub := signingKey(t)
	bundle := filepath.Join(t.TempDir(), "bundle.tar.gz")
	opaBuild(t, policyDir(t, "data.json", gov), key, bundle)
	l := startWithBundle(t, endpoint, p, bundle, pub)
	gw := &local{base: l.Base, logs: logsFunc(l.Logs)}

	t.Run("healthz shows the bundle's revision and counts", func(t *testing.T) {
		status, h := getHealth(t, gw)
		if status != 200 || !strings.HasPrefix(h.Revision, "bundle:") || h.Policy == nil ||
			h.Policy.Policies != 2 || h.Policy.Statements != 3 || h.Policy.Principals != 7 || h.Policy.Routes == 0 {
			t.Errorf("HTTP %d %+v %+v", status, h, h.Policy)
		}
	})

	t.Run("an implicit deny names the near miss", func(t *testing.T) {
		status, _, raw := gw.do(t, "POST", "/v1/commands", alice, map[string]any{"clusterId": cluster, "command": "echo hi | grep h", "dryRun": true})
		var d decision
		if err := json.Unmarshal(raw, &d); err != nil || status != 403 || len(d.Decision.NearMisses) != 1 {
			t.Fatalf("HTTP %d: %s", status, raw)
		}
		nm := d.Decision.NearMisses[0]
		if nm.Policy != "Echoers" || nm.Sid != "EchoAndHostname" || len(nm.Failed) != 1 {
			t.Fatalf("near miss %+v", nm)
		}
		f := nm.Failed[0]
		if f.Key != "hpcgate:Program" || f.Operator != "ForAllValues:StringEquals" || strings.Join(f.RequestValues, ",") != "echo,grep" || strings.Join(f.Offending, ",") != "grep" {
			t.Errorf("failed condition %+v", f)
		}
		if !strings.Contains(d.Decision.Explanation, "Echoers/EchoAndHostname") || !strings.Contains(d.Decision.Explanation, "grep") {
			t.Errorf("explanation %q", d.Decision.Explanation)
		}
	})

	t.Run("an explicit deny names the values that matched", func(t *testing.T) {
		status, _, raw := gw.do(t, "POST", "/v1/commands", alice, map[string]any{"clusterId": cluster, "command": "echo hi > /tmp/x", "dryRun": true})
		var d decision
		if err := json.Unmarshal(raw, &d); err != nil || status != 403 || len(d.Decision.Reasons) != 1 {
			t.Fatalf("HTTP %d: %s", status, raw)
		}
		r := d.Decision.Reasons[0]
		if r.Sid != "NoRedirects" || len(r.Matched) != 1 || r.Matched[0].Key != "hpcgate:ShellFeature" || strings.Join(r.Matched[0].Offending, ",") != "output-redirect" {
			t.Errorf("reason %+v", r)
		}
	})

	t.Run("the log replays under changed policies", func(t *testing.T) {
		gw.do(t, "POST", "/v1/commands", alice, map[string]any{"clusterId": cluster, "command": "echo still fine", "dryRun": true})
		log := filepath.Join(t.TempDir(), "gateway.log")
		if err := os.WriteFile(log, []byte(gw.logs.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		changed := policyDir(t, "data.json", []byte(strings.Replace(string(gov), `"hpcgate:Program": ["echo", "hostname"`, `"hpcgate:Program": ["echo", "grep", "hostname"`, 1)))
		cmd := exec.CommandContext(t.Context(), binary, "check", "--policies", changed, "--replay", log)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Fatalf("check --replay: %v, want exit 2\n%s%s", err, out, stderr.String())
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != 1 || !strings.Contains(lines[0], `"command":"echo hi | grep h"`) || !strings.Contains(lines[0], `"before":"deny","after":"allow"`) {
			t.Errorf("changes:\n%s", out)
		}
		if !strings.Contains(stderr.String(), "1 decisions change: deny→allow 1") || !strings.Contains(stderr.String(), "user alice: deny→allow 1") {
			t.Errorf("summary:\n%s", stderr.String())
		}
	})

	t.Run("an empty bundle is refused and the last good set stays", func(t *testing.T) {
		_, before := getHealth(t, gw)
		// The layout the guide once described: opa build leaves governance.json out.
		opaBuild(t, policyDir(t, "governance.json", gov), key, bundle)
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(gw.logs.String(), "no governance data") {
			if time.Now().After(deadline) {
				t.Fatal("the empty bundle was never checked")
			}
			getHealth(t, gw) // each request lets a due check start
			time.Sleep(200 * time.Millisecond)
		}
		if status, h := getHealth(t, gw); status != 200 || h.Revision != before.Revision || h.Policy == nil || h.Policy.Statements != 3 {
			t.Errorf("after an empty bundle: HTTP %d %+v", status, h)
		}
	})

	t.Run("with no set in force healthz is 503 and requests fail closed", func(t *testing.T) {
		empty := filepath.Join(t.TempDir(), "empty.tar.gz")
		opaBuild(t, policyDir(t, "governance.json", gov), key, empty)
		l := startWithBundle(t, endpoint, p, empty, pub)
		gw := &local{base: l.Base, logs: logsFunc(l.Logs)}
		if status, h := getHealth(t, gw); status != 503 || h.Revision != "" || h.Policy != nil {
			t.Errorf("healthz: HTTP %d %+v", status, h)
		}
		if status, res, raw := gw.do(t, "POST", "/v1/commands", alice, map[string]any{"clusterId": cluster, "command": "echo hi"}); status != 503 || res.Error == nil || res.Error.Code != "PolicyUnavailable" {
			t.Errorf("HTTP %d: %s", status, raw)
		}
	})
}
