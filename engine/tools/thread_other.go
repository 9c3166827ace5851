//go:build !linux

package tools

// onMainThread: commands are not confined from a thread here.
func onMainThread() bool { return false }
