package authn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// numericDates are the claims RFC 7519 (section 2) makes NumericDate: a
// JSON number. The JWT library would also read a numeric string.
var numericDates = map[string]bool{"exp": true, "nbf": true, "iat": true}

// maxClaimsDepth bounds the nesting of a claims object.
const maxClaimsDepth = 32

// checkClaims refuses a verified payload that is not one JSON object, has
// a name twice in any object (RFC 7519 section 4: reject, or take the
// last; which one a reader takes must not decide who the caller is), or
// gives exp, nbf or iat as anything but a number.
func checkClaims(payload []byte) error {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return errors.New("claims: not a JSON object")
	}
	if err := checkObject(dec, 1, numericDates); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("claims: data after the object")
	}
	return nil
}

// checkObject reads the members of an object whose '{' was read, through
// its '}'. Members named in numbers must be JSON numbers.
func checkObject(dec *json.Decoder, depth int, numbers map[string]bool) error {
	if depth > maxClaimsDepth {
		return errors.New("claims: nested too deeply")
	}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return fmt.Errorf("claims: %w", err)
		}
		name, _ := t.(string)
		if seen[name] {
			return fmt.Errorf("claims: %s twice", quoteShort(name))
		}
		seen[name] = true
		if numbers[name] {
			v, err := dec.Token()
			if _, ok := v.(json.Number); err != nil || !ok {
				return fmt.Errorf("claims: %s is not a NumericDate (a JSON number)", name)
			}
			continue
		}
		if err := checkValue(dec, depth); err != nil {
			return err
		}
	}
	_, err := dec.Token() // '}'
	return err
}

func checkValue(dec *json.Decoder, depth int) error {
	t, err := dec.Token()
	if err != nil {
		return fmt.Errorf("claims: %w", err)
	}
	switch t {
	case json.Delim('{'):
		return checkObject(dec, depth+1, nil)
	case json.Delim('['):
		if depth+1 > maxClaimsDepth {
			return errors.New("claims: nested too deeply")
		}
		for dec.More() {
			if err := checkValue(dec, depth+1); err != nil {
				return err
			}
		}
		_, err = dec.Token() // ']'
		return err
	}
	return nil
}
