package osssim

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	algorithmV4     = "OSS4-HMAC-SHA256"
	v4DatetimeForm  = "20060102T150405Z"
	v4DateForm      = "20060102"
	maxClockSkew    = 15 * time.Minute
	maxPresignTerm  = 7 * 24 * time.Hour
	headerToken     = "X-Oss-Security-Token"
	headerDate      = "X-Oss-Date"
	headerSHA256    = "X-Oss-Content-Sha256"
	unsignedPayload = "UNSIGNED-PAYLOAD"
)

// v4Auth is what a V4 signature claims: who signed, for which scope, and
// the signature itself.
type v4Auth struct {
	accessKeyID string
	date        string // yyyymmdd of the scope
	region      string
	product     string
	additional  []string // lower-case header names signed besides the default ones
	signature   string
	datetime    string // x-oss-date
	token       string
	query       bool // pre-signed URL form
	expires     time.Duration
}

// parseAuth reads the V4 signature of r from its Authorization header or,
// for a pre-signed URL, its query. ok is false for an anonymous request.
func parseAuth(r *http.Request) (a v4Auth, ok bool, e *apiError) {
	if h := r.Header.Get("Authorization"); h != "" {
		rest, found := strings.CutPrefix(h, algorithmV4+" ")
		if !found {
			return a, true, withMsg(newError(CodeInvalidArgument), "Authorization header: only "+algorithmV4+" (V4) signatures are supported by osssim")
		}
		for part := range strings.SplitSeq(rest, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
			switch k {
			case "Credential":
				if err := a.setCredential(v); err != nil {
					return a, true, withMsg(newError(CodeInvalidArgument), err.Error())
				}
			case "AdditionalHeaders":
				a.additional = strings.Split(v, ";")
			case "Signature":
				a.signature = v
			}
		}
		if a.accessKeyID == "" || a.signature == "" {
			return a, true, withMsg(newError(CodeInvalidArgument), "Authorization header lacks Credential or Signature")
		}
		a.datetime = r.Header.Get(headerDate)
		a.token = r.Header.Get(headerToken)
		return a, true, nil
	}
	q := r.URL.Query()
	if q.Get("x-oss-signature-version") == "" && q.Get("x-oss-signature") == "" {
		if q.Get("Signature") != "" || q.Get("OSSAccessKeyId") != "" {
			return a, true, withMsg(newError(CodeInvalidArgument), "only V4 pre-signed URLs are supported by osssim")
		}
		return a, false, nil
	}
	if q.Get("x-oss-signature-version") != algorithmV4 {
		return a, true, withMsg(newError(CodeInvalidArgument), "x-oss-signature-version must be "+algorithmV4)
	}
	a.query = true
	if err := a.setCredential(q.Get("x-oss-credential")); err != nil {
		return a, true, withMsg(newError(CodeInvalidArgument), err.Error())
	}
	if v := q.Get("x-oss-additional-headers"); v != "" {
		a.additional = strings.Split(v, ";")
	}
	a.signature = q.Get("x-oss-signature")
	a.datetime = q.Get("x-oss-date")
	a.token = q.Get("x-oss-security-token")
	secs, err := strconv.ParseInt(q.Get("x-oss-expires"), 10, 64)
	if err != nil || secs <= 0 || time.Duration(secs)*time.Second > maxPresignTerm {
		return a, true, withMsg(newError(CodeInvalidArgument), "x-oss-expires must be 1 to 604800 seconds")
	}
	a.expires = time.Duration(secs) * time.Second
	if a.signature == "" {
		return a, true, withMsg(newError(CodeInvalidArgument), "x-oss-signature is missing")
	}
	return a, true, nil
}

func withMsg(e *apiError, msg string) *apiError {
	e.Message = msg
	return e
}

// setCredential parses "AK/yyyymmdd/region/oss/aliyun_v4_request".
func (a *v4Auth) setCredential(v string) error {
	parts := strings.Split(v, "/")
	if len(parts) != 5 || parts[4] != "aliyun_v4_request" || parts[0] == "" {
		return fmt.Errorf("credential %q: want AccessKeyId/date/region/oss/aliyun_v4_request", v)
	}
	a.accessKeyID, a.date, a.region, a.product = parts[0], parts[1], parts[2], parts[3]
	return nil
}

// checkTime refuses a signature whose time is off by more than OSS allows,
// or a pre-signed URL that has expired.
func (a v4Auth) checkTime(now time.Time) *apiError {
	t, err := time.Parse(v4DatetimeForm, a.datetime)
	if err != nil {
		return withMsg(newError(CodeInvalidArgument), "x-oss-date must be yyyymmddThhmmssZ")
	}
	if t.Format(v4DateForm) != a.date {
		return withMsg(newError(CodeSignatureDoesNotMatch), "the date of the credential scope is not the date of x-oss-date")
	}
	if a.query {
		if now.After(t.Add(a.expires)) {
			return withMsg(newError(CodeAccessDenied), "Request has expired.")
		}
		if t.Sub(now) > maxClockSkew {
			return newError(CodeRequestTimeTooSkewed)
		}
		return nil
	}
	if d := now.Sub(t); d > maxClockSkew || d < -maxClockSkew {
		return newError(CodeRequestTimeTooSkewed)
	}
	return nil
}

var noEscape = func() (t [256]bool) {
	for i := range t {
		c := byte(i)
		t[i] = 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
	}
	return t
}()

// escapePath percent-encodes everything but unreserved characters and '/'.
func escapePath(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if noEscape[c] || c == '/' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// isDefaultSigned reports whether V4 signs header h (lower case) whether
// or not the request lists it.
func isDefaultSigned(h string) bool {
	return strings.HasPrefix(h, "x-oss-") || h == "content-type" || h == "content-md5"
}

// canonicalRequest rebuilds the canonical request of OSS's V4 signature
// from what arrived: method, /bucket/key, the sorted raw query (less the
// signature itself), the signed headers, the additional header names and
// the payload hash.
func canonicalRequest(r *http.Request, bucket, key string, a v4Auth) string {
	uri := "/"
	if bucket != "" {
		uri += bucket + "/"
	}
	uri += key

	raw := strings.ReplaceAll(r.URL.RawQuery, "+", "%20")
	values := map[string]string{}
	var params []string
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		if a.query && k == "x-oss-signature" {
			continue
		}
		values[k] = v
		params = append(params, k) // as the SDK does, a repeated name is listed twice
	}
	sort.Strings(params)
	var q strings.Builder
	for _, k := range params {
		if q.Len() > 0 {
			q.WriteByte('&')
		}
		q.WriteString(k)
		if values[k] != "" {
			q.WriteByte('=')
			q.WriteString(values[k])
		}
	}

	additional := map[string]bool{}
	for _, h := range a.additional {
		additional[strings.ToLower(h)] = true
	}
	var names []string
	for k := range r.Header {
		low := strings.ToLower(k)
		if isDefaultSigned(low) || additional[low] {
			names = append(names, low)
		}
	}
	for _, h := range a.additional {
		// Host is not in r.Header on the server side.
		if strings.EqualFold(h, "host") {
			names = append(names, "host")
		}
	}
	sort.Strings(names)
	var hdr strings.Builder
	for _, k := range names {
		var vals []string
		if k == "host" {
			vals = []string{r.Host}
		} else {
			for _, v := range r.Header.Values(k) {
				vals = append(vals, strings.TrimSpace(v))
			}
		}
		hdr.WriteString(k + ":" + strings.Join(vals, ",") + "\n")
	}

	payload := unsignedPayload
	if v := r.Header.Get(headerSHA256); v != "" {
		payload = v
	}
	return strings.Join([]string{r.Method, escapePath(uri), q.String(), hdr.String(), strings.Join(a.additional, ";"), payload}, "\n")
}

// stringToSign is OSS V4's string to sign.
func stringToSign(a v4Auth, canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return algorithmV4 + "\n" + a.datetime + "\n" + a.date + "/" + a.region + "/" + a.product + "/aliyun_v4_request\n" + hex.EncodeToString(sum[:])
}

// signature derives the V4 signing key from secret and signs sts.
func signature(secret string, a v4Auth, sts string) string {
	mac := func(key []byte, s string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(s))
		return h.Sum(nil)
	}
	k := mac([]byte("aliyun_v4"+secret), a.date)
	k = mac(k, a.region)
	k = mac(k, a.product)
	k = mac(k, "aliyun_v4_request")
	return hex.EncodeToString(mac(k, sts))
}

// verify checks a's signature of r with secret; on a mismatch the error
// carries the string to sign and the canonical request, as OSS's does.
func verify(r *http.Request, bucket, key, secret string, a v4Auth) *apiError {
	canonical := canonicalRequest(r, bucket, key, a)
	sts := stringToSign(a, canonical)
	want := signature(secret, a, sts)
	if subtle.ConstantTimeCompare([]byte(want), []byte(a.signature)) != 1 {
		return newError(CodeSignatureDoesNotMatch,
			field("StringToSign", sts),
			field("OSSAccessKeyId", a.accessKeyID),
			field("CanonicalRequest", canonical))
	}
	return nil
}
