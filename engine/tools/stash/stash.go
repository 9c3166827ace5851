// Package stash takes the API keys out of agent-tui's environment as it
// starts (tools.StashSecrets), from its init. That may start the program
// again by exec, and done from main it came after every package was
// initialized, the markdown and highlighting ones taking some 45 ms: a
// start with a key in the environment paid for them twice. This package
// is initialized early for the reason the tools package is (see its
// init). Only main imports it, so of the test binaries only main's
// stashes (its tests pass keys to the processes they start explicitly).
package stash

import "agent-tui/engine/tools"

func init() { tools.StashSecrets() }
