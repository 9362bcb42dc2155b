package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/aliyun/fc-runtime-go-sdk/fc"

	"github.com/hpcgate/hpcgate/function/internal/audit"
	"github.com/hpcgate/hpcgate/function/internal/config"
	"github.com/hpcgate/hpcgate/function/internal/fchandler"
)

// runFC serves Function Compute invocations through the runtime API. A bad
// configuration or policy set stops the function at start, so the first
// invocation fails loudly instead of running ungoverned.
func runFC(getenv func(string) string) int {
	cfg, err := config.Load(getenv)
	if err != nil {
		fmt.Fprintf(os.Stderr, "hpcgate: configuration: %v\n", err)
		return 1
	}
	log := audit.NewLogger(os.Stderr, cfg.LogLevel)
	gw, err := newGateway(context.Background(), cfg, log, options{})
	if err != nil {
		log.Error("start failed", "err", err.Error())
		return 1
	}
	h := gw.events()
	if gw.bundles != nil {
		fc.Start(func(ctx context.Context, raw []byte) (any, error) {
			gw.bundles.MaybeRefresh(ctx)
			return h.Invoke(ctx, raw)
		})
		return 0
	}
	fc.Start(h.Invoke)
	return 0
}

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
		out, _ := events.Invoke(r.Context(), raw)
		w.Header().Set("Content-Type", "application/json")
		w.Write(fchandler.Response(out))
	})
}
