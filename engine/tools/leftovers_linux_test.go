package tools

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// What a confined run left running when agent-tui was killed is killed at
// the next start, wherever it moved (a daemon goes to /): it is known by
// the temporary directory its run was given. A process of the user's own
// working in the worktree is not killed, a shell with no filter nor a
// sandboxed one (a flatpak terminal has a filter and no_new_privs too).
func TestKillLeftovers(t *testing.T) {
	if !socketFilterHere() || !filterableLauncher("/bin/sh") {
		t.Skip("no seccomp filter here")
	}
	worktree, tmp := t.TempDir(), t.TempDir()
	left := leaveProcess(t, worktree, WithTMPDIR(os.Environ(), tmp), "cd / && ")
	if cwd, _ := os.Readlink("/proc/" + strconv.Itoa(left) + "/cwd"); cwd != "/" {
		t.Fatalf("leftover works in %q", cwd)
	}
	sandboxed := leaveProcess(t, worktree, WithTMPDIR(os.Environ(), t.TempDir()), "")
	users := exec.Command("sleep", "30")
	users.Dir = worktree
	users.Env = WithTMPDIR(os.Environ(), tmp)
	if err := users.Start(); err != nil {
		t.Fatal(err)
	}
	defer users.Process.Kill()

	if n := KillLeftovers(t.TempDir()); n != 0 {
		t.Fatalf("killed %d elsewhere", n)
	}
	if n := KillLeftovers(tmp); n != 1 {
		t.Errorf("killed %d, want 1", n)
	}
	if !gone(left) {
		t.Error("the leftover lives")
	}
	if err := users.Process.Signal(syscall.Signal(0)); err != nil {
		t.Error("the user's own process was killed")
	}
	if gone(sandboxed) {
		t.Error("the user's sandboxed process in the worktree was killed")
	}
}

// A process a live agent-tui runs (another database's run on the same
// repository) is not a leftover: its ancestors run the same program.
func TestRunBy(t *testing.T) {
	exe, _ := os.Executable()
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	child := exec.Command("sh", "-c", "sleep 30")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	if !runBy(child.Process.Pid, exe) {
		t.Error("a child of this process is not known as run by it")
	}
	if runBy(child.Process.Pid, "/nonexistent/agent-tui") {
		t.Error("run by a program that does not run")
	}
}

// leaveProcess runs a command in dir under the filter (as the sandbox
// gives) that leaves a process in a session of its own, out of reach of
// its group's kill, after prelude; the process is killed when t ends.
func leaveProcess(t *testing.T, dir string, env []string, prelude string) int {
	t.Helper()
	pidFile := filepath.Join(t.TempDir(), "left.pid")
	res, err, ok := execNoUnixSockets(context.Background(), []string{"/bin/sh", "-c", prelude + "setsid -f sh -c 'echo $$ > " + pidFile + "; exec sleep 30' </dev/null >/dev/null 2>&1; " +
		// the run's group is killed as it ends: not before the leftover has left it
		"while [ ! -s " + pidFile + " ]; do sleep 0.01; done"}, dir, env, 10*time.Second, 4096)
	if !ok || err != nil {
		t.Fatalf("%v %v %+v", ok, err, res)
	}
	var left int
	for i := 0; i < 200 && left == 0; i++ {
		time.Sleep(5 * time.Millisecond)
		b, _ := os.ReadFile(pidFile)
		left, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if left == 0 || syscall.Kill(left, 0) != nil {
		t.Fatal("no leftover to find")
	}
	t.Cleanup(func() { syscall.Kill(left, syscall.SIGKILL) })
	return left
}

// gone says whether pid ended (or is a zombie) within a second.
func gone(pid int) bool {
	for range 100 {
		st, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if len(st) == 0 || strings.Contains(string(st), ") Z ") {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}
