package oss

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/http"

	sdk "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
)

// Codes of *Error, each naming what the operator has to look at.
const (
	CodeAccessDenied = "OSSAccessDenied"       // the function's role lacks a permission (Error.Permission) on the object
	CodeNoSuchBucket = "OSSNoSuchBucket"       // the bucket does not exist (in this region)
	CodeNoSuchKey    = "OSSNoSuchKey"          // the object does not exist
	CodeExists       = "OSSObjectExists"       // PutIfAbsent found the key taken
	CodePrecondition = "OSSPreconditionFailed" // If-Match did not hold
	CodeCredentials  = "OSSCredentials"        // no credentials, or OSS refused them (key, token, signature, clock)
	CodeThrottled    = "OSSThrottled"          // OSS asked to slow down
	CodeUnavailable  = "OSSUnavailable"        // OSS answered 5xx
	CodeNetwork      = "OSSNetwork"            // no answer: connection, DNS, timeout
	CodeTooLarge     = "OSSObjectTooLarge"     // Get found more than MaxBytes
	CodeOther        = "OSSError"              // any other OSS answer (OSSCode says which)
)

// ErrExists matches (errors.Is) the *Error of a PutIfAbsent whose key was
// taken.
var ErrExists = errors.New("oss: object exists")

// ErrNotFound matches (errors.Is) NoSuchKey and NoSuchBucket errors.
var ErrNotFound = errors.New("oss: not found")

// Error is a failed OSS operation. Error() is a message for the operator;
// it names no secret (AccessKeyId masked).
type Error struct {
	Code       string // one of the Code constants
	Op         string // GetObject, HeadObject, PutObject, DeleteObject
	Bucket     string
	Key        string
	Permission string // for CodeAccessDenied: the RAM action that was missing, e.g. oss:GetObject
	OSSCode    string // OSS's error code verbatim ("" when OSS did not answer)
	Status     int    // OSS's HTTP status (0 when it did not answer)
	RequestID  string // OSS's request id, for a support ticket
	Retryable  bool
	Message    string // what happened, for the operator
	Err        error  // the SDK's error
}

func (e *Error) Error() string {
	return fmt.Sprintf("oss %s oss://%s/%s: %s", e.Op, e.Bucket, e.Key, e.Reason())
}

// Reason is Error without the operation and object, for callers that name
// the object themselves.
func (e *Error) Reason() string {
	s := e.Message
	if e.OSSCode != "" {
		s += fmt.Sprintf(" (OSS %d %s", e.Status, e.OSSCode)
		if e.RequestID != "" {
			s += ", request id " + e.RequestID
		}
		s += ")"
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrExists) and errors.Is(err, ErrNotFound) work.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrExists:
		return e.Code == CodeExists
	case ErrNotFound:
		return e.Code == CodeNoSuchKey || e.Code == CodeNoSuchBucket
	}
	return false
}

// CodeOf returns err's Code, or "" when err is not an *Error.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func (c *Client) newError(ctx context.Context, op, bucket, key, code, msg string, err error) *Error {
	return &Error{Code: code, Op: op, Bucket: bucket, Key: key, Message: msg, Err: err}
}

// action is the RAM action OSS authorizes op as.
func action(op string) string {
	if op == "HeadObject" {
		return "oss:GetObject"
	}
	return "oss:" + op
}

// deniedDetail is the part of OSS's AccessDenied document that names the
// missing permission.
type deniedDetail struct {
	Detail struct {
		AuthAction       string `xml:"AuthAction"`
		NoPermissionType string `xml:"NoPermissionType"`
	} `xml:"AccessDeniedDetail"`
}

// mapError turns what the SDK returned into an *Error for the operator.
func (c *Client) mapError(ctx context.Context, op, bucket, key string, err error) *Error {
	e := &Error{Op: op, Bucket: bucket, Key: key, Err: err}
	var se *sdk.ServiceError
	var nc *errNoCredentials
	switch {
	case err == nil:
		e.Code, e.Message = CodeNetwork, "no answer"
	case errors.As(err, &nc):
		e.Code = CodeCredentials
		e.Message = "the function has no credentials to call OSS with: give the function a role (FC hands its STS credentials to every invocation) or set ALIBABA_CLOUD_ACCESS_KEY_ID/ALIBABA_CLOUD_ACCESS_KEY_SECRET outside FC (" + nc.err.Error() + ")"
	case errors.As(err, &se):
		e.OSSCode, e.Status, e.RequestID = se.Code, se.StatusCode, se.RequestID
		c.mapService(ctx, e, se)
	case errors.Is(err, context.DeadlineExceeded):
		e.Code, e.Retryable = CodeNetwork, true
		e.Message = fmt.Sprintf("no answer from %s in time", c.endpoint)
	case errors.Is(err, context.Canceled):
		e.Code, e.Message = CodeNetwork, "canceled"
	default:
		e.Code, e.Retryable = CodeNetwork, true
		var ne net.Error
		var oe *net.OpError
		var de *net.DNSError
		switch {
		case errors.As(err, &de):
			e.Message = fmt.Sprintf("cannot resolve %s (%v): the internal endpoint resolves only inside the region's VPC; set HPCGATE_OSS_ENDPOINT to reach another", de.Name, de.Err)
		case errors.As(err, &oe):
			e.Message = fmt.Sprintf("cannot reach %s: %v", c.endpoint, oe.Err)
		case errors.As(err, &ne):
			e.Message = fmt.Sprintf("network error talking to %s: %v", c.endpoint, ne)
		default:
			e.Message = fmt.Sprintf("call to %s failed: %v", c.endpoint, err)
		}
	}
	return e
}

func (c *Client) mapService(ctx context.Context, e *Error, se *sdk.ServiceError) {
	resource := "acs:oss:*:*:" + e.Bucket + "/" + e.Key
	switch se.Code {
	case "AccessDenied":
		e.Code = CodeAccessDenied
		e.Permission = action(e.Op)
		var d deniedDetail
		why := ""
		if xml.Unmarshal(se.Snapshot, &d) == nil {
			if d.Detail.AuthAction != "" {
				e.Permission = d.Detail.AuthAction
			}
			switch d.Detail.NoPermissionType {
			case "ExplicitDeny":
				why = " (a Deny statement refuses it)"
			case "ImplicitDeny":
				why = " (no statement allows it)"
			}
		}
		e.Message = fmt.Sprintf("access denied: the function's credentials (AccessKeyId %s) lack %s on %s%s; grant it in the function role's policy (deploy/ram/function-policy.json)",
			c.keyID(ctx), e.Permission, resource, why)
	case "NoSuchBucket":
		e.Code = CodeNoSuchBucket
		e.Message = fmt.Sprintf("bucket %q does not exist at %s (wrong name or region?)", e.Bucket, c.endpoint)
	case "NoSuchKey":
		e.Code = CodeNoSuchKey
		e.Message = fmt.Sprintf("object %q does not exist in bucket %q", e.Key, e.Bucket)
	case "FileAlreadyExists":
		e.Code = CodeExists
		e.Message = "an object already exists at this key"
	case "PreconditionFailed":
		e.Code = CodePrecondition
		e.Message = "the object changed (If-Match did not hold)"
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidSecurityToken", "SecurityTokenExpired", "RequestTimeTooSkewed":
		e.Code = CodeCredentials
		e.Message = fmt.Sprintf("OSS refused the function's credentials (AccessKeyId %s): %s", c.keyID(ctx), se.Message)
	default:
		switch {
		case se.StatusCode == http.StatusTooManyRequests || se.StatusCode == http.StatusServiceUnavailable ||
			se.Code == "SlowDown" || se.Code == "QpsLimitExceeded" || se.Code == "Throttling":
			// OSS denies requests over the QPS limit with 503.
			e.Code, e.Retryable = CodeThrottled, true
			e.Message = "OSS is throttling requests (or briefly unavailable); retry later: " + se.Message
		case se.StatusCode >= 500:
			e.Code, e.Retryable = CodeUnavailable, true
			e.Message = "OSS failed: " + se.Message
		default:
			e.Code = CodeOther
			e.Message = "OSS refused the request: " + se.Message
		}
	}
}
