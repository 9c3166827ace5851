package ui

import (
	"fmt"
	"testing"

	"github.com/charmbracelet/x/exp/golden"

	"agent-tui/engine"
)

// Goldens of the whole frame at fixed sizes, ANSI stripped so they do not
// depend on the colour profile. Regenerate with `go test ./ui -update`.
func TestGolden(t *testing.T) {
	cases := []struct {
		name string
		keys []string
	}{
		{"stream_running", []string{"j", "1"}},
		{"documents", []string{"2"}},
		{"history", []string{"3"}},
		{"diff", []string{"4"}},
		{"ci", []string{"5"}},
		{"needs_human", []string{"w", "3"}},
		{"approve_dialog", []string{"a"}},
		{"new_ticket", []string{"n"}},
		{"filter", []string{"/", "w", "e", "b"}},
		{"full_help", []string{"?"}},
	}
	for _, size := range [][2]int{{100, 30}, {150, 42}, {80, 24}} {
		for _, c := range cases {
			t.Run(fmt.Sprintf("%dx%d_%s", size[0], size[1], c.name), func(t *testing.T) {
				goldenFrame(t, size[0], size[1], c.keys...)
			})
		}
	}
	// small terminals: dialogs and help shrink to fit, tabs get short
	// labels, an error takes the status line
	for _, c := range []struct {
		w, h int
		name string
		keys []string
	}{
		{60, 15, "stream_running", []string{"j", "1"}},
		{60, 15, "new_ticket", []string{"n"}},
		{60, 15, "error_flash", []string{"j", "j", "a"}},
		{60, 15, "full_help", []string{"?"}},
		{60, 12, "full_help", []string{"?"}},
		{50, 12, "history", []string{"tab", "3"}},
	} {
		t.Run(fmt.Sprintf("%dx%d_%s", c.w, c.h, c.name), func(t *testing.T) {
			goldenFrame(t, c.w, c.h, c.keys...)
		})
	}
}

// goldenFrame checks the frame after keys fills w×h exactly, then
// compares it with its golden file.
func goldenFrame(t *testing.T, w, h int, keys ...string) {
	t.Helper()
	m := newTestModel(t, fixture(), w, h)
	m = press(t, m, keys...)
	golden.RequireEqual(t, checkFrame(t, m, w, h))
}

// A frame with a live delta matches its golden too: the stream tail
// follows and tool lines are there.
func TestGoldenLiveDelta(t *testing.T) {
	m := newTestModel(t, fixture(), 100, 30)
	m = press(t, m, "j")
	m, _ = update(m, eventsMsg{
		{Type: engine.EvDelta, TicketID: "T-2", Seq: 11, Text: "\n→ run_command {\"command\":\"go test ./...\"}\n← exit 0\nDone: the loader now"},
		{Type: engine.EvDelta, TicketID: "T-2", Seq: 11, Text: " returns an empty map."},
	})
	golden.RequireEqual(t, plain(m))
}
