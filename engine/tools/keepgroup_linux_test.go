package tools

import (
	"context"
	"runtime"
	"slices"

	"golang.org/x/sys/unix"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
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
	// what is left sleeps 3 s: a run that waited for it takes that long,
	// one that did not takes far less even on a loaded machine
	late := func(name string) string {
		return "sleep 3; echo late > " + filepath.Join(wt, name)
	}
	script := "setsid -f sh -c '" + late("by-setsid") + "' </dev/null >/dev/null 2>&1 && echo setsid-ok; " +
		"perl -e 'setpgrp(0,0) or die qq(setpgrp: $!\\n); exit(0) if fork; sleep 3; open(my $f, q(>), q(" + filepath.Join(wt, "by-setpgid") + ")); print $f qq(late\\n)' </dev/null >/dev/null 2>&1 && echo setpgid-ok; " +
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
	if time.Since(start) > 2500*time.Millisecond {
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
	time.Sleep(time.Until(start.Add(3500 * time.Millisecond)))
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

// The keeper notes only the groups a call can make: the calling process's
// (not its thread's id), or its child's; never one it would join, never
// group 1 nor a process not its own; and a caller in a pid namespace of
// its own, whose pids are not ours, is refused.
func TestKeeperNotesOnlyGroupsTheRunMakes(t *testing.T) {
	k := &groupKeeper{}
	call := func(tid int, nr int32, args ...uint64) seccompNotifResp {
		n := seccompNotif{ID: 1, Pid: uint32(tid)}
		n.Data.Nr = nr
		copy(n.Data.Args[:], args)
		return k.answer(&n)
	}
	me := os.Getpid()
	// a thread that is not the main one: of two locked at once, one is not
	tids := make(chan int, 2)
	release := make(chan struct{})
	defer close(release)
	for range 2 {
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			tids <- unix.Gettid()
			<-release
		}()
	}
	thread := <-tids
	if thread == me {
		thread = <-tids
	}
	child := exec.Command("sleep", "5")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()
	call(me, unix.SYS_SETPGID, 0, 1)                               // joins group 1: refused by the kernel, not noted
	call(me, unix.SYS_SETPGID, 1, 0)                               // init is not its child
	call(me, unix.SYS_SETPGID, 0, uint64(unix.Getpgrp()))          // joins agent-tui's own group
	call(thread, unix.SYS_SETSID)                                  // a thread's: the process's group
	call(me, unix.SYS_SETPGID, uint64(child.Process.Pid), 0)       // its child's new group
	call(me, unix.SYS_SETPGID, uint64(child.Process.Pid), 1<<32-1) // (a pgid of -1: refused)
	var ids []int
	for _, g := range k.groups {
		ids = append(ids, g.id)
	}
	if want := []int{me, child.Process.Pid}; !slices.Equal(ids, want) {
		t.Fatalf("noted %v, want %v", ids, want)
	}

	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("no unshare(1)")
	}
	ns := exec.Command("unshare", "-Upf", "sleep", "5")
	if err := ns.Start(); err != nil {
		t.Skip("no pid namespaces here:", err)
	}
	defer ns.Process.Kill()
	// the sleep inside, a child of unshare's fork
	var inner int
	for i := 0; i < 200 && inner == 0; i++ {
		time.Sleep(5 * time.Millisecond)
		out, _ := exec.Command("pgrep", "-P", strconv.Itoa(ns.Process.Pid)).Output()
		inner, _ = strconv.Atoi(strings.TrimSpace(string(out)))
	}
	if inner == 0 {
		t.Skip("cannot find the process in the namespace")
	}
	if r := call(inner, unix.SYS_SETSID); r.Error != -int32(unix.EPERM) || r.Flags != 0 {
		t.Errorf("a call from another pid namespace: %+v", r)
	}
}

// A session made from a thread is the process's: the keeper notes the
// process, which dies with the run.
func TestConfinedRunThreadSessionIsKilled(t *testing.T) {
	if !LandlockUsable() || !socketFilterHere() || setsidProgram() == "" {
		t.Skip("no Landlock, filter or setsid(1) here")
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3")
	}
	wt := t.TempDir()
	late := filepath.Join(wt, "late")
	script := `python3 -c 'import os, threading, time
th = threading.Thread(target=os.setsid); th.start(); th.join()
print("sid", os.getsid(0) == os.getpid(), flush=True)
time.sleep(1.5); open("` + late + `", "w").write("late")' > out 2>&1 &
n=0; until [ -s out ] || [ $n -ge 500 ]; do sleep 0.01; n=$((n+1)); done; cat out`
	res, err := ExecConfined(context.Background(), []string{"sh", "-c", script}, wt, os.Environ(), 20*time.Second, 4096, []string{wt, "/dev/null"}, nil, nil)
	if err != nil || !strings.Contains(res.Output, "sid True") {
		t.Fatalf("%v %q", err, res.Output)
	}
	time.Sleep(2 * time.Second)
	if _, err := os.Stat(late); err == nil {
		t.Error("a process whose thread made it a session outlived the run")
	}
}

// A group whose every process has died but is not reaped yet still takes
// signals: the Landlock helper holds its command's shell so (its pid
// names the group until the sweep), and a slow init holds what it was
// given. The keeper's end must not take such a group for one still alive
// and kill it again pass after pass; a live one it kills.
func TestKeeperEndPassesOverZombieGroups(t *testing.T) {
	start := func(wait bool) int {
		cmd := exec.Command("sleep", "5")
		if wait {
			cmd = exec.Command("true")
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pid := cmd.Process.Pid
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		if wait {
			var info unix.Siginfo
			for unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil) == unix.EINTR {
			}
		}
		return pid
	}
	keeper := func(groups ...int) *groupKeeper {
		var pipe [2]int
		if err := unix.Pipe2(pipe[:], unix.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		k := &groupKeeper{stopR: pipe[0], stopW: pipe[1], done: make(chan struct{})}
		close(k.done)
		t.Cleanup(func() { unix.Close(pipe[0]) })
		for _, g := range groups {
			k.groups = append(k.groups, groupNote{id: g, start: startTime(g)})
		}
		return k
	}
	zombies := start(true)
	if n := keeper(zombies).end(); n != 1 {
		t.Errorf("a group of zombies took %d passes, want 1", n)
	}
	live := start(false)
	if n := keeper(live, zombies).end(); n < 1 || n == 100 {
		t.Errorf("a live group took %d passes", n)
	}
	// (the sleep is this process's child: a zombie once killed)
	var info unix.Siginfo
	if err := unix.Waitid(unix.P_PID, live, &info, unix.WEXITED|unix.WNOWAIT, nil); err != nil || info.Code != 2 /* CLD_KILLED */ {
		t.Errorf("the live group's sleep was not killed: %v code %d", err, info.Code)
	}
}

// A test run that leaves something running with its output (a server
// started in the background) ends when its shell does: what it left is
// killed then, not waited for while it holds the output open. It used to
// be waited for two seconds, and said "late" here.
func TestConfinedRunDoesNotWaitForItsOutput(t *testing.T) {
	if !LandlockUsable() || !socketFilterHere() || setsidProgram() == "" {
		t.Skip("no Landlock, seccomp filter or setsid(1) here")
	}
	wt := t.TempDir()
	for _, script := range []string{"setsid sh -c 'sleep 1; echo late' & echo started", "(sleep 1; echo late) & echo started"} {
		res, err := ExecConfined(context.Background(), []string{"sh", "-c", script}, wt, os.Environ(), 10*time.Second, 4096, []string{wt}, nil, nil)
		if err != nil || res.Unconfined != "" || res.ExitCode != 0 {
			t.Fatalf("%q: %v %+v", script, err, res)
		}
		if res.Output != "started\n" {
			t.Errorf("%q: output %q", script, res.Output)
		}
	}
}
