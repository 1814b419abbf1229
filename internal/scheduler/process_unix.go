//go:build unix

package scheduler

import (
	"errors"
	"syscall"
)

// processExists reports whether a process of this host has the pid; a
// process we may not signal exists.
func processExists(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
