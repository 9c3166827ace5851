package engine

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"agent-tui/engine/config"
	"agent-tui/engine/oaitest"
	"agent-tui/store"
)

// Test files are recognised by each ecosystem's default conventions, and
// only as source: a compiled build/test_abs is not a test.
func TestTestFileNamesFollowEachEcosystem(t *testing.T) {
	for p, want := range map[string]bool{
		"src/slugify_test.js":      true, // node --test: *_test.js
		"test-slugify.js":          true, // node --test: test-*.js
		"lib/slugify-test.mjs":     true,
		"test.js":                  true,
		"web/slugify.test.ts":      true,
		"web/slugify.spec.tsx":     true,
		"web/__tests__/a.js":       true,
		"calc/tests.py":            true, // Django, unittest's test*.py
		"calc/test2.py":            true,
		"calc/testing.py":          false, // a module of the project's
		"calc/tester.py":           false,
		"calc/testutils.py":        false,
		"calc/testcalc.py":         true,
		"tests/test_clamp.py":      true,
		"calc/clamp_test.py":       true,
		"src/tests.rs":             true, // cargo: `mod tests;`
		"tests/clamp.rs":           true,
		"pkg/x_test.go":            true,
		"spec/models/user_spec.rb": true,
		"src/FooTest.java":         true,
		"src/TestFoo.java":         true,
		"Tests/FooTests.swift":     true,
		"tests/test_clamp.c":       true,
		"build/test_abs":           false, // no source extension
		"test/fixture.png":         false,
		"src/index.js":             false,
		"src/latest.js":            false,
		"src/contest.py":           false,
		"src/Testament.java":       false,
		"src/lib.rs":               false,
		"docs/testing.md":          false,
		"run_tests.sh":             false, // the runner, not a test
	} {
		if got := isTestFile(p); got != want {
			t.Errorf("isTestFile(%q) = %v, want %v", p, got, want)
		}
	}
}

// ecoScript is the developer on a project of its own: the first tests
// attempt makes tests' calls, the nth code attempt code[n-1]'s (the last
// again after).
func ecoScript(tests func(id string) []oaitest.ToolCall, code ...func(id string) []oaitest.ToolCall) script {
	var c counter
	return func(r *oaitest.Request, phase string) oaitest.Reply {
		id := ticketOf(r)
		switch {
		case phase == "tests" && toolTurns(r) == 0 && tests != nil:
			return oaitest.Reply{ToolCalls: tests(id)}
		case phase == "code" && toolTurns(r) == 0 && len(code) > 0:
			n := min(c.inc("code"), len(code))
			return oaitest.Reply{ToolCalls: code[n-1](id)}
		case (phase == "tests" || phase == "code") && toolTurns(r) > 0:
			return oaitest.Reply{Text: "Done."}
		}
		return developer(r, phase)
	}
}

func calls(cs ...oaitest.ToolCall) func(string) []oaitest.ToolCall {
	return func(string) []oaitest.ToolCall { return cs }
}

func needTools(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skip(n + " is not installed")
		}
	}
}

var (
	nodeProject = map[string]string{
		"package.json": `{"name": "strutil", "version": "1.0.0", "scripts": {"test": "node --test"}}` + "\n",
		"src/index.js": "'use strict';\nfunction slugify(s) {\n  return s.trim().replace(/\\s+/g, '-');\n}\nmodule.exports = { slugify };\n",
	}
	nodeTest    = "'use strict';\nconst test = require('node:test');\nconst assert = require('node:assert');\nconst { slugify } = require('%s');\ntest('slugify lowercases', () => {\n  assert.strictEqual(slugify('Hello World'), 'hello-world');\n});\n"
	jestProject = map[string]string{
		"package.json": `{"name": "strutil", "version": "1.0.0", "scripts": {"test": "jest"}}` + "\n",
		"src/index.js": nodeProject["src/index.js"],
	}
	jestTest = "'use strict';\nconst { slugify } = require('./index.js');\ntest('slugify lowercases', () => {\n  expect(slugify('Hello World')).toBe('hello-world');\n});\n"
	nodeFix  = writeCall("fix", "src/index.js", "'use strict';\nfunction slugify(s) {\n  return s.trim().toLowerCase().replace(/\\s+/g, '-');\n}\nmodule.exports = { slugify };\n")

	pyProject = map[string]string{
		"calc/__init__.py": "def clamp(x, lo, hi):\n    return max(lo, x)\n",
	}
	pyTest = "import unittest\nfrom calc import clamp\n\n\nclass TestClamp(unittest.TestCase):\n    def test_upper(self):\n        self.assertEqual(clamp(15, 0, 10), 10)\n"
	pyFix  = writeCall("fix", "calc/__init__.py", "def clamp(x, lo, hi):\n    return min(hi, max(lo, x))\n")

	rustProject = map[string]string{
		"Cargo.toml": "[package]\nname = \"ranges\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
		"src/lib.rs": rustLib("if x < lo { lo } else { x }", ""),
	}
	rustInline = "\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn clamps_upper_bound() {\n        // braces in text: \"}\" '{'\n        assert_eq!(clamp(15, 0, 10), 10);\n    }\n}\n"
	rustFixed  = "if x < lo { lo } else if x > hi { hi } else { x }"
)

func rustLib(body, tests string) string {
	return "pub fn clamp(x: i64, lo: i64, hi: i64) -> i64 {\n    " + body + "\n}\n\npub fn double(x: i64) -> i64 {\n    x * 2\n}\n" + tests
}

// The tests phase takes the test files each ecosystem's runner finds by
// default (node --test's *_test.js and test-*.js, unittest's tests.py,
// cargo's src/tests.rs), and the ticket
// goes through: red, then green once code fixes the source.
func TestTestsPhaseTakesEachEcosystemsTests(t *testing.T) {
	cases := []struct {
		name, command string
		tools         []string
		project       map[string]string
		tests         []oaitest.ToolCall
		fix           oaitest.ToolCall
		frozen        string
	}{
		{"node *_test.js", "npm test", []string{"node", "npm"}, nodeProject,
			[]oaitest.ToolCall{writeCall("t", "src/slugify_test.js", strings.Replace(nodeTest, "%s", "./index.js", 1))}, nodeFix, "src/slugify_test.js"},
		{"node test-*.js", "npm test", []string{"node", "npm"}, nodeProject,
			[]oaitest.ToolCall{writeCall("t", "test-slugify.js", strings.Replace(nodeTest, "%s", "./src/index.js", 1))}, nodeFix, "test-slugify.js"},
		// Jest skips every path inside .git: worktrees are outside
		{"jest *.test.js", "npm test", []string{"node", "npm", "jest"}, jestProject,
			[]oaitest.ToolCall{writeCall("t", "src/slugify.test.js", jestTest)}, nodeFix, "src/slugify.test.js"},
		{"django tests.py", "python3 -m unittest", []string{"python3"}, pyProject,
			[]oaitest.ToolCall{writeCall("t", "calc/tests.py", pyTest)}, pyFix, "calc/tests.py"},
		{"rust src/tests.rs", "cargo test --offline", []string{"cargo"}, rustProject,
			[]oaitest.ToolCall{
				writeCall("t", "src/tests.rs", "use super::*;\n\n#[test]\nfn clamps_upper_bound() {\n    assert_eq!(clamp(15, 0, 10), 10);\n}\n"),
				writeCall("m", "src/lib.rs", rustLib("if x < lo { lo } else { x }", "\n#[cfg(test)]\nmod tests;\n")),
			},
			writeCall("fix", "src/lib.rs", rustLib(rustFixed, "\n#[cfg(test)]\nmod tests;\n")), "src/tests.rs"},
		// (inline Rust tests: TestCodeMayNotChangeInlineRustTests)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			needTools(t, c.tools...)
			h := newHarnessOn(t, c.project, "", ecoScript(calls(c.tests...), calls(c.fix)))
			h.cfg.TestCommand = c.command
			h.runLimit = 3 * 60e9
			id := h.add("hotfix", "fix it", false)
			h.runIdle()
			tk := h.ticket(id)
			if tk.Status != store.StatusDone {
				t.Fatalf("%s at %s (%s)", tk.Status, tk.Phase, tk.Reason)
			}
			if _, ok := tk.TestFiles[c.frozen]; !ok {
				t.Fatalf("%s not among the tests: %v", c.frozen, tk.TestFiles)
			}
			if a := h.phase(id, "tests").Attempts; len(a) != 1 {
				t.Fatalf("tests attempts %+v", a)
			}
			if a := h.phase(id, "code").Attempts; len(a) != 1 {
				t.Fatalf("code attempts %+v", a)
			}
		})
	}
}

// Rust tests written inline freeze only the test items: code changes the
// rest of src/lib.rs, not the tests (nor takes them out).
func TestCodeMayNotChangeInlineRustTests(t *testing.T) {
	needTools(t, "cargo")
	weakened := strings.Replace(rustInline, "assert_eq!(clamp(15, 0, 10), 10);", "assert!(true);", 1)
	h := newHarnessOn(t, rustProject, "", ecoScript(
		calls(writeCall("t", "src/lib.rs", rustLib("if x < lo { lo } else { x }", rustInline))),
		calls(writeCall("w", "src/lib.rs", rustLib(rustFixed, weakened))),
		calls(writeCall("fix", "src/lib.rs", rustLib(rustFixed, rustInline)))))
	h.cfg.TestCommand = "cargo test --offline"
	h.runLimit = 3 * 60e9
	id := h.add("hotfix", "fix clamp", false)
	h.runIdle()
	a := h.firstFailedThenDone(id, "code", "were changed (src/lib.rs's #[cfg(test)]/#[test] items)")
	if len(a) != 2 {
		t.Fatalf("code attempts %+v", a)
	}
	// code is told what of the file it may change
	var told bool
	for _, r := range h.firstTurns("code") {
		told = told || strings.Contains(userText(r), "only its #[cfg(test)] and #[test] items are frozen tests")
	}
	if !told {
		t.Fatal("code was not told the rest of src/lib.rs is its to change")
	}
}

// The test items of a Rust file: cfg(test) modules and #[test] fns with
// their attributes, to the matching brace past braces in strings, chars
// and comments; nothing else.
func TestRustTestItems(t *testing.T) {
	src := "//! crate\npub fn f() -> &'static str { \"}\" }\n\n/// doc\n#[test]\n#[should_panic(expected = \"{\")]\nfn top() { let c = '}'; let s = r#\"}\"#; /* } /* nested } */ */ panic!(\"{\") }\n\npub fn g<'a>(x: &'a str) -> &'a str { x }\n\n#[cfg(test)]\nmod tests;\n"
	got := rustTestItems(src)
	want := "/// doc\n#[test]\n#[should_panic(expected = \"{\")]\nfn top() { let c = '}'; let s = r#\"}\"#; /* } /* nested } */ */ panic!(\"{\") }\n\n#[cfg(test)]\nmod tests;\n\n"
	if got != want {
		t.Fatalf("items\n%q\nwant\n%q", got, want)
	}
	if rustTestsHash([]byte(rustLib("x", ""))) != "" {
		t.Fatal("a file without tests has test items")
	}
	a, b := rustTestsHash([]byte(rustLib("x", rustInline))), rustTestsHash([]byte(rustLib(rustFixed, rustInline)))
	if a == "" || a != b {
		t.Fatalf("the code around the tests changed their hash: %q %q", a, b)
	}
	// an item left open runs to the end: more frozen, not less
	if got := rustTestItems("#[cfg(test)]\nmod tests {\n    fn x() {\n"); !strings.HasSuffix(got, "fn x() {\n\n") {
		t.Fatalf("open item %q", got)
	}
}

// A compiled test binary is not a test file: not taken for the tests
// written, not frozen, so code's rebuild of it is no change to the tests;
// and no compiled program a build left (`go build -o calcbin`) is merged.
func TestBinaryTestOutputIsNoTestFile(t *testing.T) {
	build := func(v string) func(string) []oaitest.ToolCall {
		return func(id string) []oaitest.ToolCall {
			return []oaitest.ToolCall{{ID: "b", Name: "run_command", Args: `{"command": "mkdir -p build && printf '\\177ELF\\000\\001` + v + `' > build/test_abs"}`}}
		}
	}
	h := newHarness(t, "", ecoScript(
		func(id string) []oaitest.ToolCall {
			return append(build("1")(id), writeCall("t", "tests/"+id+"_test.sh", "grep -q 'done "+id+"' src/"+id+".txt\n"))
		},
		func(id string) []oaitest.ToolCall {
			return append(build("2")(id), writeCall("c", "src/"+id+".txt", "done "+id+"\n"),
				oaitest.ToolCall{ID: "g", Name: "run_command", Args: `{"command": "cp /bin/true calcbin"}`})
		}))
	id := h.add("hotfix", "builds a binary", false)
	h.runIdle()
	tk := h.ticket(id)
	if tk.Status != store.StatusDone {
		t.Fatalf("%s at %s (%s)", tk.Status, tk.Phase, tk.Reason)
	}
	if _, ok := tk.TestFiles["build/test_abs"]; ok || len(tk.TestFiles) != 1 {
		t.Fatalf("frozen %v", tk.TestFiles)
	}
	merged := gitOut(t, h.dir, "ls-tree", "-r", "--name-only", "main")
	if strings.Contains(merged, "calcbin") || !strings.Contains(merged, "src/"+id+".txt") {
		t.Fatalf("merged:\n%s", merged)
	}
}

// Files written but not taken for tests are named in the objection, with
// what names count.
func TestUnrecognisedTestsAreNamed(t *testing.T) {
	var c counter
	h := newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
		if id := ticketOf(r); phase == "tests" && toolTurns(r) == 0 && c.inc("tests") == 1 {
			return oaitest.Reply{ToolCalls: []oaitest.ToolCall{writeCall("t", "checks/"+id+".sh", "grep -q done src/"+id+".txt\n")}}
		}
		return developer(r, phase)
	})
	id := h.add("hotfix", "misnamed tests", false)
	h.runIdle()
	a := h.firstFailedThenDone(id, "tests", "the files changed (checks/"+id+".sh) are not test files by name; test files are files under tests/")
	if obj := strings.Join(a[0].Verdict.Objections, " "); strings.Contains(obj, "written exactly as it already is") {
		t.Fatalf("objection %q", obj)
	}
}

// How a runner is configured or started is no more the code's to change
// than the scripts the commands run: .npmrc (script-shell), a
// .cargo/config.toml (runner), a file a Makefile includes (SHELL), a
// script package.json's test script runs by path, Cargo.toml's test
// settings (autotests), a file named like the make target (make test is
// then "up to date"), where -C or -f point make.
func TestCodeMayNotChangeHowRunnersRun(t *testing.T) {
	cargo := "[package]\nname = \"ranges\"\nversion = \"0.1.0\"\nedition = \"2021\"\n"
	cases := []struct {
		name, command string
		tools         []string
		extra         map[string]string
		cheat         oaitest.ToolCall
		want          string
	}{
		{".npmrc", "", nil, nil, writeCall("x", ".npmrc", "script-shell=/bin/true\n"), "(.npmrc)"},
		{"cargo config", "", nil, nil, writeCall("x", ".cargo/config.toml", "[target.x86_64-unknown-linux-gnu]\nrunner = \"true\"\n"), "(.cargo/config.toml)"},
		{"a Makefile's include", "make test", []string{"make"}, map[string]string{"Makefile": "-include local.mk\n\ntest:\n\tsh run_tests.sh\n"},
			writeCall("x", "local.mk", "SHELL = /bin/true\n"), "(local.mk)"},
		{"a script package.json runs", "npm test", []string{"node", "npm"}, map[string]string{
			"package.json":         `{"name": "x", "version": "1.0.0", "scripts": {"test": "node scripts/run-tests.js"}}` + "\n",
			"scripts/run-tests.js": "require('child_process').execSync('sh run_tests.sh', {stdio: 'inherit'});\n",
		}, writeCall("x", "scripts/run-tests.js", "process.exit(0);\n"), "(scripts/run-tests.js)"},
		{"Cargo.toml's autotests", "", nil, map[string]string{"Cargo.toml": cargo},
			writeCall("x", "Cargo.toml", strings.Replace(cargo, "edition = \"2021\"\n", "edition = \"2021\"\nautotests = false\n", 1)), "(Cargo.toml's build and test settings"},
		{"a file named like the make target", "make test", []string{"make"}, map[string]string{"Makefile": "test:\n\tsh run_tests.sh\n"},
			writeCall("x", "test", "\n"), "(test)"},
		{"make -C's Makefile", "make -C sub test", []string{"make"}, map[string]string{"sub/Makefile": "test:\n\tcd .. && sh run_tests.sh\n"},
			writeCall("x", "sub/Makefile", "test:\n\t@true\n"), "(sub/Makefile)"},
		{"make --directory's target file", "make --directory=sub test", []string{"make"}, map[string]string{"sub/Makefile": "test:\n\tcd .. && sh run_tests.sh\n"},
			writeCall("x", "sub/test", "\n"), "(sub/test)"},
		{"a recursive make's Makefile", "make test", []string{"make"}, map[string]string{"Makefile": "test:\n\t$(MAKE) -C sub test\n", "sub/Makefile": "test:\n\tcd .. && sh run_tests.sh\n"},
			writeCall("x", "sub/Makefile", "test:\n\t@true\n"), "(sub/Makefile)"},
		{"make -f's file", "make -f ci.mk test", []string{"make"}, map[string]string{"ci.mk": "test:\n\tsh run_tests.sh\n"},
			writeCall("x", "ci.mk", "test:\n\t@true\n"), "(ci.mk)"},
		{"a Makefile's include of a wildcard", "make test", []string{"make"}, map[string]string{"Makefile": "-include $(wildcard *.mk)\n\ntest:\n\tsh run_tests.sh\n"},
			writeCall("x", "local.mk", "SHELL = /bin/true\n"), "(local.mk)"},
		{"pyproject's pytest addopts", "", nil, map[string]string{"pyproject.toml": "[project]\nname = \"x\"\n"},
			writeCall("x", "pyproject.toml", "[project]\nname = \"x\"\n\n[tool.pytest.ini_options]\naddopts = \"-k 'not upper_bound'\"\n"), "(pyproject.toml's pytest settings)"},
		{"setup.cfg's [tool:pytest]", "", nil, map[string]string{"setup.cfg": "[metadata]\nname = x\n"},
			writeCall("x", "setup.cfg", "[metadata]\nname = x\n\n[tool:pytest]\naddopts = --deselect tests/test_x.py::test_y\n"), "(setup.cfg's pytest settings)"},
		{"package.json's jest key", "npm test", []string{"node", "npm"}, map[string]string{
			"package.json": `{"name": "x", "version": "1.0.0", "scripts": {"test": "sh run_tests.sh"}}` + "\n",
		}, writeCall("x", "package.json", `{"name": "x", "version": "1.0.0", "scripts": {"test": "sh run_tests.sh"}, "jest": {"testPathIgnorePatterns": ["tests"]}}`+"\n"), "(package.json's scripts or test runner settings)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			needTools(t, c.tools...)
			project := maps.Clone(shellProject)
			maps.Copy(project, c.extra)
			h := newHarnessOn(t, project, "", firstCodeAlso(c.cheat))
			if c.command != "" {
				h.cfg.TestCommand = c.command
			}
			id := h.add("hotfix", "checks less", false)
			h.runIdle()
			h.firstFailedThenDone(id, "code", "the files the test and CI commands run were changed "+c.want)
		})
	}
}

// A dependency is the code's to add to Cargo.toml; what cargo test builds
// and runs is not.
func TestCargoSettingsAreGuardedNotItsDependencies(t *testing.T) {
	cargo := "[package]\nname = \"ranges\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n"
	h := newHarnessOn(t, map[string]string{"Cargo.toml": cargo}, "", developer)
	tk := &store.Ticket{Worktree: h.dir}
	ctx := context.Background()
	for body, want := range map[string]bool{
		cargo + "libc = \"0.2\"\n": false,
		strings.Replace(cargo, "0.1.0", "0.2.0", 1) + "\n[dev-dependencies]\nx = \"1\"\n": false,
		cargo + "\n[lib]\ntest = false\n":                                                 true,
		cargo + "\n[profile.test]\ndebug-assertions = false\n":                            true,
		cargo + "\n[[test]]\nname = \"clamp\"\nharness = false\n":                         true,
		strings.Replace(cargo, "edition", "build = \"gen.rs\"\nedition", 1):               true,
		"[package\n": true,
	} {
		if err := os.WriteFile(filepath.Join(h.dir, "Cargo.toml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := h.eng.cargoSettingsChanged(ctx, tk, "Cargo.toml"); got != want {
			t.Errorf("%q: changed %v, want %v", body, got, want)
		}
	}
	// and through the loop: a dependency added by code passes
	h2 := newHarnessOn(t, map[string]string{"Cargo.toml": cargo, "run_tests.sh": shellProject["run_tests.sh"]}, "", firstCodeAlso(writeCall("d", "Cargo.toml", cargo+"libc = \"0.2\"\n")))
	id := h2.add("hotfix", "needs a crate", false)
	h2.runIdle()
	if tk := h2.ticket(id); tk.Status != store.StatusDone || len(h2.phase(id, "code").Attempts) != 1 {
		t.Fatalf("%s (%s), code attempts %+v", tk.Status, tk.Reason, h2.phase(id, "code").Attempts)
	}
}

// A runner the test command reaches by plain name and that is not
// installed (jest from npm test, pytest from a Makefile recipe, cargo's
// nextest) stops the ticket for a human at the red run: no model can
// write it.
func TestMissingRunnerStopsForAHuman(t *testing.T) {
	cases := []struct {
		name, command string
		tools         []string
		extra         map[string]string
		want          string
	}{
		{"npm's test script", "npm test", []string{"npm"}, map[string]string{"package.json": `{"name": "x", "version": "1.0.0", "scripts": {"test": "no-such-runner-xyz --ci"}}` + "\n"}, "runs no-such-runner-xyz, which was not found"},
		{"a Makefile recipe", "make test", []string{"make"}, map[string]string{"Makefile": "test:\n\tno-such-runner-xyz -q tests\n"}, "runs no-such-runner-xyz, which was not found"},
		{"a cargo subcommand", "cargo no-such-runner-xyz run", []string{"cargo"}, nil, "runs cargo-no-such-runner-xyz, which was not found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			needTools(t, c.tools...)
			project := maps.Clone(shellProject)
			maps.Copy(project, c.extra)
			h := newHarnessOn(t, project, "", developer)
			h.cfg.TestCommand = c.command
			id := h.add("hotfix", "no runner", false)
			h.runIdle()
			tk := h.ticket(id)
			if tk.Status != store.StatusNeedsHuman || tk.Phase != "tests" || !strings.Contains(tk.Reason, c.want) {
				t.Fatalf("%s at %s (%s)", tk.Status, tk.Phase, tk.Reason)
			}
			if a := h.phase(id, "tests").Attempts; len(a) != 1 || a[0].Checks[0].NotRun != "was not found" {
				t.Fatalf("tests attempts %+v", a)
			}
			if n := len(h.requests("code")); n != 0 {
				t.Fatalf("code ran %d times", n)
			}
		})
	}
}

// Only a runner reached directly counts: a tool run by a path, or by a
// script file (which may set its own PATH), not found is a red run.
func TestNotFoundRunnerIsOnlyTheRunner(t *testing.T) {
	wt := t.TempDir()
	for name, body := range map[string]string{
		"Makefile":     "test:\n\t./build/tool\n\tsh run_tests.sh\nlint:\n\tno-such-linter-xyz\n",
		"run_tests.sh": "mytool --check\n",
		"package.json": `{"scripts": {"pretest": "no-such-pre-xyz", "start": "no-such-server-xyz"}}`,
	} {
		if err := os.WriteFile(filepath.Join(wt, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e := &Engine{cfg: &config.Config{}}
	tk := &store.Ticket{Worktree: wt}
	for _, c := range []struct{ command, output, want string }{
		{"make test", "make: ./build/tool: No such file or directory", ""},
		{"make test", "run_tests.sh: 1: mytool: not found", ""},
		{"make lint", "make: no-such-linter-xyz: No such file or directory\nmake: *** [Makefile:5: lint] Error 127", "no-such-linter-xyz"},
		{"npm test", "sh: 1: no-such-pre-xyz: not found", "no-such-pre-xyz"},
		{"npm test", "sh: 1: no-such-server-xyz: not found", ""},
		{"cargo nextest run", "error: no such command: `nextest`", "cargo-nextest"},
		{"cargo test", "error: no such command: `nextest`", ""},
	} {
		if got := e.notFoundRunner(tk, c.command, c.output); got != c.want {
			t.Errorf("%q / %q: %q, want %q", c.command, c.output, got, c.want)
		}
	}
}

// Frozen files hashed again (after the base is brought in) keep how they
// were hashed: a .rs file's inline tests stay its test items, not the
// whole file, which code must still be able to change.
func TestFrozenRustItemsStayItemsWhenHashedAgain(t *testing.T) {
	h := newHarness(t, "", developer)
	wt := t.TempDir()
	src := "pub fn f() -> u8 { 1 }\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn one() { assert_eq!(super::f(), 1); }\n}\n"
	if err := os.WriteFile(filepath.Join(wt, "lib.rs"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	frozen := map[string]string{"lib.rs": rustTestsHash([]byte(src))}
	again, err := h.eng.hashFrozen(wt, frozen)
	if err != nil || again["lib.rs"] != frozen["lib.rs"] {
		t.Fatalf("hashed again: %q, want %q (%v)", again["lib.rs"], frozen["lib.rs"], err)
	}
	// the code around the tests changes: not a frozen file changed
	if err := os.WriteFile(filepath.Join(wt, "lib.rs"), []byte(strings.Replace(src, "{ 1 }", "{ 2 - 1 }", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if changed := h.eng.changedFiles(wt, again); len(changed) != 0 {
		t.Fatalf("changing the code around the tests changed %v", changed)
	}
}

// A red run that is a runner finding no tests is no red run: the model is
// told to write tests where the runner looks, or, for Jest in a worktree
// inside .git (which it skips: an earlier agent-tui's, or for want of a
// home), a person is told why.
func TestNoTestsFoundIsNoRedRun(t *testing.T) {
	for _, tc := range []struct {
		said, want string
		noHome     bool
	}{
		{"No tests found, exiting with code 1", "tests failed 3 attempts", false},
		{"No tests found, exiting with code 1", "Jest and Vitest skip every path inside a .git directory", true},
		{"collected 0 items", "tests failed 3 attempts", false},
	} {
		if tc.noHome {
			t.Setenv("XDG_DATA_HOME", "/dev/null/data")
		}
		h := newHarness(t, "", developer)
		h.cfg.TestCommand = fmt.Sprintf("echo '%s'; exit 1", tc.said)
		id := h.add("hotfix", "no tests found", false)
		h.runIdle()
		tk := h.ticket(id)
		if tk.Status != store.StatusNeedsHuman || !strings.Contains(tk.Reason, tc.want) {
			t.Fatalf("%s: %s (%s)", tc.said, tk.Status, tk.Reason)
		}
		if len(h.phase(id, "code").Attempts) != 0 {
			t.Fatalf("%s: code ran on a red run that found no tests", tc.said)
		}
	}
}

// Green on nothing the branch keeps is no fix: a code attempt that wrote
// only an ignored file (a .env its Makefile includes) is refused.
func TestCodeThatChangesNothingKeptIsRefused(t *testing.T) {
	needTools(t, "make")
	project := maps.Clone(shellProject)
	project[".gitignore"] = ".env\n"
	project["Makefile"] = "-include .env\nRUN ?= sh run_tests.sh\n\ntest:\n\t$(RUN)\n"
	h := newHarnessOn(t, project, "", firstCodeOnly(writeCall("e", ".env", "RUN = true\n")))
	h.cfg.TestCommand = "make test"
	id := h.add("hotfix", "green on an ignored file", false)
	h.runIdle()
	h.firstFailedThenDone(id, "code", "no file the branch keeps was changed")
}

// Code that tells a test run from a real one, or replaces an assertion,
// is refused: the tests would pass while the bug ships. What the base
// already holds is not the code's doing.
func TestCodeMayNotTellTestsFromRealRuns(t *testing.T) {
	for _, c := range []struct {
		name  string
		cheat oaitest.ToolCall
		want  string
	}{
		{"rust cfg(not(test))", writeCall("x", "src/lib.rs", "#[cfg(not(test))]\npub fn clamp(x: i64) -> i64 { x }\n#[cfg(test)]\npub fn clamp(x: i64) -> i64 { x.min(10) }\n"), "src/lib.rs: cfg(not/any/all(… test …))"},
		{"rust cfg(not(any(test)))", writeCall("x", "src/lib.rs", "#[cfg(not(any(test)))]\npub fn clamp(x: i64) -> i64 { x }\n#[cfg(any(test))]\npub fn clamp(x: i64) -> i64 { x.min(10) }\n"), "src/lib.rs: cfg(not/any/all(… test …))"},
		{"rust cfg!", writeCall("x", "src/lib.rs", "pub fn clamp(x: i64) -> i64 { if cfg!(test) { x.min(10) } else { x } }\n"), "src/lib.rs: cfg!(test)"},
		{"jest's worker id", writeCall("x", "src/app.js", "module.exports = process.env.JEST_WORKER_ID ? 10 : 11;\n"), "src/app.js: JEST_WORKER_ID"},
		{"pytest in sys.modules", writeCall("x", "calc/limit.py", "import sys\nLIMIT = 10 if 'pytest' in sys.modules else 11\n"), "calc/limit.py: a test runner in sys.modules"},
		{"go's testing.Testing", writeCall("x", "calc/limit.go", "package calc\n\nimport \"testing\"\n\nfunc Limit() int {\n\tif testing.Testing() {\n\t\treturn 10\n\t}\n\treturn 11\n}\n"), "calc/limit.go: testing.Testing()"},
		{"an assertion replaced", writeCall("x", "src/setup.js", "require('node:assert').strictEqual = () => {};\n"), "src/setup.js: an assertion replaced"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarnessOn(t, shellProject, "", firstCodeAlso(c.cheat))
			id := h.add("hotfix", "tells tests apart", false)
			h.runIdle()
			h.firstFailedThenDone(id, "code", "the code tells a test run from a real one, or changes the test framework ("+c.want)
		})
	}
	// written by the tests phase (a derive its assertions need), or moved
	// by the code unchanged: not the code's to answer for
	h := newHarness(t, "", ecoScript(
		func(id string) []oaitest.ToolCall {
			return []oaitest.ToolCall{
				writeCall("l", "src/lib.rs", "#[cfg_attr(test, derive(Debug))]\npub struct Limit(i64);\n\n#[cfg(all(test, unix))]\nmod tests {\n    #[test]\n    fn limit() {}\n}\n"),
				writeCall("t", "tests/"+id+"_test.sh", "grep -q 'done "+id+"' src/"+id+".txt\n"),
			}
		},
		func(id string) []oaitest.ToolCall {
			return []oaitest.ToolCall{writeCall("c", "src/"+id+".txt", "done "+id+"\n"),
				writeCall("l", "src/lib.rs", "#[cfg_attr(test, derive(Debug))]\npub struct Limit(pub i64);\n\n#[cfg(all(test, unix))]\nmod tests {\n    #[test]\n    fn limit() {}\n}\n")}
		}))
	id := h.add("hotfix", "the tests' own cfg", false)
	h.runIdle()
	h.doneAtFirstCode(id)
	project := maps.Clone(shellProject)
	project["src/logger.js"] = "module.exports = (m) => { if (process.env.NODE_ENV === 'test') return; console.log(m); };\n"
	h = newHarnessOn(t, project, "", firstCodeAlso(oaitest.ToolCall{ID: "m", Name: "run_command", Args: `{"command": "mkdir -p src/log && mv src/logger.js src/log/index.js"}`}))
	id = h.add("hotfix", "moves the logger", false)
	h.runIdle()
	h.doneAtFirstCode(id)
	// a line moved from one file to another
	project = maps.Clone(shellProject)
	project["src/a.js"] = "function quiet() { if (process.env.NODE_ENV === 'test') return true; }\nmodule.exports = { quiet };\n"
	project["src/b.js"] = "module.exports = {};\n"
	h = newHarnessOn(t, project, "", firstCodeAlso(
		writeCall("a", "src/a.js", "module.exports = require('./b');\n"),
		writeCall("b", "src/b.js", "function quiet() { if (process.env.NODE_ENV === 'test') return true; }\nmodule.exports = { quiet };\n")))
	id = h.add("hotfix", "moves a function", false)
	h.runIdle()
	h.doneAtFirstCode(id)
	// held by the base already: the code's change elsewhere in the file
	// is no cheat
	project = maps.Clone(shellProject)
	project["src/app.js"] = "const quiet = process.env.JEST_WORKER_ID !== undefined;\nmodule.exports = { quiet };\n"
	h = newHarnessOn(t, project, "", firstCodeAlso(writeCall("x", "src/app.js", project["src/app.js"]+"module.exports.limit = 10;\n")))
	id = h.add("hotfix", "keeps the base's", false)
	h.runIdle()
	h.doneAtFirstCode(id)
}

// What code ordinarily says matches no testSniffs.
func TestTestSniffsLeaveOrdinaryCode(t *testing.T) {
	for _, line := range []string{
		"const assert = require('assert');", "assert.strictEqual(a, b);", "#[cfg(test)]", "mod tests;",
		"if (process.env.NODE_ENV === 'production') {}", "expect(x).toBe(y);", "import unittest",
		`#[cfg(feature = "testing")]`, "x = assert.ok", "if os.Getenv(\"TEST\") != \"\" {", "fn test_limit() {}",
		`key := "test.run"`, `flag.Lookup("verbose")`, "# run with pytest -q", "if (typeof window !== 'undefined') {}",
		`#[cfg(all(unix, feature = "test-util"))]`, `if cfg!(feature = "test-util") {}`, "config.expect.timeout = 5000;",
	} {
		for _, s := range testSniffs {
			if s.re.MatchString(line) {
				t.Errorf("%q taken for %s", line, s.what)
			}
		}
	}
}

// What the tests phase wrote for its tests to read or call (a golden
// file in testdata/, a helper package) is frozen with them.
func TestTestSupportIsFrozen(t *testing.T) {
	h := newHarness(t, "", ecoScript(
		func(id string) []oaitest.ToolCall {
			return []oaitest.ToolCall{
				writeCall("g", "testdata/"+id+".golden", "done "+id+"\n"),
				writeCall("t", "tests/"+id+"_test.sh", "cmp -s src/"+id+".txt testdata/"+id+".golden\n"),
			}
		},
		func(id string) []oaitest.ToolCall {
			return []oaitest.ToolCall{writeCall("c", "src/"+id+".txt", "half done\n"), writeCall("g", "testdata/"+id+".golden", "half done\n")}
		},
		func(id string) []oaitest.ToolCall {
			return []oaitest.ToolCall{writeCall("c", "src/"+id+".txt", "done "+id+"\n")}
		}))
	id := h.add("hotfix", "golden", false)
	h.runIdle()
	h.firstFailedThenDone(id, "code", "were changed (testdata/"+id+".golden)")
	if _, ok := h.ticket(id).TestFiles["testdata/"+id+".golden"]; !ok {
		t.Fatalf("frozen %v", h.ticket(id).TestFiles)
	}
}

// pytest's exit code 5 is its word for no tests collected, whatever a
// plugin printed.
func TestPytestExitCodeFiveIsNoTestsFound(t *testing.T) {
	project := maps.Clone(shellProject)
	project["pytest"] = "echo 'quiet plugin'\nexit 5\n"
	h := newHarnessOn(t, project, "", developer)
	h.cfg.TestCommand = "sh pytest"
	id := h.add("hotfix", "nothing collected", false)
	h.runIdle()
	a := h.phase(id, "tests").Attempts
	if len(a) == 0 || a[0].Verdict == nil || !strings.Contains(strings.Join(a[0].Verdict.Objections, " "), "pytest exited with code 5: no tests collected") {
		t.Fatalf("tests attempts %+v", a)
	}
	if len(h.phase(id, "code").Attempts) != 0 {
		t.Fatal("code ran on a run that collected no tests")
	}
}

// Dependencies installed in the checkout (an ignored node_modules) serve
// the worktrees, as Node's lookup in the directories above found them
// when worktrees were inside the checkout's .git: the tests phase's red
// run, code's green one and CI all need them, confined.
func TestCheckoutsNodeModulesServeWorktrees(t *testing.T) {
	needTools(t, "node", "npm")
	project := map[string]string{
		".gitignore":   "node_modules/\n",
		"package.json": `{"name": "padder", "version": "1.0.0", "scripts": {"test": "node --test"}}` + "\n",
		"src/index.js": "'use strict';\nconst lp = require('leftpadx');\nfunction pad(s, n) { return lp(s, n - 1); }\nmodule.exports = { pad };\n",
	}
	test := "'use strict';\nconst test = require('node:test');\nconst assert = require('node:assert');\nconst { pad } = require('../src/index.js');\ntest('pad width', () => { assert.strictEqual(pad('a', 2).length, 2); });\n"
	fix := writeCall("fix", "src/index.js", "'use strict';\nconst lp = require('leftpadx');\nfunction pad(s, n) { return lp(s, n); }\nmodule.exports = { pad };\n")
	project["package.json"] = `{"name": "padder", "version": "1.0.0", "scripts": {"test": "node --test"}, "dependencies": {"leftpadx": "1.0.0"}}` + "\n"
	// not installed anywhere: the red run's failure is the setup's, and
	// says so, not a red run the code could turn green
	h := newHarnessOn(t, project, "", ecoScript(calls(writeCall("t", "test/pad.test.js", test)), calls(fix)))
	h.cfg.TestCommand = "npm test"
	id := h.add("hotfix", "pad", false)
	h.runIdle()
	if tk := h.ticket(id); tk.Status != store.StatusNeedsHuman || !strings.Contains(tk.Reason, "could not load leftpadx, a dependency package.json declares") {
		t.Fatalf("without node_modules: %s (%s)", tk.Status, tk.Reason)
	}
	h = newHarnessOn(t, project, "", ecoScript(calls(writeCall("t", "test/pad.test.js", test)), calls(fix)))
	for name, body := range map[string]string{
		"node_modules/leftpadx/index.js":     "module.exports = (s, n) => String(s).padStart(n, ' ');\n",
		"node_modules/leftpadx/package.json": `{"name": "leftpadx", "version": "1.0.0", "main": "index.js"}` + "\n",
	} {
		p := filepath.Join(h.dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h.cfg.TestCommand = "npm test"
	h.cfg.CICommand = "npm test"
	h.runLimit = 3 * 60e9
	id = h.add("hotfix", "pad", false)
	h.runIdle()
	tk := h.ticket(id)
	if tk.Status != store.StatusDone {
		t.Fatalf("%s at %s (%s)", tk.Status, tk.Phase, tk.Reason)
	}
	red := h.phase(id, "tests").Attempts[0].Checks
	if len(red) == 0 || strings.Contains(red[len(red)-1].Output, "Cannot find module") {
		t.Fatalf("the red run did not find the dependency: %+v", red)
	}
	if n := len(h.phase(id, "code").Attempts); n != 1 {
		t.Fatalf("code attempts: %d", n)
	}
}

// A binary fixture the tests phase wrote (under tests/) is frozen too;
// a test binary a build left there is not.
func TestBinaryFixtureIsFrozen(t *testing.T) {
	bin := func(v string) oaitest.ToolCall {
		return oaitest.ToolCall{ID: "b", Name: "run_command", Args: `{"command": "mkdir -p tests/fixtures && printf '\\000\\007` + v + `' > tests/fixtures/seven.bin"}`}
	}
	h := newHarness(t, "", ecoScript(
		func(id string) []oaitest.ToolCall {
			return []oaitest.ToolCall{bin(`\\000`), writeCall("t", "tests/"+id+"_test.sh", "grep -q 'done "+id+"' src/"+id+".txt\n"),
				{ID: "r", Name: "run_command", Args: `{"command": "cp /bin/true tests/runner"}`}}
		},
		func(id string) []oaitest.ToolCall {
			return []oaitest.ToolCall{bin(""), writeCall("c", "src/"+id+".txt", "done "+id+"\n")}
		},
		func(id string) []oaitest.ToolCall {
			return []oaitest.ToolCall{writeCall("c", "src/"+id+".txt", "done "+id+"\n"), {ID: "r", Name: "run_command", Args: `{"command": "cp /bin/false tests/runner"}`}}
		}))
	id := h.add("hotfix", "binary fixture", false)
	h.runIdle()
	h.firstFailedThenDone(id, "code", "were changed (tests/fixtures/seven.bin)")
	if _, ok := h.ticket(id).TestFiles["tests/runner"]; ok {
		t.Fatalf("a test binary a build left is frozen: %v", h.ticket(id).TestFiles)
	}
}

// A file named like a .PHONY target changes nothing make does: code may
// write one (a wrapper script named test).
func TestFileNamedLikeAPhonyTargetIsCodes(t *testing.T) {
	needTools(t, "make")
	project := maps.Clone(shellProject)
	project["Makefile"] = ".PHONY: test\ntest:\n\tsh run_tests.sh\n"
	h := newHarnessOn(t, project, "", firstCodeAlso(writeCall("x", "test", "#!/bin/sh\nmake test\n")))
	h.cfg.TestCommand = "make test"
	id := h.add("hotfix", "a wrapper named test", false)
	h.runIdle()
	h.doneAtFirstCode(id)
}

// A green run in which make ran nothing (a directory named like the
// target, not .PHONY, made it up to date) is no green run.
func TestMakeUpToDateIsNoGreenRun(t *testing.T) {
	needTools(t, "make")
	for _, c := range []struct {
		name, made, target string
		makefiles          map[string]string
	}{
		{"a directory named test", "test/NOTES.md", "test", map[string]string{"Makefile": "test:\n\tsh run_tests.sh\n"}},
		{"a sub-make's through variables", "sub/test/NOTES.md", "sub/test", map[string]string{
			"Makefile":     "SUB = sub\nT = test\ntest:\n\t$(MAKE) -C $(SUB) $(T)\n.PHONY: test\n",
			"sub/Makefile": "test:\n\tcd .. && sh run_tests.sh\n",
		}},
		{"a prerequisite", "unit/NOTES.md", "unit", map[string]string{"Makefile": ".PHONY: test\ntest: unit\nunit:\n\tsh run_tests.sh\n"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			project := maps.Clone(shellProject)
			maps.Copy(project, c.makefiles)
			h := newHarnessOn(t, project, "", firstCodeOnly(writeCall("n", c.made, "notes\n")))
			h.cfg.TestCommand = "make test"
			id := h.add("hotfix", c.name, false)
			h.runIdle()
			h.firstFailedThenDone(id, "code", "make took the target "+c.target+" for up to date")
		})
	}
	// a sub-make's word, and a target up to date that the attempt did
	// not make (make build test, build built before)
	none := func(string) bool { return false }
	wt := t.TempDir()
	for name, body := range map[string]string{
		"Makefile":       "SUB = sub\nT = test\ntest:\n\t$(MAKE) -C $(SUB) $(T)\n.PHONY: test\n",
		"sub/Makefile":   "# the suite\ntest: unit lint\n.PHONY: test lint\nunit: ; sh run.sh\nlint:\n\ttrue\n",
		"sub/unit/x.txt": "made by the attempt\n",
		"v/Makefile":     "UNIT = unit\ntest: $(UNIT)\n.PHONY: test\n$(UNIT):\n\tsh run.sh\n",
		"f/tests.mk":     "test: unit\n.PHONY: test\nunit:\n\tsh run.sh\n",
		"i/Makefile":     "include rules.mk\n",
		"i/rules.mk":     "test: unit\n.PHONY: test\nunit:\n\tsh run.sh\n",
		"gen/Makefile":   "all: table.go\n.PHONY: all\ntable.go: spec.txt\n\tsh gen.sh\n",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(wt, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(wt, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name, output string
		changed      []string
		committed    func(string) bool
		want         string
	}{
		{"a sub-make's word", "make[1]: 'test' is up to date.\n", []string{"test/NOTES.md"}, none, "test"},
		{"make build test, build built before", "make: Nothing to be done for 'build'.\nall tests passed\n", []string{"src/x.c"}, none, ""},
		{"a committed build/ the fix edits", "make: 'build' is up to date.\n", []string{"build/config.sh"}, func(p string) bool { return p == "build" }, ""},
		{"a sub-make in sub/, through variables", "make -C sub test\nmake[1]: Entering directory '" + wt + "/sub'\nmake[1]: 'test' is up to date.\nmake[1]: Leaving directory '" + wt + "/sub'\n", []string{"sub/test/x"}, none, "sub/test"},
		{"there, a name at the top is another file", "make[1]: Entering directory '" + wt + "/sub'\nmake[1]: 'test' is up to date.\n", []string{"test/x"}, none, ""},
		{"a prerequisite's namesake", "make[1]: Entering directory '" + wt + "/sub'\nmake[1]: Nothing to be done for 'test'.\n", []string{"sub/unit/x.txt"}, none, "sub/unit"},
		{"a .PHONY prerequisite is no file", "make[1]: Entering directory '" + wt + "/sub'\nmake[1]: Nothing to be done for 'test'.\n", []string{"sub/lint/x.txt"}, none, ""},
		{"after the sub-make left, the top again", "make[1]: Entering directory '" + wt + "/sub'\nmake[1]: Leaving directory '" + wt + "/sub'\nmake: 'unit' is up to date.\n", []string{"sub/unit/x.txt"}, none, ""},
		{"a make outside the worktree", "make[1]: Entering directory '/elsewhere'\nmake[1]: 'test' is up to date.\n", []string{"test/x"}, none, ""},
		{"a sub-make that did not say where", "make[2]: 'test' is up to date.\n", []string{"pkg/test/x"}, none, "test"},
		{"nor where it was committed", "make[2]: 'test' is up to date.\n", []string{"pkg/test/x"}, func(p string) bool { return p == "pkg/test" }, ""},
		{"a prerequisite named by a variable", "make[1]: Entering directory '" + wt + "/v'\nmake[1]: Nothing to be done for 'test'.\n", []string{"v/unit/README"}, none, "v/unit"},
		{"a prerequisite in make -f's file", "make[1]: Entering directory '" + wt + "/f'\nmake[1]: Nothing to be done for 'test'.\n", []string{"f/unit/README"}, none, "f/unit"},
		{"a prerequisite in an included file", "make[1]: Entering directory '" + wt + "/i'\nmake[1]: Nothing to be done for 'test'.\n", []string{"i/unit/README"}, none, "i/unit"},
		{"a file made again from its sources, as a build does", "make[1]: Entering directory '" + wt + "/gen'\nmake[1]: Nothing to be done for 'all'.\n", []string{"gen/table.go", "gen/spec.txt", "calc.go"}, none, ""},
	} {
		if got := makeRanNothing(c.output, wt, c.changed, []string{"f/tests.mk", "i/Makefile"}, c.committed); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// The package.json that declares a dependency Node could not load is
// found from the file that asked, in CommonJS's require stack (as node
// --test's TAP prints it too) or an ES module's "imported from".
func TestMissingDependencyIsFoundFromTheFileThatAsked(t *testing.T) {
	wt := t.TempDir()
	for name, body := range map[string]string{
		"package.json":                 `{"name": "root", "workspaces": ["packages/*"]}`,
		"packages/app/package.json":    `{"name": "app", "dependencies": {"@org/lib": "*", "leftpad": "1", "lodash": "4"}}`,
		"node_modules/lodash/index.js": "module.exports = {}",
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(wt, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(wt, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	app := filepath.Join(wt, "packages", "app", "index.js")
	for out, want := range map[string]string{
		"Error: Cannot find module '@org/lib/util'\nRequire stack:\n- " + app + "\n":               "@org/lib",
		"# Error: Cannot find module 'leftpad'\n# Require stack:\n# - " + app + "\n":               "leftpad",
		"Error [ERR_MODULE_NOT_FOUND]: Cannot find package '@org/lib' imported from " + app + "\n": "@org/lib",
		"Error: Cannot find module './local'\nRequire stack:\n- " + app + "\n":                     "",
		"Error: Cannot find module 'undeclared'\nRequire stack:\n- " + app + "\n":                  "",
		// installed: the code's path into it is wrong, not the setup
		"Error: Cannot find module 'lodash/nosuch'\nRequire stack:\n- " + app + "\n": "",
	} {
		if got := missingDependency(wt, "", out); got != want {
			t.Errorf("%q: %q, want %q", out, got, want)
		}
	}
}

// firstCodeOnly is the developer whose first code attempt makes calls
// alone (firstCodeAlso's, without the fix).
func firstCodeOnly(calls ...oaitest.ToolCall) script {
	var c counter
	return func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase == "code" && toolTurns(r) == 0 && c.inc("code") == 1 {
			return oaitest.Reply{ToolCalls: calls}
		}
		return developer(r, phase)
	}
}

// doneAtFirstCode fails unless the ticket is done with one code attempt.
func (h *harness) doneAtFirstCode(id string) {
	h.t.Helper()
	if tk := h.ticket(id); tk.Status != store.StatusDone || len(h.phase(id, "code").Attempts) != 1 {
		h.t.Fatalf("%s: %s (%s), code attempts %+v", tk.Title, tk.Status, tk.Reason, h.phase(id, "code").Attempts)
	}
}
