package ingress

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/function/internal/trigger"
)

// ossEventSource is the eventSource every OSS record carries.
const ossEventSource = "acs:oss"

// ObjectHeader reads an object's metadata, as OSS HeadObject does, signed
// with the function's own credentials. A missing object is
// ErrNoSuchObject (or wraps it), a missing bucket ErrNoSuchBucket.
type ObjectHeader interface {
	HeadObject(ctx context.Context, bucket, key string) (Object, error)
}

// Object is what verification needs of an object's metadata.
type Object struct {
	ETag string
}

// eventName is a record's event name as every rule reads it: routes
// match "oss:ObjectCreated:PutObject" and "ObjectCreated:PutObject"
// alike, so the eTag rule and object verification must too.
func eventName(rec trigger.OSSRecord) string { return strings.TrimPrefix(rec.EventName, "oss:") }

// ErrNoSuchObject is what an ObjectHeader returns for a missing object.
var ErrNoSuchObject = errors.New("no such object")

// ErrNoSuchBucket is what an ObjectHeader returns when the bucket itself
// does not exist: no trigger could have sent the event, so it is
// invalid whatever it says happened (a removal included).
var ErrNoSuchBucket = errors.New("no such bucket")

func (in *Ingress) ossCalls(ctx context.Context, recs []trigger.OSSRecord, account string) (Delivery, error) {
	for i, rec := range recs {
		if err := checkOSSRecord(rec, account); err != nil {
			return Delivery{}, invalidEvent("oss event: events[%d]: %v", i, err)
		}
	}
	d := Delivery{List: true}
	routes := in.routes()
	for i, rec := range recs {
		s := subject{rec: rec, hasRec: true}
		c := hpcgate.Call{Principal: service("oss", rec.OSS.Bucket.Name), Trigger: hpcgate.TriggerOSS,
			Identity: ossIdentity(rec)}
		it, err := resolve(routes, s, c)
		if err != nil {
			return Delivery{}, invalidEvent("oss event: events[%d]: %v", i, err)
		}
		d.Items = append(d.Items, it)
	}
	ptrs := make([]*trigger.OSSRecord, len(recs))
	for i := range recs {
		ptrs[i] = &recs[i]
	}
	if err := in.verifyObjects(ctx, d.Items, ptrs, "oss event: events"); err != nil {
		return Delivery{}, err
	}
	return d, nil
}

// checkOSSRecord is everything an OSS record must be before any record
// of its event may run: from OSS, in the function's own account, with
// an object key a command may be given and an eTag when an object was
// created.
func checkOSSRecord(rec trigger.OSSRecord, account string) error {
	if rec.EventSource != ossEventSource {
		return fmt.Errorf("eventSource: want %q, got %.40q", ossEventSource, rec.EventSource)
	}
	if err := trigger.CheckObjectKey(rec.OSS.Object.Key); err != nil {
		return fmt.Errorf("oss.object.key: %v", err)
	}
	if strings.HasPrefix(eventName(rec), "ObjectCreated:") && rec.OSS.Object.ETag == "" {
		return errors.New("oss.object.eTag: missing")
	}
	return checkBucketAccount(rec.OSS.Bucket, account)
}

// checkBucketAccount refuses a bucket that is not the function's own:
// its ARN (acs:oss:<region>:<account>:<bucket>) must name the function's
// account and the record's bucket, and ownerIdentity, when given, the
// same account. An OSS trigger can only be set on a bucket of the
// function's own account, so anything else did not come from one.
func checkBucketAccount(b trigger.OSSBucket, account string) error {
	if account == "" {
		return errors.New("the function's account is not known (HPCGATE_ACCOUNT_ID), so no bucket can be shown to be its own")
	}
	parts := strings.Split(b.ARN, ":")
	if len(parts) != 5 || parts[0] != "acs" || parts[1] != "oss" {
		return fmt.Errorf("oss.bucket.arn: want acs:oss:<region>:<account>:<bucket>, got %.80q", b.ARN)
	}
	if parts[3] != account {
		return fmt.Errorf("oss.bucket.arn: bucket %q is in account %.20q, not the function's own", b.Name, parts[3])
	}
	if parts[4] != b.Name {
		return fmt.Errorf("oss.bucket.arn: names bucket %.64q, not %q", parts[4], b.Name)
	}
	if b.OwnerIdentity != "" && b.OwnerIdentity != account {
		return fmt.Errorf("oss.bucket.ownerIdentity: %.20q is not the function's account", b.OwnerIdentity)
	}
	return nil
}

// ossIdentity is what OSS guarantees unique about a record: the object
// version (bucket, key, eTag) and the notification (sequencer, else the
// request id of the operation).
func ossIdentity(rec trigger.OSSRecord) string {
	o := rec.OSS.Object
	seq := o.Sequencer
	if seq == "" {
		seq = rec.ResponseElements.RequestID
	}
	return identity("oss", rec.OSS.Bucket.Name, o.Key, o.ETag, seq)
}

// verifyObjects asks OSS about the object of every routed record, when
// verification is on: a created object must exist with the record's
// eTag, a removed one must be gone. Any other answer refuses the whole
// event; OSS out of reach refuses it as retryable.
// recs[i] is the OSS record of items[i], nil for an item without one.
func (in *Ingress) verifyObjects(ctx context.Context, items []Item, recs []*trigger.OSSRecord, where string) error {
	if in.cfg.Objects == nil {
		return nil
	}
	for i, it := range items {
		if it.Err != nil || recs[i] == nil {
			continue
		}
		if err := in.verifyObject(ctx, *recs[i]); err != nil {
			var he *hpcgate.Error
			if errors.As(err, &he) {
				return err
			}
			return invalidEvent("%s[%d]: %v", where, i, err)
		}
	}
	return nil
}

func (in *Ingress) verifyObject(ctx context.Context, rec trigger.OSSRecord) error {
	b, o := rec.OSS.Bucket.Name, rec.OSS.Object
	got, err := in.cfg.Objects.HeadObject(ctx, b, o.Key)
	created := strings.HasPrefix(eventName(rec), "ObjectCreated:")
	removed := strings.HasPrefix(eventName(rec), "ObjectRemoved:")
	switch {
	case errors.Is(err, ErrNoSuchBucket):
		return fmt.Errorf("bucket %q does not exist", b)
	case errors.Is(err, ErrNoSuchObject) && removed:
		return nil
	case errors.Is(err, ErrNoSuchObject):
		return fmt.Errorf("object %q does not exist in bucket %q", o.Key, b)
	case err != nil:
		return &hpcgate.Error{Code: hpcgate.CodeUpstreamFailure, Message: "the event's object could not be verified with OSS; try again",
			Source: hpcgate.SourceGate, Status: http.StatusServiceUnavailable, Retryable: true, Err: err}
	case removed:
		return fmt.Errorf("object %q still exists in bucket %q", o.Key, b)
	case !created:
		return fmt.Errorf("a %s event cannot be verified", rec.EventName)
	case !sameETag(got.ETag, o.ETag):
		return fmt.Errorf("object %q in bucket %q has eTag %.40q, not the event's %.40q", o.Key, b, got.ETag, o.ETag)
	}
	return nil
}

// sameETag compares eTags as OSS writes them: HeadObject quotes them and
// events do not; case differs between the two.
func sameETag(a, b string) bool {
	return a != "" && strings.EqualFold(strings.Trim(a, `"`), strings.Trim(b, `"`))
}
