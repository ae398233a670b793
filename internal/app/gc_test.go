package app

import (
	"os"
	"runtime/debug"
	"testing"
)

// The target given applies unless GOGC is set: then the runtime already
// applied GOGC at start, and SetGCPercent leaves it alone.
func TestSetGCPercent(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100)) // restore the test binary's own
	t.Setenv("GOGC", "300")                           // restored after the test, whatever happens below

	debug.SetGCPercent(100)
	SetGCPercent(250)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC set: GC percent %d after SetGCPercent, want it left at 100", got)
	}

	os.Unsetenv("GOGC")
	SetGCPercent(250)
	if got := debug.SetGCPercent(100); got != 250 {
		t.Errorf("GOGC unset: GC percent %d, want 250", got)
	}
}
