package engine

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"agent-tui/engine/config"
	"agent-tui/engine/tools"
	"agent-tui/engine/workspace"
	"agent-tui/engine/wtfile"
	"agent-tui/prompts"
	"agent-tui/store"

	"github.com/pelletier/go-toml/v2"
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
// writes: its program, a plain name, is not installed, or one its
// Makefile recipe or package.json script runs (jest for npm test). (A
// path, such as ./run_tests.sh, may be the tests phase's to write.)
func (e *Engine) missingProgram(t *store.Ticket, c store.Check, key string) string {
	if dep := missingDependency(t.Worktree, e.repo.DependencyLink(), c.Output); !c.Pass && dep != "" {
		return fmt.Sprintf("the command `%s` could not load %s, a dependency package.json declares that is not installed where the run looked (a worktree has no node_modules of its own; your checkout's is shared with it, unless it links to the checkout's own packages, as a workspace's does): install the dependencies in your checkout, or set %s to install them first (npm ci && npm test), then restart and retry", c.Command, dep, key)
	}
	if c.NotRun != "was not found" {
		return ""
	}
	prog := notFoundProgram(c.Command, c.Output)
	if prog == "" {
		if runner := e.notFoundRunner(t, c.Command, c.Output); runner != "" {
			return fmt.Sprintf("the command `%s` runs %s, which was not found (%s is not installed, or not on PATH): install it, or fix %s in the config, then restart and retry", c.Command, runner, runner, key)
		}
		if f := strings.Fields(c.Command); len(f) > 0 {
			prog = f[0]
		}
	}
	if prog == "" || strings.Contains(prog, "/") {
		return ""
	}
	return fmt.Sprintf("the command `%s` was not found (%s is not installed, or not on PATH): fix %s in the config, or install it, then restart and retry", c.Command, prog, key)
}

var (
	nodeCannotFind = regexp.MustCompile(`Cannot find (?:module|package) '([^'./][^']*)'`)
	// the files that asked: CommonJS's require stack (node --test's TAP
	// puts "# " before it), an ES module's "imported from"
	requireStack = regexp.MustCompile(`(?m)^[#\s]*- (/[^\n]+)$|imported from (/[^\s']+)`)
)

// missingDependency is a package Node said it could not load (a bare
// name, not a file of the project) that a package.json of the worktree
// wt declares, the top one or one above a file in the require stack,
// and that is installed nowhere the run looked (beside those, or in the
// shared link): a setup's fault that no code fixes, unlike a path into
// an installed package that is not there; "" when there is none.
func missingDependency(wt, link, output string) string {
	if wt == "" {
		return ""
	}
	manifests := []string{"package.json"}
	for _, m := range requireStack.FindAllStringSubmatch(output, 5) {
		rel, err := filepath.Rel(wt, m[1]+m[2])
		if err != nil || strings.HasPrefix(rel, "..") {
			continue
		}
		for d := path.Dir(filepath.ToSlash(rel)); d != "."; d = path.Dir(d) {
			manifests = append(manifests, d+"/package.json")
		}
	}
	for _, m := range nodeCannotFind.FindAllStringSubmatch(output, 5) {
		parts := strings.Split(m[1], "/")
		pkg := parts[0]
		if strings.HasPrefix(pkg, "@") && len(parts) > 1 {
			pkg += "/" + parts[1]
		}
		installed := func(dir string) bool {
			_, err := os.Stat(filepath.Join(dir, "node_modules", filepath.FromSlash(pkg)))
			return err == nil
		}
		if link != "" && installed(filepath.Dir(link)) || slices.ContainsFunc(manifests, func(f string) bool { return installed(filepath.Join(wt, filepath.FromSlash(path.Dir(f)))) }) {
			continue
		}
		for _, f := range manifests {
			data, err := wtfile.ReadIn(wt, filepath.FromSlash(f), 4<<20)
			if err != nil {
				continue
			}
			var p struct {
				Dependencies, DevDependencies, PeerDependencies, OptionalDependencies map[string]string
			}
			if json.Unmarshal(data, &p) != nil {
				continue
			}
			for _, deps := range []map[string]string{p.Dependencies, p.DevDependencies, p.PeerDependencies, p.OptionalDependencies} {
				if _, ok := deps[pkg]; ok {
					return pkg
				}
			}
		}
	}
	return ""
}

// isMake says prog runs make.
func isMake(prog string) bool { return prog == "make" || prog == "gmake" }

var checkWordsReplacer = strings.NewReplacer(`"`, " ", "'", " ", "$(MAKE)", "make", "${MAKE}", "make")

// what make says of a target it ran nothing for, and of the directory a
// (sub-)make works in, by its level (make[1]: a sub-make)
var makeSays = regexp.MustCompile(`make(?:\[(\d+)\])?: (?:'([^'\n]+)' is up to date\.|Nothing to be done for '([^'\n]+)'\.|(Entering|Leaving) directory '([^'\n]+)')`)

// makeRanNothing is a target make (or a sub-make) said was up to date
// that the attempt made a file or directory of (changed, and not in the
// last commit: an existing docs/ the fix edits is no new namesake): it
// stands for the target (one not .PHONY), which so never ran; "" when
// none. The target is looked for in the directory make said it worked
// in (-C, a sub-make), and so are the prerequisites its Makefile there
// gives it (test: unit, a unit/ made). Where a sub-make did not say
// (--no-print-directory), the target's name is looked for anywhere.
func makeRanNothing(output, wt string, changed, makefiles []string, committed func(string) bool) string {
	made := func(p string) bool {
		return slices.ContainsFunc(changed, func(c string) bool { return c == p || strings.HasPrefix(c, p+"/") }) && !committed(p)
	}
	dirs := map[string]string{} // by level: the worktree-relative directory, "?" when outside it
	for _, m := range makeSays.FindAllStringSubmatch(output, 200) {
		level := m[1]
		if m[4] != "" {
			if m[4] == "Entering" {
				dirs[level] = withinWorktree(wt, m[5])
			} else {
				delete(dirs, level)
			}
			continue
		}
		target := m[2] + m[3]
		dir, known := dirs[level]
		switch {
		case dir == "?":
			continue
		case !known && level != "":
			// a sub-make that did not say where: its target by name, anywhere
			for _, c := range changed {
				if i := strings.Index("/"+c+"/", "/"+target+"/"); i >= 0 && !committed(c[:i+len(target)]) {
					return target
				}
			}
			continue
		}
		for _, name := range append([]string{target}, makePrerequisites(wt, dir, target, makefiles)...) {
			if p := path.Join(dir, name); made(p) {
				return p
			}
		}
	}
	return ""
}

// withinWorktree is the directory abs (as make prints it, links
// resolved) relative to the worktree wt, "?" when it is outside.
func withinWorktree(wt, abs string) string {
	for _, top := range []string{wt, resolvedPath(wt)} {
		if rel, err := filepath.Rel(top, abs); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel) {
			return filepath.ToSlash(rel)
		}
	}
	return "?"
}

func resolvedPath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		return r
	}
	return p
}

// makePrerequisites are the targets target depends on, directly or not,
// as the Makefiles make reads in dir (of the worktree wt) name them, their
// plain variables expanded: the default one, those it includes, and the
// check files there (`make -f tests.mk`, among makefiles). Not the .PHONY
// ones, which no file stands for, nor those with prerequisites of their
// own or no rule: a file made from others (table.go: spec.txt) is up to
// date once made again from them, as a build leaves it, and a source is
// no target.
func makePrerequisites(wt, dir, target string, makefiles []string) []string {
	var text strings.Builder
	read := func(name string) bool {
		data, err := wtfile.ReadIn(wt, filepath.FromSlash(path.Join(dir, name)), 1<<20)
		if err == nil {
			text.Write(data)
			text.WriteByte('\n')
		}
		return err == nil
	}
	for _, name := range []string{"GNUmakefile", "makefile", "Makefile"} {
		if read(name) {
			break
		}
	}
	for _, f := range makefiles {
		if path.Dir(f) == path.Clean(dir) && !isMakefile(f) {
			read(path.Base(f))
		}
	}
	for _, line := range strings.Split(text.String(), "\n") {
		if f := strings.Fields(line); len(f) > 1 && (f[0] == "include" || f[0] == "-include" || f[0] == "sinclude") {
			for _, inc := range strings.Fields(expandMakeVars(text.String(), strings.Join(f[1:], " "))) {
				if !strings.ContainsAny(inc, "$*?[") {
					read(inc)
				}
			}
		}
	}
	all := text.String()
	vars := makeVars(all) // made once: a long Makefile has many rules
	deps := map[string][]string{}
	phony, ruled := map[string]bool{}, map[string]bool{}
	for _, line := range strings.Split(all, "\n") {
		if strings.HasPrefix(line, "\t") {
			continue
		}
		line, _, _ = strings.Cut(line, "#")
		line, _, _ = strings.Cut(line, ";")
		if strings.Contains(line, "$") {
			line = vars.Replace(line)
		}
		targets, prereqs, ok := strings.Cut(line, ":")
		if !ok || strings.HasPrefix(prereqs, "=") || strings.ContainsAny(targets, "=$%") {
			continue // an assignment (:=), a variable's or a pattern's rule
		}
		prereqs = strings.TrimPrefix(prereqs, ":")
		prereqs, _, _ = strings.Cut(prereqs, "|")
		for _, t := range strings.Fields(targets) {
			if t == ".PHONY" {
				for _, p := range strings.Fields(prereqs) {
					phony[p] = true
				}
				continue
			}
			ruled[t] = true
			for _, p := range strings.Fields(prereqs) {
				if !strings.ContainsAny(p, "$%*?") {
					deps[t] = append(deps[t], p)
				}
			}
		}
	}
	var out []string
	seen := map[string]bool{target: true}
	next := deps[target]
	for len(next) > 0 && len(seen) < 200 {
		p := next[0]
		next = next[1:]
		if seen[p] {
			continue
		}
		seen[p] = true
		if ruled[p] && !phony[p] && len(deps[p]) == 0 {
			out = append(out, p)
		}
		next = append(next, deps[p]...)
	}
	return out
}

var makeAssignment = regexp.MustCompile(`(?m)^(?:override +|export +)?([A-Za-z_][A-Za-z0-9_]*) *(=|:=|::=|\?=) *([^$\n#]*?) *(?:#.*)?$`)

// expandMakeVars puts into s (recipes, a rule) the values the Makefile
// text gives its variables plainly (SUB = tests: $(MAKE) -C $(SUB) runs
// tests/'s Makefile); see makeVars.
func expandMakeVars(text, s string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	return makeVars(text).Replace(s)
}

// makeVars replaces the variables the Makefile text gives plainly with
// their values: the last one given, a ?= only where none is; a value made
// of others, or one the command line could override, is the one written.
func makeVars(text string) *strings.Replacer {
	values, byDefault := map[string]string{}, map[string]string{}
	for _, m := range makeAssignment.FindAllStringSubmatch(text, 200) {
		switch {
		case m[1] == "MAKE" || m[1] == "SHELL":
		case m[2] != "?=":
			values[m[1]] = m[3]
		default:
			if _, ok := byDefault[m[1]]; !ok {
				byDefault[m[1]] = m[3]
			}
		}
	}
	for name, v := range byDefault {
		if _, ok := values[name]; !ok {
			values[name] = v
		}
	}
	var pairs []string
	for name, v := range values {
		pairs = append(pairs, "$("+name+")", v, "${"+name+"}", v)
	}
	return strings.NewReplacer(pairs...)
}

// notFoundRunner is the program, by plain name, that a command runs
// directly (itself, from a Makefile recipe, from a package.json script)
// and that the output says was not found: "sh: 1: jest: not found",
// make's "make: pytest: No such file or directory", cargo's "no such
// command: `nextest`" (cargo-nextest); "" when there is none. Not one a
// script file runs: a script may set its own PATH, and a test may run a
// tool not built yet.
func (e *Engine) notFoundRunner(t *store.Ticket, command, output string) string {
	for _, words := range e.walkChecks(t, nil, command).direct {
		prog := words[0]
		if prog == "cargo" {
			for _, sub := range words[1:] {
				if strings.HasPrefix(sub, "-") || strings.HasPrefix(sub, "+") {
					continue
				}
				if strings.Contains(output, "no such command: `"+sub+"`") || strings.Contains(output, "no such subcommand: `"+sub+"`") {
					return "cargo-" + sub
				}
				break
			}
		}
		if prog == "" || strings.ContainsAny(prog, "/$`'\"") {
			continue
		}
		for _, said := range []string{" " + prog + ": not found", " " + prog + ": command not found", "command not found: " + prog, "make: " + prog + ": No such file or directory", "make: " + prog + ": Command not found", "env: '" + prog + "': No such file or directory", "env: " + prog + ": No such file or directory"} {
			if strings.Contains(output, said) {
				return prog
			}
		}
	}
	return ""
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
		if drivers := slices.DeleteFunc(slices.Clone(changed), func(p string) bool { return !slices.Contains(e.repo.DriverFiles(), p) }); len(drivers) > 0 {
			return "the scripts your git config runs as filter or merge drivers were changed (" + workspace.SomeFiles(drivers) + "): git runs them as you, unconfined, on your git commands in your checkout once merged, so a person must make that change, not a ticket; undo it and change only the project's files"
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
		files, scripts, changed, err := e.testFiles(ctx, t)
		if err != nil {
			return err
		}
		if why := ownConfigChanged(changed); why != "" {
			return fail("check", why)
		}
		if dirs := gitDirsAmong(t.Worktree, changed); len(dirs) > 0 {
			return fail("check", gitDirObjection(dirs))
		}
		if len(files) == 0 && len(changed) > 0 {
			// written, but not where or as the runner finds tests
			return fail("check", "no test file differs from "+t.BaseBranch+": the files changed ("+workspace.SomeFiles(changed)+") are not test files by name; test files are "+testConventions+". Write the failing tests the plan asks for where the project's test runner finds them")
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
		if why := e.missingProgram(t, c, "test_command"); why != "" {
			return &humanStop{why}
		}
		if c.NotRun != "" {
			return fail("check", fmt.Sprintf("the test command `%s` %s: the tests must run and fail, not fail to run: %s", c.Command, c.NotRun, OneLine(tailBytes(c.Output, 400), 400)))
		}
		if said := noTestsFound(c); said != "" {
			// a runner that found nothing to run fails too, and code
			// could never make that pass
			if jestLike(said) && strings.Contains(filepath.ToSlash(t.Worktree), "/.git/") {
				return &humanStop{fmt.Sprintf("the test command `%s` found no tests (%q): Jest and Vitest skip every path inside a .git directory, and this ticket's worktree %s is in one (made there by an earlier agent-tui, or for want of a home directory to keep worktrees in: see README); set test_command to a runner that does, or take the ticket over by hand", c.Command, said, t.Worktree)}
			}
			return fail("check", fmt.Sprintf("the test command `%s` found no tests to run (%q): write the failing tests where and as its runner finds them", c.Command, said))
		}
		a.TestFiles = files
		deliverable += "\n\n" + fileBodies(t.Worktree, files, 0) // whole: the budget cuts, and says so
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
		if rv := phaseState(t, config.Review); ps.Name == config.Code && len(changed) == 0 && (rv == nil || rv.Attempts == 0) {
			// green on nothing the branch keeps: an ignored file (a .env
			// a Makefile includes) or luck changed the run, and the
			// merge would bring none of it. (Once a review has read the
			// code, code may answer an objection with no change.)
			guards = append(guards, "no file the branch keeps was changed (ignored files are never committed or merged): change the code the failing tests exercise")
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
			// a source, not what a run leaves beside the tests (caches,
			// snapshots, reports)
			if _, frozen := t.TestFiles[f]; isTestFile(f) && !frozen {
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
		runsNpm := sync.OnceValue(func() bool { return e.runsNpm(t) })
		for _, f := range added {
			// any package.json: a script may `cd web && npm test`, and
			// workspaces run their members' scripts
			if path.Base(f) == "package.json" && runsNpm() && e.npmScriptsChanged(ctx, t, f) {
				hit = append(hit, f+"'s scripts or test runner settings")
			}
			if (path.Base(f) == "pyproject.toml" || path.Base(f) == "setup.cfg") && e.pytestSettingsChanged(ctx, t, f) {
				hit = append(hit, f+"'s pytest settings")
			}
			if path.Base(f) == "Cargo.toml" && e.cargoSettingsChanged(ctx, t, f) {
				hit = append(hit, f+"'s build and test settings (anything but dependencies and package metadata)")
			}
		}
		if len(hit) > 0 {
			guards = append(guards, "the files the test and CI commands run were changed ("+strings.Join(hit, ", ")+"): change the code, not how it is checked")
		}
		if stray := sourcelessModules(t.Worktree); len(stray) > 0 {
			guards = append(guards, "compiled Python modules outside __pycache__ are in the worktree ("+strings.Join(stray, ", ")+"): Python imports them in place of source, though they are never committed (ignored, or not added); remove them and change the source")
		}
		if sniff, err := e.testSniffing(ctx, t, added); err != nil {
			return err
		} else if len(sniff) > 0 {
			guards = append(guards, "the code tells a test run from a real one, or changes the test framework ("+strings.Join(sniff, "; ")+"): what ships must be what the tests exercise; fix the code itself")
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
		if why := e.missingProgram(t, c, key); why != "" {
			return &humanStop{why}
		}
		if c.Pass && makeSays.MatchString(c.Output) {
			// the Makefiles the command reads, -f's among them
			makefiles := slices.Sorted(maps.Keys(e.checkScripts(t, nil)))
			if target := makeRanNothing(c.Output, t.Worktree, changed, makefiles, func(p string) bool { return e.repo.InLastCommit(ctx, t.Worktree, p) }); target != "" {
				return fail("check", fmt.Sprintf("`%s` passed without running what it should: make took the target %s for up to date, as this attempt made a file or directory of that name; remove it", cmd, target))
			}
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

// isTestFile says whether a path is a test source file by the default
// conventions of common ecosystems (see testNamed): named as a test and
// with a source extension. A name alone is not enough: a compiled
// build/test_abs is not a test.
func isTestFile(p string) bool {
	return testNamed(p) && sourceExts[strings.ToLower(path.Ext(p))]
}

// testConventions is what testNamed accepts, said to a tests attempt
// whose files were not taken for tests.
const testConventions = "files under tests/, test/, __tests__/ or spec/; named *_test.*, *-test.*, *.test.*, *.spec.*, *_spec.*, test_*, test-*, test.* or tests.*; Python's test*.py; FooTest/FooTests/TestFoo in Java, Kotlin, C#, Swift or PHP; Rust tests added to a .rs file as a #[cfg(test)] module or #[test] functions; each a source or text file, not a build output"

// testNamed says whether a path is named or placed as a test by the
// default conventions: go test (*_test.go), pytest and unittest
// (test_*.py, *_test.py, test*.py, Django's tests.py), node --test
// (*.test.js, *-test.js, *_test.js, test-*.js, test.js, test/), jest and
// vitest (*.spec.*, __tests__/), cargo (tests/, src/tests.rs), rspec,
// minitest, JUnit and its kin (FooTest.java, TestFoo.java).
func testNamed(p string) bool {
	name := path.Base(p)
	base := strings.ToLower(name)
	dir := "/" + strings.ToLower(path.Dir(p)) + "/"
	if strings.Contains(dir, "/tests/") || strings.Contains(dir, "/test/") || strings.Contains(dir, "/__tests__/") || strings.Contains(dir, "/spec/") {
		return true
	}
	if strings.Contains(base, ".test.") || strings.Contains(base, ".spec.") {
		return true
	}
	ext := path.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	low := strings.ToLower(stem)
	switch {
	case low == "test" || low == "tests",
		strings.HasPrefix(low, "test_") || strings.HasPrefix(low, "test-"),
		strings.HasSuffix(low, "_test") || strings.HasSuffix(low, "-test") || strings.HasSuffix(low, "_spec"),
		strings.EqualFold(ext, ".py") && pythonTestName(stem):
		return true
	}
	// CamelCase: FooTest.java, FooTests.cs, FooTestCase.php, TestFoo.java
	if strings.HasSuffix(stem, "Test") || strings.HasSuffix(stem, "Tests") || strings.HasSuffix(stem, "TestCase") {
		return len(stem) > 4
	}
	return len(stem) > 4 && strings.HasPrefix(stem, "Test") && unicode.IsUpper(rune(stem[4]))
}

// testSupport says whether a path is placed where tests keep what they
// read or call, not tests themselves: fixtures, golden files, snapshots,
// mocks, helper packages.
func testSupport(p string) bool {
	support, _ := workspace.TestPlace(p)
	return support
}

// testPlaced says a path is under a directory of tests (tests/, spec/)
// or of what they use: a fixture there of any kind is the tests'.
func testPlaced(p string) bool {
	support, tests := workspace.TestPlace(p)
	return support || tests
}

// noTestsFound is what a test runner printed to say it found no tests to
// run (its exit code says it failed), or "".
func noTestsFound(c store.Check) string {
	for _, said := range []string{"No tests found, exiting with code 1", "No test files found, exiting with code 1", "Error: No test files found", "no tests ran", "collected 0 items", "NO TESTS RAN"} {
		if strings.Contains(c.Output, said) {
			return said
		}
	}
	// pytest's own code for it, whatever a plugin made of the words
	if c.ExitCode == 5 && slices.ContainsFunc(commandWords(c.Command), func(w []string) bool { return slices.ContainsFunc(w, isPytest) }) {
		return "pytest exited with code 5: no tests collected"
	}
	return ""
}

func isPytest(word string) bool { return path.Base(word) == "pytest" || word == "py.test" }

// jestLike: said by Jest or Vitest, whose file finders skip .git paths.
func jestLike(said string) bool { return strings.HasSuffix(said, "exiting with code 1") }

// includeGlobMatches says whether p matches a glob of a Makefile include
// line ("$(wildcard conf/*.inc)").
func includeGlobMatches(line, p string) bool {
	for _, w := range strings.Fields(makeWildcards.Replace(line)) {
		if ok, _ := path.Match(w, p); ok {
			return true
		}
	}
	return false
}

var makeWildcards = strings.NewReplacer("$(wildcard", " ", "${wildcard", " ", ")", " ", "}", " ")

// pythonTestName is unittest's test*.py, but for the words modules of a
// project's own are named with (testing.py, testutils.py): code must be
// able to change those.
func pythonTestName(stem string) bool {
	low := strings.ToLower(stem)
	return strings.HasPrefix(low, "test") && !pythonModuleWords[low]
}

var pythonModuleWords = map[string]bool{
	"testing": true, "tester": true, "testers": true, "testutil": true, "testutils": true,
	"testlib": true, "testhelper": true, "testhelpers": true, "testsupport": true, "testtools": true,
	"testdata": true, "testserver": true, "testapp": true, "testbed": true, "testenv": true,
}

// sourceExts are the extensions of files a test runner executes or
// compiles.
var sourceExts = map[string]bool{}

func init() {
	for _, e := range strings.Fields(".go .py .js .jsx .ts .tsx .mjs .cjs .mts .cts .rb .rs .java .kt .kts .scala .groovy .cs .fs .vb .php .sh .bash .zsh .bats .c .cc .cpp .cxx .h .hpp .m .mm .swift .ex .exs .erl .hs .ml .clj .cljs .lua .pl .pm .t .r .jl .dart .zig .nim .vue .svelte .ps1 .elm .cr .feature") {
		sourceExts[e] = true
	}
}

// isText says whether a worktree file reads as text: no NUL byte in its
// first 8 KiB (a compiled binary has some). A symlink counts: no build
// writes one, and a test's link to a fixture is frozen with the tests.
func isText(root *os.Root, p string) bool {
	data, _, err := wtfile.Head(root, filepath.FromSlash(p), 8<<10)
	var link *wtfile.SymlinkError
	return errors.As(err, &link) || err == nil && bytes.IndexByte(data, 0) < 0
}

// checkScripts are the worktree's files that decide how the test and CI
// commands judge the work: the scripts they run (`sh ci.sh`,
// `./run_tests.sh`, `bash -c "tools/check.sh"`, a Makefile for make and
// the files it includes, a file package.json's scripts run by path), the
// scripts those run in turn, and a test runner's own configuration
// (conftest.py, pytest.ini, jest.config.js, .npmrc, .cargo/config.toml,
// …) among paths. Files a command only mentions (`[ -e x ]`) are not
// among them.
func (e *Engine) checkScripts(t *store.Ticket, paths []string) map[string]bool {
	scripts, _ := e.scanChecks(t, paths)
	return scripts
}

// scanChecks is checkScripts, also saying whether any command on the way
// is a package manager that runs package.json's scripts.
func (e *Engine) scanChecks(t *store.Ticket, paths []string) (scripts map[string]bool, packageManager bool) {
	s := e.walkChecks(t, paths, e.testCmd(t), e.ciCmd(t))
	return s.files, s.packageManager
}

// checkWalk is what walkChecks found.
type checkWalk struct {
	files          map[string]bool
	packageManager bool
	// direct are the simple commands run as the command says, by make
	// from a recipe, or by a package manager from package.json's scripts
	// (not from a script file, which may set its own PATH): a plain
	// program name among them not found is the setup's to fix
	direct [][]string
}

// walkChecks follows the commands cmds to the files they run.
func (e *Engine) walkChecks(t *store.Ticket, paths []string, cmds ...string) *checkWalk {
	w := &checkWalk{files: map[string]bool{}}
	out := w.files
	for _, p := range paths {
		if isRunnerConfig(p) {
			out[p] = true
		}
	}
	root, err := os.OpenRoot(t.Worktree)
	if err != nil {
		return w
	}
	defer root.Close()
	// where a path is looked for: from the directory a `cd` went to,
	// and from the top too (a subshell's cd does not last; more guarded
	// is safe, less is not)
	from := func(dir, p string) []string {
		if dir == "" || strings.HasPrefix(p, "/") {
			return []string{p}
		}
		return []string{path.Join(dir, p), p}
	}
	phony := map[string]bool{} // the targets Makefiles read so far declare .PHONY
	var scan func(cmds string, depth int, dir string, direct bool)
	const (
		plain = iota
		shell
		makefile
	)
	var add func(w string, depth int, kind int, dir string, direct bool)
	addAll := func(p string, depth, kind int, dir string, direct bool) {
		for _, f := range from(dir, p) {
			add(f, depth, kind, dir, direct)
		}
	}
	add = func(w string, depth int, kind int, dir string, direct bool) {
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
		case kind == makefile || isMakefile(w):
			// a Makefile setting PATH may run its own builds by plain name
			direct = direct && !strings.Contains(text, "PATH")
			var recipes []string
			for _, line := range strings.Split(text, "\n") {
				if strings.HasPrefix(line, "\t") {
					recipes = append(recipes, strings.TrimLeft(line, "\t@-+ "))
					continue
				}
				if rest, ok := strings.CutPrefix(strings.Replace(line, ".PHONY :", ".PHONY:", 1), ".PHONY:"); ok {
					for _, target := range strings.Fields(rest) {
						phony[target] = true
					}
				}
				// what it includes is as much the Makefile (SHELL = /bin/true)
				if f := strings.Fields(line); len(f) > 1 && (f[0] == "include" || f[0] == "-include" || f[0] == "sinclude") {
					for _, inc := range f[1:] {
						if strings.ContainsAny(inc, "$*?[") {
							// $(wildcard *.mk), $(LOCAL): not read, so any
							// changed file it could name is taken for it
							for _, p := range paths {
								if strings.HasSuffix(p, ".mk") || includeGlobMatches(strings.Join(f[1:], " "), p) {
									out[p] = true
								}
							}
							continue
						}
						addAll(inc, depth+1, makefile, dir, direct)
					}
				}
			}
			scan(expandMakeVars(text, strings.Join(recipes, "\n")), depth+1, dir, direct)
		case kind == shell || strings.HasSuffix(w, ".sh") || strings.HasSuffix(w, ".bash") || strings.HasPrefix(text, "#!") && strings.Contains(strings.SplitN(text, "\n", 2)[0], "sh"):
			scan(text, depth+1, dir, false)
		}
	}
	// runScripts scans the package.json scripts a package manager's
	// command runs, from the package.json where it runs
	runScripts := func(words []string, depth int, dir string) {
		names := packageScripts(words)
		if len(names) == 0 || depth >= 3 {
			return
		}
		for _, d := range from(dir, ".") {
			data, err := wtfile.ReadLinked(root, filepath.FromSlash(path.Join(d, "package.json")), 4<<20)
			if err != nil {
				continue
			}
			var pkg struct {
				Scripts map[string]string `json:"scripts"`
			}
			if json.Unmarshal(data, &pkg) != nil {
				continue
			}
			for _, n := range names {
				for _, s := range []string{"pre" + n, n, "post" + n} {
					if body, ok := pkg.Scripts[s]; ok {
						scan(body, depth+1, path.Clean(d), true)
					}
				}
			}
		}
	}
	scan = func(cmds string, depth int, dir string, direct bool) {
		if dir == "." {
			dir = ""
		}
		// quotes go: `bash -c "./ci.sh --fast"` runs ./ci.sh; a recipe's
		// $(MAKE) is make (its parentheses would split the command)
		cmds = checkWordsReplacer.Replace(cmds)
		for _, words := range commandWords(cmds) {
			if strings.HasPrefix(words[0], "#") {
				continue
			}
			if direct {
				w.direct = append(w.direct, words)
			}
			if packageManagers[path.Base(words[0])] {
				w.packageManager = true
				runScripts(words, depth, dir)
			}
			switch prog := words[0]; {
			case prog == "cd":
				if len(words) > 1 && !strings.HasPrefix(words[1], "/") && !strings.HasPrefix(words[1], "-") {
					dir = path.Join(dir, words[1])
				} else {
					dir = "?" // unknown: only the top is looked in
				}
			case isMake(prog):
				// -C (make's own cd) and -f first: where the targets are
				mdir, files, targets := dir, []string(nil), []string(nil)
				for i := 1; i < len(words); i++ {
					a, next := words[i], ""
					if i+1 < len(words) {
						next = words[i+1]
					}
					switch {
					case a == "-C" || a == "--directory":
						mdir, i = path.Join(mdir, next), i+1
					case strings.HasPrefix(a, "--directory="):
						mdir = path.Join(mdir, strings.TrimPrefix(a, "--directory="))
					case strings.HasPrefix(a, "-C"):
						mdir = path.Join(mdir, a[2:])
					case a == "-f" || a == "--file" || a == "--makefile":
						files, i = append(files, next), i+1
					case strings.HasPrefix(a, "--file=") || strings.HasPrefix(a, "--makefile="):
						_, f, _ := strings.Cut(a, "=")
						files = append(files, f)
					case strings.HasPrefix(a, "-f"):
						files = append(files, a[2:])
					case a == "-I" || a == "-o" || a == "-W" || a == "--include-dir" || a == "--old-file" || a == "--what-if",
						(a == "-j" || a == "-l") && next != "" && strings.Trim(next, "0123456789.") == "":
						i++
					case !strings.HasPrefix(a, "-"):
						targets = append(targets, a)
					}
				}
				if strings.HasPrefix(mdir, "/") || strings.HasPrefix(mdir, "..") {
					mdir = "?"
				}
				if len(files) == 0 {
					files = []string{"GNUmakefile", "makefile", "Makefile"}
				}
				for _, m := range files {
					addAll(m, depth, makefile, mdir, direct)
				}
				// a file named like a target that is not .PHONY makes it
				// "up to date": make then runs nothing
				for _, target := range targets {
					if !phony[target] {
						addAll(target, depth, plain, mdir, false)
					}
				}
			case interpreters[prog] && strings.HasPrefix(prog, "python") && slices.Contains(words, "-m"):
				// `python -m unittest` looks in the directory it runs in
				// first: a unittest.py there is what runs
				if i := slices.Index(words, "-m"); i+1 < len(words) {
					mod := words[i+1]
					top, _, _ := strings.Cut(mod, ".")
					d := strings.ReplaceAll(mod, ".", "/")
					for _, f := range []string{top + ".py", top + "/__init__.py", d + ".py", d + "/__main__.py"} {
						addAll(f, depth, plain, dir, false)
					}
				}
			case interpreters[prog]:
				kind := plain
				if shells[prog] {
					kind = shell
				}
				for _, a := range words[1:] {
					if !strings.HasPrefix(a, "-") {
						addAll(a, depth, kind, dir, false)
						break
					}
				}
			case prog == "." || prog == "source":
				if len(words) > 1 {
					addAll(words[1], depth, shell, dir, false)
				}
			default:
				addAll(prog, depth, plain, dir, false)
			}
		}
	}
	for _, cmd := range cmds {
		scan(cmd, 0, "", true)
	}
	return w
}

// packageScripts are the package.json scripts a package manager's
// command (npm test, npm run lint, yarn build, pnpm ci, npm ci) runs,
// without their pre and post scripts.
func packageScripts(words []string) []string {
	pm := path.Base(words[0])
	var args []string
	for _, a := range words[1:] {
		if !strings.HasPrefix(a, "-") {
			args = append(args, a)
		}
	}
	if pm == "npx" {
		return nil // runs a package's program, not a script
	}
	if len(args) == 0 {
		if pm == "npm" {
			return nil
		}
		args = []string{"install"} // a bare yarn, pnpm or bun installs
	}
	switch args[0] {
	case "run", "run-script", "rum", "urn":
		if len(args) > 1 {
			return []string{args[1]}
		}
		return nil
	case "test", "t", "tst":
		return []string{"test"}
	case "install", "i", "ci", "add", "isntall":
		// the lifecycle scripts an install runs
		return []string{"install", "prepare"}
	case "exec", "x", "dlx", "create", "init":
		return nil
	}
	// yarn, pnpm and bun run a script named as the command
	return []string{args[0]}
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
// how (a conftest.py hook can pass every test, an .npmrc's
// script-shell=/bin/true every npm script, a .cargo/config.toml's
// runner = "true" every cargo test).
func isRunnerConfig(p string) bool {
	base := strings.ToLower(path.Base(p))
	switch base {
	case "conftest.py", "pytest.ini", "tox.ini", "noxfile.py", ".rspec", "phpunit.xml", "phpunit.xml.dist", ".mocharc", "karma.conf.js",
		".npmrc", ".yarnrc", ".yarnrc.yml", ".pnpmfile.cjs", "bunfig.toml":
		return true
	case "config", "config.toml":
		// cargo reads .cargo/config(.toml) of every directory up from
		// where it runs
		return strings.EqualFold(path.Base(path.Dir(p)), ".cargo")
	case "nextest.toml":
		return strings.EqualFold(path.Base(path.Dir(p)), ".config")
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
		if strings.EqualFold(p, dir) || pathUnder(p, dir) {
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
	for _, c := range ownConfigPaths {
		if strings.EqualFold(p, c) || pathUnder(p, c) || pathUnder(c, p) {
			return true
		}
	}
	return false
}

// testSniffs are what in a source tells a test run from a real one, or
// changes the test framework itself: code with one can pass the tests and
// ship the bug (#[cfg(not(test))] on the old function, a fixed twin under
// #[cfg(test)]; assert.strictEqual = () => {}).
var testSniffs = []struct {
	what string
	re   *regexp.Regexp
}{
	// (test bare, not in a string: feature = "test-util" is no test)
	{"cfg(not/any/all(… test …))", regexp.MustCompile(`\bcfg\s*\(\s*(?:not|any|all)\s*\((?:[^\]\n{;"]|"[^"\n]*")*?\btest\s*[,)]`)},
	{"cfg_attr(test, …)", regexp.MustCompile(`\bcfg_attr\s*\(\s*test\s*,`)},
	{"cfg!(test)", regexp.MustCompile(`\bcfg!\s*\((?:[^\]\n{;"]|"[^"\n]*")*?\btest\s*[,)]`)},
	{"testing.Testing()", regexp.MustCompile(`\btesting\.Testing\s*\(`)},
	{"go test's flags", regexp.MustCompile(`flag\.Lookup\(\s*"test\.`)},
	{"a test binary's name", regexp.MustCompile(`os\.Args\[0\][^\n]*\.test\b`)},
	{"PYTEST_CURRENT_TEST", regexp.MustCompile(`PYTEST_CURRENT_TEST|PYTEST_VERSION`)},
	{"a test runner in sys.modules", regexp.MustCompile(`['"](?:_?pytest|unittest)['"]\s*(?:not\s+)?in\s+sys\.modules|sys\.modules\.get\(\s*['"](?:_?pytest|unittest)['"]`)},
	{"JEST_WORKER_ID", regexp.MustCompile(`JEST_WORKER_ID`)},
	{"Vitest's marks", regexp.MustCompile(`\benv\.VITEST\b|VITEST_WORKER_ID|VITEST_POOL_ID|import\.meta\.vitest|import\.meta\.env\.MODE\s*[!=]==?\s*['"]test['"]`)},
	{"a test framework's globals", regexp.MustCompile(`typeof\s+(?:jest|vi|describe|it|expect)\s*[!=]==?\s*['"]undefined['"]`)},
	{"NODE_TEST_CONTEXT", regexp.MustCompile(`NODE_TEST_CONTEXT`)},
	{"NODE_ENV test", regexp.MustCompile(`NODE_ENV['"]?\]?\s*[!=]==?\s*['"]test['"]|['"]test['"]\s*[!=]==?\s*process\.env(?:\.NODE_ENV|\[['"]NODE_ENV['"]\])`)},
	{"an assertion replaced", regexp.MustCompile(`(?:(?:^|[^.\w$])(?:assert|expect|chai|unittest)|require\(\s*['"](?:node:)?assert(?:/strict)?['"]\s*\))(?:\.\w+)+\s*=(?:[^=>]|$)`)},
}

// sniffedSources are the sources testSniffs are looked for in.
var sniffedSources = map[string]bool{".rs": true, ".go": true, ".py": true, ".js": true, ".mjs": true, ".cjs": true, ".jsx": true, ".ts": true, ".tsx": true, ".mts": true, ".cts": true}

// testSniffing names, for the code's changed sources (not tests), each
// testSniffs the attempt adds to the branch's last commit ("src/lib.rs:
// cfg!(test)"): not what the tests phase wrote, nor what moved. Only
// files that hold one now are diffed: most attempts start no git process
// here.
func (e *Engine) testSniffing(ctx context.Context, t *store.Ticket, changed []string) ([]string, error) {
	root, err := os.OpenRoot(t.Worktree)
	if err != nil {
		return nil, nil
	}
	defer root.Close()
	held := map[string][]int{} // file → the sniffs it holds
	var files []string
	for _, f := range changed {
		if !sniffedSources[strings.ToLower(path.Ext(f))] || isTestFile(f) {
			continue
		}
		data, err := wtfile.Read(root, filepath.FromSlash(f), 4<<20)
		if err != nil {
			continue
		}
		for i, s := range testSniffs {
			if s.re.Match(data) {
				held[f] = append(held[f], i)
			}
		}
		if len(held[f]) > 0 {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return nil, nil
	}
	lines, removed, err := e.repo.AddedLines(ctx, t.Worktree)
	if err != nil {
		return nil, err
	}
	var found []string
	for _, f := range files {
		for _, i := range held[f] {
			// (a line moved from another file is not new)
			if slices.ContainsFunc(lines[f], func(l string) bool { return testSniffs[i].re.MatchString(l) && !removed[strings.TrimSpace(l)] }) {
				found = append(found, f+": "+testSniffs[i].what)
			}
		}
	}
	return found, nil
}

// pathUnder says whether the slash path p is below dir, case folded.
func pathUnder(p, dir string) bool {
	return len(p) > len(dir) && p[len(dir)] == '/' && strings.EqualFold(p[:len(dir)], dir)
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

// rustTestsSum marks a TestFiles hash that covers only the Rust test
// items of a source file (rustTestItems), not the whole file: the code
// phase must change the rest of that file, never its tests.
const rustTestsSum = "rust-tests:"

// rustTestsHash is rustTestsSum and the hash of data's Rust test items;
// "" when it has none.
func rustTestsHash(data []byte) string {
	items := rustTestItems(string(data))
	if items == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(items))
	return rustTestsSum + hex.EncodeToString(sum[:])
}

// rustTestItems is the text of a Rust file's test items, each from its
// #[cfg(test)] or #[test] (or #[tokio::test], …) attribute, with the
// attribute and doc lines just above it, to the brace that closes the
// item (a `mod tests { … }`, a test fn) or its `;`. Limits: only
// attributes that open a line are seen (not #[cfg(all(test, x))], nor
// tests a macro makes); braces are matched by a small lexer that knows
// comments, strings, raw strings and chars; an item left open runs to
// the end of the file, so more is frozen, never less.
func rustTestItems(src string) string {
	var b strings.Builder
	var starts []int
	for off := 0; off < len(src); {
		starts = append(starts, off)
		i := strings.IndexByte(src[off:], '\n')
		if i < 0 {
			break
		}
		off += i + 1
	}
	line := func(i int) string {
		end := len(src)
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		return strings.TrimSpace(src[starts[i]:end])
	}
	taken := 0 // src before it is in an item already
	for i, off := range starts {
		if off < taken || !isRustTestAttr(line(i)) {
			continue
		}
		first := i
		for first > 0 && starts[first-1] >= taken && (strings.HasPrefix(line(first-1), "#[") || strings.HasPrefix(line(first-1), "///")) {
			first--
		}
		end := rustItemEnd(src, off)
		b.WriteString(src[starts[first]:end])
		b.WriteString("\n")
		taken = end
	}
	return b.String()
}

// isRustTestAttr says whether a trimmed line opens with a test attribute.
func isRustTestAttr(line string) bool {
	if strings.HasPrefix(line, "#[cfg(test)]") {
		return true
	}
	rest, ok := strings.CutPrefix(line, "#[")
	if !ok {
		return false
	}
	name := rest
	if i := strings.IndexAny(rest, "]("); i >= 0 {
		name = rest[:i]
	}
	name = strings.TrimSpace(name)
	return name == "test" || strings.HasSuffix(name, "::test")
}

// rustItemEnd is where the item starting at from ends: after the line of
// the brace closing its first block, or of a `;` outside any.
func rustItemEnd(src string, from int) int {
	lineEnd := func(i int) int {
		if j := strings.IndexByte(src[i:], '\n'); j >= 0 {
			return i + j + 1
		}
		return len(src)
	}
	depth := 0
	for i := from; i < len(src); i++ {
		switch c := src[i]; {
		case strings.HasPrefix(src[i:], "//"):
			i = lineEnd(i) - 1
		case strings.HasPrefix(src[i:], "/*"):
			// block comments nest in Rust
			n := 0
			for ; i < len(src); i++ {
				if strings.HasPrefix(src[i:], "/*") {
					n++
					i++
				} else if strings.HasPrefix(src[i:], "*/") {
					n--
					i++
					if n == 0 {
						break
					}
				}
			}
		case c == 'r' && (i == 0 || !isIdentByte(src[i-1]) || src[i-1] == 'b' && (i == 1 || !isIdentByte(src[i-2]))) && i+1 < len(src) && (src[i+1] == '"' || src[i+1] == '#'):
			j := i + 1
			for j < len(src) && src[j] == '#' {
				j++
			}
			if j < len(src) && src[j] == '"' {
				closing := `"` + src[i+1:j]
				if k := strings.Index(src[j+1:], closing); k >= 0 {
					i = j + 1 + k + len(closing) - 1
				} else {
					return len(src)
				}
			}
		case c == '"':
			for i++; i < len(src) && src[i] != '"'; i++ {
				if src[i] == '\\' {
					i++
				}
			}
		case c == '\'':
			// a char literal ('{', '\'', 'é'), or a lifetime ('a)
			if i+1 < len(src) && src[i+1] == '\\' {
				if k := strings.IndexByte(src[min(i+3, len(src)):], '\''); k >= 0 {
					i += 3 + k
				}
			} else if _, n := utf8.DecodeRuneInString(src[i+1:]); i+1+n < len(src) && src[i+1+n] == '\'' {
				i += 1 + n
			}
		case c == '{':
			depth++
		case c == '}':
			depth--
			if depth <= 0 {
				return lineEnd(i)
			}
		case c == ';' && depth == 0:
			return lineEnd(i)
		}
	}
	return len(src)
}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// newRustTests is the rustTestsHash of a changed .rs file whose test
// items differ from the base branch's (new, or changed), "" when they do
// not. (Against the base's tip: a base that moved on may make them
// differ without this branch writing any; the red run still must fail.)
func (e *Engine) newRustTests(ctx context.Context, t *store.Ticket, root *os.Root, f string) string {
	data, err := wtfile.Read(root, filepath.FromSlash(f), 4<<20)
	if err != nil {
		return ""
	}
	now := rustTestsHash(data)
	if now == "" {
		return ""
	}
	if before, err := e.repo.ShowFile(ctx, t.Worktree, t.BaseBranch, f); err == nil && rustTestsHash(before) == now {
		return ""
	}
	return now
}

// testFiles are the test files on the branch that differ from the base,
// with their hashes (a .rs file given tests inline: the hash of its test
// items, marked rustTestsSum), and the check scripts changed with them,
// also among files. It stages the worktree: the tests commit is what was
// checked, without what the red test run leaves behind.
func (e *Engine) testFiles(ctx context.Context, t *store.Ticket) (files map[string]string, scripts, changed []string, err error) {
	changed, err = e.repo.StageAll(ctx, t.Worktree, t.BaseBranch)
	if err != nil {
		return nil, nil, nil, err
	}
	root, err := os.OpenRoot(t.Worktree)
	if err != nil {
		return nil, nil, nil, err
	}
	defer root.Close()
	var tests, support []string
	inline := map[string]string{}
	for _, f := range changed {
		text := sourceExts[strings.ToLower(path.Ext(f))] || isText(root, f)
		switch {
		case testNamed(f) && text:
			// a source, or a text fixture beside it; not a build output
			tests = append(tests, f)
		case strings.EqualFold(path.Ext(f), ".rs") && !testSupport(f):
			if sum := e.newRustTests(ctx, t, root, f); sum != "" {
				inline[f] = sum
			}
		case testSupport(f) && text, testPlaced(f) && !text && !workspace.Compiled(root, f):
			// a binary fixture (a golden image, a .gz) as much as a text
			// one; not a test binary a build left in tests/
			support = append(support, f)
		}
	}
	if len(tests) == 0 && len(inline) == 0 {
		return nil, nil, changed, nil
	}
	// what the tests read or call (a golden file, a helper package) is as
	// much the tests: code rewriting it could make them pass on the bug
	tests = append(tests, support...)
	// how the tests are run may be part of writing them (a Makefile
	// target, a conftest.py fixture): frozen with them from here on
	for _, f := range e.touchedScripts(t, changed) {
		if _, ok := inline[f]; !ok && !slices.Contains(tests, f) {
			tests = append(tests, f)
			scripts = append(scripts, f)
		}
	}
	if files, err = e.repo.HashFiles(t.Worktree, tests); err != nil {
		return nil, nil, nil, err
	}
	maps.Copy(files, inline)
	return files, scripts, changed, nil
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
	// and the settings test runners read from package.json itself
	scripts := func(data []byte) (string, bool) {
		var pkg map[string]json.RawMessage
		if json.Unmarshal(data, &pkg) != nil {
			return "", false
		}
		var canon bytes.Buffer
		for _, k := range []string{"scripts", "jest", "mocha", "ava", "vitest", "c8", "nyc", "tap"} {
			canon.WriteString(k + ":")
			if json.Compact(&canon, pkg[k]) != nil {
				canon.Write(pkg[k])
			}
			canon.WriteByte('\n')
		}
		return canon.String(), true
	}
	return e.partChanged(ctx, t, file, "package.json", scripts)
}

// pytestSettingsChanged says whether pytest's settings in the worktree's
// pyproject.toml ([tool.pytest.ini_options]) or setup.cfg ([tool:pytest])
// differ from its last commit's: addopts = "-k 'not this_test'" is a
// test skipped.
func (e *Engine) pytestSettingsChanged(ctx context.Context, t *store.Ticket, file string) bool {
	settings := func(data []byte) (string, bool) {
		if path.Base(file) == "setup.cfg" {
			return iniSection(string(data), "tool:pytest"), true
		}
		var doc struct {
			Tool struct {
				Pytest any `toml:"pytest"`
			} `toml:"tool"`
		}
		if toml.Unmarshal(data, &doc) != nil {
			return "", false
		}
		out, err := json.Marshal(doc.Tool.Pytest)
		return string(out), err == nil
	}
	return e.partChanged(ctx, t, file, path.Base(file), settings)
}

// iniSection is the lines of an INI file's section, trimmed, without
// blank lines and comments.
func iniSection(text, name string) string {
	var b strings.Builder
	in := false
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "["):
			in = strings.EqualFold(strings.TrimSpace(strings.Trim(line, "[]")), name)
		case in && line != "" && !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, ";"):
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}

// cargoSettingsChanged says whether the worktree's Cargo.toml says other
// than its last commit about what cargo builds and tests: anything but
// its dependencies ([dependencies], [dev-dependencies], [target.*],
// [patch], [workspace.dependencies]) and package metadata. So [lib]
// test/harness, [[test]], autotests, [features], [profile.test], a
// build script and workspace members are guarded; a dependency the fix
// needs is not. (A [patch] pointing at a crate the code writes is not
// seen.)
func (e *Engine) cargoSettingsChanged(ctx context.Context, t *store.Ticket, file string) bool {
	settings := func(data []byte) (string, bool) {
		var doc map[string]any
		if toml.Unmarshal(data, &doc) != nil {
			return "", false
		}
		for _, k := range []string{"dependencies", "dev-dependencies", "build-dependencies", "target", "patch", "replace", "badges"} {
			delete(doc, k)
		}
		if pkg, ok := doc["package"].(map[string]any); ok {
			kept := map[string]any{}
			for _, k := range []string{"build", "links", "autotests", "autobins", "autolib", "autoexamples", "autobenches", "workspace", "default-run"} {
				if v, ok := pkg[k]; ok {
					kept[k] = v
				}
			}
			doc["package"] = kept
		}
		if ws, ok := doc["workspace"].(map[string]any); ok {
			delete(ws, "dependencies")
			delete(ws, "package")
			delete(ws, "metadata")
		}
		out, err := json.Marshal(doc) // map keys sorted
		return string(out), err == nil
	}
	return e.partChanged(ctx, t, file, "Cargo.toml", settings)
}

// partChanged says whether part (ok false: unreadable) of the worktree's
// file differs from its last commit's. A new file is a change at the top
// (top: its name there), not below it: a new package the code adds.
func (e *Engine) partChanged(ctx context.Context, t *store.Ticket, file, top string, part func([]byte) (string, bool)) bool {
	data, err := wtfile.ReadIn(t.Worktree, filepath.FromSlash(file), 4<<20)
	if errors.Is(err, fs.ErrNotExist) {
		return false // deleted: nothing runs
	}
	if err != nil {
		// a link (npm follows it) or a huge file in place of a changed
		// one: not read, so counted as a change
		return true
	}
	now, nowOK := part(data)
	// the last commit, or after the base was merged in with a conflict in
	// the file (markers: unreadable), either side of that merge
	existed := false
	for _, rev := range []string{"HEAD", "HEAD^1", "HEAD^2"} {
		data, err := e.repo.ShowFile(ctx, t.Worktree, rev, file)
		if err != nil {
			continue
		}
		existed = true
		before, ok := part(data)
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
	return existed || path.Clean(file) == top
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
	files, _, _, err := e.testFiles(ctx, t)
	return files, err
}

// onDisk says whether the worktree holds exactly these file versions.
func (e *Engine) onDisk(t *store.Ticket, files map[string]string) bool {
	return len(e.changedFiles(t.Worktree, files)) == 0
}

// changedTestFiles lists frozen test files whose content differs now (a
// .rs file's frozen test items named as such).
func (e *Engine) changedTestFiles(t *store.Ticket) []string {
	names := e.changedFiles(t.Worktree, t.TestFiles)
	for i, n := range names {
		if strings.HasPrefix(t.TestFiles[n], rustTestsSum) {
			names[i] = n + "'s #[cfg(test)]/#[test] items"
		}
	}
	return names
}

// changedFiles lists, sorted, the files whose content in the worktree is
// not the version hashed in files (all of them when they cannot be read);
// of a rustTestsSum hash, only the file's test items are compared.
func (e *Engine) changedFiles(wt string, files map[string]string) []string {
	if len(files) == 0 {
		return nil
	}
	names := slices.Sorted(maps.Keys(files))
	now, err := e.hashFrozen(wt, files)
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

// hashFrozen hashes the worktree's versions of the frozen files as they
// were hashed: whole, or only their Rust test items (rustTestsSum).
func (e *Engine) hashFrozen(wt string, files map[string]string) (map[string]string, error) {
	now, err := e.repo.HashFiles(wt, slices.Sorted(maps.Keys(files)))
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(wt)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	for n, sum := range files {
		if strings.HasPrefix(sum, rustTestsSum) {
			// gone, a link or too large: not the tests frozen
			data, err := wtfile.Read(root, filepath.FromSlash(n), 4<<20)
			now[n] = ""
			if err == nil {
				now[n] = rustTestsHash(data)
			}
		}
	}
	return now, nil
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
		case err == nil && strings.HasPrefix(files[n], rustTestsSum):
			fmt.Fprintf(&b, "### %s\n\n(only its #[cfg(test)] and #[test] items are frozen tests; the rest of the file is code)\n\n```\n%s\n```\n\n", n, cut(string(data), limit, false))
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
		res, err = tools.ExecConfined(ctx, argv, dir, env, timeout, checkOutputKept, tools.CheckWritable(t.Sensitive, dir, tmp), e.readableHidden(t), append(e.hiddenFromCommands(), tools.HomeKeys()...))
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
		res.ExitCode == 1 && missingModule(command, res.Output, dir) != "",
		res.ExitCode != 0 && e.notFoundRunner(t, command, res.Output) != "":
		// the shell's "not found" of the command's own program (or
		// Python's of the module it runs, or of the runner its Makefile
		// or package.json runs), not a test's exit status (a test may
		// well run a tool not built yet)
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
