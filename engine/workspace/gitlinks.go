package workspace

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"agent-tui/engine/wtfile"
)

// A git repository inside a worktree (one the model made, or a
// submodule's directory it ran git init in) has a config the model wrote:
// a filter driver or core.fsmonitor there is a program, and git add runs
// git status inside every submodule entry of the index to see whether it
// changed. agent-tui's git runs outside any sandbox, so it never adds
// those entries: each add leaves the index's submodule entries out, and a
// repository the add took in is taken out again (its files stay, untracked).

const gitlinkMode = 0o160000

var errIndexFormat = errors.New("index format not read here")

// indexGitlinks lists the submodule entries of the index file at path; a
// missing index has none. hashLen is the object id's length in bytes.
func indexGitlinks(path string, hashLen int) ([]string, error) {
	return scanIndex(path, hashLen, nil)
}

// scanIndex is indexGitlinks, also handing each entry's name to each (when
// not nil).
func scanIndex(path string, hashLen int, each func(name []byte)) ([]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(data) < 12+hashLen || string(data[:4]) != "DIRC" {
		return nil, errIndexFormat
	}
	version := binary.BigEndian.Uint32(data[4:8])
	count := binary.BigEndian.Uint32(data[8:12])
	if version < 2 || version > 4 {
		return nil, errIndexFormat
	}
	fixed := 40 + hashLen + 2 // stat data, mode and ids, object id, flags
	var links []string
	var prev []byte
	off := 12
	end := len(data) - hashLen
	for range count {
		if off+fixed > end {
			return nil, errIndexFormat
		}
		mode := binary.BigEndian.Uint32(data[off+24:])
		flags := binary.BigEndian.Uint16(data[off+fixed-2:])
		start := off + fixed
		if version >= 3 && flags&0x4000 != 0 {
			start += 2 // extended flags
		}
		if start > end {
			return nil, errIndexFormat
		}
		var name []byte
		if version == 4 {
			// the name is the previous one, cut by a varint, plus a suffix
			strip, n := offsetVarint(data[start:end])
			if n <= 0 || strip > len(prev) {
				return nil, errIndexFormat
			}
			nul := bytes.IndexByte(data[start+n:end], 0)
			if nul < 0 {
				return nil, errIndexFormat
			}
			name = append(prev[:len(prev)-strip:len(prev)-strip], data[start+n:start+n+nul]...)
			off = start + n + nul + 1
		} else {
			nul := bytes.IndexByte(data[start:end], 0)
			if nul < 0 {
				return nil, errIndexFormat
			}
			name = data[start : start+nul]
			// padded with NULs to a multiple of 8 bytes
			off += (start - off + nul + 8) &^ 7
		}
		prev = name
		if each != nil {
			each(name)
		}
		if mode&0o170000 == gitlinkMode {
			links = append(links, string(name))
		}
	}
	// a split index keeps most entries in another file
	for off+8 <= end {
		if string(data[off:off+4]) == "link" {
			return nil, errIndexFormat
		}
		off += 8 + int(binary.BigEndian.Uint32(data[off+4:]))
	}
	return links, nil
}

// offsetVarint decodes git's offset varint (each continuation adds one);
// n is 0 when p holds none.
func offsetVarint(p []byte) (v, n int) {
	if len(p) == 0 {
		return 0, 0
	}
	v = int(p[0] & 0x7f)
	n = 1
	for p[n-1]&0x80 != 0 {
		if n >= len(p) || n > 8 {
			return 0, 0
		}
		v = (v+1)<<7 | int(p[n]&0x7f)
		n++
	}
	return v, n
}

// gitlinks lists the index's submodule entries: read from the index file,
// or asked of git when it is in a form not read here (a split index).
func (r *Repo) gitlinks(ctx context.Context, wt, index string, env []string) ([]string, error) {
	return r.indexEntries(ctx, wt, index, env, nil)
}

// indexEntries is gitlinks, also handing each entry's name to each (when
// not nil).
func (r *Repo) indexEntries(ctx context.Context, wt, index string, env []string, each func(name string)) ([]string, error) {
	var note func([]byte)
	if each != nil {
		note = func(name []byte) { each(string(name)) }
	}
	links, err := scanIndex(index, r.hashLen, note)
	if !errors.Is(err, errIndexFormat) {
		return links, err
	}
	out, err := r.gitIn(ctx, wt, env, "ls-files", "--stage", "-z")
	if err != nil {
		return nil, err
	}
	links = nil
	for _, e := range strings.Split(out, "\x00") {
		meta, name, ok := strings.Cut(e, "\t")
		if !ok {
			continue
		}
		if each != nil {
			each(name)
		}
		if strings.HasPrefix(meta, "160000 ") {
			links = append(links, name)
		}
	}
	return links, nil
}

// generatedOutput is what test runs and builds write in a worktree:
// Python's bytecode, npm's installs, Cargo's build directory. A repository
// without a .gitignore naming them would have the model's own test runs
// commit (and merge) megabytes of them, so each add leaves them out, but
// for a kind the repository already tracks files of.
var generatedOutput = []struct {
	exclude   string // the pathspec
	tracks    func(name string) bool
	cargoOnly bool // only where Cargo.toml is at the top
}{
	{":(exclude,glob)**/__pycache__/**", func(name string) bool { return hasSegment(name, "__pycache__") }, false},
	{":(exclude,glob)**/*.pyc", func(name string) bool { return strings.HasSuffix(name, ".pyc") }, false},
	{":(exclude,glob)**/node_modules/**", func(name string) bool { return hasSegment(name, "node_modules") }, false},
	// the top's only (src/target/ may be a module); not ":(top,exclude)
	// target": git add fails on an exclude whose literal start names an
	// ignored directory, and most Cargo projects ignore target
	{":(exclude,glob)[t]arget/**", func(name string) bool { return strings.HasPrefix(name, "target/") }, true},
}

// compiledAmong are the files of names (new to the index, so never
// tracked) that are compiled programs or objects a build wrote: an ELF,
// Mach-O, PE, wasm or Java class file, or an ar archive, executable or
// named as an object (a Makefile's build/, a `go build -o` binary), and
// not where tests keep their fixtures. Never what a ticket means to
// commit, and megabytes of it where no .gitignore names it; they stay in
// the worktree, untracked.
func compiledAmong(wt string, names []string) []string {
	if len(names) == 0 {
		return nil
	}
	root, err := os.OpenRoot(wt)
	if err != nil {
		return nil
	}
	defer root.Close()
	var compiled []string
	for _, name := range names {
		if Compiled(root, name) {
			compiled = append(compiled, name)
		}
	}
	return compiled
}

// isCompiled: compiled, and executable or (byName) named as an object.
func isCompiled(root *os.Root, name string, byName bool) bool {
	f, fi, err := wtfile.Open(root, name)
	if err != nil {
		return false
	}
	defer f.Close()
	var head [8]byte
	n, _ := io.ReadFull(f, head[:])
	if !compiledMagic(head[:n]) {
		return false
	}
	switch strings.ToLower(path.Ext(name)) {
	case ".o", ".a", ".so", ".dylib", ".dll", ".exe", ".obj", ".lib", ".class":
		if byName {
			return true
		}
	}
	return fi.Mode()&0o111 != 0
}

func compiledMagic(b []byte) bool {
	for _, m := range []string{"\x7fELF", "MZ", "\x00asm", "!<arch>\n"} {
		if bytes.HasPrefix(b, []byte(m)) {
			return true
		}
	}
	if len(b) < 4 {
		return false
	}
	switch binary.BigEndian.Uint32(b) {
	case 0xfeedface, 0xfeedfacf, 0xcefaedfe, 0xcffaedfe, 0xcafebabe: // Mach-O, fat or Java class
		return true
	}
	return false
}

// testSupportDirs are the directories where tests keep what they read or
// call: fixtures, golden files, snapshots, mocks, helper packages.
var testSupportDirs = map[string]bool{
	"testdata": true, "fixtures": true, "__fixtures__": true, "__snapshots__": true, "__mocks__": true,
	"testutil": true, "testutils": true, "testhelper": true, "testhelpers": true, "test_helpers": true, "test-helpers": true,
	"test_utils": true, "test-utils": true, "testing": true, "testlib": true, "testsupport": true, "test_support": true, "test-support": true,
	"golden": true, "goldens": true, "snapshots": true,
}

// Compiled says the file name of the worktree root is a compiled program
// or object a build wrote (see compiledAmong): not one in a directory of
// what tests use (testdata/, fixtures/), where an ELF or a class file is
// a fixture; in a directory of tests (tests/, src/test/resources/) a
// program (a test runner built there), or an object beside its source
// (tests/abs.o from tests/abs.c), not an object alone (test/data/tiny.o).
func Compiled(root *os.Root, name string) bool {
	support, tests := TestPlace(name)
	if support {
		return false
	}
	byName := !tests && !slices.Contains(strings.Split(strings.ToLower(path.Dir(name)), "/"), "resources")
	return isCompiled(root, name, byName || besideItsSource(root, name))
}

// TestPlace says the slash path name lies in a directory of what tests
// use (testSupportDirs), or of tests themselves (test/, tests/, spec/,
// __tests__/).
func TestPlace(name string) (support, tests bool) {
	for _, d := range strings.Split(strings.ToLower(path.Dir(name)), "/") {
		support = support || testSupportDirs[d]
		tests = tests || d == "test" || d == "tests" || d == "spec" || d == "__tests__"
	}
	return support, tests
}

// besideItsSource says a source the object name is compiled from is in
// its directory.
func besideItsSource(root *os.Root, name string) bool {
	stem := strings.TrimSuffix(name, path.Ext(name))
	for _, ext := range []string{".c", ".cc", ".cpp", ".cxx", ".m", ".s", ".S", ".f90", ".java", ".kt", ".rs", ".go", ".zig"} {
		if _, err := root.Lstat(stem + ext); err == nil {
			return true
		}
	}
	return false
}

func hasSegment(name, segment string) bool {
	return strings.HasPrefix(name, segment+"/") || strings.Contains(name, "/"+segment+"/")
}

// outputExcludes reads the index once: its submodule entries (gitlinks),
// and the pathspecs that leave build output out of an add or a status in
// wt, in generatedOutput's order (the same command line each time); names,
// when not nil, gets every entry's name.
func (r *Repo) outputExcludes(ctx context.Context, wt, index string, env []string, names map[string]bool) (links, excludes []string, err error) {
	tracked := make([]bool, len(generatedOutput))
	links, err = r.indexEntries(ctx, wt, index, env, func(name string) {
		for i, g := range generatedOutput {
			tracked[i] = tracked[i] || g.tracks(name)
		}
		if names != nil {
			names[name] = true
		}
	})
	if err != nil {
		return nil, nil, err
	}
	for i, g := range generatedOutput {
		if tracked[i] {
			continue
		}
		if g.cargoOnly {
			if _, err := os.Lstat(filepath.Join(wt, "Cargo.toml")); err != nil {
				continue
			}
		}
		excludes = append(excludes, g.exclude)
	}
	return links, excludes, nil
}

// addAll is git add -A in the worktree wt, into the index env names
// (GIT_INDEX_FILE) or its own, never looking into a git repository inside.
func (r *Repo) addAll(ctx context.Context, wt string, env []string) error {
	index := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "GIT_INDEX_FILE="); ok {
			index = v
		}
	}
	if index == "" {
		admin := r.registration(wt)
		if admin == "" && samePath(wt, r.Dir) {
			admin = r.GitDir
		}
		if admin == "" {
			return errNotWorktree(wt, r.Dir)
		}
		index = filepath.Join(admin, "index")
	}
	entries := map[string]bool{}
	before, excludes, err := r.outputExcludes(ctx, wt, index, env, entries)
	if err != nil {
		return err
	}
	// a repository without a commit (git init, and no more) cannot be
	// added as an entry: git names one and adds nothing, so each is left
	// out in turn, untracked, as the others are taken out below
	var empty []string
	for {
		args := []string{"add", "-A", "--", "."}
		for _, p := range slices.Concat(before, empty) {
			args = append(args, ":(top,literal,exclude)"+p)
		}
		args = append(args, excludes...)
		_, err := r.gitIn(ctx, wt, env, args...)
		if err == nil {
			break
		}
		p := repoWithoutCommit(err)
		if p == "" || slices.Contains(empty, p) || len(empty) >= 100 {
			return err
		}
		empty = append(empty, p)
	}
	var added []string
	after, err := r.indexEntries(ctx, wt, index, env, func(name string) {
		if !entries[name] {
			added = append(added, name)
		}
	})
	if err != nil {
		return err
	}
	var taken []string
	for _, p := range after {
		if !slices.Contains(before, p) {
			taken = append(taken, p)
		}
	}
	taken = append(taken, compiledAmong(wt, added)...)
	if len(taken) == 0 {
		return nil
	}
	_, err = r.gitIn(ctx, wt, env, append([]string{"update-index", "--force-remove", "--"}, taken...)...)
	return err
}

// repoWithoutCommit is the repository git add refused as having no commit
// checked out, or "".
func repoWithoutCommit(err error) string {
	var ge *gitError
	if !errors.As(err, &ge) {
		return ""
	}
	for line := range strings.Lines(ge.stderr) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "error: '")
		if p, ok2 := strings.CutSuffix(rest, "' does not have a commit checked out"); ok && ok2 {
			return strings.TrimSuffix(p, "/")
		}
	}
	return ""
}
