package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"agent-tui/engine/oaitest"
)

// cpuTicks reads utime+stime of a process in clock ticks.
func cpuTicks(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// fields after the command name, which is in parentheses
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return ut + st, nil
}

// The whole agent-tui process (engine and TUI) while 20 tickets stream 50
// deltas a second each: CPU as a share of one core. It needs tmux for a
// terminal and runs when AGENT_TUI_PERF=1.
func TestTUIStreamingCPU(t *testing.T) {
	if os.Getenv("AGENT_TUI_PERF") == "" {
		t.Skip("set AGENT_TUI_PERF=1 (needs tmux) to measure the TUI's CPU while 20 tickets stream")
	}
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("no tmux")
	}
	const tickets, perSecond, seconds = 20, 50, 12
	srv := oaitest.New(func(r *oaitest.Request) oaitest.Reply {
		chunks := make([]string, perSecond*seconds)
		for i := range chunks {
			chunks[i] = fmt.Sprintf("token%d ", i)
		}
		return oaitest.Reply{Chunks: chunks, ChunkDelay: time.Second / perSecond}
	})
	defer srv.Close()
	dir := newRepo(t, map[string]string{"README.md": "x\n"}, srv.URL, fmt.Sprintf("max_parallel = %d\napprove = []\ntest_command = \"true\"\n", tickets))
	for i := 0; i < tickets; i++ {
		if out, err := exec.Command(binPath, "--repo", dir, "add", "--kind", "epic", fmt.Sprintf("stream %d", i)).CombinedOutput(); err != nil {
			t.Fatalf("%v %s", err, out)
		}
	}
	session := fmt.Sprintf("perf%d", os.Getpid())
	pidFile := filepath.Join(t.TempDir(), "pid")
	cmd := fmt.Sprintf("echo $$ > %s; exec %s --repo %s", pidFile, binPath, dir)
	if out, err := exec.Command("tmux", "new-session", "-d", "-s", session, "-x", "150", "-y", "42", "-e", "AGENT_TUI_CLI_KEY="+secretKey, cmd).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	defer exec.Command("tmux", "kill-session", "-t", session).Run()
	time.Sleep(3 * time.Second) // start-up and the first requests
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	streaming := 0
	for _, r := range srv.Requests() {
		if strings.Contains(oaitest.FirstUserLine(r), "discovery") {
			streaming++
		}
	}
	before, err := cpuTicks(pid)
	if err != nil {
		t.Fatal(err)
	}
	const window = 6 * time.Second
	time.Sleep(window)
	after, err := cpuTicks(pid)
	if err != nil {
		t.Fatal(err)
	}
	share := float64(after-before) / 100 / window.Seconds() // USER_HZ is 100 on Linux
	screen, _ := exec.Command("tmux", "capture-pane", "-p", "-t", session).Output()
	t.Logf("%d streams at %d deltas/s: the process used %.1f%% of one core\n%s", streaming, perSecond, 100*share, screen)
	if streaming < tickets {
		t.Fatalf("only %d of %d tickets were streaming", streaming, tickets)
	}
}
