package osssim

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// exchange is one request being answered.
type exchange struct {
	w    http.ResponseWriter
	r    *http.Request
	call Call
	host string
}

// ServeHTTP answers one OSS request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := &exchange{w: w, r: r, host: r.Host}
	x.call.RequestID = newRequestID()
	h := w.Header()
	h.Set("Server", "AliyunOSS")
	h.Set("Date", s.now().UTC().Format(http.TimeFormat))
	h.Set("X-Oss-Request-Id", x.call.RequestID)
	status, code := s.serve(x)
	x.call.Status, x.call.Code = status, code
	s.mu.Lock()
	s.calls = append(s.calls, x.call)
	s.mu.Unlock()
	s.log.Debug("osssim", "op", x.call.Op, "bucket", x.call.Bucket, "key", x.call.Key,
		"accessKeyId", x.call.AccessKeyID, "status", status, "code", code, "requestId", x.call.RequestID)
}

func newRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// serve returns the status and error code it answered with (0 when the
// connection was dropped).
func (s *Server) serve(x *exchange) (int, string) {
	r := x.r
	bucket, key := s.address(r)
	x.call.Bucket, x.call.Key = bucket, key
	op, e := operation(r, bucket, key)
	x.call.Op = op
	x.call.Conditional = conditional(r)
	if e != nil {
		return s.writeError(x, e)
	}
	auth, signed, e := parseAuth(r)
	if e != nil {
		return s.writeError(x, e)
	}
	if signed {
		x.call.AccessKeyID = auth.accessKeyID
	}

	s.mu.Lock()
	_, bucketExists := s.buckets[bucket]
	k := s.keys[auth.accessKeyID]
	var kc accessKey
	if k != nil {
		kc = *k
	}
	s.mu.Unlock()
	if !bucketExists {
		return s.writeError(x, newError(CodeNoSuchBucket, field("BucketName", bucket)))
	}
	if !signed {
		// Buckets are private: an anonymous request is refused.
		return s.writeError(x, s.denied(op, "ImplicitDeny", "Anonymous"))
	}
	if e := s.authenticate(r, bucket, key, auth, k != nil, kc); e != nil {
		return s.writeError(x, e)
	}
	if kc.policy != nil {
		action := "oss:" + op
		if op == "HeadObject" {
			action = "oss:GetObject" // OSS authorizes HeadObject as GetObject
		}
		if why := kc.policy.decide(action, ObjectARN(s.region, s.account, bucket, key)); why != "" {
			e := s.denied(op, why, "SubUser")
			if why == "ExplicitDeny" {
				e.Message = "Access denied by a Deny statement of the RAM policy."
			}
			return s.writeError(x, e)
		}
	}

	f := s.takeFault(op)
	if f != nil {
		if f.Latency > 0 {
			select {
			case <-time.After(f.Latency):
			case <-r.Context().Done():
			}
		}
		if f.Drop {
			drop(x.w)
			return 0, ""
		}
		if f.Code != "" {
			e := newError(f.Code)
			if f.Status != 0 {
				e.Status = f.Status
			}
			if f.Message != "" {
				e.Message = f.Message
			}
			return s.writeError(x, e)
		}
	}

	var status int
	var code string
	switch op {
	case "GetObject", "HeadObject":
		status, code = s.get(x, bucket, key, op == "HeadObject", f != nil && f.DropAfter)
	case "PutObject":
		status, code = s.put(x, bucket, key, f != nil && f.DropAfter)
	case "DeleteObject":
		s.mu.Lock()
		if b := s.buckets[bucket]; b != nil {
			delete(b, key)
		}
		s.mu.Unlock()
		if f != nil && f.DropAfter {
			drop(x.w)
			return 0, ""
		}
		x.w.WriteHeader(http.StatusNoContent)
		status = http.StatusNoContent
	}
	return status, code
}

// address finds the bucket and key: path-style (/bucket/key) when the host
// is an IP address or localhost, virtual-hosted (bucket.endpoint/key)
// otherwise, as the SDK chooses.
func (s *Server) address(r *http.Request) (bucket, key string) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	p := strings.TrimPrefix(r.URL.Path, "/")
	if net.ParseIP(host) != nil || host == "localhost" || !strings.Contains(host, ".") {
		bucket, key, _ = strings.Cut(p, "/")
		return bucket, key
	}
	bucket, _, _ = strings.Cut(host, ".")
	return bucket, p
}

// operation names the API of r, or refuses what the stand-in does not
// model.
func operation(r *http.Request, bucket, key string) (string, *apiError) {
	if bucket == "" || key == "" {
		return "", withMsg(newError(CodeNotImplemented), "osssim serves object operations only")
	}
	for name := range r.URL.Query() {
		if !strings.HasPrefix(name, "x-oss-") {
			return "", withMsg(newError(CodeNotImplemented), "osssim does not serve the sub-resource or parameter "+strconv.Quote(name))
		}
	}
	switch r.Method {
	case http.MethodGet:
		return "GetObject", nil
	case http.MethodHead:
		return "HeadObject", nil
	case http.MethodPut:
		if r.Header.Get("X-Oss-Copy-Source") != "" {
			return "", withMsg(newError(CodeNotImplemented), "osssim does not serve CopyObject")
		}
		return "PutObject", nil
	case http.MethodDelete:
		return "DeleteObject", nil
	}
	return "", newError(CodeMethodNotAllowed)
}

func conditional(r *http.Request) string {
	var parts []string
	for _, h := range []string{"If-None-Match", "If-Match", "X-Oss-Forbid-Overwrite"} {
		if v := r.Header.Get(h); v != "" {
			parts = append(parts, h+": "+v)
		}
	}
	return strings.Join(parts, "; ")
}

// authenticate checks the key, its security token and the signature.
func (s *Server) authenticate(r *http.Request, bucket, key string, a v4Auth, known bool, k accessKey) *apiError {
	unknown := newError(CodeInvalidAccessKeyID, field("OSSAccessKeyId", a.accessKeyID))
	switch {
	case !known:
		return unknown
	case k.token == "" && a.token != "":
		// A token makes OSS read the key as an STS key, which it is not.
		return unknown
	case k.token != "" && a.token == "":
		return unknown
	case k.token != "" && a.token != k.token:
		return newError(CodeInvalidSecurityToken)
	case k.token != "" && !s.now().Before(k.expires):
		return newError(CodeSecurityTokenExpired)
	}
	if a.product != "oss" {
		return withMsg(newError(CodeInvalidArgument), "Invalid signing product in Authorization header.")
	}
	if a.region != s.region {
		return withMsg(newError(CodeInvalidArgument), "Invalid signing region in Authorization header.")
	}
	if e := a.checkTime(s.now()); e != nil {
		return e
	}
	return verify(r, bucket, key, k.secret, a)
}

// denied is an AccessDenied answer naming the action op needed.
func (s *Server) denied(op, why, principal string) *apiError {
	action := "oss:" + op
	if op == "HeadObject" {
		action = "oss:GetObject"
	}
	e := newError(CodeAccessDenied)
	e.denied = &AccessDeniedDetail{PolicyType: "AccountLevelIdentityBasedPolicy", AuthPrincipalType: principal,
		NoPermissionType: why, AuthAction: action, AuthPrincipalOwnerID: s.account}
	return e
}

func (s *Server) get(x *exchange, bucket, key string, head, dropAfter bool) (int, string) {
	s.mu.Lock()
	o := s.buckets[bucket][key]
	s.mu.Unlock()
	if o == nil {
		return s.writeError(x, newError(CodeNoSuchKey, field("Key", key)))
	}
	h := x.w.Header()
	h.Set("ETag", o.etag)
	h.Set("Last-Modified", o.modified.Format(http.TimeFormat))
	if im := x.r.Header.Get("If-Match"); im != "" && !etagListHas(im, o.etag) {
		return s.writeError(x, newError(CodePreconditionFailed))
	}
	if inm := x.r.Header.Get("If-None-Match"); inm != "" && etagListHas(inm, o.etag) {
		x.w.WriteHeader(http.StatusNotModified)
		return http.StatusNotModified, ""
	}
	h.Set("Content-Type", o.contentType)
	h.Set("Content-Length", strconv.Itoa(len(o.data)))
	h.Set("Accept-Ranges", "bytes")
	h.Set("X-Oss-Object-Type", "Normal")
	h.Set("X-Oss-Storage-Class", "Standard")
	h.Set("X-Oss-Hash-Crc64ecma", strconv.FormatUint(o.crc64, 10))
	if dropAfter {
		drop(x.w)
		return 0, ""
	}
	x.w.WriteHeader(http.StatusOK)
	if !head {
		x.w.Write(o.data)
	}
	return http.StatusOK, ""
}

// etagListHas reports whether an If-Match/If-None-Match value names etag
// ("*" names any).
func etagListHas(list, etag string) bool {
	for v := range strings.SplitSeq(list, ",") {
		v = strings.TrimSpace(v)
		if v == "*" || v == etag || strings.Trim(v, `"`) == strings.Trim(etag, `"`) {
			return true
		}
	}
	return false
}

func (s *Server) put(x *exchange, bucket, key string, dropAfter bool) (int, string) {
	data, err := io.ReadAll(io.LimitReader(x.r.Body, MaxObjectSize+1))
	if err != nil {
		drop(x.w)
		return 0, ""
	}
	if len(data) > MaxObjectSize {
		return s.writeError(x, newError(CodeEntityTooLarge))
	}
	sum := md5.Sum(data)
	if v := x.r.Header.Get("Content-Md5"); v != "" && v != base64.StdEncoding.EncodeToString(sum[:]) {
		return s.writeError(x, newError(CodeInvalidDigest))
	}
	forbid := strings.EqualFold(x.r.Header.Get("X-Oss-Forbid-Overwrite"), "true")
	ct := x.r.Header.Get("Content-Type")
	if _, _, err := mime.ParseMediaType(ct); err != nil {
		ct = "application/octet-stream"
	}
	o := s.newObject(data, ct)
	s.mu.Lock()
	b := s.buckets[bucket]
	if b == nil { // deleted meanwhile
		s.mu.Unlock()
		return s.writeError(x, newError(CodeNoSuchBucket, field("BucketName", bucket)))
	}
	if _, exists := b[key]; exists && forbid {
		s.mu.Unlock()
		return s.writeError(x, newError(CodeFileAlreadyExists, field("Key", key)))
	}
	b[key] = o
	s.mu.Unlock()
	if dropAfter {
		drop(x.w)
		return 0, ""
	}
	h := x.w.Header()
	h.Set("ETag", o.etag)
	h.Set("Content-Md5", base64.StdEncoding.EncodeToString(sum[:]))
	h.Set("X-Oss-Hash-Crc64ecma", strconv.FormatUint(o.crc64, 10))
	x.w.WriteHeader(http.StatusOK)
	return http.StatusOK, ""
}

// writeError answers e as OSS does: an XML error document, or for HEAD no
// body and the document base64-encoded in x-oss-err beside x-oss-ec.
func (s *Server) writeError(x *exchange, e *apiError) (int, string) {
	doc := e.document(x.call.RequestID, x.host)
	h := x.w.Header()
	h.Del("ETag")
	h.Del("Last-Modified")
	if ec := ecOf(e.Code); ec != "" {
		h.Set("X-Oss-Ec", ec)
	}
	if x.r.Method == http.MethodHead {
		h.Set("X-Oss-Err", base64.StdEncoding.EncodeToString(doc))
		h.Set("Content-Length", "0")
		x.w.WriteHeader(e.Status)
		return e.Status, e.Code
	}
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(doc)))
	x.w.WriteHeader(e.Status)
	io.Copy(x.w, bytes.NewReader(doc))
	return e.Status, e.Code
}

// drop closes the connection without an answer.
func drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}
