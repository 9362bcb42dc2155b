package deploy

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestFunctionSplit: issue 14. The HTTP function takes HTTP requests only;
// the event function takes exactly the kinds of its triggers, verifies
// objects by default, and only its triggers may invoke it.
func TestFunctionSplit(t *testing.T) {
	_, hp := props(t, httpResource)
	_, ep := props(t, eventResource)

	t.Run("http function takes http only", func(t *testing.T) {
		if got := hp.EnvironmentVariables["HPCGATE_EVENTS"]; got != "http" {
			t.Errorf("HPCGATE_EVENTS = %q, want http", got)
		}
		for _, tr := range hp.Triggers {
			if tr.TriggerType != "http" {
				t.Errorf("trigger %s of type %s on the HTTP function", tr.TriggerName, tr.TriggerType)
			}
		}
	})

	t.Run("event function takes exactly its triggers' kinds", func(t *testing.T) {
		var kinds []string
		for _, tr := range ep.Triggers {
			if tr.TriggerType == "http" {
				t.Errorf("http trigger %s on the event function", tr.TriggerName)
			}
			if !slices.Contains(kinds, tr.TriggerType) {
				kinds = append(kinds, tr.TriggerType)
			}
		}
		got := strings.Split(ep.EnvironmentVariables["HPCGATE_EVENTS"], ",")
		sort.Strings(kinds)
		sort.Strings(got)
		if !slices.Equal(got, kinds) {
			t.Errorf("HPCGATE_EVENTS lists %v, the triggers are %v", got, kinds)
		}
		if v := ep.EnvironmentVariables["HPCGATE_VERIFY_OBJECTS"]; v != "true" {
			t.Errorf("HPCGATE_VERIFY_OBJECTS = %q, want true by default", v)
		}
		if ep.Role == hp.Role {
			t.Errorf("both functions run as %s; only the event function may read the raw bucket", ep.Role)
		}
	})

	t.Run("oss triggers invoke through the dedicated role", func(t *testing.T) {
		for _, tr := range ep.Triggers {
			if tr.TriggerType == "oss" && tr.InvocationRole != "acs:ram::"+testAccount+":role/hpcgate-oss-invoker" {
				t.Errorf("trigger %s: invocationRole %q, want hpcgate-oss-invoker", tr.TriggerName, tr.InvocationRole)
			}
		}
		trust, _ := readPolicy(t, "oss-invoker-trust.json")
		if len(trust.Statement) != 1 || !slices.Equal(trust.Statement[0].Principal["Service"], stringOrList{"oss.aliyuncs.com"}) {
			t.Errorf("oss-invoker-trust.json: want only oss.aliyuncs.com to assume the role, got %+v", trust.Statement)
		}
		inv, _ := readPolicy(t, "oss-invoker-policy.json")
		for _, st := range inv.Statement {
			if st.Effect != "Allow" || !slices.Equal(st.Action, stringOrList{"fc:InvokeFunction"}) {
				t.Errorf("oss-invoker-policy.json: %+v, want only fc:InvokeFunction", st)
			}
			for _, r := range st.Resource {
				if !strings.HasSuffix(r, ":functions/"+ep.FunctionName) && !strings.HasSuffix(r, ":functions/"+ep.FunctionName+"/*") {
					t.Errorf("oss-invoker-policy.json: resource %s, want the event function only", r)
				}
			}
		}
	})

	t.Run("no one else may invoke either function", func(t *testing.T) {
		deny, _ := readPolicy(t, "deny-direct-ehpc.json")
		var denied []string
		for _, st := range deny.Statement {
			if st.Effect == "Deny" && slices.Contains(st.Action, "fc:InvokeFunction") {
				denied = append(denied, st.Resource...)
			}
		}
		for _, fn := range []string{ep.FunctionName, hp.FunctionName} {
			for _, r := range []string{"acs:fc:*:{{ACCOUNT_ID}}:functions/" + fn, "acs:fc:*:{{ACCOUNT_ID}}:functions/" + fn + "/*"} {
				if !slices.Contains(denied, r) {
					t.Errorf("deny-direct-ehpc.json does not deny fc:InvokeFunction on %s", r)
				}
			}
		}
	})

	t.Run("the event function reads object metadata of the raw bucket, creates and reads claims, and reports failed events, only", func(t *testing.T) {
		p, raw := readPolicy(t, "event-function-policy.json")
		want := []ramStatement{
			{Action: stringOrList{"oss:GetObject"}, Resource: stringOrList{"acs:oss:*:{{ACCOUNT_ID}}:{{RAW_BUCKET}}/*"}},
			// Claims are created and read, never overwritten or deleted.
			{Action: stringOrList{"oss:PutObject", "oss:GetObject"}, Resource: stringOrList{"acs:oss:*:{{ACCOUNT_ID}}:{{CLAIM_BUCKET}}/hpcgate/claims/*"}},
			{Action: stringOrList{"mns:SendMessage"}, Resource: stringOrList{"acs:mns:{{REGION}}:{{ACCOUNT_ID}}:/queues/{{FAILURE_QUEUE}}/messages"}},
		}
		ok := len(p.Statement) == len(want)
		for i := 0; ok && i < len(want); i++ {
			ok = p.Statement[i].Effect == "Allow" && slices.Equal(p.Statement[i].Action, want[i].Action) && slices.Equal(p.Statement[i].Resource, want[i].Resource) && len(p.Statement[i].Condition) == 0
		}
		if !ok {
			var v any
			json.Unmarshal(raw, &v)
			t.Errorf("event-function-policy.json = %v, want exactly %v", v, want)
		}
	})
}
