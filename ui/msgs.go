package ui

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"

	"agent-tui/engine"
	"agent-tui/engine/llm"
	"agent-tui/store"
)

// Messages that carry Backend results into Update. Every Backend call
// happens in one of the commands below, never in Update or View.
type (
	ticketsMsg struct {
		tickets     []*store.Ticket
		slotWaiters []string
		err         error
	}
	attemptsMsg struct {
		id       string
		attempts []*store.Attempt
		err      error
	}
	diffMsg struct {
		id, key string
		d       *diffData
	}
	healthMsg      []llm.ProviderHealth
	confinementMsg string
	modelsMsg      struct {
		models  []engine.ModelChoice
		pickFor string // open the picker for this ticket when set
	}
	// actionMsg reports how a user action went, on ticket id if any.
	actionMsg struct {
		id   string
		text string
		err  error
		kind string // the decision's, if it was one
		// back is the dialog to open again when the decision was refused:
		// the text typed into it is not lost
		back dialog
	}
	ticketAddedMsg struct {
		t   *store.Ticket
		n   engine.NewTicket // what was asked, to give it back on error
		err error
	}
	editorReadyMsg struct {
		id, path, orig string
		pending        bool // orig is the human's earlier edit, still waiting
		err            error
	}
	editorDoneMsg struct {
		id, path, orig string
		pending        bool
		err            error
	}
	flashExpiredMsg struct{ id int }
	tickMsg         struct{ n int }
	// eventsMsg is a batch of engine events, drained together so a burst
	// of deltas costs one render.
	eventsMsg []engine.Event
)

const (
	flashFor     = 5 * time.Second
	diffFresh    = 2 * time.Second // a diff older than this is fetched again when the user comes to it
	tickEvery    = 5 * time.Second
	backendLimit = 30 * time.Second
)

func loadTickets(b Backend) tea.Cmd {
	return func() tea.Msg {
		// the waiting ones first: a slot taken between the two calls is
		// a running ticket, told by an event still to come
		waiting := b.WaitingForSlot()
		ts, err := b.Tickets()
		return ticketsMsg{ts, waiting, err}
	}
}

func loadAttempts(b Backend, id string) tea.Cmd {
	return func() tea.Msg {
		as, err := b.Attempts(id)
		return attemptsMsg{id, as, err}
	}
}

// loadDiff fetches and splits the diff off the UI loop.
func loadDiff(ctx context.Context, b Backend, id, key string) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, backendLimit)
		defer cancel()
		start := now()
		s, err := b.Diff(ctx, id)
		d := parseDiff(s)
		d.key, d.err, d.fetched = key, err, start
		return diffMsg{id, key, d}
	}
}

func loadHealth(b Backend) tea.Cmd {
	return func() tea.Msg { return healthMsg(b.Health()) }
}

func loadModels(b Backend, pickFor string) tea.Cmd {
	return func() tea.Msg { return modelsMsg{b.Models(), pickFor} }
}

func loadConfinement(b Backend) tea.Cmd {
	return func() tea.Msg { return confinementMsg(b.Confinement()) }
}

// resizeSettledMsg comes resizeSettle after the terminal's size number n
// (Model.resizes).
type resizeSettledMsg int

// resizeSettle is how long a size must hold before the screen is drawn
// whole again: a window dragged sends sizes faster than that.
const resizeSettle = 250 * time.Millisecond

// after is tea.Tick; tests replace it so timers do not hold them up.
var after = tea.Tick

// now is the clock; tests move it to age what the UI fetched.
var now = time.Now

func tick(n int) tea.Cmd {
	return after(tickEvery, func(time.Time) tea.Msg { return tickMsg{n} })
}

// keptOnRefusal is cmd (a decide) giving back, should the decision be
// refused, the dialog that reopen makes with the refusal in it.
func keptOnRefusal(cmd tea.Cmd, reopen func(err error) dialog) tea.Cmd {
	return func() tea.Msg {
		msg := cmd()
		if am, ok := msg.(actionMsg); ok && am.err != nil {
			am.back = reopen(am.err)
			return am
		}
		return msg
	}
}

// decide sends a decision; done is the text shown when it worked.
func decide(b Backend, id string, d store.Decision, done string) tea.Cmd {
	return func() tea.Msg {
		if err := b.Decide(id, d); err != nil {
			return actionMsg{id: id, err: err, kind: d.Kind}
		}
		return actionMsg{id: id, text: done, kind: d.Kind}
	}
}

func addTicket(ctx context.Context, b Backend, n engine.NewTicket) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(ctx, backendLimit)
		defer cancel()
		t, err := b.Add(ctx, n)
		return ticketAddedMsg{t, n, err}
	}
}

// prepareEdit writes the deliverable to a temp file for $EDITOR.
func prepareEdit(dir, id, text string, pending bool) tea.Cmd {
	return func() tea.Msg {
		if dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return editorReadyMsg{err: err}
			}
		}
		f, err := os.CreateTemp(dir, "agent-tui-"+id+"-*.md")
		if err != nil {
			return editorReadyMsg{err: err}
		}
		_, err = f.WriteString(text)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(f.Name())
			return editorReadyMsg{err: err}
		}
		return editorReadyMsg{id: id, path: f.Name(), orig: text, pending: pending}
	}
}

// editorCommand is $VISUAL or $EDITOR (which may carry arguments), else vi.
func editorCommand(path string) *exec.Cmd {
	ed := os.Getenv("VISUAL")
	if ed == "" {
		ed = os.Getenv("EDITOR")
	}
	parts := strings.Fields(ed)
	if len(parts) == 0 {
		parts = []string{"vi"}
	}
	return exec.Command(parts[0], append(parts[1:], path)...)
}

// finishEdit reads the edited file and approves it when it changed; done
// is the text shown when it was.
func finishEdit(b Backend, m editorDoneMsg, done string) tea.Cmd {
	return func() tea.Msg {
		defer os.Remove(m.path)
		if m.err != nil {
			return actionMsg{id: m.id, err: editorFailed(m.err)}
		}
		data, err := os.ReadFile(m.path)
		if err != nil {
			return actionMsg{id: m.id, err: err}
		}
		text := strings.TrimSpace(string(data))
		switch {
		case text == "" && strings.TrimSpace(m.orig) == "":
			return actionMsg{id: m.id, text: "nothing written: nothing approved"}
		case m.pending && text == "":
			return actionMsg{id: m.id, text: "the file was emptied: your earlier edit still waits for the next run"}
		case m.pending && text == strings.TrimSpace(m.orig):
			return actionMsg{id: m.id, text: "edit unchanged: your earlier one still waits for the next run"}
		case text == "":
			// an empty deliverable is no deliverable
			return actionMsg{id: m.id, text: "the file was emptied: nothing approved"}
		case text == strings.TrimSpace(m.orig):
			return actionMsg{id: m.id, text: "deliverable unchanged: nothing approved"}
		}
		if err := b.Decide(m.id, store.Decision{Kind: store.DecisionEditApprove, Text: text}); err != nil {
			return actionMsg{id: m.id, err: err}
		}
		return actionMsg{id: m.id, text: done}
	}
}

// editorFailed says what became of an editor that did not exit cleanly:
// a bare "exit status 3" does not say whose status, or that nothing was
// approved.
func editorFailed(err error) error {
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return fmt.Errorf("editor exited with status %d: nothing approved", ee.ExitCode())
	case errors.As(err, &ee):
		return fmt.Errorf("editor ended by %s: nothing approved", ee)
	}
	return fmt.Errorf("editor: %v: nothing approved", err)
}
