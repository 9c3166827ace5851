package engine

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"agent-tui/engine/config"
	"agent-tui/engine/llm"
	"agent-tui/engine/tools"
	"agent-tui/store"
)

// The methods below are what a UI needs beside Subscribe, Add and Decide.
// Each does I/O: call them from a tea.Cmd, never from Update or View.

// Tickets reads every ticket (small records; attempts are read on demand).
func (e *Engine) Tickets() ([]*store.Ticket, error) { return e.st.Tickets() }

// Attempts reads a ticket's full history.
func (e *Engine) Attempts(id string) ([]*store.Attempt, error) { return e.st.Attempts(id) }

// Diff is the ticket's change against its base: the worktree's while it
// has one, then what its merge brought, or its kept branch's when it ended
// unmerged; "" before it has any.
func (e *Engine) Diff(ctx context.Context, id string) (string, error) {
	t, err := e.st.Ticket(id)
	if err != nil {
		return "", err
	}
	switch {
	case t.Worktree != "" && isDir(t.Worktree):
		return e.repo.Diff(ctx, t.Worktree, t.BaseBranch)
	case t.Merged != "":
		return e.repo.MergedDiff(ctx, t.Merged)
	case t.Branch != "" && t.Status != store.StatusDone:
		// cancelled (its worktree removed) or the worktree lost: the
		// branch is kept
		return e.repo.RefDiff(ctx, t.Branch, t.BaseBranch)
	case t.Branch != "":
		// done before merges were recorded: look for it
		commit, err := e.repo.MergeOf(ctx, t.Branch, t.BaseBranch)
		if commit == "" || err != nil {
			return "", err
		}
		return e.repo.MergedDiff(ctx, commit)
	}
	return "", nil
}

// ModelChoice is a configured model as a human picks one.
type ModelChoice struct {
	Name     string
	Local    bool   // on a provider with local = true: allowed for sensitive tickets
	Unusable string // why it cannot be called now (its provider's key variable unset), or ""
	// prices in dollars per million tokens, for estimates while a call
	// streams (the cost recorded comes with the call's end)
	InputPerMTok, OutputPerMTok float64
}

// Models lists the configured models (for "retry on another model").
func (e *Engine) Models() []ModelChoice {
	var out []ModelChoice
	for _, m := range e.cfg.Models {
		_, p, _ := e.cfg.Model(m.Name)
		out = append(out, ModelChoice{Name: m.Name, Local: p.Local, Unusable: llm.Unusable(p, tools.Getenv), InputPerMTok: m.InputPerMTok, OutputPerMTok: m.OutputPerMTok})
	}
	return out
}

// UncallableNext is Uncallable for what t will run once its pending
// decisions are carried out, where that can be told: a retry reruns its
// phase (on the model it names, if any); after an approve or a reject the
// next step is the engine's to find, and "" is returned.
func (e *Engine) UncallableNext(t *store.Ticket) string {
	model, known := "", true
	for _, d := range t.Decisions {
		switch {
		case d.Applied || d.Kind == store.DecisionPause || d.Kind == store.DecisionResume:
		case d.Kind == store.DecisionRetry:
			if d.Model != "" {
				model = d.Model
			}
		default:
			known = false
		}
	}
	if !known || t.Phase == Merge {
		return ""
	}
	if model == "" {
		return e.Uncallable(t)
	}
	cp := *t
	cp.Phases = slices.Clone(t.Phases)
	if ps := phaseState(&cp, cp.Phase); ps != nil {
		ps.Model = model
	}
	return e.Uncallable(&cp)
}

// Uncallable says why the model phase t is at cannot run (no model of its
// chain, or of the validator's after it, can be called: its provider's key
// variable is unset, or it refused the key), or "" when it can.
func (e *Engine) Uncallable(t *store.Ticket) string {
	ps := phaseState(t, t.Phase)
	if ps == nil || t.Phase == config.CI || t.Phase == Merge || t.Sensitive {
		// (a sensitive ticket calls local models only, which need no key;
		// a chain without one is the router's stop, which names it)
		return ""
	}
	for _, c := range e.chainsOf(ps) {
		phase := c.phase
		var why []string
		callable := false
		for _, name := range c.models {
			_, p, ok := e.cfg.Model(name)
			w := llm.Unusable(p, tools.Getenv)
			if w == "" && ok {
				w = e.router.KeyRefused(p.Name)
			}
			switch {
			case !ok:
			case w != "":
				why = append(why, "provider "+p.Name+": "+w)
			default:
				callable = true
			}
		}
		if !callable && len(why) > 0 {
			return fmt.Sprintf("no model of %s can be called (%s)", phase, strings.Join(slices.Compact(why), "; "))
		}
	}
	return ""
}

// Confinement says how run_command is confined on this machine.
func (e *Engine) Confinement() string { return tools.Confinement(e.cfg.Sandbox) }

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}
