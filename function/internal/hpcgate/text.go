package hpcgate

import (
	"net"
	"unicode"
)

// ForbiddenRune names the class of a character that no command or working
// directory may contain, or returns "". These characters either do nothing
// useful in a shell command or a path, or make what a reader sees differ
// from what runs (bidi overrides, zero-width characters).
func ForbiddenRune(r rune) string {
	switch {
	case r == 0:
		return "NUL byte"
	case r == '\r':
		return "carriage return"
	case r < 0x20 && r != '\t' && r != '\n':
		return "control character"
	case r == 0x7f:
		return "control character DEL"
	case r >= 0x80 && r <= 0x9f:
		return "C1 control character"
	case r == 0x2028 || r == 0x2029:
		return "line or paragraph separator"
	case unicode.Is(unicode.Cf, r):
		return "invisible format character"
	}
	return ""
}

// IsLoopbackHost reports whether host (a name or an address, as in a URL
// or a listen address, without brackets) is "localhost" or a loopback
// address: the only hosts a plain-http endpoint or an unauthenticated
// listener may name.
func IsLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
