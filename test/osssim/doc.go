// Package osssim is a stand-in for Alibaba Cloud OSS on loopback, faithful
// enough that the official Go SDK (github.com/aliyun/alibabacloud-oss-go-sdk-v2)
// talks to it unchanged: it verifies the SDK's V4 request signatures
// (OSS4-HMAC-SHA256, header or pre-signed query form, with
// x-oss-security-token for STS credentials), authorizes each request with a
// RAM policy document per AccessKey, and answers GetObject, HeadObject,
// PutObject and DeleteObject with OSS's headers (ETag,
// x-oss-hash-crc64ecma, x-oss-request-id) and OSS's XML error documents
// (HEAD errors carry no body, only x-oss-ec and x-oss-err as OSS sends them).
//
// Conditional requests behave as OSS's do: If-None-Match answers 304,
// If-Match 412, and PutObject with x-oss-forbid-overwrite: true answers 409
// FileAlreadyExists when the key exists, decided under one lock so that of
// two concurrent such PUTs exactly one wins.
//
// Faults (error answers, latency, dropped connections) can be queued per
// operation, as test/ehpcsim does for E-HPC. Every answered request is kept
// in a call log for assertions.
//
// Not modelled: bucket operations, listing, multipart, versioning, ACLs
// (buckets are private), ranges (a Range header is ignored: the whole
// object is served), V1 signatures, V4 signed payloads (the SDK sends
// UNSIGNED-PAYLOAD), RAM policy conditions (refused when set).
package osssim
