// Package creds provides the credentials the function signs Alibaba Cloud
// calls with: FC's per-invocation STS credentials when the call runs inside
// an invocation, else a fallback provider (by default the SDK's chain,
// which reads ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET
// and ALIBABA_CLOUD_SECURITY_TOKEN first). Every client of the function
// (E-HPC, OSS) resolves them here, so they are refreshed the same way and
// redacted the same way.
package creds

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/fc-runtime-go-sdk/fccontext"
)

// Credentials are the keys one call is signed with: a long-term AccessKey
// pair, or an STS triple when SecurityToken is set. Its String, GoString,
// LogValue and MarshalJSON show only a masked AccessKeyID, so a careless
// log line or error message cannot leak the secret or the token.
type Credentials struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
}

// Valid reports whether c can sign a request.
func (c Credentials) Valid() bool { return c.AccessKeyID != "" && c.AccessKeySecret != "" }

// String returns c with the secret and the token redacted.
func (c Credentials) String() string {
	kind := "ak"
	if c.SecurityToken != "" {
		kind = "sts"
	}
	return fmt.Sprintf("Credentials{%s %s secret:[redacted] token:[redacted]}", kind, MaskID(c.AccessKeyID))
}

// GoString redacts like String, for %#v.
func (c Credentials) GoString() string { return c.String() }

// LogValue redacts like String, for log/slog.
func (c Credentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("accessKeyId", MaskID(c.AccessKeyID)), slog.Bool("sts", c.SecurityToken != ""))
}

// MarshalJSON redacts like String.
func (c Credentials) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, `{"accessKeyId":%q,"sts":%t}`, MaskID(c.AccessKeyID), c.SecurityToken != ""), nil
}

// MaskID keeps the first 4 and last 2 characters of an AccessKeyId, enough
// to tell keys apart in a log and useless to anyone else.
func MaskID(id string) string {
	if len(id) <= 8 {
		return "****"
	}
	return id[:4] + "****" + id[len(id)-2:]
}

// FromContext returns FC's credentials of the invocation ctx belongs to,
// when present and complete. FC hands fresh STS credentials with every
// invocation; a background task started from one keeps its values
// (context.WithoutCancel).
func FromContext(ctx context.Context) (Credentials, bool) {
	if c, ok := ctx.Value(invocationKey{}).(Credentials); ok {
		return c, c.Valid()
	}
	return fromFC(ctx)
}

// invocationKey holds the Credentials WithInvocation copied.
type invocationKey struct{}

// WithInvocation copies the credentials of ctx's FC invocation into ctx as
// a plain value. fccontext.FromContext writes to the invocation's shared
// FcContext on every call, so goroutines of one invocation (a background
// policy poll beside the request) must not all call it: the FC entry calls
// this once, and FromContext then reads the copy.
func WithInvocation(ctx context.Context) context.Context {
	c, ok := fromFC(ctx)
	if !ok {
		return ctx
	}
	return context.WithValue(ctx, invocationKey{}, c)
}

// fcMu serializes this package's calls into fccontext.FromContext (see
// WithInvocation).
var fcMu sync.Mutex

func fromFC(ctx context.Context) (Credentials, bool) {
	fcMu.Lock()
	fc, ok := fccontext.FromContext(ctx)
	var c Credentials
	if ok && fc != nil {
		c = Credentials{AccessKeyID: fc.Credentials.AccessKeyId, AccessKeySecret: fc.Credentials.AccessKeySecret, SecurityToken: fc.Credentials.SecurityToken}
	}
	fcMu.Unlock()
	return c, c.Valid()
}

// Fallback serializes an SDK credentials provider: the SDK's default
// chain remembers the last provider it used without a lock.
type Fallback struct {
	mu sync.Mutex
	p  credentials.CredentialsProvider
}

// NewFallback wraps p; nil means the SDK's default chain.
func NewFallback(p credentials.CredentialsProvider) *Fallback {
	if p == nil {
		p = credentials.NewDefaultCredentialsProvider()
	}
	return &Fallback{p: p}
}

// Get returns the provider's current credentials.
func (f *Fallback) Get() (Credentials, error) {
	if f == nil || f.p == nil {
		return Credentials{}, errors.New("no credentials provider")
	}
	f.mu.Lock()
	cc, err := f.p.GetCredentials()
	f.mu.Unlock()
	if err != nil {
		// Provider errors name files and variables, never secrets.
		return Credentials{}, fmt.Errorf("%s: %w", f.p.GetProviderName(), err)
	}
	cr := Credentials{AccessKeyID: cc.AccessKeyId, AccessKeySecret: cc.AccessKeySecret, SecurityToken: cc.SecurityToken}
	if !cr.Valid() {
		return Credentials{}, fmt.Errorf("%s: empty access key", f.p.GetProviderName())
	}
	return cr, nil
}

// For returns the credentials of one call made under ctx: FC's when ctx
// carries them, else f's.
func (f *Fallback) For(ctx context.Context) (Credentials, error) {
	if c, ok := FromContext(ctx); ok {
		return c, nil
	}
	return f.Get()
}
