package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"agent-tui/engine/config"
	"agent-tui/engine/oaitest"
	"agent-tui/prompts"
	"agent-tui/store"
)

// Approving a phase that passed before the cost stop goes on with it,
// without paying for it again.
func TestMaxCostStopAfterAPassKeepsItOnApprove(t *testing.T) {
	h := newHarness(t, "", developer)
	h.cfg.MaxCostUSD = 0.005
	id := h.add("epic", "pricey", false)
	h.runIdle()
	techspecs := func() (n int) {
		for _, r := range h.requests("techspec") {
			if ticketOf(r) == id { // (not its children's)
				n++
			}
		}
		return n
	}
	before := techspecs()
	if _, err := Decide(h.st, h.cfg, id, store.Decision{Kind: store.DecisionApprove}); err != nil {
		t.Fatal(err)
	}
	h.cfg.MaxCostUSD = 1
	h.runIdle()
	if n := techspecs(); n != before || h.ticket(id).Status != store.StatusDone {
		t.Fatalf("techspec asked %d times after the approve; %s (%s)", n-before, h.ticket(id).Status, h.ticket(id).Reason)
	}
}

func TestMaxCostStopsTicket(t *testing.T) {
	h := newHarness(t, "", developer)
	h.cfg.MaxCostUSD = 0.005 // discovery alone costs ~0.0016 (medium), techspec ~0.016 (large)
	id := h.add("epic", "pricey", false)
	h.runIdle()
	tk := h.ticket(id)
	// the limit as configured, not rounded to $0.01
	if tk.Status != store.StatusNeedsHuman || !strings.Contains(tk.Reason, "over max_cost_usd $0.005:") {
		t.Fatalf("%s %q", tk.Status, tk.Reason)
	}
	if n := len(h.requests("split")); n != 0 {
		t.Fatalf("split ran after the cost stop")
	}
	// the stop says which decision keeps the passed tech spec
	if !strings.Contains(tk.Reason, "techspec passed: approve to go on with it (a retry would pay for techspec again)") {
		t.Fatalf("reason %q", tk.Reason)
	}
	// a human retry gives a fresh cost allowance
	if _, err := Decide(h.st, h.cfg, id, store.Decision{Kind: store.DecisionRetry}); err != nil {
		t.Fatal(err)
	}
	h.cfg.MaxCostUSD = 1
	h.runIdle()
	if s := h.ticket(id).Status; s != store.StatusDone {
		t.Fatalf("after retry: %s (%s)", s, h.ticket(id).Reason)
	}
}

// max_cost_usd holds within an attempt: a session of many tool calls
// stops at the first call past the limit, not after all of them.
func TestMaxCostStopsWithinAnAttempt(t *testing.T) {
	h := newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase == "diagnosis" && toolTurns(r) < 40 {
			// medium: 20,000 tokens in is $0.02 a call
			return oaitest.Reply{PromptTokens: 20000, CompletionTokens: 10, ToolCalls: []oaitest.ToolCall{
				{ID: "r", Name: "read_file", Args: fmt.Sprintf(`{"path": "README.md", "offset": %d}`, toolTurns(r)+1)}}}
		}
		return developer(r, phase)
	})
	h.cfg.MaxCostUSD = 0.05
	id := h.add("hotfix", "runaway reads", false)
	h.runIdle()
	tk := h.wantStatus(id, store.StatusNeedsHuman, "over max_cost_usd $0.05, within a diagnosis attempt")
	if n := len(h.requests("diagnosis")); n != 3 {
		t.Fatalf("%d diagnosis calls, want 3 ($0.06 > $0.05 after the third)", n)
	}
	if tk.CostUSD < 0.06 || tk.CostUSD > 0.061 {
		t.Fatalf("cost %v", tk.CostUSD)
	}
}

// A gated phase whose attempt crosses max_cost_usd still waits at its
// gate, but says so: the approval starts the count again, and the person
// giving it must know what it lets through.
func TestMaxCostCrossedAtAGateIsNamed(t *testing.T) {
	h := newHarness(t, "", developer)
	h.cfg.MaxCostUSD = 0.005 // techspec alone costs ~0.016 (large)
	h.cfg.Approve = []string{"techspec"}
	id := h.add("feature", "pricey at a gate", false)
	h.runIdle()
	tk := h.ticket(id)
	if tk.Status != store.StatusAwaiting || tk.Phase != "techspec" {
		t.Fatalf("%s at %s (%s)", tk.Status, tk.Phase, tk.Reason)
	}
	if !strings.Contains(tk.Reason, "over max_cost_usd $0.005: approving lets it go on") {
		t.Fatalf("the gate does not name the crossing: %q", tk.Reason)
	}
	if n := len(tk.Stops); n == 0 || !strings.Contains(tk.Stops[n-1].Reason, "over max_cost_usd") {
		t.Fatalf("the crossing is not in the history: %+v", tk.Stops)
	}
	// under the limit, a gate is only a gate
	h2 := newHarness(t, "", developer)
	h2.cfg.MaxCostUSD = 1
	h2.cfg.Approve = []string{"techspec"}
	id2 := h2.add("feature", "cheap at a gate", false)
	h2.runIdle()
	if tk := h2.ticket(id2); tk.Status != store.StatusAwaiting || tk.Reason != "" || len(tk.Stops) != 0 {
		t.Fatalf("%s (%q), stops %+v", tk.Status, tk.Reason, tk.Stops)
	}
}

func TestContextBudgetTrimsAndRecords(t *testing.T) {
	long := strings.Repeat("a very long line of the ticket body that goes on\n", 2000)
	h := newHarness(t, "\n[phases.techspec]\ncontext_tokens = 1500\n", func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase == "discovery" {
			return oaitest.Reply{Text: "## Spec\n" + long}
		}
		return developer(r, phase)
	})
	id := h.add("epic", "big", false)
	h.runIdle()
	ts := h.phase(id, "techspec").Attempts[0]
	if len(ts.Trimmed) == 0 || !strings.Contains(ts.Trimmed[0], "Functional spec") {
		t.Fatalf("trimmed: %v", ts.Trimmed)
	}
	// the instructions count: the whole input stays within the budget
	if ts.ContextTokens > 1550 {
		t.Fatalf("context %d tokens over a 1500 budget", ts.ContextTokens)
	}
	r := h.requests("techspec")[0]
	sent := 0
	for _, m := range r.Messages {
		sent += len(m.Content)
	}
	if sent > 6300 {
		t.Fatalf("request of %d bytes for a 1500-token budget", sent)
	}
}

func TestRepositoryPromptOverride(t *testing.T) {
	h := newHarness(t, "", developer)
	dir := prompts.OverrideDir(h.dir)
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "diagnosis.md"), []byte("HOUSE RULES diagnosis for {{.TicketID}}"), 0o644)
	h.eng.prompts = prompts.New(dir)
	id := h.add("hotfix", "overridden", false)
	h.runIdle()
	if sys := h.requests("diagnosis")[0].Messages[0].Content; sys != "HOUSE RULES diagnosis for "+id {
		t.Fatalf("system prompt %q", sys)
	}
}

func TestRetryOnAnotherModelAndEditApprove(t *testing.T) {
	h := newHarness(t, "\n[phases.planning]\nmax_attempts = 1\n", func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase == "validator of planning" && !strings.Contains(userText(r), "HUMAN PLAN") {
			return fail("never good enough")
		}
		return developer(r, phase)
	})
	id := h.add("feature", "takeover", false)
	h.runIdle()
	if s := h.ticket(id).Status; s != store.StatusNeedsHuman {
		t.Fatalf("%s", s)
	}
	if _, err := Decide(h.st, h.cfg, id, store.Decision{Kind: store.DecisionRetry, Model: "nope"}); err == nil || !strings.Contains(err.Error(), `unknown model "nope" (the config names: large, `) {
		t.Fatalf("an unknown model: %v", err)
	}
	if _, err := Decide(h.st, h.cfg, id, store.Decision{Kind: store.DecisionRetry, Model: "small"}); err != nil {
		t.Fatal(err)
	}
	h.runIdle()
	plans := h.requests("planning")
	if last := plans[len(plans)-1]; last.Model != "tiny-1" {
		t.Fatalf("retry ran on %s", last.Model)
	}
	// take over: write the plan yourself
	if _, err := Decide(h.st, h.cfg, id, store.Decision{Kind: store.DecisionEditApprove, Text: "HUMAN PLAN: do it"}); err != nil {
		t.Fatal(err)
	}
	h.runIdle()
	if s := h.ticket(id).Status; s != store.StatusDone {
		t.Fatalf("%s (%s)", s, h.ticket(id).Reason)
	}
	if u := userText(h.firstTurns("tests")[0]); !strings.Contains(u, "HUMAN PLAN: do it") {
		t.Fatalf("tests did not get the human's plan:\n%s", u)
	}
	pl := h.phase(id, "planning")
	if last := pl.Attempts[len(pl.Attempts)-1]; last.Model != "human" || !last.Verdict.Pass {
		t.Fatalf("the human's plan is not in the history: %+v", last)
	}
}

func TestCancelStopsAndCancelsChildren(t *testing.T) {
	h := newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase == "review" {
			return fail("hold")
		}
		return developer(r, phase)
	})
	h.cfg.Approve = []string{"split"}
	id := h.add("epic", "to cancel", false)
	h.runIdle()
	if s := h.ticket(id).Status; s != store.StatusAwaiting {
		t.Fatalf("%s", s)
	}
	if _, err := Decide(h.st, h.cfg, id, store.Decision{Kind: store.DecisionCancel}); err != nil {
		t.Fatal(err)
	}
	h.runIdle()
	if s := h.ticket(id).Status; s != store.StatusCancelled {
		t.Fatalf("%s", s)
	}
	if _, err := Decide(h.st, h.cfg, id, store.Decision{Kind: store.DecisionApprove}); err == nil {
		t.Fatal("approving a cancelled ticket was accepted")
	}
}

// A cancelled ticket's worktree goes, its branch stays, and its diff is
// still read from the branch.
func TestCancelledTicketKeepsItsDiff(t *testing.T) {
	h := newHarness(t, "", developer)
	h.cfg.Approve = []string{"code"}
	id := h.add("hotfix", "to cancel late", false)
	h.runIdle()
	if tk := h.ticket(id); tk.Status != store.StatusAwaiting || tk.Worktree == "" {
		t.Fatalf("%s %q", tk.Status, tk.Worktree)
	}
	if _, err := Decide(h.st, h.cfg, id, store.Decision{Kind: store.DecisionCancel}); err != nil {
		t.Fatal(err)
	}
	h.runIdle()
	if tk := h.ticket(id); tk.Status != store.StatusCancelled || tk.Worktree != "" {
		t.Fatalf("%s, worktree %q", tk.Status, tk.Worktree)
	}
	if _, err := os.Stat(h.repo.WorktreePath(id)); !os.IsNotExist(err) {
		t.Fatalf("worktree still there: %v", err)
	}
	d, err := h.eng.Diff(context.Background(), id)
	if err != nil || !strings.Contains(d, "+++ b/tests/"+id+"_test.sh") {
		t.Fatalf("diff of a cancelled ticket: %v\n%s", err, d)
	}
}

// A worktree deleted behind the engine's back is recreated from its branch.
func TestMissingWorktreeIsRecreated(t *testing.T) {
	h := newHarness(t, "", developer)
	h.cfg.Approve = []string{"code"}
	id := h.add("hotfix", "lost tree", false)
	h.runIdle()
	tk := h.ticket(id)
	if tk.Status != store.StatusAwaiting || tk.Worktree == "" {
		t.Fatalf("%s %q", tk.Status, tk.Worktree)
	}
	os.RemoveAll(tk.Worktree)
	gitOut(t, h.dir, "worktree", "prune")
	if _, err := Decide(h.st, h.cfg, id, store.Decision{Kind: store.DecisionApprove}); err != nil {
		t.Fatal(err)
	}
	h.runIdle()
	if s := h.ticket(id).Status; s != store.StatusDone {
		t.Fatalf("%s (%s)", s, h.ticket(id).Reason)
	}
	if _, err := os.Stat(filepath.Join(h.dir, "tests", id+"_test.sh")); err != nil {
		t.Fatal("the committed tests did not survive the lost worktree")
	}
}

// A human who changes their mind before a run acts replaces the pending
// decision: the old one is kept, marked as not carried out, and its words
// reach no model. A cancel is final: nothing replaces it, not even
// another cancel.
func TestPendingDecisionIsReplaced(t *testing.T) {
	h := newHarness(t, "\n[phases.techspec]\nmax_attempts = 1\n", func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase == "validator of techspec" && !strings.Contains(userText(r), "GUIDE-2") {
			return fail("no")
		}
		return developer(r, phase)
	})
	id := h.add("epic", "twice", false)
	h.runIdle()
	if _, err := Decide(h.st, h.cfg, id, store.Decision{Kind: store.DecisionReject, Reason: "REASON-1 with a typo"}); err != nil {
		t.Fatal(err)
	}
	if _, err := Decide(h.st, h.cfg, id, store.Decision{Kind: store.DecisionRetry, Guidance: "GUIDE-2"}); err != nil {
		t.Fatalf("a second decision before any run: %v", err)
	}
	tk := h.ticket(id)
	if p := PendingDecision(tk); len(tk.Decisions) != 2 || tk.Decisions[0].Superseded != "replaced by retry" || !tk.Decisions[0].Applied || p == nil || p.Guidance != "GUIDE-2" {
		t.Fatalf("decisions %+v", tk.Decisions)
	}
	h.runIdle()
	for _, r := range h.requests("techspec") {
		if strings.Contains(userText(r), "REASON-1") {
			t.Fatal("a replaced reject's reason reached the model")
		}
	}
	if reqs := h.requests("techspec"); !strings.Contains(userText(reqs[len(reqs)-1]), "GUIDE-2") {
		t.Fatal("the retry's guidance did not reach the model")
	}

	other := h.add("epic", "cancelled twice", false)
	if _, err := Decide(h.st, h.cfg, other, store.Decision{Kind: store.DecisionCancel}); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{store.DecisionCancel, store.DecisionRetry} {
		if _, err := Decide(h.st, h.cfg, other, store.Decision{Kind: kind}); err == nil || !strings.Contains(err.Error(), "cannot be taken back") {
			t.Fatalf("%s after a pending cancel: %v", kind, err)
		}
	}
	if n := len(h.ticket(other).Decisions); n != 1 {
		t.Fatalf("%d decisions recorded", n)
	}
}

// On start, a worktree left behind by a finished ticket is removed (its
// branch stays); one that no ticket owns is only reported.
func TestFinishedTicketsWorktreeIsRemovedOnStart(t *testing.T) {
	h := newHarness(t, "", developer)
	id := h.add("hotfix", "leaves a tree", false)
	h.runIdle()
	if s := h.ticket(id).Status; s != store.StatusDone {
		t.Fatalf("%s", s)
	}
	leftover := h.repo.WorktreePath(id)
	gitOut(t, h.dir, "worktree", "add", "-q", leftover, "agent/"+id)
	stranger := h.repo.WorktreePath("T-99")
	if err := os.MkdirAll(stranger, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stranger, "keep.txt"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	h.runIdle()
	if _, err := os.Stat(leftover); !os.IsNotExist(err) {
		t.Errorf("worktree of done %s still there (%v)", id, err)
	}
	if list := gitOut(t, h.dir, "worktree", "list"); strings.Contains(list, id) {
		t.Errorf("git still lists it:\n%s", list)
	}
	if gitOut(t, h.dir, "branch", "--list", "agent/"+id) == "" {
		t.Error("its branch was deleted")
	}
	if _, err := os.Stat(filepath.Join(stranger, "keep.txt")); err != nil {
		t.Error("a directory no ticket owns was touched")
	}
}

// stats numbers attempts within max_attempts' budget: the first attempt
// after a human retry is attempt 1 again.
func TestStatsCountAttemptsPerBudget(t *testing.T) {
	var mu sync.Mutex
	rejections := 0
	h := newHarness(t, "\n[phases.techspec]\nmax_attempts = 2\n", func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase == "validator of techspec" {
			mu.Lock()
			defer mu.Unlock()
			if rejections < 2 {
				rejections++
				return fail("not yet")
			}
		}
		return developer(r, phase)
	})
	id := h.add("epic", "budgeted", false)
	h.runIdle()
	if s := h.ticket(id).Status; s != store.StatusNeedsHuman {
		t.Fatalf("%s", s)
	}
	if _, err := Decide(h.st, h.cfg, id, store.Decision{Kind: store.DecisionRetry}); err != nil {
		t.Fatal(err)
	}
	h.runIdle()
	s, err := ComputeStats(h.st, h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int][2]int{}
	for _, r := range s.PassRate["techspec"] {
		got[r.Attempt] = [2]int{r.Passed, r.Judged}
	}
	// the epic: fail, fail, (retry) pass; its feature child: pass
	want := map[int][2]int{1: {2, 3}, 2: {0, 1}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("techspec pass rate by attempt (passed, judged) = %v, want %v", got, want)
	}
}

// An attempt that named a model but spent nothing (no model answered) is
// not counted as a call of that model.
func TestStatsSkipAttemptsThatSpentNothing(t *testing.T) {
	h := newHarness(t, "", developer)
	id := h.add("hotfix", "nothing spent", false)
	if err := h.st.PutAttempt(id, &store.Attempt{Phase: "diagnosis", N: 1, Model: "spare", Error: "all models failed"}); err != nil {
		t.Fatal(err)
	}
	s, err := ComputeStats(h.st, h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Spend) != 0 {
		t.Fatalf("spend rows %+v", s.Spend)
	}
}

// What a decision carries is checked when it is taken, not found unusable
// by a later run: a split the engine cannot read, a model for a phase that
// runs a command.
func TestDecisionsRefuseWhatCannotBeCarriedOut(t *testing.T) {
	h := newHarness(t, "", developer)
	h.cfg.Approve = []string{"split"}
	epic := h.add("epic", "split by hand", false)
	h.cfg.CICommand = "no-such-ci-runner-xyz"
	fix := h.add("hotfix", "stops at ci", false)
	h.runIdle()
	if tk := h.ticket(epic); tk.Phase != "split" || tk.Status != store.StatusAwaiting {
		t.Fatalf("epic %s at %s", tk.Status, tk.Phase)
	}
	if _, err := Decide(h.st, h.cfg, epic, store.Decision{Kind: store.DecisionEditApprove, Text: "not json at all"}); err == nil || !strings.Contains(err.Error(), "JSON") {
		t.Fatalf("a split that is not JSON: %v", err)
	}
	if _, err := Decide(h.st, h.cfg, epic, store.Decision{Kind: store.DecisionEditApprove, Text: "caf\xe9"}); err == nil || !strings.Contains(err.Error(), "UTF-8") {
		t.Fatalf("text that is not UTF-8: %v", err)
	}
	if _, err := Decide(h.st, h.cfg, epic, store.Decision{Kind: store.DecisionEditApprove, Text: `{"tickets": [{"kind": "feature", "title": "by hand", "body": "b"}]}`}); err != nil {
		t.Fatalf("a readable split: %v", err)
	}
	if tk := h.ticket(fix); tk.Phase != "ci" || tk.Status != store.StatusNeedsHuman {
		t.Fatalf("hotfix %s at %s", tk.Status, tk.Phase)
	}
	if _, err := Decide(h.st, h.cfg, fix, store.Decision{Kind: store.DecisionRetry, Model: "large"}); err == nil || !strings.Contains(err.Error(), "runs a command") {
		t.Fatalf("retry on a model at ci: %v", err)
	}
	if n := len(h.ticket(fix).Decisions); n != 0 {
		t.Fatalf("a refused decision was stored: %d", n)
	}
}

// A worktree made ahead of time for a ticket that had not recorded it when
// the last run stopped is that ticket's, not an orphan; a directory no
// ticket owns still is.
func TestPrefetchedWorktreeIsNoOrphan(t *testing.T) {
	h := newHarness(t, "", developer)
	id := h.add("hotfix", "cut off after its prefetch", false)
	if _, _, err := h.repo.EnsureWorktree(context.Background(), id, "main"); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(h.repo.WorktreePath("T-99"), 0o755); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	h.eng = New(Options{Store: h.st, Config: h.cfg, Repo: h.repo, Router: h.eng.router, Prompts: h.eng.prompts, Log: &log})
	h.runIdle()
	if s := h.ticket(id).Status; s != store.StatusDone {
		t.Fatalf("%s (%s)", s, h.ticket(id).Reason)
	}
	if strings.Contains(log.String(), "worktrees/"+id) && strings.Contains(log.String(), "orphan") {
		t.Errorf("its own ticket's worktree called an orphan:\n%s", log.String())
	}
	if !strings.Contains(log.String(), "T-99") {
		t.Errorf("a directory no ticket owns was not reported:\n%s", log.String())
	}
}

// A call cut off mid-answer is billed to the model that gave it, in stats
// as in cost: the model that then answered is not charged for it, and the
// stats total is the tickets' cost.
func TestStatsChargeCutCallsToTheirModel(t *testing.T) {
	h := newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase == "discovery" && r.Model == "mid-1" {
			return oaitest.Reply{Text: "a partial answer that will be cut off", ResetAfterChunks: 2}
		}
		return developer(r, phase)
	})
	id := h.add("feature", "cut then answered", false)
	h.runIdle()
	s, err := ComputeStats(h.st, h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]SpendRow{}
	for _, r := range s.Spend {
		if r.Phase == "discovery" {
			rows[r.Model] = r
		}
	}
	if m := rows["medium"]; m.CostUSD <= 0 || m.Attempts != 0 {
		t.Fatalf("the cut model's row %+v (rows %+v)", m, rows)
	}
	if sp := rows["spare"]; sp.Attempts != 1 || sp.Calls != sp.Attempts {
		t.Fatalf("the answering model's row %+v (rows %+v)", sp, rows)
	}
	if tk := h.ticket(id); math.Abs(s.TotalUSD-tk.CostUSD) > 1e-9 {
		t.Fatalf("stats total %.8f, ticket cost %.8f", s.TotalUSD, tk.CostUSD)
	}
}

// What the validator's budget trims is recorded on its attempt too.
func TestValidatorTrimmingIsRecorded(t *testing.T) {
	long := strings.Repeat("a very long line of the ticket body that goes on\n", 2000)
	h := newHarness(t, "\n[phases.validator]\ncontext_tokens = 3000\n", func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase == "discovery" {
			return oaitest.Reply{Text: "## Spec\n" + long}
		}
		return developer(r, phase)
	})
	id := h.add("epic", "long spec", false)
	h.runIdle()
	a := h.phase(id, "discovery").Attempts[0]
	if v := a.Validator; v == nil || len(v.Trimmed) == 0 || a.Verdict == nil || !a.Verdict.Pass {
		t.Fatalf("validator %+v, verdict %+v", v, a.Verdict)
	}
}

// A validator budget that leaves it next to nothing of the document (or
// of what it is judged against) stops the ticket, naming the budget to
// raise: a verdict on a document it never saw would pass anything. A
// source of a few tokens is kept whole, not called left out.
func TestValidatorBudgetTooSmallStops(t *testing.T) {
	for _, c := range []struct {
		budget int
		want   string
	}{
		// under its own instructions: nothing would fit
		{1, "validator: context_tokens = 1 is less than its instructions and tool definitions alone ("},
		// a little over them: the document goes
		{230, "validator: context_tokens = 230 leaves nothing of \"Deliverable of phase diagnosis\""},
	} {
		var judged atomic.Int32
		h := newHarness(t, fmt.Sprintf("\n[phases.validator]\ncontext_tokens = %d\n", c.budget), func(r *oaitest.Request, phase string) oaitest.Reply {
			if strings.HasPrefix(phase, "validator of ") {
				judged.Add(1)
			}
			return developer(r, phase)
		})
		id := h.add("hotfix", "tiny validator budget", false)
		h.runIdle()
		tk := h.ticket(id)
		if tk.Status != store.StatusNeedsHuman || !strings.Contains(tk.Reason, c.want) || !strings.Contains(tk.Reason, "raise [phases.validator] context_tokens") {
			t.Fatalf("budget %d: status %s reason %q", c.budget, tk.Status, tk.Reason)
		}
		if n := judged.Load(); n != 0 {
			t.Fatalf("budget %d: the validator was asked %d times with nothing to judge", c.budget, n)
		}
		if a := h.phase(id, "diagnosis").Attempts; len(a) != 1 || a[0].Verdict != nil {
			t.Fatalf("budget %d: attempts %+v", c.budget, a)
		}
		// the budget raised, a plain retry judges the answer it has
		h.cfg.Phases["validator"] = configPhaseBudget(h.cfg.Phase("validator"), 16000)
		h.decide(id, store.Decision{Kind: store.DecisionRetry})
		if n := len(h.requests("diagnosis")); n != 1 || judged.Load() == 0 {
			t.Fatalf("budget %d: after the retry, %d diagnosis requests and %d validator asks", c.budget, n, judged.Load())
		}
	}
}

func configPhaseBudget(p config.PhaseConfig, tokens int) config.PhaseConfig {
	p.ContextTokens = tokens
	return p
}

// An attempt cut off by a crash (never ended, never marked) is marked on
// the next start, and what it spent counts in the ticket's cost, as a
// shutdown's would.
func TestCrashedAttemptCostCounts(t *testing.T) {
	h := newHarness(t, "", developer)
	id := h.add("hotfix", "crashed mid-attempt", false)
	if err := h.st.PutAttempt(id, &store.Attempt{Phase: "diagnosis", N: 1, Model: "medium", CostUSD: 0.5, Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	h.runIdle()
	tk := h.ticket(id)
	var sum float64
	as, _ := h.st.Attempts(id)
	for _, a := range as {
		sum += a.TotalCostUSD()
	}
	if tk.CostUSD < 0.5 || math.Abs(tk.CostUSD-sum) > 1e-9 {
		t.Fatalf("ticket cost %.6f, attempts %.6f", tk.CostUSD, sum)
	}
	if !as[0].Interrupted {
		t.Fatal("the crashed attempt was not marked")
	}
}

// A decision on a child of an epic whose cancel waits for the next run is
// refused: the same run would drop it with the child.
func TestChildDecisionRefusedWhileItsEpicIsToBeCancelled(t *testing.T) {
	h := newHarness(t, "", developer)
	epic := h.add("epic", "parent", false)
	child, err := AddTicket(h.st, NewTicket{Kind: "feature", Title: "child", Body: "b", Parent: epic}, "main")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.st.UpdateTicket(child.ID, func(x *store.Ticket) error { x.Status = store.StatusAwaiting; return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := Decide(h.st, h.cfg, epic, store.Decision{Kind: store.DecisionCancel}); err != nil {
		t.Fatal(err)
	}
	_, err = Decide(h.st, h.cfg, child.ID, store.Decision{Kind: store.DecisionApprove})
	if err == nil || !strings.Contains(err.Error(), "epic "+epic+" is to be cancelled by the next run") {
		t.Fatalf("approve of the child: %v", err)
	}
	if _, err := Decide(h.st, h.cfg, child.ID, store.Decision{Kind: store.DecisionCancel}); err != nil {
		t.Fatalf("cancel of the child: %v", err)
	}
}

// A retry on a model whose provider has no key is refused: the phase's
// usual models would quietly answer instead. And a model skipped on every
// call of an attempt is recorded once.
func TestRetryOnAnUncallableModelIsRefused(t *testing.T) {
	h := newHarness(t, "\n[phases.diagnosis]\nmodels = [\"spare\", \"medium\"]\n[phases.validator]\nmodels = [\"spare\", \"small\"]\n", func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase == "diagnosis" && oaitest.ToolTurns(r) == 0 {
			// two calls in the attempt: the skip happens on both
			return oaitest.Reply{ToolCalls: []oaitest.ToolCall{{ID: "r1", Name: "read_file", Args: `{"path": "README.md"}`}}}
		}
		return developer(r, phase)
	})
	h.cfg.Providers[1].APIKeyEnv = "AGENT_TUI_TEST_NEVER_SET"
	h.eng = New(Options{Store: h.st, Config: h.cfg, Repo: h.repo, Router: newRouter(h.cfg), Prompts: h.eng.prompts})
	h.cfg.Approve = []string{"diagnosis"}
	id := h.add("hotfix", "needs spare", false)
	h.runIdle()
	tk := h.ticket(id)
	if tk.Status != store.StatusAwaiting {
		t.Fatalf("%s (%s)", tk.Status, tk.Reason)
	}
	a := h.phase(id, "diagnosis").Attempts[0]
	if len(a.Fallbacks) != 1 || !strings.Contains(a.Fallbacks[0].Reason, "AGENT_TUI_TEST_NEVER_SET is not set") {
		t.Fatalf("fallbacks %+v", a.Fallbacks)
	}
	if a.Validator == nil || len(a.Validator.Fallbacks) != 1 {
		t.Fatalf("validator fallbacks %+v", a.Validator)
	}
	_, err := Decide(h.st, h.cfg, id, store.Decision{Kind: store.DecisionRetry, Model: "spare"})
	if err == nil || !strings.Contains(err.Error(), `model "spare" cannot be called: provider backup: its key variable AGENT_TUI_TEST_NEVER_SET is not set`) {
		t.Fatalf("retry on spare: %v", err)
	}
}

// A cancel ends the model call under way at once, rather than letting it
// stream (and bill) to its end; the attempt says why it stopped.
func TestCancelInterruptsTheCallUnderWay(t *testing.T) {
	streaming := make(chan struct{}, 1)
	h := newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase == "discovery" {
			select {
			case streaming <- struct{}{}:
			default:
			}
			return slowStream("a long document line\n")
		}
		return developer(r, phase)
	})
	id := h.add("feature", "long discovery", false)
	events, unsubscribe := h.eng.Subscribe(1 << 16)
	defer unsubscribe()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := runUntil(ctx, t, h, streaming, "discovery never called")
	time.Sleep(200 * time.Millisecond) // mid-stream
	start := time.Now()
	if err := h.eng.Decide(id, store.Decision{Kind: store.DecisionCancel}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the run did not end after the cancel")
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("cancel took %s", took)
	}
	if s := h.ticket(id).Status; s != store.StatusCancelled {
		t.Fatalf("%s", s)
	}
	a := h.phase(id, "discovery").Attempts
	if len(a) != 1 || !a[0].Interrupted || !strings.Contains(a[0].Error, "cancelled") {
		t.Fatalf("attempts %+v", a)
	}
	// and the UI heard that the attempt ended
	var last *store.Attempt
	for len(events) > 0 {
		if ev := <-events; ev.Type == EvAttempt && ev.Attempt != nil && ev.Attempt.Phase == "discovery" {
			last = ev.Attempt
		}
	}
	if last == nil || !last.Interrupted {
		t.Fatalf("last attempt event %+v", last)
	}
}

// A cancel of a ticket that waits for a max_parallel slot is carried out
// at once, without an attempt; one that arrives after the ticket finished
// (its merge went through) leaves it done.
func TestCancelWhileWaitingForASlotAndAfterTheEnd(t *testing.T) {
	h, first, waiting, stop := oneSlotTaken(t, 3*time.Second)
	begin := time.Now()
	if err := h.eng.Decide(waiting, store.Decision{Kind: store.DecisionCancel}); err != nil {
		t.Fatal(err)
	}
	for h.ticket(waiting).Status != store.StatusCancelled {
		if time.Since(begin) > 2*time.Second {
			t.Fatalf("a ticket waiting for a slot was not cancelled in 2 s: %s", h.ticket(waiting).Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(h.phase(waiting, "diagnosis").Attempts); n != 0 {
		t.Fatalf("%d attempts recorded for a ticket that never ran", n)
	}
	stop()

	// a cancel carried out after the ticket finished
	if _, err := h.st.UpdateTicket(first, func(x *store.Ticket) error {
		x.Status = store.StatusDone
		x.Decisions = append(x.Decisions, store.Decision{Kind: store.DecisionCancel, At: time.Now()})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.eng.applyDecisions(context.Background(), first); err != nil {
		t.Fatal(err)
	}
	tk := h.ticket(first)
	if d := tk.Decisions[len(tk.Decisions)-1]; tk.Status != store.StatusDone || !d.Applied || !strings.Contains(d.Superseded, "done first") {
		t.Fatalf("%s, %+v", tk.Status, d)
	}
}

// A document whose answer was saved when the process stopped, before its
// validator had judged it, is judged after the restart: the model is not
// asked (and paid) for it again, and its cost is counted once.
func TestSavedAnswerIsJudgedAfterACrash(t *testing.T) {
	var diagnosisCalls, validatorCalls atomic.Int32
	h := newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
		switch phase {
		case "diagnosis":
			diagnosisCalls.Add(1)
		case "validator of diagnosis":
			validatorCalls.Add(1)
		}
		return developer(r, phase)
	})
	h.cfg.Approve = []string{"diagnosis"}
	id := h.add("hotfix", "crashed while judged", false)
	if _, err := h.st.UpdateTicket(id, func(x *store.Ticket) error {
		x.Status, x.Phase = store.StatusRunning, "diagnosis"
		ps := phaseState(x, "diagnosis")
		ps.Status, ps.Attempts = store.PhaseRunning, 1
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	saved := "## Diagnosis\n\nThe saved answer.\n"
	if err := h.st.PutAttempt(id, &store.Attempt{Phase: "diagnosis", N: 1, Model: "medium", Deliverable: saved, Stream: saved, CostUSD: 0.5, Answered: true, Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	h.runIdle()
	tk := h.ticket(id)
	if tk.Status != store.StatusAwaiting {
		t.Fatalf("%s (%s)", tk.Status, tk.Reason)
	}
	if n := diagnosisCalls.Load(); n != 0 {
		t.Errorf("the model was asked for the diagnosis again (%d calls)", n)
	}
	if n := validatorCalls.Load(); n != 1 {
		t.Errorf("validator calls %d, want 1", n)
	}
	as := h.phase(id, "diagnosis").Attempts
	if len(as) != 1 || as[0].Interrupted || as[0].Error != "" || as[0].Verdict == nil || !as[0].Verdict.Pass || as[0].Deliverable != strings.TrimSpace(saved) && as[0].Deliverable != saved {
		t.Fatalf("attempts %+v", as)
	}
	if as[0].JudgedAfter != JudgedAfterRestart {
		t.Fatalf("judged after %q, want the restart said", as[0].JudgedAfter)
	}
	var sum float64
	all, _ := h.st.Attempts(id)
	for _, a := range all {
		sum += a.TotalCostUSD()
	}
	if math.Abs(tk.CostUSD-sum) > 1e-9 || sum <= 0.5 {
		t.Fatalf("ticket cost %.6f, attempts %.6f", tk.CostUSD, sum)
	}
}

// The same after a quit while the validator was judging: the next start
// judges the saved answer, and the model is asked for it once in all.
func TestSavedAnswerIsJudgedAfterAQuit(t *testing.T) {
	var diagnosisCalls, validatorCalls atomic.Int32
	judging := make(chan struct{}, 1)
	h := newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
		switch phase {
		case "diagnosis":
			diagnosisCalls.Add(1)
		case "validator of diagnosis":
			if validatorCalls.Add(1) == 1 {
				judging <- struct{}{}
				return oaitest.Reply{Text: `{"pass": true, "objections": []}`, Delay: 30 * time.Second}
			}
		}
		return developer(r, phase)
	})
	h.cfg.Approve = []string{"diagnosis"}
	id := h.add("hotfix", "quit while judged", false)
	ctx, quit := context.WithCancel(context.Background())
	done := runUntil(ctx, t, h, judging, "the validator was never called")
	quit()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if as := h.phase(id, "diagnosis").Attempts; len(as) != 1 || !as[0].Interrupted {
		t.Fatalf("after the quit: %+v", as)
	}
	h.eng = New(Options{Store: h.st, Config: h.cfg, Repo: h.repo, Router: newRouter(h.cfg), Prompts: h.eng.prompts})
	h.runIdle()
	if tk := h.ticket(id); tk.Status != store.StatusAwaiting {
		t.Fatalf("%s (%s)", tk.Status, tk.Reason)
	}
	if n := diagnosisCalls.Load(); n != 1 {
		t.Errorf("the model was asked for the diagnosis %d times", n)
	}
	if as := h.phase(id, "diagnosis").Attempts; len(as) != 1 || as[0].Interrupted || as[0].Verdict == nil || !as[0].Verdict.Pass {
		t.Fatalf("after the restart: %+v", as)
	}
}

// What any way in (the command line, the TUI's form, a split) may store:
// a title that reads as one visible line, and texts of at most 1 MiB.
func TestTicketAndDecisionTextsAreChecked(t *testing.T) {
	for _, title := range []string{"bad \xff title", "\u200b", "\u202e", " \u3164\u0301 ", "one\u2028two", "one\u2029two", "tab\there"} {
		if err := (NewTicket{Kind: KindFeature, Title: title}).Validate(); err == nil {
			t.Errorf("title %q accepted", title)
		}
	}
	if err := (NewTicket{Kind: KindFeature, Title: "Ünïcödé 日本語 ok"}).Validate(); err != nil {
		t.Error(err)
	}
	huge := strings.Repeat("x", MaxText+1)
	if err := (NewTicket{Kind: KindFeature, Title: "big", Body: huge}).Validate(); err == nil || !strings.Contains(err.Error(), "1 MiB") {
		t.Errorf("huge body: %v", err)
	}
	h := newHarness(t, "", developer)
	h.cfg.Approve = []string{"discovery"}
	id := h.add("feature", "gate", false)
	h.runIdle()
	for _, d := range []store.Decision{
		{Kind: store.DecisionReject, Reason: huge},
		{Kind: store.DecisionEditApprove, Text: huge},
	} {
		if _, err := Decide(h.st, h.cfg, id, d); err == nil || !strings.Contains(err.Error(), "1 MiB") {
			t.Errorf("%s with %d bytes: %v", d.Kind, len(huge), err)
		}
	}
}

// A finished ticket leaves no temporary directory behind: merged or
// cancelled, what its runs left in $TMPDIR goes with its worktree.
func TestFinishedTicketsLeaveNoTemporaryDirectory(t *testing.T) {
	h := newHarness(t, "", developer)
	h.cfg.Approve = []string{"code"}
	done := h.add("hotfix", "merged", false)
	cancelled := h.add("hotfix", "cancelled", false)
	h.runIdle()
	for _, id := range []string{done, cancelled} {
		tmp := h.eng.ticketTemp(h.ticket(id))
		if err := os.MkdirAll(tmp, 0o700); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(tmp, "left-by-a-test"), []byte("x"), 0o600)
	}
	Decide(h.st, h.cfg, done, store.Decision{Kind: store.DecisionApprove})
	Decide(h.st, h.cfg, cancelled, store.Decision{Kind: store.DecisionCancel})
	h.runIdle()
	for _, id := range []string{done, cancelled} {
		tk := h.ticket(id)
		if !store.Finished(tk.Status) {
			t.Fatalf("%s %s (%s)", id, tk.Status, tk.Reason)
		}
		if _, err := os.Stat(h.eng.ticketTemp(tk)); !os.IsNotExist(err) {
			t.Errorf("%s %s: its temporary directory is still there (%v)", id, tk.Status, err)
		}
	}
}

// A run leaves no base view behind: the checkout that discovery read is
// gone from git worktree list when the run ends (a quit of the TUI).
func TestRunEndRemovesBaseViews(t *testing.T) {
	h := newHarness(t, "", developer)
	h.cfg.Approve = []string{"discovery"}
	id := h.add("feature", "reads the base", false)
	h.runIdle()
	if s := h.ticket(id).Status; s != store.StatusAwaiting {
		t.Fatalf("%s (%s)", s, h.ticket(id).Reason)
	}
	if list := gitOut(t, h.dir, "worktree", "list", "--porcelain"); strings.Contains(list, "agent-tui/views") {
		t.Fatalf("a base view is left:\n%s", list)
	}
}

// slowStream is an answer that streams line for ten seconds.
func slowStream(line string) oaitest.Reply {
	chunks := make([]string, 200)
	for i := range chunks {
		chunks[i] = line
	}
	return oaitest.Reply{Chunks: chunks, ChunkDelay: 50 * time.Millisecond}
}

// An edit refused on a ticket that waits for no one says edit, not approve.
func TestEditRefusalSaysEdit(t *testing.T) {
	tk := &store.Ticket{ID: "T-1", Status: store.StatusDone}
	err := Allowed(tk, store.DecisionEditApprove)
	if err == nil || err.Error() != "T-1 is done: only a ticket awaiting approval or needing a human can be edited and approved" {
		t.Fatalf("%v", err)
	}
	if err := Allowed(tk, store.DecisionApprove); err == nil || !strings.HasSuffix(err.Error(), "can be approved") {
		t.Fatalf("%v", err)
	}
}

// A refusal names a paused ticket as paused, as list does, not by the
// status it goes back to when resumed.
func TestRefusalOfAPausedTicketSaysPaused(t *testing.T) {
	tk := &store.Ticket{ID: "T-4", Status: store.StatusQueued, Paused: true, Phase: "review",
		Phases: []store.PhaseState{{Name: "review", Status: store.PhaseAccepted, ByHuman: true}}}
	if err := Allowed(tk, store.DecisionReject); err == nil || !strings.Contains(err.Error(), "T-4 is paused (approved at review: goes on once resumed): only") {
		t.Fatalf("%v", err)
	}
	tk.Phases[0].Status = store.PhasePending
	if err := Allowed(tk, store.DecisionApprove); err == nil || !strings.Contains(err.Error(), "T-4 is paused: only") {
		t.Fatalf("%v", err)
	}
}

// A stop after failed checks keeps the end of the last objection, where a
// failed run's output says why, and the phase's count at its start.
func TestGaveUpReasonKeepsTheOutputsEnd(t *testing.T) {
	noise := strings.Repeat("lint warning line 123 ", 100)
	r := gaveUpReason("cifix", 3, failure{objections: []string{"`sh ci.sh` still fails (exit 1): " + noise + "FATAL: the real error"}})
	if !strings.HasPrefix(r, "cifix failed 3 attempts; last objections: `sh ci.sh` still fails (exit 1)") || !strings.HasSuffix(r, "FATAL: the real error") || len(r) > 610 {
		t.Fatalf("%d bytes: %q", len(r), r)
	}
}

// A stop says whose answers could not be read: the validator's, in some
// or all of the attempts, or the review's own (then the code was never
// judged).
func TestGaveUpReasonNamesUnreadableAnswers(t *testing.T) {
	for _, c := range []struct {
		phase    string
		unjudged int
		want     string
	}{
		{"diagnosis", 2, "diagnosis failed 3 attempts (the validator's answers on diagnosis could not be read in 2 of them)"},
		{"diagnosis", 3, "the validator's answers on diagnosis could not be read in 3 attempts (diagnosis was never judged)"},
		{"review", 3, "the review's answers could not be read in 3 attempts (the code was never judged)"},
	} {
		if r := gaveUpReason(c.phase, 3, failure{err: "x", unjudged: c.unjudged}); !strings.HasPrefix(r, c.want) {
			t.Errorf("%q, want it to begin %q", r, c.want)
		}
	}
}

// A listing or a search cut by the budget keeps whole lines and says what
// it kept: its own note would count entries the model never saw.
func TestCutListingSaysWhereToGoOn(t *testing.T) {
	var b strings.Builder
	for i := 1; i <= 2000; i++ {
		fmt.Fprintf(&b, "file%04d.txt\n", i+499)
	}
	b.WriteString("[listed entries 500-2499 of 3000; continue with offset=2500]\n")
	got := cutResult(b.String(), 600, "list_dir", `{"path": ".", "offset": 500}`)
	lines := strings.Split(strings.TrimRight(got, "\n"), "\n")
	kept := len(lines) - 1
	want := fmt.Sprintf("[trimmed to fit the context budget: listed entries 500-%d of 3000; continue with offset=%d]", 499+kept, 500+kept)
	if len(got) > 600 || lines[len(lines)-1] != want || lines[kept-1] != fmt.Sprintf("file%04d.txt", 499+kept) {
		t.Fatalf("%d bytes, last lines %q", len(got), lines[max(0, kept-1):])
	}

	search := strings.Repeat("src/a.go:12: func thing() {}\n", 200) + "[stopped after 200 matches; narrow the pattern or path]\n"
	got = cutResult(search, 500, "search", `{"pattern": "thing"}`)
	if len(got) > 500 || !strings.HasSuffix(got, "matching lines shown; narrow the pattern or path for the rest]") || strings.Contains(got, "stopped after 200") {
		t.Fatalf("%q", got)
	}
}

// A pause of a ticket that waits for a max_parallel slot takes it out of
// the line at once: it does not take the next free slot and run a step.
func TestPauseWhileWaitingForASlot(t *testing.T) {
	h, _, waiting, _ := oneSlotTaken(t, 1500*time.Millisecond)
	if err := h.eng.Decide(waiting, store.Decision{Kind: store.DecisionPause}); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	for !h.ticket(waiting).Paused {
		if time.Since(begin) > time.Second {
			t.Fatalf("a ticket waiting for a slot was not paused in 1 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // the slot is free by now
	for _, r := range h.srv.Requests() {
		if ticketOf(r) == waiting {
			t.Fatalf("the paused ticket called a model (%s)", phaseOf(r))
		}
	}
}

// oneSlotTaken runs two hotfixes with max_parallel = 1, their diagnosis
// answering after delay, until one of them holds the slot: it returns the
// one holding it, the one waiting for it, and stop, which ends the run.
func oneSlotTaken(t *testing.T, delay time.Duration) (h *harness, holding, waiting string, stop func()) {
	started := make(chan struct{}, 1)
	h = newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase == "diagnosis" {
			select {
			case started <- struct{}{}:
			default:
			}
			return oaitest.Reply{Text: "slow", Delay: delay}
		}
		return developer(r, phase)
	})
	h.cfg.MaxParallel = 1
	h.eng = New(Options{Store: h.st, Config: h.cfg, Repo: h.repo, Router: h.eng.router, Prompts: h.eng.prompts})
	holding = h.add("hotfix", "holds the slot", false)
	waiting = h.add("hotfix", "waits for it", false)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.eng.Run(ctx, false) }()
	<-started
	time.Sleep(200 * time.Millisecond)
	if ticketOf(h.srv.Requests()[0]) == waiting {
		holding, waiting = waiting, holding // the other one got the slot
	}
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop) // a test that fails before its own stop
	return h, holding, waiting, stop
}

// An epic's pause is its children's: they stop moving with it, and its
// resume takes up only those its pause held, not one a person paused for
// itself.
func TestPausingAnEpicPausesItsChildren(t *testing.T) {
	h := newHarness(t, "", developer)
	h.cfg.Approve = []string{"code"}
	id := h.add("epic", "paused with its children", false)
	h.runIdle()
	ep := h.ticket(id)
	if ep.Status != store.StatusWaitingChildren || len(ep.Children) != 2 {
		t.Fatalf("epic %s, children %v", ep.Status, ep.Children)
	}
	a, b := ep.Children[0], ep.Children[1]
	// b paused by a person, then the epic: a approved meanwhile does not move
	if _, err := Decide(h.st, h.cfg, b, store.Decision{Kind: store.DecisionPause}); err != nil {
		t.Fatal(err)
	}
	if _, children, err := DecideWithChildren(h.st, h.cfg, id, store.Decision{Kind: store.DecisionPause}); err != nil || len(children) != 1 || children[0].ID != a {
		t.Fatalf("the epic's pause went on to %d children: %v", len(children), err)
	}
	for _, cid := range []string{a, b} {
		if _, err := Decide(h.st, h.cfg, cid, store.Decision{Kind: store.DecisionApprove}); err != nil {
			t.Fatal(err)
		}
	}
	main := gitOut(t, h.dir, "rev-parse", "main")
	h.runIdle()
	if gitOut(t, h.dir, "rev-parse", "main") != main {
		t.Fatal("a child of a paused epic was merged")
	}
	if c := h.ticket(a); !c.Paused || c.Status == store.StatusDone {
		t.Fatalf("%s went on while its epic was paused: paused %v, %s", a, c.Paused, c.Status)
	}
	if err := h.eng.Decide(id, store.Decision{Kind: store.DecisionResume}); err != nil {
		t.Fatal(err)
	}
	h.runIdle()
	if c := h.ticket(a); c.Status != store.StatusDone {
		t.Fatalf("%s after its epic's resume: %s (%s)", a, c.Status, c.Reason)
	}
	if c := h.ticket(b); !c.Paused || c.Status == store.StatusDone {
		t.Fatalf("%s, paused by a person, went on with its epic's resume: paused %v, %s", b, c.Paused, c.Status)
	}
}
