package pause

import (
	"context"
	"testing"
	"time"
)

func TestPause(t *testing.T) {
	live := context.Background()
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	near, cancelNear := context.WithTimeout(context.Background(), time.Hour)
	defer cancelNear()
	for _, tc := range []struct {
		name         string
		ctx          context.Context
		d            time.Duration
		within, for_ bool
	}{
		{"live context", live, time.Millisecond, true, true},
		{"ended context", ended, time.Hour, false, false},
		// Within gives up at once when the deadline comes first; For
		// would wait, so it is not called with a long d here.
		{"deadline nearer than d", near, 2 * time.Hour, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Within(tc.ctx, tc.d); got != tc.within {
				t.Errorf("Within = %v, want %v", got, tc.within)
			}
			if tc.ctx == near {
				return
			}
			if got := For(tc.ctx, tc.d); got != tc.for_ {
				t.Errorf("For = %v, want %v", got, tc.for_)
			}
		})
	}
}
