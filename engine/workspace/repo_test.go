package workspace

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func newRepo(t *testing.T) *Repo {
	t.Helper()
	dir := t.TempDir()
	if err := InitRepo(dir, map[string]string{
		"main.go":     "package main\n\nfunc main() {}\n",
		"lib/util.go": "package lib\n\nconst X = 1\n",
	}, "main"); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func run(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append(append([]string{}, agentIdentity...), args...)...)
	cmd.Dir = dir
	cmd.Env = gitEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// mustFinish fails t with hang when fn has not returned within d, and
// with fn's error when it fails.
func mustFinish(t *testing.T, d time.Duration, hang string, fn func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(d):
		t.Fatal(hang)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOpen(t *testing.T) {
	r := newRepo(t)
	sub := filepath.Join(r.Dir, "lib")
	r2, err := Open(sub)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Dir != r.Dir {
		t.Errorf("Dir from subdir = %q, want %q", r2.Dir, r.Dir)
	}
	if want := filepath.Join(r.Dir, ".git"); r.GitDir != want {
		t.Errorf("GitDir = %q, want %q", r.GitDir, want)
	}
	// outside .git, where Jest and Vitest look for tests
	if want := filepath.Join(os.Getenv("XDG_DATA_HOME"), "agent-tui", "repos") + string(filepath.Separator); !strings.HasPrefix(r.WorktreeRoot(), want) {
		t.Errorf("WorktreeRoot %q not under %s", r.WorktreeRoot(), want)
	}

	// from inside a ticket's worktree: still the repository's checkout
	wt, _, err := r.EnsureWorktree(context.Background(), "T-4", "main")
	if err != nil {
		t.Fatal(err)
	}
	r3, err := Open(filepath.Join(wt, "lib"))
	if err != nil {
		t.Fatal(err)
	}
	if r3.Dir != r.Dir || r3.GitDir != r.GitDir {
		t.Errorf("Open(inside a ticket's worktree): Dir %q GitDir %q, want %q %q", r3.Dir, r3.GitDir, r.Dir, r.GitDir)
	}

	// git is not asked where the repository is from there: a model's
	// command can point the worktree's .git at a repository of its own
	// (whose config runs programs), or make one in a subdirectory
	evil := filepath.Join(wt, "evil")
	run(t, wt, "init", "-q", evil)
	nested := filepath.Join(wt, "tests")
	run(t, wt, "init", "-q", nested)
	write(t, filepath.Join(wt, ".git"), "gitdir: "+filepath.Join(evil, ".git")+"\n")
	// and a link from the worktree into agent-tui's directory, to a
	// repository a command made in the ticket's temporary directory
	tmpRepo := filepath.Join(r.GitDir, "agent-tui", "tmp", "T-4", "evil")
	run(t, r.Dir, "init", "-q", tmpRepo)
	if err := os.Symlink(tmpRepo, filepath.Join(wt, "build")); err != nil {
		t.Fatal(err)
	}
	// and a work root of its own inside the worktree, whose git dir
	// names it back
	fake := filepath.Join(wt, "worktrees", "T-9")
	if err := os.MkdirAll(fake, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(wt, workRootOwner), filepath.Join(evil, ".git")+"\n")
	write(t, filepath.Join(evil, ".git", "agent-tui", workRootPointer), wt+"\n")
	for _, d := range []string{wt, filepath.Join(wt, "lib"), nested, filepath.Join(wt, "build"), fake} {
		r4, err := Open(d)
		if err != nil {
			t.Fatal(err)
		}
		if r4.Dir != r.Dir || r4.GitDir != r.GitDir {
			t.Errorf("Open(%s) with the worktree tampered: Dir %q GitDir %q, want %q %q", d, r4.Dir, r4.GitDir, r.Dir, r.GitDir)
		}
	}

	plain := t.TempDir()
	_, err = Open(plain)
	if err == nil || err.Error() != "not a git repository: "+plain {
		t.Errorf("Open(non-repo) error = %v", err)
	}

	bare := filepath.Join(t.TempDir(), "bare.git")
	run(t, plain, "clone", "-q", "--bare", r.Dir, bare)
	if _, err = Open(bare); err == nil || !strings.Contains(err.Error(), "is a bare repository") {
		t.Errorf("Open(bare) error = %v", err)
	}
}

// Open keeps git's reason when git refuses a repository, instead of
// calling every failure "not a git repository".
func TestOpenSaysWhyGitRefused(t *testing.T) {
	r := newRepo(t)

	t.Run("git missing", func(t *testing.T) {
		t.Setenv("PATH", "/nonexistent")
		if _, err := Open(r.Dir); err == nil || !strings.Contains(err.Error(), "git not found") {
			t.Fatalf("error = %v", err)
		}
	})

	t.Run("dubious ownership", func(t *testing.T) {
		// git honours this for its ownership check, as if another user owned it
		t.Setenv("GIT_TEST_ASSUME_DIFFERENT_OWNER", "1")
		_, err := Open(r.Dir)
		if err == nil || !strings.Contains(err.Error(), "dubious ownership") || !strings.Contains(err.Error(), "safe.directory") ||
			strings.Contains(err.Error(), "not a git repository") || strings.Contains(err.Error(), "\n") {
			t.Fatalf("error = %v", err)
		}
	})

	t.Run("no such directory", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "missing")
		if _, err := Open(missing); err == nil || err.Error() != "not a git repository: "+missing+" (no such directory)" {
			t.Fatalf("error = %v", err)
		}
		file := filepath.Join(t.TempDir(), "file")
		if err := os.WriteFile(file, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(file); err == nil || err.Error() != "not a git repository: "+file+" (not a directory)" {
			t.Fatalf("a file: error = %v", err)
		}
	})

	t.Run("broken HEAD", func(t *testing.T) {
		dir := t.TempDir()
		if err := InitRepo(dir, map[string]string{"a": "a\n"}, "main"); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, ".git", "HEAD"), "garbage\n")
		_, err := Open(dir)
		if err == nil || !strings.Contains(err.Error(), "not a git repository: "+dir) || !strings.Contains(err.Error(), filepath.Join(dir, ".git")+" for one") {
			t.Fatalf("error = %v", err)
		}
	})
}

func TestBranchAndClean(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	b, err := r.CurrentBranch(ctx)
	if err != nil || b != "main" {
		t.Fatalf("CurrentBranch = %q, %v", b, err)
	}
	clean, err := r.IsClean(ctx)
	if err != nil || !clean {
		t.Fatalf("IsClean on fresh repo = %v, %v", clean, err)
	}
	write(t, filepath.Join(r.Dir, "new.txt"), "x")
	if clean, _ := r.IsClean(ctx); clean {
		t.Error("untracked file not reported as unclean")
	}
	os.Remove(filepath.Join(r.Dir, "new.txt"))
	write(t, filepath.Join(r.Dir, "main.go"), "changed")
	if clean, _ := r.IsClean(ctx); clean {
		t.Error("modified file not reported as unclean")
	}
	run(t, r.Dir, "checkout", "-q", "--", "main.go")
	run(t, r.Dir, "checkout", "-q", "--detach")
	b, err = r.CurrentBranch(ctx)
	if b != "" || !errors.Is(err, ErrDetached) {
		t.Errorf("detached CurrentBranch = %q, %v", b, err)
	}
}

func TestWorktreeLifecycle(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)

	path, branch, err := r.EnsureWorktree(ctx, "T-1", "main")
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(r.WorktreeRoot(), "T-1") || branch != "agent/T-1" {
		t.Fatalf("EnsureWorktree = %q, %q", path, branch)
	}
	if _, err := os.Stat(filepath.Join(path, "main.go")); err != nil {
		t.Fatalf("worktree not checked out: %v", err)
	}
	if clean, _ := r.IsClean(ctx); !clean {
		t.Error("creating a worktree dirtied the user's checkout")
	}

	// Idempotent: work in progress survives a second call.
	write(t, filepath.Join(path, "wip.txt"), "wip")
	p2, b2, err := r.EnsureWorktree(ctx, "T-1", "main")
	if err != nil || p2 != path || b2 != branch {
		t.Fatalf("second EnsureWorktree = %q, %q, %v", p2, b2, err)
	}
	if _, err := os.Stat(filepath.Join(path, "wip.txt")); err != nil {
		t.Fatal("second EnsureWorktree lost uncommitted work")
	}

	committed, err := r.CommitAll(ctx, path, "T-1 code: wip")
	sha := run(t, path, "rev-parse", "HEAD")
	if err != nil || !committed {
		t.Fatalf("CommitAll = %v, %v", committed, err)
	}
	committed, err = r.CommitAll(ctx, path, "nothing")
	if sha2 := run(t, path, "rev-parse", "HEAD"); err != nil || committed || sha2 != sha {
		t.Fatalf("CommitAll with no changes = %q, %v, %v (want %q, false)", sha2, committed, err, sha)
	}
	if msg := run(t, path, "log", "-1", "--format=%s"); msg != "T-1 code: wip" {
		t.Errorf("commit message = %q", msg)
	}

	// The directory disappears (e.g. deleted by hand): recreated from the branch.
	if err := os.RemoveAll(path); err != nil {
		t.Fatal(err)
	}
	p3, _, err := r.EnsureWorktree(ctx, "T-1", "main")
	if err != nil || p3 != path {
		t.Fatalf("EnsureWorktree after rm = %q, %v", p3, err)
	}
	if data, err := os.ReadFile(filepath.Join(path, "wip.txt")); err != nil || string(data) != "wip" {
		t.Fatalf("recreated worktree lacks the committed file: %q, %v", data, err)
	}

	if err := r.RemoveWorktree(ctx, "T-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("worktree dir still there after RemoveWorktree: %v", err)
	}
	if list := run(t, r.Dir, "worktree", "list", "--porcelain"); strings.Contains(list, "T-1") {
		t.Errorf("worktree still registered:\n%s", list)
	}
	if ok, _ := r.branchExists(ctx, "agent/T-1"); !ok {
		t.Error("RemoveWorktree deleted the branch")
	}
}

// A worktree whose add was killed before its checkout (registered, .git
// file written, nothing checked out) is made again, keeping its branch.
func TestEnsureWorktreeRedoesHalfMadeOne(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	path := r.WorktreePath("T-7")
	run(t, r.Dir, "worktree", "add", "-q", "--no-checkout", "-b", "agent/T-7", path, "main")
	if r.worktreeReady(path) {
		t.Fatal("a worktree without a checkout counts as ready")
	}
	got, branch, err := r.EnsureWorktree(ctx, "T-7", "main")
	if err != nil {
		t.Fatal(err)
	}
	if got != path || branch != "agent/T-7" || !r.worktreeReady(path) {
		t.Fatalf("EnsureWorktree = %s %s, ready %v", got, branch, r.worktreeReady(path))
	}
	if _, err := os.Stat(filepath.Join(path, "main.go")); err != nil {
		t.Errorf("files not checked out: %v", err)
	}
	if st := run(t, path, "status", "--porcelain"); st != "" {
		t.Errorf("worktree not clean: %q", st)
	}
}

func TestEnsureWorktreeRejectsBadID(t *testing.T) {
	r := newRepo(t)
	for _, id := range []string{"", "../x", "a/b", ".hidden", "T 1"} {
		if _, _, err := r.EnsureWorktree(context.Background(), id, "main"); err == nil {
			t.Errorf("EnsureWorktree(%q) succeeded", id)
		}
	}
}

func TestEnsureWorktreeParallel(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	// T-3's branch is left from an earlier run, one commit ahead: the batch
	// of new branches that includes it fails, and every ticket in that
	// batch is made the careful way, T-3 on its own branch
	run(t, r.Dir, "branch", "agent/T-3", "main")
	wt3 := filepath.Join(t.TempDir(), "wt3")
	run(t, r.Dir, "worktree", "add", "-q", wt3, "agent/T-3")
	write(t, filepath.Join(wt3, "t3.txt"), "earlier work\n")
	run(t, wt3, "add", "-A")
	run(t, wt3, "commit", "-q", "-m", "T-3 earlier work")
	run(t, r.Dir, "worktree", "remove", wt3)
	var wg sync.WaitGroup
	// each ticket asked for twice at once, as a prefetch and its phase do
	errs := make([]error, 16)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = r.EnsureWorktree(ctx, fmt.Sprintf("T-%d", i/2+1), "main")
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("T-%d: %v", i/2+1, err)
		}
	}
	list, err := r.listWorktrees(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 9 {
		t.Errorf("got %d worktrees, want 9 (checkout + 8)", len(list))
	}
	if _, err := os.Stat(filepath.Join(r.WorktreePath("T-3"), "t3.txt")); err != nil {
		t.Errorf("T-3's worktree is not on its earlier branch: %v", err)
	}
}

func TestCreateBranchBatches(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	// a batch held open while five more requests queue behind it
	release := make(chan struct{})
	held := make(chan struct{})
	go r.branches.add(&branchReq{done: make(chan error, 1)}, func([]*branchReq) { close(held); <-release })
	<-held
	var wg sync.WaitGroup
	errs := make([]error, 5)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = r.createBranch(ctx, fmt.Sprintf("agent/B-%d", i), "main")
		}()
	}
	for { // all five queued
		r.branches.mu.Lock()
		n := len(r.branches.pending)
		r.branches.mu.Unlock()
		if n == 5 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	// one of them names a branch that exists: the whole batch is refused
	run(t, r.Dir, "branch", "agent/B-2", "main")
	close(release)
	wg.Wait()
	for i, err := range errs {
		if err == nil {
			t.Errorf("B-%d was made although its batch held an existing branch", i)
		}
	}
	if out := run(t, r.Dir, "branch", "--list", "agent/B-*"); strings.Count(out, "agent/B-") != 1 {
		t.Errorf("branches after a refused batch:\n%s", out)
	}
	// the same requests without the existing branch: all made
	for i := range 5 {
		if i == 2 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.createBranch(ctx, fmt.Sprintf("agent/B-%d", i), "main"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if out := run(t, r.Dir, "branch", "--list", "agent/B-*"); strings.Count(out, "agent/B-") != 5 {
		t.Errorf("branches:\n%s", out)
	}
}

// Foreign answers a burst of new tickets from one look at the refs; a
// branch is foreign only when it exists with commits the base lacks, and a
// name is not mistaken for a longer one (T-1 and T-10) or a directory of
// branches (T-3/x).
func TestForeignInABurst(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	run(t, r.Dir, "branch", "agent/T-1")
	run(t, r.Dir, "checkout", "-q", "agent/T-1")
	write(t, filepath.Join(r.Dir, "theirs.txt"), "theirs\n")
	run(t, r.Dir, "add", "theirs.txt")
	run(t, r.Dir, "commit", "-qm", "another database's")
	run(t, r.Dir, "checkout", "-q", "main")
	run(t, r.Dir, "branch", "agent/T-10")
	run(t, r.Dir, "branch", "agent/T-3/x", "agent/T-1")
	want := map[string]bool{"T-1": true, "T-10": false, "T-2": false, "T-3": false, "T-11": false}
	// held open, so that all of them queue into one batch
	release := make(chan struct{})
	held := make(chan struct{})
	go r.tips.add(&tipReq{done: make(chan struct{})}, func([]*tipReq) { close(held); <-release })
	<-held
	var mu sync.Mutex
	got := map[string]bool{}
	var wg sync.WaitGroup
	for id := range want {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f := r.Foreign(ctx, id, "main")
			mu.Lock()
			got[id] = f
			mu.Unlock()
		}()
	}
	for {
		r.tips.mu.Lock()
		n := len(r.tips.pending)
		r.tips.mu.Unlock()
		if n == len(want) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	for id, w := range want {
		if got[id] != w {
			t.Errorf("Foreign(%s) = %v, want %v", id, got[id], w)
		}
	}
}

// A branch this process made for the ticket is its own, commits and all,
// and git is not asked again (the prefetched worktree's branch, met before
// the ticket recorded it).
func TestForeignKnowsItsOwnBranches(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	wt, _, err := r.EnsureWorktree(ctx, "T-5", "main")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(wt, "ours.txt"), "ours\n")
	if _, err := r.CommitAll(ctx, wt, "the ticket's tests"); err != nil {
		t.Fatal(err)
	}
	if r.Foreign(ctx, "T-5", "main") {
		t.Error("the branch this process made is called foreign")
	}
	// another process (a restart) did not make it: it looks
	if other, err := Open(r.Dir); err != nil {
		t.Fatal(err)
	} else if !other.Foreign(ctx, "T-5", "main") {
		t.Error("a branch with commits, made by another process, is not foreign")
	}
}

func TestDiffAndStageAll(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	wt, _, err := r.EnsureWorktree(ctx, "T-2", "main")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(wt, "committed.go"), "package main\n// committed\n")
	if _, err := r.CommitAll(ctx, wt, "step"); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(wt, "main.go"), "package main\n\nfunc main() { println(1) }\n")
	write(t, filepath.Join(wt, "brand/new.go"), "package brand\n// untracked marker\n")
	if err := os.Remove(filepath.Join(wt, "lib/util.go")); err != nil {
		t.Fatal(err)
	}
	// The base moves on after the branch was made; its changes are not ours.
	write(t, filepath.Join(r.Dir, "base_only.txt"), "base")
	run(t, r.Dir, "add", "-A")
	run(t, r.Dir, "commit", "-q", "-m", "base moves")

	diff, err := r.Diff(ctx, wt, "main")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"+// committed", "+// untracked marker", "println(1)", "deleted file mode", "diff --git a/brand/new.go b/brand/new.go"} {
		if !strings.Contains(diff, want) {
			t.Errorf("diff lacks %q:\n%s", want, diff)
		}
	}
	if strings.Contains(diff, "base_only") || strings.Contains(diff, "\x1b[") {
		t.Errorf("diff has base changes or color:\n%s", diff)
	}

	// Diff leaves the real index alone: the untracked file is still untracked.
	if st := run(t, wt, "status", "--porcelain", "brand"); st != "?? brand/" {
		t.Errorf("status of untracked dir after Diff = %q", st)
	}

	// what a merge brings: the committed change only
	branch, err := r.BranchDiff(ctx, wt, "main")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(branch, "+// committed") || strings.Contains(branch, "untracked marker") ||
		strings.Contains(branch, "println(1)") || strings.Contains(branch, "base_only") {
		t.Errorf("BranchDiff is not the committed change alone:\n%s", branch)
	}

	files, err := r.StageAll(ctx, wt, "main")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"brand/new.go", "committed.go", "lib/util.go", "main.go"}
	if !reflect.DeepEqual(files, want) {
		t.Errorf("StageAll = %v, want %v", files, want)
	}
	// what was staged is what gets committed; a file made afterwards is not
	write(t, filepath.Join(wt, "later.txt"), "after the check\n")
	if ok, err := r.CommitStaged(ctx, wt, "T-2 tests"); err != nil || !ok {
		t.Fatalf("CommitStaged = %v, %v", ok, err)
	}
	if got := run(t, wt, "show", "--name-only", "--format=", "HEAD"); got != "brand/new.go\nlib/util.go\nmain.go" {
		t.Errorf("the commit holds %q", got)
	}
	if st := run(t, wt, "status", "--porcelain"); st != "?? later.txt" {
		t.Errorf("status after CommitStaged = %q", st)
	}
	if ok, err := r.CommitStaged(ctx, wt, "nothing staged"); err != nil || ok {
		t.Errorf("CommitStaged with nothing staged = %v, %v", ok, err)
	}
}

func TestHashFiles(t *testing.T) {
	r := newRepo(t)
	sums, err := r.HashFiles(r.Dir, []string{"main.go", "missing.go"})
	if err != nil {
		t.Fatal(err)
	}
	if len(sums["main.go"]) != 64 || sums["missing.go"] != "" {
		t.Fatalf("HashFiles = %v", sums)
	}
	before := sums["main.go"]
	write(t, filepath.Join(r.Dir, "main.go"), "changed")
	sums, _ = r.HashFiles(r.Dir, []string{"main.go"})
	if sums["main.go"] == before {
		t.Error("hash did not change with content")
	}
	if _, err := r.HashFiles(r.Dir, []string{"../outside"}); err == nil {
		t.Error("HashFiles accepted a path outside the worktree")
	}

	// a link, even one leading outside, is hashed as git keeps it: by its
	// target's name, never followed
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(r.Dir, "link")); err != nil {
		t.Fatal(err)
	}
	sums, err = r.HashFiles(r.Dir, []string{"link"})
	if err != nil || len(sums["link"]) != 64 {
		t.Fatalf("HashFiles(link) = %v, %v", sums, err)
	}
	os.Remove(filepath.Join(r.Dir, "link"))
	os.Symlink(filepath.Join(outside, "elsewhere"), filepath.Join(r.Dir, "link"))
	if again, _ := r.HashFiles(r.Dir, []string{"link"}); again["link"] == sums["link"] {
		t.Error("a link's hash did not change with its target")
	}
}

func TestMerge(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	wt, branch, err := r.EnsureWorktree(ctx, "T-3", "main")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(wt, "feature.go"), "package main\n")
	if _, err := r.CommitAll(ctx, wt, "T-3 code"); err != nil {
		t.Fatal(err)
	}
	commit, err := r.Merge(ctx, branch, "main", "Merge T-3")
	if err != nil {
		t.Fatal(err)
	}
	if head := run(t, r.Dir, "rev-parse", "HEAD"); commit != head {
		t.Errorf("Merge returned %q, HEAD is %q", commit, head)
	}
	// the worktree gone, the merge commit still shows what the ticket brought
	if err := r.RemoveWorktree(ctx, "T-3"); err != nil {
		t.Fatal(err)
	}
	if d, err := r.MergedDiff(ctx, commit); err != nil || !strings.Contains(d, "+++ b/feature.go") || strings.Count(d, "diff --git") != 1 {
		t.Errorf("MergedDiff = %q, %v", d, err)
	}
	if _, err := os.Stat(filepath.Join(r.Dir, "feature.go")); err != nil {
		t.Error("merged file not in the checkout")
	}
	if parents := run(t, r.Dir, "log", "-1", "--format=%p %s"); len(strings.Fields(parents)) != 4 || !strings.HasSuffix(parents, "Merge T-3") {
		t.Errorf("want a --no-ff merge commit, got %q", parents)
	}
	// merged again (a run cut off before it recorded the merge): no new commit
	head := run(t, r.Dir, "rev-parse", "HEAD")
	if again, err := r.Merge(ctx, branch, "main", "Merge T-3"); err != nil || again != "" {
		t.Fatalf("merging again: commit %q, %v", again, err)
	}
	// the run that merged it was cut off: the merge is found again
	if found, err := r.MergeOf(ctx, branch, "main"); err != nil || found != commit {
		t.Errorf("MergeOf = %q, %v; want %s", found, err, commit)
	}
	if found, err := r.MergeOf(ctx, "agent/T-404", "main"); err != nil || found != "" {
		t.Errorf("MergeOf a missing branch = %q, %v", found, err)
	}
	if again := run(t, r.Dir, "rev-parse", "HEAD"); again != head {
		t.Errorf("merging a merged branch made commit %s", again)
	}
}

// A batch of merges: each branch gets its own merge commit on top of the one
// before, a conflicting branch is left out, and the checkout ends clean with
// every other branch in it. The same with the one-by-one fallback for git
// without merge-tree --write-tree.
func TestMergeBatch(t *testing.T) {
	for _, chain := range []bool{true, false} {
		t.Run(fmt.Sprintf("merge-tree=%v", chain), func(t *testing.T) {
			ctx := context.Background()
			r := newMergingRepo(t, chain)
			var batch []*mergeReq
			for _, id := range []string{"T-1", "T-2", "T-3"} {
				wt, branch, err := r.EnsureWorktree(ctx, id, "main")
				if err != nil {
					t.Fatal(err)
				}
				write(t, filepath.Join(wt, id+".txt"), id+"\n")
				if id == "T-2" {
					write(t, filepath.Join(wt, "main.go"), "package main\n// T-2\n")
				}
				if _, err := r.CommitAll(ctx, wt, id); err != nil {
					t.Fatal(err)
				}
				batch = append(batch, &mergeReq{branch: branch, base: "main", message: "Merge " + id, done: make(chan mergeResult, 1)})
			}
			write(t, filepath.Join(r.Dir, "main.go"), "package main\n// the user's\n")
			run(t, r.Dir, "commit", "-q", "-am", "user change")

			r.mergeBatch(ctx, batch)
			for i, q := range batch {
				res := <-q.done
				err := res.err
				if (err == nil) != (res.commit != "") {
					t.Errorf("%s: commit %q with error %v", q.branch, res.commit, err)
				}
				if err == nil && !strings.Contains(run(t, r.Dir, "log", "-1", "--format=%s", res.commit), q.message) {
					t.Errorf("%s: commit %s is not its merge", q.branch, res.commit)
				}
				var mb *MergeBlocked
				if i == 1 {
					if !errors.As(err, &mb) || mb.Reason != "merging agent/T-2 into main conflicts in: main.go" {
						t.Errorf("T-2: %v, want its conflict", err)
					}
				} else if err != nil {
					t.Errorf("%s: %v", q.branch, err)
				}
			}
			if got := run(t, r.Dir, "log", "--first-parent", "--format=%s", "-3"); got != "Merge T-3\nMerge T-1\nuser change" {
				t.Errorf("first-parent history:\n%s", got)
			}
			for _, f := range []string{"T-1.txt", "T-3.txt"} {
				if _, err := os.Stat(filepath.Join(r.Dir, f)); err != nil {
					t.Errorf("%s not in the checkout", f)
				}
			}
			if clean, _ := r.IsClean(ctx); !clean {
				t.Error("checkout not clean after the batch")
			}
			if data, _ := os.ReadFile(filepath.Join(r.Dir, "main.go")); string(data) != "package main\n// the user's\n" {
				t.Errorf("main.go = %q", data)
			}
		})
	}
}

func TestMergeBlocked(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	wt, branch, err := r.EnsureWorktree(ctx, "T-4", "main")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(wt, "main.go"), "package main\n// from the agent\n")
	if _, err := r.CommitAll(ctx, wt, "T-4 code"); err != nil {
		t.Fatal(err)
	}
	head := run(t, r.Dir, "rev-parse", "HEAD")

	checkBlocked := func(name, wantReason string) {
		t.Helper()
		_, err := r.Merge(ctx, branch, "main", "Merge T-4")
		var mb *MergeBlocked
		if !errors.As(err, &mb) {
			t.Fatalf("%s: Merge error = %v, want *MergeBlocked", name, err)
		}
		if mb.Reason != wantReason {
			t.Errorf("%s: reason = %q, want %q", name, mb.Reason, wantReason)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error is not one line: %q", name, err)
		}
	}

	// Dirty checkout: the user's edit stays exactly as it was.
	write(t, filepath.Join(r.Dir, "main.go"), "user edit\n")
	checkBlocked("dirty", "your checkout has uncommitted changes in main.go: commit or stash them, then approve again")
	if data, _ := os.ReadFile(filepath.Join(r.Dir, "main.go")); string(data) != "user edit\n" {
		t.Errorf("user's edit changed: %q", data)
	}
	if got := run(t, r.Dir, "rev-parse", "HEAD"); got != head {
		t.Errorf("dirty: HEAD moved: %s -> %s", head, got)
	}
	run(t, r.Dir, "checkout", "-q", "--", "main.go")

	// Wrong branch.
	run(t, r.Dir, "checkout", "-q", "-b", "other")
	checkBlocked("wrong branch", "your checkout is on branch other, not the base branch main")
	run(t, r.Dir, "checkout", "-q", "main")
	if got := run(t, r.Dir, "rev-parse", "main"); got != head {
		t.Errorf("wrong branch: main moved: %s -> %s", head, got)
	}

	// Conflict: base changed the same lines.
	write(t, filepath.Join(r.Dir, "main.go"), "package main\n// from the user\n")
	run(t, r.Dir, "commit", "-q", "-am", "user change")
	head = run(t, r.Dir, "rev-parse", "HEAD")
	checkBlocked("conflict", "merging agent/T-4 into main conflicts in: main.go")
	if got := run(t, r.Dir, "rev-parse", "HEAD"); got != head {
		t.Errorf("HEAD moved: %s -> %s", head, got)
	}
	if clean, _ := r.IsClean(ctx); !clean {
		t.Error("checkout not clean after a conflicting merge was refused")
	}
	if _, err := os.Stat(filepath.Join(r.GitDir, "MERGE_HEAD")); err == nil {
		t.Error("merge left in progress")
	}
}

func TestReconcile(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	p1, _, err := r.EnsureWorktree(ctx, "T-1", "main")
	if err != nil {
		t.Fatal(err)
	}
	p2, _, err := r.EnsureWorktree(ctx, "T-2", "main")
	if err != nil {
		t.Fatal(err)
	}
	orphan, _, err := r.EnsureWorktree(ctx, "T-9", "main")
	if err != nil {
		t.Fatal(err)
	}
	stray := filepath.Join(r.WorktreeRoot(), "stray")
	if err := os.MkdirAll(stray, 0o755); err != nil {
		t.Fatal(err)
	}
	// A worktree on an agent/ branch somewhere else entirely.
	elsewhere := filepath.Join(t.TempDir(), "wt")
	run(t, r.Dir, "worktree", "add", "-q", "-b", "agent/T-8", elsewhere, "main")

	if err := os.RemoveAll(p1); err != nil {
		t.Fatal(err)
	}
	known := map[string]string{"T-1": p1, "T-2": p2, "T-5": filepath.Join(r.WorktreeRoot(), "T-5")}
	rep, err := r.Reconcile(ctx, known)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rep.Recreated, []string{"T-1"}) {
		t.Errorf("Recreated = %v", rep.Recreated)
	}
	if _, err := os.Stat(filepath.Join(p1, "main.go")); err != nil {
		t.Errorf("T-1 not recreated: %v", err)
	}
	wantOrphans := []string{elsewhere, orphan, stray}
	for i := range wantOrphans {
		wantOrphans[i] = filepath.Clean(wantOrphans[i])
	}
	slices.Sort(wantOrphans)
	if !reflect.DeepEqual(rep.Orphans, wantOrphans) {
		t.Errorf("Orphans = %v, want %v", rep.Orphans, wantOrphans)
	}
	if len(rep.Errors) != 1 || !strings.Contains(rep.Errors[0], "T-5") {
		t.Errorf("Errors = %v, want one about T-5", rep.Errors)
	}
	for _, p := range wantOrphans {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("orphan %s was deleted", p)
		}
	}
}

func TestGitErrorIsOneLine(t *testing.T) {
	r := newRepo(t)
	_, _, err := r.EnsureWorktree(context.Background(), "T-1", "no-such-base")
	if err == nil {
		t.Fatal("EnsureWorktree from a missing base succeeded")
	}
	if !strings.HasPrefix(err.Error(), "git worktree add: ") || strings.Contains(err.Error(), "\n") {
		t.Errorf("error = %q", err)
	}
}

func TestResetHard(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	wt, _, err := r.EnsureWorktree(ctx, "T-6", "main")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(wt, "kept.go"), "package main\n")
	if _, err := r.CommitAll(ctx, wt, "accepted"); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(wt, "main.go"), "broken\n")
	write(t, filepath.Join(wt, "junk/x.txt"), "junk")
	if err := r.ResetHard(ctx, wt); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(wt, "main.go")); string(data) != "package main\n\nfunc main() {}\n" {
		t.Errorf("main.go not restored: %q", data)
	}
	if _, err := os.Stat(filepath.Join(wt, "junk")); err == nil {
		t.Error("untracked dir survived ResetHard")
	}
	if _, err := os.Stat(filepath.Join(wt, "kept.go")); err != nil {
		t.Error("ResetHard lost committed work")
	}
}

// A diff larger than DiffLimit is cut on a line boundary and says so.
func TestDiffIsCapped(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	wt, _, err := r.EnsureWorktree(ctx, "T-5", "main")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(wt, "big.txt"), strings.Repeat("a generated line of text\n", 4000))
	if _, err := r.CommitAll(ctx, wt, "big"); err != nil {
		t.Fatal(err)
	}
	defer func(old int) { DiffLimit = old }(DiffLimit)
	DiffLimit = 10 << 10
	for name, diff := range map[string]func() (string, error){
		"Diff":       func() (string, error) { return r.Diff(ctx, wt, "main") },
		"BranchDiff": func() (string, error) { return r.BranchDiff(ctx, wt, "main") },
	} {
		out, err := diff()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		body, marker, ok := strings.Cut(out, "[diff cut at ")
		if !ok || len(body) > DiffLimit || !strings.HasSuffix(body, "\n") || !strings.Contains(marker, "more bytes not shown") {
			t.Errorf("%s: %d bytes, marker %v:\n%s", name, len(out), ok, out[max(0, len(out)-200):])
		}
	}
}

// Worktrees removed together, while others are being added, all go (files
// and registrations) and keep their branches; a locked registration (an add
// killed half-way) goes too.
func TestRemoveWorktreesTogether(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	var gone []string
	for i := 1; i <= 6; i++ {
		id := fmt.Sprintf("T-%d", i)
		if _, _, err := r.EnsureWorktree(ctx, id, "main"); err != nil {
			t.Fatal(err)
		}
		gone = append(gone, id)
	}
	locked := r.registration(r.WorktreePath("T-6"))
	if locked == "" {
		t.Fatal("no registration for T-6")
	}
	write(t, filepath.Join(locked, "locked"), "initializing")
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for _, id := range gone {
		wg.Go(func() { errs <- r.RemoveWorktree(ctx, id) })
	}
	for i := 7; i <= 10; i++ {
		wg.Go(func() {
			_, _, err := r.EnsureWorktree(ctx, fmt.Sprintf("T-%d", i), "main")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	list := run(t, r.Dir, "worktree", "list", "--porcelain")
	for _, id := range gone {
		if _, err := os.Stat(r.WorktreePath(id)); !os.IsNotExist(err) {
			t.Errorf("%s: directory still there: %v", id, err)
		}
		if strings.Contains(list, r.WorktreePath(id)+"\n") {
			t.Errorf("%s still registered:\n%s", id, list)
		}
		if ok, _ := r.branchExists(ctx, BranchName(id)); !ok {
			t.Errorf("%s: branch deleted", id)
		}
	}
	for i := 7; i <= 10; i++ {
		if p := r.WorktreePath(fmt.Sprintf("T-%d", i)); !r.worktreeReady(p) || !strings.Contains(list, p+"\n") {
			t.Errorf("T-%d: not added while others were removed:\n%s", i, list)
		}
	}
}

// A locked registration that git cannot remove by name (its gitdir file
// emptied by a crash) is unlocked and pruned; nothing waits forever.
func TestRemoveBrokenLockedWorktree(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	path, _, err := r.EnsureWorktree(ctx, "T-1", "main")
	if err != nil {
		t.Fatal(err)
	}
	entry := r.registration(path)
	write(t, filepath.Join(entry, "locked"), "initializing")
	write(t, filepath.Join(entry, "gitdir"), "")
	mustFinish(t, 20*time.Second, "RemoveWorktree hangs", func() error { return r.RemoveWorktree(ctx, "T-1") })
	if _, err := os.Stat(entry); !os.IsNotExist(err) {
		t.Errorf("registration still there: %v", err)
	}
	// and the lock is free: another worktree can be made
	if _, _, err := r.EnsureWorktree(ctx, "T-2", "main"); err != nil {
		t.Fatal(err)
	}
}

// Committing again what was already committed, with a tracked file changed
// since (a run cut off after its commit, then a red test run that touched
// a file), commits nothing and is no error.
func TestCommitStagedNothingStaged(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	wt, _, err := r.EnsureWorktree(ctx, "T-1", "main")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(wt, "new_test.go"), "package main\n")
	if _, err := r.StageAll(ctx, wt, "main"); err != nil {
		t.Fatal(err)
	}
	if ok, err := r.CommitStaged(ctx, wt, "T-1 tests"); !ok || err != nil {
		t.Fatalf("first commit: %v %v", ok, err)
	}
	write(t, filepath.Join(wt, "main.go"), "package main\n// touched by a test run\n")
	if ok, err := r.CommitStaged(ctx, wt, "T-1 tests"); ok || err != nil {
		t.Fatalf("commit with nothing staged: committed %v, %v", ok, err)
	}
}

// Untracked files never block a merge that leaves them alone; one the
// merge would overwrite blocks it by name, and stays as it was.
func TestMergeAroundUntrackedFiles(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	wt, branch, err := r.EnsureWorktree(ctx, "T-5", "main")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(wt, "added.txt"), "from the agent\n")
	if _, err := r.CommitAll(ctx, wt, "T-5 code"); err != nil {
		t.Fatal(err)
	}
	head := run(t, r.Dir, "rev-parse", "HEAD")

	// in the way: refused by name, nothing touched
	write(t, filepath.Join(r.Dir, "added.txt"), "the user's own\n")
	_, err = r.Merge(ctx, branch, "main", "Merge T-5")
	var mb *MergeBlocked
	if !errors.As(err, &mb) || !strings.Contains(mb.Reason, "added.txt") || !strings.Contains(mb.Reason, "untracked") {
		t.Fatalf("merge over an untracked file: %v", err)
	}
	if got := run(t, r.Dir, "rev-parse", "HEAD"); got != head {
		t.Errorf("HEAD moved: %s -> %s", head, got)
	}
	if data, _ := os.ReadFile(filepath.Join(r.Dir, "added.txt")); string(data) != "the user's own\n" {
		t.Errorf("the user's file changed: %q", data)
	}
	if _, err := os.Stat(filepath.Join(r.GitDir, "MERGE_HEAD")); err == nil {
		t.Error("merge left in progress")
	}

	// out of the way: merged, the user's untracked files kept
	os.Remove(filepath.Join(r.Dir, "added.txt"))
	write(t, filepath.Join(r.Dir, ".agent-tui.toml"), "# the user's config\n")
	commit, err := r.Merge(ctx, branch, "main", "Merge T-5")
	if err != nil || commit == "" {
		t.Fatalf("merge beside an untracked file: %q, %v", commit, err)
	}
	if data, _ := os.ReadFile(filepath.Join(r.Dir, "added.txt")); string(data) != "from the agent\n" {
		t.Errorf("added.txt = %q", data)
	}
	if _, err := os.Stat(filepath.Join(r.Dir, ".agent-tui.toml")); err != nil {
		t.Error("the user's untracked file is gone")
	}
}

// A ticket whose branch was deleted behind agent-tui's back is blocked with
// a reason that says so, not git's "not something we can merge".
func TestMergeOfADeletedBranch(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	_, err := r.Merge(ctx, "agent/T-7", "main", "Merge T-7")
	var mb *MergeBlocked
	if !errors.As(err, &mb) || !strings.Contains(mb.Reason, "branch agent/T-7 no longer exists") {
		t.Fatalf("merge of a missing branch: %v", err)
	}
}

// A worktree whose .git file a command deleted or overwrote is made again
// from its branch (what was committed is kept), instead of being refused
// as unknown for good.
func TestWorktreeWithoutItsGitFileIsMadeAgain(t *testing.T) {
	ctx := context.Background()
	for name, damage := range map[string]func(string){
		"deleted":     func(p string) { os.Remove(p) },
		"overwritten": func(p string) { os.WriteFile(p, []byte("hi\n"), 0o644) },
		"replaced by a repository": func(p string) {
			os.Remove(p)
			exec.Command("git", "init", "-q", filepath.Dir(p)).Run()
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRepo(t)
			wt, _, err := r.EnsureWorktree(ctx, "T-6", "main")
			if err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(wt, "committed.txt"), "kept\n")
			if _, err := r.CommitAll(ctx, wt, "T-6 tests"); err != nil {
				t.Fatal(err)
			}
			damage(filepath.Join(wt, ".git"))
			got, _, err := r.EnsureWorktree(ctx, "T-6", "main")
			if err != nil || got != wt {
				t.Fatalf("EnsureWorktree after the .git file was %s: %q, %v", name, got, err)
			}
			if data, _ := os.ReadFile(filepath.Join(wt, "committed.txt")); string(data) != "kept\n" {
				t.Fatalf("committed work lost: %q", data)
			}
			write(t, filepath.Join(wt, "after.txt"), "after\n")
			if _, err := r.CommitAll(ctx, wt, "after"); err != nil {
				t.Fatalf("git in the worktree made again: %v", err)
			}
			// the commit is the ticket's, not a nested repository's
			if log := run(t, r.Dir, "log", "--format=%s", "agent/T-6"); !strings.Contains(log, "after") {
				t.Fatalf("branch log:\n%s", log)
			}
		})
	}
}

// A branch whose change another branch already brought in still gets its
// merge commit, so its history is merged; one merged before gets none.
func TestMergeOfAChangeAlreadyOnTheBase(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	var branches []string
	for _, id := range []string{"T-1", "T-2"} {
		wt, branch, err := r.EnsureWorktree(ctx, id, "main")
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(wt, "same.txt"), "the same change\n")
		if _, err := r.CommitAll(ctx, wt, id+" code"); err != nil {
			t.Fatal(err)
		}
		branches = append(branches, branch)
	}
	for i, b := range branches {
		commit, err := r.Merge(ctx, b, "main", "Merge "+b)
		if err != nil || commit == "" {
			t.Fatalf("merge %d of %s: %q, %v", i, b, commit, err)
		}
	}
	if merged := run(t, r.Dir, "branch", "--merged", "main"); !strings.Contains(merged, "agent/T-2") {
		t.Fatalf("T-2's branch is not merged:\n%s", merged)
	}
	if commit, err := r.Merge(ctx, branches[1], "main", "again"); err != nil || commit != "" {
		t.Fatalf("merging a merged branch again: %q, %v", commit, err)
	}
}

// A base view is the base branch as committed, not the user's checkout:
// one per commit, shared, removed once unread and superseded, and gone at
// the next start.
func TestBaseView(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	write(t, filepath.Join(r.Dir, "secret.env"), "KEY=1\n") // the user's, uncommitted
	run(t, r.Dir, "checkout", "-q", "-b", "other")
	write(t, filepath.Join(r.Dir, "OTHER.md"), "other\n")
	run(t, r.Dir, "add", "OTHER.md")
	run(t, r.Dir, "commit", "-qm", "other branch")
	view, release, err := r.BaseView(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(view, "main.go")); err != nil {
		t.Fatalf("main's files: %v", err)
	}
	for _, f := range []string{"secret.env", "OTHER.md"} {
		if _, err := os.Stat(filepath.Join(view, f)); err == nil {
			t.Fatalf("%s is in the view of main", f)
		}
	}
	again, release2, err := r.BaseView(ctx, "main")
	if err != nil || again != view {
		t.Fatalf("a second view of the same commit: %s, %v", again, err)
	}
	// main moves on: the old view goes once nobody reads it
	run(t, r.Dir, "checkout", "-q", "main")
	write(t, filepath.Join(r.Dir, "new.txt"), "new\n")
	run(t, r.Dir, "add", "new.txt")
	run(t, r.Dir, "commit", "-qm", "main moves")
	newer, release3, err := r.BaseView(ctx, "main")
	if err != nil || newer == view {
		t.Fatalf("view after main moved: %s, %v", newer, err)
	}
	if _, err := os.Stat(filepath.Join(newer, "new.txt")); err != nil {
		t.Fatal(err)
	}
	release()
	if !dirExists(view) {
		t.Fatal("a view still read was removed")
	}
	release2()
	if dirExists(view) {
		t.Fatal("an unread, superseded view was kept")
	}
	release3()
	if !dirExists(newer) {
		t.Fatal("the newest view was removed")
	}
	if _, err := r.Reconcile(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if dirExists(newer) || strings.Contains(run(t, r.Dir, "worktree", "list"), "views") {
		t.Fatalf("views left after a start:\n%s", run(t, r.Dir, "worktree", "list"))
	}
}

// A view is made beside a ticket worktree's add in progress (its checkout
// takes seconds in a large repository), not after it; a crash's leftover
// at the view's path is replaced.
func TestBaseViewBesideAWorktreeAdd(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	commit := strings.TrimSpace(run(t, r.Dir, "rev-parse", "main"))
	leftover := filepath.Join(r.viewRoot(), commit)
	write(t, filepath.Join(leftover, "stale.txt"), "from a crash\n")
	// what addConcurrently holds while a ticket's files are checked out
	r.wtMu.RLock()
	r.addSlots <- struct{}{}
	made := make(chan error, 1)
	go func() {
		_, release, err := r.BaseView(ctx, "main")
		if err == nil {
			release()
		}
		made <- err
	}()
	select {
	case err := <-made:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the view waited for the ticket's add to end")
	}
	<-r.addSlots
	r.wtMu.RUnlock()
	if _, err := os.Stat(filepath.Join(leftover, "stale.txt")); err == nil {
		t.Fatal("a crash's leftover stayed in the view")
	}
	if _, err := os.Stat(filepath.Join(leftover, "main.go")); err != nil {
		t.Fatalf("the view's files: %v", err)
	}
}

// Tickets on different base branches asking for views at once each get
// their own base's, and a missing base fails only its own.
func TestBaseViewsOfSeveralBasesAtOnce(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	run(t, r.Dir, "branch", "dev")
	var wg sync.WaitGroup
	errs := make([]error, 9)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			base := []string{"main", "dev", "gone"}[i%3]
			_, release, err := r.BaseView(ctx, base)
			if err == nil {
				release()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if (i%3 == 2) != (err != nil) {
			t.Errorf("view %d (%s): %v", i, []string{"main", "dev", "gone"}[i%3], err)
		}
	}
}

// Merges that meet in one batch are made in the order they were decided
// (MergeOptions.At), not the order they came in: of two that conflict,
// the one decided first lands.
func TestMergeBatchFollowsDecisionOrder(t *testing.T) {
	for _, chain := range []bool{true, false} {
		t.Run(fmt.Sprintf("merge-tree=%v", chain), func(t *testing.T) {
			ctx := context.Background()
			r := newMergingRepo(t, chain)
			ids := []string{"T-1", "T-2", "T-3"}
			for _, id := range ids {
				wt, _, err := r.EnsureWorktree(ctx, id, "main")
				if err != nil {
					t.Fatal(err)
				}
				write(t, filepath.Join(wt, "shared.txt"), "by "+id+"\n") // all conflict
				if _, err := r.CommitAll(ctx, wt, id); err != nil {
					t.Fatal(err)
				}
			}
			// held, so that all three queue into one batch, T-3 first
			r.merges.running.Lock()
			decided := time.Now()
			results := make([]chan error, len(ids))
			for i := len(ids) - 1; i >= 0; i-- {
				queued := make(chan struct{})
				results[i] = make(chan error, 1)
				go func() {
					_, err := r.MergeWith(ctx, BranchName(ids[i]), "main", "Merge "+ids[i], MergeOptions{
						At: decided.Add(time.Duration(i) * time.Second), Queued: func() { close(queued) },
					})
					results[i] <- err
				}()
				<-queued
			}
			r.merges.running.Unlock()
			for i, ch := range results {
				err := <-ch
				var mb *MergeBlocked
				if i == 0 && err != nil || i > 0 && !errors.As(err, &mb) {
					t.Errorf("%s: %v", ids[i], err)
				}
			}
			if data, _ := os.ReadFile(filepath.Join(r.Dir, "shared.txt")); string(data) != "by T-1\n" {
				t.Errorf("shared.txt = %q, want T-1's", data)
			}
		})
	}
}

// newMergingRepo is newRepo merging with merge-tree chains, or one by one
// as git without merge-tree --write-tree does.
func newMergingRepo(t *testing.T, chain bool) *Repo {
	t.Helper()
	r := newRepo(t)
	if chain && !r.hasMergeTree(context.Background()) {
		t.Skip("git without merge-tree --write-tree")
	}
	r.gitVersionOnce.Do(func() {})
	r.mergeTree = chain
	return r
}

// The error names the directory in full: "not a git repository: ." says
// nothing.
func TestOpenNamesRelativeDirInFull(t *testing.T) {
	plain := t.TempDir()
	t.Chdir(plain)
	if _, err := Open("."); err == nil || err.Error() != "not a git repository: "+plain {
		t.Errorf("Open(.) error = %v", err)
	}
}

// A hook that leaves a job in the background (`ctags &` in post-commit)
// leaves it holding git's stderr: the engine's git call ends with git,
// not with the job. Here the job waits for the test's word to end.
func TestGitDoesNotWaitForHookJobs(t *testing.T) {
	r := newRepo(t)
	ctx := context.Background()
	wt, _, err := r.EnsureWorktree(ctx, "T-1", "main")
	if err != nil {
		t.Fatal(err)
	}
	release := filepath.Join(t.TempDir(), "release")
	hooks := filepath.Join(r.Dir, ".git", "hooks")
	// (and when the directory goes: the release may come and go between
	// two looks, and the job would outlive the test)
	write(t, filepath.Join(hooks, "post-commit"), "#!/bin/sh\n(while [ ! -e "+release+" ] && [ -d "+filepath.Dir(release)+" ]; do sleep 0.05; done; echo job-done >&2) &\n")
	if err := os.Chmod(filepath.Join(hooks, "post-commit"), 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.WriteFile(release, nil, 0o644)
	write(t, filepath.Join(wt, "new.txt"), "new\n")
	mustFinish(t, 20*time.Second, "the commit waited for its hook's background job", func() error {
		_, err := r.CommitAll(ctx, wt, "T-1 code: with a hook")
		return err
	})
	if got := run(t, wt, "log", "-1", "--format=%s"); got != "T-1 code: with a hook" {
		t.Errorf("last commit %q", got)
	}
}

// A git repository a command made in the worktree and never committed to
// (git init, no more) is left out of the commit, untracked, as one with
// commits is: git add refuses it, and the attempt used to fail with that.
func TestCommitAllLeavesRepositoriesWithoutCommitsOut(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	wt, branch, err := r.EnsureWorktree(ctx, "T-1", "main")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"empty1", "sub/empty2"} {
		run(t, wt, "init", "-q", filepath.Join(wt, d))
		write(t, filepath.Join(wt, d, "inside.txt"), "not the ticket's\n")
	}
	write(t, filepath.Join(wt, "work.txt"), "the ticket's\n")
	if _, err := r.CommitAll(ctx, wt, "work"); err != nil {
		t.Fatalf("CommitAll with repositories without commits inside: %v", err)
	}
	files := run(t, r.Dir, "ls-tree", "-r", "--name-only", branch)
	if !strings.Contains(files, "work.txt") || strings.Contains(files, "empty") {
		t.Fatalf("committed:\n%s", files)
	}
	if d, err := r.Diff(ctx, wt, "main"); err != nil || !strings.Contains(d, "work.txt") {
		t.Fatalf("diff: %v\n%s", err, d)
	}
}

// HeadOf reads a worktree's branch and commit from git's files, loose or
// packed, and a detached HEAD.
func TestHeadOf(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	wt, branch, err := r.EnsureWorktree(ctx, "T-1", "main")
	if err != nil {
		t.Fatal(err)
	}
	want := strings.TrimSpace(run(t, wt, "rev-parse", "HEAD"))
	if ref, commit := r.HeadOf(wt); ref != "refs/heads/"+branch || commit != want {
		t.Fatalf("loose: %s %s, want %s", ref, commit, want)
	}
	run(t, r.Dir, "pack-refs", "--all")
	if _, commit := r.HeadOf(wt); commit != want {
		t.Fatalf("packed: %q, want %s", commit, want)
	}
	run(t, wt, "checkout", "-q", "--detach")
	if ref, commit := r.HeadOf(wt); ref != "" || commit != want {
		t.Fatalf("detached: %q %q", ref, commit)
	}
	if ref, commit := r.HeadOf(t.TempDir()); ref != "" || commit != "" {
		t.Fatalf("not a worktree: %q %q", ref, commit)
	}
}

// A check of a merge result ends with its asker (a quit, a cancel): the
// merge is not made, and the asker is not kept waiting for the check.
func TestMergeCheckEndsWithItsAsker(t *testing.T) {
	ctx := context.Background()
	r := newMergingRepo(t, true)
	wt, _, err := r.EnsureWorktree(ctx, "T-1", "main")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(wt, "t1.txt"), "t1\n")
	if _, err := r.CommitAll(ctx, wt, "T-1"); err != nil {
		t.Fatal(err)
	}
	// main moves on: the result is one no check has seen
	write(t, filepath.Join(r.Dir, "other.txt"), "other\n")
	run(t, r.Dir, "add", "other.txt")
	run(t, r.Dir, "commit", "-qm", "main moves")
	before := run(t, r.Dir, "rev-parse", "main")
	asked, cancel := context.WithCancel(ctx)
	started := make(chan struct{})
	go func() {
		<-started
		cancel()
	}()
	_, err = r.MergeWith(asked, BranchName("T-1"), "main", "Merge T-1", MergeOptions{Verify: func(ctx context.Context, dir string) (string, error) {
		close(started)
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(20 * time.Second):
			return "", nil
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("merge: %v", err)
	}
	if after := run(t, r.Dir, "rev-parse", "main"); after != before {
		t.Fatal("merged without a judgment")
	}
}

// SetAside keeps a person's changes (staged, unstaged, deleted, untracked)
// as a stash under the ticket's own numbered refs, off the user's stash
// stack and safe from gc; git stash apply brings each back.
func TestSetAsideKeepsOffTheUsersStashStack(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	roots := r.RootCommits(ctx)
	write(t, filepath.Join(r.Dir, "wip.txt"), "user wip\n")
	run(t, r.Dir, "stash", "push", "-q", "--include-untracked", "-m", "user wip")
	wt, _, err := r.EnsureWorktree(ctx, "T-3", "main")
	if err != nil {
		t.Fatal(err)
	}
	if ref, err := r.SetAside(ctx, wt, "T-3", "nothing"); ref != "" || err != nil {
		t.Fatalf("a clean worktree set aside: %q, %v", ref, err)
	}
	write(t, filepath.Join(wt, "staged.go"), "package main // staged\n")
	run(t, wt, "add", "staged.go")
	write(t, filepath.Join(wt, "main.go"), "changed\n")
	os.Remove(filepath.Join(wt, "lib/util.go"))
	write(t, filepath.Join(wt, "notes/new.txt"), "my notes\n")
	ref, err := r.SetAside(ctx, wt, "T-3", "agent-tui: T-3 first")
	if err != nil || ref != "refs/agent-tui/stash/T-3/1" {
		t.Fatalf("SetAside: %q, %v", ref, err)
	}
	if list := run(t, r.Dir, "stash", "list"); strings.Count(list, "\n") != 0 || !strings.Contains(list, "user wip") {
		t.Fatalf("the user's stash list: %q", list)
	}
	if err := r.ResetHard(ctx, wt); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(wt, "later.txt"), "later\n")
	if ref, err := r.SetAside(ctx, wt, "T-3", "agent-tui: T-3 second"); err != nil || ref != "refs/agent-tui/stash/T-3/2" {
		t.Fatalf("the second SetAside: %q, %v", ref, err)
	}
	run(t, r.Dir, "gc", "-q", "--prune=now")
	if err := r.ResetHard(ctx, wt); err != nil {
		t.Fatal(err)
	}
	run(t, wt, "stash", "apply", "-q", "--index", ref)
	for file, want := range map[string]string{"staged.go": "package main // staged\n", "main.go": "changed\n", "notes/new.txt": "my notes\n", "lib/util.go": ""} {
		if data, _ := os.ReadFile(filepath.Join(wt, file)); string(data) != want {
			t.Errorf("%s after git stash apply: %q, want %q", file, data, want)
		}
	}
	if got := run(t, wt, "diff", "--cached", "--name-only"); got != "staged.go" {
		t.Errorf("staged after git stash apply --index: %q", got)
	}
	if got := run(t, r.Dir, "log", "-1", "--format=%s", "refs/agent-tui/stash/T-3/2"); got != "agent-tui: T-3 second" {
		t.Errorf("the second stash: %q", got)
	}
	run(t, r.Dir, "stash", "pop", "-q")
	if data, _ := os.ReadFile(filepath.Join(r.Dir, "wip.txt")); string(data) != "user wip\n" {
		t.Errorf("the user's wip.txt after git stash pop: %q", data)
	}
	// the untracked files' commit has no parent: not a root of the history
	if got := r.RootCommits(ctx); got != roots {
		t.Errorf("RootCommits %q, was %q", got, roots)
	}
}

// A merge into a base branch that was deleted, or that is checked out in
// another worktree (git lets it be checked out in one place only), says
// so: not "switch to it", which cannot be done.
func TestMergeBlockedSaysWhereTheBaseIs(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	run(t, r.Dir, "branch", "feat-x")
	wt, branch, err := r.EnsureWorktree(ctx, "T-1", "feat-x")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(wt, "new.go"), "package main\n")
	if _, err := r.CommitAll(ctx, wt, "T-1 code"); err != nil {
		t.Fatal(err)
	}
	reason := func() string {
		t.Helper()
		_, err := r.Merge(ctx, branch, "feat-x", "Merge T-1")
		var mb *MergeBlocked
		if !errors.As(err, &mb) {
			t.Fatalf("Merge: %v, want a MergeBlocked", err)
		}
		return mb.Reason
	}
	other := filepath.Join(t.TempDir(), "userwt")
	run(t, r.Dir, "worktree", "add", "-q", other, "feat-x")
	if got := reason(); !strings.Contains(got, "the base branch feat-x is checked out in the worktree "+other) || !strings.Contains(got, "run agent-tui in "+other) {
		t.Errorf("base checked out elsewhere: %q", got)
	}
	run(t, r.Dir, "worktree", "remove", other)
	run(t, r.Dir, "branch", "-D", "feat-x")
	if got := reason(); !strings.HasPrefix(got, "the base branch feat-x no longer exists") {
		t.Errorf("base deleted: %q", got)
	}
	if got := run(t, r.Dir, "rev-parse", "--abbrev-ref", "HEAD"); got != "main" {
		t.Errorf("the checkout moved to %s", got)
	}
}

// A branch whose name is in the way of a ticket's ("agent" of
// "agent/T-1", or one under it) is named, in one error of its own.
func TestBranchInTheWayOfTheTicketsBranch(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	for id, blocker := range map[string]string{"T-1": "agent", "T-2": "agent/T-2/old"} {
		run(t, r.Dir, "branch", blocker)
		_, _, err := r.EnsureWorktree(ctx, id, "main")
		var in *BranchInTheWay
		if !errors.As(err, &in) || in.Branch != blocker || in.Wanted != "agent/"+id {
			t.Fatalf("%s: %v, want a BranchInTheWay of %s", id, err, blocker)
		}
		if msg := err.Error(); !strings.HasPrefix(msg, "a branch named "+blocker+" exists, which keeps git from making the ticket's branch agent/"+id) || strings.Contains(msg, "\n") {
			t.Errorf("%s: %q", id, msg)
		}
		run(t, r.Dir, "branch", "-D", blocker)
	}
}

// What test runs write (Python's bytecode, npm's installs, Cargo's target)
// is never committed where no .gitignore names it, nor counted as a
// change; but where the repository tracks files of a kind (vendored
// node_modules), that kind is its own, added as any other file.
func TestBuildOutputIsNeverCommitted(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := InitRepo(dir, map[string]string{
		"Cargo.toml":                 "[package]\nname = \"x\"\n",
		".gitignore":                 "/target/\n", // an exclude naming an ignored path fails git add
		"src/lib.rs":                 "pub fn f() {}\n",
		"vendor/node_modules/v/v.js": "tracked\n",
		"calc/__init__.py":           "",
	}, "main"); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	wt := worktree(t, r, "T-1")
	for name, body := range map[string]string{
		"calc/__pycache__/calc.cpython-311.pyc": "bytecode",
		"stray.pyc":                             "bytecode",
		"web/node_modules/left-pad/index.js":    "module.exports = 1\n",
		"target/debug/x":                        "\x7fELF",
		"src/target/mod.rs":                     "pub fn g() {}\n",
		"vendor/node_modules/v/v.js":            "changed\n",
		"src/lib.rs":                            "pub fn f() -> u8 { 1 }\n",
		"tests/t.rs":                            "#[test] fn t() {}\n",
	} {
		write(t, filepath.Join(wt, name), body)
	}
	changed, err := r.Changed(ctx, wt)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(changed)
	if want := []string{"src/lib.rs", "src/target/mod.rs", "tests/t.rs", "vendor/node_modules/v/v.js", "web/node_modules/left-pad/index.js"}; !slices.Equal(changed, want) {
		t.Fatalf("changed %v, want %v", changed, want)
	}
	if _, err := r.CommitAll(ctx, wt, "T-1 code"); err != nil {
		t.Fatal(err)
	}
	files := strings.Fields(run(t, wt, "ls-tree", "-r", "--name-only", "HEAD"))
	slices.Sort(files)
	if want := []string{".gitignore", "Cargo.toml", "calc/__init__.py", "src/lib.rs", "src/target/mod.rs", "tests/t.rs", "vendor/node_modules/v/v.js", "web/node_modules/left-pad/index.js"}; !slices.Equal(files, want) {
		t.Fatalf("committed %v, want %v", files, want)
	}
	if got := run(t, wt, "show", "HEAD:vendor/node_modules/v/v.js"); got != "changed" {
		t.Fatalf("a tracked file under node_modules was not committed: %q", got)
	}
}
