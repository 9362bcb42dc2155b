package route

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/hpcgate/hpcgate/function/internal/hpcgate"
)

// Validate checks routes as governance data loading needs: every route
// has a unique non-empty name, trigger "oss" or "eventbridge" (source and
// type only on eventbridge routes), non-empty patterns, a clusterId, a
// timeout of 0 (default) or more, non-empty instance ids, and a non-empty
// argv whose first element is a literal program and whose placeholders
// are all known. No string may hold NUL or invalid UTF-8. The error
// names the route and the field.
func Validate(routes []hpcgate.Route) error {
	seen := map[string]bool{}
	for i, r := range routes {
		where := fmt.Sprintf("routes[%d]", i)
		if r.Name != "" {
			where = fmt.Sprintf("routes[%d] %q", i, r.Name)
		}
		if err := validateRoute(r); err != nil {
			return fmt.Errorf("%s: %v", where, err)
		}
		if seen[r.Name] {
			return fmt.Errorf("%s: name: used twice", where)
		}
		seen[r.Name] = true
	}
	return nil
}

func validateRoute(r hpcgate.Route) error {
	if r.Name == "" {
		return fmt.Errorf("name: empty")
	}
	m := r.Match
	switch m.Trigger {
	case hpcgate.TriggerOSS:
		if len(m.Source) > 0 || len(m.Type) > 0 {
			return fmt.Errorf("match: source and type are for eventbridge routes")
		}
	case hpcgate.TriggerEventBridge:
	default:
		return fmt.Errorf("match.trigger: want %q or %q, got %q", hpcgate.TriggerOSS, hpcgate.TriggerEventBridge, m.Trigger)
	}
	for field, list := range map[string][]string{"bucket": m.Bucket, "events": m.Events, "source": m.Source, "type": m.Type} {
		for j, p := range list {
			if p == "" || !clean(p) {
				return fmt.Errorf("match.%s[%d]: want a non-empty pattern", field, j)
			}
		}
	}
	if !clean(m.Prefix) || !clean(m.Suffix) {
		return fmt.Errorf("match: prefix or suffix holds NUL or invalid UTF-8")
	}
	q := r.Request
	if q.ClusterID == "" || !clean(q.ClusterID) {
		return fmt.Errorf("request.clusterId: want a cluster id")
	}
	if !clean(q.WorkingDir) {
		return fmt.Errorf("request.workingDir: holds NUL or invalid UTF-8")
	}
	if q.Timeout < 0 {
		return fmt.Errorf("request.timeout: negative")
	}
	for j, id := range q.InstanceIDs {
		if id == "" || !clean(id) {
			return fmt.Errorf("request.instanceIds[%d]: want a node id", j)
		}
	}
	if len(q.Argv) == 0 {
		return fmt.Errorf("request.argv: empty")
	}
	for j, a := range q.Argv {
		if !clean(a) {
			return fmt.Errorf("request.argv[%d]: holds NUL or invalid UTF-8", j)
		}
		segs, err := parseTemplate(a)
		if err != nil {
			return fmt.Errorf("request.argv[%d]: %v", j, err)
		}
		if j == 0 && (a == "" || len(segs) != 1 || segs[0].placeholder) {
			return fmt.Errorf("request.argv[0]: want a literal program, not %q", a)
		}
	}
	return nil
}

func clean(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }

// ValidateOne checks one route as Validate does, without the check that
// names are unique (the loader checks those across files).
func ValidateOne(r hpcgate.Route) error { return validateRoute(r) }
