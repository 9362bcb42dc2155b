package creds

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/fc-runtime-go-sdk/fccontext"
)

func TestRedaction(t *testing.T) {
	c := Credentials{AccessKeyID: "STS.NUgYrLnoC37mZZCN", AccessKeySecret: "very-secret-value", SecurityToken: "CAIS-token-value"}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "creds", c)
	js, _ := json.Marshal(c)
	for name, s := range map[string]string{
		"String": c.String(), "%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", c), "%#v": fmt.Sprintf("%#v", c),
		"slog": logs.String(), "json": string(js),
	} {
		if strings.Contains(s, c.AccessKeySecret) || strings.Contains(s, c.SecurityToken) || strings.Contains(s, c.AccessKeyID) {
			t.Errorf("%s leaks: %s", name, s)
		}
		if !strings.Contains(s, "STS.****CN") {
			t.Errorf("%s does not show the masked key: %s", name, s)
		}
	}
}

func TestFor(t *testing.T) {
	fb := NewFallback(credentials.NewStaticAKCredentialsProvider("LTAI5tFallbackKey", "fallback-secret"))
	fc := fccontext.NewContext(t.Context(), &fccontext.FcContext{Credentials: fccontext.Credentials{AccessKeyId: "STS.invocation", AccessKeySecret: "s", SecurityToken: "t"}})
	incomplete := fccontext.NewContext(t.Context(), &fccontext.FcContext{Credentials: fccontext.Credentials{AccessKeyId: "STS.noSecret"}})
	tests := map[string]struct {
		ctx  context.Context
		want string
	}{
		"invocation credentials win":          {ctx: fc, want: "STS.invocation"},
		"incomplete FC credentials fall back": {ctx: incomplete, want: "LTAI5tFallbackKey"},
		"outside an invocation":               {ctx: t.Context(), want: "LTAI5tFallbackKey"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := fb.For(tc.ctx)
			if err != nil || got.AccessKeyID != tc.want {
				t.Fatalf("got %v, %v; want %s", got, err, tc.want)
			}
		})
	}
	var none *Fallback
	if _, err := none.Get(); err == nil {
		t.Error("a nil Fallback gave credentials")
	}
	bad := NewFallback(failing{})
	if _, err := bad.Get(); err == nil || !errors.Is(err, errNoKeys) || !strings.Contains(err.Error(), "failing") {
		t.Errorf("provider error: %v", err)
	}
}

var errNoKeys = errors.New("no keys here")

type failing struct{}

func (failing) GetCredentials() (*credentials.Credentials, error) { return nil, errNoKeys }
func (failing) GetProviderName() string                           { return "failing" }

// TestConcurrentReadsOfOneInvocation: goroutines of one invocation read
// its credentials at once (run with -race).
func TestConcurrentReadsOfOneInvocation(t *testing.T) {
	fc := fccontext.NewContext(t.Context(), &fccontext.FcContext{RequestID: "r", Credentials: fccontext.Credentials{AccessKeyId: "STS.inv", AccessKeySecret: "s", SecurityToken: "t"}})
	for name, ctx := range map[string]context.Context{"raw FC context": fc, "WithInvocation": WithInvocation(fc)} {
		t.Run(name, func(t *testing.T) {
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					if c, ok := FromContext(ctx); !ok || c.AccessKeyID != "STS.inv" {
						t.Errorf("got %v %t", c, ok)
					}
				})
			}
			wg.Wait()
		})
	}
	if got := WithInvocation(t.Context()); got != t.Context() {
		t.Error("WithInvocation changed a context without FC credentials")
	}
}
