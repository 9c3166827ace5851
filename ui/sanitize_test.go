package ui

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"agent-tui/engine"
)

// payload drives a terminal if drawn raw: a C1 CSI that hides text, a C1
// OSC that sets the title, their 7-bit ESC forms, and bidi overrides.
const payload = "x\u009b8m\u009d0;owned\u009c\x1b]0;owned\x07\x1b[8m\u202eevil\u2066\u200fy\u0085"

// controls lists what in a rendered frame a terminal would obey: C1
// controls, bidi controls, and the payload's escape sequences (the frame's
// own are styling).
func controls(frame string) []string {
	var bad []string
	for _, r := range frame {
		switch {
		case r >= 0x80 && r <= 0x9f, r == 0x061c, r == 0x200e, r == 0x200f,
			r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
			bad = append(bad, fmt.Sprintf("U+%04X", r))
		}
	}
	for _, seq := range []string{"\x1b[8m", "\x1b]0;"} {
		if strings.Contains(frame, seq) {
			bad = append(bad, fmt.Sprintf("%q", seq))
		}
	}
	return bad
}

func requireClean(t *testing.T, m Model, what string) {
	t.Helper()
	v := m.View().Content
	if bad := controls(v); len(bad) > 0 {
		t.Fatalf("%s draws %v:\n%s", what, bad, plain(m))
	}
	if !strings.Contains(v, "<U+202E>") {
		t.Fatalf("%s does not show the bidi override:\n%s", what, plain(m))
	}
}

func TestSanitizeC1AndBidi(t *testing.T) {
	// each escape sequence goes whole, C1 or ESC: no "[8m" is left
	if got, want := sanitize(payload), "x<U+202E>evil<U+2066><U+200F>y"; got != want {
		t.Fatalf("sanitize = %q, want %q", got, want)
	}
	if got := sanitize("ar\u061cab"); got != "ar<U+061C>ab" {
		t.Fatalf("%q", got)
	}
	// what is kept: text in other scripts, arrows, NBSP (U+00A0 is 0xC2 0xA0)
	for _, s := range []string{"→ read_file ←", "naïve café € 日本", "a\u00a0b", "\u2028"} {
		if got := sanitize(s); got != s {
			t.Fatalf("sanitize(%q) = %q", s, got)
		}
	}
	// a dropped byte does not join its neighbours into a control
	for _, s := range []string{"\xc2\x1b\x9b8m", "\xc2\u200d\x9b", "\xe2\x1b\x80\xae"} {
		if bad := controls(sanitize(s)); len(bad) > 0 {
			t.Fatalf("sanitize(%q) = %q", s, sanitize(s))
		}
	}
}

// Streamed text, a control cut between two deltas included.
func TestStreamDrawsNoControls(t *testing.T) {
	m := newTestModel(t, fixture(), 100, 30)
	m = press(t, m, "j", "1")
	c1 := "\u009b"
	m, _ = update(m, eventsMsg{
		{Type: engine.EvDelta, TicketID: "T-2", Seq: 11, Text: "\n" + payload + " cut " + c1[:1]},
		{Type: engine.EvDelta, TicketID: "T-2", Seq: 11, Text: c1[1:] + "8m after"},
	})
	requireClean(t, m, "the stream")
	if v := plain(m); !strings.Contains(v, "cut  after") {
		t.Fatalf("the text around the cut sequence is lost, or its end shown:\n%s", v)
	}
}

// Diff lines with no tab, CR or ESC were drawn as they came.
func TestDiffDrawsNoControls(t *testing.T) {
	f := fixture()
	f.diffs["T-1"] = "diff --git a/x.go b/x.go\n--- a/x.go\n+++ b/x.go\n@@ -1 +1 @@\n" +
		"-\tok := isAdmin\n+ok := isAdmin \u202e} \u2066// admin\u2069 {\n+\u009b8mhidden\u009dtitle\u009c\n+\x1b[8mhidden\n"
	m := newTestModel(t, f, 100, 30)
	m = press(t, m, "4")
	requireClean(t, m, "the diff")
}

// Markdown: glamour decodes character references after sanitize has run.
func TestDocumentsDrawNoControls(t *testing.T) {
	f := fixture()
	f.attempts["T-1"][0].Deliverable = "# Spec " + payload + "\n\nraw " + payload +
		"\n\nrefs &#27;[8m &#x1b;]0;owned&#7; &#x9b;8m &#x202E; &#8294; &rlm; `&#x202e;` [l](http://x/&#x202e;)"
	m := newTestModel(t, f, 100, 40)
	m = press(t, m, "2")
	requireClean(t, m, "the documents")
}

// Every other place that draws stored text: titles, reasons, branches,
// models, errors, checks, dialogs.
func TestViewsDrawNoControls(t *testing.T) {
	f := fixture()
	tk := f.tickets[0] // T-1, selected first
	tk.Title, tk.Reason, tk.Branch, tk.BaseBranch = "title "+payload, "reason "+payload, "agent/"+payload, "main"+payload
	tk.Conflicts = []string{"a" + payload}
	for _, a := range f.attempts["T-1"] {
		a.Model, a.Provider, a.Error = "model"+payload, "prov"+payload, "err "+payload
		a.Stream = payload + "\n"
		if a.Verdict != nil {
			a.Verdict.By = "by" + payload
		}
		for i := range a.Checks {
			c := &a.Checks[i]
			c.Name, c.Command, c.Output = "check "+payload, "cmd "+payload, "out "+payload
		}
	}
	f.models[1].Name = "mid" + payload
	// the five tabs, then the approve, cancel, reject and model dialogs
	for _, key := range []string{"1", "2", "3", "4", "5", "a", "x", "r", "m"} {
		m := newTestModel(t, f, 120, 40)
		m = press(t, m, key)
		if key >= "a" && len(m.dialogs) == 0 {
			t.Fatalf("%s opened no dialog:\n%s", key, plain(m))
		}
		if bad := controls(m.View().Content); len(bad) > 0 {
			t.Fatalf("after %s the view draws %v:\n%s", key, bad, plain(m))
		}
	}
}

// A diff line of a megabyte (a minified file) is kept to its first 8 KiB,
// saying how much more there is: drawn whole, every frame and every step
// sideways took a second. A name git quoted reads as the name.
func TestDiffLongLinesAndQuotedNames(t *testing.T) {
	long := "+" + strings.Repeat("é", 600_000) + "NEEDLE"
	d := parseDiff("diff --git \"a/new\\nline.txt\" \"b/new\\nline.txt\"\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n" + long + "\n")
	if len(d.names) != 1 || d.names[0] != "new↵line.txt" {
		t.Fatalf("names %q", d.names)
	}
	last := d.lines[len(d.lines)-1]
	if len(last) > maxDiffLine+100 || !strings.Contains(last, "more bytes on this line: see git diff") || !utf8.ValidString(last) {
		t.Fatalf("long line kept as %d bytes: %q", len(last), last[len(last)-80:])
	}
	m := newTestModel(t, fixture(), 100, 30)
	m.diffs["T-1"] = d
	m = press(t, m, "4")
	for range 5 {
		m = press(t, m, "l")
	}
	checkFrame(t, m, 100, 30)
}
