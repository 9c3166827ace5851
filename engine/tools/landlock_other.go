//go:build !linux

package tools

import (
	"context"
	"errors"
	"os"
	"syscall"
	"time"
)

func landlockABI() int { return 0 }

func runHelper([]string) error { return errors.New("landlock is only available on Linux") }

func confineThread(writable, readable, hidden []string) error {
	return errors.New("landlock is only available on Linux")
}

// setDeathSignal does nothing: the helper runs on Linux only.
func setDeathSignal(*syscall.SysProcAttr, syscall.Signal) {}

func lowerThreadPriority() {}

// HideEnvironment is a no-op where there is no /proc/<pid>/environ to hide.
func HideEnvironment() error { return nil }

// StashSecrets is a no-op where there is no /proc/<pid>/environ.
func StashSecrets() {}

// execNoUnixSockets has no filter to apply here.
func execNoUnixSockets(context.Context, []string, string, []string, time.Duration, int) (Result, error, bool) {
	return Result{}, nil, false
}

func socketFilterHere() bool { return false }

func filterableLauncher(string) bool { return false }

type groupKeeper struct{}

func keepInGroup() (*groupKeeper, error) { return nil, errors.New("only on Linux") }

func (*groupKeeper) end() int { return 0 }

// KillLeftovers has nothing to find where there is no /proc sandbox.
func KillLeftovers(string) int { return 0 }

// pipeEmpty is not known here: the output is read for as long as
// drainOutput allows.
func pipeEmpty(*os.File) bool { return false }

// closeInheritedOnExec: elsewhere commands run unconfined, and inherit what
// agent-tui inherited.
func closeInheritedOnExec() {}

// onMainThread: commands are not confined from a thread here.
func onMainThread() bool { return false }
