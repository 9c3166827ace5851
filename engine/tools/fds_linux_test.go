package tools

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readInheritedFD is the test binary started with a secret open on fd 3:
// each way agent-tui runs a command (run_command, a test run confined or
// not) tries to read it.
func readInheritedFD(dir string) {
	read := "cat <&3 2>&1; echo rc=$?"
	b, err := New(Options{Root: filepath.Join(dir, "wt"), TempDir: filepath.Join(dir, "tmp")})
	if err != nil {
		fmt.Println("box:", err)
		return
	}
	defer b.Close()
	res, _ := b.Call(context.Background(), "run_command", `{"command": "`+read+`"}`)
	fmt.Println("run_command:", res)
	r, err := Exec(context.Background(), []string{"sh", "-c", read}, dir, os.Environ(), 10*time.Second, 4096)
	fmt.Println("exec:", r.Output, err)
	r, err = ExecConfined(context.Background(), []string{"sh", "-c", read}, dir, os.Environ(), 10*time.Second, 4096, []string{dir}, nil, nil)
	fmt.Println("confined:", r.Output, r.Unconfined, err)
}

// What started agent-tui may leave a descriptor open (a key file, a
// socket): no command it runs gets it, confined or not.
func TestCommandsDoNotInheritDescriptors(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"wt", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	secret := filepath.Join(t.TempDir(), "id_key")
	mustWrite(t, secret, "INHERITED-SECRET\n")
	f, err := os.Open(secret)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(os.Args[0], "-test.run", "^$")
	cmd.Env = append(os.Environ(), "AGENT_TUI_TEST_FDS="+dir)
	cmd.ExtraFiles = []*os.File{f} // fd 3
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, way := range []string{"run_command:", "exec:", "confined:"} {
		if !strings.Contains(string(out), way) {
			t.Fatalf("no %s in:\n%s", way, out)
		}
	}
	if strings.Contains(string(out), "INHERITED-SECRET") || strings.Count(string(out), "rc=0") > 0 {
		t.Fatalf("a command read the inherited descriptor:\n%s", out)
	}
}
