//go:build unix

package eval

import (
	"syscall"
	"time"
)

// cpuNow is the process's user+system CPU time, for benchmarks on a shared host.
func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
