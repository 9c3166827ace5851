package ui

import (
	"fmt"

	"agent-tui/engine"
	"agent-tui/engine/config"
	"agent-tui/store"
)

// statusWord is a status as the user reads it. A pause or resume the
// engine has not carried out yet shows as pending: in browsing mode it
// waits for the next run.
//
// noEngine: no engine runs (the UI only browses), so a ticket that says
// running was cut off when the last one stopped: interrupted, as `list`
// says.
func statusWord(t *store.Ticket, noEngine bool) string {
	return engine.StatusWords(t, noEngine, true)
}

// pausedNow is whether the ticket is, or is about to be, paused: t.Paused
// lags a decision until the engine carries it out.
func pausedNow(t *store.Ticket) bool {
	paused, _ := engine.PausedAfterDecisions(t)
	return paused
}

// paused is whether a ticket is held by a pause (and so not running).
func paused(t *store.Ticket) bool { return t.Paused && !finished(t.Status) }

// commandRun is an attempt that ran a command (ci), not a model: it has
// no tokens or cost to show. Attempts start without a model, so the phase
// tells while a ci run is still going.
func commandRun(a *store.Attempt) bool {
	return a.Model == "" && a.Provider == "" && (a.Phase == config.CI || len(a.Checks) > 0)
}

// noModelAnswered is a finished model attempt that stopped before any
// model answered (every provider failed, or it was stopped first).
func noModelAnswered(a *store.Attempt) bool {
	return a.Model == "" && a.Done() && !commandRun(a) && a.TokensIn == 0 && a.TokensOut == 0 && a.CostUSD == 0
}

func finished(status string) bool { return store.Finished(status) }

// waiting reports whether the ticket waits for the user: not once they
// decided (an approve the next run carries out).
func waiting(t *store.Ticket) bool {
	return (t.Status == store.StatusAwaiting || t.Status == store.StatusNeedsHuman) && engine.PendingDecision(t) == nil
}

func kindShort(kind string) string {
	switch kind {
	case engine.KindFeature:
		return "feat"
	case engine.KindHotfix:
		return "fix"
	}
	return kind
}

// progress is the current phase and its place in the route, e.g. "code 5/9".
func progress(t *store.Ticket) string {
	names := make([]string, 0, len(t.Phases))
	for _, p := range t.Phases {
		names = append(names, p.Name)
	}
	if len(names) == 0 {
		names = engine.Route(t.Kind)
	}
	if t.Status == store.StatusDone {
		return fmt.Sprintf("%d/%d", len(names), len(names))
	}
	for i, n := range names {
		if n == t.Phase {
			return fmt.Sprintf("%s %d/%d", n, i+1, len(names))
		}
	}
	return t.Phase
}

func money(v float64) string {
	if v > 0 && v < 0.0005 {
		// a cheap validator's call: "$0.000" would say it cost nothing
		return "<$0.001"
	}
	if v < 10 {
		return fmt.Sprintf("$%.3f", v)
	}
	return fmt.Sprintf("$%.2f", v)
}

// tokens prints a token count compactly: 950, 12.3k, 1.2M.
func tokens(n int) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d", n)
	case n < 1_000_000:
		return fmt.Sprintf("%.1fk", float64(n)/1000)
	}
	return fmt.Sprintf("%.1fM", float64(n)/1_000_000)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func clamp(v, lo, hi int) int {
	if v > hi {
		v = hi
	}
	if v < lo {
		v = lo
	}
	return v
}
