package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"agent-tui/engine"
	"agent-tui/store"
)

// checkBorders fails unless every row of the frame is exactly w cells and
// ends on a border, h rows in all: a row counted one way and drawn another
// moves or loses its border.
func checkBorders(t *testing.T, m Model, w, h int, what string) string {
	t.Helper()
	out := plain(m)
	lines := strings.Split(out, "\n")
	if len(lines) != h {
		t.Fatalf("%s: frame is %d lines, want %d:\n%s", what, len(lines), h, out)
	}
	for i, l := range lines[:h-2] { // the status line and help bar have none
		if sw := stringWidth(l); sw != w || !strings.HasSuffix(l, "│") && !strings.HasSuffix(l, "╮") && !strings.HasSuffix(l, "╯") {
			t.Fatalf("%s: row %d is %d cells or lost its border: %q\n%s", what, i, sw, l, out)
		}
	}
	return out
}

// A multi-line objection, check command or model name takes rows of its
// own in History and CI: a "\n" inside a row pushed the status line and
// the help bar off the screen.
func TestMultiLineTextKeepsTheFrame(t *testing.T) {
	f := fixture()
	for _, a := range f.attempts["T-1"] {
		if a.Verdict != nil && len(a.Verdict.Objections) > 0 {
			a.Verdict.Objections[0] = "multi\nline\nobjection\twith tab"
		}
		for i := range a.Checks {
			a.Checks[i].Command = "set -e\ngo vet ./...\ngo test ./..."
			a.Checks[i].Name = "two\nlines"
		}
		a.Error = "first\nsecond"
	}
	f.tickets[0].Title = "title\non two lines"
	f.tickets[0].Reason = "reason\nin lines"
	for _, size := range [][2]int{{100, 40}, {80, 24}} {
		for _, tab := range []string{"1", "2", "3", "4", "5"} {
			m := newTestModel(t, f, size[0], size[1])
			m = press(t, m, tab)
			out := checkBorders(t, m, size[0], size[1], fmt.Sprintf("%dx%d tab %s", size[0], size[1], tab))
			if !strings.Contains(out, "? help") {
				t.Fatalf("tab %s lost the help bar:\n%s", tab, out)
			}
			if tab == "3" && size[0] == 100 && (!strings.Contains(out, "│    - multi ") || !strings.Contains(out, "│      line ")) {
				t.Fatalf("the objection's lines do not hang under it:\n%s", out)
			}
			if tab == "5" && (!strings.Contains(out, "│$ set -e ") || !strings.Contains(out, "│  go vet ./... ")) {
				t.Fatalf("the command's lines are not rows:\n%s", out)
			}
		}
	}
}

// Emoji whose width terminals disagree on (tmux 3.3a draws ☀️ and 1️⃣ in
// one cell, 👍🏽 in four) are drawn without what makes them disagree, so
// the borders stay where the layout counted them, wherever they show.
func TestEmojiKeepTheBorders(t *testing.T) {
	const emoji = "emoji 😀👍🏽🇫🇷 keycap 1️⃣ sun ☀️ zwj 👨\u200d👩\u200d👧 flag 🏴\U000E0067\U000E0062\U000E0073\U000E0063\U000E0074\U000E007F end"
	if got, want := sanitize(emoji), "emoji 😀👍🇫🇷 keycap 1 sun ☀ zwj 👨👩👧 flag 🏴 end"; got != want {
		t.Fatalf("sanitize = %q, want %q", got, want)
	}
	// a lone regional indicator is one cell to tmux, two to others; a
	// pair is a flag to all
	if got, want := sanitize("a🇫 b🇫🇷🇩 c🇫🇷🇩🇪"), "a b🇫🇷 c🇫🇷🇩🇪"; got != want {
		t.Fatalf("sanitize = %q, want %q", got, want)
	}
	s := newStreamBuf("")
	for _, piece := range []string{"x🇫", "🇷 🇩", "\n"} {
		s.Append(piece)
	}
	if got := s.line(0); got != "x🇫🇷 " {
		t.Fatalf("a flag across deltas: %q", got)
	}
	f := fixture()
	f.tickets[0].Title = emoji
	f.tickets[0].Body = emoji
	for _, a := range f.attempts["T-1"] {
		a.Stream = emoji + "\n"
		a.Deliverable = "# " + emoji + "\n\n" + emoji
		for i := range a.Checks {
			a.Checks[i].Output = emoji
		}
		if a.Verdict != nil && len(a.Verdict.Objections) > 0 {
			a.Verdict.Objections[0] = emoji
		}
	}
	f.diffs["T-1"] = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-" + emoji + "\n+" + emoji + "!\n"
	for _, size := range [][2]int{{150, 42}, {80, 24}} {
		for _, tab := range []string{"1", "2", "3", "4", "5"} {
			m := newTestModel(t, f, size[0], size[1])
			m = press(t, m, tab)
			out := checkBorders(t, m, size[0], size[1], fmt.Sprintf("%dx%d tab %s", size[0], size[1], tab))
			for _, bad := range []string{"\ufe0f", "\u20e3", "\U0001F3FD", "\u200d", "\U000E0067"} {
				if strings.Contains(out, bad) {
					t.Fatalf("tab %s draws %q", tab, bad)
				}
			}
		}
	}
}

// Colours in a command's output are removed whole, not left as "[32m"; so
// are sequences cut between two streamed deltas.
func TestEscapeSequencesGoWhole(t *testing.T) {
	in := "\x1b[1;32mPASS\x1b[0m ok \x1b]8;;http://x/\x1b\\link\x1b]8;;\x1b\\ \x1b]0;title\x07\x1b(Bdone\x1b[?25l"
	if got := sanitize(in); got != "PASS ok link done" {
		t.Fatalf("sanitize = %q", got)
	}
	// a string not ended hides no more than its line
	if got := sanitize("a\x1b]0;title\nnext"); got != "a\nnext" {
		t.Fatalf("unended OSC: %q", got)
	}
	f := fixture()
	f.attempts["T-1"][6].Checks[0].Output = "\x1b[32mok\x1b[0m green"
	m := newTestModel(t, f, 100, 30)
	m = press(t, m, "5")
	if out := plain(m); !strings.Contains(out, "│ok green") || strings.Contains(out, "[32m") || strings.Contains(out, "[0m") {
		t.Fatalf("the CI tab:\n%s", out)
	}
	m = newTestModel(t, fixture(), 100, 30)
	m = press(t, m, "j", "1")
	m, _ = update(m, eventsMsg{
		{Type: engine.EvDelta, TicketID: "T-2", Seq: 11, Text: "\n← \x1b[3"},
		{Type: engine.EvDelta, TicketID: "T-2", Seq: 11, Text: "1mred\x1b]0;ti"},
		{Type: engine.EvDelta, TicketID: "T-2", Seq: 11, Text: "tle\x07 shown\x1b"},
		{Type: engine.EvDelta, TicketID: "T-2", Seq: 11, Text: "[0m end\n"},
	})
	if out := plain(m); !strings.Contains(out, "│← red shown end") {
		t.Fatalf("the stream:\n%s", out)
	}
}

// A carriage return keeps what a terminal would show, the text after it,
// in the CI tab and the stream alike; before a line break it is the line's
// end (CRLF).
func TestCarriageReturnsAsATerminal(t *testing.T) {
	const progress = "0%\rdownloading [#   ] 10%\rdownloading [####] 100%\r\nnext\r\n"
	if got := sanitize("x\n" + progress); got != "x\ndownloading [####] 100%\nnext\n" {
		t.Fatalf("sanitize = %q", got)
	}
	f := fixture()
	f.attempts["T-1"][6].Checks[0].Output = progress
	m := newTestModel(t, f, 100, 30)
	m = press(t, m, "5")
	if out := plain(m); !strings.Contains(out, "│downloading [####] 100%  ") || strings.Contains(out, "10%") {
		t.Fatalf("the CI tab:\n%s", out)
	}
	// the stream, each piece its own delta: a CR at a delta's end waits
	// for what comes next
	m = newTestModel(t, fixture(), 100, 30)
	m = press(t, m, "j", "1")
	var evs eventsMsg
	for _, piece := range []string{"\n0%\r", "downloading [#   ] 10%\r", "downloading [####] 100%\r", "\nnext\r", "\n"} {
		evs = append(evs, engine.Event{Type: engine.EvDelta, TicketID: "T-2", Seq: 11, Text: piece})
	}
	m, _ = update(m, evs)
	out := plain(m)
	if !strings.Contains(out, "│downloading [####] 100%  ") || strings.Contains(out, "10%") || !strings.Contains(out, "│next  ") {
		t.Fatalf("the stream:\n%s", out)
	}
}

// A backspace takes back the character before it, as a terminal shows it
// once the next one is written over it: a spinner's frames, overstrike.
func TestBackspacesAsATerminal(t *testing.T) {
	for in, want := range map[string]string{
		"working |\b/\b-\b\\\bdone": "working done",
		"_\bA _\bB":                 "A B",
		"\bstart":                   "start",
		"line\n\bnext":              "line\nnext",
		"é\be":                      "e",
		"a\tb\b\b\bX\tY":            "a     X Y",
	} {
		if got := sanitize(in); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
		s := newStreamBuf("")
		for _, r := range in {
			s.Append(string(r))
		}
		var lines []string
		for i := range s.Len() {
			lines = append(lines, s.line(i))
		}
		if got := strings.Join(lines, "\n"); got != want {
			t.Errorf("streamed %q = %q, want %q", in, got, want)
		}
	}
}

// A tab goes to the next tab stop in the stream too, across deltas.
func TestStreamTabStops(t *testing.T) {
	s := newStreamBuf("")
	for _, piece := range []string{"ab", "\tc", "\t", "d\n"} {
		s.Append(piece)
	}
	if got := s.line(0); got != "ab      c       d" {
		t.Fatalf("%q", got)
	}
	// from the line's start, after lines with no tab
	if got := sanitize("first line\nab\tc"); got != "first line\nab      c" {
		t.Fatalf("%q", got)
	}
}

// An objection that opens a code fence is held in its own list item: the
// objections and the reviewer's words after it read as text.
func TestReviewObjectionFenceIsContained(t *testing.T) {
	a := &store.Attempt{Deliverable: "The reviewer's own words AFTER.", Verdict: &store.Verdict{Objections: []string{
		"unclosed fence:\n```go\nfunc x() {", "SECOND objection"}}}
	md := docText("review", a)
	out, err := newMDRenderer().render(md, 80)
	if err != nil {
		t.Fatal(err)
	}
	out = stripANSI(out)
	if !strings.Contains(out, "• SECOND objection") || strings.Contains(out, "- SECOND") || !strings.Contains(out, "func x() {") {
		t.Fatalf("rendered:\n%s", out)
	}
	if i := strings.Index(out, "AFTER"); i < 0 || strings.Contains(strings.TrimSpace(out[strings.LastIndex(out[:i], "\n")+1:i]), "│") {
		t.Fatalf("rendered:\n%s", out)
	}
}

// A carriage return in words (an objection, a title) breaks the line: a
// terminal would write what follows over what came before, and lose it.
func TestCarriageReturnInWordsKeepsWhatCameBefore(t *testing.T) {
	f := fixture()
	for _, a := range f.attempts["T-1"] {
		if a.Verdict != nil && len(a.Verdict.Objections) > 0 {
			a.Verdict.Objections[0] = "the part before\rthe part after"
		}
	}
	f.tickets[0].Title = "title before\rtitle after"
	m := newTestModel(t, f, 120, 40)
	m = press(t, m, "3")
	out := checkBorders(t, m, 120, 40, "history")
	for _, want := range []string{"the part before", "the part after", "title before title after"} {
		if !strings.Contains(out, want) {
			t.Fatalf("%q is not shown:\n%s", want, out)
		}
	}
	// a command's output is a terminal's: a progress bar keeps its last state
	if got := sanitize("10%\r100%\n"); got != "100%\n" {
		t.Fatalf("sanitize(progress) = %q", got)
	}
}

// Once the terminal's size holds, the screen is drawn whole again: a
// frame written while a window was dragged shows cut or wrapped, and
// drawing changes only would keep it so. Sizes that follow each other
// faster than that draw it once, after the last.
func TestScreenRedrawnOnceTheSizeHolds(t *testing.T) {
	m := newTestModel(t, fixture(), 100, 30)
	stub := after
	defer func() { after = stub }()
	var settled []tea.Msg
	after = func(d time.Duration, fn func(time.Time) tea.Msg) tea.Cmd {
		if msg, ok := fn(time.Time{}).(resizeSettledMsg); ok && d == resizeSettle {
			settled = append(settled, msg)
		}
		return nil
	}
	for _, size := range []tea.WindowSizeMsg{{Width: 60, Height: 20}, {Width: 200, Height: 60}} {
		m, _ = update(m, size)
	}
	if len(settled) != 2 {
		t.Fatalf("settle timers: %v", settled)
	}
	clear := fmt.Sprintf("%T", tea.ClearScreen())
	for i, msg := range settled {
		var cmd tea.Cmd
		m, cmd = update(m, msg)
		last := i == len(settled)-1
		if got := cmd != nil && fmt.Sprintf("%T", cmd()) == clear; got != last {
			t.Errorf("settled size %d of %d: screen cleared %v", i+1, len(settled), got)
		}
	}
}

// What terminals draw at different widths (a skin tone: 👍🏽 is four cells
// to tmux, two to the layout) is left out where typed text is drawn, as
// everywhere else, so the form's border stays where the layout put it;
// the ticket keeps what was typed.
func TestTypedTextDrawsAsTheLayoutCounts(t *testing.T) {
	f := fixture()
	m := newTestModel(t, f, 100, 30)
	m = press(t, m, "n")
	m = typeText(t, m, "ok 👍🏽 1️⃣ 👨‍💻 done")
	m = press(t, m, "tab")
	m = typeText(t, m, "body 👍🏽 👩‍👩‍👧")
	out := plain(m)
	if !strings.Contains(out, "ok 👍 1 👨 done") || !strings.Contains(out, "body 👍 👩") || strings.ContainsAny(out, "\U0001F3FD\ufe0f\u20e3\u200d💻👧") {
		t.Fatalf("the form:\n%s", out)
	}
	press(t, m, "ctrl+s")
	if len(f.added) != 1 || f.added[0].Title != "ok 👍🏽 1️⃣ 👨‍💻 done" || f.added[0].Body != "body 👍🏽 👩‍👩‍👧" {
		t.Fatalf("added %+v", f.added)
	}
}
