package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode"

	"agent-tui/engine/config"
	"agent-tui/engine/tools"
	"agent-tui/engine/workspace"
	"agent-tui/engine/wtfile"
	"agent-tui/prompts"
	"agent-tui/store"
)

// commandWords splits shell commands into their simple commands' words,
// each starting at the program: after VAR=value and keywords (if, then,
// exec, …). Commands without a program are left out.
func commandWords(cmds string) [][]string {
	var out [][]string
	for _, seg := range strings.FieldsFunc(cmds, func(r rune) bool { return strings.ContainsRune(";&|()\n", r) }) {
		words := strings.Fields(seg)
		for len(words) > 0 && (strings.Contains(words[0], "=") || checkKeywords[words[0]]) {
			words = words[1:]
		}
		if len(words) > 0 {
			out = append(out, words)
		}
	}
	return out
}

// humanStop ends an attempt with the ticket stopped for a human: what is
// wrong is not the model's to fix.
type humanStop struct{ reason string }

func (h *humanStop) Error() string { return h.reason }

// missingProgram says why a check's command cannot run whatever a model
// writes: its program, a plain name, is not installed. (A path, such as
// ./run_tests.sh, may be the tests phase's to write.)
func missingProgram(c store.Check, key string) string {
	if c.NotRun != "was not found" {
		return ""
	}
	prog := notFoundProgram(c.Command, c.Output)
	if prog == "" {
		if f := strings.Fields(c.Command); len(f) > 0 {
			prog = f[0]
		}
	}
	if prog == "" || strings.Contains(prog, "/") {
		return ""
	}
	return fmt.Sprintf("the command `%s` was not found (%s is not installed, or not on PATH): fix %s in the config, or install it, then restart and retry", c.Command, prog, key)
}

// missingModule is the Python module the command itself runs
// (`python -m pytest`) that Python's output says is not installed; ""
// when there is none. Not one the project has, or could be writing, in
// dir (the worktree, when given): `python -m tests` with no tests package
// yet is the tests phase's to write, not a program to install.
func missingModule(command, output, dir string) string {
	for _, words := range commandWords(command) {
		if !strings.HasPrefix(path.Base(words[0]), "python") {
			continue
		}
		i := slices.Index(words, "-m")
		if i <= 0 || i+1 >= len(words) {
			continue
		}
		mod := words[i+1]
		top, _, _ := strings.Cut(mod, ".")
		said := regexp.MustCompile(`: No module named '?` + regexp.QuoteMeta(mod) + `'?(\r?\n|$)`)
		if !said.MatchString(output) || strings.HasPrefix(strings.ToLower(top), "test") {
			continue
		}
		if dir != "" {
			if _, err := os.Lstat(filepath.Join(dir, top+".py")); err == nil {
				continue
			}
			if _, err := os.Lstat(filepath.Join(dir, top)); err == nil {
				continue
			}
		}
		return mod
	}
	return ""
}

// notFoundProgram is the program, named by plain name in command itself
// (`FOO=1 pytest`, `cd web && make test`), that the shell's output says
// it could not find, or the Python module it runs that is not installed;
// "" when there is none.
func notFoundProgram(command, output string) string {
	if m := missingModule(command, output, ""); m != "" {
		return m
	}
	for _, words := range commandWords(command) {
		if strings.ContainsAny(words[0], "/$`'\"") {
			continue
		}
		prog := words[0]
		// dash: "sh: 1: prog: not found"; bash: "bash: line 1: prog: command not found"
		if strings.Contains(output, " "+prog+": not found") || strings.Contains(output, " "+prog+": command not found") {
			return prog
		}
	}
	return ""
}

// checkOutputKept is the tail of a command's output stored with a check.
const checkOutputKept = 16 << 10

// judge decides an attempt: objective checks where the truth is mechanical,
// then the validator or the parsed review.
func (e *Engine) judge(ctx context.Context, t *store.Ticket, ps *store.PhaseState, a *store.Attempt, s *session) error {
	fail := func(by string, objections ...string) error {
		a.Verdict = &store.Verdict{Pass: false, Objections: objections, By: by}
		return nil
	}
	attempts, err := e.st.Attempts(t.ID)
	if err != nil {
		return err
	}
	source := func() (string, string) {
		switch ps.Name {
		case config.Discovery, config.Diagnosis:
			return "the ticket", fmt.Sprintf("# %s\n\n%s", t.Title, t.Body)
		case config.Techspec:
			return "functional spec", accepted(t, attempts, config.Discovery)
		case config.Planning, config.Split:
			return "tech spec", accepted(t, attempts, config.Techspec)
		case config.Tests:
			title, body := groundwork(t, attempts)
			return strings.ToLower(title), body
		}
		return "", ""
	}
	if writesFiles(ps.Name) && !e.repo.HasWorktree(t.ID) {
		// the worktree went while the attempt ran (a .git file removed or
		// replaced is written back; this is the directory or git's record
		// of it): nothing can be committed, and a green check would pass
		// nothing
		return fail("check", "the ticket's worktree was removed while this attempt ran (by hand, or by git worktree prune), so its files cannot be committed (the next attempt gets a fresh worktree)")
	}
	// the objection when changed holds agent-tui's own configuration
	ownConfigChanged := func(changed []string) string {
		if own := ownConfig(changed); len(own) > 0 {
			return "agent-tui's own configuration was changed (" + strings.Join(own, ", ") + "): it is loaded from your checkout once this branch is merged and decides which servers get the API keys, how commands are confined and how the work is checked, so a person must make that change, not a ticket; undo it and change only the project's files"
		}
		if hooks := hooksAmong(e.repo.HooksInTree(), changed); len(hooks) > 0 {
			return "git hooks were changed (" + workspace.SomeFiles(hooks) + "): the repository's core.hooksPath runs them as you, unconfined, on the next git command in your checkout (the merge's included), so a person must make that change, not a ticket; undo it and change only the project's files"
		}
		return ""
	}
	// what this attempt changed, in the phases that write files (tests
	// lists what the branch changed as it stages it, below)
	var changed []string
	// what the guards of code and cifix object to, said all at once: one
	// at a time, a model fixes the one it hears of, trips on the next, and
	// spends its attempts finding them out
	var guards []string
	if writesFiles(ps.Name) && ps.Name != config.Tests {
		if changed, err = e.repo.Changed(ctx, t.Worktree); err != nil {
			return err
		}
		if why := ownConfigChanged(changed); why != "" {
			guards = append(guards, why)
		}
		if dirs := gitDirsAmong(t.Worktree, changed); len(dirs) > 0 {
			guards = append(guards, gitDirObjection(dirs))
		}
	}
	deliverable := a.Deliverable
	switch ps.Name {
	case config.Tests:
		files, changed, err := e.testFiles(ctx, t)
		if err != nil {
			return err
		}
		if why := ownConfigChanged(changed); why != "" {
			return fail("check", why)
		}
		if dirs := gitDirsAmong(t.Worktree, changed); len(dirs) > 0 {
			return fail("check", gitDirObjection(dirs))
		}
		if len(files) == 0 {
			return fail("check", "no test file differs from "+t.BaseBranch+" (a file written exactly as it already is there is no change): write the failing tests the plan asks for with write_file")
		}
		e.sayCheck(t, a, e.testCmd(t))
		c := e.runCheck(ctx, t, CheckTestsRed, e.testCmd(t), 0)
		a.Checks = append(a.Checks, c)
		// what the red run wrote goes, as after code's green run: left,
		// code would commit it with its own work, and merge it
		if _, err := e.repo.DropUnstaged(ctx, t.Worktree); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if c.ExitCode == 0 {
			return fail("check", "the test command passes: the new tests must fail before the code exists")
		}
		if why := missingProgram(c, "test_command"); why != "" {
			return &humanStop{why}
		}
		if c.NotRun != "" {
			return fail("check", fmt.Sprintf("the test command `%s` %s: the tests must run and fail, not fail to run: %s", c.Command, c.NotRun, OneLine(tailBytes(c.Output, 400), 400)))
		}
		a.TestFiles = files
		deliverable += "\n\n" + fileBodies(t.Worktree, files, 8000)
		var scripts []string
		for f := range files {
			if !isTestFile(f) {
				scripts = append(scripts, f)
			}
		}
		if len(scripts) > 0 {
			// frozen from here on, and CI runs through them too: a change
			// that checks less would weaken every later judgment
			sort.Strings(scripts)
			deliverable += "\n\nThis attempt also changed how the tests and CI are run: " + strings.Join(scripts, ", ") + " (shown above). Object if the change runs fewer or weaker checks than before, not only the new tests."
		}
	case config.Code, config.CIFix:
		// what is judged is what is committed: staged now, before the
		// check, whose run may write anything in the worktree (a config,
		// a test, a .gitignore) after the guards below have looked
		if err := e.repo.Stage(ctx, t.Worktree); err != nil {
			return err
		}
		frozen := e.changedTestFiles(t)
		if len(frozen) > 0 {
			guards = append(guards, "the test files written in the tests phase (and the scripts that run them) were changed ("+strings.Join(frozen, ", ")+"): change the code, not the tests")
		}
		// a new test file can change what the tests do as much as an
		// edited one (a TestMain that exits 0 makes anything green)
		added := changed
		if marked := stillMarked(t.Worktree, t.Conflicts); len(marked) > 0 {
			guards = append(guards, "conflict markers (<<<<<<< or >>>>>>>) are still in "+strings.Join(marked, ", ")+": resolve every conflict, keeping what both sides meant")
		}
		// resolving a conflict is changing those files, whatever they are
		added = slices.DeleteFunc(slices.Clone(added), func(f string) bool { return slices.Contains(t.Conflicts, f) })
		var newTests []string
		for _, f := range added {
			if _, frozen := t.TestFiles[f]; isTestSource(f) && !frozen {
				newTests = append(newTests, f)
			}
		}
		if len(newTests) > 0 {
			guards = append(guards, "test files were added or changed outside the tests phase ("+strings.Join(newTests, ", ")+"): change the code, not the tests")
		}
		for _, f := range added {
			if path.Base(f) == ".gitignore" {
				// an ignored test file runs in the check but is never
				// committed: ignore rules decide what is judged
				guards = append(guards, "a .gitignore was changed ("+f+"): ignore rules decide what the checks see and what is committed; change the code only")
			}
		}
		// (a frozen script is named above already)
		hit := slices.DeleteFunc(e.touchedScripts(t, added), func(f string) bool { return slices.Contains(frozen, f) })
		for _, f := range added {
			// any package.json: a script may `cd web && npm test`, and
			// workspaces run their members' scripts
			if path.Base(f) == "package.json" && e.runsNpm(t) && e.npmScriptsChanged(ctx, t, f) {
				hit = append(hit, f+"'s scripts")
			}
		}
		if len(hit) > 0 {
			guards = append(guards, "the files the test and CI commands run were changed ("+strings.Join(hit, ", ")+"): change the code, not how it is checked")
		}
		if stray := sourcelessModules(t.Worktree); len(stray) > 0 {
			guards = append(guards, "compiled Python modules outside __pycache__ are in the worktree ("+strings.Join(stray, ", ")+"): Python imports them in place of source, though they are never committed (ignored, or not added); remove them and change the source")
		}
		if len(guards) > 0 {
			return fail("check", guards...)
		}
		name, cmd, key := CheckCodeGreen, e.testCmd(t), "test_command"
		if ps.Name == config.CIFix {
			name, cmd, key = "ci", e.ciCmd(t), "ci_command"
		}
		e.sayCheck(t, a, cmd)
		c := e.runCheck(ctx, t, name, cmd, 0)
		a.Checks = append(a.Checks, c)
		// what the run wrote goes: committed it would be judged by no one
		// (a person approving at a gate commits the worktree as it is)
		if _, err := e.repo.DropUnstaged(ctx, t.Worktree); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if why := missingProgram(c, key); why != "" {
			return &humanStop{why}
		}
		if !c.Pass {
			return fail("check", fmt.Sprintf("`%s` still fails (%s): %s", cmd, CheckOutcome(c), outputExcerpt(c, 600)))
		}
		a.Verdict = &store.Verdict{Pass: true, By: "check"}
		return nil
	case config.Review:
		v, err := e.readVerdict(ctx, s, ps.Name)
		if err != nil {
			return err
		}
		// objections are changes to make (the prompt asks for actionable
		// ones only): a "pass" that lists some has not passed, or an
		// automatic merge would ship what the reviewer objected to
		a.Verdict = &store.Verdict{Pass: v.Pass && len(v.Objections) == 0, Objections: v.Objections, By: "review"}
		return nil
	case config.Split:
		if _, err := ParseSplit(a.Deliverable); err != nil {
			text, aerr := s.ask(ctx, ps.Name, "Your answer could not be read ("+err.Error()+"). Answer with ONLY the JSON object the instructions describe.")
			if aerr != nil {
				return aerr // cancelled, or no model answered: not the split's fault
			}
			if _, err = ParseSplit(text); err != nil {
				return fail("check", "the split could not be read: "+err.Error())
			}
			deliverable = a.Deliverable
		}
	}
	if !validated(ps.Name) {
		a.Verdict = &store.Verdict{Pass: true}
		return nil
	}
	if strings.TrimSpace(a.Deliverable) == "" {
		return fail("check", "the deliverable is empty: answer with the document the phase asks for")
	}
	name, src := source()
	v, err := e.validate(ctx, t, s, ps.Name, deliverable, name, src)
	a.Stream = s.stream.String()
	if err != nil {
		return err
	}
	a.Verdict = &store.Verdict{Pass: v.Pass, Objections: v.Objections, By: "validator"}
	return nil
}

// readVerdict parses the review's answer, asking again (in the same
// session) up to three times in all.
func (e *Engine) readVerdict(ctx context.Context, s *session, phase string) (Verdict, error) {
	text := s.a.Deliverable
	for try := 1; ; try++ {
		v, err := ParseVerdict(text)
		if err == nil {
			return v, nil
		}
		if try >= 3 {
			return Verdict{}, fmt.Errorf("the %s answer could not be read %d times: %v", phase, try, err)
		}
		text, err = s.ask(ctx, phase, "Your answer could not be read ("+err.Error()+`). Answer with ONLY the JSON object {"pass": true|false, "objections": ["..."]}.`)
		if err != nil {
			return Verdict{}, err
		}
	}
}

// isTestFile says whether a path looks like a test in common ecosystems.
func isTestFile(p string) bool {
	base := strings.ToLower(path.Base(p))
	dir := "/" + strings.ToLower(path.Dir(p)) + "/"
	return strings.HasSuffix(base, "_test.go") || strings.Contains(base, ".test.") || strings.Contains(base, ".spec.") ||
		strings.HasPrefix(base, "test_") || strings.HasSuffix(base, "_test.py") || strings.HasSuffix(base, "_spec.rb") ||
		strings.Contains(dir, "/tests/") || strings.Contains(dir, "/test/") || strings.Contains(dir, "/__tests__/")
}

// checkScripts are the worktree's files that decide how the test and CI
// commands judge the work: the scripts they run (`sh ci.sh`,
// `./run_tests.sh`, `bash -c "tools/check.sh"`, a Makefile for make), the
// scripts those run in turn, and a test runner's own configuration
// (conftest.py, pytest.ini, jest.config.js, …) among paths. Files a
// command only mentions (`[ -e x ]`) are not among them.
func (e *Engine) checkScripts(t *store.Ticket, paths []string) map[string]bool {
	scripts, _ := e.scanChecks(t, paths)
	return scripts
}

// scanChecks is checkScripts, also saying whether any command on the way
// is a package manager that runs package.json's scripts.
func (e *Engine) scanChecks(t *store.Ticket, paths []string) (scripts map[string]bool, packageManager bool) {
	out := map[string]bool{}
	for _, p := range paths {
		if isRunnerConfig(p) {
			out[p] = true
		}
	}
	root, err := os.OpenRoot(t.Worktree)
	if err != nil {
		return out, false
	}
	defer root.Close()
	var scan func(cmds string, depth int)
	add := func(w string, depth int, shell bool) {
		w = strings.TrimPrefix(path.Clean(strings.TrimPrefix(w, "./")), "./")
		if w == "" || w == "." || strings.HasPrefix(w, "/") || strings.HasPrefix(w, "..") || strings.ContainsAny(w, "$*?=`") || out[w] {
			return
		}
		// a link is followed as the shell would, inside the worktree only
		data, err := wtfile.ReadLinked(root, filepath.FromSlash(w), 64<<10)
		var special *wtfile.NotRegularError
		if errors.Is(err, fs.ErrNotExist) || errors.As(err, &special) {
			return
		}
		// what cannot be read (too large, a link out of the worktree) is
		// still a file the commands run
		out[w] = true
		if err != nil || depth >= 3 {
			return
		}
		text := string(data)
		switch {
		case isMakefile(w):
			var recipes []string
			for _, line := range strings.Split(text, "\n") {
				if strings.HasPrefix(line, "\t") {
					recipes = append(recipes, strings.TrimLeft(line, "\t@-+ "))
				}
			}
			scan(strings.Join(recipes, "\n"), depth+1)
		case shell || strings.HasSuffix(w, ".sh") || strings.HasSuffix(w, ".bash") || strings.HasPrefix(text, "#!") && strings.Contains(strings.SplitN(text, "\n", 2)[0], "sh"):
			scan(text, depth+1)
		}
	}
	scan = func(cmds string, depth int) {
		// quotes go: `bash -c "./ci.sh --fast"` runs ./ci.sh
		cmds = strings.NewReplacer(`"`, " ", "'", " ").Replace(cmds)
		for _, words := range commandWords(cmds) {
			if strings.HasPrefix(words[0], "#") {
				continue
			}
			if packageManagers[path.Base(words[0])] {
				packageManager = true
			}
			switch prog := words[0]; {
			case prog == "make":
				for _, m := range []string{"GNUmakefile", "makefile", "Makefile"} {
					add(m, depth, false)
				}
			case interpreters[prog] && strings.HasPrefix(prog, "python") && slices.Contains(words, "-m"):
				// `python -m unittest` looks in the directory it runs in
				// first: a unittest.py there is what runs
				if i := slices.Index(words, "-m"); i+1 < len(words) {
					mod := words[i+1]
					top, _, _ := strings.Cut(mod, ".")
					dir := strings.ReplaceAll(mod, ".", "/")
					for _, f := range []string{top + ".py", top + "/__init__.py", dir + ".py", dir + "/__main__.py"} {
						add(f, depth, false)
					}
				}
			case interpreters[prog]:
				shell := shells[prog]
				for _, w := range words[1:] {
					if !strings.HasPrefix(w, "-") {
						add(w, depth, shell)
						break
					}
				}
			case prog == "." || prog == "source":
				if len(words) > 1 {
					add(words[1], depth, true)
				}
			default:
				add(prog, depth, false)
			}
		}
	}
	for _, cmd := range []string{e.testCmd(t), e.ciCmd(t)} {
		scan(cmd, 0)
	}
	return out, packageManager
}

var (
	checkKeywords = map[string]bool{"if": true, "then": true, "else": true, "elif": true, "do": true, "while": true, "until": true, "exec": true, "time": true, "!": true, "{": true}
	interpreters  = map[string]bool{"sh": true, "bash": true, "dash": true, "zsh": true, "python": true, "python3": true, "node": true, "perl": true, "ruby": true, "bun": true, "deno": true}
	shells        = map[string]bool{"sh": true, "bash": true, "dash": true, "zsh": true}
	// package managers that run package.json's scripts
	packageManagers = map[string]bool{"npm": true, "npx": true, "yarn": true, "pnpm": true, "bun": true}
)

func isMakefile(p string) bool {
	switch path.Base(p) {
	case "GNUmakefile", "makefile", "Makefile":
		return true
	}
	return false
}

// isRunnerConfig is a test runner's own configuration: what it runs, and
// how (a conftest.py hook can pass every test).
func isRunnerConfig(p string) bool {
	base := strings.ToLower(path.Base(p))
	switch base {
	case "conftest.py", "pytest.ini", "tox.ini", "noxfile.py", ".rspec", "phpunit.xml", "phpunit.xml.dist", ".mocharc", "karma.conf.js":
		return true
	}
	for _, prefix := range []string{"jest.config.", "vitest.config.", ".mocharc.", "karma.conf.", "playwright.config.", "cypress.config."} {
		if strings.HasPrefix(base, prefix) {
			return true
		}
	}
	return false
}

// ownConfigPaths are agent-tui's own configuration files in a repository,
// read from the user's checkout at start: a ticket's branch that changes
// them could send an API key elsewhere or turn the sandbox off.
var ownConfigPaths = []string{config.RepoConfigName, filepath.ToSlash(prompts.OverrideDir(""))}

// ownConfig lists the paths among changed that are, hold or lead to
// (.agent-tui made a symlink) agent-tui's own configuration. Compared
// without case: a case-insensitive file system loads .AGENT-TUI.toml too.
func ownConfig(changed []string) []string {
	var out []string
	for _, p := range changed {
		if isOwnConfig(p) {
			out = append(out, p)
		}
	}
	return out
}

// hooksAmong are the changed paths in (or naming) the hooks directory
// dir ("": none in the work tree).
func hooksAmong(dir string, changed []string) []string {
	if dir == "" {
		return nil
	}
	var out []string
	for _, p := range changed {
		if strings.EqualFold(p, dir) || (len(p) > len(dir) && p[len(dir)] == '/' && strings.EqualFold(p[:len(dir)], dir)) {
			out = append(out, p)
		}
	}
	return out
}

// gitDirsAmong are the directories of the worktree wt, on the way to a
// changed path, laid out as a git repository (a HEAD beside objects/,
// refs/ or commondir): git run there, by a person or their shell's
// prompt, takes it for one and runs what its config says (hooks,
// core.fsmonitor) as them. A nested .git is taken out at staging; this
// layout is not one git add sees.
func gitDirsAmong(wt string, changed []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range changed {
		for d := path.Dir(p); d != "." && d != "/" && !seen[d]; d = path.Dir(d) {
			seen[d] = true
			dir := filepath.Join(wt, filepath.FromSlash(d))
			has := func(name string) bool {
				_, err := os.Lstat(filepath.Join(dir, name))
				return err == nil
			}
			// git takes HEAD as a symlink too, and finds objects/ and
			// refs/ through links or a commondir file: any of them with
			// a HEAD is enough to refuse
			if has("HEAD") && (has("objects") || has("refs") || has("commondir")) {
				out = append(out, d)
			}
		}
	}
	sort.Strings(out)
	return out
}

// sourcelessModules are the worktree's .pyc files outside __pycache__
// (at most five named): Python writes its caches only inside those, and
// imports one found beside the sources as the module itself, so a check
// could pass on code no commit holds. Dependency and build directories
// are not looked in, nor more than 20000 entries.
func sourcelessModules(wt string) []string {
	var out []string
	seen := 0
	filepath.WalkDir(wt, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if seen++; seen > 20000 || len(out) >= 5 {
			return filepath.SkipAll
		}
		name := d.Name()
		if d.IsDir() {
			switch name {
			case ".git", "__pycache__", "node_modules", ".venv", "venv", ".tox", ".nox", "site-packages", "target", "vendor":
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(name, ".pyc") { // a link to one is imported as one
			if rel, err := filepath.Rel(wt, p); err == nil {
				out = append(out, filepath.ToSlash(rel))
			}
		}
		return nil
	})
	return out
}

// gitDirObjection is what the guards say of gitDirsAmong's finds.
func gitDirObjection(dirs []string) string {
	return "a directory laid out as a git repository was written (" + strings.Join(dirs, ", ") + ": HEAD beside objects/, refs/ or commondir): git run there would take it for a repository and run what its config says as the user; remove it"
}

// isOwnConfig says whether the path p is, holds or leads to agent-tui's
// own configuration (see ownConfig).
func isOwnConfig(p string) bool {
	under := func(p, dir string) bool {
		return len(p) > len(dir) && p[len(dir)] == '/' && strings.EqualFold(p[:len(dir)], dir)
	}
	for _, c := range ownConfigPaths {
		if strings.EqualFold(p, c) || under(p, c) || under(c, p) {
			return true
		}
	}
	return false
}

// touchedScripts lists the check scripts among changed paths.
func (e *Engine) touchedScripts(t *store.Ticket, changed []string) []string {
	scripts := e.checkScripts(t, changed)
	var hit []string
	for _, f := range changed {
		if scripts[f] {
			hit = append(hit, f)
		}
	}
	return hit
}

// isTestSource is a test file a test runner executes, not what a run
// leaves beside the tests (caches, snapshots, reports).
func isTestSource(p string) bool {
	switch strings.ToLower(path.Ext(p)) {
	case ".go", ".py", ".js", ".jsx", ".ts", ".tsx", ".mjs", ".cjs", ".rb", ".rs", ".java", ".kt", ".scala", ".cs", ".php", ".sh", ".bash", ".c", ".cc", ".cpp", ".h", ".swift", ".ex", ".exs":
		return isTestFile(p)
	}
	return false
}

// testFiles are the test files on the branch that differ from the base,
// with their hashes, and the check scripts changed with them. It stages
// the worktree: the tests commit is what was checked, without what the red
// test run leaves behind.
func (e *Engine) testFiles(ctx context.Context, t *store.Ticket) (files map[string]string, changed []string, err error) {
	changed, err = e.repo.StageAll(ctx, t.Worktree, t.BaseBranch)
	if err != nil {
		return nil, nil, err
	}
	var tests []string
	for _, f := range changed {
		if isTestFile(f) {
			tests = append(tests, f)
		}
	}
	if len(tests) == 0 {
		return nil, changed, nil
	}
	// how the tests are run may be part of writing them (a Makefile
	// target, a conftest.py fixture): frozen with them from here on
	for _, f := range e.touchedScripts(t, changed) {
		if !slices.Contains(tests, f) {
			tests = append(tests, f)
		}
	}
	files, err = e.repo.HashFiles(t.Worktree, tests)
	return files, changed, err
}

// maxMarkedBytes caps the conflicted files read for markers.
const maxMarkedBytes = 32 << 20

// stillMarked lists the files that still hold a conflict marker line.
func stillMarked(wt string, files []string) []string {
	var out []string
	root, err := os.OpenRoot(wt)
	if err != nil {
		return nil
	}
	defer root.Close()
	for _, f := range files {
		data, err := wtfile.Read(root, filepath.FromSlash(f), maxMarkedBytes)
		if errors.Is(err, wtfile.ErrTooLarge) {
			// not read, so not known to be resolved
			out = append(out, f)
			continue
		}
		if err != nil {
			continue // deleted (resolved by removing it), or a link: no markers
		}
		for _, line := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(line, "<<<<<<< ") || strings.HasPrefix(line, ">>>>>>> ") {
				out = append(out, f)
				break
			}
		}
	}
	return out
}

// npmScriptsChanged says whether the worktree's package.json runs other
// scripts than its last commit: `npm test` runs what they say. The rest
// of the file (dependencies) is the code's to change.
func (e *Engine) npmScriptsChanged(ctx context.Context, t *store.Ticket, file string) bool {
	// scripts is the scripts member, compacted; ok is false for no JSON
	scripts := func(data []byte) (string, bool) {
		var pkg struct {
			Scripts json.RawMessage `json:"scripts"`
		}
		if json.Unmarshal(data, &pkg) != nil {
			return "", false
		}
		var canon bytes.Buffer
		if json.Compact(&canon, pkg.Scripts) != nil {
			return string(pkg.Scripts), true
		}
		return canon.String(), true
	}
	data, err := wtfile.ReadIn(t.Worktree, filepath.FromSlash(file), 4<<20)
	if errors.Is(err, fs.ErrNotExist) {
		return false // deleted: nothing runs
	}
	if err != nil {
		// a link (npm follows it) or a huge file in place of a changed
		// package.json: not read, so counted as a change
		return true
	}
	now, nowOK := scripts(data)
	// the last commit, or after the base was merged in with a conflict in
	// package.json (markers: no JSON), either side of that merge
	existed := false
	for _, rev := range []string{"HEAD", "HEAD^1", "HEAD^2"} {
		data, err := e.repo.ShowFile(ctx, t.Worktree, rev, file)
		if err != nil {
			continue
		}
		existed = true
		before, ok := scripts(data)
		if before == now && ok == nowOK {
			return false
		}
		if rev == "HEAD" && ok {
			return true // a readable last commit decides
		}
	}
	// a new package.json below the root is a new package (a workspace
	// member the code adds): its scripts are its own; a new root one is
	// what npm test now runs
	return existed || path.Clean(file) == "package.json"
}

// runsNpm says whether the test or CI command goes through a package
// manager that runs package.json's scripts, itself or from a script or
// Makefile it runs.
func (e *Engine) runsNpm(t *store.Ticket) bool {
	for _, w := range strings.FieldsFunc(e.testCmd(t)+" "+e.ciCmd(t), func(r rune) bool { return !unicode.IsLetter(r) }) {
		if packageManagers[w] {
			return true
		}
	}
	_, viaScripts := e.scanChecks(t, nil)
	return viaScripts
}

// acceptedTestFiles are the test files the accepted tests attempt wrote,
// computed again only when a human accepted an attempt the checks did not.
func (e *Engine) acceptedTestFiles(ctx context.Context, t *store.Ticket, ps *store.PhaseState) (map[string]string, error) {
	if ps.Accepted != 0 {
		if a, err := e.st.Attempt(t.ID, ps.Accepted); err == nil && len(a.TestFiles) > 0 && e.onDisk(t, a.TestFiles) {
			return a.TestFiles, nil
		}
	}
	// what is in the worktree is what gets committed
	files, _, err := e.testFiles(ctx, t)
	return files, err
}

// onDisk says whether the worktree holds exactly these file versions.
func (e *Engine) onDisk(t *store.Ticket, files map[string]string) bool {
	return len(e.changedFiles(t.Worktree, files)) == 0
}

// changedTestFiles lists frozen test files whose content differs now.
func (e *Engine) changedTestFiles(t *store.Ticket) []string {
	return e.changedFiles(t.Worktree, t.TestFiles)
}

// changedFiles lists, sorted, the files whose content in the worktree is
// not the version hashed in files (all of them when they cannot be read).
func (e *Engine) changedFiles(wt string, files map[string]string) []string {
	if len(files) == 0 {
		return nil
	}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	now, err := e.repo.HashFiles(wt, names)
	if err != nil {
		return names
	}
	var changed []string
	for _, n := range names {
		if now[n] != files[n] {
			changed = append(changed, n)
		}
	}
	return changed
}

// maxBodyBytes caps a file shown whole by fileBodies.
const maxBodyBytes = 1 << 20

// fileBodies shows files of a worktree as markdown code blocks, each cut to
// limit bytes (0: up to maxBodyBytes). A symlink is shown by its target's
// name, never its content (it may point at a key outside the worktree);
// a fifo or device by its type.
func fileBodies(dir string, files map[string]string, limit int) string {
	if limit <= 0 {
		limit = maxBodyBytes
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return ""
	}
	defer root.Close()
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		data, _, err := wtfile.Head(root, filepath.FromSlash(n), int64(limit)+1)
		var link *wtfile.SymlinkError
		var special *wtfile.NotRegularError
		switch {
		case errors.As(err, &link):
			fmt.Fprintf(&b, "### %s\n\n(symlink to %s)\n\n", n, link.Target)
		case errors.As(err, &special):
			fmt.Fprintf(&b, "### %s\n\n(%s, not a regular file)\n\n", n, special.Mode.Type())
		case err == nil:
			fmt.Fprintf(&b, "### %s\n\n```\n%s\n```\n\n", n, cut(string(data), limit, false))
		}
	}
	return b.String()
}

// sayCheck shows in the attempt's live stream the command its check runs,
// which may take minutes with nothing else on screen; the outcome goes
// to the CI tab when it ends.
func (e *Engine) sayCheck(t *store.Ticket, a *store.Attempt, command string) {
	e.broker.delta(t.ID, a.Seq, "\n$ "+command+"   (the check runs; its outcome goes to the CI tab)\n")
}

// runCheck runs a project command (tests, CI) in the ticket's worktree with
// the command timeout and a scrubbed environment; it never returns an
// error, a command that cannot start is a failed check.
func (e *Engine) runCheck(ctx context.Context, t *store.Ticket, name, command string, timeout time.Duration) store.Check {
	dir := t.Worktree
	c := store.Check{Name: name, Command: command}
	if strings.TrimSpace(command) == "" {
		c.ExitCode = -1
		c.NotRun = "is not set"
		c.Output = "no test command: set test_command in the config (none could be detected)"
		return c
	}
	if timeout <= 0 {
		timeout = e.cfg.CommandTimeout.Duration
	}
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	env := tools.ScrubEnv(os.Environ(), e.secretEnvNames())
	argv := tools.CommandArgv(command, dir)
	var res tools.Result
	var err error
	if e.cfg.Sandbox == "off" {
		res, err = tools.Exec(ctx, argv, dir, env, timeout, checkOutputKept)
	} else {
		// the tests are the model's, and their output goes to the next
		// model: they may write only the worktree, the temp dir and the
		// caches (never .git's config or hooks, which agent-tui's own git
		// would run), and read no other ticket's files; its worktree and
		// temp dir lie in a hidden directory, yet are its own
		tmp := e.ticketTemp(t)
		if os.MkdirAll(tmp, 0o700) == nil {
			// files made later beside a hidden path cannot be read back
			// (Landlock allows by path, as it was when the check began):
			// temporary files go where they can
			env = tools.WithTMPDIR(env, tmp)
			if t.Sensitive {
				env = tools.PrivateCaches(env, tmp)
			}
		}
		res, err = tools.ExecConfined(ctx, argv, dir, env, timeout, checkOutputKept, tools.CheckWritable(t.Sensitive, dir, tmp), e.privateStore(t), append(e.hiddenFromCommands(), tools.HomeKeys()...))
	}
	if res.Unconfined != "" {
		e.unconfinedChecks.Do(func() {
			e.log.Warn("test and CI runs are not kept from reading other tickets", "why", res.Unconfined)
		})
	}
	c.ExitCode, c.Output, c.Pass = res.ExitCode, res.Output, err == nil && !res.TimedOut && res.ExitCode == 0
	if !c.Pass && err == nil && !res.TimedOut && e.cfg.Sandbox != "off" && res.Unconfined == "" && name != CheckTestsRed {
		// said where the excerpt in objections and the status line reads
		// it: a test that needs more than the sandbox gives fails for that
		// alone, and the person reading should know to look there
		c.Output += "\n" + confinedNote
	}
	switch {
	case err != nil && ctx.Err() != nil:
		c.ExitCode = -1
		c.NotRun = "was cut off (the run stopped, or the ticket was cancelled)"
		c.Output += "\n" + err.Error()
	case err != nil:
		c.ExitCode = -1
		c.NotRun = "could not be started"
		c.Output += "\n" + err.Error()
	case res.TimedOut:
		c.NotRun = store.NotRunTimedOut + " after " + timeout.String()
		c.Output += fmt.Sprintf("\n[timed out after %s]", timeout)
	case res.ExitCode == 127 && argv[0] == "sh" && (!tools.Resolves(command, dir) || notFoundProgram(command, res.Output) != ""),
		res.ExitCode == 1 && missingModule(command, res.Output, dir) != "":
		// the shell's "not found" of the command's own program (or
		// Python's of the module it runs), not a test's exit status (a
		// test may well run a tool not built yet)
		c.NotRun = "was not found"
	}
	return c
}

// secretEnvNames are the variables the config names for API keys.
func (e *Engine) secretEnvNames() []string {
	var names []string
	for _, p := range e.cfg.Providers {
		if p.APIKeyEnv != "" {
			names = append(names, p.APIKeyEnv)
		}
	}
	return names
}

// outputExcerpt is the end of a failed check's output on one line, for an
// objection: what the run printed, not the confinement note after it
// (which would take most of the room), said short instead.
func outputExcerpt(c store.Check, n int) string {
	out, confined := strings.CutSuffix(c.Output, "\n"+confinedNote)
	excerpt := OneLine(tailBytes(out, n), n)
	if confined {
		excerpt += " [the run was confined: it could write only the worktree, $TMPDIR, /dev/shm and caches, and make no unix socket]"
	}
	return excerpt
}

// confinedNote ends the output of a confined test or CI run that failed.
const confinedNote = "[agent-tui: this run was confined: it could write only the worktree, $TMPDIR, /dev/shm and package caches, and make no unix socket (Python's forkserver and Manager need one) nor open a terminal; a test that needs more fails here (sandbox = \"off\" in the config runs it unconfined)]"
