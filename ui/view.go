package ui

import (
	"fmt"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"agent-tui/store"
)

// layout is the geometry of one frame, computed from the window size.
type layout struct {
	single             bool // too narrow for two panes: show the focused one
	queueW, detailW    int  // outer widths
	panesH             int  // outer height of both panes
	queueInnerW        int
	queueRows          int
	contentW, contentH int // the detail pane's tab content
	helpH              int
}

func (m *Model) layout() layout {
	var l layout
	l.helpH = 1
	if m.help.ShowAll {
		for _, g := range m.keys.FullHelp() {
			l.helpH = max(l.helpH, len(g))
		}
	}
	l.panesH = max(m.height-l.helpH-1, 5)
	l.single = m.width < 60
	if l.single {
		l.queueW, l.detailW = m.width, m.width
	} else {
		l.queueW = clamp(m.width*2/5, 28, 90)
		l.detailW = m.width - l.queueW
	}
	l.queueInnerW = max(l.queueW-2, 1)
	l.queueRows = max(l.panesH-2, 1)
	if m.filtering {
		l.queueRows--
	}
	l.contentW = max(l.detailW-2, 1)
	l.contentH = max(l.panesH-2-3, 1)
	return l
}

// View draws the frame. It reads only memory: no Backend call, no file.
func (m Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "agent-tui"
	return v
}

func (m *Model) render() string {
	if m.width < 24 || m.height < 8 {
		return "agent-tui: the terminal is too small"
	}
	l := m.layout()
	var left, right []string
	if !l.single || m.focus == focusQueue {
		left = m.box(m.q.title(), m.queueLines(l), l.queueW, l.panesH, m.focus == focusQueue)
	}
	if !l.single || m.focus == focusDetail {
		right = m.box(m.detailTitle(), m.detailLines(l), l.detailW, l.panesH, m.focus == focusDetail)
	}
	rows := make([]string, 0, m.height)
	for i := 0; i < l.panesH; i++ {
		var s string
		if i < len(left) {
			s = left[i]
		}
		if i < len(right) {
			s += right[i]
		}
		rows = append(rows, s)
	}
	rows = append(rows, m.statusLine())
	rows = append(rows, m.helpLines()...)
	if n := len(m.dialogs); n > 0 {
		w := min(64, m.width-4)
		rows = overlay(rows, m.dialogs[n-1].View(m.st, w), m.width)
	}
	return strings.Join(rows, "\n")
}

// helpLines renders the help bar, once per width and mode.
func (m *Model) helpLines() []string {
	c := m.helpCache
	if c.lines != nil && c.width == m.width && c.all == m.help.ShowAll {
		return c.lines
	}
	h := m.help
	h.SetWidth(m.width)
	c.width, c.all, c.lines = m.width, m.help.ShowAll, nil
	// help does not always cut to its width (when the ellipsis does not fit)
	for _, l := range strings.Split(h.View(m.keys), "\n") {
		c.lines = append(c.lines, ansi.Truncate(l, m.width, ""))
	}
	return c.lines
}

// box frames lines in a rounded border with the title in the top edge.
func (m *Model) box(title string, lines []string, w, h int, focused bool) []string {
	bs, ts := m.st.border, m.st.title
	if focused {
		bs, ts = m.st.borderFocus, m.st.titleFocus
	}
	inner := max(w-2, 0)
	t := ansi.Truncate(" "+title+" ", max(inner-1, 0), "…")
	out := make([]string, 0, h)
	out = append(out, bs.Render("╭─")+ts.Render(t)+bs.Render(strings.Repeat("─", max(inner-1-ansi.StringWidth(t), 0))+"╮"))
	side := bs.Render("│")
	for i := 0; i < h-2; i++ {
		var s string
		if i < len(lines) {
			s = lines[i]
		}
		out = append(out, side+fit(s, inner)+side)
	}
	return append(out, bs.Render("╰"+strings.Repeat("─", inner)+"╯"))
}

// fit cuts or pads s to exactly w cells.
func fit(s string, w int) string {
	sw := ansi.StringWidth(s)
	if sw > w {
		s = ansi.Truncate(s, w, "")
		sw = ansi.StringWidth(s)
	}
	if sw < w {
		s += strings.Repeat(" ", w-sw)
	}
	return s
}

func (m *Model) queueLines(l layout) []string {
	var out []string
	if m.filtering {
		fi := m.filterInput
		fi.SetWidth(max(l.queueInnerW-2, 1))
		out = append(out, fi.View())
	}
	if !m.loaded && len(m.q.tickets) == 0 {
		return append(out, m.st.dim.Render("loading tickets…"))
	}
	return append(out, m.q.render(m.st, l.queueInnerW, l.queueRows)...)
}

func (m *Model) detailTitle() string {
	t := m.q.selected()
	if t == nil {
		return "Ticket"
	}
	return t.ID + " · " + t.Kind + " · " + sanitize(t.Title)
}

func (m *Model) detailLines(l layout) []string {
	w := l.contentW
	var tabs []string
	for i, n := range tabNames {
		s := fmt.Sprintf("%d %s", i+1, n)
		if i == m.tab {
			tabs = append(tabs, m.st.tabOn.Render(s))
		} else {
			tabs = append(tabs, m.st.tab.Render(s))
		}
	}
	out := []string{strings.Join(tabs, "  ")}
	t := m.q.selected()
	if t == nil {
		return append(out, "", m.st.dim.Render("Select a ticket, or press n to create one."))
	}
	// why it stopped matters most when it waits for the user
	info := statusWord(t)
	if t.Reason != "" {
		info += ": " + t.Reason
	}
	info += " · " + progress(t) + " · " + money(t.CostUSD)
	if t.Branch != "" {
		info += " · " + t.Branch
	}
	out = append(out, statusStyle(m.st, t).Render(ansi.Truncate(sanitize(info), w, "…")))
	header, body := m.tabContent(t, w, l.contentH)
	out = append(out, m.st.header.Render(ansi.Truncate(header, w, "…")))
	return append(out, body...)
}

// tabContent is the open tab's header line and visible lines.
func (m *Model) tabContent(t *store.Ticket, w, h int) (string, []string) {
	td := m.data[t.ID]
	switch m.tab {
	case tabStream:
		return m.streamContent(td, w, h)
	case tabDiff:
		d := m.diffs[t.ID]
		switch {
		case d == nil:
			return "", []string{m.st.dim.Render("loading diff…")}
		case d.err != nil:
			return "", []string{m.st.fail.Render("diff: " + d.err.Error())}
		case len(d.lines) == 0 && store.Finished(t.Status):
			return "", []string{m.st.dim.Render("No changes from this ticket.")}
		case len(d.lines) == 0:
			return "", []string{m.st.dim.Render("No changes on the branch yet.")}
		}
		header := d.header()
		if _, busy := m.diffReq[t.ID]; busy {
			header += " · refreshing"
		}
		return header, d.window(m.st, w, h)
	}
	lines := m.tabLines(m.tab, t, w)
	top := clamp(m.textTop[m.tab], 0, max(len(lines)-h, 0))
	end := min(top+h, len(lines))
	header := ""
	if len(lines) > h {
		header = fmt.Sprintf("lines %d-%d of %d", top+1, end, len(lines))
	}
	if m.tab == tabHistory && td != nil {
		header = strings.TrimPrefix(plural(len(td.attempts), "attempt", "attempts")+" · "+header, " · ")
		header = strings.TrimSuffix(header, " · ")
	}
	return header, lines[top:end]
}

// tabLines builds (once per change) the lines of the Documents, History
// and CI tabs.
func (m *Model) tabLines(tab int, t *store.Ticket, w int) []string {
	td := m.data[t.ID]
	k := contentKey{ticket: t, width: w}
	if td != nil {
		k.version = td.version
	}
	if tab == tabDocs {
		k.docs = m.docs.version
	}
	if m.content.keys[tab] == k && m.content.lines[tab] != nil {
		return m.content.lines[tab]
	}
	var lines []string
	switch tab {
	case tabDocs:
		lines = docsLines(m.st, docItems(t, td, w), m.docs, w)
	case tabHistory:
		lines = historyLines(m.st, t, td, m.opts.Simulated, w)
	case tabCI:
		lines = ciLines(m.st, td, w)
	}
	m.content.keys[tab], m.content.lines[tab] = k, lines
	return lines
}

func (m *Model) streamContent(td *ticketData, w, h int) (string, []string) {
	if td == nil || (td.latest == 0 && !td.loaded) {
		return "", []string{m.st.dim.Render("loading…")}
	}
	if td.latest == 0 {
		return "", []string{m.st.dim.Render("No attempt yet.")}
	}
	header := m.streamHeader(td.attempt(td.latest), td.latest)
	s := td.streams[td.latest]
	if s == nil {
		return header, nil
	}
	if !m.streamFollow {
		header = "↑ scrolled (end follows) · " + header
	}
	rows, kinds := s.window(m.streamTop, w, h, m.streamFollow)
	out := make([]string, len(rows))
	for i, r := range rows {
		switch kinds[i] {
		case '>':
			out[i] = m.st.toolCall.Render(r)
		case '<':
			out[i] = m.st.toolResult.Render(r)
		default:
			out[i] = r
		}
	}
	return header, out
}

func (m *Model) streamHeader(a *store.Attempt, seq int) string {
	if a == nil {
		return fmt.Sprintf("attempt #%d", seq)
	}
	model := a.Model
	if model == "" {
		model = "…"
	}
	if m.opts.Simulated {
		model += " (simulated)"
	}
	parts := []string{fmt.Sprintf("%s · attempt %d · %s", a.Phase, a.N, model)}
	if a.ContextTokens > 0 {
		parts = append(parts, "ctx "+tokens(a.ContextTokens))
	}
	parts = append(parts, tokens(a.TokensIn)+" in / "+tokens(a.TokensOut)+" out", money(a.CostUSD))
	switch {
	case a.Interrupted:
		parts = append(parts, "interrupted")
	case a.Error != "":
		parts = append(parts, "error")
	case !a.Done():
		parts = append(parts, "running")
	case a.Verdict != nil && a.Verdict.Pass:
		parts = append(parts, "passed")
	case a.Verdict != nil:
		parts = append(parts, "objections")
	}
	return strings.Join(parts, " · ")
}

// statusLine: counts, the last action's outcome, provider health, the
// model label and the run_command confinement.
func (m *Model) statusLine() string {
	st := m.st
	parts := []string{
		st.running.Render(fmt.Sprintf("› %d running", m.q.running)),
		st.awaiting.Render(fmt.Sprintf("! %d waiting for you", m.q.waiting)),
		money(m.q.spend) + " spent",
	}
	if m.flash != "" {
		if m.flashErr {
			parts = append(parts, st.flashErr.Render(sanitize(m.flash)))
		} else {
			parts = append(parts, st.flashInfo.Render(sanitize(m.flash)))
		}
	}
	if len(m.health) > 0 {
		var hs []string
		now := time.Now()
		for _, h := range m.health {
			switch {
			case h.CoolingUntil.After(now):
				hs = append(hs, st.cooling.Render(h.Name+" cooling"))
			case h.Failures > 0:
				hs = append(hs, st.cooling.Render(fmt.Sprintf("%s ⚠%d", h.Name, h.Failures)))
			default:
				hs = append(hs, h.Name+" ✓")
			}
		}
		parts = append(parts, strings.Join(hs, " "))
	}
	if m.opts.Simulated {
		parts = append(parts, "model: simulated")
	}
	if m.opts.NoModel != "" {
		parts = append(parts, st.cooling.Render("no model: tickets wait"))
	}
	if m.confinement != "" {
		// the mechanism's name is enough here; an unconfined run must stand out
		label, _, _ := strings.Cut(m.confinement, ":")
		if label == "unconfined" {
			parts = append(parts, st.cooling.Render("commands run unconfined"))
		} else {
			parts = append(parts, st.dim.Render("sandbox: "+ansi.Truncate(label, 16, "…")))
		}
	}
	return ansi.Truncate(" "+strings.Join(parts, st.dim.Render(" │ ")), m.width, "…")
}
