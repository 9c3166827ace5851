package workspace

import (
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// trap is a git config that, read by any git command, makes it run a
// program: the marker it leaves says agent-tui's own git (which runs
// outside any sandbox) read a config the model wrote.
func trap(marker string) string {
	return "[core]\n\tfsmonitor = \"touch " + marker + "; false\"\n" +
		"[filter \"x\"]\n\tclean = \"touch " + marker + "; cat\"\n\tsmudge = \"touch " + marker + "; cat\"\n"
}

func noMarker(t *testing.T, marker, after string) {
	t.Helper()
	if _, err := os.Stat(marker); err == nil {
		t.Fatalf("after %s, git ran a program from a config the model wrote", after)
	}
}

// The model writes its worktree, .git file included: a .git pointing at a
// git dir of its own making must not have agent-tui's git read that git
// dir's config, and the file is put back.
func TestGitIgnoresAGitDirTheModelPointsAt(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	wt := worktree(t, r, "T-1")
	marker := filepath.Join(t.TempDir(), "ran")
	original, err := os.ReadFile(filepath.Join(wt, ".git"))
	if err != nil {
		t.Fatal(err)
	}
	plant := func() {
		evil := filepath.Join(wt, "evil")
		run(t, wt, "init", "-q", "--bare", evil)
		write(t, filepath.Join(evil, "config"), "[core]\n\trepositoryformatversion = 0\n\tbare = false\n"+trap(marker))
		write(t, filepath.Join(wt, ".gitattributes"), "* filter=x\n")
		write(t, filepath.Join(wt, ".git"), "gitdir: "+evil+"\n")
		write(t, filepath.Join(wt, "new.txt"), "new\n")
	}
	steps := []struct {
		name string
		do   func() error
	}{
		{"Changed", func() error { _, err := r.Changed(ctx, wt); return err }},
		{"Diff", func() error { _, err := r.Diff(ctx, wt, "main"); return err }},
		{"StageAll", func() error { _, err := r.StageAll(ctx, wt, "main"); return err }},
		{"CommitAll", func() error { _, err := r.CommitAll(ctx, wt, "T-1 code"); return err }},
		{"BranchDiff", func() error { _, err := r.BranchDiff(ctx, wt, "main"); return err }},
		{"ShowFile", func() error { _, err := r.ShowFile(ctx, wt, "HEAD", "main.go"); return err }},
		{"BringIn", func() error {
			return r.BringIn(ctx, wt, "main", "bring in main", func([]string) error { return nil })
		}},
		{"ResetHard", func() error { return r.ResetHard(ctx, wt) }},
	}
	for _, s := range steps {
		plant()
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		noMarker(t, marker, s.name)
		if got, _ := os.ReadFile(filepath.Join(wt, ".git")); string(got) != string(original) {
			t.Fatalf("after %s, .git = %q, want %q back", s.name, got, original)
		}
	}
	if !r.HasWorktree("T-1") {
		t.Error("the worktree no longer counts as whole")
	}

	// git is tied to the registration even before the file is put back
	// (the model's command may still be running)
	plant()
	write(t, filepath.Join(wt, "late.txt"), "late\n")
	env, _, err := r.pinEnv(wt)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := git(ctx, wt, env, "add", "-A"); err != nil {
		t.Fatal(err)
	}
	if _, err := git(ctx, wt, env, gitArgs(agentIdentity, []string{"commit", "-q", "-m", "T-1 late"})...); err != nil {
		t.Fatal(err)
	}
	noMarker(t, marker, "git with the worktree's .git still rewritten")
	if log := run(t, r.Dir, "log", "--format=%s", "agent/T-1"); !strings.Contains(log, "T-1 code") || !strings.Contains(log, "T-1 late") {
		t.Errorf("the commit went elsewhere; agent/T-1 has:\n%s", log)
	}
}

// A git repository the model makes inside its worktree (git add -A takes
// it in as a submodule) is never entered by agent-tui's git, which would
// read its config; resetting the worktree removes it.
func TestGitNeverEntersARepositoryTheModelMakes(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	wt := worktree(t, r, "T-1")
	marker := filepath.Join(t.TempDir(), "ran")
	sub := filepath.Join(wt, "sub")
	run(t, wt, "init", "-q", sub)
	write(t, filepath.Join(sub, "f.txt"), "one\n")
	run(t, sub, "add", "f.txt")
	run(t, sub, "commit", "-q", "-m", "one")
	cfg, err := os.ReadFile(filepath.Join(sub, ".git", "config"))
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(sub, ".git", "config"), string(cfg)+trap(marker))
	write(t, filepath.Join(sub, ".gitattributes"), "* filter=x\n")
	write(t, filepath.Join(sub, "f.txt"), "two\n") // dirty: status looks inside

	if _, err := r.CommitAll(ctx, wt, "T-1 code"); err != nil {
		t.Fatal(err)
	}
	noMarker(t, marker, "CommitAll")
	steps := []struct {
		name string
		do   func() error
	}{
		{"Changed", func() error { _, err := r.Changed(ctx, wt); return err }},
		{"Diff", func() error { _, err := r.Diff(ctx, wt, "main"); return err }},
		{"StageAll", func() error { _, err := r.StageAll(ctx, wt, "main"); return err }},
		{"BranchDiff", func() error { _, err := r.BranchDiff(ctx, wt, "main"); return err }},
		{"ResetHard", func() error { return r.ResetHard(ctx, wt) }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		noMarker(t, marker, s.name)
	}
	if _, err := os.Stat(filepath.Join(sub, ".git")); err == nil {
		t.Error("ResetHard left the model's repository in place")
	}
}

// The index is read for its submodule entries in every version git
// writes; a split index is left to git.
func TestIndexGitlinks(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	wt := worktree(t, r, "T-1")
	head := run(t, wt, "rev-parse", "HEAD")
	for _, p := range []string{"vendor/a", "vendor/ab", "z/deep/dir/link"} {
		run(t, wt, "update-index", "--add", "--cacheinfo", "160000,"+head+","+p)
	}
	write(t, filepath.Join(wt, "vendor/aa.txt"), "x\n")
	write(t, filepath.Join(wt, "later.txt"), "x\n")
	run(t, wt, "add", "vendor/aa.txt")
	run(t, wt, "add", "-N", "later.txt") // intent to add: an extended flag (version 3)
	index := filepath.Join(r.registration(wt), "index")
	want := []string{"vendor/a", "vendor/ab", "z/deep/dir/link"}
	for _, v := range []string{"2", "3", "4"} {
		run(t, wt, "update-index", "--index-version", v)
		got, err := indexGitlinks(index, r.hashLen)
		if err != nil || strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("version %s: %q, %v; want %q", v, got, err, want)
		}
	}
	run(t, wt, "update-index", "--split-index")
	if _, err := indexGitlinks(index, r.hashLen); err != errIndexFormat {
		t.Errorf("split index read as %v", err)
	}
	got, err := r.gitlinks(ctx, wt, index, nil)
	if err != nil || strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("split index, asked of git: %q, %v", got, err)
	}
	if got, err := indexGitlinks(filepath.Join(t.TempDir(), "none"), r.hashLen); got != nil || err != nil {
		t.Errorf("no index: %q, %v", got, err)
	}
}

func FuzzIndexGitlinks(f *testing.F) {
	entry := func(mode uint32, name string) []byte {
		e := make([]byte, 62)
		binary.BigEndian.PutUint32(e[24:], mode)
		binary.BigEndian.PutUint16(e[60:], uint16(len(name)))
		e = append(e, name...)
		return append(e, make([]byte, 8-(len(e)%8))...)
	}
	index := append([]byte("DIRC\x00\x00\x00\x02\x00\x00\x00\x02"), entry(0o100644, "a.txt")...)
	index = append(index, entry(gitlinkMode, "sub")...)
	index = append(index, make([]byte, 20)...)
	if got, err := indexGitlinks(writeTemp(f, index), 20); err != nil || len(got) != 1 || got[0] != "sub" {
		f.Fatalf("seed read as %q, %v", got, err)
	}
	f.Add(index)
	f.Add([]byte("DIRC\x00\x00\x00\x04\x00\x00\x00\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		indexGitlinks(writeTemp(t, data), 20) // never panics
	})
}

func writeTemp(t testing.TB, data []byte) string {
	p := filepath.Join(t.TempDir(), "index")
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// A fifo in place of the worktree's .git (mkfifo .git, by a command) does
// not hang agent-tui: it is replaced.
func TestFifoInPlaceOfDotGit(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	wt := worktree(t, r, "T-1")
	dotGit := filepath.Join(wt, ".git")
	original, _ := os.ReadFile(dotGit)
	os.Remove(dotGit)
	if err := syscall.Mkfifo(dotGit, 0o644); err != nil {
		t.Skip("no fifos here:", err)
	}
	mustFinish(t, 10*time.Second, "ResetHard hangs on a fifo named .git", func() error { return r.ResetHard(ctx, wt) })
	if got, _ := os.ReadFile(dotGit); string(got) != string(original) {
		t.Errorf(".git = %q, want %q back", got, original)
	}
	os.Remove(dotGit)
	syscall.Mkfifo(dotGit, 0o644)
	mustFinish(t, 10*time.Second, "RemoveWorktree hangs on a fifo named .git", func() error { return r.RemoveWorktree(ctx, "T-1") })
}

// A sensitive ticket's objects are written to its private store, read
// through the repository's alternates, and moved into the repository's
// store by Publish; an alternate the user had stays listed.
func TestPrivateObjects(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	alternates := filepath.Join(r.GitDir, "objects", "info", "alternates")
	theirs := t.TempDir()
	write(t, alternates, theirs+"\n")
	wt := worktree(t, r, "T-1")
	if err := r.KeepPrivate("T-1"); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(wt, "secret.txt"), "SECRET\n")
	if _, err := r.CommitAll(ctx, wt, "T-1 code"); err != nil {
		t.Fatal(err)
	}
	blob := run(t, r.Dir, "rev-parse", "agent/T-1:secret.txt")
	loose := func(root string) bool {
		_, err := os.Stat(filepath.Join(root, blob[:2], blob[2:]))
		return err == nil
	}
	if loose(filepath.Join(r.GitDir, "objects")) || !loose(r.PrivateObjects("T-1")) {
		t.Fatal("the blob is not kept in the private store alone")
	}
	if got := run(t, r.Dir, "show", "agent/T-1:secret.txt"); got != "SECRET" {
		t.Fatalf("read from the checkout: %q", got)
	}
	// the repository moved: its alternates still lead to the store
	moved := filepath.Join(t.TempDir(), "moved")
	if err := os.Rename(r.Dir, moved); err != nil {
		t.Fatal(err)
	}
	if got := run(t, moved, "show", "agent/T-1:secret.txt"); got != "SECRET" {
		t.Fatalf("read after a move: %q", got)
	}
	if err := os.Rename(moved, r.Dir); err != nil {
		t.Fatal(err)
	}
	if err := r.Publish("T-1"); err != nil {
		t.Fatal(err)
	}
	if !loose(filepath.Join(r.GitDir, "objects")) {
		t.Fatal("the blob was not put into the repository's store")
	}
	// the store stays until the next start: a git process running now
	// may still look there
	if !loose(r.PrivateObjects("T-1")) {
		t.Error("the private store went at once")
	}
	r.SweepPublished()
	if _, err := os.Stat(r.PrivateObjects("T-1")); err == nil {
		t.Error("the published store is still there after the sweep")
	}
	if data, _ := os.ReadFile(alternates); string(data) != theirs+"\n" {
		t.Errorf("alternates = %q, want the user's own line alone", data)
	}
	run(t, r.Dir, "fsck", "--no-dangling")
}

// When a ticket's registration is not named after its directory (git
// numbers it: the user has a worktree named T-2 elsewhere), a .git the
// model made a symlink to another ticket's .git pins agent-tui's git to
// that other ticket.
func TestRegistrationNeverFollowsTheModelsSymlink(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	wt1 := worktree(t, r, "T-1")
	if err := r.KeepPrivate("T-1"); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(wt1, "secret.txt"), "SECRET\n")
	if _, err := r.CommitAll(ctx, wt1, "T-1 code"); err != nil {
		t.Fatal(err)
	}
	// the user's own worktree, named T-2
	run(t, r.Dir, "worktree", "add", "-q", "--detach", filepath.Join(t.TempDir(), "T-2"), "main")
	wt2 := worktree(t, r, "T-2")
	if filepath.Base(r.registration(wt2)) == "T-2" {
		t.Fatal("T-2 registered under its own name: the numbered case is not tested")
	}
	// T-2's model: .git -> T-1's .git
	os.Remove(filepath.Join(wt2, ".git"))
	if err := os.Symlink(filepath.Join(wt1, ".git"), filepath.Join(wt2, ".git")); err != nil {
		t.Fatal(err)
	}
	if got := r.registration(wt2); filepath.Base(got) == "T-1" {
		t.Errorf("T-2 is taken for T-1's registration %s", got)
	}
	if data, err := r.ShowFile(ctx, wt2, "HEAD", "secret.txt"); err == nil {
		t.Errorf("T-2 reads T-1's sensitive file: %q", data)
	}
}

// The index of a SHA-256 repository is read as well.
func TestIndexGitlinksSHA256(t *testing.T) {
	dir := t.TempDir()
	run(t, dir, "init", "-q", "--object-format=sha256")
	write(t, filepath.Join(dir, "a.txt"), "a\n")
	run(t, dir, "add", "a.txt")
	run(t, dir, "commit", "-q", "-m", "one")
	head := run(t, dir, "rev-parse", "HEAD")
	for _, p := range []string{"vendor/a", "vendor/ab", "z/deep/dir/link"} {
		run(t, dir, "update-index", "--add", "--cacheinfo", "160000,"+head+","+p)
	}
	write(t, filepath.Join(dir, "later.txt"), "x\n")
	run(t, dir, "add", "-N", "later.txt")
	for _, v := range []string{"2", "3", "4"} {
		run(t, dir, "update-index", "--index-version", v)
		got, err := indexGitlinks(filepath.Join(dir, ".git", "index"), 32)
		if err != nil || len(got) != 3 {
			t.Errorf("v%s: %q %v", v, got, err)
		}
	}
	r, err := Open(dir)
	if err != nil || r.hashLen != 32 {
		t.Fatal(err, r.hashLen)
	}
}

// looseWith lists the loose objects of the repository's own store whose
// content holds s.
func looseWith(t *testing.T, r *Repo, s string) []string {
	t.Helper()
	var hits []string
	dirs, _ := filepath.Glob(filepath.Join(r.GitDir, "objects", "??", "*"))
	for _, p := range dirs {
		id := filepath.Base(filepath.Dir(p)) + filepath.Base(p)
		cmd := exec.Command("git", "cat-file", "-p", id)
		cmd.Dir = r.Dir
		cmd.Env = append(gitEnv(), "GIT_OBJECT_DIRECTORY="+filepath.Join(r.GitDir, "objects"), "GIT_ALTERNATE_OBJECT_DIRECTORIES=")
		out, _ := cmd.Output()
		if strings.Contains(string(out), s) {
			hits = append(hits, id)
		}
	}
	return hits
}

// A sensitive ticket whose merge is refused for a conflict: its code stays
// out of the repository's own store.
func TestBlockedMergeKeepsSensitiveObjectsPrivate(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	wt, branch, err := r.EnsureWorktree(ctx, "T-1", "main")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.KeepPrivate("T-1"); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(wt, "main.go"), "package main\n// SECRET algorithm\n")
	write(t, filepath.Join(wt, "secretdir/x.go"), "package x // SECRET\n")
	if _, err := r.CommitAll(ctx, wt, "T-1 code"); err != nil {
		t.Fatal(err)
	}
	if hits := looseWith(t, r, "SECRET"); len(hits) > 0 {
		t.Fatalf("before the merge: %v", hits)
	}
	write(t, filepath.Join(r.Dir, "main.go"), "package main\n// from the user\n")
	run(t, r.Dir, "commit", "-q", "-am", "user change")
	_, err = r.Merge(ctx, branch, "main", "Merge T-1")
	t.Logf("merge: %v", err)
	if hits := looseWith(t, r, "SECRET"); len(hits) > 0 {
		t.Errorf("a refused merge left the sensitive code in the shared store: %v", hits)
	}
	if hits := looseWith(t, r, "secretdir"); len(hits) > 0 {
		t.Errorf("and its file names: %v", hits)
	}
}

// A sensitive branch merged by hand makes the base depend on the private
// store: BaseNeedsStore says so (and not for a branch with no commit of
// its own), and Publish makes the repository whole without it.
func TestHandMergedSensitiveBranchIsPublished(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	wt, branch, err := r.EnsureWorktree(ctx, "T-1", "main")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.KeepPrivate("T-1"); err != nil {
		t.Fatal(err)
	}
	if r.BaseNeedsStore(ctx, "T-1", "main") {
		t.Fatal("a branch with no commit of its own counts as merged")
	}
	write(t, filepath.Join(wt, "secret.txt"), "SECRET\n")
	if _, err := r.CommitAll(ctx, wt, "T-1 code"); err != nil {
		t.Fatal(err)
	}
	if r.BaseNeedsStore(ctx, "T-1", "main") {
		t.Fatal("an unmerged branch counts as merged")
	}
	run(t, r.Dir, "merge", "-q", "--ff-only", branch)
	if !r.BaseNeedsStore(ctx, "T-1", "main") {
		t.Fatal("a branch merged by hand is not seen")
	}
	if err := r.Publish("T-1"); err != nil {
		t.Fatal(err)
	}
	os.Rename(filepath.Join(r.GitDir, "agent-tui"), filepath.Join(t.TempDir(), "moved"))
	run(t, r.Dir, "fsck", "--connectivity-only")
}

// A batch merges sensitive T-1 then ordinary T-2 on top of it; the
// fast-forward fails (a file in the way of T-1's), so each merges alone
// and T-1 is refused. T-2's chain merge, made on top of T-1's, must not
// have left T-1's code in the shared store.
func TestChainAfterARefusedSensitiveMergeLeaksNothing(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	base := "l1\nl2\nl3\nl4\nl5\nl6\nl7\nl8\nl9\n"
	write(t, filepath.Join(r.Dir, "shared.txt"), base)
	run(t, r.Dir, "add", "shared.txt")
	run(t, r.Dir, "commit", "-q", "-m", "shared")
	wt1, b1, err := r.EnsureWorktree(ctx, "T-1", "main")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.KeepPrivate("T-1"); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(wt1, "shared.txt"), "l1\nSECRET\nl3\nl4\nl5\nl6\nl7\nl8\nl9\n")
	write(t, filepath.Join(wt1, "new.txt"), "new\n")
	if _, err := r.CommitAll(ctx, wt1, "T-1 code"); err != nil {
		t.Fatal(err)
	}
	wt2, b2, err := r.EnsureWorktree(ctx, "T-2", "main")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(wt2, "shared.txt"), "l1\nl2\nl3\nl4\nl5\nl6\nl7\nl8\nT2\n")
	if _, err := r.CommitAll(ctx, wt2, "T-2 code"); err != nil {
		t.Fatal(err)
	}
	if hits := looseWith(t, r, "SECRET"); len(hits) > 0 {
		t.Fatalf("before: %v", hits)
	}
	// the user's untracked file where T-1 adds one (appears after the
	// dirty check: the checkout changed under the merge)
	write(t, filepath.Join(r.Dir, "new.txt"), "mine\n")
	q1 := &mergeReq{branch: b1, base: "main", message: "m1", done: make(chan mergeResult, 1)}
	q2 := &mergeReq{branch: b2, base: "main", message: "m2", done: make(chan mergeResult, 1)}
	r.mergeChain(ctx, []*mergeReq{q1, q2}, nil)
	res1, res2 := <-q1.done, <-q2.done
	t.Logf("T-1: %+v  T-2: %+v", res1, res2)
	if res1.err == nil {
		t.Skip("T-1 merged: the case is not reached")
	}
	if hits := looseWith(t, r, "SECRET"); len(hits) > 0 {
		t.Errorf("T-1 was refused, yet its code is in the shared store: %v", hits)
	}
}

// DropUnstaged keeps what is staged and ignored files, and drops what a
// run changed or made since.
func TestDropUnstaged(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	wt := worktree(t, r, "T-1")
	if dropped, err := r.DropUnstaged(ctx, wt); err != nil || dropped {
		t.Fatalf("a clean worktree: %v %v", dropped, err)
	}
	write(t, filepath.Join(wt, ".gitignore"), "cache/\n")
	write(t, filepath.Join(wt, "main.go"), "package main // staged\n")
	if err := r.Stage(ctx, wt); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(wt, "main.go"), "package main // by the run\n")
	write(t, filepath.Join(wt, "made.txt"), "by the run\n")
	write(t, filepath.Join(wt, "cache/x"), "kept\n")
	if dropped, err := r.DropUnstaged(ctx, wt); err != nil || !dropped {
		t.Fatalf("%v %v", dropped, err)
	}
	if data, _ := os.ReadFile(filepath.Join(wt, "main.go")); string(data) != "package main // staged\n" {
		t.Errorf("main.go = %q", data)
	}
	if _, err := os.Stat(filepath.Join(wt, "made.txt")); err == nil {
		t.Error("an untracked file the run made stayed")
	}
	if _, err := os.Stat(filepath.Join(wt, "cache/x")); err != nil {
		t.Error("an ignored file went")
	}
}

// worktree makes ticket id's worktree on main.
func worktree(t *testing.T, r *Repo, id string) string {
	t.Helper()
	wt, _, err := r.EnsureWorktree(context.Background(), id, "main")
	if err != nil {
		t.Fatal(err)
	}
	return wt
}
