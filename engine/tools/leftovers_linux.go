package tools

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// KillLeftovers kills the confined processes that were given a temporary
// directory beneath tmpRoot and that no live agent-tui runs: what the test
// runs and commands of an agent-tui that was killed (kill -9, a crash) left
// running, which no one else stops and which would change the worktrees
// under the next run (a daemon moves to / as it starts, but keeps the
// environment it was given). Confined means what agent-tui's sandbox gives
// every such process: no_new_privs and a seccomp filter; a sandboxed shell
// of the user's has them too, which is why the temporary directory, which
// only agent-tui gives, decides. It returns how many it killed.
func KillLeftovers(tmpRoot string) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	exe, _ := os.Executable()
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
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
		if tmp := environValue(pid, "TMPDIR"); tmp == "" || !within(filepath.Clean(tmp), tmpRoot) {
			continue
		}
		if runBy(pid, exe) {
			continue // a live run's (another database on this repository)
		}
		if unix.Kill(pid, unix.SIGKILL) == nil {
			killed++
		}
	}
	return killed
}

// runBy says whether one of pid's ancestors runs the program exe.
func runBy(pid int, exe string) bool {
	for range 64 {
		ppid, err := statusField(pid, "PPid:")
		if err != nil || ppid <= 1 {
			return false
		}
		if p, err := os.Readlink("/proc/" + strconv.Itoa(ppid) + "/exe"); err == nil && p == exe {
			return true
		}
		pid = ppid
	}
	return false
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
