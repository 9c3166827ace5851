package ui

import (
	"testing"

	"agent-tui/store"
)

// The queue says what `list` says of a paused ticket a person approved
// meanwhile: it goes on once resumed, not merely paused.
func TestStatusWordOfAPausedApprovedTicket(t *testing.T) {
	tk := &store.Ticket{Status: store.StatusQueued, Paused: true, Phase: "review",
		Phases: []store.PhaseState{{Name: "review", Status: store.PhaseAccepted, ByHuman: true}}}
	if w := statusWord(tk, false); w != "paused (approved: goes on once resumed)" {
		t.Fatalf("approved: %q", w)
	}
	tk.Phases[0] = store.PhaseState{Name: "review", Status: store.PhaseRunning}
	if w := statusWord(tk, false); w != "paused" {
		t.Fatalf("not approved: %q", w)
	}
}
