package osssim_test

import (
	"context"
	"encoding/base64"
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/signer"

	"github.com/hpcgate/hpcgate/test/osssim"
)

// signed builds a request signed by the SDK's own V4 signer, then lets
// tamper change it before it is sent: every change to a signed part must
// be refused.
func signed(t *testing.T, endpoint, method, key string, header http.Header, region string, at time.Time, tamper func(*http.Request)) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, endpoint+"/"+bucket+"/"+key, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	b, k, product := bucket, key, "oss"
	sc := &signer.SigningContext{Product: &product, Region: &region, Bucket: &b, Key: &k, Request: req, Time: at,
		Credentials: &credentials.Credentials{AccessKeyID: stsAK, AccessKeySecret: stsSecret, SecurityToken: stsToken}}
	if err := (&signer.SignerV4{}).Sign(context.Background(), sc); err != nil {
		t.Fatal(err)
	}
	if tamper != nil {
		tamper(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func errorCode(t *testing.T, resp *http.Response) string {
	t.Helper()
	var doc struct{ Code string }
	body, _ := io.ReadAll(resp.Body)
	if resp.Request.Method == http.MethodHead {
		if len(body) != 0 {
			t.Fatalf("HEAD error with a body: %q", body)
		}
		body, _ = base64.StdEncoding.DecodeString(resp.Header.Get("X-Oss-Err"))
	}
	if resp.StatusCode/100 == 2 {
		return ""
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		t.Fatalf("status %d, body not an OSS error document: %q", resp.StatusCode, body)
	}
	if resp.Header.Get("X-Oss-Request-Id") == "" || resp.Header.Get("X-Oss-Ec") == "" {
		t.Fatalf("error without x-oss-request-id / x-oss-ec: %v", resp.Header)
	}
	return doc.Code
}

func TestSignatureCoversWhatItMust(t *testing.T) {
	s, endpoint := start(t)
	s.Put(bucket, key, []byte("x"))
	s.Put(bucket, "other", []byte("y"))
	now := time.Now()
	put := http.Header{"X-Oss-Forbid-Overwrite": {"true"}, "Content-Type": {"text/plain"}}
	tests := map[string]struct {
		method string
		key    string
		header http.Header
		region string
		at     time.Time
		tamper func(*http.Request)
		want   string
	}{
		"untouched GET":            {method: "GET"},
		"untouched HEAD":           {method: "HEAD"},
		"other key":                {method: "GET", tamper: func(r *http.Request) { r.URL.Path = "/" + bucket + "/other" }, want: osssim.CodeSignatureDoesNotMatch},
		"other method":             {method: "GET", tamper: func(r *http.Request) { r.Method = "DELETE" }, want: osssim.CodeSignatureDoesNotMatch},
		"added x-oss header":       {method: "GET", tamper: func(r *http.Request) { r.Header.Set("X-Oss-Meta-A", "1") }, want: osssim.CodeSignatureDoesNotMatch},
		"forbid-overwrite dropped": {method: "PUT", key: "new", header: put, tamper: func(r *http.Request) { r.Header.Del("X-Oss-Forbid-Overwrite") }, want: osssim.CodeSignatureDoesNotMatch},
		"content type changed":     {method: "PUT", key: "new", header: put, tamper: func(r *http.Request) { r.Header.Set("Content-Type", "text/html") }, want: osssim.CodeSignatureDoesNotMatch},
		"token swapped":            {method: "GET", tamper: func(r *http.Request) { r.Header.Set("X-Oss-Security-Token", "other") }, want: osssim.CodeInvalidSecurityToken},
		"date moved": {method: "GET", tamper: func(r *http.Request) {
			r.Header.Set("X-Oss-Date", now.Add(time.Minute).UTC().Format("20060102T150405Z"))
		}, want: osssim.CodeSignatureDoesNotMatch},
		"query added":                 {method: "GET", tamper: func(r *http.Request) { r.URL.RawQuery = "x-oss-process=image" }, want: osssim.CodeSignatureDoesNotMatch},
		"signed 20 minutes ago":       {method: "GET", at: now.Add(-20 * time.Minute), want: osssim.CodeRequestTimeTooSkewed},
		"signed 20 minutes ahead":     {method: "GET", at: now.Add(20 * time.Minute), want: osssim.CodeRequestTimeTooSkewed},
		"signed for another region":   {method: "GET", region: "cn-beijing", want: osssim.CodeInvalidArgument},
		"HEAD with the key changed":   {method: "HEAD", tamper: func(r *http.Request) { r.URL.Path = "/" + bucket + "/other" }, want: osssim.CodeSignatureDoesNotMatch},
		"unsigned (no Authorization)": {method: "GET", tamper: func(r *http.Request) { r.Header.Del("Authorization") }, want: osssim.CodeAccessDenied},
		"V1 signature":                {method: "GET", tamper: func(r *http.Request) { r.Header.Set("Authorization", "OSS "+stsAK+":c2ln") }, want: osssim.CodeInvalidArgument},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			k := cmpOr(tc.key, key)
			at := tc.at
			if at.IsZero() {
				at = now
			}
			resp := signed(t, endpoint, tc.method, k, tc.header, cmpOr(tc.region, osssim.DefaultRegion), at, tc.tamper)
			if got := errorCode(t, resp); got != tc.want {
				t.Fatalf("status %d code %q, want %q", resp.StatusCode, got, tc.want)
			}
		})
	}
	if _, _, ok := s.Get(bucket, "new"); ok {
		t.Fatal("a tampered PUT stored an object")
	}
}

func TestPolicyEvaluation(t *testing.T) {
	s, endpoint := start(t)
	s.Put(bucket, "public/a", []byte("a"))
	s.Put(bucket, "public/secret", []byte("s"))
	s.Put(bucket, "private/b", []byte("b"))
	policy := `{"Version":"1","Statement":[
	  {"Effect":"Allow","Action":["oss:Get*"],"Resource":["acs:oss:*:*:gov-bundles/public/*"]},
	  {"Effect":"Deny","Action":"oss:GetObject","Resource":"acs:oss:*:*:gov-bundles/public/secre?"},
	  {"Effect":"Allow","Action":"OSS:PutObject","Resource":"acs:oss:*:1234567890123456:gov-bundles/uploads/*"},
	  {"Effect":"Allow","Action":"oss:DeleteObject","Resource":"acs:oss:*:9999:gov-bundles/*"}]}`
	if err := s.SetPolicy(stsAK, []byte(policy)); err != nil {
		t.Fatal(err)
	}
	c := client(endpoint, stsAK, stsSecret, stsToken)
	get := func(k string) error {
		res, err := c.GetObject(t.Context(), &oss.GetObjectRequest{Bucket: oss.Ptr(bucket), Key: oss.Ptr(k)})
		if err == nil {
			res.Body.Close()
		}
		return err
	}
	tests := map[string]struct {
		op   func() error
		deny string // "" allowed, else NoPermissionType
	}{
		"wildcard action and resource": {op: func() error { return get("public/a") }},
		"explicit deny wins":           {op: func() error { return get("public/secret") }, deny: "ExplicitDeny"},
		"outside every resource":       {op: func() error { return get("private/b") }, deny: "ImplicitDeny"},
		"action matched without case": {op: func() error {
			_, err := c.PutObject(t.Context(), &oss.PutObjectRequest{Bucket: oss.Ptr(bucket), Key: oss.Ptr("uploads/x"), Body: strings.NewReader("x")})
			return err
		}},
		"another account's resource": {op: func() error {
			_, err := c.DeleteObject(t.Context(), &oss.DeleteObjectRequest{Bucket: oss.Ptr(bucket), Key: oss.Ptr("public/a")})
			return err
		}, deny: "ImplicitDeny"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.op()
			if tc.deny == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			se := serviceError(t, err)
			if se.Code != osssim.CodeAccessDenied || !strings.Contains(string(se.Snapshot), "<NoPermissionType>"+tc.deny+"</NoPermissionType>") {
				t.Fatalf("got %s: %s", se.Code, se.Snapshot)
			}
		})
	}
	for _, bad := range []string{
		`{"Version":"2","Statement":[]}`,
		`{"Version":"1","Statement":[{"Effect":"Maybe","Action":"oss:GetObject","Resource":"*"}]}`,
		`{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:GetObject","Resource":"*","Condition":{"IpAddress":{"acs:SourceIp":"10.0.0.0/8"}}}]}`,
		`not json`,
	} {
		if err := s.SetPolicy(stsAK, []byte(bad)); err == nil {
			t.Errorf("policy %s accepted", bad)
		}
	}
}
