package engine

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"agent-tui/engine/config"
	"agent-tui/engine/tools"
	"agent-tui/prompts"
	"agent-tui/store"
)

// shapeOf is prompt data as far as a template can branch on it: the
// texts that are only printed are left out, a command is there or not.
func shapeOf(d prompts.Data) prompts.Data {
	d.TicketID, d.Title = "", ""
	switch {
	case d.CICommand == "":
	case d.CICommand == d.TestCommand:
		d.CICommand = "=test"
	default:
		d.CICommand = "ci"
	}
	if d.TestCommand != "" {
		d.TestCommand = "test"
	}
	return d
}

// The start-up check renders every prompt with each shape of data the
// engine renders it with: the validator with each phase it judges, each
// phase with the tools its session has (list_dir, not a made-up name).
func TestPromptCheckRendersWhatTheEngineRenders(t *testing.T) {
	h := newHarness(t, "", developer)
	covered := func(name string, d prompts.Data) bool {
		return slices.ContainsFunc(prompts.Variants(name), func(v prompts.Data) bool { return reflect.DeepEqual(shapeOf(v), shapeOf(d)) })
	}
	var judged []string
	for _, kind := range []string{KindFeature, KindHotfix, KindEpic} {
		tk := &store.Ticket{ID: "T-9", Kind: kind, Title: "x"}
		for _, phase := range Route(kind) {
			if phase == config.CI || phase == Merge {
				continue
			}
			var box *tools.Box
			if writesFiles(phase) || readsFiles(phase) {
				b, err := tools.New(tools.Options{Root: h.dir, ReadOnly: !writesFiles(phase), Sandbox: "off"})
				if err != nil {
					t.Fatal(err)
				}
				box = b
			}
			if d := h.eng.promptData(tk, phase, box); !covered(phase, d) {
				t.Errorf("%s of a %s renders with %+v, which the check never tries", phase, kind, d)
			}
			if box != nil {
				box.Close()
			}
			if validated(phase) {
				if d := h.eng.promptData(tk, phase, nil); !covered("validator", d) {
					t.Errorf("the validator of %s of a %s renders with %+v, which the check never tries", phase, kind, d)
				}
				if !slices.Contains(judged, phase) {
					judged = append(judged, phase)
				}
			}
		}
	}
	slices.Sort(judged)
	if want := slices.Sorted(slices.Values(prompts.Validated)); !slices.Equal(judged, want) {
		t.Errorf("the validator judges %v, prompts.Validated says %v", judged, want)
	}
}

// withPrompts gives the harness's engine an override directory holding
// files (the run does not check them first, as the command line does).
func withPrompts(t *testing.T, h *harness, files map[string]string) string {
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	h.eng.prompts = prompts.New(dir)
	return dir
}

// A validator prompt that fails to render at run time stops the ticket
// for a person, naming the file: the phase's answer is not paid for again
// and again to meet the same error.
func TestValidatorPromptThatDoesNotRenderStopsForAHuman(t *testing.T) {
	h := newHarness(t, "", developer)
	dir := withPrompts(t, h, map[string]string{"validator.md": `Judge it. {{if eq .Phase "diagnosis"}}{{.Bad}}{{end}}`})
	id := h.add("hotfix", "a broken validator prompt", false)
	h.runIdle()
	tk := h.ticket(id)
	if tk.Status != store.StatusNeedsHuman || !strings.Contains(tk.Reason, filepath.Join(dir, "validator.md")) || !strings.Contains(tk.Reason, "restart agent-tui") {
		t.Fatalf("%s (%s)", tk.Status, tk.Reason)
	}
	if n, v := len(h.requests("diagnosis")), len(h.requests("validator of diagnosis")); n != 1 || v != 0 {
		t.Fatalf("%d diagnosis requests, %d validator requests", n, v)
	}
}

// So does a phase's own prompt: at once, not as an engine error after the
// step was tried again.
func TestPhasePromptThatDoesNotRenderStopsForAHuman(t *testing.T) {
	h := newHarness(t, "", developer)
	dir := withPrompts(t, h, map[string]string{"code.md": `Code it. {{if eq .Kind "hotfix"}}{{.Bad}}{{end}}`})
	id := h.add("hotfix", "a broken code prompt", false)
	h.runIdle()
	tk := h.ticket(id)
	if tk.Status != store.StatusNeedsHuman || tk.Phase != config.Code || !strings.HasPrefix(tk.Reason, "the code prompt does not render: "+filepath.Join(dir, "code.md")) {
		t.Fatalf("%s at %s (%s)", tk.Status, tk.Phase, tk.Reason)
	}
	if n := len(h.requests("code")); n != 0 {
		t.Fatalf("%d code requests", n)
	}
}

// The coder of a hotfix is told to follow the diagnosis its request holds,
// not a plan it does not have.
func TestCodePromptNamesTheSectionItsRequestHolds(t *testing.T) {
	h := newHarness(t, "", developer)
	id := h.add("hotfix", "follow the diagnosis", false)
	h.runIdle()
	code := h.firstTurns("code")
	if len(code) == 0 {
		t.Fatalf("no code request (%s)", h.ticket(id).Reason)
	}
	sys, user := code[0].Messages[0].Content, userText(code[0])
	if !strings.Contains(user, "\n## Diagnosis\n") || !strings.Contains(sys, "following the diagnosis") || strings.Contains(sys, "plan") {
		t.Fatalf("system:\n%s\nuser:\n%s", sys, user)
	}
}
