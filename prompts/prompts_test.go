package prompts

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestEveryPromptRenders(t *testing.T) {
	s := New("")
	d := Data{Phase: "code", TicketID: "T-1", Kind: "feature", Title: "x", TestCommand: "go test ./...", CICommand: "make ci", Tools: []string{"read_file", "write_file"}}
	for _, name := range Names {
		out, err := s.Render(name, d)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(out) < 300 || strings.Contains(out, "<no value>") {
			t.Fatalf("%s renders badly:\n%s", name, out)
		}
	}
	if out, _ := s.Render("validator", d); !strings.Contains(out, `"pass"`) {
		t.Fatal("the validator prompt does not ask for the verdict JSON")
	}
}

func TestOverrideWinsAndBadTemplateNamesFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "review.md"), []byte("ours {{.Title}}"), 0o644)
	os.WriteFile(filepath.Join(dir, "split.md"), []byte("broken {{.Title"), 0o644)
	s := New(dir)
	if out, err := s.Render("review", Data{Title: "t"}); err != nil || out != "ours t" {
		t.Fatalf("%q %v", out, err)
	}
	if out, err := s.Render("planning", Data{Title: "t"}); err != nil || !strings.Contains(out, "planner") {
		t.Fatalf("built-in not used without an override: %v", err)
	}
	if _, err := s.Render("split", Data{}); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "split.md")) {
		t.Fatalf("error %v does not name the file", err)
	}
}

// A broken or empty override is found by Check, naming its file; the
// built-in prompts pass.
func TestCheckFindsBrokenOverrides(t *testing.T) {
	if err := New("").Check(); err != nil {
		t.Fatalf("built-in prompts: %v", err)
	}
	for body, want := range map[string]string{
		"broken {{.TicketID":                                 "unclosed action",
		"uses {{.NoSuchField}}":                              "NoSuchField",
		`Diagnose. {{if eq .Kind "hotfix"}}{{.Nope}}{{end}}`: "Nope",
		"  \n": "the prompt is empty",
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "tests.md"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		err := New(dir).Check()
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), filepath.Join(dir, "tests.md")) {
			t.Errorf("override %q: %v", body, err)
		}
	}
}

// A file in the override directory that overrides no prompt is named (a
// misspelt name would otherwise be silently unused); the others are not.
func TestUnknownOverridesAreNamed(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"diagnsis.md", "validator.md", "notes.txt"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("You are {{.Phase}}.\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got := New(dir).Unknown()
	if len(got) != 1 || !strings.Contains(got[0], "diagnsis.md overrides no prompt") || !strings.Contains(got[0], "diagnosis.md") {
		t.Fatalf("%q", got)
	}
	if New("").Unknown() != nil {
		t.Fatal("no directory, no warning")
	}
}

// An override that is a fifo or a link to a device is an error naming it,
// not a wait or all memory.
func TestOverrideThatIsNoFile(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "review.md"), 0o644); err != nil {
		t.Skip("no fifo here:", err)
	}
	if err := os.Symlink("/dev/zero", filepath.Join(dir, "tests.md")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "gone.md"), filepath.Join(dir, "code.md")); err != nil {
		t.Fatal(err)
	}
	s := New(dir)
	for name, want := range map[string]string{"review": "is not a regular file (a named pipe)", "tests": "is not a regular file (a device)", "code": "a link to " + filepath.Join(dir, "gone.md") + ", which does not exist"} {
		if _, err := s.Render(name, Data{}); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, name+".md")) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// The validator is rendered with the name of each phase it judges: a
// branch taken for one of them only is found by Check, which names the
// file, the phase and the fields a prompt can use.
func TestCheckRendersTheValidatorForEveryPhaseItJudges(t *testing.T) {
	for _, phase := range Validated {
		dir := t.TempDir()
		body := `Judge it. {{if eq .Phase "` + phase + `"}}{{.Bad}}{{end}}`
		if err := os.WriteFile(filepath.Join(dir, "validator.md"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		err := New(dir).Check()
		if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "validator.md")) || !strings.Contains(err.Error(), "phase "+phase) {
			t.Fatalf("%s: %v", phase, err)
		}
		if !strings.Contains(err.Error(), "a prompt can use .Phase, .TicketID, .Kind, .Title, .TestCommand, .CICommand, .Tools, .CanWrite, .CanRun") {
			t.Fatalf("the error does not name the fields: %v", err)
		}
	}
	// empty for one phase only is empty all the same
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "validator.md"), []byte(`{{if ne .Phase "split"}}Judge it.{{end}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := New(dir).Check(); err == nil || !strings.Contains(err.Error(), "the prompt is empty") || !strings.Contains(err.Error(), "phase split") {
		t.Fatalf("%v", err)
	}
}

// A branch on a command that is not configured is rendered too.
func TestCheckRendersWithoutACommand(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cifix.md"), []byte(`Fix CI. {{if not .TestCommand}}{{.Nope}}{{end}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := New(dir).Check(); err == nil || !strings.Contains(err.Error(), "Nope") {
		t.Fatalf("%v", err)
	}
}

// The coder follows what its request holds: a hotfix's diagnosis, a
// feature's plan.
func TestCodePromptNamesItsGroundwork(t *testing.T) {
	s := New("")
	for kind, want := range map[string]string{"hotfix": "diagnosis", "feature": "plan"} {
		out, err := s.Render("code", Data{Phase: "code", Kind: kind, TestCommand: "make test", Tools: allTools})
		if err != nil {
			t.Fatal(err)
		}
		other := map[string]string{"diagnosis": "plan", "plan": "diagnosis"}[want]
		if !strings.Contains(out, "gives you the "+want) || !strings.Contains(out, "following the "+want) || strings.Contains(out, other) {
			t.Errorf("%s:\n%s", kind, out)
		}
	}
}
