package trigger

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

// Payload is a request body: the InvokeShellCommand request fields plus
// how long to wait for the outcome and whether to stop after the
// decision. The HTTP API, a direct invoke, a timer and a custom
// EventBridge event all carry this same shape.
type Payload struct {
	hpcgate.Request
	Wait   WaitSpec `json:"wait,omitzero"`
	DryRun bool     `json:"dryRun,omitempty"`
	// IdempotencyKey names a direct invoke so that a redelivery of it
	// runs once; only a direct invoke's payload may carry it.
	IdempotencyKey string `json:"idempotencyKey,omitempty"`
}

// WaitSpec is the "wait" member of a request: absent (the gateway's
// default), false or 0 (do not wait), true (wait as long as the gateway
// allows), or a number of seconds.
type WaitSpec struct {
	Set      bool          // "wait" was given
	Duration time.Duration // when Set: 0 = do not wait; WaitMax = as long as allowed
}

// WaitMax is the Duration of "wait": true; the gateway bounds it by its
// configured maximum.
const WaitMax = time.Duration(math.MaxInt64)

// maxWaitSeconds bounds a numeric wait (one day, FC's longest timeout).
const maxWaitSeconds = 86400

// Ptr returns the wait the way the pipeline takes it: nil when not given.
func (w WaitSpec) Ptr() *time.Duration {
	if !w.Set {
		return nil
	}
	d := w.Duration
	return &d
}

// MarshalJSON writes the wait back as the caller could have written it.
func (w WaitSpec) MarshalJSON() ([]byte, error) {
	switch {
	case !w.Set:
		return []byte("null"), nil
	case w.Duration == WaitMax:
		return []byte("true"), nil
	case w.Duration == 0:
		return []byte("false"), nil
	}
	return []byte(strconv.FormatFloat(w.Duration.Seconds(), 'f', -1, 64)), nil
}

// payloadFields are the members a request body may have, in the order
// messages list them.
var payloadFields = []string{"clusterId", "command", "workingDir", "timeout", "instanceIds", "wait", "dryRun"}

// invokeFields are the members of a direct invoke's payload: a request
// and the caller's idempotency key.
var invokeFields = append(slices.Clone(payloadFields), "idempotencyKey")

// idempotencyKeyRE bounds an idempotency key: printable ASCII, no space.
var idempotencyKeyRE = hpcgate.MustPattern(`^[!-~]+$`, 128)

// maxTimeout bounds the timeout field before the gateway applies its own
// (smaller) configured maximum: it keeps the value inside the int32 that
// E-HPC takes.
const maxTimeout = math.MaxInt32

// DecodePayload decodes a request body strictly: one JSON object of
// valid UTF-8 with only the request members, each of its exact type (no
// null), no duplicate keys (case-insensitively), nothing after it, at
// most maxBytes long (maxBytes <= 0 means DefaultMaxBytes). Strings must
// not hold NUL. timeout is a whole number of seconds from 1 to
// 2147483647; wait is true, false or a number of seconds from 0 to
// 86400. Errors are *hpcgate.Error InvalidRequest (400, or 413 when too
// large) whose message names the field. Required members (clusterId,
// command) and the gateway's own limits are checked by the pipeline.
func DecodePayload(b []byte, maxBytes int) (Payload, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if len(b) > maxBytes {
		return Payload{}, tooLarge("request body", len(b), maxBytes)
	}
	if err := checkJSON(b); err != nil {
		return Payload{}, hpcgate.Invalid("request body: %v", err)
	}
	m, err := object(b)
	if err != nil {
		return Payload{}, hpcgate.Invalid("request body: %v", err)
	}
	p, err := payloadFromMembers(m, payloadFields)
	if err != nil {
		return Payload{}, hpcgate.Invalid("request body: %v", err)
	}
	return p, nil
}

// payloadFromMembers builds a Payload from checked object members,
// of which only fields may be present.
func payloadFromMembers(m map[string]json.RawMessage, fields []string) (Payload, error) {
	var unknown []string
	for k := range m {
		if !slices.Contains(fields, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return Payload{}, fmt.Errorf("unknown field %q (want %s)", unknown[0], strings.Join(fields, ", "))
	}
	var p Payload
	var err error
	for _, f := range []struct {
		name string
		dst  *string
	}{{"clusterId", &p.ClusterID}, {"command", &p.Command}, {"workingDir", &p.WorkingDir}} {
		raw, ok := m[f.name]
		if !ok {
			continue
		}
		if *f.dst, err = str(raw, f.name); err != nil {
			return Payload{}, err
		}
		if strings.ContainsRune(*f.dst, 0) {
			return Payload{}, fmt.Errorf("%s: holds a NUL character", f.name)
		}
	}
	if raw, ok := m["timeout"]; ok {
		if p.Timeout, err = timeout(raw); err != nil {
			return Payload{}, err
		}
	}
	if raw, ok := m["instanceIds"]; ok {
		if p.InstanceIDs, err = instanceIDs(raw); err != nil {
			return Payload{}, err
		}
	}
	if raw, ok := m["wait"]; ok {
		if p.Wait, err = wait(raw); err != nil {
			return Payload{}, err
		}
	}
	if raw, ok := m["dryRun"]; ok {
		if p.DryRun, err = boolean(raw, "dryRun"); err != nil {
			return Payload{}, err
		}
	}
	if raw, ok := m["idempotencyKey"]; ok {
		if p.IdempotencyKey, err = str(raw, "idempotencyKey"); err != nil {
			return Payload{}, err
		}
		if !idempotencyKeyRE.MatchString(p.IdempotencyKey) {
			return Payload{}, errors.New("idempotencyKey: want 1 to 128 printable ASCII characters without spaces")
		}
	}
	return p, nil
}

func timeout(raw json.RawMessage) (int, error) {
	var n json.Number
	if kindOf(raw) != "a number" || json.Unmarshal(raw, &n) != nil {
		return 0, fmt.Errorf("timeout: want a whole number of seconds, got %s", kindOf(raw))
	}
	v, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil || v < 1 || v > maxTimeout {
		return 0, fmt.Errorf("timeout: want a whole number of seconds from 1 to %d, got %.40s", maxTimeout, n.String())
	}
	return int(v), nil
}

func instanceIDs(raw json.RawMessage) ([]string, error) {
	var ids []string
	if kindOf(raw) != "a list" || json.Unmarshal(raw, &ids) != nil {
		return nil, fmt.Errorf("instanceIds: want a list of strings, got %s", kindOf(raw))
	}
	for i, id := range ids {
		if id == "" || strings.ContainsRune(id, 0) {
			return nil, fmt.Errorf("instanceIds[%d]: want a non-empty node id", i)
		}
	}
	return ids, nil
}

func wait(raw json.RawMessage) (WaitSpec, error) {
	switch kindOf(raw) {
	case "a boolean":
		var b bool
		_ = json.Unmarshal(raw, &b)
		if b {
			return WaitSpec{Set: true, Duration: WaitMax}, nil
		}
		return WaitSpec{Set: true}, nil
	case "a number":
		var n json.Number
		if json.Unmarshal(raw, &n) == nil {
			s, err := strconv.ParseFloat(n.String(), 64)
			if err == nil && s >= 0 && s <= maxWaitSeconds {
				return WaitSpec{Set: true, Duration: time.Duration(s * float64(time.Second))}, nil
			}
		}
		return WaitSpec{}, fmt.Errorf("wait: want seconds from 0 to %d, got %.40s", maxWaitSeconds, string(raw))
	}
	return WaitSpec{}, fmt.Errorf("wait: want a number of seconds or true/false, got %s", kindOf(raw))
}

// payloadError is the error of a request carried inside an event.
func payloadError(where string, err error) *hpcgate.Error {
	return hpcgate.Errorf(hpcgate.CodeInvalidEvent, "%s: %v", where, err)
}
