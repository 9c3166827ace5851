package ui

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"agent-tui/engine"
	"agent-tui/engine/llm"
	"agent-tui/store"
)

// checkFrame fails when the frame is not exactly h rows of at most w cells.
func checkFrame(t *testing.T, m Model, w, h int) string {
	t.Helper()
	out := plain(m)
	lines := strings.Split(out, "\n")
	if len(lines) != h {
		t.Errorf("frame is %d lines, want %d:\n%s", len(lines), h, out)
	}
	for i, l := range lines {
		if sw := stringWidth(l); sw > w {
			t.Errorf("line %d is %d cells wide, more than %d", i, sw, w)
		}
	}
	return out
}

// The full help lists every key, whatever the size; the frame stays inside
// the terminal.
func TestFullHelpListsEveryKey(t *testing.T) {
	for _, size := range [][2]int{{150, 42}, {100, 30}, {80, 24}, {60, 15}, {60, 12}, {50, 10}, {40, 12}, {40, 10}, {30, 8}, {24, 8}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			m := newTestModel(t, fixture(), size[0], size[1])
			m = press(t, m, "?")
			out := checkFrame(t, m, size[0], size[1])
			if strings.Contains(out, "more (j/k)") {
				// too small for every key at once: j scrolls them all
				// into view, one frame after another
				for range 30 {
					m = press(t, m, "j")
					out += checkFrame(t, m, size[0], size[1])
				}
				if m.q.selectedID() != "T-1" {
					t.Errorf("j moved the hidden queue to %s, not the help", m.q.selectedID())
				}
			}
			for _, g := range m.keys.FullHelp() {
				for _, b := range g {
					// a small screen may get the short words
					brief := briefHelp([]key.Binding{b})[0].Help().Desc
					if !strings.Contains(out, b.Help().Key) || !strings.Contains(out, b.Help().Desc) && !strings.Contains(out, brief) {
						t.Errorf("full help misses %q %q:\n%s", b.Help().Key, b.Help().Desc, out)
					}
				}
			}
		})
	}
}

// The help bar always ends with ? and q, and never runs past the width.
func TestShortHelpKeepsHelpAndQuit(t *testing.T) {
	for w := minWidth; w <= 160; w++ {
		m := newTestModel(t, fixture(), w, 20)
		lines := strings.Split(plain(m), "\n")
		bar := lines[len(lines)-1]
		if !strings.Contains(bar, "? help") || !strings.Contains(bar, "q quit") || strings.Contains(bar, "…") {
			t.Fatalf("width %d: help bar %q", w, bar)
		}
		if stringWidth(bar) > w {
			t.Fatalf("width %d: help bar is %d cells", w, stringWidth(bar))
		}
	}
	// at 80 the decisions are all there but guidance and model
	m := newTestModel(t, fixture(), 80, 24)
	lines := strings.Split(plain(m), "\n")
	for _, want := range []string{"a approve", "r reject", "e edit", "x cancel", "p pause"} {
		if !strings.Contains(lines[len(lines)-1], want) {
			t.Errorf("80 columns: help bar %q misses %q", lines[len(lines)-1], want)
		}
	}
}

// A bar short of room keeps the keys the selected ticket's state calls
// for before the general ones: a stopped ticket's retry keys, a running
// one's pause and cancel.
func TestShortHelpKeepsTheTicketsKeys(t *testing.T) {
	for _, c := range []struct {
		w      int
		keys   []string
		want   []string
		absent []string
	}{
		{80, []string{"w"}, []string{"g guidance", "m model", "e edit", "x cancel", "a approve"}, []string{"n new", "p pause"}}, // T-4 needs a human
		{60, []string{"j"}, []string{"p pause", "x cancel"}, nil},                                                               // T-2 runs
		{60, nil, []string{"a approve", "r reject"}, nil},                                                                       // T-1 awaits approval
	} {
		m := newTestModel(t, fixture(), c.w, 24)
		m = press(t, m, c.keys...)
		lines := strings.Split(plain(m), "\n")
		bar := lines[len(lines)-1]
		for _, want := range append(c.want, "? help", "q quit") {
			if !strings.Contains(bar, want) {
				t.Errorf("%d columns, %s selected: bar %q misses %q", c.w, m.q.selectedID(), bar, want)
			}
		}
		for _, no := range c.absent {
			if strings.Contains(bar, no) {
				t.Errorf("%d columns, %s selected: bar %q keeps %q", c.w, m.q.selectedID(), bar, no)
			}
		}
	}
}

// An error has rows of its own above the status line and is shown whole,
// wrapped; the status line stays under it.
func TestErrorFlashShowsWhole(t *testing.T) {
	for _, size := range [][2]int{{60, 15}, {80, 24}} {
		f := fixture()
		m := newTestModel(t, f, size[0], size[1])
		m = press(t, m, "j", "j", "a") // T-3 waits for its children
		// the engine's words: the UI shows them as they are
		want := engine.Allowed(f.tickets[2], store.DecisionApprove).Error()
		if m.flash != want {
			t.Fatalf("flash %q", m.flash)
		}
		checkFrame(t, m, size[0], size[1])
		status := statusArea(m)
		var rows []string
		for _, r := range status[:len(status)-1] {
			rows = append(rows, strings.TrimSpace(r))
		}
		if got := strings.Join(rows, " "); got != want {
			t.Errorf("%dx%d: flash rows %q, want the whole error", size[0], size[1], got)
		}
		if line := status[len(status)-1]; !strings.Contains(line, "› 1 running") || !strings.Contains(line, "$2.031") {
			t.Errorf("%dx%d: the status line under the error is %q", size[0], size[1], line)
		}
	}
	// news that fits beside the fields comes first, the simulated label and
	// the counters after it
	m := newTestModel(t, fixture(), 150, 42)
	m = press(t, m, "a", "y")
	if s := statusRow(m); !strings.HasPrefix(strings.TrimSpace(s), "approved T-1 │ model: simulated │ › 1 running") {
		t.Fatalf("status line %q", s)
	}
	// news that does not fit has a row of its own, the fields stay whole
	m = newTestModel(t, fixture(), 100, 30)
	line := statusRow(m)
	m = press(t, m, "a", "y")
	if s := statusArea(m); len(s) != 2 || strings.TrimSpace(s[0]) != "approved T-1" || s[1] != line {
		t.Fatalf("status rows %q, want the flash above %q", s, line)
	}
}

// statusArea is the status rows: the flash's own rows, if any, and the
// status line, between the panes' bottom edge and the help bar.
func statusArea(m Model) []string {
	lines := strings.Split(plain(m), "\n")
	var status []string
	for i := len(lines) - 2; i >= 0 && !strings.HasPrefix(lines[i], "╰"); i-- {
		status = append([]string{lines[i]}, status...)
	}
	return status
}

// statusRow is the status rows as one text.
func statusRow(m Model) string {
	return strings.Join(statusArea(m), "\n")
}

// Dialogs keep their fields and key hint on screen in small terminals.
func TestDialogsFitSmallTerminals(t *testing.T) {
	for _, size := range [][2]int{{60, 15}, {60, 12}, {80, 10}, {100, 30}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			m := newTestModel(t, fixture(), size[0], size[1])
			m = press(t, m, "n")
			out := checkFrame(t, m, size[0], size[1])
			for _, want := range []string{"New ticket", "Kind", "Title", "Body", "Sensitive", "ctrl+s create · esc cancel"} {
				if !strings.Contains(out, want) {
					t.Errorf("new ticket form misses %q:\n%s", want, out)
				}
			}
			m = press(t, m, "esc", "j", "j", "j", "m") // T-4: pick a model
			out = checkFrame(t, m, size[0], size[1])
			for _, want := range []string{"Retry tests of T-4", "› small", "enter retry · esc cancel"} {
				if !strings.Contains(out, want) {
					t.Errorf("model picker misses %q:\n%s", want, out)
				}
			}
		})
	}
	// with room, nothing shrinks
	m := newTestModel(t, fixture(), 100, 30)
	m = press(t, m, "n")
	if got, full := m.dialogs[0].View(m.st, 64, 30), m.dialogs[0].View(m.st, 64, unbounded); got != full {
		t.Fatalf("the form shrank in a large terminal:\n%s", got)
	}
}

// Narrow detail panes get shorter tab labels instead of a cut one.
func TestTabRowFitsNarrowPane(t *testing.T) {
	for _, c := range []struct {
		w    int
		keys []string
		want string
	}{
		{100, []string{"3"}, "1 Stream  2 Documents  3 History  4 Diff  5 CI"},
		{72, []string{"3"}, "1 Stream 2 Docs 3 History 4 Diff 5 CI"},
		{60, []string{"3"}, "1  2  3 History  4  5"},
		{60, []string{"2"}, "1  2 Docs  3  4  5"},
	} {
		m := newTestModel(t, fixture(), c.w, 20)
		m = press(t, m, c.keys...)
		if row := strings.Split(plain(m), "\n")[1]; !strings.Contains(row, "│"+c.want+" ") {
			t.Errorf("width %d: tab row %q, want %q", c.w, row, c.want)
		}
	}
}

// Below the least size the notice fits the terminal, wrapped.
func TestTooSmallNoticeFits(t *testing.T) {
	for _, size := range [][2]int{{23, 20}, {16, 8}, {10, 8}, {80, 3}} {
		m := newTestModel(t, fixture(), size[0], size[1])
		out := plain(m)
		lines := strings.Split(out, "\n")
		if len(lines) > size[1] {
			t.Errorf("%dx%d: %d lines", size[0], size[1], len(lines))
		}
		for _, l := range lines {
			if stringWidth(l) > size[0] {
				t.Errorf("%dx%d: line %q is too wide", size[0], size[1], l)
			}
		}
		if joined := strings.Join(strings.Fields(out), " "); size[1] >= 3 && joined != "terminal too small: agent-tui needs 24×8" {
			t.Errorf("%dx%d: notice %q", size[0], size[1], joined)
		}
	}
}

// PgDn/PgUp in the queue move by the tickets it shows, not by the detail
// pane's height.
func TestQueuePageMovesByVisibleRows(t *testing.T) {
	f := fixture()
	for i := 8; i <= 60; i++ {
		f.tickets = append(f.tickets, &store.Ticket{ID: fmt.Sprintf("T-%d", i), Kind: "feature", Title: "more", Status: store.StatusQueued,
			Phase: "discovery", Phases: phases("feature", "discovery", store.PhasePending)})
	}
	m := newTestModel(t, f, 100, 30)
	l := m.layout()
	page := l.queueRows / rowHeight(l.queueInnerW)
	if page == l.contentH {
		t.Fatalf("the sizes do not tell queue rows (%d) from the detail height", page)
	}
	m = press(t, m, "pgdown")
	if m.q.sel != page {
		t.Fatalf("pgdown selected row %d, want %d", m.q.sel, page)
	}
	// the last visible row before is now the first one shown
	if out := plain(m); !strings.Contains(out, "▌· "+m.q.rows[page]+" ") {
		t.Fatalf("selection not on screen:\n%s", out)
	}
	m = press(t, m, "pgdown", "pgup")
	if m.q.sel != page {
		t.Fatalf("pgdown pgup selected row %d, want %d", m.q.sel, page)
	}
}

// With its attempts loaded, approving a phase that left nothing is refused
// before the dialog; before they load, the dialog opens (the engine refuses).
func TestApproveRefusedWhenNothingToApprove(t *testing.T) {
	f := fixture()
	m := newTestModel(t, f, 100, 30)
	m = press(t, m, "j", "j", "j", "a") // T-4: its tests attempt failed with an error
	if len(m.dialogs) != 0 || !strings.Contains(m.flash, "T-4: phase tests has nothing to approve") || !m.flashErr {
		t.Fatalf("dialogs %d, flash %q", len(m.dialogs), m.flash)
	}
	m = newTestModel(t, f, 100, 30)
	for range 3 {
		m, _ = update(m, keyMsg("j")) // the attempts' load is never run
	}
	m, _ = update(m, keyMsg("a"))
	if len(m.dialogs) != 1 {
		t.Fatalf("approve before the attempts loaded: dialogs %d, flash %q", len(m.dialogs), m.flash)
	}
}

// Edit-approve of a phase that left no deliverable opens an empty file.
func TestEditOpensEmptyFileWhenNothingLeft(t *testing.T) {
	m := newTestModel(t, fixture(), 100, 30)
	m = press(t, m, "j", "j", "j")
	m, cmd := update(m, keyMsg("e"))
	ready := editorReady(cmd)
	if ready == nil || ready.err != nil || m.flashErr {
		t.Fatalf("no editor for T-4: %+v, flash %q", ready, m.flash)
	}
	defer os.Remove(ready.path)
	if data, err := os.ReadFile(ready.path); err != nil || len(data) != 0 || ready.id != "T-4" {
		t.Fatalf("temp file holds %q (%v) for %s", data, err, ready.id)
	}
	// left empty, nothing is decided
	f := fixture()
	msg := finishEdit(f, editorDoneMsg{id: "T-4", path: ready.path, orig: ""}, "approved")()
	if len(f.decisions) != 0 || msg.(actionMsg).text != "nothing written: nothing approved" {
		t.Fatalf("empty edit: %+v, decisions %+v", msg, f.decisions)
	}
	// a deliverable emptied is said to be so, not unchanged
	if err := os.WriteFile(ready.path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	msg = finishEdit(f, editorDoneMsg{id: "T-4", path: ready.path, orig: "the old spec"}, "approved")()
	if len(f.decisions) != 0 || msg.(actionMsg).text != "the file was emptied: nothing approved" {
		t.Fatalf("emptied: %+v, decisions %+v", msg, f.decisions)
	}
}

// p follows the latest pause/resume not yet carried out: t.Paused lags it.
func TestPauseFollowsPendingDecision(t *testing.T) {
	f := fixture()
	m := newTestModel(t, f, 100, 30)
	m = press(t, m, "j") // T-2 runs
	pending := *f.tickets[1]
	pending.Decisions = []store.Decision{{Kind: store.DecisionPause}}
	m, _ = update(m, engine.Event{Type: engine.EvTicket, TicketID: "T-2", Ticket: &pending})
	if out := plain(m); !strings.Contains(out, "running (pause pending)") {
		t.Fatalf("pending pause not shown:\n%s", out)
	}
	m = press(t, m, "p")
	if len(f.decisions) != 1 || f.decisions[0].d.Kind != store.DecisionResume {
		t.Fatalf("p with a pending pause: decisions %+v, want resume", f.decisions)
	}
	// applied pause, then a pending resume: p pauses again
	resuming := pending
	resuming.Paused = true
	resuming.Decisions = []store.Decision{{Kind: store.DecisionPause, Applied: true}, {Kind: store.DecisionResume}}
	m, _ = update(m, engine.Event{Type: engine.EvTicket, TicketID: "T-2", Ticket: &resuming})
	press(t, m, "p")
	if len(f.decisions) != 2 || f.decisions[1].d.Kind != store.DecisionPause {
		t.Fatalf("p with a pending resume: decisions %+v, want pause", f.decisions)
	}
}

// A paused ticket is counted as paused, not running, and shown so.
func TestPausedTicketIsNotCountedRunning(t *testing.T) {
	f := fixture()
	f.tickets[1].Paused = true // T-2, status running
	m := newTestModel(t, f, 150, 42)
	s := statusRow(m)
	if !strings.Contains(s, "› 0 running") || !strings.Contains(s, "‖ 1 paused") {
		t.Fatalf("status line %q", s)
	}
	if out := plain(m); !strings.Contains(out, "‖ T-2") || !strings.Contains(out, "  paused · ") || strings.Contains(out, "running (paused)") {
		t.Fatalf("queue row does not show T-2 paused:\n%s", out)
	}
	m = press(t, m, "f", "f", "f") // the running preset
	if strings.Contains(rowIDs(m), "T-2") {
		t.Fatalf("running filter lists paused T-2: %q", rowIDs(m))
	}
}

// A CI attempt ran a command: its stream header has no model, tokens or cost.
func TestCommandAttemptStreamHeader(t *testing.T) {
	m := newTestModel(t, fixture(), 150, 42)
	ci := &store.Attempt{Seq: 20, Phase: "ci", N: 2, Started: t0}
	m, _ = update(m, engine.Event{Type: engine.EvAttempt, TicketID: "T-1", Attempt: ci})
	out := plain(m)
	if !strings.Contains(out, "ci · attempt 2 · command · running") {
		t.Fatalf("stream header of a ci run:\n%s", out)
	}
	for _, bad := range []string{"(simulated) · 0 in", "0 in / 0 out", "… (simulated)"} {
		if strings.Contains(out, bad) {
			t.Fatalf("stream header of a ci run shows %q", bad)
		}
	}
	// a model attempt that has not got its model yet is not a command
	running := *m.q.tickets["T-1"]
	running.Status, running.Phase = store.StatusRunning, "code"
	m, _ = update(m, engine.Event{Type: engine.EvTicket, TicketID: "T-1", Ticket: &running})
	code := &store.Attempt{Seq: 21, Phase: "code", N: 2, Started: t0}
	m, _ = update(m, engine.Event{Type: engine.EvAttempt, TicketID: "T-1", Attempt: code})
	// (no counts until a call ends: "0 in / 0 out" beside a cost so far
	// said nothing had been sent)
	if out := plain(m); !strings.Contains(out, "code · attempt 2 · running · waiting for a model (simulated) · $0.000") || strings.Contains(out, "0 in / 0 out") {
		t.Fatalf("stream header of a starting model attempt:\n%s", out)
	}
}

// Without an engine, an attempt that never ended was cut off (kill -9):
// its stream and History say interrupted, as the ticket does, not running.
func TestBrowsingShowsCutOffAttemptInterrupted(t *testing.T) {
	m := NewModel(fixture(), Options{NoModel: "no model configured", Confinement: "none"})
	m, _ = update(m, tea.WindowSizeMsg{Width: 150, Height: 42})
	m = settle(t, m, m.Init())
	m = press(t, m, "j") // T-2, whose code attempt has no end
	m = settle(t, m, nil)
	// a refusal says why it says running
	m = press(t, m, "a")
	if !strings.Contains(m.flash, "T-2 is running: only") || !strings.Contains(m.flash, "was running when agent-tui last stopped") {
		t.Fatalf("flash %q", m.flash)
	}
	for tab, want := range map[string]string{"1": "code · attempt 1 · interrupted", "3": "context 8.1k\n  interrupted"} {
		m = press(t, m, tab)
		out := plain(m)
		lines := ansi.Strip(strings.Join(m.detailLines(m.layout()), "\n"))
		if !strings.Contains(lines, want) || strings.Contains(out, "running…") || strings.Contains(out, "attempt 1 · running") {
			t.Fatalf("tab %s:\n%s", tab, out)
		}
	}
}

// Without an engine a decision is only recorded: the flash says so.
func TestBrowsingDecisionSaysRecorded(t *testing.T) {
	f := fixture()
	m := NewModel(f, Options{NoModel: "no model configured", Confinement: "none"})
	m, _ = update(m, tea.WindowSizeMsg{Width: 120, Height: 30})
	// the notice has a row of its own over the status line, then expires
	var expiry []tea.Msg
	stub := after
	defer func() { after = stub }()
	after = func(d time.Duration, fn func(time.Time) tea.Msg) tea.Cmd {
		if msg, ok := fn(time.Time{}).(flashExpiredMsg); ok && d >= flashFor {
			expiry = append(expiry, msg)
		}
		return nil
	}
	m = settle(t, m, m.Init())
	after = stub
	// with no engine, the ticket that says running was cut off: it is
	// interrupted (as list says), not counted as running
	if s := statusArea(m); !strings.Contains(s[0], "browsing only") || strings.Contains(s[0], "running") || !strings.Contains(s[len(s)-1], "› 0 running") {
		t.Fatalf("status rows %q", s)
	}
	if out := plain(m); !strings.Contains(out, "interrupted") || strings.Contains(out, "› T-") {
		t.Fatalf("queue:\n%s", out)
	}
	if len(expiry) != 1 {
		t.Fatalf("the no-model notice never expires: %v", expiry)
	}
	m, _ = update(m, expiry[0])
	if s := statusRow(m); !strings.Contains(s, "› 0 running") || !strings.Contains(s, "no model: tickets wait") {
		t.Fatalf("status line after the notice %q", s)
	}
	m = press(t, m, "j", "x", "y")
	if len(f.decisions) != 1 || m.flash != "cancel of T-2 recorded; carried out when the engine runs" {
		t.Fatalf("decisions %+v, flash %q", f.decisions, m.flash)
	}
	m = press(t, m, "p")
	if m.flash != "pause of T-2 recorded; carried out when the engine runs" {
		t.Fatalf("flash %q", m.flash)
	}
	// a ticket the user has decided on no longer waits for them: not
	// counted, and w passes it by
	before, decided := m.q.waiting, ""
	for _, id := range m.q.order {
		if tk := *m.q.tickets[id]; waiting(&tk) && decided == "" {
			decided = id
			tk.Decisions = append(append([]store.Decision(nil), tk.Decisions...), store.Decision{Kind: store.DecisionApprove})
			m, _ = update(m, engine.Event{Type: engine.EvTicket, TicketID: id, Ticket: &tk})
		}
	}
	if decided == "" || m.q.waiting != before-1 {
		t.Fatalf("waiting %d after deciding %q (was %d)", m.q.waiting, decided, before)
	}
	for range 4 {
		if m = press(t, m, "w"); m.q.selectedID() == decided {
			t.Fatalf("w went to %s, decided", decided)
		}
	}
	// with an engine the decision is news of its own
	m = newTestModel(t, f, 120, 30)
	m = press(t, m, "j", "x", "y")
	if m.flash != "cancelled T-2" {
		t.Fatalf("flash %q", m.flash)
	}
}

// Whatever is open, the frame fills the terminal and never runs past it,
// and an open dialog keeps on screen how to close it.
func TestFrameFitsEverySize(t *testing.T) {
	opens := []struct {
		keys []string
		hint string
	}{
		{nil, ""},
		{[]string{"?"}, ""},
		{[]string{"n"}, "esc cancel"},
		{[]string{"a"}, "n/esc no"},
		{[]string{"r"}, "esc cancel"},
		{[]string{"j", "j", "j", "m"}, "esc cancel"},
	}
	for w := minWidth; w <= 160; w += 17 {
		for h := minHeight; h <= 45; h += 4 {
			base := newTestModel(t, fixture(), w, h)
			for _, o := range opens {
				m := press(t, base, o.keys...) // a copy: base stays as it was
				out := plain(m)
				lines := strings.Split(out, "\n")
				if len(lines) != h {
					t.Fatalf("%dx%d %v: %d lines:\n%s", w, h, o.keys, len(lines), out)
				}
				for i, l := range lines {
					if stringWidth(l) > w {
						t.Fatalf("%dx%d %v: line %d is %d cells", w, h, o.keys, i, stringWidth(l))
					}
				}
				if o.hint != "" && !strings.Contains(strings.Join(strings.Fields(out), " "), o.hint) {
					t.Fatalf("%dx%d %v: hint %q not on screen:\n%s", w, h, o.keys, o.hint, out)
				}
			}
		}
	}
}

// A decision recorded but not yet carried out shows on the ticket's row,
// so a cancel taken while the engine is away is not mistaken for lost.
func TestPendingDecisionShowsOnRow(t *testing.T) {
	f := fixture()
	m := newTestModel(t, f, 100, 30)
	waiting := *f.tickets[1]
	waiting.Decisions = []store.Decision{{Kind: store.DecisionCancel}}
	m, _ = update(m, engine.Event{Type: engine.EvTicket, TicketID: waiting.ID, Ticket: &waiting})
	if out := plain(m); !strings.Contains(out, "(cancel pending)") {
		t.Fatalf("pending cancel not shown:\n%s", out)
	}
	done := waiting
	done.Decisions = []store.Decision{{Kind: store.DecisionCancel, Applied: true}}
	m, _ = update(m, engine.Event{Type: engine.EvTicket, TicketID: waiting.ID, Ticket: &done})
	if out := plain(m); strings.Contains(out, "pending)") {
		t.Fatalf("an applied decision still shown as pending:\n%s", out)
	}
}

// A pending decision is named in words, never by its stored identifier
// (edit_approve): on the row, in the ticket's status line, in History and
// in what the status line says once recorded.
func TestPendingDecisionInWords(t *testing.T) {
	f := fixture()
	f.tickets[3].Decisions = []store.Decision{{Kind: store.DecisionEditApprove, Phase: "tests", Text: "edited tests"}}
	m := newTestModel(t, f, 150, 42)
	m = press(t, m, "j", "j", "j") // T-4
	views := map[string]string{"queue": plain(m), "history": plain(press(t, m, "3"))}
	views["flash"] = doneText(true, store.DecisionEditApprove, "T-4", "")
	// r replaces the waiting edit: the flash names what it replaces
	m = press(t, m, "r")
	m = typeText(t, m, "no")
	views["replace"] = plain(press(t, m, "enter"))
	for name, out := range views {
		if strings.Contains(out, "edit_approve") || strings.Contains(out, "edit-approve") {
			t.Errorf("%s shows the internal name:\n%s", name, out)
		}
	}
	if n := strings.Count(views["queue"], "needs human (approve with edits pending)"); n != 2 {
		t.Errorf("row and status line: %d of 2 in\n%s", n, views["queue"])
	}
	if !strings.Contains(views["history"], "decision · approve with edits at tests") {
		t.Errorf("history:\n%s", views["history"])
	}
	if !strings.Contains(views["replace"], "(replacing the waiting approve with edits)") {
		t.Errorf("reject over a waiting edit:\n%s", views["replace"])
	}
}

// Two publishers can race: a snapshot older than the one shown is ignored,
// so a cancelled ticket does not go back to "running" on screen.
func TestOlderSnapshotDoesNotOverwrite(t *testing.T) {
	f := fixture()
	m := newTestModel(t, f, 100, 30)
	newer := *f.tickets[1]
	newer.Status, newer.Updated = store.StatusCancelled, newer.Updated.Add(time.Second)
	older := *f.tickets[1]
	older.Decisions = []store.Decision{{Kind: store.DecisionCancel}}
	m, _ = update(m, engine.Event{Type: engine.EvTicket, TicketID: newer.ID, Ticket: &newer})
	m, _ = update(m, engine.Event{Type: engine.EvTicket, TicketID: older.ID, Ticket: &older})
	if out := plain(m); !strings.Contains(out, "cancelled") || strings.Contains(out, "(cancel pending)") {
		t.Fatalf("the older snapshot won:\n%s", out)
	}
}

// `w` finds a waiting ticket a filter hides: the filter goes.
func TestNextWaitingClearsAHidingFilter(t *testing.T) {
	m := newTestModel(t, fixture(), 100, 30)
	m = press(t, m, "/", "T", "y", "p", "o", "enter") // only T-6 "Typo in README"
	if got := rowIDs(m); got != "T-6" {
		t.Fatalf("filter rows %q", got)
	}
	m = press(t, m, "w")
	if out := plain(m); strings.Contains(out, "nothing is waiting") || !strings.Contains(rowIDs(m), "T-1") {
		t.Fatalf("w with the waiting tickets filtered out: rows %q\n%s", rowIDs(m), out)
	}
}

// `/` from the detail pane of a narrow terminal shows the filter bar: the
// queue pane comes forward. Esc closes the full help.
func TestFilterFromDetailPaneWhenNarrow(t *testing.T) {
	m := newTestModel(t, fixture(), 40, 12)
	m = press(t, m, "tab", "/", "b", "i", "l", "l")
	if out := plain(m); !strings.Contains(out, "bill") {
		t.Fatalf("the filter being typed is not on screen:\n%s", out)
	}
	m = press(t, m, "esc", "?")
	if !m.help.ShowAll {
		t.Fatal("? did not open the full help")
	}
	m = press(t, m, "esc")
	if m.help.ShowAll {
		t.Fatal("esc did not close the full help")
	}
}

// A long answer in an input scrolls sideways: the end being typed (and
// the cursor) stays in the box, which stays one row high.
func TestLongInputScrollsSideways(t *testing.T) {
	m := newTestModel(t, fixture(), 80, 24)
	m = press(t, m, "j", "j", "j", "g") // T-4 needs a human
	if len(m.dialogs) != 1 {
		t.Fatalf("g opened no dialog:\n%s", plain(m))
	}
	keys := make([]string, 0, 1010)
	for i := 0; i < 1000; i++ {
		keys = append(keys, string(rune('a'+i%26)))
	}
	keys = append(keys, "E", "N", "D")
	m = press(t, m, keys...)
	out := plain(m)
	if !strings.Contains(out, "END") {
		t.Fatalf("the end of the text is not in the box:\n%s", out)
	}
	if !strings.Contains(out, "enter submit") {
		t.Fatalf("the hint was pushed out:\n%s", out)
	}
	if n := strings.Count(out, "klmnop"); n > 3 {
		t.Fatalf("the text wraps over many rows (%d repeats shown):\n%s", n, out)
	}
}

// A filter that matches nothing, then cleared, goes back to the ticket
// that was selected, not to the first.
func TestClearedFilterKeepsTheSelection(t *testing.T) {
	m := newTestModel(t, fixture(), 100, 30)
	m = press(t, m, "j", "j", "j") // T-4
	m = press(t, m, "/", "z", "z", "z")
	if got := rowIDs(m); got != "" {
		t.Fatalf("rows %q", got)
	}
	m = press(t, m, "backspace", "backspace", "backspace", "enter")
	if id := m.q.selectedID(); id != "T-4" {
		t.Fatalf("selected %s after clearing the filter, want T-4", id)
	}
}

// A ticket the engine refuses comes back in its form with the reason:
// nothing typed is lost.
func TestRefusedTicketKeepsTheForm(t *testing.T) {
	f := fixture()
	f.addErr = errors.New("the checkout is in detached HEAD state, not on a branch")
	m := newTestModel(t, f, 100, 30)
	m = press(t, m, "n")
	m = typeText(t, m, "Keep what I typed")
	m = press(t, m, "tab")
	m = typeText(t, m, "a body too")
	m = press(t, m, "ctrl+s")
	if len(m.dialogs) != 1 {
		t.Fatalf("the form is gone after the refusal:\n%s", plain(m))
	}
	out := plain(m)
	for _, want := range []string{"Keep what I typed", "a body too", "detached HEAD"} {
		if !strings.Contains(out, want) {
			t.Fatalf("%q not in the form:\n%s", want, out)
		}
	}
	f.addErr = nil
	m = press(t, m, "ctrl+s")
	if len(f.added) != 1 || f.added[0].Title != "Keep what I typed" || f.added[0].Body != "a body too" {
		t.Fatalf("resubmitted %+v", f.added)
	}
}

// An epic's CI tab says where its checks are instead of waiting for some.
func TestEpicCITabPointsAtChildren(t *testing.T) {
	m := newTestModel(t, fixture(), 150, 42)
	for i := 0; i < len(m.q.rows) && m.q.selectedID() != "T-3"; i++ {
		m = press(t, m, "j")
	}
	if m.q.selectedID() != "T-3" {
		t.Fatalf("could not select the epic T-3; rows %s", rowIDs(m))
	}
	out := plain(press(t, m, "5"))
	if !strings.Contains(out, "each child ticket has its own CI tab") || strings.Contains(out, "No checks have run yet") {
		t.Errorf("epic CI tab:\n%s", out)
	}
}

// A dialog over wide characters keeps every row exactly as wide as the
// terminal: a character the dialog's edge cuts in half becomes a space,
// and the detail pane keeps its right border.
func TestDialogOverWideCharactersKeepsBorders(t *testing.T) {
	f := fixture()
	var diff strings.Builder
	diff.WriteString("diff --git a/wide.txt b/wide.txt\n--- a/wide.txt\n+++ b/wide.txt\n@@ -1 +1,30 @@\n")
	for k := range 30 {
		// each line shifts the characters by a cell, so both edges of
		// the dialog fall inside one on some row
		diff.WriteString("+" + strings.Repeat("a", k%2) + strings.Repeat("漢字", 40) + " wide chars and more\n")
	}
	f.diffs["T-1"] = diff.String()
	const w, h = 100, 30
	m := newTestModel(t, f, w, h)
	m = press(t, m, "4", "n")
	out := checkFrame(t, m, w, h)
	lines := strings.Split(out, "\n")
	for i, l := range lines[:m.layout().panesH] {
		if sw := stringWidth(l); sw != w {
			t.Errorf("row %d is %d cells, want %d: %q", i, sw, w, l)
		}
		if end := []rune(l)[len([]rune(l))-1]; i > 0 && i < m.layout().panesH-1 && end != '│' {
			t.Errorf("row %d lost the right border: %q", i, l)
		}
	}
	if !strings.Contains(out, "New ticket") || !strings.Contains(out, "漢字") {
		t.Fatalf("the dialog over the diff is not drawn:\n%s", out)
	}
}

func TestCellsCutsWideCharactersInHalf(t *testing.T) {
	row := "│ab漢字 wide│"
	for _, c := range []struct {
		from, to int
		want     string
	}{
		{0, 4, "│ab "}, {4, 8, " 字 "}, {5, 9, "字 w"}, {3, 5, "漢"}, {10, 14, "de│ "},
	} {
		if got := cells(row, c.from, c.to); got != c.want {
			t.Errorf("cells(%d, %d) = %q, want %q", c.from, c.to, got, c.want)
		}
	}
}

// A diff line scrolled sideways keeps its columns: a wide character cut by
// an edge leaves a blank, and "…" marks the hidden text at either edge.
func TestSidewaysKeepsColumns(t *testing.T) {
	line := "+a漢字漢字"
	for _, c := range []struct {
		off, w int
		want   string
	}{
		{0, 20, line}, {0, 6, "+a漢 …"}, {1, 4, "…漢…"}, {2, 4, "…  …"}, {3, 4, "…字…"}, {2, 10, "… 字漢字"}, {10, 4, ""},
	} {
		if got := sideways(line, c.off, c.w); got != c.want || stringWidth(got) > c.w {
			t.Errorf("sideways(%d, %d) = %q, want %q", c.off, c.w, got, c.want)
		}
	}
}

// One-line rows (a wide queue) give the title the room the status, phase
// and cost columns do not need; two-line rows (a narrow one) cut the phase
// before the cost. Every row shows its whole cost.
func TestQueueRowsKeepTitleAndCost(t *testing.T) {
	f := fixture()
	f.tickets[0].Title = "Add Slugify to textutil"
	for _, size := range [][2]int{{200, 30}, {80, 24}, {100, 30}} {
		m := newTestModel(t, f, size[0], size[1])
		out := checkFrame(t, m, size[0], size[1])
		if !strings.Contains(out, "Add Slugify to textutil ") {
			t.Errorf("%dx%d: the title is cut:\n%s", size[0], size[1], out)
		}
		for _, tk := range f.tickets {
			if !strings.Contains(out, money(tk.CostUSD)+" ") && !strings.Contains(out, money(tk.CostUSD)+"│") {
				t.Errorf("%dx%d: the cost of %s (%s) is cut:\n%s", size[0], size[1], tk.ID, money(tk.CostUSD), out)
			}
		}
	}
	// the phase gives way first, then goes; the status stays
	for _, c := range []struct {
		w    int
		want string
	}{
		{41, "  awaiting approval · review 8/9 · $0.421"},
		{36, "  awaiting approval · revi… · $0.421"},
		{30, "  awaiting approval · $0.421"},
		{20, "  awaiting… · $0.421"},
	} {
		if got := stateLine("awaiting approval", "review 8/9", "$0.421", c.w); got != c.want {
			t.Errorf("stateLine at %d = %q, want %q", c.w, got, c.want)
		}
	}
}

// A provider no call can go to (its key variable is not set) is marked in
// the status line, not shown healthy.
func TestUnusableProviderMarked(t *testing.T) {
	f := fixture()
	f.health = append(f.health, llm.ProviderHealth{Name: "openai", Unusable: "its key variable OPENAI_API_KEY is not set"})
	out := plain(newTestModel(t, f, 150, 42))
	if !strings.Contains(out, "openai ✗ no key") || strings.Contains(out, "openai ✓") {
		t.Errorf("status line:\n%s", out)
	}
}

// Cancelling an epic names the children it takes along; an epic has no
// worktree to mention.
func TestEpicCancelDialogNamesChildren(t *testing.T) {
	m := newTestModel(t, fixture(), 150, 42)
	for i := 0; i < len(m.q.rows) && m.q.selectedID() != "T-3"; i++ {
		m = press(t, m, "j")
	}
	out := plain(press(t, m, "x"))
	if !strings.Contains(out, "T-4, T-5") || strings.Contains(out, "worktree is removed") {
		t.Errorf("epic cancel dialog:\n%s", out)
	}
}

// Documents shows what a waiting phase left, not accepted yet (what `e`
// edits), and a review's verdict as prose rather than its JSON.
func TestDocumentsShowTheWaitingDraft(t *testing.T) {
	f := fixture()
	f.attempts["T-4"] = []*store.Attempt{att(1, "tests", 1, false, "DRAFT-TESTS: cover the invoice totals")}
	rev := att(20, "review", 1, true, `{"pass": true, "objections": []}`)
	f.attempts["T-1"] = append(f.attempts["T-1"], rev)
	m := newTestModel(t, f, 150, 42)
	for _, c := range []struct{ id, want, not string }{
		{"T-4", "not accepted (e edits it)", ""},
		{"T-4", "DRAFT-TESTS: cover the invoice totals", ""},
		{"T-1", "The review passed", `{"pass"`},
	} {
		for i := 0; i < len(m.q.rows) && m.q.selectedID() != c.id; i++ {
			m = press(t, m, "j")
		}
		for i := 0; i < len(m.q.rows) && m.q.selectedID() != c.id; i++ {
			m = press(t, m, "k")
		}
		out := plain(press(t, m, "2"))
		if !strings.Contains(out, c.want) || c.not != "" && strings.Contains(out, c.not) {
			t.Errorf("%s documents:\n%s", c.id, out)
		}
		m = press(t, m, "1")
	}
}

// The model picker names the phase and marks the model its last attempt ran on.
func TestModelPickerMarksTheLastModel(t *testing.T) {
	m := newTestModel(t, fixture(), 120, 30)
	out := plain(press(t, m, "j", "j", "j", "m")) // T-4, stopped at tests
	if !strings.Contains(out, "Retry tests of T-4 on model") || !strings.Contains(out, "mid · last attempt's") {
		t.Errorf("picker:\n%s", out)
	}
}

// A model whose provider has no key is not offered: the retry would be
// refused.
func TestModelPickerLeavesOutUncallableModels(t *testing.T) {
	f := fixture()
	f.models[2].Unusable = "provider openai: its key variable OPENAI_API_KEY is not set"
	m := newTestModel(t, f, 120, 30)
	out := plain(press(t, m, "j", "j", "j", "m"))
	if !strings.Contains(out, "mid") || strings.Contains(out, "large") {
		t.Errorf("picker:\n%s", out)
	}
}

// A code block keeps its tab indentation in Documents.
func TestMarkdownKeepsTabIndentation(t *testing.T) {
	out, err := newMDRenderer().render("```go\nif len(s) <= n {\n\treturn s\n}\n```\n", 60)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stripANSI(out), "    return s") {
		t.Errorf("rendered:\n%s", stripANSI(out))
	}
}

// A sensitive ticket says so in its pane's title.
func TestSensitiveTicketIsMarked(t *testing.T) {
	f := fixture()
	f.tickets[0].Sensitive = true // T-1
	if out := plain(newTestModel(t, f, 150, 42)); !strings.Contains(out, "T-1 · feature · sensitive · Add login flow") {
		t.Errorf("pane title:\n%s", out)
	}
}

// A human's edit that waits for a run is what Documents shows and what
// the next e opens, not the model's draft.
func TestPendingEditIsShownAndEditedAgain(t *testing.T) {
	f := fixture()
	f.attempts["T-4"] = []*store.Attempt{att(1, "tests", 1, false, "MODEL-DRAFT")}
	f.tickets[3].Decisions = []store.Decision{{Kind: store.DecisionEditApprove, Phase: "tests", Text: "HUMAN-EDIT of the tests"}}
	m := newTestModel(t, f, 150, 42)
	m = press(t, m, "j", "j", "j") // T-4
	out := plain(press(t, m, "2"))
	if !strings.Contains(out, "HUMAN-EDIT of the tests") || !strings.Contains(out, "your edit") || strings.Contains(out, "MODEL-DRAFT") {
		t.Errorf("documents:\n%s", out)
	}
	m, cmd := update(m, keyMsg("e"))
	for _, msg := range collect(cmd) {
		if r, ok := msg.(editorReadyMsg); ok && r.err == nil {
			defer os.Remove(r.path)
			if data, _ := os.ReadFile(r.path); string(data) != "HUMAN-EDIT of the tests" || !r.pending {
				t.Fatalf("e opened %q (pending %v), want the waiting edit", data, r.pending)
			}
			// saved unchanged, the waiting edit stays, and the flash says so
			msg := finishEdit(f, editorDoneMsg{id: "T-4", path: r.path, orig: r.orig, pending: true}, "approved")()
			if a := msg.(actionMsg); !strings.Contains(a.text, "earlier one still waits") || len(f.decisions) != 0 {
				t.Fatalf("unchanged edit: %+v, decisions %+v", a, f.decisions)
			}
			return
		}
	}
	t.Fatalf("no editor opened: flash %q", m.flash)
}

// esc in the new-ticket form discards what was typed: the next n starts
// from the defaults, and a later ctrl+s cannot create text the user no
// longer sees.
func TestNewTicketEscDiscardsDraft(t *testing.T) {
	f := fixture()
	m := newTestModel(t, f, 120, 30)
	m = press(t, m, "n", "shift+tab", "l", "tab") // kind: hotfix
	m = typeText(t, m, "OLD-TITLE")
	m = press(t, m, "tab")
	m = typeText(t, m, "ffff")
	m = press(t, m, "tab", "y") // sensitive
	if n := m.dialogs[len(m.dialogs)-1].(newTicketForm).typed(); n.Title != "OLD-TITLE" || n.Body != "ffff" || n.Kind != "hotfix" || !n.Sensitive {
		t.Fatalf("the form did not take the keys: %+v", n)
	}
	// one esc asks first: a stray one would throw the text away; a key
	// other than esc goes on with the form
	m = press(t, m, "esc")
	if len(m.dialogs) != 1 || !strings.Contains(plain(m), escAgain) {
		t.Fatalf("one esc: dialogs %d\n%s", len(m.dialogs), plain(m))
	}
	m = press(t, m, "tab")
	if strings.Contains(plain(m), escAgain) {
		t.Fatal("the question stays after another key")
	}
	m = press(t, m, "esc", "esc")
	if len(m.dialogs) != 0 || len(f.added) != 0 {
		t.Fatalf("esc: dialogs %d, added %+v", len(m.dialogs), f.added)
	}
	m = press(t, m, "n")
	fm, ok := m.dialogs[len(m.dialogs)-1].(newTicketForm)
	if !ok || fm.typed() != (engine.NewTicket{Kind: "feature"}) || fm.field != fieldTitle {
		t.Fatalf("the next n is not a fresh form: %+v", fm.typed())
	}
	if out := plain(m); strings.Contains(out, "OLD-TITLE") || strings.Contains(out, "ffff") {
		t.Fatalf("the cancelled draft shows:\n%s", out)
	}
	m = typeText(t, m, "NEW")
	press(t, m, "ctrl+s")
	if len(f.added) != 1 || f.added[0] != (engine.NewTicket{Kind: "feature", Title: "NEW"}) {
		t.Fatalf("added %+v", f.added)
	}
}

// A body's lines stay lines in Documents (typed or pasted text more often
// than markdown); code blocks are kept.
func TestTicketBodyKeepsLineBreaks(t *testing.T) {
	out, err := newMDRenderer().render("step one\nstep two\n\n```\na\nb\n```\n", 60)
	if err != nil {
		t.Fatal(err)
	}
	plainOut := stripANSI(out)
	if strings.Contains(plainOut, "step one step two") || !strings.Contains(plainOut, "step two") {
		t.Errorf("rendered:\n%s", plainOut)
	}
}

// Dialog text breaks at spaces only: lipgloss alone would cut a branch
// name at its hyphen.
func TestWrapAtSpaces(t *testing.T) {
	got := wrapAtSpaces("This merges agent/T-6 into main.", 18)
	if got != "This merges\nagent/T-6 into\nmain." {
		t.Fatalf("%q", got)
	}
	if got := wrapAtSpaces("  indented line", 20); got != "  indented line" {
		t.Fatalf("%q", got)
	}
	if got := wrapAtSpaces("a verylongwordthatcannotfit", 10); got != "a\nverylongwo\nrdthatcann\notfit" {
		t.Fatalf("%q", got)
	}
	// an indented line too long for the width wraps under its indentation
	if got := wrapAtSpaces("  - src/main.go changed in both", 16); got != "  - src/main.go\n  changed in\n  both" {
		t.Fatalf("%q", got)
	}
}

// The file $EDITOR edits is made in the directory the UI is given (beside
// the database, where confined commands cannot read it).
func TestEditFileGoesToTheEditDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "edit")
	m := NewModel(fixture(), Options{Simulated: true, Repo: "/repo", Confinement: "x", EditDir: dir})
	m, _ = update(m, tea.WindowSizeMsg{Width: 100, Height: 30})
	m = settle(t, m, m.Init())
	m = press(t, m, "j", "j", "j")
	_, cmd := update(m, keyMsg("e"))
	ready := editorReady(cmd)
	if ready == nil || ready.err != nil || filepath.Dir(ready.path) != dir {
		t.Fatalf("edit file: %+v", ready)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("edit dir: %v %v", fi, err)
	}
}

// A zero-width joiner is dropped from what is shown: terminals disagree on
// whether it glues emoji into one glyph, and a row counted one way and
// drawn the other loses its border. A tab goes to the next tab stop.
func TestSanitizeDropsZeroWidthJoiners(t *testing.T) {
	family := "👨\u200d👩\u200d👧"
	if got := sanitize("a " + family + " b\tc"); got != "a 👨👩👧 b      c" {
		t.Fatalf("%q", got)
	}
	if got := sanitize("plain"); got != "plain" {
		t.Fatalf("%q", got)
	}
}

// editorReady is the editorReadyMsg among what cmd sends, or nil.
func editorReady(cmd tea.Cmd) *editorReadyMsg {
	var ready *editorReadyMsg
	for _, msg := range collect(cmd) {
		if r, ok := msg.(editorReadyMsg); ok {
			ready = &r
		}
	}
	return ready
}

// e pressed before the selected ticket's attempts are loaded (right after
// moving to it) opens the editor once they are in, instead of refusing.
func TestEditBeforeAttemptsLoadOpensOnceLoaded(t *testing.T) {
	m := newTestModel(t, fixture(), 100, 30)
	var pending []tea.Msg
	for _, k := range []string{"j", "j", "j"} { // T-4, needing a human
		var cmd tea.Cmd
		m, cmd = update(m, keyMsg(k))
		pending = append(pending, collect(cmd)...)
	}
	m, cmd := update(m, keyMsg("e"))
	if editorReady(cmd) != nil || !strings.Contains(m.flash, "the editor opens once they are in") {
		t.Fatalf("before the load: flash %q", m.flash)
	}
	var opened *editorReadyMsg
	for _, msg := range pending {
		if am, ok := msg.(attemptsMsg); ok && am.id == "T-4" {
			m, cmd = update(m, am)
			opened = editorReady(cmd)
		}
	}
	if opened == nil || opened.id != "T-4" {
		t.Fatalf("the editor did not open once T-4's attempts were in: %+v (flash %q)", opened, m.flash)
	}
}

// A pause asked of a running ticket says it waits for the step under way.
func TestPauseOfARunningTicketSaysItWaits(t *testing.T) {
	m := newTestModel(t, fixture(), 100, 30)
	m = press(t, m, "j", "p") // T-2 is running
	if s := statusRow(m); !strings.Contains(s, "pausing T-2 once its current step ends") {
		t.Fatalf("status line %q", s)
	}
	// the step ends and the ticket is paused: the flash is stale
	paused := *m.q.tickets["T-2"]
	paused.Paused = true
	m, _ = update(m, engine.Event{Type: engine.EvTicket, TicketID: "T-2", Ticket: &paused})
	if s := statusRow(m); strings.Contains(s, "pausing T-2") {
		t.Fatalf("status line once paused %q", s)
	}
}

// A provider that refused its key says so in the status line.
func TestRefusedKeyInTheStatusLine(t *testing.T) {
	f := fixture()
	f.health = []llm.ProviderHealth{{Name: "cloud", KeyRefused: "it refused the key in K (HTTP 401)"}}
	m := newTestModel(t, f, 150, 30)
	if s := statusRow(m); !strings.Contains(s, "cloud ✗ key refused") {
		t.Fatalf("status line %q", s)
	}
}

// Browsing a demo whose model is gone: the attempts are still labelled as
// the simulated model's, while the status line does not say one runs.
func TestBrowsingADemoKeepsTheSimulatedLabel(t *testing.T) {
	m := NewModel(fixture(), Options{Simulated: true, Repo: "/repo", NoModel: "the demo's model ended with its run"})
	m, _ = update(m, tea.WindowSizeMsg{Width: 150, Height: 42})
	m = settle(t, m, m.Init())
	out := plain(press(t, m, "3"))
	if !strings.Contains(out, "(simulated)") {
		t.Errorf("the history lost the simulated label:\n%s", out)
	}
	if s := statusRow(m); strings.Contains(s, "model: simulated") {
		t.Errorf("the status line says a simulated model runs: %q", s)
	}
}

// The selected ticket's status lines never break a word (a branch read as
// "agent/T-" and "5"): whatever the length of the reason, at any size,
// each word shows whole or cut with "…", and progress and cost are whole.
func TestTicketInfoNeverBreaksAWord(t *testing.T) {
	for _, size := range [][2]int{{150, 42}, {80, 24}, {100, 14}, {60, 20}} {
		for k := 0; k <= 60; k++ {
			f := fixture()
			tk := f.tickets[4] // T-5: discovery 1/9 · $0.000
			tk.Status, tk.Branch = store.StatusNeedsHuman, "agent/T-5"
			tk.Reason = "every provider failed" + strings.Repeat(" retried", k) + ": nothing was sent"
			m := newTestModel(t, f, size[0], size[1])
			m = press(t, m, "j", "j", "j", "j")
			if m.q.selectedID() != "T-5" {
				t.Fatalf("selected %s", m.q.selectedID())
			}
			out := checkFrame(t, m, size[0], size[1])
			info := m.layout().info
			full := "needs human: " + tk.Reason + " · discovery 1/9 · $0.000 · agent/T-5"
			known := map[string]bool{}
			for _, w := range strings.Fields(full) {
				known[w] = true
			}
			shown := strings.Join(info, "\n")
			for _, w := range strings.Fields(shown) {
				if !known[w] && !strings.HasSuffix(w, "…") {
					t.Fatalf("%dx%d, %d words: %q is not a whole word:\n%s", size[0], size[1], k, w, shown)
				}
			}
			for _, l := range info {
				if !strings.Contains(out, l) {
					t.Fatalf("%dx%d: info line %q not drawn:\n%s", size[0], size[1], l, out)
				}
				if strings.HasPrefix(l, "·") {
					t.Fatalf("%dx%d: a line starts with the separator:\n%s", size[0], size[1], shown)
				}
			}
			want := "discovery 1/9 · $0.000"
			if size[0] < 100 {
				want = "$0.000" // a narrow pane gives up the progress before the cost
			}
			if !strings.Contains(shown, want) {
				t.Fatalf("%dx%d, %d words: %q not whole in\n%s", size[0], size[1], k, want, shown)
			}
		}
	}
}

// A merged ticket says where its work went: the merge commit, short, as
// git log shows it, beside the branch while there is room; a narrow pane
// gives up the branch first.
func TestMergedTicketNamesItsMerge(t *testing.T) {
	f := fixture()
	tk := f.tickets[4] // T-5
	tk.Status, tk.Branch, tk.BaseBranch = store.StatusDone, "agent/T-5", "main"
	tk.Merged = "f475ce03a04581c82cf2621f8e3eb8c15a4f731d"
	m := newTestModel(t, f, 150, 42)
	m = press(t, m, "j", "j", "j", "j")
	out := checkFrame(t, m, 150, 42)
	if !strings.Contains(out, "merged f475ce0 into main · agent/T-5") {
		t.Fatalf("no merge named:\n%s", out)
	}
	m = newTestModel(t, f, 80, 24)
	m = press(t, m, "j", "j", "j", "j")
	out = checkFrame(t, m, 80, 24)
	if !strings.Contains(strings.Join(m.layout().info, "\n"), "merged f475ce0 into main") {
		t.Fatalf("the merge given up before the branch at 80 columns:\n%s", out)
	}
}

// The separators are measured in cells ("·" is two bytes, one cell), and
// progress and cost too wide to stay together on a line are not cut
// (review: a line that fitted was cut; "$0" and ".421" on two lines).
func TestInfoFitsByCells(t *testing.T) {
	if got, want := fitInfo("awaiting approval", "a reason", "review 8/9", "$0.421", nil, 39), "awaiting approval · review 8/9 · $0.421"; got != want {
		t.Errorf("%q, want %q (it fits)", got, want)
	}
	for _, l := range wrapInfo("needs human: stopped", []string{"review 8/9", "$0.421"}, 15) {
		if strings.Contains(l, "$") && !strings.Contains(l, "$0.421") {
			t.Errorf("the cost is split: %q", wrapInfo("needs human: stopped", []string{"review 8/9", "$0.421"}, 15))
		}
	}
}

// A flash never pushes the status line's fields out: at 150 columns, with
// a paused ticket and one waiting for a slot, "created T-8" goes on a row
// of its own and the counts, spend, providers and sandbox all stay.
func TestFlashKeepsTheStatusFields(t *testing.T) {
	f := fixture()
	f.tickets[4].Paused = true // T-5, queued
	f.slotWaiters = []string{"T-2"}
	m := newTestModel(t, f, 150, 42)
	m = press(t, m, "n")
	m = typeText(t, m, "Flash")
	m = press(t, m, "ctrl+s")
	if m.flash != "created T-8" {
		t.Fatalf("flash %q", m.flash)
	}
	checkFrame(t, m, 150, 42)
	status := statusArea(m)
	line := status[len(status)-1]
	if !strings.Contains(statusRow(m), "created T-8") {
		t.Errorf("the flash is not shown: %q", status)
	}
	for _, want := range []string{"› 0 running", "waiting for a slot", "‖ 1 paused", "! 2 waiting", "$2.031 spent", "sim ✓ backup cooling", "sandbox: bwrap"} {
		if !strings.Contains(line, want) {
			t.Errorf("status line %q misses %q", line, want)
		}
	}
	if strings.Contains(line, "…") {
		t.Errorf("status line cut: %q", line)
	}
}

// A flash shares the status line when it fits beside the fields as they
// are drawn without it: a field the width has already left out (here the
// sandbox, at 80 columns) does not send the flash to a row of its own.
func TestFlashSharesWhatTheLineLeaves(t *testing.T) {
	f := fixture()
	f.health = f.health[:1] // sim ✓
	m := newTestModel(t, f, 80, 24)
	m.confinement = "bubblewrap: read-only root"
	line := statusRow(m)
	if strings.Contains(line, "sandbox") {
		t.Fatalf("the sandbox fits at 80 columns after all: %q", line)
	}
	m = press(t, m, "a", "y")
	if s := statusArea(m); len(s) != 1 || !strings.HasPrefix(s[0], " approved T-1 │ "+strings.TrimSpace(line)) {
		t.Fatalf("status rows %q, want the flash before %q", s, line)
	}
}

// A narrow status line leaves out or shortens whole fields, never cuts a
// figure: the spend, the counts and the providers in trouble stay
// readable at every width, with a flash or without.
func TestNarrowStatusLineKeepsTheFigures(t *testing.T) {
	m := newTestModel(t, fixture(), 60, 20)
	if line := statusRow(m); !strings.Contains(line, "$2.031") || strings.Contains(line, "…") {
		t.Fatalf("60 columns: status line %q", line)
	}
	for w := minWidth; w <= 170; w++ {
		m := newTestModel(t, fixture(), w, 20)
		for _, flash := range []bool{false, true} {
			if flash {
				m = press(t, m, "a", "y") // approved T-1
			}
			status := statusArea(m)
			line := status[len(status)-1]
			if stringWidth(line) > w || strings.Contains(line, "…") {
				t.Fatalf("width %d: status line %q", w, line)
			}
			for _, want := range []string{"› 1", "! 2", "$2.031"} {
				if !strings.Contains(line, want) {
					t.Fatalf("width %d: status line %q misses %q", w, line, want)
				}
			}
			if w >= 50 && !strings.Contains(line, "backup") {
				t.Fatalf("width %d: status line %q misses the provider in trouble", w, line)
			}
			if flash && !strings.Contains(strings.Join(status, " "), "approved T-1") {
				t.Fatalf("width %d: the flash is not shown: %q", w, status)
			}
		}
	}
}

// A demo reopened after its run says so in a few plain words, in the
// notice and for good on the status line, not as a chain of colons that
// the first news replaces.
func TestReopenedDemoSaysItEnded(t *testing.T) {
	m := NewModel(fixture(), Options{Simulated: true, NoModel: "/x/.agent-tui.toml is the config of an `agent-tui --demo` run, whose simulated model ended with it: run `agent-tui --demo` for a new demo", Confinement: "none"})
	m, _ = update(m, tea.WindowSizeMsg{Width: 150, Height: 30})
	m = settle(t, m, m.Init())
	s := statusArea(m)
	if !strings.Contains(strings.Join(s, "\n"), "this demo's simulated model ended with its run") || !strings.Contains(s[len(s)-1], "demo ended: browsing only") || strings.Contains(s[len(s)-1], "simulated") {
		t.Fatalf("status rows %q", s)
	}
	m = press(t, m, "p") // news of its own replaces the notice
	if s := statusRow(m); !strings.Contains(s, "demo ended: browsing only") {
		t.Fatalf("status line after news %q", s)
	}
}
