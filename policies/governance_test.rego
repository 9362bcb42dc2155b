# Tests of the example governance data (data.json, baseline.rego).
# Run by go test ./function/internal/policy. Inputs give the condition keys
# the gate would compute from the command.
package hpcgate.governance_test

import data.hpcgate.ram

no_command := {
	"hpcgate:Program": [],
	"hpcgate:CommandLine": [],
	"hpcgate:ShellFeature": [],
	"hpcgate:OutputRedirect": [],
	"hpcgate:InputRedirect": [],
	"hpcgate:AssignedVariable": [],
}

alice := {"type": "user", "id": "alice", "groups": ["researchers"]}

# squeue -u alice, from the campus network, on a dev cluster.
researcher(keys) := {
	"principal": alice,
	"action": "ehpc:InvokeShellCommand",
	"resource": "acs:ehpc:cn-hangzhou:123456:cluster/ehpc-hz-abc",
	"keys": object.union_n([
		no_command,
		{
			"ehpc:ClusterId": "ehpc-hz-abc",
			"ehpc:WorkingDir": "/root",
			"ehpc:Timeout": 60,
			"ehpc:InstanceId": [],
			"hpcgate:PrincipalType": "user",
			"hpcgate:Trigger": "http",
			"acs:SourceIp": "10.20.1.2",
			"acs:SecureTransport": true,
			"acs:CurrentTime": "2026-03-02T09:00:00Z",
			"hpcgate:Program": ["squeue"],
			"hpcgate:CommandLine": ["squeue -u alice"],
		},
		keys,
	]),
}

# on_cluster moves a request to another cluster: the gate derives the
# resource and the key ehpc:ClusterId from the same clusterId.
on_cluster(x, id) := json.patch(x, [
	{"op": "replace", "path": "/resource", "value": sprintf("acs:ehpc:cn-hangzhou:123456:cluster/%s", [id])},
	{"op": "replace", "path": "/keys/ehpc:ClusterId", "value": id},
])

# decide is the decision for request x, with input.match as the gate
# builds it.
decide(x) := d if {
	d := ram.decision with input as ram.with_match(x)
}

sids(d) := [r.sid | some r in d.reasons]

test_researcher_read_only_slurm if {
	d := decide(researcher({}))
	d.allow
	sids(d) == ["ReadOnlySlurm"]
	decide(researcher({"hpcgate:Program": ["scontrol"], "hpcgate:CommandLine": ["scontrol show job 7"]})).allow
}

test_researcher_limits if {
	not decide(researcher({"hpcgate:Program": ["scancel"], "hpcgate:CommandLine": ["scancel 7"]})).allow
	not decide(researcher({"hpcgate:CommandLine": ["scontrol update job 7"], "hpcgate:Program": ["scontrol"]})).allow
	not decide(researcher({"ehpc:Timeout": 601})).allow
	not decide(researcher({"acs:SourceIp": "203.0.113.9"})).allow
	not decide(on_cluster(researcher({}), "prod-1")).allow

	# A pipe into a filter that reads a file would read it as the node's
	# user: only filters that read their standard input are allowed.
	not decide(researcher({"hpcgate:ShellFeature": ["pipe"], "hpcgate:Program": ["squeue", "head"], "hpcgate:CommandLine": ["squeue", "head /etc/shadow"]})).allow
	not decide(researcher({"hpcgate:ShellFeature": ["pipe"], "hpcgate:Program": ["squeue", "grep"], "hpcgate:CommandLine": ["squeue", "grep alice"]})).allow
}

test_researcher_pipelines_into_stdin_filters if {
	decide(researcher({"hpcgate:ShellFeature": ["pipe"], "hpcgate:Program": ["squeue", "wc"], "hpcgate:CommandLine": ["squeue -u alice", "wc -l"]})).allow
	decide(researcher({"hpcgate:ShellFeature": ["pipe"], "hpcgate:Program": ["sacct", "sort", "uniq"], "hpcgate:CommandLine": ["sacct", "sort", "uniq -c"]})).allow
	decide(researcher({"hpcgate:ShellFeature": ["pipe"], "hpcgate:Program": ["squeue", "tail"], "hpcgate:CommandLine": ["squeue", "tail -n 20"]})).allow
}

test_researcher_empty_command_is_not_allowed if {
	not decide(researcher(no_command)).allow
}

test_baseline_denies if {
	cases := [
		["NoDynamicPrograms", {"hpcgate:Program": ["<dynamic>"]}],
		["OutputOnlyToDevNull", {"hpcgate:OutputRedirect": ["/dev/null", "/etc/passwd"]}],
		["NoSubstitution", {"hpcgate:ShellFeature": ["command-substitution"]}],
		["NoSubstitution", {"hpcgate:ShellFeature": ["process-substitution"]}],
		["NoParameterOperatorsOrArithmetic", {"hpcgate:ShellFeature": ["parameter-operator"]}],
		["NoParameterOperatorsOrArithmetic", {"hpcgate:ShellFeature": ["arithmetic"]}],
		["NoRiskyAssignments", {"hpcgate:AssignedVariable": ["LD_PRELOAD"]}],
		["NoRiskyAssignments", {"hpcgate:AssignedVariable": ["PATH"]}],
		["NoHeredocIntoShells", {"hpcgate:ShellFeature": ["heredoc", "pipe"], "hpcgate:Program": ["cat", "/bin/bash"]}],
	]
	every c in cases {
		d := decide(researcher(c[1]))
		not d.allow
		c[0] in sids(d)
	}
}

test_baseline_allows_dev_null_and_harmless_assignments if {
	not "OutputOnlyToDevNull" in sids(decide(researcher({"hpcgate:OutputRedirect": ["/dev/null"]})))
	not "NoRiskyAssignments" in sids(decide(researcher({"hpcgate:AssignedVariable": ["LANG"]})))
}

test_extension_reports_shell_reading_heredoc if {
	req := object.union(researcher({}), {"command": {
		"simple": [{"argv": ["/bin/bash"], "assignments": [], "redirects": [{"op": "<<", "target": "EOF"}]}],
		"features": ["heredoc"],
	}})
	d := decide(req)
	not d.allow
	{"effect": "Deny", "policy": "hpcgate.ext.baseline", "detail": "/bin/bash reads its script from <<"} in d.reasons
}

operator(mfa, secure) := {
	"principal": {"type": "user", "id": "bob", "groups": ["hpc-operators"]},
	"action": "ehpc:InvokeShellCommand",
	"resource": "acs:ehpc:cn-hangzhou:123456:cluster/prod-1",
	"keys": object.union(
		researcher({
			"hpcgate:Program": ["systemctl"],
			"hpcgate:CommandLine": ["systemctl status slurmd"],
			"acs:MFAPresent": mfa,
			"acs:SecureTransport": secure,
		}).keys,
		{"ehpc:ClusterId": "prod-1"},
	),
}

test_operators_need_mfa_and_tls if {
	decide(operator(true, true)).allow
	not decide(operator(false, true)).allow
	not decide(operator(true, false)).allow
	not decide(json.remove(operator(true, true), ["keys/acs:MFAPresent"])).allow
}

pipeline := {
	"principal": {"type": "service", "id": "oss:raw-data"},
	"action": "ehpc:InvokeShellCommand",
	"resource": "acs:ehpc:cn-hangzhou:123456:cluster/ehpc-hz-abc",
	"keys": object.union(no_command, {
		"ehpc:ClusterId": "ehpc-hz-abc",
		"ehpc:WorkingDir": "/data",
		"ehpc:Timeout": 600,
		"ehpc:InstanceId": [],
		"hpcgate:PrincipalType": "service",
		"hpcgate:Trigger": "oss",
		"acs:CurrentTime": "2026-03-02T09:00:00Z",
		"hpcgate:Program": ["/opt/pipelines/ingest.sh"],
		"hpcgate:CommandLine": ["/opt/pipelines/ingest.sh -- incoming/2026/a b.csv"],
	}),
}

test_pipeline_runs_only_its_ingest_script if {
	decide(pipeline).allow
	not decide(json.patch(pipeline, [{"op": "replace", "path": "/keys/hpcgate:Program", "value": ["/opt/pipelines/ingest.sh", "rm"]}])).allow
	not decide(json.patch(pipeline, [{"op": "replace", "path": "/keys/hpcgate:Trigger", "value": "http"}])).allow
	not decide(on_cluster(pipeline, "ehpc-hz-abd")).allow
	not decide(json.patch(pipeline, [{"op": "replace", "path": "/principal/id", "value": "oss:other"}])).allow
}

# Researchers read the results of their own commands only; operators
# read every command's.
test_results_reading if {
	req := object.union(researcher(no_command), {
		"action": "ehpc:ListInvocationResults",
		"keys": object.union(researcher(no_command).keys, {"hpcgate:CommandOwner": "user:alice", "hpcgate:OwnCommand": true}),
	})
	decide(req).allow
	not decide(json.patch(req, [{"op": "replace", "path": "/keys/acs:SourceIp", "value": "8.8.8.8"}])).allow
}

test_researchers_do_not_read_others_results if {
	req := object.union(researcher(no_command), {
		"action": "ehpc:ListInvocationResults",
		"keys": object.union(researcher(no_command).keys, {"hpcgate:CommandOwner": "user:olga", "hpcgate:OwnCommand": false}),
	})
	not decide(req).allow

	# A command nobody owns (started outside hpcgate, or its seal did not
	# open): no hpcgate:CommandOwner, and not the reader's own.
	unowned := json.patch(req, [{"op": "remove", "path": "/keys/hpcgate:CommandOwner"}])
	not decide(unowned).allow
}

test_operators_read_every_result if {
	op := {
		"principal": {"type": "user", "id": "olga", "groups": ["hpc-operators"]},
		"action": "ehpc:ListInvocationResults",
		"resource": "acs:ehpc:cn-hangzhou:123456:cluster/ehpc-hz-demo01",
		"keys": object.union(no_command, {
			"ehpc:ClusterId": "ehpc-hz-demo01", "ehpc:WorkingDir": "/root", "ehpc:Timeout": 60, "ehpc:InstanceId": [],
			"hpcgate:PrincipalType": "user", "hpcgate:Trigger": "http", "hpcgate:TargetsAllNodes": true, "hpcgate:InstanceCount": 0,
			"acs:MFAPresent": true, "acs:SecureTransport": true, "acs:SourceIp": "10.20.1.2",
			"hpcgate:CommandOwner": "user:alice", "hpcgate:OwnCommand": false,
		}),
	}
	decide(op).allow
	decide(json.patch(op, [{"op": "remove", "path": "/keys/hpcgate:CommandOwner"}])).allow
}

service(id, trigger, keys) := {
	"principal": {"type": "service", "id": id},
	"action": "ehpc:InvokeShellCommand",
	"resource": "acs:ehpc:cn-hangzhou:123456:cluster/ehpc-hz-demo01",
	"keys": object.union_n([
		no_command,
		{
			"ehpc:ClusterId": "ehpc-hz-demo01",
			"ehpc:WorkingDir": "/root",
			"ehpc:Timeout": 60,
			"ehpc:InstanceId": [],
			"hpcgate:PrincipalType": "service",
			"hpcgate:Trigger": trigger,
			"hpcgate:TargetsAllNodes": true,
			"hpcgate:InstanceCount": 0,
			"acs:CurrentTime": "2026-11-27T10:00:00Z",
		},
		keys,
	]),
	"command": {"simple": [], "features": []},
}

sinfo := {"hpcgate:Program": ["sinfo"], "hpcgate:CommandLine": ["sinfo"]}

test_scheduled_principals_read_cluster_status if {
	decide(service("timer:nightly-sinfo", "timer", sinfo)).allow
	decide(service("eventbridge:hpcgate.pipeline", "eventbridge", sinfo)).allow
	decide(service("invoke", "invoke", sinfo)).allow
	not decide(service("timer:nightly-sinfo", "timer", {"hpcgate:Program": ["scancel"], "hpcgate:CommandLine": ["scancel 7"]})).allow
	not decide(service("eventbridge:someone.else", "eventbridge", sinfo)).allow
	not decide(service("invoke", "invoke", no_command)).allow
}

# with_command gives request x the simple commands of a command, as the
# gate builds input.command from the analysis.
with_command(x, simple) := object.union(x, {"command": {"simple": simple, "features": ["heredoc"]}})

cmd(argv, op) := {"argv": argv, "assignments": [], "redirects": [{"op": op, "target": "EOF"}]}

test_extension_denies_interpreters_reading_stdin_behind_wrappers if {
	denied := [
		[cmd(["python3"], "<<")],
		[cmd(["/usr/bin/python3.12"], "<<<")],
		[cmd(["perl"], "<")],
		[cmd(["awk", "-f", "-"], "<<")],
		[cmd(["timeout", "5", "bash"], "<<")],
		[cmd(["command", "-p", "sh"], "<<")],
		[cmd(["exec", "ruby"], "<")],
		[cmd(["env", "X=1", "node"], "<<<")],
		[cmd(["nohup", "nice", "-n", "5", "/bin/zsh"], "<<")],
		[cmd(["sudo", "-u", "root", "bash", "-s"], "<<")],
		[cmd(["xargs", "python"], "<")],
		[cmd(["find", ".", "-exec", "sh", "{}", ";"], "0<")],
	]
	every simple in denied {
		d := decide(with_command(researcher({}), simple))
		not d.allow
		some r in d.reasons
		r.policy == "hpcgate.ext.baseline"
	}
}

test_extension_allows_heredocs_into_programs_that_only_read_data if {
	allowed := [
		[cmd(["cat"], "<<")],
		[cmd(["grep", "-c", "x"], "<<<")],
		[cmd(["sort"], "<")],
		[cmd(["timeout", "5", "wc", "-l"], "<<")],
	]
	every simple in allowed {
		d := decide(with_command(researcher({}), simple))
		every r in d.reasons {
			r.policy != "hpcgate.ext.baseline"
		}
	}
}

test_baseline_denies_variables_bash_or_programs_run_as_code if {
	every v in ["SHELLOPTS", "BASHOPTS", "PS4", "PS1", "PROMPT_COMMAND", "BASH_ENV", "ENV", "GCONV_PATH", "LD_AUDIT", "BASH_ALIASES", "BASH_CMDS", "BASH_FUNC_ls%%", "TEXTDOMAINDIR", "PYTHONSTARTUP", "PERL5OPT", "NODE_OPTIONS", "GIT_SSH_COMMAND", "EDITOR", "PAGER", "<dynamic>"] {
		d := decide(researcher({"hpcgate:AssignedVariable": [v]}))
		not d.allow
		"NoRiskyAssignments" in sids(d)
	}
	every v in ["LANG", "LC_ALL", "OMP_NUM_THREADS", "TMPDIR", "x"] {
		not "NoRiskyAssignments" in sids(decide(researcher({"hpcgate:AssignedVariable": [v]})))
	}
}

test_baseline_denies_heredocs_into_wrapped_interpreters if {
	every p in [["timeout", "python3"], ["env", "perl"], ["nohup", "/usr/bin/ruby"], ["cat", "node"], ["cat", "awk"]] {
		d := decide(researcher({"hpcgate:ShellFeature": ["heredoc"], "hpcgate:Program": p}))
		"NoHeredocIntoShells" in sids(d)
	}
	not "NoHeredocIntoShells" in sids(decide(researcher({"hpcgate:ShellFeature": ["heredoc"], "hpcgate:Program": ["cat", "grep"]})))
}

operator_command(programs, lines) := json.patch(operator(true, true), [
	{"op": "replace", "path": "/keys/hpcgate:Program", "value": programs},
	{"op": "replace", "path": "/keys/hpcgate:CommandLine", "value": lines},
])

test_operators_cannot_run_programs_through_allowed_ones if {
	decide(operator_command(["sort"], ["sort -rn"])).allow
	decide(operator_command(["cat", "grep"], ["cat /var/log/slurmd.log", "grep -i error"])).allow
	every l in ["sort --compress-program=sh x", "sort -o /etc/passwd x", "sort -S1 --comp=sh x", "uniq in /etc/passwd", "systemctl edit slurmd", "hostname evil"] {
		prog := split(l, " ")[0]
		not decide(operator_command([prog], [l])).allow
	}
}
