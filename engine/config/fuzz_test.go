package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to Load: it must never panic, and any error
// must stay on one line and name the file (the CLI prints it as is).
func FuzzLoad(f *testing.F) {
	f.Add([]byte(base))
	f.Add([]byte("approve = []\n" + base + "[phases.code]\nmodels = [\n  \"medium\", # c\n  \"x\",\n]\n"))
	f.Add([]byte("s = '''\n[phases.x]\n'''\n[[model]]\n[model.sub]\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "fuzz.toml")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := Load(path)
		if err != nil {
			msg := err.Error()
			if strings.Contains(msg, "\n") || !strings.HasPrefix(msg, path) {
				t.Fatalf("bad error %q", msg)
			}
			return
		}
		// A config that loads must answer every accessor.
		for _, p := range AllPhases {
			if len(c.Phase(p).Models) == 0 {
				t.Fatalf("phase %s has no model", p)
			}
		}
		c.TopTier()
	})
}
