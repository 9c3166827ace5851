package prompts

import (
	"os"
	"path/filepath"
	"strings"
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
