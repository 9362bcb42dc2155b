# METADATA
# title: RAM evaluation library
# description: |
#   Evaluates governance data in Alibaba Cloud RAM grammar for one request.
#   The loader validates the governance JSON and compiles it into the
#   package hpcgate.gov. deny holds the reasons of the matching Deny
#   statements and of extension rules: one rule per statement, attachment
#   and action. allow_own, allow_any and allow_group[<action>/<group>] hold
#   the decision of the first matching Allow statement attached to the
#   principal itself, to every principal of its type, and to a group: one
#   chain of rules (rule, else, ...) per attachment and action, in policy
#   and statement order. Every rule first tests the action and the
#   principal (its id, one of a user's groups, or any of its type for "*")
#   in one comparison with input.match, then the Resource and the
#   Condition. Tests are written inline, in forms OPA's rule index decides
#   where they can, so that the statements of other principals, and most
#   that cannot match the request, are never evaluated; the rest call the
#   condition functions below. Action and NotAction are matched (ignoring
#   case) against the gate's two actions when the set loads; input.action
#   is one of them, spelled as the gate spells it.
#
#   Input: action, match (the values those tests compare, derived from
#   the action, the principal and acs:SourceIp; see with_match), keys
#   (every condition key of the request; multi-valued keys are lists of
#   strings) and resource. The gate adds principal {type, id, groups} and
#   the rest for extension rules that read them.
#   Output: decision {allow, reasons}. A reason marked "invalid" (an
#   extension's deny that is not a string) makes the gate fail closed.
package hpcgate.ram

# Explicit deny (statements or extension rules) wins, then an allow, else
# the implicit deny; allows are looked at only when nothing denies. The
# Allow reported is the first found: of the principal's own attachments,
# else of those to every principal of its type, else of its groups' in the
# order the token lists them. Deny reasons come sorted.
decision := {"allow": false, "reasons": reasons} if {
	some _ in data.hpcgate.gov.deny
	reasons := [r | some r in data.hpcgate.gov.deny]
} else := d if {
	d := data.hpcgate.gov.allow_own
} else := d if {
	d := data.hpcgate.gov.allow_any
} else := ds[0] if {
	ds := [d | some g in input.match.groups; d := data.hpcgate.gov.allow_group[g]]
} else := {"allow": false, "reasons": [{"effect": "Deny", "detail": "no statement allows"}]}

# with_match returns the request x with input.match added, as the gate
# builds it: own is "<action>/<type>/<id>", any "<action>/<type>", groups
# "<action>/<group>" for each of a user's groups, and "ip4:acs:SourceIp"
# or "ip6:acs:SourceIp" the address of acs:SourceIp by its family. Tests and tools that write an input
# by hand pass it through this.
with_match(x) := object.union(x, {"match": object.union(
	{
		"own": concat("/", [x.action, x.principal.type, x.principal.id]),
		"any": concat("/", [x.action, x.principal.type]),
	},
	object.union(match_groups(x), match_ip(x)),
)})

match_groups(x) := {"groups": [concat("/", [x.action, g]) | some g in x.principal.groups]} if {
	x.principal.type == "user"
} else := {}

match_ip(x) := {"ip4:acs:SourceIp": ip} if {
	ip := x.keys["acs:SourceIp"]
	not contains(ip, ":")
} else := {"ip6:acs:SourceIp": ip} if {
	ip := x.keys["acs:SourceIp"]
} else := {}

# Condition functions: the positive test of an operator family on one key.
# The loader writes the positive single-key and ForAllValues forms inline
# (e.g. input.keys["ehpc:Timeout"] <= 600), a negated operator as "not" of
# the positive call, ForAnyValue:X as any_X, ForAnyValue:NotX as
# "not all_X" and ForAllValues:NotX as "not any_X" (AWS IAM semantics);
# every ForAnyValue test behind a guard that the key has a value, and
# ForAnyValue:StringEquals as one rule per value ("v" in input.keys[k]),
# both forms OPA's rule index decides. A key the request lacks makes every
# positive test fail. Multi-valued keys are always present (empty lists
# when the request has no command).

# StringEquals: the value is one of set.
eq(k, set) if set[input.keys[k]]

# StringEqualsIgnoreCase: set holds lowercased values.
eq_ci(k, set) if set[lower(input.keys[k])]

# StringLike: pattern is the glob (no delimiters) of the * and ? patterns.
like(k, pattern) if glob.match(pattern, null, input.keys[k])

any_eq(k, set) if {
	some v in input.keys[k]
	set[v]
}

all_eq(k, set) if {
	every v in input.keys[k] {
		set[v]
	}
}

any_eq_ci(k, set) if {
	some v in input.keys[k]
	set[lower(v)]
}

all_eq_ci(k, set) if {
	every v in input.keys[k] {
		set[lower(v)]
	}
}

any_like(k, pattern) if {
	some v in input.keys[k]
	glob.match(pattern, null, v)
}

all_like(k, pattern) if {
	every v in input.keys[k] {
		glob.match(pattern, null, v)
	}
}

# NumericEquals: nums are the listed values.
num_in(k, nums) if input.keys[k] in nums

# DateEquals: nums are nanoseconds since the epoch; the request's time is
# RFC 3339.
date_in(k, nums) if time.parse_rfc3339_ns(input.keys[k]) in nums

# IpAddress, for NotIpAddress (the positive test is written inline):
# cidrs[false] are the IPv4 ranges, cidrs[true] the IPv6 ones, so that an
# IPv6 address never matches an IPv4 range.
ip_in(k, cidrs) if {
	ip := input.keys[k]
	some cidr in cidrs[contains(ip, ":")]
	net.cidr_contains(cidr, ip)
}
