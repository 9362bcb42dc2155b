package trigger

import (
	"bytes"
	"encoding/json"
	"slices"
	"sort"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

// Kind names the trigger an event came from, as hpcgate:Trigger reports it.
type Kind string

// Kinds of event.
const (
	KindHTTP        Kind = hpcgate.TriggerHTTP
	KindInvoke      Kind = hpcgate.TriggerInvoke
	KindOSS         Kind = hpcgate.TriggerOSS
	KindEventBridge Kind = hpcgate.TriggerEventBridge
	KindTimer       Kind = hpcgate.TriggerTimer
)

// Event is one decoded FC event. Kind says which one member holds it.
type Event struct {
	Kind        Kind         `json:"kind"`
	HTTP        HTTPEvent    `json:"http,omitzero"`
	Invoke      Payload      `json:"invoke,omitzero"`
	OSS         []OSSRecord  `json:"oss,omitempty"`
	EventBridge []CloudEvent `json:"eventbridge,omitempty"`
	Timer       TimerEvent   `json:"timer,omitzero"`
}

// markers are the top-level members that identify each kind of event
// object. An object must carry the markers of exactly one kind (a
// request counts its fields as markers); an object with markers of two
// kinds is ambiguous and refused.
var markers = map[Kind][]string{
	KindHTTP:        {"requestContext", "rawPath"},
	KindOSS:         {"events"},
	KindEventBridge: {"specversion"},
	KindTimer:       {"triggerTime", "triggerName"},
	KindInvoke:      invokeFields,
}

// Decode recognizes a raw FC event and decodes it, with DefaultMaxBytes
// as the size limit. See DecodeLimit.
func Decode(raw []byte) (Event, error) { return DecodeLimit(raw, DefaultMaxBytes) }

// DecodeLimit recognizes a raw FC event and decodes it. raw must be
// valid UTF-8 JSON without a byte order mark, nested at most MaxDepth
// deep, with no duplicate keys (case-insensitively) and no more than
// maxBytes long (maxBytes <= 0 means DefaultMaxBytes); the same limit
// applies to an HTTP body after base64 decoding. Then:
//
//   - a JSON list is an EventBridge delivery: 1..MaxBatch CloudEvents,
//     each an object or a string holding one;
//   - an object is recognized by its marker members (see markers): it must
//     carry the markers of exactly one kind. HTTP trigger events have
//     requestContext or rawPath; OSS events have events; CloudEvents have
//     specversion; timer events have triggerTime or triggerName; a direct
//     invoke has only request members (clusterId, command, workingDir,
//     timeout, instanceIds, wait, dryRun), any other member is refused.
//
// Anything else is a *hpcgate.Error InvalidEvent, status 400 (413 when
// over the size limit), whose message says what was wrong.
func DecodeLimit(raw []byte, maxBytes int) (Event, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if len(raw) > maxBytes {
		return Event{}, tooLarge("event", len(raw), maxBytes)
	}
	if err := checkJSON(raw); err != nil {
		return Event{}, eventError("event: %v", err)
	}
	trimmed := bytes.TrimSpace(raw)
	if trimmed[0] == '[' {
		evs, err := decodeCloudEventList(trimmed)
		if err != nil {
			return Event{}, err
		}
		return Event{Kind: KindEventBridge, EventBridge: evs}, nil
	}
	m, err := object(trimmed)
	if err != nil {
		return Event{}, eventError("event: want a JSON object or list, got %s", kindOf(trimmed))
	}
	kind, err := recognize(m)
	if err != nil {
		return Event{}, err
	}
	switch kind {
	case KindHTTP:
		h, err := decodeHTTP(m, maxBytes)
		return Event{Kind: kind, HTTP: h}, err
	case KindOSS:
		recs, err := decodeOSS(m)
		return Event{Kind: kind, OSS: recs}, err
	case KindEventBridge:
		ce, err := cloudEventFromMembers(m)
		if err != nil {
			return Event{}, err
		}
		return Event{Kind: kind, EventBridge: []CloudEvent{ce}}, nil
	case KindTimer:
		t, err := decodeTimer(m, maxBytes)
		return Event{Kind: kind, Timer: t}, err
	default:
		p, err := payloadFromMembers(m, invokeFields)
		if err != nil {
			return Event{}, payloadError("invoke payload", err)
		}
		return Event{Kind: KindInvoke, Invoke: p}, nil
	}
}

// recognize picks the one kind whose markers an event object carries.
func recognize(m map[string]json.RawMessage) (Kind, error) {
	var found []string
	for _, k := range []Kind{KindHTTP, KindOSS, KindEventBridge, KindTimer, KindInvoke} {
		for _, name := range markers[k] {
			if _, ok := m[name]; ok {
				found = append(found, string(k))
				break
			}
		}
	}
	switch len(found) {
	case 1:
		return Kind(found[0]), nil
	case 0:
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if len(keys) > 5 {
			keys = append(keys[:5], "…")
		}
		return "", eventError("event not recognized: not an HTTP trigger, OSS, EventBridge, timer or invoke event (members %q)", keys)
	}
	return "", eventError("event is ambiguous: it has members of %d kinds of event (%v)", len(found), found)
}

// allowOnly refuses members outside allowed.
func allowOnly(m map[string]json.RawMessage, where string, allowed ...string) error {
	var extra []string
	for k := range m {
		if !slices.Contains(allowed, k) {
			extra = append(extra, k)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return eventError("%s: unknown member %q", where, extra[0])
	}
	return nil
}
