package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/charmbracelet/x/ansi"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"agent-tui/engine"
	"agent-tui/engine/config"
	"agent-tui/engine/llm"
	"agent-tui/engine/tools"
	"agent-tui/engine/workspace"
	"agent-tui/prompts"
	"agent-tui/store"
)

// usageError is bad input: exit code 2.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// stoppedError: `run --until-idle` stopped by a signal before idle; the
// exit code is the shell's for that signal, so a script knows.
type stoppedError struct {
	sig syscall.Signal
	cut int // tickets whose step was cut off (still running in the store)
}

func (e stoppedError) Error() string {
	if e.cut == 0 {
		return fmt.Sprintf("stopped by %s before every ticket was idle; no step was cut off: the next start goes on from here", signalName(e.sig))
	}
	if e.cut == 1 {
		return fmt.Sprintf("stopped by %s before every ticket was idle; 1 ticket's step was cut off and runs again on the next start", signalName(e.sig))
	}
	return fmt.Sprintf("stopped by %s before every ticket was idle; %d tickets' steps were cut off and run again on the next start", signalName(e.sig), e.cut)
}

func signalName(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return "SIGTERM"
}

func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	var s stoppedError
	if errors.As(err, &s) {
		return 128 + int(s.sig)
	}
	return 1
}

const usageText = `usage: agent-tui [--repo DIR] [--config FILE] [--db FILE] [command]

  (no command)        open the TUI in this repository
  --demo              open the TUI on a throwaway demo repository with the simulated model
  --version           the version and the commit it was built from
  add [--kind feature|hotfix|epic] [--sensitive] [--body TEXT | --body-file FILE|-] TITLE
                      (words after the flags make one title: put flags first, or quote the title)
  run [--until-idle]  run the engine without a UI
  list [--json]
  show ID [--json]
  approve ID [--text TEXT | --text-file FILE|-]   (with text: approve your own deliverable)
  reject ID --reason TEXT
  retry ID... [--guidance TEXT] [--model NAME]
  cancel ID
  pause ID | resume ID  (a paused ticket moves only once resumed)
  stats [--json]
  compact             rewrite the database file without its free pages
`

// globals are the flags every command takes.
type globals struct {
	repo, config, db string
	demo             bool
}

func (g *globals) register(fs *flag.FlagSet) {
	// defaults are the current values: flags given before the command stay
	if g.repo == "" {
		g.repo = "."
	}
	fs.StringVar(&g.repo, "repo", g.repo, "repository `DIR`")
	fs.StringVar(&g.config, "config", g.config, "config `FILE` (default .agent-tui.toml, then the user config)")
	fs.StringVar(&g.db, "db", g.db, "database `FILE` (default inside the repository's git directory)")
}

func newFlagSet(name string, g *globals, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	g.register(fs)
	return fs
}

// parse parses flags and positional args in any order.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, errHelp
			}
			return nil, usagef("%s: %s (see agent-tui %s -h)", fs.Name(), doubleDash(err), fs.Name())
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, emptyGiven(fs, fs.Name()+": ")
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), emptyGiven(fs, fs.Name()+": ")
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// emptyGiven refuses a string flag given with an empty value: a script's
// unset variable, which must not quietly mean the default (another
// database, the current directory, no body).
func emptyGiven(fs *flag.FlagSet, prefix string) error {
	var err error
	fs.Visit(func(f *flag.Flag) {
		if g, ok := f.Value.(flag.Getter); ok && err == nil {
			if v, ok := g.Get().(string); ok && v == "" {
				err = usagef("%s--%s is empty", prefix, f.Name)
			}
		}
	})
	return err
}

// errHelp: the user asked for help; the usage goes to stdout, exit 0.
var errHelp = errors.New("help")

// parseNoArgs parses flags of a command that takes no positional arguments.
// doubleDash names flags in the flag package's errors as the usage spells
// them ("--sensitive"), not as "-sensitive".
func doubleDash(err error) string {
	return flagInError.ReplaceAllString(err.Error(), "$1--$2")
}

var flagInError = regexp.MustCompile(`((?:defined|argument): |flag |for )-([A-Za-z][A-Za-z-]*)`)

func parseNoArgs(fs *flag.FlagSet, args []string) error {
	pos, err := parse(fs, args)
	if err == nil && len(pos) > 0 {
		err = usagef("%s takes no arguments", fs.Name())
	}
	return err
}

// failWriter remembers the first write that failed: output that never
// reached its reader (a full disk, a closed file) must not exit 0.
type failWriter struct {
	w   io.Writer
	err error
}

func (f *failWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err != nil && f.err == nil {
		f.err = err
	}
	return n, err
}

func run(args []string, stdout, stderr io.Writer) error {
	out := &failWriter{w: stdout}
	err := runArgs(args, out, stderr)
	if err == nil && out.err != nil {
		return fmt.Errorf("writing to stdout: %v", out.err)
	}
	return err
}

func runArgs(args []string, stdout, stderr io.Writer) error {
	var g globals
	top := newFlagSet("agent-tui", &g, stderr)
	top.BoolVar(&g.demo, "demo", false, "")
	showVersion := top.Bool("version", false, "")
	// global flags come before the command
	if err := top.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageText)
			return nil
		}
		return usagef("%s (see agent-tui --help)", doubleDash(err))
	}
	if err := emptyGiven(top, ""); err != nil {
		return err
	}
	rest := top.Args()
	if *showVersion {
		if len(rest) > 0 || g.demo {
			return usagef("--version takes nothing else")
		}
		fmt.Fprintln(stdout, versionText())
		return nil
	}
	if g.demo {
		if len(rest) > 0 {
			return usagef("--demo takes no command")
		}
		var given []string
		top.Visit(func(f *flag.Flag) {
			if f.Name != "demo" {
				given = append(given, "--"+f.Name)
			}
		})
		if len(given) > 0 {
			return usagef("--demo makes its own repository, config and database: drop %s", strings.Join(given, ", "))
		}
		return runDemo(stderr)
	}
	if len(rest) == 0 {
		return runTUI(g, stderr)
	}
	cmd, rest := rest[0], rest[1:]
	err := runCommand(g, cmd, rest, stdout, stderr)
	if errors.Is(err, errHelp) {
		fmt.Fprint(stdout, commandUsage(cmd))
		return nil
	}
	return err
}

// commandUsage is the usage of one command (`add -h`), or all of it for a
// name the usage does not list.
func commandUsage(cmd string) string {
	var lines []string
	for _, l := range strings.Split(usageText, "\n") {
		if len(lines) > 0 && strings.HasPrefix(l, "        ") {
			lines = append(lines, l) // its continuation
			continue
		}
		if len(lines) > 0 {
			break
		}
		for _, part := range strings.Split(strings.TrimSpace(l), " | ") {
			if name, _, _ := strings.Cut(part, " "); name == cmd && strings.HasPrefix(l, "  ") {
				lines = append(lines, l)
				break
			}
		}
	}
	if len(lines) == 0 {
		return usageText
	}
	var b strings.Builder
	b.WriteString("usage: agent-tui [--repo DIR] [--config FILE] [--db FILE] " + strings.TrimSpace(lines[0]) + "\n")
	for _, l := range lines[1:] {
		b.WriteString(l + "\n")
	}
	b.WriteString("(agent-tui --help lists every command; the README's section 5 says what each does)\n")
	return b.String()
}

// versionText is the module's version and the commit it was built from,
// as Go recorded them (a build from a checkout says "(devel)").
func versionText() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "agent-tui (unknown version)"
	}
	out := "agent-tui " + info.Main.Version
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		out += " " + rev[:min(12, len(rev))]
		if settings["vcs.modified"] == "true" {
			out += "+changes"
		}
	}
	return out + " " + info.GoVersion
}

func runCommand(g globals, cmd string, rest []string, stdout, stderr io.Writer) error {
	switch cmd {
	case "add":
		return cmdAdd(g, rest, stdout, stderr)
	case "run":
		return cmdRun(g, rest, stdout, stderr)
	case "list":
		return cmdList(g, rest, stdout, stderr)
	case "show":
		return cmdShow(g, rest, stdout, stderr)
	case "approve", "cancel", "pause", "resume":
		return cmdSimpleDecision(g, cmd, rest, stdout, stderr)
	case "reject":
		return cmdReject(g, rest, stdout, stderr)
	case "retry":
		return cmdRetry(g, rest, stdout, stderr)
	case "stats":
		return cmdStats(g, rest, stdout, stderr)
	case "compact":
		return cmdCompact(g, rest, stdout, stderr)
	case "help":
		fmt.Fprint(stdout, usageText)
		return nil
	}
	return usagef("unknown command %q (see agent-tui --help)", cmd)
}

// env is what a command works on: the repository, its config and store.
type env struct {
	repo    *workspace.Repo
	cfg     *config.Config
	st      *store.Store
	dbPath  string
	cfgErr  error // no usable model config (only fatal to commands that call models)
	prompts *prompts.Set
}

// openMode is what a command does with the database.
type openMode int

const (
	openCreate openMode = iota // add, run, the TUI: made when missing
	openWrite                  // decisions, compact: an existing one, written
	openRead                   // list, show, stats: an existing one, only read
)

// openEnv opens the repository, loads the config and opens the store, in
// that order, so bad input fails before anything is written.
func openEnv(g globals) (*env, error) { return openEnvMode(g, openCreate, nil) }

// errNoDatabase: the default database is not there yet (a fresh
// repository); nothing was created.
var errNoDatabase = errors.New("no database yet")

// openExisting opens the environment without creating a database.
func openExisting(g globals) (*env, error) { return openEnvMode(g, openWrite, nil) }

// openReading opens the environment of a command that only reads: the
// database read-only, nothing created.
func openReading(g globals) (*env, error) { return openEnvMode(g, openRead, nil) }

// openEnvMode opens the repository, config and store; check refuses what
// cannot go on before a store is created.
func openEnvMode(g globals, mode openMode, check func(*env) error) (*env, error) {
	repo, err := workspace.Open(g.repo)
	if err != nil {
		return nil, err
	}
	en := &env{repo: repo}
	path, err := config.Find(repo.Dir, g.config, tools.Getenv)
	if err != nil {
		return nil, err
	}
	if path != "" {
		if en.cfg, err = config.LoadWithEnv(path, tools.Getenv); errors.Is(err, config.ErrNoModels) {
			// as with no file and no key: list, show, add and decisions
			// need no model
			en.cfgErr = err
			en.cfg = config.OpenAIDefaults("https://api.openai.com/v1")
		} else if err != nil {
			return nil, err
		}
	} else if en.cfg, err = config.FromEnv(tools.Getenv); err != nil {
		en.cfgErr = err
		en.cfg = config.OpenAIDefaults("https://api.openai.com/v1") // prices for stats; nothing runs
	}
	if en.cfgErr == nil && en.cfg.Simulated() && !g.demo {
		// its model was a server inside that demo's process, long gone:
		// attempts would only fail against a dead port
		en.cfgErr = fmt.Errorf("%s is the config of an `agent-tui --demo` run, whose simulated model ended with it: run `agent-tui --demo` for a new demo", path)
	}
	if check != nil {
		if err := check(en); err != nil {
			return nil, err
		}
	}
	en.dbPath = g.db
	if en.dbPath == "" {
		en.dbPath = filepath.Join(repo.GitDir, "agent-tui.db")
	} else if fi, err := os.Stat(filepath.Dir(en.dbPath)); err != nil || !fi.IsDir() {
		// a mistyped directory would hold a new, empty database
		return nil, fmt.Errorf("--db %s: directory %s does not exist", en.dbPath, filepath.Dir(en.dbPath))
	}
	fi, statErr := os.Stat(en.dbPath)
	empty := statErr == nil && fi.Mode().IsRegular() && fi.Size() == 0
	if mode != openCreate {
		// nothing is made here: bbolt would create a missing file and
		// make an empty one a database
		switch {
		case g.db == "" && (errors.Is(statErr, fs.ErrNotExist) || empty):
			// a fresh repository (or a first open cut off before bbolt
			// wrote the file): no tickets yet
			return en, errNoDatabase
		case errors.Is(statErr, fs.ErrNotExist):
			return nil, fmt.Errorf("database %s does not exist (nothing was created)", en.dbPath)
		case empty:
			return nil, fmt.Errorf("database %s is an empty file, not a database (nothing was written to it)", en.dbPath)
		}
	}
	// under a second in all, the process's own start included (some
	// 150 ms on a slow machine, with a key to stash, and over 300 ms on a
	// loaded one): SPEC's promise to a second process. Long enough for
	// another short command (a list) to let go of it.
	const wait = 400 * time.Millisecond
	if mode == openRead {
		// reading makes, repairs and records nothing (a file cut short,
		// another program's bbolt file), and needs no write (a read-only
		// mount or file); readers share the lock
		en.st, err = store.OpenReadOnly(en.dbPath, wait)
	} else {
		en.st, err = store.Open(en.dbPath, wait)
		if err != nil && store.NotWritable(err) && statErr == nil && !empty && readable(en.dbPath) {
			err = fmt.Errorf("%w; list, show and stats can still read it", err)
		}
	}
	if err != nil {
		return nil, err
	}
	if err := en.checkRepository(); err != nil {
		en.st.Close()
		return nil, err
	}
	return en, nil
}

// readable says the file can be opened for reading.
func readable(path string) bool {
	f, err := os.Open(path)
	if err == nil {
		f.Close()
	}
	return err == nil
}

// metaRepository names the git directory whose tickets a database holds;
// metaRoots its root commits, which survive a move.
const (
	metaRepository = "repository"
	metaRoots      = "roots"
)

// checkRepository refuses a database (given with --db) that holds another
// repository's tickets: their branches and worktrees are not here, and a
// run would merge whatever has the same name. A database inside this
// repository's git directory is its own, wherever the repository moved;
// one outside follows its repository when that moved (the recorded path
// is gone and the root commits are the same).
func (en *env) checkRepository() error {
	var recorded, roots string
	if err := en.st.View(func(tx *store.Tx) error {
		recorded, roots = tx.Meta(metaRepository), tx.Meta(metaRoots)
		return nil
	}); err != nil {
		return err
	}
	here := en.repo.GitDir
	if recorded == here {
		return nil
	}
	db, err := filepath.Abs(en.dbPath)
	if err == nil {
		db, err = filepath.EvalSymlinks(db)
	}
	rel, relErr := filepath.Rel(here, db)
	inside := err == nil && relErr == nil && !strings.HasPrefix(rel, "..")
	ours := en.repo.RootCommits(context.Background())
	if recorded != "" && !inside {
		_, statErr := os.Stat(recorded)
		moved := errors.Is(statErr, fs.ErrNotExist) && roots != "" && roots == ours
		if !moved {
			owner := recorded
			if filepath.Base(owner) == ".git" {
				owner = filepath.Dir(owner)
			}
			return fmt.Errorf("database %s holds the tickets of the repository at %s, not of %s: run with --repo %s, or give another --db", en.dbPath, owner, en.repo.Dir, owner)
		}
	}
	if en.st.ReadOnly() {
		return nil // checked; recorded by the next command that may write
	}
	return en.st.Update(func(tx *store.Tx) error {
		if err := tx.SetMeta(metaRoots, ours); err != nil {
			return err
		}
		return tx.SetMeta(metaRepository, here)
	})
}

func (en *env) close() {
	if en.st != nil {
		en.st.Close()
		en.st = nil
	}
}

func (en *env) engine(log io.Writer) (*engine.Engine, error) {
	if err := en.runnable(); err != nil {
		return nil, err
	}
	return en.newEngine(log), nil
}

// runnable says why the engine cannot run here: no usable model config,
// or a repository prompt that does not render (found now, not after the
// phases before it have been paid for).
func (en *env) runnable() error {
	if en.cfgErr != nil {
		return en.cfgErr
	}
	return en.promptSet().Check()
}

// noProvider says why no provider can be called (every key variable
// unset), or "".
func (en *env) noProvider() string {
	var why []string
	for _, p := range en.cfg.Providers {
		if w := llm.Unusable(p, tools.Getenv); w != "" {
			why = append(why, "provider "+p.Name+": "+w)
		}
	}
	if len(why) == 0 || len(why) < len(en.cfg.Providers) {
		return ""
	}
	return "no provider can be called (" + strings.Join(why, "; ") + ")"
}

// someIDs names up to five tickets.
func someIDs(ids []string) string {
	if len(ids) > 5 {
		ids = append(ids[:5:5], fmt.Sprintf("and %d more", len(ids)-5))
	}
	return strings.Join(ids, ", ")
}

// needsModel lists the tickets whose next step calls a model: with no
// provider to call, it would stop for a human and need a retry once the
// key is there. Merges, CI runs and cancels need none.
func needsModel(tickets []*store.Ticket) []string {
	var ids []string
	for _, t := range tickets {
		// paused as the run will find it: a pause recorded on the command
		// line is carried out first, a recorded resume too
		if paused, _ := engine.PausedAfterDecisions(t); paused || store.Finished(t.Status) {
			continue
		}
		p := engine.PendingDecision(t)
		if t.Status != store.StatusQueued && t.Status != store.StatusRunning && p == nil {
			continue // waits for a human: this run does not move it
		}
		switch {
		case p != nil && p.Kind == store.DecisionCancel:
		case t.Phase == engine.Merge || t.Phase == config.CI:
		case t.Phase == config.Review && p != nil && p.Kind == store.DecisionApprove:
		default:
			ids = append(ids, t.ID)
		}
	}
	return ids
}

func (en *env) promptSet() *prompts.Set {
	if en.prompts == nil {
		en.prompts = prompts.New(prompts.OverrideDir(en.repo.Dir))
	}
	return en.prompts
}

// newEngine builds the engine even without a usable model config (the
// TUI's browsing mode); only Run needs models.
func (en *env) newEngine(log io.Writer) *engine.Engine {
	return engine.New(engine.Options{
		Store: en.st, Config: en.cfg, Repo: en.repo,
		Router:  llm.NewRouter(en.cfg, llm.Options{Getenv: tools.Getenv}),
		Prompts: en.promptSet(),
		Log:     log,
	})
}

// demoEnded is said of a ticket or decision recorded in a finished demo's
// repository: run refuses it, its model having ended with the demo.
const demoEnded = "no run carries it out here, as this is a finished demo's repository (`agent-tui --demo` starts a new one)"

func cmdAdd(g globals, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("add", &g, stderr)
	kind := fs.String("kind", "feature", "")
	sensitive := fs.Bool("sensitive", false, "")
	body := fs.String("body", "", "")
	bodyFile := fs.String("body-file", "", "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("add: empty title")
	}
	title := strings.Join(pos, " ")
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if given["body"] && given["body-file"] {
		return usagef("add: give --body or --body-file, not both")
	}
	if *bodyFile != "" {
		data, err := readArgFile(*bodyFile)
		if err != nil {
			return usagef("add: --body-file: %v", err)
		}
		*body = string(data)
	}
	nt := engine.NewTicket{Kind: *kind, Title: title, Body: *body, Sensitive: *sensitive}
	if err := nt.Validate(); err != nil {
		return usagef("add: %v", err)
	}
	var base string
	en, err := openEnvMode(g, openCreate, func(en *env) error {
		var err error
		if base, err = engine.BaseBranch(context.Background(), en.cfg, en.repo); err != nil {
			return fmt.Errorf("add: %v", err)
		}
		return nil
	})
	if iu := (*store.InUseError)(nil); errors.As(err, &iu) {
		return fmt.Errorf("database %s is %v%s (if it is the TUI, add the ticket there with n; otherwise quit it, then add again)", iu.Path, store.ErrInUse, iu.Holder)
	}
	if err != nil {
		return err
	}
	defer en.close()
	// what list reads first (the store reads every ticket's page itself):
	// a new ticket in a database list cannot read would never be seen,
	// and the write could spread the damage
	active, err := en.st.ActiveTickets()
	if err == nil {
		err = addCutOffCost(en.st, active)
	}
	if err != nil {
		return err
	}
	t, err := engine.AddTicket(en.st, nt, base)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(stdout, t.ID); err != nil {
		// the ticket is there: a retried add would make a second one
		return fmt.Errorf("%s was created, but its id could not be written to stdout: %v", t.ID, err)
	}
	if en.cfg.Simulated() {
		// (stdout stays the id alone, for scripts)
		fmt.Fprintf(stderr, "agent-tui: %s: %s\n", t.ID, demoEnded)
	}
	return nil
}

func cmdRun(g globals, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", &g, stderr)
	untilIdle := fs.Bool("until-idle", false, "")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	en, err := openEnvMode(g, openCreate, func(en *env) error { return en.cfgErr })
	if err != nil {
		return err
	}
	defer en.close()
	eng, err := en.engine(stderr)
	if err != nil {
		return err
	}
	tickets, err := en.st.Tickets()
	if err != nil {
		return err
	}
	if why := en.noProvider(); why != "" {
		if ids := needsModel(tickets); len(ids) > 0 {
			return fmt.Errorf("%s: %s would call a model and only stop for you; set a key, or pause or cancel those tickets, then run again", why, someIDs(ids))
		}
		fmt.Fprintf(stderr, "agent-tui: warning: %s: only merges, CI runs and cancels are carried out\n", errorLine(why))
	} else {
		// some provider can be called, yet not one a ticket's next step needs
		byID := map[string]*store.Ticket{}
		for _, t := range tickets {
			byID[t.ID] = t
		}
		whys := map[string][]string{} // reason → tickets
		var order []string
		for _, id := range needsModel(tickets) {
			// a pending retry reruns its phase (on the model it names);
			// after an approve the engine asks again in the next phase
			if w := eng.UncallableNext(byID[id]); w != "" {
				if whys[w] == nil {
					order = append(order, w)
				}
				whys[w] = append(whys[w], id)
			}
		}
		if len(order) > 0 {
			var parts []string
			for _, w := range order {
				parts = append(parts, w+": "+someIDs(whys[w]))
			}
			return fmt.Errorf("%s would only stop for you; fix that, or pause or cancel those tickets, then run again", strings.Join(parts, "; "))
		}
	}
	for _, w := range eng.Warnings() {
		fmt.Fprintf(stderr, "agent-tui: warning: %s\n", errorLine(w))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	// (SIGHUP: the terminal it ran in closed, as good as asked to stop)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	var got atomic.Value // the signal that stopped the run
	go func() {
		select {
		case s := <-sigs:
			got.Store(s)
			cancel()
		case <-ctx.Done():
		}
	}()
	if !*untilIdle {
		// it runs until stopped, saying little: say that it is running
		fmt.Fprintf(stderr, "agent-tui: running until stopped (Ctrl-C); tickets that stop for you are logged here, and `agent-tui list` shows them all\n")
	}
	runBegan := time.Now()
	opened, _ := os.Stat(en.dbPath)
	err = eng.Run(ctx, *untilIdle)
	if now, serr := os.Stat(en.dbPath); opened != nil && (serr != nil || !os.SameFile(opened, now)) {
		// written to a file no one will open again: say so, or the next
		// start finds no tickets and no word why
		fmt.Fprintf(stderr, "agent-tui: the database %s was removed or replaced while this run used it: what the run recorded is lost with the old file\n", en.dbPath)
	}
	if s, ok := got.Load().(syscall.Signal); ok {
		if *untilIdle {
			cut := 0
			if active, err := en.st.ActiveTickets(); err == nil {
				for _, t := range active {
					if t.Status == store.StatusRunning {
						cut++
					}
				}
			}
			return stoppedError{sig: s, cut: cut}
		}
		// a plain run ends this way
		fmt.Fprintf(stderr, "agent-tui: stopped by %s; cut-off attempts run again on the next start\n", signalName(s))
		return nil
	}
	if err == nil && *untilIdle {
		sayWaiting(en.st, stderr, runBegan)
	}
	return err
}

// sayWaiting ends an idle run with the tickets that wait for a person,
// and why: the exit status is 0 either way. Those that came to wait
// during this run (changed since it began) come before those that waited
// already, and in each, those that need a person come first (something
// went wrong), then the paused, then the approvals.
func sayWaiting(st *store.Store, w io.Writer, runBegan time.Time) {
	tickets, err := st.Tickets()
	if err != nil {
		return
	}
	var lines [2][3][]string // [before this run?][needs, paused, awaiting]
	for _, t := range tickets {
		old := 0
		if t.Updated.Before(runBegan) {
			old = 1
		}
		switch {
		case store.Finished(t.Status):
		case t.Status == store.StatusNeedsHuman:
			lines[old][0] = append(lines[old][0], t.ID+" needs human: "+t.Reason)
		case t.Paused:
			lines[old][1] = append(lines[old][1], t.ID+" paused: resume it (agent-tui resume "+t.ID+")")
		case t.Status == store.StatusAwaiting:
			line := t.ID + " awaiting approval at " + t.Phase
			if t.Reason != "" {
				line += ": " + t.Reason // what the approval lets through (max_cost_usd crossed)
			}
			lines[old][2] = append(lines[old][2], line)
		}
	}
	const most = 10
	all := slices.Concat(lines[0][0], lines[0][1], lines[0][2], lines[1][0], lines[1][1], lines[1][2])
	for _, line := range all[:min(len(all), most)] {
		fmt.Fprintf(w, "agent-tui: %s\n", errorLine(engine.OneLine(line, 300)))
	}
	count := func(kind int) int { return len(lines[0][kind]) + len(lines[1][kind]) }
	if len(all) > most {
		// of all those waiting, by why (the kinds with none left out)
		var kinds []string
		for i, words := range []string{"need a person", "paused", "awaiting approval"} {
			if n := count(i); n > 0 {
				kinds = append(kinds, fmt.Sprintf("%d %s", n, words))
			}
		}
		fmt.Fprintf(w, "agent-tui: and %d more waiting for you (of %d: %s; agent-tui list)\n", len(all)-most, len(all), strings.Join(kinds, ", "))
	}
}

// resolveTicket parses an id and loads the ticket, with a one-line error.
func resolveTicket(st *store.Store, id string) (*store.Ticket, error) {
	n, err := store.ParseID(id)
	if err != nil {
		return nil, usagef("%v", err)
	}
	t, err := st.Ticket(store.FormatID(n))
	if errors.Is(err, store.ErrNotFound) {
		return nil, unknownTicket(id)
	}
	return t, err
}

// unknownTicket names the ticket as the user would find it in `list`.
func unknownTicket(id string) error {
	if n, err := store.ParseID(id); err == nil {
		id = store.FormatID(n)
	}
	return fmt.Errorf("unknown ticket %s", id)
}

func oneID(cmd string, pos []string) (string, error) {
	if len(pos) != 1 {
		return "", usagef("%s: want exactly one ticket id", cmd)
	}
	return pos[0], nil
}

func decide(g globals, cmd string, id string, d store.Decision, stdout io.Writer) error {
	if _, err := store.ParseID(id); err != nil {
		return usagef("%v", err)
	}
	en, err := openExisting(g)
	if errors.Is(err, errNoDatabase) {
		return unknownTicket(id)
	}
	if iu := (*store.InUseError)(nil); errors.As(err, &iu) {
		// another database has no such ticket: --db is no way out here
		return fmt.Errorf("database %s is %v%s (if it is the TUI, take the decision there; otherwise quit it, then decide again)", iu.Path, store.ErrInUse, iu.Holder)
	}
	if err != nil {
		return err
	}
	defer en.close()
	before, err := resolveTicket(en.st, id)
	if err != nil {
		return err
	}
	if err := engine.EpicCancelPending(en.st, before, d.Kind); err != nil {
		return err
	}
	if d.Kind == store.DecisionCancel && before.Status == store.StatusCancelled {
		// a script's cancel "just in case": already so, as while pending
		fmt.Fprintf(stdout, "%s: already cancelled\n", before.ID)
		return nil
	}
	next := "the engine carries it out on its next run"
	if en.cfg.Simulated() {
		next = demoEnded
	}
	if p := engine.PendingDecision(before); p != nil && p.Kind == d.Kind && (d.Kind == store.DecisionCancel || d.Kind == store.DecisionApprove) {
		// asked again: already so
		fmt.Fprintf(stdout, "%s: %s already recorded; %s\n", before.ID, cmd, next)
		return nil
	}
	if pausedNow, waiting := engine.PausedAfterDecisions(before); !store.Finished(before.Status) && ((d.Kind == store.DecisionPause && pausedNow) || (d.Kind == store.DecisionResume && !pausedNow)) {
		switch {
		case pausedNow && waiting:
			fmt.Fprintf(stdout, "%s: a pause is recorded already; the next run carries it out\n", before.ID)
		case pausedNow:
			fmt.Fprintf(stdout, "%s: already paused\n", before.ID)
		case waiting:
			fmt.Fprintf(stdout, "%s: the decisions recorded already leave it unpaused (the next run carries them out): nothing to resume\n", before.ID)
		default:
			fmt.Fprintf(stdout, "%s: not paused: nothing to resume\n", before.ID)
		}
		return nil
	}
	t, children, err := engine.DecideWithChildren(en.st, en.cfg, id, d)
	if p := engine.PendingDecision(before); err != nil && p != nil && p.Kind == store.DecisionCancel {
		// the refusal says the cancel comes next: no hint on moving it on
		return err
	}
	if err != nil && before.Paused && (before.Status == store.StatusRunning || before.Status == store.StatusQueued) {
		return fmt.Errorf("%w (it is paused: `agent-tui resume %s`, then a run carries it on)", err, before.ID)
	}
	if err != nil && before.Status == store.StatusRunning {
		// this process holds the database, so no engine is running it:
		// a run that stopped (a crash, a kill) left it so
		return fmt.Errorf("%w (it was running when agent-tui last stopped: `agent-tui run` or the TUI resumes it, and it can then be decided on when it stops; pause and cancel work now)", err)
	}
	if err != nil {
		return err
	}
	replaced := ""
	if p := engine.PendingDecision(before); p != nil && d.Kind != store.DecisionPause && d.Kind != store.DecisionResume {
		// said out loud: the earlier one will not be carried out
		replaced = fmt.Sprintf(", replacing the %s waiting since %s", engine.DecisionWords(p.Kind), p.At.Local().Format("15:04"))
	}
	if len(children) > 0 {
		var ids []string
		for _, c := range children {
			ids = append(ids, c.ID)
		}
		replaced += fmt.Sprintf(" (and on its children %s)", someIDs(ids))
	}
	if _, err := fmt.Fprintf(stdout, "%s: %s recorded%s; %s\n", t.ID, cmd, replaced, next); err != nil {
		return fmt.Errorf("%s: %s recorded, but this could not be written to stdout: %v", t.ID, cmd, err)
	}
	return nil
}

func cmdSimpleDecision(g globals, cmd string, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet(cmd, &g, stderr)
	var text, textFile *string
	if cmd == "approve" {
		// approve with the deliverable written by the human (edit-approve)
		text = fs.String("text", "", "")
		textFile = fs.String("text-file", "", "")
	}
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	id, err := oneID(cmd, pos)
	if err != nil {
		return err
	}
	d := store.Decision{Kind: store.DecisionApprove}
	switch cmd {
	case "cancel":
		d.Kind = store.DecisionCancel
	case "pause":
		d.Kind = store.DecisionPause
	case "resume":
		d.Kind = store.DecisionResume
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if given["text"] || given["text-file"] {
		// given at all, even empty: the human meant to replace the deliverable
		if given["text"] && given["text-file"] {
			return usagef("approve: give --text or --text-file, not both")
		}
		d.Kind, d.Text = store.DecisionEditApprove, *text
		if *textFile != "" {
			data, err := readArgFile(*textFile)
			if err != nil {
				return usagef("approve: --text-file: %v", err)
			}
			d.Text = string(data)
		}
		if err := checkText("approve: the text", d.Text); err != nil {
			return err
		}
		if strings.TrimSpace(d.Text) == "" {
			return usagef("approve: the text is empty")
		}
	}
	return decide(g, cmd, id, d, stdout)
}

// readArgFile reads a file named on the command line, "-" for stdin: at
// most one byte over engine.MaxText, so /dev/zero ends at once and the
// check of its size still sees it is too long.
func readArgFile(name string) ([]byte, error) {
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	return io.ReadAll(io.LimitReader(r, engine.MaxText+1))
}

// checkText refuses a decision's text over engine.MaxText, naming the
// limit, and one no model could read (a binary file): bad input, like any
// other, before the database is opened. (A ticket's body is checked by
// NewTicket.Validate.)
func checkText(what, s string) error {
	if len(s) > engine.MaxText {
		return usagef("%s is over the limit of 1 MiB (%d bytes)", what, engine.MaxText)
	}
	if !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
		return usagef("%s holds invalid UTF-8 or NUL bytes: give text", what)
	}
	return nil
}

func cmdReject(g globals, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("reject", &g, stderr)
	reason := fs.String("reason", "", "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	id, err := oneID("reject", pos)
	if err != nil {
		return err
	}
	if strings.TrimSpace(*reason) == "" {
		return usagef("reject: --reason TEXT is required")
	}
	if err := checkText("reject: the reason", *reason); err != nil {
		return err
	}
	return decide(g, "reject", id, store.Decision{Kind: store.DecisionReject, Reason: *reason}, stdout)
}

func cmdRetry(g globals, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("retry", &g, stderr)
	guidance := fs.String("guidance", "", "")
	model := fs.String("model", "", "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("retry: want a ticket id (or several)")
	}
	var empty error
	fs.Visit(func(f *flag.Flag) {
		// given, yet empty: a script's unset variable, not "no model"
		if (f.Name == "model" || f.Name == "guidance") && strings.TrimSpace(f.Value.String()) == "" {
			empty = usagef("retry: --%s is empty", f.Name)
		}
	})
	if empty != nil {
		return empty
	}
	if err := checkText("retry: the guidance", *guidance); err != nil {
		return err
	}
	// several at once: a full disk or a provider's outage stops many
	// tickets alike, and each then needs its retry. A malformed id is a
	// usage error before anything is written.
	seen := map[uint64]bool{}
	ids := pos[:0:0]
	for _, id := range pos {
		n, err := store.ParseID(id)
		if err != nil {
			return usagef("retry: %v (nothing was retried)", err)
		}
		if !seen[n] { // named twice, retried once
			seen[n] = true
			ids = append(ids, id)
		}
	}
	pos = ids
	failed := 0
	for _, id := range pos {
		if err := decide(g, "retry", id, store.Decision{Kind: store.DecisionRetry, Guidance: *guidance, Model: *model}, stdout); err != nil {
			if len(pos) == 1 {
				return err
			}
			if msg := err.Error(); slices.ContainsFunc(strings.Fields(msg), func(w string) bool { return strings.Trim(w, ":,.()") == id }) {
				fmt.Fprintf(stderr, "agent-tui: %s\n", errorLine(msg)) // it names the ticket already
			} else {
				fmt.Fprintf(stderr, "agent-tui: %s: %s\n", id, errorLine(msg))
			}
			failed++
		}
	}
	if failed > 0 {
		// each was said above
		return fmt.Errorf("%d of %d tickets not retried", failed, len(pos))
	}
	return nil
}

// printable keeps what the model or a command wrote from acting on the
// terminal: control characters (C0, DEL, C1) become U+FFFD, and bidi
// controls and line separators, which would make a line read differently
// from what it is, are named.
func printable(s string) string {
	// a whole escape sequence goes (its control byte alone would leave
	// "]0;title" or "[31m" behind)
	s = ansi.Strip(s)
	var b strings.Builder
	for _, r := range s {
		switch {
		case unicode.IsControl(r):
			b.WriteRune('\uFFFD')
		case isBidiControl(r) || isLineSeparator(r):
			fmt.Fprintf(&b, "<U+%04X>", r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func isBidiControl(r rune) bool {
	return r == 0x061C || r == 0x200E || r == 0x200F || (r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069)
}

// isLineSeparator: U+2028 and U+2029 end a line in some terminals and
// editors, though they are not control characters.
func isLineSeparator(r rune) bool { return r == 0x2028 || r == 0x2029 }

// errorLine renders an error for stderr as one line that acts on nothing:
// it may carry what the user typed (a file name, a flag) or a lock
// holder's command line. Unlike printable, it keeps what each character
// was (\n, \x1b), so the user can tell which name was meant.
func errorLine(s string) string {
	s = strings.TrimRight(s, "\n")
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x80 && unicode.IsControl(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unicode.IsControl(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		case isBidiControl(r) || isLineSeparator(r):
			fmt.Fprintf(&b, "<U+%04X>", r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func cmdCompact(g globals, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("compact", &g, stderr)
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	en, err := openExisting(g)
	if errors.Is(err, errNoDatabase) {
		fmt.Fprintf(stdout, "no database at %s yet: nothing to compact\n", en.dbPath)
		return nil
	}
	if err != nil {
		return err
	}
	path := en.dbPath
	en.close()
	before, after, err := store.Compact(path, 800*time.Millisecond)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "compacted %s: %d → %d bytes\n", path, before, after)
	return nil
}
