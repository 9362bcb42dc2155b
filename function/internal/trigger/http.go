package trigger

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

// HTTPEvent is an FC 3.0 HTTP trigger event. Multi-valued headers and
// query parameters arrive joined with ","; they stay joined.
type HTTPEvent struct {
	Version         string             `json:"version"`
	RawPath         string             `json:"rawPath"`
	Body            string             `json:"body,omitempty"`
	IsBase64Encoded bool               `json:"isBase64Encoded"`
	Headers         map[string]string  `json:"headers,omitempty"`
	QueryParameters map[string]string  `json:"queryParameters,omitempty"`
	RequestContext  HTTPRequestContext `json:"requestContext"`

	body []byte // Body, base64-decoded when IsBase64Encoded
}

// HTTPRequestContext is the requestContext member of an HTTP trigger event.
type HTTPRequestContext struct {
	AccountID    string          `json:"accountId,omitempty"`
	DomainName   string          `json:"domainName,omitempty"`
	DomainPrefix string          `json:"domainPrefix,omitempty"`
	RequestID    string          `json:"requestId,omitempty"`
	Time         string          `json:"time,omitempty"`
	TimeEpoch    string          `json:"timeEpoch,omitempty"`
	TriggerID    string          `json:"triggerId,omitempty"`
	HTTP         HTTPDescription `json:"http"`
}

// HTTPDescription is requestContext.http: the request line and peer.
type HTTPDescription struct {
	Method    string `json:"method"`
	Path      string `json:"path,omitempty"`
	Protocol  string `json:"protocol,omitempty"`
	SourceIP  string `json:"sourceIp,omitempty"`
	UserAgent string `json:"userAgent,omitempty"`
}

// httpMembers are the top-level members of an HTTP trigger event the
// gateway reads. Others are ignored, not refused: FC writes this envelope,
// not the caller, and a member FC adds one day must not take the HTTP
// trigger down. Everything a caller controls (headers, query, body) is
// inside these members and checked strictly.
var httpMembers = []string{"version", "rawPath", "body", "isBase64Encoded", "headers", "queryParameters", "requestContext"}

func decodeHTTP(m map[string]json.RawMessage, maxBytes int) (HTTPEvent, error) {
	var e HTTPEvent
	var err error
	fail := func(err error) (HTTPEvent, error) { return HTTPEvent{}, eventError("http event: %v", err) }
	for _, f := range []struct {
		name     string
		dst      *string
		required bool
	}{{"version", &e.Version, true}, {"rawPath", &e.RawPath, true}, {"body", &e.Body, false}} {
		raw, ok := m[f.name]
		if !ok {
			if f.required {
				return fail(fmt.Errorf("%s: missing", f.name))
			}
			continue
		}
		if *f.dst, err = str(raw, f.name); err != nil {
			return fail(err)
		}
	}
	if raw, ok := m["isBase64Encoded"]; ok {
		if e.IsBase64Encoded, err = boolean(raw, "isBase64Encoded"); err != nil {
			return fail(err)
		}
	}
	if raw, ok := m["headers"]; ok {
		if e.Headers, err = stringMap(raw, "headers"); err != nil {
			return fail(err)
		}
	}
	if raw, ok := m["queryParameters"]; ok {
		if e.QueryParameters, err = stringMap(raw, "queryParameters"); err != nil {
			return fail(err)
		}
	}
	raw, ok := m["requestContext"]
	if !ok {
		return fail(errors.New("requestContext: missing"))
	}
	if err := decodeInto(raw, "requestContext", &e.RequestContext); err != nil {
		return fail(err)
	}
	if err := e.check(maxBytes); err != nil {
		return fail(err)
	}
	return e, nil
}

// decodeInto decodes an object member into a struct; unknown members
// are ignored (FC adds some), wrong types and null are refused.
func decodeInto(raw json.RawMessage, field string, dst any) error {
	if kindOf(raw) != "an object" {
		return fmt.Errorf("%s: want an object, got %s", field, kindOf(raw))
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("%s.%s: want %s, got a %s", field, te.Field, te.Type, te.Value)
		}
		return fmt.Errorf("%s: %v", field, err)
	}
	return nil
}

// check validates what Request relies on.
func (e *HTTPEvent) check(maxBytes int) error {
	if e.Version == "" {
		return errors.New("version: empty")
	}
	if !strings.HasPrefix(e.RawPath, "/") || strings.HasPrefix(e.RawPath, "//") || strings.ContainsAny(e.RawPath, "?#") || hasControl(e.RawPath) || strings.ContainsRune(e.RawPath, ' ') {
		return fmt.Errorf("rawPath: want an absolute path without query, got %.80q", e.RawPath)
	}
	if _, err := url.PathUnescape(e.RawPath); err != nil {
		return fmt.Errorf("rawPath: bad escape in %.80q", e.RawPath)
	}
	if !validToken(e.RequestContext.HTTP.Method) {
		return fmt.Errorf("requestContext.http.method: want an HTTP method, got %.20q", e.RequestContext.HTTP.Method)
	}
	if ip := e.RequestContext.HTTP.SourceIP; ip != "" {
		if _, err := netip.ParseAddr(ip); err != nil {
			return fmt.Errorf("requestContext.http.sourceIp: not an IP address: %.60q", ip)
		}
	}
	if p := e.RequestContext.HTTP.Protocol; p != "" {
		if _, _, ok := http.ParseHTTPVersion(p); !ok {
			return fmt.Errorf("requestContext.http.protocol: not an HTTP version: %.20q", p)
		}
	}
	for k, v := range e.Headers {
		if !validToken(k) {
			return fmt.Errorf("headers: bad header name %.60q", k)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return fmt.Errorf("headers.%s: control character in value", k)
		}
	}
	for k, v := range e.QueryParameters {
		if strings.ContainsRune(k, 0) || strings.ContainsRune(v, 0) {
			return errors.New("queryParameters: NUL character")
		}
	}
	e.body = []byte(e.Body)
	if e.IsBase64Encoded {
		b, err := base64.StdEncoding.Strict().DecodeString(e.Body)
		if err != nil {
			return errors.New("body: isBase64Encoded is true but body is not valid base64")
		}
		e.body = b
	}
	if len(e.body) > maxBytes {
		return tooLarge("http body", len(e.body), maxBytes)
	}
	return nil
}

func validToken(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return true
		}
	}
	return false
}

// Request turns the event into a server-side *http.Request carrying
// ctx: method, path (rawPath, escapes kept) and query, headers under
// canonical names, the body (base64-decoded when isBase64Encoded),
// Host from the host header or requestContext.domainName, RemoteAddr
// "sourceIp:0". TLS is never set: the event does not say which scheme the
// caller used, and headers such as X-Forwarded-Proto are the caller's to
// write (see the ingress package for acs:SecureTransport).
func (e HTTPEvent) Request(ctx context.Context) (*http.Request, error) {
	if e.body == nil && e.Body != "" {
		// An HTTPEvent built by hand rather than by Decode.
		if err := e.check(DefaultMaxBytes); err != nil {
			return nil, eventError("http event: %v", err)
		}
	}
	path, err := url.PathUnescape(e.RawPath)
	if err != nil {
		return nil, eventError("http event: rawPath: %v", err)
	}
	u := &url.URL{Path: path, RawPath: e.RawPath}
	if len(e.QueryParameters) > 0 {
		q := make(url.Values, len(e.QueryParameters))
		for k, v := range e.QueryParameters {
			q.Set(k, v)
		}
		u.RawQuery = q.Encode()
	}
	r, err := http.NewRequestWithContext(ctx, e.RequestContext.HTTP.Method, "/", bytes.NewReader(e.body))
	if err != nil {
		return nil, eventError("http event: %v", err)
	}
	r.URL = u
	r.RequestURI = u.RequestURI()
	r.Header = make(http.Header, len(e.Headers))
	for k, v := range e.Headers {
		r.Header.Set(k, v)
	}
	r.Host = cmpOr(r.Header.Get("Host"), e.RequestContext.DomainName)
	r.Header.Del("Host")
	if proto := e.RequestContext.HTTP.Protocol; proto != "" {
		r.Proto = proto
		r.ProtoMajor, r.ProtoMinor, _ = http.ParseHTTPVersion(proto)
	}
	if ip := e.RequestContext.HTTP.SourceIP; ip != "" {
		r.RemoteAddr = net.JoinHostPort(ip, "0")
	}
	return r, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// HTTPTriggerResponse is the object an FC HTTP trigger function returns.
type HTTPTriggerResponse struct {
	StatusCode      int               `json:"statusCode"`
	Headers         map[string]string `json:"headers,omitempty"`
	IsBase64Encoded bool              `json:"isBase64Encoded"`
	Body            string            `json:"body"`
}

// HTTPResponse builds the FC response object. Multi-valued headers are
// joined with ","; a body that is not valid UTF-8 is sent base64-encoded.
func HTTPResponse(status int, headers http.Header, body []byte) HTTPTriggerResponse {
	resp := HTTPTriggerResponse{StatusCode: status}
	if len(headers) > 0 {
		resp.Headers = make(map[string]string, len(headers))
		keys := make([]string, 0, len(headers))
		for k := range headers {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if len(headers[k]) > 0 {
				resp.Headers[http.CanonicalHeaderKey(k)] = strings.Join(headers[k], ",")
			}
		}
	}
	if utf8.Valid(body) {
		resp.Body = string(body)
	} else {
		resp.IsBase64Encoded = true
		resp.Body = base64.StdEncoding.EncodeToString(body)
	}
	return resp
}

// ServeEvent serves an HTTP trigger event with a net/http handler and
// returns the handler's response as the FC response object, so the same
// handlers serve local mode and the FC HTTP trigger. An event that does
// not make a request gets a 400 with the normalized error result.
func ServeEvent(ctx context.Context, h http.Handler, e HTTPEvent) HTTPTriggerResponse {
	r, err := e.Request(ctx)
	if err != nil {
		he := hpcgate.AsError(err)
		res := hpcgate.Result{Status: hpcgate.ResultStatus(he), Error: he.Body()}
		body, _ := json.Marshal(res)
		return HTTPResponse(res.HTTPStatus(), http.Header{"Content-Type": {"application/json"}}, body)
	}
	w := &responseRecorder{header: http.Header{}}
	h.ServeHTTP(w, r)
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.header.Get("Content-Type") == "" && w.body.Len() > 0 {
		w.header.Set("Content-Type", http.DetectContentType(w.body.Bytes()))
	}
	return HTTPResponse(w.status, w.header, w.body.Bytes())
}

// responseRecorder collects what a handler writes.
type responseRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *responseRecorder) Header() http.Header { return w.header }

func (w *responseRecorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *responseRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}
