package workspace

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A merge that a full disk stops half way through writing the checkout
// puts back what it wrote: left, the cut-off files read as the user's
// own uncommitted changes, and committing them would put them on main.
// Once there is room, the merge goes through.
func TestMergeStoppedByAFullDiskLeavesTheCheckoutAsItWas(t *testing.T) {
	for _, chain := range []bool{true, false} {
		t.Run(map[bool]string{true: "chain", false: "one by one"}[chain], func(t *testing.T) {
			dir := t.TempDir()
			if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=6m"); err != nil {
				t.Skip("no tmpfs to fill here (needs root):", err)
			}
			t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
			if err := InitRepo(dir, map[string]string{"main.go": "package main\n", "keep.txt": "small\n"}, "main"); err != nil {
				t.Fatal(err)
			}
			r, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			if chain && !r.hasMergeTree(context.Background()) {
				t.Skip("git without merge-tree --write-tree")
			}
			r.gitVersionOnce.Do(func() {})
			r.mergeTree = chain
			ctx := context.Background()
			wt, branch, err := r.EnsureWorktree(ctx, "T-1", "main")
			if err != nil {
				t.Fatal(err)
			}
			big := strings.Repeat("a line the ticket wrote\n", 40_000) // ~1 MB, compressed to little
			write(t, filepath.Join(wt, "keep.txt"), big)
			write(t, filepath.Join(wt, "tests", "new_test.txt"), big)
			if _, err := r.CommitAll(ctx, wt, "code"); err != nil {
				t.Fatal(err)
			}
			head := run(t, dir, "rev-parse", "HEAD")

			// all but 300 KB taken, outside the checkout's files
			var st syscall.Statfs_t
			if err := syscall.Statfs(dir, &st); err != nil {
				t.Fatal(err)
			}
			filler := filepath.Join(r.GitDir, "filler")
			if err := os.WriteFile(filler, make([]byte, int64(st.Bavail)*st.Bsize-300<<10), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err = r.Merge(ctx, branch, "main", "Merge "+branch)
			var mb *MergeBlocked
			if !errors.As(err, &mb) || !strings.Contains(mb.Reason, "put back as they were") {
				t.Fatalf("merge on a full disk: %v", err)
			}
			if got := run(t, dir, "rev-parse", "HEAD"); got != head {
				t.Fatal("HEAD moved")
			}
			if out := run(t, dir, "status", "--porcelain", "--untracked-files=all"); out != "" {
				t.Fatalf("the checkout was left changed:\n%s", out)
			}
			if data, _ := os.ReadFile(filepath.Join(dir, "keep.txt")); string(data) != "small\n" {
				t.Fatalf("keep.txt holds %d bytes", len(data))
			}

			if err := os.Remove(filler); err != nil {
				t.Fatal(err)
			}
			if _, err := r.Merge(ctx, branch, "main", "Merge "+branch); err != nil {
				t.Fatalf("merge with room again: %v", err)
			}
			if data, _ := os.ReadFile(filepath.Join(dir, "keep.txt")); string(data) != big {
				t.Fatalf("keep.txt after the merge holds %d bytes", len(data))
			}
		})
	}
}

// git's failure to write a new worktree on a full disk is known as one,
// so the ticket's stop says to free space rather than quote an engine
// error.
func TestWorktreeOnAFullDiskIsAWriteFailure(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=2m"); err != nil {
		t.Skip("no tmpfs to fill here (needs root):", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	if err := InitRepo(filepath.Join(dir, "repo"), map[string]string{"main.go": "package main\n", "big.txt": strings.Repeat("a line of the project\n", 20_000)}, "main"); err != nil {
		t.Fatal(err)
	}
	r, err := Open(filepath.Join(dir, "repo"))
	if err != nil {
		t.Fatal(err)
	}
	// the worktrees on the full disk too
	if err := r.UseWorkRoot(filepath.Join(dir, "work")); err != nil {
		t.Fatal(err)
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(r.GitDir, "filler"), make([]byte, int64(st.Bavail)*st.Bsize-100<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err = r.EnsureWorktree(context.Background(), "T-1", "main")
	if err == nil || !WriteFailed(err) {
		t.Fatalf("EnsureWorktree on a full disk: %v (a write failure: %v)", err, WriteFailed(err))
	}
}
