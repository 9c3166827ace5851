package ui

import (
	"os"
	"path/filepath"
	"testing"

	tea "charm.land/bubbletea/v2"
)

// The TUI opens on what it showed when quit: the ticket, the tab, the
// pane with the focus and the filter; a state file that cannot be read,
// or holds what no longer fits, opens it as on a first start.
func TestViewStateOutlivesARestart(t *testing.T) {
	f := fixture()
	file := filepath.Join(t.TempDir(), "agent-tui", "ui-state.json")
	open := func() Model {
		m := NewModel(f, Options{Repo: "/repo", Confinement: "none", EditDir: t.TempDir(), StateFile: file})
		m, _ = update(m, tea.WindowSizeMsg{Width: 120, Height: 30})
		return settle(t, m, m.Init())
	}
	m := open()
	m = press(t, m, "j", "j", "3", "tab")
	before := m.viewState()
	if before.Selected == "" || before.Selected == m.q.rows[0] || before.Tab != tabHistory || before.Focus != focusDetail {
		t.Fatalf("the state to keep: %+v", before)
	}
	if err := saveViewState(file, before); err != nil {
		t.Fatal(err)
	}
	if after := open().viewState(); after != before {
		t.Fatalf("after a restart %+v, before %+v", after, before)
	}
	// a filter comes back with the rows it leaves
	before.Filter = f.tickets[0].ID
	if err := saveViewState(file, before); err != nil {
		t.Fatal(err)
	}
	if m := open(); m.q.filter != before.Filter || len(m.q.rows) == len(f.tickets) {
		t.Fatalf("filter %q, %d rows of %d", m.q.filter, len(m.q.rows), len(f.tickets))
	}
	for _, bad := range []string{`{"tab": 99, "focus": 7, "preset": -1, "selected": "T-999"}`, `not json`} {
		if err := os.WriteFile(file, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if s := open().viewState(); s.Tab != tabStream || s.Focus != focusQueue || s.Preset != 0 || s.Selected != f.tickets[0].ID {
			t.Fatalf("%s: opened on %+v", bad, s)
		}
	}
}
