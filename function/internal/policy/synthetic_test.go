package policy

import (
	"encoding/json"
	"fmt"
)

// SyntheticGovernance returns governance data for benchmarks: statements
// statements spread evenly over principals users u0, u1, ... (one policy
// each, attached directly or through a group gN), a mix of exact and
// wildcard actions and of String, Numeric, IP and Bool conditions, plus a
// deny-only baseline attached to every user.
func SyntheticGovernance(statements, principals int) []byte {
	principals = max(principals, 1)
	pols := map[string]any{
		"Baseline": map[string]any{"Version": "1", "Statement": []any{
			deny("NoDynamic", map[string]any{"ForAnyValue:StringEquals": map[string]any{"hpcgate:Program": []string{"<dynamic>"}}}),
			deny("NoSubstitution", map[string]any{"ForAnyValue:StringEquals": map[string]any{"hpcgate:ShellFeature": []string{"command-substitution", "process-substitution"}}}),
			deny("OutputOnlyToDevNull", map[string]any{"ForAnyValue:StringNotEquals": map[string]any{"hpcgate:OutputRedirect": []string{"/dev/null"}}}),
			deny("NoRiskyAssignments", map[string]any{"ForAnyValue:StringLike": map[string]any{"hpcgate:AssignedVariable": []string{"PATH", "LD_*", "IFS"}}}),
		}},
	}
	users := map[string][]string{"*": {"Baseline"}}
	groups := map[string][]string{}
	for p := range principals {
		n := statements / principals
		if p < statements%principals {
			n++
		}
		if n == 0 {
			continue
		}
		var sts []any
		for i := range n {
			action := "ehpc:InvokeShellCommand"
			if i%4 == 3 {
				action = "ehpc:Invoke*"
			}
			cond := map[string]any{
				"ForAllValues:StringLike": map[string]any{"hpcgate:CommandLine": []string{
					fmt.Sprintf("tool%d", i), fmt.Sprintf("tool%d *", i), "squeue", "squeue *", "sinfo *",
				}},
				"NumericLessThanEquals": map[string]any{"ehpc:Timeout": 600 + i},
				"IpAddress":             map[string]any{"acs:SourceIp": []string{"10.20.0.0/16", "2001:db8:20::/48"}},
			}
			effect := "Allow"
			if i%5 == 4 {
				effect = "Deny"
				cond = map[string]any{"ForAnyValue:StringEquals": map[string]any{"hpcgate:Program": []string{fmt.Sprintf("forbidden%d", i)}}}
			}
			if i%3 == 2 {
				cond["Bool"] = map[string]any{"acs:SecureTransport": true}
			}
			sts = append(sts, map[string]any{
				"Sid": fmt.Sprintf("S%d", i), "Effect": effect, "Action": action,
				"Resource": fmt.Sprintf("acs:ehpc:*:*:cluster/ehpc-%d-*", i%7), "Condition": cond,
			})
		}
		name := fmt.Sprintf("P-%d", p)
		pols[name] = map[string]any{"Version": "1", "Statement": sts}
		if p%2 == 0 {
			users[fmt.Sprintf("u%d", p)] = []string{name}
		} else {
			groups[fmt.Sprintf("g%d", p)] = []string{name}
		}
	}
	b, err := json.Marshal(map[string]any{
		"policies":    pols,
		"attachments": map[string]any{"user": users, "group": groups},
	})
	if err != nil {
		panic(err)
	}
	return b
}

func deny(sid string, cond map[string]any) map[string]any {
	return map[string]any{"Sid": sid, "Effect": "Deny", "Action": "ehpc:InvokeShellCommand", "Resource": "*", "Condition": cond}
}
