package hpcgate

import "regexp"

// Pattern is a regular expression of ASCII characters with a bound on the
// length of what it matches: the form for identifiers such as
// ^ehpc-[A-Za-z0-9-]{1,64}$. Written as a counted repetition, such a
// pattern compiles into as many copies of its class (85 µs and 53 KB for
// {1,64}, at start-up); written with + and a length bound, into a few
// instructions.
type Pattern struct {
	re  *regexp.Regexp
	max int
}

// MustPattern compiles expr, which must match only ASCII strings, for
// strings of at most max bytes.
func MustPattern(expr string, max int) Pattern {
	return Pattern{re: regexp.MustCompile(expr), max: max}
}

// MatchString reports whether s is at most max bytes long and matches.
func (p Pattern) MatchString(s string) bool { return len(s) <= p.max && p.re.MatchString(s) }

// Wildcard reports whether s matches pattern, where * is any run of
// characters (including none) and ? exactly one character; nothing else
// is special and matching is case-sensitive. It is the one glob of the
// gateway: RAM Action and Resource patterns, String*Like conditions and
// event routes all use it. It backtracks only to the last *, so it runs in
// O(len(pattern)*len(s)) at worst, with no recursion.
func Wildcard(pattern, s string) bool {
	p, r := []rune(pattern), []rune(s)
	pi, ri, star, mark := 0, 0, -1, 0
	for ri < len(r) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == r[ri]):
			pi++
			ri++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, ri
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			ri = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
