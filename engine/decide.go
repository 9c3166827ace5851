package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"agent-tui/engine/config"
	"agent-tui/engine/llm"
	"agent-tui/engine/tools"
	"agent-tui/engine/workspace"
	"agent-tui/store"
)

// NewTicket is what a user gives to create a ticket.
type NewTicket struct {
	Kind      string
	Title     string
	Body      string
	Sensitive bool
	Parent    string
}

// MaxTitle bounds a title: a line to scan in a list, not a document.
const MaxTitle = 300

// Validate checks a new ticket before anything is written.
func (n NewTicket) Validate() error {
	if !ValidKind(n.Kind) {
		return fmt.Errorf("unknown kind %q (want feature, hotfix or epic)", n.Kind)
	}
	if strings.TrimSpace(n.Title) == "" {
		return errors.New("empty title")
	}
	if !utf8.ValidString(n.Title) {
		return errors.New("the title is not UTF-8 text") // stored, it would become U+FFFD
	}
	if i := strings.IndexFunc(n.Title, func(r rune) bool { return unicode.IsControl(r) || r == 0x2028 || r == 0x2029 }); i >= 0 {
		return fmt.Errorf("the title has a control character or line separator (%U): a title is one line of text", []rune(n.Title[i:])[0])
	}
	if strings.IndexFunc(n.Title, visible) < 0 {
		return errors.New("the title has nothing visible (only spaces, format or combining characters)")
	}
	if l := utf8.RuneCountInString(n.Title); l > MaxTitle {
		return fmt.Errorf("the title is %d characters long, over %d: put the rest in the body", l, MaxTitle)
	}
	if len(n.Body) > MaxText {
		return fmt.Errorf("the body is over the limit of 1 MiB (%d bytes)", MaxText)
	}
	// a body may be a pasted log with colours: it is kept as given and
	// shown sanitized; but not a binary file, which no model can read
	if !utf8.ValidString(n.Body) || strings.ContainsRune(n.Body, 0) {
		return errors.New("the body is not text (invalid UTF-8, or NUL bytes): give a text file")
	}
	return nil
}

// MaxText bounds a ticket's body and a decision's text: every later
// decision rewrites the ticket's record, and models read them whole.
const MaxText = 1 << 20

// visible: a rune that shows as something on its own.
func visible(r rune) bool {
	switch r {
	case 0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800: // fillers and the braille blank: letters that show nothing
		return false
	}
	return unicode.IsGraphic(r) && !unicode.IsSpace(r) && !unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf)
}

// newTicketRecord builds the stored ticket with its route's phases.
func newTicketRecord(n NewTicket, base string) *store.Ticket {
	t := &store.Ticket{
		Kind: n.Kind, Title: strings.TrimSpace(n.Title), Body: n.Body, Sensitive: n.Sensitive,
		Parent: n.Parent, Status: store.StatusQueued, BaseBranch: base,
	}
	for _, p := range Route(n.Kind) {
		t.Phases = append(t.Phases, store.PhaseState{Name: p, Status: store.PhasePending})
	}
	t.Phase = t.Phases[0].Name
	return t
}

// AddTicket validates and stores a ticket; base is the branch its work
// starts from and merges into.
func AddTicket(st *store.Store, n NewTicket, base string) (*store.Ticket, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	t := newTicketRecord(n, base)
	if err := st.CreateTicket(t); err != nil {
		return nil, err
	}
	return t, nil
}

// AddTicketTx is AddTicket inside a caller's transaction.
func AddTicketTx(tx *store.Tx, n NewTicket, base string) (*store.Ticket, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	t := newTicketRecord(n, base)
	return t, tx.CreateTicket(t)
}

// BaseBranch is where a new ticket's work starts and merges: base_branch
// from the config, else the branch checked out. It must have a commit.
func BaseBranch(ctx context.Context, cfg *config.Config, repo *workspace.Repo) (string, error) {
	base := cfg.BaseBranch
	if base == "" {
		b, err := repo.CurrentBranch(ctx)
		if err != nil {
			return "", fmt.Errorf("no base branch: %v (set base_branch in the config)", err)
		}
		base = b
	}
	if err := repo.CheckBase(ctx, base); err != nil {
		if cfg.BaseBranch != "" && cfg.Path != "" {
			if ok, berr := repo.BranchExists(ctx, base); berr == nil && !ok {
				// set, and wrong: the file is where to look
				return "", cfg.KeyError("base_branch", "no branch %q in this repository: name an existing branch, or remove the key to start from the branch checked out", base)
			}
		}
		return "", err
	}
	return base, nil
}

// Add creates a ticket while the engine runs and starts it.
func (e *Engine) Add(ctx context.Context, n NewTicket) (*store.Ticket, error) {
	if err := n.Validate(); err != nil {
		return nil, err
	}
	base, err := BaseBranch(ctx, e.cfg, e.repo)
	if err != nil {
		return nil, err
	}
	t, err := AddTicket(e.st, n, base)
	if err != nil {
		return nil, err
	}
	e.publishTicket(t)
	e.startRunner(t.ID)
	return t, nil
}

// Decide validates a human decision, stores it, and wakes the ticket. The
// same function serves the command line (carried out by the next run).
func Decide(st *store.Store, cfg *config.Config, id string, d store.Decision) (*store.Ticket, error) {
	t, _, err := DecideWithChildren(st, cfg, id, d)
	return t, err
}

// DecideWithChildren is Decide, also returning the children an epic's
// pause or resume was passed on to.
func DecideWithChildren(st *store.Store, cfg *config.Config, id string, d store.Decision) (*store.Ticket, []*store.Ticket, error) {
	d.At = now()
	var out *store.Ticket
	var children []*store.Ticket
	err := st.Update(func(tx *store.Tx) error {
		children = nil // fn may run again
		t, err := tx.Ticket(id)
		if err != nil {
			return err
		}
		if err := checkDecision(cfg, t, d); err != nil {
			return err
		}
		if err := epicCancelPending(t, d.Kind, tx.Ticket); err != nil {
			return err
		}
		if d.Kind == store.DecisionApprove {
			if err := checkApprovable(tx, t); err != nil {
				return err
			}
		}
		if d.Kind != store.DecisionPause && d.Kind != store.DecisionResume {
			// the human changed their mind before a run acted: the new
			// decision takes the old one's place, and the old is kept,
			// marked, so history shows it was never carried out
			if p := PendingDecision(t); p != nil {
				p.Applied, p.Superseded = true, "replaced by "+DecisionWords(d.Kind)
			}
		}
		if d.Phase == "" && d.Kind != store.DecisionPause && d.Kind != store.DecisionResume {
			d.Phase = t.Phase // where it was taken; a run may move it (reject at merge)
		}
		t.Decisions = append(t.Decisions, d)
		out = t
		if d.Kind == store.DecisionPause || d.Kind == store.DecisionResume {
			if children, err = passOnToChildren(tx, t, d); err != nil {
				return err
			}
		}
		return tx.PutTicket(t)
	})
	if err != nil {
		return nil, nil, err
	}
	return out, children, nil
}

// passOnToChildren records an epic's pause on each of its children that
// would move, and its resume on those that pause paused (not on one a
// person paused for itself): an epic paused is all of its work paused.
func passOnToChildren(tx *store.Tx, epic *store.Ticket, d store.Decision) ([]*store.Ticket, error) {
	because := pausedWithEpic(epic.ID)
	var changed []*store.Ticket
	for _, cid := range epic.Children {
		c, err := tx.Ticket(cid)
		if err != nil {
			return nil, err
		}
		paused, _ := PausedAfterDecisions(c)
		switch {
		case finished(c.Status):
			continue
		case d.Kind == store.DecisionPause && paused:
			continue
		case d.Kind == store.DecisionResume && (!paused || lastPauseReason(c) != because):
			continue
		}
		cd := store.Decision{Kind: d.Kind, At: d.At}
		if d.Kind == store.DecisionPause {
			cd.Reason = because
		}
		c.Decisions = append(c.Decisions, cd)
		if err := tx.PutTicket(c); err != nil {
			return nil, err
		}
		changed = append(changed, c)
	}
	return changed, nil
}

// pausedWithEpic is the reason of a pause an epic passed on.
func pausedWithEpic(epicID string) string { return "its epic " + epicID + " was paused" }

// lastPauseReason is the reason of the latest pause recorded on t.
func lastPauseReason(t *store.Ticket) string {
	for i := len(t.Decisions) - 1; i >= 0; i-- {
		if t.Decisions[i].Kind == store.DecisionPause {
			return t.Decisions[i].Reason
		}
	}
	return ""
}

// epicCancelPending refuses a decision other than a cancel or a pause on
// a child of an epic whose cancel waits for the next run: the cancel takes
// the children with it, and the same run would drop the decision.
func epicCancelPending(t *store.Ticket, kind string, ticket func(string) (*store.Ticket, error)) error {
	if t.Parent == "" || kind == store.DecisionCancel || kind == store.DecisionPause {
		return nil
	}
	epic, err := ticket(t.Parent)
	if err != nil {
		return nil // its epic gone: nothing to wait for
	}
	if p := PendingDecision(epic); p != nil && p.Kind == store.DecisionCancel {
		return fmt.Errorf("%s's epic %s is to be cancelled by the next run, and %s with it", t.ID, epic.ID, t.ID)
	}
	return nil
}

// EpicCancelPending is epicCancelPending read from the store, for callers
// that answer before Decide (a decision asked again).
func EpicCancelPending(st *store.Store, t *store.Ticket, kind string) error {
	return epicCancelPending(t, kind, st.Ticket)
}

// checkApprovable refuses an approve that would accept nothing.
func checkApprovable(tx *store.Tx, t *store.Ticket) error {
	if acceptsWithoutAttempts(phaseState(t, t.Phase)) {
		return nil // no attempts to read
	}
	attempts, err := tx.Attempts(t.ID)
	if err != nil {
		return err
	}
	return Approvable(t, attempts)
}

// Approvable says why approve cannot be taken on t now that its attempts
// are known: a phase whose attempts left no deliverable (or none at all)
// can only be retried, or written by the human with edit-approve. The UI
// asks it before opening its dialog; Decide asks it again.
func Approvable(t *store.Ticket, attempts []*store.Attempt) error {
	if err := Allowed(t, store.DecisionApprove); err != nil {
		return err
	}
	ps := phaseState(t, t.Phase)
	if acceptsWithoutAttempts(ps) {
		return nil
	}
	if a := approvable(attempts, ps); a != nil {
		if ps.Name == config.Split {
			// accepted, it makes the children: one that cannot be read
			// would only stop the ticket again at the next run
			if _, err := ParseSplit(a.Deliverable); err != nil {
				return fmt.Errorf("%s: the split's last answer cannot be read (%v): retry it, or approve your own split (`e` in the TUI, `approve --text` on the command line)", t.ID, OneLine(err.Error(), 300))
			}
		}
		return nil
	}
	if writesFiles(ps.Name) {
		return fmt.Errorf("%s: phase %s has nothing to approve (its last attempt broke off): retry it, or finish the files in %s yourself and approve with a note (`e` in the TUI, `approve --text` on the command line)", t.ID, ps.Name, worktreeOr(t))
	}
	return fmt.Errorf("%s: phase %s has nothing to approve (no attempt left a deliverable): retry it, or approve your own deliverable (`e` in the TUI, `approve --text` on the command line)", t.ID, ps.Name)
}

// acceptsWithoutAttempts: approving this phase needs no attempt to accept
// (the merge is tried again; one was accepted already).
func acceptsWithoutAttempts(ps *store.PhaseState) bool {
	return ps == nil || ps.Name == Merge || ps.Accepted != 0
}

func worktreeOr(t *store.Ticket) string {
	if t.Worktree != "" {
		return t.Worktree
	}
	return "its worktree"
}

// approvable is the attempt an approve accepts: the latest one that
// finished with something to keep. A phase that writes files keeps only
// its latest attempt's work (each retry starts from a reset worktree), so
// only that attempt can be approved, and not when it broke off.
func approvable(attempts []*store.Attempt, ps *store.PhaseState) *store.Attempt {
	for i := len(attempts) - 1; i >= 0; i-- {
		a := attempts[i]
		if a.Phase != ps.Name || a.Interrupted {
			continue
		}
		switch {
		case writesFiles(ps.Name):
			if a.Error != "" {
				return nil
			}
			return a
		case a.Deliverable != "" || (a.Error == "" && ps.Name == config.CI):
			return a
		}
	}
	return nil
}

// DecisionWords names a decision's kind for people: the stored kinds are
// identifiers ("edit_approve").
func DecisionWords(kind string) string {
	if kind == store.DecisionEditApprove {
		return "approve with edits"
	}
	return kind
}

// PendingDecision is the first decision on t, other than a pause or a
// resume, that no run has carried out yet; nil when there is none.
func PendingDecision(t *store.Ticket) *store.Decision {
	for i := range t.Decisions {
		if d := &t.Decisions[i]; !d.Applied && d.Kind != store.DecisionPause && d.Kind != store.DecisionResume {
			return d
		}
	}
	return nil
}

// ApprovedHere says a person's approve passed t's current phase, which a
// run has not carried on from yet (a pause held it before a merge, say).
func ApprovedHere(t *store.Ticket) bool {
	for _, p := range t.Phases {
		if p.Name == t.Phase {
			return p.Status == store.PhaseAccepted && p.ByHuman
		}
	}
	return false
}

// PausedWords is how a paused ticket that would otherwise move (queued,
// running) is said: "paused", or that an approve waits for its resume;
// "" for any other ticket. Its status is only what it goes back to.
func PausedWords(t *store.Ticket) string {
	switch {
	case !t.Paused || (t.Status != store.StatusRunning && t.Status != store.StatusQueued):
		return ""
	case ApprovedHere(t):
		return "paused (approved at " + t.Phase + ": goes on once resumed)"
	}
	return "paused"
}

// StatusWords is t's status as `list` and the queue say it, the pause and
// the decisions no run has carried out yet included. stopped: no engine
// runs, so a ticket that says running was cut off when the last one
// stopped (interrupted). narrow: for the queue's row, which leaves out the
// phase an approve waits at (its own column says it).
func StatusWords(t *store.Ticket, stopped, narrow bool) string {
	w := strings.ReplaceAll(t.Status, "_", " ")
	if stopped && t.Status == store.StatusRunning {
		w = "interrupted"
	}
	if finished(t.Status) {
		return w
	}
	// a paused ticket that would run is said to be paused (not among
	// those running)
	movable := t.Status == store.StatusRunning || t.Status == store.StatusQueued
	switch will, pending := PausedAfterDecisions(t); {
	case pending && will && !t.Paused:
		w += " (pause pending)"
	case pending && !will && t.Paused && movable:
		w = "paused (resume pending)"
	case pending && !will && t.Paused:
		w += " (paused, resume pending)"
	case t.Paused && movable && narrow && ApprovedHere(t):
		w = "paused (approved: goes on once resumed)"
	case t.Paused && movable:
		// (approved, held by the pause before it went on: a merge, say)
		w = PausedWords(t)
	case t.Paused:
		w += " (paused)"
	}
	if d := PendingDecision(t); d != nil {
		w += " (" + DecisionWords(d.Kind) + " pending)"
	}
	return w
}

// PausedAfterDecisions is whether t will be paused once its recorded
// pause and resume decisions are carried out (t.Paused lags them until a
// run does), and whether any still wait.
func PausedAfterDecisions(t *store.Ticket) (paused, pending bool) {
	paused = t.Paused
	for _, d := range t.Decisions {
		if !d.Applied && (d.Kind == store.DecisionPause || d.Kind == store.DecisionResume) {
			paused, pending = d.Kind == store.DecisionPause, true
		}
	}
	return paused, pending
}

// Allowed says whether a human can take a decision of this kind on t now.
// The UI asks it before opening a dialog; Decide asks it again.
func Allowed(t *store.Ticket, kind string) error {
	// a pending decision other than a cancel is replaced by the next one
	// (see Decide); a cancel is final
	if p := PendingDecision(t); p != nil && p.Kind == store.DecisionCancel && (kind == store.DecisionResume || kind == store.DecisionPause) {
		// (a pause taken before the cancel stays; one after would be
		// the only decision a resume could not undo)
		return fmt.Errorf("%s is to be cancelled by the next run: nothing to %s", t.ID, kind)
	} else if p != nil && p.Kind == store.DecisionCancel {
		return fmt.Errorf("%s is to be cancelled by the next run: a cancel cannot be taken back", t.ID)
	} else if p != nil && p.Kind == store.DecisionApprove && kind == store.DecisionApprove {
		return fmt.Errorf("%s already has an approve waiting for the next run", t.ID)
	}
	waiting := t.Status == store.StatusAwaiting || t.Status == store.StatusNeedsHuman
	status := strings.ReplaceAll(t.Status, "_", " ")
	switch paused := PausedWords(t); {
	case t.Status == store.StatusWaitingChildren:
		status = "waiting for its children"
	case paused != "":
		status = paused // as list says it
	}
	switch kind {
	case store.DecisionEditApprove:
		if !waiting {
			return fmt.Errorf("%s is %s: only a ticket awaiting approval or needing a human can be edited and approved", t.ID, status)
		}
	case store.DecisionApprove:
		if !waiting {
			return fmt.Errorf("%s is %s: only a ticket awaiting approval or needing a human can be approved", t.ID, status)
		}
	case store.DecisionReject:
		if !waiting {
			return fmt.Errorf("%s is %s: only a ticket awaiting approval or needing a human can be rejected", t.ID, status)
		}
	case store.DecisionRetry:
		if !waiting && t.Status != store.StatusFailed {
			return fmt.Errorf("%s is %s: only a ticket awaiting approval, needing a human or failed can be retried", t.ID, status)
		}
	case store.DecisionCancel, store.DecisionPause, store.DecisionResume:
		if finished(t.Status) {
			return fmt.Errorf("%s is already %s", t.ID, status)
		}
	default:
		return fmt.Errorf("unknown decision %q", kind)
	}
	if t.Phase == Merge && (kind == store.DecisionRetry || kind == store.DecisionEditApprove) {
		// the merge has no model and no deliverable; and "retry" would
		// read as either of the two below
		return fmt.Errorf("%s is at merge: approve tries the merge again; reject sends the work back to code with your reason", t.ID)
	}
	if t.Phase == config.Review && kind == store.DecisionEditApprove {
		// a review's deliverable is a verdict on the code, and approving
		// it merges: a text of the human's own would be neither
		return fmt.Errorf("%s is at review: approve merges the branch; reject sends the work back to code with your reason; retry reviews again", t.ID)
	}
	return nil
}

// checkDecision adds the checks on what the decision carries.
func checkDecision(cfg *config.Config, t *store.Ticket, d store.Decision) error {
	if err := Allowed(t, d.Kind); err != nil {
		return err
	}
	for _, text := range []string{d.Text, d.Reason, d.Guidance} {
		if len(text) > MaxText {
			return fmt.Errorf("the decision's text is over the limit of 1 MiB (%d bytes)", MaxText)
		}
	}
	switch {
	case d.Kind == store.DecisionEditApprove && strings.TrimSpace(d.Text) == "":
		return errors.New("the edited deliverable is empty")
	case d.Kind == store.DecisionEditApprove && !utf8.ValidString(d.Text):
		return errors.New("the edited deliverable is not UTF-8 text")
	case d.Kind == store.DecisionEditApprove && t.Phase == config.Split:
		// the engine makes the children from it: refuse now what it
		// could not read later
		if _, err := ParseSplit(d.Text); err != nil {
			return fmt.Errorf("a split is the JSON the split phase answers ({\"tickets\": [{\"kind\", \"title\", \"body\"}, …]}): %v", err)
		}
	case d.Kind == store.DecisionRetry && d.Model != "" && (t.Phase == config.CI || t.Phase == Merge):
		return fmt.Errorf("%s is at %s, which runs a command, not a model: retry it without --model", t.ID, t.Phase)
	case d.Kind == store.DecisionReject && strings.TrimSpace(d.Reason) == "":
		return errors.New("reject needs a reason")
	case d.Kind == store.DecisionRetry && d.Model != "":
		_, p, ok := cfg.Model(d.Model)
		if !ok {
			return fmt.Errorf("unknown model %q (the config names: %s)", d.Model, strings.Join(cfg.ModelNames(), ", "))
		}
		if t.Sensitive && !p.Local {
			return fmt.Errorf("%s is sensitive: model %q runs on %s, which is not local", t.ID, d.Model, p.Name)
		}
		if why := llm.Unusable(p, tools.Getenv); why != "" {
			// the phase's usual models would quietly answer instead
			return fmt.Errorf("model %q cannot be called: provider %s: %s", d.Model, p.Name, why)
		}
	}
	return nil
}

// Decide records a decision while the engine runs and wakes the ticket.
func (e *Engine) Decide(id string, d store.Decision) error {
	t, children, err := DecideWithChildren(e.st, e.cfg, id, d)
	if err != nil {
		return err
	}
	for _, x := range append([]*store.Ticket{t}, children...) {
		switch d.Kind {
		case store.DecisionCancel:
			e.interrupt(x.ID) // not after the model call under way
		case store.DecisionPause:
			e.interruptWait(x.ID) // out of the line for a slot, not out of a step
		}
		e.publishTicket(x)
		e.wake(x.ID)
	}
	return nil
}

// applyDecisions carries out pending human decisions, each in the same
// commit as the state change it causes.
func (e *Engine) applyDecisions(ctx context.Context, id string) (*store.Ticket, error) {
	t, err := e.st.Ticket(id)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(t.Decisions, func(d store.Decision) bool { return !d.Applied }) {
		return t, nil // the common case, without a write transaction
	}
	var wakeParent []string
	var cancelled []*store.Ticket
	var made []*store.Attempt // by edit-approve
	var removeWorktree, changed bool
	err = e.st.Update(func(tx *store.Tx) error {
		wakeParent, cancelled, made, removeWorktree = nil, nil, nil, false // fn may run again
		var err error
		if t, err = tx.Ticket(id); err != nil {
			return err
		}
		changed = false
		for i := range t.Decisions {
			d := &t.Decisions[i]
			if d.Applied {
				continue
			}
			d.Applied = true
			changed = true
			if d.Phase == "" {
				d.Phase = t.Phase
			}
			ps := phaseState(t, t.Phase)
			switch d.Kind {
			case store.DecisionPause:
				t.Paused = true
			case store.DecisionResume:
				t.Paused = false
			case store.DecisionCancel:
				if finished(t.Status) {
					// the merge under way when it was taken went through
					d.Superseded = "the ticket was " + t.Status + " first"
					continue
				}
				t.Status = store.StatusCancelled
				// shown after the status ("cancelled: by a human")
				t.Reason = "by a human"
				if d.Reason != "" {
					t.Reason = d.Reason // its epic's cancel
				}
				if ps != nil && ps.Status != store.PhasePassed {
					ps.Status = store.PhaseCancelled
				}
				// also a worktree made ahead of time that the ticket never recorded
				removeWorktree = t.Kind != KindEpic
				if removeWorktree {
					t.Worktree = "" // (removed below: show must not name it)
				}
				for _, cid := range t.Children {
					c, err := tx.Ticket(cid)
					if err != nil {
						return err
					}
					if Allowed(c, store.DecisionCancel) != nil {
						continue // finished already, or being cancelled
					}
					if p := PendingDecision(c); p != nil {
						p.Applied, p.Superseded = true, "replaced by cancel (its epic was cancelled)"
					}
					c.Decisions = append(c.Decisions, store.Decision{Kind: store.DecisionCancel, At: now(), Reason: "its epic " + t.ID + " was cancelled"})
					if err := tx.PutTicket(c); err != nil {
						return err
					}
					cancelled = append(cancelled, c)
				}
				if t.Parent != "" {
					wakeParent = append(wakeParent, t.Parent)
				}
			case store.DecisionApprove, store.DecisionEditApprove:
				if t.Status != store.StatusAwaiting && t.Status != store.StatusNeedsHuman {
					continue
				}
				a, err := e.approveLocked(tx, t, ps, d)
				if err != nil {
					return err
				}
				if a != nil {
					made = append(made, a)
				}
			case store.DecisionReject, store.DecisionRetry:
				if t.Status != store.StatusAwaiting && t.Status != store.StatusNeedsHuman && t.Status != store.StatusFailed {
					continue
				}
				if ps != nil && sentBack(*d, config.Code) {
					// "do not merge this", or guidance on what to change:
					// review only reads, so the work goes back to code
					// with the words, and through CI and review again
					ps.Status = store.PhasePending
					reopenCode(t, config.Code, config.CI, config.CIFix, config.Review)
					t.Rebase = true
					if code := phaseState(t, config.Code); code != nil && d.Model != "" {
						code.Model = d.Model // the phase the retry runs next
					}
				} else if ps != nil {
					ps.Status = store.PhasePending
					ps.Accepted = 0
					ps.BudgetFrom = ps.Attempts
					if d.Model != "" {
						ps.Model = d.Model
					}
				}
				t.CostBase = t.CostUSD
				t.Status = store.StatusRunning
				t.Reason = ""
			}
		}
		if !changed {
			return nil
		}
		return tx.PutTicket(t)
	})
	if err != nil {
		return nil, err
	}
	for _, a := range made {
		e.publishAttempt(t.ID, a)
	}
	if changed {
		e.publishTicket(t) // paused, resumed, running again: seen at once
	}
	for _, c := range cancelled {
		e.interrupt(c.ID)
		e.publishTicket(c)
		e.wake(c.ID)
	}
	for _, p := range wakeParent {
		e.wake(p)
	}
	switch {
	case removeWorktree:
		if e.setAsideOnCancel(ctx, t) {
			e.removeTicketFiles(ctx, t)
		}
	case t.Status == store.StatusCancelled:
		e.removeTicketTemp(t) // an epic's
	}
	return t, nil
}

// approveLocked accepts the current phase: the last deliverable, or the
// human's edited one, and moves on.
// It returns the attempt an edit-approve wrote, if any.
func (e *Engine) approveLocked(tx *store.Tx, t *store.Ticket, ps *store.PhaseState, d *store.Decision) (*store.Attempt, error) {
	t.Status = store.StatusRunning
	t.Reason = ""
	t.CostBase = t.CostUSD // a human said go on: max_cost_usd counts from here
	if ps == nil {
		return nil, nil
	}
	if ps.Name == Merge {
		// a human cleared what blocked the merge: try again
		ps.Status = store.PhasePending
		return nil, nil
	}
	var made *store.Attempt
	if d.Kind == store.DecisionEditApprove {
		a := &store.Attempt{
			Phase: ps.Name, N: ps.Attempts + 1, Model: "human", Provider: "human",
			Deliverable: d.Text, Started: now(), Ended: now(),
			Verdict: &store.Verdict{Pass: true, By: "human"},
		}
		if err := tx.PutAttempt(t.ID, a); err != nil {
			return nil, err
		}
		ps.Attempts++
		ps.Accepted = a.Seq
		made = a
	} else if ps.Accepted == 0 {
		attempts, err := tx.Attempts(t.ID)
		if err != nil {
			return nil, err
		}
		if a := approvable(attempts, ps); a != nil {
			ps.Accepted = a.Seq
		}
	}
	ps.Status, ps.ByHuman = store.PhaseAccepted, true
	return made, nil
}
