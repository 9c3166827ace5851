package tools

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A write that a full disk cuts short leaves the file as it was (or no
// file), not half of it for the commit.
func TestWriteOnAFullDiskLeavesNoHalfFile(t *testing.T) {
	dir := t.TempDir()
	wt := filepath.Join(dir, "wt")
	if err := os.MkdirAll(wt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", wt, "tmpfs", 0, "size=1m"); err != nil {
		t.Skip("no tmpfs to fill here (needs root):", err)
	}
	t.Cleanup(func() { syscall.Unmount(wt, syscall.MNT_DETACH) })
	mustWrite(t, filepath.Join(wt, "keep.txt"), "the old content\n")
	if err := os.Chmod(filepath.Join(wt, "keep.txt"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := New(Options{Root: wt, TempDir: filepath.Join(dir, "tmp")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	big := strings.Repeat("x", 2<<20)

	res, isErr := call(t, b, "write_file", map[string]any{"path": "keep.txt", "content": big})
	wantErr(t, res, isErr, "no space left on device")
	data, err := os.ReadFile(filepath.Join(wt, "keep.txt"))
	if err != nil || string(data) != "the old content\n" {
		t.Fatalf("keep.txt after the failed write: %d bytes, %v", len(data), err)
	}
	if st, err := os.Stat(filepath.Join(wt, "keep.txt")); err != nil || st.Mode().Perm() != 0o755 {
		t.Fatalf("keep.txt's mode: %v %v", st.Mode(), err)
	}

	res, isErr = call(t, b, "write_file", map[string]any{"path": "new/file.txt", "content": big})
	wantErr(t, res, isErr, "no space left on device")
	if _, err := os.Stat(filepath.Join(wt, "new", "file.txt")); !os.IsNotExist(err) {
		t.Fatalf("a half new file was left: %v", err)
	}
}
