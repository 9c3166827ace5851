package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	InstallHelper()
	if sock := os.Getenv("AGENT_TUI_TEST_DIAL"); sock != "" {
		dialAndReport(sock)
		os.Exit(0)
	}
	if dir := os.Getenv("AGENT_TUI_TEST_FDS"); dir != "" {
		readInheritedFD(dir)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// dialAndReport is the test binary run as a confined command: it tries a
// unix socket outside and a socketpair, and says how each went.
func dialAndReport(sock string) {
	if c, err := net.Dial("unix", sock); err != nil {
		fmt.Println("dial refused:", err)
	} else {
		c.Write([]byte("escaped\n"))
		c.Close()
		fmt.Println("dial connected")
	}
	if fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0); err != nil {
		fmt.Println("socketpair failed:", err)
	} else {
		syscall.Close(fds[0])
		syscall.Close(fds[1])
		fmt.Println("socketpair ok")
	}
}

// setup makes dir/wt (the worktree) next to dir/outside, which holds a
// secret the tools must never reveal or touch.
func setup(t *testing.T, opts Options) (*Box, string, string) {
	t.Helper()
	dir := t.TempDir()
	wt := filepath.Join(dir, "wt")
	outside := filepath.Join(dir, "outside")
	for _, d := range []string{wt, outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite(t, filepath.Join(outside, "secret.txt"), "TOPSECRET\n")
	mustWrite(t, filepath.Join(wt, "hello.txt"), "line1\nline2\nline3\n")
	opts.Root = wt
	if opts.TempDir == "" {
		opts.TempDir = filepath.Join(dir, "tmp")
	}
	b, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, wt, outside
}

func mustWrite(t *testing.T, p, s string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func call(t *testing.T, b *Box, name string, args any) (string, bool) {
	t.Helper()
	var js string
	if s, ok := args.(string); ok {
		js = s
	} else {
		data, err := json.Marshal(args)
		if err != nil {
			t.Fatal(err)
		}
		js = string(data)
	}
	return b.Call(context.Background(), name, js)
}

// wantErr checks for a one-line error result containing want.
func wantErr(t *testing.T, res string, isErr bool, want string) {
	t.Helper()
	if !isErr || !strings.HasPrefix(res, "error: ") {
		t.Errorf("want an error result, got isErr=%v %q", isErr, res)
		return
	}
	if strings.Contains(res, "\n") {
		t.Errorf("error result spans lines: %q", res)
	}
	if !strings.Contains(res, want) {
		t.Errorf("error %q does not mention %q", res, want)
	}
}

func wantOK(t *testing.T, res string, isErr bool) {
	t.Helper()
	if isErr {
		t.Fatalf("unexpected error result: %q", res)
	}
}

func TestResolve(t *testing.T) {
	for _, tc := range []struct{ p, want string }{
		{"a.txt", "/r/a.txt"},
		{"./a/../b", "/r/b"},
		{".", "/r"},
		{"a/b/../../c", "/r/c"},
		{"..a", "/r/..a"},
	} {
		got, err := Resolve("/r", tc.p)
		if err != nil || got != tc.want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", tc.p, got, err, tc.want)
		}
	}
	for _, p := range []string{"", "..", "../x", "a/../../x", "/etc/passwd", "/r/a", "a\x00b"} {
		if got, err := Resolve("/r", p); err == nil {
			t.Errorf("Resolve(%q) = %q, want an error", p, got)
		}
	}
	if _, err := Resolve("/r", "/etc/passwd"); err == nil || !strings.Contains(err.Error(), "path must be relative to the worktree") {
		t.Errorf("absolute path error = %v", err)
	}
}

func FuzzResolve(f *testing.F) {
	f.Add("/work/root", "a/b.go")
	f.Fuzz(func(t *testing.T, root, p string) {
		if root == "" || !filepath.IsAbs(root) {
			root = "/work/root"
		}
		got, err := Resolve(root, p)
		if err != nil {
			return
		}
		root = filepath.Clean(root)
		prefix := root + string(filepath.Separator)
		if root == string(filepath.Separator) {
			prefix = root
		}
		if got != root && !strings.HasPrefix(got, prefix) {
			t.Fatalf("Resolve(%q, %q) = %q, outside the root", root, p, got)
		}
		if got != filepath.Clean(got) {
			t.Fatalf("Resolve(%q, %q) = %q, not clean", root, p, got)
		}
	})
}

func TestPathEscapes(t *testing.T) {
	b, wt, outside := setup(t, Options{Sandbox: "off"})
	secretPath := filepath.Join(outside, "secret.txt")

	for _, p := range []string{"../outside/secret.txt", secretPath, "sub/../../outside/secret.txt"} {
		res, isErr := call(t, b, "read_file", map[string]any{"path": p})
		wantErr(t, res, isErr, "")
		if strings.Contains(res, "TOPSECRET") {
			t.Errorf("read_file(%q) revealed the secret", p)
		}
	}
	res, isErr := call(t, b, "read_file", map[string]any{"path": secretPath})
	wantErr(t, res, isErr, "path must be relative to the worktree")

	for _, p := range []string{"../outside/new.txt", filepath.Join(outside, "new.txt"), "a/../../outside/new.txt"} {
		res, isErr := call(t, b, "write_file", map[string]any{"path": p, "content": "x"})
		wantErr(t, res, isErr, "")
	}

	// Symlinks made by a command: one to the outside dir, one to the secret
	// file, one dangling into the outside dir.
	res, isErr = call(t, b, "run_command", map[string]any{"command": "ln -s ../outside dirlink && ln -s ../outside/secret.txt filelink && ln -s ../outside/dangling.txt dangling"})
	wantOK(t, res, isErr)
	for _, p := range []string{"dirlink/secret.txt", "filelink"} {
		res, isErr := call(t, b, "read_file", map[string]any{"path": p})
		wantErr(t, res, isErr, "outside the worktree")
		if strings.Contains(res, "TOPSECRET") {
			t.Errorf("read_file(%q) revealed the secret", p)
		}
		res, isErr = call(t, b, "edit_file", map[string]any{"path": p, "old_string": "TOPSECRET", "new_string": "changed"})
		wantErr(t, res, isErr, "outside the worktree")
	}
	for _, p := range []string{"dirlink/new.txt", "filelink", "dangling", "dirlink/sub/new.txt"} {
		res, isErr := call(t, b, "write_file", map[string]any{"path": p, "content": "pwned"})
		wantErr(t, res, isErr, "outside the worktree")
	}
	res, isErr = call(t, b, "list_dir", map[string]any{"path": "dirlink"})
	wantErr(t, res, isErr, "outside the worktree")
	res, isErr = call(t, b, "search", map[string]any{"pattern": "TOPSECRET", "path": "dirlink"})
	wantErr(t, res, isErr, "outside the worktree")
	res, isErr = call(t, b, "search", map[string]any{"pattern": "TOPSECRET"})
	wantOK(t, res, isErr)
	if res != "no matches" {
		t.Errorf("search through symlinks found %q", res)
	}

	// Nothing outside changed.
	entries, _ := os.ReadDir(outside)
	if len(entries) != 1 {
		t.Errorf("outside dir now has %d entries, want only secret.txt", len(entries))
	}
	if data, _ := os.ReadFile(secretPath); string(data) != "TOPSECRET\n" {
		t.Errorf("secret changed: %q", data)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(wt), "new.txt")); err == nil {
		t.Error("a file appeared next to the worktree")
	}
}

func TestReadFile(t *testing.T) {
	b, wt, _ := setup(t, Options{})
	res, isErr := call(t, b, "read_file", map[string]any{"path": "hello.txt"})
	wantOK(t, res, isErr)
	if res != "line1\nline2\nline3\n" {
		t.Errorf("whole file = %q", res)
	}
	res, _ = call(t, b, "read_file", map[string]any{"path": "hello.txt", "offset": 2, "limit": 1})
	if res != "line2\n[showed lines 2-2 of 3; continue with offset=3]" {
		t.Errorf("offset/limit = %q", res)
	}
	res, _ = call(t, b, "read_file", `{"path":"hello.txt","offset":"3"}`)
	if res != "line3\n" {
		t.Errorf("offset as string = %q", res)
	}
	res, isErr = call(t, b, "read_file", map[string]any{"path": "hello.txt", "offset": 9})
	wantErr(t, res, isErr, "past the end")

	big := strings.Repeat(strings.Repeat("x", 99)+"\n", 2000) // 200 KB
	mustWrite(t, filepath.Join(wt, "big.txt"), big)
	res, isErr = call(t, b, "read_file", map[string]any{"path": "big.txt"})
	wantOK(t, res, isErr)
	if len(res) > readCap+200 || !strings.Contains(res, "[truncated at 64 KiB; showed lines 1-655 of 2000; continue with offset=656]") {
		t.Errorf("big file: %d bytes, ends %q", len(res), res[len(res)-100:])
	}

	// one line longer than a read: not called shown
	mustWrite(t, filepath.Join(wt, "minified.js"), strings.Repeat("y", 200_000)+"\nshort\n")
	res, _ = call(t, b, "read_file", map[string]any{"path": "minified.js"})
	if !strings.HasSuffix(res, "[line 1 is 200001 bytes: only its start is shown, cut at 64 KiB; 2 lines in all; continue with offset=2]") {
		t.Errorf("a long line: ends %q", res[len(res)-120:])
	}

	mustWrite(t, filepath.Join(wt, "bin.dat"), "ab\x00cd")
	res, isErr = call(t, b, "read_file", map[string]any{"path": "bin.dat"})
	wantErr(t, res, isErr, "binary")
	res, isErr = call(t, b, "read_file", map[string]any{"path": "nope.txt"})
	wantErr(t, res, isErr, "nope.txt does not exist")
	res, isErr = call(t, b, "read_file", map[string]any{"path": "."})
	wantErr(t, res, isErr, "is a directory")
}

func TestWriteAndEdit(t *testing.T) {
	b, wt, _ := setup(t, Options{})
	res, isErr := call(t, b, "write_file", map[string]any{"path": "a/b/c.go", "content": "package c\n"})
	wantOK(t, res, isErr)
	if res != "ok: wrote 10 bytes to a/b/c.go" {
		t.Errorf("write result = %q", res)
	}
	if data, _ := os.ReadFile(filepath.Join(wt, "a/b/c.go")); string(data) != "package c\n" {
		t.Errorf("written content = %q", data)
	}
	res, isErr = call(t, b, "write_file", map[string]any{"path": ".git/config", "content": "x"})
	wantErr(t, res, isErr, ".git")
	// on a case-insensitive file system this is the same entry
	res, isErr = call(t, b, "write_file", map[string]any{"path": ".GIT/x", "content": "x"})
	wantErr(t, res, isErr, ".git")
	// a name that would read as another one in a diff
	res, isErr = call(t, b, "write_file", map[string]any{"path": "strutil/\u202eog.tset_esrever", "content": "x"})
	wantErr(t, res, isErr, "text-direction")
	res, isErr = call(t, b, "write_file", map[string]any{"path": "a", "content": "x"})
	wantErr(t, res, isErr, "is a directory")

	mustWrite(t, filepath.Join(wt, "e.txt"), "foo bar foo\n")
	res, isErr = call(t, b, "edit_file", map[string]any{"path": "e.txt", "old_string": "baz", "new_string": "x"})
	wantErr(t, res, isErr, "occurs 0 times")
	res, isErr = call(t, b, "edit_file", map[string]any{"path": "e.txt", "old_string": "foo", "new_string": "x"})
	wantErr(t, res, isErr, "occurs 2 times")
	res, isErr = call(t, b, "edit_file", map[string]any{"path": "e.txt", "old_string": "bar", "new_string": "BAR"})
	wantOK(t, res, isErr)
	if data, _ := os.ReadFile(filepath.Join(wt, "e.txt")); string(data) != "foo BAR foo\n" {
		t.Errorf("edited content = %q", data)
	}
	res, isErr = call(t, b, "edit_file", map[string]any{"path": "e.txt", "old_string": "", "new_string": "x"})
	wantErr(t, res, isErr, "old_string is empty")
}

func TestListDir(t *testing.T) {
	b, wt, _ := setup(t, Options{ReadOnly: true})
	mustWrite(t, filepath.Join(wt, "sub/x.go"), "")
	mustWrite(t, filepath.Join(wt, ".git"), "gitdir: elsewhere\n")
	res, isErr := call(t, b, "list_dir", "")
	wantOK(t, res, isErr)
	if res != "hello.txt\nsub/" {
		t.Errorf("list_dir = %q", res)
	}
	res, _ = call(t, b, "list_dir", map[string]any{"path": "sub"})
	if res != "x.go" {
		t.Errorf("list_dir sub = %q", res)
	}
	res, isErr = call(t, b, "list_dir", map[string]any{"path": "missing"})
	wantErr(t, res, isErr, "does not exist")
	for i := range maxListEntries + 5 {
		mustWrite(t, filepath.Join(wt, "many", fmt.Sprintf("f%05d", i)), "")
	}
	res, _ = call(t, b, "list_dir", map[string]any{"path": "many"})
	if !strings.HasSuffix(res, fmt.Sprintf("[listed entries 1-%d of %d; continue with offset=%d]", maxListEntries, maxListEntries+5, maxListEntries+1)) {
		t.Errorf("list_dir many: ends %q", res[len(res)-100:])
	}
	// the rest, from where it said
	res, _ = call(t, b, "list_dir", map[string]any{"path": "many", "offset": maxListEntries + 1})
	if want := fmt.Sprintf("f%05d\nf%05d\nf%05d\nf%05d\nf%05d", maxListEntries, maxListEntries+1, maxListEntries+2, maxListEntries+3, maxListEntries+4); res != want {
		t.Errorf("list_dir many from offset: %q", res)
	}
	res, isErr = call(t, b, "list_dir", map[string]any{"path": "many", "offset": maxListEntries + 9})
	wantErr(t, res, isErr, "past the end of many")
}

// Names a listing would split or garble are quoted, and the quoted form
// reads the file.
func TestOddNamesAreQuotedAndReadBack(t *testing.T) {
	b, wt, _ := setup(t, Options{ReadOnly: true})
	odd := []string{"a\nb.txt", "esc\x1b[31m.txt", "\xff\xfe.txt", `"q".txt`, "\u202eog.tset_esrever"}
	for i, name := range odd {
		mustWrite(t, filepath.Join(wt, "odd", name), fmt.Sprintf("content %d\n", i))
	}
	res, isErr := call(t, b, "list_dir", map[string]any{"path": "odd"})
	wantOK(t, res, isErr)
	listed := strings.Split(res, "\n")
	if len(listed) != len(odd) {
		t.Fatalf("list_dir gave %d lines for %d names: %q", len(listed), len(odd), res)
	}
	for _, name := range listed {
		if !strings.HasPrefix(name, `"`) || strings.ContainsFunc(name, unreadable) {
			t.Errorf("listed raw: %q", name)
		}
		for _, p := range []string{"odd/" + name, strconv.Quote("odd/" + unquoteName(name))} {
			got, isErr := call(t, b, "read_file", map[string]any{"path": p})
			wantOK(t, got, isErr)
			if !strings.Contains(got, "content ") {
				t.Errorf("read_file %s = %q", p, got)
			}
		}
	}
	res, _ = call(t, b, "search", map[string]any{"pattern": "content 1", "path": "odd"})
	if res != `"odd/esc\x1b[31m.txt":1:content 1` {
		t.Errorf("search = %q", res)
	}
	// a colon in a match's file name would make file:line:text a guess
	mustWrite(t, filepath.Join(wt, "odd", "x:7:y.txt"), "colon\n")
	res, _ = call(t, b, "search", map[string]any{"pattern": "colon", "path": "odd"})
	if res != `"odd/x:7:y.txt":1:colon` {
		t.Errorf("search = %q", res)
	}
	res, isErr = call(t, b, "read_file", map[string]any{"path": `"odd/x:7:y.txt"`})
	wantOK(t, res, isErr)
	res, isErr = call(t, b, "read_file", map[string]any{"path": `odd/"gone\n"`})
	wantErr(t, res, isErr, `"odd/gone\n" does not exist`)
	// an ordinary name is as it is, quotes inside it included
	mustWrite(t, filepath.Join(wt, `say "hi".txt`), "hi\n")
	res, _ = call(t, b, "list_dir", map[string]any{})
	if !slices.Contains(strings.Split(res, "\n"), `say "hi".txt`) {
		t.Errorf("list_dir = %q", res)
	}
	res, isErr = call(t, b, "read_file", map[string]any{"path": `say "hi".txt`})
	wantOK(t, res, isErr)
}

func TestSearch(t *testing.T) {
	b, wt, _ := setup(t, Options{ReadOnly: true})
	mustWrite(t, filepath.Join(wt, "src/a.go"), "package a\nfunc Foo() {}\n")
	mustWrite(t, filepath.Join(wt, "src/b.bin"), "Foo\x00")
	mustWrite(t, filepath.Join(wt, ".git/HEAD"), "Foo\n")
	res, isErr := call(t, b, "search", map[string]any{"pattern": `func \w+\(`})
	wantOK(t, res, isErr)
	if res != "src/a.go:2:func Foo() {}" {
		t.Errorf("search = %q", res)
	}
	res, _ = call(t, b, "search", map[string]any{"pattern": "line[23]", "path": "hello.txt"})
	if res != "hello.txt:2:line2\nhello.txt:3:line3" {
		t.Errorf("search in file = %q", res)
	}
	mustWrite(t, filepath.Join(wt, "many.txt"), strings.Repeat("hit\n", 300))
	res, _ = call(t, b, "search", map[string]any{"pattern": "hit"})
	if n := strings.Count(res, "many.txt:"); n != maxMatches || !strings.Contains(res, "stopped after 200 matches") {
		t.Errorf("capped search: %d matches, tail %q", n, res[len(res)-80:])
	}
	res, isErr = call(t, b, "search", map[string]any{"pattern": "("})
	wantErr(t, res, isErr, "bad pattern")
	// anchors mean a line's start and end, in a file passed over in one
	// pass as line by line
	mustWrite(t, filepath.Join(wt, "anchors.txt"), "x start\nstart y\nthe end\n")
	mustWrite(t, filepath.Join(wt, "crlf.txt"), "x\r\nend\r\n")
	res, _ = call(t, b, "search", map[string]any{"pattern": `^start|end$`})
	if res != "anchors.txt:2:start y\nanchors.txt:3:the end\ncrlf.txt:2:end" {
		t.Errorf("anchored search = %q", res)
	}
	res, _ = call(t, b, "search", map[string]any{"pattern": `\Athe`})
	if res != "anchors.txt:3:the end" {
		t.Errorf("search for a line's start = %q", res)
	}
	// a file too large to search is named, not passed over unseen
	mustWrite(t, filepath.Join(wt, "huge.txt"), strings.Repeat("NEEDLE\n", maxSearchBytes/7+1))
	res, _ = call(t, b, "search", map[string]any{"pattern": "NEEDLE"})
	if res != "no matches\n[not searched, over 4 MiB: huge.txt]" {
		t.Errorf("search with a file too large: %q", res)
	}
}

func TestBadCalls(t *testing.T) {
	b, _, _ := setup(t, Options{ReadOnly: true})
	long := `{"path": "` + strings.Repeat("y", 500)
	res, isErr := b.Call(context.Background(), "read_file", long)
	wantErr(t, res, isErr, "not a JSON object")
	if len(res) > 300 {
		t.Errorf("bad JSON echoed %d bytes", len(res))
	}
	for _, bad := range []string{"null", "[1]", `"str"`, "{,}"} {
		res, isErr := b.Call(context.Background(), "read_file", bad)
		wantErr(t, res, isErr, "not a JSON object")
	}
	res, isErr = call(t, b, "read_file", `{}`)
	wantErr(t, res, isErr, `missing required argument "path"`)
	res, isErr = call(t, b, "read_file", `{"path": 3}`)
	wantErr(t, res, isErr, `"path" must be a string`)
	res, isErr = call(t, b, "read_file", `{"path": "hello.txt", "offset": 1.5}`)
	wantErr(t, res, isErr, `"offset" must be an integer`)
	res, isErr = call(t, b, "delete_everything", `{}`)
	wantErr(t, res, isErr, "unknown tool")
	for _, name := range []string{"write_file", "edit_file", "run_command"} {
		res, isErr := call(t, b, name, `{"path":"x","content":"y","old_string":"a","new_string":"b","command":"true"}`)
		wantErr(t, res, isErr, "read-only")
	}
}

func TestDefinitions(t *testing.T) {
	names := func(b *Box) string {
		var n []string
		for _, d := range b.Definitions() {
			var schema map[string]any
			if err := json.Unmarshal(d.Parameters, &schema); err != nil {
				t.Errorf("%s: schema is not JSON: %v", d.Name, err)
			}
			n = append(n, d.Name)
		}
		return strings.Join(n, ",")
	}
	ro, _, _ := setup(t, Options{ReadOnly: true})
	if got := names(ro); got != "read_file,list_dir,search" {
		t.Errorf("read-only tools = %s", got)
	}
	rw, _, _ := setup(t, Options{})
	if got := names(rw); got != "read_file,write_file,edit_file,list_dir,search,run_command" {
		t.Errorf("tools = %s", got)
	}
}

func TestNew(t *testing.T) {
	if _, err := New(Options{Root: t.TempDir(), Sandbox: "maybe"}); err == nil {
		t.Error("New accepted sandbox \"maybe\"")
	}
	if _, err := New(Options{Root: filepath.Join(t.TempDir(), "missing")}); err == nil {
		t.Error("New accepted a missing root")
	}
	b, err := New(Options{Root: t.TempDir(), Sandbox: "off"})
	if err != nil {
		t.Fatal(err)
	}
	tmp := b.tmpDir
	if !strings.Contains(b.Confinement(), "unconfined") {
		t.Errorf("sandbox off: Confinement() = %q", b.Confinement())
	}
	b.Close()
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("private temp dir left behind: %v", err)
	}
}

func TestScrubEnv(t *testing.T) {
	env := []string{"PATH=/bin", "OPENAI_API_KEY=sk", "github_token=x", "DB_PASSWORD=p", "AWS_SECRET_ACCESS_KEY=s",
		"GOOGLE_APPLICATION_CREDENTIALS=/f", "MY_VAR=1", "HOME=/root", "SSH_AUTH_SOCK=/s",
		// tokens by other names, and a password inside a URL
		"GH_PAT=ghp_x", "NPM_AUTH=x", "DB_PASS=p", "MYSQL_PWD=p", "DATABASE_URL=postgres://u:pw@h/db", "MYSQL_DSN=u:pw@tcp(h)/db", "HTTPS_PROXY=http://me:pw@proxy:3128",
		// what only looks like them
		"PWD=/w", "OLDPWD=/v", "AUTHOR=me", "PATHEXT=.x", "PASSAGE=1", "REDIS_URL=redis://h:6379/0", "GIT_URL=https://u@h/r"}
	got := strings.Join(ScrubEnv(env, []string{"my_var"}), " ")
	if got != "PATH=/bin HOME=/root PWD=/w OLDPWD=/v AUTHOR=me PATHEXT=.x PASSAGE=1 REDIS_URL=redis://h:6379/0 GIT_URL=https://u@h/r" {
		t.Errorf("ScrubEnv = %q", got)
	}
}

func TestRunCommand(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-must-not-leak")
	t.Setenv("HARMLESS_SETTING", "visible")
	b, wt, _ := setup(t, Options{ExtraEnvDrop: []string{"HARMLESS_SETTING"}})
	res, isErr := call(t, b, "run_command", map[string]any{"command": "pwd; echo out; echo err >&2; exit 3"})
	wantOK(t, res, isErr)
	if res != "exit code 3\n"+wt+"\nout\nerr\n" {
		t.Errorf("result = %q", res)
	}
	res, _ = call(t, b, "run_command", map[string]any{"command": "env"})
	if strings.Contains(res, "sk-must-not-leak") || strings.Contains(res, "OPENAI_API_KEY") || strings.Contains(res, "HARMLESS_SETTING") {
		t.Errorf("secrets visible to the command:\n%s", res)
	}
	if !strings.Contains(res, "TMPDIR="+b.tmpDir+"\n") || !strings.Contains(res, "PATH=") {
		t.Errorf("env lacks TMPDIR or PATH:\n%s", res)
	}
	res, _ = call(t, b, "run_command", map[string]any{"command": "true"})
	if res != "exit code 0\n(no output)" {
		t.Errorf("silent command = %q", res)
	}
	res, _ = call(t, b, "run_command", map[string]any{"command": "kill -9 $$"})
	if !strings.HasPrefix(res, "exit code 137") {
		t.Errorf("killed command = %q", res)
	}
	res, isErr = call(t, b, "run_command", map[string]any{"command": "  "})
	wantErr(t, res, isErr, "command is empty")
}

func TestRunCommandOutputCap(t *testing.T) {
	b, _, _ := setup(t, Options{OutputCap: 1000})
	res, isErr := call(t, b, "run_command", map[string]any{"command": "i=0; while [ $i -lt 500 ]; do echo line$i; i=$((i+1)); done"})
	wantOK(t, res, isErr)
	if !strings.HasSuffix(res, "line498\nline499\n") || strings.Contains(res, "line1\n") {
		t.Errorf("output does not keep the tail: %q", res)
	}
	if !strings.Contains(res, "[output truncated: showing the last 1000 of 3890 bytes]") {
		t.Errorf("no truncation note: %q", res[:120])
	}
	if len(res) > 1100 {
		t.Errorf("result is %d bytes, cap 1000", len(res))
	}
}

func TestRunCommandTimeoutKillsChildren(t *testing.T) {
	b, wt, _ := setup(t, Options{CommandTimeout: 500 * time.Millisecond})
	start := time.Now()
	res, isErr := call(t, b, "run_command", map[string]any{"command": "echo started; (sleep 1.5; echo leaked > marker) & sleep 30"})
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("timed-out command took %s", elapsed)
	}
	if !isErr || !strings.HasPrefix(res, "error: command timed out after 500ms") || !strings.Contains(res, "started") {
		t.Errorf("timeout result = %v %q", isErr, res)
	}
	time.Sleep(2 * time.Second)
	if _, err := os.Stat(filepath.Join(wt, "marker")); err == nil {
		t.Error("a child of the timed-out command survived and wrote marker")
	}
}

func TestRunCommandKillsBackgroundOnExit(t *testing.T) {
	b, wt, _ := setup(t, Options{})
	res, isErr := call(t, b, "run_command", map[string]any{"command": "(sleep 1; echo leaked > marker) >/dev/null 2>&1 & echo done"})
	wantOK(t, res, isErr)
	time.Sleep(1500 * time.Millisecond)
	if _, err := os.Stat(filepath.Join(wt, "marker")); err == nil {
		t.Error("a background process outlived its command")
	}
}

// A process that escaped the command's group (its own session: outside
// any confinement nothing notes that) may hold the output open: the
// command's result is what it wrote until it ended, and the escaped one is
// not waited for. It used to be, for two seconds, and said "late" here.
func TestExecDoesNotWaitForEscapedOutput(t *testing.T) {
	wt := t.TempDir()
	// (it has left before the command ends: the command's group is killed then)
	res, err := Exec(context.Background(), []string{"sh", "-c", "setsid sh -c 'touch left; sleep 1; echo late' & until [ -e left ]; do sleep 0.01; done; echo started"}, wt, os.Environ(), 10*time.Second, 4096)
	if err != nil || res.ExitCode != 0 {
		t.Fatalf("%v %+v", err, res)
	}
	if res.Output != "started\n" {
		t.Errorf("output %q", res.Output)
	}
	// what it wrote before it ended is all there, however much
	res, err = Exec(context.Background(), []string{"sh", "-c", "rm left; setsid sh -c 'touch left; exec sleep 5' & until [ -e left ]; do sleep 0.01; done; head -c 300000 /dev/zero | tr '\\0' x; echo; echo end"}, wt, os.Environ(), 10*time.Second, 1<<20)
	if err != nil || !strings.HasSuffix(res.Output, "x\nend\n") || len(res.Output) != 300005 {
		t.Errorf("%v: %d bytes ending %q", err, len(res.Output), res.Output[max(0, len(res.Output)-10):])
	}
}

func TestRunCommandCancelled(t *testing.T) {
	b, _, _ := setup(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	res, isErr := b.Call(ctx, "run_command", `{"command":"sleep 30"}`)
	wantErr(t, res, isErr, "cancelled")
}

// forEachConfinement runs test once per confinement usable on this
// machine, as a subtest named after it; with none, it skips.
func forEachConfinement(t *testing.T, test func(t *testing.T, name string, mode sandboxMode)) {
	t.Helper()
	m := map[string]sandboxMode{}
	if bwrapWorks() {
		m["bubblewrap"] = sandboxBwrap
	}
	if landlockWorks() {
		m["landlock"] = sandboxLandlock
	}
	if len(m) == 0 {
		t.Skip("no confinement on this machine (bwrap missing or unusable, Landlock unsupported)")
	}
	for name, mode := range m {
		t.Run(name, func(t *testing.T) { test(t, name, mode) })
	}
}

func TestConfinedCommands(t *testing.T) {
	forEachConfinement(t, func(t *testing.T, name string, mode sandboxMode) {
		dir := t.TempDir()
		wt, outside, tmp := filepath.Join(dir, "wt"), filepath.Join(dir, "outside"), filepath.Join(dir, "tmp")
		for _, d := range []string{wt, outside} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		mustWrite(t, filepath.Join(outside, "keep.txt"), "keep\n")
		b, err := newWithMode(Options{Root: wt, TempDir: tmp}, mode)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		if !strings.HasPrefix(b.Confinement(), name) {
			t.Errorf("Confinement() = %q", b.Confinement())
		}
		// /dev/shm as the test runs have it (a Python multiprocessing lock)
		shm := fmt.Sprintf("/dev/shm/agent-tui-test-%d", os.Getpid())
		defer os.Remove(shm)
		cmd := fmt.Sprintf("echo in > inside.txt && echo t > \"$TMPDIR/t.txt\" && cat %s/keep.txt && echo x > /dev/null && echo s > "+shm+" && echo ok; "+
			"echo bad > %s/new.txt; rm -f %s/keep.txt; echo bad >> %s/keep.txt; mkdir %s/d; echo bad > /tmp/agent-tui-escape-$$; true",
			outside, outside, outside, outside, outside)
		res, isErr := call(t, b, "run_command", map[string]any{"command": cmd})
		wantOK(t, res, isErr)
		if !strings.Contains(res, "keep\nok\n") {
			t.Errorf("allowed actions failed:\n%s", res)
		}
		if _, err := os.Stat(filepath.Join(wt, "inside.txt")); err != nil {
			t.Error("could not write inside the worktree")
		}
		if _, err := os.Stat(filepath.Join(tmp, "t.txt")); err != nil {
			t.Error("could not write in the ticket temp dir")
		}
		entries, _ := os.ReadDir(outside)
		if len(entries) != 1 {
			t.Errorf("outside dir changed: %d entries", len(entries))
		}
		if data, _ := os.ReadFile(filepath.Join(outside, "keep.txt")); string(data) != "keep\n" {
			t.Errorf("outside file changed: %q", data)
		}
		matches, _ := filepath.Glob("/tmp/agent-tui-escape-*")
		if len(matches) > 0 {
			t.Errorf("wrote to /tmp: %v", matches)
			for _, m := range matches {
				os.Remove(m)
			}
		}
	})
}

// Hidden paths (agent-tui's database, other tickets' worktrees) and the
// credentials in the home directory cannot be read by a confined command;
// the worktree inside a hidden directory, its neighbours and the rest of
// the system can.
func TestConfinedCommandsCannotReadHidden(t *testing.T) {
	forEachConfinement(t, func(t *testing.T, name string, mode sandboxMode) {
		dir := t.TempDir()
		home := filepath.Join(dir, "home")
		t.Setenv("HOME", home)
		mustWrite(t, filepath.Join(home, ".ssh", "id_ed25519"), "PRIVATE KEY\n")
		mustWrite(t, filepath.Join(home, "notes.txt"), "notes\n")
		gitDir := filepath.Join(dir, "repo", ".git")
		db, mine, other := filepath.Join(gitDir, "agent-tui.db"), filepath.Join(gitDir, "agent-tui", "worktrees", "T-1"), filepath.Join(gitDir, "agent-tui", "worktrees", "T-2")
		mustWrite(t, db, "SENSITIVE BODY\n")
		mustWrite(t, filepath.Join(mine, "own.txt"), "own\n")
		mustWrite(t, filepath.Join(other, "theirs.txt"), "SENSITIVE WORK\n")
		mustWrite(t, filepath.Join(gitDir, "HEAD"), "ref: refs/heads/main\n")
		b, err := newWithMode(Options{Root: mine, TempDir: filepath.Join(gitDir, "agent-tui", "tmp", "T-1"), Hidden: []string{db, filepath.Join(gitDir, "agent-tui")}}, mode)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		cmd := fmt.Sprintf("cat own.txt %s/HEAD %s/notes.txt /etc/passwd >/dev/null && echo readable; echo new > own2.txt && cat own2.txt; ls / >/dev/null && echo listed; "+
			"cat %s %s/theirs.txt %s/.ssh/id_ed25519 2>&1; true", gitDir, home, db, other, home)
		res, isErr := call(t, b, "run_command", map[string]any{"command": cmd})
		wantOK(t, res, isErr)
		if !strings.Contains(res, "readable\nnew\nlisted\n") {
			t.Errorf("allowed reads failed:\n%s", res)
		}
		for _, secret := range []string{"SENSITIVE BODY", "SENSITIVE WORK", "PRIVATE KEY"} {
			if strings.Contains(res, secret) {
				t.Errorf("read %q:\n%s", secret, res)
			}
		}
	})
}

func TestConfinedGoBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Go code")
	}
	forEachConfinement(t, func(t *testing.T, name string, mode sandboxMode) {
		wt := t.TempDir()
		mustWrite(t, filepath.Join(wt, "go.mod"), "module m\n\ngo 1.22\n")
		mustWrite(t, filepath.Join(wt, "m.go"), "package m\n\nfunc F() int { return 1 }\n")
		mustWrite(t, filepath.Join(wt, "m_test.go"), "package m\n\nimport \"testing\"\n\nfunc TestF(t *testing.T) { if F() != 1 { t.Fatal() } }\n")
		b, err := newWithMode(Options{Root: wt, CommandTimeout: 2 * time.Minute}, mode)
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		res, _ := call(t, b, "run_command", map[string]any{"command": "go test ./... 2>&1"})
		if !strings.HasPrefix(res, "exit code 0\n") {
			t.Errorf("go test inside the sandbox failed:\n%s", res)
		}
	})
}

// Nothing a confined command starts outlives it, not even a process that
// left its session (setsid -f): left running, it could change the
// worktree after the checks. The same when the command times out.
func TestConfinedCommandLeavesNoProcess(t *testing.T) {
	if !landlockWorks() {
		t.Skip("Landlock is not usable here")
	}
	alive := func(marker string) bool {
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			if cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline"); err == nil && strings.Contains(string(cmdline), marker) {
				return true
			}
		}
		return false
	}
	// the markers hold this process's pid: another run of these tests on
	// the same machine starts the same commands
	for name, c := range map[string]struct {
		command, marker string
		timeout         time.Duration
	}{
		"finished":  {"setsid -f sleep 31.4159%07d; (setsid sleep 27.1828 &); echo ok", "31.4159%07d", 0},
		"timed out": {"setsid -f sleep 33.3331%07d; sleep 30", "33.3331%07d", time.Second},
	} {
		c.command, c.marker = fmt.Sprintf(c.command, os.Getpid()), fmt.Sprintf(c.marker, os.Getpid())
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			b, err := newWithMode(Options{Root: dir, TempDir: filepath.Join(dir, ".tmp"), CommandTimeout: c.timeout}, sandboxLandlock)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			call(t, b, "run_command", map[string]any{"command": c.command})
			time.Sleep(100 * time.Millisecond)
			if alive(c.marker) {
				exec.Command("pkill", "-f", c.marker).Run()
				t.Fatalf("a process the command started (sleep %s) outlived it", c.marker)
			}
		})
	}
}

// ExecConfined confines the command, never agent-tui: while commands run
// on confined threads, every other goroutine still reads the hidden file.
func TestExecConfinedConfinesOnlyTheCommand(t *testing.T) {
	if !LandlockUsable() {
		t.Skip("no Landlock")
	}
	dir := t.TempDir()
	secret, wt := filepath.Join(dir, "secret.txt"), filepath.Join(dir, "wt")
	mustWrite(t, secret, "SECRET\n")
	mustWrite(t, filepath.Join(wt, "own.txt"), "own\n")
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var readErrs atomic.Int32
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := os.ReadFile(secret); err != nil {
					readErrs.Add(1)
				}
				runtime.Gosched()
			}
		}()
	}
	var cmds sync.WaitGroup
	for range 10 {
		cmds.Add(1)
		go func() {
			defer cmds.Done()
			res, err := ExecConfined(context.Background(), []string{"sh", "-c", "cat own.txt; cat " + secret + " 2>&1; echo new > made-$$.txt; cat made-$$.txt; mkdir -p sub-$$ && mv made-$$.txt sub-$$/ && ln sub-$$/made-$$.txt linked-$$.txt && echo moved"}, wt, os.Environ(), 10*time.Second, 4096, []string{wt}, nil, []string{secret})
			if err != nil || strings.Contains(res.Output, "SECRET") || !strings.Contains(res.Output, "own\n") || !strings.Contains(res.Output, "new\nmoved\n") {
				t.Errorf("%v: %q", err, res.Output)
			}
		}()
	}
	cmds.Wait()
	close(stop)
	wg.Wait()
	if n := readErrs.Load(); n > 0 {
		t.Fatalf("agent-tui itself could not read the hidden file %d times", n)
	}
	if _, err := os.ReadFile(secret); err != nil {
		t.Fatal(err)
	}
}

// The user's test and CI runs write only where they are given: a test
// the model wrote cannot change the repository's .git (its config and
// hooks are what agent-tui's own git runs) or anything else outside.
func TestExecConfinedKeepsWritesIn(t *testing.T) {
	if !LandlockUsable() {
		t.Skip("no Landlock")
	}
	dir := t.TempDir()
	wt, hooks := filepath.Join(dir, "wt"), filepath.Join(dir, "hooks")
	mustWrite(t, filepath.Join(wt, "own.txt"), "own\n")
	mustWrite(t, filepath.Join(hooks, "post-commit"), "#!/bin/sh\n")
	script := "echo ok > own.txt && echo made > new.txt && echo quiet > /dev/null && echo wrote-own; " +
		"echo evil > " + filepath.Join(hooks, "post-commit") + " || echo refused-hook; " +
		"echo evil > " + filepath.Join(dir, "outside.txt") + " || echo refused-outside; " +
		"mv own.txt " + dir + "/ || echo refused-move"
	res, err := ExecConfined(context.Background(), []string{"sh", "-c", script}, wt, os.Environ(), 10*time.Second, 4096, []string{wt, "/dev/null"}, nil, nil)
	if err != nil || res.Unconfined != "" {
		t.Fatalf("%v %s", err, res.Unconfined)
	}
	for _, want := range []string{"wrote-own", "refused-hook", "refused-outside", "refused-move"} {
		if !strings.Contains(res.Output, want) {
			t.Errorf("no %s in %q", want, res.Output)
		}
	}
	if data, _ := os.ReadFile(filepath.Join(hooks, "post-commit")); string(data) != "#!/bin/sh\n" {
		t.Errorf("the hook was changed: %q", data)
	}
	if _, err := os.Stat(filepath.Join(dir, "outside.txt")); err == nil {
		t.Error("a file was made outside")
	}
	// agent-tui itself still writes there
	mustWrite(t, filepath.Join(dir, "outside.txt"), "fine\n")
}

// Commands get their temporary directory under every name tools look for
// it by, Java's included; JAVA_TOOL_OPTIONS the user set is kept.
func TestWithTMPDIR(t *testing.T) {
	env := WithTMPDIR([]string{"TMPDIR=/tmp", "TMP=/tmp", "JAVA_TOOL_OPTIONS=-Xmx1g", "HOME=/h"}, "/t/T-1")
	got := strings.Join(env, " ")
	for _, want := range []string{"TMPDIR=/t/T-1", "TMP=/t/T-1", "TEMP=/t/T-1", "JAVA_TOOL_OPTIONS=-Xmx1g -Djava.io.tmpdir=/t/T-1", "HOME=/h"} {
		if !slices.Contains(env, want) {
			t.Errorf("no %s in %s", want, got)
		}
	}
	if strings.Contains(got, "=/tmp") {
		t.Errorf("/tmp kept: %s", got)
	}
}

// The cache of an installed tool is made before any confined run needs
// it (inside the sandbox the tool could not make it); a tool that is not
// installed gets none.
func TestToolCachesAreMadeForInstalledTools(t *testing.T) {
	home, bin := t.TempDir(), t.TempDir()
	mustWrite(t, filepath.Join(bin, "npm"), "#!/bin/sh\n")
	if err := os.Chmod(filepath.Join(bin, "npm"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	t.Setenv("PATH", bin)
	makeToolCaches()
	if _, err := os.Stat(filepath.Join(home, ".npm")); err != nil {
		t.Error("no ~/.npm for an installed npm")
	}
	if _, err := os.Stat(filepath.Join(home, ".cargo")); err == nil {
		t.Error("a cache made for cargo, which is not installed")
	}
	if !slices.Contains(existing(inHome(homeCaches)), filepath.Join(home, ".npm")) {
		t.Error("~/.npm is not among the writable caches")
	}
}

// A submodule's files are another repository's: a write there would be
// left out of every commit without a word, so it is refused, and reading
// one says it is not checked out rather than "does not exist".
func TestSubmoduleFilesAreSaidToBeAnotherRepositorys(t *testing.T) {
	b, wt, _ := setup(t, Options{})
	mustWrite(t, filepath.Join(wt, ".gitmodules"), "[submodule \"sub\"]\n\tpath = vendor/sub\n\turl = ../sub\n")
	if err := os.MkdirAll(filepath.Join(wt, "vendor", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		tool string
		args map[string]any
	}{
		{"write_file", map[string]any{"path": "vendor/sub/new.txt", "content": "x"}},
		{"edit_file", map[string]any{"path": "vendor/sub/README", "old_string": "a", "new_string": "b"}},
		{"read_file", map[string]any{"path": "vendor/sub/README"}},
		{"list_dir", map[string]any{"path": "vendor/sub"}},
		{"search", map[string]any{"pattern": "x", "path": "vendor/sub"}},
	} {
		res, isErr := call(t, b, c.tool, c.args)
		if !isErr || !strings.Contains(res, "inside the git submodule vendor/sub") {
			t.Errorf("%s: %v %q", c.tool, isErr, res)
		}
	}
	if _, err := os.Stat(filepath.Join(wt, "vendor", "sub", "new.txt")); !os.IsNotExist(err) {
		t.Fatalf("written into the submodule: %v", err)
	}
	// beside it, as ever
	if res, isErr := call(t, b, "write_file", map[string]any{"path": "vendor/own.txt", "content": "x"}); isErr {
		t.Fatalf("beside the submodule: %q", res)
	}
}

// A file too large to load (over 32 MiB) is still read in part: its
// lines streamed to the offset asked for.
func TestReadPartOfAHugeFile(t *testing.T) {
	b, wt, _ := setup(t, Options{})
	var buf bytes.Buffer
	const lines = 300000
	for i := 1; i <= lines; i++ {
		fmt.Fprintf(&buf, "line %07d %s\n", i, strings.Repeat("x", 100))
	}
	if buf.Len() <= maxFileBytes {
		t.Fatalf("the file is only %d bytes", buf.Len())
	}
	mustWrite(t, filepath.Join(wt, "huge.log"), buf.String())
	res, isErr := call(t, b, "read_file", map[string]any{"path": "huge.log", "offset": 250000, "limit": 3})
	if isErr || !strings.HasPrefix(res, "line 0250000 ") || strings.Count(res, "\n") != 3 || !strings.HasSuffix(res, "continue with offset=250003]") {
		t.Fatalf("%v %q", isErr, res)
	}
	res, isErr = call(t, b, "read_file", map[string]any{"path": "huge.log", "offset": lines - 1, "limit": 5})
	if isErr || !strings.HasPrefix(res, fmt.Sprintf("line %07d ", lines-1)) || !strings.Contains(res, "the end of the file (300000 lines") {
		t.Fatalf("%v %q", isErr, res)
	}
	res, isErr = call(t, b, "read_file", map[string]any{"path": "huge.log", "offset": lines + 5})
	wantErr(t, res, isErr, "past the end")
	// from the start, as much as a read holds
	res, _ = call(t, b, "read_file", map[string]any{"path": "huge.log"})
	if len(res) > 70<<10 || !strings.HasPrefix(res, "line 0000001 ") || !strings.Contains(res, "too large to count its lines; continue with offset=") {
		t.Fatalf("%d bytes, ends %q", len(res), res[max(len(res)-120, 0):])
	}
}

// A NUL past the bytes looked at for binary files reaches the model as
// U+FFFD, not as a NUL.
func TestLateNULIsNotSent(t *testing.T) {
	b, wt, _ := setup(t, Options{})
	mustWrite(t, filepath.Join(wt, "late_nul.md"), strings.Repeat("text line\n", 2000)+"a\x00b\n")
	res, isErr := call(t, b, "read_file", map[string]any{"path": "late_nul.md", "offset": 2001})
	if isErr || strings.IndexByte(res, 0) >= 0 || !strings.HasPrefix(res, "a\uFFFDb") {
		t.Fatalf("%v %q", isErr, res)
	}
}
