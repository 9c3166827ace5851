// Package store keeps every ticket, attempt and human decision in one bbolt
// file. It knows nothing of the engine or the UI.
package store

import (
	"strings"
	"time"
)

// Ticket statuses (SPEC section 2).
const (
	StatusQueued          = "queued"
	StatusRunning         = "running"
	StatusAwaiting        = "awaiting_approval"
	StatusNeedsHuman      = "needs_human"
	StatusWaitingChildren = "waiting_children"
	StatusDone            = "done"
	StatusFailed          = "failed"
	StatusCancelled       = "cancelled"
)

// Phase statuses.
const (
	PhasePending    = "pending"
	PhaseRunning    = "running"
	PhasePassed     = "passed"
	PhaseFailed     = "failed" // gave up: the ticket needs a human
	PhaseAwaiting   = "awaiting_approval"
	PhaseSkipped    = "skipped"
	PhaseCancelled  = "cancelled"
	PhaseNeedsHuman = "needs_human"
	// PhaseAccepted: the checks (or a human) accepted the deliverable; the
	// engine still has to carry out what passing means (commit, children).
	PhaseAccepted = "accepted"
)

// Decision kinds.
const (
	DecisionApprove     = "approve"
	DecisionReject      = "reject"
	DecisionRetry       = "retry"
	DecisionCancel      = "cancel"
	DecisionEditApprove = "edit_approve"
	DecisionPause       = "pause"
	DecisionResume      = "resume"
)

// Stop is the engine stopping a ticket for a person: when, at which phase,
// in which status and why.
type Stop struct {
	At     time.Time `json:"at"`
	Phase  string    `json:"phase"`
	Status string    `json:"status"`
	Reason string    `json:"reason"`
}

// Ticket is the small, always-loaded record of a ticket. Large data (attempt
// streams, deliverables, tool calls) lives in the attempts bucket.
type Ticket struct {
	ID         string   `json:"id"`
	Kind       string   `json:"kind"`
	Title      string   `json:"title"`
	Body       string   `json:"body"`
	Sensitive  bool     `json:"sensitive"`
	Parent     string   `json:"parent"`
	Children   []string `json:"children"`
	Status     string   `json:"status"`
	Phase      string   `json:"phase"`
	Reason     string   `json:"reason,omitempty"`
	Paused     bool     `json:"paused,omitempty"`
	Branch     string   `json:"branch"`
	Worktree   string   `json:"worktree"`
	BaseBranch string   `json:"base_branch,omitempty"`
	// Merged is the merge commit that brought the ticket into BaseBranch.
	Merged  string  `json:"merged,omitempty"`
	CostUSD float64 `json:"cost_usd"`
	// CostBase is the spend when a human last retried: max_cost_usd counts from it.
	CostBase  float64      `json:"cost_base,omitempty"`
	Phases    []PhaseState `json:"phase_states"`
	Decisions []Decision   `json:"decisions,omitempty"`
	// Stops are the times the engine stopped the ticket for a person,
	// oldest first: Reason holds only the latest (a merge blocked by a
	// dirty checkout, then approved, would leave no trace).
	Stops []Stop `json:"stops,omitempty"`
	// TestFiles are the files written by the tests phase with their hashes;
	// code must leave them unchanged.
	TestFiles map[string]string `json:"test_files,omitempty"`
	// Rebase: the base branch is to be merged into the ticket's branch
	// before code goes again (work sent back from review or a merge).
	Rebase bool `json:"rebase,omitempty"`
	// Conflicts are the files left with conflict markers when the base
	// branch was brought into the ticket's branch, until code passes.
	Conflicts []string `json:"conflicts,omitempty"`
	// DetectedTestCommand is the test command found in the base branch's
	// files when the worktree was made ("" for none); nil before that.
	DetectedTestCommand *string   `json:"detected_test_command,omitempty"`
	Created             time.Time `json:"created"`
	Updated             time.Time `json:"updated"`
}

// PhaseState summarises one phase of a ticket's route.
type PhaseState struct {
	Name     string `json:"name"`
	Status   string `json:"status"`
	Attempts int    `json:"attempts"` // attempts made, interrupted ones included
	// BudgetFrom is the attempt number after which max_attempts counts again
	// (a human retry gives a fresh budget).
	BudgetFrom int `json:"budget_from,omitempty"`
	// Accepted is the store sequence of the attempt whose deliverable passed.
	Accepted int `json:"accepted,omitempty"`
	// ByHuman: a person accepted the phase (approve), taking the worktree
	// as it is, their own edits included.
	ByHuman bool `json:"by_human,omitempty"`
	// Model overrides the chain's first model (retry on another model).
	Model string `json:"model,omitempty"`
}

// Decision is a human act on a ticket. Pending ones are carried out by the
// next engine run.
type Decision struct {
	Kind     string    `json:"kind"`
	Phase    string    `json:"phase,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	Guidance string    `json:"guidance,omitempty"`
	Model    string    `json:"model,omitempty"`
	Text     string    `json:"text,omitempty"` // edited deliverable
	At       time.Time `json:"at"`
	Applied  bool      `json:"applied"`
	// Superseded says why it was never carried out ("replaced by approve"):
	// a later decision took its place before a run got to it. Applied is
	// then true too, so nothing waits on it.
	Superseded string `json:"superseded,omitempty"`
	// Outcome is what carrying it out did to a person's own work beyond
	// what its kind says ("your uncommitted changes were kept as a stash")
	Outcome string `json:"outcome,omitempty"`
}

// Attempt is one run of a phase (SPEC section 2).
type Attempt struct {
	Seq   int    `json:"seq"`
	Phase string `json:"phase"`
	N     int    `json:"n"`
	// Try numbers the attempt within its phase's current max_attempts
	// budget (a human retry or a send-back starts a new one); 0 in records
	// from before it was kept.
	Try             int        `json:"try,omitempty"`
	Model           string     `json:"model"`
	Provider        string     `json:"provider"`
	Fallbacks       []Fallback `json:"fallbacks,omitempty"`
	Stream          string     `json:"stream,omitempty"`
	ToolCalls       []ToolCall `json:"tool_calls,omitempty"`
	Deliverable     string     `json:"deliverable"`
	TokensIn        int        `json:"tokens_in"`
	TokensOut       int        `json:"tokens_out"`
	TokensEstimated bool       `json:"tokens_estimated,omitempty"`
	CostUSD         float64    `json:"cost_usd"`
	// Wasted are calls a model answered only in part (counted in the
	// tokens and cost above): by model, for the spend per model.
	Wasted []Spend `json:"wasted,omitempty"`
	// Served is what the complete calls cost, one entry per model: more
	// than one when a fallback served some turns of the session.
	Served      []Spend   `json:"served,omitempty"`
	Started     time.Time `json:"started"`
	Ended       time.Time `json:"ended,omitzero"`
	Verdict     *Verdict  `json:"verdict"`
	Error       string    `json:"error"`
	Interrupted bool      `json:"interrupted"`
	// Answered: the model's answer is complete and saved; only its
	// judging (checks, validator) may be missing.
	Answered bool `json:"answered,omitempty"`
	// JudgedAfter says the saved answer was judged by a later run, not the
	// one that asked for it: "restart" (agent-tui stopped while it was
	// judged) or "retry" (no validator model had answered).
	JudgedAfter string `json:"judged_after,omitempty"`
	// Counted is the part of the attempt's cost already in its ticket's
	// (an attempt cut off before its judging is counted then, and again
	// only for what its judging adds).
	Counted float64 `json:"counted_usd,omitempty"`
	// Feedback is what this attempt was told to address: every earlier
	// objection of the phase, human reasons and guidance.
	Feedback      []string   `json:"feedback,omitempty"`
	ContextTokens int        `json:"context_tokens,omitempty"`
	Trimmed       []string   `json:"trimmed,omitempty"`
	Checks        []Check    `json:"checks,omitempty"`
	Validator     *Validator `json:"validator,omitempty"`
	// TestFiles: the tests a tests attempt wrote, with their hashes.
	TestFiles map[string]string `json:"test_files,omitempty"`
	// Reviewed is the commit a review read: a branch that moved on since
	// is not what a person approved
	Reviewed string `json:"reviewed,omitempty"`
}

// Uncounted is what the attempt cost beyond what its ticket's cost holds
// already; it marks that counted.
func (a *Attempt) Uncounted() float64 {
	d := a.NotCounted()
	a.Counted = a.TotalCostUSD()
	return d
}

// NotCounted is what Uncounted would return, leaving the attempt as it is.
func (a *Attempt) NotCounted() float64 { return a.TotalCostUSD() - a.Counted }

// Done reports whether the attempt has finished (well or not).
func (a *Attempt) Done() bool { return !a.Ended.IsZero() || a.Interrupted }

// NotRunTimedOut starts Check.NotRun when the command ran out of time.
const NotRunTimedOut = "timed out"

// TimedOut says whether the command was stopped for taking too long: it
// ran, unlike a command that was not found or could not start.
func (c Check) TimedOut() bool { return strings.HasPrefix(c.NotRun, NotRunTimedOut) }

// TotalCostUSD is what the attempt cost, its validator session included.
func (a *Attempt) TotalCostUSD() float64 {
	if a.Validator != nil {
		return a.CostUSD + a.Validator.CostUSD
	}
	return a.CostUSD
}

type Fallback struct {
	Model    string `json:"model"`
	Provider string `json:"provider"`
	Reason   string `json:"reason"`
}

type ToolCall struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Args   string `json:"args"`
	Result string `json:"result"`
	IsErr  bool   `json:"is_error,omitempty"`
}

type Verdict struct {
	Pass       bool     `json:"pass"`
	Objections []string `json:"objections"`
	// By says who judged: validator, check, review, human.
	By string `json:"by,omitempty"`
}

// Check is an objective check the engine ran (tests red, code green, ci).
type Check struct {
	Name     string `json:"name"`
	Command  string `json:"command"`
	ExitCode int    `json:"exit_code"`
	Output   string `json:"output"` // tail
	Pass     bool   `json:"pass"`
	// NotRun says why the command did not run to an end of its own (timed
	// out, could not start, not found); a failed run is not a red one then
	NotRun string `json:"not_run,omitempty"`
}

// Validator records the validator session that judged an attempt.
type Validator struct {
	Model      string     `json:"model"`
	Provider   string     `json:"provider"`
	Fallbacks  []Fallback `json:"fallbacks,omitempty"`
	TokensIn   int        `json:"tokens_in"`
	TokensOut  int        `json:"tokens_out"`
	CostUSD    float64    `json:"cost_usd"`
	Estimated  bool       `json:"tokens_estimated,omitempty"` // as Attempt.TokensEstimated
	Raw        string     `json:"raw"`
	Unreadable int        `json:"unreadable,omitempty"`
	Wasted     []Spend    `json:"wasted,omitempty"` // as Attempt.Wasted
	Served     []Spend    `json:"served,omitempty"` // as Attempt.Served
	// Trimmed: what its input lost to its context budget, as Attempt.Trimmed
	Trimmed []string `json:"trimmed,omitempty"`
}

// Spend is what one call that gave nothing usable consumed: providers
// bill it all the same.
type Spend struct {
	Model     string  `json:"model"`
	Provider  string  `json:"provider"`
	TokensIn  int     `json:"tokens_in"`
	TokensOut int     `json:"tokens_out"`
	Estimated bool    `json:"estimated,omitempty"`
	CostUSD   float64 `json:"cost_usd"`
}

// Add counts another call's spend in s.
func (s *Spend) Add(o Spend) {
	s.TokensIn += o.TokensIn
	s.TokensOut += o.TokensOut
	s.Estimated = s.Estimated || o.Estimated
	s.CostUSD += o.CostUSD
}
