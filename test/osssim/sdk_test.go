package osssim_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"

	"github.com/hpcgate/hpcgate/test/osssim"
)

const (
	ak, secret       = "LTAI5tOwnerKey00001", "owner-secret"
	stsAK, stsSecret = "STS.NUfc0001", "sts-secret"
	stsToken         = "CAIS-sts-token"
	bucket, key      = "gov-bundles", "hpcgate/bundle.tar.gz"
)

func start(t *testing.T) (*osssim.Server, string) {
	t.Helper()
	s := osssim.New(osssim.Config{})
	endpoint, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.AddKey(ak, secret)
	s.AddSTS(stsAK, stsSecret, stsToken, time.Now().Add(time.Hour))
	s.CreateBucket(bucket)
	return s, endpoint
}

func client(endpoint, id, sk, token string) *oss.Client {
	cfg := oss.LoadDefaultConfig().
		WithCredentialsProvider(credentials.NewStaticCredentialsProvider(id, sk, token)).
		WithRegion(osssim.DefaultRegion).
		WithEndpoint(endpoint).
		WithRetryMaxAttempts(1)
	return oss.NewClient(cfg)
}

func serviceError(t *testing.T, err error) *oss.ServiceError {
	t.Helper()
	var se *oss.ServiceError
	if !errors.As(err, &se) {
		t.Fatalf("error %v: want an *oss.ServiceError", err)
	}
	return se
}

func TestSDKObjectLifecycle(t *testing.T) {
	s, endpoint := start(t)
	c := client(endpoint, stsAK, stsSecret, stsToken)
	ctx := t.Context()
	body := []byte("bundle v1")

	put, err := c.PutObject(ctx, &oss.PutObjectRequest{Bucket: oss.Ptr(bucket), Key: oss.Ptr(key), Body: bytes.NewReader(body), ForbidOverwrite: oss.Ptr("true")})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := oss.ToString(put.ETag), osssim.ETagOf(body); got != want {
		t.Fatalf("ETag %s, want %s", got, want)
	}
	_, err = c.PutObject(ctx, &oss.PutObjectRequest{Bucket: oss.Ptr(bucket), Key: oss.Ptr(key), Body: bytes.NewReader([]byte("other")), ForbidOverwrite: oss.Ptr("true")})
	if se := serviceError(t, err); se.Code != osssim.CodeFileAlreadyExists || se.StatusCode != 409 {
		t.Fatalf("second forbid-overwrite put: %d %s", se.StatusCode, se.Code)
	}

	get, err := c.GetObject(ctx, &oss.GetObjectRequest{Bucket: oss.Ptr(bucket), Key: oss.Ptr(key)})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(get.Body)
	get.Body.Close()
	if !bytes.Equal(data, body) || oss.ToString(get.ETag) != osssim.ETagOf(body) {
		t.Fatalf("get: %q %s", data, oss.ToString(get.ETag))
	}

	_, err = c.GetObject(ctx, &oss.GetObjectRequest{Bucket: oss.Ptr(bucket), Key: oss.Ptr(key), IfNoneMatch: get.ETag})
	if se := serviceError(t, err); se.StatusCode != http.StatusNotModified {
		t.Fatalf("conditional get: %d %s", se.StatusCode, se.Code)
	}
	_, err = c.GetObject(ctx, &oss.GetObjectRequest{Bucket: oss.Ptr(bucket), Key: oss.Ptr(key), IfMatch: oss.Ptr(`"0000"`)})
	if se := serviceError(t, err); se.Code != osssim.CodePreconditionFailed {
		t.Fatalf("if-match get: %d %s", se.StatusCode, se.Code)
	}

	head, err := c.HeadObject(ctx, &oss.HeadObjectRequest{Bucket: oss.Ptr(bucket), Key: oss.Ptr(key)})
	if err != nil {
		t.Fatal(err)
	}
	if head.ContentLength != int64(len(body)) || oss.ToString(head.ETag) != osssim.ETagOf(body) {
		t.Fatalf("head: %d %s", head.ContentLength, oss.ToString(head.ETag))
	}

	if _, err := c.DeleteObject(ctx, &oss.DeleteObjectRequest{Bucket: oss.Ptr(bucket), Key: oss.Ptr(key)}); err != nil {
		t.Fatal(err)
	}
	_, err = c.HeadObject(ctx, &oss.HeadObjectRequest{Bucket: oss.Ptr(bucket), Key: oss.Ptr(key)})
	se := serviceError(t, err)
	if se.Code != osssim.CodeNoSuchKey || se.StatusCode != 404 || se.EC != "0026-00000001" || se.RequestID == "" {
		t.Fatalf("head of a deleted key: %+v", se)
	}
	if n := s.Count("HeadObject"); n != 2 {
		t.Fatalf("%d HeadObject calls logged, want 2", n)
	}
}

func TestSDKAuthErrors(t *testing.T) {
	s, endpoint := start(t)
	s.Put(bucket, key, []byte("x"))
	s.AddSTS("STS.expired", "sk", "tok", time.Now().Add(-time.Minute))
	policy := `{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:GetObject","Resource":"acs:oss:*:*:gov-bundles/hpcgate/bundle.tar.gz"}]}`
	s.AddKey("LTAI5tLimited", "limited")
	if err := s.SetPolicy("LTAI5tLimited", []byte(policy)); err != nil {
		t.Fatal(err)
	}
	s.Put(bucket, "other/object", []byte("y"))

	tests := map[string]struct {
		c          *oss.Client
		bucket     string
		key        string
		head       bool
		wantCode   string
		wantStatus int
	}{
		"wrong secret":                     {c: client(endpoint, ak, "wrong", ""), wantCode: osssim.CodeSignatureDoesNotMatch, wantStatus: 403},
		"wrong secret, HEAD":               {c: client(endpoint, ak, "wrong", ""), head: true, wantCode: osssim.CodeSignatureDoesNotMatch, wantStatus: 403},
		"unknown key":                      {c: client(endpoint, "LTAI5tNobody", "x", ""), wantCode: osssim.CodeInvalidAccessKeyID, wantStatus: 403},
		"STS key without its token":        {c: client(endpoint, stsAK, stsSecret, ""), wantCode: osssim.CodeInvalidAccessKeyID, wantStatus: 403},
		"long-term key with a token":       {c: client(endpoint, ak, secret, "tok"), wantCode: osssim.CodeInvalidAccessKeyID, wantStatus: 403},
		"wrong token":                      {c: client(endpoint, stsAK, stsSecret, "forged"), wantCode: osssim.CodeInvalidSecurityToken, wantStatus: 403},
		"expired token":                    {c: client(endpoint, "STS.expired", "sk", "tok"), wantCode: osssim.CodeSecurityTokenExpired, wantStatus: 403},
		"no such bucket":                   {c: client(endpoint, ak, secret, ""), bucket: "nope", wantCode: osssim.CodeNoSuchBucket, wantStatus: 404},
		"policy allows only the key":       {c: client(endpoint, "LTAI5tLimited", "limited", ""), key: "other/object", wantCode: osssim.CodeAccessDenied, wantStatus: 403},
		"policy allows only the key, HEAD": {c: client(endpoint, "LTAI5tLimited", "limited", ""), key: "other/object", head: true, wantCode: osssim.CodeAccessDenied, wantStatus: 403},
		"policy allows the key":            {c: client(endpoint, "LTAI5tLimited", "limited", "")},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b, k := cmpOr(tc.bucket, bucket), cmpOr(tc.key, key)
			var err error
			if tc.head {
				_, err = tc.c.HeadObject(t.Context(), &oss.HeadObjectRequest{Bucket: &b, Key: &k})
			} else {
				var res *oss.GetObjectResult
				res, err = tc.c.GetObject(t.Context(), &oss.GetObjectRequest{Bucket: &b, Key: &k})
				if err == nil {
					res.Body.Close()
				}
			}
			if tc.wantCode == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			se := serviceError(t, err)
			if se.Code != tc.wantCode || se.StatusCode != tc.wantStatus {
				t.Fatalf("got %d %s (%s), want %d %s", se.StatusCode, se.Code, se.Message, tc.wantStatus, tc.wantCode)
			}
			if se.RequestID == "" || se.EC == "" {
				t.Fatalf("request id %q, EC %q: want both", se.RequestID, se.EC)
			}
			if tc.wantCode == osssim.CodeAccessDenied && !strings.Contains(string(se.Snapshot), "<AuthAction>oss:GetObject</AuthAction>") {
				t.Fatalf("AccessDenied does not name the action: %s", se.Snapshot)
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestPresignedURL(t *testing.T) {
	s, endpoint := start(t)
	s.Put(bucket, key, []byte("presigned"))
	c := client(endpoint, stsAK, stsSecret, stsToken)
	res, err := c.Presign(t.Context(), &oss.GetObjectRequest{Bucket: oss.Ptr(bucket), Key: oss.Ptr(key)}, oss.PresignExpires(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	get := func(u string) (int, string) {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, body := get(res.URL); st != 200 || body != "presigned" {
		t.Fatalf("presigned GET: %d %s", st, body)
	}
	tampered := strings.Replace(res.URL, "bundle.tar.gz", "bundle.tar.gy", 1)
	s.Put(bucket, "hpcgate/bundle.tar.gy", []byte("other"))
	if st, body := get(tampered); st != 403 || !strings.Contains(body, "<Code>SignatureDoesNotMatch</Code>") {
		t.Fatalf("tampered presigned GET: %d %s", st, body)
	}
}

func TestConcurrentForbidOverwriteOneWins(t *testing.T) {
	s, endpoint := start(t)
	c := client(endpoint, ak, secret, "")
	const n = 16
	var wg sync.WaitGroup
	results := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, results[i] = c.PutObject(context.Background(), &oss.PutObjectRequest{Bucket: oss.Ptr(bucket), Key: oss.Ptr("claims/event-1"),
				Body: strings.NewReader("claimer-" + string(rune('a'+i))), ForbidOverwrite: oss.Ptr("true")})
		})
	}
	wg.Wait()
	won := 0
	for _, err := range results {
		if err == nil {
			won++
			continue
		}
		if se := serviceError(t, err); se.Code != osssim.CodeFileAlreadyExists {
			t.Fatalf("loser got %s", se.Code)
		}
	}
	if won != 1 {
		t.Fatalf("%d winners, want exactly 1", won)
	}
	if _, _, ok := s.Get(bucket, "claims/event-1"); !ok {
		t.Fatal("no object after the race")
	}
}

func TestFaults(t *testing.T) {
	s, endpoint := start(t)
	s.Put(bucket, key, []byte("x"))
	c := client(endpoint, ak, secret, "")
	s.Inject(osssim.Fault{Op: "GetObject", Code: osssim.CodeSlowDown})
	_, err := c.GetObject(t.Context(), &oss.GetObjectRequest{Bucket: oss.Ptr(bucket), Key: oss.Ptr(key)})
	if se := serviceError(t, err); se.Code != osssim.CodeSlowDown || se.StatusCode != 503 {
		t.Fatalf("throttled: %d %s", se.StatusCode, se.Code)
	}
	s.Inject(osssim.Fault{Op: "HeadObject", Drop: true})
	if _, err := c.HeadObject(t.Context(), &oss.HeadObjectRequest{Bucket: oss.Ptr(bucket), Key: oss.Ptr(key)}); err == nil {
		t.Fatal("dropped HEAD succeeded")
	}
	// The faults are used up.
	if _, err := c.HeadObject(t.Context(), &oss.HeadObjectRequest{Bucket: oss.Ptr(bucket), Key: oss.Ptr(key)}); err != nil {
		t.Fatal(err)
	}
}
