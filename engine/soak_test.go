package engine

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"agent-tui/store"
)

func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// soakProject runs only the ticket's own test (its worktree is named after
// it): tickets finish oldest first, so with every merged test in the suite
// each later ticket would run all earlier ones, and the run would grow with
// the square of the count (a 500-ticket soak took 469 s instead of 70).
// The test is sourced, and made of builtins (builtinTests): a check starts
// its shell and no other process (CI pays for every one, three checks a
// ticket).
var soakProject = map[string]string{
	"README.md": "# soak project\n",
	"run_tests.sh": "f=tests/${PWD##*/}_test.sh\n" +
		// a merge result's check (no ticket's worktree) runs them all,
		// sourced (a subshell each would be a process each)
		"case ${PWD##*/} in merge-*) for f in tests/*_test.sh; do [ -e \"$f\" ] || continue; . \"./$f\" || exit 1; done; exit 0;; esac\n" +
		"[ -e \"$f\" ] || { echo \"no $f\"; exit 1; }\n. \"./$f\" && echo all tests passed\n",
	"src/app.txt": "app v1\n",
}

// Many tickets through the scripted model: afterwards goroutines and heap
// are back where they started. AGENT_TUI_SOAK sets the count (CI: 500).
func TestSoak(t *testing.T) {
	n := 60
	if v, err := strconv.Atoi(os.Getenv("AGENT_TUI_SOAK")); err == nil {
		n = v
	}
	if testing.Short() {
		n = 20
	}
	h := newHarnessOn(t, soakProject, "", builtinTests)
	h.cfg.MaxParallel = 8
	// a first ticket warms caches (http connections, templates) into the baseline
	h.add("hotfix", "warm-up", false)
	h.runIdle()
	h.srv.Close() // drop idle keep-alive connections of the warm-up
	h.srv = nil
	goroutines := runtime.NumGoroutine()
	heap := heapAfterGC()

	h2 := newHarnessOn(t, soakProject, "", builtinTests)
	// (32 at a time: their git work batches, and CI's run takes 2.7 min,
	// not 3.3, on a machine slow to start processes)
	h2.cfg.MaxParallel = 32
	h2.runLimit = 15 * time.Minute // a guard against a hang (a slow day took 413 s)
	if n > 100 {
		// CI's full size: its checks unconfined, which saves each a
		// process and a ruleset (CI pays for every one). The confined
		// path's leaks are the race run's soak to find, at 20 tickets.
		h2.cfg.Sandbox = "off"
	}
	h2.eng = New(Options{Store: h.st, Config: h2.cfg, Repo: h.repo, Router: h2.eng.router, Prompts: h2.eng.prompts})
	for i := 0; i < n; i++ {
		h2.st = h.st
		if _, err := AddTicket(h.st, NewTicket{Kind: "hotfix", Title: fmt.Sprintf("soak %d", i)}, "main"); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	h2.runIdle()
	took := time.Since(start)
	tickets, _ := h.st.Tickets()
	for _, tk := range tickets {
		if tk.Status != store.StatusDone {
			t.Fatalf("%s %s (%s)", tk.ID, tk.Status, tk.Reason)
		}
	}
	h2.srv.Close()
	h2.srv.ClearRequests()
	var g int
	deadline := time.Now().Add(5 * time.Second)
	for {
		g = runtime.NumGoroutine()
		if g <= goroutines || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	after := heapAfterGC()
	t.Logf("%d tickets in %v; goroutines %d → %d; heap %.1f → %.1f MB", n, took.Round(time.Millisecond), goroutines, g, float64(heap)/1e6, float64(after)/1e6)
	if g > goroutines {
		buf := make([]byte, 1<<20)
		t.Fatalf("goroutines did not return to baseline (%d > %d):\n%s", g, goroutines, buf[:runtime.Stack(buf, true)])
	}
	if after > heap+8<<20 {
		t.Fatalf("heap grew from %d to %d bytes", heap, after)
	}
}
