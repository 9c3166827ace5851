package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

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
	if err := workspace.InitRepo(dir, map[string]string{"a": "a"}, "main"); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, ".git", "agent-tui.db")
	start := time.Now()
	fillStore(t, db, 10000, 20)
	fi, _ := os.Stat(db)
	t.Logf("filled 10,000 tickets / 200,000 attempts in %v; file %d MB", time.Since(start).Round(time.Millisecond), fi.Size()>>20)
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
	if _, err := exec.LookPath("tmux"); err == nil {
		for i := 0; i < 3; i++ {
			took, rss := firstFrame(t, dir)
			t.Logf("TUI first frame: %v, peak RSS %d MB", took.Round(time.Millisecond), rss)
		}
	} else {
		t.Log("no tmux: the TUI's first frame is not measured")
	}
	// last: walking every page here would inflate the RSS the children
	// inherit at fork
	if s, err := store.Open(db, time.Second); err == nil {
		file, live, _ := s.Size()
		t.Logf("file %d MB, live data %d MB (%.2fx)", file>>20, live>>20, float64(file)/float64(live))
		s.Close()
	}
}

// firstFrame starts the TUI in tmux and waits until the queue shows T-1.
func firstFrame(t *testing.T, dir string) (time.Duration, int) {
	session := fmt.Sprintf("scale%d", os.Getpid())
	pidFile := filepath.Join(t.TempDir(), "pid")
	// every ticket is done, so the key is never used
	cmd := fmt.Sprintf("echo $$ > %s; OPENAI_API_KEY=unused exec %s --repo %s", pidFile, binPath, dir)
	start := time.Now()
	if out, err := exec.Command("tmux", "new-session", "-d", "-s", session, "-x", "150", "-y", "42", cmd).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	defer exec.Command("tmux", "kill-session", "-t", session).Run()
	var took time.Duration
	for {
		out, _ := exec.Command("tmux", "capture-pane", "-p", "-t", session).Output()
		if strings.Contains(string(out), "T-1 ") {
			took = time.Since(start)
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("no first frame after 10s:\n%s", out)
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(time.Second) // let it settle, then read the peak
	data, _ := os.ReadFile(pidFile)
	status, _ := os.ReadFile("/proc/" + strings.TrimSpace(string(data)) + "/status")
	rss := 0
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:")), "%d", &rss)
		}
	}
	return took, rss / 1024
}
