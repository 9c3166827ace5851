package engine

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"agent-tui/engine/oaitest"
	"agent-tui/store"
)

// snapshot is what the store holds of a ticket at one moment: what a
// kill -9 then would leave.
type snapshot struct {
	t  *store.Ticket
	as []*store.Attempt
}

func (h *harness) snapshot(id string) snapshot {
	h.t.Helper()
	var s snapshot
	err := h.st.View(func(tx *store.Tx) error {
		var err error
		if s.t, err = tx.Ticket(id); err != nil {
			return err
		}
		s.as, err = tx.Attempts(id)
		return err
	})
	if err != nil {
		h.t.Fatal(err)
	}
	return s
}

// crashAt stops the running engine and puts back what the store held at
// the snapshot, as if the process had been killed then (a stop records
// more than a kill would), and starts a new engine on the same store.
func (h *harness) crashAt(s snapshot, stop context.CancelFunc, done <-chan error) {
	h.t.Helper()
	stop()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		h.t.Fatal(err)
	}
	err := h.st.Update(func(tx *store.Tx) error {
		for _, a := range s.as {
			if err := tx.PutAttempt(s.t.ID, a); err != nil {
				return err
			}
		}
		return tx.PutTicket(s.t)
	})
	if err != nil {
		h.t.Fatal(err)
	}
	h.eng = New(Options{Store: h.st, Config: h.cfg, Repo: h.repo, Router: newRouter(h.cfg), Prompts: h.eng.prompts})
}

func (h *harness) attemptsOf(id, phase string) []*store.Attempt {
	h.t.Helper()
	all, err := h.st.Attempts(id)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []*store.Attempt
	for _, a := range all {
		if a.Phase == phase {
			out = append(out, a)
		}
	}
	return out
}

func lastOf(as []*store.Attempt, phase string) *store.Attempt {
	var last *store.Attempt
	for _, a := range as {
		if a.Phase == phase {
			last = a
		}
	}
	return last
}

// costCountedOnce checks that the ticket's cost is its attempts' cost,
// each counted once.
func (h *harness) costCountedOnce(id string) {
	h.t.Helper()
	var sum float64
	as, _ := h.st.Attempts(id)
	for _, a := range as {
		sum += a.TotalCostUSD()
	}
	if got := h.ticket(id).CostUSD; math.Abs(got-sum) > 1e-9 {
		h.t.Fatalf("ticket cost %.6f, its attempts %.6f", got, sum)
	}
}

// A model answer whose tool call runs long (a sleep, a build) is saved
// before the call runs: a crash then keeps the answer's tokens and cost
// and the call that was running, and after the restart its cost counts
// once in the ticket's.
func TestCrashDuringALongToolKeepsTheAnswer(t *testing.T) {
	var slept atomic.Bool
	h := newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase == "code" && toolTurns(r) == 1 && !slept.Swap(true) {
			return oaitest.Reply{
				ToolCalls: []oaitest.ToolCall{
					{ID: "c8", Name: "write_file", Args: `{"path": "notes.txt", "content": "partial"}`},
					{ID: "c9", Name: "run_command", Args: `{"command": "touch .running && sleep 30"}`},
				},
				PromptTokens: 50000, CompletionTokens: 7000,
			}
		}
		return developer(r, phase)
	})
	id := h.add("hotfix", "crash while a command runs", false)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := runUntilRunning(ctx, t, h, id)
	snap := h.snapshot(id)
	a := lastOf(snap.as, "code")
	if a == nil || a.TokensIn < 50000 || a.TokensOut < 7000 || a.CostUSD < 0.05+0.021 {
		t.Fatalf("the second call's tokens and cost were not saved before its tool ran: %+v", a)
	}
	if n := len(a.ToolCalls); n != 3 || a.ToolCalls[2].Name != "run_command" || a.ToolCalls[2].Result != toolRunning {
		t.Fatalf("the running call was not saved: %+v", a.ToolCalls)
	}
	// and the write before it in the same answer, with its result
	if w := a.ToolCalls[1]; w.Name != "write_file" || !strings.HasPrefix(w.Result, "ok: wrote") {
		t.Fatalf("the write that ended before the command was saved as %+v", w)
	}
	h.crashAt(snap, stop, done)
	h.runIdle()
	if tk := h.ticket(id); tk.Status != store.StatusDone {
		t.Fatalf("%s (%s)", tk.Status, tk.Reason)
	}
	as := h.attemptsOf(id, "code")
	if len(as) != 2 || !as[0].Interrupted || as[0].TokensIn < 50000 || as[1].Interrupted {
		t.Fatalf("code attempts %+v", as)
	}
	if tc := as[0].ToolCalls[2]; tc.Result != toolCutOff || !strings.Contains(as[0].Stream, "→ run_command") {
		t.Fatalf("the cut-off call: %+v, stream %q", tc, as[0].Stream)
	}
	h.costCountedOnce(id)
}

// A call cut off by a crash while it streams keeps, in its attempt, what
// it had streamed and an estimate of its cost, saved at most
// streamSaveEvery apart; the ticket counts that cost once after the
// restart, and the phase is asked again.
func TestCrashMidStreamKeepsWhatWasStreamed(t *testing.T) {
	defer func(d time.Duration) { streamSaveEvery = d }(streamSaveEvery)
	streamSaveEvery = 100 * time.Millisecond
	streaming := make(chan struct{}, 1)
	var calls atomic.Int32
	h := newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase == "diagnosis" && calls.Add(1) == 1 {
			streaming <- struct{}{}
			return slowStream("a long diagnosis line\n")
		}
		return developer(r, phase)
	})
	id := h.add("hotfix", "crash mid-stream", false)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := runUntil(ctx, t, h, streaming, "diagnosis never called")
	time.Sleep(time.Second) // about 20 lines streamed
	snap := h.snapshot(id)
	a := lastOf(snap.as, "diagnosis")
	if a == nil || !strings.Contains(a.Stream, "a long diagnosis line") || a.CostUSD <= 0 || a.TokensOut <= 0 || !a.TokensEstimated || len(a.Wasted) != 1 {
		t.Fatalf("what the call streamed was not saved: %+v", a)
	}
	h.crashAt(snap, stop, done)
	h.runIdle()
	if tk := h.ticket(id); tk.Status != store.StatusDone {
		t.Fatalf("%s (%s)", tk.Status, tk.Reason)
	}
	as := h.attemptsOf(id, "diagnosis")
	if len(as) != 2 || !as[0].Interrupted || as[0].CostUSD <= 0 || !strings.Contains(as[0].Stream, "a long diagnosis line") || as[1].Interrupted {
		t.Fatalf("diagnosis attempts %+v", as)
	}
	h.costCountedOnce(id)
}

// A stop while a tool call runs keeps the call, with a result that says
// it was cut off, in the attempt's tool calls and stream; and the call the
// same answer asked for after it, which never started.
func TestStopDuringALongToolKeepsTheCall(t *testing.T) {
	h := newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase == "code" && toolTurns(r) == 1 {
			return oaitest.Reply{ToolCalls: []oaitest.ToolCall{{ID: "c9", Name: "run_command", Args: `{"command": "touch .running && sleep 30"}`},
				writeCall("after", "NEVER_WRITTEN.txt", "x\n")}}
		}
		return developer(r, phase)
	})
	id := h.add("hotfix", "stop while a command runs", false)
	stopWhileRunning(t, h, id)
	as := h.attemptsOf(id, "code")
	if len(as) != 1 || !as[0].Interrupted || len(as[0].ToolCalls) != 3 {
		t.Fatalf("code attempts %+v", as)
	}
	if tc := as[0].ToolCalls[1]; tc.Name != "run_command" || tc.Result != toolCutOff || !strings.Contains(as[0].Stream, "→ run_command") || !strings.Contains(as[0].Stream, toolCutOff) {
		t.Fatalf("the cut-off call: %+v, stream %q", tc, as[0].Stream)
	}
	if tc := as[0].ToolCalls[2]; tc.Name != "write_file" || tc.Result != toolCutOff || !strings.Contains(as[0].Stream, "NEVER_WRITTEN.txt") {
		t.Fatalf("the call after it: %+v, stream %q", tc, as[0].Stream)
	}
	h.costCountedOnce(id)
}

// runUntil starts the engine and returns, with the channel Run's error
// comes on, once the script has signalled on reached (failing with why if
// it never does).
func runUntil(ctx context.Context, t *testing.T, h *harness, reached <-chan struct{}, why string) chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- h.eng.Run(ctx, true) }()
	select {
	case <-reached:
	case <-time.After(20 * time.Second):
		t.Fatal(why)
	}
	return done
}

// runUntilRunning starts the engine and returns, with the channel Run's
// error comes on, once ticket id's command has made .running in its
// worktree.
func runUntilRunning(ctx context.Context, t *testing.T, h *harness, id string) chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- h.eng.Run(ctx, true) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if wt := h.ticket(id).Worktree; wt != "" {
			if _, err := os.Stat(filepath.Join(wt, ".running")); err == nil {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the long command never ran")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return done
}

// Read while no engine runs (the command line), an attempt a killed
// process left unfinished reads as interrupted, its running call cut
// off; the stored attempt is left for the next run to mark.
func TestDescribeStoppedShowsTheCutOff(t *testing.T) {
	tk := &store.Ticket{ID: "T-1", Status: store.StatusRunning, Phase: "code", Phases: []store.PhaseState{{Name: "code", Status: store.PhaseRunning}}}
	tk.CostUSD = 1
	a := &store.Attempt{Phase: "code", N: 1, Model: "m", Started: time.Now(), CostUSD: 0.25,
		ToolCalls: []store.ToolCall{{Name: "run_command", Args: `{"command":"sleep 40"}`, Result: toolRunning, IsErr: true}}}
	v := DescribeStopped(tk, []*store.Attempt{a})
	if v.CostUSD != 1.25 {
		t.Fatalf("ticket cost %v: the cut-off attempt's is not counted as the next run will", v.CostUSD)
	}
	var got *AttemptView
	for _, p := range v.Phases {
		if p.Name == "code" && len(p.Attempts) == 1 {
			got = &p.Attempts[0]
		}
	}
	if got == nil || !got.Interrupted || len(got.ToolCalls) != 1 || got.ToolCalls[0].Result != toolCutOff {
		t.Fatalf("view %+v", got)
	}
	if a.Interrupted || a.ToolCalls[0].Result != toolRunning || a.Counted != 0 {
		t.Fatal("the stored attempt was changed")
	}
	tk.Status = store.StatusDone
	if v := DescribeStopped(tk, []*store.Attempt{a}); v.Phases[0].Attempts[0].Interrupted {
		t.Fatal("a finished ticket's attempts were marked")
	}
}

// A CI run cut off by a stop keeps what it printed in its attempt, for the
// CI tab; and the next cifix never takes that cut-off run for the failure.
func TestStopDuringCIKeepsItsOutput(t *testing.T) {
	h := newHarness(t, "", developer)
	h.cfg.CICommand = "echo CI-BEGUN && touch .running && sleep 30"
	id := h.add("hotfix", "stop while CI runs", false)
	stopWhileRunning(t, h, id)
	as := h.attemptsOf(id, "ci")
	if len(as) != 1 || !as[0].Interrupted || len(as[0].Checks) != 1 {
		t.Fatalf("ci attempts %+v", as)
	}
	if c := as[0].Checks[0]; c.Pass || c.NotRun == "" || !strings.Contains(c.Output, "CI-BEGUN") || !strings.Contains(as[0].Stream, "CI-BEGUN") {
		t.Fatalf("the cut-off run: %+v, stream %q", c, as[0].Stream)
	}
	if log := h.eng.ciLog(h.attemptsOf(id, "ci")); log != "" {
		t.Fatalf("a cut-off run was taken for CI's failure: %q", log)
	}
}

// What a green CI run writes in the worktree (a lock file its tool made)
// is not taken at the approve for a person's edit: the work merges at
// once, without it, and CI ran once.
func TestGreenCIRunLeavesNothingForTheApprove(t *testing.T) {
	h := newHarness(t, "", developer)
	h.cfg.Approve = []string{"review"}
	h.cfg.CICommand = "sh run_tests.sh && echo made > ci-wrote.lock"
	id := h.add("hotfix", "ci writes a file", false)
	h.runIdle()
	if tk := h.ticket(id); tk.Status != store.StatusAwaiting {
		t.Fatalf("%s (%s)", tk.Status, tk.Reason)
	}
	if _, err := Decide(h.st, h.cfg, id, store.Decision{Kind: store.DecisionApprove}); err != nil {
		t.Fatal(err)
	}
	h.runIdle()
	if tk := h.ticket(id); tk.Status != store.StatusDone {
		t.Fatalf("%s (%s)", tk.Status, tk.Reason)
	}
	if n := len(h.attemptsOf(id, "ci")); n != 1 {
		t.Fatalf("CI ran %d times", n)
	}
	if out := gitOut(t, h.dir, "ls-tree", "--name-only", "main"); strings.Contains(out, "ci-wrote.lock") {
		t.Fatal("what the CI run wrote was merged")
	}
}

// stopWhileRunning runs the engine until ticket id's command runs (it
// makes .running), then stops it as a quit would.
func stopWhileRunning(t *testing.T, h *harness, id string) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := runUntilRunning(ctx, t, h, id)
	stop()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}
