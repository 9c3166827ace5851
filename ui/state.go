package ui

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode"
)

// viewState is what the TUI showed when it was quit: the selected ticket,
// the open tab, the pane with the focus and the filters. The next start
// opens on it, so a restart shows things as they were, not only the data.
type viewState struct {
	Selected string `json:"selected,omitempty"`
	Tab      int    `json:"tab"`
	Focus    int    `json:"focus"`
	Filter   string `json:"filter,omitempty"`
	Preset   int    `json:"preset,omitempty"`
}

// maxStateBytes caps the file read: it is ours, but a link or a device
// put in its place must not hang or fill the start.
const maxStateBytes = 64 << 10

// loadViewState reads the state file at path; ok is false when there is
// none or it cannot be read (the TUI then opens as on a first start).
func loadViewState(path string) (s viewState, ok bool) {
	f, err := os.Open(path)
	if err != nil {
		return s, false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return s, false
	}
	data, err := io.ReadAll(io.LimitReader(f, maxStateBytes))
	if err != nil || json.Unmarshal(data, &s) != nil {
		return viewState{}, false
	}
	return s, true
}

// saveViewState writes s at path whole or not at all.
func saveViewState(path string, s viewState) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ui-state-*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}

// viewState is what m shows now.
func (m Model) viewState() viewState {
	return viewState{Selected: m.q.selectedID(), Tab: m.tab, Focus: m.focus, Filter: m.q.filter, Preset: m.q.preset}
}

// restore opens m on s, taking only what is valid: the file is read back
// after versions change, and may have been edited by hand.
func (m *Model) restore(s viewState) {
	if s.Tab >= 0 && s.Tab < tabCount {
		m.tab = s.Tab
	}
	if s.Focus == focusQueue || s.Focus == focusDetail {
		m.focus = s.Focus
	}
	if s.Preset >= 0 && s.Preset < len(presets) {
		m.q.preset = s.Preset
	}
	if len(s.Filter) <= 200 && !strings.ContainsFunc(s.Filter, unicode.IsControl) {
		m.q.filter = s.Filter
	}
	// selected once the tickets are in (refilter keeps lastID's row)
	m.q.lastID = s.Selected
}
