package e2e

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hpcgate/hpcgate/test/ehpcsim/simulator"
	"github.com/hpcgate/hpcgate/test/fcemu"
	"github.com/hpcgate/hpcgate/test/osssim"
)

// onceResult is what a delivery of an event answered: a result, or FC's
// function error (the event is to be delivered again).
type onceResult struct {
	Status    string `json:"status"`
	CommandID string `json:"commandId"`
	Duplicate *struct {
		CommandID string `json:"commandId"`
		Claimed   string `json:"claimed"`
	} `json:"duplicate"`
	Error *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Results []struct {
		Output string `json:"output"`
	} `json:"results"`
	// Set for a function error.
	ErrorType    string `json:"errorType"`
	ErrorMessage string `json:"errorMessage"`
}

// decodeDelivery reads an answer: a list of one result (OSS), one
// result, or an error body.
func decodeDelivery(t *testing.T, raw []byte) onceResult {
	t.Helper()
	var r onceResult
	if strings.HasPrefix(strings.TrimSpace(string(raw)), "[") {
		var list []onceResult
		if err := json.Unmarshal(raw, &list); err != nil || len(list) != 1 {
			t.Fatalf("want one result: %s", raw)
		}
		return list[0]
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatalf("not a result: %s", raw)
	}
	return r
}

// deliverer sends one copy of an event and returns the answer and
// whether it was a function error.
type deliverer func(t *testing.T, event []byte) onceResult

// deliver sends event as FC's asynchronous invocation would: again after
// a function error, up to three retries.
func deliver(t *testing.T, send deliverer, event []byte) (onceResult, int) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		r := send(t, event)
		if r.ErrorType == "" || attempt == 4 {
			return r, attempt
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func ossPut(key, etag, requestID string) []byte {
	b, _ := json.Marshal(map[string]any{"events": []any{map[string]any{
		"eventName": "ObjectCreated:PutObject", "eventSource": "acs:oss", "eventTime": "2026-12-05T06:21:35.000Z",
		"eventVersion": "1.0", "region": "cn-hangzhou",
		"responseElements": map[string]any{"requestId": requestID},
		"oss": map[string]any{"bucket": map[string]any{"name": "raw-data", "arn": "acs:oss:cn-hangzhou:123456:raw-data"},
			"object": map[string]any{"key": key, "size": 3, "eTag": etag}},
	}}})
	return b
}

// checkRunsOnce runs the redelivery patterns every deployment must pass
// through send, which may reach different function instances.
func checkRunsOnce(t *testing.T, sim *simulator.Simulator, send deliverer) {

	t.Run("sequential copies run once", func(t *testing.T) {
		before := sim.Invocations()
		ev := ossPut("incoming/seq.csv", "E1", "REQ-seq-1")
		first, _ := deliver(t, send, ev)
		if first.Status != "succeeded" || first.CommandID == "" || first.Duplicate != nil {
			t.Fatalf("first delivery: %+v %+v", first, first.Error)
		}
		for i := range 3 {
			dup, _ := deliver(t, send, ev)
			if dup.ErrorType != "" || dup.Duplicate == nil || dup.Duplicate.CommandID != first.CommandID || dup.CommandID != first.CommandID {
				t.Fatalf("copy %d: %+v; want a duplicate of %s", i+2, dup, first.CommandID)
			}
			if dup.Status != "succeeded" || len(dup.Results) == 0 || dup.Results[0].Output != "incoming/seq.csv\n" {
				t.Errorf("copy %d: %+v; want the original's outcome", i+2, dup)
			}
		}
		if n := sim.Invocations() - before; n != 1 {
			t.Errorf("%d commands ran, want 1", n)
		}
	})

	t.Run("a new version of the key runs", func(t *testing.T) {
		before := sim.Invocations()
		a, _ := deliver(t, send, ossPut("incoming/ver.csv", "E1", "REQ-ver-1"))
		b, _ := deliver(t, send, ossPut("incoming/ver.csv", "E2", "REQ-ver-2"))
		if a.Duplicate != nil || b.Duplicate != nil || a.CommandID == b.CommandID || sim.Invocations()-before != 2 {
			t.Fatalf("two versions: %+v and %+v, %d commands", a, b, sim.Invocations()-before)
		}
	})

	t.Run("an upload through the OSS trigger and EventBridge runs once", func(t *testing.T) {
		before := sim.Invocations()
		ev := ossPut("incoming/both.csv", "E1", "REQ-both-1")
		var rec struct {
			Events []json.RawMessage `json:"events"`
		}
		json.Unmarshal(ev, &rec)
		ce, _ := json.Marshal(map[string]any{"id": "eb-both-1", "source": "acs.oss", "specversion": "1.0",
			"type": "oss:ObjectCreated:PutObject", "time": "2026-12-05T06:21:36Z",
			"subject": "acs:oss:cn-hangzhou:123456:raw-data/incoming/both.csv", "data": rec.Events[0]})
		a, _ := deliver(t, send, ev)
		b, _ := deliver(t, send, ce)
		if a.Status != "succeeded" || b.Duplicate == nil || b.CommandID != a.CommandID || sim.Invocations()-before != 1 {
			t.Fatalf("OSS then EventBridge: %+v, %+v, %d commands; want one run", a, b, sim.Invocations()-before)
		}
	})

	t.Run("concurrent copies run once", func(t *testing.T) {
		before := sim.Invocations()
		ev := ossPut("incoming/conc.csv", "E1", "REQ-conc-1")
		const copies = 6
		answers := make([]onceResult, copies)
		var wg sync.WaitGroup
		for i := range copies {
			wg.Go(func() { answers[i], _ = deliver(t, send, ev) })
		}
		wg.Wait()
		originals := 0
		for i, a := range answers {
			if a.ErrorType != "" || a.CommandID == "" || a.CommandID != answers[0].CommandID {
				t.Errorf("copy %d: %+v", i, a)
			}
			if a.Duplicate == nil {
				originals++
			}
		}
		if originals != 1 || sim.Invocations()-before != 1 {
			t.Errorf("%d answers were not duplicates, %d commands ran; want 1 and 1", originals, sim.Invocations()-before)
		}
	})

	t.Run("a retry after a lost answer finds the command", func(t *testing.T) {
		before := sim.Invocations()
		// The command runs, its answer is lost, and the look-up by marker
		// fails too: the delivery cannot tell, and asks to be retried.
		sim.Inject(simulator.Fault{Action: "InvokeShellCommand", DropAfterExecute: true})
		sim.Inject(simulator.Fault{Action: "ListCommands", Times: 2, Code: "AgentError"})
		ev := ossPut("incoming/lost.csv", "E1", "REQ-lost-1")
		first := send(t, ev)
		if first.ErrorType != "RedeliverError" || !strings.Contains(first.ErrorMessage, "OutcomeUnknown") {
			t.Fatalf("lost answer: %+v; want a function error so FC retries", first)
		}
		retry, attempts := deliver(t, send, ev)
		if retry.Duplicate == nil || retry.CommandID == "" || retry.Status != "succeeded" {
			t.Fatalf("retry (%d deliveries): %+v; want a duplicate naming the command that ran", attempts, retry)
		}
		if n := sim.Invocations() - before; n != 1 {
			t.Errorf("%d commands ran, want 1", n)
		}
	})

	t.Run("an idempotency key makes a direct invoke run once", func(t *testing.T) {
		before := sim.Invocations()
		inv := []byte(`{"clusterId":"` + cluster + `","command":"echo keyed","wait":20,"idempotencyKey":"job-42"}`)
		a, _ := deliver(t, send, inv)
		b, _ := deliver(t, send, inv)
		if a.Status != "succeeded" || b.Duplicate == nil || b.CommandID != a.CommandID || sim.Invocations()-before != 1 {
			t.Fatalf("keyed invokes: %+v, %+v, %d commands", a, b, sim.Invocations()-before)
		}
	})
}

func TestLocalEventsRunOnce(t *testing.T) {
	sim, endpoint := newSim(t, 1)
	p := newIDP(t)
	claims := t.TempDir()
	gw := startLocal(t, endpoint, p, "HPCGATE_CLAIM_DIR="+claims, "HPCGATE_CLAIM_WAIT=3s", "HPCGATE_EVENTS=invoke,oss,eventbridge", "HPCGATE_ACCOUNT_ID=123456")
	send := func(t *testing.T, event []byte) onceResult {
		_, _, raw := gw.do(t, "POST", "/invoke", "", event)
		return decodeDelivery(t, raw)
	}
	checkRunsOnce(t, sim, send)

	t.Run("a claim store fault runs nothing until it clears", func(t *testing.T) {
		// A file where the claims' directory must go: every create fails.
		block := filepath.Join(claims, "hpcgate")
		os.RemoveAll(block)
		if err := os.WriteFile(block, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		before := sim.Invocations()
		ev := ossPut("incoming/fault.csv", "E1", "REQ-fault-1")
		r := send(t, ev)
		if r.ErrorType != "RedeliverError" || !strings.Contains(r.ErrorMessage, "ClaimUnavailable") || sim.Invocations() != before {
			t.Fatalf("store fault: %+v, %d commands; want a function error and nothing run", r, sim.Invocations()-before)
		}
		os.Remove(block)
		r, _ = deliver(t, send, ev)
		r2, _ := deliver(t, send, ev)
		if r.Status != "succeeded" || r2.Duplicate == nil || sim.Invocations()-before != 1 {
			t.Fatalf("after the fault: %+v, %+v, %d commands; want one run", r, r2, sim.Invocations()-before)
		}
	})
}

// TestFunctionComputeEventsRunOnce delivers copies of events to two
// function instances (two processes, each behind its own runtime API)
// that share the claim bucket in the OSS stand-in, authorized by the
// deploy RAM policy.
func TestFunctionComputeEventsRunOnce(t *testing.T) {
	sim, endpoint := newSim(t, 1)
	const (
		ak     = "STS.e2eOnceKey"
		secret = "e2e-once-secret"
		token  = "e2e-once-token"
		bucket = "hpcgate-claims"
	)
	sim.AddSTS(ak, secret, token, time.Now().Add(time.Hour))
	oss := osssim.New(osssim.Config{})
	ossEndpoint, err := oss.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { oss.Close() })
	oss.AddSTS(ak, secret, token, time.Now().Add(time.Hour))
	oss.CreateBucket(bucket)
	doc, err := os.ReadFile("../../deploy/ram/event-function-policy.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := oss.SetPolicy(ak, []byte(strings.NewReplacer("{{ACCOUNT_ID}}", osssim.DefaultAccount, "{{CLAIM_BUCKET}}", bucket, "{{RAW_BUCKET}}", "raw-data", "{{REGION}}", osssim.DefaultRegion, "{{FAILURE_QUEUE}}", "q").Replace(string(doc)))); err != nil {
		t.Fatal(err)
	}
	policies, err := filepath.Abs("testdata/policies")
	if err != nil {
		t.Fatal(err)
	}

	var instances []*fcemu.Emulator
	for i := range 2 {
		emu, err := fcemu.New(fcemu.Config{FunctionName: "hpcgate", Timeout: 60 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { emu.Close() })
		proc, err := emu.Start(t.Context(), binary, []string{
			"HPCGATE_EHPC_ENDPOINT=" + endpoint, "HPCGATE_POLICIES_DIR=" + policies, "HPCGATE_ACCOUNT_ID=123456", "HPCGATE_EVENTS=invoke,oss,eventbridge", "HPCGATE_OWNER_KEY=" + ownerKey,
			"HPCGATE_CLAIM_BUCKET=" + bucket, "HPCGATE_OSS_ENDPOINT=" + ossEndpoint, "HPCGATE_CLAIM_WAIT=3s",
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("instance %d logs:\n%s", i, proc.Logs())
			}
		})
		instances = append(instances, emu)
	}
	var (
		mu   sync.Mutex
		next int
	)
	// Copies go to the instances in turn.
	send := func(t *testing.T, event []byte) onceResult {
		mu.Lock()
		emu := instances[next%len(instances)]
		next++
		mu.Unlock()
		resp, err := emu.Invoke(context.WithoutCancel(t.Context()), fcemu.Invocation{Payload: event, Timeout: 60 * time.Second, AccountID: "123456",
			Credentials: fcemu.Credentials{AccessKeyID: ak, AccessKeySecret: secret, SecurityToken: token}})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Error != nil {
			return onceResult{ErrorType: resp.Error.ErrorType, ErrorMessage: resp.Error.ErrorMessage}
		}
		return decodeDelivery(t, resp.Body)
	}
	checkRunsOnce(t, sim, send)

	t.Run("a claim store fault runs nothing until it clears", func(t *testing.T) {
		oss.Inject(osssim.Fault{Op: "PutObject", Times: 100, Code: osssim.CodeServiceUnavailable})
		before := sim.Invocations()
		ev := ossPut("incoming/fault.csv", "E1", "REQ-fault-1")
		for range 2 {
			r := send(t, ev)
			if r.ErrorType != "RedeliverError" || !strings.Contains(r.ErrorMessage, "ClaimUnavailable") || sim.Invocations() != before {
				t.Fatalf("store fault: %+v, %d commands; want a function error and nothing run", r, sim.Invocations()-before)
			}
		}
		oss.ClearFaults()
		r, _ := deliver(t, send, ev)
		r2, _ := deliver(t, send, ev)
		if r.Status != "succeeded" || r2.Duplicate == nil || sim.Invocations()-before != 1 {
			t.Fatalf("after the fault: %+v, %+v, %d commands; want one run", r, r2, sim.Invocations()-before)
		}
	})
	if n := oss.Count("DeleteObject"); n != 0 {
		t.Errorf("%d DeleteObject calls; claims are never deleted", n)
	}
}
