package tools

import (
	"os"
	"strings"
	"sync"
)

// secretsFDVar names, in agent-tui's second start, the descriptor its
// hidden variables come over (see StashSecrets).
const secretsFDVar = "AGENT_TUI_SECRETS_FD"

var (
	stashMu sync.RWMutex
	stashed map[string]string
)

// Getenv is os.Getenv that also sees the variables StashSecrets took out
// of the environment: API keys are read through it.
func Getenv(name string) string {
	stashMu.RLock()
	v, ok := stashed[name]
	stashMu.RUnlock()
	if ok {
		return v
	}
	return os.Getenv(name)
}

// stashable: a variable ("NAME=value") that looks like it holds a
// secret, as ScrubEnv sees it; SSH_AUTH_SOCK is only a socket's path
// (commands do not get it, an editor may use it).
func stashable(kv string) bool {
	name, _, _ := strings.Cut(kv, "=")
	return !strings.EqualFold(name, "SSH_AUTH_SOCK") && secretVar(kv)
}
