package sweep

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal makes the kernel send the child SIGTERM when this process
// dies (even by SIGKILL), so an orphaned run checkpoints and stops instead of
// training on under a lock whose owner is gone.
func setParentDeathSignal(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGTERM
}
