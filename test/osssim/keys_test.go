package osssim_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
)

// TestSDKSignsOddKeys: keys as events deliver them (spaces, '+', '%',
// non-ASCII, reserved characters) survive the SDK's encoding and the
// stand-in's canonical request, header-signed and pre-signed.
func TestSDKSignsOddKeys(t *testing.T) {
	_, endpoint := start(t)
	c := client(endpoint, stsAK, stsSecret, stsToken)
	keys := []string{
		"incoming/a b.csv",
		"incoming/a+b.csv",
		"incoming/100%.csv",
		"incoming/数据/文件.csv",
		"incoming/e\u0301.csv",
		"incoming/!$&'()*,;=:@.csv",
		"incoming/~tilde_under-dash.csv",
		"incoming//double/slash",
		"incoming/q?x=1#frag",
		"dir/",
	}
	for _, k := range keys {
		t.Run(k, func(t *testing.T) {
			body := []byte("data of " + k)
			if _, err := c.PutObject(t.Context(), &oss.PutObjectRequest{Bucket: oss.Ptr(bucket), Key: oss.Ptr(k), Body: bytes.NewReader(body), ForbidOverwrite: oss.Ptr("true")}); err != nil {
				t.Fatalf("put: %v", err)
			}
			head, err := c.HeadObject(t.Context(), &oss.HeadObjectRequest{Bucket: oss.Ptr(bucket), Key: oss.Ptr(k)})
			if err != nil || head.ContentLength != int64(len(body)) {
				t.Fatalf("head: %v", err)
			}
			pre, err := c.Presign(t.Context(), &oss.GetObjectRequest{Bucket: oss.Ptr(bucket), Key: oss.Ptr(k)})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.Get(pre.URL)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !bytes.Equal(got, body) {
				t.Fatalf("pre-signed get: %d %q", resp.StatusCode, got)
			}
			if _, err := c.DeleteObject(t.Context(), &oss.DeleteObjectRequest{Bucket: oss.Ptr(bucket), Key: oss.Ptr(k)}); err != nil {
				t.Fatalf("delete: %v", err)
			}
		})
	}
}
