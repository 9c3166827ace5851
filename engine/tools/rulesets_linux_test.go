package tools

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A check's ruleset is made once and used again while the directories it
// was made from are unchanged; a file that appears on the way to a hidden
// path, or replaces one there, is readable by the next check.
func TestReadRulesetsAreKeptUntilTheirDirectoriesChange(t *testing.T) {
	if !LandlockUsable() {
		t.Skip("no Landlock")
	}
	// beside the package's sources, not in the temp directory, which other
	// tests (other packages, in parallel) change all the time
	dir, err := os.MkdirTemp(".", "rulesets-test-")
	if err != nil {
		dir = t.TempDir() // a read-only checkout
	} else {
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	if dir, err = filepath.Abs(dir); err != nil {
		t.Fatal(err)
	}
	hidden := filepath.Join(dir, "hidden")
	wt := filepath.Join(dir, "wt")
	mustWrite(t, filepath.Join(hidden, "secret.txt"), "SECRET\n")
	mustWrite(t, filepath.Join(wt, "own.txt"), "own\n")
	check := func(script string) string {
		t.Helper()
		res, err := ExecConfined(context.Background(), []string{"sh", "-c", script}, wt, os.Environ(), 10*time.Second, 4096, []string{wt}, nil, []string{hidden})
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(res.Output, "SECRET") {
			t.Fatalf("the hidden file was read: %q", res.Output)
		}
		return res.Output
	}
	builds := func() int {
		threadRulesets.mu.Lock()
		defer threadRulesets.mu.Unlock()
		return threadRulesets.builds
	}
	reused := false
	// other tests touch the temp directory's parent now and then
	for range 30 {
		before := builds()
		if out := check("cat own.txt; cat ../hidden/secret.txt 2>&1"); !strings.Contains(out, "own\n") {
			t.Fatalf("own file not read: %q", out)
		}
		if reused = builds() == before; reused {
			break
		}
		time.Sleep(racyWindow + 20*time.Millisecond)
	}
	if !reused {
		t.Fatal("every check made its ruleset again")
	}
	mustWrite(t, filepath.Join(dir, "later.txt"), "LATER\n")
	if out := check("cat ../later.txt 2>&1"); out != "LATER\n" {
		t.Fatalf("a file made on the way after the ruleset: %q", out)
	}
	time.Sleep(racyWindow + 20*time.Millisecond)
	check("true") // kept again
	mustWrite(t, filepath.Join(dir, "next.txt"), "REPLACED\n")
	if err := os.Rename(filepath.Join(dir, "next.txt"), filepath.Join(dir, "later.txt")); err != nil {
		t.Fatal(err)
	}
	if out := check("cat ../later.txt 2>&1"); out != "REPLACED\n" {
		t.Fatalf("a file replaced on the way after the ruleset: %q", out)
	}
}

// A ruleset no check uses goes after rulesetIdle: it holds the files its
// rules name, whose space a deletion would not free while it is kept.
func TestUnusedRulesetsAreLetGo(t *testing.T) {
	if !LandlockUsable() {
		t.Skip("no Landlock")
	}
	defer func(d time.Duration) { rulesetIdle = d }(rulesetIdle)
	rulesetIdle = 200 * time.Millisecond
	threadRulesets.mu.Lock()
	if threadRulesets.sweep != nil && threadRulesets.sweep.Stop() {
		threadRulesets.sweep = nil // (armed by an earlier test, for 30 s)
	}
	for k, e := range threadRulesets.entries {
		unix.Close(e.fd)
		delete(threadRulesets.entries, k)
	}
	threadRulesets.mu.Unlock()
	dir := t.TempDir()
	hidden, wt := filepath.Join(dir, "hidden"), filepath.Join(dir, "wt")
	mustWrite(t, filepath.Join(hidden, "secret.txt"), "SECRET\n")
	mustWrite(t, filepath.Join(wt, "own.txt"), "own\n")
	kept := func() int {
		threadRulesets.mu.Lock()
		defer threadRulesets.mu.Unlock()
		return len(threadRulesets.entries)
	}
	deadline := time.Now().Add(10 * time.Second)
	for kept() == 0 && time.Now().Before(deadline) {
		// (a ruleset made from directories changed a moment ago is not kept)
		time.Sleep(racyWindow)
		if _, err := ExecConfined(context.Background(), []string{"sh", "-c", "cat own.txt"}, wt, os.Environ(), 10*time.Second, 4096, []string{wt}, nil, []string{hidden}); err != nil {
			t.Fatal(err)
		}
	}
	if kept() == 0 {
		t.Skip("no ruleset was kept (directories kept changing)")
	}
	for kept() > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := kept(); n != 0 {
		t.Fatalf("%d rulesets kept after they went unused", n)
	}
}
