// Command agent-tui carries software tickets through discovery, design,
// planning, tests-first implementation, CI and review with LLM sessions.
package main

import (
	"fmt"
	"os"

	"agent-tui/engine/tools"
)

func main() {
	// a sandboxed run_command re-executes this binary as its helper
	tools.MaybeRunHelper()
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "agent-tui: "+err.Error())
		os.Exit(exitCode(err))
	}
}
