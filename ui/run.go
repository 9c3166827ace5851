package ui

import (
	"context"
	"errors"
	"slices"

	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"agent-tui/engine"
)

// eventBuffer is how many engine events may queue before the engine drops
// some for this subscriber (it then sends EvResync and the UI reloads).
const eventBuffer = 4096

// Run shows the UI until the user quits or ctx ends. Engine events reach
// the program from a goroutine; the caller stops the engine afterwards.
func Run(ctx context.Context, b Backend, opts Options) error {
	m := NewModel(b, opts)
	m.ctx = ctx
	events, unsubscribe := b.Subscribe(eventBuffer)
	defer unsubscribe()
	// Lip Gloss detected the terminal's colours when it loaded; detecting
	// again costs a `tmux info` under tmux before the first frame
	// 30 frames a second: a stream reads as live, and the renderer's
	// ticker, which runs while nothing changes, wakes half as often as at
	// Bubble Tea's default 60 (an idle TUI used 2% of a core for it)
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithColorProfile(lipgloss.Writer.Profile), tea.WithFPS(30))
	go forward(events, p)
	final, err := p.Run()
	if fm, ok := final.(Model); ok && opts.StateFile != "" && fm.loaded {
		// (not kept on failure: a view state is a convenience, and the
		// next start opens as on a first one)
		_ = saveViewState(opts.StateFile, fm.viewState())
	}
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil // the caller cancelled: a normal way to stop
	}
	return err
}

// forward sends events in batches: whatever queued while the program was
// busy goes in one message, so a burst of deltas costs one render.
func forward(events <-chan engine.Event, p *tea.Program) {
	for ev := range events {
		batch := eventsMsg{own(ev)}
	drain:
		for len(batch) < 512 {
			select {
			case ev, ok := <-events:
				if !ok {
					break drain
				}
				batch = append(batch, own(ev))
			default:
				break drain
			}
		}
		// Send returns at once once the program has ended
		p.Send(batch)
	}
}

// own copies a ticket snapshot as soon as it arrives: the engine may keep
// using the record it published, and the UI caches rows by snapshot.
func own(ev engine.Event) engine.Event {
	if ev.Ticket != nil {
		t := *ev.Ticket
		t.Children = slices.Clone(t.Children)
		t.Phases = slices.Clone(t.Phases)
		t.Decisions = slices.Clone(t.Decisions)
		ev.Ticket = &t
	}
	return ev
}
