package tools

import "syscall"

// commandNice is how much lower than agent-tui's own the priority of the
// commands it runs is: test runs and builds of many tickets at once must
// not starve the TUI (keys, frames) or the engine's own git work.
const commandNice = 10

// lowerPriority lowers the priority of a command just started, pid, and
// of its group (a session it has made already): what it forks later
// inherits it. A process that cannot be changed (setuid) is left as is.
func lowerPriority(pid int) {
	raw, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0)
	if err != nil {
		return
	}
	nice := min(20-raw+commandNice, 19) // the raw syscall gives 20 - nice
	syscall.Setpriority(syscall.PRIO_PROCESS, pid, nice)
	syscall.Setpriority(syscall.PRIO_PGRP, pid, nice)
}
