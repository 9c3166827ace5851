package tools

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// Tool-argument decoding: whatever arguments a model sends to the file
// tools, the call never panics, always answers, and nothing appears outside
// the worktree.
func FuzzToolCall(f *testing.F) {
	f.Add("write_file", `{"path": "a.txt", "content": "x"}`)
	f.Add("edit_file", `{"path": "a.txt", "old_string": "x", "new_string": "y"}`)
	f.Add("read_file", `{"path": "a.txt", "offset": "2", "limit": 1}`)
	f.Add("list_dir", `{"path": "../"}`)
	f.Add("search", `{"pattern": "(", "path": "."}`)
	f.Add("write_file", `{"path": "../escape", "content": 1}`)
	f.Add("read_file", `not json`)
	base := f.TempDir()
	outside := filepath.Join(base, "outside")
	wt := filepath.Join(base, "wt")
	os.MkdirAll(outside, 0o755)
	os.MkdirAll(wt, 0o755)
	b, err := New(Options{Root: wt, Sandbox: "off", TempDir: filepath.Join(base, "tmp")})
	if err != nil {
		f.Fatal(err)
	}
	defer b.Close()
	f.Fuzz(func(t *testing.T, name, args string) {
		if name == "run_command" {
			return // commands are the sandbox's business, not the decoder's
		}
		res, _ := b.Call(context.Background(), name, args)
		if res == "" {
			t.Fatalf("%s(%q) gave an empty result", name, args)
		}
		if entries, _ := os.ReadDir(outside); len(entries) > 0 {
			t.Fatalf("%s(%q) wrote outside the worktree", name, args)
		}
		if entries, _ := os.ReadDir(base); len(entries) > 3 {
			t.Fatalf("%s(%q) wrote beside the worktree: %v", name, args, entries)
		}
	})
}
