package ui

import (
	"fmt"
	"strings"
	"testing"
)

// A change of line ending or of a tab to spaces shows: the removed and
// added lines do not read the same.
func TestDiffShowsWhitespaceChanges(t *testing.T) {
	d := parseDiff("diff --git a/crlf.txt b/crlf.txt\n--- a/crlf.txt\n+++ b/crlf.txt\n@@ -1,2 +1,2 @@\n-alpha\n-beta\n+alpha\r\n+beta\r\n" +
		"diff --git a/tabs.c b/tabs.c\n--- a/tabs.c\n+++ b/tabs.c\n@@ -1,3 +1,3 @@\n-\treturn 1;\n-x = 1; \n+        return 1;\n+x = 1;\n \tkeep\n")
	want := []string{"-alpha", "-beta", "+alpha␍", "+beta␍", "-→      return 1;", "-x = 1;·", "+        return 1;", "+x = 1;", "        keep"}
	var got []string
	for i, l := range d.lines {
		if k := d.kinds[i]; k == '+' || k == '-' || k == ' ' {
			got = append(got, l)
		}
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Bytes that are no UTF-8 (a Latin-1 file) show as replacement marks, not
// as nothing; a soft hyphen, which terminals count differently, goes.
func TestDiffShowsInvalidBytes(t *testing.T) {
	d := parseDiff("diff --git a/l.txt b/l.txt\n--- a/l.txt\n+++ b/l.txt\n@@ -0,0 +1 @@\n+na\xefve fa\xe7ade co\u00adop\n")
	if got := d.lines[len(d.lines)-1]; got != "+na\uFFFDve fa\uFFFDade coop" {
		t.Fatalf("%q", got)
	}
}

// Only a file's header block is drawn as its header: in a hunk, a removed
// SQL comment ("--- old") and an added "++ x" are a removed and an added
// line.
func TestDiffHeadersOnlyOutsideHunks(t *testing.T) {
	d := parseDiff("diff --git a/q.sql b/q.sql\nindex 1..2 100644\n--- a/q.sql\n+++ b/q.sql\n@@ -1,3 +1,3 @@\n--- old\n+++ x\n context\n-a\n+b\n" +
		"diff --git a/r b/r\n--- a/r\n+++ b/r\n@@ -1 +1 @@\n---\n++++\n")
	if got, want := string(d.kinds), "ffff@-+ -+fff@-+"; got != want {
		t.Fatalf("kinds %q, want %q", got, want)
	}
	st := newStyles()
	rows := d.window(&st, 80, len(d.lines))
	if rows[5] != st.diffDel.Render("--- old") || rows[6] != st.diffAdd.Render("+++ x") {
		t.Fatalf("drawn %q %q", rows[5], rows[6])
	}
}

// Scrolled far right on a long line, a move up or down to shorter lines
// brings the view back as far as they need: the pane is never blank with
// text on its lines. 0 goes back to column 1.
func TestDiffVerticalMovesKeepTheColumnInRange(t *testing.T) {
	f := fixture()
	var b strings.Builder
	b.WriteString("diff --git a/min.js b/min.js\n--- a/min.js\n+++ b/min.js\n@@ -1,60 +1,60 @@\n+" + strings.Repeat("x", 5000) + "\n")
	for i := range 80 {
		fmt.Fprintf(&b, "+short %d\n", i)
	}
	f.diffs["T-1"] = b.String()
	const w, h = 100, 30
	m := newTestModel(t, f, w, h)
	m = press(t, m, "4", "tab")
	d := m.diffs["T-1"]
	for range 300 {
		m = press(t, m, "l")
	}
	if d.left == 0 {
		t.Fatal("did not scroll")
	}
	shown := func(what string) {
		t.Helper()
		l := m.layout()
		if widest := d.widest(l.contentH); d.left > 0 && d.left >= widest {
			t.Fatalf("after %s: col %d past the widest line shown (%d):\n%s", what, d.left+1, widest, plain(m))
		}
		if out := plain(m); !strings.Contains(out, "short") && !strings.Contains(out, "xxxxxxxxxx") {
			t.Fatalf("after %s the pane is blank:\n%s", what, plain(m))
		}
	}
	for _, k := range []string{"end", "home", "pgdown", "pgup", "j", "k"} {
		m = press(t, m, "home")
		for range 300 {
			m = press(t, m, "l")
		}
		m = press(t, m, k)
		if k == "home" || k == "pgup" || k == "k" {
			m = press(t, m, "pgdown")
		}
		shown(k)
	}
	m = press(t, m, "home")
	for range 300 {
		m = press(t, m, "l")
	}
	m = press(t, m, "0")
	if d.left != 0 || !strings.Contains(plain(m), "│+xxxx") {
		t.Fatalf("0: left %d\n%s", d.left, plain(m))
	}
}

// At 80 columns a long file name gives up its start, down to a few
// characters, so that the line and column are whole in the Diff header.
func TestDiffHeaderKeepsTheLineAndColumn(t *testing.T) {
	f := fixture()
	var b strings.Builder
	name := "internal/some/deeply/nested/package/with_a_long_name.go"
	for i := range 12 {
		fmt.Fprintf(&b, "diff --git a/%d%s b/%d%s\n--- a/x\n+++ b/x\n@@ -1 +1,9000 @@\n", i, name, i, name)
		b.WriteString("+" + strings.Repeat("y", 5000) + "\n")
		b.WriteString(strings.Repeat("+\n", 8999))
	}
	f.diffs["T-1"] = b.String()
	m := newTestModel(t, f, 80, 24)
	m = press(t, m, "4")
	if out := plain(m); !strings.Contains(out, "· line 1/108048 · col 1/5001") {
		t.Fatalf("header:\n%s", out)
	}
}
