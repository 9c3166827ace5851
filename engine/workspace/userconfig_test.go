package workspace

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A relative core.hooksPath is the user's checkout's: git would take it
// from the worktree a command runs in, whose hooks the model writes.
func TestHooksComeFromTheUsersCheckout(t *testing.T) {
	ctx := context.Background()
	dir, marks := t.TempDir(), t.TempDir()
	hook := func(who string) string {
		return "#!/bin/sh\necho " + who + " >> " + filepath.Join(marks, who) + "\n"
	}
	if err := InitRepo(dir, map[string]string{"main.go": "package main\n", ".githooks/post-commit": hook("user")}, "main"); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(dir, ".githooks/post-commit"), 0o755)
	run(t, dir, "commit", "-qam", "hooks executable")
	run(t, dir, "config", "core.hooksPath", ".githooks")
	os.Remove(filepath.Join(marks, "user"))
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	wt := worktree(t, r, "T-1")
	write(t, filepath.Join(wt, ".githooks/post-commit"), hook("model"))
	os.Chmod(filepath.Join(wt, ".githooks/post-commit"), 0o755)
	write(t, filepath.Join(wt, "x.txt"), "x\n")
	if ok, err := r.CommitAll(ctx, wt, "T-1 code"); err != nil || !ok {
		t.Fatalf("commit: %v %v", ok, err)
	}
	if _, err := os.Stat(filepath.Join(marks, "model")); err == nil {
		t.Error("a hook from the ticket's worktree ran")
	}
	if _, err := os.Stat(filepath.Join(marks, "user")); err != nil {
		t.Error("the user's hook did not run")
	}
}

// Ignored files of the user's checkout are not overwritten or deleted by
// a merge: the same path added, or a file added where they are a
// directory.
func TestMergeKeepsIgnoredFiles(t *testing.T) {
	for _, chain := range []bool{true, false} {
		t.Run(map[bool]string{true: "chain", false: "one by one"}[chain], func(t *testing.T) {
			ctx := context.Background()
			r := newMergingRepo(t, chain)
			write(t, filepath.Join(r.Dir, ".gitignore"), "config.local\nout/\n")
			run(t, r.Dir, "add", ".gitignore")
			run(t, r.Dir, "commit", "-qm", "ignore")
			write(t, filepath.Join(r.Dir, "config.local"), "MY SECRETS\n")
			write(t, filepath.Join(r.Dir, "out/important.dat"), "data\n")

			wt1, b1, _ := r.EnsureWorktree(ctx, "T-1", "main")
			write(t, filepath.Join(wt1, ".gitignore"), "out/\n")
			write(t, filepath.Join(wt1, "config.local"), "default=1\n")
			wt2, b2, _ := r.EnsureWorktree(ctx, "T-2", "main")
			write(t, filepath.Join(wt2, "out"), "a file\n")
			for _, wt := range []string{wt1, wt2} {
				if _, err := r.CommitAll(ctx, wt, "code"); err != nil {
					t.Fatal(err)
				}
			}
			head := run(t, r.Dir, "rev-parse", "HEAD")
			for branch, name := range map[string]string{b1: "config.local", b2: "out/"} {
				_, err := r.Merge(ctx, branch, "main", "Merge "+branch)
				var mb *MergeBlocked
				if !errors.As(err, &mb) || !strings.Contains(mb.Reason, name) {
					t.Errorf("merge of %s: %v, want blocked naming %s", branch, err, name)
				}
			}
			if got := run(t, r.Dir, "rev-parse", "HEAD"); got != head {
				t.Errorf("HEAD moved")
			}
			if data, _ := os.ReadFile(filepath.Join(r.Dir, "config.local")); string(data) != "MY SECRETS\n" {
				t.Errorf("config.local = %q", data)
			}
			if data, _ := os.ReadFile(filepath.Join(r.Dir, "out/important.dat")); string(data) != "data\n" {
				t.Errorf("out/important.dat = %q", data)
			}
		})
	}
}

// A file the user changed and marked assume-unchanged is one git status
// does not show; the fast-forward refuses it, and the merge stops there
// rather than trying git's own merge, which put the file back.
func TestMergeKeepsAnAssumeUnchangedEdit(t *testing.T) {
	ctx := context.Background()
	r := newMergingRepo(t, true)
	wt, branch, _ := r.EnsureWorktree(ctx, "T-1", "main")
	write(t, filepath.Join(wt, "main.go"), "package main // the agent's\n")
	if _, err := r.CommitAll(ctx, wt, "code"); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(r.Dir, "main.go"), "LOCAL ONLY EDIT\n")
	run(t, r.Dir, "update-index", "--assume-unchanged", "main.go")
	_, err := r.Merge(ctx, branch, "main", "Merge T-1")
	var mb *MergeBlocked
	if !errors.As(err, &mb) || !strings.Contains(mb.Reason, "main.go") {
		t.Errorf("merge: %v, want blocked naming main.go", err)
	}
	if data, _ := os.ReadFile(filepath.Join(r.Dir, "main.go")); string(data) != "LOCAL ONLY EDIT\n" {
		t.Errorf("the user's edit is gone: main.go = %q", data)
	}
}

// A file the merge puts where the user has an untracked directory is
// refused by name, not a git error.
func TestMergeOfAFileOverAnUntrackedDirectory(t *testing.T) {
	for _, chain := range []bool{true, false} {
		t.Run(map[bool]string{true: "chain", false: "one by one"}[chain], func(t *testing.T) {
			ctx := context.Background()
			r := newMergingRepo(t, chain)
			wt, branch, _ := r.EnsureWorktree(ctx, "T-1", "main")
			write(t, filepath.Join(wt, "docs"), "a file\n")
			if _, err := r.CommitAll(ctx, wt, "code"); err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(r.Dir, "docs/notes.txt"), "mine\n")
			_, err := r.Merge(ctx, branch, "main", "Merge T-1")
			var mb *MergeBlocked
			if !errors.As(err, &mb) || !strings.Contains(mb.Reason, "docs") {
				t.Errorf("merge: %v, want blocked naming docs", err)
			}
			if data, _ := os.ReadFile(filepath.Join(r.Dir, "docs/notes.txt")); string(data) != "mine\n" {
				t.Errorf("docs/notes.txt = %q", data)
			}
		})
	}
}

// The user's sparse checkout is not the ticket's: its worktree holds
// every file, and the user's checkout stays sparse.
func TestTicketWorktreeIsNotSparse(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	write(t, filepath.Join(r.Dir, "docs/a.md"), "d\n")
	run(t, r.Dir, "add", "docs")
	run(t, r.Dir, "commit", "-qm", "docs")
	run(t, r.Dir, "sparse-checkout", "set", "lib")
	if _, err := os.Stat(filepath.Join(r.Dir, "docs")); err == nil {
		t.Fatal("sparse-checkout did not apply")
	}
	wt := worktree(t, r, "T-1")
	if _, err := os.Stat(filepath.Join(wt, "docs/a.md")); err != nil {
		t.Errorf("the worktree lacks docs/a.md: %v", err)
	}
	write(t, filepath.Join(wt, "docs/new.md"), "new\n")
	if ok, err := r.CommitAll(ctx, wt, "docs"); err != nil || !ok {
		t.Fatalf("commit: %v %v", ok, err)
	}
	if got := run(t, r.Dir, "ls-tree", "-r", "--name-only", "agent/T-1", "docs"); !strings.Contains(got, "docs/new.md") {
		t.Errorf("branch docs: %q", got)
	}
	if _, err := os.Stat(filepath.Join(r.Dir, "docs")); err == nil {
		t.Error("the user's checkout is no longer sparse")
	}
}

// The user's diff settings do not change the diffs the engine reads.
func TestDiffIgnoresUsersPrefixSettings(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	run(t, r.Dir, "config", "diff.noprefix", "true")
	run(t, r.Dir, "config", "diff.mnemonicPrefix", "true")
	wt := worktree(t, r, "T-1")
	write(t, filepath.Join(wt, "lib/new.txt"), "new\n")
	diff, err := r.Diff(ctx, wt, "main")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(diff, "diff --git a/lib/new.txt b/lib/new.txt\n") {
		t.Errorf("diff:\n%s", diff)
	}
}

// The hooks directory is the one the repository's config gave when first
// asked: a relative hooks path set later (husky's prepare on npm install)
// or config only a worktree sees (includeIf onbranch:) does not send git
// to hooks the model wrote in its worktree.
func TestHooksPathSetLaterOrForWorktreesOnly(t *testing.T) {
	ctx := context.Background()
	marks := t.TempDir()
	r := newRepo(t)
	wt := worktree(t, r, "T-1") // the first command: hooks are git's default here
	for _, dir := range []string{".husky/_", "hk"} {
		write(t, filepath.Join(wt, dir, "post-commit"), "#!/bin/sh\necho x >> "+filepath.Join(marks, "model")+"\n")
		os.Chmod(filepath.Join(wt, dir, "post-commit"), 0o755)
	}
	run(t, r.Dir, "config", "core.hooksPath", ".husky/_")
	include := filepath.Join(t.TempDir(), "hooks.inc")
	write(t, include, "[core]\n\thooksPath = hk\n")
	run(t, r.Dir, "config", "includeIf.onbranch:agent/**.path", include)
	write(t, filepath.Join(wt, "x.txt"), "x\n")
	if ok, err := r.CommitAll(ctx, wt, "T-1 code"); err != nil || !ok {
		t.Fatalf("commit: %v %v", ok, err)
	}
	if _, err := os.Stat(filepath.Join(marks, "model")); err == nil {
		t.Fatal("a hook the model wrote in its worktree ran")
	}
	if got := r.HooksInTree(); got != "" {
		t.Fatalf("HooksInTree %q, want none (git's default when first asked)", got)
	}
}

// A hooks directory in the work tree is named for the guard that keeps
// tickets from changing it; husky's generated .husky/_ runs .husky's
// scripts, so .husky is.
func TestHooksInTree(t *testing.T) {
	for hooksPath, want := range map[string]string{
		".githooks": ".githooks", ".husky/_": ".husky", "tools/hooks/": "tools/hooks", "/nowhere/hooks": "", "": "",
	} {
		r := newRepo(t)
		if hooksPath != "" {
			run(t, r.Dir, "config", "core.hooksPath", hooksPath)
		}
		if got := r.HooksInTree(); got != want {
			t.Errorf("core.hooksPath %q: HooksInTree %q, want %q", hooksPath, got, want)
		}
	}
}
