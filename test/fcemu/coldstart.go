package fcemu

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ColdStart measures one cold start of binary: from exec to the first
// invocation's answer reaching a fresh emulator with cfg. A function
// error counts as a failure.
func ColdStart(ctx context.Context, cfg Config, binary string, env []string, payload []byte) (time.Duration, error) {
	e, err := New(cfg)
	if err != nil {
		return 0, err
	}
	defer e.Close()
	resp, d, err := e.ColdStart(ctx, binary, env, Invocation{Payload: payload})
	if err != nil {
		return 0, err
	}
	if resp.Error != nil {
		return d, fmt.Errorf("fcemu: cold start of %s: function error: %w", binary, resp.Error)
	}
	return d, nil
}

// ColdStart starts binary, sends it inv, and returns the answer with the time
// from exec to the answer's arrival (with Config.Initializer, the
// initializer's run included, as a request that meets a new instance waits
// for it); the process is closed before it returns.
// Run it on an emulator with no other process attached, or another process
// may take the invocation.
func (e *Emulator) ColdStart(ctx context.Context, binary string, env []string, inv Invocation) (Response, time.Duration, error) {
	p, err := e.Start(ctx, binary, env)
	if err != nil {
		return Response{}, 0, err
	}
	defer p.Close()
	resp, err := p.invoke(ctx, inv)
	if err != nil {
		if errors.Is(err, ErrExited) {
			return Response{}, 0, fmt.Errorf("fcemu: cold start of %s: %w:\n%s", binary, ErrExited, p.Logs())
		}
		return Response{}, 0, err
	}
	if resp.TimedOut {
		return resp, 0, fmt.Errorf("fcemu: cold start of %s: no answer by the deadline", binary)
	}
	return resp, resp.received.Sub(p.Started()), nil
}
