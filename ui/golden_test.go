package ui

import (
	"fmt"
	"strings"
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
				m := newTestModel(t, fixture(), size[0], size[1])
				m = press(t, m, c.keys...)
				out := plain(m)
				if h := strings.Count(out, "\n") + 1; h != size[1] {
					t.Errorf("frame is %d lines, want %d", h, size[1])
				}
				for i, l := range strings.Split(out, "\n") {
					if w := stringWidth(l); w > size[0] {
						t.Errorf("line %d is %d cells wide, more than %d", i, w, size[0])
					}
				}
				golden.RequireEqual(t, out)
			})
		}
	}
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
