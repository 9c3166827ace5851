package engine

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"agent-tui/engine/oaitest"
	"agent-tui/store"
)

// Tickets approved at the review gate while no engine runs merge, in the
// next run, in the order they were approved, not the order their runners
// happen to reach the merge: of two that conflict, the one approved first
// lands.
func TestMergesFollowApprovalOrder(t *testing.T) {
	shared := map[string]bool{"T-4": true, "T-3": true} // both write src/shared.txt
	h := newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
		id := ticketOf(r)
		if (phase == "code" || phase == "cifix") && toolTurns(r) == 0 {
			calls := []oaitest.ToolCall{writeCall("c2", "src/"+id+".txt", "done "+id+"\n")}
			if shared[id] {
				calls = append(calls, writeCall("c3", "src/shared.txt", "by "+id+"\n"))
			}
			return oaitest.Reply{ToolCalls: calls}
		}
		return developer(r, phase)
	})
	h.cfg.Approve = []string{"review"}
	var ids []string
	for _, title := range []string{"one", "two", "three", "four", "five", "six"} {
		ids = append(ids, h.add("hotfix", title, false))
	}
	h.runIdle()
	for _, id := range ids {
		if tk := h.ticket(id); tk.Status != store.StatusAwaiting {
			t.Fatalf("%s: %s (%s)", id, tk.Status, tk.Reason)
		}
	}
	order := []string{"T-4", "T-2", "T-6", "T-1", "T-5", "T-3"}
	for _, id := range order { // as `agent-tui approve` does, no engine running
		if _, err := Decide(h.st, h.cfg, id, store.Decision{Kind: store.DecisionApprove}); err != nil {
			t.Fatal(err)
		}
	}
	h.eng = New(Options{Store: h.st, Config: h.cfg, Repo: h.repo, Router: newRouter(h.cfg), Prompts: h.eng.prompts})
	h.runIdle()
	if tk := h.ticket("T-3"); tk.Status != store.StatusNeedsHuman || !strings.Contains(tk.Reason, "conflicts in: src/shared.txt") {
		t.Fatalf("T-3, approved last, conflicts with T-4: %s (%s)", tk.Status, tk.Reason)
	}
	var want []string
	for _, id := range order[:5] {
		if tk := h.ticket(id); tk.Status != store.StatusDone {
			t.Fatalf("%s: %s (%s)", id, tk.Status, tk.Reason)
		}
		want = append([]string{id + ": "}, want...)
	}
	var got []string
	for line := range strings.Lines(gitOut(t, h.dir, "log", "--first-parent", "--format=%s", "-5", "main")) {
		id, _, _ := strings.Cut(line, " ")
		got = append(got, id+" ")
	}
	if strings.Join(got, "") != strings.Join(want, "") {
		t.Fatalf("merged, last first: %q, want %q", got, want)
	}
}

// A ticket approved first that stops short of its merge (paused before the
// run) does not hold back the merges approved after it.
func TestMergeOrderSkipsATicketThatStopsShort(t *testing.T) {
	h := newHarness(t, "", developer)
	h.cfg.Approve = []string{"review"}
	first, second := h.add("hotfix", "one", false), h.add("hotfix", "two", false)
	h.runIdle()
	for _, d := range []struct {
		id   string
		kind string
	}{{first, store.DecisionApprove}, {second, store.DecisionApprove}, {first, store.DecisionPause}} {
		if _, err := Decide(h.st, h.cfg, d.id, store.Decision{Kind: d.kind}); err != nil {
			t.Fatal(err)
		}
	}
	h.eng = New(Options{Store: h.st, Config: h.cfg, Repo: h.repo, Router: newRouter(h.cfg), Prompts: h.eng.prompts})
	h.runLimit = 20 * time.Second
	h.runIdle()
	if tk := h.ticket(second); tk.Status != store.StatusDone {
		t.Fatalf("%s: %s (%s)", second, tk.Status, tk.Reason)
	}
	if tk := h.ticket(first); !tk.Paused || tk.Status == store.StatusDone {
		t.Fatalf("%s: %s, paused %v", first, tk.Status, tk.Paused)
	}
}

// A merge into one base branch does not wait for an earlier-approved merge
// into another: they cannot conflict.
func TestMergeTurnsAreKeptPerBaseBranch(t *testing.T) {
	h := newHarness(t, "", developer)
	first := &mergeTurn{id: "T-1", base: "release", at: now(), done: make(chan struct{})}
	mine := &mergeTurn{id: "T-2", base: "main", at: now().Add(time.Second), done: make(chan struct{})}
	h.eng.turns = []*mergeTurn{first, mine}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := h.eng.waitMergeTurn(ctx, &store.Ticket{ID: "T-2", BaseBranch: "main"}); err != nil {
		t.Fatalf("T-2 into main waited for T-1 into release: %v", err)
	}
	// into the same base it waits
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	if err := h.eng.waitMergeTurn(ctx2, &store.Ticket{ID: "T-2", BaseBranch: "release"}); err == nil {
		t.Fatal("T-2 into release did not wait for T-1")
	}
}

// CI judges what lands, not only each branch: two tickets each green on
// their own, red together (a limit both respect alone), do not both merge.
// The second is refused with the result's failure; the base stays green.
func TestMergeResultIsCheckedWhenTheBaseMoved(t *testing.T) {
	project := maps.Clone(shellProject)
	project["tests/limit.sh"] = "[ $(ls src 2>/dev/null | grep -c '^T-') -le 1 ] || { echo 'too many files in src'; exit 1; }\n"
	h := newHarnessOn(t, project, "", developer)
	a := h.add("hotfix", "first", false)
	b := h.add("hotfix", "second", false)
	h.runIdle()
	ta, tb := h.ticket(a), h.ticket(b)
	done, blocked := ta, tb
	if ta.Status != store.StatusDone {
		done, blocked = tb, ta
	}
	if done.Status != store.StatusDone || blocked.Status != store.StatusNeedsHuman || !strings.Contains(blocked.Reason, "on the result: ") || !strings.Contains(blocked.Reason, "too many files in src") {
		t.Fatalf("%s %s (%s); %s %s (%s)", ta.ID, ta.Status, ta.Reason, tb.ID, tb.Status, tb.Reason)
	}
	h.baseTestsPass()
	if out := gitOut(t, h.dir, "worktree", "list"); strings.Contains(out, "verify") {
		t.Fatalf("a checkout of the result was left:\n%s", out)
	}
	// as the stop says, a reject sends the ticket back to code, on top of
	// the base as it is now, with the reason
	if !strings.Contains(blocked.Reason, "reject with a reason sends the ticket back to code") {
		t.Fatalf("the stop does not say what to do: %s", blocked.Reason)
	}
	codeBefore := len(h.phase(blocked.ID, "code").Attempts)
	h.decide(blocked.ID, store.Decision{Kind: store.DecisionReject, Reason: "keep src to one file"})
	code := h.phase(blocked.ID, "code").Attempts
	if len(code) <= codeBefore || !strings.Contains(strings.Join(code[codeBefore].Feedback, "\n"), "keep src to one file") {
		t.Fatalf("code attempts %d → %d after the retry", codeBefore, len(code))
	}
}
