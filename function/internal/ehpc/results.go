package ehpc

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

// Per-node statuses, as E-HPC spells them.
const (
	NodeFinished = "Finished"
	NodeRunning  = "Running"
	NodeFailed   = "Failed"
	NodeStopped  = "Stopped"
)

// Outcome is what is known of a command (hpcgate.Outcome, which says how
// node and command statuses are told).
type Outcome = hpcgate.Outcome

// Results reads a command's status and all pages of its results once,
// without waiting.
func (c *Client) Results(ctx context.Context, clusterID, commandID string) (Outcome, error) {
	st, err := c.status(ctx, clusterID, commandID)
	if err != nil {
		return Outcome{}, err
	}
	rs, err := c.results(ctx, clusterID, commandID)
	if err != nil {
		return Outcome{}, err
	}
	return c.outcome(st, rs), nil
}

// Wait polls the command's status (backoff from 100 ms, ×1.5, up to 2 s)
// until it is terminal or d has passed, then reads all pages of its
// results. The last pause is cut to end at d and followed by one more
// status read, so a command still running is answered after d, not up to
// a backoff step early; that read and the results may take readGrace more,
// so the answer comes within d + readGrace whatever E-HPC's latency (the
// caller keeps that much before its own deadline). When d passes first,
// Wait returns Status running with what it knows and no error. Errors are
// only E-HPC's refusals (ClusterNotFound, NotAuthorized, ...).
func (c *Client) Wait(ctx context.Context, clusterID, commandID string, d time.Duration) (Outcome, error) {
	until := time.Now().Add(d)
	ctx, cancel := context.WithDeadline(ctx, until.Add(readGrace))
	defer cancel()
	var (
		st    invocationStatus
		known bool
	)
	for attempt := 0; ; attempt++ {
		s, err := c.status(ctx, clusterID, commandID)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if !retryableStatus(err) {
				return Outcome{}, err
			}
		} else {
			st, known = s, true
			if st.terminal() {
				break
			}
		}
		left := time.Until(until)
		if left <= 0 || !c.poll.pauseUpTo(ctx, attempt, left) {
			break
		}
	}
	// Without results no exit code is known: never claim an end then.
	running := func() (Outcome, error) {
		out := c.outcome(st, nil)
		out.Status = hpcgate.StatusRunning
		return out, nil
	}
	if ctx.Err() != nil {
		return running()
	}
	for attempt := 0; ; attempt++ {
		rs, err := c.results(ctx, clusterID, commandID)
		if err != nil {
			if ctx.Err() != nil || !known || !st.terminal() || retryableStatus(err) {
				return running()
			}
			return Outcome{}, err
		}
		out := c.outcome(st, rs)
		if (!known || !st.terminal()) && len(st.Nodes) == 0 {
			// Results alone cannot prove that every node has reported.
			out.Status = hpcgate.StatusRunning
		}
		// A record may lag behind the status that says its node ended:
		// read again while time is left.
		if out.Status != hpcgate.StatusRunning || !st.terminal() || !c.poll.sleep(ctx, attempt) {
			return out, nil
		}
	}
}

// readGrace is how long Wait may take past its wait for the status read
// then in flight and the results: a wait of d answers within d+readGrace.
const readGrace = time.Second

func retryableStatus(err error) bool {
	e := hpcgate.AsError(err)
	return e.Retryable
}

// invocationStatus is a ListInvocationStatus answer.
type invocationStatus struct {
	Overall string
	Nodes   []nodeStatus
}

type nodeStatus struct {
	InstanceID string
	Status     string
}

// terminal reports whether the command has ended on every node.
func (s invocationStatus) terminal() bool {
	if len(s.Nodes) > 0 {
		for _, n := range s.Nodes {
			if nodeState(n.Status) == NodeRunning {
				return false
			}
		}
		return true
	}
	return nodeState(s.Overall) != NodeRunning
}

// nodeState normalizes a status to Finished, Failed, Stopped or Running:
// anything not known to have ended (Running, Pending, "", ...) is Running.
func nodeState(s string) string {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "finished", "success", "succeeded":
		return NodeFinished
	case "failed", "partialfailed", "error":
		return NodeFailed
	case "stopped", "timeout", "terminated":
		return NodeStopped
	}
	return NodeRunning
}

func (c *Client) status(ctx context.Context, clusterID, commandID string) (invocationStatus, error) {
	var st invocationStatus
	err := c.read(ctx, ActionListInvocationStatus, map[string]string{"ClusterId": clusterID, "CommandId": commandID}, func(body []byte) error {
		var raw struct {
			InvokeStatus    flexString      `json:"InvokeStatus"`
			InvokeInstances json.RawMessage `json:"InvokeInstances"`
		}
		if err := decodeObject(body, &raw); err != nil {
			return err
		}
		var nodes []struct {
			InstanceID           flexString `json:"InstanceId"`
			InstanceInvokeStatus flexString `json:"InstanceInvokeStatus"`
		}
		if err := unwrapList(raw.InvokeInstances, "InvokeInstance", &nodes); err != nil {
			return err
		}
		st = invocationStatus{Overall: string(raw.InvokeStatus)}
		for _, n := range nodes {
			if n.InstanceID != "" {
				st.Nodes = append(st.Nodes, nodeStatus{InstanceID: string(n.InstanceID), Status: string(n.InstanceInvokeStatus)})
			}
		}
		return nil
	})
	return st, err
}

// invocationResult is one entry of ListInvocationResults.
type invocationResult struct {
	InstanceID         flexString `json:"InstanceId"`
	Success            *flexBool  `json:"Success"`
	Message            flexString `json:"Message"`
	ExitCode           flexInt    `json:"ExitCode"`
	FinishedTime       flexString `json:"FinishedTime"`
	InvokeRecordStatus flexString `json:"InvokeRecordStatus"`
}

// results reads every page of ListInvocationResults (PageSize 50) until
// PageNumber×PageSize reaches TotalCount, an empty page, or MaxPages.
func (c *Client) results(ctx context.Context, clusterID, commandID string) ([]invocationResult, error) {
	var all []invocationResult
	for page := 1; ; page++ {
		var (
			rs          []invocationResult
			size, total int
		)
		err := c.read(ctx, ActionListInvocationResults, map[string]string{
			"ClusterId": clusterID, "CommandId": commandID,
			"PageNumber": strconv.Itoa(page), "PageSize": strconv.Itoa(PageSize),
		}, func(body []byte) error {
			var raw struct {
				PageSize          flexInt         `json:"PageSize"`
				TotalCount        flexInt         `json:"TotalCount"`
				InvocationResults json.RawMessage `json:"InvocationResults"`
			}
			if err := decodeObject(body, &raw); err != nil {
				return err
			}
			rs = nil
			size, total = int(raw.PageSize), int(raw.TotalCount)
			return unwrapList(raw.InvocationResults, "InvocationResult", &rs)
		})
		if err != nil {
			return nil, err
		}
		all = append(all, rs...)
		if size <= 0 {
			size = PageSize
		}
		if len(rs) == 0 || page*size >= total {
			return all, nil
		}
		if page >= c.maxPages {
			c.log.WarnContext(ctx, "result pages cut short", "clusterId", clusterID, "commandId", commandID, "pages", page, "totalCount", total)
			return all, nil
		}
	}
}

// outcome merges a status and results into an Outcome by the rules
// documented on Outcome. A result's record status wins over the (older)
// status answer.
func (c *Client) outcome(st invocationStatus, rs []invocationResult) Outcome {
	byID := map[string]*hpcgate.NodeResult{}
	var order []string
	node := func(id string) *hpcgate.NodeResult {
		n, ok := byID[id]
		if !ok {
			n = &hpcgate.NodeResult{InstanceID: id, Status: NodeRunning}
			byID[id] = n
			order = append(order, id)
		}
		return n
	}
	ids := []string{}
	for _, s := range st.Nodes {
		n := node(s.InstanceID)
		n.Status = nodeState(s.Status)
		ids = append(ids, s.InstanceID)
	}
	notOK, hasRecord := map[string]bool{}, map[string]bool{}
	for _, r := range rs {
		id := string(r.InstanceID)
		if id == "" {
			continue
		}
		if _, ok := byID[id]; !ok {
			ids = append(ids, id)
		}
		n := node(id)
		if r.InvokeRecordStatus != "" {
			n.Status = nodeState(string(r.InvokeRecordStatus))
		}
		code := int(r.ExitCode)
		n.ExitCode = &code
		n.Output, n.Truncated = capOutput(string(r.Message), c.cap)
		n.FinishedAt = string(r.FinishedTime)
		notOK[id] = r.Success != nil && !bool(*r.Success)
		hasRecord[id] = true
	}
	out := Outcome{Results: []hpcgate.NodeResult{}, InstanceIDs: ids}
	slices.Sort(order)
	stopped := 0
	for _, id := range order {
		n := byID[id]
		switch {
		case n.Status == NodeRunning, !hasRecord[id]:
			// No record, or one of a node still running: its exit code
			// is not known yet (null, never a made-up 0).
			n.ExitCode = nil
			out.Summary.Running++
		case n.Status == NodeFinished && *n.ExitCode == 0 && !notOK[id]:
			out.Summary.Succeeded++
		default:
			out.Summary.Failed++
			if n.Status == NodeStopped {
				stopped++
			}
		}
		out.Results = append(out.Results, *n)
	}
	out.Summary.Nodes = len(out.Results)
	sum := out.Summary
	switch {
	case sum.Running > 0, sum.Nodes == 0 && nodeState(st.Overall) == NodeRunning:
		out.Status = hpcgate.StatusRunning
	case sum.Nodes == 0:
		out.Status = map[string]string{NodeFinished: hpcgate.StatusSucceeded, NodeStopped: hpcgate.StatusTimedOut}[nodeState(st.Overall)]
		if out.Status == "" {
			out.Status = hpcgate.StatusFailed
		}
	case sum.Succeeded == sum.Nodes:
		out.Status = hpcgate.StatusSucceeded
	case sum.Succeeded > 0:
		out.Status = hpcgate.StatusPartial
	case stopped > 0:
		out.Status = hpcgate.StatusTimedOut
	default:
		out.Status = hpcgate.StatusFailed
	}
	return out
}

// capOutput keeps at most n bytes of s, cut at a UTF-8 boundary.
func capOutput(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	return truncateUTF8(s, n), true
}

// truncateUTF8 returns the longest prefix of s of at most n bytes that
// does not split a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// unwrapList decodes a list that E-HPC wraps in an object keyed by the
// element name ({"InvocationResult": [...]}), or sends bare.
func unwrapList(raw json.RawMessage, key string, v any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	if raw[0] == '{' {
		var wrap map[string]json.RawMessage
		if err := json.Unmarshal(raw, &wrap); err != nil {
			return err
		}
		inner, ok := wrap[key]
		if !ok {
			return nil
		}
		raw = bytes.TrimSpace(inner)
		if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
			return nil
		}
	}
	return json.Unmarshal(raw, v)
}

// flexString accepts a JSON string or number (E-HPC's types drift).
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*f = flexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*f = flexString(n.String())
	return nil
}

// flexInt accepts a JSON number or a string holding one.
type flexInt int

func (f *flexInt) UnmarshalJSON(b []byte) error {
	var s flexString
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	if s == "" {
		return nil
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(string(s)), 64)
	if err != nil {
		return err
	}
	*f = flexInt(n)
	return nil
}

// flexBool accepts a JSON bool or a string "true"/"false".
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	var v bool
	if err := json.Unmarshal(b, &v); err == nil {
		*f = flexBool(v)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := strconv.ParseBool(strings.TrimSpace(s))
	*f = flexBool(v)
	return err
}
