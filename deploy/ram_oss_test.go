package deploy

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"

	"github.com/hpcgate/hpcgate/test/osssim"
)

// TestFunctionPolicyOSSStatementAgainstOSS renders function-policy.json
// as deploy/README.md says, makes it the policy of the function's STS
// credentials in the OSS stand-in (which evaluates RAM documents), and
// shows the role can read exactly the bundle object: not a sibling, not a
// prefix, not another bucket, and not write or delete it.
func TestFunctionPolicyOSSStatementAgainstOSS(t *testing.T) {
	const (
		bucket = "corp-policy"
		object = "hpcgate/bundle.tar.gz"
		ak     = "STS.fcRoleSession01"
	)
	raw, err := os.ReadFile(filepath.Join("ram", "function-policy.json"))
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.NewReplacer("{{ACCOUNT_ID}}", osssim.DefaultAccount, "{{REGION}}", osssim.DefaultRegion,
		"{{POLICY_BUCKET}}", bucket, "{{POLICY_OBJECT}}", object,
		"{{LOG_PROJECT}}", "hpcgate-logs", "{{LOG_STORE}}", "audit").Replace(string(raw))
	if placeholderRE.MatchString(doc) {
		t.Fatalf("placeholders left after rendering: %v", placeholderRE.FindAllString(doc, -1))
	}

	s := osssim.New(osssim.Config{})
	endpoint, err := s.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	s.AddSTS(ak, "secret", "token", time.Now().Add(time.Hour))
	if err := s.SetPolicy(ak, []byte(doc)); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{object, "hpcgate/bundle.tar.gz.bak", "hpcgate/other", "hpcgate/bundle.tar"} {
		s.Put(bucket, k, []byte("x"))
	}
	s.Put("other-bucket", object, []byte("x"))

	// The official SDK, signing with the role's STS credentials as the
	// function does.
	c := oss.NewClient(oss.LoadDefaultConfig().WithRegion(osssim.DefaultRegion).WithEndpoint(endpoint).WithRetryMaxAttempts(1).
		WithCredentialsProvider(credentials.NewStaticCredentialsProvider(ak, "secret", "token")))
	ctx := t.Context()
	get := func(b, k string) func(context.Context) error {
		return func(ctx context.Context) error {
			res, err := c.GetObject(ctx, &oss.GetObjectRequest{Bucket: &b, Key: &k})
			if err == nil {
				res.Body.Close()
			}
			return err
		}
	}
	tests := map[string]struct {
		op      func(context.Context) error
		allowed bool
	}{
		"GetObject on the bundle": {op: get(bucket, object), allowed: true},
		"HeadObject on the bundle": {op: func(ctx context.Context) error {
			_, err := c.HeadObject(ctx, &oss.HeadObjectRequest{Bucket: oss.Ptr(bucket), Key: oss.Ptr(object)})
			return err
		}, allowed: true},
		"GetObject on a longer key":        {op: get(bucket, "hpcgate/bundle.tar.gz.bak")},
		"GetObject on a prefix of the key": {op: get(bucket, "hpcgate/bundle.tar")},
		"GetObject on a sibling":           {op: get(bucket, "hpcgate/other")},
		"GetObject in another bucket":      {op: get("other-bucket", object)},
		"PutObject on the bundle": {op: func(ctx context.Context) error {
			_, err := c.PutObject(ctx, &oss.PutObjectRequest{Bucket: oss.Ptr(bucket), Key: oss.Ptr(object), Body: bytes.NewReader([]byte("forged"))})
			return err
		}},
		"DeleteObject on the bundle": {op: func(ctx context.Context) error {
			_, err := c.DeleteObject(ctx, &oss.DeleteObjectRequest{Bucket: oss.Ptr(bucket), Key: oss.Ptr(object)})
			return err
		}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.op(ctx)
			if tc.allowed && err != nil {
				t.Fatalf("refused: %v", err)
			}
			var se *oss.ServiceError
			if !tc.allowed && (!errors.As(err, &se) || se.Code != "AccessDenied") {
				t.Fatalf("got %v, want AccessDenied", err)
			}
		})
	}
}
