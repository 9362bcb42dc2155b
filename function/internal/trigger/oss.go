package trigger

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// OSSRecord is one record of an OSS event: from the OSS trigger's
// events list, or the data of an EventBridge event from acs.oss.
// Object.Key is kept exactly as delivered (see the package doc).
type OSSRecord struct {
	EventName         string               `json:"eventName"`
	EventSource       string               `json:"eventSource,omitempty"`
	EventTime         string               `json:"eventTime,omitempty"`
	EventVersion      string               `json:"eventVersion,omitempty"`
	Region            string               `json:"region,omitempty"`
	RequestParameters OSSRequestParameters `json:"requestParameters,omitzero"`
	ResponseElements  OSSResponseElements  `json:"responseElements,omitzero"`
	UserIdentity      OSSUserIdentity      `json:"userIdentity,omitzero"`
	OSS               OSSEntity            `json:"oss"`
}

// OSSRequestParameters is the requestParameters member of an OSS record.
type OSSRequestParameters struct {
	SourceIPAddress string `json:"sourceIPAddress,omitempty"`
}

// OSSResponseElements is the responseElements member of an OSS record.
type OSSResponseElements struct {
	RequestID string `json:"requestId,omitempty"`
}

// OSSUserIdentity is the userIdentity member of an OSS record.
type OSSUserIdentity struct {
	PrincipalID string `json:"principalId,omitempty"`
}

// OSSEntity is the oss member of an OSS record.
type OSSEntity struct {
	SchemaVersion string    `json:"ossSchemaVersion,omitempty"`
	RuleID        string    `json:"ruleId,omitempty"`
	Bucket        OSSBucket `json:"bucket"`
	Object        OSSObject `json:"object"`
}

// OSSBucket names the bucket of an OSS record.
type OSSBucket struct {
	Name          string `json:"name"`
	ARN           string `json:"arn,omitempty"`
	OwnerIdentity string `json:"ownerIdentity,omitempty"`
	VirtualBucket string `json:"virtualBucket,omitempty"`
}

// OSSObject describes the object of an OSS record.
type OSSObject struct {
	Key        string        `json:"key"`
	Size       int64         `json:"size"`
	DeltaSize  int64         `json:"deltaSize"`
	ETag       string        `json:"eTag,omitempty"`
	Sequencer  string        `json:"sequencer,omitempty"`
	ObjectMeta OSSObjectMeta `json:"objectMeta,omitzero"`
}

// OSSObjectMeta is the objectMeta member of an OSS object.
type OSSObjectMeta struct {
	MimeType string `json:"mimeType,omitempty"`
}

func decodeOSS(m map[string]json.RawMessage) ([]OSSRecord, error) {
	if err := allowOnly(m, "oss event", "events"); err != nil {
		return nil, err
	}
	raw := m["events"]
	if kindOf(raw) != "a list" {
		return nil, eventError("oss event: events: want a list, got %s", kindOf(raw))
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, eventError("oss event: events: %v", err)
	}
	if len(items) == 0 || len(items) > MaxBatch {
		return nil, eventError("oss event: events: want 1 to %d records, got %d", MaxBatch, len(items))
	}
	recs := make([]OSSRecord, len(items))
	for i, it := range items {
		rec, err := decodeOSSRecord(it)
		if err != nil {
			return nil, eventError("oss event: events[%d]: %v", i, err)
		}
		recs[i] = rec
	}
	return recs, nil
}

// decodeOSSRecord decodes one record. Members it does not know are
// ignored (OSS adds some over time); known ones must have their type.
// The object key is not judged here: a bad key fails its record when
// routed (CheckObjectKey), not the whole event.
func decodeOSSRecord(raw json.RawMessage) (OSSRecord, error) {
	var rec OSSRecord
	if err := decodeInto(raw, "record", &rec); err != nil {
		return OSSRecord{}, err
	}
	if rec.EventName == "" {
		return OSSRecord{}, errors.New("eventName: missing")
	}
	if rec.OSS.Bucket.Name == "" {
		return OSSRecord{}, errors.New("oss.bucket.name: missing")
	}
	if hasControl(rec.EventName) || hasControl(rec.OSS.Bucket.Name) || hasControl(rec.Region) || hasControl(rec.OSS.Object.ETag) || hasControl(rec.OSS.Object.Sequencer) {
		return OSSRecord{}, errors.New("control character in eventName, bucket, region, eTag or sequencer")
	}
	if rec.EventTime != "" {
		if _, err := time.Parse(time.RFC3339Nano, rec.EventTime); err != nil {
			return OSSRecord{}, fmt.Errorf("eventTime: not an RFC 3339 time: %.40q", rec.EventTime)
		}
	}
	if rec.OSS.Object.Size < 0 {
		return OSSRecord{}, errors.New("oss.object.size: negative")
	}
	return rec, nil
}

// invisible reports format characters (zero-width, bidi controls) and
// line separators, which make what a reader sees differ from the name.
func invisible(r rune) bool { return unicode.Is(unicode.Cf, r) || r == 0x2028 || r == 0x2029 }

// MaxKeyBytes is the longest object key OSS allows.
const MaxKeyBytes = 1023

// CheckObjectKey reports whether key is an object key a command may be
// given: 1 to MaxKeyBytes bytes of UTF-8 without control characters
// (C0, DEL, C1), invisible format characters
// (Unicode Cf, U+2028, U+2029) or U+FFFD (what a lone surrogate escape decodes to), not
// starting with "/" or "\" (OSS refuses those), and without "." or ".."
// path segments, so a key never names a path outside its prefix.
func CheckObjectKey(key string) error {
	switch {
	case key == "":
		return errors.New("object key is empty")
	case len(key) > MaxKeyBytes:
		return fmt.Errorf("object key is %d bytes, over %d", len(key), MaxKeyBytes)
	case !utf8.ValidString(key) || strings.ContainsRune(key, utf8.RuneError):
		return errors.New("object key is not valid UTF-8")
	case hasControl(key) || strings.IndexFunc(key, invisible) >= 0:
		return errors.New("object key holds a control or invisible format character")
	case strings.HasPrefix(key, "/") || strings.HasPrefix(key, `\`):
		return errors.New(`object key starts with "/" or "\"`)
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "." || seg == ".." {
			return fmt.Errorf("object key has a %q path segment", seg)
		}
	}
	return nil
}
