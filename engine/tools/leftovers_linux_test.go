package tools

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// What a confined command left running in a worktree when agent-tui was
// killed is killed at the next start; a process of the user's own working
// there (a shell, no filter) is not.
func TestKillLeftovers(t *testing.T) {
	if !socketFilterHere() || !filterableLauncher("/bin/sh") {
		t.Skip("no seccomp filter here")
	}
	dir := t.TempDir()
	pidFile := dir + "/left.pid"
	// a command under the filter (as the sandbox gives) that leaves a
	// process in a session of its own, out of reach of its group's kill
	res, err, ok := execNoUnixSockets(context.Background(), []string{"/bin/sh", "-c", "setsid -f sh -c 'echo $$ > " + pidFile + "; exec sleep 30' </dev/null >/dev/null 2>&1"}, dir, os.Environ(), 10*time.Second, 4096)
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
	defer syscall.Kill(left, syscall.SIGKILL)
	users := exec.Command("sleep", "30")
	users.Dir = dir
	if err := users.Start(); err != nil {
		t.Fatal(err)
	}
	defer users.Process.Kill()

	if n := KillLeftovers([]string{t.TempDir()}); n != 0 {
		t.Fatalf("killed %d elsewhere", n)
	}
	if n := KillLeftovers([]string{dir}); n != 1 {
		t.Errorf("killed %d, want 1", n)
	}
	time.Sleep(50 * time.Millisecond)
	if st, _ := os.ReadFile("/proc/" + strconv.Itoa(left) + "/stat"); len(st) > 0 && !strings.Contains(string(st), ") Z ") {
		t.Error("the leftover lives")
	}
	if err := users.Process.Signal(syscall.Signal(0)); err != nil {
		t.Error("the user's own process was killed")
	}
}
