//go:build !linux

package tools

import "errors"

func landlockABI() int { return 0 }

func runHelper([]string) error { return errors.New("landlock is only available on Linux") }

// HideEnvironment is a no-op where there is no /proc/<pid>/environ to hide.
func HideEnvironment() error { return nil }

// StashSecrets is a no-op where there is no /proc/<pid>/environ.
func StashSecrets() {}
