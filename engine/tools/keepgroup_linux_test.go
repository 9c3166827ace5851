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
// group (setsid -f, setpgid): those calls are answered as done and change
// nothing, so the group killed at the end holds every process. The run's
// own session is still its own.
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
	for _, want := range []string{"setsid-ok", "setpgid-ok", "new-session"} {
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

// The model's commands under Landlock are kept in their group the same
// way: what calls setsid stays in the command's group, which one kill ends.
func TestConfinedCommandsStayInTheirGroup(t *testing.T) {
	if !landlockWorks() || !socketFilterHere() || setsidProgram() == "" {
		t.Skip("no Landlock, filter or setsid(1) here")
	}
	dir := t.TempDir()
	b, err := newWithMode(Options{Root: dir, TempDir: filepath.Join(dir, ".tmp"), CommandTimeout: time.Minute}, sandboxLandlock)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	res, isErr := call(t, b, "run_command", map[string]any{"command": "setsid -f sh -c 'ps -o pgid= -p $$ > escaped' </dev/null >/dev/null 2>&1; " +
		"n=0; until [ -s escaped ] || [ $n -ge 200 ]; do sleep 0.01; n=$((n+1)); done; echo own $(ps -o pgid= -p $$); echo escaped $(cat escaped)"})
	if isErr {
		t.Fatal(res)
	}
	var own, escaped string
	for _, l := range strings.Split(res, "\n") {
		if v, ok := strings.CutPrefix(l, "own "); ok {
			own = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(l, "escaped "); ok {
			escaped = strings.TrimSpace(v)
		}
	}
	if own == "" || own != escaped {
		t.Fatalf("the command's group %q, the setsid one's %q: %s", own, escaped, res)
	}
}
