//go:build !linux

package sweep

import "os/exec"

// setParentDeathSignal is Linux-only (prctl PR_SET_PDEATHSIG); elsewhere a child
// outlives a killed parent and finishes its run under its own lock.
func setParentDeathSignal(cmd *exec.Cmd) {}
