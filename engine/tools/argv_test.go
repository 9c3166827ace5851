package tools

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCommandArgv(t *testing.T) {
	sh := func(c string) []string { return []string{"sh", "-c", c} }
	cases := map[string][]string{
		"sh run_tests.sh":               {"sh", "run_tests.sh"},
		"go test -count=1 ./...":        {"go", "test", "-count=1", "./..."},
		"  go   vet  ":                  {"go", "vet"},
		"go test ./... && go vet ./...": sh("go test ./... && go vet ./..."),
		"go test $PKGS":                 sh("go test $PKGS"),
		"go test 'a b'":                 sh("go test 'a b'"),
		"go test *.go":                  sh("go test *.go"),
		"CGO_ENABLED=0 go test":         sh("CGO_ENABLED=0 go test"),
		"cd sub":                        sh("cd sub"),
		". ./env.sh":                    sh(". ./env.sh"),
		"exit 1":                        sh("exit 1"),
		"make test # all":               sh("make test # all"),
		"no-such-program-agent-tui --x": sh("no-such-program-agent-tui --x"),
		"go test ~/x":                   sh("go test ~/x"),
		"go test ./... > out.txt":       sh("go test ./... > out.txt"),
		"":                              sh(""),
		"echo first\nsh run_tests.sh":   sh("echo first\nsh run_tests.sh"),
		"go vet ./...\n":                {"go", "vet", "./..."},
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "check.sh"), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "plain.txt"), []byte("not a program\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// relative programs are looked up in the command's directory
	cases["./check.sh --fast"] = []string{"./check.sh", "--fast"}
	cases["./plain.txt"] = sh("./plain.txt")
	cases["./missing.sh"] = sh("./missing.sh")
	for in, want := range cases {
		if got := CommandArgv(in, dir); !slices.Equal(got, want) {
			t.Errorf("CommandArgv(%q) = %q, want %q", in, got, want)
		}
	}
}

// A command sees PWD as its own directory, not agent-tui's, whether it runs
// directly or through sh.
func TestExecSetsPWD(t *testing.T) {
	dir := t.TempDir()
	env := append(os.Environ(), "PWD=/somewhere/else")
	for _, argv := range [][]string{CommandArgv("printenv PWD", dir), {"sh", "-c", "printenv PWD"}} {
		res, err := Exec(context.Background(), argv, dir, env, 10*time.Second, 1<<10)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimSpace(res.Output); got != dir {
			t.Errorf("%q sees PWD=%q, want %q", argv, got, dir)
		}
	}
}
