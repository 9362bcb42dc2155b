package policy

import (
	"testing"
	"testing/fstest"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

func TestGrantsOfTheDefaultSet(t *testing.T) {
	set, err := Default(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	alice := hpcgate.Principal{Type: hpcgate.PrincipalUser, ID: "alice", Groups: []string{"researchers"}}
	byID := map[string]hpcgate.Grant{}
	for _, g := range set.Grants(alice) {
		byID[g.Policy+"/"+g.Sid] = g
	}
	slurm, ok := byID["ResearcherBasic/ReadOnlySlurm"]
	if !ok {
		t.Fatalf("grants %v lack ResearcherBasic/ReadOnlySlurm", byID)
	}
	if slurm.Effect != "Allow" || slurm.Via != "group:researchers" || len(slurm.Clusters) != 1 || slurm.Clusters[0] != "ehpc-hz-*" ||
		slurm.MaxTimeout == nil || *slurm.MaxTimeout != 600 || len(slurm.Commands) == 0 || slurm.Commands[0] != "squeue" {
		t.Errorf("ReadOnlySlurm = %+v", slurm)
	}
	if g := byID["ResearcherBasic/ReadOwnResults"]; len(g.Actions) != 1 || g.Actions[0] != hpcgate.ActionListResults {
		t.Errorf("ReadOwnResults = %+v", g)
	}
	if g := byID["Baseline/NoDynamicPrograms"]; g.Effect != "Deny" || g.Via != "user:*" || len(g.Programs) != 1 || g.Programs[0] != "<dynamic>" {
		t.Errorf("NoDynamicPrograms = %+v", g)
	}
	if _, ok := byID["OperatorAccess/OperatorCommands"]; ok {
		t.Error("alice sees the operators' policy, attached to a group she is not in")
	}
	if gs := set.Grants(hpcgate.Principal{Type: hpcgate.PrincipalUser, ID: "mallory"}); len(gs) == 0 || gs[0].Policy != "Baseline" {
		t.Errorf("a user in no group: %+v, want only Baseline", gs)
	}
}

func TestGrantDetails(t *testing.T) {
	fsys := fstest.MapFS{"g.json": {Data: []byte(`{
	  "policies": {"P": {"Version": "1", "Statement": [
	    {"Sid": "Short", "Effect": "Allow", "Action": "ehpc:*", "NotResource": "acs:ehpc:*:*:cluster/ehpc-prod-*",
	     "Condition": {"NumericLessThan": {"ehpc:Timeout": "120"}, "ForAllValues:StringEquals": {"hpcgate:Program": ["ls", "df"]}}},
	    {"Sid": "Other", "Effect": "Allow", "Action": "oss:GetObject", "Resource": "*"}]}},
	  "attachments": {"user": {"bob": ["P"]}}}`)}}
	set, err := Compile(t.Context(), fsys, "test")
	if err != nil {
		t.Fatal(err)
	}
	gs := set.Grants(hpcgate.Principal{Type: hpcgate.PrincipalUser, ID: "bob"})
	if len(gs) != 1 {
		t.Fatalf("grants %+v, want the one statement for gate actions", gs)
	}
	g := gs[0]
	if len(g.Actions) != 2 || !g.NotClusters || g.Clusters[0] != "ehpc-prod-*" || *g.MaxTimeout != 119 || len(g.Programs) != 2 || len(g.Conditions) != 2 {
		t.Errorf("grant = %+v", g)
	}
}
