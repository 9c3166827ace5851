package ui

import (
	"strings"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// dialog is a modal on the dialog stack. The top one gets every message
// first; it returns itself updated, a command (its action), and whether
// it is finished and should be popped. View fits in width × height.
type dialog interface {
	Update(msg tea.Msg) (d dialog, cmd tea.Cmd, closed bool)
	View(st *styles, width, height int) string
}

// sizedDialog is a dialog with text inputs, told its width before a key
// reaches it: an input scrolls its text sideways on Update, by the width
// it holds then (View works on a copy).
type sizedDialog interface {
	sized(width int) dialog
}

// dialogWidth is the width a dialog is drawn at on a screen this wide.
func dialogWidth(screen int) int { return min(64, screen-4) }

// frame boxes a dialog; body separates its parts with blank lines, which
// go first when the rows are short.
func frame(st *styles, title, body string, width, height int) string {
	// wrapped here, at spaces only: lipgloss would also break at hyphens,
	// and a branch (agent/T-6) would be cut in two
	title = oneLine(title)
	body = wrapAtSpaces(body, width-st.dialog.GetHorizontalFrameSize())
	out := st.dialog.Width(width).Render(st.dialogTitle.Render(title) + "\n\n" + body)
	if lipgloss.Height(out) > height {
		out = st.dialog.Width(width).Render(st.dialogTitle.Render(title) + "\n" + strings.ReplaceAll(body, "\n\n", "\n"))
	}
	return out
}

// wrapAtSpaces fills lines of at most w cells, breaking only at spaces
// (a word longer than a line is cut where it must be).
func wrapAtSpaces(s string, w int) string {
	if w < 1 {
		return s
	}
	var out []string
	for _, para := range strings.Split(s, "\n") {
		if ansi.StringWidth(strings.TrimRight(ansi.Strip(para), " ")) <= w {
			// as it is, indentation and all (trailing blanks, an input's
			// padding, are lipgloss's to drop)
			out = append(out, para)
			continue
		}
		// an indented line (a list item) wraps under its own indentation,
		// unless that leaves too little room
		body := strings.TrimLeft(para, " ")
		indent := para[:len(para)-len(body)]
		if len(indent) > w/2 {
			indent, body = "", para
		}
		for _, l := range wrapWords(body, w-len(indent)) {
			out = append(out, indent+l)
		}
	}
	return strings.Join(out, "\n")
}

// wrapWords breaks s into lines of at most w cells at spaces, a word
// longer than a line broken where it must.
func wrapWords(s string, w int) []string {
	var out []string
	line, lineW := "", 0
	for _, word := range strings.Split(s, " ") {
		ww := ansi.StringWidth(word)
		switch {
		case lineW == 0 && ww <= w:
			line, lineW = word, ww
		case lineW > 0 && lineW+1+ww <= w:
			line, lineW = line+" "+word, lineW+1+ww
		default:
			if lineW > 0 {
				out = append(out, line)
			}
			parts := strings.Split(ansi.Hardwrap(word, w, true), "\n")
			out = append(out, parts[:len(parts)-1]...)
			line = parts[len(parts)-1]
			lineW = ansi.StringWidth(line)
		}
	}
	return append(out, line)
}

// unbounded is the height to render at when measuring what a dialog needs.
const unbounded = 1 << 20

// fitHint is the first key hint that fits w cells, else the last: a hint
// on one row keeps how to close the dialog in sight.
func fitHint(w int, hints ...string) string {
	for _, h := range hints {
		if ansi.StringWidth(h) <= w {
			return h
		}
	}
	return hints[len(hints)-1]
}

// confirmDialog asks y/N; anything but y is no.
type confirmDialog struct {
	title, prompt string
	onYes         tea.Cmd
}

func (d confirmDialog) Update(msg tea.Msg) (dialog, tea.Cmd, bool) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return d, nil, false
	}
	switch k.String() {
	case "y", "Y":
		return d, d.onYes, true
	case "n", "N", "esc", "enter", "q", "ctrl+c":
		return d, nil, true
	}
	return d, nil, false
}

func (d confirmDialog) View(st *styles, width, height int) string {
	// a prompt quotes a title and names branches
	return frame(st, d.title, prose(d.prompt)+"\n\n"+st.dim.Render("y yes · n/esc no"), width, height)
}

// inputDialog asks for one line of text (a reason, guidance).
type inputDialog struct {
	title, prompt string
	input         textinput.Model
	onSubmit      func(string) tea.Cmd
	err           string
	// emptyOK: enter with nothing typed submits "" (a plain retry)
	emptyOK bool
	// armed: ctrl+c was pressed once over typed text, and said that a
	// second one (or esc) discards it
	armed bool
}

func newInputDialog(title, prompt, placeholder string, onSubmit func(string) tea.Cmd) (inputDialog, tea.Cmd) {
	ti := steadyInput(textinput.New())
	ti.Placeholder = placeholder
	ti.Prompt = "> "
	ti.CharLimit = 0 // the engine refuses text over its limit, and says so; a cut here would be silent
	cmd := ti.Focus()
	return inputDialog{title: title, prompt: prompt, input: ti, onSubmit: onSubmit}, cmd
}

// newDecisionDialog is an input dialog whose text decide sends as a
// decision. Should it be refused (the ticket moved on meanwhile), the
// dialog opens again with the text typed and why it was refused; nothing
// typed (emptyOK: a plain retry) has no text to keep.
func newDecisionDialog(title, prompt, placeholder string, emptyOK bool, decide func(string) tea.Cmd) (inputDialog, tea.Cmd) {
	var submit func(string) tea.Cmd
	submit = func(s string) tea.Cmd {
		if s == "" {
			return decide(s)
		}
		return keptOnRefusal(decide(s), func(refusal error) dialog {
			d, _ := newInputDialog(title, prompt, placeholder, submit)
			d.input.SetValue(s)
			d.err = refusal.Error() + " (your text is kept: esc discards it)"
			d.emptyOK = emptyOK
			return d
		})
	}
	d, cmd := newInputDialog(title, prompt, placeholder, submit)
	d.emptyOK = emptyOK
	return d, cmd
}

func (d inputDialog) Update(msg tea.Msg) (dialog, tea.Cmd, bool) {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		s := k.String()
		if d.armed && s != "esc" && s != "ctrl+c" {
			d.armed = false
			if d.err == discardAgain("ctrl+c") {
				d.err = ""
			}
		}
		switch {
		case s == "ctrl+c" && !d.armed && strings.TrimSpace(d.input.Value()) != "":
			// pressed to quit, it would throw away a reason typed
			d.armed, d.err = true, discardAgain("ctrl+c")
			return d, nil, false
		case s == "esc" || s == "ctrl+c":
			return d, nil, true
		case s == "enter":
			v := strings.TrimSpace(d.input.Value())
			if v == "" && !d.emptyOK {
				d.err = "this cannot be empty (esc cancels)"
				return d, nil, false
			}
			return d, d.onSubmit(v), true
		}
	}
	var cmd tea.Cmd
	d.input, cmd = d.input.Update(msg)
	if strings.TrimSpace(d.input.Value()) != "" && !d.armed {
		d.err = "" // answered: the complaint is stale
	}
	return d, cmd, false
}

// sized is the dialog at width, its text scrolled to it (in Update: View
// only draws at the width).
func (d inputDialog) sized(width int) dialog {
	d = d.withWidth(width)
	d.input.SetCursor(d.input.Position())
	return d
}

func (d inputDialog) withWidth(width int) inputDialog {
	d.input.SetWidth(max(width-8, 10))
	return d
}

func (d inputDialog) View(st *styles, width, height int) string {
	d = d.withWidth(width)
	body := prose(d.prompt) + "\n" + steadyGlyphs(d.input.View())
	if d.err != "" {
		body += "\n" + st.flashErr.Render(d.err)
	}
	return frame(st, d.title, body+"\n\n"+st.dim.Render(fitHint(width-4, "enter submit · esc cancel", "esc cancel")), width, height)
}

// pickerDialog picks one item of a list (a model).
type pickerDialog struct {
	title  string
	items  []string
	last   string // the item in use now, marked as such
	cursor int
	onPick func(string) tea.Cmd
}

func (d pickerDialog) Update(msg tea.Msg) (dialog, tea.Cmd, bool) {
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return d, nil, false
	}
	switch k.String() {
	case "esc", "q", "ctrl+c":
		return d, nil, true
	case "up", "k":
		d.cursor = max(d.cursor-1, 0)
	case "down", "j":
		d.cursor = min(d.cursor+1, len(d.items)-1)
	case "enter":
		if len(d.items) == 0 {
			return d, nil, true
		}
		return d, d.onPick(d.items[d.cursor]), true
	}
	return d, nil, false
}

func (d pickerDialog) View(st *styles, width, height int) string {
	// a window of at most 10 items around the cursor, fewer when short
	n := min(len(d.items), 10)
	if over := lipgloss.Height(d.render(st, width, unbounded, n)) - height; over > 0 {
		n = max(n-over, 1)
	}
	return d.render(st, width, height, n)
}

func (d pickerDialog) render(st *styles, width, height, n int) string {
	var b strings.Builder
	if len(d.items) == 0 {
		b.WriteString(st.dim.Render("no models configured"))
	}
	top := clamp(d.cursor-(n-1)/2, 0, max(len(d.items)-n, 0))
	for i := top; i < len(d.items) && i < top+n; i++ {
		item := oneLine(d.items[i])
		line := "  " + item
		if i == d.cursor {
			line = st.fieldOn.Render("› " + item)
		}
		if d.items[i] == d.last {
			line += st.dim.Render(" · last attempt's")
		}
		b.WriteString(ansi.Truncate(line, width-4, "…") + "\n")
	}
	return frame(st, d.title, b.String()+"\n"+st.dim.Render(fitHint(width-4, "↑/↓ choose · enter retry · esc cancel", "enter retry · esc cancel", "esc cancel")), width, height)
}

// overlay draws box centred over the background lines bg of width w. A
// box taller than bg loses rows from its middle: its key hint and bottom
// edge stay on screen.
func overlay(bg []string, box string, w int) []string {
	lines := strings.Split(box, "\n")
	if len(lines) > len(bg) && len(bg) > 2 {
		lines = append(lines[:len(bg)-2:len(bg)-2], lines[len(lines)-2:]...)
	}
	bw := lipgloss.Width(box)
	x := max((w-bw)/2, 0)
	y := max((len(bg)-len(lines))/2, 0)
	out := append([]string(nil), bg...)
	for i, l := range lines {
		if y+i >= len(out) {
			break
		}
		row := out[y+i]
		end := max(min(ansi.StringWidth(row), w), x+bw)
		out[y+i] = cells(row, 0, x) + l + cells(row, x+bw, end)
	}
	return out
}

// cells is the part of s in the cells [from, to), exactly to-from wide. A
// wide character cut in half becomes a space: ansi.Cut would keep or drop
// it whole, shifting what follows by a cell (and a border off the edge).
func cells(s string, from, to int) string {
	w := to - from
	if w <= 0 {
		return ""
	}
	lead := 0
	if rest := ansi.StringWidth(s) - from; rest <= 0 {
		s = ""
	} else if from > 0 {
		cut := ansi.TruncateLeft(s, from, "")
		if ansi.StringWidth(cut) > rest {
			// a wide character straddles from: skip it, a space takes its half
			cut, lead = ansi.TruncateLeft(s, from+1, ""), 1
		}
		s = cut
	}
	s = ansi.Truncate(s, w-lead, "")
	return strings.Repeat(" ", lead) + s + strings.Repeat(" ", max(w-lead-ansi.StringWidth(s), 0))
}

// A steady cursor: blinking would re-render the whole screen twice a
// second for nothing.
func steadyInput(ti textinput.Model) textinput.Model {
	s := ti.Styles()
	s.Cursor.Blink = false
	ti.SetStyles(s)
	return ti
}
