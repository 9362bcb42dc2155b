package claim

import (
	"context"
	"errors"

	"github.com/hpcgate/hpcgate/function/internal/oss"
)

// objects is the part of the OSS client (oss.Client) the OSS store calls.
type objects interface {
	Get(ctx context.Context, bucket, key string, opt oss.GetOptions) (oss.Object, error)
	PutIfAbsent(ctx context.Context, bucket, key string, data []byte) (string, error)
}

// maxObject bounds what the store reads: claims are a few hundred bytes.
const maxObject = 64 << 10

// OSS is the production Store: claims are objects in one bucket, created
// with PutObject and x-oss-forbid-overwrite: true, which OSS answers with
// 409 FileAlreadyExists when the key exists, and read with GetObject.
// The function's role needs oss:PutObject and oss:GetObject on the claim
// prefix only; nothing is overwritten or deleted.
type OSS struct {
	c      objects
	bucket string
}

// NewOSS returns a store keeping claims in bucket through c.
func NewOSS(c objects, bucket string) *OSS { return &OSS{c: c, bucket: bucket} }

// Create stores body at key unless key is taken.
func (s *OSS) Create(ctx context.Context, key string, body []byte) error {
	_, err := s.c.PutIfAbsent(ctx, s.bucket, key, body)
	if errors.Is(err, oss.ErrExists) {
		return ErrExists
	}
	return err
}

// Get returns the body at key. Only a missing key is ErrNotFound: a
// missing bucket is a fault, never "no claim".
func (s *OSS) Get(ctx context.Context, key string) ([]byte, error) {
	o, err := s.c.Get(ctx, s.bucket, key, oss.GetOptions{MaxBytes: maxObject})
	if oss.CodeOf(err) == oss.CodeNoSuchKey {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return o.Data, nil
}
