package tools

import "golang.org/x/sys/unix"

// commandNice is how much lower than agent-tui's own the priority of the
// commands it runs is: test runs and builds of many tickets at once must
// not starve the TUI (keys, frames) or the engine's own git work.
const commandNice = 10

// lowerThreadPriority lowers the calling thread's priority by commandNice
// (Linux keeps a nice value per thread): for a thread locked to start a
// command and then end, never one Go gives back to other goroutines.
func lowerThreadPriority() {
	tid := unix.Gettid()
	raw, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
	if err != nil {
		return
	}
	unix.Setpriority(unix.PRIO_PROCESS, tid, min(20-raw+commandNice, 19)) // the raw syscall gives 20 - nice
}
