package localstack

import "syscall"

// childAttrs puts the functions process in its own process group and has
// the kernel kill it if the stack's process dies without stopping it.
func childAttrs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
