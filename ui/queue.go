package ui

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"agent-tui/engine"
	"agent-tui/store"
)

// presets are the status filters `f` cycles through.
var presets = []struct {
	name  string
	match func(*store.Ticket) bool
}{
	{"all", func(*store.Ticket) bool { return true }},
	{"waiting for you", waiting},
	{"active", func(t *store.Ticket) bool { return !finished(t.Status) }},
	{"running", func(t *store.Ticket) bool { return t.Status == store.StatusRunning && !paused(t) }},
	{"finished", func(t *store.Ticket) bool { return finished(t.Status) }},
}

// queue is the left pane: every ticket in tree order (children under their
// epic), the filtered rows, the selection and the scroll window.
type queue struct {
	tickets map[string]*store.Ticket
	order   []string       // every id, tree order
	depth   map[string]int // nesting under epics
	rows    []string       // ids passing the filter
	sel     int
	top     int
	filter  string
	preset  int
	// lastID is the ticket last selected, kept while a filter shows no
	// rows, so clearing the filter goes back to it
	lastID string

	// running tickets waiting for one of max_parallel's slots
	queued map[string]bool
	// noEngine: the UI only browses; what says running was cut off
	noEngine bool
	// slotHeard: tickets whose slot event came since the last reload was
	// asked for; newer than what the reload brings
	slotHeard map[string]bool

	// totals for the status line, kept in Update so View stays cheap
	running, paused, waiting, slotWait int
	spend                              float64
	cols                               rowCols

	// rendered rows by ticket id; a changed ticket is a new snapshot
	// pointer, so a stale entry never matches
	cache map[string]cachedRow
}

type cachedRow struct {
	t         *store.Ticket
	width     int
	sel, idle bool
	cols      rowCols
	lines     []string
}

// rowCols are the widths of the one-line row's columns: as wide as the
// widest of any ticket (status and phase up to a cap), so the title gets
// the room they do not need and the columns line up.
type rowCols struct{ id, status, prog, cost int }

const maxStatusCol, maxProgCol = 19, 14

func (c *rowCols) fit(t *store.Ticket, status string) {
	c.id = max(c.id, ansi.StringWidth(t.ID))
	c.status = max(c.status, min(ansi.StringWidth(status), maxStatusCol))
	c.prog = max(c.prog, min(ansi.StringWidth(progress(t)), maxProgCol))
	c.cost = max(c.cost, len(money(t.CostUSD)))
}

func newQueue() queue {
	return queue{tickets: map[string]*store.Ticket{}, depth: map[string]int{}, cache: map[string]cachedRow{}, queued: map[string]bool{}, slotHeard: map[string]bool{}}
}

func (q *queue) selected() *store.Ticket {
	if q.sel < 0 || q.sel >= len(q.rows) {
		return nil
	}
	return q.tickets[q.rows[q.sel]]
}

func (q *queue) selectedID() string {
	if t := q.selected(); t != nil {
		return t.ID
	}
	return ""
}

// setAll replaces every ticket (initial load, resync).
func (q *queue) setAll(ts []*store.Ticket) {
	keep := q.selectedID()
	q.tickets = make(map[string]*store.Ticket, len(ts))
	for _, t := range ts {
		q.tickets[t.ID] = t
	}
	q.reorder()
	q.refilter(keep)
}

// put records a ticket snapshot.
func (q *queue) put(t *store.Ticket) {
	keep := q.selectedID()
	old, ok := q.tickets[t.ID]
	if ok && !old.Updated.IsZero() && !t.Updated.IsZero() && t.Updated.Before(old.Updated) {
		return // a snapshot overtaken by a newer one (two publishers raced)
	}
	q.tickets[t.ID] = t
	if !ok || old.Parent != t.Parent || len(old.Children) != len(t.Children) {
		q.reorder()
	}
	q.refilter(keep)
}

// idNum orders "T-9" before "T-10".
func idNum(id string) int {
	n, err := strconv.Atoi(id[strings.LastIndexByte(id, '-')+1:])
	if err != nil {
		return 1 << 30
	}
	return n
}

func (q *queue) reorder() {
	children := map[string][]string{}
	var roots []string
	for id, t := range q.tickets {
		if _, ok := q.tickets[t.Parent]; t.Parent != "" && ok && t.Parent != id {
			children[t.Parent] = append(children[t.Parent], id)
		} else {
			roots = append(roots, id)
		}
	}
	byID := func(a, b string) int {
		if d := idNum(a) - idNum(b); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	}
	slices.SortFunc(roots, byID)
	q.order = q.order[:0]
	clear(q.depth)
	clear(q.cache) // depths may have changed
	var walk func(id string, d int)
	walk = func(id string, d int) {
		if _, seen := q.depth[id]; seen {
			return
		}
		q.depth[id] = d
		q.order = append(q.order, id)
		kids := children[id]
		slices.SortFunc(kids, byID)
		for _, c := range kids {
			walk(c, d+1)
		}
	}
	for _, id := range roots {
		walk(id, 0)
	}
}

// refilter recomputes the rows and totals, keeping the selected ticket.
func (q *queue) refilter(keep string) {
	if keep == "" {
		keep = q.lastID
	} else {
		q.lastID = keep
	}
	q.rows = q.rows[:0]
	q.running, q.paused, q.waiting, q.slotWait, q.spend = 0, 0, 0, 0, 0
	q.cols = rowCols{}
	terms := strings.Fields(strings.ToLower(q.filter))
	match := presets[q.preset].match
	for _, id := range q.order {
		t := q.tickets[id]
		q.cols.fit(t, q.rowStatus(t)) // of every ticket: a filter does not shift the columns
		// a paused ticket keeps its status (running, queued) but runs nothing
		switch {
		case waiting(t):
			q.waiting++
		case paused(t):
			q.paused++
		case q.waitsForSlot(t):
			q.slotWait++
		case t.Status == store.StatusRunning && !q.noEngine:
			q.running++
		}
		q.spend += t.CostUSD
		if match(t) && q.matchTerms(t, terms) {
			q.rows = append(q.rows, id)
		}
	}
	q.sel = clamp(q.sel, 0, max(len(q.rows)-1, 0))
	if keep != "" {
		if i := slices.Index(q.rows, keep); i >= 0 {
			q.sel = i
		}
	}
}

func (q *queue) matchTerms(t *store.Ticket, terms []string) bool {
	if len(terms) == 0 {
		return true
	}
	// the words the row shows, and the stored status name ("queued",
	// "needs_human") that a row may show otherwise
	hay := strings.ToLower(t.ID + " " + t.Kind + " " + t.Title + " " + q.rowStatus(t) + " " + t.Status + " " +
		strings.ReplaceAll(t.Status, "_", " ") + " " + progress(t) + " " + engine.CurrentPhase(t))
	if waiting(t) {
		hay += " waiting for you" // as the status line counts it: needs human too
	}
	for _, term := range terms {
		if !strings.Contains(hay, term) {
			return false
		}
	}
	return true
}

func (q *queue) move(d int) {
	q.sel = clamp(q.sel+d, 0, max(len(q.rows)-1, 0))
}

// nextWaiting selects the next ticket waiting for the user, wrapping.
func (q *queue) nextWaiting() bool {
	n := len(q.rows)
	for i := 1; i <= n; i++ {
		j := (q.sel + i) % n
		if waiting(q.tickets[q.rows[j]]) {
			q.sel = j
			return true
		}
	}
	// one the filter hides: the filter goes, the ticket is what was asked for
	for _, id := range q.order {
		if waiting(q.tickets[id]) {
			q.filter, q.preset = "", 0
			q.refilter(id)
			return true
		}
	}
	return false
}

// rowHeight is 1 when a row fits on one line at width w, else 2.
func rowHeight(w int) int {
	if w >= 76 {
		return 1
	}
	return 2
}

// scrollTo keeps the selection inside a window of h lines.
func (q *queue) scrollTo(w, h int) {
	n := max(h/rowHeight(w), 1)
	if q.sel < q.top {
		q.top = q.sel
	}
	if q.sel >= q.top+n {
		q.top = q.sel - n + 1
	}
	q.top = clamp(q.top, 0, max(len(q.rows)-n, 0))
}

// filtered says whether a filter or a status preset hides tickets.
func (q *queue) filtered() bool { return q.filter != "" || q.preset != 0 }

func (q *queue) title() string {
	s := fmt.Sprintf("Queue %d/%d", len(q.rows), len(q.tickets))
	if q.preset != 0 {
		s += " · " + presets[q.preset].name
	}
	if q.filter != "" {
		s += " · /" + q.filter
	}
	return s
}

// render draws only the visible rows. Unfocused (idle), the queue shows
// its selection by the cursor bar alone: j and k do not move it then.
func (q *queue) render(st *styles, w, h int, idle bool) []string {
	if len(q.rows) == 0 {
		if len(q.tickets) == 0 {
			return []string{st.dim.Render("No tickets yet: n creates one.")}
		}
		return []string{st.dim.Render("No ticket matches the filter.")}
	}
	rh := rowHeight(w)
	n := max(h/rh, 1)
	top := clamp(q.top, 0, max(len(q.rows)-1, 0))
	out := make([]string, 0, h)
	for i := top; i < len(q.rows) && i < top+n; i++ {
		t, sel := q.tickets[q.rows[i]], i == q.sel
		c, ok := q.cache[t.ID]
		if !ok || c.t != t || c.width != w || c.sel != sel || c.idle != idle || c.cols != q.cols {
			c = cachedRow{t: t, width: w, sel: sel, idle: idle, cols: q.cols, lines: q.row(st, t, w, sel, idle)}
			q.cache[t.ID] = c
		}
		out = append(out, c.lines...)
	}
	return out
}

func (q *queue) row(st *styles, t *store.Ticket, w int, sel, idle bool) []string {
	mark, ms := marker(st, t)
	// the cursor column shows the selection without colour too
	cur := " "
	if sel {
		cur = "▌"
	}
	if sel && idle {
		cur, sel = st.dim.Render(cur), false // drawn as any row, but for the bar
	}
	indent := strings.Repeat("  ", q.depth[t.ID])
	if indent != "" {
		indent = indent[2:] + "└ "
	}
	status, style := q.rowStatus(t), statusStyle(st, t)
	if q.waitsForSlot(t) || q.noEngine && t.Status == store.StatusRunning && !paused(t) {
		// nothing of it runs: drawn as a queued ticket, not a running one
		mark, ms, style = "·", st.dim, st.dim
	}
	prog := progress(t)
	cost := money(t.CostUSD)
	if rowHeight(w) == 1 {
		c := q.cols
		left := fmt.Sprintf("%s %-*s %-4s %s", mark, c.id, t.ID, kindShort(t.Kind), indent)
		// the cost is never cut: a deep row narrows its phase, then its status
		if over := ansi.StringWidth(left) + 3 + c.status + c.prog + c.cost + minTitleCol - (w - 1); over > 0 {
			cut := min(over, c.prog)
			c.prog, c.status = c.prog-cut, max(c.status-(over-cut), 0)
		}
		right := fmt.Sprintf(" %-*s %-*s %*s", c.status, ansi.Truncate(status, c.status, "…"), c.prog, ansi.Truncate(prog, c.prog, "…"), c.cost, cost)
		titleW := max(w-1-ansi.StringWidth(left)-ansi.StringWidth(right), 1)
		title := ansi.Truncate(oneLine(t.Title), titleW, "…")
		title += strings.Repeat(" ", titleW-ansi.StringWidth(title))
		if sel {
			return []string{cur + st.selected.Render(ansi.Truncate(left+title+right, w-1, ""))}
		}
		return []string{cur + ms.Render(mark) + left[len(mark):] + title + style.Render(right)}
	}
	l1 := fmt.Sprintf("%s %s %s %s", mark, t.ID, kindShort(t.Kind), indent+oneLine(t.Title))
	l1, l2 := ansi.Truncate(l1, w-1, "…"), ansi.Truncate(stateLine(status, prog, cost, w-1), w-1, "…")
	if sel {
		return []string{cur + st.selected.Render(pad(l1, w-1)), cur + st.selected.Render(pad(l2, w-1))}
	}
	return []string{cur + ms.Render(mark) + l1[len(mark):], cur + style.Render(l2)}
}

// rowStatus is the status word a row shows.
func (q *queue) rowStatus(t *store.Ticket) string {
	if q.waitsForSlot(t) {
		return "waiting for a slot"
	}
	return statusWord(t, q.noEngine)
}

// minTitleCol is the least title a one-line row keeps.
const minTitleCol = 8

// stateLine is the second line of a two-line row in w cells: the cost
// always, then the status; the phase is cut first, then dropped.
func stateLine(status, prog, cost string, w int) string {
	const sep, sepW = " · ", 3
	room := w - 2 - 2*sepW - ansi.StringWidth(cost) - ansi.StringWidth(status)
	switch {
	case room >= ansi.StringWidth(prog):
	case room >= 4: // a few letters of the phase and "…" still tell it
		prog = strings.TrimRight(ansi.Truncate(prog, room-1, ""), " ") + "…"
	default:
		status = ansi.Truncate(status, max(w-2-sepW-ansi.StringWidth(cost), 1), "…")
		return "  " + status + sep + cost
	}
	return "  " + status + sep + prog + sep + cost
}

// marker makes tickets that wait for the user stand out.
func marker(st *styles, t *store.Ticket) (string, lipgloss.Style) {
	switch {
	case t.Status == store.StatusNeedsHuman:
		return "!", st.needsHuman
	case t.Status == store.StatusAwaiting:
		return "?", st.awaiting
	case paused(t):
		return "‖", st.paused
	case t.Status == store.StatusRunning:
		return "›", st.running
	case t.Status == store.StatusDone:
		return "✓", st.done
	case t.Status == store.StatusFailed || t.Status == store.StatusCancelled:
		return "✗", st.failed
	}
	return "·", st.dim
}

func statusStyle(st *styles, t *store.Ticket) lipgloss.Style {
	switch {
	case t.Status == store.StatusNeedsHuman:
		return st.needsHuman
	case t.Status == store.StatusAwaiting:
		return st.awaiting
	case paused(t):
		return st.paused
	case t.Status == store.StatusRunning:
		return st.running
	case t.Status == store.StatusDone:
		return st.done
	case t.Status == store.StatusFailed || t.Status == store.StatusCancelled:
		return st.failed
	}
	return st.dim
}

// pad fills s with spaces to width w.
func pad(s string, w int) string {
	if d := w - ansi.StringWidth(s); d > 0 {
		return s + strings.Repeat(" ", d)
	}
	return s
}

// waitsForSlot says t would run but waits for one of max_parallel's
// slots: a ticket that never started (queued) as much as one between
// phases.
func (q *queue) waitsForSlot(t *store.Ticket) bool {
	return (t.Status == store.StatusRunning || t.Status == store.StatusQueued) && q.queued[t.ID]
}

// slotsFrom takes the tickets waiting for a slot from a reload, except
// those heard of since it was asked for.
func (q *queue) slotsFrom(waiting []string) {
	for id := range q.queued {
		if !q.slotHeard[id] {
			delete(q.queued, id)
		}
	}
	for _, id := range waiting {
		if !q.slotHeard[id] {
			q.queued[id] = true
		}
	}
}

// slot records that a running ticket waits for a slot, or has one.
func (q *queue) slot(id string, queued bool) {
	q.slotHeard[id] = true
	if q.queued[id] == queued {
		return
	}
	if queued {
		q.queued[id] = true
	} else {
		delete(q.queued, id)
	}
	delete(q.cache, id) // its row says so
	q.refilter(q.selectedID())
}
