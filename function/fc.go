package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	"github.com/aliyun/fc-runtime-go-sdk/fc"

	"github.com/hpcgate/hpcgate/function/internal/audit"
	"github.com/hpcgate/hpcgate/function/internal/config"
	"github.com/hpcgate/hpcgate/function/internal/creds"
	"github.com/hpcgate/hpcgate/function/internal/fchandler"
	"github.com/hpcgate/hpcgate/function/internal/ingress"
)

// runFC serves Function Compute invocations through the runtime API. A bad
// configuration or policy set stops the function at start, so the first
// invocation fails loudly instead of running ungoverned.
//
// The policy set compiles in the background while the SDK connects to the
// runtime API and fetches the first invocation (the compile is most of a
// cold start). The initializer, which FC runs before it routes any request
// to the instance, and every handler wait for it; a handler whose deadline
// ends first meets an empty engine and is refused (fail closed).
func runFC(getenv func(string) string) int {
	began := time.Now()
	cfg, err := config.Load(getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "hpcgate: configuration: %v\n", err)
		return 1
	}
	log := audit.NewLogger(os.Stderr, cfg.LogLevel)
	gw, err := newGateway(context.Background(), cfg, log, options{fc: true})
	if err != nil {
		log.Error("start failed", "err", err.Error())
		return 1
	}
	ready := make(chan struct{})
	go func() {
		t0 := time.Now()
		// The compile allocates a few MB at a heap that is still growing
		// from nothing: collecting meanwhile costs ~10% of its CPU time.
		gc := debug.SetGCPercent(-1)
		err := gw.loadPolicy(context.Background())
		debug.SetGCPercent(gc)
		if err != nil {
			log.Error("start failed", "err", err.Error())
			os.Exit(1)
		}
		// The bench reads this record for its cold-start breakdown.
		log.Debug("policy ready", "main", began.UnixNano(),
			"policyMs", ms(time.Since(t0)), "readyMs", ms(time.Since(began)))
		close(ready)
	}()
	await := func(ctx context.Context) bool {
		select {
		case <-ready:
			return true
		case <-ctx.Done():
			return false
		}
	}
	fc.RegisterInitializerFunction(func(ctx context.Context) {
		if !await(ctx) {
			// The SDK reports a panic as the initializer's error: FC
			// then discards the instance instead of routing requests to it.
			panic("hpcgate: policy not ready by the initializer's deadline")
		}
	})
	h := gw.events()
	fc.Start(func(ctx context.Context, raw []byte) (any, error) {
		// One read of FC's per-invocation context; every goroutine of the
		// invocation then reads the copy (see creds.WithInvocation).
		ctx = creds.WithInvocation(ctx)
		await(ctx)
		if gw.bundles != nil {
			gw.bundles.MaybeRefresh(ctx)
		}
		return h.Invoke(ctx, raw)
	})
	return 0
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// events returns the FC handler over this gateway.
func (g *gateway) events() *fchandler.Handler {
	return &fchandler.Handler{Gate: g.gate, Ingress: g.ingress, HTTP: g.api.Handler(), MaxBodyBytes: g.cfg.MaxBodyBytes}
}

// invokeHandler serves local mode's POST /invoke: the body is a raw FC
// event, the answer what the FC handler returns, as InvokeFunction would.
// Only local mode has it: behind FC's HTTP trigger a body is always a
// request from the authenticated caller, never an event.
func (g *gateway) invokeHandler() http.Handler {
	// Built before Extra is set, so it cannot reach /invoke itself.
	events := g.events()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, `{"error":"use POST with a raw FC event as the body"}`, http.StatusMethodNotAllowed)
			return
		}
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(g.cfg.MaxBodyBytes)))
		if err != nil {
			http.Error(w, `{"error":"event too large or unreadable"}`, http.StatusRequestEntityTooLarge)
			return
		}
		out, err := events.Invoke(ingress.FromListener(r.Context(), r), raw)
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			// What InvokeFunction answers for a function error; FC's
			// asynchronous invocation would deliver the event again.
			w.Header().Set("X-Fc-Error-Type", "UnhandledInvocationError")
			w.Write(fchandler.ErrorResponse(err))
			return
		}
		w.Write(fchandler.Response(out))
	})
}
