package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"agent-tui/engine"
	"agent-tui/engine/workspace"
	"agent-tui/store"
)

// fillStore writes tickets×perTicket finished attempts, in batches.
func fillStore(tb testing.TB, db string, tickets, perTicket int) {
	tb.Helper()
	s, err := store.Open(db, time.Second)
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Close()
	stream := strings.Repeat("streamed text of an attempt, with a tool call or two\n", 10)
	for done := 0; done < tickets; {
		err := s.Update(func(tx *store.Tx) error {
			for i := 0; i < 250 && done < tickets; i++ {
				t, err := engine.AddTicketTx(tx, engine.NewTicket{Kind: "feature", Title: fmt.Sprintf("ticket number %d with a title", done)}, "main")
				if err != nil {
					return err
				}
				for n := 1; n <= perTicket; n++ {
					a := &store.Attempt{Phase: "discovery", N: n, Model: "medium", Provider: "p", Stream: stream,
						Deliverable: "## Problem\n" + stream[:300], TokensIn: 1000, TokensOut: 300, CostUSD: 0.001,
						Started: time.Now(), Ended: time.Now(), Verdict: &store.Verdict{Pass: n == perTicket, Objections: []string{"an objection"}}}
					if err := tx.PutAttempt(t.ID, a); err != nil {
						return err
					}
				}
				t.Status = store.StatusDone
				if err := tx.PutTicket(t); err != nil {
					return err
				}
				done++
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// With 10,000 tickets and 200,000 attempts, `agent-tui list` stays fast and
// small: history is read when shown, not at start. Slow to set up, so it
// runs when AGENT_TUI_SCALE=1.
func TestScaleList(t *testing.T) {
	if os.Getenv("AGENT_TUI_SCALE") == "" {
		t.Skip("set AGENT_TUI_SCALE=1 to build a 10,000-ticket store and measure list")
	}
	dir := t.TempDir()
	if keep := os.Getenv("AGENT_TUI_SCALE_DIR"); keep != "" {
		dir = keep // kept for poking at by hand
	}
	db := filepath.Join(dir, ".git", "agent-tui.db")
	if _, err := os.Stat(db); err == nil {
		t.Logf("reusing the store in %s", dir)
	} else {
		if err := workspace.InitRepo(dir, map[string]string{"a": "a"}, "main"); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		fillStore(t, db, 10000, 20)
		fi, _ := os.Stat(db)
		t.Logf("filled 10,000 tickets / 200,000 attempts in %v; file %d MB", time.Since(start).Round(time.Millisecond), fi.Size()>>20)
	}
	for i := 0; i < 3; i++ {
		c := exec.Command(binPath, "--repo", dir, "list")
		c.Env = append(os.Environ(), "OPENAI_API_KEY=")
		start := time.Now()
		out, err := c.Output()
		took := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		rss := c.ProcessState.SysUsage().(*syscall.Rusage).Maxrss / 1024
		lines := strings.Count(string(out), "\n")
		t.Logf("list: %v, max RSS %d MB, %d lines", took.Round(time.Millisecond), rss, lines)
		if lines != 10001 {
			t.Fatalf("lines %d", lines)
		}
	}
	for i := 0; i < 3; i++ {
		took, rss := firstFrame(t, dir)
		t.Logf("TUI first frame: %v, peak RSS %d MB", took.Round(time.Millisecond), rss)
	}
	// last: walking every page here would inflate the RSS the children
	// inherit at fork
	if s, err := store.Open(db, time.Second); err == nil {
		file, live, _ := s.Size()
		t.Logf("file %d MB, live data %d MB (%.2fx)", file>>20, live>>20, float64(file)/float64(live))
		s.Close()
	}
}

// firstFrame starts the TUI on a pseudo-terminal and reads what it writes
// until the queue shows a ticket. Reading the stream costs nothing while it
// waits; polling a terminal multiplexer would compete for the two cores.
func firstFrame(t *testing.T, dir string) (time.Duration, int) {
	master, slave := openPTY(t, 150, 42)
	defer master.Close()
	cmd := exec.Command(binPath, "--repo", dir)
	for _, kv := range os.Environ() {
		// the product, not the multiplexer the test may run in
		if !strings.HasPrefix(kv, "TMUX=") && !strings.HasPrefix(kv, "TERM=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	// every ticket is done, so the key is never used
	cmd.Env = append(cmd.Env, "TERM=xterm-256color", "OPENAI_API_KEY=unused")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close()
	defer cmd.Wait()
	defer cmd.Process.Kill()
	shown := make(chan time.Duration, 1)
	go func() {
		var seen []byte
		buf := make([]byte, 64<<10)
		for {
			n, err := master.Read(buf)
			seen = append(seen, buf[:n]...)
			if shown != nil && bytes.Contains(seen, []byte("T-1")) {
				shown <- time.Since(start)
				shown, seen = nil, nil
			}
			if err != nil {
				return
			}
		}
	}()
	var took time.Duration
	select {
	case took = <-shown:
	case <-time.After(10 * time.Second):
		t.Fatal("no ticket on screen after 10s")
	}
	time.Sleep(time.Second) // let it settle, then read the peak
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	rss := 0
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:")), "%d", &rss)
		}
	}
	return took, rss / 1024
}

// openPTY opens a pseudo-terminal pair of the given size.
func openPTY(t *testing.T, cols, rows uint16) (master, slave *os.File) {
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	slave, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetWinsize(int(slave.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols}); err != nil {
		t.Fatal(err)
	}
	return master, slave
}
