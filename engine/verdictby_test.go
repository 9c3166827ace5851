package engine

import (
	"strings"
	"testing"

	"agent-tui/engine/oaitest"
	"agent-tui/store"
)

// A review that fails the code with no objection sends it back saying it
// was the review's fail; a validator's says the validator's.
func TestFailWithoutObjectionsSaysWhoseItWas(t *testing.T) {
	var c counter
	h := newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
		if (phase == "review" || phase == "validator of diagnosis") && c.inc(phase) == 1 {
			return oaitest.Reply{Text: `{"pass": false, "objections": []}`}
		}
		return developer(r, phase)
	})
	id := h.add("hotfix", "a silent review", false)
	h.runIdle()
	if tk := h.ticket(id); tk.Status != store.StatusDone {
		t.Fatalf("%s (%s)", tk.Status, tk.Reason)
	}
	code := h.firstTurns("code")
	if len(code) != 2 || !strings.Contains(userText(code[1]), "the review failed the code without saying why") || strings.Contains(userText(code[1]), "validator") {
		t.Fatalf("%d code requests; the second:\n%s", len(code), userText(code[len(code)-1]))
	}
	diag := h.firstTurns("diagnosis")
	if len(diag) != 2 || !strings.Contains(userText(diag[1]), "the validator failed the deliverable without saying why") {
		t.Fatalf("%d diagnosis requests", len(diag))
	}
}

// A validator call whose provider reports no usage is billed on an
// estimate, and its record says so.
func TestValidatorEstimatedTokensAreFlagged(t *testing.T) {
	h := newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase == "validator of diagnosis" {
			rep := pass()
			rep.NoUsage = true
			return rep
		}
		return developer(r, phase)
	})
	id := h.add("hotfix", "no usage from the validator", false)
	h.runIdle()
	if v := h.phase(id, "diagnosis").Attempts[0].Validator; v == nil || !v.Estimated || v.TokensIn == 0 {
		t.Fatalf("validator %+v", v)
	}
	if v := h.phase(id, "tests").Attempts[0].Validator; v == nil || v.Estimated {
		t.Fatalf("a validator that reported its usage: %+v", v)
	}
}
