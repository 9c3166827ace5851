package tools

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// The model's search over a tree of 20,000 small files, none matching:
// a large repository's whole-tree search.
func BenchmarkSearch20000Files(b *testing.B) {
	wt := b.TempDir()
	for d := range 200 {
		dir := filepath.Join(wt, fmt.Sprintf("d%03d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range 100 {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d.go", f)), fmt.Appendf(nil, "package x // some text %d %d\n", d, f), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	box, err := New(Options{Root: wt, TempDir: b.TempDir(), Sandbox: "off", ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer box.Close()
	for b.Loop() {
		if res, isErr := box.Call(context.Background(), "search", `{"pattern":"NEEDLE[0-9]"}`); isErr || res != "no matches" {
			b.Fatal(res)
		}
	}
}
