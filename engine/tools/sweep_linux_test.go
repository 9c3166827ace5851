package tools

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// marked lists the live processes (zombies aside) whose environment holds
// mark: every process a command started, however it left its parent,
// session or group, carries the variable the command exported.
func marked(mark string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		env, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err != nil || !bytes.Contains(env, []byte(mark)) {
			continue
		}
		if stat, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil {
			if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
				continue
			}
		}
		pids = append(pids, pid)
	}
	return pids
}

// killMarked cleans up after a failed test, so that racers that got away
// do not run on (under init, for good) into the next tests: it kills the
// marked processes among the newest pids, where a racer is, and in all of
// /proc, until none has been seen for half a second (ten at most).
func killMarked(mark string) {
	isMarked := func(pid int) bool {
		env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
		return err == nil && bytes.Contains(env, []byte(mark))
	}
	quietSince := time.Now()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if time.Since(quietSince) > 500*time.Millisecond {
			return
		}
		for range 100 {
			last := lastPid()
			for i := range 64 {
				if pid := last - i; pid > 0 && isMarked(pid) {
					unix.Kill(pid, unix.SIGKILL) // a fork under way dies with it
					quietSince = time.Now()
				}
			}
		}
		for _, pid := range marked(mark) {
			unix.Kill(pid, unix.SIGKILL)
			quietSince = time.Now()
		}
	}
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return -1
	}
	return st.Size()
}

// racers are commands that start, in the background, processes that fork
// and exit in a loop, and then end at once. Each racer appends to $L.
var racers = map[string]string{
	// a loop whose every round leaves an orphan behind
	"loop": `sh -c 'while :; do sh -c "sleep 100 & echo >> \"\$L\""; done' >/dev/null 2>&1 &`,
	// a chain: each process forks the next and exits
	"chain": `c() { echo >> "$L"; c & }; c >/dev/null 2>&1`,
	// the same, each in a session (and group) of its own
	"setsid chain": `printf '%s\n' 'echo >> "$L"; setsid sh "$0" &' > "$TMPDIR/r.sh"; setsid sh "$TMPDIR/r.sh" >/dev/null 2>&1 &`,
	// the loop in a session of its own
	"setsid loop": `setsid sh -c 'while :; do sh -c "sleep 100 & echo >> \"\$L\""; done' >/dev/null 2>&1 &`,
	// a chain at C speed, each in a session of its own
	"perl chain": `perl -e 'use POSIX; open L, ">>", $ENV{L}; while (1) { exit if fork; POSIX::setsid(); syswrite L, "x" }' >/dev/null 2>&1 &`,
	// the shell ones at once
	"all": `sh -c 'while :; do sh -c "sleep 100 & echo >> \"\$L\""; done' >/dev/null 2>&1 &
c() { echo >> "$L"; c & }; c >/dev/null 2>&1
printf '%s\n' 'echo >> "$L"; setsid sh "$0" &' > "$TMPDIR/r.sh"; setsid sh "$TMPDIR/r.sh" >/dev/null 2>&1 &`,
}

// headStart lets the racers get going (their log reaches 20 bytes) before
// the command ends, for at most ten seconds.
const headStart = `n=0; until [ "$(wc -c 2>/dev/null < "$L")" -ge 20 ] 2>/dev/null || [ $n -ge 1000 ]; do sleep 0.01; n=$((n+1)); done`

// A command that leaves processes racing to fork, in and out of its
// session, leaves nothing running once run_command has returned: no
// process carrying the command's environment is alive, and the file the
// racers append to stops growing.
func TestConfinedCommandLeavesNoRacer(t *testing.T) {
	if !landlockWorks() {
		t.Skip("Landlock is not usable here")
	}
	for name, racer := range racers {
		t.Run(name, func(t *testing.T) {
			if strings.HasPrefix(racer, "perl ") {
				if _, err := exec.LookPath("perl"); err != nil {
					t.Skip("no perl here")
				}
			}
			dir := t.TempDir()
			b, err := newWithMode(Options{Root: dir, TempDir: filepath.Join(dir, ".tmp"), CommandTimeout: time.Minute}, sandboxLandlock)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			mark := fmt.Sprintf("AGENT_TUI_RACER=%d-%d", os.Getpid(), time.Now().UnixNano())
			log := filepath.Join(dir, "log")
			command := fmt.Sprintf("export %s L=%s\n%s\n%s\necho started; date +%%s%%N", mark, log, racer, headStart)
			defer func() {
				if t.Failed() {
					killMarked(mark)
				}
			}()
			res, isErr := call(t, b, "run_command", map[string]any{"command": command})
			returned := time.Now()
			wantOK(t, res, isErr)
			_, end, ok := strings.Cut(res, "started\n")
			ended, err := strconv.ParseInt(strings.TrimSpace(end), 10, 64)
			if !ok || err != nil {
				t.Fatalf("result = %q", res)
			}
			took := returned.Sub(time.Unix(0, ended)).Round(time.Millisecond) // the sweep, mostly
			if left := marked(mark); len(left) > 0 {
				t.Fatalf("%d processes outlived the command (%s after it ended): %v", len(left), took, left)
			}
			size := fileSize(log)
			if size <= 0 {
				t.Fatalf("the racers never ran (log size %d)", size)
			}
			time.Sleep(300 * time.Millisecond)
			if now := fileSize(log); now != size || len(marked(mark)) > 0 {
				t.Fatalf("racers still running after the command ended (log %d -> %d bytes)", size, now)
			}
			t.Logf("returned %s after the command ended; log %d bytes", took, size)
		})
	}
}

// When agent-tui dies (SIGKILL: no chance to stop anything), the Landlock
// helper is told by its parent-death signal, kills what the command
// started and exits. The part of agent-tui is played by a child of this
// test, running a command that never ends on its own.
func TestConfinedCommandDiesWithAgent(t *testing.T) {
	if dir := os.Getenv("AGENT_TUI_ORPHAN_DIR"); dir != "" {
		b, err := newWithMode(Options{Root: dir, TempDir: filepath.Join(dir, ".tmp"), CommandTimeout: time.Minute}, sandboxLandlock)
		if err != nil {
			t.Fatal(err)
		}
		call(t, b, "run_command", map[string]any{"command": os.Getenv("AGENT_TUI_ORPHAN_CMD")})
		return
	}
	if !landlockWorks() {
		t.Skip("Landlock is not usable here")
	}
	dir := t.TempDir()
	mark := fmt.Sprintf("AGENT_TUI_ORPHAN=%d-%d", os.Getpid(), time.Now().UnixNano())
	log := filepath.Join(dir, "log")
	command := fmt.Sprintf("export %s L=%s\n%s\n%s\necho $PPID > helper.pid; sleep 100", mark, log, racers["all"], headStart)
	defer func() {
		if t.Failed() {
			killMarked(mark)
		}
	}()
	agent := exec.Command(os.Args[0], "-test.run", "^TestConfinedCommandDiesWithAgent$")
	agent.Env = append(os.Environ(), "AGENT_TUI_ORPHAN_DIR="+dir, "AGENT_TUI_ORPHAN_CMD="+command)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	var helper int
	for deadline := time.Now().Add(20 * time.Second); helper == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			agent.Process.Kill()
			agent.Wait()
			t.Fatal("the command never started")
		}
		data, _ := os.ReadFile(filepath.Join(dir, "helper.pid"))
		helper, _ = strconv.Atoi(strings.TrimSpace(string(data)))
	}
	if len(marked(mark)) == 0 || fileSize(log) <= 0 {
		t.Fatal("the racers are not running")
	}
	agent.Process.Kill()
	agent.Wait()
	killed := time.Now()
	for {
		gone := true
		if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", helper)); err == nil {
			i := bytes.LastIndexByte(stat, ')')
			gone = i > 0 && i+2 < len(stat) && stat[i+2] == 'Z'
		}
		left := marked(mark)
		if gone && len(left) == 0 {
			break
		}
		if time.Since(killed) > 5*time.Second {
			t.Fatalf("5 s after agent-tui was killed: helper %d gone %v, %d processes left", helper, gone, len(left))
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("helper and command gone %s after agent-tui was killed", time.Since(killed).Round(time.Millisecond))
	size := fileSize(log)
	time.Sleep(300 * time.Millisecond)
	if now := fileSize(log); now != size || len(marked(mark)) > 0 {
		t.Fatalf("racers still running (log %d -> %d bytes)", size, now)
	}
}
