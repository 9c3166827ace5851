package tools

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// KillLeftovers kills the confined processes working in dirs, or given a
// temporary directory beneath them: what the test runs and commands of an
// agent-tui that was killed (kill -9, a crash) left running, which no one
// else stops and which would change the worktrees under the next run (a
// daemon moves to / as it starts, but keeps the environment it was given).
// Confined means what agent-tui's sandbox gives every such process and a
// user's shell lacks: no_new_privs and a seccomp filter. It returns how
// many it killed.
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
		mode, err1 := statusField(pid, "Seccomp:")
		nnp, err2 := statusField(pid, "NoNewPrivs:")
		if err1 != nil || err2 != nil || mode != 2 || nnp != 1 {
			continue
		}
		inDirs := func(p string) bool { return slices.ContainsFunc(dirs, func(d string) bool { return within(p, d) }) }
		if cwd, err := os.Readlink("/proc/" + e.Name() + "/cwd"); err != nil || !inDirs(cwd) {
			if tmp := environValue(pid, "TMPDIR"); tmp == "" || !inDirs(filepath.Clean(tmp)) {
				continue
			}
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

// environValue is name's value in the environment pid started with, "" when
// it has none or cannot be read (another user's process).
func environValue(pid int, name string) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return ""
	}
	for kv := range strings.SplitSeq(string(b), "\x00") {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}
