// Package policy authorizes requests with governance data in Alibaba Cloud
// RAM grammar, evaluated by the built-in Rego library (policies/lib) with
// OPA. Compile validates and shapes the governance data once, so that each
// Decide looks up only the statements attached to the principal; an Engine
// holds the current compiled Set and swaps it atomically. A deny is
// explained from the statements the Set keeps (explain.go): the values that
// made each Deny match, or the near misses of an implicit deny. Every failure to
// decide is an error with code PolicyUnavailable, so callers fail closed.
package policy
