package policy

import (
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

// Grants lists, for people, the statements of the set attached to p that
// apply to an action the gate asks about, in attachment order: the user's
// own, those of every user ("*"), then each group's (for a service: its
// own, then every service's). It is a description, not a decision: only
// Decide says whether a request is allowed.
func (s *Set) Grants(p hpcgate.Principal) []hpcgate.Grant {
	g := s.gov
	if g == nil {
		return nil
	}
	type via struct{ typ, id string }
	var vias []via
	switch p.Type {
	case hpcgate.PrincipalUser:
		vias = append(vias, via{"user", p.ID}, via{"user", "*"})
		for _, grp := range p.Groups {
			vias = append(vias, via{"group", grp})
		}
	case hpcgate.PrincipalService:
		vias = append(vias, via{"service", p.ID}, via{"service", "*"})
	}
	out := []hpcgate.Grant{}
	seen := map[string]bool{}
	for _, v := range vias {
		for _, name := range g.attachments[v.typ][v.id] {
			pol := g.policies[name]
			if pol == nil || seen[name] {
				continue
			}
			seen[name] = true
			for _, st := range pol.statements {
				if gr, ok := grant(pol.name, v.typ+":"+v.id, st); ok {
					out = append(out, gr)
				}
			}
		}
	}
	return out
}

// grant describes st, or reports false when it applies to no gate action.
func grant(policy, via string, st statement) (hpcgate.Grant, bool) {
	gr := hpcgate.Grant{Policy: policy, Sid: st.sid, Effect: st.effect, Via: via, Actions: []string{}, NotClusters: st.notResource}
	for _, a := range gateActions {
		matched := slices.ContainsFunc(st.actions, func(p string) bool { return hpcgate.Wildcard(p, strings.ToLower(a)) })
		if matched != st.notAction {
			gr.Actions = append(gr.Actions, a)
		}
	}
	if len(gr.Actions) == 0 {
		return gr, false
	}
	for _, r := range st.resources {
		gr.Clusters = append(gr.Clusters, clusterOf(r))
	}
	gr.Conditions = conditionsOf(st.conditions)
	qual := "ForAllValues:"
	if st.effect == "Deny" {
		qual = "ForAnyValue:"
	}
	for _, c := range gr.Conditions {
		switch {
		case c.Operator == qual+"StringLike" || c.Operator == qual+"StringEquals":
			switch c.Key {
			case "hpcgate:CommandLine":
				gr.Commands = append(gr.Commands, c.Values...)
			case "hpcgate:Program":
				gr.Programs = append(gr.Programs, c.Values...)
			}
		case st.effect == "Allow" && c.Key == "ehpc:Timeout" && (c.Operator == "NumericLessThanEquals" || c.Operator == "NumericLessThan"):
			for _, v := range c.Values {
				if n, err := strconv.ParseFloat(v, 64); err == nil && (gr.MaxTimeout == nil || n < *gr.MaxTimeout) {
					if c.Operator == "NumericLessThan" {
						n = math.Ceil(n) - 1 // timeouts are whole seconds
					}
					gr.MaxTimeout = &n
				}
			}
		}
	}
	return gr, true
}

// clusterOf reduces a Resource pattern to the cluster id pattern it
// names: acs:ehpc:*:*:cluster/ehpc-hz-* is ehpc-hz-*, "*" is "*"; any
// other pattern is kept whole.
func clusterOf(r string) string {
	if r == "*" {
		return "*"
	}
	parts := strings.SplitN(r, ":", 5)
	if len(parts) == 5 && hpcgate.Wildcard(parts[1], "ehpc") {
		if rest, ok := strings.CutPrefix(parts[4], "cluster/"); ok {
			return rest
		}
		if parts[4] == "*" {
			return "*"
		}
	}
	return r
}

// conditionsOf lists a statement's conditions as written, sorted by
// operator and key.
func conditionsOf(cs []condition) []hpcgate.GrantCondition {
	var out []hpcgate.GrantCondition
	for _, c := range cs {
		out = append(out, hpcgate.GrantCondition{Operator: c.op, Key: c.key, Values: slices.Clone(c.vals)})
	}
	return out
}

// Grants lists the grants of p in the set in force and names its
// revision; false when no set is loaded.
func (e *Engine) Grants(p hpcgate.Principal) ([]hpcgate.Grant, string, bool) {
	s := e.Current()
	if s == nil {
		return nil, "", false
	}
	return s.Grants(p), s.Revision(), true
}
