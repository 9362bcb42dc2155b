package policy

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
	"github.com/hpcgate/hpcgate/policies"
)

// FuzzDecide decides random requests with the embedded policy set and
// checks what must hold whatever the request: an error is only an invalid
// request, an Allow names a policy attached to the principal (its own, one
// for every principal of its type, or a user's group's), and the decision
// is the one made with the whole input and the other rule-value cache
// setting. Principal ids and groups may hold "/", the separator of the
// rules' guards.
func FuzzDecide(f *testing.F) {
	s, err := Default(f.Context())
	if err != nil {
		f.Fatal(err)
	}
	gov, _, _, err := load(policies.FS)
	if err != nil {
		f.Fatal(err)
	}
	all := *s
	all.shape, all.memo = everything, !s.memo
	for _, seed := range []struct {
		typ, id, g1, g2, ip, cluster, command string
		list                                  bool
	}{
		{"user", "alice", "researchers", "", "10.20.1.2", "ehpc-hz-abc", "squeue -u alice", false},
		{"user", "bob", "hpc-operators", "researchers", "2001:db8::1", "ehpc-hz-abc", "scontrol show job 7", true},
		{"service", "oss:raw-data", "", "", "", "ehpc-hz-ingest", "/opt/ingest/run.sh x", false},
		{"user", "researchers", "ehpc:InvokeShellCommand/researchers", "x/y", "::ffff:10.20.1.2", "ehpc-hz-abc", "sinfo", false},
		{"user/x", "y", "", "", "10.20.1.2", "ehpc-hz-abc", "sinfo", false},
	} {
		f.Add(seed.typ, seed.id, seed.g1, seed.g2, seed.ip, seed.cluster, seed.command, seed.list)
	}
	f.Fuzz(func(t *testing.T, typ, id, g1, g2, ip, cluster, command string, list bool) {
		q := Query{
			Principal: hpcgate.Principal{Type: typ, ID: id},
			Request:   hpcgate.Request{ClusterID: cluster, Command: command},
			Analysis:  &hpcgate.Analysis{Programs: []string{command}, CommandLines: []string{command}, Features: []string{}},
			Action:    hpcgate.ActionInvoke,
			Context:   hpcgate.RequestContext{SourceIP: ip},
			Trigger:   hpcgate.TriggerHTTP, Region: "cn-hangzhou", Account: "123456",
		}
		for _, g := range []string{g1, g2} {
			if g != "" {
				q.Principal.Groups = append(q.Principal.Groups, g)
			}
		}
		if list {
			q.Action, q.Analysis = hpcgate.ActionListResults, nil
		}
		now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
		d, err := s.decide(t.Context(), q, now)
		if err != nil {
			if hpcgate.AsError(err).Code != hpcgate.CodeInvalidRequest || d.Allow {
				t.Fatalf("%+v: decision %+v, error %v: want a decision or an invalid request", q, d, err)
			}
			return
		}
		want, err := all.decide(t.Context(), q, now)
		if err != nil || !reflect.DeepEqual(d, want) {
			t.Fatalf("%+v: decision %+v; with the whole input %+v, %v", q, d, want, err)
		}
		if !d.Allow {
			return
		}
		attached := slices.Concat(gov.attachments[typ][id], gov.attachments[typ]["*"])
		if typ == hpcgate.PrincipalUser {
			for _, g := range q.Principal.Groups {
				attached = append(attached, gov.attachments["group"][g]...)
			}
		}
		if p := d.Reasons[0].Policy; !slices.Contains(attached, p) {
			t.Fatalf("%+v: allowed by %q, which is not attached to the principal (%v)", q, p, attached)
		}
	})
}
