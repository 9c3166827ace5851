package tools

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// A sensitive ticket's builds leave nothing in the shared caches, where
// other tickets' commands could read its compiled code and test output:
// its test runs and its commands build with private caches beneath its
// temporary directory, and may not write the shared ones (but Go's module
// cache, which holds downloads alone).
func TestSensitiveBuildsUsePrivateCaches(t *testing.T) {
	if !LandlockUsable() {
		t.Skip("no Landlock")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skip("no home directory")
	}
	shared := filepath.Join(home, ".cache")
	if st, err := os.Stat(shared); err != nil || !st.IsDir() {
		t.Skip("no ~/.cache here")
	}
	if !slices.Contains(CheckWritable(false), shared) {
		t.Fatalf("~/.cache is not writable for other tickets: %q", CheckWritable(false))
	}
	probe := filepath.Join(shared, fmt.Sprintf("agent-tui-leak-%d", os.Getpid()))
	t.Cleanup(func() { os.Remove(probe) })
	script := `mkdir -p "$GOCACHE" "$XDG_CACHE_HOME" && echo built > "$GOCACHE/out" && echo private-ok; echo leaked > ` + probe + ` || echo refused-shared`

	dir := t.TempDir()
	wt, tmp := filepath.Join(dir, "wt"), filepath.Join(dir, "tmp")
	for _, d := range []string{wt, tmp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writable := CheckWritable(true, wt, tmp)
	if slices.Contains(writable, shared) {
		t.Errorf("a sensitive ticket's runs may write ~/.cache: %q", writable)
	}
	goDirs := goCacheDirs()
	for _, m := range goModDirs {
		if real, err := filepath.EvalSymlinks(m); err == nil && !slices.Contains(writable, real) && !slices.ContainsFunc(goDirs, func(d string) bool { return d != m && strings.HasPrefix(m, d+"/") }) {
			t.Errorf("Go's module cache %s is not writable for a sensitive ticket: %q", m, writable)
		}
	}
	env := PrivateCaches(WithTMPDIR(os.Environ(), tmp), tmp)
	res, err := ExecConfined(context.Background(), []string{"sh", "-c", script}, wt, env, 10*time.Second, 4096, writable, nil, nil)
	if err != nil || res.Unconfined != "" {
		t.Fatalf("%v %s", err, res.Unconfined)
	}
	if !strings.Contains(res.Output, "private-ok") || !strings.Contains(res.Output, "refused-shared") {
		t.Errorf("test run: %q", res.Output)
	}
	if _, err := os.Stat(filepath.Join(tmp, "cache", "go-build", "out")); err != nil {
		t.Errorf("the build cache is not the ticket's own: %v", err)
	}

	// the model's own commands, the same
	b, _, _ := setup(t, Options{Sensitive: true})
	out, isErr := call(t, b, "run_command", map[string]any{"command": script})
	if isErr || !strings.Contains(out, "private-ok") || !strings.Contains(out, "refused-shared") {
		t.Errorf("run_command: %q", out)
	}
	if _, err := os.Stat(probe); err == nil {
		t.Error("a sensitive ticket's command wrote the shared cache")
	}
}

// A sensitive ticket's download caches are resolved past the caches other
// tickets' commands may write: a module cache inside ~/.cache (GOPATH
// there) is not granted through a link another ticket left on the way.
// And a cache that is a file (cargo's lock) is granted as a file.
func TestSensitiveCachesAreNotRedirected(t *testing.T) {
	base, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(base, "home")
	cache := filepath.Join(home, ".cache")
	config := filepath.Join(home, ".config")
	for _, d := range []string{filepath.Join(cache, "evil", "pkg"), config, filepath.Join(home, ".cargo")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// what a command of another ticket left: .cache/go -> .cache/evil, and
	// evil/pkg/mod -> ~/.config
	if err := os.Symlink(config, filepath.Join(cache, "evil", "pkg", "mod")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(cache, "evil"), filepath.Join(cache, "go")); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(home, ".cargo", ".package-cache")
	if err := os.WriteFile(lock, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	modCache := filepath.Join(cache, "go", "pkg", "mod")
	gocache := filepath.Join(cache, "go-build")
	got := cachesFor(true, []string{gocache, modCache, cache, lock}, []string{modCache, lock}, []string{filepath.Join(base, "wt")})
	if slices.Contains(got, config) || !slices.Equal(got, []string{lock}) {
		t.Fatalf("writable %q", got)
	}
}
