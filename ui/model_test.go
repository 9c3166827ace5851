package ui

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"

	"agent-tui/engine"
	"agent-tui/store"
)

func TestQueueOrderAndSelection(t *testing.T) {
	m := newTestModel(t, fixture(), 100, 30)
	// children sit under their epic
	if got, want := rowIDs(m), "T-1 T-2 T-3 T-4 T-5 T-6 T-7"; got != want {
		t.Fatalf("rows = %q, want %q", got, want)
	}
	if m.q.depth["T-4"] != 1 || m.q.depth["T-3"] != 0 {
		t.Fatalf("depth T-3=%d T-4=%d", m.q.depth["T-3"], m.q.depth["T-4"])
	}
	m = press(t, m, "j", "j")
	if id := m.q.selectedID(); id != "T-3" {
		t.Fatalf("after j j selected %s, want T-3", id)
	}
	m = press(t, m, "k", "up")
	if id := m.q.selectedID(); id != "T-1" {
		t.Fatalf("after k up selected %s, want T-1", id)
	}
	m = press(t, m, "up")
	if id := m.q.selectedID(); id != "T-1" {
		t.Fatalf("up at the top moved to %s", id)
	}
	// w jumps to tickets waiting for the user: T-1 → T-4 → T-1
	m = press(t, m, "w")
	if id := m.q.selectedID(); id != "T-4" {
		t.Fatalf("w selected %s, want T-4", id)
	}
	m = press(t, m, "w")
	if id := m.q.selectedID(); id != "T-1" {
		t.Fatalf("second w selected %s, want T-1", id)
	}
}

func TestTabsAndFocus(t *testing.T) {
	m := newTestModel(t, fixture(), 100, 30)
	for i, k := range []string{"1", "2", "3", "4", "5"} {
		m = press(t, m, k)
		if m.tab != i {
			t.Fatalf("key %s: tab %d, want %d", k, m.tab, i)
		}
	}
	m = press(t, m, "3")
	if v := plain(m); !strings.Contains(v, "discovery · attempt 1 · mid via sim (simulated)") {
		t.Fatalf("history tab does not list the review attempt:\n%s", v)
	}
	m = press(t, m, "tab")
	if m.focus != focusDetail {
		t.Fatal("tab did not move focus to the detail pane")
	}
	// with the detail focused, j scrolls instead of moving the selection
	m = press(t, m, "j")
	if id := m.q.selectedID(); id != "T-1" {
		t.Fatalf("j in the detail pane changed the selection to %s", id)
	}
}

func TestHelpToggle(t *testing.T) {
	m := newTestModel(t, fixture(), 100, 30)
	if strings.Contains(plain(m), "page down") {
		t.Fatal("full help shown before ?")
	}
	m = press(t, m, "?")
	if !m.help.ShowAll || !strings.Contains(plain(m), "page down") {
		t.Fatal("? did not show the full help")
	}
	m = press(t, m, "?")
	if m.help.ShowAll {
		t.Fatal("second ? did not hide the full help")
	}
}

func TestApproveAsksThenDecides(t *testing.T) {
	f := fixture()
	m := newTestModel(t, f, 100, 30)
	m = press(t, m, "a")
	if len(m.dialogs) != 1 || !strings.Contains(plain(m), "Approve T-1") {
		t.Fatalf("a did not open the confirmation:\n%s", plain(m))
	}
	if len(f.decisions) != 0 {
		t.Fatal("decided before confirmation")
	}
	m = press(t, m, "y")
	if len(m.dialogs) != 0 {
		t.Fatal("dialog still open after y")
	}
	if len(f.decisions) != 1 || f.decisions[0].id != "T-1" || f.decisions[0].d.Kind != store.DecisionApprove {
		t.Fatalf("decisions = %+v, want approve of T-1", f.decisions)
	}
	if !strings.Contains(plain(m), "approved T-1") {
		t.Fatal("status line does not confirm the approval")
	}
}

func TestCancelNoDoesNothing(t *testing.T) {
	f := fixture()
	m := newTestModel(t, f, 100, 30)
	m = press(t, m, "j", "x")
	if len(m.dialogs) != 1 {
		t.Fatal("x did not ask")
	}
	m = press(t, m, "n")
	if len(m.dialogs) != 0 || len(f.decisions) != 0 {
		t.Fatalf("x n: dialogs %d, decisions %+v", len(m.dialogs), f.decisions)
	}
	// and y does cancel
	m = press(t, m, "x", "y")
	if len(f.decisions) != 1 || f.decisions[0].d.Kind != store.DecisionCancel || f.decisions[0].id != "T-2" {
		t.Fatalf("x y: decisions %+v", f.decisions)
	}
}

func TestRejectSendsReason(t *testing.T) {
	f := fixture()
	m := newTestModel(t, f, 100, 30)
	m = press(t, m, "r")
	m = press(t, m, "enter") // empty: refused, stays open
	if len(m.dialogs) != 1 || len(f.decisions) != 0 {
		t.Fatal("an empty reason was accepted")
	}
	m = typeText(t, m, "no rate limit")
	m = press(t, m, "enter")
	if len(f.decisions) != 1 {
		t.Fatalf("decisions = %+v", f.decisions)
	}
	d := f.decisions[0]
	if d.id != "T-1" || d.d.Kind != store.DecisionReject || d.d.Reason != "no rate limit" {
		t.Fatalf("decision = %+v", d)
	}
}

// A reason or guidance refused by the engine (the ticket left the gate
// while it was typed) comes back in its dialog with why, not lost.
func TestRefusedDecisionKeepsTheTypedText(t *testing.T) {
	f := fixture()
	f.decideErr = errors.New("T-1 is running: only a ticket awaiting approval or needing a human can be rejected")
	m := newTestModel(t, f, 100, 30)
	m = press(t, m, "r")
	m = typeText(t, m, "a long reason I typed")
	m = press(t, m, "enter")
	if len(m.dialogs) != 1 {
		t.Fatalf("after a refused reject %d dialogs are open", len(m.dialogs))
	}
	d, ok := m.dialogs[0].(inputDialog)
	if !ok || d.input.Value() != "a long reason I typed" || !strings.Contains(d.err, "T-1 is running") {
		t.Fatalf("the dialog came back as %T with %q (%q)", m.dialogs[0], d.input.Value(), d.err)
	}
	if !strings.Contains(plain(m), "your text is kept") {
		t.Fatalf("the screen does not say the text is kept:\n%s", plain(m))
	}
	// refused again from the dialog it came back in: still kept
	m = press(t, m, "enter")
	if d, ok := m.dialogs[len(m.dialogs)-1].(inputDialog); !ok || len(m.dialogs) != 1 || d.input.Value() != "a long reason I typed" {
		t.Fatalf("a second refusal: %d dialogs", len(m.dialogs))
	}
	m = press(t, m, "esc")
	if len(m.dialogs) != 0 {
		t.Fatal("esc did not close the dialog given back")
	}
	// guidance likewise
	m = press(t, m, "j", "j", "j", "g")
	m = typeText(t, m, "use table tests")
	m = press(t, m, "enter")
	if d, ok := m.dialogs[len(m.dialogs)-1].(inputDialog); !ok || d.input.Value() != "use table tests" || !d.emptyOK {
		t.Fatalf("guidance refused: %d dialogs", len(m.dialogs))
	}
	f.decideErr = nil
	m = press(t, m, "enter")
	if len(m.dialogs) != 0 || len(f.decisions) != 1 || f.decisions[0].d.Guidance != "use table tests" {
		t.Fatalf("the guidance given back was not sent: %+v", f.decisions)
	}
}

func TestGuidanceAndModelRetry(t *testing.T) {
	f := fixture()
	m := newTestModel(t, f, 100, 30)
	m = press(t, m, "j", "j", "j") // T-4 needs a human
	m = press(t, m, "g")
	m = typeText(t, m, "use table tests")
	// nothing typed: a plain retry
	press(t, m, "enter", "m", "j", "j", "enter", "g", "enter")
	want := []store.Decision{
		{Kind: store.DecisionRetry, Guidance: "use table tests"},
		{Kind: store.DecisionRetry, Model: "large"},
		{Kind: store.DecisionRetry},
	}
	if len(f.decisions) != 3 {
		t.Fatalf("decisions = %+v", f.decisions)
	}
	for i, w := range want {
		if d := f.decisions[i]; d.id != "T-4" || d.d != w {
			t.Fatalf("decision %d = %+v, want %+v", i, d, w)
		}
	}
}

func TestPauseAndResume(t *testing.T) {
	f := fixture()
	m := newTestModel(t, f, 100, 30)
	m = press(t, m, "j", "p")
	paused := *f.tickets[1]
	paused.Paused = true
	m, _ = update(m, engine.Event{Type: engine.EvTicket, TicketID: "T-2", Ticket: &paused})
	press(t, m, "p")
	if len(f.decisions) != 2 || f.decisions[0].d.Kind != store.DecisionPause || f.decisions[1].d.Kind != store.DecisionResume {
		t.Fatalf("decisions = %+v", f.decisions)
	}
}

func TestActionErrorShowsInStatusLine(t *testing.T) {
	f := fixture()
	f.decideErr = errors.New("T-1 is running: nope")
	m := newTestModel(t, f, 100, 30)
	m = press(t, m, "a", "y")
	if !strings.Contains(plain(m), "T-1 is running: nope") {
		t.Fatalf("error not shown:\n%s", plain(m))
	}
	// a ticket that is not waiting is refused before any dialog
	m = press(t, m, "j", "a")
	if len(m.dialogs) != 0 || !strings.Contains(m.flash, "only a ticket awaiting approval") {
		t.Fatalf("approve on a running ticket: dialogs %d, flash %q", len(m.dialogs), m.flash)
	}
}

func TestFilterNarrowsQueue(t *testing.T) {
	m := newTestModel(t, fixture(), 100, 30)
	m = press(t, m, "/")
	m = typeText(t, m, "needs")
	if got := rowIDs(m); got != "T-4" {
		t.Fatalf("filter needs: rows %q", got)
	}
	m = press(t, m, "enter")
	if m.filtering || rowIDs(m) != "T-4" || m.q.selectedID() != "T-4" {
		t.Fatalf("enter did not keep the filter: %q", rowIDs(m))
	}
	// q in the filter bar is text, not quit
	m = press(t, m, "/")
	m = press(t, m, "esc")
	if got := rowIDs(m); got != "T-1 T-2 T-3 T-4 T-5 T-6 T-7" {
		t.Fatalf("esc did not clear the filter: %q", got)
	}
	m = press(t, m, "/")
	m = typeText(t, m, "login")
	if got := rowIDs(m); got != "T-1" {
		t.Fatalf("filter by title: %q", got)
	}
	m = press(t, m, "esc", "f")
	if got := rowIDs(m); got != "T-1 T-4" {
		t.Fatalf("preset waiting: %q", got)
	}
	// while it is typed, the help bar says what keys do there, and the
	// arrows pick among the rows it leaves
	m = press(t, m, "/")
	m = typeText(t, m, "t")
	if help := m.View().Content; !strings.Contains(plain(m), "enter keep filter") || strings.Contains(plain(m), "n new") {
		t.Fatalf("help bar while filtering:\n%s", help)
	}
	before := m.q.selectedID()
	m = press(t, m, "down")
	if m.q.selectedID() == before || !m.filtering {
		t.Fatalf("down while filtering: %s (was %s), filtering %v", m.q.selectedID(), before, m.filtering)
	}
	m = press(t, m, "esc")
	// "waiting" finds what the status line counts as waiting for you: the
	// ticket that needs a human too, not only the awaiting approval
	m = press(t, m, "f", "f", "f", "f", "/")
	m = typeText(t, m, "waiting for")
	if got := rowIDs(m); got != "T-1 T-4" {
		t.Fatalf("filter waiting for: %q", got)
	}
}

// The filter matches the status a row shows: waiting for a slot, which
// the stored status (queued, running) does not say; the stored name
// still matches.
func TestFilterMatchesShownStatus(t *testing.T) {
	f := fixture()
	f.slotWaiters = []string{"T-2", "T-5"}
	m := newTestModel(t, f, 100, 30)
	if v := plain(m); !strings.Contains(v, "waiting for a slot ") {
		t.Fatalf("no row says waiting for a slot:\n%s", v)
	}
	for filter, want := range map[string]string{
		"waiting for a slot": "T-2 T-5",
		"slot":               "T-2 T-5",
		"queued":             "T-5",
		"running":            "T-2",
	} {
		m := press(t, m, "/")
		m = typeText(t, m, filter)
		if got := rowIDs(m); got != want {
			t.Errorf("/%s: rows %q, want %q", filter, got, want)
		}
	}
}

// A cost too small for three decimals is not shown as nothing.
func TestMoneyOfACheapCall(t *testing.T) {
	for v, want := range map[float64]string{0: "$0.000", 0.0002: "<$0.001", 0.0006: "$0.001", 12.345: "$12.35"} {
		if got := money(v); got != want {
			t.Errorf("money(%v) = %q, want %q", v, got, want)
		}
	}
}

// A filter applied (enter) or a status preset is cleared by esc in the
// queue, as it is while typing.
func TestEscClearsAppliedFilters(t *testing.T) {
	m := newTestModel(t, fixture(), 100, 30)
	all := "T-1 T-2 T-3 T-4 T-5 T-6 T-7"
	m = press(t, m, "/")
	m = typeText(t, m, "login")
	m = press(t, m, "enter", "f")
	if got := rowIDs(m); got != "T-1" {
		t.Fatalf("filter and preset: %q", got)
	}
	if !strings.Contains(plain(m), "esc clear filter") {
		t.Fatalf("the queue does not say how to clear its filters:\n%s", plain(m))
	}
	m = press(t, m, "esc")
	if got := rowIDs(m); got != all {
		t.Fatalf("esc left %q", got)
	}
	m = press(t, m, "/")
	if v := m.filterInput.Value(); v != "" {
		t.Fatalf("the filter bar still holds %q", v)
	}
}

// A filter that hides the selected ticket selects its first match, as
// typing a search does; emptied, it goes back to the ticket.
// A filter that hides every ticket says so, and how to see them again;
// it does not read as an empty queue. A cancel's dialog on a ticket with
// no worktree yet does not promise to remove one.
func TestFilterHidingEveryTicketSaysSo(t *testing.T) {
	m := newTestModel(t, fixture(), 100, 30)
	m = press(t, m, "/")
	m = typeText(t, m, "no such ticket")
	m = press(t, m, "enter")
	if v := plain(m); !strings.Contains(v, "No ticket of 7 matches the filter: esc shows them all.") || strings.Contains(v, "press n to create one") {
		t.Fatalf("filter hiding all:\n%s", v)
	}
	m = press(t, m, "esc")
	if got := rowIDs(m); got != "T-1 T-2 T-3 T-4 T-5 T-6 T-7" {
		t.Fatalf("esc did not clear the filter: %q", got)
	}
	m = press(t, m, "j", "j", "j", "j", "x") // T-5, queued: no worktree
	if v := plain(m); !strings.Contains(v, "It has no worktree yet.") || strings.Contains(v, "Its worktree is removed") {
		t.Fatalf("cancel dialog:\n%s", v)
	}
}

func TestFilterSelectsFirstMatch(t *testing.T) {
	m := newTestModel(t, fixture(), 100, 30)
	m = press(t, m, "j", "j", "j", "j", "j", "j")
	if m.q.selectedID() != "T-7" {
		t.Fatalf("selected %s", m.q.selectedID())
	}
	m = press(t, m, "/")
	m = typeText(t, m, "hotfix")
	if rows, sel := rowIDs(m), m.q.selectedID(); rows != "T-2 T-6" || sel != "T-2" {
		t.Fatalf("rows %q, selected %s", rows, sel)
	}
	m = typeText(t, m, "zzz")
	if rows := rowIDs(m); rows != "" {
		t.Fatalf("rows %q", rows)
	}
	for range len("hotfixzzz") {
		m = press(t, m, "backspace")
	}
	if sel := m.q.selectedID(); sel != "T-2" {
		t.Fatalf("after the filter: %s", sel)
	}
}

// A stop's reason says what to do: wrapped, it is read whole at an
// ordinary width, not cut at the pane's edge.
func TestLongStopReasonIsShownWhole(t *testing.T) {
	f := fixture()
	reason := "merge blocked: your checkout has uncommitted changes in README.md, run_tests.sh: commit or stash them, then approve again"
	for _, tk := range f.tickets {
		if tk.ID == "T-4" {
			tk.Reason = reason
		}
	}
	m := newTestModel(t, f, 110, 30)
	m = press(t, m, "j", "j", "j")
	if m.q.selectedID() != "T-4" {
		t.Fatalf("selected %s", m.q.selectedID())
	}
	var text []string
	for _, line := range strings.Split(plain(m), "\n") {
		if i := strings.Index(line, "││"); i >= 0 {
			text = append(text, strings.TrimSpace(strings.Trim(line[i:], "│")))
		}
	}
	if joined := strings.Join(text, " "); !strings.Contains(joined, reason) {
		t.Fatalf("reason not shown whole:\n%s", plain(m))
	}
}

// The Stream tab ends a failed attempt with its error: every model the
// chain tried, not only what the last one streamed.
func TestStreamShowsHowAnAttemptFailed(t *testing.T) {
	m := newTestModel(t, fixture(), 100, 30)
	m = press(t, m, "j", "j", "j", "1")
	if m.q.selectedID() != "T-4" {
		t.Fatalf("selected %s", m.q.selectedID())
	}
	if v := plain(m); !strings.Contains(v, "error: tests did not fail (expected red)") {
		t.Fatalf("no error under the stream:\n%s", v)
	}
}

// A running ticket that waits for one of max_parallel's slots is not
// counted as running, and its row says what it waits for.
func TestTicketWaitingForASlot(t *testing.T) {
	m := newTestModel(t, fixture(), 120, 30)
	before := m.q.running
	m, _ = update(m, engine.Event{Type: engine.EvSlot, TicketID: "T-2", Queued: true})
	out := plain(m)
	if m.q.running != before-1 || !strings.Contains(out, "1 waiting for a slot") || !strings.Contains(out, "waiting for a slot ·") {
		t.Fatalf("running %d (was %d):\n%s", m.q.running, before, out)
	}
	// its row's icon is a queued ticket's, not a running one's
	if !strings.Contains(out, "· T-2 ") || strings.Contains(out, "› T-2 ") {
		t.Fatalf("T-2's icon while it waits:\n%s", out)
	}
	m, _ = update(m, engine.Event{Type: engine.EvSlot, TicketID: "T-2"})
	if m.q.running != before || strings.Contains(plain(m), "waiting for a slot") {
		t.Fatalf("after the slot: running %d\n%s", m.q.running, plain(m))
	}
}

// A ticket that never started (queued) and waits for a slot says so too,
// and is counted with the others that wait for one.
func TestQueuedTicketWaitingForASlot(t *testing.T) {
	m := newTestModel(t, fixture(), 120, 30)
	m, _ = update(m, engine.Event{Type: engine.EvSlot, TicketID: "T-5", Queued: true})
	out := plain(m)
	if !strings.Contains(out, "1 waiting for a slot") || !strings.Contains(out, "waiting for a slot ·") {
		t.Fatalf("queued T-5 waiting for a slot:\n%s", out)
	}
}

// While the terminal is too small for anything but the notice, keys do
// nothing unseen: a y cannot answer an approval no one saw asked. Quitting
// still works.
func TestKeysDoNothingWhileTheTerminalIsTooSmall(t *testing.T) {
	f := fixture()
	m := newTestModel(t, f, 100, 30) // T-1, selected, awaits approval
	m, _ = update(m, tea.WindowSizeMsg{Width: 20, Height: 6})
	if !strings.Contains(plain(m), "terminal too small") {
		t.Fatalf("no notice:\n%s", plain(m))
	}
	m = press(t, m, "a", "y", "x", "y", "p")
	m, _ = update(m, tea.WindowSizeMsg{Width: 100, Height: 30})
	if len(f.decisions) != 0 || len(m.dialogs) != 0 {
		t.Fatalf("keys acted unseen: decisions %+v, dialogs %d", f.decisions, len(m.dialogs))
	}
	m, _ = update(m, tea.WindowSizeMsg{Width: 20, Height: 6})
	for _, k := range []string{"q", "ctrl+c"} {
		_, cmd := update(m, keyMsg(k))
		if cmd == nil {
			t.Fatalf("%s returned no command while the terminal is too small", k)
		}
		if _, ok := cmd().(tea.QuitMsg); !ok {
			t.Fatalf("%s did not quit while the terminal is too small", k)
		}
	}
}

// After missing events the UI learns again which tickets wait for a slot
// (it used to show them running); a slot event heard while the reload
// was under way is newer than what the reload brings.
func TestSlotWaitsSurviveAResync(t *testing.T) {
	f := fixture()
	m := newTestModel(t, f, 120, 30)
	before := m.q.running
	f.mu.Lock()
	f.slotWaiters = []string{"T-2"}
	f.mu.Unlock()
	m, cmd := update(m, engine.Event{Type: engine.EvResync})
	m = settle(t, m, cmd)
	if out := plain(m); m.q.running != before-1 || !strings.Contains(out, "1 waiting for a slot") {
		t.Fatalf("after a resync: running %d (was %d)\n%s", m.q.running, before, out)
	}
	m, cmd = update(m, engine.Event{Type: engine.EvResync})
	m, _ = update(m, engine.Event{Type: engine.EvSlot, TicketID: "T-2"}) // heard before the reload lands
	m = settle(t, m, cmd)
	if m.q.running != before || strings.Contains(plain(m), "waiting for a slot") {
		t.Fatalf("a stale reload won over the slot event: running %d\n%s", m.q.running, plain(m))
	}
}

// While a call streams, its cost is estimated from the model's prices
// (the recorded one comes at the call's end): in the attempt's header, and
// in the status line, which adds what the attempts under way have cost so
// far (a ticket's cost grows only when an attempt ends), never dropping
// when a call of a longer attempt ends.
func TestCostWhileStreaming(t *testing.T) {
	f := fixture()
	f.models = []engine.ModelChoice{{Name: "mid", InputPerMTok: 1, OutputPerMTok: 10}}
	m := newTestModel(t, f, 150, 30)
	m = press(t, m, "j", "1")
	if v := plain(m); strings.Contains(v, "so far") || !strings.Contains(v, "spent (+~$0.021 running)") {
		t.Fatalf("before anything streamed:\n%s", v)
	}
	m, _ = update(m, engine.Event{Type: engine.EvDelta, TicketID: "T-2", Seq: 11, Text: strings.Repeat("x", 4000)})
	// 0.021 recorded + 8100 context tokens at $1/M + 1000 streamed at $10/M
	if v := plain(m); !strings.Contains(v, "~$0.039 so far") || !strings.Contains(v, "spent (+~$0.039 running)") {
		t.Fatalf("no estimate:\n%s", v)
	}
	// the call ends: its cost is recorded, the estimate goes
	done := *m.data["T-2"].attempt(11)
	done.Stream += strings.Repeat("x", 4000)
	done.CostUSD = 0.04
	m, _ = update(m, engine.Event{Type: engine.EvAttempt, TicketID: "T-2", Attempt: &done})
	if v := plain(m); strings.Contains(v, "so far") || !strings.Contains(v, "spent (+~$0.040 running)") {
		t.Fatalf("after the call:\n%s", v)
	}
	if h := m.streamHeader(m.data["T-2"].attempt(11), 11, m.data["T-2"].streams[11].raw, true); !strings.HasSuffix(h, "$0.040") {
		t.Fatalf("header after the call: %q", h)
	}
}

func TestDeltaAppendsToStream(t *testing.T) {
	m := newTestModel(t, fixture(), 100, 30)
	m = press(t, m, "j", "1")
	if v := plain(m); !strings.Contains(v, "The map is nil") || !strings.Contains(v, "code · attempt 1 · running · mid (simulated)") {
		t.Fatalf("stored stream not shown:\n%s", v)
	}
	m, _ = update(m, engine.Event{Type: engine.EvDelta, TicketID: "T-2", Seq: 11, Text: "Running the tests"})
	m, _ = update(m, eventsMsg{{Type: engine.EvDelta, TicketID: "T-2", Seq: 11, Text: " now.\nAll green."}})
	v := plain(m)
	// the running attempt's header counts what it streamed meanwhile
	if h := m.streamHeader(m.data["T-2"].attempt(11), 11, m.data["T-2"].streams[11].raw, true); !strings.Contains(h, "(simulated) · ctx 8.1k · ~") || !strings.Contains(h, " streamed · ") {
		t.Fatalf("no context size and streamed count in the header: %q", h)
	}
	if !strings.Contains(v, "Running the tests now.") || !strings.Contains(v, "All green.") {
		t.Fatalf("deltas not shown:\n%s", v)
	}
	if s := m.data["T-2"].streams[11]; s.Len() != 6 || s.line(4) != "Running the tests now." {
		t.Fatalf("stream lines = %d, line 4 = %q", s.Len(), s.line(4))
	}
	// a delta of another ticket does not show here
	m, _ = update(m, engine.Event{Type: engine.EvDelta, TicketID: "T-1", Seq: 8, Text: "elsewhere"})
	if strings.Contains(plain(m), "elsewhere") {
		t.Fatal("another ticket's delta shows in this stream")
	}
}

func TestStreamScrollStopsFollowing(t *testing.T) {
	m := newTestModel(t, fixture(), 100, 30)
	m = press(t, m, "j", "tab")
	for i := range 100 {
		m, _ = update(m, engine.Event{Type: engine.EvDelta, TicketID: "T-2", Seq: 11, Text: "line " + itoa(i) + "\n"})
	}
	if !strings.Contains(plain(m), "line 99") {
		t.Fatal("tail not followed")
	}
	m = press(t, m, "k", "k", "k")
	if m.streamFollow || strings.Contains(plain(m), "line 99") {
		t.Fatal("scrolling up still follows the tail")
	}
	m, _ = update(m, engine.Event{Type: engine.EvDelta, TicketID: "T-2", Seq: 11, Text: "line 100\n"})
	if strings.Contains(plain(m), "line 100") {
		t.Fatal("a delta moved a scrolled-up view")
	}
	m = press(t, m, "end")
	if !m.streamFollow || !strings.Contains(plain(m), "line 100") {
		t.Fatal("end did not follow again")
	}
}

func itoa(i int) string {
	return strings.TrimSpace(strings.Repeat(" ", 0) + string(rune('0'+i/10)) + string(rune('0'+i%10)))
}

func TestQuit(t *testing.T) {
	m := newTestModel(t, fixture(), 100, 30)
	for _, k := range []string{"q", "ctrl+c"} {
		_, cmd := update(m, keyMsg(k))
		if cmd == nil {
			t.Fatalf("%s returned no command", k)
		}
		if _, ok := cmd().(tea.QuitMsg); !ok {
			t.Fatalf("%s did not quit", k)
		}
	}
}

func TestNewTicketForm(t *testing.T) {
	f := fixture()
	m := newTestModel(t, f, 100, 30)
	m = press(t, m, "n", "esc")
	if len(m.dialogs) != 0 {
		t.Fatal("esc did not close the form")
	}
	m = press(t, m, "n")
	m = press(t, m, "ctrl+s") // no title: stays open
	if len(m.dialogs) != 1 || len(f.added) != 0 {
		t.Fatal("a ticket without a title was submitted")
	}
	m = typeText(t, m, "Rate limit login")
	m = press(t, m, "shift+tab") // back to kind
	m = press(t, m, "space")     // hotfix
	m = press(t, m, "tab", "tab")
	m = typeText(t, m, "after 5 tries")
	m = press(t, m, "tab", "space", "enter")
	if len(f.added) != 1 {
		t.Fatalf("added = %+v", f.added)
	}
	want := engine.NewTicket{Kind: "hotfix", Title: "Rate limit login", Body: "after 5 tries", Sensitive: true}
	if f.added[0] != want {
		t.Fatalf("added %+v, want %+v", f.added[0], want)
	}
	if m.q.selectedID() != "T-8" {
		t.Fatalf("new ticket not selected: %s", m.q.selectedID())
	}
}

func TestEditApprovesChangedText(t *testing.T) {
	f := fixture()
	dir := t.TempDir()
	path := filepath.Join(dir, "d.md")
	for _, tc := range []struct {
		text string
		want int
	}{{"Looks good.", 0}, {"   ", 0}, {"Rewritten by a human.", 1}} {
		if err := os.WriteFile(path, []byte(tc.text), 0o600); err != nil {
			t.Fatal(err)
		}
		msg := finishEdit(f, editorDoneMsg{id: "T-1", path: path, orig: "Looks good."}, "approved")()
		if len(f.decisions) != tc.want {
			t.Fatalf("%q: decisions %+v (%v)", tc.text, f.decisions, msg)
		}
	}
	if d := f.decisions[0].d; d.Kind != store.DecisionEditApprove || d.Text != "Rewritten by a human." {
		t.Fatalf("decision %+v", d)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("temp file not removed")
	}
}

// Update and View never call the Backend: only the commands they return do.
func TestNoBackendCallsInUpdateOrView(t *testing.T) {
	f := fixture()
	m := newTestModel(t, f, 120, 40)
	m = press(t, m, "2", "3", "4", "5", "1", "j") // load everything once
	before := f.Calls()
	msgs := []tea.Msg{
		keyMsg("k"), keyMsg("j"), keyMsg("tab"), keyMsg("j"), keyMsg("2"), keyMsg("3"), keyMsg("4"), keyMsg("]"), keyMsg("5"), keyMsg("1"),
		engine.Event{Type: engine.EvDelta, TicketID: "T-2", Seq: 11, Text: "x\n"},
		engine.Event{Type: engine.EvAttempt, TicketID: "T-2", Attempt: f.attempts["T-2"][2]},
		tea.WindowSizeMsg{Width: 90, Height: 28},
	}
	for _, msg := range msgs {
		m, _ = update(m, msg) // commands deliberately not run
		_ = m.View()
	}
	if got := f.Calls(); got != before {
		t.Fatalf("Update/View made %d Backend calls", got-before)
	}
}

func TestDiffTab(t *testing.T) {
	m := newTestModel(t, fixture(), 100, 30)
	m = press(t, m, "4")
	d := m.diffs["T-1"]
	if d == nil || len(d.files) != 2 || d.names[1] != "README.md" {
		t.Fatalf("diff = %+v", d)
	}
	if v := plain(m); !strings.Contains(v, "file 1/2 login.go") || !strings.Contains(v, "+func Login() {}") {
		t.Fatalf("diff not shown:\n%s", v)
	}
	// the whole diff fits: ] names the next file, the view stays put
	m = press(t, m, "]")
	if d.top != 0 || d.file() != 1 || !strings.Contains(plain(m), "file 2/2 README.md") {
		t.Fatalf("] did not go to the next file: top %d, file %d", d.top, d.file())
	}
	m = press(t, m, "tab", "j")
	if d.top != 0 || !strings.Contains(plain(m), "file 2/2 README.md") {
		t.Fatalf("j after ] moved to top %d:\n%s", d.top, plain(m))
	}
	m = press(t, m, "[")
	if d.top != 0 {
		t.Fatalf("[ did not jump back: top %d", d.top)
	}
}

func TestDocumentsRenderMarkdown(t *testing.T) {
	m := newTestModel(t, fixture(), 100, 30)
	m = press(t, m, "2")
	v := plain(m)
	for _, want := range []string{"── discovery · attempt 1 · mid", "Functional spec", "three failures lock the account", "── planning · attempt 2"} {
		if !strings.Contains(v, want) {
			t.Fatalf("documents miss %q:\n%s", want, v)
		}
	}
	// the rejected planning attempt is not the accepted document
	if strings.Contains(v, "1. Add a form.") {
		t.Fatal("a rejected deliverable is shown as the document")
	}
	if strings.Contains(v, "**") {
		t.Fatal("markdown not rendered")
	}
}

func TestEditOpensEditorOnDeliverable(t *testing.T) {
	f := fixture()
	f.tickets[0].Phase = "planning" // the engine refuses edit-approve at review
	m := newTestModel(t, f, 100, 30)
	_, cmd := update(m, keyMsg("e"))
	var ready editorReadyMsg
	for _, msg := range collect(cmd) {
		if r, ok := msg.(editorReadyMsg); ok {
			ready = r
		}
	}
	if ready.err != nil || ready.path == "" {
		t.Fatalf("no temp file: %+v", ready)
	}
	defer os.Remove(ready.path)
	data, err := os.ReadFile(ready.path)
	if err != nil || string(data) != "## Plan\n\n1. Migration\n2. Handler\n3. Tests" {
		t.Fatalf("temp file holds %q (%v), want the planning deliverable", data, err)
	}
	if _, cmd := update(m, ready); cmd == nil {
		t.Fatal("no editor process started")
	}
}

func TestNewAttemptResetsStreamScroll(t *testing.T) {
	f := fixture()
	m := newTestModel(t, f, 100, 30)
	m = press(t, m, "j", "tab")
	m, _ = update(m, engine.Event{Type: engine.EvDelta, TicketID: "T-2", Seq: 11, Text: strings.Repeat("more\n", 100)})
	m = press(t, m, "k")
	if m.streamFollow {
		t.Fatal("k did not scroll up")
	}
	next := &store.Attempt{Seq: 13, Phase: "code", N: 2, Model: "mid", Started: t0}
	m, _ = update(m, engine.Event{Type: engine.EvAttempt, TicketID: "T-2", Attempt: next})
	m, _ = update(m, engine.Event{Type: engine.EvDelta, TicketID: "T-2", Seq: 13, Text: "second try\n"})
	if !m.streamFollow || !strings.Contains(plain(m), "second try") || !strings.Contains(plain(m), "code · attempt 2") {
		t.Fatalf("new attempt not followed:\n%s", plain(m))
	}
}

// A snapshot longer than the deltas received (the UI started mid-attempt)
// replaces the stream; a shorter one (validator text is live only) does not.
func TestAttemptSnapshotHealsStream(t *testing.T) {
	m := newTestModel(t, fixture(), 100, 30)
	m = press(t, m, "j")
	m, _ = update(m, engine.Event{Type: engine.EvDelta, TicketID: "T-2", Seq: 11, Text: "tail only\n"})
	full := *m.data["T-2"].attempt(11)
	full.Stream = strings.Repeat("x\n", 200) + "complete record\n"
	m, _ = update(m, engine.Event{Type: engine.EvAttempt, TicketID: "T-2", Attempt: &full})
	if !strings.Contains(plain(m), "complete record") {
		t.Fatal("longer snapshot did not replace the stream")
	}
	m, _ = update(m, engine.Event{Type: engine.EvDelta, TicketID: "T-2", Seq: 11, Text: "── validator ──\n"})
	m, _ = update(m, engine.Event{Type: engine.EvAttempt, TicketID: "T-2", Attempt: &full})
	if !strings.Contains(plain(m), "── validator ──") {
		t.Fatal("a shorter snapshot dropped live text")
	}
}

func TestUnconfinedCommandsStandOut(t *testing.T) {
	m := newTestModel(t, fixture(), 150, 42)
	m, _ = update(m, confinementMsg("unconfined: commands can write anywhere the user can"))
	if s := plain(m); !strings.Contains(s, "commands run unconfined") || strings.Contains(s, "sandbox: unconfined") {
		t.Fatalf("status line:\n%s", s)
	}
}

// EvResync (the engine dropped events for a slow UI) reloads the tickets
// and the shown attempts from the backend.
func TestResyncReloadsFromBackend(t *testing.T) {
	f := fixture()
	m := newTestModel(t, f, 120, 30)
	if strings.Contains(plain(m), "Add login flow, renamed") {
		t.Fatal("fixture already renamed")
	}
	f.mu.Lock()
	renamed := *f.tickets[0]
	renamed.Title = "Add login flow, renamed"
	f.tickets[0] = &renamed
	f.mu.Unlock()
	// a tick alone reloads nothing: no periodic full reload
	m = settle(t, m, func() tea.Msg { return tickMsg{n: 6} })
	if strings.Contains(plain(m), "renamed") {
		t.Fatal("a tick reloaded the tickets")
	}
	m, cmd := update(m, eventsMsg{{Type: engine.EvResync}})
	m = settle(t, m, cmd)
	if !strings.Contains(plain(m), "Add login flow, renamed") {
		t.Fatalf("EvResync did not reload the tickets:\n%s", plain(m))
	}
}

// For a sensitive ticket the model picker offers local models only, and
// says so; with none it explains instead of opening.
func TestModelPickerKeepsSensitiveTicketsLocal(t *testing.T) {
	f := fixture()
	f.tickets[3].Sensitive = true // T-4 needs a human
	m := newTestModel(t, f, 120, 30)
	m = press(t, m, "j", "j", "j", "m")
	v := plain(m)
	if !strings.Contains(v, "local models only") || !strings.Contains(v, "small") || strings.Contains(v, "large") {
		t.Fatalf("picker for a sensitive ticket:\n%s", v)
	}
	press(t, m, "enter")
	if len(f.decisions) != 1 || f.decisions[0].d.Model != "small" {
		t.Fatalf("decisions = %+v", f.decisions)
	}

	f.models = []engine.ModelChoice{{Name: "mid"}, {Name: "large"}}
	m = newTestModel(t, f, 120, 30)
	m = press(t, m, "j", "j", "j", "m")
	if v := plain(m); !strings.Contains(v, "no model is local") || len(m.dialogs) != 0 {
		t.Fatalf("with no local model:\n%s", v)
	}
}

// The worktree can change with no ticket event (a human editing it): a
// diff older than diffFresh is fetched again when the user comes to it,
// by opening the tab or selecting the ticket with the tab open, and not
// on every frame. An unchanged diff keeps its scroll.
func TestDiffRefetchedWhenComingBackToIt(t *testing.T) {
	clock := t0
	defer func(old func() time.Time) { now = old }(now)
	now = func() time.Time { return clock }
	f := fixture()
	full := f.diffs["T-1"] + strings.Repeat("+more\n", 40) // long enough to scroll
	f.diffs["T-1"] = full
	m := newTestModel(t, f, 100, 30)
	m = press(t, m, "4")
	if !strings.Contains(plain(m), "file 1/2 login.go") {
		t.Fatalf("diff not shown:\n%s", plain(m))
	}
	f.mu.Lock()
	f.diffs["T-1"] = full[:strings.Index(full, "diff --git a/README.md")]
	f.mu.Unlock()
	m = press(t, m, "1", "4")
	if !strings.Contains(plain(m), "file 1/2") {
		t.Fatal("a diff fetched a moment ago was fetched again")
	}
	clock = clock.Add(3 * time.Second)
	calls := f.Calls()
	for _, k := range []string{"]", "[", "tab", "j", "k", "tab"} {
		m = press(t, m, k) // staying on the diff fetches nothing
	}
	if got := f.Calls(); got != calls {
		t.Fatalf("%d Backend calls while staying on the diff", got-calls)
	}
	m = press(t, m, "1", "4")
	if v := plain(m); !strings.Contains(v, "file 1/1 login.go") || strings.Contains(v, "README.md") {
		t.Fatalf("opening the Diff tab kept a stale diff:\n%s", v)
	}
	f.mu.Lock()
	f.diffs["T-1"] = full
	f.mu.Unlock()
	clock = clock.Add(3 * time.Second)
	m = press(t, m, "j", "k") // to T-2 and back, the Diff tab open
	if v := plain(m); !strings.Contains(v, "file 1/2 login.go") {
		t.Fatalf("selecting the ticket kept a stale diff:\n%s", v)
	}
	m = press(t, m, "tab", "j", "j", "j")
	if top := m.diffs["T-1"].top; top != 3 {
		t.Fatalf("scrolled to %d, want 3", top)
	}
	clock = clock.Add(3 * time.Second)
	calls = f.Calls()
	m = press(t, m, "1", "4")
	if f.Calls() == calls {
		t.Fatal("the stale diff was not fetched again")
	}
	if top := m.diffs["T-1"].top; top != 3 {
		t.Fatalf("an unchanged diff lost its scroll: top %d, want 3", top)
	}
}

// A complaint in a dialog goes once it is answered.
func TestEmptyInputComplaintGoesWhenTyped(t *testing.T) {
	m := newTestModel(t, fixture(), 100, 30)
	m = press(t, m, "r", "enter")
	if !strings.Contains(plain(m), "this cannot be empty") {
		t.Fatalf("no complaint about the empty reason:\n%s", plain(m))
	}
	m = press(t, m, "space")
	if !strings.Contains(plain(m), "this cannot be empty") {
		t.Fatal("a space answered the complaint")
	}
	m = press(t, m, "x")
	if strings.Contains(plain(m), "this cannot be empty") {
		t.Fatalf("the complaint stays after typing:\n%s", plain(m))
	}
	m = press(t, m, "esc", "n", "ctrl+s")
	if !strings.Contains(plain(m), noTitle) {
		t.Fatalf("no complaint about the missing title:\n%s", plain(m))
	}
	m = press(t, m, "T")
	if strings.Contains(plain(m), noTitle) {
		t.Fatalf("the complaint stays after typing a title:\n%s", plain(m))
	}
}

// "no ticket selected" goes once a ticket is selected again.
func TestNoSelectionFlashGoesWithASelection(t *testing.T) {
	m := newTestModel(t, fixture(), 100, 30)
	m = press(t, m, "/", "z", "z", "z", "enter", "a")
	if m.flash != "no ticket selected" {
		t.Fatalf("flash %q", m.flash)
	}
	m = press(t, m, "/", "esc")
	if m.q.selected() == nil || m.flash != "" {
		t.Fatalf("selected %v, flash %q", m.q.selectedID(), m.flash)
	}
}

// A flash about a ticket goes once the ticket settles in another state:
// "retrying" is stale when the retry has failed. Starting to run is what
// the retry does, so it does not end the flash.
func TestTicketFlashGoesWhenTheTicketMovesOn(t *testing.T) {
	f := fixture()
	m := newTestModel(t, f, 100, 30)
	m = press(t, m, "j", "j", "j", "m", "j", "j", "enter") // T-4 on large
	if m.flash != "retrying T-4 on large" {
		t.Fatalf("flash %q", m.flash)
	}
	moved := func(status string) {
		t.Helper()
		next := *m.q.tickets["T-4"]
		next.Status = status
		m, _ = update(m, eventsMsg{{Type: engine.EvTicket, TicketID: "T-4", Ticket: &next}})
	}
	moved(store.StatusRunning)
	if m.flash != "retrying T-4 on large" {
		t.Fatalf("running ended the flash: %q", m.flash)
	}
	// another ticket's news does not touch it
	other := *m.q.tickets["T-2"]
	other.Status = store.StatusFailed
	m, _ = update(m, engine.Event{Type: engine.EvTicket, TicketID: "T-2", Ticket: &other})
	if m.flash == "" {
		t.Fatal("another ticket ended the flash")
	}
	moved(store.StatusNeedsHuman) // the retry failed: back where it was
	if m.flash != "" {
		t.Fatalf("the flash outlived the failed retry: %q", m.flash)
	}
}

// On a paused ticket a retry is recorded but nothing runs until resumed:
// the flash says so.
func TestRetryOnPausedTicketSaysWhenResumed(t *testing.T) {
	f := fixture()
	f.tickets[3].Paused = true // T-4 needs a human
	m := newTestModel(t, f, 100, 30)
	m = press(t, m, "j", "j", "j", "g")
	m = typeText(t, m, "use table tests")
	m = press(t, m, "enter")
	if m.flash != "T-4 will retry with guidance when resumed" {
		t.Fatalf("flash %q", m.flash)
	}
	m = press(t, m, "m", "enter")
	if m.flash != "T-4 will retry on small when resumed" {
		t.Fatalf("flash %q", m.flash)
	}
	// and not when it runs
	m = newTestModel(t, fixture(), 100, 30)
	m = press(t, m, "j", "j", "j", "g")
	m = typeText(t, m, "x")
	if m = press(t, m, "enter"); m.flash != "retrying T-4 with guidance" {
		t.Fatalf("flash %q", m.flash)
	}
}

// An editor that fails says so in one line, and that nothing was approved.
func TestEditorExitStatusIsExplained(t *testing.T) {
	err := exec.Command("sh", "-c", "exit 3").Run()
	if err == nil {
		t.Skip("sh did not fail")
	}
	msg := finishEdit(fixture(), editorDoneMsg{id: "T-1", path: filepath.Join(t.TempDir(), "x.md"), err: err}, "approved")()
	if got := msg.(actionMsg).err; got == nil || got.Error() != "editor exited with status 3: nothing approved" {
		t.Fatalf("error %v", got)
	}
	m := newTestModel(t, fixture(), 100, 30)
	m, _ = update(m, msg)
	if s := strings.TrimSpace(statusArea(m)[0]); s != "editor exited with status 3: nothing approved" {
		t.Fatalf("status line %q", s)
	}
}

// An attempt no model answered says so where the model would be, in the
// stream header and in History, instead of "…".
func TestAttemptNoModelAnswered(t *testing.T) {
	f := fixture()
	f.attempts["T-1"] = append(f.attempts["T-1"], &store.Attempt{Seq: 20, Phase: "review", N: 2, Started: t0, Ended: t0, Error: "every provider failed"})
	m := newTestModel(t, f, 150, 42)
	out := plain(m)
	if !strings.Contains(out, "review · attempt 2 · error · no usable answer") || strings.Contains(out, "… (simulated)") {
		t.Fatalf("stream header:\n%s", out)
	}
	out = plain(press(t, m, "3", "tab", "end"))
	if !strings.Contains(out, "review · attempt 2 · no usable answer") || strings.Contains(out, "attempt 2 · …") {
		t.Fatalf("history:\n%s", out)
	}
}

// History lists decisions as `agent-tui show` does: time, the decision at
// its phase, then each detail named.
func TestHistoryDecisionsNameTheirDetails(t *testing.T) {
	f := fixture()
	at := time.Date(2025, 3, 1, 14, 5, 0, 0, time.UTC)
	before := t0.Add(-time.Hour) // before the attempt it led to
	// (a pending one first, as a record could hold: it still goes last)
	f.tickets[3].Decisions = []store.Decision{
		{Kind: store.DecisionRetry, Phase: "tests", Model: "large", At: at},
		{Kind: store.DecisionRetry, Phase: "tests", Guidance: "write a test file first", At: before, Applied: true},
		{Kind: store.DecisionEditApprove, Phase: "tests", Reason: "done by hand", At: at, Applied: true},
	}
	m := newTestModel(t, f, 150, 42)
	out := plain(press(t, m, "j", "j", "j", "3"))
	when := at.Local().Format("2006-01-02 15:04")
	// the detail pane's rows, without its borders
	var rows []string
	for _, l := range strings.Split(out, "\n") {
		if i := strings.Index(l, "││"); i >= 0 {
			rows = append(rows, strings.TrimSpace(strings.TrimSuffix(l[i+len("││"):], "│")))
		}
	}
	wants := []string{
		"decision · retry at tests · " + before.Local().Format("2006-01-02 15:04"), "guidance: write a test file first",
		"tests · attempt 3 · mid via sim (simulated)",
		"decision · approve with edits at tests · " + when, "reason: done by hand",
		"decision · retry at tests · " + when + " · pending", "model: large",
	}
	// in this order: each decision where it was taken among the attempts
	last := -1
	for _, want := range wants {
		i := slices.Index(rows, want)
		if i < 0 {
			t.Errorf("history misses the row %q:\n%s", want, out)
		} else if i < last {
			t.Errorf("history puts %q out of order:\n%s", want, out)
		}
		last = max(last, i)
	}
	if strings.Contains(out, "retry (tests):") {
		t.Errorf("history still runs details into the decision:\n%s", out)
	}
}

// The mouse: a click selects the row or tab under it, the wheel scrolls
// the pane under the pointer without moving the focus.
func TestMouse(t *testing.T) {
	m := newTestModel(t, fixture(), 100, 30)
	mouse := func(msg tea.Msg) {
		t.Helper()
		var cmd tea.Cmd
		m, cmd = update(m, msg)
		m = settle(t, m, cmd)
	}
	find := func(s string) (int, int) {
		t.Helper()
		for y, line := range strings.Split(plain(m), "\n") {
			if x := strings.Index(line, s); x >= 0 {
				return ansi.StringWidth(line[:x]), y
			}
		}
		t.Fatalf("%q not on screen:\n%s", s, plain(m))
		return 0, 0
	}
	x, y := find("T-3 ")
	mouse(tea.MouseClickMsg{X: x, Y: y, Button: tea.MouseLeft})
	if id := m.q.selectedID(); id != "T-3" {
		t.Fatalf("click on T-3's row selected %s", id)
	}
	x, y = find("3 History")
	mouse(tea.MouseClickMsg{X: x + 2, Y: y, Button: tea.MouseLeft})
	if m.tab != tabHistory || m.focus != focusDetail {
		t.Fatalf("click on the History tab: tab %d, focus %d", m.tab, m.focus)
	}
	mouse(tea.MouseWheelMsg{X: 2, Y: 5, Button: tea.MouseWheelDown})
	if id := m.q.selectedID(); id != "T-4" || m.focus != focusDetail {
		t.Fatalf("wheel over the queue: selected %s, focus %d", id, m.focus)
	}
	mouse(tea.MouseWheelMsg{X: 2, Y: 5, Button: tea.MouseWheelUp})
	if id := m.q.selectedID(); id != "T-3" {
		t.Fatalf("wheel up over the queue selected %s", id)
	}
	// a click outside the panes (the status line) does nothing
	mouse(tea.MouseClickMsg{X: 2, Y: 29, Button: tea.MouseLeft})
	if id := m.q.selectedID(); id != "T-3" || m.focus != focusDetail {
		t.Fatalf("status-line click: selected %s, focus %d", id, m.focus)
	}
}

// A document's carriage returns and control characters never reach the
// terminal: a lone \r would draw the rest of its line over the queue pane.
func TestDocumentsDropControlCharacters(t *testing.T) {
	out, err := newMDRenderer().render("progress 10%\rdone\x07 ok\r\nnext line\x1b[2J", 60)
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(ansi.Strip(out), "\r\x07") || strings.Contains(out, "\x1b[2J") {
		t.Fatalf("control characters kept: %q", out)
	}
	if p := ansi.Strip(out); !strings.Contains(p, "done ok") || !strings.Contains(p, "next line") {
		t.Fatalf("text lost: %q", p)
	}
}

// Files left in conflict when the base was merged in are named beside the
// ticket's state.
func TestConflictsShown(t *testing.T) {
	f := fixture()
	f.tickets[0].Conflicts, f.tickets[0].BaseBranch = []string{"src/shared.txt"}, "main"
	m := newTestModel(t, f, 160, 30)
	if v := plain(m); !strings.Contains(v, "conflicts with main: src/shared.txt") {
		t.Fatalf("conflicts not shown:\n%s", v)
	}
}

// A load of a ticket's attempts during its first call (the store has no
// model for it yet) keeps the model the live snapshot named: the header
// names it, and the cost estimate has its prices.
func TestLoadKeepsTheStreamingModel(t *testing.T) {
	d := newTicketData()
	d.upsert(&store.Attempt{Seq: 5, Phase: "discovery", N: 1, Model: "mid", Provider: "sim"})
	d.setLoaded([]*store.Attempt{{Seq: 5, Phase: "discovery", N: 1}})
	if a := d.attempt(5); a.Model != "mid" || a.Provider != "sim" {
		t.Fatalf("model lost on load: %+v", a)
	}
}

// Tickets that cannot be read (a damaged database) say why in the queue's
// place for as long as it lasts, not in a flash that goes while the queue
// says it is loading.
func TestUnreadableTicketsSayWhy(t *testing.T) {
	f := fixture()
	f.ticketsErr = errors.New("database /r/.git/agent-tui.db cannot be read, it may be damaged (page 4)")
	m := newTestModel(t, f, 100, 30)
	m, _ = update(m, flashExpiredMsg{m.flashID})
	out := plain(m)
	if strings.Contains(out, "loading tickets…") || !strings.Contains(out, "cannot read the tickets") || !strings.Contains(out, "damaged") {
		t.Fatalf("the queue does not say why:\n%s", out)
	}
}

// Attempts that cannot be read say why where they would show, for as long
// as it lasts, not "loading attempts…" for ever.
func TestUnreadableAttemptsSayWhy(t *testing.T) {
	f := fixture()
	f.attemptsErr = errors.New("database /r/.git/agent-tui.db cannot be read, it may be damaged (page 9)")
	m := newTestModel(t, f, 100, 30)
	m, _ = update(m, flashExpiredMsg{m.flashID})
	for _, key := range []string{"", "tab", "tab", "tab"} {
		if key != "" {
			m, _ = update(m, keyMsg(key))
		}
		out := plain(m)
		if strings.Contains(out, "loading") || !strings.Contains(out, "attempts could not be read: database /r/.git/agent-tui.db") || !strings.Contains(out, "(page 9)") {
			t.Fatalf("after %q the pane does not say why:\n%s", key, out)
		}
	}
}

// Long diff lines scroll sideways, half the pane at a time, with the
// columns shown in the header and "…" at each edge that hides text. Cells
// are counted as the terminal draws them: a tab is four spaces, a wide
// character cut by an edge leaves blanks and the columns stay aligned.
func TestDiffScrollsSideways(t *testing.T) {
	f := fixture()
	var long strings.Builder
	long.WriteString("+LONG")
	for i := range 60 {
		fmt.Fprintf(&long, " w%03d", i)
	}
	long.WriteString(" END")
	// a path long enough to push the column out of the header: it gives
	// up its start instead
	f.diffs["T-1"] = "diff --git a/internal/pkg/long.go b/internal/pkg/long.go\n--- a/internal/pkg/long.go\n+++ b/internal/pkg/long.go\n@@ -1,4 +1,4 @@\n" +
		long.String() + "\n" +
		"+\tTABBED" + strings.Repeat(" tab", 30) + "\n" +
		"+       TABBED" + strings.Repeat(" tab", 30) + "\n" +
		"+a" + strings.Repeat("漢字", 60) + " END\n"
	const w, h = 80, 24
	m := newTestModel(t, f, w, h)
	m = press(t, m, "4")
	d := m.diffs["T-1"]
	cw := m.layout().contentW // 46
	line := d.lines[4]
	// the detail pane's text on the row of diff line i (under the tabs,
	// the ticket's status and the diff's header)
	row := func(m Model, i int) string {
		t.Helper()
		lines := strings.Split(checkFrame(t, m, w, h), "\n")
		l := lines[1+3+i]
		if stringWidth(l) != w || !strings.HasSuffix(l, "│") {
			t.Fatalf("row of line %d is %d cells or lost its border: %q", i, stringWidth(l), l)
		}
		return strings.TrimSuffix(l[strings.Index(l, "││")+len("││"):], "│")
	}
	if got := row(m, 4); got != line[:cw-1]+"…" {
		t.Fatalf("unscrolled: %q", got)
	}
	if !strings.Contains(plain(m), fmt.Sprintf("file 1/1 …l/pkg/long.go · line 1/8 · col 1/%d", len(line))) {
		t.Fatalf("the header does not say the lines are wider:\n%s", plain(m))
	}
	m = press(t, m, "right")
	off := cw / 2
	if d.left != off {
		t.Fatalf("right: left %d, want %d", d.left, off)
	}
	if got := row(m, 4); got != "…"+line[off+1:off+cw-1]+"…" {
		t.Fatalf("scrolled by %d: %q", off, got)
	}
	if !strings.Contains(plain(m), fmt.Sprintf("col %d/%d", off+1, len(line))) {
		t.Fatalf("the header does not show the offset:\n%s", plain(m))
	}
	// as far as the widest line needs, with h/l as well as the arrows; a
	// tab goes to the next tab stop, a wide character cut by an edge
	// leaves blanks
	for range 20 {
		m = press(t, m, "l")
		if a, b := row(m, 5), row(m, 6); a != b {
			t.Fatalf("a tab does not go to column 8 at %d:\n%q\n%q", d.left, a, b)
		}
		// the edge marks where they belong: the wide line is cut to the
		// pane's width exactly, not a cell more or less
		if r, wideW := row(m, 7), ansi.StringWidth(d.lines[7]); d.left < wideW && !strings.HasPrefix(r, "…") || d.left+cw < wideW && !strings.HasSuffix(r, "…") {
			t.Fatalf("wide line at %d: %q", d.left, r)
		}
	}
	if d.left != len(line)-cw || !strings.HasSuffix(row(m, 4), " END") {
		t.Fatalf("at the end: left %d, want %d; %q", d.left, len(line)-cw, row(m, 4))
	}
	// the window grows: what was hidden on the left comes back as far as
	// the lines fit, all of it once they do
	at := d.left
	m, _ = update(m, tea.WindowSizeMsg{Width: w + 12, Height: h})
	if l := m.layout(); d.left >= at || d.left != max(d.widest(l.contentH)-l.contentW, 0) {
		t.Fatalf("grown by 12: left %d (was %d), pane %d", d.left, at, l.contentW)
	}
	m, _ = update(m, tea.WindowSizeMsg{Width: 600, Height: h})
	if d.left != 0 {
		t.Fatalf("wide enough for every line: left %d", d.left)
	}
	m, _ = update(m, tea.WindowSizeMsg{Width: w, Height: h})
	for range 20 {
		m = press(t, m, "l")
	}
	for range 20 {
		m = press(t, m, "h")
		row(m, 7)
	}
	if d.left != 0 || m.q.selectedID() != "T-1" {
		t.Fatalf("back left: left %d, selected %s", d.left, m.q.selectedID())
	}
	// only the diff scrolls sideways
	m = press(t, m, "right", "1", "right", "right", "4")
	if d.left != off {
		t.Fatalf("right outside the diff moved it: left %d", d.left)
	}
	// a sideways wheel over the diff
	m, _ = update(m, tea.MouseWheelMsg{X: 50, Y: 10, Button: tea.MouseWheelRight})
	if d.left != 2*off {
		t.Fatalf("wheel right: left %d, want %d", d.left, 2*off)
	}
}

// Going to the next file of a diff scrolled far right comes back left as
// far as that file's lines need: its short lines are not left off screen.
func TestNextFileOfAScrolledDiffShowsIt(t *testing.T) {
	f := fixture()
	f.diffs["T-1"] = "diff --git a/app.min.js b/app.min.js\n--- a/app.min.js\n+++ b/app.min.js\n@@ -1 +1 @@\n+" + strings.Repeat("x", 400) + "\n" +
		"diff --git a/short.go b/short.go\n--- a/short.go\n+++ b/short.go\n@@ -1 +1 @@\n+SHORTLINE\n"
	m := newTestModel(t, f, 80, 24)
	m = press(t, m, "4")
	for range 12 {
		m = press(t, m, "l")
	}
	d := m.diffs["T-1"]
	if d.left == 0 {
		t.Fatal("did not scroll")
	}
	m = press(t, m, "]")
	if !strings.Contains(plain(m), "SHORTLINE") {
		t.Fatalf("the next file is off screen (left %d):\n%s", d.left, plain(m))
	}
}

// The focused pane is unmistakable: its title is marked and its border
// bright; the queue's selection is reversed only while j and k move it.
// After tab the view changes accordingly, and j scrolls the detail pane,
// leaving the selection (what x would cancel) where it was.
func TestFocusIsShown(t *testing.T) {
	m := newTestModel(t, fixture(), 100, 30)
	const reverse = "\x1b[7m"
	top := func(m Model) string { return strings.SplitN(plain(m), "\n", 2)[0] }
	if s := top(m); !strings.HasPrefix(s, "╭─ ▸ Queue 7/7 ") || strings.Contains(s, "▸ T-1") {
		t.Fatalf("queue focused: %q", s)
	}
	if !strings.Contains(m.View().Content, reverse) {
		t.Fatal("the focused queue's selection is not reversed")
	}
	m = press(t, m, "tab")
	if s := top(m); !strings.HasPrefix(s, "╭─ Queue 7/7 ") || !strings.Contains(s, "╭─ ▸ T-1 · feature · Add login flow ") {
		t.Fatalf("detail focused: %q", s)
	}
	if v := m.View().Content; strings.Contains(v, reverse) || !strings.Contains(plain(m), "│▌? T-1") {
		t.Fatalf("the idle queue's selection is reversed, or its bar is gone:\n%s", plain(m))
	}
	m = press(t, m, "j", "x")
	if m.q.selectedID() != "T-1" || !strings.Contains(plain(m), "Cancel T-1") {
		t.Fatalf("after tab, j: selected %s\n%s", m.q.selectedID(), plain(m))
	}
	// a narrow terminal shows the focused pane alone: nothing to mark
	m = newTestModel(t, fixture(), 50, 12)
	if s := top(m); !strings.HasPrefix(s, "╭─ Queue") {
		t.Fatalf("single pane: %q", s)
	}
}

// The approve dialog of a merge says when it merges: not at once while
// the ticket is paused, or while no engine runs.
func TestApproveDialogSaysWhenItMerges(t *testing.T) {
	for _, c := range []struct {
		name  string
		opts  Options
		pause bool
		want  string
	}{
		{"running", Options{}, false, "This merges agent/T-1 into the base branch."},
		{"paused", Options{}, true, "This merges agent/T-1 into the base branch once resumed."},
		{"browsing", Options{NoModel: "no model configured"}, false, "This merges agent/T-1 into the base branch when the engine runs."},
	} {
		f := fixture()
		if c.pause {
			f.tickets[0].Paused = true
		}
		m := NewModel(f, c.opts)
		m, _ = update(m, tea.WindowSizeMsg{Width: 150, Height: 40})
		m = settle(t, m, m.Init())
		m = press(t, m, "a")
		if len(m.dialogs) != 1 {
			t.Fatalf("%s: no dialog", c.name)
		}
		// and that a person's edits left in the worktree go through CI and
		// review again first
		if got := m.dialogs[0].(confirmDialog).prompt; !strings.Contains(got, c.want) || !strings.HasSuffix(got, "is committed first, and goes through CI and review again.)") {
			t.Fatalf("%s: %q", c.name, got)
		}
	}
}

// Guidance given at review goes to code: its dialog says so.
func TestRetryDialogAtReviewAsksOfCode(t *testing.T) {
	m := newTestModel(t, fixture(), 150, 40) // T-1 awaits approval at review
	m = press(t, m, "g")
	if len(m.dialogs) != 1 || !strings.HasPrefix(m.dialogs[0].(inputDialog).prompt, "What should code do differently?") {
		t.Fatalf("dialogs %+v", m.dialogs)
	}
}

// A pause carried out is said as done, naming the ticket, instead of the
// flash vanishing: under a filter the selection may have moved on.
func TestPauseCarriedOutIsSaid(t *testing.T) {
	f := fixture()
	m := newTestModel(t, f, 100, 30)
	m = press(t, m, "p")
	next := *m.q.tickets["T-1"]
	next.Paused = true
	next.Decisions = []store.Decision{{Kind: store.DecisionPause, Applied: true}}
	m, _ = update(m, eventsMsg{{Type: engine.EvTicket, TicketID: "T-1", Ticket: &next}})
	if m.flash != "T-1 paused" {
		t.Fatalf("flash %q", m.flash)
	}
}

// The CI tab shows the latest run first: a red CI run that cifix made
// green comes after cifix's green one, not above it.
func TestCITabShowsTheLatestRunFirst(t *testing.T) {
	f := fixture()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	run := func(seq int, phase, name string, pass bool, started time.Time) *store.Attempt {
		code := 1
		if pass {
			code = 0
		}
		return &store.Attempt{Seq: seq, Phase: phase, N: 1, Started: started, Ended: started,
			Verdict: &store.Verdict{Pass: pass, By: "check"},
			Checks:  []store.Check{{Name: name, Command: "make " + name, ExitCode: code, Output: name + " output", Pass: pass}}}
	}
	f.attempts["T-1"] = []*store.Attempt{
		run(1, "tests", "red", false, at),
		run(2, "code", "green", true, at.Add(time.Minute)),
		run(3, "ci", "ci", false, at.Add(2*time.Minute)),
		run(4, "cifix", "fixed", true, at.Add(3*time.Minute)),
	}
	out := plain(press(t, newTestModel(t, f, 150, 42), "5"))
	var order []int
	for _, name := range []string{"make fixed", "make ci", "make green", "make red"} {
		order = append(order, strings.Index(out, name))
	}
	if !slices.IsSorted(order) || order[0] < 0 {
		t.Fatalf("order %v:\n%s", order, out)
	}
}

// An epic's split reads in Documents as the tickets it makes, each body
// rendered, not as the JSON the model answered.
func TestSplitDocumentShowsTheTickets(t *testing.T) {
	f := fixture()
	answer := `{"tickets": [{"kind": "feature", "title": "Invoices API", "body": "Serve invoices.\n\n## Acceptance criteria\n\n1. ` + "`GET /invoices`" + ` lists them."}, {"kind": "hotfix", "title": "Payment webhooks", "body": "Retry failed webhooks."}]}`
	f.attempts["T-3"] = []*store.Attempt{{Seq: 30, Phase: "split", N: 1, Model: "large", Started: t0, Ended: t0, Deliverable: answer, Verdict: &store.Verdict{Pass: true, By: "validator"}}}
	m := newTestModel(t, f, 150, 42)
	for i := 0; i < len(m.q.rows) && m.q.selectedID() != "T-3"; i++ {
		m = press(t, m, "j")
	}
	out := plain(press(t, m, "2"))
	for _, want := range []string{"The split makes 2 tickets", "1. feature: Invoices API", "Acceptance criteria", "2. hotfix: Payment webhooks", "Retry failed webhooks."} {
		if !strings.Contains(out, want) {
			t.Fatalf("no %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, `\n`) || strings.Contains(out, `"tickets"`) {
		t.Fatalf("the JSON shows:\n%s", out)
	}
}

// History keeps the engine's stops among the decisions, in the order they
// came: a merge blocked, then the approve that merged once it was clear.
func TestHistoryShowsStops(t *testing.T) {
	f := fixture()
	tk := f.tickets[0]
	tk.Stops = []store.Stop{{At: t0.Add(time.Hour), Phase: "merge", Status: store.StatusNeedsHuman, Reason: "merge blocked: your checkout has uncommitted changes in README.md"}}
	tk.Decisions = append(tk.Decisions, store.Decision{Kind: store.DecisionApprove, Phase: "merge", At: t0.Add(2 * time.Hour), Applied: true})
	out := plain(press(t, newTestModel(t, f, 150, 60), "3", "tab", "end"))
	stop, approve := strings.Index(out, "stop · needs human at merge"), strings.Index(out, "decision · approve at merge")
	if stop < 0 || approve < stop || !strings.Contains(out, "uncommitted changes in README.md") {
		t.Fatalf("stop at %d, approve at %d:\n%s", stop, approve, out)
	}
}

// A paste into an empty field stays on its line, scrolled, as typed text
// does, and every byte of it is kept: reasons are not cut short.
func TestPasteStaysOnItsLineAndWhole(t *testing.T) {
	f := fixture()
	m := newTestModel(t, f, 100, 30)
	long := strings.Repeat("G", 2507) + "ENDMARK"
	m = press(t, m, "r")
	m, cmd := update(m, tea.PasteMsg{Content: long})
	m = settle(t, m, cmd)
	screen := plain(m)
	rows := 0
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(l, "GGGGGGGGGG") {
			rows++
		}
	}
	if rows != 1 || !strings.Contains(screen, "ENDMARK") {
		t.Fatalf("the pasted reason is not one scrolled line:\n%s", screen)
	}
	m = press(t, m, "enter")
	if len(f.decisions) != 1 || f.decisions[0].d.Reason != long {
		t.Fatalf("decisions = %d, reason kept whole: %v", len(f.decisions), len(f.decisions) == 1 && f.decisions[0].d.Reason == long)
	}
	// the filter narrows on a paste as on typing, on one line
	m = press(t, m, "/")
	m, _ = update(m, tea.PasteMsg{Content: "T-4 " + strings.Repeat("invoices ", 40)})
	if rowIDs(m) != "T-4" {
		t.Fatalf("rows after pasting a filter: %q", rowIDs(m))
	}
	if screen := plain(m); strings.Count(screen, "invoices invoices") > 2 {
		t.Fatalf("the filter wraps:\n%s", screen)
	}
}

// An approve given while a pause waits says it goes on when resumed, and
// that pause being carried out does not take the words away: a resume does.
func TestApproveBehindAPendingPauseKeepsItsFlash(t *testing.T) {
	f := fixture()
	f.tickets[0].Decisions = []store.Decision{{Kind: store.DecisionPause, At: time.Now()}} // T-1 awaits approval
	m := newTestModel(t, f, 100, 30)
	m = press(t, m, "a", "y")
	want := "approved T-1; it goes on when resumed"
	if m.flash != want {
		t.Fatalf("flash %q", m.flash)
	}
	next := *m.q.tickets["T-1"]
	next.Paused, next.Status = true, store.StatusQueued
	next.Decisions = []store.Decision{{Kind: store.DecisionPause, Applied: true}, {Kind: store.DecisionApprove}}
	m, _ = update(m, eventsMsg{{Type: engine.EvTicket, TicketID: "T-1", Ticket: &next}})
	if m.flash != want {
		t.Fatalf("the pause carried out ended the flash: %q", m.flash)
	}
	resumed := next
	resumed.Paused = false
	m, _ = update(m, eventsMsg{{Type: engine.EvTicket, TicketID: "T-1", Ticket: &resumed}})
	if m.flash != "" {
		t.Fatalf("the flash outlived the resume: %q", m.flash)
	}
	// keys typed together: the approve before the UI has seen the pause
	f = fixture()
	m = newTestModel(t, f, 100, 30)
	m = press(t, m, "p", "a", "y")
	if m.flash != "approved T-1" {
		t.Fatalf("flash %q", m.flash)
	}
	next = *m.q.tickets["T-1"]
	next.Paused, next.Status = true, store.StatusQueued
	m, _ = update(m, eventsMsg{{Type: engine.EvTicket, TicketID: "T-1", Ticket: &next}})
	if m.flash != "approved T-1" {
		t.Fatalf("the pause carried out after the approve ended its flash: %q", m.flash)
	}
}

// A title refused for its length comes back in the form on one scrolled
// line, with the reason in sight: not drawn whole over the screen.
func TestRefusedLongTitleComesBackOnOneLine(t *testing.T) {
	f := fixture()
	m := newTestModel(t, f, 100, 30)
	m = press(t, m, "n")
	m, cmd := update(m, tea.PasteMsg{Content: strings.Repeat("T", 5000) + "ENDMARK"})
	m = settle(t, m, cmd)
	m = press(t, m, "ctrl+s")
	screen := plain(m)
	rows := 0
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(l, "TTTTTTTTTT") {
			rows++
		}
	}
	if len(f.added) != 0 || rows != 1 || !strings.Contains(screen, "over 300") {
		t.Fatalf("added %d; the title on %d rows:\n%s", len(f.added), rows, screen)
	}
}

// ctrl+c in a dialog over typed text asks first, as esc does in the form:
// pressed to quit, it used to throw the text away unasked. A second
// ctrl+c or esc discards it; with nothing typed it closes at once.
func TestCtrlCInDialogAsksOverTypedText(t *testing.T) {
	f := fixture()
	m := newTestModel(t, f, 100, 30)
	ask := discardAgain("ctrl+c")
	for _, second := range []string{"ctrl+c", "esc"} {
		m = press(t, m, "n")
		m = typeText(t, m, "DRAFT")
		m = press(t, m, "ctrl+c")
		if len(m.dialogs) != 1 || !strings.Contains(plain(m), ask) || !strings.Contains(plain(m), "DRAFT") {
			t.Fatalf("form, one ctrl+c: dialogs %d\n%s", len(m.dialogs), plain(m))
		}
		m = press(t, m, "X")
		if strings.Contains(plain(m), ask) {
			t.Fatal("form: the question stays after another key")
		}
		m = press(t, m, "ctrl+c", second)
		if len(m.dialogs) != 0 || len(f.added) != 0 {
			t.Fatalf("form, ctrl+c then %s: dialogs %d, added %+v", second, len(m.dialogs), f.added)
		}
	}
	m = press(t, m, "n", "ctrl+c")
	if len(m.dialogs) != 0 {
		t.Fatal("ctrl+c did not close an empty form")
	}
	// the reject and guidance dialogs (T-1 awaits approval)
	for _, k := range []string{"r", "g"} {
		m = press(t, m, k, "ctrl+c")
		if len(m.dialogs) != 0 {
			t.Fatalf("%s: ctrl+c did not close the empty dialog", k)
		}
		m = press(t, m, k)
		m = typeText(t, m, "because")
		m = press(t, m, "ctrl+c")
		if len(m.dialogs) != 1 || !strings.Contains(plain(m), ask) || !strings.Contains(plain(m), "because") {
			t.Fatalf("%s, one ctrl+c: dialogs %d\n%s", k, len(m.dialogs), plain(m))
		}
		m = press(t, m, "s")
		if strings.Contains(plain(m), ask) {
			t.Fatalf("%s: the question stays after another key", k)
		}
		m = press(t, m, "ctrl+c", "ctrl+c")
		if len(m.dialogs) != 0 || len(f.decisions) != 0 {
			t.Fatalf("%s, ctrl+c twice: dialogs %d, decisions %+v", k, len(m.dialogs), f.decisions)
		}
	}
}

// On a terminal without colours or bold (TERM=dumb) the open tab is
// marked with characters; with styles it is marked by them alone.
func TestOpenTabMarkedWithoutStyles(t *testing.T) {
	m := newTestModel(t, fixture(), 100, 30)
	m = press(t, m, "3")
	if v := plain(m); strings.Contains(v, "[3 History]") || !strings.Contains(v, "1 Stream  2 Documents  3 History  4 Diff  5 CI") {
		t.Fatalf("with styles:\n%s", v)
	}
	m, _ = update(m, tea.ColorProfileMsg{Profile: colorprofile.NoTTY})
	if v := plain(m); !strings.Contains(v, "1 Stream  2 Documents  [3 History]  4 Diff  5 CI") {
		t.Fatalf("no mark on the open tab without styles:\n%s", v)
	}
	// short labels too, and a click still finds the tab under it
	m, _ = update(m, tea.WindowSizeMsg{Width: 70, Height: 24})
	m = press(t, m, "5")
	if v := plain(m); !strings.Contains(v, "[5 CI]") {
		t.Fatalf("no mark at 70 columns:\n%s", v)
	}
	l := m.layout()
	row := stripANSI(m.tabRow(l.contentW))
	x := strings.Index(row, "[5 CI]") + 2
	if got := m.tabAt(x, l.contentW); got != tabCI {
		t.Fatalf("tabAt(%d) = %d in %q", x, got, row)
	}
}

// "waiting for a model" is said only of an attempt under way: not of one
// that ended with calls counted but no answer taken (an answer over its
// size limit), nor of one whose ticket stopped for the user.
func TestNoWaitingForAModelOnceStopped(t *testing.T) {
	f := fixture()
	f.attempts["T-4"] = []*store.Attempt{{Seq: 12, Phase: "tests", N: 1, Started: t0, Ended: t0,
		Error:     "every model of tests failed: mid: the answer passed 8 MiB",
		Fallbacks: []store.Fallback{{Model: "mid", Provider: "sim", Reason: "the answer passed 8 MiB"}},
		Wasted:    []store.Spend{{Model: "mid"}}, ContextTokens: 1000, TokensIn: 1000, TokensOut: 900, CostUSD: 0.002}}
	m := newTestModel(t, f, 150, 42)
	m = press(t, m, "w", "1")
	v := plain(m)
	if strings.Contains(v, "waiting for a model") || !strings.Contains(v, "tests · attempt 1 · error · no whole answer; tried mid · ctx 1.0k") {
		t.Fatalf("an ended attempt:\n%s", v)
	}
	m = press(t, m, "3")
	if v := plain(m); !strings.Contains(v, "tests · attempt 1 · no whole answer; tried mid") || !strings.Contains(v, "1.0k in / 900 out") {
		t.Fatalf("History of an ended attempt:\n%s", v)
	}
	// not ended, but its ticket waits for the user
	f = fixture()
	f.attempts["T-4"] = []*store.Attempt{{Seq: 12, Phase: "tests", N: 1, Started: t0, ContextTokens: 1000, TokensIn: 1000}}
	m = newTestModel(t, f, 150, 42)
	if v := plain(press(t, m, "w", "1")); strings.Contains(v, "waiting for a model") {
		t.Fatalf("an attempt of a stopped ticket:\n%s", v)
	}
}

// ] and [ stop at the last page, where End goes: the last file's start
// used to become the top, leaving the pane mostly empty, from where j did
// nothing and k moved one line.
func TestDiffJumpStopsAtTheLastPage(t *testing.T) {
	f := fixture()
	var b strings.Builder
	for _, name := range []string{"a.txt", "b.txt", "c.txt"} {
		b.WriteString("diff --git a/" + name + " b/" + name + "\n--- a/" + name + "\n+++ b/" + name + "\n@@ -0,0 +1,200 @@\n")
		b.WriteString(strings.Repeat("+line\n", 200))
	}
	b.WriteString("diff --git a/zz_last.txt b/zz_last.txt\n--- a/zz_last.txt\n+++ b/zz_last.txt\n@@ -0,0 +1,2 @@\n+LAST1\n+LAST2\n")
	f.diffs["T-1"] = b.String()
	m := newTestModel(t, f, 150, 42)
	m = press(t, m, "4", "tab")
	d := m.diffs["T-1"]
	h := m.layout().contentH
	end := len(d.lines) - h
	m = press(t, m, "]", "]", "]")
	if v := plain(m); d.top != end || !strings.Contains(v, "file 4/4 zz_last.txt") || !strings.Contains(v, "LAST2") {
		t.Fatalf("] to the last file: top %d, want %d (End's)\n%s", d.top, end, v)
	}
	m = press(t, m, "]", "j")
	if d.top != end {
		t.Fatalf("] or j past the last file: top %d, want %d", d.top, end)
	}
	m = press(t, m, "k")
	if d.top != end-1 {
		t.Fatalf("k at the end: top %d, want %d", d.top, end-1)
	}
	m = press(t, m, "end")
	if d.top != end {
		t.Fatalf("end: top %d, want %d", d.top, end)
	}
	m = press(t, m, "]", "[")
	if d.top != d.files[2] || !strings.Contains(plain(m), "file 3/4 c.txt") {
		t.Fatalf("[ from the last file: top %d, want %d", d.top, d.files[2])
	}
}
