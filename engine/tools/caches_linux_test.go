package tools

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// A cache reached through a directory commands may write is not granted on
// its own: there a command can make it a link to anywhere (GOCACHE is
// ~/.cache/go-build by default, beneath ~/.cache), and the next run would
// be granted what it points to. Links the user made outside them stand.
func TestCachesAreNotResolvedThroughWritableDirectories(t *testing.T) {
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(base, "home")
	elsewhere := filepath.Join(base, "data", "m2")
	cache := filepath.Join(home, ".cache")
	for _, d := range []string{cache, filepath.Join(cache, "npm-real"), elsewhere, filepath.Join(home, ".m2")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	gocache := filepath.Join(cache, "go-build")
	links := map[string]string{
		gocache:                                  home, // what a command left
		filepath.Join(home, ".npm"):              filepath.Join(cache, "npm-real"),
		filepath.Join(home, ".m2", "repository"): elsewhere, // the user's own
		filepath.Join(home, ".yarn"):             filepath.Join(cache, "yarn"),
	}
	for link, target := range links {
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	// a command of another ticket made .cache/yarn a link to the home directory
	if err := os.Symlink(home, filepath.Join(cache, "yarn")); err != nil {
		t.Fatal(err)
	}
	wt := filepath.Join(base, "wt")
	if err := os.MkdirAll(wt, 0o755); err != nil {
		t.Fatal(err)
	}
	cands := []string{gocache, cache, filepath.Join(home, ".npm"), filepath.Join(home, ".m2", "repository"), filepath.Join(home, ".yarn"), filepath.Join(home, ".gradle")}
	got := writableCaches(cands, []string{wt})
	if want := []string{cache, elsewhere}; !slices.Equal(got, want) {
		t.Errorf("writable caches %q, want %q", got, want)
	}

	if !LandlockUsable() {
		return
	}
	res, err := ExecConfined(context.Background(), []string{"sh", "-c", "echo planted > " + filepath.Join(gocache, "planted") + "; echo cached > " + filepath.Join(cache, "ok")},
		wt, os.Environ(), 10*time.Second, 4096, append([]string{wt}, got...), nil, nil)
	if err != nil || res.Unconfined != "" {
		t.Fatalf("%v %s", err, res.Unconfined)
	}
	if _, err := os.Stat(filepath.Join(home, "planted")); err == nil {
		t.Errorf("a run wrote the home directory through the cache's link: %s", res.Output)
	}
	if _, err := os.Stat(filepath.Join(cache, "ok")); err != nil {
		t.Errorf("the cache itself is not writable: %s", res.Output)
	}
}
