package config

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"strings"

	"agent-tui/engine/wtfile"
)

// IsTestMarker says whether a top-level file name is one DetectTestCommand
// may find a command in.
func IsTestMarker(name string) bool {
	switch name {
	case "go.mod", "Cargo.toml", "package.json", "GNUmakefile", "makefile", "Makefile", "pyproject.toml", "pytest.ini", "setup.py",
		"pom.xml", "build.gradle", "build.gradle.kts", "deno.json", "deno.jsonc", "mix.exs":
		return true
	}
	return false
}

// DetectTestCommand guesses the test command of the project in dir from its
// build files; "" when nothing is recognised. dir may be a worktree the
// model wrote: its files are read inside it, capped, and never as a fifo.
func DetectTestCommand(dir string) string {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return ""
	}
	defer root.Close()
	exists := func(name string) bool {
		fi, err := root.Stat(name)
		return err == nil && !fi.IsDir()
	}
	switch {
	case exists("go.mod"):
		return "go test ./..."
	case exists("Cargo.toml"):
		return "cargo test"
	case npmHasTest(root):
		return "npm test"
	case makeHas(root, "test"):
		return "make test"
	case exists("pom.xml"):
		return wrapper(exists, "mvnw", "mvn") + " -q test"
	case exists("build.gradle"), exists("build.gradle.kts"):
		return wrapper(exists, "gradlew", "gradle") + " test"
	case exists("deno.json"), exists("deno.jsonc"):
		return "deno test"
	case exists("mix.exs"):
		return "mix test"
	case exists("pyproject.toml"), exists("pytest.ini"), exists("setup.py"):
		return python() + " -m pytest"
	case makeHas(root, "check"):
		return "make check"
	}
	return ""
}

// wrapper is the project's own wrapper script (./mvnw, ./gradlew), which
// pins the tool's version, where there is one; else the tool.
func wrapper(exists func(string) bool, script, tool string) string {
	if exists(script) {
		return "./" + script
	}
	return tool
}

// python is the Python to run: python3 where there is no python (Debian
// and Ubuntu install only python3), else python.
func python() string {
	if _, err := exec.LookPath("python"); err != nil {
		if _, err := exec.LookPath("python3"); err == nil {
			return "python3"
		}
	}
	return "python"
}

// npmHasTest reports a real scripts.test; the placeholder "npm init" writes
// only fails, so it does not count.
func npmHasTest(root *os.Root) bool {
	// a link inside the worktree is followed, as npm would
	data, err := wtfile.ReadLinked(root, "package.json", 4<<20)
	if err != nil {
		return false
	}
	var pkg struct {
		Scripts map[string]string `json:"scripts"`
	}
	if json.Unmarshal(data, &pkg) != nil {
		return false
	}
	t := strings.TrimSpace(pkg.Scripts["test"])
	return t != "" && !strings.Contains(t, "no test specified")
}

func makeHas(root *os.Root, target string) bool {
	for _, name := range []string{"GNUmakefile", "makefile", "Makefile"} {
		if makefileHas(root, name, target) {
			return true
		}
	}
	return false
}

// makefileHas looks for a rule line naming target, e.g. "test:" or
// "test lint: deps", but not a variable like "test := x".
func makefileHas(root *os.Root, name, want string) bool {
	f, _, err := wtfile.OpenLinked(root, name)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 4<<20))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '\t' || line[0] == '#' {
			continue // recipes and comments
		}
		i := strings.IndexByte(line, ':')
		if i < 0 || strings.ContainsAny(line[:i], "=$") || strings.HasPrefix(line[i:], ":=") || strings.HasPrefix(line[i:], "::=") {
			continue
		}
		for _, target := range strings.Fields(line[:i]) {
			if target == want {
				return true
			}
		}
	}
	return false
}
