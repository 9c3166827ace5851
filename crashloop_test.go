package main

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"agent-tui/engine/oaitest"
	"agent-tui/store"
)

// snapshot is what a finished attempt must keep across crashes.
type snapshot map[string]string

func takeSnapshot(t *testing.T, db string) (snapshot, int) {
	t.Helper()
	s, err := store.Open(db, 2*time.Second)
	if err != nil {
		t.Fatalf("store does not open after a crash: %v", err)
	}
	defer s.Close()
	if err := s.Check(); err != nil {
		t.Fatalf("consistency check after a crash: %v", err)
	}
	snap := snapshot{}
	tickets, err := s.Tickets()
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, tk := range tickets {
		as, err := s.Attempts(tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		total += len(as)
		for _, a := range as {
			if a.Ended.IsZero() {
				continue
			}
			v := ""
			if a.Verdict != nil {
				v = fmt.Sprint(a.Verdict.Pass, a.Verdict.Objections)
			}
			snap[fmt.Sprintf("%s/%d", tk.ID, a.Seq)] = a.Phase + "|" + a.Deliverable + "|" + v
		}
	}
	return snap, total
}

// Kill a real `agent-tui run` at random moments, many times: the store
// always opens and checks clean, history only grows, and in the end every
// ticket completes.
func TestCrashLoop(t *testing.T) {
	kills := 100
	if testing.Short() {
		kills = 15
	}
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))

	e := &cliEnv{t: t}
	e.srv = oaitest.New(func(r *oaitest.Request) oaitest.Reply {
		rep := oaitest.Developer(r)
		// slow enough that most runs die mid-work
		rep.Chunks = strings.SplitAfter(strings.Repeat("word ", 8)+rep.Text, " ")
		rep.ChunkDelay = 8 * time.Millisecond
		return rep
	})
	t.Cleanup(e.srv.Close)
	e.dir = newRepo(t, oaitest.ShellProject, e.srv.URL, "test_command = \"sh run_tests.sh\"\napprove = []\nmax_parallel = 4\n")
	e.mustRun("add", "--kind", "epic", "an epic")
	e.mustRun("add", "--kind", "feature", "a feature")
	e.mustRun("add", "--kind", "hotfix", "a hotfix")
	e.mustRun("add", "--kind", "hotfix", "another hotfix")
	db := filepath.Join(e.dir, ".git", "agent-tui.db")

	prev, prevTotal := takeSnapshot(t, db)
	finishedEarly := 0
	for i := 0; i < kills; i++ {
		c := e.cmd("run", "--until-idle")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- c.Wait() }()
		select {
		case <-time.After(time.Duration(rng.Intn(250)) * time.Millisecond):
			c.Process.Signal(syscall.SIGKILL)
			<-done
		case err := <-done:
			if err != nil {
				t.Fatalf("run failed on its own: %v", err)
			}
			finishedEarly++
		}
		snap, total := takeSnapshot(t, db)
		if total < prevTotal {
			t.Fatalf("kill %d: attempts went from %d to %d", i, prevTotal, total)
		}
		for k, v := range prev {
			if snap[k] != v {
				t.Fatalf("kill %d: finished attempt %s changed or vanished:\nwas %q\nnow %q", i, k, v, snap[k])
			}
		}
		prev, prevTotal = snap, total
	}
	e.mustRun("run", "--until-idle")
	out := e.mustRun("list")
	for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		if !strings.Contains(line, " done ") {
			t.Fatalf("not every ticket completed:\n%s\n%s", out, e.mustRun("list", "--json"))
		}
	}
	// every merge is on record, even one whose run was killed before it
	// could record it
	var list []map[string]any
	if err := json.Unmarshal([]byte(e.mustRun("list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	for _, tk := range list {
		if tk["kind"] == "epic" {
			continue
		}
		id := tk["id"].(string)
		merged, _ := e.show(id)["merged"].(string)
		if merged == "" {
			t.Fatalf("%s: no merge commit on record", id)
		}
		if out, err := exec.Command("git", "-C", e.dir, "merge-base", "--is-ancestor", merged, "main").CombinedOutput(); err != nil {
			t.Fatalf("%s: merge %s is not on main: %v %s", id, merged, err, out)
		}
		// the text view names the checks that judged the ticket
		if text := e.mustRun("show", id); !strings.Contains(text, "✓ check tests red: ") || !strings.Contains(text, "✓ check code green: ") || !strings.Contains(text, "merged:  "+merged) {
			t.Fatalf("%s: show lacks its checks or merge:\n%s", id, text)
		}
	}
	t.Logf("%d kills, %d runs finished before their kill, %d attempts in the end", kills, finishedEarly, prevTotal)
	takeSnapshot(t, db)
}
