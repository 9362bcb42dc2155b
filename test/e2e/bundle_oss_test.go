package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	opabundle "github.com/open-policy-agent/opa/v1/bundle"

	"github.com/hpcgate/hpcgate/test/fcemu"
	"github.com/hpcgate/hpcgate/test/osssim"
)

// signedBundle writes an OPA bundle of governance data allowing the
// direct-invoke principal the given programs, as `opa build --signing-key`
// does. With tamper, the data is changed after signing (to allow "cat"
// too), which verification must refuse.
func signedBundle(t *testing.T, key *rsa.PrivateKey, revision string, programs []string, tamper bool) []byte {
	t.Helper()
	data := func(programs []string) map[string]any {
		list, _ := json.Marshal(programs)
		raw := fmt.Sprintf(`{"policies": {"Bundle-%s": {"Version": "1", "Statement": [
		  {"Sid": "Programs", "Effect": "Allow", "Action": "ehpc:InvokeShellCommand", "Resource": "*",
		   "Condition": {"ForAllValues:StringEquals": {"hpcgate:Program": %s}}}]}},
		  "attachments": {"service": {"invoke": ["Bundle-%s"]}}}`, revision, list, revision)
		var doc map[string]any
		if err := json.Unmarshal([]byte(raw), &doc); err != nil {
			t.Fatal(err)
		}
		return doc
	}
	b := opabundle.Bundle{Data: data(programs), Manifest: opabundle.Manifest{Revision: revision}}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := b.GenerateSignature(opabundle.NewSigningConfig(string(pemKey), "RS256", ""), "default", false); err != nil {
		t.Fatal(err)
	}
	if tamper {
		b.Data = data(append(programs, "cat"))
	}
	var buf bytes.Buffer
	if err := opabundle.NewWriter(&buf).DisableFormat(true).Write(b); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestPolicyBundleFromOSS publishes a signed bundle to the OSS stand-in,
// starts the gateway through the FC emulator with STS credentials and
// HPCGATE_POLICY_BUNDLE_URL=oss://…, changes the bundle and sees the new
// revision decide after the poll, then breaks the signature and sees the
// old revision stay, with /healthz saying why and how stale.
func TestPolicyBundleFromOSS(t *testing.T) {
	const (
		bucket = "corp-policy"
		object = "hpcgate/bundle.tar.gz"
		// FC puts the role's credentials in ALIBABA_CLOUD_* at start and
		// hands fresh ones with every invocation.
		startAK, startSecret, startToken = "STS.e2eStartupKey01", "startup-secret", "startup-token"
		invAK, invSecret, invToken       = "STS.e2eInvokeKey001", "invoke-secret", "invoke-token"
	)
	_, ehpcEndpoint := newSim(t, 1)

	oss := osssim.New(osssim.Config{})
	ossEndpoint, err := oss.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { oss.Close() })
	// Both keys carry exactly the function role's policy as deployed.
	raw, err := os.ReadFile("../../deploy/ram/function-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	rolePolicy := strings.NewReplacer("{{ACCOUNT_ID}}", osssim.DefaultAccount, "{{REGION}}", osssim.DefaultRegion,
		"{{POLICY_BUCKET}}", bucket, "{{POLICY_OBJECT}}", object, "{{LOG_PROJECT}}", "p", "{{LOG_STORE}}", "s").Replace(string(raw))
	for _, k := range [][3]string{{startAK, startSecret, startToken}, {invAK, invSecret, invToken}} {
		oss.AddSTS(k[0], k[1], k[2], time.Now().Add(time.Hour))
		if err := oss.SetPolicy(k[0], []byte(rolePolicy)); err != nil {
			t.Fatal(err)
		}
	}

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pubFile := filepath.Join(t.TempDir(), "bundle-pub.pem")
	if err := os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600); err != nil {
		t.Fatal(err)
	}
	oss.Put(bucket, object, signedBundle(t, key, "r1", []string{"echo"}, false))

	emu, err := fcemu.New(fcemu.Config{FunctionName: "hpcgate", Timeout: 30 * time.Second,
		Credentials: fcemu.Credentials{AccessKeyID: startAK, AccessKeySecret: startSecret, SecurityToken: startToken}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	proc, err := emu.Start(t.Context(), binary, []string{
		"HPCGATE_EHPC_ENDPOINT=" + ehpcEndpoint,
		"HPCGATE_POLICY_BUNDLE_URL=oss://" + bucket + "/" + object,
		"HPCGATE_POLICY_BUNDLE_PUBLIC_KEY=" + pubFile,
		"HPCGATE_POLICY_POLL_INTERVAL=1s",
		"HPCGATE_OSS_ENDPOINT=" + ossEndpoint,
		"HPCGATE_ACCOUNT_ID=123456",
		"HPCGATE_EVENTS=http,invoke",
		"HPCGATE_OWNER_KEY=" + ownerKey,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("function logs:\n%s", proc.Logs())
		}
	})

	invoke := func(payload string) []byte {
		t.Helper()
		resp, err := emu.Invoke(t.Context(), fcemu.Invocation{Payload: []byte(payload), Timeout: 30 * time.Second,
			Credentials: fcemu.Credentials{AccessKeyID: invAK, AccessKeySecret: invSecret, SecurityToken: invToken}})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Error != nil {
			t.Fatalf("function error: %+v", resp.Error)
		}
		return resp.Body
	}
	// decide dry-runs command as the direct-invoke principal and returns
	// the allow bit and the policy that allowed it ("Bundle-<revision>").
	decide := func(command string) (bool, string) {
		t.Helper()
		body := invoke(fmt.Sprintf(`{"clusterId":%q,"command":%q,"dryRun":true}`, cluster, command))
		var res struct {
			Status   string `json:"status"`
			Decision *struct {
				Allow   bool `json:"allow"`
				Reasons []struct {
					Policy string `json:"policy"`
				} `json:"reasons"`
			} `json:"decision"`
		}
		if err := json.Unmarshal(body, &res); err != nil || res.Decision == nil {
			t.Fatalf("no decision: %s", body)
		}
		if !res.Decision.Allow || len(res.Decision.Reasons) == 0 {
			return false, ""
		}
		return true, res.Decision.Reasons[0].Policy
	}
	// untilAllowedBy invokes (each invocation lets a due poll start)
	// until policy allows command; the bound only keeps a broken build
	// from hanging.
	untilAllowedBy := func(command, policy string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			if allow, got := decide(command); allow && got == policy {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never allowed %q", policy, command)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	getsSince := func(from int) (all []osssim.Call) {
		for _, c := range oss.Calls()[from:] {
			if c.Op == "GetObject" {
				all = append(all, c)
			}
		}
		return all
	}

	// r1 was read at start, with the credentials FC gave the instance.
	if allow, by := decide("echo hi"); !allow || by != "Bundle-r1" {
		t.Fatalf("r1: allow %t by %q", allow, by)
	}
	first := getsSince(0)
	if len(first) == 0 || first[0].AccessKeyID != startAK || first[0].Status != 200 {
		t.Fatalf("first GET %+v: want 200 signed with the start-up STS key", first)
	}

	// Unchanged polls cost one conditional GET answered 304 each, signed
	// with the invocation's credentials.
	mark := len(oss.Calls())
	deadline := time.Now().Add(30 * time.Second)
	for len(getsSince(mark)) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the gateway did not poll")
		}
		decide("echo hi")
		time.Sleep(200 * time.Millisecond)
	}
	for _, g := range getsSince(mark) {
		if g.Status != 304 || g.AccessKeyID != invAK || !strings.Contains(g.Conditional, "If-None-Match") {
			t.Fatalf("unchanged poll %+v: want a conditional GET answered 304 with the invocation's key", g)
		}
	}

	// A new revision decides after the poll.
	oss.Put(bucket, object, signedBundle(t, key, "r2", []string{"hostname"}, false))
	untilAllowedBy("hostname", "Bundle-r2")
	if allow, _ := decide("echo hi"); allow {
		t.Fatal("r2 still allows echo")
	}

	// A bundle whose signature no longer matches is refused; r2 stays.
	oss.Put(bucket, object, signedBundle(t, key, "r3", []string{"hostname"}, true))
	deadline = time.Now().Add(30 * time.Second)
	for !strings.Contains(string(proc.Logs()), "policy bundle refused") {
		if time.Now().After(deadline) {
			t.Fatal("the tampered bundle was never refused")
		}
		decide("hostname")
		time.Sleep(200 * time.Millisecond)
	}
	if allow, by := decide("hostname"); !allow || by != "Bundle-r2" {
		t.Fatalf("after the tampered bundle: allow %t by %q, want r2 in force", allow, by)
	}
	if allow, _ := decide("cat /etc/hostname"); allow {
		t.Fatal("the tampered bundle's grant took effect")
	}

	// /healthz names the revision in force, the last error and how stale
	// the set is.
	health := invoke(`{"version":"v1","rawPath":"/healthz","isBase64Encoded":false,"body":"","headers":{"X-Forwarded-Proto":"https"},"queryParameters":{},
		"requestContext":{"accountId":"123456","domainName":"x.cn-hangzhou.fcapp.run","requestId":"1-h","http":{"method":"GET","path":"/healthz","protocol":"HTTP/1.1","sourceIp":"10.1.2.3","userAgent":"curl"}}}`)
	var hr struct {
		StatusCode int    `json:"statusCode"`
		Body       string `json:"body"`
	}
	if err := json.Unmarshal(health, &hr); err != nil {
		t.Fatalf("healthz: %s", health)
	}
	var h struct {
		PolicyRevision string `json:"policyRevision"`
		Bundle         struct {
			Source       string `json:"source"`
			LastError    string `json:"lastError"`
			StaleSeconds *int64 `json:"staleSeconds"`
		} `json:"bundle"`
	}
	if err := json.Unmarshal([]byte(hr.Body), &h); err != nil {
		t.Fatalf("healthz body: %s", hr.Body)
	}
	if hr.StatusCode != 200 || h.PolicyRevision != "bundle:r2" || h.Bundle.Source != "oss://"+bucket+"/"+object ||
		!strings.Contains(h.Bundle.LastError, "digest mismatch") || h.Bundle.StaleSeconds == nil {
		t.Fatalf("healthz %d: %s", hr.StatusCode, hr.Body)
	}

	logs := string(proc.Logs())
	for _, s := range []string{startSecret, startToken, invSecret, invToken} {
		if strings.Contains(logs, s) {
			t.Errorf("function logs contain a secret (%.8s…)", s)
		}
	}
}
