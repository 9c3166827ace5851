package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"

	"agent-tui/engine"
	"agent-tui/engine/demo"
	"agent-tui/engine/oaitest"
	"agent-tui/engine/tools"
	"agent-tui/engine/workspace"
	"agent-tui/engine/workspace/wstest"
	"agent-tui/store"

	bolt "go.etcd.io/bbolt"
)

var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "agent-tui-bin-")
	if err != nil {
		panic(err)
	}
	binPath = filepath.Join(dir, "agent-tui")
	out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := wstest.M{M: m}.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const secretKey = "sk-live-VERY-SECRET-KEY-4242"

// cliEnv is a real repository with a config pointing at a scripted server.
type cliEnv struct {
	t   *testing.T
	dir string
	srv *oaitest.Server
}

func phaseLine(r *oaitest.Request) string {
	for _, m := range r.Messages {
		if m.Role == "user" {
			l, _, _ := strings.Cut(m.Content, "\n")
			p, _, _ := strings.Cut(strings.TrimPrefix(l, "Phase: "), " · ")
			return p
		}
	}
	return ""
}

func simpleModel(r *oaitest.Request) oaitest.Reply {
	p := phaseLine(r)
	if strings.HasPrefix(p, "validator of ") || p == "review" {
		return oaitest.Reply{Text: `{"pass": true, "objections": []}`}
	}
	if p == "split" {
		return oaitest.Reply{Text: `{"tickets": [{"kind": "feature", "title": "part a", "body": "x"}]}`}
	}
	return oaitest.Reply{Text: "## " + p + "\n\nA document.\n", PromptTokens: 500, CompletionTokens: 100}
}

// newRepo makes a repository of files whose .agent-tui.toml is top plus
// one provider at url (its key in AGENT_TUI_CLI_KEY) with one model "m".
func newRepo(t *testing.T, files map[string]string, url, top string) string {
	t.Helper()
	dir := t.TempDir()
	if err := workspace.InitRepo(dir, files, "main"); err != nil {
		t.Fatal(err)
	}
	cfg := top + fmt.Sprintf(`
[[provider]]
name = "p"
base_url = %q
api_key_env = "AGENT_TUI_CLI_KEY"

[[model]]
name = "m"
provider = "p"
input_per_mtok = 1
output_per_mtok = 2
`, url)
	// ignored, so the checkout stays clean for the merge
	if err := os.WriteFile(filepath.Join(dir, ".git", "info", "exclude"), []byte(".agent-tui.toml\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".agent-tui.toml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func newCLIEnv(t *testing.T, handler func(*oaitest.Request) oaitest.Reply, extra string) *cliEnv {
	t.Helper()
	e := &cliEnv{t: t}
	e.srv = oaitest.New(handler)
	t.Cleanup(e.srv.Close)
	e.dir = newRepo(t, map[string]string{"README.md": "# x\n", "run_tests.sh": "exit 0\n"}, e.srv.URL,
		"test_command = \"sh run_tests.sh\"\napprove = []\nstream_idle_timeout = \"60s\"\n"+extra)
	return e
}

// newCLIEnvTop is newCLIEnv's repository and simple model with the
// config's top settings all its own.
func newCLIEnvTop(t *testing.T, top string) *cliEnv {
	t.Helper()
	e := &cliEnv{t: t, srv: oaitest.New(simpleModel)}
	t.Cleanup(e.srv.Close)
	e.dir = newRepo(t, map[string]string{"README.md": "# x\n", "run_tests.sh": "exit 0\n"}, e.srv.URL, top)
	return e
}

func (e *cliEnv) cmd(args ...string) *exec.Cmd {
	c := exec.Command(binPath, append([]string{"--repo", e.dir}, args...)...)
	c.Env = append(os.Environ(), "AGENT_TUI_CLI_KEY="+secretKey)
	return c
}

// run runs the binary and returns stdout, stderr and the exit code.
func (e *cliEnv) run(args ...string) (string, string, int) {
	e.t.Helper()
	return e.runCmd(e.cmd(args...))
}

// runCmd is run for a command made by cmd, then changed (its environment).
func (e *cliEnv) runCmd(c *exec.Cmd) (string, string, int) {
	e.t.Helper()
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		e.t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func (e *cliEnv) mustRun(args ...string) string {
	e.t.Helper()
	out, errOut, code := e.run(args...)
	if code != 0 {
		e.t.Fatalf("%v: exit %d: %s", args, code, errOut)
	}
	return out
}

// withStore opens the environment's database while no agent-tui holds it,
// runs fn, and closes it: a test setting up what a run would have left.
func (e *cliEnv) withStore(fn func(st *store.Store) error) {
	e.t.Helper()
	st, err := store.Open(filepath.Join(e.dir, ".git", "agent-tui.db"), time.Second)
	if err != nil {
		e.t.Fatal(err)
	}
	err = fn(st)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		e.t.Fatal(err)
	}
}

// setStatus puts the ticket in status, as a run would have left it.
func (e *cliEnv) setStatus(id, status string) {
	e.t.Helper()
	e.withStore(func(st *store.Store) error {
		_, err := st.UpdateTicket(id, func(x *store.Ticket) error { x.Status = status; return nil })
		return err
	})
}

// showAfterRun adds a feature titled title, runs until idle and returns
// what show says of it.
func (e *cliEnv) showAfterRun(title string) string {
	e.t.Helper()
	id := strings.TrimSpace(e.mustRun("add", "--kind", "feature", title))
	e.mustRun("run", "--until-idle")
	return e.mustRun("show", id)
}

func (e *cliEnv) show(id string) map[string]any {
	e.t.Helper()
	var v map[string]any
	if err := json.Unmarshal([]byte(e.mustRun("show", id, "--json")), &v); err != nil {
		e.t.Fatal(err)
	}
	return v
}

// initsOf starts the binary with args and lists the packages it
// initialized, in order, each time it started (an exec starts it again).
func initsOf(t *testing.T, env []string, args ...string) []string {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(append(os.Environ(), env...), "GODEBUG=inittrace=1")
	out, _ := cmd.CombinedOutput()
	var pkgs []string
	for line := range strings.Lines(string(out)) {
		if rest, ok := strings.CutPrefix(line, "init "); ok {
			pkg, _, _ := strings.Cut(rest, " ")
			pkgs = append(pkgs, pkg)
		}
	}
	if len(pkgs) == 0 {
		t.Fatalf("no init trace in %q", out)
	}
	return pkgs
}

// The Landlock helper, this binary started again for every command a
// model runs, runs before the packages it does not need are initialized
// (see the tools package's init): markdown and syntax highlighting alone
// took some 45 ms of each start.
func TestHelperSkipsOtherPackagesInit(t *testing.T) {
	for _, pkg := range initsOf(t, nil, tools.HelperArg, t.TempDir(), "/dev/null", "--", "true") {
		late := pkg == "main" || pkg == "net/http" || slices.ContainsFunc([]string{"github.com/alecthomas/chroma/", "charm.land/", "github.com/yuin/goldmark", "github.com/microcosm-cc/bluemonday", "github.com/sashabaranov/go-openai"},
			func(prefix string) bool { return strings.HasPrefix(pkg, prefix) })
		if late {
			t.Errorf("the helper initialized %s", pkg)
		}
	}
}

// A key in the environment makes agent-tui start itself again without it
// (see the stash package), before the slow packages' init, not after it.
func TestStashedStartInitsOnce(t *testing.T) {
	const lexers = "github.com/alecthomas/chroma/v2/lexers"
	inits := initsOf(t, []string{"OPENAI_API_KEY=" + secretKey}, "--version")
	if n := strings.Count(strings.Join(inits, " ")+" ", lexers+" "); n != 1 {
		t.Errorf("%s initialized %d times", lexers, n)
	}
	if n := strings.Count(strings.Join(inits, " ")+" ", "agent-tui/engine/tools "); n != 2 {
		t.Errorf("agent-tui started %d times, want 2 (the exec that leaves the key out)", n)
	}
}

func TestCLIAddRunShow(t *testing.T) {
	e := newCLIEnv(t, simpleModel, "")
	id := strings.TrimSpace(e.mustRun("add", "--kind", "epic", "--body", "all of it", "Big plan"))
	if id != "T-1" {
		t.Fatalf("id %q", id)
	}
	e.mustRun("run", "--until-idle")
	v := e.show(id)
	for _, k := range []string{"id", "kind", "title", "status", "sensitive", "parent", "children", "branch", "worktree", "cost_usd", "phases"} {
		if _, ok := v[k]; !ok {
			t.Fatalf("show --json lacks %q", k)
		}
	}
	if c, _ := v["children_cost_usd"].(float64); c <= 0 {
		t.Fatalf("the epic's show --json lacks what its children cost: %v", v["children_cost_usd"])
	}
	phases := v["phases"].([]any)
	// SPEC section 8 names the phases a script may meet
	specNames := []string{"discovery", "diagnosis", "techspec", "planning", "tests", "code", "ci", "cifix", "review", "split"}
	for _, tid := range []string{"T-1", "T-2"} {
		for _, p := range e.show(tid)["phases"].([]any) {
			if name := p.(map[string]any)["name"].(string); !slices.Contains(specNames, name) {
				t.Errorf("%s: phase %q is not one of SPEC's", tid, name)
			}
		}
	}
	first := phases[0].(map[string]any)
	if c, _ := first["cost_usd"].(float64); c <= 0 {
		t.Fatalf("phase cost missing: %v", first)
	}
	att := first["attempts"].([]any)[0].(map[string]any)
	for _, k := range []string{"n", "model", "provider", "deliverable", "verdict", "tokens_in", "tokens_out", "cost_usd", "error", "interrupted", "started", "ended"} {
		if _, ok := att[k]; !ok {
			t.Fatalf("attempt lacks %q", k)
		}
	}
	if _, ok := att["ended"].(string); !ok {
		t.Fatalf("a finished attempt's ended: %v", att["ended"])
	}
	// show names each child with its status: which one holds the epic up;
	// an attempt's cost, which holds its validator's, says so
	out := e.mustRun("show", id)
	if !regexp.MustCompile(`\nchildren:\n  T-2  [a-z].* \$0\.\d{4}  `).MatchString(out) || !regexp.MustCompile(`\ncost: +\$0\.\d{4}, \$0\.\d{4} with its children\n`).MatchString(out) {
		t.Fatalf("show of the epic:\n%s", out)
	}
	if !regexp.MustCompile(`#1 pass .* \$0\.\d{4} \(its validator [^:]+: in \d+ out \d+ (\$0\.\d{4}|<\$0\.0001)\)`).MatchString(out) {
		t.Fatalf("show does not say what of an attempt's cost its validator's is:\n%s", out)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(e.mustRun("list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[1]["parent"] != "T-1" {
		t.Fatalf("list: %v", list)
	}
	stats := e.mustRun("stats")
	if !strings.Contains(stats, "validator") || !strings.Contains(stats, "total spend") {
		t.Fatalf("stats:\n%s", stats)
	}
	var sj struct {
		TotalUSD   float64                     `json:"total_usd"`
		TopTierUSD float64                     `json:"top_tier_usd"`
		PassRate   map[string][]map[string]any `json:"pass_rate"`
	}
	if err := json.Unmarshal([]byte(e.mustRun("stats", "--json")), &sj); err != nil {
		t.Fatal(err)
	}
	if sj.TotalUSD <= 0 || sj.TopTierUSD <= 0 || len(sj.PassRate["discovery"]) == 0 {
		t.Fatalf("stats --json: %+v", sj)
	}
	// without a config file or a key, the default tiers still price it
	cfgPath := filepath.Join(e.dir, ".agent-tui.toml")
	cfgData, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(cfgPath)
	c := e.cmd("stats")
	c.Env = append(c.Env, "OPENAI_API_KEY=", "XDG_CONFIG_HOME="+t.TempDir(), "HOME="+t.TempDir())
	if out, err := c.CombinedOutput(); err != nil || !strings.Contains(string(out), "same tokens on large") {
		t.Fatalf("stats without a config or key: %v\n%s", err, out)
	}
	os.WriteFile(cfgPath, cfgData, 0o644)
	if out := e.mustRun("compact"); !strings.Contains(out, "compacted") {
		t.Fatalf("compact: %q", out)
	}
	if again := e.show(id); again["status"] != v["status"] {
		t.Fatal("compaction changed the ticket")
	}
}

// A done ticket has no current phase (its last step, the merge, is not one
// of SPEC's phases): list and show say so alike, with "" in JSON and "-"
// in list's column; a ticket that stopped keeps its phase.
func TestCLIDoneTicketHasNoPhase(t *testing.T) {
	e := &cliEnv{t: t, srv: oaitest.New(oaitest.Developer)}
	t.Cleanup(e.srv.Close)
	e.dir = newRepo(t, oaitest.ShellProject, e.srv.URL, "test_command = \"sh run_tests.sh\"\napprove = []\n")
	done := strings.TrimSpace(e.mustRun("add", "--kind", "hotfix", "merged"))
	e.mustRun("run", "--until-idle")
	stopped := strings.TrimSpace(e.mustRun("add", "--kind", "hotfix", "stopped"))
	e.mustRun("cancel", stopped)
	e.mustRun("run", "--until-idle")
	if v := e.show(done); v["status"] != "done" || v["phase"] != "" {
		t.Fatalf("show --json: status %v phase %q", v["status"], v["phase"])
	}
	if v := e.show(stopped); v["status"] != "cancelled" || v["phase"] != "diagnosis" {
		t.Fatalf("cancelled: status %v phase %q", v["status"], v["phase"])
	}
	var list []engine.TicketSummary
	if err := json.Unmarshal([]byte(e.mustRun("list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Status != "done" || list[0].Phase != "" || list[1].Phase != "diagnosis" {
		t.Fatalf("list --json: %+v", list)
	}
	lines := strings.Split(strings.TrimSpace(e.mustRun("list")), "\n")
	if f := strings.Fields(lines[1]); len(lines) != 3 || len(f) < 4 || f[2] != "done" || f[3] != "-" {
		t.Fatalf("list:\n%s", strings.Join(lines, "\n"))
	}
}

// Commands that only read make no database: in a fresh repository they
// find no tickets and leave no file; given with --db a missing file or an
// empty one (which bbolt would make a database), they say so in one line,
// exit non-zero, and the file stays as it was.
func TestCLIReadCommandsMakeNoDatabase(t *testing.T) {
	e := newCLIEnv(t, simpleModel, "")
	db := filepath.Join(e.dir, ".git", "agent-tui.db")
	if out := e.mustRun("list"); strings.TrimSpace(out) != "ID  KIND  STATUS  PHASE  COST  TITLE" {
		t.Fatalf("list in a fresh repository: %q", out)
	}
	e.mustRun("stats")
	if _, err := os.Stat(db); err == nil {
		t.Fatal("list or stats created the database")
	}
	// an empty file where the database goes: a first open cut off before
	// bbolt wrote it, so no tickets yet, and left as it is
	if err := os.WriteFile(db, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	e.mustRun("list", "--json")
	if fi, err := os.Stat(db); err != nil || fi.Size() != 0 {
		t.Fatalf("list made the empty default file a database: %v", err)
	}
	empty := filepath.Join(t.TempDir(), "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing.db")
	for _, c := range []struct{ db, want string }{
		{empty, "database " + empty + " is an empty file, not a database (nothing was written to it)"},
		{missing, "database " + missing + " does not exist (nothing was created)"},
	} {
		for _, args := range [][]string{{"list"}, {"list", "--json"}, {"show", "T-1"}, {"stats", "--json"}, {"approve", "T-1"}} {
			out, errOut, code := e.run(append([]string{"--db", c.db}, args...)...)
			if code == 0 || out != "" || strings.TrimSpace(errOut) != "agent-tui: "+c.want {
				t.Fatalf("%v --db %s: exit %d, stdout %q, stderr %q", args, c.db, code, out, errOut)
			}
		}
	}
	if fi, err := os.Stat(empty); err != nil || fi.Size() != 0 {
		t.Fatalf("the empty file was written: %v", err)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Fatal("the missing file was created")
	}
	// nor does reading repair or take over what is there: a new database
	// cut short (a full disk), another program's bbolt file
	cut := filepath.Join(t.TempDir(), "cut.db")
	e.mustRun("--db", cut, "add", "soon cut")
	data, _ := os.ReadFile(cut)
	os.WriteFile(cut, data[:1024], 0o600)
	foreign := filepath.Join(t.TempDir(), "foreign.db")
	fdb, err := bolt.Open(foreign, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	fdb.Close()
	for _, f := range []string{cut, foreign} {
		before, _ := os.ReadFile(f)
		for _, args := range [][]string{{"list"}, {"show", "T-1"}, {"stats"}} {
			if _, errOut, code := e.run(append([]string{"--db", f}, args...)...); code == 0 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Fatalf("%v --db %s: exit %d, stderr %q", args, f, code, errOut)
			}
		}
		if after, _ := os.ReadFile(f); !bytes.Equal(before, after) {
			t.Fatalf("reading changed %s", f)
		}
	}
}

// A database the user cannot even read is said to be unreadable, not
// unwritable with a hint that reading works.
func TestCLIUnreadableDatabase(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to run the binary as another user")
	}
	e := newCLIEnv(t, simpleModel, "")
	e.mustRun("add", "private")
	db := filepath.Join(e.dir, ".git", "agent-tui.db")
	// nobody may reach the repository and the binary, not the database
	for d := e.dir; d != "/"; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o005 != 0o005 {
			os.Chmod(d, fi.Mode().Perm()|0o005)
		}
	}
	for d := filepath.Dir(binPath); d != "/"; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o005 != 0o005 {
			os.Chmod(d, fi.Mode().Perm()|0o005)
		}
	}
	os.Chmod(db, 0o600)
	gitconfig, err := os.CreateTemp("", "agent-tui-gitconfig-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(gitconfig.Name())
	gitconfig.WriteString("[safe]\n\tdirectory = *\n")
	gitconfig.Close()
	os.Chmod(gitconfig.Name(), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"list"}, "database " + db + " cannot be read (permission denied)"},
		{[]string{"approve", "T-1"}, "database " + db + " cannot be written (permission denied)"},
	} {
		cmd := e.cmd(c.args...)
		cmd.Env = append(cmd.Env, "HOME=/nonexistent", "GIT_CONFIG_GLOBAL="+gitconfig.Name())
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, _ := cmd.CombinedOutput()
		if got := strings.TrimSpace(string(out)); got != "agent-tui: "+c.want {
			t.Fatalf("%v as nobody: %q, want %q", c.args, got, "agent-tui: "+c.want)
		}
	}
}

// A database that cannot be written is still read by list, show and
// stats (bbolt's read-only mode, a shared lock), and changed by none of
// them; a command that writes says in one line why it cannot. Made
// unwritable for real: immutable (chattr +i, which stops root too, with
// EPERM), and on a read-only bind mount in a mount namespace of its own
// (EROFS).
func TestCLIReadsADatabaseItCannotWrite(t *testing.T) {
	e := newCLIEnv(t, simpleModel, "")
	db := filepath.Join(e.dir, ".git", "agent-tui.db")
	e.mustRun("add", "--body", "the body", "kept readable")
	before, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	reads := func(t *testing.T, run func(args ...string) (string, string, int)) {
		t.Helper()
		for _, c := range [][]string{{"list"}, {"list", "--json"}, {"show", "T-1"}, {"show", "T-1", "--json"}, {"stats"}} {
			out, errOut, code := run(c...)
			if code != 0 || errOut != "" || c[0] != "stats" && !strings.Contains(out, "kept readable") {
				t.Fatalf("%v: exit %d, stdout %q, stderr %q", c, code, out, errOut)
			}
		}
	}
	refused := func(t *testing.T, run func(args ...string) (string, string, int), why string) {
		t.Helper()
		for _, c := range [][]string{{"approve", "T-1"}, {"add", "another"}, {"compact"}} {
			_, errOut, code := run(c...)
			want := "agent-tui: database " + db + " cannot be written (" + why + "); list, show and stats can still read it"
			if code == 0 || strings.TrimSpace(errOut) != want {
				t.Fatalf("%v: exit %d, stderr %q, want %q", c, code, errOut, want)
			}
		}
	}
	unchanged := func(t *testing.T) {
		t.Helper()
		if after, _ := os.ReadFile(db); !bytes.Equal(before, after) {
			t.Fatal("the database changed")
		}
	}

	t.Run("immutable", func(t *testing.T) {
		if out, err := exec.Command("chattr", "+i", db).CombinedOutput(); err != nil {
			t.Skipf("cannot make a file immutable here: %v %s", err, out)
		}
		defer exec.Command("chattr", "-i", db).Run()
		reads(t, e.run)
		refused(t, e.run, "operation not permitted")
		unchanged(t)
	})

	t.Run("read-only mount", func(t *testing.T) {
		// the repository's directory, bound read-only over itself where
		// only the command sees it
		inMount := func(argv ...string) (string, string, int) {
			c := e.cmd()
			c.Path, c.Args = "unshare", append([]string{"unshare", "-m", "sh", "-ec", `mount --bind "$0" "$0"; mount -o remount,ro,bind "$0" "$0"; exec "$@"`, e.dir}, argv...)
			if p, err := exec.LookPath("unshare"); err == nil {
				c.Path = p
			}
			var out, errb bytes.Buffer
			c.Stdout, c.Stderr = &out, &errb
			err := c.Run()
			var ee *exec.ExitError
			if err != nil && !errors.As(err, &ee) {
				t.Skipf("unshare: %v", err)
			}
			return out.String(), errb.String(), c.ProcessState.ExitCode()
		}
		roRun := func(args ...string) (string, string, int) {
			return inMount(append([]string{binPath, "--repo", e.dir}, args...)...)
		}
		if _, errOut, code := inMount("touch", filepath.Join(e.dir, "probe")); code == 0 || !strings.Contains(errOut, "Read-only file system") {
			t.Skipf("no read-only bind mount here: exit %d %q", code, errOut)
		}
		reads(t, roRun)
		refused(t, roRun, "read-only file system")
		unchanged(t)
		// a process that writes it, outside the mount, keeps a reader out
		// as it keeps out a second writer: in a second, naming itself
		st, err := store.Open(db, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		start := time.Now()
		_, errOut, code := roRun("list")
		if code == 0 || !strings.Contains(errOut, "in use by another agent-tui process (pid "+fmt.Sprint(os.Getpid())) || time.Since(start) > 3*time.Second {
			t.Fatalf("list while a writer holds it: exit %d after %v: %q", code, time.Since(start), errOut)
		}
	})
}

func TestCLIBadInputGetsOneLineErrorAndLeavesNothing(t *testing.T) {
	e := newCLIEnv(t, simpleModel, "")
	db := filepath.Join(e.dir, ".git", "agent-tui.db")
	binary := filepath.Join(t.TempDir(), "blob.bin")
	if err := os.WriteFile(binary, []byte{0x7f, 'E', 'L', 'F', 0, 0xff, 0xfe}, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"add", "--body-file", binary, "x"}, "the body is not text"},
		{[]string{}, "the TUI needs a terminal"},
		{[]string{"add", "--kind", "chore", "x"}, `unknown kind "chore"`},
		{[]string{"add", "   "}, "empty title"},
		{[]string{"add"}, "empty title"},
		{[]string{"frobnicate"}, "unknown command"},
		{[]string{"reject", "T-1"}, "--reason"},
		{[]string{"add", "two\nlines"}, "control character"},
		{[]string{"show", "X-1"}, "bad ticket id"},
		{[]string{"--demo", "--db", "x.db"}, "--demo makes its own"},
		{[]string{"add", "--sensitiv", "x"}, "not defined: --sensitiv (see agent-tui add -h)"},
		{[]string{"add", strings.Repeat("t", 301)}, "301 characters long, over 300"},
		{[]string{"retry", "T-1", "--model"}, "flag needs an argument: --model"},
		{[]string{"--db", "/nonexistent-dir/x.db", "add", "x"}, "directory /nonexistent-dir does not exist"},
		{[]string{"retry", "T-1", "--model", ""}, "--model is empty"},
		{[]string{"retry", "T-1", "--guidance", " "}, "--guidance is empty"},
	}
	for _, c := range cases {
		_, errOut, code := e.run(c.args...)
		if code == 0 || !strings.Contains(errOut, c.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Fatalf("%v: exit %d, stderr %q, want one line with %q", c.args, code, errOut, c.want)
		}
	}
	if _, err := os.Stat(db); err == nil {
		t.Fatal("bad input created the database")
	}
	_, errOut, code := e.run("show", "T-7")
	if code == 0 || !strings.Contains(errOut, "unknown ticket T-7") {
		t.Fatalf("unknown id: %d %q", code, errOut)
	}
	if _, errOut, code := e.run("show", "7"); code == 0 || !strings.Contains(errOut, "unknown ticket T-7") {
		t.Fatalf("unknown id without prefix: %d %q", code, errOut)
	}
	// a repository without a commit, and a run without any model: refused
	// before anything is written
	fresh := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", "-b", "main", fresh).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	for _, args := range [][]string{{"add", "first"}, {"run", "--until-idle"}} {
		c := exec.Command(binPath, append([]string{"--repo", fresh}, args...)...)
		c.Env = append(os.Environ(), "OPENAI_API_KEY=")
		out, err := c.CombinedOutput()
		if err == nil || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
			t.Fatalf("%v in a new repository: %v %q", args, err, out)
		}
	}
	if _, err := os.Stat(filepath.Join(fresh, ".git", "agent-tui.db")); err == nil {
		t.Fatal("a refused add or run created the database")
	}
	// not a git repository
	c := exec.Command(binPath, "--repo", t.TempDir(), "list")
	out, err := c.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "not a git repository") {
		t.Fatalf("not a repo: %v %q", err, out)
	}
	// a broken config names the file and line
	os.WriteFile(filepath.Join(e.dir, ".agent-tui.toml"), []byte("max_parallel = 2\napprove = [\"review\"\nfoo = 1\n"), 0o644)
	before, _ := e.srv.Requests(), 0
	_, errOut, code = e.run("add", "ok title")
	if code == 0 || !strings.Contains(errOut, ".agent-tui.toml:") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Fatalf("broken config: %d %q", code, errOut)
	}
	os.WriteFile(filepath.Join(e.dir, ".agent-tui.toml"), []byte("max_parallel = \"four\"\n"), 0o644)
	_, errOut, _ = e.run("list")
	if !strings.Contains(errOut, ".agent-tui.toml:1") || !strings.Contains(errOut, "max_parallel") {
		t.Fatalf("type error must name file, line and key: %q", errOut)
	}
	if len(before) != 0 {
		t.Fatal("requests sent")
	}
	if _, err := os.Stat(db); err == nil {
		t.Fatal("bad input left a database behind")
	}
}

// kill -9 in the middle of a phase: on the next run no passed phase is
// asked again and the cut-off attempt is marked interrupted and re-run.
func TestCLICrashResume(t *testing.T) {
	var mu sync.Mutex
	hang := true
	arrived := make(chan struct{}, 8)
	e := newCLIEnv(t, func(r *oaitest.Request) oaitest.Reply {
		mu.Lock()
		defer mu.Unlock()
		if phaseLine(r) == "techspec" && hang {
			arrived <- struct{}{}
			return oaitest.Reply{Text: "never finished", Delay: time.Hour}
		}
		return simpleModel(r)
	}, "")
	id := strings.TrimSpace(e.mustRun("add", "--kind", "epic", "Crashy"))
	child := e.cmd("run", "--until-idle")
	var childErr bytes.Buffer
	child.Stderr = &childErr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-arrived:
	case <-time.After(30 * time.Second):
		child.Process.Kill()
		t.Fatalf("techspec never requested: %s", childErr.String())
	}
	// while it runs, a second process fails fast and says why
	start := time.Now()
	_, errOut, code := e.run("list")
	if code == 0 || !strings.Contains(errOut, "in use by another agent-tui process") || time.Since(start) > 2*time.Second {
		t.Fatalf("second process: exit %d after %v: %q", code, time.Since(start), errOut)
	}
	// the TUI takes decisions, not a compact: the advice fits the command
	if _, errOut, _ := e.run("pause", id); !strings.Contains(errOut, "(if it is the TUI, take the decision there; otherwise quit it, then decide again)") || strings.Contains(errOut, "--db") {
		t.Fatalf("pause while held: %q", errOut)
	}
	if _, errOut, code := e.run("compact"); code == 0 || !strings.Contains(errOut, "in use by another") || strings.Contains(errOut, "decision") {
		t.Fatalf("compact while held: exit %d %q", code, errOut)
	}
	if _, errOut, code := e.run("add", "another"); code == 0 || !strings.Contains(errOut, "(if it is the TUI, add the ticket there with n; otherwise quit it, then add again)") {
		t.Fatalf("add while held: exit %d %q", code, errOut)
	}
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	// before the next run, show says what that run will record
	cut := e.show(id)["phases"].([]any)[1].(map[string]any)["attempts"].([]any)
	if len(cut) != 1 || cut[0].(map[string]any)["interrupted"] != true {
		t.Fatalf("techspec attempts before the restart: %v", cut)
	}

	mu.Lock()
	hang = false
	mu.Unlock()
	discBefore := count(e.srv.Requests(), "discovery")
	e.mustRun("run", "--until-idle")
	if n := count(e.srv.Requests(), "discovery"); n != discBefore {
		t.Fatalf("discovery asked again after the crash: %d → %d", discBefore, n)
	}
	v := e.show(id)
	if v["status"] != "waiting_children" && v["status"] != "done" {
		t.Fatalf("status %v", v["status"])
	}
	ts := v["phases"].([]any)[1].(map[string]any)
	atts := ts["attempts"].([]any)
	if len(atts) != 2 || atts[0].(map[string]any)["interrupted"] != true || atts[1].(map[string]any)["interrupted"] != false ||
		atts[0].(map[string]any)["ended"] != nil {
		t.Fatalf("techspec attempts after crash: %v", atts)
	}
	s, err := store.Open(filepath.Join(e.dir, ".git", "agent-tui.db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}

// count counts the requests of one phase of T-1.
func count(reqs []*oaitest.Request, phase string) int {
	n := 0
	for _, r := range reqs {
		if phaseLine(r) == phase && strings.Contains(r.Messages[1].Content, "Ticket T-1 ") {
			n++
		}
	}
	return n
}

// The API key is sent to the provider but stored and printed nowhere.
func TestCLIKeyNeverStoredOrShown(t *testing.T) {
	var sawKey bool
	var mu sync.Mutex
	e := newCLIEnv(t, func(r *oaitest.Request) oaitest.Reply {
		mu.Lock()
		sawKey = sawKey || strings.Contains(r.Header.Get("Authorization"), secretKey)
		mu.Unlock()
		if phaseLine(r) == "techspec" {
			return oaitest.Reply{Status: 401, Error: "bad key " + secretKey}
		}
		return simpleModel(r)
	}, "")
	var all strings.Builder
	for _, args := range [][]string{{"add", "--kind", "epic", "Keyed"}, {"run", "--until-idle"}, {"list"}, {"show", "T-1"}, {"show", "T-1", "--json"}, {"stats", "--json"}} {
		out, errOut, _ := e.run(args...)
		all.WriteString(out + errOut)
	}
	if !sawKey {
		t.Fatal("the provider never received the key")
	}
	if strings.Contains(all.String(), secretKey) {
		t.Fatalf("key in output:\n%s", all.String())
	}
	if !strings.Contains(all.String(), "needs_human") && !strings.Contains(all.String(), "needs human") {
		t.Fatalf("a 401 on the only model should stop the ticket:\n%s", all.String())
	}
	data, err := os.ReadFile(filepath.Join(e.dir, ".git", "agent-tui.db"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(secretKey)) {
		t.Fatal("key in the database file")
	}
}

// A phase that left nothing can be taken over from the command line: the
// human's text is the deliverable, and the next run moves on with it.
func TestCLIApproveWithText(t *testing.T) {
	e := newCLIEnv(t, func(r *oaitest.Request) oaitest.Reply {
		if strings.HasPrefix(phaseLine(r), "validator of discovery") {
			return oaitest.Reply{Text: `{"pass": false, "objections": ["never"]}`}
		}
		return simpleModel(r)
	}, "\n[phases.discovery]\nmax_attempts = 1\n")
	id := strings.TrimSpace(e.mustRun("add", "--kind", "feature", "take over"))
	e.mustRun("run", "--until-idle")
	for _, text := range []string{"  ", ""} {
		// an empty variable in a script must not approve the model's text
		if _, errOut, code := e.run("approve", id, "--text", text); code == 0 || !strings.Contains(errOut, "empty") {
			t.Fatalf("text %q: %d %q", text, code, errOut)
		}
	}
	c := e.cmd("approve", id, "--text-file", "-")
	c.Stdin = strings.NewReader("HUMAN DISCOVERY: the real need\n")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	// pending, it reads in words, not as the stored kind
	if out := e.mustRun("list"); !strings.Contains(out, "(approve with edits pending)") {
		t.Fatalf("list:\n%s", out)
	}
	e.mustRun("run", "--until-idle")
	v := e.show(id)
	if p := v["phases"].([]any)[0].(map[string]any); p["status"] != "passed" || p["by_human"] != true {
		t.Fatalf("discovery %v, by_human %v", p["status"], p["by_human"])
	}
	// its only attempt failed: the text says whose word passed it
	if out := e.mustRun("show", id); !strings.Contains(out, "discovery  passed (approved by a person)") || !strings.Contains(out, "approve with edits at discovery  text: HUMAN DISCOVERY: the real need") {
		t.Fatalf("show:\n%s", out)
	}
	found := false
	for _, r := range e.srv.Requests() {
		if phaseLine(r) == "techspec" && strings.Contains(oaitest.UserText(r), "HUMAN DISCOVERY: the real need") {
			found = true
		}
	}
	if !found {
		t.Fatal("techspec did not get the human's discovery")
	}
}

// A demo repository's config names the simulated model that ran inside
// that demo's process: outside --demo, run refuses it in one line instead
// of failing every ticket's attempts against a dead port.
func TestCLIDemoConfigOutsideTheDemo(t *testing.T) {
	e := newCLIEnv(t, simpleModel, "")
	if err := os.WriteFile(filepath.Join(e.dir, ".agent-tui.toml"), []byte(demo.Config("http://127.0.0.1:9/v1")), 0o644); err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(e.mustRun("add", "a demo ticket"))
	_, errOut, code := e.run("run", "--until-idle")
	if code == 0 || !strings.Contains(errOut, "agent-tui --demo") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Fatalf("run on a demo config: exit %d, %q", code, errOut)
	}
	if st := e.show(id)["status"]; st != "queued" {
		t.Fatalf("the ticket is %v, want it left queued", st)
	}
}

// run --until-idle stopped by a signal exits with the shell's code for it,
// so a script can tell it from reaching idle; a key variable named but not
// set is warned about once, at start.
func TestCLIRunStoppedBySignal(t *testing.T) {
	e, started := newSlowCLIEnv(t, 3*time.Second)
	cfg, _ := os.ReadFile(filepath.Join(e.dir, ".agent-tui.toml"))
	cfg = append(cfg, []byte("\n[[provider]]\nname = \"spare\"\nbase_url = \"http://127.0.0.1:9/v1\"\napi_key_env = \"AGENT_TUI_UNSET_KEY\"\n")...)
	os.WriteFile(filepath.Join(e.dir, ".agent-tui.toml"), cfg, 0o644)
	e.mustRun("add", "slow one")
	code, out := stopRunUntilIdle(t, e, started, os.Interrupt)
	if code != 130 {
		t.Fatalf("exit %d, want 130; stderr %s", code, out)
	}
	if !strings.Contains(out, "stopped by SIGINT before every ticket was idle; 1 ticket's step was cut off and runs again on the next start") {
		t.Errorf("stderr %q", out)
	}
	if !strings.Contains(out, "provider spare: its key variable AGENT_TUI_UNSET_KEY is not set; its models are skipped") {
		t.Errorf("no warning for the unset key variable: %q", out)
	}
}

// A closed terminal (SIGHUP) stops run --until-idle as SIGTERM does, said
// and with the shell's code for it (it used to die at once, unsaid).
func TestCLIRunStoppedByHangup(t *testing.T) {
	e, started := newSlowCLIEnv(t, 3*time.Second)
	e.mustRun("add", "slow one")
	if code, out := stopRunUntilIdle(t, e, started, syscall.SIGHUP); code != 129 || !strings.Contains(out, "stopped by SIGHUP before every ticket was idle") {
		t.Fatalf("exit %d, want 129; stderr %s", code, out)
	}
}

// A plain run says that it runs, and that it stopped, and exits 0.
func TestCLIPlainRunSaysSo(t *testing.T) {
	e, started := newSlowCLIEnv(t, 3*time.Second)
	e.mustRun("add", "slow one")
	code, out := stopRun(t, e, started, os.Interrupt, "run")
	if code != 0 || !strings.HasPrefix(out, "agent-tui: running until stopped (Ctrl-C)") || !strings.Contains(out, "agent-tui: stopped by SIGINT; cut-off attempts run again on the next start\n") {
		t.Fatalf("exit %d, stderr %q", code, out)
	}
}

// stopRunUntilIdle starts run --until-idle, sends it sig once the model is
// called, and returns its exit code and stderr.
func stopRunUntilIdle(t *testing.T, e *cliEnv, started <-chan struct{}, sig os.Signal) (int, string) {
	t.Helper()
	return stopRun(t, e, started, sig, "run", "--until-idle")
}

// stopRun is stopRunUntilIdle for the command args.
func stopRun(t *testing.T, e *cliEnv, started <-chan struct{}, sig os.Signal, args ...string) (int, string) {
	t.Helper()
	c := e.cmd(args...)
	var errb bytes.Buffer
	c.Stderr = &errb
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		c.Process.Kill()
		t.Fatal("no model call")
	}
	c.Process.Signal(sig)
	err := c.Wait()
	if err == nil {
		return 0, errb.String()
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("run ended %v; stderr %s", err, errb.String())
	}
	return ee.ExitCode(), errb.String()
}

// show's text names the models an attempt skipped and why, as --json does.
func TestCLIShowNamesFallbacks(t *testing.T) {
	e := newCLIEnv(t, func(r *oaitest.Request) oaitest.Reply {
		if r.Model == "m" && phaseLine(r) == "discovery" {
			return oaitest.Reply{Status: 500, Error: "upstream exploded"}
		}
		return simpleModel(r)
	}, "\n[[model]]\nname = \"m2\"\nprovider = \"p\"\n\n[phases.discovery]\nmodels = [\"m\", \"m2\"]\n")
	out := e.showAfterRun("flaky provider")
	if !strings.Contains(out, "skipped m (p): HTTP 500") {
		t.Fatalf("show lacks the fallback:\n%s", out)
	}
}

// A call cut off part-way is billed in the attempt's cost, and show says
// whose it was (the answer is the fallback's).
func TestCLIShowNamesCutCalls(t *testing.T) {
	e := newCLIEnv(t, func(r *oaitest.Request) oaitest.Reply {
		if r.Model == "m" && phaseLine(r) == "discovery" {
			return oaitest.Reply{Text: "a long answer that is cut off here", ResetAfterChunks: 2}
		}
		return simpleModel(r)
	}, "\n[[model]]\nname = \"m2\"\nprovider = \"p\"\n\n[phases.discovery]\nmodels = [\"m\", \"m2\"]\n")
	id := strings.TrimSpace(e.mustRun("add", "--kind", "feature", "cut provider"))
	e.mustRun("run", "--until-idle")
	out := e.mustRun("show", id)
	if !strings.Contains(out, "      cut off: m (p), 1 call: in ") {
		t.Fatalf("show lacks the cut call:\n%s", out)
	}
	att := e.show(id)["phases"].([]any)[0].(map[string]any)["attempts"].([]any)[0].(map[string]any)
	if w, _ := att["wasted"].([]any); len(w) != 1 {
		t.Fatalf("show --json wasted: %v", att["wasted"])
	}
	// and what was streamed, the answer that served it among it
	if stream, _ := att["stream"].(string); !strings.Contains(stream, strings.TrimSpace(att["deliverable"].(string))[:20]) {
		t.Fatalf("show --json stream %q, deliverable %q", stream, att["deliverable"])
	}
}

// An attempt whose every call was cut off part-way got something, billed:
// show says no whole answer came, not that no model answered.
func TestCLIShowSaysNoWholeAnswer(t *testing.T) {
	e := newCLIEnv(t, func(r *oaitest.Request) oaitest.Reply {
		if phaseLine(r) == "discovery" {
			return oaitest.Reply{Text: "a long answer that is cut off here", ResetAfterChunks: 2}
		}
		return simpleModel(r)
	}, "\n[phases.discovery]\nmodels = [\"m\"]\nmax_attempts = 1\n")
	if out := e.showAfterRun("cut provider"); !strings.Contains(out, "(no whole answer; tried m)") {
		t.Fatalf("show:\n%s", out)
	}
}

// When the validator's answers could not be read and its next model
// judged, show says so on the attempt, not only show --json.
func TestCLIShowSaysHowTheValidatorJudged(t *testing.T) {
	e := newCLIEnv(t, func(r *oaitest.Request) oaitest.Reply {
		if r.Model == "m" && strings.HasPrefix(phaseLine(r), "validator of discovery") {
			return oaitest.Reply{Text: "Looks fine to me!"}
		}
		return simpleModel(r)
	}, "\n[[model]]\nname = \"m2\"\nprovider = \"p\"\n\n[phases.validator]\nmodels = [\"m\", \"m2\"]\n")
	if out := e.showAfterRun("a validator that rambles"); !strings.Contains(out, "      validator: judged by m2; 2 answer(s) that could not be read; answered by m, m2\n") {
		t.Fatalf("show:\n%s", out)
	}
}

// A validator whose every answer was unreadable judged nothing: show does
// not say it judged.
func TestCLIShowSaysTheValidatorGaveNoVerdict(t *testing.T) {
	e := newCLIEnv(t, func(r *oaitest.Request) oaitest.Reply {
		if strings.HasPrefix(phaseLine(r), "validator of discovery") {
			return oaitest.Reply{Text: "Looks fine to me!"}
		}
		return simpleModel(r)
	}, "\n[phases.validator]\nmodels = [\"m\"]\n")
	out := e.showAfterRun("a validator that rambles")
	if !strings.Contains(out, "      validator: 3 answer(s) that could not be read; no verdict\n") || strings.Contains(out, "judged by") {
		t.Fatalf("show:\n%s", out)
	}
}

// An attempt no model answered (every one gave HTTP 500) has no model in
// show --json, since none served it, and its fallbacks list what was
// tried; show's line names them.
func TestCLIShowNamesModelsTriedWhenNoneAnswered(t *testing.T) {
	e := newCLIEnv(t, func(r *oaitest.Request) oaitest.Reply {
		if phaseLine(r) == "discovery" {
			return oaitest.Reply{Status: 500, Error: "upstream exploded"}
		}
		return simpleModel(r)
	}, "\n[[model]]\nname = \"m2\"\nprovider = \"p\"\n\n[phases.discovery]\nmodels = [\"m\", \"m2\"]\nmax_attempts = 1\n")
	id := strings.TrimSpace(e.mustRun("add", "--kind", "feature", "nothing answers"))
	// the run ends saying who waits for a person, and why
	if _, errOut, code := e.run("run", "--until-idle"); code != 0 || !strings.Contains(errOut, "agent-tui: "+id+" needs human: every model of discovery failed: m (p): HTTP 500") {
		t.Fatalf("run: exit %d, stderr %q", code, errOut)
	}
	out := e.mustRun("show", id)
	for _, w := range []string{"#1 —        (no model answered; tried m, m2)\n", "      tried m (p): HTTP 500", "      tried m2 (p): HTTP 500", "      error: every model of discovery failed: m (p): HTTP 500"} {
		if !strings.Contains(out, w) {
			t.Fatalf("show lacks %q:\n%s", w, out)
		}
	}
	var v engine.TicketView
	if err := json.Unmarshal([]byte(e.mustRun("show", id, "--json")), &v); err != nil {
		t.Fatal(err)
	}
	a := v.Phases[0].Attempts[0]
	if a.Model != "" || a.Provider != "" || len(a.Fallbacks) != 2 || a.Fallbacks[0].Model != "m" || a.Fallbacks[1].Model != "m2" || a.Fallbacks[1].Provider != "p" {
		t.Fatalf("attempt: model %q provider %q fallbacks %+v", a.Model, a.Provider, a.Fallbacks)
	}
	// SPEC's attempt has a verdict object: this one did not pass, and no
	// one judged it
	raw := e.show(id)["phases"].([]any)[0].(map[string]any)["attempts"].([]any)[0].(map[string]any)["verdict"]
	verdict, ok := raw.(map[string]any)
	if !ok || verdict["pass"] != false || verdict["by"] != "" || verdict["objections"] == nil || len(verdict["objections"].([]any)) != 0 {
		t.Fatalf("verdict of an attempt no one judged: %#v", raw)
	}
}

// show's text says a ticket is sensitive, as --json does.
func TestCLIShowSaysSensitive(t *testing.T) {
	e := newCLIEnv(t, simpleModel, "")
	id := strings.TrimSpace(e.mustRun("add", "--sensitive", "private"))
	if out := e.mustRun("show", id); !strings.Contains(out, "sensitive: yes") {
		t.Fatalf("show:\n%s", out)
	}
}

// show's text has the ticket's body, its first lines when it is long.
func TestCLIShowHasTheBody(t *testing.T) {
	e := newCLIEnv(t, simpleModel, "")
	var body strings.Builder
	body.WriteString("Steps:\r\n")
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&body, "%d. step\n", i)
	}
	id := strings.TrimSpace(e.mustRun("add", "--body", body.String(), "long body"))
	out := e.mustRun("show", id)
	if !strings.Contains(out, "body:\n  Steps:\n  1. step\n") || !strings.Contains(out, "  19. step\n  … 11 more lines (show "+id+" --json)\n") || strings.Contains(out, "20. step") {
		t.Fatalf("show:\n%s", out)
	}
}

// A database holds one repository's tickets: given with --db to another
// repository, every command refuses it instead of running or merging that
// repository's like-named branches.
func TestCLIDatabaseOfAnotherRepository(t *testing.T) {
	a := newCLIEnv(t, simpleModel, "")
	b := newCLIEnv(t, simpleModel, "")
	a.mustRun("add", "in a")
	db := filepath.Join(a.dir, ".git", "agent-tui.db")
	for _, args := range [][]string{{"list"}, {"run", "--until-idle"}, {"approve", "T-1"}} {
		_, errOut, code := b.run(append([]string{"--db", db}, args...)...)
		if code == 0 || !strings.Contains(errOut, "holds the tickets of the repository at "+a.dir) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Fatalf("%v with a's database from b: exit %d, %q", args, code, errOut)
		}
	}
	// a database kept elsewhere belongs to the repository that first used it
	outside := filepath.Join(t.TempDir(), "shared.db")
	b.mustRun("--db", outside, "add", "in b")
	if _, errOut, code := a.run("--db", outside, "list"); code == 0 || !strings.Contains(errOut, "repository at "+b.dir) {
		t.Fatalf("b's outside database from a: exit %d, %q", code, errOut)
	}
	if out := b.mustRun("--db", outside, "list"); !strings.Contains(out, "in b") {
		t.Fatalf("b's own database: %q", out)
	}
	// a repository moved with its database inside is still itself
	moved := filepath.Join(t.TempDir(), "moved")
	if err := os.Rename(a.dir, moved); err != nil {
		t.Fatal(err)
	}
	a.dir = moved
	if out := a.mustRun("list"); !strings.Contains(out, "in a") {
		t.Fatalf("after a move: %q", out)
	}
	// and one moved away from its outside database takes it along
	movedB := filepath.Join(t.TempDir(), "movedB")
	if err := os.Rename(b.dir, movedB); err != nil {
		t.Fatal(err)
	}
	b.dir = movedB
	if out := b.mustRun("--db", outside, "list"); !strings.Contains(out, "in b") {
		t.Fatalf("b moved, its outside database: %q", out)
	}
	b.mustRun("--db", outside, "add", "after the move") // (a reader records nothing)
	// but an unrelated repository does not take over one whose repository
	// is away (renamed, unmounted)
	away := filepath.Join(t.TempDir(), "away")
	if err := os.Rename(b.dir, away); err != nil {
		t.Fatal(err)
	}
	other := &cliEnv{t: t, srv: b.srv, dir: newRepo(t, map[string]string{"OTHER.md": "another project\n"}, b.srv.URL, "")}
	if _, errOut, code := other.run("--db", outside, "list"); code == 0 || !strings.Contains(errOut, "holds the tickets of the repository at "+movedB) {
		t.Fatalf("an unrelated repository took over: exit %d, %q", code, errOut)
	}
}

// A decision that replaces one still waiting says so.
func TestCLISaysWhichDecisionItReplaces(t *testing.T) {
	e := newCLIEnv(t, func(r *oaitest.Request) oaitest.Reply {
		if strings.HasPrefix(phaseLine(r), "validator of discovery") {
			return oaitest.Reply{Text: `{"pass": false, "objections": ["never"]}`}
		}
		return simpleModel(r)
	}, "\n[phases.discovery]\nmax_attempts = 1\n")
	id := strings.TrimSpace(e.mustRun("add", "--kind", "feature", "change of mind"))
	e.mustRun("run", "--until-idle")
	if out := e.mustRun("reject", id, "--reason", "first thought"); strings.Contains(out, "replacing") {
		t.Fatalf("nothing was waiting: %q", out)
	}
	if out := e.mustRun("retry", id, "--guidance", "second thought"); !strings.Contains(out, "replacing the reject waiting since") {
		t.Fatalf("retry over a waiting reject: %q", out)
	}
	if out := e.mustRun("show", id); !strings.Contains(out, "not carried out: replaced by retry") {
		t.Fatalf("show:\n%s", out)
	}
}

// A document the validator passed and a person rejected says so on its
// own line in show, not only among the decisions.
func TestCLIShowMarksTheRejectedAttempt(t *testing.T) {
	e := newCLIEnv(t, simpleModel, "")
	cfg := filepath.Join(e.dir, ".agent-tui.toml")
	data, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, bytes.Replace(data, []byte("approve = []"), []byte(`approve = ["techspec"]`), 1), 0o644)
	id := strings.TrimSpace(e.mustRun("add", "--kind", "feature", "gated"))
	e.mustRun("run", "--until-idle")
	e.mustRun("reject", id, "--reason", "REJECT-REASON too vague")
	e.mustRun("run", "--until-idle")
	out := e.mustRun("show", id)
	i := strings.Index(out, "\ntechspec ")
	if i < 0 {
		t.Fatalf("show:\n%s", out)
	}
	first := strings.Index(out[i:], "#1 pass")
	mark := strings.Index(out[i:], "rejected by a person: REJECT-REASON too vague")
	second := strings.Index(out[i:], "#2 ")
	if first < 0 || mark < first || second < mark {
		t.Fatalf("the reject is not under techspec #1:\n%s", out)
	}
}

// A repository prompt that does not render stops run before any model is
// asked, naming the file.
func TestCLIBrokenPromptStopsRunAtStart(t *testing.T) {
	e := newCLIEnv(t, simpleModel, "")
	dir := filepath.Join(e.dir, ".agent-tui", "prompts")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "tests.md"), []byte("broken {{.TicketID"), 0o644)
	e.mustRun("add", "--kind", "hotfix", "x")
	_, errOut, code := e.run("run", "--until-idle")
	if code == 0 || !strings.Contains(errOut, "tests.md") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Fatalf("exit %d, %q", code, errOut)
	}
	if n := len(e.srv.Requests()); n != 0 {
		t.Fatalf("%d model calls before the broken prompt was found", n)
	}
}

// pause and resume work from the command line too; list and show say what
// is paused, pending or cut off (no engine runs while they do), and list
// --json carries paused.
func TestCLIPauseResumeAndStatuses(t *testing.T) {
	e := newCLIEnv(t, simpleModel, "")
	id := strings.TrimSpace(e.mustRun("add", "held"))
	if out := e.mustRun("resume", id); out != id+": not paused: nothing to resume\n" {
		t.Fatalf("resume of a ticket not paused: %q", out)
	}
	// a finished ticket refuses both alike
	done := strings.TrimSpace(e.mustRun("add", "finished"))
	e.setStatus(done, store.StatusDone)
	for _, cmd := range []string{"pause", "resume"} {
		if _, errOut, code := e.run(cmd, done); code == 0 || !strings.Contains(errOut, done+" is already done") {
			t.Fatalf("%s of a done ticket: exit %d, %q", cmd, code, errOut)
		}
	}
	if out := e.mustRun("pause", id); !strings.Contains(out, "pause recorded") {
		t.Fatalf("pause: %q", out)
	}
	if out := e.mustRun("list"); !strings.Contains(out, "queued (pause pending)") {
		t.Fatalf("list:\n%s", out)
	}
	if out := e.mustRun("pause", id); out != id+": a pause is recorded already; the next run carries it out\n" {
		t.Fatalf("pause again: %q", out)
	}
	if _, errOut, code := e.run("run", "--until-idle"); code != 0 || !strings.Contains(errOut, "agent-tui: "+id+" paused: resume it (agent-tui resume "+id+")") {
		t.Fatalf("run: exit %d, stderr %q", code, errOut)
	}
	if out := e.mustRun("show", id); !strings.Contains(out, "status:  paused") {
		t.Fatalf("show:\n%s", out)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(e.mustRun("list", "--json")), &list); err != nil || list[0]["paused"] != true {
		t.Fatalf("list --json: %v %v", err, list)
	}
	if n := len(e.srv.Requests()); n != 0 {
		t.Fatalf("a paused ticket called the model %d times", n)
	}
	// a decision on it says how to move it
	if _, errOut, code := e.run("retry", id); code == 0 || !strings.Contains(errOut, "it is paused: `agent-tui resume "+id+"`") {
		t.Fatalf("retry: %d %q", code, errOut)
	}
	if out := e.mustRun("resume", id); !strings.Contains(out, "resume recorded") {
		t.Fatalf("resume: %q", out)
	}
	if out := e.mustRun("list"); !strings.Contains(out, "paused (resume pending)") {
		t.Fatalf("list:\n%s", out)
	}
	e.mustRun("run", "--until-idle")
	if out := e.mustRun("show", id); strings.Contains(out, "paused") || len(e.srv.Requests()) == 0 {
		t.Fatalf("show after resume (%d model calls):\n%s", len(e.srv.Requests()), out)
	}
	// a second cancel or approve is no error: it is already recorded
	id2 := strings.TrimSpace(e.mustRun("add", "cut off"))
	e.mustRun("cancel", id2)
	if out := e.mustRun("cancel", id2); !strings.Contains(out, "cancel already recorded") {
		t.Fatalf("second cancel: %q", out)
	}
}

// An attempt a kill cut off before any call's end was recorded does not
// claim that no model answered.
func TestCLIShowsACutOffAttempt(t *testing.T) {
	e := newCLIEnv(t, simpleModel, "")
	id := strings.TrimSpace(e.mustRun("add", "killed mid-stream"))
	e.withStore(func(st *store.Store) error {
		return st.PutAttempt(id, &store.Attempt{N: 1, Phase: "discovery", Started: time.Now(), Interrupted: true, Error: "interrupted"})
	})
	if out := e.mustRun("show", id); !strings.Contains(out, "(cut off before an answer was recorded)") || strings.Contains(out, "no model answered") {
		t.Fatalf("show:\n%s", out)
	}
}

// An attempt whose end was never written while its run went on (a full
// disk stopped the ticket for a person) is not said to have been cut off
// by the process stopping; list and show count its cost alike.
func TestCLIShowsAnAttemptWhoseEndWasNotRecorded(t *testing.T) {
	e := newCLIEnv(t, simpleModel, "")
	id := strings.TrimSpace(e.mustRun("add", "disk full"))
	e.setStatus(id, store.StatusNeedsHuman)
	e.withStore(func(st *store.Store) error {
		return st.PutAttempt(id, &store.Attempt{N: 1, Phase: "discovery", Model: "m", Started: time.Now(), CostUSD: 0.5})
	})
	att := e.show(id)["phases"].([]any)[0].(map[string]any)["attempts"].([]any)[0].(map[string]any)
	if msg, _ := att["error"].(string); !strings.Contains(msg, "its end could not be recorded") || att["interrupted"] != true {
		t.Fatalf("attempt: %v", att)
	}
	if out := e.mustRun("show", id); !strings.Contains(out, "      error: interrupted: its end could not be recorded") {
		t.Fatalf("show:\n%s", out)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(e.mustRun("list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if c := e.show(id)["cost_usd"]; len(list) != 1 || list[0]["cost_usd"] != c || c != 0.5 {
		t.Fatalf("list cost %v, show cost %v", list[0]["cost_usd"], c)
	}
}

// An approve asked again on a child whose epic is to be cancelled is
// refused like a first one, not said to be carried out.
func TestCLIRepeatedApproveUnderAnEpicCancel(t *testing.T) {
	e := newCLIEnv(t, simpleModel, "")
	epic := strings.TrimSpace(e.mustRun("add", "--kind", "epic", "parent"))
	var child *store.Ticket
	e.withStore(func(st *store.Store) error {
		var err error
		if child, err = engine.AddTicket(st, engine.NewTicket{Kind: "feature", Title: "child", Body: "b", Parent: epic}, "main"); err != nil {
			return err
		}
		_, err = st.UpdateTicket(child.ID, func(x *store.Ticket) error {
			x.Status, x.Phases[0].Accepted = store.StatusAwaiting, 1 // an attempt accepted, at its gate
			return nil
		})
		return err
	})
	e.mustRun("approve", child.ID)
	e.mustRun("cancel", epic)
	if _, errOut, code := e.run("approve", child.ID); code == 0 || !strings.Contains(errOut, "is to be cancelled by the next run, and "+child.ID+" with it") {
		t.Fatalf("approve again: %d %q", code, errOut)
	}
}

// A ticket a stopped run left running is shown as interrupted: no engine
// runs while list or show does.
func TestCLIShowsInterrupted(t *testing.T) {
	e := newCLIEnv(t, simpleModel, "")
	id := strings.TrimSpace(e.mustRun("add", "cut off"))
	e.setStatus(id, store.StatusRunning)
	if out := e.mustRun("list"); !strings.Contains(out, "interrupted") {
		t.Fatalf("list:\n%s", out)
	}
	// and so do list --json and show --json, with the decisions waiting
	e.mustRun("cancel", id)
	if out := e.mustRun("list"); !strings.Contains(out, "interrupted (cancel pending)") {
		t.Fatalf("list:\n%s", out)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(e.mustRun("list", "--json")), &list); err != nil || list[0]["interrupted"] != true || fmt.Sprint(list[0]["pending"]) != "[cancel]" {
		t.Fatalf("list --json: %v %v", err, list)
	}
	var show map[string]any
	if err := json.Unmarshal([]byte(e.mustRun("show", id, "--json")), &show); err != nil || show["interrupted"] != true || fmt.Sprint(show["pending"]) != "[cancel]" {
		t.Fatalf("show --json: %v %v", err, show)
	}
	// its phase too, paused or not (show's phase lines once said running)
	e.withStore(func(st *store.Store) error {
		_, err := st.UpdateTicket(id, func(x *store.Ticket) error { x.Paused, x.Phases[0].Status = true, store.PhaseRunning; return nil })
		return err
	})
	if out := e.mustRun("show", id); !strings.Contains(out, "\n"+fmt.Sprintf("%-10s", "discovery")+" interrupted\n") || strings.Contains(out, " running") {
		t.Fatalf("show:\n%s", out)
	}
	// and its attempt a kill cut off, which no run has marked yet
	e.withStore(func(st *store.Store) error {
		return st.PutAttempt(id, &store.Attempt{Phase: "discovery", N: 1, Model: "m", Started: time.Now()})
	})
	if out := e.mustRun("show", id); !strings.Contains(out, "#1 —") || !strings.Contains(out, " interrupted\n") {
		t.Fatalf("show:\n%s", out)
	}
	if err := json.Unmarshal([]byte(e.mustRun("show", id, "--json")), &show); err != nil {
		t.Fatal(err)
	}
	if a := show["phases"].([]any)[0].(map[string]any)["attempts"].([]any)[0].(map[string]any); a["interrupted"] != true {
		t.Fatalf("attempt %v", a)
	}
}

// A ticket a stopped run left running cannot be retried from the command
// line, and the refusal says why and what resumes it.
func TestCLIExplainsATicketLeftRunning(t *testing.T) {
	e := newCLIEnv(t, simpleModel, "")
	id := strings.TrimSpace(e.mustRun("add", "cut off"))
	e.setStatus(id, store.StatusRunning)
	_, errOut, code := e.run("retry", id)
	if code == 0 || !strings.Contains(errOut, "was running when agent-tui last stopped") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Fatalf("exit %d: %q", code, errOut)
	}
	if _, _, code := e.run("cancel", id); code != 0 {
		t.Fatal("cancel refused")
	}
}

// The API key is not in the environment /proc shows for agent-tui (root
// may read it there even from a process that is not dumpable, and so
// could a command a model runs as root), yet model calls still carry it.
func TestCLIKeyNotInProcEnviron(t *testing.T) {
	e, started := newSlowCLIEnv(t, 2*time.Second)
	e.mustRun("add", "x")
	c := e.cmd("run", "--until-idle")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { c.Process.Kill(); c.Wait() }()
	select {
	case <-started:
	case <-time.After(20 * time.Second):
		t.Fatal("no model call")
	}
	environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", c.Process.Pid))
	if err != nil {
		t.Skipf("cannot read the process's environment here: %v", err)
	}
	if strings.Contains(string(environ), secretKey) {
		t.Fatal("the key is in /proc/<pid>/environ")
	}
	if auth := e.srv.Requests()[0].Header.Get("Authorization"); auth != "Bearer "+secretKey {
		t.Fatalf("the model call's Authorization is %q", auth)
	}
}

// newSlowCLIEnv is a CLI environment whose model answers after delay; the
// channel says when the first request arrived.
func newSlowCLIEnv(t *testing.T, delay time.Duration) (*cliEnv, <-chan struct{}) {
	started := make(chan struct{}, 1)
	e := newCLIEnv(t, func(r *oaitest.Request) oaitest.Reply {
		select {
		case started <- struct{}{}:
		default:
		}
		rep := simpleModel(r)
		rep.Delay = delay
		return rep
	}, "")
	return e, started
}

// With no provider that can be called (the only one's key variable is not
// set), run refuses at once, naming it, and the tickets stay queued
// instead of each stopping for a human.
func TestCLIRunRefusesWithoutACallableProvider(t *testing.T) {
	e := newCLIEnv(t, simpleModel, "")
	id := strings.TrimSpace(e.mustRun("add", "waits for a key"))
	c := exec.Command(binPath, "--repo", e.dir, "run", "--until-idle")
	c.Env = append(os.Environ(), "AGENT_TUI_CLI_KEY=")
	out, err := c.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no provider can be called") || !strings.Contains(string(out), "AGENT_TUI_CLI_KEY is not set") || !strings.Contains(string(out), id+" would call a model") || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
		t.Fatalf("%v %q", err, out)
	}
	if out := e.mustRun("show", id); !strings.Contains(out, "status:  queued") {
		t.Fatalf("show:\n%s", out)
	}
	if n := len(e.srv.Requests()); n != 0 {
		t.Fatalf("%d model calls", n)
	}
	// as the advice says, a pause lets it run (carried out by that run)
	e.mustRun("pause", id)
	c = exec.Command(binPath, "--repo", e.dir, "run", "--until-idle")
	c.Env = append(os.Environ(), "AGENT_TUI_CLI_KEY=")
	if out, err := c.CombinedOutput(); err != nil || !strings.Contains(string(out), id+" paused") {
		t.Fatalf("after a pause: %v %q", err, out)
	}
	if n := len(e.srv.Requests()); n != 0 {
		t.Fatalf("%d model calls after the pause", n)
	}
	// and a resume recorded on a paused ticket makes it need a model again
	e.mustRun("resume", id)
	c = exec.Command(binPath, "--repo", e.dir, "run", "--until-idle")
	c.Env = append(os.Environ(), "AGENT_TUI_CLI_KEY=")
	if out, err := c.CombinedOutput(); err == nil || !strings.Contains(string(out), id+" would call a model") {
		t.Fatalf("after a resume: %v %q", err, out)
	}
	// what needs no model is still carried out: a cancel
	e.mustRun("cancel", id)
	c = exec.Command(binPath, "--repo", e.dir, "run", "--until-idle")
	c.Env = append(os.Environ(), "AGENT_TUI_CLI_KEY=")
	if out, err := c.CombinedOutput(); err != nil || !strings.Contains(string(out), "only merges, CI runs and cancels are carried out") {
		t.Fatalf("%v %q", err, out)
	}
	if out := e.mustRun("show", id); !strings.Contains(out, "status:  cancelled") {
		t.Fatalf("show:\n%s", out)
	}
}

// One provider without its key, another callable: run still refuses when
// a ticket's next step can call no model, naming the key and the ticket,
// and nothing is recorded.
func TestCLIRunRefusesWhenATicketsChainCannotBeCalled(t *testing.T) {
	srv := oaitest.New(simpleModel)
	t.Cleanup(srv.Close)
	extra := fmt.Sprintf("test_command = \"sh run_tests.sh\"\n[[provider]]\nname = \"near\"\nbase_url = %q\nlocal = true\n[[model]]\nname = \"lm\"\nprovider = \"near\"\n[phases.discovery]\nmodels = [\"m\"]\n", srv.URL)
	e := &cliEnv{t: t, srv: srv, dir: newRepo(t, map[string]string{"README.md": "# x\n", "run_tests.sh": "exit 0\n"}, srv.URL, extra)}
	id := strings.TrimSpace(e.mustRun("add", "needs the remote model"))
	c := exec.Command(binPath, "--repo", e.dir, "run", "--until-idle")
	c.Env = append(os.Environ(), "AGENT_TUI_CLI_KEY=")
	out, err := c.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no model of discovery can be called (provider p: its key variable AGENT_TUI_CLI_KEY is not set): "+id+" would only stop for you") {
		t.Fatalf("%v %q", err, out)
	}
	if out := e.mustRun("show", id); !strings.Contains(out, "status:  queued") {
		t.Fatalf("show:\n%s", out)
	}
	if n := len(srv.Requests()); n != 0 {
		t.Fatalf("%d model calls", n)
	}
	// stopped, then retried on the same chain: run still refuses (it
	// used to carry the retry out, and the ticket stopped again)
	e.setStatus(id, store.StatusNeedsHuman)
	c = exec.Command(binPath, "--repo", e.dir, "retry", id)
	c.Env = append(os.Environ(), "AGENT_TUI_CLI_KEY=")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("retry: %v %s", err, out)
	}
	c = exec.Command(binPath, "--repo", e.dir, "run", "--until-idle")
	c.Env = append(os.Environ(), "AGENT_TUI_CLI_KEY=")
	if out, err := c.CombinedOutput(); err == nil || !strings.Contains(string(out), id+" would only stop for you") {
		t.Fatalf("run with a pending retry on the same chain: %v %q", err, out)
	}
	// retried on a model that can be called: run goes on
	c = exec.Command(binPath, "--repo", e.dir, "retry", id, "--model", "lm")
	c.Env = append(os.Environ(), "AGENT_TUI_CLI_KEY=")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("retry on lm: %v %s", err, out)
	}
	c = exec.Command(binPath, "--repo", e.dir, "run", "--until-idle")
	c.Env = append(os.Environ(), "AGENT_TUI_CLI_KEY=")
	if out, err := c.CombinedOutput(); err != nil || len(srv.Requests()) == 0 {
		t.Fatalf("run after a retry on a callable model: %v %s (%d calls)", err, out, len(srv.Requests()))
	}
}

// A run killed while the validator judges an answer keeps the answer and
// what it cost: the attempt is stored before it is judged.
func TestCLIKillDuringValidationKeepsTheAnswer(t *testing.T) {
	judging := make(chan struct{}, 1)
	e := newCLIEnv(t, func(r *oaitest.Request) oaitest.Reply {
		rep := simpleModel(r)
		if strings.HasPrefix(phaseLine(r), "validator of ") {
			select {
			case judging <- struct{}{}:
			default:
			}
			rep.Delay = time.Minute
		}
		return rep
	}, "")
	id := strings.TrimSpace(e.mustRun("add", "killed while judged"))
	c := e.cmd("run", "--until-idle")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-judging:
	case <-time.After(20 * time.Second):
		c.Process.Kill()
		t.Fatal("no validator call")
	}
	c.Process.Kill()
	c.Wait()
	out := e.mustRun("show", "--json", id)
	var v engine.TicketView
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	a := v.Phases[0].Attempts
	if len(a) != 1 || !strings.Contains(a[0].Deliverable, "A document") || a[0].CostUSD <= 0 || a[0].TokensIn != 500 {
		t.Fatalf("attempt after the kill: %+v", a)
	}
}

// A very long objection or reason is cut in show, saying how to read all
// of it; show says when the validator saw only part of the document.
func TestCLIShowClipsALongObjection(t *testing.T) {
	long := strings.Repeat("é", 30000)
	v := engine.TicketView{ID: "T-9", Kind: "hotfix", Title: "t", Phases: []engine.PhaseView{{
		Name: "diagnosis", Status: "failed", Attempts: []engine.AttemptView{{N: 1, Model: "m", Verdict: &engine.VerdictView{Objections: []string{long, "short one"}}}},
	}}}
	var b strings.Builder
	v.Decisions = []store.Decision{{Kind: store.DecisionReject, Phase: "review", Reason: strings.Repeat("why ", 1000), Applied: true}}
	v.Phases[0].Attempts[0].Validator = &store.Validator{Trimmed: []string{"Deliverable of phase diagnosis: 8305 → 1267 tokens"}}
	printShow(&b, v, "needs human")
	out := b.String()
	for _, want := range []string{"… (all of it: show T-9 --json)", "      validator saw part: Deliverable of phase diagnosis: 8305 → 1267 tokens\n"} {
		if !strings.Contains(out, want) {
			t.Fatalf("show lacks %q:\n%.3000s", want, out)
		}
	}
	if len(out) > 5000 || !strings.Contains(out, "… (59000 more bytes: show T-9 --json)") || !strings.Contains(out, "      - short one\n") || !utf8.ValidString(out) {
		t.Fatalf("%d bytes:\n%.3000s", len(out), out)
	}
}

// show says when an attempt's saved answer was judged by a later run.
func TestCLIShowSaysAnswerJudgedLater(t *testing.T) {
	for after, want := range map[string]string{
		engine.JudgedAfterRestart: "      judged after a restart: agent-tui stopped while the answer was judged",
		engine.JudgedAfterRetry:   "      judged on a retry: its first judging had stopped",
	} {
		v := engine.TicketView{ID: "T-1", Kind: "hotfix", Title: "t", Phases: []engine.PhaseView{{
			Name: "diagnosis", Status: "passed", Attempts: []engine.AttemptView{{N: 1, Model: "m", JudgedAfter: after, Verdict: &engine.VerdictView{Pass: true}}},
		}}}
		var b strings.Builder
		printShow(&b, v, "done")
		if !strings.Contains(b.String(), want) {
			t.Fatalf("%s: show lacks %q:\n%s", after, want, b.String())
		}
	}
}

// What the model or a command wrote reaches `show`'s output without
// anything that acts on a terminal: no escape sequence, no C1 control, and
// bidi controls named.
func TestCLIShowPrintsNoControls(t *testing.T) {
	evil := "a\x1b]0;owned\x07b\u009b31mc\u202ed\u2028e"
	v := engine.TicketView{ID: "T-1", Kind: "hotfix", Title: evil, Reason: evil, Branch: "agent/T-1", Worktree: "/repo " + evil, BaseBranch: evil, Merged: "abc", Conflicts: []string{"f"}, Phases: []engine.PhaseView{{
		Name: "code", Status: "failed", Attempts: []engine.AttemptView{{
			N: 1, Model: "m", Error: evil,
			Verdict:   &engine.VerdictView{Objections: []string{evil}},
			Fallbacks: []store.Fallback{{Model: "m2", Provider: "p", Reason: evil}},
			Checks:    []store.Check{{Name: evil, Command: evil, Output: evil}},
		}},
	}}}
	var b strings.Builder
	printShow(&b, v, "needs human")
	out := b.String()
	for _, bad := range []string{"\x1b", "\u009b", "\x07", "\u202e", "\u2028"} {
		if strings.Contains(out, bad) {
			t.Fatalf("%q in:\n%q", bad, out)
		}
	}
	if !strings.Contains(out, "<U+202E>") {
		t.Fatalf("the bidi control is not named:\n%s", out)
	}
}

// --version says what was built; with anything else it is a usage error.
func TestCLIVersion(t *testing.T) {
	var out, errOut strings.Builder
	if err := run([]string{"--version"}, &out, &errOut); err != nil || !strings.HasPrefix(out.String(), "agent-tui ") || !strings.Contains(out.String(), "go1.") {
		t.Fatalf("%v %q", err, out.String())
	}
	if err := run([]string{"--version", "list"}, &out, &errOut); err == nil || exitCode(err) != 2 {
		t.Fatalf("--version list: %v", err)
	}
}

// Output that cannot be written (stdout on a full disk) is an error with
// one line on stderr, never a silent exit 0; add names the ticket it made.
func TestCLIFailedOutputWriteExitsNonZero(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	defer full.Close()
	e := newCLIEnv(t, simpleModel, "")
	toFull := func(args ...string) (string, int) {
		c := e.cmd(args...)
		var errb bytes.Buffer
		c.Stdout, c.Stderr = full, &errb
		err := c.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return errb.String(), c.ProcessState.ExitCode()
	}
	errOut, code := toFull("add", "into the void")
	if code == 0 || !strings.Contains(errOut, "T-1 was created") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Fatalf("add: exit %d, %q", code, errOut)
	}
	if out := e.mustRun("list"); !strings.Contains(out, "into the void") {
		t.Fatalf("the ticket was not created:\n%s", out)
	}
	for _, args := range [][]string{{"list"}, {"list", "--json"}, {"show", "T-1"}, {"show", "T-1", "--json"}, {"stats"}, {"pause", "T-1"}, {"cancel", "T-1"}, {"cancel", "T-1"}, {"help"}, {"--version"}, {"compact"}} {
		errOut, code := toFull(args...)
		if code == 0 || !strings.Contains(errOut, "stdout") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Fatalf("%v: exit %d, %q", args, code, errOut)
		}
	}
}

// An error names what the user gave (a file, a flag) or the lock holder's
// command line; whatever they hold, stderr gets one line that acts on
// nothing, with each control character shown escaped.
func TestCLIErrorIsOneEscapedLine(t *testing.T) {
	e := newCLIEnv(t, simpleModel, "")
	evil := "/no\nsuch\x1b[31mRED\u202e\u2028\xff\u009b"
	shown := `/no\nsuch\x1b[31mRED<U+202E><U+2028>\xff\u009b`
	check := func(what, errOut string, code int, want string) {
		t.Helper()
		line := strings.TrimSuffix(errOut, "\n")
		if code == 0 || strings.ContainsAny(line, "\n\r\x1b\x07\u009b\u202e\u2028") || !strings.Contains(line, want) {
			t.Fatalf("%s: exit %d, stderr %q, want one line with %q", what, code, errOut, want)
		}
	}
	for _, args := range [][]string{
		{"add", "--body-file", evil, "x"},
		{"list", "-" + evil},
		{"--repo", evil, "list"},
		{"--db", evil + "/x.db", "list"},
		{"--config", evil, "list"},
	} {
		_, errOut, code := e.run(args...)
		check(fmt.Sprint(args), errOut, code, shown)
	}

	// the database held by a process whose command line has them
	e.mustRun("add", "held")
	db := filepath.Join(e.dir, ".git", "agent-tui.db")
	if _, err := exec.LookPath("flock"); err != nil {
		t.Skip("no flock(1) to hold the database")
	}
	holder := exec.Command("flock", db, "sh", "-c", "echo locked; exec sleep 60", "\x1b]0;owned\x07\nline")
	holder.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := holder.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { syscall.Kill(-holder.Process.Pid, syscall.SIGKILL); holder.Wait() }()
	if _, err := out.Read(make([]byte, 8)); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := e.run("list")
	check("held database", errOut, code, `in use by another agent-tui process (pid `)
	if !strings.Contains(errOut, `\x1b]0;owned\x07\nline`) {
		t.Fatalf("the holder's command line is not shown escaped: %q", errOut)
	}
}

// A ticket's body and a decision's text are capped at 1 MiB (every later
// decision rewrites the record): more is refused in one line naming the
// limit, and /dev/zero as the body file ends at once.
func TestCLITextOverTheLimitIsRefused(t *testing.T) {
	e := newCLIEnv(t, simpleModel, "")
	db := filepath.Join(e.dir, ".git", "agent-tui.db")
	big := filepath.Join(t.TempDir(), "big.txt")
	if err := os.WriteFile(big, bytes.Repeat([]byte("a"), engine.MaxText+1), 0o644); err != nil {
		t.Fatal(err)
	}
	refused := func(what string, c *exec.Cmd) {
		t.Helper()
		var errb bytes.Buffer
		c.Stderr = &errb
		done := make(chan error, 1)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- c.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			c.Process.Kill()
			t.Fatalf("%s: still reading after 20s", what)
		}
		errOut := errb.String()
		if c.ProcessState.ExitCode() != 2 || !strings.Contains(errOut, "over the limit of 1 MiB") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Fatalf("%s: exit %d, %q", what, c.ProcessState.ExitCode(), errOut)
		}
	}
	refused("--body-file /dev/zero", e.cmd("add", "--body-file", "/dev/zero", "endless"))
	refused("--body-file big", e.cmd("add", "--body-file", big, "too long"))
	c := e.cmd("add", "--body-file", "-", "too long")
	c.Stdin = bytes.NewReader(bytes.Repeat([]byte("b"), 2*engine.MaxText))
	refused("--body-file - (stdin)", c)
	refused("approve --text-file big", e.cmd("approve", "T-1", "--text-file", big))
	if _, err := os.Stat(db); err == nil {
		t.Fatal("a refused text created the database")
	}
	// over the limit as arguments too (in-process: argv caps one argument
	// at 128 KiB)
	long := strings.Repeat("c", engine.MaxText+1)
	for _, args := range [][]string{
		{"add", "--body", long, "too long"},
		{"approve", "T-1", "--text", long},
		{"reject", "T-1", "--reason", long},
		{"retry", "T-1", "--guidance", long},
	} {
		var out, errOut strings.Builder
		err := run(append([]string{"--repo", e.dir}, args...), &out, &errOut)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "over the limit of 1 MiB") {
			t.Fatalf("%s: %v", args[0], err)
		}
	}
	// the limit itself is accepted
	exact := filepath.Join(t.TempDir(), "exact.txt")
	if err := os.WriteFile(exact, bytes.Repeat([]byte("d"), engine.MaxText), 0o644); err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(e.mustRun("add", "--body-file", exact, "at the limit"))
	if body, _ := e.show(id)["body"].(string); len(body) != engine.MaxText {
		t.Fatalf("body of %d bytes stored, want %d", len(body), engine.MaxText)
	}
}

// A binary file given as the approved text is bad input like any other:
// exit 2, not 1, and nothing recorded.
func TestCLIBinaryDecisionTextIsBadInput(t *testing.T) {
	e := newCLIEnv(t, simpleModel, "")
	id := strings.TrimSpace(e.mustRun("add", "awaiting"))
	e.setStatus(id, store.StatusAwaiting)
	binary := filepath.Join(t.TempDir(), "blob.bin")
	if err := os.WriteFile(binary, []byte{0x7f, 'E', 'L', 'F', 0, 0xff, 0xfe}, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"approve", id, "--text-file", binary},
		{"approve", id, "--text", "bad \xff text"},
		{"reject", id, "--reason", "bad \xff reason"},
		{"retry", id, "--guidance", "bad \xff guidance"},
	} {
		_, errOut, code := e.run(args...)
		if code != 2 || !strings.Contains(errOut, "holds invalid UTF-8 or NUL bytes: give text") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Fatalf("%v: exit %d, %q", args, code, errOut)
		}
	}
	if out := e.mustRun("show", id); strings.Contains(out, "decisions") {
		t.Fatalf("a refused decision was recorded:\n%s", out)
	}
}

// A flag given with an empty value (a script's unset variable) is refused,
// never taken as "not given": that would mean another database, the
// current directory, or a ticket without the body meant for it.
func TestCLIEmptyFlagValueIsRefused(t *testing.T) {
	e := newCLIEnv(t, simpleModel, "")
	db := filepath.Join(e.dir, ".git", "agent-tui.db")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"add", "--body-file", "", "T"}, "add: --body-file is empty"},
		{[]string{"add", "--body", "", "--body-file", "/etc/hostname", "T"}, "add: --body is empty"},
		{[]string{"add", "--body", " ", "--body-file", "/etc/hostname", "T"}, "not both"},
		{[]string{"add", "--body", "", "T"}, "add: --body is empty"},
		{[]string{"add", "--kind", "", "T"}, "add: --kind is empty"},
		{[]string{"--db", "", "add", "T"}, "--db is empty"},
		{[]string{"--config", "", "add", "T"}, "--config is empty"},
		{[]string{"add", "--db", "", "T"}, "add: --db is empty"},
		{[]string{"list", "--config", ""}, "list: --config is empty"},
		{[]string{"reject", "T-1", "--reason", ""}, "reject: --reason is empty"},
	}
	for _, c := range cases {
		_, errOut, code := e.run(c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Fatalf("%q: exit %d, stderr %q, want one line with %q", c.args, code, errOut, c.want)
		}
	}
	// --repo "" from inside the repository would have meant it
	for _, args := range [][]string{{"--repo", "", "add", "T"}, {"add", "--repo", "", "T"}} {
		c := exec.Command(binPath, args...)
		c.Dir = e.dir
		c.Env = append(os.Environ(), "AGENT_TUI_CLI_KEY="+secretKey)
		out, err := c.CombinedOutput()
		if c.ProcessState.ExitCode() != 2 || !strings.Contains(string(out), "--repo is empty") {
			t.Fatalf("%q: %v %q", args, err, out)
		}
	}
	if _, err := os.Stat(db); err == nil {
		t.Fatal("an empty flag value created the database")
	}
}

// A title is one visible line of text: bytes that are not UTF-8 are
// refused (as in a body), and so are a line or paragraph separator and a
// title of invisible characters alone; one stored before these checks is
// listed and shown with the separator named.
func TestCLITitleMustBeOneVisibleLine(t *testing.T) {
	e := newCLIEnv(t, simpleModel, "")
	db := filepath.Join(e.dir, ".git", "agent-tui.db")
	cases := []struct{ title, want string }{
		{"bad \xff title", "not UTF-8 text"},
		{"\u200b", "nothing visible"},
		{"\u202e", "nothing visible"},
		{" \u3164\u200b\u0301 ", "nothing visible"},
		{"one\u2028two", "line separator (U+2028)"},
		{"one\u2029two", "line separator (U+2029)"},
	}
	for _, c := range cases {
		_, errOut, code := e.run("add", c.title)
		if code != 2 || !strings.Contains(errOut, c.want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Fatalf("%q: exit %d, stderr %q, want one line with %q", c.title, code, errOut, c.want)
		}
	}
	if _, err := os.Stat(db); err == nil {
		t.Fatal("a refused title created the database")
	}
	if id := strings.TrimSpace(e.mustRun("add", "Ünïcödé 日本語 ok")); id != "T-1" {
		t.Fatalf("id %q", id)
	}
	e.withStore(func(st *store.Store) error {
		// stored before titles were checked for separators
		tk := &store.Ticket{Kind: "feature", Title: "old\u2028record", Status: store.StatusQueued, BaseBranch: "main", Phase: "discovery"}
		for _, p := range engine.Route("feature") {
			tk.Phases = append(tk.Phases, store.PhaseState{Name: p, Status: store.PhasePending})
		}
		return st.CreateTicket(tk)
	})
	for _, args := range [][]string{{"list"}, {"show", "T-2"}} {
		if out := e.mustRun(args...); strings.ContainsAny(out, "\u2028\u2029") || !strings.Contains(out, "old<U+2028>record") {
			t.Fatalf("%v:\n%q", args, out)
		}
	}
}

// Once a cancel of a ticket a stopped run left running is recorded, a
// decision refused on it says the cancel is coming, not that one "works
// now".
func TestCLIDecisionAfterCancelOfAnInterruptedTicket(t *testing.T) {
	e := newCLIEnv(t, simpleModel, "")
	id := strings.TrimSpace(e.mustRun("add", "cut off"))
	e.setStatus(id, store.StatusRunning)
	e.mustRun("cancel", id)
	// and a paused one: the next run cancels it paused or not
	paused := strings.TrimSpace(e.mustRun("add", "paused"))
	e.withStore(func(st *store.Store) error {
		_, err := st.UpdateTicket(paused, func(x *store.Ticket) error { x.Paused = true; return nil })
		return err
	})
	e.mustRun("cancel", paused)
	for _, args := range [][]string{{"retry", id}, {"approve", id}, {"reject", id, "--reason", "no"}, {"retry", paused}} {
		_, errOut, code := e.run(args...)
		if code == 0 || !strings.Contains(errOut, "to be cancelled by the next run") || strings.Contains(errOut, "cancel works now") || strings.Contains(errOut, "resume") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Fatalf("%v: exit %d, %q", args, code, errOut)
		}
	}
}

// list counts what a cut-off attempt cost so far in its ticket's cost, as
// show does and the next run will: the two agree between a crash and it.
func TestListCountsTheCutOffAttempt(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	mk := func(ended bool, status string) *store.Ticket {
		tk, err := engine.AddTicket(st, engine.NewTicket{Kind: "feature", Title: "cut"}, "main")
		if err != nil {
			t.Fatal(err)
		}
		tk.Status, tk.CostUSD = status, 1
		a := &store.Attempt{Phase: "discovery", N: 1, Started: time.Now(), CostUSD: 0.25, Counted: 0.05}
		if ended {
			a.Ended = time.Now()
		}
		if err := st.Update(func(tx *store.Tx) error {
			if err := tx.PutAttempt(tk.ID, a); err != nil {
				return err
			}
			return tx.PutTicket(tk)
		}); err != nil {
			t.Fatal(err)
		}
		return tk
	}
	// (a run whose write failed, a full disk, stops the ticket for a
	// person with its attempt never ended: that one counts too)
	cut, ended, stopped := mk(false, store.StatusRunning), mk(true, store.StatusRunning), mk(false, store.StatusNeedsHuman)
	tickets, err := st.Tickets()
	if err != nil {
		t.Fatal(err)
	}
	if err := addCutOffCost(st, tickets); err != nil {
		t.Fatal(err)
	}
	for _, tk := range tickets {
		want := 1.0
		if tk.ID == cut.ID || tk.ID == stopped.ID {
			want = 1.2
		}
		if math.Abs(tk.CostUSD-want) > 1e-9 {
			t.Errorf("%s (ended %v): cost %v, want %v", tk.ID, tk.ID == ended.ID, tk.CostUSD, want)
		}
	}
}

// show, list and stats close the database before they write: output read
// slowly (a pager) does not keep other commands out of it.
func TestCLIReadersCloseBeforeWriting(t *testing.T) {
	e := newCLIEnv(t, simpleModel, "")
	body := filepath.Join(t.TempDir(), "body")
	os.WriteFile(body, bytes.Repeat([]byte("a long body line of the ticket\n"), 20000), 0o644) // ~600 KB, past a pipe's buffer
	id := strings.TrimSpace(e.mustRun("add", "--body-file", body, "big"))
	for _, args := range [][]string{{"show", id, "--json"}} {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		c := e.cmd(args...)
		c.Stdout = w
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		w.Close()
		time.Sleep(300 * time.Millisecond) // blocked writing, nobody reading yet
		_, errOut, code := e.run("pause", id)
		io.Copy(io.Discard, r)
		c.Wait()
		r.Close()
		if code != 0 {
			t.Fatalf("pause while %v's output waits to be read: exit %d, %q", args, code, errOut)
		}
		e.mustRun("resume", id)
	}
}

// run's closing lines put the tickets that need a person first: ten
// routine approvals must not hide the one that failed.
func TestSayWaitingPutsTroubleFirst(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "db"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := 0; i < 12; i++ {
		tk, err := engine.AddTicket(st, engine.NewTicket{Kind: "hotfix", Title: fmt.Sprint("t", i)}, "main")
		if err != nil {
			t.Fatal(err)
		}
		tk.Status, tk.Phase = store.StatusAwaiting, "review"
		if i == 11 {
			tk.Status, tk.Reason = store.StatusNeedsHuman, "code failed 3 attempts"
		}
		if err := st.PutTicket(tk); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	sayWaiting(st, &out, time.Time{})
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 11 || lines[0] != "agent-tui: T-12 needs human: code failed 3 attempts" || !strings.Contains(lines[10], "and 2 more waiting for you (of 12: 1 need a person, 11 awaiting approval; agent-tui list)") {
		t.Fatalf("closing lines:\n%s", out.String())
	}

	// what came to wait during this run goes before what waited already,
	// an approval too: eleven old troubles must not hide it
	for i := 0; i < 10; i++ {
		if _, err := st.UpdateTicket(fmt.Sprintf("T-%d", i+1), func(x *store.Ticket) error {
			x.Status, x.Reason = store.StatusNeedsHuman, "old trouble"
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(10 * time.Millisecond)
	began := time.Now()
	if _, err := st.UpdateTicket("T-11", func(x *store.Ticket) error { return nil }); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	sayWaiting(st, &out, began)
	lines = strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 11 || lines[0] != "agent-tui: T-11 awaiting approval at review" || !strings.Contains(lines[10], "and 2 more waiting for you (of 12: 11 need a person, 1 awaiting approval; agent-tui list)") {
		t.Fatalf("closing lines:\n%s", out.String())
	}
}

// A CI phase that cifix made pass says so above its own failed run.
func TestShowSaysCIPassedByCifix(t *testing.T) {
	fail := &engine.VerdictView{Pass: false, Objections: []string{}}
	v := engine.TicketView{ID: "T-1", Phases: []engine.PhaseView{
		{Name: "ci", Status: store.PhasePassed, Attempts: []engine.AttemptView{{N: 1, Verdict: fail}}},
		{Name: "cifix", Status: store.PhasePassed, Attempts: []engine.AttemptView{{N: 1, Model: "m", Verdict: &engine.VerdictView{Pass: true}}}},
	}}
	var out bytes.Buffer
	printShow(&out, v, "done")
	if !strings.Contains(out.String(), "\nci         passed (by cifix)\n") {
		t.Fatalf("show:\n%s", out.String())
	}
}

// JSON output holds dollars without float noise, and leaves numbers in
// strings as they are.
func TestJSONFloatsAreRounded(t *testing.T) {
	var out bytes.Buffer
	v := map[string]any{"cost_usd": 0.0124 + 0.0124, "total": 0.1 + 0.2, "n": 12345678901234, "text": "0.30000000000000004", "list": []float64{0.3333333333333333, 2.5}}
	if err := writeJSON(&out, v); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{`"cost_usd": 0.0248,`, "\"total\": 0.3\n", `"n": 12345678901234,`, `"text": "0.30000000000000004"`, "0.333333333333,", "2.5"} {
		if !strings.Contains(s, want) {
			t.Fatalf("no %s in\n%s", want, s)
		}
	}
}

// A base_branch set in the config that names no branch is the config's
// mistake: the error names the file and the key, not "commit something".
func TestCLIBaseBranchThatDoesNotExist(t *testing.T) {
	e := newCLIEnvTop(t, "test_command = \"sh run_tests.sh\"\nbase_branch = \"nope\"\n")
	_, errOut, code := e.run("add", "x")
	want := filepath.Join(e.dir, ".agent-tui.toml") + `:2: key "base_branch": no branch "nope" in this repository`
	if code == 0 || !strings.Contains(errOut, want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Fatalf("exit %d: %q", code, errOut)
	}
}

// An idle run's summary says what an approval lets through: a gate
// reached over max_cost_usd names the crossing.
func TestCLIGateOverMaxCostSaysSo(t *testing.T) {
	e := newCLIEnvTop(t, "test_command = \"sh run_tests.sh\"\napprove = [\"diagnosis\"]\nmax_cost_usd = 0.0005\n")
	id := strings.TrimSpace(e.mustRun("add", "--kind", "hotfix", "pricey"))
	_, errOut, code := e.run("run", "--until-idle")
	if code != 0 || !strings.Contains(errOut, id+" awaiting approval at diagnosis: spent $") || !strings.Contains(errOut, "over max_cost_usd $0.0005: approving lets it go on") {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
}

// A stop the engine made is kept in the ticket's history: a merge blocked
// by a dirty checkout, approved again once clean, still shows in show and
// show --json after the ticket is done.
func TestCLIShowKeepsStops(t *testing.T) {
	e := &cliEnv{t: t, srv: oaitest.New(oaitest.Developer)}
	t.Cleanup(e.srv.Close)
	e.dir = newRepo(t, oaitest.ShellProject, e.srv.URL, "test_command = \"sh run_tests.sh\"\napprove = []\n")
	id := strings.TrimSpace(e.mustRun("add", "--kind", "hotfix", "blocked once"))
	readme := filepath.Join(e.dir, "README.md")
	if err := os.WriteFile(readme, []byte("# demo project\nlocal edit\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.mustRun("run", "--until-idle")
	if st := e.show(id)["status"]; st != "needs_human" {
		t.Fatalf("status %v, want the merge blocked", st)
	}
	if err := os.WriteFile(readme, []byte("# demo project\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.mustRun("approve", id)
	e.mustRun("run", "--until-idle")
	v := e.show(id)
	stops, _ := v["stops"].([]any)
	if v["status"] != "done" || len(stops) != 1 {
		t.Fatalf("status %v, stops %v", v["status"], v["stops"])
	}
	if s := stops[0].(map[string]any); s["phase"] != "merge" || s["status"] != "needs_human" || !strings.Contains(s["reason"].(string), "uncommitted changes in README.md") {
		t.Fatalf("stop %v", s)
	}
	if out := e.mustRun("show", id); !strings.Contains(out, "\nstops\n") || !strings.Contains(out, "needs human at merge: merge blocked: your checkout has uncommitted changes in README.md") {
		t.Fatalf("show:\n%s", out)
	}
}

// A config file without providers and models, where there are none to take
// (no user config, no OPENAI_API_KEY), is like no file and no key: list
// and add work, run refuses in one line naming the file.
func TestCLIConfigWithoutModels(t *testing.T) {
	e := newCLIEnv(t, simpleModel, "")
	if err := os.WriteFile(filepath.Join(e.dir, ".agent-tui.toml"), []byte("test_command = \"sh run_tests.sh\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, string, int) {
		c := e.cmd(args...)
		c.Env = append(slices.DeleteFunc(c.Env, func(kv string) bool {
			return strings.HasPrefix(kv, "OPENAI_API_KEY=") || strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "XDG_CONFIG_HOME=")
		}), "HOME="+t.TempDir())
		return e.runCmd(c)
	}
	if out, errOut, code := run("add", "still added"); code != 0 || strings.TrimSpace(out) != "T-1" {
		t.Fatalf("add: %d %q %q", code, out, errOut)
	}
	if out, errOut, code := run("list"); code != 0 || !strings.Contains(out, "still added") {
		t.Fatalf("list: %d %q %q", code, out, errOut)
	}
	if _, errOut, code := run("run", "--until-idle"); code == 0 || !strings.Contains(errOut, ".agent-tui.toml: no [[provider]] or [[model]] declared") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Fatalf("run: %d %q", code, errOut)
	}
}

// stats' columns line up on a terminal when a model's name has wide
// characters (tabwriter counts a CJK character as one cell, not two).
func TestStatsColumnsAlignByCells(t *testing.T) {
	var b bytes.Buffer
	if err := writeTables(&b, [][]string{{"PHASE", "MODEL", "SPEND"}, {"code", "größer-模型", "$1.0000"}, {"review", "m", "$2.0000"}}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	col := -1
	for _, l := range lines {
		i := strings.Index(l, "$")
		if i < 0 {
			i = strings.Index(l, "SPEND")
		}
		if c := ansi.StringWidth(l[:i]); col >= 0 && c != col {
			t.Fatalf("the last column starts at %d and %d cells:\n%s", col, c, b.String())
		} else {
			col = c
		}
	}
}

// A store that takes no writes (its disk full) cannot record that a ticket
// stopped: run --until-idle must not end as if it had (exit 0, the ticket
// "waiting for you" nowhere but in memory). Once there is room again the
// next run goes on.
func TestCLIRunWithAFullDiskSaysSo(t *testing.T) {
	for _, midRun := range []bool{false, true} {
		t.Run(fmt.Sprintf("mid-run=%v", midRun), func(t *testing.T) {
			small := t.TempDir()
			if err := syscall.Mount("tmpfs", small, "tmpfs", 0, "size=256k"); err != nil {
				t.Skipf("no tmpfs to fill (%v)", err)
			}
			t.Cleanup(func() { syscall.Unmount(small, syscall.MNT_DETACH) })
			filler := filepath.Join(small, "filler")
			fill := func() {
				f, err := os.Create(filler)
				if err != nil {
					t.Error(err)
					return
				}
				for {
					if _, err := f.Write(make([]byte, 4096)); err != nil {
						break
					}
				}
				f.Close()
			}
			var filled sync.Once
			e := &cliEnv{t: t, srv: oaitest.New(func(r *oaitest.Request) oaitest.Reply {
				if midRun && phaseLine(r) == "code" {
					filled.Do(fill) // the disk fills while the run goes on
				}
				return oaitest.Developer(r)
			})}
			t.Cleanup(e.srv.Close)
			e.dir = newRepo(t, oaitest.ShellProject, e.srv.URL, "test_command = \"sh run_tests.sh\"\napprove = []\n")
			db := filepath.Join(small, "agent-tui.db")
			e.mustRun("--db", db, "add", "--kind", "hotfix", "on a full disk")
			if !midRun {
				fill()
			}
			_, errOut, code := e.run("--db", db, "run", "--until-idle")
			if code == 0 || !strings.Contains(errOut, "no space left on device") {
				t.Fatalf("run on a full disk: exit %d\n%s", code, errOut)
			}
			// the disk's trouble, not the ticket's: nothing for a person
			if out := e.mustRun("--db", db, "list"); strings.Contains(out, "needs human") {
				t.Fatalf("list after the full disk:\n%s", out)
			}
			os.Remove(filler)
			_, errOut, code = e.run("--db", db, "run", "--until-idle")
			if code != 0 {
				t.Fatalf("run after room was made: exit %d\n%s", code, errOut)
			}
			if out := e.mustRun("--db", db, "show", "T-1"); !strings.Contains(out, "status:  done") {
				t.Fatalf("show:\n%s\nsecond run:\n%s", out, errOut)
			}
		})
	}
}

// show names what an attempt's own input lost to its budget, as the TUI
// and show --json do.
func TestCLIShowSaysWhatWasTrimmed(t *testing.T) {
	e := newCLIEnv(t, simpleModel, "\n[phases.discovery]\ncontext_tokens = 3000\n")
	id := strings.TrimSpace(e.mustRun("add", "--body", strings.Repeat("the ticket says a lot\n", 2000), "a long ticket"))
	e.run("run", "--until-idle")
	if out := e.mustRun("show", id); !regexp.MustCompile(`\n      trimmed: [^\n]*Ticket: \d+ → \d+ tokens`).MatchString(out) {
		t.Fatalf("show:\n%s", out)
	}
}

// retry takes several tickets at once (a full disk stops many alike); each
// refusal is said, and the exit code says some were refused.
func TestCLIRetrySeveral(t *testing.T) {
	e := newCLIEnv(t, simpleModel, "\n[phases.diagnosis]\nmax_attempts = 1\n[phases.tests]\nmax_attempts = 1\n")
	e.mustRun("add", "--kind", "hotfix", "one")
	e.mustRun("add", "--kind", "hotfix", "two")
	e.run("run", "--until-idle")
	out, errOut, code := e.run("retry", "T-1", "T-2", "T-9", "t-1", "--guidance", "try harder")
	// (each line names its ticket once: "T-9: unknown ticket T-9" did twice)
	if code == 0 || !strings.Contains(errOut, "agent-tui: unknown ticket T-9\n") || !strings.Contains(errOut, "1 of 3 tickets not retried\n") || strings.Count(errOut, "\n") != 2 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, id := range []string{"T-1", "T-2"} {
		ds, _ := e.show(id)["decisions"].([]any)
		if len(ds) != 1 || ds[0].(map[string]any)["guidance"] != "try harder" {
			t.Fatalf("%s decisions: %v", id, ds)
		}
	}
}

// A paused ticket approved meanwhile says so in list and show: it goes on
// (its merge, say) once resumed.
func TestCLIPausedApprovedSaysSo(t *testing.T) {
	e := &cliEnv{t: t, srv: oaitest.New(oaitest.Developer)}
	t.Cleanup(e.srv.Close)
	e.dir = newRepo(t, oaitest.ShellProject, e.srv.URL, "test_command = \"sh run_tests.sh\"\napprove = [\"review\"]\n")
	e.mustRun("add", "--kind", "hotfix", "held")
	e.mustRun("run", "--until-idle")
	e.mustRun("pause", "T-1")
	e.mustRun("approve", "T-1")
	e.mustRun("run", "--until-idle")
	if out := e.mustRun("list"); !strings.Contains(out, "paused (approved at review: goes on once resumed)") {
		t.Fatalf("list:\n%s", out)
	}
	e.mustRun("resume", "T-1")
	e.mustRun("run", "--until-idle")
	if v := e.show("T-1"); v["status"] != "done" {
		t.Fatalf("after resume: %v", v["status"])
	}
}

// What a script meets deciding on several tickets: a malformed id among
// several retries none; a cancel of a cancelled ticket is already so (as
// a pending one is); a resume with a cancel pending is refused; and list
// says an approve pending behind a pause, as show --json does.
func TestCLIDecisionsAsAScriptMeetsThem(t *testing.T) {
	e := newCLIEnv(t, simpleModel, "")
	a := strings.TrimSpace(e.mustRun("add", "one"))
	b := strings.TrimSpace(e.mustRun("add", "two"))
	e.setStatus(a, store.StatusNeedsHuman)
	if _, errOut, code := e.run("retry", a, "bogus"); code != 2 || !strings.Contains(errOut, "nothing was retried") {
		t.Fatalf("retry with a bad id: exit %d %q", code, errOut)
	}
	if out := e.mustRun("show", "--json", a); strings.Contains(out, `"retry"`) {
		t.Fatalf("a retry was recorded:\n%s", out)
	}

	e.setStatus(b, store.StatusCancelled)
	if out, errOut, code := e.run("cancel", b); code != 0 || !strings.Contains(out, b+": already cancelled") {
		t.Fatalf("cancel of a cancelled ticket: exit %d %q %q", code, out, errOut)
	}

	e.mustRun("pause", a)
	e.mustRun("cancel", a)
	if _, errOut, code := e.run("resume", a); code != 1 || !strings.Contains(errOut, "to be cancelled by the next run: nothing to resume") {
		t.Fatalf("resume with a cancel pending: exit %d %q", code, errOut)
	}
	// a pause after the cancel is refused alike: no resume could undo it
	d := strings.TrimSpace(e.mustRun("add", "four"))
	e.mustRun("cancel", d)
	if _, errOut, code := e.run("pause", d); code != 1 || !strings.Contains(errOut, "to be cancelled by the next run: nothing to pause") {
		t.Fatalf("pause with a cancel pending: exit %d %q", code, errOut)
	}

	c := strings.TrimSpace(e.mustRun("add", "three"))
	e.setStatus(c, store.StatusAwaiting)
	e.withStore(func(st *store.Store) error {
		_, err := st.UpdateTicket(c, func(x *store.Ticket) error { x.Paused = true; return nil })
		return err
	})
	e.mustRun("approve", c, "--text", "the spec, written by hand")
	e.mustRun("resume", c)
	list := e.mustRun("list")
	if !strings.Contains(list, "awaiting approval (paused, resume pending) (approve with edits pending)") {
		t.Fatalf("list:\n%s", list)
	}
}

// A base URL refused from the environment does not print a password in
// it, nor a key pasted into it.
func TestCLIBadBaseURLKeepsSecrets(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("git", "init", "-q", dir).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for value, want := range map[string]string{
		"ftp://user:supersecretpw@host/v1":     `"ftp://user:xxxxx@host/v1"`,
		"sk-live-abcdefghijklmnopqrstuvwxyz12": "(36 characters, not shown: it may be a key)",
	} {
		c := exec.Command(binPath, "--repo", dir, "run", "--until-idle")
		c.Env = append(os.Environ(), "OPENAI_API_KEY=sk-x", "OPENAI_BASE_URL="+value, "XDG_CONFIG_HOME="+t.TempDir())
		out, _ := c.CombinedOutput()
		if !strings.Contains(string(out), want) || strings.Contains(string(out), "supersecretpw") || strings.Contains(string(out), "abcdefghijklmnop") {
			t.Errorf("OPENAI_BASE_URL=%s: %s", value, out)
		}
	}
}

// `CMD -h` prints that command's usage, not the whole list.
func TestCommandHelpIsItsOwn(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run([]string{"add", "-h"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.HasPrefix(s, "usage: agent-tui [--repo DIR] [--config FILE] [--db FILE] add [--kind") || !strings.Contains(s, "make one title") || strings.Contains(s, "compact") {
		t.Fatalf("add -h:\n%s", s)
	}
	if s := commandUsage("resume"); !strings.Contains(s, "pause ID | resume ID") || strings.Contains(s, "reject") {
		t.Fatalf("resume:\n%s", s)
	}
	if commandUsage("nosuch") != usageText {
		t.Fatal("an unknown command's help is not the whole usage")
	}
}

// A database removed while a run writes to it is said at the end of the
// run: the next start would find no tickets and no word why.
func TestCLIRunSaysItsDatabaseWentAway(t *testing.T) {
	var db atomic.Pointer[string] // set once the repository is made
	var once sync.Once
	e := newCLIEnv(t, func(r *oaitest.Request) oaitest.Reply {
		once.Do(func() { os.Remove(*db.Load()) })
		return simpleModel(r)
	}, "")
	path := filepath.Join(e.dir, ".git", "agent-tui.db")
	db.Store(&path)
	e.mustRun("add", "gone")
	_, errOut, code := e.run("run", "--until-idle")
	if code != 0 || !strings.Contains(errOut, "was removed or replaced while this run used it") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, errOut, _ := e.run("list"); strings.Contains(errOut, "removed") {
		t.Fatalf("list: %s", errOut)
	}
}

// A signal while a merge's hook runs waits for the merge (it is never cut
// off half way) and says that nothing was cut off.
func TestCLIStoppedDuringAMergeSaysNothingWasCutOff(t *testing.T) {
	e := &cliEnv{t: t, srv: oaitest.New(oaitest.Developer)}
	t.Cleanup(e.srv.Close)
	e.dir = newRepo(t, oaitest.ShellProject, e.srv.URL, "test_command = \"sh run_tests.sh\"\napprove = []\n")
	marker := filepath.Join(t.TempDir(), "merging")
	hook := filepath.Join(e.dir, ".git", "hooks", "post-merge")
	if err := os.WriteFile(hook, []byte("#!/bin/sh\ntouch "+marker+"\nsleep 2\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(e.mustRun("add", "--kind", "hotfix", "merged while stopping"))
	started := make(chan struct{})
	go func() {
		defer close(started)
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if _, err := os.Stat(marker); err == nil {
				return
			}
		}
	}()
	code, out := stopRunUntilIdle(t, e, started, syscall.SIGTERM)
	if v := e.show(id); v["status"] != "done" {
		t.Fatalf("status %v after the stop (exit %d: %s)", v["status"], code, out)
	}
	if code != 143 || !strings.Contains(out, "no step was cut off: the next start goes on from here") {
		t.Fatalf("exit %d: %s", code, out)
	}
}

// A cheap call is not printed as having cost nothing.
func TestUSDSaysTinyAmounts(t *testing.T) {
	for v, want := range map[float64]string{0: "$0.0000", 0.000011: "<$0.0001", 0.00005: "$0.0001", 0.0266: "$0.0266", 12.5: "$12.5000"} {
		if got := usd(v); got != want {
			t.Errorf("usd(%v) = %q, want %q", v, got, want)
		}
	}
}

// Lines of an objection are lines in show, not replacement characters;
// what could act on a terminal still cannot.
func TestPrintableLines(t *testing.T) {
	got := printableLines("multi\nline\r\nobjection\twith tab\x1b[2J", "\n  ")
	if want := "multi\n  line\n  objection    with tab"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	if got := printableLines("echo first\nsh run.sh", " ⏎ "); got != "echo first ⏎ sh run.sh" {
		t.Fatalf("%q", got)
	}
}

// Escape sequences in what show prints go whole, not as litter.
func TestPrintableDropsWholeSequences(t *testing.T) {
	got := printable("a\x1b]0;PWNED-TITLE\x07b \x1b[31mRED\x1b[0m c\x9b2Jd")
	if strings.Contains(got, "PWNED") || strings.Contains(got, "[31m") || !strings.Contains(got, "RED") || strings.Contains(got, "\x1b") || strings.Contains(got, "2J") {
		t.Fatalf("%q", got)
	}
}

// A decision on a finished demo's repository says no run carries it out
// there (run refuses that repository), not that the next run will.
func TestCLIDecisionOnAFinishedDemoSaysSo(t *testing.T) {
	e := newCLIEnv(t, simpleModel, "")
	id := strings.TrimSpace(e.mustRun("add", "one"))
	if out := e.mustRun("pause", id); !strings.Contains(out, "the engine carries it out on its next run") {
		t.Fatalf("pause: %q", out)
	}
	path := filepath.Join(e.dir, ".agent-tui.toml")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, bytes.Replace(data, []byte("[[provider]]\n"), []byte("[[provider]]\nsimulated = true\n"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := e.run("run", "--until-idle"); code == 0 || !strings.Contains(errOut, "agent-tui --demo") {
		t.Fatalf("run on a finished demo: exit %d %q", code, errOut)
	}
	if out, errOut, code := e.run("add", "two"); code != 0 || strings.TrimSpace(out) != "T-2" || !strings.Contains(errOut, "finished demo") {
		t.Fatalf("add on a finished demo: exit %d %q %q", code, out, errOut)
	}
	for range 2 { // recorded, then already so
		out := e.mustRun("cancel", id)
		if strings.Contains(out, "next run") || !strings.Contains(out, "finished demo") {
			t.Fatalf("cancel on a finished demo: %q", out)
		}
	}
}

// add refuses a database that list cannot read: the ticket would never be
// listed (tester: add said T-2 and exited 0 where list failed on a damaged
// page of an attempt).
func TestCLIAddRefusesWhereListFails(t *testing.T) {
	e := newCLIEnv(t, simpleModel, "")
	e.mustRun("add", "one")
	e.withStore(func(st *store.Store) error {
		if _, err := st.UpdateTicket("T-1", func(x *store.Ticket) error { x.Status = store.StatusRunning; return nil }); err != nil {
			return err
		}
		for i := 0; i < 8; i++ {
			if err := st.PutAttempt("T-1", &store.Attempt{Phase: "discovery", N: i + 1, Stream: strings.Repeat("streamed text ", 200)}); err != nil {
				return err
			}
		}
		return nil
	})
	db := filepath.Join(e.dir, ".git", "agent-tui.db")
	good, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	listFails := 0
	for p := 2; p*page < len(good); p++ {
		data := append([]byte(nil), good...)
		copy(data[p*page:(p+1)*page], bytes.Repeat([]byte{0xff}, page))
		if err := os.WriteFile(db, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, code := e.run("list"); code == 0 {
			continue
		}
		listFails++
		if out, errOut, code := e.run("add", "two"); code == 0 || out != "" || !strings.Contains(errOut, "may be damaged") && !strings.Contains(errOut, "corrupt record") {
			t.Errorf("page %d: list fails, yet add: exit %d %q %q", p, code, out, errOut)
		}
	}
	if listFails == 0 {
		t.Fatal("no damaged page made list fail")
	}
}
