package hpcgate

import (
	"strings"
	"testing"
)

func TestWildcard(t *testing.T) {
	cases := []struct {
		p, s string
		want bool
	}{
		// RAM actions and resources.
		{"ehpc:*", "ehpc:invokeshellcommand", true},
		{"ehpc:invoke*", "ehpc:listinvocationresults", false},
		{"ehpc:list?nvocationresults", "ehpc:listinvocationresults", true},
		{"ehpc:list?nvocationresults", "ehpc:listnvocationresults", false},
		{"*:*results", "ehpc:listinvocationresults", true},
		{"ehpc:*a*b", "ehpc:xaxb", true},
		{"ehpc:*a*b", "ehpc:xaxbx", false},
		// Event routes.
		{"", "", true}, {"*", "", true}, {"*", "abc", true}, {"a*", "abc", true}, {"a*c", "abc", true}, {"a*d", "abc", false},
		{"?", "é", true}, {"a?c", "abc", true}, {"a?c", "ac", false}, {"ObjectCreated:*", "ObjectCreated:PutObject", true},
		{"ObjectCreated:*", "ObjectRemoved:DeleteObject", false}, {"*a*a*a*b", strings.Repeat("a", 200), false},
		{"[ab]", "a", false}, {"[ab]", "[ab]", true}, {"A*", "abc", false},
	}
	for _, c := range cases {
		if got := Wildcard(c.p, c.s); got != c.want {
			t.Errorf("Wildcard(%q, %q) = %v, want %v", c.p, c.s, got, c.want)
		}
	}
}
