package ui

import (
	"strings"

	"charm.land/bubbles/v2/textarea"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"agent-tui/engine"
)

var kinds = []string{engine.KindFeature, engine.KindHotfix, engine.KindEpic}

const (
	fieldKind = iota
	fieldTitle
	fieldBody
	fieldSensitive
	fieldCount
)

const noTitle = "a ticket needs a title"

// newTicketForm is the `n` dialog: kind, title, body, sensitive.
type newTicketForm struct {
	kind      int
	title     textinput.Model
	body      textarea.Model
	sensitive bool
	field     int
	err       string
	submit    func(engine.NewTicket) tea.Cmd
	// armed: esc or ctrl+c was pressed once on a form with text in it,
	// and said that a second one discards it
	armed bool
}

// discardAgain is the question a first esc or ctrl+c asks over typed
// text: ctrl+c is pressed to quit as often as to cancel.
func discardAgain(key string) string { return key + " again discards what you typed" }

var escAgain = discardAgain("esc")

// typed is what the form holds now.
func (f newTicketForm) typed() engine.NewTicket {
	return engine.NewTicket{Kind: kinds[f.kind], Title: strings.TrimSpace(f.title.Value()), Body: strings.TrimSpace(f.body.Value()), Sensitive: f.sensitive}
}

func newTicketDialog(submit func(engine.NewTicket) tea.Cmd) (newTicketForm, tea.Cmd) {
	ti := steadyInput(textinput.New())
	ti.Prompt = ""
	ti.Placeholder = "what should change"
	ti.CharLimit = 0 // the engine refuses a long title with a reason; a silent cut would lose text
	ta := textarea.New()
	ta.Placeholder = "details, acceptance criteria, reproduction…"
	ta.ShowLineNumbers = false
	ta.SetHeight(bodyRows)
	ts := ta.Styles()
	ts.Cursor.Blink = false
	ta.SetStyles(ts)
	f := newTicketForm{title: ti, body: ta, field: fieldTitle, submit: submit}
	return f, f.title.Focus()
}

// refill puts back a ticket the engine refused, with its reason.
func (f newTicketForm) refill(n engine.NewTicket, reason string) newTicketForm {
	for i, k := range kinds {
		if k == n.Kind {
			f.kind = i
		}
	}
	f.title.SetValue(n.Title)
	f.body.SetValue(n.Body)
	f.sensitive = n.Sensitive
	f.err = reason
	return f
}

func (f newTicketForm) focus() (newTicketForm, tea.Cmd) {
	f.title.Blur()
	f.body.Blur()
	switch f.field {
	case fieldTitle:
		return f, f.title.Focus()
	case fieldBody:
		return f, f.body.Focus()
	}
	return f, nil
}

func (f newTicketForm) Update(msg tea.Msg) (dialog, tea.Cmd, bool) {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		s := k.String()
		cancel := s == "esc" || s == "ctrl+c"
		if f.armed && !cancel {
			f.armed = false
			if f.err == escAgain || f.err == discardAgain("ctrl+c") {
				f.err = ""
			}
		}
		switch {
		case cancel && !f.armed && (strings.TrimSpace(f.title.Value()) != "" || strings.TrimSpace(f.body.Value()) != ""):
			// a stray esc or ctrl+c would throw away a long body
			f.armed, f.err = true, discardAgain(s)
			return f, nil, false
		case cancel:
			// cancel means cancel: the next n starts from an empty form, so
			// nothing typed here can be created later unseen
			return f, nil, true
		case s == "ctrl+s" || (s == "enter" && f.field == fieldSensitive):
			title := strings.TrimSpace(f.title.Value())
			if title == "" {
				f.err = noTitle
				f.field = fieldTitle
				f, cmd := f.focus()
				return f, cmd, false
			}
			return f, f.submit(f.typed()), true
		case s == "tab" || (s == "enter" && (f.field == fieldKind || f.field == fieldTitle)):
			f.field = (f.field + 1) % fieldCount
			f, cmd := f.focus()
			return f, cmd, false
		case s == "shift+tab":
			f.field = (f.field + fieldCount - 1) % fieldCount
			f, cmd := f.focus()
			return f, cmd, false
		case f.field == fieldKind && (s == "space" || s == "right" || s == "l"):
			f.kind = (f.kind + 1) % len(kinds)
			return f, nil, false
		case f.field == fieldKind && (s == "left" || s == "h"):
			f.kind = (f.kind + len(kinds) - 1) % len(kinds)
			return f, nil, false
		case f.field == fieldSensitive && (s == "space" || s == "y" || s == "n"):
			f.sensitive = s == "y" || (s == "space" && !f.sensitive)
			return f, nil, false
		}
	}
	var cmd tea.Cmd
	switch f.field {
	case fieldTitle:
		f.title, cmd = f.title.Update(msg)
		if f.err == noTitle && strings.TrimSpace(f.title.Value()) != "" {
			f.err = "" // answered: the complaint is stale
		}
	case fieldBody:
		f.body, cmd = f.body.Update(msg)
	}
	return f, cmd, false
}

// bodyRows is the body's height when the screen has room for it.
const bodyRows = 5

// sized is the form at width, its title scrolled to it (in Update: View
// only draws at the width).
func (f newTicketForm) sized(width int) dialog {
	f = f.withWidth(width)
	f.title.SetCursor(f.title.Position())
	return f
}

func (f newTicketForm) withWidth(width int) newTicketForm {
	inner := max(width-4, 10)
	f.title.SetWidth(inner - 2)
	f.body.SetWidth(inner)
	return f
}

func (f newTicketForm) View(st *styles, width, height int) string {
	// the body gives up rows first, so the fields and the hint stay on screen
	rows := bodyRows
	if over := lipgloss.Height(f.render(st, width, unbounded, rows)) - height; over > 0 {
		rows = max(rows-over, 1)
	}
	return f.render(st, width, height, rows)
}

func (f newTicketForm) render(st *styles, width, height, rows int) string {
	inner := max(width-4, 10)
	f = f.withWidth(width)
	f.body.SetHeight(rows)
	label := func(i int, s string) string {
		if f.field == i {
			return st.fieldOn.Render("› " + s)
		}
		return st.dim.Render("  " + s)
	}
	var kindRow []string
	for i, k := range kinds {
		if i == f.kind {
			kindRow = append(kindRow, st.fieldOn.Render("["+k+"]"))
		} else {
			kindRow = append(kindRow, " "+k+" ")
		}
	}
	sens := "[ ] no"
	if f.sensitive {
		sens = "[x] yes: local models only"
	}
	var b strings.Builder
	b.WriteString(label(fieldKind, "Kind") + "  " + strings.Join(kindRow, " ") + "\n\n")
	b.WriteString(label(fieldTitle, "Title") + "\n  " + steadyGlyphs(f.title.View()) + "\n\n")
	b.WriteString(label(fieldBody, "Body") + "\n" + steadyGlyphs(f.body.View()) + "\n\n")
	b.WriteString(label(fieldSensitive, "Sensitive") + "  " + sens + "\n")
	if f.err != "" {
		b.WriteString(st.flashErr.Render(f.err) + "\n")
	}
	b.WriteString("\n" + st.dim.Render(fitHint(inner,
		"tab next field · space toggle · ctrl+s create · esc cancel",
		"tab field · ctrl+s create · esc cancel",
		"ctrl+s create · esc cancel")))
	return frame(st, "New ticket", b.String(), width, height)
}
