// Command agent-tui carries software tickets through discovery, design,
// planning, tests-first implementation, CI and review with LLM sessions.
package main

import (
	"fmt"
	"os"
	"runtime/pprof"

	"agent-tui/engine/tools"
	// the keys leave the environment /proc shows (this may exec us again)
	_ "agent-tui/engine/tools/stash"
)

func main() {
	// a sandboxed run_command starts this binary again as its helper
	// (which runs from the tools package's init, and never gets here)
	tools.InstallHelper()
	// the keys are in our environment: no command we start may read it
	if err := tools.HideEnvironment(); err != nil {
		fmt.Fprintln(os.Stderr, "agent-tui: cannot hide the environment from commands: "+err.Error())
	}
	if path := os.Getenv("AGENT_TUI_CPUPROFILE"); path != "" {
		// for measuring start-up and commands, not a user feature
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "agent-tui: "+errorLine(err.Error()))
		pprof.StopCPUProfile()
		os.Exit(exitCode(err))
	}
}
