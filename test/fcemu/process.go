package fcemu

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// inherited are the only host variables a function process sees, so host
// credentials (ALIBABA_CLOUD_*) and settings do not leak into what a test
// observes. HOME passes, so ~/.aliyun stays visible to a default credential
// chain unless env overrides HOME.
var inherited = []string{"PATH", "HOME", "TMPDIR", "GOCOVERDIR"}

// Process is a function binary running against an emulator.
type Process struct {
	cmd     *exec.Cmd
	started time.Time
	logs    *logBuffer
	e       *Emulator

	done    chan struct{}
	waitErr error // set before done is closed

	mu     sync.Mutex
	killed bool
}

// Start runs binary the way FC starts a go1 instance: FC_RUNTIME_API points
// at e, the FC_* variables describe the function (from Config), and the
// ALIBABA_CLOUD_* variables carry Config.Credentials when set. Of the host
// environment only PATH, HOME, TMPDIR and GOCOVERDIR pass; env entries
// ("KEY=value") are added last and win, except FC_RUNTIME_API. Stdout and
// stderr are captured together (Logs). The process is killed by Close, by
// e.Close, or when ctx ends.
func (e *Emulator) Start(ctx context.Context, binary string, env []string) (*Process, error) {
	NoteSources()
	select {
	case <-e.closed:
		return nil, ErrClosed
	default:
	}
	abs, err := filepath.Abs(binary)
	if err != nil {
		return nil, fmt.Errorf("fcemu: start: %w", err)
	}
	cmd := exec.CommandContext(ctx, abs)
	cmd.Dir = filepath.Dir(abs)
	cmd.Env = e.environ(abs, env)
	logs := &logBuffer{limit: e.cfg.LogLimit, changed: make(chan struct{})}
	var out io.Writer = logs
	if e.cfg.Output != nil {
		out = io.MultiWriter(logs, e.cfg.Output)
	}
	// One writer for both streams: exec then uses a single pipe and the
	// lines interleave as the function wrote them.
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = 2 * time.Second
	p := &Process{cmd: cmd, logs: logs, e: e, done: make(chan struct{})}
	cmd.Cancel = p.kill

	e.mu.Lock()
	e.procs[p] = struct{}{}
	e.mu.Unlock()
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		e.mu.Lock()
		delete(e.procs, p)
		e.mu.Unlock()
		return nil, fmt.Errorf("fcemu: start %s: %w", binary, err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	if e.cfg.Initializer > 0 {
		resp, err := p.invoke(ctx, Invocation{Type: TypeInitializer, Timeout: e.cfg.Initializer})
		switch {
		case err != nil:
		case resp.TimedOut:
			err = errors.New("no answer by its timeout")
		case resp.Error != nil:
			err = resp.Error
		}
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("fcemu: initializer of %s: %w\n%s", binary, err, p.Logs())
		}
	}
	return p, nil
}

// invoke is e.Invoke that gives up with ErrExited when p exits first,
// instead of waiting for the invocation's deadline.
func (p *Process) invoke(ctx context.Context, inv Invocation) (Response, error) {
	ictx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-p.done:
			cancel(ErrExited)
		case <-ictx.Done():
		}
	}()
	resp, err := p.e.Invoke(ictx, inv)
	if err != nil && errors.Is(context.Cause(ictx), ErrExited) {
		return Response{}, ErrExited
	}
	return resp, err
}

func (e *Emulator) environ(binary string, extra []string) []string {
	var env []string
	for _, k := range inherited {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	cfg := e.cfg
	env = append(env,
		"FC_FUNC_CODE_PATH="+filepath.Dir(binary),
		"FC_FUNCTION_NAME="+cfg.FunctionName,
		"FC_FUNCTION_HANDLER="+cfg.Handler,
		"FC_FUNCTION_MEMORY_SIZE="+strconv.Itoa(cfg.MemoryMB),
		"FC_REGION="+cfg.Region,
		"FC_ACCOUNT_ID="+cfg.AccountID,
		"FC_INSTANCE_ID=c-fcemu-"+rand.Text(),
	)
	if cfg.VersionID != "" {
		env = append(env, "FC_FUNCTION_VERSION="+cfg.VersionID)
	}
	if c := cfg.Credentials; !c.IsZero() {
		env = append(env,
			"ALIBABA_CLOUD_ACCESS_KEY_ID="+c.AccessKeyID,
			"ALIBABA_CLOUD_ACCESS_KEY_SECRET="+c.AccessKeySecret,
			"ALIBABA_CLOUD_SECURITY_TOKEN="+c.SecurityToken,
		)
	}
	env = append(env, extra...)
	// exec keeps the last value of a duplicated key.
	return append(env, "FC_RUNTIME_API="+e.Addr())
}

// Pid returns the operating-system process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Started returns when the process was executed.
func (p *Process) Started() time.Time { return p.started }

// Done is closed when the process has exited and been reaped.
func (p *Process) Done() <-chan struct{} { return p.done }

// Logs returns a copy of what the process wrote to stdout and stderr so far.
func (p *Process) Logs() []byte {
	b, _ := p.logs.snapshot()
	return b
}

// WaitLog waits until the process output contains s. It returns ErrExited if
// the process exits without writing s, or ctx's error.
func (p *Process) WaitLog(ctx context.Context, s string) error {
	want := []byte(s)
	for {
		b, changed := p.logs.snapshot()
		if bytes.Contains(b, want) {
			return nil
		}
		select {
		case <-changed:
		case <-p.done:
			if bytes.Contains(p.Logs(), want) {
				return nil
			}
			return fmt.Errorf("%w before writing %q", ErrExited, s)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close kills the process (SIGKILL: FC gives a go1 instance no signal it can
// act on) and waits for it. It returns nil when the process was running, and
// the exit error when it had already stopped by itself, so a crashed function
// shows up. Close is idempotent.
func (p *Process) Close() error {
	p.kill()
	<-p.done
	p.e.mu.Lock()
	delete(p.e.procs, p)
	p.e.mu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.killed {
		return nil
	}
	return p.waitErr
}

// kill sends SIGKILL unless the process has already been reaped.
func (p *Process) kill() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.done:
		return nil
	default:
	}
	p.killed = true
	return p.cmd.Process.Kill()
}

// logBuffer keeps the first limit bytes written and wakes waiters on every
// write.
type logBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	limit   int
	dropped int
	changed chan struct{}
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	keep := min(len(p), b.limit-b.buf.Len())
	b.buf.Write(p[:keep])
	b.dropped += len(p) - keep
	close(b.changed)
	b.changed = make(chan struct{})
	return len(p), nil
}

func (b *logBuffer) snapshot() ([]byte, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes()), b.changed
}
