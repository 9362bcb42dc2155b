package shellscan

import "unicode/utf8"

// ansiC decodes the body of a $'…' string the way bash's ansicstr does when
// the parser expands it. Bash strings are C strings, so the result ends at
// the first NUL byte: $'rm\0junk' runs rm. exact is false when the body has
// a \u or \U escape that is no Unicode character (a surrogate, or above
// U+10FFFF): bash then writes bytes that depend on its locale and C
// library ($'\U4001F600' is a six-byte sequence under C.UTF-8), so the text
// cannot be known.
func ansiC(dst []byte, s string) (out []byte, exact bool) {
	exact = true
	start := len(dst)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			dst = append(dst, c)
			continue
		}
		i++
		c = s[i]
		switch c {
		case 'a':
			dst = append(dst, '\a')
		case 'b':
			dst = append(dst, '\b')
		case 'e', 'E':
			dst = append(dst, 0x1b)
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'v':
			dst = append(dst, '\v')
		case '\\', '\'', '"', '?':
			dst = append(dst, c)
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(c - '0')
			for n := 0; n < 2 && i+1 < len(s) && isOctal(s[i+1]); n++ {
				i++
				v = v*8 + int(s[i]-'0')
			}
			dst = append(dst, byte(v))
		case 'x':
			if i+1 < len(s) && s[i+1] == '{' {
				// \x{HHH…}: any number of hex digits, then an optional '}'.
				i++
				v := 0
				for i+1 < len(s) && hexVal(s[i+1]) >= 0 {
					i++
					v = (v*16 + hexVal(s[i])) & 0xFFFF
				}
				if i+1 < len(s) && s[i+1] == '}' {
					i++
				}
				dst = append(dst, byte(v))
				break
			}
			v, n := 0, 0
			for ; n < 2 && i+1 < len(s) && hexVal(s[i+1]) >= 0; n++ {
				i++
				v = v*16 + hexVal(s[i])
			}
			if n == 0 {
				dst = append(dst, '\\', 'x')
				break
			}
			dst = append(dst, byte(v))
		case 'u', 'U':
			limit := 4
			if c == 'U' {
				limit = 8
			}
			var v rune
			n := 0
			for ; n < limit && i+1 < len(s) && hexVal(s[i+1]) >= 0; n++ {
				i++
				v = v*16 + rune(hexVal(s[i]))
			}
			if n > 0 && !utf8.ValidRune(v) {
				exact = false
			}
			switch {
			case n == 0:
				dst = append(dst, '\\', c)
			case v <= 0x7f:
				dst = append(dst, byte(v))
			default:
				// Bash converts to the locale's encoding; UTF-8 is assumed,
				// and a value that is no character becomes U+FFFD.
				dst = utf8.AppendRune(dst, v)
			}
		case 'c':
			if i+1 == len(s) {
				dst = append(dst, '\\', 'c')
				break
			}
			i++
			x := s[i]
			if x == '\\' && i+1 < len(s) && s[i+1] == '\\' {
				i++
			}
			if x == '?' {
				dst = append(dst, 0x7f)
			} else {
				dst = append(dst, upper(x)&0x1f)
			}
		default:
			dst = append(dst, '\\', c)
		}
	}
	for j := start; j < len(dst); j++ {
		if dst[j] == 0 {
			return dst[:j], exact
		}
	}
	return dst, exact
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// dqUnescape removes the backslashes that bash removes inside double quotes:
// only before $ ` " \ and newline.
func dqUnescape(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case '$', '`', '"', '\\':
				i++
				c = s[i]
			case '\n':
				i++
				continue
			}
		}
		dst = append(dst, c)
	}
	return dst
}
