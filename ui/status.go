package ui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// The status line: the model label, running tickets, tickets waiting for
// you, spend, provider health, the run_command confinement; and above it,
// or sharing it when there is room, the last action's outcome (the flash).
// A narrow line shortens labels and leaves out whole fields, in
// statusSteps order; a figure is never cut, and a flash never pushes the
// fields out.

// Fields of the status line, in the order drawn.
const (
	sfSim = iota
	sfRunning
	sfSlot
	sfPaused
	sfWaiting
	sfSpend
	sfHealth
	sfNoModel
	sfSandbox
	sfCount
)

// statusField is one field in its forms, from the fullest; each step of
// statusSteps naming it takes it to the next one, and "" leaves it out.
// A field the line does not have has no forms.
type statusField struct {
	forms []string
	style *lipgloss.Style // drawn with, once picked; nil: as it is
	cur   int
}

// statusSteps is the order in which a narrow status line gives up room:
// words first ("waiting for you" to "waiting"), then what changes least
// (the sandbox, healthy providers, a slot count), then the counts' words
// down to their symbols. The spend is last to lose its words and its
// figure is never cut.
var statusSteps = []int{
	sfSpend,   // "(+~$0.039 running)" to "(+~$0.039)"
	sfWaiting, // "! 2 waiting"
	sfSlot,    // "3 waiting for a slot"
	sfSim,     // "simulated"
	sfNoModel, // "no model"
	sfSandbox, // "unconfined"
	// a flash shares the line only with the steps above (flashSteps)
	sfSlot,    // "3 for a slot"
	sfSandbox, // a confined sandbox goes
	sfHealth,  // only the providers in trouble
	sfSpend,   // "$2.031 (+~$0.039)"
	sfSlot,    // goes
	sfHealth,  // all healthy: goes
	sfPaused,  // "‖ 1"
	sfSpend,   // "$2.031"
	sfHealth,  // "backup ⚠"
	sfSim,     // goes (the stream and History still say "(simulated)")
	sfWaiting, // "! 2"
	sfRunning, // "› 1"
	sfPaused,  // goes
	sfHealth,  // goes
	sfNoModel, // goes
	sfSandbox, // goes
}

// flashSteps is how much of statusSteps a flash may take to share the
// line, beyond what the line gives up without it: only words, and a
// confined sandbox stays; otherwise the flash goes on rows of its own
// above.
const flashSteps = 6

// maxFlashRows bounds how far a long flash pushes the panes up.
const maxFlashRows = 3

// statusFields is the status line's fields as they are now, unstyled
// but for the providers' (a style is applied to the form picked).
func (m *Model) statusFields() [sfCount]statusField {
	st := m.st
	var f [sfCount]statusField
	set := func(i int, style *lipgloss.Style, forms ...string) { f[i].forms, f[i].style = forms, style }
	if m.opts.Simulated && m.opts.NoModel == "" {
		// (browsing a demo whose model is gone, no model runs at all)
		set(sfSim, nil, "model: simulated", "simulated", "")
	}
	set(sfRunning, &st.running, fmt.Sprintf("› %d running", m.q.running), fmt.Sprintf("› %d", m.q.running))
	if n := m.q.slotWait; n > 0 {
		set(sfSlot, &st.dim, fmt.Sprintf("%d waiting for a slot (max_parallel)", n), fmt.Sprintf("%d waiting for a slot", n), fmt.Sprintf("%d for a slot", n), "")
	}
	if n := m.q.paused; n > 0 {
		set(sfPaused, &st.paused, fmt.Sprintf("‖ %d paused", n), fmt.Sprintf("‖ %d", n), "")
	}
	n := m.q.waiting
	set(sfWaiting, &st.awaiting, fmt.Sprintf("! %d waiting for you", n), fmt.Sprintf("! %d waiting", n), fmt.Sprintf("! %d", n))
	// what has been spent, with what the attempts under way have cost so
	// far (an estimate while a call streams)
	spent := money(m.q.spend)
	if extra := m.runningTotal(); extra >= 0.0005 {
		x := money(extra)
		set(sfSpend, nil, spent+" spent (+~"+x+" running)", spent+" spent (+~"+x+")", spent+" (+~"+x+")", spent)
	} else {
		set(sfSpend, nil, spent+" spent", spent+" spent", spent+" spent", spent)
	}
	if len(m.health) > 0 && m.opts.NoModel == "" { // no run, no provider to speak of
		set(sfHealth, nil, m.healthForms()...)
	}
	switch {
	case m.opts.NoModel != "" && m.opts.Simulated:
		set(sfNoModel, &st.cooling, "demo ended: browsing only", "demo ended", "")
	case m.opts.NoModel != "":
		set(sfNoModel, &st.cooling, "no model: tickets wait", "no model", "")
	}
	if m.confinement != "" {
		// the mechanism's name is enough here; an unconfined run must stand out
		label, _, _ := strings.Cut(m.confinement, ":")
		if label == "unconfined" {
			set(sfSandbox, &st.cooling, "commands run unconfined", "unconfined", "unconfined", "")
		} else {
			s := "sandbox: " + ansi.Truncate(label, 16, "…")
			set(sfSandbox, &st.dim, s, s, "", "")
		}
	}
	return f
}

// healthForms are the providers' health: every provider, those in
// trouble, those in trouble by a mark; all healthy, the field goes once
// healthy providers do.
func (m *Model) healthForms() []string {
	st := m.st
	var all, trouble, marks []string
	now := time.Now()
	for _, h := range m.health {
		word, mark := "", "⚠"
		switch {
		case h.Unusable != "":
			word, mark = " ✗ no key", "✗"
		case h.KeyRefused != "":
			word, mark = " ✗ key refused", "✗"
		case h.CoolingUntil.After(now):
			word = " cooling"
		case h.Failures > 0:
			word = fmt.Sprintf(" ⚠%d", h.Failures)
		default:
			all = append(all, h.Name+" ✓")
			continue
		}
		all = append(all, st.cooling.Render(h.Name+word))
		trouble = append(trouble, st.cooling.Render(h.Name+word))
		marks = append(marks, st.cooling.Render(h.Name+" "+mark))
	}
	full := strings.Join(all, " ")
	if len(trouble) == 0 {
		return []string{full, full, "", "", ""}
	}
	t := strings.Join(trouble, " ")
	return []string{full, t, t, strings.Join(marks, " "), ""}
}

// fitFields joins the fields in w cells, taking at most steps of
// statusSteps; ok is false when they do not fit even so (then the line is
// cut, which only a terminal narrower than the frame's least would see).
// Widths are measured unstyled; only the forms picked are drawn.
func (m *Model) fitFields(f [sfCount]statusField, w, steps int) (line string, taken int, ok bool) {
	var width [sfCount]int
	total := -3
	for i, fl := range f {
		if len(fl.forms) > 0 && fl.forms[0] != "" {
			width[i] = ansi.StringWidth(fl.forms[0])
			total += width[i] + 3 // and " │ "
		}
	}
	for _, i := range statusSteps[:steps] {
		if total <= w {
			break
		}
		taken++
		if fl := &f[i]; fl.cur < len(fl.forms)-1 {
			fl.cur++
			nw := ansi.StringWidth(fl.forms[fl.cur])
			switch {
			case width[i] > 0 && fl.forms[fl.cur] == "":
				total -= width[i] + 3
			case width[i] > 0:
				total += nw - width[i]
			}
			width[i] = nw
		}
	}
	parts := make([]string, 0, sfCount)
	for _, fl := range f {
		if len(fl.forms) > 0 && fl.forms[fl.cur] != "" {
			s := fl.forms[fl.cur]
			if fl.style != nil {
				s = fl.style.Render(s)
			}
			parts = append(parts, s)
		}
	}
	line = strings.Join(parts, m.st.dim.Render(" │ "))
	if total <= w {
		return line, taken, true
	}
	return ansi.Truncate(line, max(w, 0), "…"), taken, false
}

// statusRows are the flash's rows of its own (none when it shares the
// status line, or there is no flash) and the status line. An error always
// has rows of its own: it is what the user must read, whole; other news
// shares the line when it fits beside the fields.
func (m *Model) statusRows() (flash []string, line string) {
	w := max(m.width-1, 1)
	fields := m.statusFields()
	alone, taken, _ := m.fitFields(fields, w, len(statusSteps))
	if m.flash == "" {
		return nil, " " + alone
	}
	text := strings.ReplaceAll(prose(m.flash), "\n", " ")
	if room := w - ansi.StringWidth(text) - 3; !m.flashErr && room > 0 {
		// what the line gives up anyway, or words
		if s, _, ok := m.fitFields(fields, room, max(taken, flashSteps)); ok {
			return nil, " " + m.st.flashInfo.Render(text) + m.st.dim.Render(" │ ") + s
		}
	}
	rows := strings.Split(ansi.Wrap(text, w, ""), "\n")
	if len(rows) > maxFlashRows {
		rows = append(rows[:maxFlashRows-1], strings.Join(rows[maxFlashRows-1:], " "))
	}
	return rows, " " + alone
}

// statusLines are the flash's rows and the status line in n rows. With
// one row only, the fields keep it and the flash has what they leave.
func (m *Model) statusLines(n int) []string {
	rows, line := m.statusRows()
	if len(rows) == 0 {
		return []string{line}
	}
	style := m.st.flashInfo
	if m.flashErr {
		style = m.st.flashErr
	}
	w := max(m.width-1, 1)
	if n <= 1 {
		if room := m.width - ansi.StringWidth(line) - 3; room >= 8 {
			return []string{" " + style.Render(cutEnd(strings.Join(rows, " "), room)) + m.st.dim.Render(" │ ") + line[1:]}
		}
		return []string{line}
	}
	if len(rows) > n-1 {
		rows = append(rows[:n-2:n-2], strings.Join(rows[n-2:], " "))
	}
	out := make([]string, 0, len(rows)+1)
	for _, r := range rows {
		out = append(out, " "+style.Render(ansi.Truncate(r, w, "…")))
	}
	return append(out, line)
}
