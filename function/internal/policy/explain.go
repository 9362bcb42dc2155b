package policy

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

// explain adds to a deny what a person needs to act on it: for each Deny
// statement that matched, the request values that made it match; for the
// implicit deny, the near misses (every Allow statement attached to the
// principal whose Action matched, with the conditions and the Resource
// that did not hold); and a sentence. It runs only on deny, in Go over the
// statements the set keeps: the decision itself is Rego's, and a test
// holds the two to the same answers.
func (s *Set) explain(q Query, now time.Time, d *hpcgate.Decision) {
	keys := requestKeys(q, now)
	implicit := len(d.Reasons) == 1 && d.Reasons[0].Policy == ""
	action := strings.ToLower(q.Action)
	for _, pname := range s.gov.attached(q.Principal) {
		for i, st := range s.gov.policies[pname].statements {
			if slices.ContainsFunc(st.actions, func(p string) bool { return hpcgate.Wildcard(p, action) }) == st.notAction {
				continue
			}
			if implicit && st.effect == "Allow" {
				if nm, ok := nearMiss(pname, i, st, keys, d.Resource); ok {
					d.NearMisses = append(d.NearMisses, nm)
				}
				continue
			}
			if !implicit && st.effect == "Deny" {
				matchedDeny(d, pname, st, keys, d.Resource)
			}
		}
	}
	slices.SortStableFunc(d.NearMisses, func(a, b hpcgate.NearMiss) int { return cmp.Compare(misses(a), misses(b)) })
	d.Explanation = sentence(q, d, implicit)
}

func misses(nm hpcgate.NearMiss) int {
	n := len(nm.Failed)
	if nm.Resource != nil {
		n++
	}
	return n
}

// nearMiss reports what of st does not hold for the request; false when
// everything holds (the Allow would have matched: nothing to explain).
func nearMiss(pname string, i int, st statement, keys map[string][]string, resource string) (hpcgate.NearMiss, bool) {
	nm := hpcgate.NearMiss{Policy: pname, Sid: st.sid, Statement: i}
	if !resourceHolds(st, resource) {
		element := "Resource"
		if st.notResource {
			element = "NotResource"
		}
		nm.Resource = &hpcgate.ResourceMiss{Element: element, Values: slices.Clone(st.resources), Request: resource}
	}
	for _, c := range st.conditions {
		vals, present := keys[c.key]
		if ok, offending := c.holds(vals, present); !ok {
			nm.Failed = append(nm.Failed, c.show(vals, present, offending))
		}
	}
	return nm, misses(nm) > 0
}

// matchedDeny fills the Matched conditions of the reason st gives, when
// st matches the request.
func matchedDeny(d *hpcgate.Decision, pname string, st statement, keys map[string][]string, resource string) {
	i := slices.IndexFunc(d.Reasons, func(r hpcgate.Reason) bool {
		return r.Effect == "Deny" && r.Policy == pname && r.Sid == st.sid && r.Detail == st.detail && r.Matched == nil
	})
	if i < 0 || !resourceHolds(st, resource) {
		return
	}
	var matched []hpcgate.Condition
	for _, c := range st.conditions {
		vals, present := keys[c.key]
		ok, _ := c.holds(vals, present)
		if !ok {
			return
		}
		matched = append(matched, c.show(vals, present, c.deciding(vals)))
	}
	if matched == nil {
		matched = []hpcgate.Condition{} // no conditions: the Deny matches every request it applies to
	}
	d.Reasons[i].Matched = matched
}

func resourceHolds(st statement, resource string) bool {
	return slices.ContainsFunc(st.resources, func(p string) bool { return hpcgate.Wildcard(p, resource) }) != st.notResource
}

func (c condition) show(vals []string, present bool, offending []string) hpcgate.Condition {
	out := hpcgate.Condition{Key: c.key, Operator: c.op, Values: slices.Clone(c.vals), Offending: offending}
	if present {
		out.RequestValues = append([]string{}, vals...)
	}
	return out
}

// holds tests the condition against the request's values of its key, with
// the semantics the compiled Rego has (see compileCondition): a positive
// operator on a plain key matches when the value matches any listed value,
// a negated one when it matches none (true when the key is absent);
// ForAllValues:X holds when every value satisfies X, ForAnyValue:X when
// some value does (never for no value). offending are, when it fails
// under ForAllValues, the values that broke it.
func (c condition) holds(vals []string, present bool) (ok bool, offending []string) {
	switch c.qual {
	case "":
		if !present || len(vals) == 0 {
			return c.spec.neg, nil
		}
		return c.test(vals[0]) != c.spec.neg, nil
	case "all":
		for _, v := range vals {
			if c.test(v) == c.spec.neg {
				offending = append(offending, v)
			}
		}
		return offending == nil, offending
	default: // any
		for _, v := range vals {
			if c.test(v) != c.spec.neg {
				return true, nil
			}
		}
		return false, nil
	}
}

// deciding are, for a condition that holds under ForAnyValue, the
// request values that made it hold.
func (c condition) deciding(vals []string) []string {
	if c.qual != "any" {
		return nil
	}
	var out []string
	for _, v := range vals {
		if c.test(v) != c.spec.neg {
			out = append(out, v)
		}
	}
	return out
}

// test is the positive form of the operator for one request value: it
// matches a listed value (for an order comparison, the loosest bound).
func (c condition) test(v string) bool {
	switch c.spec.f {
	case "str":
		return slices.Contains(c.vals, v)
	case "stri":
		return slices.ContainsFunc(c.vals, func(w string) bool { return strings.ToLower(w) == strings.ToLower(v) })
	case "like":
		return slices.ContainsFunc(c.vals, func(p string) bool { return hpcgate.Wildcard(p, v) })
	case "bool":
		return slices.ContainsFunc(c.vals, func(w string) bool { return strings.ToLower(w) == v })
	case "ip":
		a, err := netip.ParseAddr(v)
		if err != nil {
			return false
		}
		return slices.ContainsFunc(c.vals, func(w string) bool {
			p, err := parsePrefix(w)
			return err == nil && p.Contains(a)
		})
	case "num", "date":
		x, ok := c.number(v)
		if !ok {
			return false
		}
		return slices.ContainsFunc(c.vals, func(w string) bool {
			y, ok := c.number(w)
			if !ok {
				return false
			}
			switch c.spec.cmp {
			case "lt":
				return x < y
			case "le":
				return x <= y
			case "gt":
				return x > y
			case "ge":
				return x >= y
			}
			return x == y
		})
	}
	return false
}

// number reads a Numeric value, or a Date as nanoseconds since the epoch.
func (c condition) number(s string) (float64, bool) {
	if c.spec.f == "date" {
		t, err := time.Parse(time.RFC3339Nano, s)
		return float64(t.UnixNano()), err == nil
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

// requestKeys are the condition keys of q as strings, as buildInput
// builds them: a key the request lacks is not in the map; multi-valued
// keys are always present.
func requestKeys(q Query, now time.Time) map[string][]string {
	r := q.Request
	a := q.Analysis
	if a == nil {
		a = &hpcgate.Analysis{}
	}
	k := map[string][]string{
		"ehpc:ClusterId":           {r.ClusterID},
		"ehpc:WorkingDir":          {r.WorkingDir},
		"ehpc:Timeout":             {strconv.Itoa(r.Timeout)},
		"ehpc:InstanceId":          r.InstanceIDs,
		"hpcgate:TargetsAllNodes":  {strconv.FormatBool(len(r.InstanceIDs) == 0)},
		"hpcgate:InstanceCount":    {strconv.Itoa(len(r.InstanceIDs))},
		"hpcgate:Program":          a.Programs,
		"hpcgate:CommandLine":      a.CommandLines,
		"hpcgate:ShellFeature":     a.Features,
		"hpcgate:OutputRedirect":   a.OutputRedirects,
		"hpcgate:InputRedirect":    a.InputRedirects,
		"hpcgate:AssignedVariable": a.AssignedVariables,
	}
	if q.Principal.Type != "" {
		k["hpcgate:PrincipalType"] = []string{q.Principal.Type}
	}
	if q.Trigger != "" {
		k["hpcgate:Trigger"] = []string{q.Trigger}
	}
	if ip, err := netip.ParseAddr(q.Context.SourceIP); err == nil {
		k["acs:SourceIp"] = []string{ip.WithZone("").String()}
	}
	if st := q.Context.SecureTransport; st != nil {
		k["acs:SecureTransport"] = []string{strconv.FormatBool(*st)}
	}
	if q.Context.CurrentTime != nil {
		now = *q.Context.CurrentTime
	}
	k["acs:CurrentTime"] = []string{now.UTC().Format(time.RFC3339Nano)}
	if q.Principal.MFA != nil {
		k["acs:MFAPresent"] = []string{strconv.FormatBool(*q.Principal.MFA)}
	}
	if owner, own, read := commandOwnerKeys(q); read {
		if owner != "" {
			k["hpcgate:CommandOwner"] = []string{owner}
		}
		k["hpcgate:OwnCommand"] = []string{strconv.FormatBool(own)}
	}
	for key, v := range k {
		if v == nil {
			k[key] = []string{}
		}
	}
	return k
}

// attached lists the policies attached to p, each once: its own, those of
// every principal of its type, those of its groups in order.
func (g *governance) attached(p hpcgate.Principal) []string {
	lists := [][]string{g.attachments[p.Type][p.ID], g.attachments[p.Type]["*"]}
	if p.Type == hpcgate.PrincipalUser {
		for _, grp := range p.Groups {
			lists = append(lists, g.attachments["group"][grp])
		}
	}
	var out []string
	for _, l := range lists {
		for _, name := range l {
			if !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	return out
}

// sentence says why d denies, in words: the Deny reasons with the values
// that matched, or the closest near miss.
func sentence(q Query, d *hpcgate.Decision, implicit bool) string {
	var b strings.Builder
	if !implicit {
		b.WriteString("Denied by ")
		for i, r := range d.Reasons {
			if i > 0 {
				b.WriteString("; and by ")
			}
			b.WriteString(statementName(r.Policy, r.Sid))
			if r.Matched == nil {
				if r.Detail != "" {
					fmt.Fprintf(&b, ": %s", r.Detail)
				}
				continue
			}
			var parts []string
			for _, c := range r.Matched {
				vs := c.Offending
				if vs == nil {
					vs = c.RequestValues
				}
				if c.RequestValues == nil {
					parts = append(parts, c.Key+" is absent")
					continue
				}
				parts = append(parts, fmt.Sprintf("%s is %s", c.Key, list(vs)))
			}
			if len(parts) == 0 {
				parts = []string{"it applies to every such request"}
			}
			fmt.Fprintf(&b, ", because %s", strings.Join(parts, " and "))
		}
		b.WriteString(".")
		return b.String()
	}
	who := q.Principal.Type + " " + q.Principal.ID
	if len(d.NearMisses) == 0 {
		return fmt.Sprintf("Denied: no statement attached to %s (or to its groups) allows %s.", who, q.Action)
	}
	nm := d.NearMisses[0]
	var parts []string
	if m := nm.Resource; m != nil {
		verb := "to match"
		if m.Element == "NotResource" {
			verb = "not to match"
		}
		parts = append(parts, fmt.Sprintf("the resource %s %s, but it is %s", verb, list(m.Values), m.Request))
	}
	for _, c := range nm.Failed {
		parts = append(parts, phrase(c))
	}
	return fmt.Sprintf("Denied: no statement allows this request. The closest, %s, needs %s.",
		statementName(nm.Policy, cmp.Or(nm.Sid, fmt.Sprintf("statement[%d]", nm.Statement))), strings.Join(parts, "; and "))
}

func statementName(policy, sid string) string {
	if sid == "" {
		return policy
	}
	return policy + "/" + sid
}

// verbs phrase each operator as "<key> must <verb> <values>".
var verbs = map[string]string{
	"StringEquals": "be one of", "StringNotEquals": "be none of",
	"StringEqualsIgnoreCase": "be one of (ignoring case)", "StringNotEqualsIgnoreCase": "be none of (ignoring case)",
	"StringLike": "match one of", "StringNotLike": "match none of",
	"NumericEquals": "equal one of", "NumericNotEquals": "equal none of",
	"NumericLessThan": "be less than", "NumericLessThanEquals": "be at most",
	"NumericGreaterThan": "be more than", "NumericGreaterThanEquals": "be at least",
	"DateEquals": "be one of", "DateNotEquals": "be none of",
	"DateLessThan": "be before", "DateLessThanEquals": "be at or before",
	"DateGreaterThan": "be after", "DateGreaterThanEquals": "be at or after",
	"Bool": "be", "IpAddress": "be in", "NotIpAddress": "not be in",
}

// phrase says what a failed condition needs and what the request has.
func phrase(c hpcgate.Condition) string {
	op := c.Operator
	subject := c.Key
	if q, rest, ok := strings.Cut(op, ":"); ok {
		op = rest
		subject = map[string]string{"ForAllValues": "every ", "ForAnyValue": "some "}[q] + c.Key + " value"
	}
	has := "none"
	switch {
	case len(c.Offending) > 0:
		has = list(c.Offending)
	case len(c.RequestValues) > 0:
		has = list(c.RequestValues)
	}
	return fmt.Sprintf("%s to %s %s, but the request has %s", subject, verbs[op], list(c.Values), has)
}

// list writes values for the sentence; a long list is cut (the near
// miss holds all of it).
func list(vs []string) string {
	const most = 8
	if len(vs) == 1 {
		return vs[0]
	}
	if len(vs) > most {
		return fmt.Sprintf("[%s, … %d more]", strings.Join(vs[:most], ", "), len(vs)-most)
	}
	return "[" + strings.Join(vs, ", ") + "]"
}
