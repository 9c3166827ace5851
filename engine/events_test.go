package engine

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"agent-tui/engine/oaitest"
	"agent-tui/store"
)

// A subscriber that falls behind loses events, and the first thing it gets
// once it has room again is EvResync, so it knows to reload.
func TestSlowSubscriberGetsResync(t *testing.T) {
	b := newBroker()
	ch, cancel := b.subscribe(2)
	defer cancel()
	ticket := func(id string) Event {
		return Event{Type: EvTicket, TicketID: id, Ticket: &store.Ticket{ID: id}}
	}
	for _, id := range []string{"T-1", "T-2", "T-3", "T-4"} { // room for two
		b.publish(ticket(id))
	}
	var got []string
	for len(ch) > 0 {
		got = append(got, (<-ch).TicketID)
	}
	if len(got) != 2 || got[0] != "T-1" || got[1] != "T-2" {
		t.Fatalf("delivered %v before the buffer filled", got)
	}
	b.publish(ticket("T-5"))
	if ev := <-ch; ev.Type != EvResync {
		t.Fatalf("after dropped events got %v first, want EvResync", ev.Type)
	}
	if ev := <-ch; ev.TicketID != "T-5" {
		t.Fatalf("then %q, want T-5", ev.TicketID)
	}
	b.publish(ticket("T-6"))
	if ev := <-ch; ev.Type != EvTicket || ev.TicketID != "T-6" {
		t.Fatalf("a subscriber that kept up got %v %q, want the event alone", ev.Type, ev.TicketID)
	}
}

// hotfixEvents runs one hotfix titled title through the scripted model
// and returns every event the engine published meanwhile.
func hotfixEvents(t *testing.T, title string) []Event {
	t.Helper()
	h := newHarness(t, "", developer)
	events, cancel := h.eng.Subscribe(1 << 16)
	defer cancel()
	h.add("hotfix", title, false)
	h.runIdle()
	var all []Event
	for len(events) > 0 {
		all = append(all, <-events)
	}
	return all
}

// While an attempt streams, its snapshot already names the model serving
// it: the UI shows who is talking before the answer ends.
func TestStreamingAttemptNamesItsModel(t *testing.T) {
	named := false
	for _, ev := range hotfixEvents(t, "named while streaming") {
		if a := ev.Attempt; ev.Type == EvAttempt && a != nil && a.Model != "" && a.TokensIn == 0 && !a.Done() {
			// before the call's end, which brings the token counts
			named = true
		}
	}
	if !named {
		t.Fatal("no snapshot named the model before the call ended")
	}
}

// While a check's command runs, the attempt's live stream names it: a CI
// run or a slow test suite does not leave the Stream tab blank.
func TestRunningCheckIsNamedInTheStream(t *testing.T) {
	phaseOf := map[int]string{}
	named := map[string]bool{}
	for _, ev := range hotfixEvents(t, "checks named") {
		switch {
		case ev.Type == EvAttempt && ev.Attempt != nil:
			phaseOf[ev.Attempt.Seq] = ev.Attempt.Phase
		case ev.Type == EvDelta && strings.Contains(ev.Text, "$ sh run_tests.sh"):
			named[phaseOf[ev.Seq]] = true
		}
	}
	for _, p := range []string{"tests", "code", "ci"} {
		if !named[p] {
			t.Fatalf("no live line named the command in %s: %v", p, named)
		}
	}
}

// A decision carried out is published at once: a paused ticket shows as
// paused, though it takes no step.
func TestAppliedPauseIsPublished(t *testing.T) {
	h := newHarness(t, "", developer)
	events, cancel := h.eng.Subscribe(1 << 16)
	defer cancel()
	id := h.add("hotfix", "paused before it starts", false)
	if _, err := Decide(h.st, h.cfg, id, store.Decision{Kind: store.DecisionPause}); err != nil {
		t.Fatal(err)
	}
	h.runIdle()
	seen := false
	for len(events) > 0 {
		if ev := <-events; ev.Type == EvTicket && ev.TicketID == id && ev.Ticket.Paused {
			seen = true
		}
	}
	if !seen {
		t.Fatal("no ticket event said the ticket is paused")
	}
	if n := len(h.srv.Requests()); n != 0 {
		t.Fatalf("a paused ticket sent %d requests", n)
	}
}

// The attempt an edit-approve writes is published with the ticket, so the
// UI's History and Documents show the human's text at once.
func TestEditApproveAttemptIsPublished(t *testing.T) {
	h := newHarness(t, "\n[phases.diagnosis]\nmax_attempts = 1\n", func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase == "validator of diagnosis" {
			return fail("not the root cause")
		}
		return developer(r, phase)
	})
	id := h.add("hotfix", "taken over", false)
	h.runIdle()
	events, cancel := h.eng.Subscribe(1 << 16)
	defer cancel()
	if _, err := Decide(h.st, h.cfg, id, store.Decision{Kind: store.DecisionEditApprove, Text: "HUMAN DIAGNOSIS"}); err != nil {
		t.Fatal(err)
	}
	h.runIdle()
	seen := false
	for len(events) > 0 {
		if ev := <-events; ev.Type == EvAttempt && ev.Attempt != nil && ev.Attempt.Provider == "human" && ev.Attempt.Deliverable == "HUMAN DIAGNOSIS" {
			seen = true
		}
	}
	if !seen {
		t.Fatal("no event carried the human's attempt")
	}
}

// A ticket added while Run is still starting (recovering the store,
// reconciling worktrees) is run by that Run, not left queued until the
// next start.
func TestTicketAddedDuringStartupRuns(t *testing.T) {
	h := newHarness(t, "", developer)
	release := make(chan struct{})
	go h.st.Update(func(*store.Tx) error { <-release; return nil }) // the writer is busy
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- h.eng.Run(ctx, false) }()
	time.Sleep(100 * time.Millisecond) // Run waits to recover
	added := make(chan *store.Ticket, 1)
	go func() {
		tk, err := h.eng.Add(ctx, NewTicket{Kind: "hotfix", Title: "added at start-up"})
		if err != nil {
			t.Error(err)
		}
		added <- tk
	}()
	time.Sleep(100 * time.Millisecond)
	close(release)
	tk := <-added
	if tk == nil {
		t.FailNow()
	}
	deadline := time.Now().Add(30 * time.Second)
	for h.ticket(tk.ID).Status != store.StatusDone {
		if time.Now().After(deadline) {
			t.Fatalf("%s is %s after 30 s", tk.ID, h.ticket(tk.ID).Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-ran
}

// An attempt cut off by a shutdown still counts what its finished model
// calls cost: repeated restarts cannot spend past max_cost_usd unseen.
func TestInterruptedAttemptCostCounts(t *testing.T) {
	h := newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase == "code" && toolTurns(r) > 0 {
			return oaitest.Reply{Text: "still thinking", Delay: time.Minute} // cut by the shutdown
		}
		return developer(r, phase)
	})
	id := h.add("hotfix", "stopped mid-code", false)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- h.eng.Run(ctx, false) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		waiting := false
		for _, r := range h.requests("code") {
			waiting = waiting || toolTurns(r) > 0
		}
		if waiting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("code never reached its second call")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-ran
	as, err := h.st.Attempts(id)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	interrupted := false
	for _, a := range as {
		sum += a.CostUSD
		if a.Validator != nil {
			sum += a.Validator.CostUSD
		}
		interrupted = interrupted || (a.Phase == "code" && a.Interrupted && a.CostUSD > 0)
	}
	if !interrupted {
		t.Fatalf("no interrupted code attempt with a cost: %+v", as)
	}
	if got := h.ticket(id).CostUSD; got < sum-1e-12 {
		t.Fatalf("ticket cost %.6f, its attempts cost %.6f", got, sum)
	}
}

// A wait reads as people say it: "300ms", not "0s".
func TestRoundWait(t *testing.T) {
	for d, want := range map[time.Duration]string{300 * time.Millisecond: "300ms", 1500 * time.Millisecond: "2s", 61 * time.Second: "1m1s"} {
		if got := roundWait(d).String(); got != want {
			t.Errorf("%s: %s, want %s", d, got, want)
		}
	}
}

// With every slot taken, a ticket that could run says it waits for one,
// then that it has one.
func TestWaitingForASlotIsPublished(t *testing.T) {
	h := newHarness(t, "", developer)
	h.cfg.MaxParallel = 1
	h.eng = New(Options{Store: h.st, Config: h.cfg, Repo: h.repo, Router: h.eng.router, Prompts: h.eng.prompts})
	events, unsubscribe := h.eng.Subscribe(4096)
	defer unsubscribe()
	h.add("hotfix", "one", false)
	h.add("hotfix", "two", false)
	var sawWaiting atomic.Bool
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if len(h.eng.WaitingForSlot()) > 0 {
				sawWaiting.Store(true)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	h.runIdle()
	close(stop)
	if w := h.eng.WaitingForSlot(); len(w) != 0 {
		t.Fatalf("still waiting for a slot after the run: %v", w)
	}
	queued, got := map[string]bool{}, map[string]bool{}
	for len(events) > 0 {
		switch ev := <-events; {
		case ev.Type == EvSlot && ev.Queued:
			queued[ev.TicketID] = true
		case ev.Type == EvSlot && queued[ev.TicketID]:
			got[ev.TicketID] = true
		}
	}
	if len(queued) == 0 || len(got) != len(queued) {
		t.Fatalf("queued %v, then a slot %v", queued, got)
	}
	if !sawWaiting.Load() {
		t.Error("WaitingForSlot never named the waiting ticket")
	}
}

// A call cut off mid-stream is billed before the fallback streams: the
// snapshot that names the fallback's model carries the stream so far too,
// so the UI's estimate of the call under way does not count the cut one
// again.
func TestFallbackSnapshotCarriesTheStreamItsCostPaidFor(t *testing.T) {
	h := newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase == "discovery" && r.Model == "mid-1" {
			return oaitest.Reply{Text: "partial answer that will be cut", ResetAfterChunks: 2}
		}
		return developer(r, phase)
	})
	events, unsubscribe := h.eng.Subscribe(100000)
	defer unsubscribe()
	h.add("feature", "cut then fallback", false)
	h.runIdle()
	streamed := map[int]int{}
	checked := false
	for len(events) > 0 {
		switch ev := <-events; ev.Type {
		case EvDelta:
			streamed[ev.Seq] += len(ev.Text)
		case EvAttempt:
			a := ev.Attempt
			if a.Phase == "discovery" && a.Model == "spare" && !a.Done() && a.CostUSD > 0 {
				checked = true
				if len(a.Stream) < streamed[a.Seq] {
					t.Fatalf("snapshot with $%.4f paid has %d bytes of stream, %d streamed", a.CostUSD, len(a.Stream), streamed[a.Seq])
				}
			}
		}
	}
	if !checked {
		t.Fatal("no snapshot of the fallback's call with the cut call's cost")
	}
}

// A published attempt is the subscriber's to read at leisure: the session
// goes on filling in its tool calls' results (saved as running before a
// command runs) in its own copy. Under -race, a shared slice is caught.
func TestPublishedToolCallsAreACopy(t *testing.T) {
	h := newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase == "code" && toolTurns(r) == 1 {
			return oaitest.Reply{ToolCalls: []oaitest.ToolCall{{ID: "c9", Name: "run_command", Args: `{"command": "sleep 0.3"}`}}}
		}
		return developer(r, phase)
	})
	ch, cancel := h.eng.Subscribe(1000)
	read := make(chan bool)
	go func() {
		sawRunning := false
		for ev := range ch {
			if ev.Type != EvAttempt || ev.Attempt == nil {
				continue
			}
			for _, tc := range ev.Attempt.ToolCalls {
				if tc.Result == toolRunning {
					sawRunning = true
					// the UI reads it while the command runs
					for range 50 {
						for _, tc := range ev.Attempt.ToolCalls {
							_ = len(tc.Result)
						}
						time.Sleep(5 * time.Millisecond)
					}
				}
			}
		}
		read <- sawRunning
	}()
	id := h.add("hotfix", "published calls", false)
	h.runIdle()
	cancel()
	if !<-read {
		t.Fatal("no attempt was published with its command running")
	}
	if s := h.ticket(id).Status; s != store.StatusDone {
		t.Fatalf("%s (%s)", s, h.ticket(id).Reason)
	}
}

// A CI run's output streams while it runs, not only when it ends.
func TestCIOutputStreamsLive(t *testing.T) {
	h := newHarness(t, "", developer)
	h.cfg.CICommand = "printf 'CI-EARLY-%s\\n' LINE; sleep 2; sh run_tests.sh" // (the command itself is streamed too)
	events, cancel := h.eng.Subscribe(1 << 16)
	defer cancel()
	id := h.add("hotfix", "long ci", false)
	seen := make(chan struct{})
	go func() {
		for ev := range events {
			if ev.Type == EvDelta && ev.TicketID == id && strings.Contains(ev.Text, "CI-EARLY-LINE") {
				close(seen)
				return
			}
		}
	}()
	done := make(chan struct{})
	go func() { h.runIdle(); close(done) }()
	select {
	case <-seen:
	case <-done:
		t.Fatal("the CI run's first line was not streamed before the run was over")
	}
	<-done
	if tk := h.ticket(id); tk.Status != store.StatusDone {
		t.Fatalf("%s (%s)", tk.Status, tk.Reason)
	}
}
