package ui

import (
	"context"
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"agent-tui/engine"
	"agent-tui/store"
)

// benchStream is n bytes of model output: prose and tool-call lines.
func benchStream(n int) string {
	var b strings.Builder
	for i := 0; b.Len() < n; i++ {
		if i%10 == 0 {
			fmt.Fprintf(&b, "→ read_file {\"path\":\"pkg/file%d.go\"}\n← package pkg // %d lines\n", i, i)
			continue
		}
		fmt.Fprintf(&b, "Line %d of the streamed answer, long enough to wrap on a narrow pane at times.\n", i)
	}
	return b.String()[:n]
}

// benchModel has n tickets, the first selected with a stream of size bytes.
func benchModel(b *testing.B, n, size int) Model {
	f := &fakeBackend{attempts: map[string][]*store.Attempt{}, diffs: map[string]string{}}
	statuses := []string{store.StatusRunning, store.StatusAwaiting, store.StatusQueued, store.StatusDone, store.StatusNeedsHuman}
	for i := 1; i <= n; i++ {
		f.tickets = append(f.tickets, &store.Ticket{
			ID: fmt.Sprintf("T-%d", i), Kind: "feature", Title: fmt.Sprintf("Ticket number %d with a reasonably long title", i),
			Status: statuses[i%len(statuses)], Phase: "code", CostUSD: float64(i) / 100, Phases: phases("feature", "code", store.PhaseRunning),
		})
	}
	f.tickets[0].Status = store.StatusRunning
	f.attempts["T-1"] = []*store.Attempt{{Seq: 1, Phase: "code", N: 1, Model: "mid", Started: t0, Stream: benchStream(size)}}
	m := newTestModel(b, f, 150, 42)
	if m.q.selectedID() != "T-1" || m.data["T-1"].streams[1] == nil {
		b.Fatal("the big stream is not selected")
	}
	return m
}

func BenchmarkView1000Tickets5MBStream(b *testing.B) {
	m := benchModel(b, 1000, 5<<20)
	b.ReportAllocs()
	for b.Loop() {
		_ = m.View()
	}
}

func benchAppend(b *testing.B, size int) {
	m := benchModel(b, 1000, size)
	ev := engine.Event{Type: engine.EvDelta, TicketID: "T-1", Seq: 1, Text: "some more tokens of the model's answer.\n"}
	b.ReportAllocs()
	for b.Loop() {
		m, _ = update(m, ev)
		_ = m.View()
	}
}

func BenchmarkAppendDelta5KB(b *testing.B) { benchAppend(b, 5<<10) }
func BenchmarkAppendDelta5MB(b *testing.B) { benchAppend(b, 5<<20) }

// benchDiff is a diff of about n lines over n/50 files.
func benchDiff(n int) string {
	var b strings.Builder
	for f := 0; f < n/50; f++ {
		fmt.Fprintf(&b, "diff --git a/pkg/f%d.go b/pkg/f%d.go\nindex 111..222 100644\n--- a/pkg/f%d.go\n+++ b/pkg/f%d.go\n@@ -1,20 +1,25 @@\n", f, f, f, f)
		for i := 0; i < 45; i++ {
			switch i % 3 {
			case 0:
				fmt.Fprintf(&b, "+\tadded := line(%d) // with a tab\n", i)
			case 1:
				fmt.Fprintf(&b, "-\tremoved := line(%d)\n", i)
			default:
				fmt.Fprintf(&b, " \tcontext := line(%d)\n", i)
			}
		}
	}
	return b.String()
}

// Opening a 50,000-line diff: fetch command (split and index), Update, View.
func BenchmarkDiffOpen50kLines(b *testing.B) {
	m := benchModel(b, 10, 1000)
	f := m.b.(*fakeBackend)
	f.diffs["T-1"] = benchDiff(50_000)
	m = press(b, m, "4")
	if d := m.diffs["T-1"]; d == nil || len(d.lines) < 50_000 {
		b.Fatal("diff not loaded")
	}
	key := diffStateKey(m.q.selected())
	b.ReportAllocs()
	for b.Loop() {
		msg := loadDiff(context.Background(), f, "T-1", key)()
		m, _ = update(m, msg)
		_ = m.View()
	}
}

// Scrolling a 50,000-line diff styles only the visible lines.
func BenchmarkDiffScroll50kLines(b *testing.B) {
	m := benchModel(b, 10, 1000)
	m.b.(*fakeBackend).diffs["T-1"] = benchDiff(50_000)
	m = press(b, m, "4", "tab")
	down := keyMsg("down")
	b.ReportAllocs()
	for b.Loop() {
		m, _ = update(m, down)
		_ = m.View()
	}
}

// Scrolling a 50,000-line diff of long lines sideways cuts only the
// visible lines.
func BenchmarkDiffSideways50kLines(b *testing.B) {
	m := benchModel(b, 10, 1000)
	m.b.(*fakeBackend).diffs["T-1"] = strings.ReplaceAll(benchDiff(50_000), "// with a tab", "// with a tab"+strings.Repeat(", and a comment long enough to scroll", 8))
	m = press(b, m, "4")
	keys := []tea.KeyPressMsg{keyMsg("right"), keyMsg("right"), keyMsg("left"), keyMsg("left")}
	if m, _ = update(m, keys[0]); m.diffs["T-1"].left == 0 {
		b.Fatal("the diff did not scroll sideways")
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m, _ = update(m, keys[i%len(keys)])
		_ = m.View()
		i++
	}
}

// sanitize runs on every delta: clean text, ASCII or not, is returned as is.
func BenchmarkSanitizeASCII4KB(b *testing.B) {
	s := strings.ReplaceAll(benchStream(4<<10), "→", ">")
	s = strings.ReplaceAll(s, "←", "<")
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		_ = sanitize(s)
	}
}

func BenchmarkSanitizeUnicode4KB(b *testing.B) {
	s := benchStream(4 << 10) // tool lines carry → and ←
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		_ = sanitize(s)
	}
}
