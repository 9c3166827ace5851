package config

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDetectTestCommand(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"empty", nil, ""},
		{"go", map[string]string{"go.mod": "module x\n", "Makefile": "test:\n\tgo test\n"}, "go test ./..."},
		{"cargo", map[string]string{"Cargo.toml": "[package]\n"}, "cargo test"},
		{"npm", map[string]string{"package.json": `{"scripts": {"test": "jest"}}`}, "npm test"},
		{"npm placeholder", map[string]string{"package.json": `{"scripts": {"test": "echo \"Error: no test specified\" && exit 1"}}`}, ""},
		{"npm without test", map[string]string{"package.json": `{"scripts": {"build": "tsc"}}`}, ""},
		{"npm broken json falls through", map[string]string{"package.json": `{`, "Makefile": "test:\n"}, "make test"},
		{"make", map[string]string{"Makefile": "all: build\n\ntest: build\n\tgo test\n"}, "make test"},
		{"make multi-target", map[string]string{"Makefile": "lint test: deps\n"}, "make test"},
		{"make variable only", map[string]string{"Makefile": "test := 1\nTESTS = a:b\n\ttest:\n"}, ""},
		{"make testing target only", map[string]string{"Makefile": "testing:\n"}, ""},
		{"python pyproject", map[string]string{"pyproject.toml": ""}, "python -m pytest"},
		{"python pytest.ini", map[string]string{"pytest.ini": ""}, "python -m pytest"},
		{"python setup.py", map[string]string{"setup.py": ""}, "python -m pytest"},
		{"make before python", map[string]string{"setup.py": "", "Makefile": "test:\n"}, "make test"},
		{"maven", map[string]string{"pom.xml": "<project/>"}, "mvn -q test"},
		{"maven wrapper", map[string]string{"pom.xml": "<project/>", "mvnw": "#!/bin/sh\n"}, "./mvnw -q test"},
		{"gradle", map[string]string{"build.gradle.kts": ""}, "gradle test"},
		{"gradle wrapper", map[string]string{"build.gradle": "", "gradlew": "#!/bin/sh\n"}, "./gradlew test"},
		{"deno", map[string]string{"deno.json": "{}"}, "deno test"},
		{"mix", map[string]string{"mix.exs": ""}, "mix test"},
		{"make check only", map[string]string{"Makefile": "all:\ncheck: all\n"}, "make check"},
		{"make test before check", map[string]string{"Makefile": "check:\ntest:\n"}, "make test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if got := DetectTestCommand(dir); got != tt.want {
				t.Errorf("DetectTestCommand = %q, want %q", got, tt.want)
			}
		})
	}
	// A go.mod directory is not a go.mod file.
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "go.mod"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := DetectTestCommand(dir); got != "" {
		t.Errorf("directory go.mod detected as %q", got)
	}
}

// Without a python on PATH, a python3 there runs the tests.
func TestDetectTestCommandPrefersAPythonThatExists(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pyproject.toml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	t.Setenv("PATH", bin)
	if err := os.WriteFile(filepath.Join(bin, "python3"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := DetectTestCommand(dir); got != "python3 -m pytest" {
		t.Errorf("only python3 on PATH: %q", got)
	}
	if err := os.WriteFile(filepath.Join(bin, "python"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := DetectTestCommand(dir); got != "python -m pytest" {
		t.Errorf("python on PATH: %q", got)
	}
}
