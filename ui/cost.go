package ui

import (
	"agent-tui/engine"
	"agent-tui/store"
)

// The cost of a model call is recorded when it ends, and a call may stream
// for minutes: meanwhile the UI estimates it from the model's prices, the
// context sent and what has streamed (about four bytes a token).

// streamingCost is what the call under way of attempt a has cost so far,
// by estimate: 0 when none is under way or the model's prices are unknown.
// streamed counts the bytes the attempt streamed; those in its last
// snapshot (taken when a call ended) are paid for in a.CostUSD already.
func streamingCost(models []engine.ModelChoice, a *store.Attempt, streamed int) float64 {
	if a == nil || a.Done() {
		return 0
	}
	pending := streamed - len(a.Stream)
	if pending <= 0 {
		return 0
	}
	for _, c := range models {
		if c.Name == a.Model {
			return (float64(a.ContextTokens)*c.InputPerMTok + float64(pending/4)*c.OutputPerMTok) / 1e6
		}
	}
	return 0
}

// runningTotal is what the attempts under way have cost so far, not yet
// in their tickets' cost (a ticket's grows when an attempt ends): each
// one's recorded calls and the estimate of its call streaming now.
func (m *Model) runningTotal() float64 {
	var total float64
	for _, td := range m.data {
		a := td.attempt(td.latest)
		if a == nil || a.Done() {
			continue
		}
		total += a.CostUSD
		if s := td.streams[td.latest]; s != nil {
			total += streamingCost(m.models, a, s.raw)
		}
	}
	return total
}
