package osssim

import (
	"encoding/xml"
	"net/http"
)

// Error codes the stand-in answers with, spelled as OSS spells them.
const (
	CodeAccessDenied          = "AccessDenied"
	CodeNoSuchBucket          = "NoSuchBucket"
	CodeNoSuchKey             = "NoSuchKey"
	CodeSignatureDoesNotMatch = "SignatureDoesNotMatch"
	CodeInvalidAccessKeyID    = "InvalidAccessKeyId"
	CodeInvalidSecurityToken  = "InvalidSecurityToken"
	CodeSecurityTokenExpired  = "SecurityTokenExpired"
	CodeRequestTimeTooSkewed  = "RequestTimeTooSkewed"
	CodeFileAlreadyExists     = "FileAlreadyExists"
	CodePreconditionFailed    = "PreconditionFailed"
	CodeInvalidArgument       = "InvalidArgument"
	CodeInvalidDigest         = "InvalidDigest"
	CodeEntityTooLarge        = "EntityTooLarge"
	CodeNotImplemented        = "NotImplemented"
	CodeMethodNotAllowed      = "MethodNotAllowed"
	CodeInternalError         = "InternalError"
	CodeServiceUnavailable    = "ServiceUnavailable"
	// CodeSlowDown is the answer to a request over the bucket's or the
	// account's QPS or bandwidth limit (HTTP 503).
	CodeSlowDown = "SlowDown"
)

// errorSpec is the status, default message and EC of one code. The EC
// values marked "doc" are OSS's documented ones; the others have the right
// shape but are not taken from OSS (the SDK and the client ignore EC).
type errorSpec struct {
	status  int
	message string
	ec      string
}

var errorSpecs = map[string]errorSpec{
	CodeAccessDenied:          {http.StatusForbidden, "You have no right to access this object because of bucket acl.", "0003-00000001"},                                                    // doc
	CodeNoSuchBucket:          {http.StatusNotFound, "The specified bucket does not exist.", "0015-00000101"},                                                                               // doc
	CodeNoSuchKey:             {http.StatusNotFound, "The specified key does not exist.", "0026-00000001"},                                                                                  // doc
	CodeSignatureDoesNotMatch: {http.StatusForbidden, "The request signature we calculated does not match the signature you provided. Check your key and signing method.", "0002-00000040"}, // doc
	CodeInvalidAccessKeyID:    {http.StatusForbidden, "The OSS Access Key Id you provided does not exist in our records.", "0002-00000002"},                                                 // doc (STS key)
	CodeInvalidSecurityToken:  {http.StatusForbidden, "The security token you provided is invalid.", "0002-00000006"},                                                                       // doc
	CodeSecurityTokenExpired:  {http.StatusForbidden, "The security token you provided has expired.", "0002-00000007"},                                                                      // doc
	CodeRequestTimeTooSkewed:  {http.StatusForbidden, "The difference between the request time and the current time is too large.", "0002-00000504"},
	CodeFileAlreadyExists:     {http.StatusConflict, "The object you specified already exists and can not be overwritten.", "0016-00000101"},
	CodePreconditionFailed:    {http.StatusPreconditionFailed, "At least one of the pre-conditions you specified did not hold.", "0026-00000012"},
	CodeInvalidArgument:       {http.StatusBadRequest, "Invalid argument.", "0017-00000001"},
	CodeInvalidDigest:         {http.StatusBadRequest, "The Content-MD5 you specified is not valid.", "0016-00000102"},
	CodeEntityTooLarge:        {http.StatusBadRequest, "Your proposed upload exceeds the maximum allowed size.", "0016-00000103"},
	CodeNotImplemented:        {http.StatusNotImplemented, "A header or a query you provided requested a function that is not implemented.", "0001-00000001"},
	CodeMethodNotAllowed:      {http.StatusMethodNotAllowed, "The specified method is not allowed against this resource.", "0001-00000002"},
	CodeInternalError:         {http.StatusInternalServerError, "We encountered an internal error. Please try again.", "0001-00000003"},
	CodeServiceUnavailable:    {http.StatusServiceUnavailable, "Please reduce your request rate.", "0001-00000004"},
	CodeSlowDown:              {http.StatusServiceUnavailable, "Please reduce your request rate.", "0004-00000302"}, // doc (QPS limit exceeded; the code's name is unconfirmed)
}

// apiError is one error answer.
type apiError struct {
	Code    string
	Message string
	Status  int
	extra   []xmlField // fields OSS adds for this code (Key, StringToSign, ...)
	denied  *AccessDeniedDetail
}

// AccessDeniedDetail is the block OSS adds to an AccessDenied answer: it
// names the action the request needed and why it was refused.
type AccessDeniedDetail struct {
	PolicyType           string `xml:"PolicyType,omitempty"`
	AuthPrincipalType    string `xml:"AuthPrincipalType,omitempty"`
	NoPermissionType     string `xml:"NoPermissionType"`
	AuthAction           string `xml:"AuthAction"`
	AuthPrincipalOwnerID string `xml:"AuthPrincipalOwnerId,omitempty"`
}

type xmlField struct {
	XMLName xml.Name
	Value   string `xml:",chardata"`
}

func newError(code string, extra ...xmlField) *apiError {
	spec, ok := errorSpecs[code]
	if !ok {
		spec = errorSpec{status: http.StatusInternalServerError, message: code}
	}
	return &apiError{Code: code, Message: spec.message, Status: spec.status, extra: extra}
}

func field(name, value string) xmlField {
	return xmlField{XMLName: xml.Name{Local: name}, Value: value}
}

// errorDocument is OSS's error body.
type errorDocument struct {
	XMLName            xml.Name            `xml:"Error"`
	Code               string              `xml:"Code"`
	Message            string              `xml:"Message"`
	RequestID          string              `xml:"RequestId"`
	HostID             string              `xml:"HostId"`
	AccessDeniedDetail *AccessDeniedDetail `xml:"AccessDeniedDetail,omitempty"`
	Extra              []xmlField
	EC                 string `xml:"EC"`
	RecommendDoc       string `xml:"RecommendDoc"`
}

func ecOf(code string) string { return errorSpecs[code].ec }

// document renders e as OSS does.
func (e *apiError) document(requestID, host string) []byte {
	ec := ecOf(e.Code)
	doc := errorDocument{Code: e.Code, Message: e.Message, RequestID: requestID, HostID: host,
		AccessDeniedDetail: e.denied, Extra: e.extra, EC: ec}
	if ec != "" {
		doc.RecommendDoc = "https://api.aliyun.com/troubleshoot?q=" + ec
	}
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		panic(err) // only strings: cannot fail
	}
	return append([]byte(xml.Header), append(out, '\n')...)
}
