package templates

import (
	"runtime/debug"
	"testing"
)

// gcPercent returns the collector's current target.
func gcPercent() int {
	v := debug.SetGCPercent(100)
	debug.SetGCPercent(v)
	return v
}

func TestRelaxGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, start := range []int{100, 50, 800, -1} {
		debug.SetGCPercent(start)
		want := max(start, relaxedGCPercent)
		if start < 0 {
			want = start
		}
		first := relaxGC()
		second := relaxGC()
		if got := gcPercent(); got != want {
			t.Errorf("GOGC %d: during two preflights %d; want %d", start, got, want)
		}
		first()
		if got := gcPercent(); got != want {
			t.Errorf("GOGC %d: while one preflight still runs %d; want %d", start, got, want)
		}
		second()
		if got := gcPercent(); got != start {
			t.Errorf("GOGC %d: after the preflights %d; want it restored", start, got)
		}
	}
}
