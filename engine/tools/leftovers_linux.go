package tools

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// KillLeftovers kills the confined processes working in dirs: what the
// test runs and commands of an agent-tui that was killed (kill -9, a
// crash) left running there, which no one else stops and which would
// change the worktrees under the next run. Confined means what agent-tui's
// sandbox gives every such process and a user's shell lacks: no_new_privs
// and a seccomp filter. It returns how many it killed.
func KillLeftovers(dirs []string) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	self := os.Getpid()
	killed := 0
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self || pid <= 1 {
			continue
		}
		cwd, err := os.Readlink("/proc/" + e.Name() + "/cwd")
		if err != nil || !slices.ContainsFunc(dirs, func(d string) bool { return within(cwd, d) }) {
			continue
		}
		mode, err1 := statusField(pid, "Seccomp:")
		nnp, err2 := statusField(pid, "NoNewPrivs:")
		if err1 != nil || err2 != nil || mode != 2 || nnp != 1 {
			continue
		}
		if unix.Kill(pid, unix.SIGKILL) == nil {
			killed++
		}
	}
	return killed
}

// within says whether path is dir or beneath it.
func within(path, dir string) bool {
	dir = filepath.Clean(dir)
	return path == dir || strings.HasPrefix(path, dir+string(filepath.Separator))
}
