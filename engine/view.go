package engine

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"agent-tui/store"
)

// TicketView is the stable shape of `show --json` (SPEC section 8).
type TicketView struct {
	ID         string   `json:"id"`
	Kind       string   `json:"kind"`
	Title      string   `json:"title"`
	Body       string   `json:"body"`
	Status     string   `json:"status"`
	Reason     string   `json:"reason"`
	Sensitive  bool     `json:"sensitive"`
	Paused     bool     `json:"paused"`
	Parent     string   `json:"parent"`
	Children   []string `json:"children"`
	Branch     string   `json:"branch"`
	Worktree   string   `json:"worktree"`
	BaseBranch string   `json:"base_branch"`
	// Merged is the merge commit that brought the ticket into base_branch.
	Merged string `json:"merged,omitempty"`
	// Conflicts are files code is to resolve, left marked when the base
	// was merged into the branch.
	Conflicts []string `json:"conflicts,omitempty"`
	Phase     string   `json:"phase"`
	CostUSD   float64  `json:"cost_usd"`
	// ChildrenCostUSD is what an epic's children cost (cost_usd is its
	// own sessions').
	ChildrenCostUSD float64 `json:"children_cost_usd,omitempty"`
	// Interrupted and Pending as in TicketSummary.
	Interrupted bool             `json:"interrupted"`
	Pending     []string         `json:"pending"`
	Phases      []PhaseView      `json:"phases"`
	Decisions   []store.Decision `json:"decisions"`
	// Stops: each time the engine stopped the ticket for a person, and why
	Stops []store.Stop `json:"stops"`
	// Confinement says how run_command is confined (or that it is not).
	Confinement string    `json:"confinement,omitempty"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
}

type PhaseView struct {
	Name    string  `json:"name"`
	Status  string  `json:"status"`
	CostUSD float64 `json:"cost_usd"` // its attempts and their validators
	// ByHuman: a person's approve passed it, whatever its last attempt's
	// verdict (code approved while still red)
	ByHuman  bool          `json:"by_human"`
	Attempts []AttemptView `json:"attempts"`
}

type AttemptView struct {
	N         int              `json:"n"`
	Model     string           `json:"model"`
	Provider  string           `json:"provider"`
	Fallbacks []store.Fallback `json:"fallbacks"`
	// Served: what each model that answered some of its calls cost (two
	// or more when a fallback served some turns)
	Served []store.Spend `json:"served"`
	// Wasted: calls a model answered only in part (cut off, at its length
	// limit, too long), billed and in the attempt's cost
	Wasted      []store.Spend `json:"wasted"`
	Deliverable string        `json:"deliverable"`
	// Stream: what the model streamed, tool calls and their results as the
	// Stream tab shows them (an interrupted attempt's only text)
	Stream          string       `json:"stream"`
	Verdict         *VerdictView `json:"verdict"`
	TokensIn        int          `json:"tokens_in"`
	TokensOut       int          `json:"tokens_out"`
	TokensEstimated bool         `json:"tokens_estimated"`
	CostUSD         float64      `json:"cost_usd"`
	Error           string       `json:"error"`
	Interrupted     bool         `json:"interrupted"`
	// JudgedAfter: its saved answer was judged by a later run ("restart",
	// "retry"; "" when judged as it was answered)
	JudgedAfter string   `json:"judged_after"`
	Feedback    []string `json:"feedback"`
	// ContextTokens: the largest call's input, estimated
	ContextTokens int              `json:"context_tokens"`
	Trimmed       []string         `json:"trimmed"`
	ToolCalls     []store.ToolCall `json:"tool_calls"`
	Checks        []store.Check    `json:"checks"`
	Validator     *store.Validator `json:"validator"`
	Started       time.Time        `json:"started"`
	Ended         *time.Time       `json:"ended"` // null while it runs, or when it was cut off
}

type VerdictView struct {
	Pass       bool     `json:"pass"`
	Objections []string `json:"objections"`
	By         string   `json:"by"`
}

// TicketSummary is the stable shape of one row of `list --json`.
type TicketSummary struct {
	ID        string   `json:"id"`
	Kind      string   `json:"kind"`
	Title     string   `json:"title"`
	Status    string   `json:"status"`
	Phase     string   `json:"phase"`
	Reason    string   `json:"reason"`
	Sensitive bool     `json:"sensitive"`
	Paused    bool     `json:"paused"`
	Parent    string   `json:"parent"`
	Children  []string `json:"children"`
	CostUSD   float64  `json:"cost_usd"`
	// Interrupted: running when agent-tui last stopped; the next run takes
	// it up again (list and show hold the database, so no run is under way).
	Interrupted bool `json:"interrupted"`
	// Pending are the kinds of the decisions the next run carries out.
	Pending []string `json:"pending"`
}

// CurrentPhase is the ticket's phase as list and show give it: a done
// ticket has none (its last step, the engine's own merge, is not one of
// SPEC's phases); a cancelled or failed one keeps where it stopped.
func CurrentPhase(t *store.Ticket) string {
	if t.Status == store.StatusDone {
		return ""
	}
	return t.Phase
}

// Summarize is a ticket as `list --json` shows it while no run is under way.
func Summarize(t *store.Ticket) TicketSummary {
	return TicketSummary{ID: t.ID, Kind: t.Kind, Title: t.Title, Status: t.Status, Phase: CurrentPhase(t), Reason: t.Reason,
		Sensitive: t.Sensitive, Paused: t.Paused, Parent: t.Parent, Children: nonNil(t.Children), CostUSD: t.CostUSD,
		Interrupted: t.Status == store.StatusRunning, Pending: PendingKinds(t)}
}

// PendingKinds are the kinds of t's decisions not carried out yet, in the
// order they were taken.
func PendingKinds(t *store.Ticket) []string {
	kinds := []string{}
	for _, d := range t.Decisions {
		if !d.Applied {
			kinds = append(kinds, d.Kind)
		}
	}
	return kinds
}

// Describe joins a ticket and its attempts into the show view.
// DescribeStopped is Describe for a database no engine runs on (the
// command line holds it alone): an attempt a stopped process left
// unfinished reads as the next run will record it, interrupted, its
// running calls cut off.
func DescribeStopped(t *store.Ticket, attempts []*store.Attempt) TicketView {
	var spent float64 // what the next run adds to the ticket's cost
	if !finished(t.Status) {
		attempts = slices.Clone(attempts)
		for i, a := range attempts {
			if !a.Done() {
				spent += CutOffCost(a)
				cp := *a
				cp.ToolCalls = slices.Clone(a.ToolCalls)
				markCutOff(&cp, t.Status)
				attempts[i] = &cp
			}
		}
	}
	v := Describe(t, attempts)
	v.CostUSD += spent
	return v
}

// CutOffCost is what an attempt a stopped process left unfinished has
// cost beyond what its ticket counts: the next run adds it (recover).
func CutOffCost(a *store.Attempt) float64 {
	if a.Done() {
		return 0
	}
	return a.NotCounted()
}

func Describe(t *store.Ticket, attempts []*store.Attempt) TicketView {
	v := TicketView{
		ID: t.ID, Kind: t.Kind, Title: t.Title, Body: t.Body, Status: t.Status, Reason: t.Reason,
		Sensitive: t.Sensitive, Paused: t.Paused, Parent: t.Parent, Children: nonNil(t.Children),
		Branch: t.Branch, Worktree: t.Worktree, BaseBranch: t.BaseBranch, Merged: t.Merged, Conflicts: t.Conflicts, Phase: CurrentPhase(t),
		CostUSD: t.CostUSD, Decisions: t.Decisions, Stops: t.Stops, Created: t.Created, Updated: t.Updated,
		Interrupted: t.Status == store.StatusRunning, Pending: PendingKinds(t),
	}
	if v.Decisions == nil {
		v.Decisions = []store.Decision{}
	}
	if v.Stops == nil {
		v.Stops = []store.Stop{}
	}
	for _, ps := range t.Phases {
		if ps.Name == Merge {
			// the engine's own step, with no attempts: `phase`, `status`
			// and `merged` tell it, and `phases` keeps to SPEC's names
			continue
		}
		pv := PhaseView{Name: ps.Name, Status: ps.Status, ByHuman: ps.ByHuman, Attempts: []AttemptView{}}
		for _, a := range attempts {
			if a.Phase == ps.Name {
				av := attemptView(a)
				pv.Attempts = append(pv.Attempts, av)
				pv.CostUSD += av.CostUSD
			}
		}
		v.Phases = append(v.Phases, pv)
	}
	return v
}

func attemptView(a *store.Attempt) AttemptView {
	av := AttemptView{
		N: a.N, Model: a.Model, Provider: a.Provider, Fallbacks: a.Fallbacks, Deliverable: a.Deliverable, Stream: a.Stream,
		TokensIn: a.TokensIn, TokensOut: a.TokensOut, TokensEstimated: a.TokensEstimated,
		CostUSD: a.CostUSD, Error: a.Error, Interrupted: a.Interrupted, JudgedAfter: a.JudgedAfter, Feedback: nonNil(a.Feedback),
		ContextTokens: a.ContextTokens, Trimmed: nonNil(a.Trimmed), ToolCalls: a.ToolCalls,
		Checks: a.Checks, Validator: a.Validator, Started: a.Started,
	}
	if !a.Ended.IsZero() {
		ended := a.Ended
		av.Ended = &ended
	}
	if av.Fallbacks == nil {
		av.Fallbacks = []store.Fallback{}
	}
	if av.Served = a.Served; av.Served == nil {
		av.Served = []store.Spend{}
	}
	if av.Wasted = a.Wasted; av.Wasted == nil {
		av.Wasted = []store.Spend{}
	}
	if av.ToolCalls == nil {
		av.ToolCalls = []store.ToolCall{}
	}
	if av.Checks == nil {
		av.Checks = []store.Check{}
	}
	if a.Validator != nil {
		av.CostUSD += a.Validator.CostUSD
	}
	if a.Verdict != nil {
		av.Verdict = &VerdictView{Pass: a.Verdict.Pass, Objections: nonNil(a.Verdict.Objections), By: a.Verdict.By}
	}
	return av
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// CheckTestsRed is the run after the tests phase, which must fail.
const CheckTestsRed = "tests red"

// CheckCodeGreen names the test run after code (and its output).
const CheckCodeGreen = "code green"

// CheckOutcome is how a check's command ended, for people: "exit 1", or
// why it did not run to an end.
func CheckOutcome(c store.Check) string {
	switch {
	case c.NotRun == "":
		return fmt.Sprintf("exit %d", c.ExitCode)
	case c.ExitCode >= 0 && !c.TimedOut():
		return fmt.Sprintf("exit %d, %s", c.ExitCode, c.NotRun)
	}
	return c.NotRun
}

// CheckHeld says whether a check came out as the route wants: a command
// that succeeds, except the red run, whose tests must fail. (Check.Pass is
// the command's own success.)
func CheckHeld(c store.Check) bool {
	if c.Name == CheckTestsRed {
		return c.ExitCode != 0 && c.NotRun == ""
	}
	return c.Pass
}

// NoAnswerLabel says why an attempt that recorded no model has none: cut
// off by a kill, ended by errors (every model failed, or gave something
// that was no answer), or never called. tried are its fallbacks: with no
// model that served it, the models tried and left, named here since
// none of them is the attempt's model.
//
// inPart: some model sent part of an answer (cut off, too long), billed.
func NoAnswerLabel(interrupted bool, err string, tried []store.Fallback, inPart bool) string {
	switch {
	case interrupted:
		return "cut off before an answer was recorded"
	case err != "" && len(tried) > 0:
		var names []string
		for _, f := range tried {
			if !slices.Contains(names, f.Model) {
				names = append(names, f.Model)
			}
		}
		if inPart {
			return "no whole answer; tried " + strings.Join(names, ", ")
		}
		return "no model answered; tried " + strings.Join(names, ", ")
	case err != "":
		return "no usable answer"
	}
	return "no model answered"
}
