package oss_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/fc-runtime-go-sdk/fccontext"

	"github.com/hpcgate/hpcgate/function/internal/oss"
	"github.com/hpcgate/hpcgate/test/osssim"
)

const (
	bucket, key = "gov-bundles", "hpcgate/bundle.tar.gz"
	stsAK       = "STS.NUfcInvocation01"
	stsSecret   = "sts-secret"
	stsToken    = "CAIS-token"
)

// fcContext is the context of an FC invocation carrying STS credentials.
func fcContext(t *testing.T, ak, secret, token string) context.Context {
	return fccontext.NewContext(t.Context(), &fccontext.FcContext{RequestID: "fc-req",
		Credentials: fccontext.Credentials{AccessKeyId: ak, AccessKeySecret: secret, SecurityToken: token}})
}

func setup(t *testing.T) (*osssim.Server, *oss.Client) {
	t.Helper()
	s := osssim.New(osssim.Config{})
	endpoint, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.AddSTS(stsAK, stsSecret, stsToken, time.Now().Add(time.Hour))
	s.CreateBucket(bucket)
	c, err := oss.New(oss.Config{Region: osssim.DefaultRegion, Endpoint: endpoint,
		// Outside an invocation: a key the stand-in does not know.
		Credentials: credentials.NewStaticAKCredentialsProvider("LTAI5tUnknownKey", "x")})
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func TestGetConditional(t *testing.T) {
	s, c := setup(t)
	ctx := fcContext(t, stsAK, stsSecret, stsToken)
	etag := s.Put(bucket, key, []byte("v1"))

	o, err := c.Get(ctx, bucket, key, oss.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if string(o.Data) != "v1" || o.ETag != etag || o.NotModified {
		t.Fatalf("get: %+v", o)
	}
	o, err = c.Get(ctx, bucket, key, oss.GetOptions{IfNoneMatch: etag})
	if err != nil || !o.NotModified || o.ETag != etag || len(o.Data) != 0 {
		t.Fatalf("unchanged get: %+v, %v", o, err)
	}
	calls := s.Calls()
	if last := calls[len(calls)-1]; last.Status != 304 || last.AccessKeyID != stsAK {
		t.Fatalf("last call %+v: want a 304 signed with the invocation's key", last)
	}
	s.Put(bucket, key, []byte("v2"))
	o, err = c.Get(ctx, bucket, key, oss.GetOptions{IfNoneMatch: etag})
	if err != nil || o.NotModified || string(o.Data) != "v2" {
		t.Fatalf("changed get: %+v, %v", o, err)
	}
	if _, err := c.Get(ctx, bucket, key, oss.GetOptions{MaxBytes: 1}); oss.CodeOf(err) != oss.CodeTooLarge {
		t.Fatalf("capped get: %v", err)
	}
}

func TestHeadAndDelete(t *testing.T) {
	s, c := setup(t)
	ctx := fcContext(t, stsAK, stsSecret, stsToken)
	etag := s.Put(bucket, key, []byte("12345"))
	m, err := c.Head(ctx, bucket, key)
	if err != nil || m.ETag != etag || m.Size != 5 {
		t.Fatalf("head: %+v, %v", m, err)
	}
	if err := c.Delete(ctx, bucket, key); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, bucket, key); err != nil {
		t.Fatalf("deleting a missing object: %v", err)
	}
	_, err = c.Head(ctx, bucket, key)
	if !errors.Is(err, oss.ErrNotFound) || oss.CodeOf(err) != oss.CodeNoSuchKey {
		t.Fatalf("head after delete: %v", err)
	}
}

func TestErrorsNameTheProblem(t *testing.T) {
	s, c := setup(t)
	s.Put(bucket, key, []byte("x"))
	s.Put(bucket, "other", []byte("y"))
	s.AddSTS("STS.limited0001", "sk", "tok", time.Now().Add(time.Hour))
	s.SetPolicy("STS.limited0001", []byte(`{"Version":"1","Statement":[
		{"Effect":"Allow","Action":"oss:GetObject","Resource":"acs:oss:*:*:gov-bundles/hpcgate/bundle.tar.gz"}]}`))
	s.AddSTS("STS.expired0001", "sk", "tok", time.Now().Add(-time.Second))
	inv := fcContext(t, stsAK, stsSecret, stsToken)
	limited := fcContext(t, "STS.limited0001", "sk", "tok")

	tests := map[string]struct {
		ctx        context.Context
		op         func(context.Context) error
		code       string
		retryable  bool
		permission string
		say        []string
	}{
		"get denied": {ctx: limited, op: func(ctx context.Context) error { _, err := c.Get(ctx, bucket, "other", oss.GetOptions{}); return err },
			code: oss.CodeAccessDenied, permission: "oss:GetObject", say: []string{"oss:GetObject on acs:oss:*:*:gov-bundles/other", "STS.****01", "no statement allows it"}},
		"head denied": {ctx: limited, op: func(ctx context.Context) error { _, err := c.Head(ctx, bucket, "other"); return err },
			code: oss.CodeAccessDenied, permission: "oss:GetObject", say: []string{"oss:GetObject on acs:oss:*:*:gov-bundles/other"}},
		"put denied": {ctx: limited, op: func(ctx context.Context) error {
			_, err := c.PutIfAbsent(ctx, bucket, "claims/x", []byte("me"))
			return err
		},
			code: oss.CodeAccessDenied, permission: "oss:PutObject", say: []string{"oss:PutObject on acs:oss:*:*:gov-bundles/claims/x"}},
		"no such bucket": {ctx: inv, op: func(ctx context.Context) error {
			_, err := c.Get(ctx, "nope-bucket", key, oss.GetOptions{})
			return err
		},
			code: oss.CodeNoSuchBucket, say: []string{`bucket "nope-bucket" does not exist`}},
		"no such key": {ctx: inv, op: func(ctx context.Context) error { _, err := c.Get(ctx, bucket, "missing", oss.GetOptions{}); return err },
			code: oss.CodeNoSuchKey, say: []string{`object "missing" does not exist`}},
		"expired token": {ctx: fcContext(t, "STS.expired0001", "sk", "tok"), op: func(ctx context.Context) error { _, err := c.Head(ctx, bucket, key); return err },
			code: oss.CodeCredentials, say: []string{"SecurityTokenExpired"}},
		"outside an invocation, unknown key": {ctx: t.Context(), op: func(ctx context.Context) error { _, err := c.Head(ctx, bucket, key); return err },
			code: oss.CodeCredentials, say: []string{"InvalidAccessKeyId"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.op(tc.ctx)
			var e *oss.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v: want *oss.Error", err)
			}
			if e.Code != tc.code || e.Retryable != tc.retryable || e.Permission != tc.permission {
				t.Fatalf("code %s retryable %t permission %q: want %s %t %q (%v)", e.Code, e.Retryable, e.Permission, tc.code, tc.retryable, tc.permission, err)
			}
			for _, want := range tc.say {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message %q does not say %q", err, want)
				}
			}
			for _, secret := range []string{stsSecret, stsToken, "CAIS"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("message %q leaks a secret", err)
				}
			}
		})
	}
}

func TestThrottlingAndNetwork(t *testing.T) {
	s, c := setup(t)
	ctx := fcContext(t, stsAK, stsSecret, stsToken)
	s.Put(bucket, key, []byte("x"))
	// The SDK retries reads on its own; more throttled answers than its
	// attempts surface as throttling.
	s.Inject(osssim.Fault{Op: "GetObject", Code: osssim.CodeSlowDown, Times: 10})
	_, err := c.Get(ctx, bucket, key, oss.GetOptions{})
	var e *oss.Error
	if !errors.As(err, &e) || e.Code != oss.CodeThrottled || !e.Retryable || e.OSSCode != "SlowDown" || e.RequestID == "" {
		t.Fatalf("throttled get: %v", err)
	}
	s.ClearFaults()

	s.Close()
	_, err = c.Head(ctx, bucket, key)
	if oss.CodeOf(err) != oss.CodeNetwork {
		t.Fatalf("closed server: %v", err)
	}
}

func TestPutIfAbsent(t *testing.T) {
	s, c := setup(t)
	ctx := fcContext(t, stsAK, stsSecret, stsToken)
	etag, err := c.PutIfAbsent(ctx, bucket, "claims/e1", []byte("owner-a"))
	if err != nil || etag != osssim.ETagOf([]byte("owner-a")) {
		t.Fatalf("first put: %s %v", etag, err)
	}
	_, err = c.PutIfAbsent(ctx, bucket, "claims/e1", []byte("owner-b"))
	if !errors.Is(err, oss.ErrExists) {
		t.Fatalf("second put: %v", err)
	}
	// Even the same bytes are "exists" on a first attempt: only a retry
	// of this call may recognise its own object.
	_, err = c.PutIfAbsent(ctx, bucket, "claims/e1", []byte("owner-a"))
	if !errors.Is(err, oss.ErrExists) {
		t.Fatalf("same bytes, first attempt: %v", err)
	}

	// Throttled before storing: retried, stored once.
	s.Inject(osssim.Fault{Op: "PutObject", Code: osssim.CodeSlowDown})
	if _, err := c.PutIfAbsent(ctx, bucket, "claims/e2", []byte("owner-a")); err != nil {
		t.Fatalf("put after throttling: %v", err)
	}
	// Stored, then the answer lost: the retry finds its own bytes.
	s.Inject(osssim.Fault{Op: "PutObject", DropAfter: true})
	if _, err := c.PutIfAbsent(ctx, bucket, "claims/e3", []byte("owner-a")); err != nil {
		t.Fatalf("put whose answer was lost: %v", err)
	}
	// Someone else's object behind a lost answer is still theirs.
	s.Inject(osssim.Fault{Op: "PutObject", Drop: true})
	s.Put(bucket, "claims/e4", []byte("owner-b"))
	if _, err := c.PutIfAbsent(ctx, bucket, "claims/e4", []byte("owner-a")); !errors.Is(err, oss.ErrExists) {
		t.Fatalf("put racing another owner: %v", err)
	}
}

func TestPutIfAbsentConcurrentOneWins(t *testing.T) {
	s, c := setup(t)
	ctx := fcContext(t, stsAK, stsSecret, stsToken)
	const n = 12
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = c.PutIfAbsent(ctx, bucket, "claims/race", []byte{'a' + byte(i)})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, oss.ErrExists):
			t.Fatalf("loser: %v", err)
		}
	}
	if won != 1 || s.Count("PutObject") != n {
		t.Fatalf("%d winners of %d puts (%d reached OSS), want exactly 1", won, n, s.Count("PutObject"))
	}
}

func TestConfig(t *testing.T) {
	c, err := oss.New(oss.Config{Region: "cn-hangzhou"})
	if err != nil || c.Endpoint() != "https://oss-cn-hangzhou-internal.aliyuncs.com" {
		t.Fatalf("default endpoint %q, %v", c.Endpoint(), err)
	}
	for _, bad := range []oss.Config{
		{Region: ""},
		{Region: "cn hangzhou"},
		{Region: "cn-hangzhou", Endpoint: "http://oss.example.com"},
		{Region: "cn-hangzhou", Endpoint: "https://oss.example.com/path"},
		{Region: "cn-hangzhou", Endpoint: "ftp://oss.example.com"},
	} {
		if _, err := oss.New(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func TestParseURL(t *testing.T) {
	tests := map[string]struct{ bucket, key string }{
		"oss://gov-bundles/hpcgate/bundle.tar.gz": {"gov-bundles", "hpcgate/bundle.tar.gz"},
		"oss://abc/k":             {"abc", "k"},
		"oss://gov-bundles/":      {},
		"oss://gov-bundles":       {},
		"oss://Gov/k":             {},
		"oss://ab/k":              {},
		"oss://gov-bundles/k?x=1": {},
		"https://gov-bundles/k":   {},
	}
	for raw, want := range tests {
		b, k, err := oss.ParseURL(raw)
		if (err == nil) != (want.bucket != "") || b != want.bucket || k != want.key {
			t.Errorf("ParseURL(%q) = %q, %q, %v", raw, b, k, err)
		}
	}
}

func TestNoCredentials(t *testing.T) {
	s, _ := setup(t)
	c, err := oss.New(oss.Config{Region: osssim.DefaultRegion, Endpoint: s.Endpoint(),
		Credentials: credentials.NewStaticAKCredentialsProvider("", "")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Head(t.Context(), bucket, key)
	if oss.CodeOf(err) != oss.CodeCredentials || !strings.Contains(err.Error(), "no credentials to call OSS with") {
		t.Fatalf("without credentials: %v", err)
	}
	if n := s.Count(""); n != 0 {
		t.Fatalf("%d requests reached OSS unsigned", n)
	}
}

func TestParseURLBucketRules(t *testing.T) {
	for bucket, ok := range map[string]bool{
		"abc": true, "a-b-c": true, "0gov": true, strings.Repeat("a", 63): true,
		"ab": false, strings.Repeat("a", 64): false, "-abc": false, "abc-": false, "a_b": false, "a.b": false, "ABC": false,
	} {
		if _, _, err := oss.ParseURL("oss://" + bucket + "/k"); (err == nil) != ok {
			t.Errorf("bucket %q: err %v, want ok=%t", bucket, err, ok)
		}
	}
}

func TestPutOverwrites(t *testing.T) {
	s, c := setup(t)
	ctx := fcContext(t, stsAK, stsSecret, stsToken)
	if _, err := c.Put(ctx, bucket, "state/x", []byte("one")); err != nil {
		t.Fatal(err)
	}
	s.Inject(osssim.Fault{Op: "PutObject", Code: osssim.CodeSlowDown})
	etag, err := c.Put(ctx, bucket, "state/x", []byte("two"))
	if err != nil || etag != osssim.ETagOf([]byte("two")) {
		t.Fatalf("overwrite after throttling: %s %v", etag, err)
	}
	if data, _, _ := s.Get(bucket, "state/x"); string(data) != "two" {
		t.Fatalf("stored %q", data)
	}
	s.Inject(osssim.Fault{Op: "PutObject", Code: osssim.CodeSlowDown, Times: 3})
	if _, err := c.Put(ctx, bucket, "state/x", []byte("three")); oss.CodeOf(err) != oss.CodeThrottled {
		t.Fatalf("throttled three times: %v", err)
	}
}

func TestSameETag(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{`"5EB63BBBE01EEED093CB22BB8F5ACDC3"`, `5eb63bbbe01eeed093cb22bb8f5acdc3`, true},
		{`"5EB63BBBE01EEED093CB22BB8F5ACDC3"`, `"5EB63BBBE01EEED093CB22BB8F5ACDC3"`, true},
		{`"5EB6"`, `"5EB7"`, false},
		{``, `""`, false},
	} {
		if got := oss.SameETag(tc.a, tc.b); got != tc.want {
			t.Errorf("SameETag(%s, %s) = %t", tc.a, tc.b, got)
		}
	}
}
