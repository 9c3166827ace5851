// Package ui is the terminal UI of agent-tui: a Bubble Tea program that
// shows the ticket queue and the selected ticket, and turns keys into engine
// decisions. It never touches the store, git or processes itself: every
// Backend call runs in a tea.Cmd and comes back as a message.
package ui

import (
	"context"

	"agent-tui/engine"
	"agent-tui/engine/llm"
	"agent-tui/store"
)

// Backend is the part of *engine.Engine the UI uses. Every method may do
// I/O, so the UI only calls them from commands.
type Backend interface {
	Subscribe(buf int) (<-chan engine.Event, func())
	Tickets() ([]*store.Ticket, error)
	Attempts(id string) ([]*store.Attempt, error)
	Diff(ctx context.Context, id string) (string, error)
	Add(ctx context.Context, n engine.NewTicket) (*store.Ticket, error)
	Decide(id string, d store.Decision) error
	Health() []llm.ProviderHealth
	Models() []engine.ModelChoice
	Confinement() string
	WaitingForSlot() []string
}

var _ Backend = (*engine.Engine)(nil)

// Options are facts about the run that the engine does not report per event.
type Options struct {
	// Simulated labels the model as simulated (demo mode).
	Simulated bool
	// Repo is the repository directory, shown in the title.
	Repo string
	// Confinement describes how run_command is confined; when empty the UI
	// asks the Backend once.
	Confinement string
	// NoModel, when set, says why no model can run: the engine is not
	// running, tickets wait, and the UI is for browsing and deciding.
	NoModel string
	// EditDir holds the files $EDITOR edits; the temp directory when empty.
	EditDir string
	// StateFile keeps what the TUI showed when quit (ticket, tab, focus,
	// filters) for the next start; none kept when empty.
	StateFile string
}
