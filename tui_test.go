package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"agent-tui/engine/oaitest"
	"agent-tui/engine/workspace"
)

// tmuxScreen drives the real binary in a tmux session, as a person would.
type tmuxScreen struct {
	t       *testing.T
	session string
}

func (s *tmuxScreen) capture() string {
	out, _ := exec.Command("tmux", "capture-pane", "-p", "-t", s.session).Output()
	return string(out)
}

func (s *tmuxScreen) keys(k ...string) {
	if out, err := exec.Command("tmux", append([]string{"send-keys", "-t", s.session}, k...)...).CombinedOutput(); err != nil {
		s.t.Fatalf("send-keys: %v %s", err, out)
	}
}

// waitFor polls the screen until it contains want.
func (s *tmuxScreen) waitFor(want string, limit time.Duration) string {
	s.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		screen := s.capture()
		if strings.Contains(screen, want) {
			return screen
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("screen never showed %q:\n%s", want, screen)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startTUI runs command in a new 150x42 tmux session (killed when the test
// ends); its exit status is written to exitFile.
func startTUI(t *testing.T, name, command string) (s *tmuxScreen, exitFile string) {
	t.Helper()
	s = &tmuxScreen{t: t, session: fmt.Sprintf("%s%d", name, os.Getpid())}
	exitFile = filepath.Join(t.TempDir(), "exit")
	// (written whole, then renamed: waitExit once read it still empty)
	cmd := fmt.Sprintf("%s; echo $? > %s.part && mv %s.part %s; sleep 30", command, exitFile, exitFile, exitFile)
	// the key as the CLI tests give it (a tmux server keeps its own environment)
	if out, err := exec.Command("tmux", "new-session", "-d", "-s", s.session, "-x", "150", "-y", "42", "-e", "AGENT_TUI_CLI_KEY="+secretKey, cmd).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("tmux", "kill-session", "-t", s.session).Run() })
	return s, exitFile
}

// waitExit waits for the command's exit status in exitFile and wants 0.
func (s *tmuxScreen) waitExit(exitFile string) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if data, err := os.ReadFile(exitFile); err == nil {
			if code := strings.TrimSpace(string(data)); code != "0" {
				s.t.Fatalf("agent-tui exited with %s", code)
			}
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("q did not quit:\n%s", s.capture())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// With no config and no OPENAI_API_KEY the TUI still opens to browse: it
// says no model runs, a new ticket is stored and waits, q quits with 0.
func TestTUIWithoutModelBrowses(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("no tmux")
	}
	dir := t.TempDir()
	if err := workspace.InitRepo(dir, oaitest.ShellProject, "main"); err != nil {
		t.Fatal(err)
	}
	s, exitFile := startTUI(t, "nomodel", "env -u OPENAI_API_KEY -u OPENAI_BASE_URL "+binPath+" --repo "+dir)

	s.waitFor("OPENAI_API_KEY is not set", 10*time.Second)
	s.keys("n")
	s.waitFor("Title", 5*time.Second)
	s.keys("-l", "read the history")
	s.keys("C-s")
	s.waitFor("no model: tickets wait", 5*time.Second)
	s.waitFor("read the history", 5*time.Second)
	s.keys("q")
	s.waitExit(exitFile)

	var v struct{ Status string }
	data, err := exec.Command(binPath, "--repo", dir, "show", "T-1", "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	if json.Unmarshal(data, &v); v.Status != "queued" {
		t.Fatalf("the new ticket is %q, want it queued for a run with a model", v.Status)
	}
}

// On a real repository with a configured provider: the ticket waits for
// approval, ? lists the keys, a + y approves and merges, q quits, and
// show --json says done.
func TestTUIApproveMergesAndQuits(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("no tmux")
	}
	srv := oaitest.New(oaitest.Developer)
	defer srv.Close()
	dir := newRepo(t, oaitest.ShellProject, srv.URL, "test_command = \"sh run_tests.sh\"\napprove = [\"review\"]\n")
	out, err := exec.Command(binPath, "--repo", dir, "add", "--kind", "hotfix", "fix the widget").Output()
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(string(out))

	s, exitFile := startTUI(t, "tui", binPath+" --repo "+dir)

	s.waitFor("fix the widget", 10*time.Second)
	s.waitFor("awaiting approval · ", 30*time.Second)
	s.keys("?")
	help := s.waitFor("approve", 5*time.Second)
	if !strings.Contains(help, "reject") {
		t.Fatalf("full help lacks reject:\n%s", help)
	}
	s.keys("?")
	s.keys("a")
	s.waitFor("Approve", 5*time.Second)
	s.keys("y")
	s.waitFor("done · ", 20*time.Second)
	s.keys("q")
	s.waitExit(exitFile)
	var v struct{ Status string }
	data, err := exec.Command(binPath, "--repo", dir, "show", id, "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	if json.Unmarshal(data, &v); v.Status != "done" {
		t.Fatalf("show --json says %q", v.Status)
	}
	if _, err := os.Stat(filepath.Join(dir, "src", id+".txt")); err != nil {
		t.Fatal("the approved branch is not merged into the checkout")
	}
}

// `agent-tui --demo` with no key: within 90 seconds the demo's tickets show,
// one awaiting approval and one needing a human, the model is labelled
// simulated, and no error shows.
func TestDemoInTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("no tmux")
	}
	if testing.Short() {
		t.Skip("the demo takes about 40 seconds")
	}
	s := &tmuxScreen{t: t, session: fmt.Sprintf("demo%d", os.Getpid())}
	stderr := filepath.Join(t.TempDir(), "stderr")
	// the demo keeps its repository for the user to look at: here, in a
	// directory the test removes
	cmd := fmt.Sprintf("env -u OPENAI_API_KEY TMPDIR=%s %s --demo 2>%s; echo exited $?; sleep 60", t.TempDir(), binPath, stderr)
	defer func() {
		if t.Failed() {
			data, _ := os.ReadFile(stderr)
			t.Logf("stderr:\n%s", data)
		}
	}()
	if out, err := exec.Command("tmux", "new-session", "-d", "-s", s.session, "-x", "150", "-y", "42", cmd).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	defer exec.Command("tmux", "kill-session", "-t", s.session).Run()
	s.waitFor("simulated", 15*time.Second)
	s.waitFor("needs human · ", 90*time.Second)
	screen := s.waitFor("awaiting approval · ", 90*time.Second)
	for _, bad := range []string{"error", "Error", "panic"} {
		if strings.Contains(screen, bad) {
			t.Fatalf("the demo shows %q:\n%s", bad, screen)
		}
	}
	s.keys("q")
}
