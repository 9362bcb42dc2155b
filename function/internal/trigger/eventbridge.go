package trigger

import (
	"bytes"
	"encoding/json"
	"sort"
	"time"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

// DataKind says what the data of a CloudEvent holds.
type DataKind string

// Kinds of CloudEvent data.
const (
	// DataOSS: an OSS record (source acs.oss); CloudEvent.OSS holds it.
	DataOSS DataKind = "oss"
	// DataRequest: a request (custom events); CloudEvent.Request holds it.
	DataRequest DataKind = "request"
	// DataOther: anything else; only a route can give it a command.
	DataOther DataKind = "other"
)

// SourceOSS is the CloudEvents source of OSS events.
const SourceOSS = "acs.oss"

// CloudEvent is one EventBridge event (CloudEvents 1.0 with Alibaba
// Cloud extension attributes).
type CloudEvent struct {
	ID                      string          `json:"id"`
	Source                  string          `json:"source"`
	SpecVersion             string          `json:"specversion"`
	Type                    string          `json:"type"`
	Subject                 string          `json:"subject,omitempty"`
	Time                    string          `json:"time,omitempty"`
	DataContentType         string          `json:"datacontenttype,omitempty"`
	DataSchema              string          `json:"dataschema,omitempty"`
	AliyunAccountID         string          `json:"aliyunaccountid,omitempty"`
	AliyunOriginalAccountID string          `json:"aliyunoriginalaccountid,omitempty"`
	AliyunPublishTime       string          `json:"aliyunpublishtime,omitempty"`
	AliyunEventBusName      string          `json:"aliyuneventbusname,omitempty"`
	AliyunRegionID          string          `json:"aliyunregionid,omitempty"`
	AliyunPublishAddr       string          `json:"aliyunpublishaddr,omitempty"`
	Data                    json.RawMessage `json:"data,omitempty"`

	DataKind DataKind  `json:"dataKind"`
	OSS      OSSRecord `json:"oss,omitzero"`     // when DataKind is DataOSS
	Request  Payload   `json:"request,omitzero"` // when DataKind is DataRequest
}

// ceAttributes are the attributes CloudEvent names; other members must
// be extension attributes (lower-case letters and digits, CloudEvents
// 1.0 naming).
var ceAttributes = map[string]bool{
	"id": true, "source": true, "specversion": true, "type": true, "subject": true, "time": true,
	"datacontenttype": true, "dataschema": true, "data": true, "data_base64": true,
	"aliyunaccountid": true, "aliyunoriginalaccountid": true, "aliyunpublishtime": true,
	"aliyuneventbusname": true, "aliyunregionid": true, "aliyunpublishaddr": true,
}

var extensionName = hpcgate.MustPattern(`^[a-z0-9]+$`, 40)

// decodeCloudEventList decodes an EventBridge batch: a list whose items
// are CloudEvent objects or strings holding one (each string checked
// like a raw event).
func decodeCloudEventList(b []byte) ([]CloudEvent, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(b, &items); err != nil {
		return nil, eventError("eventbridge batch: %v", err)
	}
	if len(items) == 0 || len(items) > MaxBatch {
		return nil, eventError("eventbridge batch: want 1 to %d events, got %d", MaxBatch, len(items))
	}
	out := make([]CloudEvent, len(items))
	for i, it := range items {
		switch kindOf(it) {
		case "a string":
			var s string
			_ = json.Unmarshal(it, &s)
			if err := checkJSON([]byte(s)); err != nil {
				return nil, eventError("eventbridge batch[%d]: %v", i, err)
			}
			it = json.RawMessage(s)
		case "an object":
		default:
			return nil, eventError("eventbridge batch[%d]: want a CloudEvent object or string, got %s", i, kindOf(it))
		}
		m, err := object(it)
		if err != nil {
			return nil, eventError("eventbridge batch[%d]: %v", i, err)
		}
		if _, ok := m["specversion"]; !ok {
			return nil, eventError("eventbridge batch[%d]: not a CloudEvent (no specversion)", i)
		}
		if k, err := recognize(m); err != nil {
			return nil, eventError("eventbridge batch[%d]: %s", i, hpcgate.AsError(err).Message)
		} else if k != KindEventBridge {
			return nil, eventError("eventbridge batch[%d]: not a CloudEvent", i)
		}
		ce, err := cloudEventFromMembers(m)
		if err != nil {
			return nil, eventError("eventbridge batch[%d]: %s", i, hpcgate.AsError(err).Message)
		}
		out[i] = ce
	}
	return out, nil
}

func cloudEventFromMembers(m map[string]json.RawMessage) (CloudEvent, error) {
	var extra []string
	for k := range m {
		if !ceAttributes[k] && !extensionName.MatchString(k) {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return CloudEvent{}, eventError("cloudevent: %q is not a CloudEvents attribute name", extra[0])
	}
	var ce CloudEvent
	var err error
	for _, f := range []struct {
		name     string
		dst      *string
		required bool
	}{
		{"id", &ce.ID, true}, {"source", &ce.Source, true}, {"specversion", &ce.SpecVersion, true},
		{"type", &ce.Type, true}, {"subject", &ce.Subject, false}, {"time", &ce.Time, false},
		{"datacontenttype", &ce.DataContentType, false}, {"dataschema", &ce.DataSchema, false},
		{"aliyunaccountid", &ce.AliyunAccountID, false}, {"aliyunoriginalaccountid", &ce.AliyunOriginalAccountID, false},
		{"aliyunpublishtime", &ce.AliyunPublishTime, false}, {"aliyuneventbusname", &ce.AliyunEventBusName, false},
		{"aliyunregionid", &ce.AliyunRegionID, false}, {"aliyunpublishaddr", &ce.AliyunPublishAddr, false},
	} {
		raw, ok := m[f.name]
		if !ok {
			if f.required {
				return CloudEvent{}, eventError("cloudevent: %s: missing", f.name)
			}
			continue
		}
		if *f.dst, err = str(raw, f.name); err != nil {
			return CloudEvent{}, eventError("cloudevent: %v", err)
		}
		if f.required && *f.dst == "" {
			return CloudEvent{}, eventError("cloudevent: %s: empty", f.name)
		}
		if hasControl(*f.dst) {
			return CloudEvent{}, eventError("cloudevent: %s: control character", f.name)
		}
	}
	if ce.SpecVersion != "1.0" {
		return CloudEvent{}, eventError("cloudevent: specversion: want \"1.0\", got %.20q", ce.SpecVersion)
	}
	if ce.Time != "" {
		if _, err := time.Parse(time.RFC3339Nano, ce.Time); err != nil {
			return CloudEvent{}, eventError("cloudevent: time: not an RFC 3339 time: %.40q", ce.Time)
		}
	}
	ce.Data = bytes.TrimSpace(m["data"])
	ce.DataKind = DataOther
	switch {
	case ce.Source == SourceOSS:
		if kindOf(ce.Data) != "an object" {
			return CloudEvent{}, eventError("cloudevent from %s: data: want an OSS record, got %s", SourceOSS, kindOf(ce.Data))
		}
		rec, err := decodeOSSRecord(ce.Data)
		if err != nil {
			return CloudEvent{}, eventError("cloudevent from %s: data: %v", SourceOSS, err)
		}
		ce.DataKind, ce.OSS = DataOSS, rec
	case kindOf(ce.Data) == "an object":
		dm, err := object(ce.Data)
		if err != nil {
			return CloudEvent{}, eventError("cloudevent: data: %v", err)
		}
		// Data with any request member must be exactly a request: a
		// half-request is an error, never silently routed.
		if k, _ := recognize(dm); k == KindInvoke || hasAny(dm, payloadFields) {
			p, err := payloadFromMembers(dm, payloadFields)
			if err != nil {
				return CloudEvent{}, payloadError("cloudevent: data", err)
			}
			ce.DataKind, ce.Request = DataRequest, p
		}
	}
	return ce, nil
}

func hasAny(m map[string]json.RawMessage, names []string) bool {
	for _, n := range names {
		if _, ok := m[n]; ok {
			return true
		}
	}
	return false
}
