//go:build !unix

package scheduler

// processExists cannot tell here: a dead process's lease lapses instead.
func processExists(int) bool { return true }
