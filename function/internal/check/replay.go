package check

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/function/internal/policy"
	"github.com/hpcgate/hpcgate/function/internal/shellscan"
)

// auditRecord is what replay reads of an audit record (audit.Log).
type auditRecord struct {
	Msg       string            `json:"msg"`
	Time      string            `json:"time"`
	RequestID string            `json:"requestId"`
	Principal hpcgate.Principal `json:"principal"`
	Trigger   string            `json:"trigger"`
	Action    string            `json:"action"`
	Route     string            `json:"route,omitempty"`
	Request   *hpcgate.Request  `json:"request"`
	Context   *struct {
		SourceIP        string  `json:"sourceIp"`
		SecureTransport *bool   `json:"secureTransport"`
		CurrentTime     *string `json:"currentTime"`
	} `json:"context"`
	Region   *string `json:"region"`
	Account  *string `json:"account"`
	Decision *struct {
		Allow    bool             `json:"allow"`
		Reasons  []hpcgate.Reason `json:"reasons"`
		Resource string           `json:"resource"`
		Revision string           `json:"policyRevision"`
	} `json:"decision"`
}

// Change is one line of replay's output: a recorded request whose decision
// differs under the new policies.
type Change struct {
	RequestID string            `json:"requestId"`
	Time      string            `json:"time,omitempty"`
	Principal hpcgate.Principal `json:"principal"`
	Trigger   string            `json:"trigger"`
	Action    string            `json:"action"`
	Request   hpcgate.Request   `json:"request"`
	Before    string            `json:"before"` // allow or deny
	After     string            `json:"after"`  // allow, deny, or error (it could not be decided)
	// BeforeReasons are the recorded decision's, with the revision that made it.
	BeforeReasons  []hpcgate.Reason `json:"beforeReasons"`
	BeforeRevision string           `json:"beforeRevision,omitempty"`
	// Reasons, NearMisses and Explanation are the new decision's.
	Reasons     []hpcgate.Reason   `json:"reasons,omitempty"`
	NearMisses  []hpcgate.NearMiss `json:"nearMisses,omitempty"`
	Explanation string             `json:"explanation,omitempty"`
	Error       string             `json:"error,omitempty"`
}

// replayStats counts what a replay saw, for the summary.
type replayStats struct {
	lines, other, undecided, replayed, errors int
	flips                                     map[string]int            // "allow→deny" and "deny→allow"
	byPrincipal, byStatement                  map[string]map[string]int // key -> flip -> n
}

// replayFile runs runReplay on the log at path ("-": stdin).
func replayFile(ctx context.Context, engine decider, path string, stdin io.Reader, stdout, stderr io.Writer) int {
	log := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintf(stderr, "check: %v\n", err)
			return exitError
		}
		defer f.Close()
		log = f
	}
	return runReplay(ctx, engine, log, stdout, stderr)
}

// runReplay decides every audit record of log again with engine, writes a
// Change per changed decision to stdout and a summary to stderr. Exit 0
// when nothing changed, 2 when something did, 1 when the log cannot be
// read or a record cannot be decided again.
func runReplay(ctx context.Context, engine decider, log io.Reader, stdout, stderr io.Writer) int {
	st := replayStats{flips: map[string]int{}, byPrincipal: map[string]map[string]int{}, byStatement: map[string]map[string]int{}}
	sc := bufio.NewScanner(log)
	sc.Buffer(make([]byte, 64*1024), maxLine)
	w := bufio.NewWriter(stdout)
	for sc.Scan() {
		st.lines++
		rec, ok := readAuditRecord(sc.Bytes())
		if !ok {
			st.other++
			continue
		}
		if rec.Decision == nil || rec.Request == nil {
			// Refused before a decision (invalid, unauthenticated, no
			// policy): nothing to compare.
			st.undecided++
			continue
		}
		st.replayed++
		c, changed := replayOne(ctx, engine, rec)
		if !changed {
			continue
		}
		st.count(c)
		if err := encode(w, c, ""); err != nil {
			fmt.Fprintf(stderr, "check: %v\n", err)
			return exitError
		}
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintf(stderr, "check: %v\n", err)
		return exitError
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(stderr, "check: read log: %v\n", err)
		return exitError
	}
	st.summary(stderr)
	switch {
	case st.errors > 0:
		return exitError
	case len(st.flips) > 0:
		return exitDeny
	}
	return exitAllow
}

// readAuditRecord reads one log line as an audit record. Lines that are
// not JSON objects or not audit records are the log's other lines; a
// prefix before the JSON object (a log shipper's timestamp) is skipped.
func readAuditRecord(line []byte) (auditRecord, bool) {
	var rec auditRecord
	i := bytes.IndexByte(line, '{')
	if i < 0 || json.Unmarshal(line[i:], &rec) != nil || rec.Msg != "audit" {
		return rec, false
	}
	return rec, true
}

// replayOne decides rec again and reports the change, if any.
func replayOne(ctx context.Context, engine decider, rec auditRecord) (Change, bool) {
	before := verdict(rec.Decision.Allow)
	c := Change{
		RequestID: rec.RequestID, Time: rec.Time, Principal: rec.Principal, Trigger: rec.Trigger,
		Action: cmp.Or(rec.Action, hpcgate.ActionInvoke), Request: *rec.Request, Before: before,
		BeforeReasons: rec.Decision.Reasons, BeforeRevision: rec.Decision.Revision,
	}
	q, err := replayQuery(rec, c.Action)
	if err == nil && c.Action == hpcgate.ActionInvoke {
		var a hpcgate.Analysis
		if a, err = shellscan.Analyze(rec.Request.Command); err == nil {
			q.Analysis = &a
		} else {
			err = fmt.Errorf("request.command: %v", message(err))
		}
	}
	var d hpcgate.Decision
	if err == nil {
		d, err = engine.Decide(ctx, q)
	}
	if err != nil {
		c.After, c.Error = "error", message(err)
		return c, true
	}
	c.After = verdict(d.Allow)
	if c.After == before {
		return c, false
	}
	c.Reasons, c.NearMisses, c.Explanation = d.Reasons, d.NearMisses, d.Explanation
	return c, true
}

// replayQuery is the question rec's decision answered. Records written
// before they held the context, region and account take the record's
// time as the current time and the region and account from the resource.
func replayQuery(rec auditRecord, action string) (policy.Query, error) {
	q := policy.Query{Principal: rec.Principal, Request: rec.Request.WithDefaults(), Action: action, Trigger: rec.Trigger}
	// acs:ehpc:<region>:<account>:cluster/<id>
	if parts := strings.Split(rec.Decision.Resource, ":"); len(parts) == 5 {
		q.Region, q.Account = parts[2], parts[3]
	}
	if rec.Region != nil {
		q.Region = *rec.Region
	}
	if rec.Account != nil {
		q.Account = *rec.Account
	}
	at := rec.Time
	if c := rec.Context; c != nil {
		q.Context.SourceIP, q.Context.SecureTransport = c.SourceIP, c.SecureTransport
		if c.CurrentTime != nil {
			at = *c.CurrentTime
		}
	}
	if at != "" {
		t, err := time.Parse(time.RFC3339Nano, at)
		if err != nil {
			return q, fmt.Errorf("context.currentTime: %q is not an RFC 3339 date-time", at)
		}
		q.Context.CurrentTime = &t
	}
	return q, nil
}

func verdict(allow bool) string {
	if allow {
		return "allow"
	}
	return "deny"
}

func (st *replayStats) count(c Change) {
	flip := c.Before + "→" + c.After
	if c.After == "error" {
		st.errors++
	}
	st.flips[flip]++
	add := func(m map[string]map[string]int, key string) {
		if m[key] == nil {
			m[key] = map[string]int{}
		}
		m[key][flip]++
	}
	add(st.byPrincipal, c.Principal.Type+" "+c.Principal.ID)
	for _, s := range statementsOf(c) {
		add(st.byStatement, s)
	}
}

// statementsOf names the statements a change is due to: the Allow that
// now allows, the Denies that now deny, or, when nothing allows any
// more, the Allow that used to.
func statementsOf(c Change) []string {
	name := func(r hpcgate.Reason) string {
		if r.Sid == "" {
			return cmp.Or(r.Policy, "(no statement)")
		}
		return r.Policy + "/" + r.Sid
	}
	switch {
	case c.After == "error":
		return []string{"(not decided: " + c.Error + ")"}
	case c.After == "allow":
		return []string{"allowed by " + name(c.Reasons[0])}
	case len(c.Reasons) == 1 && c.Reasons[0].Policy == "":
		var was []string
		for _, r := range c.BeforeReasons {
			was = append(was, name(r))
		}
		return []string{"no statement allows (was " + strings.Join(was, ", ") + ")"}
	}
	var out []string
	for _, r := range c.Reasons {
		out = append(out, "denied by "+name(r))
	}
	return out
}

func (st *replayStats) summary(w io.Writer) {
	changed := 0
	for _, n := range st.flips {
		changed += n
	}
	fmt.Fprintf(w, "replayed %d audit records of %d log lines (%d other lines, %d records without a decision skipped)\n",
		st.replayed, st.lines, st.other, st.undecided)
	fmt.Fprintf(w, "%d decisions change: %s\n", changed, flips(st.flips))
	for _, sec := range []struct {
		title string
		m     map[string]map[string]int
	}{{"by principal", st.byPrincipal}, {"by statement", st.byStatement}} {
		if len(sec.m) == 0 {
			continue
		}
		fmt.Fprintf(w, "%s:\n", sec.title)
		keys := slices.Sorted(maps.Keys(sec.m))
		total := func(k string) (n int) {
			for _, v := range sec.m[k] {
				n += v
			}
			return n
		}
		slices.SortStableFunc(keys, func(a, b string) int { return cmp.Compare(total(b), total(a)) })
		for _, k := range keys {
			fmt.Fprintf(w, "  %s: %s\n", k, flips(sec.m[k]))
		}
	}
}

// flips writes counts of flips in a fixed order.
func flips(m map[string]int) string {
	var parts []string
	for _, f := range []string{"allow→deny", "deny→allow", "allow→error", "deny→error"} {
		if m[f] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", f, m[f]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
