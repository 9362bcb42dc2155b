package trigger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

// Limits of what Decode and DecodePayload accept.
const (
	// DefaultMaxBytes bounds a raw event, a request body and a decoded
	// HTTP body when the caller gives no limit. FC itself accepts 32 MB
	// synchronous payloads; nothing this gateway takes needs more than
	// a few kilobytes.
	DefaultMaxBytes = 1 << 20
	// MaxDepth bounds JSON nesting. FC events nest about six levels;
	// the bound stops hostile input (100k '[') before any decoder
	// recurses.
	MaxDepth = 32
	// MaxBatch bounds the CloudEvents of one EventBridge delivery and
	// the records of one OSS event.
	MaxBatch = 1000
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// checkJSON reports whether b is exactly one well-formed JSON value of
// valid UTF-8, nested at most MaxDepth deep, with no object holding the
// same key twice. Keys that differ only in case count as the same key,
// because encoding/json matches struct fields case-insensitively and
// would otherwise let the later one win silently.
func checkJSON(b []byte) error {
	if bytes.HasPrefix(b, utf8BOM) {
		return errors.New("byte order mark before JSON")
	}
	if !utf8.Valid(b) {
		return errors.New("not valid UTF-8")
	}
	type frame struct {
		object  bool
		wantKey bool
		keys    map[string]bool
	}
	var stack []frame
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if len(stack) > 0 {
				return errors.New("unexpected end of JSON")
			}
			return errors.New("empty input")
		}
		if err != nil {
			return syntaxMessage(err)
		}
		top := len(stack) - 1
		if top >= 0 && stack[top].object && stack[top].wantKey {
			// encoding/json only yields a string or '}' here.
			if k, ok := tok.(string); ok {
				f := foldKey(k)
				if stack[top].keys[f] {
					return fmt.Errorf("duplicate key %q", k)
				}
				stack[top].keys[f] = true
				stack[top].wantKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if len(stack) >= MaxDepth {
				return fmt.Errorf("JSON nested deeper than %d levels", MaxDepth)
			}
			fr := frame{object: tok == json.Delim('{')}
			if fr.object {
				fr.wantKey = true
				fr.keys = map[string]bool{}
			}
			stack = append(stack, fr)
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:top]
		}
		// A value ended: the enclosing object wants a key next.
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].wantKey = true
		}
		if len(stack) == 0 {
			if _, err := dec.Token(); err != io.EOF {
				return errors.New("data after the JSON value")
			}
			if loneSurrogate(b) {
				return errors.New("a string escapes half of a UTF-16 surrogate pair")
			}
			return nil
		}
	}
}

// foldKey folds a key the way encoding/json matches field names.
func foldKey(k string) string {
	return strings.Map(func(r rune) rune { return unicode.ToUpper(unicode.ToLower(r)) }, k)
}

// syntaxMessage turns a decoder error into a short message without
// echoing input.
func syntaxMessage(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("malformed JSON at byte %d: %s", se.Offset, se.Error())
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("unexpected end of JSON")
	}
	return fmt.Errorf("malformed JSON: %v", err)
}

// object splits a checked JSON object into its members. It fails when b
// is not an object.
func object(b []byte) (map[string]json.RawMessage, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return nil, errors.New("want a JSON object")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// kindOf names the JSON type of a raw value, for messages.
func kindOf(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

func isNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// str decodes a JSON string member; null is refused.
func str(raw json.RawMessage, field string) (string, error) {
	var s string
	if isNull(raw) || json.Unmarshal(raw, &s) != nil {
		return "", fmt.Errorf("%s: want a string, got %s", field, kindOf(raw))
	}
	return s, nil
}

// boolean decodes a JSON boolean member; null is refused.
func boolean(raw json.RawMessage, field string) (bool, error) {
	var v bool
	if isNull(raw) || json.Unmarshal(raw, &v) != nil {
		return false, fmt.Errorf("%s: want true or false, got %s", field, kindOf(raw))
	}
	return v, nil
}

// stringMap decodes an object of strings; null is an empty map.
func stringMap(raw json.RawMessage, field string) (map[string]string, error) {
	if isNull(raw) {
		return nil, nil
	}
	m, err := object(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: want an object of strings, got %s", field, kindOf(raw))
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		s, err := str(v, field+"."+k)
		if err != nil {
			return nil, err
		}
		out[k] = s
	}
	return out, nil
}

// eventError is the one error shape of an event that is not recognized.
func eventError(format string, args ...any) *hpcgate.Error {
	return hpcgate.Errorf(hpcgate.CodeInvalidEvent, format, args...)
}

// tooLarge is the error of input over its byte cap.
func tooLarge(what string, n, limit int) *hpcgate.Error {
	return hpcgate.Errorf(hpcgate.CodeTooLarge, "%s is %d bytes, over the limit of %d", what, n, limit)
}
