// Package oss is the function's OSS client: the official SDK
// (github.com/aliyun/alibabacloud-oss-go-sdk-v2) signing with the
// credentials FC hands each invocation (see creds), the region's internal
// endpoint by default, and the few object operations the function needs —
// conditional Get, Head, PutIfAbsent and Delete — with every failure an
// *Error whose Code and message name the operator's problem (which
// permission on which object, no such bucket or key, throttling, network).
package oss

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	alicreds "github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	sdk "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	sdkcreds "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"

	"github.com/hpcgate/hpcgate/function/internal/creds"
)

// Defaults, named so docs and code cannot drift apart.
const (
	DefaultTimeout  = 10 * time.Second // one operation, retries included
	DefaultMaxBytes = 32 << 20         // what Get reads at most
)

// Config configures a Client.
type Config struct {
	// Region is the OSS region (cn-hangzhou); it names the default
	// endpoint and the V4 signing scope.
	Region string
	// Endpoint overrides the region's internal endpoint
	// (https://oss-<region>-internal.aliyuncs.com): a URL with scheme and
	// host, plain http only for a loopback host (tests, local mode).
	Endpoint string
	// Credentials sign calls whose context carries no FC credentials; nil
	// means the SDK's default chain (ALIBABA_CLOUD_* variables first).
	Credentials alicreds.CredentialsProvider
	// Timeout bounds one operation; <= 0 means DefaultTimeout.
	Timeout time.Duration
	// HTTPClient replaces the SDK's (tests); nil keeps the SDK's.
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Client is safe for concurrent use.
type Client struct {
	sdk      *sdk.Client
	endpoint string
	timeout  time.Duration
	fallback *creds.Fallback
	log      *slog.Logger
}

// New checks cfg and returns a Client; it calls nothing.
func New(cfg Config) (*Client, error) {
	if !validName(cfg.Region, 2, 41) {
		return nil, fmt.Errorf("oss: region %q: want lower-case letters, digits and '-'", cfg.Region)
	}
	c := &Client{timeout: cfg.Timeout, fallback: creds.NewFallback(cfg.Credentials), log: cfg.Logger}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	sc := sdk.LoadDefaultConfig().
		WithRegion(cfg.Region).
		WithCredentialsProvider(sdkcreds.CredentialsProviderFunc(c.credentials)).
		WithSignatureVersion(sdk.SignatureVersionV4)
	if cfg.Endpoint != "" {
		u, err := checkEndpoint(cfg.Endpoint)
		if err != nil {
			return nil, err
		}
		sc = sc.WithEndpoint(u.String())
		c.endpoint = u.String()
	} else {
		sc = sc.WithUseInternalEndpoint(true)
		c.endpoint = "https://oss-" + cfg.Region + "-internal.aliyuncs.com"
	}
	if cfg.HTTPClient != nil {
		sc = sc.WithHttpClient(cfg.HTTPClient)
	}
	c.sdk = sdk.NewClient(sc)
	return c, nil
}

// Endpoint is the endpoint calls go to.
func (c *Client) Endpoint() string { return c.endpoint }

func checkEndpoint(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("oss: endpoint %q: want scheme://host[:port]", raw)
	}
	u.Path = ""
	switch u.Scheme {
	case "https":
		return u, nil
	case "http":
		if ip := net.ParseIP(u.Hostname()); u.Hostname() == "localhost" || (ip != nil && ip.IsLoopback()) {
			return u, nil
		}
		return nil, fmt.Errorf("oss: endpoint %q: plain http only for a loopback host", raw)
	}
	return nil, fmt.Errorf("oss: endpoint %q: want https", raw)
}

// errNoCredentials marks a call that had nothing to sign with.
type errNoCredentials struct{ err error }

func (e *errNoCredentials) Error() string { return "no credentials: " + e.err.Error() }
func (e *errNoCredentials) Unwrap() error { return e.err }

// credentials is the SDK's provider: the invocation's STS credentials
// when ctx carries them, else the fallback's.
func (c *Client) credentials(ctx context.Context) (sdkcreds.Credentials, error) {
	cr, err := c.fallback.For(ctx)
	if err != nil {
		return sdkcreds.Credentials{}, &errNoCredentials{err}
	}
	return sdkcreds.Credentials{AccessKeyID: cr.AccessKeyID, AccessKeySecret: cr.AccessKeySecret, SecurityToken: cr.SecurityToken}, nil
}

// keyID is the masked AccessKeyId a call under ctx signs with, for
// messages.
func (c *Client) keyID(ctx context.Context) string {
	cr, err := c.fallback.For(ctx)
	if err != nil {
		return "none"
	}
	return creds.MaskID(cr.AccessKeyID)
}

// Object is what Get returns.
type Object struct {
	Data         []byte
	ETag         string // quoted, as OSS sends it
	Size         int64
	LastModified time.Time
	// NotModified: the object's ETag is still the one given to Get
	// (304); Data is empty.
	NotModified bool
}

// GetOptions qualify Get.
type GetOptions struct {
	// IfNoneMatch is the ETag the caller has; an unchanged object answers
	// 304 and Get returns NotModified, at the cost of one small request.
	IfNoneMatch string
	// MaxBytes caps Data; a larger object is an error. <= 0 means
	// DefaultMaxBytes.
	MaxBytes int64
}

// Get reads an object, conditionally.
func (c *Client) Get(ctx context.Context, bucket, key string, opt GetOptions) (Object, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req := &sdk.GetObjectRequest{Bucket: &bucket, Key: &key}
	if opt.IfNoneMatch != "" {
		req.IfNoneMatch = &opt.IfNoneMatch
	}
	max := opt.MaxBytes
	if max <= 0 {
		max = DefaultMaxBytes
	}
	res, err := c.sdk.GetObject(ctx, req)
	if err != nil {
		var se *sdk.ServiceError
		if errors.As(err, &se) && se.StatusCode == http.StatusNotModified {
			return Object{ETag: opt.IfNoneMatch, NotModified: true}, nil
		}
		return Object{}, c.mapError(ctx, "GetObject", bucket, key, err)
	}
	defer res.Body.Close()
	if res.ContentLength > max {
		return Object{}, c.newError(ctx, "GetObject", bucket, key, CodeTooLarge, fmt.Sprintf("the object is %d bytes, more than the %d allowed", res.ContentLength, max), nil)
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, max+1))
	if err != nil {
		return Object{}, c.mapError(ctx, "GetObject", bucket, key, err)
	}
	if int64(len(data)) > max {
		return Object{}, c.newError(ctx, "GetObject", bucket, key, CodeTooLarge, fmt.Sprintf("the object is more than the %d bytes allowed", max), nil)
	}
	return Object{Data: data, ETag: sdk.ToString(res.ETag), Size: int64(len(data)), LastModified: sdk.ToTime(res.LastModified)}, nil
}

// Meta is what Head returns.
type Meta struct {
	ETag         string // quoted, as OSS sends it
	Size         int64
	LastModified time.Time
}

// Head reads an object's metadata (authorized as oss:GetObject).
func (c *Client) Head(ctx context.Context, bucket, key string) (Meta, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	res, err := c.sdk.HeadObject(ctx, &sdk.HeadObjectRequest{Bucket: &bucket, Key: &key})
	if err != nil {
		return Meta{}, c.mapError(ctx, "HeadObject", bucket, key, err)
	}
	return Meta{ETag: sdk.ToString(res.ETag), Size: res.ContentLength, LastModified: sdk.ToTime(res.LastModified)}, nil
}

// PutIfAbsent stores data at key only if no object is there
// (x-oss-forbid-overwrite), and returns its ETag. An existing object is
// an *Error with Code CodeExists (errors.Is(err, ErrExists)).
//
// The SDK's own retries are off for it: a retried create that had in fact
// succeeded would read as "exists". It is retried here only when OSS
// refused it before storing anything (throttling, 5xx) or the connection
// failed; when such a retry finds the key taken by an object with exactly
// these bytes, that object is taken to be this call's own (callers that
// race for a key put unique content there, such as their own id).
func (c *Client) PutIfAbsent(ctx context.Context, bucket, key string, data []byte) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	sum := md5.Sum(data)
	ours := `"` + strings.ToUpper(hex.EncodeToString(sum[:])) + `"`
	noRetry := func(o *sdk.Options) { o.RetryMaxAttempts = sdk.Ptr(1) }
	var last error
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 {
			select {
			case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
			case <-ctx.Done():
				return "", c.mapError(ctx, "PutObject", bucket, key, last)
			}
		}
		res, err := c.sdk.PutObject(ctx, &sdk.PutObjectRequest{Bucket: &bucket, Key: &key, Body: bytes.NewReader(data), ForbidOverwrite: sdk.Ptr("true")}, noRetry)
		if err == nil {
			return sdk.ToString(res.ETag), nil
		}
		e := c.mapError(ctx, "PutObject", bucket, key, err)
		if e.Code == CodeExists && attempt > 0 {
			if m, herr := c.Head(ctx, bucket, key); herr == nil && SameETag(m.ETag, ours) {
				return m.ETag, nil
			}
			return "", e
		}
		if !e.Retryable {
			return "", e
		}
		last = err
	}
	return "", c.mapError(ctx, "PutObject", bucket, key, last)
}

// Put stores data at key, replacing any object there, and returns its
// ETag. Like PutIfAbsent it is not retried by the SDK; it is retried here
// when OSS refused it before storing (throttling, 5xx) or the connection
// failed, since storing the same bytes twice leaves the same object.
func (c *Client) Put(ctx context.Context, bucket, key string, data []byte) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	noRetry := func(o *sdk.Options) { o.RetryMaxAttempts = sdk.Ptr(1) }
	var last *Error
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 {
			select {
			case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
			case <-ctx.Done():
				return "", last
			}
		}
		res, err := c.sdk.PutObject(ctx, &sdk.PutObjectRequest{Bucket: &bucket, Key: &key, Body: bytes.NewReader(data)}, noRetry)
		if err == nil {
			return sdk.ToString(res.ETag), nil
		}
		last = c.mapError(ctx, "PutObject", bucket, key, err)
		if !last.Retryable {
			return "", last
		}
	}
	return "", last
}

// SameETag reports whether two ETags name the same content: OSS sends
// them quoted and upper-case, event notifications may carry them bare.
func SameETag(a, b string) bool {
	a, b = strings.Trim(a, `"`), strings.Trim(b, `"`)
	return a != "" && strings.EqualFold(a, b)
}

// Delete removes an object; a missing object is not an error (OSS answers
// 204 either way).
func (c *Client) Delete(ctx context.Context, bucket, key string) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if _, err := c.sdk.DeleteObject(ctx, &sdk.DeleteObjectRequest{Bucket: &bucket, Key: &key}); err != nil {
		return c.mapError(ctx, "DeleteObject", bucket, key, err)
	}
	return nil
}

// ParseURL splits oss://bucket/key. Bucket names follow OSS's rules
// (3-63 lower-case letters, digits and '-'); the key must not be empty.
func ParseURL(raw string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(raw, "oss://")
	if !ok {
		return "", "", fmt.Errorf("oss: %q: want oss://bucket/key", raw)
	}
	bucket, key, _ = strings.Cut(rest, "/")
	if !validName(bucket, 3, 63) || strings.HasSuffix(bucket, "-") {
		return "", "", fmt.Errorf("oss: %q: bucket %q: want 3-63 lower-case letters, digits and '-'", raw, bucket)
	}
	if key == "" || strings.ContainsAny(key, "?#") || len(key) > 1023 {
		return "", "", fmt.Errorf("oss: %q: want oss://bucket/key with a key of 1-1023 bytes and no '?' or '#'", raw)
	}
	return bucket, key, nil
}

// validName reports whether s is min to max lower-case letters, digits
// and '-', not starting with '-' (bucket names and region ids; no regexp,
// to keep package init off the cold start).
func validName(s string, min, max int) bool {
	if len(s) < min || len(s) > max || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
