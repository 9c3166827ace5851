package engine

import (
	"context"

	"agent-tui/engine/tools"
	"agent-tui/store"
)

// The methods below are what a UI needs beside Subscribe, Add and Decide.
// Each does I/O: call them from a tea.Cmd, never from Update or View.

// Tickets reads every ticket (small records; attempts are read on demand).
func (e *Engine) Tickets() ([]*store.Ticket, error) { return e.st.Tickets() }

// Attempts reads a ticket's full history.
func (e *Engine) Attempts(id string) ([]*store.Attempt, error) { return e.st.Attempts(id) }

// Diff is the ticket branch's diff against its base, or "" before the
// ticket has a worktree.
func (e *Engine) Diff(ctx context.Context, id string) (string, error) {
	t, err := e.st.Ticket(id)
	if err != nil {
		return "", err
	}
	if t.Worktree == "" {
		return "", nil
	}
	return e.repo.Diff(ctx, t.Worktree, t.BaseBranch)
}

// ModelChoice is a configured model as a human picks one.
type ModelChoice struct {
	Name  string
	Local bool // on a provider with local = true: allowed for sensitive tickets
}

// Models lists the configured models (for "retry on another model").
func (e *Engine) Models() []ModelChoice {
	var out []ModelChoice
	for _, m := range e.cfg.Models {
		_, p, _ := e.cfg.Model(m.Name)
		out = append(out, ModelChoice{Name: m.Name, Local: p.Local})
	}
	return out
}

// Confinement says how run_command is confined on this machine.
func (e *Engine) Confinement() string { return tools.Confinement(e.cfg.Sandbox) }
