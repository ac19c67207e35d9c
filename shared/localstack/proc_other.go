//go:build !linux

package localstack

import "syscall"

// childAttrs puts the functions process in its own process group.
func childAttrs() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
