package ui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"

	"agent-tui/engine"
	"agent-tui/engine/config"
	"agent-tui/engine/llm"
	"agent-tui/engine/workspace"
	"agent-tui/store"
)

// Tabs of the detail pane.
const (
	tabStream = iota
	tabDocs
	tabHistory
	tabDiff
	tabCI
	tabCount
)

var tabNames = [tabCount]string{"Stream", "Documents", "History", "Diff", "CI"}

const (
	focusQueue = iota
	focusDetail
)

// Model is the root model: it owns focus, layout and message routing. The
// panes are plain data with render functions.
type Model struct {
	b    Backend
	opts Options
	ctx  context.Context
	keys keyMap
	help help.Model
	// editOnLoad is the ticket whose editor e asked for before its
	// attempts were loaded
	editOnLoad string
	// helpTop is the first line of a full help too tall for the screen
	helpTop int
	st      *styles

	width, height int
	// resizes counts the terminal's sizes, so that only the last one's
	// resizeSettledMsg redraws
	resizes    int
	focus, tab int
	// noStyles: the terminal shows no colours nor bold (TERM=dumb), so
	// the open tab needs a mark of characters
	noStyles bool

	q         queue
	data      map[string]*ticketData
	diffs     map[string]*diffData
	diffReq   map[string]string // ticket → state key of the diff being fetched
	diffSeen  string            // ticket whose diff the Diff tab showed last; "" when it is not open
	docs      *docCache
	content   *contentCache
	helpCache *helpCache

	// scroll of the detail pane for the selected ticket
	shown        string // ticket the scroll positions belong to
	shownSeq     int    // and the attempt the stream scroll belongs to
	streamTop    int
	streamFollow bool
	textTop      [tabCount]int

	dialogs     []dialog
	filtering   bool
	filterInput textinput.Model

	flash    string
	flashErr bool
	flashID  int
	// a flash goes stale before it expires: one about ticket flashOn once
	// that ticket leaves flashStatus for a state an action ends in, one
	// asking for a selection once there is one
	flashOn, flashStatus string
	flashPaused          bool   // flashOn's pause as the flash found it
	flashKind            string // the decision the flash is about, if one
	flashNoSel           bool

	loaded      bool
	loadErr     string // why the tickets could not be read, until they are
	health      []llm.ProviderHealth
	models      []engine.ModelChoice
	confinement string
}

type helpCache struct {
	width, height int
	all, filtered bool
	typing        bool // a filter being typed
	keep          []string
	lines         []string
	screen        bool

	// ticketKeys of keepFor with its attempts at keepVer
	keepFor    *store.Ticket
	keepVer    int
	keepLoaded bool
	keepKeys   []string
}

// NewModel builds the root model; Init loads the tickets.
func NewModel(b Backend, opts Options) Model {
	st := newStyles()
	h := help.New()
	h.Styles = st.help
	h.FullSeparator = "   " // four groups fit in 80 columns
	fi := steadyInput(textinput.New())
	fi.Prompt = "/"
	fi.Placeholder = "status words, title, id"
	q := newQueue()
	q.noEngine = opts.NoModel != ""
	m := Model{
		b: b, opts: opts, ctx: context.Background(),
		keys: newKeyMap(), help: h, st: &st,
		width: 100, height: 30,
		q:    q,
		data: map[string]*ticketData{}, diffs: map[string]*diffData{}, diffReq: map[string]string{},
		docs: newDocCache(), content: &contentCache{}, helpCache: &helpCache{},
		streamFollow: true,
		filterInput:  fi,
		confinement:  opts.Confinement,
		flash:        noModelFlash(opts.NoModel, opts.Simulated),
		flashErr:     opts.NoModel != "",
	}
	if opts.StateFile != "" {
		if s, ok := loadViewState(opts.StateFile); ok {
			m.restore(s)
		}
	}
	return m
}

func noModelFlash(reason string, simulated bool) string {
	switch {
	case reason == "":
		return ""
	case simulated:
		// a demo reopened: its model was a server inside its own run
		return "this demo's simulated model ended with its run, so this is for browsing only (tickets and decisions are kept); agent-tui --demo starts a new demo"
	}
	return reason + ": browsing only; tickets and decisions are kept for a run with a model"
}

// Init loads what the first frame needs, each in a command.
func (m Model) Init() tea.Cmd {
	// the sandbox probe starts a process: it waits for the tickets rather
	// than compete with them for the first frame
	cmds := []tea.Cmd{loadTickets(m.b), loadHealth(m.b), loadModels(m.b, ""), tick(1)}
	if m.flash != "" {
		// the no-model notice takes the status line: it gives the counters
		// back once read (the line keeps "no model: tickets wait")
		id := m.flashID
		cmds = append(cmds, after(3*flashFor, func(time.Time) tea.Msg { return flashExpiredMsg{id} }))
	}
	return tea.Batch(cmds...)
}

// Update routes a message, then makes sure what the next frame shows is
// loaded (by commands) or cached.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	cmd := m.update(msg)
	return m, tea.Batch(cmd, m.prepare())
}

func (m *Model) update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case resizeSettledMsg:
		if int(msg) != m.resizes {
			return nil
		}
		// a frame written while the terminal changed size again shows
		// cut or wrapped, and the renderer, drawing changes only, would
		// keep it so: once the size holds, every cell is drawn again
		return tea.ClearScreen
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		m.resizes++
		n := m.resizes
		// an input's text is scrolled to its dialog's width
		for i, d := range m.dialogs {
			m.dialogs[i] = m.sized(d)
		}
		if l := m.layout(); l.contentW > 0 {
			// wider now: what was scrolled out of view to the left fits
			for _, d := range m.diffs {
				d.fit(l.contentW, l.contentH)
			}
		}
		return after(resizeSettle, func(time.Time) tea.Msg { return resizeSettledMsg(n) })
	case tea.ColorProfileMsg:
		m.noStyles = msg.Profile == colorprofile.NoTTY
		return nil
	case tea.KeyPressMsg:
		return m.key(msg)
	case tea.MouseWheelMsg:
		if m.tooSmall() {
			return nil
		}
		return m.wheel(msg.Mouse())
	case tea.MouseClickMsg:
		if m.tooSmall() {
			return nil
		}
		return m.click(msg.Mouse())
	case engine.Event:
		return m.event(msg)
	case eventsMsg:
		var cmds []tea.Cmd
		for _, ev := range msg {
			cmds = append(cmds, m.event(ev))
		}
		return tea.Batch(cmds...)
	case ticketsMsg:
		if msg.err != nil {
			// kept in the queue's place: a flash goes, the reason must not
			m.loadErr = msg.err.Error()
			return m.setFlash("loading tickets: "+msg.err.Error(), true)
		}
		m.loadErr = ""
		var probe tea.Cmd
		if !m.loaded && m.confinement == "" {
			probe = loadConfinement(m.b)
		}
		m.loaded = true
		m.q.slotsFrom(msg.slotWaiters)
		m.q.setAll(msg.tickets)
		return probe
	case attemptsMsg:
		td := m.ticketData(msg.id)
		if msg.err != nil {
			td.loading, td.loadErr = false, msg.err.Error()
			td.version++ // (the panes' caches key on it)
			if m.editOnLoad == msg.id {
				m.editOnLoad = ""
			}
			return m.setFlash("loading "+msg.id+": "+msg.err.Error(), true)
		}
		if m.q.noEngine {
			// no run holds the tickets: an attempt that never ended was
			// cut off (kill -9), not running, as the ticket says
			for i, a := range msg.attempts {
				if !a.Done() {
					cut := *a
					cut.Interrupted = true
					msg.attempts[i] = &cut
				}
			}
		}
		td.setLoaded(msg.attempts)
		if m.editOnLoad == msg.id {
			m.editOnLoad = ""
			// still the one selected, still waiting, nothing opened since
			if t := m.q.selected(); t != nil && t.ID == msg.id && len(m.dialogs) == 0 && engine.Allowed(t, store.DecisionEditApprove) == nil {
				m.flash = ""
				return m.openEditor(t, td)
			}
		}
		return nil
	case diffMsg:
		if m.diffReq[msg.id] == msg.key {
			delete(m.diffReq, msg.id)
		}
		if old := m.diffs[msg.id]; old != nil && len(old.lines) == len(msg.d.lines) {
			msg.d.top, msg.d.left, msg.d.pin = old.top, old.left, old.pin // a refresh of the same size keeps the place
		}
		m.diffs[msg.id] = msg.d
		return nil
	case docRenderedMsg:
		delete(m.docs.pending, msg.key)
		m.docs.done[msg.key] = msg.lines
		m.docs.version++
		return nil
	case healthMsg:
		m.health = msg
		return nil
	case confinementMsg:
		m.confinement = string(msg)
		return nil
	case modelsMsg:
		m.models = msg.models
		if msg.pickFor != "" {
			return m.pushModelPicker(msg.pickFor)
		}
		return nil
	case actionMsg:
		text, isErr := msg.text, msg.err != nil
		if isErr {
			text = msg.err.Error()
		}
		cmd := m.setFlash(text, isErr)
		m.flashAbout(msg.id)
		m.flashKind = msg.kind
		if msg.back != nil {
			// refused (the ticket moved on meanwhile): what was typed
			// comes back with why, for another decision or esc
			m.dialogs = append(m.dialogs, m.sized(msg.back))
		}
		return cmd
	case ticketAddedMsg:
		if msg.err != nil {
			// the form comes back with what was typed and why it failed
			f, cmd := m.newTicketForm()
			// sized: the title put back is scrolled to the form's width
			m.dialogs = append(m.dialogs, f.refill(msg.n, msg.err.Error()).sized(dialogWidth(m.width)))
			return cmd
		}
		m.q.put(msg.t)
		m.selectID(msg.t.ID)
		return m.setFlash("created "+msg.t.ID, false)
	case editorReadyMsg:
		if msg.err != nil {
			return m.setFlash("editor: "+msg.err.Error(), true)
		}
		return tea.ExecProcess(editorCommand(msg.path), func(err error) tea.Msg {
			return editorDoneMsg{id: msg.id, path: msg.path, orig: msg.orig, pending: msg.pending, err: err}
		})
	case editorDoneMsg:
		done := "edited deliverable approved for " + msg.id
		if t := m.q.tickets[msg.id]; t != nil && pausedNow(t) {
			done += "; it goes on when resumed"
		}
		return finishEdit(m.b, msg, doneText(m.opts.NoModel != "", store.DecisionEditApprove, msg.id, done))
	case flashExpiredMsg:
		if msg.id == m.flashID {
			m.flash = ""
		}
		return nil
	case tickMsg:
		return tea.Batch(tick(msg.n+1), loadHealth(m.b))
	}
	// anything else (a paste, cursor blinks) belongs to whatever has the input
	if len(m.dialogs) > 0 {
		return m.updateDialog(msg)
	}
	if m.filtering {
		return m.editFilter(msg)
	}
	return nil
}

func (m *Model) ticketData(id string) *ticketData {
	td, ok := m.data[id]
	if !ok {
		td = newTicketData()
		m.data[id] = td
	}
	return td
}

// event applies one engine event.
func (m *Model) event(ev engine.Event) tea.Cmd {
	switch ev.Type {
	case engine.EvTicket:
		if ev.Ticket != nil {
			m.ticketMoved(ev.Ticket)
			m.q.put(ev.Ticket)
		}
	case engine.EvAttempt:
		if ev.Attempt != nil {
			m.ticketData(ev.TicketID).upsert(ev.Attempt)
		}
	case engine.EvDelta:
		m.ticketData(ev.TicketID).delta(ev.Seq, ev.Text)
	case engine.EvHealth:
		return loadHealth(m.b)
	case engine.EvSlot:
		m.q.slot(ev.TicketID, ev.Queued)
	case engine.EvResync:
		// events were dropped while the UI was busy: reload what is shown
		clear(m.data)
		clear(m.q.slotHeard)
		return loadTickets(m.b) // slot waits too: some may have gone unheard
	}
	return nil
}

func (m *Model) setFlash(text string, isErr bool) tea.Cmd {
	m.flashID++
	m.flash, m.flashErr = text, isErr
	m.flashOn, m.flashStatus, m.flashNoSel = "", "", false
	id := m.flashID
	return after(flashFor, func(time.Time) tea.Msg { return flashExpiredMsg{id} })
}

// flashAbout ties the flash to ticket id as it is now.
func (m *Model) flashAbout(id string) {
	m.flashOn, m.flashStatus, m.flashPaused, m.flashKind = id, "", false, ""
	if t := m.q.tickets[id]; t != nil {
		m.flashStatus, m.flashPaused = t.Status, t.Paused
	}
}

// ticketMoved drops a flash about t once t settles in another state:
// "retrying T-6 on large" is stale when that attempt has failed. Queued
// and running are what an action starts, not how it ended.
func (m *Model) ticketMoved(t *store.Ticket) {
	switch {
	case m.flash == "" || t.ID != m.flashOn:
	case t.Paused != m.flashPaused && (m.flashKind == store.DecisionPause || m.flashKind == store.DecisionResume):
		// "pausing T-6 once its current step ends": it has. Said as done,
		// so which ticket it was stays on screen (the selection may have
		// moved on from it under a filter)
		m.flash = t.ID + " resumed"
		if t.Paused {
			m.flash = t.ID + " paused"
		}
		if len(t.Children) > 0 {
			m.flash += " with its children" // an epic's pause is theirs
		}
		m.flashPaused, m.flashStatus = t.Paused, t.Status
	case t.Paused != m.flashPaused && m.flashKind == "":
		m.flash, m.flashOn = "", ""
	case t.Paused && !m.flashPaused:
		// a pause given before the decision, carried out after it: what
		// the flash says ("approved T-6") still holds
		m.flashPaused = true
	case !t.Paused && m.flashPaused:
		// resumed: "it goes on when resumed" has come true
		m.flash, m.flashOn = "", ""
	case t.Status == m.flashStatus:
	case t.Status == store.StatusQueued || t.Status == store.StatusRunning:
		m.flashStatus = t.Status
	default:
		m.flash, m.flashOn = "", ""
	}
}

func (m *Model) selectID(id string) {
	for i, r := range m.q.rows {
		if r == id {
			m.q.sel = i
			return
		}
	}
}

// prepare runs after every message: it resets scroll on a new selection,
// and starts the loads and renders the visible tab needs. Cheap when there
// is nothing to do: a few map lookups.
func (m *Model) prepare() tea.Cmd {
	l := m.layout()
	m.q.scrollTo(l.queueInnerW, l.queueRows)
	t := m.q.selected()
	if t == nil {
		m.diffSeen = ""
		return nil
	}
	if m.flashNoSel {
		m.flash, m.flashNoSel = "", false
	}
	if t.ID != m.shown {
		m.shown = t.ID
		m.streamTop, m.streamFollow = 0, true
		m.textTop = [tabCount]int{}
	}
	var cmds []tea.Cmd
	td := m.ticketData(t.ID)
	if !td.loaded && !td.loading {
		td.loading = true
		cmds = append(cmds, loadAttempts(m.b, t.ID))
	}
	switch m.tab {
	case tabStream:
		if td.latest > 0 {
			td.stream(td.latest)
		}
		if td.latest != m.shownSeq {
			// a new attempt started: show it from its tail
			m.shownSeq, m.streamTop, m.streamFollow = td.latest, 0, true
		}
	case tabDocs:
		for _, it := range docItems(t, td, l.contentW) {
			if _, ok := m.docs.done[it.key]; !ok && !m.docs.pending[it.key] {
				m.docs.pending[it.key] = true
				cmds = append(cmds, m.docs.renderCmd(it.key, it.md))
			}
		}
	case tabDiff:
		k := diffStateKey(t)
		d := m.diffs[t.ID]
		// the worktree can change with no ticket event (a human editing
		// it): coming to the diff refetches one that is not fresh
		arrived := m.diffSeen != t.ID && d != nil && now().Sub(d.fetched) > diffFresh
		_, busy := m.diffReq[t.ID]
		if (d == nil || d.key != k) && m.diffReq[t.ID] != k || arrived && !busy {
			m.diffReq[t.ID] = k
			cmds = append(cmds, loadDiff(m.ctx, m.b, t.ID, k))
		}
	}
	if m.tab == tabDiff {
		m.diffSeen = t.ID
	} else {
		m.diffSeen = ""
	}
	return tea.Batch(cmds...)
}

// diffStateKey changes whenever the branch may have changed.
func diffStateKey(t *store.Ticket) string {
	return fmt.Sprintf("%s|%s|%s|%d", t.Status, t.Phase, t.Worktree, len(t.Decisions))
}

// sized is d told the width it is drawn at, if it has text inputs.
func (m *Model) sized(d dialog) dialog {
	if s, ok := d.(sizedDialog); ok {
		return s.sized(dialogWidth(m.width))
	}
	return d
}

// updateDialog hands msg to the top dialog, at the width it is drawn at:
// an input scrolls its text by that width as it changes (a paste into an
// unsized one would be drawn whole, wrapped over the screen).
func (m *Model) updateDialog(msg tea.Msg) tea.Cmd {
	n := len(m.dialogs)
	d, cmd, closed := m.sized(m.dialogs[n-1]).Update(msg)
	if closed {
		m.dialogs = m.dialogs[:n-1]
	} else {
		m.dialogs[n-1] = d
	}
	return cmd
}

// key handles a key press: dialogs first, then the filter bar, then the
// key map.
func (m *Model) key(k tea.KeyPressMsg) tea.Cmd {
	if m.tooSmall() {
		// nothing but the notice is drawn: a key would act unseen (a y
		// answering an approval no one saw asked); only quitting works
		if k.String() == "ctrl+c" || (len(m.dialogs) == 0 && !m.filtering && key.Matches(k, m.keys.Quit)) {
			return tea.Quit
		}
		return nil
	}
	if len(m.dialogs) > 0 {
		return m.updateDialog(k)
	}
	if m.filtering {
		return m.filterKey(k)
	}
	if k.String() == "ctrl+c" {
		return tea.Quit
	}
	km := m.keys
	switch {
	case m.help.ShowAll && k.String() == "esc":
		m.help.ShowAll = false
	case key.Matches(k, km.Quit):
		return tea.Quit
	case key.Matches(k, km.Help):
		m.help.ShowAll = !m.help.ShowAll
		m.helpTop = 0
	case m.helpOverflows() && key.Matches(k, km.Up, km.Down, km.PageUp, km.PageDown, km.Top, km.Bottom):
		// the panes are hidden: these scroll the keys, not the queue
		switch {
		case key.Matches(k, km.Up):
			m.helpTop--
		case key.Matches(k, km.Down):
			m.helpTop++
		case key.Matches(k, km.PageUp):
			m.helpTop -= m.height / 2
		case key.Matches(k, km.PageDown):
			m.helpTop += m.height / 2
		case key.Matches(k, km.Top):
			m.helpTop = 0
		default:
			m.helpTop = 1 << 30
		}
		l := m.layout()
		m.helpTop = clamp(m.helpTop, 0, max(l.helpH-(m.height-l.statusH-1), 0))
	case key.Matches(k, km.Focus):
		m.focus = 1 - m.focus
	case key.Matches(k, km.Tabs):
		m.tab = int(k.String()[0] - '1')
	case key.Matches(k, km.Up):
		return m.move(-1)
	case key.Matches(k, km.Down):
		return m.move(1)
	case key.Matches(k, km.PageUp):
		return m.move(-m.pageSize())
	case key.Matches(k, km.PageDown):
		return m.move(m.pageSize())
	case key.Matches(k, km.Top):
		return m.move(-1 << 30)
	case key.Matches(k, km.Bottom):
		return m.move(1 << 30)
	case key.Matches(k, km.NextWaiting):
		if !m.q.nextWaiting() {
			return m.setFlash("nothing is waiting for you", false)
		}
	case key.Matches(k, km.Filter):
		m.focus = 0 // the filter bar is in the queue pane, the only one when narrow
		m.filtering = true
		m.filterInput.SetValue(m.q.filter)
		m.filterInput.CursorEnd()
		return m.filterInput.Focus()
	case key.Matches(k, km.Preset):
		m.q.preset = (m.q.preset + 1) % len(presets)
		m.q.refilter(m.q.selectedID())
	case key.Matches(k, km.ClearFilter) && m.q.filtered():
		m.q.filter, m.q.preset = "", 0
		m.filterInput.SetValue("")
		m.q.refilter(m.q.selectedID())
	case key.Matches(k, km.Left, km.Right):
		m.sideways(key.Matches(k, km.Right))
	case key.Matches(k, km.FirstColumn):
		if d := m.selectedDiff(); d != nil && m.tab == tabDiff {
			d.left = 0
		}
	case key.Matches(k, km.PrevFile, km.NextFile):
		if d := m.selectedDiff(); d != nil && m.tab == tabDiff {
			l := m.layout()
			if key.Matches(k, km.NextFile) {
				d.jump(1, l.contentH)
			} else {
				d.jump(-1, l.contentH)
			}
			// a file whose lines are all left of where the view was
			// scrolled would show a blank pane
			d.fit(l.contentW, l.contentH)
		}
	default:
		return m.action(k)
	}
	return nil
}

// filterKey edits the filter bar; the queue narrows as you type.
func (m *Model) filterKey(k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "esc":
		m.filtering = false
		m.filterInput.Blur()
		m.q.filter = ""
		m.q.refilter(m.q.selectedID())
		return nil
	case "enter":
		m.filtering = false
		m.filterInput.Blur()
		return nil
	case "ctrl+c":
		return tea.Quit
	case "up": // the rows being narrowed: picked from as they narrow
		m.q.move(-1)
		return nil
	case "down":
		m.q.move(1)
		return nil
	}
	return m.editFilter(k)
}

// editFilter hands msg (a key, a paste) to the filter bar, at the width it
// is drawn at, and narrows the queue to what it then says.
func (m *Model) editFilter(msg tea.Msg) tea.Cmd {
	m.filterInput.SetWidth(max(m.layout().queueInnerW-2, 1))
	var cmd tea.Cmd
	m.filterInput, cmd = m.filterInput.Update(msg)
	m.q.filter = m.filterInput.Value()
	keep := m.q.selectedID()
	m.q.refilter(keep)
	if keep == "" {
		keep = m.q.lastID
	}
	if m.q.selectedID() != keep {
		m.q.sel = 0 // the selection is filtered out: the first match, as a search would
	}
	return cmd
}

func (m *Model) selectedDiff() *diffData {
	if t := m.q.selected(); t != nil {
		return m.diffs[t.ID]
	}
	return nil
}

// pageSize is what PgUp/PgDn move: the tickets the queue shows, or the
// lines of the open tab.
func (m *Model) pageSize() int {
	l := m.layout()
	if m.focus == focusQueue {
		return max(l.queueRows/rowHeight(l.queueInnerW), 1)
	}
	return max(l.contentH, 1)
}

// move moves the selection (queue focus) or scrolls the open tab.
func (m *Model) move(d int) tea.Cmd {
	if m.focus == focusQueue {
		m.q.move(d)
		return nil
	}
	t := m.q.selected()
	if t == nil {
		return nil
	}
	l := m.layout()
	switch m.tab {
	case tabStream:
		td := m.ticketData(t.ID)
		s := td.stream(td.latest)
		if s == nil {
			return nil
		}
		tail := s.tailTop(l.contentW, l.contentH-len(m.streamEnding(td.attempt(td.latest), l.contentW, l.contentH)))
		if m.streamFollow {
			m.streamTop = tail
		}
		m.streamTop = clamp(m.streamTop+d, 0, tail)
		// back at the bottom: follow the tail again
		m.streamFollow = m.streamTop >= tail
	case tabDiff:
		if dd := m.diffs[t.ID]; dd != nil {
			// a pane grown taller may leave top past the last page: a step
			// down from there stays, rather than jumping back up
			if top := clamp(dd.top+d, 0, max(len(dd.lines)-l.contentH, dd.top, 0)); top != dd.top {
				dd.top, dd.pin = top, 0 // moved: the header names the file at the top again
			}
			// lines shorter than where the view was scrolled would show a
			// blank pane
			dd.fit(l.contentW, l.contentH)
		}
	default:
		n := len(m.tabLines(m.tab, t, l.contentW))
		m.textTop[m.tab] = clamp(m.textTop[m.tab]+d, 0, max(n-l.contentH, 0))
	}
	return nil
}

// sideways scrolls the open diff half its width right or left, whichever
// pane has the focus (only the diff scrolls sideways).
func (m *Model) sideways(right bool) {
	d := m.selectedDiff()
	if d == nil || m.tab != tabDiff {
		return
	}
	l := m.layout()
	step := max(l.contentW/2, 1)
	if !right {
		step = -step
	}
	d.scroll(step, l.contentW, l.contentH)
}

// paneAt is the pane drawn at a cell of the terminal.
func (m *Model) paneAt(l layout, x, y int) (int, bool) {
	if len(m.dialogs) > 0 || y < 0 || y >= l.panesH || x < 0 || x >= m.width {
		return 0, false
	}
	if l.single {
		return m.focus, true
	}
	if x < l.queueW {
		return focusQueue, true
	}
	return focusDetail, true
}

// wheel scrolls the pane under the pointer, whichever has the focus: the
// queue moves its selection, the detail pane its text.
func (m *Model) wheel(ms tea.Mouse) tea.Cmd {
	pane, ok := m.paneAt(m.layout(), ms.X, ms.Y)
	if !ok {
		return nil
	}
	var d int
	switch ms.Button {
	case tea.MouseWheelLeft, tea.MouseWheelRight:
		if pane == focusDetail {
			m.sideways(ms.Button == tea.MouseWheelRight)
		}
		return nil
	case tea.MouseWheelUp:
		d = -1
	case tea.MouseWheelDown:
		d = 1
	default:
		return nil
	}
	if pane == focusDetail {
		d *= 3
	}
	focus := m.focus
	m.focus = pane
	cmd := m.move(d)
	m.focus = focus
	return cmd
}

// click focuses the pane under the pointer and selects the ticket row or
// the tab clicked.
func (m *Model) click(ms tea.Mouse) tea.Cmd {
	l := m.layout()
	pane, ok := m.paneAt(l, ms.X, ms.Y)
	if !ok || ms.Button != tea.MouseLeft {
		return nil
	}
	m.focus = pane
	if pane == focusQueue {
		row := ms.Y - 1 // under the border
		if m.filtering {
			row-- // the filter bar
		}
		if row < 0 || row >= l.queueRows {
			return nil
		}
		if i := m.q.top + row/rowHeight(l.queueInnerW); i < len(m.q.rows) {
			m.q.sel = i
		}
		return nil
	}
	left := 1 // the border
	if !l.single {
		left += l.queueW
	}
	if ms.Y == 1 { // the tab bar
		if i := m.tabAt(ms.X-left, l.contentW); i >= 0 {
			m.tab = i
		}
	}
	return nil
}

// openEditor opens the deliverable t waits at in $EDITOR, to edit and
// approve it.
func (m *Model) openEditor(t *store.Ticket, td *ticketData) tea.Cmd {
	// a phase that left nothing opens an empty file: the human writes
	// the deliverable (the engine refuses an empty one)
	text, pending := td.lastDeliverable(t.Phase), false
	if p := engine.PendingDecision(t); p != nil && p.Kind == store.DecisionEditApprove {
		text, pending = p.Text, true // the human's own edit, still waiting: edit it again
	}
	return prepareEdit(m.opts.EditDir, t.ID, text, pending)
}

func (m *Model) newTicketForm() (newTicketForm, tea.Cmd) {
	ctx, b := m.ctx, m.b
	return newTicketDialog(func(n engine.NewTicket) tea.Cmd { return addTicket(ctx, b, n) })
}

// action handles the keys that act on the selected ticket.
func (m *Model) action(k tea.KeyPressMsg) tea.Cmd {
	km := m.keys
	if key.Matches(k, km.New) {
		f, cmd := m.newTicketForm()
		m.dialogs = append(m.dialogs, f)
		return cmd
	}
	t := m.q.selected()
	if t == nil {
		if key.Matches(k, km.Approve, km.Reject, km.Edit, km.Guidance, km.Model, km.Cancel, km.Pause) {
			cmd := m.setFlash("no ticket selected", true)
			m.flashNoSel = true
			return cmd
		}
		return nil
	}
	id, b, browsing := t.ID, m.b, m.opts.NoModel != ""
	decideCmd := func(d store.Decision, done string) tea.Cmd {
		if p := engine.PendingDecision(t); p != nil && d.Kind != store.DecisionPause && d.Kind != store.DecisionResume {
			done += " (replacing the waiting " + engine.DecisionWords(p.Kind) + ")"
		}
		return decide(b, id, d, doneText(browsing, d.Kind, id, done))
	}
	failed := func(text string) tea.Cmd {
		cmd := m.setFlash(text, true)
		m.flashAbout(id)
		return cmd
	}
	// the engine's own rules, asked before any dialog opens
	refused := func(kind string) (tea.Cmd, bool) {
		if err := engine.Allowed(t, kind); err != nil {
			if m.q.noEngine && t.Status == store.StatusRunning {
				// it says interrupted here: running is what it was
				return failed(err.Error() + " (it was running when agent-tui last stopped: a run with a model resumes it; pause and cancel work now)"), true
			}
			return failed(err.Error()), true
		}
		return nil, false
	}
	// a paused ticket records the decision but runs nothing until resumed
	onResume := func(done, later string) string {
		if pausedNow(t) {
			return later
		}
		return done
	}
	switch {
	case key.Matches(k, km.Approve):
		if cmd, no := refused(store.DecisionApprove); no {
			return cmd
		}
		// with the attempts known, a phase with nothing to approve is
		// refused here; before they load the engine refuses it
		if td := m.data[id]; td != nil && td.loaded {
			if err := engine.Approvable(t, td.attempts); err != nil {
				return failed(err.Error())
			}
		}
		prompt := fmt.Sprintf("Approve %s of %s %q?", t.Phase, id, t.Title)
		if t.Phase == config.Review || t.Phase == engine.Merge {
			// the one approve that changes the user's own branch
			into := t.BaseBranch
			if into == "" {
				into = "the base branch"
			}
			when := ""
			switch will, _ := engine.PausedAfterDecisions(t); {
			case browsing:
				when = " when the engine runs"
			case will:
				when = " once resumed"
			}
			prompt += fmt.Sprintf(" This merges %s into %s%s.", branchOf(t), into, when)
			if t.Phase == config.Review {
				prompt += " (What you changed in its worktree and did not commit is committed first, and goes through CI and review again.)"
			}
		}
		m.dialogs = append(m.dialogs, confirmDialog{
			title:  "Approve " + id,
			prompt: prompt,
			onYes:  decideCmd(store.Decision{Kind: store.DecisionApprove}, onResume("approved "+id, "approved "+id+"; it goes on when resumed")),
		})
	case key.Matches(k, km.Reject):
		if cmd, no := refused(store.DecisionReject); no {
			return cmd
		}
		where := "Why? The reason goes to a new attempt of " + t.Phase + "."
		if t.Phase == engine.Merge || t.Phase == config.Review {
			where = "Why? Nothing is merged: the work goes back to code with the reason, then CI and review again."
		}
		d, cmd := newDecisionDialog("Reject "+id, where, "reason", false, func(s string) tea.Cmd {
			return decideCmd(store.Decision{Kind: store.DecisionReject, Reason: s}, onResume("rejected "+id, "rejected "+id+"; it retries when resumed"))
		})
		m.dialogs = append(m.dialogs, d)
		return cmd
	case key.Matches(k, km.Edit):
		if cmd, no := refused(store.DecisionEditApprove); no {
			return cmd
		}
		td := m.ticketData(id)
		if !td.loaded {
			// opened once they are in: e pressed as the selection moved
			// is not lost
			m.editOnLoad = id
			return m.setFlash("loading the attempts of "+id+": the editor opens once they are in", false)
		}
		return m.openEditor(t, td)
	case key.Matches(k, km.Guidance):
		if cmd, no := refused(store.DecisionRetry); no {
			return cmd
		}
		// nothing typed is a plain retry: after a stop on the validator's
		// side it judges the kept answer again, which no guidance would
		ask := "What should the next attempt of " + t.Phase + " do differently? (nothing: retry as it is)"
		if t.Phase == config.Review {
			// guidance at review goes back to code
			ask = "What should code do differently? Your words go back to code with the work, and the next review reads them too. (nothing: review again as it is)"
		}
		d, cmd := newDecisionDialog("Retry "+id, ask, "guidance", true, func(s string) tea.Cmd {
			if s == "" {
				return decideCmd(store.Decision{Kind: store.DecisionRetry}, onResume("retrying "+id, id+" will retry when resumed"))
			}
			return decideCmd(store.Decision{Kind: store.DecisionRetry, Guidance: s}, onResume("retrying "+id+" with guidance", id+" will retry with guidance when resumed"))
		})
		m.dialogs = append(m.dialogs, d)
		return cmd
	case key.Matches(k, km.Model):
		if cmd, no := refused(store.DecisionRetry); no {
			return cmd
		}
		if m.models == nil {
			return loadModels(m.b, id)
		}
		return m.pushModelPicker(id)
	case key.Matches(k, km.Cancel):
		if cmd, no := refused(store.DecisionCancel); no {
			return cmd
		}
		what := "Its worktree is removed; its branch stays."
		if t.Worktree == "" {
			what = "It has no worktree yet."
		}
		if t.Kind == engine.KindEpic {
			// the split may make children before the y: they go too
			what = "It has no worktree of its own; children it makes meanwhile are cancelled with it."
			var open []string
			for _, cid := range t.Children {
				if c := m.q.tickets[cid]; c != nil && engine.Allowed(c, store.DecisionCancel) == nil {
					open = append(open, cid)
				}
			}
			if len(open) > 0 {
				what = "Its unfinished children are cancelled with it: " + strings.Join(open, ", ") + "."
			}
		}
		m.dialogs = append(m.dialogs, confirmDialog{
			title:  "Cancel " + id,
			prompt: fmt.Sprintf("Cancel %s %q? %s", id, t.Title, what),
			onYes:  decideCmd(store.Decision{Kind: store.DecisionCancel}, "cancelled "+id),
		})
	case key.Matches(k, km.Pause):
		if cmd, no := refused(store.DecisionPause); no {
			return cmd
		}
		// an epic's pause and resume are its children's too
		withChildren := ""
		if len(t.Children) > 0 {
			withChildren = " and its children"
		}
		if pausedNow(t) {
			return decideCmd(store.Decision{Kind: store.DecisionResume}, "resumed "+id+withChildren)
		}
		if t.Status == store.StatusRunning {
			// the step under way ends first (an attempt is not cut off)
			return decideCmd(store.Decision{Kind: store.DecisionPause}, "pausing "+id+withChildren+" once its current step ends")
		}
		return decideCmd(store.Decision{Kind: store.DecisionPause}, "paused "+id+withChildren)
	}
	return nil
}

// doneText is what the status line says once a decision is recorded.
// Without an engine (browsing) nothing happens until a run carries it out,
// so it must not read as done.
func doneText(browsing bool, kind, id, done string) string {
	if !browsing {
		return done
	}
	return engine.DecisionWords(kind) + " of " + id + " recorded; carried out when the engine runs"
}

func (m *Model) pushModelPicker(id string) tea.Cmd {
	b, browsing := m.b, m.opts.NoModel != ""
	sensitive, later, what, last := false, "", id, ""
	if t := m.q.tickets[id]; t != nil {
		sensitive = t.Sensitive
		if pausedNow(t) {
			later = " when resumed" // it records the retry but runs nothing
		}
		what = t.Phase + " of " + id
		if td := m.data[id]; td != nil {
			for i := len(td.attempts) - 1; i >= 0; i-- {
				if a := td.attempts[i]; a.Phase == t.Phase && a.Model != "" {
					last = a.Model
					break
				}
			}
		}
	}
	var names []string
	unusable := ""
	for _, c := range m.models {
		switch {
		case sensitive && !c.Local: // a sensitive ticket may only use local models
		case c.Unusable != "":
			unusable = c.Name + ": " + c.Unusable // the retry would be refused
		default:
			names = append(names, c.Name)
		}
	}
	if len(names) == 0 && unusable != "" {
		return m.setFlash("no model can be called ("+unusable+")", true)
	}
	if len(names) == 0 {
		if sensitive {
			return m.setFlash(id+" is sensitive and no model is local (a provider with local = true)", true)
		}
		return m.setFlash("no models configured", true)
	}
	title := "Retry " + what + " on model"
	if sensitive {
		title += " (local models only: sensitive)"
	}
	m.dialogs = append(m.dialogs, pickerDialog{
		title: title,
		items: names,
		last:  last,
		onPick: func(model string) tea.Cmd {
			done := "retrying " + id + " on " + model
			if later != "" {
				done = id + " will retry on " + model + later
			}
			return decide(b, id, store.Decision{Kind: store.DecisionRetry, Model: model}, doneText(browsing, store.DecisionRetry, id, done))
		},
	})
	return nil
}

// branchOf is the ticket's branch, named as agent-tui names it when the
// ticket has not recorded one yet.
func branchOf(t *store.Ticket) string {
	if t.Branch != "" {
		return t.Branch
	}
	return workspace.BranchName(t.ID)
}
