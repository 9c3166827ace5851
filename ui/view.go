package ui

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"agent-tui/engine"
	"agent-tui/store"
)

// layout is the geometry of one frame, computed from the window size.
type layout struct {
	single             bool // too narrow for two panes: show the focused one
	queueW, detailW    int  // outer widths
	panesH             int  // outer height of both panes, 0 when the help takes the screen
	queueInnerW        int
	queueRows          int
	contentW, contentH int      // the detail pane's tab content
	info               []string // the selected ticket's status lines
	helpH              int
	helpScreen         bool // the full help has no room beside the panes
	statusH            int  // the status line, and the rows of a flash that does not fit on it
}

// minPanesH is the least height of the panes: borders, tabs and a line.
const minPanesH = 5

func (m *Model) layout() layout {
	var l layout
	help, screen := m.helpLines()
	l.helpH, l.helpScreen = len(help), screen
	room := m.height - l.helpH - minPanesH
	if screen {
		room = m.height - l.helpH
	}
	var flash []string
	if m.flash != "" {
		flash, _ = m.statusRows()
	}
	l.statusH = clamp(len(flash)+1, 1, max(room, 1))
	if !screen {
		l.panesH = max(m.height-l.helpH-l.statusH, minPanesH)
	}
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
	infoRows := 1
	if l.panesH >= 16 {
		// a long stop reason wraps while the tab keeps most of the pane
		infoRows = min(maxInfoRows, (l.panesH-5)/3)
	}
	if t := m.q.selected(); t != nil {
		l.info = m.infoLines(t, l.contentW, infoRows)
	}
	l.contentH = max(l.panesH-2-2-max(len(l.info), 1), 1)
	return l
}

// View draws the frame. It reads only memory: no Backend call, no file.
func (m Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.MouseMode = tea.MouseModeCellMotion // wheel and clicks; shift+drag still selects text
	v.WindowTitle = "agent-tui"
	return v
}

// The least terminal the frame is drawn in; below it a notice says so.
const minWidth, minHeight = 24, 8

// tooSmall says only the notice fits: no frame is drawn.
func (m *Model) tooSmall() bool { return m.width < minWidth || m.height < minHeight }

func (m *Model) render() string {
	if m.tooSmall() {
		return tooSmall(m.width, m.height)
	}
	l := m.layout()
	help, _ := m.helpLines()
	rows := make([]string, 0, m.height)
	if l.helpScreen {
		rows = append(rows, m.helpWindow(help, m.height-l.statusH)...)
		for len(rows) < m.height-l.statusH {
			rows = append(rows, "")
		}
		help = nil
	}
	var left, right []string
	// side by side, the focused pane's title is marked: j, k and the
	// page keys move in it (the selection, or the open tab's text)
	title := func(s string, pane int) string {
		if l.single || m.focus != pane {
			return s
		}
		return "▸ " + s
	}
	if l.panesH > 0 && (!l.single || m.focus == focusQueue) {
		left = m.box(title(m.q.title(), focusQueue), m.queueLines(l), l.queueW, l.panesH, m.focus == focusQueue)
	}
	if l.panesH > 0 && (!l.single || m.focus == focusDetail) {
		right = m.box(title(m.detailTitle(), focusDetail), m.detailLines(l), l.detailW, l.panesH, m.focus == focusDetail)
	}
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
	rows = append(rows, m.statusLines(l.statusH)...)
	rows = append(rows, help...)
	if n := len(m.dialogs); n > 0 {
		rows = overlay(rows, m.dialogs[n-1].View(m.st, dialogWidth(m.width), m.height), m.width)
	}
	// never more rows than the terminal: the top would scroll away
	return strings.Join(rows[:min(len(rows), m.height)], "\n")
}

// tooSmall is the notice shown instead of the frame, wrapped to fit.
func tooSmall(w, h int) string {
	msg := fmt.Sprintf("terminal too small: agent-tui needs %d×%d", minWidth, minHeight)
	lines := strings.Split(ansi.Wrap(msg, max(w, 1), ""), "\n")
	return strings.Join(lines[:min(len(lines), max(h, 1))], "\n")
}

// helpLines renders the help bar, or with ? every key, once per size and
// mode. screen says the full help has no room beside the panes and takes
// their place.
func (m *Model) helpLines() (lines []string, screen bool) {
	c := m.helpCache
	filtered := m.q.filtered()
	keep := m.ticketKeys()
	if c.lines != nil && c.width == m.width && c.height == m.height && c.all == m.help.ShowAll && c.filtered == filtered && c.typing == m.filtering && slices.Equal(c.keep, keep) {
		return c.lines, c.screen
	}
	c.width, c.height, c.all, c.filtered, c.typing, c.keep = m.width, m.height, m.help.ShowAll, filtered, m.filtering, keep
	h := m.help
	h.SetWidth(0) // measured here: help would cut with an ellipsis
	switch {
	case m.filtering && !m.help.ShowAll:
		// every other key types into the filter
		c.lines, c.screen = []string{shortHelp(h, filterKeys, m.width)}, false
	case m.help.ShowAll:
		c.lines, c.screen = fullHelp(h, m.keys.FullHelp(), m.width, m.height)
	default:
		keys := m.keys.ShortHelp()
		if filtered {
			// how to see every ticket again, while some are hidden
			keys = append([]key.Binding{m.keys.ClearFilter}, keys...)
		}
		c.lines, c.screen = []string{shortHelp(h, keys, m.width, keep...)}, false
	}
	return c.lines, c.screen
}

// ticketKeys are the help bar's keys that act on the selected ticket as
// it is, most wanted first: a narrow bar drops the others before them.
// Cached by ticket snapshot and attempts, as layout asks at every frame.
func (m *Model) ticketKeys() []string {
	t, c := m.q.selected(), m.helpCache
	var td *ticketData
	ver, loaded := 0, false
	if t != nil {
		td = m.data[t.ID]
	}
	if td != nil {
		ver, loaded = td.version, td.loaded
	}
	if t == c.keepFor && ver == c.keepVer && loaded == c.keepLoaded {
		return c.keepKeys
	}
	c.keepFor, c.keepVer, c.keepLoaded, c.keepKeys = t, ver, loaded, nil
	if t == nil {
		return nil
	}
	var want string
	switch t.Status {
	case store.StatusNeedsHuman:
		want = "gemxa"
	case store.StatusAwaiting:
		want = "are"
	case store.StatusFailed:
		want = "gm"
	default:
		if !finished(t.Status) {
			want = "px"
		}
	}
	kinds := map[rune]string{'g': store.DecisionRetry, 'm': store.DecisionRetry, 'e': store.DecisionEditApprove,
		'x': store.DecisionCancel, 'a': store.DecisionApprove, 'r': store.DecisionReject, 'p': store.DecisionPause}
	for _, k := range want {
		err := engine.Allowed(t, kinds[k])
		if k == 'a' && err == nil && loaded {
			err = engine.Approvable(t, td.attempts) // a phase that left nothing cannot be
		}
		if err == nil {
			c.keepKeys = append(c.keepKeys, string(k))
		}
	}
	return c.keepKeys
}

// filterKeys are the help bar while a filter is typed.
var filterKeys = []key.Binding{
	key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "keep filter")),
	key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "clear")),
	key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓", "select")),
	key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit")),
}

// shortHelp is the one-line help bar: as many keys as fit, dropped in
// shortHelpDrop order but those in keep last (the last of keep first);
// ? (which lists the rest) and q always stay.
func shortHelp(h help.Model, keys []key.Binding, w int, keep ...string) string {
	keys = slices.Clone(keys) // (dropping in place would change the caller's)
	order := slices.DeleteFunc(slices.Clone(shortHelpDrop), func(k string) bool { return slices.Contains(keep, k) })
	for i := len(keep) - 1; i >= 0; i-- {
		order = append(order, keep[i])
	}
	for _, drop := range order {
		if lipgloss.Width(h.ShortHelpView(keys)) <= w {
			break
		}
		keys = slices.DeleteFunc(keys, func(b key.Binding) bool { return b.Help().Key == drop })
	}
	return ansi.Truncate(h.ShortHelpView(keys), w, "")
}

// fullHelp lays out every key in w columns: the groups side by side,
// wrapping onto more bands when narrow; when that is too tall, the keys
// flow through as many columns as fit. With no room left for the panes
// beside it, the help takes the screen (screen).
func fullHelp(h help.Model, groups [][]key.Binding, w, height int) (lines []string, screen bool) {
	grouped := helpBands(h, groups, w)
	room := height - 1 - minPanesH // the status line and the panes
	if len(grouped) <= room {
		return grouped, false
	}
	all := slices.Concat(groups...)
	flat := helpColumns(h, all, w)
	if len(flat) <= room {
		return flat, false
	}
	brief := helpColumns(h, briefHelp(all), w)
	if len(brief) <= room {
		return brief, false
	}
	for _, lines := range [][]string{grouped, flat} {
		if len(lines) <= height-1 {
			return lines, true
		}
	}
	return brief, true
}

// helpWindow is the full help in rows lines: where every key does not
// fit even in brief, the lines from helpTop and, last, how to see the
// others (a key left off is a key nobody finds).
func (m *Model) helpWindow(help []string, rows int) []string {
	if len(help) <= rows || rows < 2 {
		return help[:min(len(help), max(rows, 0))]
	}
	top := clamp(m.helpTop, 0, len(help)-(rows-1))
	shown := help[top : top+rows-1]
	var more []string
	if top > 0 {
		more = append(more, fmt.Sprintf("↑ %d more", top))
	}
	if below := len(help) - top - len(shown); below > 0 {
		more = append(more, fmt.Sprintf("↓ %d more", below))
	}
	return append(slices.Clip(shown), m.st.dim.Render(ansi.Truncate(strings.Join(more, " · ")+" (j/k)", m.width, "…")))
}

// helpOverflows says the full help takes the screen and does not fit it:
// the moving keys scroll it then.
func (m *Model) helpOverflows() bool {
	if !m.help.ShowAll {
		return false
	}
	l := m.layout()
	return l.helpScreen && l.helpH > m.height-l.statusH
}

// helpBands puts groups side by side, starting a new band of rows when
// the next group does not fit in w.
func helpBands(h help.Model, groups [][]key.Binding, w int) []string {
	var out []string
	var band [][]key.Binding
	flush := func() {
		if len(band) > 0 {
			out = append(out, cutLines(h.FullHelpView(band), w)...)
		}
	}
	for _, g := range groups {
		if len(band) > 0 && lipgloss.Width(h.FullHelpView(append(slices.Clip(band), g))) > w {
			flush()
			band = nil
		}
		band = append(band, g)
	}
	flush()
	return out
}

// helpColumns flows keys down columns, with the fewest rows that fit w.
func helpColumns(h help.Model, keys []key.Binding, w int) []string {
	var view string
	for rows := 1; rows <= len(keys); rows++ {
		view = h.FullHelpView(slices.Collect(slices.Chunk(keys, rows)))
		if lipgloss.Width(view) <= w {
			break
		}
	}
	return cutLines(view, w)
}

func cutLines(s string, w int) []string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, w, "")
	}
	return lines
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
		if m.loadErr != "" {
			for _, l := range strings.Split(ansi.Wrap(sanitize("cannot read the tickets: "+m.loadErr), max(l.queueInnerW, 1), ""), "\n") {
				out = append(out, m.st.fail.Render(l))
			}
			return out
		}
		return append(out, m.st.dim.Render("loading tickets…"))
	}
	return append(out, m.q.render(m.st, l.queueInnerW, l.queueRows, m.focus != focusQueue)...)
}

func (m *Model) detailTitle() string {
	t := m.q.selected()
	if t == nil {
		return "Ticket"
	}
	kind := t.Kind
	if t.Sensitive {
		kind += " · sensitive" // only local models see it
	}
	return t.ID + " · " + kind + " · " + oneLine(t.Title)
}

func (m *Model) detailLines(l layout) []string {
	w := l.contentW
	out := []string{m.tabRow(w)}
	t := m.q.selected()
	if t == nil {
		if len(m.q.tickets) > 0 && m.q.filtered() {
			return append(out, "", m.st.dim.Render(fmt.Sprintf("No ticket of %d matches the filter: esc shows them all.", len(m.q.tickets))))
		}
		return append(out, "", m.st.dim.Render("Select a ticket, or press n to create one."))
	}
	for _, line := range l.info {
		out = append(out, statusStyle(m.st, t).Render(line))
	}
	header, body := m.tabContent(t, w, l.contentH)
	// a header names models, phases and files, which a config or a
	// branch can spell with controls
	out = append(out, m.st.header.Render(ansi.Truncate(oneLine(header), w, "…")))
	return append(out, body...)
}

// infoLines are the selected ticket's status, why it stopped, progress,
// cost and branch, wrapped at spaces onto at most rows lines: a stop's
// reason says what to do (the files in the way of a merge, the variable to
// set), so it is not cut at the pane's edge while there is room. No word
// is ever broken across lines (a branch name read as two); short of room
// the branch goes first, then the conflicts, then the status and reason
// are cut, so progress and cost are always whole.
func (m *Model) infoLines(t *store.Ticket, w, rows int) []string {
	status := statusWord(t, m.q.noEngine)
	if m.q.waitsForSlot(t) {
		status = "waiting for a slot (max_parallel)"
	}
	status, reason := oneLine(status), oneLine(t.Reason)
	head := status
	if reason != "" {
		head += ": " + reason
	}
	counts := []string{oneLine(progress(t)), money(t.CostUSD)}
	// the parts given up first come last
	var optional []string
	if len(t.Conflicts) > 0 {
		// before the branch: what code must resolve matters more
		optional = append(optional, oneLine("conflicts with "+t.BaseBranch+": "+strings.Join(t.Conflicts, ", ")))
	}
	if t.Merged != "" {
		// where a finished ticket's work went, to find it in git log
		optional = append(optional, oneLine("merged "+shortCommit(t.Merged)+" into "+t.BaseBranch))
	}
	if branch := oneLine(t.Branch); t.Branch != "" && ansi.StringWidth(branch) <= w {
		optional = append(optional, branch)
	}
	if rows <= 1 || t.Reason == "" && len(t.Conflicts) == 0 {
		return []string{fitInfo(status, reason, counts[0], counts[1], optional, w)}
	}
	for n := len(optional); n >= 0; n-- {
		if lines := wrapInfo(head, slices.Concat(counts, optional[:n]), w); len(lines) <= rows {
			return lines
		}
	}
	// the reason cut on the rows above, the counts whole on the last
	lines := wrapWords(head, max(w, 1))
	if len(lines) >= rows {
		lines = lines[:rows-1]
		lines[rows-2] = ansi.Truncate(lines[rows-2]+" …", w, "…")
	}
	last := strings.Join(counts, " · ")
	if len(t.Conflicts) > 0 {
		if room := w - ansi.StringWidth(last+" · "); room >= 16 {
			last += " · " + cutEnd(optional[0], room)
		}
	}
	return append(lines, cutEnd(last, w))
}

// shortCommit is a commit id as git log --oneline shows it.
func shortCommit(id string) string { return id[:min(len(id), 7)] }

// fitInfo is the ticket's status line on one line of w cells. Short of
// room, the optional parts go from the last (a part other than the last
// may be cut instead, when enough of it shows), then the reason is cut,
// then the progress, then the status word; the cost stays whole.
func fitInfo(status, reason, prog, cost string, optional []string, w int) string {
	const sep = " · "
	head := status
	if reason != "" {
		head += ": " + reason
	}
	for n := len(optional); n >= 0; n-- {
		s := strings.Join(slices.Concat([]string{head, prog, cost}, optional[:n]), sep)
		if ansi.StringWidth(s) <= w {
			if n < len(optional)-1 {
				// a list of conflicting files, cut, still says there are some
				if room := w - ansi.StringWidth(s+sep); room >= 16 {
					s += sep + cutEnd(optional[n], room)
				}
			}
			return s
		}
	}
	sw, pw, cw, sepw := ansi.StringWidth(status), ansi.StringWidth(prog), ansi.StringWidth(cost), ansi.StringWidth(sep)
	switch room := w - 2*sepw - pw - cw; {
	case room > sw: // the status and as much of the reason as fits
		return cutWords(head, room) + sep + prog + sep + cost
	case room == sw:
		return status + sep + prog + sep + cost
	}
	switch room := w - 2*sepw - sw - cw; {
	case room >= 4: // a few letters of the phase and "…" still tell it
		return status + sep + cutEnd(prog, room) + sep + cost
	case w-sepw-cw >= 4:
		return cutEnd(status, w-sepw-cw) + sep + cost
	}
	return ansi.Truncate(cost, w, "")
}

// cutWords is cutEnd at a space when there is one in the last third: a
// reason cut between words reads better than one cut inside a word.
func cutWords(s string, w int) string {
	if ansi.StringWidth(s) <= w {
		return s
	}
	cut := ansi.Truncate(s, w-1, "")
	if i := strings.LastIndexByte(cut, ' '); i > 0 && ansi.StringWidth(cut[:i]) >= 2*(w-1)/3 {
		cut = cut[:i]
	}
	return strings.TrimRight(cut, " ") + "…"
}

// cutEnd cuts s to w cells, ending in "…" when cut, with no blank before it.
func cutEnd(s string, w int) string {
	if ansi.StringWidth(s) <= w {
		return s
	}
	return strings.TrimRight(ansi.Truncate(s, w-1, ""), " ") + "…"
}

// wrapInfo wraps head and parts, joined by " · ", at spaces in w cells; a
// line never starts with the separator, the first two parts (progress and
// cost) stay together, and a part without spaces of its own (a branch) is
// never split.
func wrapInfo(head string, parts []string, w int) []string {
	const glue = "\u00a0" // a space wrapWords does not break at
	var b strings.Builder
	b.WriteString(strings.ReplaceAll(head, glue, " "))
	// (glued only when they fit on a line together: else the cost would
	// be cut where the line ends)
	together := len(parts) >= 2 && ansi.StringWidth(parts[0]+" · "+parts[1]) <= w
	for i, p := range parts {
		p = strings.ReplaceAll(p, glue, " ")
		sep := glue + "· "
		if i < 2 && together {
			// the counts read as one: "review 8/9 · $0.421"
			p = strings.ReplaceAll(p, " ", glue)
			if i == 1 {
				sep = glue + "·" + glue
			}
		}
		b.WriteString(sep + p)
	}
	lines := wrapWords(b.String(), max(w, 1))
	for i, l := range lines {
		lines[i] = strings.ReplaceAll(l, glue, " ")
	}
	return lines
}

// maxInfoRows bounds the status lines above the tabs' content.
const maxInfoRows = 4

// tabShort are the tab names when the full ones do not fit.
var tabShort = [tabCount]string{"Stream", "Docs", "History", "Diff", "CI"}

// tabRow is the tab bar in the first form that fits w: full names, short
// names, then the open tab's name among the others' numbers.
func (m *Model) tabRow(w int) string {
	labels, sep := m.tabLabels(w)
	return ansi.Truncate(strings.Join(labels, sep), w, "")
}

// tabAt is the tab whose label is at column x of the tab bar, or -1.
func (m *Model) tabAt(x, w int) int {
	labels, sep := m.tabLabels(w)
	pos := 0
	for i, l := range labels {
		lw := lipgloss.Width(l)
		if x >= pos && x < pos+lw && x < w {
			return i
		}
		pos += lw + len(sep)
	}
	return -1
}

// tabLabels are the tab bar's styled labels and what separates them.
func (m *Model) tabLabels(w int) ([]string, string) {
	forms := []struct {
		names  *[tabCount]string
		others bool // name the tabs that are not open
		sep    string
	}{{&tabNames, true, "  "}, {&tabShort, true, " "}, {&tabShort, false, "  "}}
	for k, f := range forms {
		labels := make([]string, tabCount)
		width := len(f.sep) * (tabCount - 1)
		for i, n := range f.names {
			labels[i] = strconv.Itoa(i + 1)
			if f.others || i == m.tab {
				labels[i] += " " + n
			}
			if i == m.tab && m.noStyles {
				labels[i] = "[" + labels[i] + "]"
			}
			width += len(labels[i])
		}
		if width > w && k < len(forms)-1 {
			continue
		}
		for i := range labels {
			if i == m.tab {
				labels[i] = m.st.tabOn.Render(labels[i])
			} else {
				labels[i] = m.st.tab.Render(labels[i])
			}
		}
		return labels, f.sep
	}
	return nil, ""
}

// tabContent is the open tab's header line and visible lines.
func (m *Model) tabContent(t *store.Ticket, w, h int) (string, []string) {
	td := m.data[t.ID]
	switch m.tab {
	case tabStream:
		return m.streamContent(t, td, w, h)
	case tabDiff:
		d := m.diffs[t.ID]
		switch {
		case d == nil:
			return "", []string{m.st.dim.Render("loading diff…")}
		case d.err != nil:
			return "", []string{m.st.fail.Render(oneLine("diff: " + d.err.Error()))}
		case len(d.lines) == 0 && store.Finished(t.Status):
			return "", []string{m.st.dim.Render("No changes from this ticket.")}
		case len(d.lines) == 0:
			return "", []string{m.st.dim.Render("No changes on the branch yet.")}
		}
		header := d.header(w, h)
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
		lines = ciLines(m.st, t, td, w)
	}
	m.content.keys[tab], m.content.lines[tab] = k, lines
	return lines
}

func (m *Model) streamContent(t *store.Ticket, td *ticketData, w, h int) (string, []string) {
	if td == nil || (td.latest == 0 && !td.loaded) {
		if td != nil && td.loadErr != "" {
			return "", td.notLoaded(m.st, w)
		}
		return "", []string{m.st.dim.Render("loading…")}
	}
	if td.latest == 0 {
		return "", []string{m.st.dim.Render("No attempt yet.")}
	}
	a := td.attempt(td.latest)
	s := td.streams[td.latest]
	live := t.Status == store.StatusRunning && !m.q.noEngine
	streamed := 0
	if s != nil {
		streamed = s.raw
	}
	header := m.streamHeader(a, td.latest, streamed, live)
	ending := m.streamEnding(a, w, h)
	if s == nil {
		return header, ending
	}
	if !m.streamFollow {
		header = "↑ scrolled (end follows) · " + header
	}
	rows, kinds := s.window(m.streamTop, w, h-len(ending), m.streamFollow)
	out := make([]string, len(rows), len(rows)+len(ending))
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
	return header, append(out, ending...)
}

// streamEnding is how a failed attempt ended, shown under what it
// streamed: every model the chain tried, not only the last one's wait.
func (m *Model) streamEnding(a *store.Attempt, w, h int) []string {
	if a == nil || a.Error == "" || !a.Done() || h <= 3 {
		return nil
	}
	var ending []string
	for _, l := range strings.Split(ansi.Wrap(sanitize("error: "+a.Error), max(w, 1), " "), "\n") {
		if len(ending) == 3 {
			ending[2] = ansi.Truncate(ending[2]+" …", w, "…")
			break
		}
		ending = append(ending, m.st.fail.Render(l))
	}
	return ending
}

// streamHeader is the attempt's line; live says its ticket is running in
// this process, so an attempt not ended may still get a reply.
func (m *Model) streamHeader(a *store.Attempt, seq, streamed int, live bool) string {
	if a == nil {
		return fmt.Sprintf("attempt #%d", seq)
	}
	// the state comes before the counts, so a narrow pane cuts the counts
	parts := []string{a.Phase, fmt.Sprintf("attempt %d", a.N)}
	cmd := commandRun(a)
	if cmd {
		// no model, so no tokens or cost: as History shows it
		parts = append(parts, "command")
	}
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
	if cmd {
		return strings.Join(parts, " · ")
	}
	if noModelAnswered(a) {
		// nothing recorded to count: as `agent-tui show` says it
		return strings.Join(append(parts, engine.NoAnswerLabel(a.Interrupted, a.Error, a.Fallbacks, len(a.Wasted) > 0)), " · ")
	}
	model := a.Model
	switch {
	case model == "" && !a.Done() && live:
		model = "waiting for a model" // none has answered yet: the chain picks on the first reply
	case model == "":
		// ended, or its ticket stopped, with calls counted (answers cut
		// off or too long) but no model's answer taken
		model = engine.NoAnswerLabel(a.Interrupted, a.Error, a.Fallbacks, len(a.Wasted) > 0)
	}
	if m.opts.Simulated && a.Provider != "human" && (a.Model != "" || !a.Done() && live) {
		model += " (simulated)"
	}
	parts = append(parts, model)
	if a.ContextTokens > 0 {
		// the call's context, what the budget governs: before the counts
		// that a narrow pane cuts first
		parts = append(parts, "ctx "+tokens(a.ContextTokens))
	}
	extra := streamingCost(m.models, a, streamed)
	if extra > 0 {
		// before the counts: a narrow pane cuts those first
		parts = append(parts, "~"+money(a.CostUSD+extra)+" so far")
	}
	if !a.Done() && streamed > 0 {
		// counts and cost come with each call's end: meanwhile, what the
		// attempt has streamed so far, about four bytes a token
		parts = append(parts, "~"+tokens(streamed/4)+" streamed")
	}
	if counts := tokenCounts(a); counts != "" {
		parts = append(parts, counts)
	}
	if extra > 0 {
		return strings.Join(parts, " · ")
	}
	return strings.Join(append(parts, money(a.CostUSD)), " · ")
}
