package route

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Placeholders a route's argv may hold.
// Placeholders lists the names a route's argv may use, as {name}.
var Placeholders = []string{"bucket", "object.key", "object.size", "object.etag", "event.name", "event.time", "event.id", "region"}

// segment is a piece of an argv template: literal text or a placeholder.
type segment struct {
	text        string
	placeholder bool
}

// parseTemplate splits an argv element. {name} with name made of
// letters, digits, '_' and '.' (starting with a letter) is a placeholder
// and must be one of placeholders; "{{" is a literal "{"; any other brace
// is literal, so "{print $1}" needs no escaping.
func parseTemplate(elem string) ([]segment, error) {
	var segs []segment
	var lit strings.Builder
	for i := 0; i < len(elem); {
		if strings.HasPrefix(elem[i:], "{{") {
			lit.WriteByte('{')
			i += 2
			continue
		}
		if elem[i] == '{' {
			if n := nameLen(elem[i+1:]); n > 0 && i+1+n < len(elem) && elem[i+1+n] == '}' {
				name := elem[i+1 : i+1+n]
				if !isPlaceholder(name) {
					return nil, fmt.Errorf("unknown placeholder {%s} (known: {%s})", name, strings.Join(Placeholders, "}, {"))
				}
				if lit.Len() > 0 {
					segs = append(segs, segment{text: lit.String()})
					lit.Reset()
				}
				segs = append(segs, segment{text: name, placeholder: true})
				i += n + 2
				continue
			}
		}
		lit.WriteByte(elem[i])
		i++
	}
	if lit.Len() > 0 || len(segs) == 0 {
		segs = append(segs, segment{text: lit.String()})
	}
	return segs, nil
}

func nameLen(s string) int {
	n := 0
	for n < len(s) {
		c := s[n]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || n > 0 && (c >= '0' && c <= '9' || c == '_' || c == '.')
		if !ok {
			break
		}
		n++
	}
	return n
}

func isPlaceholder(name string) bool {
	for _, p := range Placeholders {
		if p == name {
			return true
		}
	}
	return false
}

// Expand puts values into an argv template. Each element stays one
// element whatever the values hold. An element that a placeholder starts
// and that comes out starting with "-" would be read as an option
// ("{object.key}.csv" with the key "--output=/tmp/x" is
// "--output=/tmp/x.csv"), so it is refused unless an earlier element is
// "--": rewriting it ("./-x") would hand the program a different string
// than the object's name, and refusing keeps every argv exactly what the
// route and the event say. Write "--" before the placeholder to accept
// such names. An element that starts with literal text is the route
// author's own and is not judged. Values must be valid UTF-8 without NUL;
// the caller judges what a value means (an object key, say) before.
func Expand(tmpl []string, v map[string]string) ([]string, error) {
	argv := make([]string, len(tmpl))
	dashdash := false
	for i, elem := range tmpl {
		segs, err := parseTemplate(elem)
		if err != nil {
			return nil, fmt.Errorf("argv[%d]: %v", i, err)
		}
		var b strings.Builder
		for _, s := range segs {
			if !s.placeholder {
				b.WriteString(s.text)
				continue
			}
			val, ok := v[s.text]
			if !ok {
				return nil, fmt.Errorf("argv[%d]: {%s} has no value for this event", i, s.text)
			}
			if err := checkValue(val); err != nil {
				return nil, fmt.Errorf("argv[%d]: {%s}: %v", i, s.text, err)
			}
			b.WriteString(val)
		}
		argv[i] = b.String()
		if segs[0].placeholder && strings.HasPrefix(argv[i], "-") && !dashdash {
			return nil, fmt.Errorf("argv[%d]: %.60q starts with \"-\" from {%s} and no \"--\" comes before it", i, argv[i], segs[0].text)
		}
		if elem == "--" {
			dashdash = true
		}
	}
	return argv, nil
}

// checkValue refuses values no argument should carry.
func checkValue(val string) error {
	if !utf8.ValidString(val) || strings.ContainsRune(val, utf8.RuneError) {
		return errors.New("not valid UTF-8")
	}
	if strings.ContainsRune(val, 0) {
		return errors.New("holds a NUL character")
	}
	return nil
}
