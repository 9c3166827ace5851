package tools

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Nothing a test run starts outlives it, not even what left its process
// group (setsid -f, setpgid): the groups it made are killed with it, and
// while it runs they are real (timeout signals the group it made for its
// command, not the run). The run's own session is its own.
func TestConfinedRunLeavesNothingBehind(t *testing.T) {
	if !LandlockUsable() || !socketFilterHere() {
		t.Skip("no Landlock or seccomp filter here")
	}
	wt := t.TempDir()
	late := func(name string) string {
		return "sleep 1; echo late > " + filepath.Join(wt, name)
	}
	script := "setsid -f sh -c '" + late("by-setsid") + "' </dev/null >/dev/null 2>&1 && echo setsid-ok; " +
		"perl -e 'setpgrp(0,0) or die qq(setpgrp: $!\\n); exit(0) if fork; sleep 1; open(my $f, q(>), q(" + filepath.Join(wt, "by-setpgid") + ")); print $f qq(late\\n)' </dev/null >/dev/null 2>&1 && echo setpgid-ok; " +
		"perl -e 'use POSIX; print((POSIX::setsid() > 0 ? q(new-session) : qq(setsid: $!)), qq(\\n))'; " +
		"timeout 0.2 sleep 5; echo timeout-said $?; " +
		"ps -o sid= -p $$ > own-session"
	if _, err := exec.LookPath("perl"); err != nil {
		t.Skip("no perl")
	}
	start := time.Now()
	res, err := ExecConfined(context.Background(), []string{"sh", "-c", script}, wt, os.Environ(), 10*time.Second, 4096, []string{wt, "/dev/null"}, nil, nil)
	if err != nil || res.Unconfined != "" {
		t.Fatalf("%v %s", err, res.Unconfined)
	}
	if time.Since(start) > 900*time.Millisecond {
		t.Fatalf("the run waited for what it left: %s %q", time.Since(start), res.Output)
	}
	// timeout kills the group it made for its command: the run's own lives
	for _, want := range []string{"setsid-ok", "setpgid-ok", "new-session", "timeout-said 124"} {
		if !strings.Contains(res.Output, want) {
			t.Errorf("no %s in %q", want, res.Output)
		}
	}
	// the run had a session of its own (Exec's setsid went through)
	if sid, err := os.ReadFile(filepath.Join(wt, "own-session")); err != nil || strings.TrimSpace(string(sid)) == "" {
		t.Errorf("session: %q %v", sid, err)
	} else if mine, _ := exec.Command("ps", "-o", "sid=", "-p", strconv.Itoa(os.Getpid())).Output(); strings.TrimSpace(string(sid)) == strings.TrimSpace(string(mine)) {
		t.Errorf("the run shares agent-tui's session %s", sid)
	}
	time.Sleep(1500 * time.Millisecond)
	for _, name := range []string{"by-setsid", "by-setpgid"} {
		if _, err := os.Stat(filepath.Join(wt, name)); err == nil {
			t.Errorf("a process that left the group (%s) outlived the run and wrote the worktree", name)
		}
	}
}

// The model's commands under Landlock the same: timeout works, and what
// left the command's group is gone when run_command returns.
func TestConfinedCommandsLeaveNoGroupBehind(t *testing.T) {
	if !landlockWorks() || !socketFilterHere() || setsidProgram() == "" {
		t.Skip("no Landlock, filter or setsid(1) here")
	}
	dir := t.TempDir()
	b, err := newWithMode(Options{Root: dir, TempDir: filepath.Join(dir, ".tmp"), CommandTimeout: time.Minute}, sandboxLandlock)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	res, isErr := call(t, b, "run_command", map[string]any{"command": "setsid -f sh -c 'sleep 1; echo late > late' </dev/null >/dev/null 2>&1; " +
		"timeout 0.2 sleep 5; echo timeout-said $?"})
	if isErr || !strings.Contains(res, "timeout-said 124") {
		t.Fatalf("%s", res)
	}
	time.Sleep(1500 * time.Millisecond)
	if _, err := os.Stat(filepath.Join(dir, "late")); err == nil {
		t.Error("what left the command's group outlived it")
	}
}

// A test command that cannot run at all (a bad #! line) is an error, as
// unconfined, not a failed test.
func TestConfinedRunThatCannotStart(t *testing.T) {
	if !LandlockUsable() || !socketFilterHere() || setsidProgram() == "" {
		t.Skip("no Landlock, filter or setsid(1) here")
	}
	wt := t.TempDir()
	script := filepath.Join(wt, "run_tests.sh")
	if err := os.WriteFile(script, []byte("#!/no/such/interpreter\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	_, plainErr := Exec(context.Background(), []string{script}, wt, os.Environ(), 10*time.Second, 4096)
	res, err := ExecConfined(context.Background(), []string{script}, wt, os.Environ(), 10*time.Second, 4096, []string{wt}, nil, nil)
	if plainErr == nil || err == nil || !strings.HasPrefix(err.Error(), "cannot run command: ") {
		t.Fatalf("unconfined: %v; confined: %v %+v", plainErr, err, res)
	}
}
