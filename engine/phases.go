package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"agent-tui/engine/config"
	"agent-tui/engine/llm"
	"agent-tui/engine/tools"
	"agent-tui/engine/workspace"
	"agent-tui/store"
)

// step runs one unit of work of a running ticket: an attempt, a CI run, the
// merge, or carrying out an accepted phase.
func (e *Engine) step(ctx context.Context, t *store.Ticket) error {
	ps := phaseState(t, t.Phase)
	if ps == nil {
		return fmt.Errorf("ticket %s is at unknown phase %q", t.ID, t.Phase)
	}
	switch ps.Status {
	case store.PhaseAccepted:
		return e.finishPhase(ctx, t, ps)
	case store.PhasePassed, store.PhaseSkipped:
		return e.moveOn(t, ps)
	}
	if reason := e.overBudget(t, ps); reason != "" {
		e.stopTicket(t.ID, store.StatusNeedsHuman, reason)
		return errParked
	}
	if reason := e.Uncallable(t); reason != "" {
		// nothing to pay for, and nothing an attempt could change
		e.stopTicket(t.ID, store.StatusNeedsHuman, reason+": set it, restart agent-tui, then retry")
		return errParked
	}
	switch ps.Name {
	case config.CI:
		return e.runCI(ctx, t, ps)
	case Merge:
		return e.runMerge(ctx, t, ps)
	case config.Code:
		if t.Rebase {
			// sent back by a reject at review or merge: redone on top of
			// what the base holds now, or its merge may never go through
			if err := e.bringInBase(ctx, t); err != nil {
				return err
			}
		}
	}
	return e.runAttempt(ctx, t, ps)
}

// bringInBase merges the base branch into the ticket's branch. Conflicts
// are left, marked, for code to resolve, except in the frozen tests,
// which code may not touch: those stop the ticket for a human.
func (e *Engine) bringInBase(ctx context.Context, t *store.Ticket) error {
	if err := e.ensureWorktree(ctx, t); err != nil {
		return err
	}
	// from what was committed: a CI run's leftovers are neither merged
	// nor taken for the frozen tests' new content (a person's edits are
	// kept aside)
	attempts, err := e.st.Attempts(t.ID)
	if err != nil {
		return err
	}
	if err := e.setAside(ctx, t, attempts); err != nil {
		return err
	}
	if err := e.repo.ResetHard(ctx, t.Worktree); err != nil {
		return err
	}
	var frozen []string
	err = e.repo.BringIn(ctx, t.Worktree, t.BaseBranch, fmt.Sprintf("%s: merge %s into %s (agent-tui)", t.ID, t.BaseBranch, t.Branch), func(conflicts []string) error {
		for _, f := range conflicts {
			if _, ok := t.TestFiles[f]; ok {
				frozen = append(frozen, f)
			}
		}
		if len(frozen) > 0 {
			return errFrozenConflict
		}
		// recorded before the merge is committed: a crash in between
		// merges again on the next run, and the list is not lost
		_, err := e.st.UpdateTicket(t.ID, func(x *store.Ticket) error { x.Conflicts = conflicts; return nil })
		return err
	})
	switch {
	case errors.Is(err, errFrozenConflict):
		e.stopTicket(t.ID, store.StatusNeedsHuman, fmt.Sprintf("merging %s into %s conflicts in the ticket's frozen tests (%s), which code may not change: in %s run `git merge %s`, resolve them, commit, then retry", t.BaseBranch, t.Branch, strings.Join(frozen, ", "), worktreeOr(t), t.BaseBranch))
		return errParked
	case err != nil && e.baseMissing(ctx, t):
		e.stopTicket(t.ID, store.StatusNeedsHuman, baseGoneReason(t.BaseBranch))
		return errParked
	case err != nil:
		e.stopTicket(t.ID, store.StatusNeedsHuman, fmt.Sprintf("bringing %s into %s before code goes again failed: %v; merge it by hand in %s, commit, then retry", t.BaseBranch, t.Branch, OneLine(err.Error(), 300), worktreeOr(t)))
		return errParked
	}
	// what the base (or a human merging by hand) changed in the frozen
	// tests is theirs now
	// (a .rs file's inline tests hashed as such: whole, code could not
	// change the file it must)
	hashes, err := e.hashFrozen(t.Worktree, t.TestFiles)
	if err != nil {
		return err
	}
	nt, err := e.st.UpdateTicket(t.ID, func(x *store.Ticket) error {
		x.Rebase = false
		if len(t.TestFiles) > 0 {
			x.TestFiles = hashes
		}
		return nil
	})
	if err != nil {
		return err
	}
	*t = *nt
	return nil
}

var errFrozenConflict = errors.New("conflict in the frozen tests")

// overBudget says why a ticket at phase ps has spent its max_cost_usd, or
// "", and which decision keeps what it has: a retry of a phase that passed
// pays for it again.
func (e *Engine) overBudget(t *store.Ticket, ps *store.PhaseState) string {
	over := e.spentOver(t)
	switch {
	case over == "":
		return ""
	case ps.Status == store.PhaseAccepted || ps.Status == store.PhasePassed:
		return over + ": " + ps.Name + " passed: approve to go on with it (a retry would pay for " + ps.Name + " again)"
	}
	return over + ": retry to go on (or approve the last answer as it is)"
}

// spentOver says how far a ticket is over its max_cost_usd, or "".
func (e *Engine) spentOver(t *store.Ticket) string { return e.spentOverWith(t, 0) }

// spentOverWith is spentOver with extra spent beyond what t has counted (an
// attempt under way).
func (e *Engine) spentOverWith(t *store.Ticket, extra float64) string {
	spent := t.CostUSD - t.CostBase + extra
	if e.cfg.MaxCostUSD <= 0 || spent < e.cfg.MaxCostUSD {
		return ""
	}
	limit := strconv.FormatFloat(e.cfg.MaxCostUSD, 'f', -1, 64)
	if t.CostBase > 0 {
		// a human's go-ahead starts the count again
		return fmt.Sprintf("spent $%.4f since the last human decision (the ticket $%.4f in all), over max_cost_usd $%s", spent, t.CostUSD+extra, limit)
	}
	return fmt.Sprintf("spent $%.4f, over max_cost_usd $%s", spent, limit)
}

// errParked ends a step that left the ticket waiting for a human.
var errParked = errors.New("parked")

// ciTry numbers a CI run as stats counts it: from 1 again after each code
// attempt (code sent back by review starts over), up through its cifixes.
func ciTry(attempts []*store.Attempt) int {
	n := 1
	for _, a := range attempts {
		switch a.Phase {
		case config.Code:
			n = 1
		case config.CI:
			if a.Done() && !a.Interrupted {
				n++
			}
		}
	}
	return n
}

// inBudget lists the finished, not interrupted attempts of a phase made
// since its max_attempts budget last started (a human retry, a send-back).
func inBudget(attempts []*store.Attempt, ps *store.PhaseState) []*store.Attempt {
	var out []*store.Attempt
	for _, a := range attempts {
		if a.Phase == ps.Name && a.N > ps.BudgetFrom && !a.Interrupted && a.Done() {
			out = append(out, a)
		}
	}
	return out
}

// failuresSinceBudget counts the failed attempts of a phase that count
// against max_attempts, and the objections of the last one.
func failuresSinceBudget(attempts []*store.Attempt, ps *store.PhaseState) (n int, last failure) {
	for _, a := range inBudget(attempts, ps) {
		if a.Error != "" || (a.Verdict != nil && !a.Verdict.Pass) {
			n++
			last = failure{err: a.Error, unjudged: last.unjudged}
			if a.Verdict != nil {
				last.objections = a.Verdict.Objections
			}
			if a.Verdict == nil && (a.Validator != nil && a.Validator.Unreadable > 0 || strings.Contains(a.Error, "answer could not be read")) {
				last.unjudged++ // the validator's, or the review's own
			}
		}
	}
	return n, last
}

// failure is what went wrong in an attempt: the objections to its
// deliverable, or the error that left it without one; unjudged counts the
// failed attempts whose validator never gave a verdict that could be read.
type failure struct {
	objections []string
	err        string
	unjudged   int
}

func (e *Engine) maxAttempts(phase string) int {
	if m := e.cfg.Phase(phase).MaxAttempts; m > 0 {
		return m
	}
	return 3
}

// gaveUpReason says why a phase that used its attempt budget stopped, naming
// what kept failing.
func gaveUpReason(phase string, n int, last failure) string {
	r := fmt.Sprintf("%s failed %d attempts", phase, n)
	answers, judged := "the validator's answers on "+phase, phase
	if phase == config.Review {
		answers, judged = "the review's answers", "the code"
	}
	switch {
	case last.unjudged == n:
		// never judged: what kept failing is the answers that judge it
		r = fmt.Sprintf("%s could not be read in %d attempts (%s was never judged)", answers, n, judged)
	case n == 1:
		r = phase + " failed its only attempt"
	case last.unjudged > 0:
		r += fmt.Sprintf(" (%s could not be read in %d of them)", answers, last.unjudged)
	}
	if len(last.objections) > 0 {
		r += "; last objections: " + strings.Join(last.objections, "; ")
	}
	if last.err != "" {
		r += "; last error: " + last.err
	}
	// cut in the middle: a failed check's objection ends with its
	// output's last lines, which say why
	r = strings.Join(strings.Fields(r), " ")
	if len(r) <= 600 {
		return r
	}
	head, _ := ClipBytes(r, 200)
	return head + " … " + fromRuneStart(r[len(r)-395:])
}

// OneLine folds s onto one line of at most max bytes (and a "…" when cut).
// ClipBytes cuts s to at most n bytes on a character's edge, saying how
// many bytes it left out (0: s is whole).
func ClipBytes(s string, n int) (string, int) {
	if len(s) <= n {
		return s, 0
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut], len(s) - cut
}

func OneLine(s string, max int) string {
	s, more := ClipBytes(strings.Join(strings.Fields(s), " "), max)
	if more > 0 {
		s += "…"
	}
	return s
}

// noCheckCommand says why a phase judged by a command cannot be judged:
// no command configured and none detected. Attempts would only spend the
// model's budget on a question no one can answer.
func (e *Engine) noCheckCommand(t *store.Ticket, phase string) string {
	var cmd string
	switch phase {
	case config.Tests, config.Code:
		cmd = e.testCmd(t)
	case config.CI, config.CIFix:
		cmd = e.ciCmd(t)
	default:
		return ""
	}
	if strings.TrimSpace(cmd) != "" {
		return ""
	}
	return noTestCommand
}

const noTestCommand = "no test command: set test_command in the config (" + config.RepoConfigName + ", or the file given with --config; none could be detected from go.mod, Cargo.toml, package.json, a Makefile or pyproject.toml)"

// testCmd is the ticket's test command: the configured one, else the one
// detected in its worktree as first made from the base branch. Detected
// once: a Makefile or package.json the model writes cannot change how its
// own work is judged.
func (e *Engine) testCmd(t *store.Ticket) string {
	if e.cfg.TestCommand != "" {
		return e.cfg.TestCommand
	}
	if t.DetectedTestCommand != nil {
		return *t.DetectedTestCommand
	}
	dir := t.Worktree
	if dir == "" {
		dir = e.repo.Dir // never the process's own directory
	}
	return config.DetectTestCommand(dir)
}

// ciCmd is the ticket's CI command: the configured one, else its test
// command.
func (e *Engine) ciCmd(t *store.Ticket) string {
	if e.cfg.CICommand != "" {
		return e.cfg.CICommand
	}
	return e.testCmd(t)
}

// noteTestCommand records, the first time a ticket gets its worktree,
// the test command detected there, before any model has changed a file.
func noteTestCommand(t *store.Ticket, worktree string) {
	if t.DetectedTestCommand == nil {
		cmd := config.DetectTestCommand(worktree)
		t.DetectedTestCommand = &cmd
	}
}

// testsCannotRun says, before a ticket's first phase, that its tests will
// have no command: none is configured and the base branch has none of the
// files one is detected from (its worktree will be made from that branch).
func (e *Engine) testsCannotRun(ctx context.Context, t *store.Ticket) bool {
	if strings.TrimSpace(e.cfg.TestCommand) != "" {
		return false
	}
	names, err := e.repo.TopLevelNames(ctx, t.BaseBranch)
	if err != nil {
		return false // the tests phase will know
	}
	return !slices.ContainsFunc(names, config.IsTestMarker)
}

// ensureWorktree creates the ticket's worktree the first time it needs files.
func (e *Engine) ensureWorktree(ctx context.Context, t *store.Ticket) error {
	if t.Branch != "" && !e.repo.HasWorktree(t.ID) {
		// made again from base, it would lose silently what the ticket
		// committed (its tests): later phases would fail for nothing
		if ok, err := e.repo.BranchExists(ctx, t.Branch); err == nil && !ok {
			e.stopTicket(t.ID, store.StatusNeedsHuman, "branch "+t.Branch+" was deleted outside agent-tui, and what the ticket committed on it with it: restore it (git reflog) and retry, or cancel the ticket")
			return errParked
		}
	}
	if t.Branch == "" && e.repo.Foreign(ctx, t.ID, t.BaseBranch) {
		e.stopTicket(t.ID, store.StatusNeedsHuman, fmt.Sprintf("branch %s already exists with commits this ticket did not make (another agent-tui database on this repository?): rename or delete it, then retry", workspace.BranchName(t.ID)))
		return errParked
	}
	if t.Worktree == "" {
		if stray := e.strayFiles(ctx, t.ID); len(stray) > 0 {
			wt := e.repo.WorktreePath(t.ID)
			e.stopTicket(t.ID, store.StatusNeedsHuman, fmt.Sprintf("a worktree for %s is already at %s with files this ticket did not write (%s; another agent-tui database on this repository?): move them away, or remove %s (git worktree remove --force, if it is a worktree), then retry", t.ID, wt, workspace.SomeFiles(stray), wt))
			return errParked
		}
	}
	path, branch, err := e.repo.EnsureWorktree(ctx, t.ID, t.BaseBranch)
	if inWay := (*workspace.BranchInTheWay)(nil); errors.As(err, &inWay) {
		// the person's to rename: no try of the engine's does better
		e.stopTicket(t.ID, store.StatusNeedsHuman, inWay.Error())
		return errParked
	}
	if err != nil {
		return err
	}
	if err := e.offBranch(t, path, branch); err != nil {
		return err
	}
	if t.Sensitive {
		if err := e.repo.KeepPrivate(t.ID); err != nil {
			return err
		}
	}
	if t.Worktree == path && t.Branch == branch {
		return nil
	}
	nt, err := e.st.UpdateTicket(t.ID, func(x *store.Ticket) error {
		x.Worktree, x.Branch = path, branch
		noteTestCommand(x, path)
		return nil
	})
	if err != nil {
		return err
	}
	*t = *nt
	return nil
}

// strayFiles are the uncommitted files of a worktree that is there before
// its ticket recorded one: not the ticket's (a worktree made ahead of time
// is clean until its ticket writes), so committed, they would be merged.
// A directory there that is no worktree, and not one half made (a .git
// file is the first thing git writes), is someone's too.
func (e *Engine) strayFiles(ctx context.Context, id string) []string {
	path := e.repo.WorktreePath(id)
	if !e.repo.HasWorktree(id) {
		entries, err := os.ReadDir(path)
		if err != nil || slices.ContainsFunc(entries, func(d os.DirEntry) bool { return d.Name() == ".git" }) {
			return nil
		}
		var names []string
		for _, d := range entries {
			names = append(names, d.Name())
		}
		return names
	}
	files, err := e.repo.Changed(ctx, path)
	if err != nil {
		return nil // git's own commands will say what is wrong
	}
	return files
}

// offBranch stops a ticket whose worktree a person switched to another
// branch (or detached): what ran there, and what would be merged, would
// not be the ticket's.
func (e *Engine) offBranch(t *store.Ticket, wt, branch string) error {
	ref, commit := e.repo.HeadOf(wt)
	if ref == "refs/heads/"+branch || ref == "" && commit == "" {
		return nil // (unreadable: git's own commands tell)
	}
	on := "a detached HEAD"
	if ref != "" {
		on = "branch " + strings.TrimPrefix(ref, "refs/heads/")
	}
	if t.Worktree == "" {
		// never the ticket's: there before it recorded one
		e.stopTicket(t.ID, store.StatusNeedsHuman, fmt.Sprintf("a worktree on %s is already at %s, where %s's goes (another agent-tui database on this repository?): move it away (git worktree move, or remove --force), then retry", on, wt, t.ID))
		return errParked
	}
	e.stopTicket(t.ID, store.StatusNeedsHuman, fmt.Sprintf("its worktree is on %s, not %s: switch it back (git -C %s switch %s), then retry", on, branch, wt, branch))
	return errParked
}

// changedSinceReview sends a ticket a person approved at review back
// through CI and review when its worktree changed since the review read
// it: files changed and not committed (committed now, not dropped by the
// merge), or commits added. What is merged is what was checked.
func (e *Engine) changedSinceReview(ctx context.Context, t *store.Ticket) (bool, error) {
	rs := phaseState(t, config.Review)
	if rs == nil || !rs.ByHuman || t.Worktree == "" || !e.repo.HasWorktree(t.ID) {
		return false, nil
	}
	changed, err := e.repo.Changed(ctx, t.Worktree)
	if err != nil {
		return false, err
	}
	what := ""
	if len(changed) > 0 {
		if _, err := e.repo.CommitAll(ctx, t.Worktree, fmt.Sprintf("%s: changes made in the worktree after review", t.ID)); err != nil {
			return false, err
		}
		what = fmt.Sprintf("%d changed file(s) not committed: committed now", len(changed))
	} else if a, err := e.st.Attempt(t.ID, rs.Accepted); err == nil && a.Reviewed != "" {
		if _, tip := e.repo.HeadOf(t.Worktree); tip != "" && tip != a.Reviewed {
			what = "commits added to " + t.Branch
			if !e.repo.IsAncestor(ctx, a.Reviewed, tip) {
				// reset or rewritten by hand, not added to: with nothing
				// left beyond the base, no review or merge has work to take
				if n, err := e.repo.CommitsBeyond(ctx, t.Branch, t.BaseBranch); err == nil && n == 0 {
					e.stopTicket(t.ID, store.StatusNeedsHuman, noWorkReason(t))
					return true, errParked
				}
				what = t.Branch + " no longer holds the commit the review read (reset or rewritten)"
			}
		}
	}
	if what == "" {
		return false, nil
	}
	outcome := "the worktree changed after review (" + what + "): CI and review run again before the merge"
	nt, err := e.st.UpdateTicket(t.ID, func(x *store.Ticket) error {
		reopenAt(x, config.CI, config.CI, config.CIFix, config.Review, Merge)
		for i := len(x.Decisions) - 1; i >= 0; i-- {
			if d := &x.Decisions[i]; d.Applied && d.Superseded == "" {
				d.Outcome = outcome
				break
			}
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	*t = *nt
	e.releaseTurn(t.ID) // its merge is not next any more
	e.publishTicket(t)
	e.log.Info("changed after review", "ticket", t.ID, "what", what)
	return true, nil
}

// noWorkReason is the stop for a ticket whose branch holds no commit
// beyond its base at the merge.
func noWorkReason(t *store.Ticket) string {
	return fmt.Sprintf("nothing to merge: %s holds no commits beyond the base branch %s (reset to it by hand?), so none of the ticket's work is there, and it is not done: put its commits back (git reflog %s shows where it was), then approve again; or cancel the ticket", t.Branch, t.BaseBranch, t.Branch)
}

// setAside keeps, as a stash, what a person changed in the worktree since
// the last attempt before a retry or a reject puts it back to its last
// commit; the decision says so.
func (e *Engine) setAside(ctx context.Context, t *store.Ticket, attempts []*store.Attempt) error {
	i := len(t.Decisions) - 1
	if i < 0 || t.Worktree == "" {
		return nil
	}
	d := t.Decisions[i]
	if !d.Applied || d.Superseded != "" || d.Outcome != "" || (d.Kind != store.DecisionRetry && d.Kind != store.DecisionReject) {
		return nil
	}
	if n := len(attempts); n > 0 && attempts[n-1].Started.After(d.At) {
		return nil // an attempt ran since: what is there is its
	}
	message := fmt.Sprintf("agent-tui: %s's worktree as it was at the %s at %s", t.ID, DecisionWords(d.Kind), d.Phase)
	ref, err := e.repo.SetAside(ctx, t.Worktree, t.ID, message)
	if err != nil || ref == "" {
		return err
	}
	nt, err := e.st.UpdateTicket(t.ID, func(x *store.Ticket) error {
		if j := len(x.Decisions) - 1; j == i {
			x.Decisions[j].Outcome = keptAsStash(ref, message)
		}
		return nil
	})
	if err != nil {
		return err
	}
	*t = *nt
	e.publishTicket(t)
	return nil
}

// keptAsStash is a decision's outcome when a stash kept a person's work
// (under ref, not in `git stash list`: see workspace.SetAside).
func keptAsStash(ref, message string) string {
	return "uncommitted changes in the worktree were kept as a stash, " + ref + " (\"" + message + "\"): git stash apply " + ref + " brings them back"
}

// setAsideOnCancel keeps, as a stash, what a person changed in a cancelled
// ticket's worktree and did not commit, before the worktree goes; the
// cancel says so. It reports false when that failed: the worktree stays.
func (e *Engine) setAsideOnCancel(ctx context.Context, t *store.Ticket) bool {
	i := slices.IndexFunc(t.Decisions, func(d store.Decision) bool {
		return d.Kind == store.DecisionCancel && d.Applied && d.Superseded == ""
	})
	if i < 0 || !e.repo.HasWorktree(t.ID) {
		return true
	}
	message := fmt.Sprintf("agent-tui: %s's worktree as it was at the cancel at %s", t.ID, t.Decisions[i].Phase)
	ref, err := e.repo.SetAside(ctx, e.repo.WorktreePath(t.ID), t.ID, message)
	if err != nil {
		e.log.Warn("keep uncommitted changes of a cancelled ticket", "ticket", t.ID, "err", err)
	}
	if ref == "" && err == nil {
		return true
	}
	outcome := keptAsStash(ref, message)
	if err != nil {
		outcome = "its worktree was kept (" + e.repo.WorktreePath(t.ID) + "): its uncommitted changes could not be stashed: " + err.Error()
	}
	if nt, uerr := e.st.UpdateTicket(t.ID, func(x *store.Ticket) error {
		if i < len(x.Decisions) {
			x.Decisions[i].Outcome = outcome
		}
		return nil
	}); uerr == nil {
		*t = *nt
		e.publishTicket(t)
	}
	return err == nil
}

// prefetchWorktree creates the worktree of a ticket that will need files
// while its first phase waits for the model: git serializes worktree
// creation, and this takes it off the ticket's critical path.
func (e *Engine) prefetchWorktree(ctx context.Context, t *store.Ticket) {
	id, base, sensitive := t.ID, t.BaseBranch, t.Sensitive
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		if ctx.Err() != nil || e.repo.Foreign(ctx, id, base) || len(e.strayFiles(ctx, id)) > 0 || ctx.Err() != nil {
			// (asked again: a Foreign cut off by the step's end cannot
			// tell, and the branch may be someone else's)
			return // the phase that needs it stops the ticket
		}
		path, branch, err := e.repo.EnsureWorktree(ctx, id, base)
		if ref, _ := e.repo.HeadOf(path); err == nil && ref != "refs/heads/"+branch {
			return // not the ticket's branch: the phase that needs it says so
		}
		if err == nil && sensitive {
			err = e.repo.KeepPrivate(id)
		}
		if err != nil {
			e.log.Warn("prefetch worktree", "ticket", id, "err", err)
			return
		}
		// recorded, so the phase that needs it skips git's queue entirely
		_, err = e.st.UpdateTicket(id, func(x *store.Ticket) error {
			if x.Worktree == "" && !finished(x.Status) {
				x.Worktree, x.Branch = path, branch
				noteTestCommand(x, path)
			}
			return nil
		})
		if err != nil {
			e.log.Warn("prefetch worktree", "ticket", id, "err", err)
		}
	}()
}

// runAttempt runs one attempt of a model phase, judges it, and records the
// outcome in one commit.
func (e *Engine) runAttempt(ctx context.Context, t *store.Ticket, ps *store.PhaseState) error {
	attempts, err := e.st.Attempts(t.ID)
	if err != nil {
		return err
	}
	if n, last := failuresSinceBudget(attempts, ps); n >= e.maxAttempts(ps.Name) {
		e.stopTicket(t.ID, store.StatusNeedsHuman, gaveUpReason(ps.Name, n, last))
		return errParked
	}
	if why := e.missingRetryModel(ps); why != "" {
		e.stopTicket(t.ID, store.StatusNeedsHuman, why)
		return errParked
	}
	if why := e.noLocalModel(t, ps); why != "" {
		// found before anything is sent: the validator's chain too, which
		// would otherwise stop the ticket after the phase's answer is paid
		e.stopTicket(t.ID, store.StatusNeedsHuman, why)
		return errParked
	}
	if ps.Name == config.Discovery || ps.Name == config.Diagnosis {
		// its tests (an epic's children's) will need a command to run:
		// without one, stop before the documents are paid for
		if ps.Attempts == 0 && e.testsCannotRun(ctx, t) {
			e.stopTicket(t.ID, store.StatusNeedsHuman, noTestCommand)
			return errParked
		}
		if t.Worktree == "" && t.Kind != KindEpic {
			e.prefetchWorktree(ctx, t)
		}
	}
	if a := savedUnjudged(t, attempts, ps); a != nil {
		return e.judgeSaved(ctx, t, ps, a)
	}
	needsTree := writesFiles(ps.Name) || ps.Name == config.Review
	if needsTree {
		if err := e.ensureWorktree(ctx, t); err != nil {
			return err
		}
	}
	if reason := e.noCheckCommand(t, ps.Name); reason != "" {
		e.stopTicket(t.ID, store.StatusNeedsHuman, reason)
		return errParked
	}
	if writesFiles(ps.Name) && ps.Attempts > 0 {
		// a retry starts from the last accepted state of the branch, not
		// from what the failed or interrupted attempt left behind (nor a
		// person's edits, which are kept aside)
		if err := e.setAside(ctx, t, attempts); err != nil {
			return err
		}
		if err := e.repo.ResetHard(ctx, t.Worktree); err != nil {
			return err
		}
	}
	in, err := e.buildInput(ctx, t, ps, attempts)
	var small *budgetTooSmall
	if errors.As(err, &small) {
		e.stopTicket(t.ID, store.StatusNeedsHuman, small.Error())
		return errParked
	}
	if err != nil {
		return err
	}
	in.try = 1 + len(inBudget(attempts, ps))
	a, err := e.beginAttempt(t, ps.Name, in)
	if err != nil {
		if in.box != nil {
			in.box.Close()
		}
		return err
	}
	e.log.Info("attempt", "ticket", t.ID, "phase", ps.Name, "n", a.N)
	if ps.Name == config.Review && t.Worktree != "" {
		_, a.Reviewed = e.repo.HeadOf(t.Worktree) // (kept as the attempt ends)
	}

	sess := e.newSession(t, a)
	err = sess.run(ctx, ps, in)
	if err == nil {
		// the answer and what it cost are kept before the checks and the
		// validator, which take a while: a crash there loses neither, and
		// a document is judged after a restart rather than asked again
		a.Answered = true
		err = e.st.PutAttempt(t.ID, a)
	}
	if err == nil {
		err = e.judge(ctx, t, ps, a, sess)
	}
	return e.endAttempt(ctx, t, ps.Name, a, err)
}

// judgedAfterRestart are the phases whose saved answer is judged after a
// restart cut its judging off: documents, judged by the validator alone
// (the others' checks need the worktree as the session left it, and a
// review or split answer that cannot be read is asked again in the
// session's own conversation).
func judgedAfterRestart(phase string) bool {
	switch phase {
	case config.Discovery, config.Diagnosis, config.Techspec, config.Planning:
		return true
	}
	return false
}

// savedUnjudged is the phase's last attempt when its answer was saved and
// a stop (a crash, a quit) cut off its judging, and no one has decided
// anything of the ticket since (a retry with guidance wants a new answer;
// a pause and its resume do not count).
func savedUnjudged(t *store.Ticket, attempts []*store.Attempt, ps *store.PhaseState) *store.Attempt {
	var last *store.Attempt
	for _, a := range attempts {
		if a.Phase == ps.Name && a.N == ps.Attempts {
			last = a
		}
	}
	if last == nil || !(last.Interrupted || validatorUnanswered(last)) || !last.Answered || last.Verdict != nil || !judgedAfterRestart(last.Phase) {
		return nil
	}
	rejudge := false
	for _, d := range t.Decisions {
		if d.Kind == store.DecisionPause || d.Kind == store.DecisionResume || d.At.Before(last.Started) {
			continue
		}
		// a plain retry of an answer no validator could judge asks for the
		// judging, not for a new answer (guidance or a model do)
		if !last.Interrupted && d.Kind == store.DecisionRetry && d.Guidance == "" && d.Model == "" {
			rejudge = rejudge || d.At.After(last.Ended) // (once: not again after that judging)
			continue
		}
		return nil
	}
	if !last.Interrupted && last.Validator.Unreadable >= 3 && !rejudge {
		// its attempt failed, as any whose judging fails: the next one
		// asks for a new answer, unless a person asked for this one's
		// judging again
		return nil
	}
	return last
}

// validatorUnanswered: the attempt's answer was complete, and no model of
// the validator's chain answered (an outage, a budget too small to ask
// one), or none readably, so it was never judged.
func validatorUnanswered(a *store.Attempt) bool {
	if !a.Answered || a.Verdict != nil || a.Validator == nil {
		return false
	}
	return a.Validator.Model == "" || a.Validator.Unreadable >= 3
}

// noLocalModel says why a sensitive ticket cannot run phase ps: its chain,
// or the validator's that judges it, has no model on a local provider.
//
// The phases after it on the ticket's route are looked at too: a route
// that cannot end stops before its first call, not after the phases that
// could run were paid for.
func (e *Engine) noLocalModel(t *store.Ticket, ps *store.PhaseState) string {
	if !t.Sensitive {
		return ""
	}
	check := []*store.PhaseState{ps}
	for i := range t.Phases {
		p := &t.Phases[i]
		if p.Name != ps.Name && (p.Status == store.PhasePending || p.Status == "") {
			check = append(check, p)
		}
	}
	for _, p := range check {
		if p.Name == config.CI || p.Name == Merge {
			continue // no model
		}
		for _, c := range e.chainsOf(p) {
			if !slices.ContainsFunc(c.models, func(name string) bool {
				_, pr, ok := e.cfg.Model(name)
				return ok && pr.Local
			}) {
				return e.noLocalReason(c.phase)
			}
		}
	}
	return ""
}

type phaseChain struct {
	phase  string
	models []string
}

// chainsOf are the model chains an attempt of ps calls: its own (with a
// retry's model first), then the validator's that judges it.
func (e *Engine) chainsOf(ps *store.PhaseState) []phaseChain {
	out := []phaseChain{{ps.Name, e.chain(ps.Name, ps.Model)}}
	if validated(ps.Name) {
		out = append(out, phaseChain{config.Validator, e.chain(config.Validator, "")})
	}
	return out
}

func (e *Engine) noLocalReason(phase string) string {
	where := fmt.Sprintf("in [phases.%s] models", phase)
	if e.cfg.Phases[phase].Models == nil {
		// no such table: the phase runs on its tier's default model
		where = fmt.Sprintf("among its models (%s, the default; set [phases.%s] models to name a local one)", strings.Join(e.cfg.Phase(phase).Models, ", "), phase)
	}
	return fmt.Sprintf("sensitive ticket: %s has no local model (a provider with local = true) %s; nothing was sent", phase, where)
}

// missingRetryModel says why the model a person's retry named cannot run
// ps: the config of this run has no such model (the decision was taken
// with another config). Its usual models would answer instead, unasked.
func (e *Engine) missingRetryModel(ps *store.PhaseState) string {
	if ps.Model == "" || ps.Name == config.CI {
		return ""
	}
	if _, _, ok := e.cfg.Model(ps.Model); ok {
		return ""
	}
	return fmt.Sprintf("%s was to be retried on model %q, which the config of this run does not name (it names: %s): retry on one of those, or run with the config that names it; nothing was sent", ps.Name, ps.Model, strings.Join(e.cfg.ModelNames(), ", "))
}

// baseMissing says t's base branch is not there (asked of git only after
// something failed).
func (e *Engine) baseMissing(ctx context.Context, t *store.Ticket) bool {
	if t.BaseBranch == "" {
		return false
	}
	ok, err := e.repo.BranchExists(context.WithoutCancel(ctx), t.BaseBranch)
	return err == nil && !ok
}

// baseGoneReason is the stop for a ticket whose base branch is no longer there.
func baseGoneReason(base string) string {
	return fmt.Sprintf("the base branch %s no longer exists (renamed or deleted while the ticket ran): make it again (git branch %s COMMIT), then retry", base, base)
}

// What store.Attempt.JudgedAfter holds.
const (
	JudgedAfterRestart = "restart"
	JudgedAfterRetry   = "retry"
)

// judgeSaved judges an attempt whose answer was saved when a stop cut off
// its judging; it is no longer interrupted.
func (e *Engine) judgeSaved(ctx context.Context, t *store.Ticket, ps *store.PhaseState, a *store.Attempt) error {
	e.log.Info("judging a saved answer", "ticket", t.ID, "phase", ps.Name, "n", a.N)
	note := "\n[agent-tui restarted: the saved answer is judged, not asked for again]\n"
	a.JudgedAfter = JudgedAfterRestart
	if !a.Interrupted {
		note = "\n[retried: no validator model answered readably before, so the answer is judged now, not asked for again]\n"
		a.JudgedAfter = JudgedAfterRetry
	}
	a.Interrupted, a.Error, a.Ended = false, "", time.Time{} // (recorded when judged: a stop now leaves it as it was)
	e.publishAttempt(t.ID, a)
	sess := e.newSession(t, a)
	sess.stream.WriteString(a.Stream)
	sess.emit(note)
	return e.endAttempt(ctx, t, ps.Name, a, e.judge(ctx, t, ps, a, sess))
}

// beginAttempt records a new running attempt of phase in one commit.
func (e *Engine) beginAttempt(t *store.Ticket, phase string, in *phaseInput) (*store.Attempt, error) {
	a := &store.Attempt{Phase: phase, Started: now()}
	if in != nil {
		a.Feedback, a.ContextTokens, a.Trimmed, a.Try = in.feedback, in.tokens, in.trimmed, in.try
	}
	err := e.st.Update(func(tx *store.Tx) error {
		cur, err := tx.Ticket(t.ID)
		if err != nil {
			return err
		}
		cps := phaseState(cur, phase)
		cps.Attempts++
		cps.Status = store.PhaseRunning
		cps.Accepted = 0 // a new attempt supersedes what was accepted before
		a.N = cps.Attempts
		cur.Status = store.StatusRunning
		cur.Reason = ""
		if err := tx.PutAttempt(t.ID, a); err != nil {
			return err
		}
		if err := tx.PutTicket(cur); err != nil {
			return err
		}
		*t = *cur
		return nil
	})
	if err != nil {
		return nil, err
	}
	e.publishTicket(t)
	e.publishAttempt(t.ID, a)
	return a, nil
}

// endAttempt records the attempt's outcome and the ticket's next state.
func (e *Engine) endAttempt(ctx context.Context, t *store.Ticket, phase string, a *store.Attempt, runErr error) error {
	if runErr != nil && ctx.Err() != nil {
		// shutdown: keep what was recorded, run it again next time (a
		// saved document is only judged: judgeSaved)
		a.Interrupted = true
		a.Error = "interrupted: agent-tui stopped during this attempt"
		cutOffToolCalls(a, true)
		if context.Cause(ctx) == errCancelledByHuman {
			a.Error = "interrupted: the ticket was cancelled"
		}
		// what its finished calls cost still counts toward max_cost_usd
		defer e.publishAttempt(t.ID, a) // a cancel's: the UI shows it ended
		spent := a.Uncounted()          // (not in fn, which may run again)
		_ = e.st.Update(func(tx *store.Tx) error {
			if err := tx.PutAttempt(t.ID, a); err != nil || spent == 0 {
				return err
			}
			cur, err := tx.Ticket(t.ID)
			if err != nil {
				return err
			}
			cur.CostUSD += spent
			return tx.PutTicket(cur)
		})
		return ctx.Err()
	}
	a.Ended = now()
	var stopReason string
	if runErr != nil {
		a.Error = OneLine(runErr.Error(), 2000)
		var nl *llm.NoLocalModelError
		var af *llm.AllFailedError
		var hs *humanStop
		switch {
		case errors.As(runErr, &hs):
			stopReason = hs.reason
		case errors.As(runErr, &nl):
			// nl.Phase: the validator's chain may be the one without
			stopReason = e.noLocalReason(nl.Phase)
		case errors.As(runErr, &af):
			stopReason = OneLine(af.Error(), 400) // its chain's: the validator's, for instance
			e.broker.publish(Event{Type: EvHealth, TicketID: t.ID})
		case e.baseMissing(ctx, t):
			// git fails every attempt alike without its base (renamed or
			// deleted while the ticket ran): one stop, not every attempt
			// paid for again
			stopReason = baseGoneReason(t.BaseBranch)
		}
	}
	var wake []string
	spent := a.Uncounted() // (not in fn, which may run again)
	err := e.st.Update(func(tx *store.Tx) error {
		wake = nil // fn may run again
		cur, err := tx.Ticket(t.ID)
		if err != nil {
			return err
		}
		ps := phaseState(cur, phase)
		cur.CostUSD += spent
		if err := tx.PutAttempt(t.ID, a); err != nil {
			return err
		}
		pass := runErr == nil && a.Verdict != nil && a.Verdict.Pass
		switch {
		case cur.Status != store.StatusRunning:
			// a human acted (cancel) while the attempt ran: keep their state
		case stopReason != "":
			stopped(cur, store.StatusNeedsHuman, stopReason)
			ps.Status = store.PhaseNeedsHuman
		case pass:
			ps.Accepted, ps.ByHuman = a.Seq, false
			if e.cfg.Gated(phase) {
				cur.Status = store.StatusAwaiting
				ps.Status = store.PhaseAwaiting
				if over := e.spentOver(cur); over != "" {
					// the approval starts the count again: the person
					// giving it is told what it lets through
					stopped(cur, store.StatusAwaiting, over+": approving lets it go on")
				}
			} else {
				ps.Status = store.PhaseAccepted
			}
		case phase == config.Review && runErr == nil && a.Verdict != nil:
			// objections: the code changes; a review that failed to
			// answer is tried again below, within its own budget
			e.sendBackToCode(tx, cur, ps)
		default:
			attempts, err := tx.Attempts(t.ID)
			if err != nil {
				return err
			}
			if n, last := failuresSinceBudget(attempts, ps); n >= e.maxAttempts(phase) {
				stopped(cur, store.StatusNeedsHuman, gaveUpReason(phase, n, last))
				ps.Status = store.PhaseNeedsHuman
			} else {
				ps.Status = store.PhasePending
			}
		}
		if reason := e.overBudget(cur, ps); cur.Status == store.StatusRunning && reason != "" {
			stopped(cur, store.StatusNeedsHuman, reason)
		}
		if cur.Parent != "" && cur.Status != store.StatusRunning {
			wake = append(wake, cur.Parent)
		}
		*t = *cur
		return tx.PutTicket(cur)
	})
	if err != nil {
		return err
	}
	e.publishAttempt(t.ID, a)
	e.publishTicket(t)
	for _, p := range wake {
		e.wake(p)
	}
	if t.Status != store.StatusRunning {
		return errParked
	}
	return nil
}

// sendBackToCode handles review objections: code gets a fresh budget and the
// objections as feedback, bounded by review's own max_attempts.
func (e *Engine) sendBackToCode(tx *store.Tx, t *store.Ticket, review *store.PhaseState) {
	attempts, err := tx.Attempts(t.ID)
	if err == nil {
		if n, last := failuresSinceBudget(attempts, review); n >= e.maxAttempts(config.Review) {
			stopped(t, store.StatusNeedsHuman, gaveUpReason(config.Review, n, last))
			review.Status = store.PhaseNeedsHuman
			return
		}
	}
	review.Status = store.PhasePending
	reopenCode(t, config.Code, config.CI, config.CIFix)
}

// reopenCode points the ticket back at code: the phases named run again,
// each with a fresh max_attempts budget.
func reopenCode(t *store.Ticket, phases ...string) { reopenAt(t, config.Code, phases...) }

// reopenAt sets phases pending again, each with a fresh attempt budget,
// and points t at from.
func reopenAt(t *store.Ticket, from string, phases ...string) {
	for _, name := range phases {
		if p := phaseState(t, name); p != nil {
			p.Status = store.PhasePending
			p.BudgetFrom = p.Attempts
		}
	}
	t.Phase = from
}

// finishPhase carries out what passing means for the phase, then moves on.
func (e *Engine) finishPhase(ctx context.Context, t *store.Ticket, ps *store.PhaseState) error {
	msg := fmt.Sprintf("%s %s: %s", t.ID, ps.Name, t.Title)
	if t.Sensitive {
		// every ticket's commands can read the repository's history, and
		// most tickets' models are not local
		msg = fmt.Sprintf("%s %s", t.ID, ps.Name)
	}
	if writesFiles(ps.Name) {
		// the commit goes in the ticket's worktree, made again if lost
		if err := e.ensureWorktree(ctx, t); err != nil {
			return err
		}
	}
	switch ps.Name {
	case config.Tests:
		files, err := e.acceptedTestFiles(ctx, t, ps) // staged by the check, or now
		if err != nil {
			return err
		}
		if len(files) == 0 {
			// only a human's approve gets here: code would go green on
			// nothing, and the ticket end done with nothing merged
			e.stopTicket(t.ID, store.StatusNeedsHuman, "tests: no test file differs from "+t.BaseBranch+": write the tests in the worktree and approve again, or retry with guidance (worktree: "+worktreeOr(t)+")")
			return errParked
		}
		if _, err := e.repo.CommitStaged(ctx, t.Worktree, msg); err != nil {
			return err
		}
		nt, err := e.st.UpdateTicket(t.ID, func(x *store.Ticket) error { x.TestFiles = files; return nil })
		if err != nil {
			return err
		}
		*t = *nt
	case config.Code, config.CIFix:
		if ps.ByHuman {
			// the worktree as a person left it is what gets committed
			if err := e.conflictsLeft(ctx, t, ps.Name); err != nil {
				return err
			}
		}
		commit := e.repo.CommitAll
		if a, err := e.st.Attempt(t.ID, ps.Accepted); err == nil && !ps.ByHuman && a.Verdict != nil && a.Verdict.Pass && a.Verdict.By == "check" {
			// the check's own: what was staged before it ran, not what
			// its run left (a person's approval takes the worktree as is)
			commit = e.repo.CommitStaged
		}
		if _, err := commit(ctx, t.Worktree, msg); err != nil {
			return err
		}
		if len(t.Conflicts) > 0 {
			nt, err := e.st.UpdateTicket(t.ID, func(x *store.Ticket) error { x.Conflicts = nil; return nil })
			if err != nil {
				return err
			}
			*t = *nt
		}
	case config.Split:
		return e.createChildren(t, ps)
	}
	return e.moveOn(t, ps)
}

// conflictsLeft stops a ticket approved at phase whose worktree still has
// conflicts: unmerged paths, or the markers of the conflicts the engine
// left for code to resolve. Committed, they would be merged as they are.
func (e *Engine) conflictsLeft(ctx context.Context, t *store.Ticket, phase string) error {
	unmerged, err := e.repo.Unmerged(ctx, t.Worktree)
	if err != nil {
		return err
	}
	why := ""
	switch marked := stillMarked(t.Worktree, t.Conflicts); {
	case len(unmerged) > 0:
		why = "git holds unresolved conflicts in " + strings.Join(unmerged, ", ")
	case len(marked) > 0:
		why = "conflict markers are still in " + strings.Join(marked, ", ")
	default:
		return nil
	}
	e.stopTicket(t.ID, store.StatusNeedsHuman, fmt.Sprintf("%s approved, but %s: resolve them (and git add), then approve again (worktree: %s)", phase, why, worktreeOr(t)))
	return errParked
}

// moveOn marks the phase passed and points the ticket at the next one.
func (e *Engine) moveOn(t *store.Ticket, ps *store.PhaseState) error {
	nt, err := e.st.UpdateTicket(t.ID, func(x *store.Ticket) error {
		p := phaseState(x, ps.Name)
		p.Status = store.PhasePassed
		next := nextPhase(x, ps.Name)
		switch ps.Name {
		case config.CI:
			if c := phaseState(x, config.CIFix); c != nil {
				c.Status = store.PhaseSkipped
				if c.Attempts > c.BudgetFrom {
					c.Status = store.PhasePassed // (its fixes, or a person's, made CI green)
				}
			}
			next = config.Review
		case config.CIFix:
			if c := phaseState(x, config.CI); c != nil {
				c.Status = store.PhasePassed
				if p.ByHuman {
					// a person's approve is not CI's judgment, which
					// its own check ran: CI runs on what was committed
					c.Status = store.PhasePending
					next = config.CI
				}
			}
		}
		if next == "" {
			x.Status = store.StatusDone
			return nil
		}
		x.Phase = next
		x.Status = store.StatusRunning
		return nil
	})
	if err != nil {
		return err
	}
	*t = *nt
	e.publishTicket(t)
	return nil
}

// createChildren turns an accepted split into child tickets, atomically with
// the epic's move to waiting_children.
func (e *Engine) createChildren(t *store.Ticket, ps *store.PhaseState) error {
	a, err := e.st.Attempt(t.ID, ps.Accepted)
	if err != nil {
		return err
	}
	split, err := ParseSplit(a.Deliverable)
	if err != nil {
		e.stopTicket(t.ID, store.StatusNeedsHuman, "the accepted split cannot be read: "+err.Error())
		return errParked
	}
	var children []*store.Ticket
	err = e.st.Update(func(tx *store.Tx) error {
		children = nil // fn may run again
		cur, err := tx.Ticket(t.ID)
		if err != nil {
			return err
		}
		cur.Children = nil
		// a pause taken while the split ran is the children's too
		paused, _ := PausedAfterDecisions(cur)
		for _, s := range split {
			c := newTicketRecord(NewTicket{Kind: s.Kind, Title: s.Title, Body: s.Body, Sensitive: cur.Sensitive, Parent: cur.ID}, cur.BaseBranch)
			if paused {
				c.Decisions = append(c.Decisions, store.Decision{Kind: store.DecisionPause, At: now(), Reason: pausedWithEpic(cur.ID)})
			}
			if err := tx.CreateTicket(c); err != nil {
				return err
			}
			cur.Children = append(cur.Children, c.ID)
			children = append(children, c)
		}
		phaseState(cur, config.Split).Status = store.PhasePassed
		cur.Status = store.StatusWaitingChildren
		*t = *cur
		return tx.PutTicket(cur)
	})
	if err != nil {
		return err
	}
	e.publishTicket(t)
	for _, c := range children {
		e.publishTicket(c)
		e.startRunner(c.ID)
	}
	return errParked
}

// checkChildren finishes an epic whose children are all done.
func (e *Engine) checkChildren(t *store.Ticket) (bool, error) {
	var cancelled []string
	for _, id := range t.Children {
		c, err := e.st.Ticket(id)
		if err != nil {
			return false, err
		}
		switch c.Status {
		case store.StatusDone:
		case store.StatusCancelled:
			cancelled = append(cancelled, id)
		default:
			return false, nil
		}
	}
	nt, err := e.st.UpdateTicket(t.ID, func(x *store.Ticket) error {
		if x.Status != store.StatusWaitingChildren {
			return nil
		}
		switch {
		case len(cancelled) == len(x.Children):
			// nothing of it was merged: not done
			x.Status, x.Reason = store.StatusCancelled, "every child was cancelled"
		case len(cancelled) > 0:
			x.Status, x.Reason = store.StatusDone, "done without its cancelled children "+strings.Join(cancelled, ", ")
		default:
			x.Status, x.Reason = store.StatusDone, ""
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	if finished(nt.Status) {
		e.removeTicketTemp(nt)
	}
	e.publishTicket(nt)
	return false, nil
}

// runCI runs the CI command in the worktree: green goes to review, red to
// cifix with the log.
func (e *Engine) runCI(ctx context.Context, t *store.Ticket, ps *store.PhaseState) error {
	if err := e.ensureWorktree(ctx, t); err != nil {
		return err
	}
	if reason := e.noCheckCommand(t, config.CI); reason != "" {
		e.stopTicket(t.ID, store.StatusNeedsHuman, reason)
		return errParked
	}
	attempts, err := e.st.Attempts(t.ID)
	if err != nil {
		return err
	}
	a, err := e.beginAttempt(t, config.CI, &phaseInput{try: ciTry(attempts)})
	if err != nil {
		return err
	}
	// (its stream ends as "$ command", then the output, when it ends)
	e.broker.delta(t.ID, a.Seq, "$ "+e.ciCmd(t)+"\n")
	// its output streams as it comes: a CI run takes minutes
	live := tools.WithOutputTap(ctx, func(s string) { e.broker.delta(t.ID, a.Seq, s) })
	check := e.runCheck(live, t, "ci", e.ciCmd(t), 0)
	// what the run wrote goes: cifix works on the branch, not on what a
	// red run left, and what a green one wrote (a Cargo.lock) would read
	// as a person's edit at review's approve, sending the work round
	// again (with no gate there, nothing reads the worktree again: one
	// git process a ticket saved)
	if !check.Pass || e.cfg.Gated(config.Review) {
		if _, err := e.repo.DropUnstaged(ctx, t.Worktree); err != nil {
			return err
		}
	}
	// kept even when cut off: the CI tab shows how far the run got
	a.Checks = append(a.Checks, check)
	a.Stream = "$ " + check.Command + "\n" + check.Output
	if ctx.Err() != nil {
		return e.endAttempt(ctx, t, config.CI, a, ctx.Err())
	}
	a.Ended = now()
	a.Verdict = &store.Verdict{Pass: check.Pass, By: "check"}
	if !check.Pass {
		a.Verdict.Objections = []string{"CI command failed: " + CheckOutcome(check)}
	}
	var stop string
	if check.NotRun != "" && !check.TimedOut() {
		// no change to the code makes a missing command run (a hang is
		// the code's to fix): it is the human's setup
		stop = fmt.Sprintf("the CI command `%s` %s: fix ci_command (or test_command) in the config, restart, then retry", check.Command, check.NotRun)
	}
	err = e.st.Update(func(tx *store.Tx) error {
		cur, err := tx.Ticket(t.ID)
		if err != nil {
			return err
		}
		if err := tx.PutAttempt(t.ID, a); err != nil {
			return err
		}
		p := phaseState(cur, config.CI)
		switch {
		case cur.Status != store.StatusRunning:
			// a human acted (cancel) while CI ran: keep their state
		case stop != "":
			p.Status = store.PhaseNeedsHuman
			stopped(cur, store.StatusNeedsHuman, stop)
		case check.Pass:
			p.Status = store.PhaseAccepted
			p.Accepted = a.Seq
		default:
			p.Status = store.PhaseFailed
			fix := phaseState(cur, config.CIFix)
			fix.Status = store.PhasePending
			fix.BudgetFrom = fix.Attempts
			cur.Phase = config.CIFix
		}
		*t = *cur
		return tx.PutTicket(cur)
	})
	if err != nil {
		return err
	}
	e.publishAttempt(t.ID, a)
	e.publishTicket(t)
	if t.Status != store.StatusRunning {
		return errParked
	}
	return nil
}

// verifyMerge runs the CI command on a merge result no check has seen, in
// a checkout of it at dir: CI judges what lands on the base branch, not
// only the branch (two tickets each green may be red together). It says
// why the result fails, or "".
func (e *Engine) verifyMerge(ctx context.Context, t *store.Ticket, dir string) (string, error) {
	cmd := e.ciCmd(t)
	if strings.TrimSpace(cmd) == "" {
		return "", nil // nothing judged the branch either
	}
	at := *t
	at.Worktree = dir
	e.log.Info("checking the merge result", "ticket", t.ID, "command", cmd)
	c := e.runCheck(ctx, &at, "ci", cmd, 0)
	switch {
	case c.NotRun != "" && ctx.Err() != nil:
		return "", ctx.Err()
	case c.Pass:
		return "", nil
	}
	return fmt.Sprintf("`%s` %s on the result: %s; reject with a reason sends the ticket back to code on top of it, approve tries the merge again", cmd, CheckOutcome(c), outputExcerpt(c, 600)), nil
}

// runMerge merges the ticket's branch into the base branch in the user's
// checkout; anything that blocks it hands the ticket to a human.
func (e *Engine) runMerge(ctx context.Context, t *store.Ticket, ps *store.PhaseState) error {
	msg := fmt.Sprintf("%s: %s (agent-tui)", t.ID, t.Title)
	if t.Sensitive {
		// on the base branch every ticket's commands and models read it
		msg = fmt.Sprintf("%s: merge (agent-tui)", t.ID)
	}
	if t.Worktree != "" && e.repo.HasWorktree(t.ID) {
		if err := e.offBranch(t, t.Worktree, t.Branch); err != nil {
			return err
		}
	}
	if again, err := e.changedSinceReview(ctx, t); again || err != nil {
		return err
	}
	// agent-tui's own config, which no ticket may change, may be changed
	// and not committed (the README's advice to set sandbox = "off")
	commit, err := e.repo.MergeWith(ctx, t.Branch, t.BaseBranch, msg, workspace.MergeOptions{
		MayBeDirty: isOwnConfig, At: mergeAt(t), Queued: func() { e.releaseTurn(t.ID) },
		Verify: func(ctx context.Context, dir string) (string, error) { return e.verifyMerge(ctx, t, dir) },
	})
	var blocked *workspace.MergeBlocked
	if errors.As(err, &blocked) {
		e.stopTicket(t.ID, store.StatusNeedsHuman, "merge blocked: "+blocked.Reason)
		return errParked
	}
	if err != nil {
		return err
	}
	if commit == "" {
		// merged by a run cut off before it recorded the merge
		if commit, err = e.repo.MergeOf(ctx, t.Branch, t.BaseBranch); err != nil {
			e.log.Warn("find merge commit", "ticket", t.ID, "err", err)
		}
		// or nothing to merge: the branch holds nothing beyond the base
		// (reset to it by hand), which is not the ticket's work merged
		if n, cerr := e.repo.CommitsBeyond(ctx, t.Branch, t.BaseBranch); commit == "" && err == nil && cerr == nil && n == 0 {
			e.stopTicket(t.ID, store.StatusNeedsHuman, noWorkReason(t))
			return errParked
		}
	}
	// done is recorded first: a run cut off before the worktree is gone
	// leaves a finished ticket's worktree, which the next start removes
	nt, err := e.st.UpdateTicket(t.ID, func(x *store.Ticket) error {
		phaseState(x, Merge).Status = store.PhasePassed
		x.Status = store.StatusDone
		x.Reason = ""
		x.Worktree = ""
		x.Merged = commit
		return nil
	})
	if err != nil {
		return err
	}
	e.removeTicketFiles(ctx, t)
	// merged: its objects are the base branch's now, anyone's to read
	if err := e.repo.Publish(t.ID); err != nil {
		e.log.Warn("publish objects", "ticket", t.ID, "err", err)
	}
	*t = *nt
	e.publishTicket(t)
	e.log.Info("merged", "ticket", t.ID, "branch", t.Branch, "into", t.BaseBranch)
	if t.Parent != "" {
		e.wake(t.Parent)
	}
	return errParked
}
