package load

import (
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var (
	loadRequests = flag.Int("load.requests", 10000, "requests TestLoad sends (1,000 with -short)")
	loadClients  = flag.Int("load.clients", 100, "concurrent clients of TestLoad")
)

// loadCase is one kind of request in the mix and what it must get back.
type loadCase struct {
	name     string
	body     func(i int) any // a value encoded as JSON, or a string sent as is
	noToken  bool
	status   int    // HTTP status
	result   string // normalized status
	code     string // error.code, "" for none
	runs     bool   // the command reaches E-HPC
	mustHave string // the command that must run exactly once (runs only)
}

// mix is the load: 4 in 10 allowed, 3 denied, 3 invalid or unauthenticated.
var mix = []loadCase{
	{name: "allowed", runs: true, status: 202, result: "accepted",
		body: func(i int) any { return req(fmt.Sprintf("echo load-%d", i)) }},
	{name: "allowed-true", runs: true, status: 202, result: "accepted",
		body: func(i int) any { return req(fmt.Sprintf("true load-%d", i)) }},
	{name: "allowed-pipe", runs: true, status: 202, result: "accepted",
		body: func(i int) any { return req(fmt.Sprintf("echo load-%d | true", i)) }},
	{name: "allowed-printf", runs: true, status: 202, result: "accepted",
		body: func(i int) any { return req(fmt.Sprintf("printf '%%s\\n' load-%d", i)) }},
	{name: "explicit-deny", status: 403, result: "denied", code: "PolicyDenied",
		body: func(i int) any { return req(fmt.Sprintf("rm -f /tmp/load-%d", i)) }},
	{name: "implicit-deny", status: 403, result: "denied", code: "PolicyDenied",
		body: func(i int) any { return req(fmt.Sprintf("ls /tmp/load-%d", i)) }},
	{name: "deny-in-substitution", status: 403, result: "denied", code: "PolicyDenied",
		body: func(i int) any { return req(fmt.Sprintf("echo $(rm -rf /tmp/load-%d)", i)) }},
	{name: "unparsable", status: 400, result: "invalid", code: "InvalidCommand",
		body: func(i int) any { return req(fmt.Sprintf("echo (load-%d", i)) }},
	{name: "bad-json", status: 400, result: "invalid",
		body: func(i int) any { return fmt.Sprintf(`{"clusterId":"ehpc-bench01","command":"echo load-%d"`, i) }},
	{name: "no-token", noToken: true, status: 401, result: "unauthenticated", code: "Unauthenticated",
		body: func(i int) any { return req(fmt.Sprintf("echo load-%d", i)) }},
}

func req(command string) map[string]any {
	return map[string]any{"clusterId": "ehpc-bench01", "command": command, "wait": false}
}

// TestLoad sends a mixed load through local mode to the simulator: no
// transport error, every answer a normalized result of the right kind,
// and exactly one execution per allowed request, none for the others.
func TestLoad(t *testing.T) {
	n := *loadRequests
	if testing.Short() {
		n = min(n, 1000)
	}
	e := start(t, 1, "")
	var (
		next      atomic.Int64
		transport atomic.Int64
		mu        sync.Mutex
		failures  []string
		allowed   []string
		perCase   = make([]atomic.Int64, len(mix))
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(failures) < 20 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
	}
	began := time.Now()
	var wg sync.WaitGroup
	for range *loadClients {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				k := i % len(mix)
				c := mix[k]
				token := e.token
				if c.noToken {
					token = ""
				}
				status, res, raw, err := e.client.Do(t.Context(), "POST", "/v1/commands", token, c.body(i))
				if err != nil {
					transport.Add(1)
					fail("request %d (%s): %v", i, c.name, err)
					continue
				}
				perCase[k].Add(1)
				switch {
				case status != c.status || res.Status != c.result:
					fail("request %d (%s): %d %s, want %d %s: %.300s", i, c.name, status, res.Status, c.status, c.result, raw)
				case c.runs && res.CommandID == "":
					fail("request %d (%s): accepted without a commandId: %.300s", i, c.name, raw)
				case !c.runs && res.CommandID != "":
					fail("request %d (%s): refused with a commandId: %.300s", i, c.name, raw)
				case !c.runs && (res.Error == nil || res.Error.HTTPStatus != c.status || (c.code != "" && res.Error.Code != c.code)):
					fail("request %d (%s): error %+v, want code %q status %d", i, c.name, res.Error, c.code, c.status)
				case c.runs && res.Request != nil:
					mu.Lock()
					allowed = append(allowed, res.Request.Command)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(began)
	for _, f := range failures {
		t.Error(f)
	}
	if transport.Load() != 0 {
		t.Errorf("%d transport errors", transport.Load())
	}
	if e.gw.Exited() {
		t.Fatalf("the gateway exited during the load: %s\n%s", e.gw.ExitState(), tail(e.gw.Logs(), 4000))
	}
	want := 0
	for k, c := range mix {
		if c.runs {
			want += int(perCase[k].Load())
		}
	}
	if got := e.sim.Invocations(); got != want || len(allowed) != want {
		t.Errorf("E-HPC accepted %d invocations and callers got %d command ids, want exactly the %d allowed requests", got, len(allowed), want)
	}
	// Each allowed command is unique: each ran once, as authorized.
	runs := e.sim.RunsBy(unmark)
	for _, cmd := range allowed {
		if r := runs[cmd]; r != 1 {
			t.Errorf("%q ran %d times, want 1", cmd, r)
			break
		}
	}
	t.Logf("%d requests (%d allowed) from %d clients in %v: %.0f requests/s", n, want, *loadClients, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())
}
