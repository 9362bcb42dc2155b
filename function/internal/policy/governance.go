package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/function/internal/route"
)

// governance is the merged governance data of a policy set.
type governance struct {
	policies    map[string]*ramPolicy
	order       []string                       // policy names, sorted
	attachments map[string]map[string][]string // principal type -> id -> policy names
	routes      []hpcgate.Route
}

type ramPolicy struct {
	name       string
	statements []statement
}

type statement struct {
	label                  string // "Sid" or statement[i], for messages
	sid, effect            string
	actions, resources     []string // actions lowercased
	notAction, notResource bool
	conditions             []condition
	detail                 string
}

// condition is one (operator, key) test, compiled to Rego expressions.
// alts, when set, replace expr by alternatives of which one must hold,
// each a test OPA's rule index can decide (a statement is then one rule
// per alternative).
type condition struct {
	key  string
	expr string
	alts []string
	// What explain tests in Go, and shows: the operator as written, its
	// qualifier ("", "all", "any") and kind, and the listed values.
	op   string
	qual string
	spec opSpec
	vals []string
}

type opSpec struct {
	family string // String, Numeric, Date, Bool, IpAddress
	f      string
	cmp    string
	neg    bool
}

var operators = map[string]opSpec{
	"StringEquals":              {"String", "str", "", false},
	"StringNotEquals":           {"String", "str", "", true},
	"StringEqualsIgnoreCase":    {"String", "stri", "", false},
	"StringNotEqualsIgnoreCase": {"String", "stri", "", true},
	"StringLike":                {"String", "like", "", false},
	"StringNotLike":             {"String", "like", "", true},
	"NumericEquals":             {"Numeric", "num", "eq", false},
	"NumericNotEquals":          {"Numeric", "num", "eq", true},
	"NumericLessThan":           {"Numeric", "num", "lt", false},
	"NumericLessThanEquals":     {"Numeric", "num", "le", false},
	"NumericGreaterThan":        {"Numeric", "num", "gt", false},
	"NumericGreaterThanEquals":  {"Numeric", "num", "ge", false},
	"DateEquals":                {"Date", "date", "eq", false},
	"DateNotEquals":             {"Date", "date", "eq", true},
	"DateLessThan":              {"Date", "date", "lt", false},
	"DateLessThanEquals":        {"Date", "date", "le", false},
	"DateGreaterThan":           {"Date", "date", "gt", false},
	"DateGreaterThanEquals":     {"Date", "date", "ge", false},
	"Bool":                      {"Bool", "bool", "", false},
	"IpAddress":                 {"IpAddress", "ip", "", false},
	"NotIpAddress":              {"IpAddress", "ip", "", true},
}

// familyFor is the operator family that may test a key of each type.
var familyFor = map[keyType]string{
	keyString: "String", keyNumber: "Numeric", keyBool: "Bool", keyDate: "Date", keyIP: "IpAddress",
}

var qualifiers = map[string]string{"ForAllValues": "all", "ForAnyValue": "any"}

// Attachment principal types. The id "*" under user or service attaches a
// policy to every principal of that type.
var attachmentTypes = map[string]bool{"user": true, "group": true, "service": true}

var (
	policyName = hpcgate.MustPattern(`^[A-Za-z0-9-]+$`, 128)
	actionRE   = regexp.MustCompile(`^[A-Za-z0-9*?_-]+:[A-Za-z0-9*?_-]+$`)
	decimal    = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)
)

// file is one governance JSON document as written.
type file struct {
	Policies    map[string]json.RawMessage     `json:"policies"`
	Attachments map[string]map[string][]string `json:"attachments"`
	Routes      []json.RawMessage              `json:"routes"`
}

type rawPolicy struct {
	Version   *string           `json:"Version"`
	Statement []json.RawMessage `json:"Statement"`
}

func newGovernance() *governance {
	return &governance{policies: map[string]*ramPolicy{}, attachments: map[string]map[string][]string{}}
}

// add parses one governance file into g. Names must be unique across files.
func (g *governance) add(name string, data []byte) error {
	var f file
	if err := strictDecode(data, &f); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	names := make([]string, 0, len(f.Policies))
	for n := range f.Policies {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if _, dup := g.policies[n]; dup {
			return fmt.Errorf("%s: policy %q is defined twice", name, n)
		}
		p, err := parsePolicy(n, f.Policies[n])
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		g.policies[n] = p
	}
	for typ, ids := range f.Attachments {
		if !attachmentTypes[typ] {
			return fmt.Errorf("%s: attachments: unknown principal type %q (want user, group or service)", name, typ)
		}
		m := g.attachments[typ]
		if m == nil {
			m = map[string][]string{}
			g.attachments[typ] = m
		}
		for id, ps := range ids {
			if id == "" {
				return fmt.Errorf("%s: attachments.%s: empty principal id", name, typ)
			}
			if id == "*" && typ == "group" {
				return fmt.Errorf("%s: attachments.group: \"*\" is for user or service (attach to every user with user \"*\")", name)
			}
			m[id] = append(m[id], ps...)
		}
	}
	for i, raw := range f.Routes {
		var r hpcgate.Route
		if err := strictDecode(raw, &r); err != nil {
			return fmt.Errorf("%s: routes[%d]: %w", name, i, err)
		}
		// The route package owns what a route may say; loading only asks it.
		if err := route.ValidateOne(r); err != nil {
			return fmt.Errorf("%s: routes[%d] %q: %w", name, i, r.Name, err)
		}
		for _, o := range g.routes {
			if o.Name == r.Name {
				return fmt.Errorf("%s: routes[%d]: route %q is defined twice", name, i, r.Name)
			}
		}
		g.routes = append(g.routes, r)
	}
	return nil
}

// finish checks what needs every file: attachments name existing policies.
func (g *governance) finish() error {
	for _, typ := range sortedKeys(g.attachments) {
		for _, id := range sortedKeys(g.attachments[typ]) {
			for _, p := range g.attachments[typ][id] {
				if g.policies[p] == nil {
					return fmt.Errorf("attachments.%s[%q]: unknown policy %q", typ, id, p)
				}
			}
		}
	}
	g.order = sortedKeys(g.policies)
	return nil
}

// complete refuses a set that would deny everything by accident: no
// governance file, no policy or no attachment. An empty set is what a
// bundle built from a directory without data.json holds (opa build reads
// only files of that name), and it must never replace a working one.
func (g *governance) complete(files int) error {
	const hint = " (a bundle carries only files named data.json: `opa build -b` leaves any other *.json out)"
	switch {
	case files == 0:
		return errors.New("no governance data: no *.json file" + hint)
	case len(g.policies) == 0:
		return errors.New("no governance data: no policies, so no statements" + hint)
	case !g.attachesAny():
		return errors.New("no attachments: no policy is attached to any principal, so every request would be denied")
	}
	return nil
}

func (g *governance) attachesAny() bool {
	for _, ids := range g.attachments {
		for _, ps := range ids {
			if len(ps) > 0 {
				return true
			}
		}
	}
	return false
}

// usedKeys returns the condition keys the governance data tests, and the
// cluster id that Resource tests read.
func (g *governance) usedKeys() map[string]bool {
	used := map[string]bool{"ehpc:ClusterId": true}
	for _, p := range g.policies {
		for _, st := range p.statements {
			for _, c := range st.conditions {
				used[c.key] = true
			}
		}
	}
	return used
}

func strictDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON document")
	}
	return nil
}

func parsePolicy(name string, raw json.RawMessage) (*ramPolicy, error) {
	if !policyName.MatchString(name) {
		return nil, fmt.Errorf("policy %q: name must be 1-128 letters, digits or '-'", name)
	}
	var rp rawPolicy
	if err := strictDecode(raw, &rp); err != nil {
		return nil, fmt.Errorf("policy %q: %w", name, err)
	}
	if rp.Version == nil || *rp.Version != "1" {
		got := "none"
		if rp.Version != nil {
			got = strconv.Quote(*rp.Version)
		}
		return nil, fmt.Errorf("policy %q: Version: want \"1\", got %s", name, got)
	}
	if len(rp.Statement) == 0 {
		return nil, fmt.Errorf("policy %q: Statement: no statements", name)
	}
	p := &ramPolicy{name: name}
	sids := map[string]bool{}
	for i, rs := range rp.Statement {
		st, err := parseStatement(i, rs)
		if err != nil {
			return nil, fmt.Errorf("policy %q %w", name, err)
		}
		if st.sid != "" {
			if sids[st.sid] {
				return nil, fmt.Errorf("policy %q statement %q: Sid: duplicate", name, st.sid)
			}
			sids[st.sid] = true
		}
		p.statements = append(p.statements, st)
	}
	return p, nil
}

var statementFields = []string{"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}

func parseStatement(i int, raw json.RawMessage) (st statement, err error) {
	var m map[string]json.RawMessage
	st.label = fmt.Sprintf("statement[%d]", i)
	if err := json.Unmarshal(raw, &m); err != nil {
		return st, fmt.Errorf("%s: %v", st.label, err)
	}
	if s, ok := m["Sid"]; ok {
		if err := json.Unmarshal(s, &st.sid); err != nil || st.sid == "" {
			return st, fmt.Errorf("%s: Sid: want a non-empty string", st.label)
		}
		st.label = fmt.Sprintf("statement %q", st.sid)
	}
	fail := func(field, format string, args ...any) error {
		return fmt.Errorf("%s: %s: %s", st.label, field, fmt.Sprintf(format, args...))
	}
	for _, k := range sortedKeys(m) {
		if k == "Principal" {
			return st, fail(k, "not supported in identity policies (attach the policy instead)")
		}
		if !slices.Contains(statementFields, k) {
			return st, fail(k, "unknown field")
		}
	}
	if err := json.Unmarshal(m["Effect"], &st.effect); err != nil || (st.effect != "Allow" && st.effect != "Deny") {
		return st, fail("Effect", "unknown effect %s (want \"Allow\" or \"Deny\")", orNone(m["Effect"]))
	}

	field, list, err := pair(m, "Action", "NotAction")
	if err != nil {
		return st, fail(field, "%v", err)
	}
	st.notAction = field == "NotAction"
	for j, a := range list {
		if a != "*" && !actionRE.MatchString(a) {
			return st, fail(field, "malformed action %q (want \"*\" or \"<service>:<name>\")", a)
		}
		list[j] = strings.ToLower(a)
	}
	st.actions = list

	field, list, err = pair(m, "Resource", "NotResource")
	if err != nil {
		return st, fail(field, "%v", err)
	}
	st.notResource = field == "NotResource"
	for _, r := range list {
		if err := checkARN(r); err != nil {
			return st, fail(field, "%v", err)
		}
	}
	st.resources = list

	if c, ok := m["Condition"]; ok {
		st.conditions, err = parseConditions(c)
		if err != nil {
			return st, fail("Condition", "%v", err)
		}
	}
	st.detail = detail(st, m["Condition"])
	return st, nil
}

func orNone(raw json.RawMessage) string {
	if raw == nil {
		return "(none)"
	}
	return string(raw)
}

// pair reads exactly one of a positive/negated element pair as a string list.
func pair(m map[string]json.RawMessage, pos, neg string) (string, []string, error) {
	p, hasP := m[pos]
	n, hasN := m[neg]
	switch {
	case hasP && hasN:
		return pos, nil, fmt.Errorf("both %s and %s given (use one)", pos, neg)
	case !hasP && !hasN:
		return pos, nil, fmt.Errorf("missing (a statement needs %s or %s)", pos, neg)
	case hasN:
		pos, p = neg, n
	}
	var l hpcgate.StringList
	if err := json.Unmarshal(p, &l); err != nil {
		return pos, nil, err
	}
	if len(l) == 0 {
		return pos, nil, errors.New("empty list")
	}
	return pos, l, nil
}

// checkARN accepts "*" or acs:<service>:<region>:<account>:<relative-id>,
// where parts may hold wildcards.
func checkARN(r string) error {
	if r == "*" {
		return nil
	}
	parts := strings.SplitN(r, ":", 5)
	if len(parts) != 5 || parts[0] != "acs" || parts[1] == "" || parts[4] == "" {
		return fmt.Errorf("malformed ARN pattern %q (want \"*\" or \"acs:<service>:<region>:<account>:<resource>\")", r)
	}
	return nil
}

func parseConditions(raw json.RawMessage) ([]condition, error) {
	var block map[string]map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&block); err != nil {
		return nil, fmt.Errorf("want {\"<operator>\": {\"<key>\": values}}: %v", err)
	}
	var out []condition
	for _, opName := range sortedKeys(block) {
		qual, op := "", opName
		if q, rest, ok := strings.Cut(opName, ":"); ok {
			var known bool
			if qual, known = qualifiers[q]; !known {
				return nil, fmt.Errorf("unknown qualifier %q (want ForAllValues or ForAnyValue)", q)
			}
			op = rest
		}
		spec, ok := operators[op]
		if !ok {
			return nil, fmt.Errorf("unknown operator %q", op)
		}
		if len(block[opName]) == 0 {
			return nil, fmt.Errorf("%s: no condition keys", opName)
		}
		for _, key := range sortedKeys(block[opName]) {
			ks, ok := conditionKeys[key]
			if !ok {
				return nil, fmt.Errorf("%s: unknown condition key %q%s", opName, key, suggest(key))
			}
			if ks.multi && qual == "" {
				return nil, fmt.Errorf("%s %s: multi-valued key needs ForAllValues: or ForAnyValue:", opName, key)
			}
			if !ks.multi && qual != "" {
				return nil, fmt.Errorf("%s %s: ForAllValues:/ForAnyValue: apply to multi-valued keys only", opName, key)
			}
			if familyFor[ks.typ] != spec.family {
				return nil, fmt.Errorf("%s %s: a %s key takes %s operators", opName, key, ks.typ, familyFor[ks.typ])
			}
			vals, err := conditionValues(block[opName][key])
			if err != nil {
				return nil, fmt.Errorf("%s %s: %v", opName, key, err)
			}
			expr, err := compileCondition(key, qual, spec, vals)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %v", opName, key, err)
			}
			c := condition{key: key, expr: expr, op: opName, qual: qual, spec: spec, vals: vals}
			if qual == "any" && spec.f == "str" && !spec.neg && len(vals) <= maxIndexedValues {
				for _, v := range slices.Compact(slices.Sorted(slices.Values(vals))) {
					c.alts = append(c.alts, fmt.Sprintf("%s in input.keys[%s]", lit(v), lit(key)))
				}
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// suggest names a known key that differs only in case.
func suggest(key string) string {
	for k := range conditionKeys {
		if strings.EqualFold(k, key) {
			return fmt.Sprintf(" (did you mean %q?)", k)
		}
	}
	return ""
}

// conditionValues reads a value or list of values as strings.
func conditionValues(raw json.RawMessage) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var one any
	if err := dec.Decode(&one); err != nil {
		return nil, err
	}
	vals, ok := one.([]any)
	if !ok {
		vals = []any{one}
	}
	if len(vals) == 0 {
		return nil, errors.New("no values")
	}
	var strs []string
	for _, v := range vals {
		switch v := v.(type) {
		case string:
			strs = append(strs, v)
		case json.Number:
			strs = append(strs, v.String())
		case bool:
			strs = append(strs, strconv.FormatBool(v))
		default:
			return nil, fmt.Errorf("value %v: want a string, number or bool", v)
		}
	}
	return strs, nil
}

// compileCondition turns one condition into a call of the RAM library. A
// negated operator is the negation of its positive form: on a plain key
// "matches none of the values" (true when the key is absent); under
// ForAnyValue "not every value matches"; under ForAllValues "no value
// matches" - AWS IAM's semantics.
func compileCondition(key, qual string, spec opSpec, vals []string) (string, error) {
	k := lit(key)
	var call string
	switch spec.f {
	case "str", "stri", "like":
		arg, fn := "", map[string]string{"str": "eq", "stri": "eq_ci", "like": "like"}[spec.f]
		switch spec.f {
		case "str":
			arg = litSet(vals)
		case "stri":
			lower := make([]string, len(vals))
			for i, v := range vals {
				lower[i] = strings.ToLower(v)
			}
			arg = litSet(lower)
		case "like":
			arg = lit(likeGlob(vals))
		}
		if spec.f == "like" && qual == "any" && !spec.neg && slices.ContainsFunc(vals, matchesAll) {
			// Some value matches "*": the key has a value.
			return nonEmpty(k), nil
		}
		// The positive single-key and ForAllValues forms are written inline
		// (a function call costs more than the test); the others call the
		// library.
		v := "input.keys[" + k + "]"
		test := map[string]string{"str": "%s in " + arg, "stri": "lower(%s) in " + arg, "like": "glob.match(" + arg + ", null, %s)"}[spec.f]
		switch {
		case qual == "" && !spec.neg:
			call = fmt.Sprintf(test, v)
		case qual == "":
			// Negations call the library: compiled inline, the key's
			// reference would be hoisted out of the "not" and an absent
			// key would fail the statement instead of matching.
			call = fmt.Sprintf("data.hpcgate.ram.%s(%s, %s)", fn, k, arg)
		case qual == "all" && !spec.neg:
			// No value fails the test; cheaper in OPA than "every".
			call = fmt.Sprintf("[v | some v in %s; not %s] == []", v, fmt.Sprintf(test, "v"))
		case qual == "any" && !spec.neg, qual == "all" && spec.neg:
			call = fmt.Sprintf("data.hpcgate.ram.any_%s(%s, %s)", fn, k, arg)
		default:
			call = fmt.Sprintf("data.hpcgate.ram.all_%s(%s, %s)", fn, k, arg)
		}
		if spec.neg {
			call = "not " + call
		}
		if qual == "any" {
			// Every ForAnyValue test, negated or not, needs a value: this
			// guard says so in a form OPA's rule index decides, so the
			// statement costs nothing on a request without one.
			call = nonEmpty(k) + "\n\t" + call
		}
		return call, nil
	case "num", "date":
		nums := make([]float64, 0, len(vals))
		var texts []string
		for _, s := range vals {
			if spec.f == "num" {
				if !decimal.MatchString(s) {
					return "", fmt.Errorf("%q is not a number", s)
				}
				f, err := strconv.ParseFloat(s, 64)
				if err != nil {
					return "", fmt.Errorf("%q is not a number", s)
				}
				nums = append(nums, f)
				texts = append(texts, s)
				continue
			}
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return "", fmt.Errorf("%q is not an RFC 3339 date-time (e.g. 2026-01-02T15:04:05+08:00)", s)
			}
			if t.Year() < 1678 || t.Year() > 2261 {
				return "", fmt.Errorf("%q is out of range", s)
			}
			nums = append(nums, float64(t.UnixNano()))
			texts = append(texts, strconv.FormatInt(t.UnixNano(), 10))
		}
		fn := map[string]string{"num": "num", "date": "date"}[spec.f]
		// "Any listed value matches" makes an order comparison one bound.
		v := "input.keys[" + k + "]"
		if fn == "date" {
			v = "time.parse_rfc3339_ns(" + v + ")"
		}
		switch spec.cmp {
		case "eq":
			call = fmt.Sprintf("%s in [%s]", v, strings.Join(texts, ", "))
			if spec.neg { // see the String case
				call = fmt.Sprintf("data.hpcgate.ram.%s_in(%s, [%s])", fn, k, strings.Join(texts, ", "))
			}
		case "lt", "le":
			call = fmt.Sprintf("%s %s %s", v, map[string]string{"lt": "<", "le": "<="}[spec.cmp], texts[slices.Index(nums, slices.Max(nums))])
		case "gt", "ge":
			call = fmt.Sprintf("%s %s %s", v, map[string]string{"gt": ">", "ge": ">="}[spec.cmp], texts[slices.Index(nums, slices.Min(nums))])
		}
		if spec.neg {
			call = "not " + call
		}
		return call, nil
	case "bool":
		var bools []string
		for _, s := range vals {
			switch strings.ToLower(s) {
			case "true", "false":
				bools = append(bools, strings.ToLower(s))
			default:
				return "", fmt.Errorf("%q is not true or false", s)
			}
		}
		return fmt.Sprintf("input.keys[%s] in [%s]", k, strings.Join(bools, ", ")), nil
	case "ip":
		var v4, v6 []string
		for _, s := range vals {
			p, err := parsePrefix(s)
			if err != nil {
				return "", err
			}
			if p.Addr().Is4() {
				v4 = append(v4, p.String())
			} else {
				v6 = append(v6, p.String())
			}
		}
		if spec.neg { // see the String case
			return fmt.Sprintf("not data.hpcgate.ram.ip_in(%s, {false: %s, true: %s})", k, litList(v4), litList(v6)), nil
		}
		if key != "acs:SourceIp" {
			// The input files only acs:SourceIp by family (buildInput).
			return "", fmt.Errorf("IP operators are only for acs:SourceIp")
		}
		return ipTest(v4, v6), nil
	}
	return "", fmt.Errorf("unsupported operator family %s", spec.f)
}

// ipTest is the inline form of IpAddress for acs:SourceIp: any of the
// ranges holds its value. The input carries the address by its family
// (sourceIP4, sourceIP6) and a range is tested against the address of its
// family only: an IPv6 address, IPv4-mapped ones included, never matches
// an IPv4 range, and an IPv4 address never an IPv6 one, IPv4-mapped ranges
// included, as ip_in has it.
func ipTest(v4, v6 []string) string {
	var tests []string
	for _, c := range v4 {
		tests = append(tests, fmt.Sprintf("net.cidr_contains(%s, input.match[%v])", lit(c), sourceIP4))
	}
	for _, c := range v6 {
		tests = append(tests, fmt.Sprintf("net.cidr_contains(%s, input.match[%v])", lit(c), sourceIP6))
	}
	return strings.Join(tests, " or ")
}

// matchesAll reports whether the StringLike pattern p matches every
// string: it is a run of one or more "*".
func matchesAll(p string) bool { return p != "" && strings.Trim(p, "*") == "" }

// maxIndexedValues bounds the values of a ForAnyValue:StringEquals
// condition written as one indexed rule per value.
const maxIndexedValues = 16

// nonEmpty is a test that the multi-valued key k (a Rego string literal)
// has a value. It reads the first element, a reference OPA's rule index
// resolves: a statement guarded by it is skipped without evaluation when
// the list is empty. Every element of a multi-valued key is a string.
func nonEmpty(k string) string { return fmt.Sprintf("startswith(input.keys[%s][0], \"\")", k) }

// likeGlob is the glob.match pattern (no delimiters) matching any of the
// patterns, where * is any run of characters and ? one character; glob
// syntax beyond those is escaped.
func likeGlob(patterns []string) string {
	alts := make([]string, len(patterns))
	for i, p := range patterns {
		var b strings.Builder
		for _, r := range p {
			if strings.ContainsRune(`\[]{},!-^`, r) {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		alts[i] = b.String()
	}
	if len(alts) == 1 {
		return alts[0]
	}
	return "{" + strings.Join(alts, ",") + "}"
}

// likeRegexp is the anchored regular expression matching any of the
// patterns, where * is any run of characters and ? one character.
func likeRegexp(patterns []string) string {
	alts := make([]string, len(patterns))
	for i, p := range patterns {
		var b strings.Builder
		for _, r := range p {
			switch r {
			case '*':
				b.WriteString(".*")
			case '?':
				b.WriteString(".")
			default:
				b.WriteString(regexp.QuoteMeta(string(r)))
			}
		}
		alts[i] = b.String()
	}
	return "^(?s:" + strings.Join(alts, "|") + ")$"
}

// lit is v as a Rego (JSON) literal.
func lit(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func litList(vals []string) string {
	if vals == nil {
		vals = []string{}
	}
	return lit(vals)
}

func litSet(vals []string) string {
	sorted := slices.Clone(vals)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	l := lit(sorted)
	return "{" + l[1:len(l)-1] + "}"
}

// parsePrefix reads a CIDR, or a plain address as a single-address prefix.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return p, fmt.Errorf("%q is not an IP address or CIDR", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR", s)
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// detail is the text a matching Deny statement reports.
func detail(st statement, cond json.RawMessage) string {
	var b strings.Builder
	fmt.Fprintf(&b, "explicit deny")
	if len(st.conditions) > 0 {
		var compact bytes.Buffer
		if json.Compact(&compact, cond) == nil {
			fmt.Fprintf(&b, " when %s", compact.String())
		}
	}
	return b.String()
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
