package fcemu_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hpcgate/hpcgate/test/fcemu"

	"github.com/hpcgate/hpcgate/test/goldenfile"
)

const helloPkg = "github.com/hpcgate/hpcgate/test/fcemu/hello"

func TestMain(m *testing.M) {
	code := m.Run()
	fcemu.RemoveBuilds()
	os.Exit(code)
}

// helloBinary builds the hello function once per test process.
func helloBinary(tb testing.TB) string {
	tb.Helper()
	bin, err := fcemu.BuildBinary(context.Background(), helloPkg, "")
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}

// newEmulator returns an emulator closed with the test.
func newEmulator(tb testing.TB, cfg fcemu.Config) *fcemu.Emulator {
	tb.Helper()
	e, err := fcemu.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { e.Close() })
	return e
}

// startHello runs hello against e; a crash fails the test at cleanup.
func startHello(tb testing.TB, e *fcemu.Emulator, env ...string) *fcemu.Process {
	tb.Helper()
	p, err := e.Start(context.Background(), helloBinary(tb), env)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := p.Close(); err != nil {
			tb.Errorf("hello exited by itself: %v\n%s", err, p.Logs())
		}
	})
	return p
}

func TestInvokeHello(t *testing.T) {
	e := newEmulator(t, fcemu.Config{})
	p := startHello(t, e)
	tests := map[string]struct {
		payload   string
		wantBody  string
		wantType  string // errorType; "" = success
		wantMsg   string
		wantStack bool
	}{
		"JSON payload gets the JSON string hello":        {payload: `{"a":1}`, wantBody: `"hello"`},
		"payload that is not JSON reaches a []byte func": {payload: `not json`, wantBody: `"hello"`},
		"empty payload": {payload: ``, wantBody: `"hello"`},
		"handler error is posted with its Go type name":  {payload: `"error"`, wantType: "helloError", wantMsg: "hello failed as asked"},
		"panic is posted with a stack trace":             {payload: `"panic"`, wantType: "string", wantMsg: "hello panicked as asked", wantStack: true},
		"handler rejecting its argument posts the error": {payload: `"barrier:x"`, wantType: "NumError", wantMsg: `strconv.Atoi: parsing "x": invalid syntax`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			id := "req-" + strings.ReplaceAll(name, " ", "-")
			resp, err := e.Invoke(t.Context(), fcemu.Invocation{RequestID: id, Payload: []byte(tc.payload)})
			if err != nil {
				t.Fatal(err)
			}
			if resp.RequestID != id || resp.TimedOut {
				t.Fatalf("RequestID %q TimedOut %v, want %q false", resp.RequestID, resp.TimedOut, id)
			}
			if tc.wantType == "" {
				if resp.Error != nil || string(resp.Body) != tc.wantBody {
					t.Fatalf("got body %q error %v, want body %q", resp.Body, resp.Error, tc.wantBody)
				}
				if resp.ContentType != "application/json" {
					t.Errorf("ContentType %q, want application/json", resp.ContentType)
				}
			} else {
				if resp.Error == nil {
					t.Fatalf("got body %q, want error %s", resp.Body, tc.wantType)
				}
				if resp.Error.ErrorType != tc.wantType || resp.Error.ErrorMessage != tc.wantMsg {
					t.Errorf("error %+v, want type %q message %q", resp.Error, tc.wantType, tc.wantMsg)
				}
				if got := len(resp.Error.StackTrace) > 0; got != tc.wantStack {
					t.Errorf("stack trace present %v, want %v", got, tc.wantStack)
				}
			}
			// The SDK logs the start of every invocation with its id.
			if err := p.WaitLog(t.Context(), "FC Invoke Start RequestId: "+id); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestContextReachesFunction(t *testing.T) {
	cfg := fcemu.Config{
		FunctionName: "gateway",
		MemoryMB:     1024,
		Region:       "cn-shanghai",
		AccountID:    "1111222233334444",
		ServiceName:  "legacy-service",
		VersionID:    "7",
		Credentials:  fcemu.Credentials{AccessKeyID: "STS.env", AccessKeySecret: "env-secret", SecurityToken: "env-token"},
	}
	e := newEmulator(t, cfg)
	t.Setenv("FCEMU_HOST_ONLY", "must not reach the function")
	startHello(t, e, "HPCGATE_REGION=cn-shanghai", "FC_RUNTIME_API=127.0.0.1:1")

	inv := fcemu.Invocation{
		RequestID:   "req-ctx-1",
		Payload:     []byte(`"ctx"`),
		Timeout:     90 * time.Second,
		RetryCount:  2,
		Credentials: fcemu.Credentials{AccessKeyID: "STS.invoke", AccessKeySecret: "invoke-secret", SecurityToken: "invoke-token"},
	}
	before := time.Now()
	resp, err := e.Invoke(t.Context(), inv)
	after := time.Now()
	if err != nil || resp.Error != nil {
		t.Fatalf("invoke: %v %v", err, resp.Error)
	}
	if bytes.Contains(resp.Body, []byte("secret")) || bytes.Contains(resp.Body, []byte("token")) {
		t.Fatalf("echo carries a secret: %s", resp.Body)
	}
	var got map[string]any
	if err := json.Unmarshal(resp.Body, &got); err != nil {
		t.Fatal(err)
	}

	// The deadline is delivery time + Timeout, to the millisecond.
	deadline := int64(got["deadlineMs"].(float64))
	if lo, hi := before.Add(inv.Timeout).UnixMilli(), after.Add(inv.Timeout).UnixMilli(); deadline < lo || deadline > hi {
		t.Errorf("deadline %d outside [%d, %d]", deadline, lo, hi)
	}
	env := got["env"].(map[string]any)
	wantEnv := map[string]string{
		"FC_RUNTIME_API":                  e.Addr(), // the caller's value is overridden
		"FC_FUNCTION_NAME":                "gateway",
		"FC_FUNCTION_HANDLER":             "main",
		"FC_FUNCTION_MEMORY_SIZE":         "1024",
		"FC_REGION":                       "cn-shanghai",
		"FC_ACCOUNT_ID":                   "1111222233334444",
		"FC_FUNCTION_VERSION":             "7",
		"ALIBABA_CLOUD_ACCESS_KEY_ID":     "set",
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET": "set",
		"ALIBABA_CLOUD_SECURITY_TOKEN":    "set",
	}
	for k, want := range wantEnv {
		if env[k] != want {
			t.Errorf("env %s = %v, want %q", k, env[k], want)
		}
	}
	if !strings.HasPrefix(env["FC_INSTANCE_ID"].(string), "c-fcemu-") || env["FC_FUNC_CODE_PATH"] != filepath.Dir(helloBinary(t)) {
		t.Errorf("FC_INSTANCE_ID %v FC_FUNC_CODE_PATH %v", env["FC_INSTANCE_ID"], env["FC_FUNC_CODE_PATH"])
	}
	var names []string
	for _, n := range got["envNames"].([]any) {
		names = append(names, n.(string))
	}
	if slices.Contains(names, "FCEMU_HOST_ONLY") || !slices.Contains(names, "HPCGATE_REGION") {
		t.Errorf("environment names %v: want HPCGATE_REGION and no host variable", names)
	}

	// The rest must match the golden file exactly.
	delete(got, "deadlineMs")
	delete(got, "env")
	delete(got, "envNames")
	goldenfile.JSON(t, "testdata/ctx-echo.golden.json", got)
}

func TestSDKDropsInvocationWithoutRequiredHeaders(t *testing.T) {
	tests := map[string]struct {
		header  map[string][]string
		wantLog string
	}{
		"missing deadline":       {map[string][]string{fcemu.HeaderDeadline: nil}, "failed to parse contents of header: x-fc-function-deadline"},
		"deadline not a number":  {map[string][]string{fcemu.HeaderDeadline: {"soon"}}, "failed to parse contents of header: x-fc-function-deadline"},
		"missing timeout":        {map[string][]string{fcemu.HeaderTimeout: nil}, "failed to parse contents of header: x-fc-function-timeout"},
		"timeout not an integer": {map[string][]string{fcemu.HeaderTimeout: {"1.5"}}, "failed to parse contents of header: x-fc-function-timeout"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			e := newEmulator(t, fcemu.Config{})
			p := startHello(t, e)
			ctx, cancel := context.WithCancel(t.Context())
			dropped := make(chan error, 1)
			go func() {
				_, err := e.Invoke(ctx, fcemu.Invocation{Payload: []byte(`"x"`), Timeout: time.Minute, Header: tc.header})
				dropped <- err
			}()
			// The SDK logs the parse failure after giving up on the
			// invocation; it posts nothing for it.
			if err := p.WaitLog(t.Context(), tc.wantLog); err != nil {
				t.Fatal(err)
			}
			// The loop goes on: a well-formed invocation is still answered.
			if resp, err := e.Invoke(t.Context(), fcemu.Invocation{}); err != nil || string(resp.Body) != `"hello"` {
				t.Fatalf("next invocation: %q %v", resp.Body, err)
			}
			select {
			case err := <-dropped:
				t.Fatalf("dropped invocation was answered: %v", err)
			default:
			}
			cancel()
			if err := <-dropped; !errors.Is(err, context.Canceled) {
				t.Fatalf("dropped invocation ended with %v, want context.Canceled", err)
			}
		})
	}
}

func TestConcurrentInvocations(t *testing.T) {
	const n = 20
	e := newEmulator(t, fcemu.Config{Timeout: time.Minute})
	startHello(t, e)
	// Each barrier invocation waits until all n have arrived, so all n
	// answering proves that n ran in the process at once.
	payload := []byte(fmt.Sprintf(`"barrier:%d"`, n))
	var wg sync.WaitGroup
	resps := make([]fcemu.Response, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { resps[i], errs[i] = e.Invoke(t.Context(), fcemu.Invocation{Payload: payload}) })
	}
	wg.Wait()
	ids := map[string]bool{}
	for i := range n {
		if errs[i] != nil || resps[i].Error != nil || resps[i].TimedOut || string(resps[i].Body) != strconv.Itoa(n) {
			t.Errorf("invocation %d: %v %+v", i, errs[i], resps[i])
		}
		ids[resps[i].RequestID] = true
	}
	if len(ids) != n {
		t.Errorf("%d distinct request ids, want %d", len(ids), n)
	}
}

func TestLifecycleInvocations(t *testing.T) {
	e := newEmulator(t, fcemu.Config{})
	p := startHello(t, e)
	tests := []struct {
		name     string
		typ      fcemu.FunctionType
		wantErr  string // errorMessage; "" = success with an empty body
		wantLog  string
		wantInit bool // what a later "ctx" invocation reports
	}{
		{"preStop without a registered handler fails", fcemu.TypePreStop, "no prestop handler registered", "FC PreStop Start RequestId: ", false},
		{"preFreeze without a registered handler fails", fcemu.TypePreFreeze, "no prefreeze handler registered", "FC PreFreeze Start RequestId: ", false},
		{"initializer runs the registered function", fcemu.TypeInitializer, "", "FC Initialize Start RequestId: ", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := e.Invoke(t.Context(), fcemu.Invocation{Type: tc.typ})
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantErr == "" {
				if resp.Error != nil || len(resp.Body) != 0 {
					t.Fatalf("got body %q error %v, want empty success", resp.Body, resp.Error)
				}
			} else if resp.Error == nil || resp.Error.ErrorMessage != tc.wantErr {
				t.Fatalf("got body %q error %v, want error %q", resp.Body, resp.Error, tc.wantErr)
			}
			if err := p.WaitLog(t.Context(), tc.wantLog+resp.RequestID); err != nil {
				t.Error(err)
			}
			echo, err := e.Invoke(t.Context(), fcemu.Invocation{Payload: []byte(`"ctx"`)})
			if err != nil {
				t.Fatal(err)
			}
			var got struct{ Initialized bool }
			if err := json.Unmarshal(echo.Body, &got); err != nil || got.Initialized != tc.wantInit {
				t.Errorf("initialized = %v (%v), want %v", got.Initialized, err, tc.wantInit)
			}
		})
	}
}

func TestColdStart(t *testing.T) {
	d, err := fcemu.ColdStart(t.Context(), fcemu.Config{}, helloBinary(t), nil, []byte(`{}`))
	if err != nil || d <= 0 {
		t.Fatalf("ColdStart = %v, %v", d, err)
	}
	_, err = fcemu.ColdStart(t.Context(), fcemu.Config{}, helloBinary(t), nil, []byte(`"error"`))
	var fe *fcemu.ErrorBody
	if !errors.As(err, &fe) || fe.ErrorType != "helloError" {
		t.Errorf("cold start with a function error: %v, want the ErrorBody", err)
	}
	// A process that exits without polling is reported, not waited on.
	exits := filepath.Join(t.TempDir(), "exits")
	if err := os.WriteFile(exits, []byte("#!/bin/sh\necho bye\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := fcemu.ColdStart(t.Context(), fcemu.Config{}, exits, nil, nil); !errors.Is(err, fcemu.ErrExited) || !strings.Contains(err.Error(), "bye") {
		t.Errorf("cold start of an exiting binary: %v, want ErrExited with its output", err)
	}
}

// TestInitializer: with Config.Initializer, Start returns an instance whose
// initializer has run, and an instance whose initializer fails is not
// started, as FC routes requests only to initialized instances.
func TestInitializer(t *testing.T) {
	e := newEmulator(t, fcemu.Config{Initializer: 10 * time.Second})
	p, err := e.Start(t.Context(), helloBinary(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	// The SDK prints this before it posts the answer; the pipe may hold it
	// a moment longer.
	if err := p.WaitLog(t.Context(), "FC Initialize End RequestId: "); err != nil {
		t.Errorf("the initializer did not run: %v", err)
	}
	echo, err := e.Invoke(t.Context(), fcemu.Invocation{Payload: []byte(`"ctx"`)})
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Initialized bool }
	if err := json.Unmarshal(echo.Body, &got); err != nil || !got.Initialized {
		t.Errorf("first invocation saw initialized = %v (%v), want true", got.Initialized, err)
	}
	p.Close()

	// A new instance behind its own runtime API, as in FC: the closed
	// process's last GET next may still be parked on e's.
	e2 := newEmulator(t, fcemu.Config{Initializer: 10 * time.Second})
	if _, err := e2.Start(t.Context(), helloBinary(t), []string{"HELLO_INIT_FAIL=1"}); err == nil || !strings.Contains(err.Error(), "initializer failed as asked") {
		t.Errorf("Start with a failing initializer: %v, want its error", err)
	}
	if d, err := fcemu.ColdStart(t.Context(), fcemu.Config{Initializer: 10 * time.Second}, helloBinary(t), nil, []byte(`{}`)); err != nil || d <= 0 {
		t.Errorf("ColdStart with an initializer = %v, %v", d, err)
	}
}

func TestCredentialsNeverPrinted(t *testing.T) {
	c := fcemu.Credentials{AccessKeyID: "STS.id", AccessKeySecret: "s3cr3t", SecurityToken: "t0k3n"}
	inv := fcemu.Invocation{Credentials: c}
	var logged bytes.Buffer
	slogJSON(&logged).Info("invoke", "credentials", c)
	for _, s := range []string{
		fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c),
		fmt.Sprintf("%v", inv), fmt.Sprintf("%+v", inv), logged.String(),
	} {
		if strings.Contains(s, "s3cr3t") || strings.Contains(s, "t0k3n") || !strings.Contains(s, "STS.id") {
			t.Errorf("rendered as %s", s)
		}
	}
}

// BenchmarkColdStartHello reports exec → first answer for the hello
// baseline, a fresh process per iteration.
func BenchmarkColdStartHello(b *testing.B) {
	benchmarkColdStart(b, helloBinary(b), nil, []byte(`{}`))
}

func benchmarkColdStart(b *testing.B, bin string, env []string, payload []byte) {
	var ds []time.Duration
	for b.Loop() {
		d, err := fcemu.ColdStart(b.Context(), fcemu.Config{}, bin, env, payload)
		if err != nil {
			b.Fatal(err)
		}
		ds = append(ds, d)
	}
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, "median-ms")
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	b.ReportMetric(float64(sum.Microseconds())/1000/float64(len(ds)), "mean-ms")
}

// BenchmarkInvokeWarm measures one round trip through the emulator and a
// running hello process.
func BenchmarkInvokeWarm(b *testing.B) {
	e := newEmulator(b, fcemu.Config{})
	startHello(b, e)
	for b.Loop() {
		if _, err := e.Invoke(b.Context(), fcemu.Invocation{Payload: []byte(`{}`)}); err != nil {
			b.Fatal(err)
		}
	}
}

func slogJSON(w io.Writer) *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }
