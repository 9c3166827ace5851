package engine

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"agent-tui/engine/oaitest"
	"agent-tui/engine/tools"
	"agent-tui/engine/workspace/wstest"
	"agent-tui/store"
)

func TestMain(m *testing.M) {
	// commands confined by Landlock re-execute the test binary as helper
	tools.InstallHelper()
	goleak.VerifyTestMain(wstest.M{M: m})
}

// Each provider fault ends in its documented behaviour and the history
// keeps every attempt.
func TestProviderFaults(t *testing.T) {
	cases := []struct {
		name  string
		fault func(r *oaitest.Request, phase string, n int) (oaitest.Reply, bool)
		check func(t *testing.T, h *harness, id string)
	}{
		{"reset mid-stream falls back", func(r *oaitest.Request, phase string, n int) (oaitest.Reply, bool) {
			if phase == "discovery" && r.Model == "mid-1" {
				return oaitest.Reply{Text: "partial answer that will be cut", ResetAfterChunks: 2}, true
			}
			return oaitest.Reply{}, false
		}, func(t *testing.T, h *harness, id string) {
			a := h.phase(id, "discovery").Attempts[0]
			if a.Model != "spare" || !strings.Contains(a.Fallbacks[0].Reason, "reset") {
				t.Fatalf("%s %+v", a.Model, a.Fallbacks)
			}
			// the cut call was billed: its tokens, estimated (it sent no
			// usage), are in the attempt beside the spare's reported ones
			if !a.TokensEstimated {
				t.Errorf("the cut call's tokens are not counted: %d in, %d out, not estimated", a.TokensIn, a.TokensOut)
			}
		}},
		{"stalled stream ends by the idle watchdog", func(r *oaitest.Request, phase string, n int) (oaitest.Reply, bool) {
			if phase == "discovery" && r.Model == "mid-1" {
				return oaitest.Reply{Text: "a b c d e f", StallAfterChunks: 1}, true
			}
			return oaitest.Reply{}, false
		}, func(t *testing.T, h *harness, id string) {
			a := h.phase(id, "discovery").Attempts[0]
			if a.Model != "spare" || !strings.Contains(a.Fallbacks[0].Reason, "idle") {
				t.Fatalf("%s %+v", a.Model, a.Fallbacks)
			}
		}},
		{"malformed SSE falls back", func(r *oaitest.Request, phase string, n int) (oaitest.Reply, bool) {
			if phase == "discovery" && r.Model == "mid-1" {
				return oaitest.Reply{Text: "x y z", MalformedSSE: true}, true
			}
			return oaitest.Reply{}, false
		}, func(t *testing.T, h *harness, id string) {
			if a := h.phase(id, "discovery").Attempts[0]; a.Model != "spare" {
				t.Fatalf("%s %+v", a.Model, a.Fallbacks)
			}
		}},
		{"5xx on every model hands over", func(r *oaitest.Request, phase string, n int) (oaitest.Reply, bool) {
			if phase == "discovery" {
				return oaitest.Reply{Status: 503}, true
			}
			return oaitest.Reply{}, false
		}, func(t *testing.T, h *harness, id string) {
			tk := h.ticket(id)
			if tk.Status != store.StatusNeedsHuman || !strings.Contains(tk.Reason, "503") {
				t.Fatalf("%s %q", tk.Status, tk.Reason)
			}
			if a := h.phase(id, "discovery").Attempts[0]; a.Error == "" {
				t.Fatal("the failed attempt is not recorded")
			}
		}},
		{"cut mid-stream on every model: no model served it, the cut calls are billed", func(r *oaitest.Request, phase string, n int) (oaitest.Reply, bool) {
			if phase == "discovery" {
				return oaitest.Reply{Text: "partial answer that will be cut", ResetAfterChunks: 2}, true
			}
			return oaitest.Reply{}, false
		}, func(t *testing.T, h *harness, id string) {
			a := h.phase(id, "discovery").Attempts[0]
			if a.Model != "" || a.Provider != "" || len(a.Fallbacks) != 2 || a.CostUSD <= 0 || !a.TokensEstimated {
				t.Fatalf("model %q provider %q fallbacks %+v cost %v", a.Model, a.Provider, a.Fallbacks, a.CostUSD)
			}
		}},
		{"tool-call deltas without index", func(r *oaitest.Request, phase string, n int) (oaitest.Reply, bool) {
			if phase == "tests" && toolTurns(r) == 0 {
				rep := developer(r, phase)
				rep.OmitIndex = true
				rep.ToolCalls = append(rep.ToolCalls, oaitest.ToolCall{ID: "z", Name: "list_dir", Args: `{"path": "."}`})
				return rep, true
			}
			return oaitest.Reply{}, false
		}, func(t *testing.T, h *harness, id string) {
			calls := h.phase(id, "tests").Attempts[0].ToolCalls
			if len(calls) != 2 || calls[0].Name != "write_file" || calls[1].Name != "list_dir" || calls[0].IsErr {
				t.Fatalf("%+v", calls)
			}
		}},
		{"no usage is estimated", func(r *oaitest.Request, phase string, n int) (oaitest.Reply, bool) {
			if phase == "diagnosis" || phase == "discovery" {
				rep := developer(r, phase)
				rep.NoUsage = true
				return rep, true
			}
			return oaitest.Reply{}, false
		}, func(t *testing.T, h *harness, id string) {
			a := h.view(id).Phases[0].Attempts[0]
			if !a.TokensEstimated || a.TokensIn == 0 || a.TokensOut == 0 || a.CostUSD <= 0 {
				t.Fatalf("%+v", a)
			}
		}},
		{"tool arguments that are not JSON", func(r *oaitest.Request, phase string, n int) (oaitest.Reply, bool) {
			if phase == "tests" && toolTurns(r) == 0 {
				return oaitest.Reply{ToolCalls: []oaitest.ToolCall{{ID: "bad", Name: "write_file", Args: `{"path": "x", "content": `}}}, true
			}
			return oaitest.Reply{}, false
		}, func(t *testing.T, h *harness, id string) {
			a := h.phase(id, "tests").Attempts[0]
			if len(a.ToolCalls) == 0 || !a.ToolCalls[0].IsErr || !strings.Contains(a.ToolCalls[0].Result, "JSON") {
				t.Fatalf("%+v", a.ToolCalls)
			}
			// the call goes back to the provider well formed: a strict one
			// would refuse arguments that are not JSON
			for _, r := range h.requests("tests") {
				for _, m := range r.Messages {
					for _, tc := range m.ToolCalls {
						if !json.Valid([]byte(tc.Function.Arguments)) {
							t.Fatalf("arguments sent back as they came: %q", tc.Function.Arguments)
						}
					}
				}
			}
		}},
		{"unreadable verdicts are asked again, then fail the attempt", func(r *oaitest.Request, phase string, n int) (oaitest.Reply, bool) {
			if strings.HasPrefix(phase, "validator of discovery") {
				return oaitest.Reply{Text: "I think it is mostly fine."}, true
			}
			return oaitest.Reply{}, false
		}, func(t *testing.T, h *harness, id string) {
			// SPEC: asked again, not counted as an attempt; after three
			// unreadable answers the attempt fails with that error, and
			// the phase's attempts run out as with any failure
			max := h.cfg.Phase("discovery").MaxAttempts
			if n, v := len(h.requests("discovery")), len(h.requests("validator of discovery")); n != max || v != 3*max {
				t.Fatalf("%d discovery and %d validator requests, want %d and %d", n, v, max, 3*max)
			}
			d := h.phase(id, "discovery")
			if len(d.Attempts) != max {
				t.Fatalf("%d attempts", len(d.Attempts))
			}
			for _, a := range d.Attempts {
				if !strings.Contains(a.Error, "the validator's answer could not be read 3 times") || a.Verdict != nil {
					t.Fatalf("attempt %d: error %q, verdict %+v", a.N, a.Error, a.Verdict)
				}
			}
			// the stop says the validator kept failing, not the phase
			if tk := h.ticket(id); tk.Status != store.StatusNeedsHuman || !strings.HasPrefix(tk.Reason, fmt.Sprintf("the validator's answers on discovery could not be read in %d attempts (discovery was never judged)", max)) {
				t.Fatalf("%s (%s)", tk.Status, tk.Reason)
			}
			// a plain retry judges the last answer again, once (and what
			// the first judging was billed stays billed); its attempt
			// failing again, fresh attempts follow
			before := d.Attempts[max-1]
			costBefore := h.ticket(id).CostUSD
			h.decide(id, store.Decision{Kind: store.DecisionRetry})
			if n, v := len(h.requests("discovery")), len(h.requests("validator of discovery")); n != 2*max || v != 6*max+3 {
				t.Fatalf("after a plain retry: %d discovery and %d validator requests, want %d and %d", n, v, 2*max, 6*max+3)
			}
			after := h.phase(id, "discovery").Attempts[max-1]
			if after.JudgedAfter != JudgedAfterRetry || after.Validator.TokensIn != 2*before.Validator.TokensIn || h.ticket(id).CostUSD <= costBefore {
				t.Fatalf("validator tokens in %d → %d, ticket cost %v → %v", before.Validator.TokensIn, after.Validator.TokensIn, costBefore, h.ticket(id).CostUSD)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var cnt counter
			h := newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
				if rep, ok := c.fault(r, phase, cnt.inc(phase)); ok {
					return rep
				}
				return developer(r, phase)
			})
			kind := "epic"
			if strings.Contains(c.name, "tool") {
				kind = "hotfix"
			}
			id := h.add(kind, "fault", false)
			h.runIdle()
			c.check(t, h, id)
			if err := h.st.Check(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestParseVerdict(t *testing.T) {
	cases := []struct {
		in   string
		pass bool
		objs int
		err  bool
	}{
		{`{"pass": true, "objections": []}`, true, 0, false},
		{"Sure.\n```json\n{\"pass\": false, \"objections\": [\"a\", \"b\"]}\n```\nThanks", false, 2, false},
		{`{"pass": false}`, false, 1, false},
		{`{"pass": "yes"}`, false, 0, true},
		{`{"objections": []}`, false, 0, true},
		{`no json here`, false, 0, true},
		{`{"note": {"x": 1}} then {"pass": true}`, true, 0, false},
		{`{"pass": false, "objections": "one thing"}`, false, 1, false},
		// the format quoted back first: the verdict is the last object
		{`The format is {"pass": true, "objections": []}. My verdict: {"pass": false, "objections": ["x", "y"]}`, false, 2, false},
		{``, false, 0, true},
	}
	for _, c := range cases {
		v, err := ParseVerdict(c.in)
		if (err != nil) != c.err || (err == nil && (v.Pass != c.pass || len(v.Objections) != c.objs)) {
			t.Errorf("%q: %+v %v", c.in, v, err)
		}
	}
}

// What was wrong with a verdict is said as the model was asked (it goes
// back to the model, and into show), not in Go's terms.
func TestParseVerdictSaysWhatIsWrongInJSONTerms(t *testing.T) {
	for in, want := range map[string]string{
		`{"pass": "yes"}`:                  `"pass" must be true or false, not a string`,
		`{"pass": 1}`:                      `"pass" must be true or false, not a number`,
		`{"tickets": {"kind": "feature"}}`: `"tickets" must be a list, not an object`,
		`{"tickets": [1]}`:                 `each item of "tickets" must be an object, not a number`,
		`{"tickets": [{"kind": 1}]}`:       `"kind" of each item of "tickets" must be a string, not a number`,
	} {
		var err error
		if strings.Contains(in, "tickets") {
			_, err = ParseSplit(in)
		} else {
			_, err = ParseVerdict(in)
		}
		if err == nil || err.Error() != want || strings.Contains(err.Error(), "Go ") {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
}

func TestParseSplit(t *testing.T) {
	got, err := ParseSplit("Here:\n```json\n{\"tickets\": [{\"kind\": \"Feature\", \"title\": \" a \", \"body\": \"b\"}]}\n```")
	if err != nil || len(got) != 1 || got[0].Kind != "feature" || got[0].Title != "a" {
		t.Fatalf("%+v %v", got, err)
	}
	for _, bad := range []string{`{"tickets": []}`, `{"tickets": [{"kind": "epic", "title": "x"}]}`, `{"tickets": [{"kind": "hotfix", "title": ""}]}`, `nothing`,
		`{"tickets": [{"kind": "hotfix", "title": "a\u001b]0;x\u0007 title\nsecond line"}]}`} {
		if _, err := ParseSplit(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	many := `{"tickets": [` + strings.Repeat(`{"kind": "feature", "title": "t"},`, MaxSplitTickets) + `{"kind": "hotfix", "title": "one more"}]}`
	if _, err := ParseSplit(many); err == nil || !strings.Contains(err.Error(), "21 tickets, more than 20") {
		t.Fatalf("a split of 21 tickets: %v", err)
	}
	// every problem of every ticket at once, not one per attempt
	_, err = ParseSplit(`{"tickets": [{"kind": "epic", "title": "x"}, {"kind": "feature", "title": "ok"}, {"kind": "hotfix", "title": ""}]}`)
	if err == nil || !strings.Contains(err.Error(), `ticket 1: kind "epic"`) || !strings.Contains(err.Error(), "ticket 3: empty title") {
		t.Fatalf("%v", err)
	}
}

func FuzzParseVerdict(f *testing.F) {
	for _, s := range []string{`{"pass": true, "objections": []}`, "```json\n{\"pass\": false, \"objections\": [\"x\"]}\n```", `{{{`, `{"pass": null}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVerdict(s)
		if err == nil && !v.Pass && len(v.Objections) == 0 {
			t.Fatalf("a failing verdict without objections from %q", s)
		}
	})
}

func FuzzParseSplit(f *testing.F) {
	for _, s := range []string{`{"tickets": [{"kind": "feature", "title": "a", "body": "b"}]}`, `{"tickets": 3}`, `[`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseSplit(s)
		if err != nil {
			return
		}
		for _, c := range got {
			if (c.Kind != KindFeature && c.Kind != KindHotfix) || c.Title == "" {
				t.Fatalf("invalid child accepted from %q: %+v", s, c)
			}
		}
	})
}

// A provider that refuses its key (401) stops the tickets after the first
// before they call it: each would only spend an attempt on the same 401.
func TestRefusedKeyStopsTheOtherTicketsBeforeTheyCall(t *testing.T) {
	h := newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
		return oaitest.Reply{Status: 401, Error: "Incorrect API key provided"}
	})
	h.cfg.MaxParallel = 1
	h.eng = New(Options{Store: h.st, Config: h.cfg, Repo: h.repo, Router: newRouter(h.cfg), Prompts: h.eng.prompts})
	first := h.add("hotfix", "first", false)
	h.runIdle()
	calls := len(h.srv.Requests())
	if tk := h.ticket(first); tk.Status != store.StatusNeedsHuman || !strings.Contains(tk.Reason, "HTTP 401") {
		t.Fatalf("first: %s (%s)", tk.Status, tk.Reason)
	}
	second := h.add("hotfix", "second", false)
	h.runIdle()
	tk := h.ticket(second)
	if tk.Status != store.StatusNeedsHuman || !strings.Contains(tk.Reason, "it refused the key in AGENT_TUI_TEST_KEY") {
		t.Fatalf("second: %s (%s)", tk.Status, tk.Reason)
	}
	if n := len(h.srv.Requests()); n != calls {
		t.Errorf("the second ticket called the provider that refused its key (%d calls, then %d)", calls, n)
	}
	if as, _ := h.st.Attempts(second); len(as) != 0 {
		t.Errorf("the second ticket spent %d attempts", len(as))
	}
}

// A model whose provider refused its key is listed once in the attempt's
// fallbacks: the 401, not again for every later turn that skipped it.
func TestRefusedKeyIsListedOnce(t *testing.T) {
	h := newHarness(t, "\n[phases.diagnosis]\nmodels = [\"medium\", \"spare\"]\n", func(r *oaitest.Request, phase string) oaitest.Reply {
		if r.Model == "mid-1" {
			return oaitest.Reply{Status: 401, Error: "Incorrect API key provided"}
		}
		if phase == "diagnosis" && toolTurns(r) < 2 {
			return oaitest.Reply{ToolCalls: []oaitest.ToolCall{{ID: fmt.Sprint("l", toolTurns(r)), Name: "list_dir", Args: fmt.Sprintf(`{"path": ".", "n": %d}`, toolTurns(r))}}}
		}
		return developer(r, phase)
	})
	id := h.add("hotfix", "one provider refuses its key", false)
	h.runIdle()
	a := h.phase(id, "diagnosis").Attempts[0]
	if a.Model != "spare" || len(a.Fallbacks) != 1 || !strings.Contains(a.Fallbacks[0].Reason, "401") {
		t.Fatalf("model %s fallbacks %+v", a.Model, a.Fallbacks)
	}
}
