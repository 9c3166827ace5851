package tools

import "golang.org/x/sys/unix"

// onMainThread says the calling goroutine runs on the process's first
// thread, its thread group leader.
func onMainThread() bool { return unix.Gettid() == unix.Getpid() }
