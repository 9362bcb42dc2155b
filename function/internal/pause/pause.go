// Package pause waits between attempts without outliving a context: the
// one timer-and-select every retry and poll loop of the function uses.
package pause

import (
	"context"
	"time"
)

// Within waits d and reports true, unless ctx ends first or would end
// within d: then it reports false (at once when the deadline is nearer
// than d, since whatever follows the pause would have no time left).
func Within(ctx context.Context, d time.Duration) bool {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= d {
		return false
	}
	return For(ctx, d)
}

// For waits d and reports whether ctx is still live. Unlike Within it
// never gives up early because d would reach past a deadline: a wait of N
// seconds lasts N seconds.
func For(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
