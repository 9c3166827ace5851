package tools

import (
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A FIFO in the worktree (a test suite's, or one a command made) is no
// file to read, search or write: each tool answers at once instead of
// waiting for a writer or reader that never comes.
func TestFIFODoesNotHangTheTools(t *testing.T) {
	b, wt, _ := setup(t, Options{})
	if err := unix.Mkfifo(filepath.Join(wt, "pipe"), 0o644); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	mustWrite(t, filepath.Join(wt, "src/a.go"), "package a\nfunc Foo() {}\n")
	if err := unix.Symlink("../pipe", filepath.Join(wt, "src/link")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"read_file", map[string]any{"path": "pipe"}, "not a regular file"},
		{"write_file", map[string]any{"path": "pipe", "content": "x"}, "not a regular file"},
		{"edit_file", map[string]any{"path": "pipe", "old_string": "a", "new_string": "b"}, "not a regular file"},
		{"search", map[string]any{"pattern": "func"}, "src/a.go:2:func Foo() {}"},
	} {
		done := make(chan struct{})
		var res string
		var isErr bool
		go func() {
			defer close(done)
			res, isErr = call(t, b, c.tool, c.args)
		}()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s on a FIFO hangs", c.tool)
		}
		if c.tool == "search" {
			wantOK(t, res, isErr)
			if res != c.want {
				t.Errorf("search = %q", res)
			}
			continue
		}
		wantErr(t, res, isErr, c.want)
	}
}
