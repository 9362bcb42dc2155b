# Tests of the RAM library against the governance data in ram_test.json
# (one user t-<Policy> per policy). Run by go test ./function/internal/policy.
package hpcgate.ram_test

import data.hpcgate.ram

multi_keys := {
	"ehpc:InstanceId": [],
	"hpcgate:Program": [],
	"hpcgate:CommandLine": [],
	"hpcgate:ShellFeature": [],
	"hpcgate:OutputRedirect": [],
	"hpcgate:InputRedirect": [],
	"hpcgate:AssignedVariable": [],
}

default_keys := object.union(multi_keys, {
	"ehpc:ClusterId": "c1",
	"ehpc:WorkingDir": "/root",
	"ehpc:Timeout": 60,
	"hpcgate:PrincipalType": "user",
	"hpcgate:Trigger": "http",
	"acs:CurrentTime": "2026-01-01T00:00:00Z",
})

req(user, keys) := {
	"principal": {"type": "user", "id": user, "groups": []},
	"action": "ehpc:InvokeShellCommand",
	"resource": sprintf("acs:ehpc:cn-hangzhou:1:cluster/%s", [object.union(default_keys, keys)["ehpc:ClusterId"]]),
	"keys": object.union(default_keys, keys),
}

# decide is the decision for request x, with input.match as the gate
# builds it.
decide(x) := d if {
	d := ram.decision with input as ram.with_match(x)
}

allowed(user, keys) if decide(req(user, keys)).allow

# A key the request lacks.
without(user, key) := json.remove(req(user, {}), [sprintf("keys/%s", [key])])

allowed_without(user, key) if decide(without(user, key)).allow

test_implicit_deny if {
	d := decide(req("nobody", {}))
	d.allow == false
	d.reasons == [{"effect": "Deny", "detail": "no statement allows"}]
}

test_allow_reason_names_policy_and_sid if {
	d := decide(req("t-StrEq", {}))
	d.allow
	d.reasons == [{"effect": "Allow", "policy": "StrEq", "sid": "StrEq"}]
}

test_string_equals if {
	allowed("t-StrEq", {"ehpc:ClusterId": "c2"})
	not allowed("t-StrEq", {"ehpc:ClusterId": "C1"})
	not allowed_without("t-StrEq", "ehpc:ClusterId")
}

test_string_not_equals if {
	allowed("t-StrNe", {"ehpc:ClusterId": "c1"})
	not allowed("t-StrNe", {"ehpc:ClusterId": "c9"})
	allowed_without("t-StrNe", "ehpc:ClusterId")
}

test_string_equals_ignore_case if {
	allowed("t-StrEqCI", {"ehpc:WorkingDir": "/data"})
	allowed("t-StrEqCI", {"ehpc:WorkingDir": "/DATA"})
	not allowed("t-StrEqCI", {"ehpc:WorkingDir": "/data2"})
}

test_string_not_equals_ignore_case if {
	not allowed("t-StrNeCI", {"ehpc:WorkingDir": "/dAtA"})
	allowed("t-StrNeCI", {"ehpc:WorkingDir": "/root"})
}

test_string_like_wildcards if {
	allowed("t-StrLike", {"ehpc:ClusterId": "ehpc-hz-1"})
	allowed("t-StrLike", {"ehpc:ClusterId": "ehpc-sz-"})
	not allowed("t-StrLike", {"ehpc:ClusterId": "ehpc-z-1"})
	not allowed("t-StrLike", {"ehpc:ClusterId": "EHPC-hz-1"})
}

test_string_like_treats_regex_and_glob_syntax_literally if {
	allowed("t-StrLike", {"ehpc:ClusterId": "a[b]{c}.x"})
	not allowed("t-StrLike", {"ehpc:ClusterId": "ab{c}.x"})
	not allowed("t-StrLike", {"ehpc:ClusterId": "a[b]{c}x"})
}

test_string_not_like if {
	allowed("t-StrNotLike", {"ehpc:ClusterId": "c1"})
	not allowed("t-StrNotLike", {"ehpc:ClusterId": "ehpc-1"})
	allowed_without("t-StrNotLike", "ehpc:ClusterId")
}

test_numeric_equals if {
	allowed("t-NumEq", {"ehpc:Timeout": 60})
	allowed("t-NumEq", {"ehpc:Timeout": 120})
	not allowed("t-NumEq", {"ehpc:Timeout": 61})
	not allowed_without("t-NumEq", "ehpc:Timeout")
}

test_numeric_not_equals if {
	not allowed("t-NumNe", {"ehpc:Timeout": 60})
	allowed("t-NumNe", {"ehpc:Timeout": 61})
	allowed_without("t-NumNe", "ehpc:Timeout")
}

test_numeric_order if {
	allowed("t-NumLt", {"ehpc:Timeout": 99})
	not allowed("t-NumLt", {"ehpc:Timeout": 100})
	allowed("t-NumLe", {"ehpc:Timeout": 100})
	not allowed("t-NumLe", {"ehpc:Timeout": 101})
	allowed("t-NumGt", {"ehpc:Timeout": 101})
	not allowed("t-NumGt", {"ehpc:Timeout": 100})
	allowed("t-NumGe", {"ehpc:Timeout": 101})
	not allowed("t-NumGe", {"ehpc:Timeout": 100})
	not allowed_without("t-NumLe", "ehpc:Timeout")
}

test_date_any_offset if {
	# 2026-01-01T08:00:00+08:00 is 2026-01-01T00:00:00Z.
	allowed("t-DateEq", {"acs:CurrentTime": "2026-01-01T00:00:00Z"})
	not allowed("t-DateEq", {"acs:CurrentTime": "2026-01-01T00:00:01Z"})
	not allowed("t-DateNe", {"acs:CurrentTime": "2026-01-01T09:00:00+09:00"})
	allowed("t-DateNe", {"acs:CurrentTime": "2026-01-01T00:00:01Z"})
	allowed("t-DateLt", {"acs:CurrentTime": "2025-12-31T23:59:59Z"})
	not allowed("t-DateLt", {"acs:CurrentTime": "2026-01-01T00:00:00Z"})
	allowed("t-DateLe", {"acs:CurrentTime": "2026-01-01T00:00:00Z"})
	not allowed("t-DateLe", {"acs:CurrentTime": "2026-01-01T00:00:00.5Z"})
	allowed("t-DateGt", {"acs:CurrentTime": "2026-01-01T05:00:01Z"})
	not allowed("t-DateGt", {"acs:CurrentTime": "2026-01-01T05:00:00Z"})
	allowed("t-DateGe", {"acs:CurrentTime": "2026-01-01T05:00:00Z"})
	not allowed_without("t-DateGe", "acs:CurrentTime")
}

test_bool if {
	allowed("t-BoolTrue", {"acs:MFAPresent": true})
	not allowed("t-BoolTrue", {"acs:MFAPresent": false})
	not allowed_without("t-BoolTrue", "acs:MFAPresent")
	allowed("t-BoolFalse", {"acs:SecureTransport": false})
	not allowed("t-BoolFalse", {"acs:SecureTransport": true})
}

test_ip_address if {
	allowed("t-Ip", {"acs:SourceIp": "10.1.2.3"})
	allowed("t-Ip", {"acs:SourceIp": "192.168.1.1"})
	not allowed("t-Ip", {"acs:SourceIp": "192.168.1.2"})
	allowed("t-Ip", {"acs:SourceIp": "2001:db8::1"})
	not allowed("t-Ip", {"acs:SourceIp": "2001:db9::1"})
	not allowed_without("t-Ip", "acs:SourceIp")
}

test_ipv6_never_matches_ipv4_range if {
	not allowed("t-Ip", {"acs:SourceIp": "::ffff:10.1.2.3"})
	allowed("t-NotIp", {"acs:SourceIp": "::ffff:10.1.2.3"})
}

# Each form of the inline IpAddress test: IPv4 ranges only, plain IPv6
# ranges only, IPv4-mapped IPv6 ranges, and all three in one list.
test_ip_address_forms if {
	allowed("t-Ip4", {"acs:SourceIp": "10.1.2.3"})
	allowed("t-Ip4", {"acs:SourceIp": "192.168.3.3"})
	not allowed("t-Ip4", {"acs:SourceIp": "11.1.2.3"})
	not allowed("t-Ip4", {"acs:SourceIp": "::ffff:10.1.2.3"})
	not allowed("t-Ip4", {"acs:SourceIp": "2001:db8::1"})

	allowed("t-Ip6", {"acs:SourceIp": "2001:db8::1"})
	not allowed("t-Ip6", {"acs:SourceIp": "2001:db9::1"})
	not allowed("t-Ip6", {"acs:SourceIp": "10.1.2.3"})
	not allowed("t-Ip6", {"acs:SourceIp": "::ffff:10.1.2.3"})

	allowed("t-Ip4in6", {"acs:SourceIp": "::ffff:10.1.2.3"})
	not allowed("t-Ip4in6", {"acs:SourceIp": "::ffff:11.1.2.3"})
	not allowed("t-Ip4in6", {"acs:SourceIp": "10.1.2.3"})
	not allowed("t-Ip4in6", {"acs:SourceIp": "2001:db8::1"})
	not allowed_without("t-Ip4in6", "acs:SourceIp")

	allowed("t-IpAll", {"acs:SourceIp": "10.1.2.3"})
	allowed("t-IpAll", {"acs:SourceIp": "2001:db8::1"})
	allowed("t-IpAll", {"acs:SourceIp": "::ffff:172.16.0.1"})
	not allowed("t-IpAll", {"acs:SourceIp": "::ffff:10.1.2.3"})
	not allowed("t-IpAll", {"acs:SourceIp": "172.16.0.1"})
	not allowed("t-IpAll", {"acs:SourceIp": "11.1.2.3"})
	not allowed_without("t-IpAll", "acs:SourceIp")
}

test_not_ip_address if {
	not allowed("t-NotIp", {"acs:SourceIp": "10.9.9.9"})
	allowed("t-NotIp", {"acs:SourceIp": "11.0.0.1"})
	allowed_without("t-NotIp", "acs:SourceIp")
}

test_for_any_value if {
	allowed("t-AnyEq", {"hpcgate:Program": ["rm", "sinfo"]})
	not allowed("t-AnyEq", {"hpcgate:Program": ["rm"]})
	not allowed("t-AnyEq", {"hpcgate:Program": []})
	allowed("t-AnyNe", {"hpcgate:Program": ["squeue", "rm"]})
	not allowed("t-AnyNe", {"hpcgate:Program": ["squeue"]})
	not allowed("t-AnyNe", {"hpcgate:Program": []})
}

test_for_all_values_and_the_empty_set if {
	allowed("t-AllEq", {"hpcgate:Program": ["squeue", "sinfo"]})
	not allowed("t-AllEq", {"hpcgate:Program": ["squeue", "rm"]})
	allowed("t-AllEq", {"hpcgate:Program": []})
	allowed("t-AllNe", {"hpcgate:Program": ["ls", "cat"]})
	not allowed("t-AllNe", {"hpcgate:Program": ["ls", "rm"]})
	allowed("t-AllNe", {"hpcgate:Program": []})
}

test_qualified_ignore_case_and_like if {
	allowed("t-AnyEqCI", {"hpcgate:Program": ["ls", "Squeue"]})
	not allowed("t-AllEqCI", {"hpcgate:Program": ["ls", "Squeue"]})
	allowed("t-AllEqCI", {"hpcgate:Program": ["squeue"]})
	allowed("t-AnyLike", {"hpcgate:CommandLine": ["ls", "squeue -u a"]})
	allowed("t-AnyLikeStar", {"hpcgate:Program": ["squeue"]})
	allowed("t-AnyLikeStar", {"hpcgate:Program": [""]})
	not allowed("t-AnyLikeStar", {"hpcgate:Program": []})
	allowed("t-AllLike", {"hpcgate:CommandLine": ["squeue", "squeue -u a"]})
	not allowed("t-AllLike", {"hpcgate:CommandLine": ["squeue", "squeuex"]})
	allowed("t-AnyNotLike", {"hpcgate:CommandLine": ["squeue", "ls"]})
	not allowed("t-AnyNotLike", {"hpcgate:CommandLine": ["squeue -a"]})
	allowed("t-AllNotLike", {"hpcgate:CommandLine": ["ls -l"]})
	not allowed("t-AllNotLike", {"hpcgate:CommandLine": ["ls", "rm -rf x"]})
}

test_and_across_operators_and_keys if {
	allowed("t-AndAcross", {})
	not allowed("t-AndAcross", {"ehpc:WorkingDir": "/tmp"})
	not allowed("t-AndAcross", {"ehpc:Timeout": 601})
}

test_action_wildcards_and_case if {
	decide(object.union(req("t-ActWild", {}), {"action": "ehpc:InvokeShellCommand"})).allow

	# Statement actions ignore case (t-ActCase); the input's action is one
	# of the gate's, as the gate spells it: any other spelling matches no
	# statement.
	not decide(object.union(req("t-ActWild", {}), {"action": "EHPC:INVOKESHELLCOMMAND"})).allow
	not decide(object.union(req("t-ActWild", {}), {"action": "ehpc:ListInvocationResults"})).allow
	decide(object.union(req("t-ActQ", {}), {"action": "ehpc:ListInvocationResults"})).allow
	allowed("t-ActCase", {})
}

test_not_action if {
	not allowed("t-NotAct", {})
	decide(object.union(req("t-NotAct", {}), {"action": "ehpc:ListInvocationResults"})).allow
}

test_resource_wildcards_and_case if {
	allowed("t-ResWild", {"ehpc:ClusterId": "c7"})
	not allowed("t-ResWild", {"ehpc:ClusterId": "c10"})
	allowed("t-ResExact", {})
	not allowed("t-ResExact", {"ehpc:ClusterId": "c2"})
	not allowed("t-ResCase", {})
}

test_not_resource if {
	not allowed("t-NotRes", {})
	allowed("t-NotRes", {"ehpc:ClusterId": "c2"})
}

test_explicit_deny_wins_and_every_deny_is_reported if {
	allowed("t-DenyWins", {})
	d := decide(req("t-DenyWins", {"ehpc:ClusterId": "c9", "hpcgate:Program": ["ls", "rm"]}))
	d.allow == false

	# Statement reasons come in the order of their values (detail first).
	[r.sid | some r in d.reasons] == ["DenyC9", "DenyRm"]
	every r in d.reasons {
		r.effect == "Deny"
		r.policy == "DenyWins"
		r.detail != ""
	}
}

test_star_attachment_applies_to_every_user if {
	not allowed("t-StrEq", {"ehpc:ClusterId": "c8"})
	d := decide(req("anyone", {"ehpc:ClusterId": "c8"}))
	d.reasons[0].sid == "NoC8"
}

test_group_attachment if {
	decide(json.patch(req("member", {}), [{"op": "replace", "path": "/principal/groups", "value": ["x", "g-allowed"]}])).allow
	not decide(json.patch(req("member", {}), [{"op": "replace", "path": "/principal/groups", "value": ["x"]}])).allow
}

test_service_attachment if {
	svc := json.patch(req("", {"hpcgate:PrincipalType": "service", "hpcgate:Trigger": "oss"}), [{"op": "replace", "path": "/principal", "value": {"type": "service", "id": "oss:bucket"}}])
	decide(svc).allow
	not decide(json.patch(svc, [{"op": "replace", "path": "/keys/hpcgate:Trigger", "value": "http"}])).allow
	not decide(json.patch(svc, [{"op": "replace", "path": "/principal/type", "value": "user"}])).allow
}

test_group_is_not_a_principal_type if {
	not decide(json.patch(req("g-allowed", {}), [{"op": "replace", "path": "/principal/type", "value": "group"}])).allow
}
