//go:build unix

// Package cputime reads the process's CPU time, for benchmarks on a shared host:
// CPU time per operation is what the wall time would be if every thread had a
// core of its own, so it stays meaningful when other work competes for the cores.
package cputime

import (
	"syscall"
	"time"
)

// Now returns the user + system CPU time the process has used so far (0 if the
// system does not report it).
func Now() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
