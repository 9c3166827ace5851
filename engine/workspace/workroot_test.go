package workspace

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Worktrees live outside .git, in a work root recorded both ways: a later
// run with another environment finds it, and a copy of the repository
// gets one of its own.
func TestWorktreesLiveOutsideGit(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	wt, _, err := r.EnsureWorktree(ctx, "T-1", "main")
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(strings.Split(wt, string(filepath.Separator)), ".git") {
		t.Fatalf("worktree %s is inside a .git directory", wt)
	}
	if got := run(t, wt, "rev-parse", "--abbrev-ref", "HEAD"); strings.TrimSpace(got) != "agent/T-1" {
		t.Fatalf("worktree on %q", got)
	}
	view, release, err := r.BaseView(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	release()
	if !strings.HasPrefix(view, r.WorkRoot()+string(filepath.Separator)) {
		t.Fatalf("base view %s is not in the work root %s", view, r.WorkRoot())
	}

	// another environment: the recorded root still
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	again, err := Open(r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if again.WorktreePath("T-1") != wt || !again.HasWorktree("T-1") {
		t.Fatalf("reopened with another XDG_DATA_HOME: T-1 at %s, want %s", again.WorktreePath("T-1"), wt)
	}

	// a copy (cp -r) brings the record along, but not the worktrees
	copied := filepath.Join(t.TempDir(), "copy")
	if out, err := exec.Command("cp", "-r", r.Dir, copied).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	c, err := Open(copied)
	if err != nil {
		t.Fatal(err)
	}
	if c.WorkRoot() == r.WorkRoot() {
		t.Fatalf("the copy shares the work root %s", c.WorkRoot())
	}
	cwt, _, err := c.EnsureWorktree(ctx, "T-2", "main")
	if err != nil || strings.HasPrefix(cwt, r.WorkRoot()) {
		t.Fatalf("the copy's worktree %s (%v)", cwt, err)
	}
	if back, err := Open(filepath.Join(cwt, "lib")); err != nil || back.Dir != c.Dir {
		t.Fatalf("Open from the copy's worktree: %+v %v", back, err)
	}
}

// A worktree an earlier agent-tui made inside .git stays where it is
// until its ticket is done with it; new ones go outside.
func TestWorktreeMadeInsideGitStaysThere(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	old := filepath.Join(r.GitDir, "agent-tui", "worktrees", "T-1")
	run(t, r.Dir, "worktree", "add", "-q", "-b", "agent/T-1", old, "main")
	if got := r.WorktreePath("T-1"); got != old {
		t.Fatalf("WorktreePath(T-1) = %s, want the one inside .git %s", got, old)
	}
	if p, _, err := r.EnsureWorktree(ctx, "T-1", "main"); err != nil || p != old {
		t.Fatalf("EnsureWorktree(T-1) = %s %v, want %s", p, err, old)
	}
	stray := filepath.Join(r.GitDir, "agent-tui", "worktrees", "stray")
	if err := os.MkdirAll(stray, 0o755); err != nil {
		t.Fatal(err)
	}
	rep, err := r.Reconcile(ctx, map[string]string{"T-1": old})
	if err != nil || !slices.Equal(rep.Orphans, []string{stray}) {
		t.Fatalf("Reconcile: orphans %v (%v), want %s", rep.Orphans, err, stray)
	}
	if err := r.RemoveWorktree(ctx, "T-1"); err != nil {
		t.Fatal(err)
	}
	if got := r.WorktreePath("T-1"); got != filepath.Join(r.WorktreeRoot(), "T-1") || strings.HasPrefix(got, r.GitDir) {
		t.Fatalf("after removal WorktreePath(T-1) = %s", got)
	}
	// taken up again from its branch: outside .git now
	if p, _, err := r.EnsureWorktree(ctx, "T-1", "main"); err != nil || strings.HasPrefix(p, r.GitDir) {
		t.Fatalf("EnsureWorktree(T-1) again = %s %v", p, err)
	}
}

// With nowhere to make a work root (no writable home), worktrees are
// made inside .git, as before, and nothing is recorded.
func TestNoHomeKeepsWorktreesInsideGit(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	write(t, file, "not a directory\n")
	t.Setenv("XDG_DATA_HOME", filepath.Join(file, "data"))
	r := newRepo(t)
	wt, _, err := r.EnsureWorktree(context.Background(), "T-1", "main")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(r.GitDir, "agent-tui", "worktrees", "T-1"); wt != want {
		t.Fatalf("worktree at %s, want %s", wt, want)
	}
	if _, err := os.Stat(filepath.Join(r.GitDir, "agent-tui", workRootPointer)); err == nil {
		t.Fatal("a work root inside .git was recorded")
	}
}
