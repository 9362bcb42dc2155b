package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"
)

// waitAnswer is the part of a result the waiting contract is about.
type waitAnswer struct {
	Status    string `json:"status"`
	CommandID string `json:"commandId"`
	RequestID string `json:"requestId"`
	Results   []struct {
		InstanceID string `json:"instanceId"`
		Status     string `json:"status"`
		ExitCode   *int   `json:"exitCode"`
		Output     string `json:"output"`
	} `json:"results"`
}

func call(t *testing.T, method, url, token string, body any) (*http.Response, waitAnswer, time.Duration) {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var a waitAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Fatal(err)
	}
	return resp, a, time.Since(start)
}

// The waiting contract through local mode: "wait": N lasts N seconds for
// a command that runs on (only the lower bound is asserted: how late the
// answer comes depends on the machine), a 202 says where and when to ask
// again, unfinished nodes have exitCode null, GET ?wait= long-polls until
// the command ends, and every answer carries its request id.
func TestWaitingThroughLocalMode(t *testing.T) {
	_, endpoint := newSim(t, 2)
	p := newIDP(t)
	gw := startLocal(t, endpoint, p)
	alice := p.token(t, "alice")

	resp, a, took := call(t, "POST", gw.base+"/v1/commands", alice, map[string]any{"clusterId": cluster, "command": "sleep 4", "wait": 2})
	if resp.StatusCode != 202 || a.Status != "running" || took < 2*time.Second {
		t.Fatalf("wait 2 on sleep 4: HTTP %d %q after %s, want 202 running after at least 2s", resp.StatusCode, a.Status, took)
	}
	t.Logf("wait 2 answered after %s", took.Round(10*time.Millisecond))
	loc := resp.Header.Get("Location")
	if want := "/v1/commands/" + a.CommandID + "?clusterId=" + cluster; loc != want || resp.Header.Get("Retry-After") == "" {
		t.Errorf("Location %q Retry-After %q, want %q and a delay", loc, resp.Header.Get("Retry-After"), want)
	}
	if a.RequestID == "" || a.RequestID != resp.Header.Get("X-Request-Id") {
		t.Errorf("requestId %q, want the X-Request-Id %q", a.RequestID, resp.Header.Get("X-Request-Id"))
	}
	if len(a.Results) != 2 {
		t.Fatalf("results %+v, want both nodes", a.Results)
	}
	for _, n := range a.Results {
		if n.ExitCode != nil {
			t.Errorf("node %s still running has exitCode %d, want null", n.InstanceID, *n.ExitCode)
		}
	}

	resp, a, took = call(t, "GET", gw.base+loc+"&wait=30", alice, nil)
	if resp.StatusCode != 200 || a.Status != "succeeded" || took > 25*time.Second {
		t.Fatalf("GET wait=30: HTTP %d %q after %s, want 200 succeeded when the command ends", resp.StatusCode, a.Status, took)
	}
	t.Logf("GET wait=30 answered after %s, when the command ended", took.Round(10*time.Millisecond))
	for _, n := range a.Results {
		if n.ExitCode == nil || *n.ExitCode != 0 {
			t.Errorf("finished node %+v, want exit code 0", n)
		}
	}
	if resp.Header.Get("Location") != "" {
		t.Error("a finished command's answer has a Location")
	}

	resp, a, _ = call(t, "GET", gw.base+"/v1/commands/"+a.CommandID+"?clusterId="+cluster+"&wait=soon", alice, nil)
	if resp.StatusCode != 400 || a.RequestID == "" {
		t.Errorf("wait=soon: HTTP %d %+v, want 400 with a request id", resp.StatusCode, a)
	}
}
