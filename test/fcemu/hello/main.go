// Command hello is the smallest fc-runtime-go-sdk function: the cold-start
// baseline for the gateway, and the function the emulator's tests drive.
//
// Any payload yields "hello", except these JSON strings:
//
//	"ctx"        the invocation's fccontext (and FC_* environment) as JSON;
//	             secrets are reported as present or absent, never echoed
//	"error"      a handler error of type helloError
//	"panic"      a panic
//	"barrier:N"  waits until N invocations have arrived since start (or the
//	             deadline), then answers N: proof that N ran at once
//
// Its initializer marks the instance initialized ("ctx" reports it), or
// panics when HELLO_INIT_FAIL is set.
package main

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aliyun/fc-runtime-go-sdk/fc"
	"github.com/aliyun/fc-runtime-go-sdk/fccontext"
)

func main() {
	fc.RegisterInitializerFunction(func(context.Context) {
		if os.Getenv("HELLO_INIT_FAIL") != "" {
			panic("initializer failed as asked")
		}
		initialized.Store(true)
	})
	fc.Start(handle)
}

var initialized atomic.Bool

func handle(ctx context.Context, event []byte) (any, error) {
	var mode string
	json.Unmarshal(event, &mode) // not a JSON string: plain hello
	switch {
	case mode == "ctx":
		return describe(ctx), nil
	case mode == "error":
		return nil, &helloError{"hello failed as asked"}
	case mode == "panic":
		panic("hello panicked as asked")
	case strings.HasPrefix(mode, "barrier:"):
		n, err := strconv.Atoi(strings.TrimPrefix(mode, "barrier:"))
		if err != nil {
			return nil, err
		}
		return arrivals.await(ctx, n)
	}
	return "hello", nil
}

type helloError struct{ msg string }

func (e *helloError) Error() string { return e.msg }

// echo is what "ctx" answers.
type echo struct {
	RequestID          string            `json:"requestId"`
	DeadlineMs         int64             `json:"deadlineMs"`
	AccessKeyID        string            `json:"accessKeyId"`
	HasAccessKeySecret bool              `json:"hasAccessKeySecret"`
	HasSecurityToken   bool              `json:"hasSecurityToken"`
	FunctionName       string            `json:"functionName"`
	Handler            string            `json:"handler"`
	Memory             string            `json:"memory"`
	TimeoutSeconds     int               `json:"timeoutSeconds"`
	ServiceName        string            `json:"serviceName"`
	Qualifier          string            `json:"qualifier"`
	VersionID          string            `json:"versionId"`
	Region             string            `json:"region"`
	AccountID          string            `json:"accountId"`
	RetryCount         int               `json:"retryCount"`
	Initialized        bool              `json:"initialized"`
	Env                map[string]string `json:"env"`      // FC_* values; ALIBABA_CLOUD_* as "set"
	EnvNames           []string          `json:"envNames"` // every variable's name, sorted
}

func describe(ctx context.Context) echo {
	var out echo
	if fctx, ok := fccontext.FromContext(ctx); ok {
		out = echo{
			RequestID:          fctx.RequestID,
			AccessKeyID:        fctx.Credentials.AccessKeyId,
			HasAccessKeySecret: fctx.Credentials.AccessKeySecret != "",
			HasSecurityToken:   fctx.Credentials.SecurityToken != "",
			FunctionName:       fctx.Function.Name,
			Handler:            fctx.Function.Handler,
			Memory:             fctx.Function.Memory,
			TimeoutSeconds:     fctx.Function.Timeout,
			ServiceName:        fctx.Service.Name,
			Qualifier:          fctx.Service.Qualifier,
			VersionID:          fctx.Service.VersionId,
			Region:             fctx.Region,
			AccountID:          fctx.AccountId,
			RetryCount:         fctx.RetryCount,
		}
	}
	if d, ok := ctx.Deadline(); ok {
		out.DeadlineMs = d.UnixMilli()
	}
	out.Initialized = initialized.Load()
	out.Env = map[string]string{}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		out.EnvNames = append(out.EnvNames, k)
		switch {
		case strings.HasPrefix(k, "ALIBABA_CLOUD_"):
			out.Env[k] = "set"
		case strings.HasPrefix(k, "FC_"):
			out.Env[k] = v
		}
	}
	slices.Sort(out.EnvNames)
	return out
}

// arrivals counts barrier invocations since start.
var arrivals = barrier{changed: make(chan struct{})}

type barrier struct {
	mu      sync.Mutex
	n       int
	changed chan struct{}
}

func (b *barrier) await(ctx context.Context, want int) (int, error) {
	b.mu.Lock()
	b.n++
	close(b.changed)
	b.changed = make(chan struct{})
	b.mu.Unlock()
	for {
		b.mu.Lock()
		n, changed := b.n, b.changed
		b.mu.Unlock()
		if n >= want {
			return want, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}
