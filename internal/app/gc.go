package app

import (
	"os"
	"runtime/debug"
)

// SetGCPercent sets the garbage collector's target to percent unless the
// operator chose one with GOGC, which the runtime has already applied.
func SetGCPercent(percent int) {
	if _, ok := os.LookupEnv("GOGC"); !ok {
		debug.SetGCPercent(percent)
	}
}
