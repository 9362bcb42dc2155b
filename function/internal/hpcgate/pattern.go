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
