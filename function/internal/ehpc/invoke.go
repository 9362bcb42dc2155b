package ehpc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

// Actions of the E-HPC API the client calls.
const (
	ActionInvokeShellCommand    = "InvokeShellCommand"
	ActionListInvocationStatus  = "ListInvocationStatus"
	ActionListInvocationResults = "ListInvocationResults"
	ActionListCommands          = "ListCommands"
)

// Invocation is E-HPC's answer to InvokeShellCommand (hpcgate.Invocation).
type Invocation = hpcgate.Invocation

// Invoke sends r to E-HPC once. It sends it again only when E-HPC surely
// did not run it: dialing failed before a connection existed, or the
// answer was Throttling* or ServiceUnavailable. A 2xx answer that cannot be
// read is CodeOutcomeUnknown, never retried.
func (c *Client) Invoke(ctx context.Context, r hpcgate.Request) (Invocation, error) {
	params, err := invokeParams(r)
	if err != nil {
		return Invocation{}, err
	}
	cr, err := c.credentialsFor(ctx)
	if err != nil {
		return Invocation{}, err
	}
	const action = ActionInvokeShellCommand
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return Invocation{}, ctxError(action, err)
		}
		rep := c.exchange(ctx, cr, action, params, true)
		if rep.err == nil {
			inv, err := parseInvocation(rep.body)
			if err != nil {
				c.log.WarnContext(ctx, "unreadable InvokeShellCommand answer", "clusterId", r.ClusterID, "err", err, "bodyBytes", len(rep.body))
				return Invocation{}, outcomeUnknown(err)
			}
			if len(inv.InstanceIDs) == 0 && len(r.InstanceIDs) > 0 {
				inv.InstanceIDs = append([]string(nil), r.InstanceIDs...)
			}
			return inv, nil
		}
		e, retry := c.classify(ctx, action, rep, true)
		if !retry || !c.retry.sleep(ctx, attempt) {
			return Invocation{}, e
		}
		c.log.InfoContext(ctx, "InvokeShellCommand not run by E-HPC; sending it again", "clusterId", r.ClusterID, "code", e.Code, "attempt", attempt+1)
	}
}

// invokeParams encodes r as the API documents it: Instance.N.Id from 1,
// Timeout as an integer, empty values left out.
func invokeParams(r hpcgate.Request) (map[string]string, error) {
	switch n := utf8.RuneCountInString(r.Command); {
	case r.ClusterID == "":
		return nil, hpcgate.Invalid("clusterId is required")
	case n < hpcgate.MinCommandLen || n > hpcgate.MaxCommandLen:
		return nil, hpcgate.Invalid("command must be %d to %d characters long", hpcgate.MinCommandLen, hpcgate.MaxCommandLen)
	case r.Timeout < 0:
		return nil, hpcgate.Invalid("timeout must not be negative")
	}
	p := map[string]string{"ClusterId": r.ClusterID, "Command": r.Command}
	if r.WorkingDir != "" {
		p["WorkingDir"] = r.WorkingDir
	}
	if r.Timeout > 0 {
		p["Timeout"] = strconv.Itoa(r.Timeout)
	}
	for i, id := range r.InstanceIDs {
		if id == "" {
			return nil, hpcgate.Invalid("instanceIds[%d] is empty", i)
		}
		p["Instance."+strconv.Itoa(i+1)+".Id"] = id
	}
	return p, nil
}

// parseInvocation reads an InvokeShellCommand answer. It fails when the
// body is not a JSON object or has no CommandId; odd InstanceIds shapes
// are normalized, not rejected, since the command was accepted.
func parseInvocation(body []byte) (Invocation, error) {
	var raw struct {
		CommandID   *string         `json:"CommandId"`
		RequestID   any             `json:"RequestId"`
		InstanceIDs json.RawMessage `json:"InstanceIds"`
	}
	if err := decodeObject(body, &raw); err != nil {
		return Invocation{}, err
	}
	if raw.CommandID == nil || strings.TrimSpace(*raw.CommandID) == "" {
		return Invocation{}, errors.New("answer has no CommandId")
	}
	rid, _ := raw.RequestID.(string)
	return Invocation{CommandID: strings.TrimSpace(*raw.CommandID), RequestID: rid, InstanceIDs: InstanceIDs(raw.InstanceIDs)}, nil
}

// decodeObject decodes a JSON object body into v.
func decodeObject(body []byte, v any) error {
	b := bytes.TrimSpace(body)
	if len(b) == 0 || b[0] != '{' {
		return fmt.Errorf("answer is not a JSON object (%d bytes)", len(body))
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	return nil
}

// maxIDDepth bounds how deeply InstanceIds may nest.
const maxIDDepth = 8

// InstanceIDs flattens an InstanceIds value of any shape E-HPC has been
// seen to answer with: {"InstanceId": [...]}, a list of ids, a list holding
// one JSON-encoded list ("[\"i-a\",\"i-b\"]"), nested lists, or a bare
// string (an id, a JSON-encoded list, or ids separated by commas). Ids
// keep their first-seen order and appear once; values that are not
// strings are ignored. The result is never nil.
func InstanceIDs(raw json.RawMessage) []string {
	ids := []string{}
	seen := map[string]bool{}
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		if depth > maxIDDepth {
			return
		}
		switch v := v.(type) {
		case string:
			s := strings.TrimSpace(v)
			if strings.HasPrefix(s, "[") || strings.HasPrefix(s, "{") || strings.HasPrefix(s, `"`) {
				var inner any
				if json.Unmarshal([]byte(s), &inner) == nil {
					walk(inner, depth+1)
					return
				}
			}
			for part := range strings.SplitSeq(s, ",") {
				id := strings.Trim(strings.TrimSpace(part), `"[]`)
				if id != "" && !seen[id] {
					seen[id] = true
					ids = append(ids, id)
				}
			}
		case []any:
			for _, e := range v {
				walk(e, depth+1)
			}
		case map[string]any:
			for k, e := range v {
				if strings.EqualFold(k, "InstanceId") || strings.EqualFold(k, "InstanceIds") {
					walk(e, depth+1)
				}
			}
		}
	}
	if len(raw) > 0 {
		var v any
		if json.Unmarshal(raw, &v) == nil {
			walk(v, 0)
		}
	}
	return ids
}
