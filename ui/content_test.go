package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"

	"agent-tui/engine"
	"agent-tui/store"
)

// History cuts an objection past 2,000 bytes, on a character's edge, and
// says how much more there is; a shorter one is whole.
func TestHistoryClipsALongObjection(t *testing.T) {
	long := strings.Repeat("é", 30000)
	got := clipObjection(long)
	if len(got) > objectionShown+100 || !utf8.ValidString(got) || !strings.HasSuffix(got, "… (58000 more bytes: agent-tui show --json has them)") {
		t.Fatalf("%d bytes, ends %q", len(got), got[max(0, len(got)-80):])
	}
	if short := "fix the parser"; clipObjection(short) != short {
		t.Fatalf("a short objection changed: %q", clipObjection(short))
	}
}

// History says when an attempt's saved answer was judged by a later run,
// and when its validator saw only part of the document.
func TestHistorySaysJudgedLaterAndTrimmed(t *testing.T) {
	st := newStyles()
	td := newTicketData()
	td.attempts = []*store.Attempt{{Phase: "diagnosis", N: 1, Model: "m", Ended: time.Now(), JudgedAfter: engine.JudgedAfterRestart,
		Validator: &store.Validator{Trimmed: []string{"Deliverable of phase diagnosis: 900 → 600 tokens"}}, Verdict: &store.Verdict{Pass: true}}}
	td.loaded = true
	out := ansi.Strip(strings.Join(historyLines(&st, &store.Ticket{ID: "T-1"}, td, false, 120), "\n"))
	for _, want := range []string{"judged after a restart", "validator saw part: Deliverable of phase diagnosis: 900 → 600 tokens"} {
		if !strings.Contains(out, want) {
			t.Fatalf("history lacks %q:\n%s", want, out)
		}
	}
}

// What a decision did to a person's own work (a stash kept) is read whole,
// wrapped, not cut at the pane's edge.
func TestHistoryShowsADecisionsOutcomeWhole(t *testing.T) {
	st := newStyles()
	td := newTicketData()
	td.loaded = true
	outcome := `uncommitted changes in the worktree were kept as a stash (git stash list: "agent-tui: T-1's worktree as it was at the reject at review")`
	tk := &store.Ticket{ID: "T-1", Decisions: []store.Decision{{Kind: store.DecisionReject, Phase: "review", Reason: "redo", At: time.Now(), Applied: true, Outcome: outcome}}}
	out := ansi.Strip(strings.Join(historyLines(&st, tk, td, false, 60), "\n"))
	if !strings.Contains(strings.Join(strings.Fields(out), " "), outcome) {
		t.Fatalf("the outcome is not whole:\n%s", out)
	}
}

// The CI tab shows all of a check's kept output, starting with the line
// that says how much more the run wrote: the count is the run's, not a
// count of the kept lines. The kept tail starts where the cut fell: its
// first, cut line is left out.
func TestCITabShowsAllTheKeptOutput(t *testing.T) {
	st := newStyles()
	td := newTicketData()
	td.loaded = true
	var b strings.Builder
	b.WriteString("[output truncated: showing the last 16384 of 168943 bytes]\n278\n")
	for i := 27279; i <= 30000; i++ {
		fmt.Fprintf(&b, "%d\n", i)
	}
	td.attempts = []*store.Attempt{{Phase: "ci", N: 1, Ended: time.Now(),
		Checks: []store.Check{{Name: "ci", Command: "sh ci.sh", Output: b.String(), Pass: true}}}}
	out := ansi.Strip(strings.Join(ciLines(&st, &store.Ticket{ID: "T-1"}, td, 80), "\n"))
	for _, want := range []string{"showing the last 16384 of 168943 bytes]\n27279\n", "\n30000"} {
		if !strings.Contains(out, want) {
			t.Fatalf("the CI tab lacks %q:\n%.600s", want, out)
		}
	}
	if strings.Contains(out, "\n278\n") {
		t.Fatalf("the CI tab starts mid-line:\n%.600s", out)
	}
}

// History marks counts no provider reported as estimated, as show does.
func TestHistoryMarksEstimatedTokens(t *testing.T) {
	st := newStyles()
	td := newTicketData()
	td.loaded = true
	td.attempts = []*store.Attempt{{Phase: "discovery", N: 1, Model: "m", Provider: "p", Started: time.Now(), Ended: time.Now(),
		Interrupted: true, TokensIn: 703, TokensOut: 70, TokensEstimated: true},
		{Phase: "diagnosis", N: 1, Model: "m", Provider: "p", Started: time.Now(), Ended: time.Now(), Verdict: &store.Verdict{Pass: true, By: "validator"},
			Validator: &store.Validator{Model: "small", CostUSD: 0.0001, Estimated: true}}}
	out := ansi.Strip(strings.Join(historyLines(&st, &store.Ticket{ID: "T-1"}, td, false, 120), "\n"))
	if !strings.Contains(out, "~703 in / 70 out (estimated)") || !strings.Contains(out, "validator small · <$0.001 · tokens estimated") {
		t.Fatalf("history:\n%s", out)
	}
}
