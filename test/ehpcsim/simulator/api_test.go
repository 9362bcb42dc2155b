package simulator

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

func TestAPIRules(t *testing.T) {
	s, srv := newTestSim(t, nil)
	s.run = fakeRun
	known := invoke(t, srv, "Command", "echo known")
	waitDone(t, s, known)
	long := strings.Repeat("x", MaxCommandLen)

	type kv = []string
	tests := []struct {
		name       string
		params     kv
		wantStatus int
		wantCode   string
		wantMsg    string // substring of Message
	}{
		// InvokeShellCommand
		{"invoke ok", kv{"Action", "InvokeShellCommand", "ClusterId", testCID, "Command", "ls"}, 200, "", ""},
		{"invoke 2048-char command", kv{"Action", "InvokeShellCommand", "ClusterId", testCID, "Command", long}, 200, "", ""},
		{"invoke 2048 multibyte characters", kv{"Action", "InvokeShellCommand", "ClusterId", testCID, "Command", strings.Repeat("é", MaxCommandLen)}, 200, "", ""},
		{"invoke without ClusterId", kv{"Action", "InvokeShellCommand", "Command", "ls"}, 400, CodeInvalidParams, "ClusterId"},
		{"invoke without Command", kv{"Action", "InvokeShellCommand", "ClusterId", testCID}, 400, CodeInvalidParams, "Command"},
		{"invoke 1-char command", kv{"Action", "InvokeShellCommand", "ClusterId", testCID, "Command", "l"}, 400, CodeInvalidParams, "Command"},
		{"invoke 2049-char command", kv{"Action", "InvokeShellCommand", "ClusterId", testCID, "Command", long + "x"}, 400, CodeInvalidParams, "Command"},
		{"invoke NUL in command", kv{"Action", "InvokeShellCommand", "ClusterId", testCID, "Command", "ls\x00x"}, 400, CodeInvalidParams, "Command"},
		{"invoke Timeout 0", kv{"Action", "InvokeShellCommand", "ClusterId", testCID, "Command", "ls", "Timeout", "0"}, 400, CodeInvalidParams, "Timeout"},
		{"invoke Timeout -5", kv{"Action", "InvokeShellCommand", "ClusterId", testCID, "Command", "ls", "Timeout", "-5"}, 400, CodeInvalidParams, "Timeout"},
		{"invoke Timeout 1.5", kv{"Action", "InvokeShellCommand", "ClusterId", testCID, "Command", "ls", "Timeout", "1.5"}, 400, CodeInvalidParams, "Timeout"},
		{"invoke Timeout abc", kv{"Action", "InvokeShellCommand", "ClusterId", testCID, "Command", "ls", "Timeout", "abc"}, 400, CodeInvalidParams, "Timeout"},
		{"invoke Timeout empty", kv{"Action", "InvokeShellCommand", "ClusterId", testCID, "Command", "ls", "Timeout", ""}, 400, CodeInvalidParams, "Timeout"},
		{"invoke Timeout too large", kv{"Action", "InvokeShellCommand", "ClusterId", testCID, "Command", "ls", "Timeout", "86401"}, 400, CodeInvalidParams, "Timeout"},
		{"invoke Timeout 3600", kv{"Action", "InvokeShellCommand", "ClusterId", testCID, "Command", "ls", "Timeout", "3600"}, 200, "", ""},
		{"invoke relative WorkingDir", kv{"Action", "InvokeShellCommand", "ClusterId", testCID, "Command", "ls", "WorkingDir", "home"}, 400, CodeInvalidParams, "WorkingDir"},
		{"invoke escaping WorkingDir", kv{"Action", "InvokeShellCommand", "ClusterId", testCID, "Command", "ls", "WorkingDir", "/root/../../etc"}, 400, CodeInvalidParams, "WorkingDir"},
		{"invoke WorkingDir /home/user", kv{"Action", "InvokeShellCommand", "ClusterId", testCID, "Command", "ls", "WorkingDir", "/home/user"}, 200, "", ""},
		{"invoke unknown cluster", kv{"Action", "InvokeShellCommand", "ClusterId", "ehpc-hz-none", "Command", "ls"}, 404, CodeClusterNotFound, ""},
		{"invoke cluster of another region", kv{"Action", "InvokeShellCommand", "ClusterId", testCID, "Command", "ls", "RegionId", "cn-beijing"}, 404, CodeClusterNotFound, ""},
		{"invoke stopped cluster", kv{"Action", "InvokeShellCommand", "ClusterId", "ehpc-hz-stopped", "Command", "ls"}, 403, CodeInvalidClusterStatus, ""},
		{"invoke one node", kv{"Action", "InvokeShellCommand", "ClusterId", testCID, "Command", "ls", "Instance.1.Id", testNodes[1]}, 200, "", ""},
		{"invoke unknown node", kv{"Action", "InvokeShellCommand", "ClusterId", testCID, "Command", "ls", "Instance.1.Id", testNodes[0], "Instance.2.Id", "i-other"}, 400, CodeInvalidParams, "Instance.2.Id"},
		{"invoke node twice", kv{"Action", "InvokeShellCommand", "ClusterId", testCID, "Command", "ls", "Instance.1.Id", testNodes[0], "Instance.2.Id", testNodes[0]}, 400, CodeInvalidParams, "Instance.2.Id"},
		{"invoke node list with a gap", kv{"Action", "InvokeShellCommand", "ClusterId", testCID, "Command", "ls", "Instance.1.Id", testNodes[0], "Instance.3.Id", testNodes[1]}, 400, CodeInvalidParams, "Instance.3.Id"},
		{"invoke node list from 0", kv{"Action", "InvokeShellCommand", "ClusterId", testCID, "Command", "ls", "Instance.0.Id", testNodes[0]}, 400, CodeInvalidParams, "Instance.0.Id"},
		{"invoke node list padded index", kv{"Action", "InvokeShellCommand", "ClusterId", testCID, "Command", "ls", "Instance.01.Id", testNodes[0]}, 400, CodeInvalidParams, "Instance.01.Id"},
		{"invoke empty node id", kv{"Action", "InvokeShellCommand", "ClusterId", testCID, "Command", "ls", "Instance.1.Id", ""}, 400, CodeInvalidParams, "Instance.1.Id"},
		{"invoke node field other than Id", kv{"Action", "InvokeShellCommand", "ClusterId", testCID, "Command", "ls", "Instance.1.Name", "x"}, 400, CodeInvalidParams, "Instance.1.Name"},
		// ListInvocationStatus
		{"status ok", kv{"Action", "ListInvocationStatus", "ClusterId", testCID, "CommandId", known}, 200, "", ""},
		{"status without CommandId", kv{"Action", "ListInvocationStatus", "ClusterId", testCID}, 400, CodeInvalidParams, "CommandId"},
		{"status without ClusterId", kv{"Action", "ListInvocationStatus", "CommandId", known}, 400, CodeInvalidParams, "ClusterId"},
		{"status unknown command", kv{"Action", "ListInvocationStatus", "ClusterId", testCID, "CommandId", "c-unknown"}, 404, CodeObjectNotFound, "c-unknown"},
		{"status command of another cluster", kv{"Action", "ListInvocationStatus", "ClusterId", "ehpc-hz-stopped", "CommandId", known}, 404, CodeObjectNotFound, ""},
		{"status unknown cluster", kv{"Action", "ListInvocationStatus", "ClusterId", "ehpc-x", "CommandId", known}, 404, CodeClusterNotFound, ""},
		// ListInvocationResults
		{"results ok", kv{"Action", "ListInvocationResults", "ClusterId", testCID, "CommandId", known, "PageSize", "50", "PageNumber", "3"}, 200, "", ""},
		{"results PageSize 0", kv{"Action", "ListInvocationResults", "ClusterId", testCID, "CommandId", known, "PageSize", "0"}, 400, CodeInvalidParams, "PageSize"},
		{"results PageSize 51", kv{"Action", "ListInvocationResults", "ClusterId", testCID, "CommandId", known, "PageSize", "51"}, 400, CodeInvalidParams, "PageSize"},
		{"results PageNumber 0", kv{"Action", "ListInvocationResults", "ClusterId", testCID, "CommandId", known, "PageNumber", "0"}, 400, CodeInvalidParams, "PageNumber"},
		{"results PageNumber huge", kv{"Action", "ListInvocationResults", "ClusterId", testCID, "CommandId", known, "PageNumber", "99999999999999999999"}, 400, CodeInvalidParams, "PageNumber"},
		{"results bad record status", kv{"Action", "ListInvocationResults", "ClusterId", testCID, "CommandId", known, "InvokeRecordStatus", "Done"}, 400, CodeInvalidParams, "InvokeRecordStatus"},
		{"results unknown node filter", kv{"Action", "ListInvocationResults", "ClusterId", testCID, "CommandId", known, "Instance.1.Id", "i-x"}, 400, CodeInvalidParams, "Instance.1.Id"},
		{"results unknown command", kv{"Action", "ListInvocationResults", "ClusterId", testCID, "CommandId", "c-nope"}, 404, CodeObjectNotFound, ""},
		// ListCommands
		{"commands ok", kv{"Action", "ListCommands", "ClusterId", testCID}, 200, "", ""},
		{"commands one", kv{"Action", "ListCommands", "ClusterId", testCID, "CommandId", known}, 200, "", ""},
		{"commands unknown command", kv{"Action", "ListCommands", "ClusterId", testCID, "CommandId", "c-nope"}, 404, CodeObjectNotFound, ""},
		{"commands without ClusterId", kv{"Action", "ListCommands"}, 400, CodeInvalidParams, "ClusterId"},
		{"commands of a stopped cluster", kv{"Action", "ListCommands", "ClusterId", "ehpc-hz-stopped"}, 200, "", ""},
		{"commands PageSize x", kv{"Action", "ListCommands", "ClusterId", testCID, "PageSize", "x"}, 400, CodeInvalidParams, "PageSize"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := s.Invocations()
			st, m := get(t, srv, vals(tt.params...))
			msg, _ := m["Message"].(string)
			if st != tt.wantStatus || (tt.wantCode != "" && m["Code"] != tt.wantCode) || !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("got %d %v, want %d %s %q", st, m, tt.wantStatus, tt.wantCode, tt.wantMsg)
			}
			if tt.wantCode == CodeInvalidParams && msg != "The specified parameter "+tt.wantMsg+" is invalid." {
				t.Errorf("Message = %q", msg)
			}
			accepted := tt.params[1] == "InvokeShellCommand" && st == http.StatusOK
			if got := s.Invocations() - before; (got == 1) != accepted {
				t.Errorf("Invocations() grew by %d", got)
			}
		})
	}
}

func TestPagingAndFilters(t *testing.T) {
	nodes := NodeIDs(25)
	s, srv := newTestSim(t, func(c *Config) { c.Clusters = []Cluster{{ID: testCID, Nodes: nodes}} })
	s.run = fakeRun
	id := invoke(t, srv, "Command", "echo paged")
	waitDone(t, s, id)

	var seen []string
	for page := 1; ; page++ {
		st, m := get(t, srv, vals("Action", "ListInvocationResults", "ClusterId", testCID, "CommandId", id,
			"PageSize", "10", "PageNumber", strconv.Itoa(page)))
		if st != 200 || m["TotalCount"] != float64(25) || m["PageNumber"] != float64(page) || m["PageSize"] != float64(10) {
			t.Fatalf("page %d: %d %v", page, st, m)
		}
		rs := m["InvocationResults"].(map[string]any)["InvocationResult"].([]any)
		for _, r := range rs {
			r := r.(map[string]any)
			if r["Message"] != "ran: echo paged" || r["Success"] != true || r["InvokeRecordStatus"] != StatusFinished {
				t.Errorf("result %v", r)
			}
			seen = append(seen, r["InstanceId"].(string))
		}
		if page*10 >= 25 {
			if len(rs) != 5 {
				t.Errorf("last page has %d results", len(rs))
			}
			break
		}
	}
	if strings.Join(seen, ",") != strings.Join(nodes, ",") {
		t.Errorf("pages gave %v", seen)
	}

	_, m := get(t, srv, vals("Action", "ListInvocationResults", "ClusterId", testCID, "CommandId", id,
		"Instance.1.Id", nodes[3], "Instance.2.Id", nodes[7]))
	if m["TotalCount"] != float64(2) {
		t.Errorf("node filter: %v", m)
	}
	_, m = get(t, srv, vals("Action", "ListInvocationResults", "ClusterId", testCID, "CommandId", id, "InvokeRecordStatus", StatusRunning))
	if m["TotalCount"] != float64(0) || len(m["InvocationResults"].(map[string]any)["InvocationResult"].([]any)) != 0 {
		t.Errorf("status filter: %v", m)
	}
	_, m = get(t, srv, vals("Action", "ListInvocationResults", "ClusterId", testCID, "CommandId", id, "PageNumber", "9"))
	if m["TotalCount"] != float64(25) || len(m["InvocationResults"].(map[string]any)["InvocationResult"].([]any)) != 0 {
		t.Errorf("page past the end: %v", m)
	}
}

func TestListCommandsNewestFirst(t *testing.T) {
	s, srv := newTestSim(t, nil)
	s.run = fakeRun
	a := invoke(t, srv, "Command", "echo a", "WorkingDir", "/home/a", "Timeout", "5")
	b := invoke(t, srv, "Command", "echo b")
	_, m := get(t, srv, vals("Action", "ListCommands", "ClusterId", testCID))
	cs := m["Commands"].(map[string]any)["Command"].([]any)
	if m["TotalCount"] != float64(2) || len(cs) != 2 {
		t.Fatalf("%v", m)
	}
	first, second := cs[0].(map[string]any), cs[1].(map[string]any)
	if first["CommandId"] != b || second["CommandId"] != a || second["WorkingDir"] != "/home/a" || second["Timeout"] != "5" || first["Timeout"] != "60" || first["WorkingDir"] != "/root" {
		t.Errorf("commands %v", cs)
	}
	if s.Runs("echo a") != 1 || s.Runs("echo b") != 1 || s.Runs("echo") != 0 {
		t.Error("Runs() miscounts")
	}
	word := func(c string) string { return strings.Fields(c)[0] }
	if got := s.RunsBy(word); len(got) != 1 || got["echo"] != 2 {
		t.Errorf("RunsBy(first word) = %v, want echo: 2", got)
	}
	if got := s.RunsBy(func(c string) string { return c }); len(got) != 2 || got["echo b"] != 1 {
		t.Errorf("RunsBy(identity) = %v, want Runs", got)
	}
}
