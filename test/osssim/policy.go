package osssim

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Policy is a RAM policy document (Version "1") as OSS evaluates it for
// object requests: an explicit Deny wins, then an Allow, else the request
// is refused (implicit deny). Conditions are not modelled: a statement
// with a Condition is refused when the policy is set, so a test never
// passes on a condition the stand-in ignored.
type Policy struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// Statement is one RAM statement. Action and Resource take a string or a
// list in JSON, as RAM does.
type Statement struct {
	Effect    string          `json:"Effect"`
	Action    stringList      `json:"Action"`
	Resource  stringList      `json:"Resource"`
	Condition json.RawMessage `json:"Condition,omitempty"`
}

type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("want a string or a list of strings")
	}
	*l = many
	return nil
}

// ParsePolicy reads a RAM policy document.
func ParsePolicy(doc []byte) (*Policy, error) {
	var p Policy
	if err := json.Unmarshal(doc, &p); err != nil {
		return nil, fmt.Errorf("osssim: policy: %w", err)
	}
	if p.Version != "1" {
		return nil, fmt.Errorf("osssim: policy: Version %q, want \"1\"", p.Version)
	}
	for i, st := range p.Statement {
		if st.Effect != "Allow" && st.Effect != "Deny" {
			return nil, fmt.Errorf("osssim: policy: statement %d: Effect %q", i, st.Effect)
		}
		if len(st.Condition) > 0 && string(st.Condition) != "null" {
			return nil, fmt.Errorf("osssim: policy: statement %d: conditions are not modelled", i)
		}
	}
	return &p, nil
}

// ObjectARN is the RAM resource name of an object, as OSS matches it.
func ObjectARN(region, account, bucket, key string) string {
	return "acs:oss:" + region + ":" + account + ":" + bucket + "/" + key
}

// decide evaluates p for action on resource: "" when allowed, else
// "ExplicitDeny" or "ImplicitDeny".
func (p *Policy) decide(action, resource string) string {
	allowed := false
	for _, st := range p.Statement {
		if !matchAny(st.Action, action, true) || !matchAny(st.Resource, resource, false) {
			continue
		}
		if st.Effect == "Deny" {
			return "ExplicitDeny"
		}
		allowed = true
	}
	if allowed {
		return ""
	}
	return "ImplicitDeny"
}

// matchAny matches value against RAM wildcard patterns ('*' any run,
// '?' one character); actions compare without case, as RAM's do.
func matchAny(patterns []string, value string, fold bool) bool {
	for _, p := range patterns {
		if fold {
			p, value = strings.ToLower(p), strings.ToLower(value)
		}
		if wildcard(p, value) {
			return true
		}
	}
	return false
}

// wildcard matches '*' and '?' across '/' too (path.Match does not), by
// escaping everything else and splitting on '*'.
func wildcard(pattern, s string) bool {
	if !strings.ContainsAny(pattern, "*?") {
		return pattern == s
	}
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return len(s) == len(pattern) && matchPrefix(pattern, s)
	}
	// Anchor the first and last part; find the middle ones in order.
	if !matchPrefix(parts[0], s) {
		return false
	}
	s = s[len(parts[0]):]
	for i, part := range parts[1:] {
		last := i == len(parts)-2
		if last {
			return len(s) >= len(part) && matchPrefix(part, s[len(s)-len(part):])
		}
		found := false
		for j := 0; j+len(part) <= len(s); j++ {
			if matchPrefix(part, s[j:]) {
				s = s[j+len(part):]
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// matchPrefix reports whether s starts with p, '?' matching any byte.
func matchPrefix(p, s string) bool {
	if len(s) < len(p) {
		return false
	}
	for i := 0; i < len(p); i++ {
		if p[i] != '?' && p[i] != s[i] {
			return false
		}
	}
	return true
}
