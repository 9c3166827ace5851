package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"agent-tui/engine/oaitest"
	"agent-tui/engine/tools"
	"agent-tui/store"
)

func attemptsOf(p PhaseView) int { return len(p.Attempts) }

// A feature whose discovery is rejected once and planning twice: each retry
// carries every earlier objection, each phase runs on its chain's model.
func TestFeatureValidatorLoopCarriesAllObjections(t *testing.T) {
	var c counter
	h := newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
		switch phase {
		case "validator of discovery":
			if c.inc(phase) == 1 {
				return fail("DISC-OBJ-1: acceptance criteria are vague")
			}
		case "validator of planning":
			switch c.inc(phase) {
			case 1:
				return fail("PLAN-OBJ-1: step 2 names no file")
			case 2:
				return fail("PLAN-OBJ-2: tests are not listed first")
			}
		}
		return developer(r, phase)
	})
	id := h.add("feature", "add a greeting", false)
	h.runIdle()

	tk := h.ticket(id)
	if tk.Status != store.StatusDone {
		t.Fatalf("status %s (%s)", tk.Status, tk.Reason)
	}
	disc := h.requests("discovery")
	if len(disc) != 2 || strings.Contains(userText(disc[0]), "DISC-OBJ-1") || !strings.Contains(userText(disc[1]), "DISC-OBJ-1") {
		t.Fatalf("discovery retry must carry the first objection; %d requests", len(disc))
	}
	plan := h.requests("planning")
	if len(plan) != 3 {
		t.Fatalf("planning requests: %d", len(plan))
	}
	if third := userText(plan[2]); !strings.Contains(third, "PLAN-OBJ-1") || !strings.Contains(third, "PLAN-OBJ-2") {
		t.Fatalf("third planning attempt must carry both objections:\n%s", third)
	}
	if second := userText(plan[1]); !strings.Contains(second, "PLAN-OBJ-1") || strings.Contains(second, "PLAN-OBJ-2") {
		t.Fatalf("second planning attempt carries exactly the first objection:\n%s", second)
	}
	wantModel := map[string]string{"discovery": "mid-1", "techspec": "big-1", "planning": "big-1", "tests": "mid-1", "code": "mid-1", "review": "mid-1"}
	for _, r := range h.srv.Requests() {
		p := phaseOf(r)
		if !r.Stream || !r.IncludeUsage {
			t.Fatalf("%s request not streamed with usage", p)
		}
		if strings.HasPrefix(p, "validator of ") {
			if r.Model != "tiny-1" {
				t.Fatalf("validator ran on %s", r.Model)
			}
		} else if r.Model != wantModel[p] {
			t.Fatalf("%s ran on %s, want %s", p, r.Model, wantModel[p])
		}
	}
	pv := h.phase(id, "planning")
	if attemptsOf(pv) != 3 {
		t.Fatalf("planning attempts %d", attemptsOf(pv))
	}
	for i, a := range pv.Attempts {
		if a.Verdict == nil || a.Verdict.Pass != (i == 2) {
			t.Fatalf("attempt %d verdict %+v", a.N, a.Verdict)
		}
		if a.TokensIn == 0 || a.TokensOut == 0 || a.CostUSD <= 0 || a.Model != "large" || a.Provider != "cloud" {
			t.Fatalf("attempt %d: %+v", a.N, a)
		}
	}
	if got := pv.Attempts[1].Verdict.Objections; len(got) != 1 || !strings.Contains(got[0], "PLAN-OBJ-2") {
		t.Fatalf("objections recorded: %v", got)
	}
	if tk.CostUSD <= 0 {
		t.Fatal("ticket cost is zero")
	}
}

// A hotfix goes straight to diagnosis: no techspec, no planning.
func TestHotfixSkipsDesignDocuments(t *testing.T) {
	h := newHarness(t, "", developer)
	id := h.add("hotfix", "crash on empty input", false)
	h.runIdle()
	if s := h.ticket(id).Status; s != store.StatusDone {
		t.Fatalf("status %s", s)
	}
	reqs := h.srv.Requests()
	if phaseOf(reqs[0]) != "diagnosis" {
		t.Fatalf("first request is %s", phaseOf(reqs[0]))
	}
	sys := reqs[0].Messages[0].Content
	for _, w := range []string{"Symptom", "Reproduction", "Root cause", "Regression test"} {
		if !strings.Contains(sys, w) {
			t.Fatalf("diagnosis prompt lacks %q", w)
		}
	}
	for _, r := range reqs {
		if p := phaseOf(r); p == "techspec" || p == "planning" || p == "discovery" {
			t.Fatalf("hotfix sent a %s request", p)
		}
	}
}

// max_attempts stops the loop on purpose; a retry with guidance gets a
// fresh budget and carries the guidance and every objection.
func TestGiveUpThenRetryWithGuidance(t *testing.T) {
	var c counter
	h := newHarness(t, "\n[phases.techspec]\nmax_attempts = 2\n", func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase == "validator of techspec" {
			n := c.inc(phase)
			if n <= 2 {
				return fail([]string{"", "TS-OBJ-1: no error cases", "TS-OBJ-2: no data section"}[n])
			}
		}
		return developer(r, phase)
	})
	id := h.add("feature", "export csv", false)
	h.runIdle()
	tk := h.ticket(id)
	if tk.Status != store.StatusNeedsHuman || !strings.Contains(tk.Reason, "techspec") {
		t.Fatalf("status %s reason %q", tk.Status, tk.Reason)
	}
	if n := len(h.requests("techspec")); n != 2 {
		t.Fatalf("techspec attempts %d", n)
	}
	if n := len(h.requests("planning")); n != 0 {
		t.Fatalf("planning ran %d times after the stop", n)
	}
	if _, err := Decide(h.st, h.cfg, id, store.Decision{Kind: store.DecisionRetry, Guidance: "GUIDE: add an Errors section"}); err != nil {
		t.Fatal(err)
	}
	h.runIdle()
	ts := h.requests("techspec")
	if len(ts) != 3 {
		t.Fatalf("techspec attempts after retry %d", len(ts))
	}
	third := userText(ts[2])
	for _, w := range []string{"GUIDE: add an Errors section", "TS-OBJ-1", "TS-OBJ-2"} {
		if !strings.Contains(third, w) {
			t.Fatalf("third attempt lacks %q:\n%s", w, third)
		}
	}
	if s := h.ticket(id).Status; s != store.StatusDone {
		t.Fatalf("after retry: %s (%s)", s, h.ticket(id).Reason)
	}
}

// A 500 on the primary falls back to the next model (recorded); a 429 with
// Retry-After is retried on the same model.
func TestFallbackOn500AndRetryAfter429(t *testing.T) {
	var c counter
	h := newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase == "discovery" && r.Model == "mid-1" {
			return oaitest.Reply{Status: 500}
		}
		if phase == "techspec" && c.inc("ts") == 1 {
			return oaitest.Reply{Status: 429, RetryAfter: "1"}
		}
		return developer(r, phase)
	})
	id := h.add("epic", "reporting", false)
	h.runIdle()
	d := h.phase(id, "discovery").Attempts[0]
	if d.Model != "spare" || len(d.Fallbacks) == 0 || d.Fallbacks[0].Model != "medium" || !strings.Contains(d.Fallbacks[0].Reason, "500") {
		t.Fatalf("discovery: model %s fallbacks %+v", d.Model, d.Fallbacks)
	}
	var ts []*oaitest.Request
	for _, r := range h.requests("techspec") {
		if ticketOf(r) == id {
			ts = append(ts, r)
		}
	}
	if len(ts) != 2 || ts[0].Model != "big-1" || ts[1].Model != "big-1" {
		t.Fatalf("techspec requests %d", len(ts))
	}
	if a := h.phase(id, "techspec").Attempts[0]; a.Model != "large" || len(a.Fallbacks) != 0 {
		t.Fatalf("techspec served by %s with fallbacks %+v", a.Model, a.Fallbacks)
	}
	// the wait is in the attempt's stream, not silence
	as, _ := h.st.Attempts(id)
	for _, a := range as {
		if a.Phase == "techspec" && !strings.Contains(a.Stream, "[large: HTTP 429") || a.Phase == "techspec" && !strings.Contains(a.Stream, "trying again in 1s]") {
			t.Fatalf("techspec stream does not say it waits:\n%s", a.Stream)
		}
	}
}

// A sensitive ticket sends nothing to a non-local provider.
func TestSensitiveTicketNeverLeavesLocalProviders(t *testing.T) {
	h := newHarness(t, "", developer)
	id := h.add("feature", "secret thing", true)
	h.runIdle()
	if n := len(h.srv.Requests()); n != 0 {
		t.Fatalf("%d requests sent for a sensitive ticket", n)
	}
	tk := h.ticket(id)
	if tk.Status != store.StatusNeedsHuman || !strings.Contains(tk.Reason, "no local model") || !strings.Contains(tk.Reason, "discovery") {
		t.Fatalf("status %s reason %q", tk.Status, tk.Reason)
	}
	// nor can a human point it at a cloud model
	if _, err := Decide(h.st, h.cfg, id, store.Decision{Kind: store.DecisionRetry, Model: "large"}); err == nil || !strings.Contains(err.Error(), "not local") {
		t.Fatalf("retry of a sensitive ticket on a cloud model: %v", err)
	}
}

// An epic runs discovery, techspec and split; its children run their own
// routes and the epic is done when they are.
func TestEpicSplitsIntoChildren(t *testing.T) {
	h := newHarness(t, "", developer)
	id := h.add("epic", "billing", false)
	// what its sessions' commands leave there goes when it is done
	tmp := h.eng.ticketTemp(h.ticket(id))
	os.MkdirAll(tmp, 0o700)
	h.runIdle()
	ep := h.ticket(id)
	if ep.Status != store.StatusDone || len(ep.Children) != 2 {
		t.Fatalf("epic %s children %v (%s)", ep.Status, ep.Children, ep.Reason)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Fatalf("the done epic's temporary directory is left: %v", err)
	}
	for _, p := range h.view(id).Phases {
		if p.Name != "discovery" && p.Name != "techspec" && p.Name != "split" {
			t.Fatalf("epic ran %s", p.Name)
		}
	}
	kinds := map[string]bool{}
	for _, cid := range ep.Children {
		c := h.ticket(cid)
		if c.Parent != id || c.Status != store.StatusDone {
			t.Fatalf("child %s parent %q status %s (%s)", cid, c.Parent, c.Status, c.Reason)
		}
		kinds[c.Kind] = true
	}
	if !kinds["feature"] || !kinds["hotfix"] {
		t.Fatalf("children kinds %v", kinds)
	}
}

// A sensitive ticket whose chains include a local model runs on it alone.
func TestSensitiveTicketRunsOnLocalModelOnly(t *testing.T) {
	h := withLocalModel(t, "diagnosis", "tests", "code", "cifix", "review", "validator")
	id := h.add("hotfix", "private fix", true)
	h.runIdle()
	if s := h.ticket(id).Status; s != store.StatusDone {
		t.Fatalf("%s (%s)", s, h.ticket(id).Reason)
	}
	for _, r := range h.srv.Requests() {
		if r.Model != "local-1" {
			t.Fatalf("a sensitive ticket sent %s to %s", phaseOf(r), r.Model)
		}
	}
	// other tickets' commands can read the history: the branch's commits
	// do not carry the title
	if log := gitOut(t, h.dir, "log", "--format=%s", "main^1..agent/"+id); strings.Contains(log, "private fix") || !strings.Contains(log, id+" code") {
		t.Fatalf("branch commits:\n%s", log)
	}
	// nor does its merge, on the base branch
	if msg := gitOut(t, h.dir, "log", "-1", "--format=%s", "main"); strings.Contains(msg, "private fix") || msg != id+": merge (agent-tui)\n" {
		t.Fatalf("merge commit %q", msg)
	}
}

// When only the validator's chain lacks a local model, the stop names the
// validator, the chain to fix, not the phase whose work it checked; it is
// found before the phase's answer is asked for and paid (nothing is sent).
// Without a [phases.X] table the stop names the default model the phase
// runs on, not a table that is not there.
func TestSensitiveStopNamesTheChainWithoutALocalModel(t *testing.T) {
	for _, c := range []struct {
		local string
		want  []string
	}{
		{"diagnosis", []string{"validator has no local model", "[phases.validator]"}},
		{"validator", []string{"diagnosis has no local model", "among its models (medium, the default; set [phases.diagnosis] models"}},
		// a later phase of the route: found before the first call too,
		// not after diagnosis was paid for
		{"diagnosis validator", []string{"tests has no local model"}},
	} {
		h := withLocalModel(t, strings.Fields(c.local)...)
		id := h.add("hotfix", "private fix", true)
		h.runIdle()
		tk := h.ticket(id)
		for _, w := range c.want {
			if tk.Status != store.StatusNeedsHuman || !strings.Contains(tk.Reason, w) {
				t.Fatalf("local %s: %s (%s)", c.local, tk.Status, tk.Reason)
			}
		}
		if as, _ := h.st.Attempts(id); len(as) != 0 || len(h.srv.Requests()) != 0 || tk.CostUSD != 0 {
			t.Fatalf("local %s: %d attempts, %d requests, $%v", c.local, len(as), len(h.srv.Requests()), tk.CostUSD)
		}
	}
}

// A phase whose models' provider has no key (another provider has one)
// stops the ticket before any attempt, naming the variable: nothing was
// sent, nothing is recorded, and an attempt could change nothing.
func TestUncallableChainStopsBeforeAnAttempt(t *testing.T) {
	h := newHarness(t, "", developer)
	h.cfg.Providers[0].APIKeyEnv = "AGENT_TUI_TEST_NEVER_SET"
	id := h.add("hotfix", "no key for its models", false)
	h.runIdle()
	tk := h.ticket(id)
	if tk.Status != store.StatusNeedsHuman || !strings.Contains(tk.Reason, "no model of diagnosis can be called (provider "+h.cfg.Providers[0].Name+": its key variable AGENT_TUI_TEST_NEVER_SET is not set)") {
		t.Fatalf("%s (%s)", tk.Status, tk.Reason)
	}
	if as, _ := h.st.Attempts(id); len(as) != 0 || len(h.srv.Requests()) != 0 {
		t.Fatalf("%d attempts, %d requests", len(as), len(h.srv.Requests()))
	}
}

// withLocalModel is a harness with a model "local" (ID local-1) on a local
// provider, second in the chains of phases.
// A retry on a model this run's config does not name (taken with another
// config) stops the ticket saying so: the phase's usual models would
// otherwise answer, unasked.
func TestRetryOnAModelTheConfigLacksStops(t *testing.T) {
	h := newHarness(t, "", developer)
	id := h.add("hotfix", "retried elsewhere", false)
	if _, err := h.st.UpdateTicket(id, func(x *store.Ticket) error {
		x.Phases[0].Model = "gone"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	h.runIdle()
	tk := h.ticket(id)
	if tk.Status != store.StatusNeedsHuman || !strings.Contains(tk.Reason, `diagnosis was to be retried on model "gone", which the config of this run does not name (it names: large, medium, small`) {
		t.Fatalf("%s (%s)", tk.Status, tk.Reason)
	}
	if len(h.srv.Requests()) != 0 {
		t.Fatalf("%d requests", len(h.srv.Requests()))
	}
}

func withLocalModel(t *testing.T, phases ...string) *harness {
	return withLocalModelScript(t, developer, phases...)
}

func withLocalModelScript(t *testing.T, s script, phases ...string) *harness {
	h := newHarness(t, "", s)
	h.cfg.Providers = append(h.cfg.Providers, h.cfg.Providers[0])
	h.cfg.Providers[2].Name, h.cfg.Providers[2].Local, h.cfg.Providers[2].APIKeyEnv = "inhouse", true, ""
	h.cfg.Models = append(h.cfg.Models, h.cfg.Models[0])
	h.cfg.Models[4].Name, h.cfg.Models[4].ID, h.cfg.Models[4].Provider = "local", "local-1", "inhouse"
	for _, p := range phases {
		h.cfg.Phases[p] = configPhase("medium", "local")
	}
	h.eng = New(Options{Store: h.st, Config: h.cfg, Repo: h.repo, Router: newRouter(h.cfg), Prompts: h.eng.prompts})
	return h
}

// When every model of a chain fails, no model served the attempt (its
// model stays empty, as SPEC's "the model that served it" says) and its
// fallbacks name each model tried, with why; the validator's record too.
func TestEveryModelFailedIsRecordedAsTried(t *testing.T) {
	h := newHarness(t, "\n[phases.diagnosis]\nmodels = [\"medium\", \"spare\"]\nmax_attempts = 1\n", func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase == "diagnosis" {
			return oaitest.Reply{Status: 500}
		}
		if strings.HasPrefix(phase, "validator of ") {
			return oaitest.Reply{Status: 503}
		}
		return developer(r, phase)
	})
	id := h.add("hotfix", "nothing answers", false)
	h.runIdle()
	a := h.phase(id, "diagnosis").Attempts[0]
	if a.Model != "" || a.Provider != "" || a.Error == "" {
		t.Fatalf("model %q provider %q error %q", a.Model, a.Provider, a.Error)
	}
	if len(a.Fallbacks) != 2 || a.Fallbacks[0].Model != "medium" || a.Fallbacks[0].Provider != "cloud" || a.Fallbacks[1].Model != "spare" || a.Fallbacks[1].Provider != "backup" || !strings.Contains(a.Fallbacks[1].Reason, "500") {
		t.Fatalf("fallbacks %+v", a.Fallbacks)
	}
	if got := NoAnswerLabel(a.Interrupted, a.Error, a.Fallbacks, false); got != "no model answered; tried medium, spare" {
		t.Fatalf("label %q", got)
	}

	// the same for the validator, whose chain is its own
	h2 := newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
		if strings.HasPrefix(phase, "validator of ") {
			return oaitest.Reply{Status: 503}
		}
		return developer(r, phase)
	})
	id = h2.add("hotfix", "no validator answers", false)
	h2.runIdle()
	v := h2.phase(id, "diagnosis").Attempts[0].Validator
	if v == nil || v.Model != "" || len(v.Fallbacks) != 1 || v.Fallbacks[0].Model != "small" || !strings.Contains(v.Fallbacks[0].Reason, "503") {
		t.Fatalf("validator %+v", v)
	}
}

// When the validator's models all fail, the stop names the validator's
// chain, not the phase whose work it was to check.
func TestValidatorChainFailureNamesTheValidator(t *testing.T) {
	h := newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
		if strings.HasPrefix(phase, "validator of ") {
			return oaitest.Reply{Status: 503}
		}
		return developer(r, phase)
	})
	id := h.add("hotfix", "no validator", false)
	h.runIdle()
	if tk := h.ticket(id); tk.Status != store.StatusNeedsHuman || !strings.Contains(tk.Reason, "every model of the validator failed: ") || strings.Contains(tk.Reason, "all models failed") {
		t.Fatalf("%s (%s)", tk.Status, tk.Reason)
	}
	// the attempt's own error says whose models failed: its own answered
	if a := h.phase(id, "diagnosis").Attempts[0]; !strings.HasPrefix(a.Error, "every model of the validator failed: small (cloud): HTTP 503") {
		t.Fatalf("attempt error %q", a.Error)
	}
}

// A model repeating the very same calls is stopped after a few rounds, not
// after sixty.
func TestRepeatedCallsStopTheAttempt(t *testing.T) {
	h := newHarness(t, "\n[phases.diagnosis]\nmax_attempts = 1\n", func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase == "diagnosis" {
			return oaitest.Reply{ToolCalls: []oaitest.ToolCall{{ID: "same", Name: "read_file", Args: `{"path": "README.md"}`}}}
		}
		return developer(r, phase)
	})
	id := h.add("hotfix", "stuck model", false)
	h.runIdle()
	if n := len(h.requests("diagnosis")); n > maxSameCalls+2 {
		t.Fatalf("%d diagnosis requests for the same call", n)
	}
	if tk := h.ticket(id); tk.Status != store.StatusNeedsHuman || !strings.Contains(tk.Reason, "same tool calls") {
		t.Fatalf("%s (%s)", tk.Status, tk.Reason)
	}
}

// A sensitive ticket's code is kept from other tickets' commands, which
// read the repository's git objects: its objects go to a store of its
// own until it is merged, then join the repository's.
func TestSensitiveObjectsStayPrivateUntilMerged(t *testing.T) {
	if strings.Contains(tools.Confinement("auto"), "unconfined") {
		t.Skip("commands run unconfined on this machine")
	}
	var c counter
	var h *harness
	snoop := "git log --all -p 2>&1; git show agent/T-1:src/T-1.txt 2>&1; git cat-file --batch-all-objects --batch 2>&1 | grep -a SECRET; true"
	h = withLocalModelScript(t, func(r *oaitest.Request, phase string) oaitest.Reply {
		id := ticketOf(r)
		if phase == "code" && toolTurns(r) == 0 && id == "T-1" {
			// its own store is its to read, not to write: every git on the
			// repository reads it
			plant := fmt.Sprintf("touch %s/planted 2>/dev/null && echo PLANTED; true", h.repo.PrivateObjects(id))
			return oaitest.Reply{ToolCalls: []oaitest.ToolCall{writeCall("w", "src/T-1.txt", "done T-1\nSECRET-ALGORITHM\n"),
				{ID: "p", Name: "run_command", Args: fmt.Sprintf("{\"command\": %q}", plant)}}}
		}
		if phase == "code" && toolTurns(r) == 0 && id == "T-2" && c.inc("snoop") == 1 {
			return oaitest.Reply{ToolCalls: []oaitest.ToolCall{{ID: "s", Name: "run_command", Args: fmt.Sprintf("{\"command\": %q}", snoop)}}}
		}
		return developer(r, phase)
	}, "diagnosis", "tests", "code", "cifix", "review", "validator")
	h.cfg.Approve = []string{"review"}
	h.cfg.MaxParallel = 1
	h.eng = New(Options{Store: h.st, Config: h.cfg, Repo: h.repo, Router: newRouter(h.cfg), Prompts: h.eng.prompts})
	private := h.add("hotfix", "private fix", true)
	h.runIdle()
	if tk := h.ticket(private); tk.Status != store.StatusAwaiting || tk.Phase != "review" {
		t.Fatalf("%s at %s (%s)", tk.Status, tk.Phase, tk.Reason)
	}
	if _, err := os.Stat(filepath.Join(h.repo.PrivateObjects(private), "planted")); err == nil {
		t.Fatal("the sensitive ticket's command wrote into its object store")
	}
	// agent-tui and the user read the branch through the alternate store
	if got := gitOut(t, h.dir, "show", "agent/T-1:src/T-1.txt"); !strings.Contains(got, "SECRET-ALGORITHM") {
		t.Fatalf("the branch cannot be read from the checkout: %q", got)
	}
	snooper := h.add("hotfix", "snooper", false)
	h.runIdle()
	var seen bool
	for _, r := range h.requests("code") {
		if ticketOf(r) != snooper || toolTurns(r) == 0 {
			continue
		}
		for _, m := range r.Messages {
			if strings.Contains(m.Content, "exit code") {
				seen = true
			}
			if strings.Contains(m.Content, "SECRET-ALGORITHM") {
				t.Fatalf("the sensitive ticket's code reached another ticket's model:\n%s", m.Content)
			}
		}
	}
	if !seen {
		t.Fatal("the snooping command never ran")
	}
	if _, err := Decide(h.st, h.cfg, private, store.Decision{Kind: store.DecisionApprove}); err != nil {
		t.Fatal(err)
	}
	h.runIdle()
	if tk := h.ticket(private); tk.Status != store.StatusDone {
		t.Fatalf("%s (%s)", tk.Status, tk.Reason)
	}
	if _, err := os.Stat(filepath.Join(h.repo.PrivateObjects(private), "published")); err != nil {
		t.Error("the private store was not published after the merge")
	}
	if data, _ := os.ReadFile(filepath.Join(h.repo.GitDir, "objects", "info", "alternates")); strings.Contains(string(data), private) {
		t.Errorf("alternates still list it: %q", data)
	}
	if got := gitOut(t, h.dir, "show", "main:src/T-1.txt"); !strings.Contains(got, "SECRET-ALGORITHM") {
		t.Fatalf("merged code unreadable: %q", got)
	}
	gitOut(t, h.dir, "fsck", "--no-dangling")
}

// A sensitive branch merged by hand (here, then the ticket cancelled) is
// published at the next start: the base must not depend on .git/agent-tui.
func TestHandMergedSensitiveTicketIsPublishedAtStart(t *testing.T) {
	h := withLocalModel(t, "diagnosis", "tests", "code", "cifix", "review", "validator")
	h.cfg.Approve = []string{"review"}
	h.eng = New(Options{Store: h.st, Config: h.cfg, Repo: h.repo, Router: newRouter(h.cfg), Prompts: h.eng.prompts})
	id := h.add("hotfix", "private fix", true)
	h.runIdle()
	if tk := h.ticket(id); tk.Status != store.StatusAwaiting {
		t.Fatalf("%s (%s)", tk.Status, tk.Reason)
	}
	gitOut(t, h.dir, "merge", "-q", "--no-ff", "-m", "by hand", "agent/"+id)
	if _, err := Decide(h.st, h.cfg, id, store.Decision{Kind: store.DecisionCancel}); err != nil {
		t.Fatal(err)
	}
	h.runIdle()
	if data, _ := os.ReadFile(filepath.Join(h.repo.GitDir, "objects", "info", "alternates")); strings.Contains(string(data), id) {
		t.Fatalf("the private store of a branch merged by hand is still an alternate: %q", data)
	}
	h.runIdle() // the next start sweeps it
	if _, err := os.Stat(h.repo.PrivateObjects(id)); err == nil {
		t.Fatal("the published store is still there at the next start")
	}
	if err := os.Rename(filepath.Join(h.repo.GitDir, "agent-tui"), filepath.Join(t.TempDir(), "moved")); err != nil {
		t.Fatal(err)
	}
	gitOut(t, h.dir, "fsck", "--connectivity-only")
}

// A sensitive ticket's test runs build with caches of its own, beneath its
// temporary directory; another ticket's use the shared ones.
func TestSensitiveTicketBuildsWithPrivateCaches(t *testing.T) {
	h := withLocalModel(t, "diagnosis", "tests", "code", "cifix", "review", "validator")
	h.cfg.TestCommand = "echo GOCACHE=$GOCACHE; sh run_tests.sh"
	private := h.add("hotfix", "private fix", true)
	shared := h.add("hotfix", "plain fix", false)
	h.runIdle()
	gocache := func(id string) string {
		for _, a := range h.phase(id, "code").Attempts {
			for _, c := range a.Checks {
				if _, v, ok := strings.Cut(c.Output, "GOCACHE="); ok {
					return strings.TrimSpace(strings.SplitN(v, "\n", 2)[0])
				}
			}
		}
		return ""
	}
	want := filepath.Join(h.repo.GitDir, "agent-tui", "tmp", private, "cache", "go-build")
	if got := gocache(private); got != want {
		t.Errorf("the sensitive ticket's GOCACHE %q, want %q", got, want)
	}
	if got := gocache(shared); strings.Contains(got, filepath.Join(h.repo.GitDir, "agent-tui")) {
		t.Errorf("another ticket's GOCACHE %q", got)
	}
}

// A fallback that serves some turns of a session is billed under its own
// model: the attempt keeps what each model served, show lists them and
// stats splits the spend (it all went under the last model).
func TestFallbackServingSomeTurnsIsBilledToIt(t *testing.T) {
	h := newHarness(t, "\n[phases.diagnosis]\nmodels = [\"medium\", \"spare\"]\n", func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase != "diagnosis" {
			return developer(r, phase)
		}
		if toolTurns(r) == 0 {
			if r.Model == "mid-1" {
				return oaitest.Reply{Status: 500}
			}
			return oaitest.Reply{ToolCalls: []oaitest.ToolCall{{ID: "l", Name: "list_dir", Args: `{"path": "."}`}}, PromptTokens: 1000, CompletionTokens: 100}
		}
		rep := developer(r, phase)
		rep.PromptTokens, rep.CompletionTokens = 2000, 200
		return rep
	})
	id := h.add("hotfix", "one turn on the spare", false)
	h.runIdle()
	a := h.phase(id, "diagnosis").Attempts[0]
	if a.Model != "medium" || len(a.Served) != 2 {
		t.Fatalf("model %q served %+v", a.Model, a.Served)
	}
	got := map[string]store.Spend{}
	for _, sv := range a.Served {
		got[sv.Model] = sv
	}
	if got["spare"].TokensIn != 1000 || got["medium"].TokensIn != 2000 || got["spare"].Provider != "backup" {
		t.Fatalf("served %+v", a.Served)
	}
	if v := h.view(id); len(v.Phases[0].Attempts[0].Served) != 2 {
		t.Fatalf("show --json's served: %+v", v.Phases[0].Attempts[0].Served)
	}
	s, err := ComputeStats(h.st, h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]SpendRow{}
	for _, r := range s.Spend {
		if r.Phase == "diagnosis" {
			rows[r.Model] = r
		}
	}
	if rows["spare"].TokensIn != 1000 || rows["spare"].Attempts != 1 || rows["medium"].TokensIn != 2000 || rows["medium"].Attempts != 1 {
		t.Fatalf("stats rows %+v", rows)
	}
}

// A validator model whose answer cannot be read, even when told, leaves
// the last try to the validator chain's next model.
func TestUnreadableValidatorFallsBackForItsLastTry(t *testing.T) {
	h := newHarness(t, "\n[phases.validator]\nmodels = [\"small\", \"spare\"]\n", func(r *oaitest.Request, phase string) oaitest.Reply {
		if strings.HasPrefix(phase, "validator of ") {
			if r.Model == "tiny-1" {
				return oaitest.Reply{Text: "Looks fine to me!"}
			}
			return pass()
		}
		return developer(r, phase)
	})
	id := h.add("hotfix", "a validator that cannot answer in JSON", false)
	h.runIdle()
	if tk := h.ticket(id); tk.Status != store.StatusDone {
		t.Fatalf("%s (%s)", tk.Status, tk.Reason)
	}
	a := h.phase(id, "diagnosis").Attempts[0]
	if v := a.Validator; v == nil || v.Model != "spare" || v.Unreadable != 2 || len(a.Verdict.Objections) != 0 || !a.Verdict.Pass {
		t.Fatalf("validator %+v, verdict %+v", a.Validator, a.Verdict)
	}
}

// After a validator outage, a plain retry judges the answer no validator
// could: the document is not asked for (and paid for) again. A retry with
// guidance asks for a new one.
func TestRetryAfterValidatorOutageJudgesTheAnswer(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	h := newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
		if strings.HasPrefix(phase, "validator of ") && down.Load() {
			return oaitest.Reply{Status: 503}
		}
		return developer(r, phase)
	})
	id := h.add("hotfix", "validator outage", false)
	h.runIdle()
	if tk := h.ticket(id); tk.Status != store.StatusNeedsHuman || tk.Phase != "diagnosis" {
		t.Fatalf("%s at %s (%s)", tk.Status, tk.Phase, tk.Reason)
	}
	asked := len(h.requests("diagnosis"))
	down.Store(false)
	if _, err := Decide(h.st, h.cfg, id, store.Decision{Kind: store.DecisionRetry}); err != nil {
		t.Fatal(err)
	}
	h.runIdle()
	if tk := h.ticket(id); tk.Status != store.StatusDone {
		t.Fatalf("%s (%s)", tk.Status, tk.Reason)
	}
	if n := len(h.requests("diagnosis")); n != asked {
		t.Fatalf("diagnosis asked %d more times after the retry", n-asked)
	}
	p := h.phase(id, "diagnosis")
	if len(p.Attempts) != 1 || p.Attempts[0].Verdict == nil || !p.Attempts[0].Verdict.Pass || p.Attempts[0].Error != "" || p.Attempts[0].JudgedAfter != JudgedAfterRetry {
		t.Fatalf("attempts %+v", p.Attempts)
	}

	// with guidance, the person wants another answer
	down.Store(true)
	id = h.add("hotfix", "validator outage, guided", false)
	h.runIdle()
	asked = len(h.requests("diagnosis"))
	down.Store(false)
	if _, err := Decide(h.st, h.cfg, id, store.Decision{Kind: store.DecisionRetry, Guidance: "look at the parser"}); err != nil {
		t.Fatal(err)
	}
	h.runIdle()
	if n := len(h.requests("diagnosis")); n != asked+1 {
		t.Fatalf("diagnosis asked %d more times after a guided retry, want 1", n-asked)
	}
}
