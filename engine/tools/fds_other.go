//go:build !linux

package tools

// closeInheritedOnExec: elsewhere commands run unconfined, and inherit what
// agent-tui inherited.
func closeInheritedOnExec() {}
