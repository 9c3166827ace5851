package tools

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// No confined command, run_command or a test run, reaches a unix socket
// outside (tmux's, the session bus, docker's: each runs anything asked).
func TestConfinedCommandsReachNoUnixSocket(t *testing.T) {
	if !LandlockUsable() || nativeAudit() == 0 {
		t.Skip("no Landlock, or no socket filter for this architecture")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "door.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var reached atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			reached.Add(1)
			c.Close()
		}
	}()
	command := "AGENT_TUI_TEST_DIAL=" + sock + " " + self
	wt := filepath.Join(dir, "wt")
	if err := os.MkdirAll(wt, 0o755); err != nil {
		t.Fatal(err)
	}
	check := func(how, out string) {
		t.Helper()
		if !strings.Contains(out, "dial refused") || !strings.Contains(out, "socketpair ok") {
			t.Errorf("%s: %q", how, out)
		}
	}
	res, err := ExecConfined(context.Background(), []string{"sh", "-c", command}, wt, os.Environ(), 10*time.Second, 4096, []string{wt}, nil, nil)
	if err != nil || res.Unconfined != "" {
		t.Fatalf("%v %s", err, res.Unconfined)
	}
	check("a test run", res.Output)
	forEachConfinement(t, func(t *testing.T, name string, mode sandboxMode) {
		b, err := newWithMode(Options{Root: wt, TempDir: filepath.Join(dir, "tmp-"+name)}, mode)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		out, isErr := call(t, b, "run_command", map[string]any{"command": command})
		wantOK(t, out, isErr)
		check("run_command under "+name, out)
	})
	if n := reached.Load(); n > 0 {
		t.Fatalf("the socket was reached %d times", n)
	}
	// agent-tui itself still connects
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// A confined command cannot read a terminal of the user's: what is typed
// there (a password in another window) would be its.
func TestConfinedCommandsReadNoTerminal(t *testing.T) {
	if !LandlockUsable() {
		t.Skip("no Landlock")
	}
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skip("no pseudo-terminals here:", err)
	}
	defer master.Close()
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Skip(err)
	}
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Skip(err)
	}
	master.Write([]byte("typed\n"))
	pts := fmt.Sprintf("/dev/pts/%d", n)
	wt := t.TempDir()
	command := "timeout 2 head -n1 " + pts + " 2>/dev/null && echo READ || echo refused"
	res, err := ExecConfined(context.Background(), []string{"sh", "-c", command}, wt, os.Environ(), 10*time.Second, 4096, []string{wt, "/dev/null"}, nil, nil)
	if err != nil || !strings.Contains(res.Output, "refused") || strings.Contains(res.Output, "typed") {
		t.Errorf("a test run: %v %q", err, res.Output)
	}
	forEachConfinement(t, func(t *testing.T, name string, mode sandboxMode) {
		if out := runCommandIn(t, mode, wt, command); !strings.Contains(out, "refused") || strings.Contains(out, "typed") {
			t.Errorf("run_command under %s: %q", name, out)
		}
	})
}

// A confined command cannot signal a process outside its run (agent-tui,
// another ticket's run, a process of the user's): kill and SIGSTOP fail.
// What the run started itself it can still stop. Test runs (a thread of
// this process confined) and run_command alike. The thread confined for a
// test run is never the process's first, which would put agent-tui itself
// in the run's domain.
func TestConfinedCommandsCannotSignalOutside(t *testing.T) {
	if signalScope() == 0 {
		t.Skip("no Landlock signal scoping here (ABI 6 with erratum 2)")
	}
	victim := exec.Command("sleep", "60")
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	defer victim.Process.Kill()
	cmd := fmt.Sprintf("kill -STOP %d; echo outside=$?; kill -0 %d; echo agent=$?; sleep 30 & kill $! ; echo own=$?", victim.Process.Pid, os.Getpid())
	want := func(way, out string) {
		t.Helper()
		if !strings.Contains(out, "outside=1") || !strings.Contains(out, "agent=1") || !strings.Contains(out, "own=0") {
			t.Fatalf("%s:\n%s", way, out)
		}
	}
	dir := t.TempDir()
	for range 3 {
		res, err := ExecConfined(context.Background(), []string{"sh", "-c", cmd}, dir, os.Environ(), 10*time.Second, 4096, []string{dir}, nil, nil)
		if err != nil || res.Unconfined != "" {
			t.Fatalf("%v %q", err, res.Unconfined)
		}
		want("test run", res.Output)
	}
	b, _, _ := setup(t, Options{})
	out, isErr := call(t, b, "run_command", map[string]any{"command": cmd})
	wantOK(t, out, isErr)
	want("run_command", out)
	var st syscall.WaitStatus
	if pid, _ := syscall.Wait4(victim.Process.Pid, &st, syscall.WNOHANG|syscall.WUNTRACED, nil); pid != 0 {
		t.Fatalf("the process outside was signalled: %v", st)
	}
	if status, _ := os.ReadFile("/proc/self/status"); !strings.Contains(string(status), "NoNewPrivs:\t0") {
		t.Fatalf("this process's first thread was confined:\n%s", status)
	}
}

// A confined command cannot read the machine's disks (or memory, its
// consoles, the kernel log) through /dev, nor make a device node of them
// in its worktree: for root either would read and write past every rule.
// What programs expect of /dev still works.
func TestConfinedCommandsReachNoDevice(t *testing.T) {
	if !LandlockUsable() {
		t.Skip("no Landlock")
	}
	// a disk this process can read unconfined (as root): one a command
	// must not
	var disk string
	if entries, err := os.ReadDir("/dev"); err == nil {
		for _, e := range entries {
			p := "/dev/" + e.Name()
			if fi, err := os.Stat(p); err == nil && fi.Mode()&os.ModeDevice != 0 && fi.Mode()&os.ModeCharDevice == 0 {
				if f, err := os.Open(p); err == nil {
					f.Close()
					disk = p
					break
				}
			}
		}
	}
	command := "head -c 3 /dev/urandom | wc -c; echo x > /dev/null && echo null-ok; " +
		"dd if=/dev/zero of=/dev/full bs=1 count=1 2>&1 | grep -q 'No space' && echo full-ok; " +
		"mknod node.$$ c 1 3 2>/dev/null && echo MADE || echo mknod-refused"
	if disk != "" {
		command += "; head -c 1 " + disk + " >/dev/null 2>&1 && echo DISK-READ || echo disk-refused"
	}
	check := func(t *testing.T, how, out string) {
		t.Helper()
		if !strings.Contains(out, "3\n") || !strings.Contains(out, "null-ok") || !strings.Contains(out, "full-ok") || strings.Contains(out, "DISK-READ") ||
			(disk != "" && !strings.Contains(out, "disk-refused")) || strings.Contains(out, "MADE") {
			t.Errorf("%s: %q", how, out)
		}
	}
	wt := t.TempDir()
	res, err := ExecConfined(context.Background(), []string{"sh", "-c", command}, wt, os.Environ(), 10*time.Second, 4096, CheckWritable(false, wt), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	check(t, "a test run", res.Output)
	forEachConfinement(t, func(t *testing.T, name string, mode sandboxMode) {
		check(t, "run_command under "+name, runCommandIn(t, mode, wt, command))
	})
	if disk == "" {
		t.Log("no disk readable here: only mknod and the ordinary devices were tried")
	}
}

// runCommandIn is run_command's result for command in worktree wt,
// confined as mode.
func runCommandIn(t *testing.T, mode sandboxMode, wt, command string) string {
	t.Helper()
	b, err := newWithMode(Options{Root: wt, TempDir: filepath.Join(t.TempDir(), "tmp")}, mode)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	out, _ := call(t, b, "run_command", map[string]any{"command": command})
	return out
}
