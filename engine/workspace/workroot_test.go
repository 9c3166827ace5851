package workspace

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// Worktrees live outside .git, in a work root recorded both ways: a later
// run with another environment finds it, and a copy of the repository
// gets one of its own.
func TestWorktreesLiveOutsideGit(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	wt, _, err := r.EnsureWorktree(ctx, "T-1", "main")
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(strings.Split(wt, string(filepath.Separator)), ".git") {
		t.Fatalf("worktree %s is inside a .git directory", wt)
	}
	if got := run(t, wt, "rev-parse", "--abbrev-ref", "HEAD"); strings.TrimSpace(got) != "agent/T-1" {
		t.Fatalf("worktree on %q", got)
	}
	view, release, err := r.BaseView(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	release()
	if !strings.HasPrefix(view, r.WorkRoot()+string(filepath.Separator)) {
		t.Fatalf("base view %s is not in the work root %s", view, r.WorkRoot())
	}

	// another environment: the recorded root still
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	again, err := Open(r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if again.WorktreePath("T-1") != wt || !again.HasWorktree("T-1") {
		t.Fatalf("reopened with another XDG_DATA_HOME: T-1 at %s, want %s", again.WorktreePath("T-1"), wt)
	}

	// a copy (cp -r) brings the record along, but not the worktrees
	copied := filepath.Join(t.TempDir(), "copy")
	if out, err := exec.Command("cp", "-r", r.Dir, copied).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	c, err := Open(copied)
	if err != nil {
		t.Fatal(err)
	}
	if c.WorkRoot() == r.WorkRoot() {
		t.Fatalf("the copy shares the work root %s", c.WorkRoot())
	}
	cwt, _, err := c.EnsureWorktree(ctx, "T-2", "main")
	if err != nil || strings.HasPrefix(cwt, r.WorkRoot()) {
		t.Fatalf("the copy's worktree %s (%v)", cwt, err)
	}
	if back, err := Open(filepath.Join(cwt, "lib")); err != nil || back.Dir != c.Dir {
		t.Fatalf("Open from the copy's worktree: %+v %v", back, err)
	}
}

// A worktree an earlier agent-tui made inside .git stays where it is
// until its ticket is done with it; new ones go outside.
func TestWorktreeMadeInsideGitStaysThere(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	old := filepath.Join(r.GitDir, "agent-tui", "worktrees", "T-1")
	run(t, r.Dir, "worktree", "add", "-q", "-b", "agent/T-1", old, "main")
	if got := r.WorktreePath("T-1"); got != old {
		t.Fatalf("WorktreePath(T-1) = %s, want the one inside .git %s", got, old)
	}
	if p, _, err := r.EnsureWorktree(ctx, "T-1", "main"); err != nil || p != old {
		t.Fatalf("EnsureWorktree(T-1) = %s %v, want %s", p, err, old)
	}
	stray := filepath.Join(r.GitDir, "agent-tui", "worktrees", "stray")
	if err := os.MkdirAll(stray, 0o755); err != nil {
		t.Fatal(err)
	}
	rep, err := r.Reconcile(ctx, map[string]string{"T-1": old})
	if err != nil || !slices.Equal(rep.Orphans, []string{stray}) {
		t.Fatalf("Reconcile: orphans %v (%v), want %s", rep.Orphans, err, stray)
	}
	if err := r.RemoveWorktree(ctx, "T-1"); err != nil {
		t.Fatal(err)
	}
	if got := r.WorktreePath("T-1"); got != filepath.Join(r.WorktreeRoot(), "T-1") || strings.HasPrefix(got, r.GitDir) {
		t.Fatalf("after removal WorktreePath(T-1) = %s", got)
	}
	// taken up again from its branch: outside .git now
	if p, _, err := r.EnsureWorktree(ctx, "T-1", "main"); err != nil || strings.HasPrefix(p, r.GitDir) {
		t.Fatalf("EnsureWorktree(T-1) again = %s %v", p, err)
	}
}

// With nowhere to make a work root (no writable home), worktrees are
// made inside .git, as before, and nothing is recorded.
func TestNoHomeKeepsWorktreesInsideGit(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	write(t, file, "not a directory\n")
	homes := []string{filepath.Join(file, "data")}
	if fi, err := os.Stat("/proc/self"); err == nil && fi.IsDir() {
		// where even root makes no directory (a tester's XDG_DATA_HOME)
		homes = append(homes, "/proc/agent-tui-none")
	}
	for _, home := range homes {
		t.Setenv("XDG_DATA_HOME", home)
		r := newRepo(t)
		wt, _, err := r.EnsureWorktree(context.Background(), "T-1", "main")
		if err != nil {
			t.Fatalf("%s: %v", home, err)
		}
		if want := filepath.Join(r.GitDir, "agent-tui", "worktrees", "T-1"); wt != want {
			t.Fatalf("%s: worktree at %s, want %s", home, wt, want)
		}
		if _, err := os.Stat(filepath.Join(r.GitDir, "agent-tui", workRootPointer)); err == nil {
			t.Fatalf("%s: a work root inside .git was recorded", home)
		}
	}
}

// What a build compiles (a `go build -o` binary, a Makefile's objects, a
// test runner built in tests/) is never committed, nor reported as a
// change; a compiled file the repository already tracks is, and so are a
// script and the fixtures in testdata/ (an ELF to parse, a wasm module).
func TestCompiledOutputIsNeverCommitted(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	elf := "\x7fELF\x02\x01\x01\x00 prebuilt"
	if err := InitRepo(dir, map[string]string{"main.go": "package main\n", "lib/prebuilt.o": elf}, "main"); err != nil {
		t.Fatal(err)
	}
	r, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	wt, _, err := r.EnsureWorktree(ctx, "T-1", "main")
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile("/bin/true")
	if err != nil {
		t.Skip(err)
	}
	for name, f := range map[string]struct {
		data string
		mode os.FileMode
	}{
		"calcbin":                        {string(self), 0o755},
		"build/app.o":                    {elf + " object", 0o644},
		"build/App.class":                {"\xca\xfe\xba\xbe\x00\x00\x00\x41", 0o644},
		"run.sh":                         {"#!/bin/sh\necho hi\n", 0o755},
		"docs/notes.txt":                 {"MZ is a text here\n", 0o644},
		"lib/prebuilt.o":                 {elf + " rebuilt", 0o644},
		"testdata/in.wasm":               {"\x00asm\x01\x00\x00\x00", 0o644},
		"testdata/hello":                 {string(self), 0o755},
		"tests/runner":                   {string(self), 0o755},
		"test/data/tiny.o":               {elf + " object", 0o644},
		"tests/abs.c":                    {"int abs_(int x) { return x < 0 ? -x : x; }\n", 0o644},
		"tests/abs.o":                    {elf + " object", 0o644},
		"src/test/resources/Hello.class": {"\xca\xfe\xba\xbe\x00\x00\x00\x41", 0o644},
	} {
		p := filepath.Join(wt, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(f.data), f.mode); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.CommitAll(ctx, wt, "T-1 code"); err != nil {
		t.Fatal(err)
	}
	got := strings.Fields(run(t, wt, "diff", "--name-only", "main", "HEAD"))
	if want := []string{"docs/notes.txt", "lib/prebuilt.o", "run.sh", "src/test/resources/Hello.class", "test/data/tiny.o", "testdata/hello", "testdata/in.wasm", "tests/abs.c"}; !slices.Equal(got, want) {
		t.Fatalf("committed %v, want %v", got, want)
	}
	if changed, err := r.Changed(ctx, wt); err != nil || len(changed) != 0 {
		t.Fatalf("after the commit, changes %v (%v): the compiled files are none", changed, err)
	}
	if _, err := os.Stat(filepath.Join(wt, "calcbin")); err != nil {
		t.Fatal("the binary was removed from the worktree:", err)
	}
}

// A filter or merge driver the config names by a relative path runs from
// the checkout, never the worktree's file of that name: the model writes
// the worktree (and its .gitattributes pick the driver).
func TestRelativeDriversRunFromTheCheckout(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	run(t, r.Dir, "config", "filter.tidy.clean", "sh tools/tidy.sh %f")
	run(t, r.Dir, "config", "filter.bare.clean", "sh tidy.sh")
	run(t, r.Dir, "config", "filter.env.clean", "env sh tidy.sh")
	run(t, r.Dir, "config", "filter.sed.clean", "sed -f tidy.sed")
	run(t, r.Dir, "config", "merge.keep.driver", "tools/keep.sh %O %A %B")
	// a pinned script's own relative call runs the checkout's file too,
	// and python -m's modules are not the worktree's
	run(t, r.Dir, "config", "filter.deep.clean", "sh deep.sh")
	_, noPython := exec.LookPath("python3")
	if noPython == nil {
		run(t, r.Dir, "config", "filter.js.clean", "python3 -m json.tool")
	}
	write(t, filepath.Join(r.Dir, "deep.sh"), "sh tools/impl.sh\n")
	write(t, filepath.Join(r.Dir, "tools", "impl.sh"), "tr a-z A-Z\n")
	ran := filepath.Join(t.TempDir(), "ran")
	// the checkout's own filter: what the user set up
	write(t, filepath.Join(r.Dir, "tools", "tidy.sh"), "cat\n")
	if err := os.Chmod(filepath.Join(r.Dir, "tools", "tidy.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	again, err := Open(r.Dir) // the config is read once per process
	if err != nil {
		t.Fatal(err)
	}
	wt, _, err := again.EnsureWorktree(ctx, "T-1", "main")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(wt, "tools", "tidy.sh"), "echo model >> "+ran+"\ncat\n")
	if err := os.Chmod(filepath.Join(wt, "tools", "tidy.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(wt, "tidy.sh"), "echo model >> "+ran+"\ncat\n")
	write(t, filepath.Join(wt, "tidy.sed"), "1e echo model >> "+ran+"\n")
	write(t, filepath.Join(wt, "tools", "impl.sh"), "echo model >> "+ran+"\ncat\n")
	write(t, filepath.Join(wt, "deep.txt"), "hello\n")
	write(t, filepath.Join(wt, "json", "__init__.py"), "open("+strconv.Quote(ran)+", 'a').write('model')\n")
	write(t, filepath.Join(wt, "data.json"), `{"a":  1}`+"\n")
	write(t, filepath.Join(wt, ".gitattributes"), "*.txt filter=tidy merge=keep\n*.md filter=bare\n*.env filter=env\n*.sed.txt filter=sed\ndeep.txt filter=deep\n*.json filter=js\n")
	write(t, filepath.Join(wt, "notes.md"), "hello\n")
	write(t, filepath.Join(wt, "a.env"), "hello\n")
	write(t, filepath.Join(wt, "b.sed.txt"), "hello\n")
	write(t, filepath.Join(wt, "notes.txt"), "hello\n")
	if _, err := again.CommitAll(ctx, wt, "T-1 code"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ran); err == nil {
		t.Fatal("a file of the worktree ran as a filter, or from one")
	}
	if got := run(t, wt, "show", "HEAD:notes.txt"); strings.TrimSpace(got) != "hello" {
		t.Fatalf("committed %q", got)
	}
	if got := run(t, wt, "show", "HEAD:deep.txt"); strings.TrimSpace(got) != "HELLO" {
		t.Fatalf("the checkout's deep filter did not run: committed %q", got)
	}
	if got := run(t, wt, "show", "HEAD:data.json"); noPython == nil && !strings.Contains(got, "\"a\": 1") {
		t.Fatalf("json.tool did not filter: committed %q", got)
	}
	// what they run is no ticket's to change
	if got, want := again.DriverFiles(), []string{"tools/keep.sh", "tools/tidy.sh", "tidy.sh", "tidy.sh", "tidy.sed", "deep.sh"}; !sameItems(got, want) {
		t.Fatalf("DriverFiles = %v, want %v", got, want)
	}
}

// A repository moved keeps its work root (named back to it); one made
// where it was gets a root of its own and never takes the moved one's
// worktrees.
func TestMovedRepositoryKeepsItsWorkRoot(t *testing.T) {
	ctx := context.Background()
	r := newRepo(t)
	wt, _, err := r.EnsureWorktree(ctx, "T-1", "main")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(wt, "NOTES.txt"), "uncommitted work\n")
	moved := r.Dir + "-old"
	if err := os.Rename(r.Dir, moved); err != nil {
		t.Fatal(err)
	}
	old, err := Open(moved)
	if err != nil {
		t.Fatal(err)
	}
	if old.WorkRoot() != r.WorkRoot() {
		t.Fatalf("moved: work root %s, want %s", old.WorkRoot(), r.WorkRoot())
	}
	if back, err := Open(filepath.Join(wt, "lib")); err != nil || back.Dir != old.Dir {
		t.Fatalf("Open from the worktree after the move: %+v %v", back, err)
	}
	// a new repository where the old one was
	if err := InitRepo(r.Dir, map[string]string{"main.go": "package main\n"}, "main"); err != nil {
		t.Fatal(err)
	}
	fresh, err := Open(r.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.WorkRoot() == r.WorkRoot() {
		t.Fatalf("the new repository took the moved one's work root %s", fresh.WorkRoot())
	}
	if _, _, err := fresh.EnsureWorktree(ctx, "T-1", "main"); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(wt, "NOTES.txt")); err != nil || string(data) != "uncommitted work\n" {
		t.Fatalf("the moved repository's worktree lost its work: %q %v", data, err)
	}
	if again, err := Open(moved); err != nil || again.WorkRoot() != r.WorkRoot() {
		t.Fatalf("the moved repository's root after the new one's: %v %v", again, err)
	}
}

// Confined commands are kept out of every work root there may be: this
// XDG_DATA_HOME's and the home directory's default, where a run with
// another environment keeps its worktrees.
func TestWorkDirsNameEveryDataDir(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	r := newRepo(t)
	if _, _, err := r.EnsureWorktree(context.Background(), "T-1", "main"); err != nil {
		t.Fatal(err)
	}
	homeData := filepath.Join(home, ".local", "share", "agent-tui")
	if err := os.MkdirAll(filepath.Join(homeData, "repos", "other-0123"), 0o755); err != nil {
		t.Fatal(err)
	}
	got := r.WorkDirs()
	if want := []string{DataDir(), homeData}; !slices.Equal(got, want) {
		t.Fatalf("WorkDirs = %v, want %v", got, want)
	}
}

// The checkout's node_modules is linked above the worktrees, but not
// when it links to the checkout's own packages (a workspace's): a
// ticket's tests would load the checkout's code through it.
func TestCheckoutsNodeModulesLinkedUnlessAWorkspace(t *testing.T) {
	ctx := context.Background()
	for _, workspace := range []bool{false, true} {
		r := newRepo(t)
		write(t, filepath.Join(r.Dir, "node_modules", "leftpad", "index.js"), "module.exports = 1\n")
		if err := os.MkdirAll(filepath.Join(r.Dir, "node_modules", ".pnpm", "x"), 0o755); err != nil {
			t.Fatal(err)
		}
		// pnpm's links stay inside node_modules: no workspace
		if err := os.Symlink(".pnpm/x", filepath.Join(r.Dir, "node_modules", "x")); err != nil {
			t.Fatal(err)
		}
		if workspace {
			if err := os.MkdirAll(filepath.Join(r.Dir, "node_modules", "@org"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("../../lib", filepath.Join(r.Dir, "node_modules", "@org", "lib")); err != nil {
				t.Fatal(err)
			}
		}
		wt, _, err := r.EnsureWorktree(ctx, "T-1", "main")
		if err != nil {
			t.Fatal(err)
		}
		_, statErr := os.Stat(filepath.Join(filepath.Dir(filepath.Dir(wt)), "node_modules", "leftpad", "index.js"))
		if linked := statErr == nil; linked == workspace || (r.DependencyLink() != "") == workspace {
			t.Fatalf("workspace %v: linked %v (%q)", workspace, linked, r.DependencyLink())
		}
		if workspace {
			continue
		}
		// it becomes one: the link made before goes at the next start
		if err := os.Symlink("../lib", filepath.Join(r.Dir, "node_modules", "lib")); err != nil {
			t.Fatal(err)
		}
		next, err := Open(r.Dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := next.EnsureWorktree(ctx, "T-2", "main"); err != nil {
			t.Fatal(err)
		}
		if next.DependencyLink() != "" {
			t.Fatal("the link made before the checkout became a workspace is still there")
		}
	}
}

func sameItems(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// The words of a driver's command taken for files: scripts and paths,
// never code, modules or what follows a quote.
func TestDriverFileWords(t *testing.T) {
	r := newRepo(t) // has lib/
	for cmd, want := range map[string]string{
		"./tidy.sh %f":            "./tidy.sh",
		"sh tidy.sh":              "tidy.sh",
		"bash -e tidy.sh %f":      "tidy.sh",
		"env sh tidy":             "tidy",
		"env A=1 nice -n 10 sh t": "t",
		"sed -f tidy.sed":         "tidy.sed",
		"awk -f tidy":             "tidy",
		"tr -d x lib/rules":       "lib/rules",
		`sh -c "tr a-z a-z"`:      "",
		"python3 -m json.tool":    "",
		"sed s/foo/bar/":          "",
		"git-lfs filter-process":  "",
		"perl -pe s/a/b/":         "",
		"node -e x.js":            "",
		`sh "tidy.sh"`:            "",
		"tools/keep.sh %O %A %B":  "tools/keep.sh",
		"cat":                     "",
		"python3 tools/fmt.py -q": "tools/fmt.py",
		"nohup sh ./x.sh | cat":   "./x.sh",
		"sh ../outside.sh":        "../outside.sh",
	} {
		words := strings.Fields(cmd)
		var got []string
		for _, i := range r.driverFileWords(words) {
			got = append(got, words[i])
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%q: %q, want %q", cmd, got, want)
		}
	}
}

// With XDG_DATA_HOME a link, a worktree found by its real path (as git
// and the shell name it) still leads to its repository.
func TestLinkedDataHomeLeadsBackToTheRepository(t *testing.T) {
	real := t.TempDir()
	link := filepath.Join(t.TempDir(), "data")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_DATA_HOME", link)
	r := newRepo(t)
	wt, _, err := r.EnsureWorktree(context.Background(), "T-1", "main")
	if err != nil {
		t.Fatal(err)
	}
	realWt, err := filepath.EvalSymlinks(wt)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{wt, realWt, filepath.Join(realWt, "lib")} {
		back, err := Open(d)
		if err != nil || back.Dir != r.Dir {
			t.Fatalf("Open(%s): %+v %v, want the repository %s", d, back, err, r.Dir)
		}
	}
}

func TestInLastCommit(t *testing.T) {
	r := newRepo(t)
	wt, _, err := r.EnsureWorktree(context.Background(), "T-1", "main")
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(wt, "new", "x.txt"), "x\n")
	for p, want := range map[string]bool{"lib": true, "lib/util.go": true, "main.go": true, "new": false, "nope": false} {
		if got := r.InLastCommit(context.Background(), wt, p); got != want {
			t.Errorf("InLastCommit(%s) = %v", p, got)
		}
	}
}
