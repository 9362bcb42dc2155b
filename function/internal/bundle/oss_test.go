package bundle

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	alicreds "github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	sdk "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	sdkcreds "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"
	"github.com/aliyun/fc-runtime-go-sdk/fccontext"

	"github.com/hpcgate/hpcgate/function/internal/oss"
	"github.com/hpcgate/hpcgate/function/internal/policy"
	"github.com/hpcgate/hpcgate/test/osssim"
)

const (
	ossBucket = "gov-policy"
	ossKey    = "hpcgate/bundle.tar.gz"
	ossURL    = "oss://" + ossBucket + "/" + ossKey
	invAK     = "STS.bundleInvocation1"
	invSecret = "inv-secret"
	invToken  = "inv-token"
)

// clock is a settable clock for the stand-in.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

func newOSSSim(t *testing.T) (*osssim.Server, *oss.Client, *clock) {
	t.Helper()
	clk := &clock{}
	s := osssim.New(osssim.Config{Now: clk.now})
	endpoint, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.CreateBucket(ossBucket)
	s.AddSTS(invAK, invSecret, invToken, time.Now().Add(24*time.Hour))
	c, err := oss.New(oss.Config{Region: osssim.DefaultRegion, Endpoint: endpoint,
		Credentials: alicreds.NewStaticAKCredentialsProvider("LTAI5tNotKnownHere", "x")})
	if err != nil {
		t.Fatal(err)
	}
	return s, c, clk
}

// invocation is the context of an FC invocation with STS credentials.
func invocation(t *testing.T) context.Context {
	return fccontext.NewContext(t.Context(), &fccontext.FcContext{RequestID: "inv",
		Credentials: fccontext.Credentials{AccessKeyId: invAK, AccessKeySecret: invSecret, SecurityToken: invToken}})
}

// lastGet is the stand-in's record of the last GetObject.
func lastGet(t *testing.T, s *osssim.Server) osssim.Call {
	t.Helper()
	calls := s.Calls()
	for i := len(calls) - 1; i >= 0; i-- {
		if calls[i].Op == "GetObject" {
			return calls[i]
		}
	}
	t.Fatal("no GetObject reached the stand-in")
	return osssim.Call{}
}

func TestOSSSourceFollowsTheObject(t *testing.T) {
	key := rsaKeys()[0]
	s, c, _ := newOSSSim(t)
	s.Put(ossBucket, ossKey, build(t, govEcho, nil, "r1", key.priv))
	e := policy.NewEngine(nil)
	l, _ := newLoader(t, Config{Source: ossURL, PublicKey: string(key.pub), OSS: c}, e)
	compiles := countCompiles(l)
	ctx := invocation(t)
	if st := l.Status(); st.StaleSeconds != nil || !st.LastSuccess.IsZero() {
		t.Fatalf("staleness before any check: %+v", st)
	}

	if err := l.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if allow, _ := decide(t, e); !allow || e.Current().Revision() != "bundle:r1" {
		t.Fatalf("r1: allow %t revision %s", allow, e.Current().Revision())
	}
	if g := lastGet(t, s); g.AccessKeyID != invAK || g.Status != http.StatusOK {
		t.Fatalf("first GET %+v: want 200 signed with the invocation's key", g)
	}

	// An unchanged object costs one GET answered 304, and no compile.
	if err := l.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if g := lastGet(t, s); g.Status != http.StatusNotModified || !strings.Contains(g.Conditional, "If-None-Match") {
		t.Fatalf("unchanged poll %+v: want a conditional GET answered 304", g)
	}
	if compiles.Load() != 1 {
		t.Fatalf("compiled %d times, want 1", compiles.Load())
	}

	// A new revision decides after the next poll.
	s.Put(ossBucket, ossKey, build(t, govLs, nil, "r2", key.priv))
	if err := l.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if allow, _ := decide(t, e); allow || e.Current().Revision() != "bundle:r2" {
		t.Fatalf("r2: allow %t revision %s", allow, e.Current().Revision())
	}

	// A bundle whose signature no longer holds is refused; r2 stays.
	s.Put(ossBucket, ossKey, tampered(t, key.priv))
	if err := l.Load(ctx); err == nil {
		t.Fatal("tampered bundle loaded")
	}
	st := l.Status()
	if st.Revision != "bundle:r2" || st.LastError == "" || st.StaleSeconds == nil || st.Source != ossURL {
		t.Fatalf("status after a refused bundle: %+v", st)
	}
	// The refused upload, unchanged, costs a 304 too, and stays refused.
	if err := l.Load(ctx); err == nil || !strings.Contains(err.Error(), "digest mismatch") {
		t.Fatalf("refused bundle, polled again: %v", err)
	}
	if g := lastGet(t, s); g.Status != http.StatusNotModified {
		t.Fatalf("polling an unchanged refused bundle: %+v, want 304", g)
	}
	// Putting r2 back, or publishing a good r3, ends the refusal.
	s.Put(ossBucket, ossKey, build(t, govLs, nil, "r2", key.priv))
	if err := l.Load(ctx); err != nil || l.Status().LastError != "" {
		t.Fatalf("r2 back: %v", err)
	}
	s.Put(ossBucket, ossKey, build(t, govEcho, nil, "r3", key.priv))
	if err := l.Load(ctx); err != nil || e.Current().Revision() != "bundle:r3" {
		t.Fatalf("r3: %v, revision %s", err, e.Current().Revision())
	}
	if compiles.Load() != 3 {
		t.Fatalf("compiled %d times, want 3 (r1, r2, r3: the tampered one fails verification first)", compiles.Load())
	}
}

func TestOSSSourceErrorsKeepTheSetAndNameTheProblem(t *testing.T) {
	key := rsaKeys()[0]
	s, c, _ := newOSSSim(t)
	s.Put(ossBucket, ossKey, build(t, govEcho, nil, "r1", key.priv))
	e := policy.NewEngine(nil)
	l, logs := newLoader(t, Config{Source: ossURL, PublicKey: string(key.pub), OSS: c}, e)
	ctx := invocation(t)
	if err := l.Load(ctx); err != nil {
		t.Fatal(err)
	}
	// Make every check fetch again.
	l.mu.Lock()
	l.etag = ""
	l.mu.Unlock()

	tests := map[string]struct {
		setup func()
		want  []string
		code  string
	}{
		"role lacks oss:GetObject": {
			setup: func() {
				s.SetPolicy(invAK, []byte(`{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:GetObject","Resource":"acs:oss:*:*:gov-policy/other/*"}]}`))
			},
			want: []string{"access denied", "lack oss:GetObject on acs:oss:*:*:gov-policy/hpcgate/bundle.tar.gz"},
			code: oss.CodeAccessDenied,
		},
		"object removed": {
			setup: func() { s.Remove(ossBucket, ossKey) },
			want:  []string{`object "hpcgate/bundle.tar.gz" does not exist in bucket "gov-policy"`},
			code:  oss.CodeNoSuchKey,
		},
		"bucket removed": {
			setup: func() { s.DeleteBucket(ossBucket) },
			want:  []string{`bucket "gov-policy" does not exist`},
			code:  oss.CodeNoSuchBucket,
		},
		"throttled": {
			setup: func() { s.Inject(osssim.Fault{Op: "GetObject", Code: osssim.CodeSlowDown, Times: 100}) },
			want:  []string{"throttling"},
			code:  oss.CodeThrottled,
		},
	}
	for _, name := range []string{"role lacks oss:GetObject", "throttled", "object removed", "bucket removed"} {
		tc := tests[name]
		t.Run(name, func(t *testing.T) {
			tc.setup()
			defer func() {
				s.SetPolicy(invAK, nil)
				s.ClearFaults()
			}()
			err := l.Load(ctx)
			if oss.CodeOf(err) != tc.code {
				t.Fatalf("error %v: want code %s", err, tc.code)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) || !strings.Contains(l.Status().LastError, w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if allow, _ := decide(t, e); !allow || e.Current().Revision() != "bundle:r1" {
				t.Fatalf("the set in force changed: %s", e.Current().Revision())
			}
			if strings.Contains(logs.String(), invSecret) || strings.Contains(logs.String(), invToken) {
				t.Fatal("a secret reached the log")
			}
		})
	}
}

func TestPresignedOSSURL(t *testing.T) {
	key := rsaKeys()[0]
	s, _, clk := newOSSSim(t)
	s.Put(ossBucket, ossKey, build(t, govEcho, nil, "r1", key.priv))
	signer := sdk.NewClient(sdk.LoadDefaultConfig().WithRegion(osssim.DefaultRegion).WithEndpoint(s.Endpoint()).
		WithCredentialsProvider(sdkcreds.NewStaticCredentialsProvider(invAK, invSecret, invToken)))
	pre, err := signer.Presign(t.Context(), &sdk.GetObjectRequest{Bucket: sdk.Ptr(ossBucket), Key: sdk.Ptr(ossKey)}, sdk.PresignExpires(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	e := policy.NewEngine(nil)
	l, logs := newLoader(t, Config{Source: pre.URL, PublicKey: string(key.pub)}, e)
	if err := l.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := l.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	if g := lastGet(t, s); g.Status != http.StatusNotModified {
		t.Fatalf("unchanged poll through a pre-signed URL: %+v", g)
	}
	clk.advance(2 * time.Hour)
	s.Put(ossBucket, ossKey, build(t, govLs, nil, "r2", key.priv))
	err = l.Load(t.Context())
	if err == nil || !strings.Contains(err.Error(), "OSS AccessDenied: Request has expired") || !strings.Contains(err.Error(), "use oss://bucket/key") {
		t.Fatalf("expired pre-signed URL: %v", err)
	}
	if e.Current().Revision() != "bundle:r1" {
		t.Fatal("the set in force changed")
	}
	if strings.Contains(logs.String(), "x-oss-signature") || strings.Contains(logs.String(), invToken) {
		t.Fatal("the pre-signed query reached the log")
	}
	var oe *oss.Error
	if errors.As(err, &oe) {
		t.Fatal("an https source must not produce OSS client errors")
	}
}
