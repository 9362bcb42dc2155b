package bundle

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/function/internal/oss"
)

// fetched is the outcome of one conditional fetch.
type fetched struct {
	data        []byte
	etag        string
	notModified bool
}

// source is where the bundle lives.
type source interface {
	// fetch returns the bundle bytes, or notModified when etag (the
	// ETag of the bundle in force, "" for none) still names it.
	fetch(ctx context.Context, etag string) (fetched, error)
	// String names the source for logs, with no credentials or query.
	String() string
}

// ObjectReader reads OSS objects conditionally, signed with the
// function's own credentials (*oss.Client).
type ObjectReader interface {
	Get(ctx context.Context, bucket, key string, opt oss.GetOptions) (oss.Object, error)
}

// newSource recognizes an oss://bucket/key URL (read with objects), an
// http(s) URL, a file:// URL or a local path.
func newSource(raw string, client *http.Client, objects ObjectReader, maxBytes int64) (source, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, errors.New("bundle: no source: give an oss:// URL, a path or an http(s) URL")
	}
	lower := strings.ToLower(raw)
	switch {
	case strings.HasPrefix(lower, "oss://"):
		bucket, key, err := oss.ParseURL(raw)
		if err != nil {
			return nil, fmt.Errorf("bundle: %w", err)
		}
		if objects == nil {
			return nil, errors.New("bundle: an oss:// source needs an OSS client")
		}
		return &ossSource{bucket: bucket, key: key, objects: objects, maxBytes: maxBytes}, nil
	case strings.HasPrefix(lower, "http://"), strings.HasPrefix(lower, "https://"):
		u, err := url.Parse(raw)
		if err != nil {
			return nil, errors.New("bundle: source URL does not parse")
		}
		if err := checkURL(u); err != nil {
			return nil, err
		}
		if client == nil {
			client = defaultClient()
		}
		return &httpSource{url: u, client: client, maxBytes: maxBytes}, nil
	case strings.HasPrefix(lower, "file://"):
		u, err := url.Parse(raw)
		if err != nil || (u.Host != "" && u.Host != "localhost") || u.Path == "" {
			return nil, fmt.Errorf("bundle: source %q: want file:///absolute/path", raw)
		}
		return &fileSource{path: u.Path, maxBytes: maxBytes}, nil
	case strings.Contains(raw, "://"):
		return nil, errors.New("bundle: source scheme must be oss, https (http only for a loopback host) or file, or a plain path")
	}
	return &fileSource{path: raw, maxBytes: maxBytes}, nil
}

// checkURL accepts https URLs, and http ones only for a loopback host
// (local runs and tests).
func checkURL(u *url.URL) error {
	if u.Host == "" {
		return errors.New("bundle: source URL has no host")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if hpcgate.IsLoopbackHost(u.Hostname()) {
			return nil
		}
		return errors.New("bundle: source URL must be https (http only for a loopback host)")
	}
	return errors.New("bundle: source URL must be https")
}

// defaultClient bounds each fetch and follows redirects only to URLs the
// source itself could have named.
func defaultClient() *http.Client {
	return &http.Client{
		Timeout: DefaultTimeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("too many redirects")
			}
			return checkURL(req.URL)
		},
	}
}

// redact returns u without userinfo, query and fragment: a presigned OSS
// URL carries its signature in the query.
func redact(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.Fragment, c.RawFragment = nil, "", "", ""
	return c.String()
}

type httpSource struct {
	url      *url.URL
	client   *http.Client
	maxBytes int64
}

func (s *httpSource) String() string { return redact(s.url) }

func (s *httpSource) fetch(ctx context.Context, etag string) (fetched, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url.String(), nil)
	if err != nil {
		return fetched{}, fmt.Errorf("fetch: %w", err)
	}
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		// The *url.Error names the full URL; keep the query out of logs.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fetched{}, fmt.Errorf("fetch: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusNotModified:
		return fetched{etag: etag, notModified: true}, nil
	case http.StatusOK:
	default:
		return fetched{}, fmt.Errorf("fetch: http status %d%s", resp.StatusCode, ossReason(resp))
	}
	data, err := readCapped(resp.Body, s.maxBytes)
	if err != nil {
		return fetched{}, fmt.Errorf("fetch: %w", err)
	}
	return fetched{data: data, etag: resp.Header.Get("ETag")}, nil
}

// ossReason names OSS's error code and message when an answer is OSS's
// XML error document (a pre-signed URL that expired says so), else "".
func ossReason(resp *http.Response) string {
	if !strings.Contains(resp.Header.Get("Content-Type"), "xml") && resp.Header.Get("X-Oss-Request-Id") == "" {
		return ""
	}
	var doc struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	if err := xml.NewDecoder(io.LimitReader(resp.Body, 16<<10)).Decode(&doc); err != nil || doc.Code == "" {
		return ""
	}
	reason := fmt.Sprintf(" (OSS %s: %s", doc.Code, doc.Message)
	if doc.Code == "AccessDenied" && strings.Contains(doc.Message, "expired") {
		reason += "; a pre-signed URL expires: use oss://bucket/key, read with the function's own role"
	}
	return reason + ")"
}

// ossSource reads the bundle with the OSS SDK, signed with the function's
// credentials, so no URL expires. An unchanged bundle costs one GET
// answered 304.
type ossSource struct {
	bucket, key string
	objects     ObjectReader
	maxBytes    int64
}

func (s *ossSource) String() string { return "oss://" + s.bucket + "/" + s.key }

func (s *ossSource) fetch(ctx context.Context, etag string) (fetched, error) {
	o, err := s.objects.Get(ctx, s.bucket, s.key, oss.GetOptions{IfNoneMatch: etag, MaxBytes: s.maxBytes})
	if err != nil {
		// The loader names the object; the reason says what to fix.
		var oe *oss.Error
		if errors.As(err, &oe) {
			return fetched{}, &reasonError{reason: "GetObject: " + oe.Reason(), err: err}
		}
		return fetched{}, fmt.Errorf("GetObject: %w", err)
	}
	if o.NotModified {
		return fetched{etag: etag, notModified: true}, nil
	}
	return fetched{data: o.Data, etag: o.ETag}, nil
}

// reasonError shows reason and unwraps to err.
type reasonError struct {
	reason string
	err    error
}

func (e *reasonError) Error() string { return e.reason }
func (e *reasonError) Unwrap() error { return e.err }

type fileSource struct {
	path     string
	maxBytes int64
}

func (s *fileSource) String() string { return s.path }

// fetch reads the whole file each time; the Loader skips recompiling when
// its digest is that of the set in force.
func (s *fileSource) fetch(ctx context.Context, _ string) (fetched, error) {
	if err := ctx.Err(); err != nil {
		return fetched{}, err
	}
	f, err := os.Open(s.path)
	if err != nil {
		return fetched{}, fmt.Errorf("read file: %w", err)
	}
	defer f.Close()
	data, err := readCapped(f, s.maxBytes)
	if err != nil {
		return fetched{}, fmt.Errorf("read file: %w", err)
	}
	return fetched{data: data}, nil
}

func readCapped(r io.Reader, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("bundle is larger than %d bytes", max)
	}
	return data, nil
}
