package ui

import "charm.land/bubbles/v2/key"

// keyMap is the one place keys are defined; the help bar reads it.
type keyMap struct {
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
	Focus, Tabs, NextWaiting                key.Binding
	Filter, Preset, ClearFilter             key.Binding
	PrevFile, NextFile                      key.Binding
	Left, Right                             key.Binding
	Sideways                                key.Binding // Left and Right in the help
	FirstColumn                             key.Binding

	New, Approve, Reject, Edit, Guidance, Model, Cancel, Pause key.Binding

	Help, Quit key.Binding
	// Mouse is only said in the help: no key press is named "mouse"
	Mouse key.Binding
}

func newKeyMap() keyMap {
	b := func(keys []string, k, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(k, desc))
	}
	return keyMap{
		Up:          b([]string{"k", "up"}, "↑/k", "up"),
		Down:        b([]string{"j", "down"}, "↓/j", "down"),
		PageUp:      b([]string{"pgup", "ctrl+u"}, "pgup/^u", "page up"),
		PageDown:    b([]string{"pgdown", "ctrl+d"}, "pgdn/^d", "page down"),
		Top:         b([]string{"home"}, "home", "top"),
		Bottom:      b([]string{"end"}, "end", "bottom/follow"),
		Focus:       b([]string{"tab"}, "tab", "switch pane"),
		Tabs:        b([]string{"1", "2", "3", "4", "5"}, "1-5", "tabs"),
		NextWaiting: b([]string{"w"}, "w", "next waiting"),
		Filter:      b([]string{"/"}, "/", "filter"),
		Preset:      b([]string{"f"}, "f", "status filter"),
		ClearFilter: b([]string{"esc"}, "esc", "clear filter"), // in the help bar while one is in force
		PrevFile:    b([]string{"["}, "[", "prev diff file"),
		NextFile:    b([]string{"]"}, "]", "next diff file"),
		Left:        b([]string{"left", "h"}, "←/h", "diff left"),
		Right:       b([]string{"right", "l"}, "→/l", "diff right"),
		Sideways:    b([]string{"left", "right", "h", "l"}, "←/→", "diff side (h/l)"),
		FirstColumn: b([]string{"0"}, "0", "diff column 1"),
		New:         b([]string{"n"}, "n", "new ticket"),
		Approve:     b([]string{"a"}, "a", "approve"),
		Reject:      b([]string{"r"}, "r", "reject"),
		Edit:        b([]string{"e"}, "e", "edit & approve"),
		Guidance:    b([]string{"g"}, "g", "retry (w/ guidance)"),
		Model:       b([]string{"m"}, "m", "retry on model"),
		Cancel:      b([]string{"x"}, "x", "cancel"),
		Pause:       b([]string{"p"}, "p", "pause/resume"),
		Help:        b([]string{"?"}, "?", "help"),
		Quit:        b([]string{"q", "ctrl+c"}, "q", "quit"),
		Mouse:       b([]string{"mouse"}, "mouse", "click selects, wheel scrolls"),
	}
}

// ShortHelp is the one-line help bar, with shorter words than the full
// help so that more keys fit.
func (k keyMap) ShortHelp() []key.Binding {
	return briefHelp([]key.Binding{
		k.New, k.Approve, k.Reject, k.Edit, k.Guidance, k.Model, k.Cancel, k.Pause, k.NextWaiting,
		k.Filter, k.Focus, k.Help, k.Quit,
	})
}

// briefDesc are the full help's words cut down for a tiny terminal, where
// every key must still be listed.
var briefDesc = map[string]string{
	"pgup/^u": "page up", "pgdn/^d": "page dn", "end": "bottom", "tab": "pane", "w": "waiting",
	"f": "presets", "[": "prev file", "]": "next file", "n": "new", "e": "edit", "g": "guidance",
	"m": "model", "p": "pause", "←/→": "sideways", "0": "column 1", "mouse": "click, wheel",
}

func briefHelp(keys []key.Binding) []key.Binding {
	out := make([]key.Binding, len(keys))
	for i, b := range keys {
		if d, ok := briefDesc[b.Help().Key]; ok {
			b.SetHelp(b.Help().Key, d)
		}
		out[i] = b
	}
	return out
}

// shortHelpDrop is the order in which a narrow help bar leaves keys out:
// navigation first, the decisions last. ? and q are never left out.
var shortHelpDrop = []string{"tab", "/", "w", "m", "g", "n", "p", "x", "esc", "e", "r", "a"}

// FullHelp is the `?` view, one column per group.
func (k keyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom},
		{k.Focus, k.Tabs, k.NextWaiting, k.Filter, k.Preset, k.PrevFile, k.NextFile, k.Sideways, k.FirstColumn},
		{k.New, k.Approve, k.Reject, k.Edit, k.Guidance, k.Model},
		{k.Cancel, k.Pause, k.Help, k.Quit, k.Mouse},
	}
}
