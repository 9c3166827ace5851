// Package engine carries tickets through their routes: one goroutine per
// ticket runs its own loop (produce, validate, advance or resume with every
// earlier objection), with the store as the only memory.
package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"agent-tui/engine/config"
	"agent-tui/engine/llm"
	"agent-tui/engine/tools"
	"agent-tui/engine/workspace"
	"agent-tui/prompts"
	"agent-tui/store"
)

type Options struct {
	Store   *store.Store
	Config  *config.Config
	Repo    *workspace.Repo
	Router  *llm.Router
	Prompts *prompts.Set
	// Log receives one line per notable engine event; nil discards.
	Log io.Writer
}

type Engine struct {
	st      *store.Store
	cfg     *config.Config
	repo    *workspace.Repo
	router  *llm.Router
	prompts *prompts.Set
	// unconfinedChecks logs once that checks could not be confined
	unconfinedChecks sync.Once
	log              *slog.Logger
	broker           *broker
	slots            *slots
	slotMu           sync.Mutex
	slotWaiters      map[string]bool // tickets waiting for a max_parallel slot

	mu      sync.Mutex
	runners map[string]*runner
	busy    int
	idle    chan struct{} // closed-and-replaced each time busy drops to zero
	runCtx  context.Context
	wg      sync.WaitGroup
	// turns: the merges decided before the run started, in the order
	// decided (set before the runners start)
	turns []*mergeTurn
	// untilIdle: the run ends once nothing moves (run --until-idle);
	// unstopped: tickets whose stop could not be recorded (a full disk),
	// which must not park as if it had been; runErr: why a run until idle
	// ended with tickets it could neither move nor stop
	untilIdle bool
	unstopped map[string]error
	runErr    error
}

type runner struct {
	id   string
	wake chan struct{}
	idle bool
	// stop ends the step under way (a model call, a test run): a cancel
	// does not wait for it (e.mu)
	stop context.CancelCauseFunc
	// stopWait ends a wait for a slot or a merge turn: a pause takes
	// the ticket out of the line at once, where it lets a step end (e.mu)
	stopWait context.CancelFunc
}

// errCancelledByHuman ends a step whose ticket a human cancelled.
var errCancelledByHuman = errors.New("cancelled by a human")

// interruptWait ends the ticket's wait for a slot or its merge turn, if it
// is waiting: the next advance carries out what was decided.
func (e *Engine) interruptWait(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r := e.runners[id]; r != nil && r.stopWait != nil {
		r.stopWait()
	}
}

// interrupt ends the step the ticket's runner is in, if any.
func (e *Engine) interrupt(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r := e.runners[id]; r != nil && r.stop != nil {
		r.stop(errCancelledByHuman)
	}
}

func New(o Options) *Engine {
	w := o.Log
	if w == nil {
		w = io.Discard
	}
	n := o.Config.MaxParallel
	if n < 1 {
		n = 1
	}
	e := &Engine{
		st: o.Store, cfg: o.Config, repo: o.Repo, router: o.Router, prompts: o.Prompts,
		log:     slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})),
		broker:  newBroker(),
		slots:   newSlots(n),
		runners: map[string]*runner{},
		idle:    make(chan struct{}),
	}
	if o.Router != nil {
		o.Router.OnRecovery(func() { e.broker.publish(Event{Type: EvHealth}) })
	}
	return e
}

// Health reports provider health.
func (e *Engine) Health() []llm.ProviderHealth { return e.router.Health() }

// Warnings lists what is wrong with the providers' keys and the
// repository's prompt overrides.
func (e *Engine) Warnings() []string {
	return append(e.router.Warnings(), e.prompts.Unknown()...)
}

// Subscribe returns engine events; call cancel when done.
func (e *Engine) Subscribe(buf int) (<-chan Event, func()) { return e.broker.subscribe(buf) }

// Run resumes every ticket and runs until ctx ends or, with untilIdle, until
// no ticket can move without a human.
func (e *Engine) Run(ctx context.Context, untilIdle bool) error {
	// one read of the unfinished tickets serves recovery, reconciliation
	// and start-up; finished history is not read at all
	tickets, err := e.st.ActiveTickets()
	if err != nil {
		return err
	}
	if err := e.recover(tickets); err != nil {
		return err
	}
	// a run killed outright (kill -9) could not stop what its commands
	// started; that would change the worktrees under this one
	if n := tools.KillLeftovers(filepath.Join(e.repo.GitDir, "agent-tui", "tmp")); n > 0 {
		e.log.Warn("killed what a stopped run's commands left running in the worktrees", "processes", n)
	}
	if e.repo.WorktreesInsideGit() {
		e.log.Warn("ticket worktrees are made inside .git (no writable home directory for them): Jest and Vitest find no tests there", "dir", e.repo.WorktreeRoot())
	}
	if rep, err := e.reconcile(ctx, tickets); err != nil {
		e.log.Warn("worktree reconcile", "err", err)
	} else {
		for _, o := range rep.Orphans {
			switch t := e.ticketAt(o); {
			case t != nil && finished(t.Status):
				// its ticket is done or cancelled (the removal after the
				// merge failed): nothing needs it, its branch stays
				if err := e.removeTicketFiles(ctx, t); err == nil {
					e.log.Info("removed worktree of finished ticket", "ticket", t.ID, "path", o)
					continue
				}
			case t != nil:
				// made ahead of time for a ticket that had not recorded it
				// when the last run stopped: the ticket will use it
				continue
			}
			e.log.Warn("orphan worktree (not deleted)", "path", o)
		}
		for _, r := range rep.Recreated {
			e.log.Info("worktree recreated", "ticket", r)
		}
		for _, err := range rep.Errors {
			e.log.Warn("worktree could not be put right", "err", err)
		}
	}
	e.publishMerged(ctx)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.mu.Lock()
	e.runCtx = runCtx
	e.turns = mergeTurns(tickets)
	e.untilIdle, e.runErr = untilIdle, nil
	e.mu.Unlock()

	// a ticket added while recovery ran found no engine to start it: read
	// again now that Add starts runners itself (startRunner skips twins)
	if again, err := e.st.ActiveTickets(); err == nil {
		tickets = append(tickets, again...)
	}
	for _, t := range tickets {
		if !finished(t.Status) {
			e.startRunner(t.ID)
		}
	}
	if untilIdle {
		for {
			e.mu.Lock()
			busy, idle := e.busy, e.idle
			e.mu.Unlock()
			if busy == 0 {
				break
			}
			select {
			case <-idle:
			case <-ctx.Done():
			}
			if ctx.Err() != nil {
				break
			}
		}
	} else {
		<-ctx.Done()
	}
	cancel()
	e.wg.Wait()
	if err := e.repo.DropViews(ctx); err != nil {
		e.log.Warn("removing base views", "err", err)
	}
	e.mu.Lock()
	e.runCtx = nil
	e.runners = map[string]*runner{}
	e.busy = 0
	e.turns = nil
	runErr := e.runErr
	e.mu.Unlock()
	if runErr != nil && ctx.Err() == nil {
		return runErr
	}
	return ctx.Err()
}

// mergeTurn is a ticket whose merge was decided before the run started.
// Such tickets all start at once, so the first to reach the merge queue
// would merge first; each waits instead until those decided before it
// have queued their merge or stopped short of it.
type mergeTurn struct {
	id   string
	base string // merges into another base branch do not wait for it
	at   time.Time
	done chan struct{}
	once sync.Once
}

func (m *mergeTurn) release() { m.once.Do(func() { close(m.done) }) }

// mergeTurns are the turns of the tickets whose merge was decided before
// the run: an approve at the phase before the merge (or of a blocked
// merge) waiting to be carried out, or carried out by a run cut off
// before it merged. In the order decided.
func mergeTurns(tickets []*store.Ticket) []*mergeTurn {
	var turns []*mergeTurn
	start := now()
	for _, t := range tickets {
		if finished(t.Status) || (t.Phase != Merge && nextPhase(t, t.Phase) != Merge) {
			continue
		}
		ps := phaseState(t, t.Phase)
		var at time.Time
		switch d := PendingDecision(t); {
		case d != nil && (d.Kind == store.DecisionApprove || d.Kind == store.DecisionEditApprove) &&
			(t.Status == store.StatusAwaiting || t.Status == store.StatusNeedsHuman):
			at = d.At
		case t.Status == store.StatusRunning && ps != nil && headingToMerge(t):
			if at = mergeDecided(t); at.IsZero() {
				at = start // (no gate: its review passed)
			}
		default:
			continue
		}
		turns = append(turns, &mergeTurn{id: t.ID, base: t.BaseBranch, at: at, done: make(chan struct{})})
	}
	slices.SortStableFunc(turns, func(a, b *mergeTurn) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		na, _ := store.ParseID(a.id)
		nb, _ := store.ParseID(b.id)
		return cmp.Compare(na, nb)
	})
	return turns
}

// headingToMerge: the ticket's next step is its merge, or carries out
// the phase before it, accepted.
func headingToMerge(t *store.Ticket) bool {
	ps := phaseState(t, t.Phase)
	if ps == nil {
		return false
	}
	if t.Phase == Merge {
		return ps.Status != store.PhasePassed
	}
	return nextPhase(t, t.Phase) == Merge && (ps.Status == store.PhaseAccepted || ps.Status == store.PhasePassed)
}

// mergeDecided is when the ticket's merge was decided: its last approve
// of the phase before the merge, or of a blocked merge; zero without.
func mergeDecided(t *store.Ticket) time.Time {
	var at time.Time
	for _, d := range t.Decisions {
		if (d.Kind != store.DecisionApprove && d.Kind != store.DecisionEditApprove) || d.Superseded != "" {
			continue
		}
		p := d.Phase
		if p == "" {
			p = t.Phase // not carried out yet
		}
		if p == Merge || nextPhase(t, p) == Merge {
			at = d.At
		}
	}
	return at
}

// mergeAt is when the ticket's merge was decided, now when no gate
// decided it (its review passed now).
func mergeAt(t *store.Ticket) time.Time {
	if at := mergeDecided(t); !at.IsZero() {
		return at
	}
	return now()
}

// waitMergeTurn waits, before a ticket heading to its merge takes a slot,
// until every merge decided before the run and before its own has been
// queued (or its ticket stopped short of it).
func (e *Engine) waitMergeTurn(ctx context.Context, t *store.Ticket) error {
	e.mu.Lock()
	turns := e.turns
	e.mu.Unlock()
	mine := slices.IndexFunc(turns, func(m *mergeTurn) bool { return m.id == t.ID })
	at := mergeAt(t)
	for i, m := range turns {
		if mine >= 0 && i >= mine || mine < 0 && !m.at.Before(at) {
			break // (in order: the rest come after it)
		}
		if m.base != t.BaseBranch {
			continue
		}
		select {
		case <-m.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// releaseTurn lets the merges after the ticket's go.
func (e *Engine) releaseTurn(id string) {
	e.mu.Lock()
	turns := e.turns
	e.mu.Unlock()
	for _, m := range turns {
		if m.id == id {
			m.release()
		}
	}
}

// diskFull says err comes of a disk (or quota) with no room left.
func diskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// unrecordedRetry is how long a ticket whose stop could not be recorded
// waits before it tries its step again.
var unrecordedRetry = 10 * time.Second

// stepTries and stepRetryDelay bound retries of a step that failed in the
// engine itself (not in the model or a check).
const stepTries = 3

var stepRetryDelay = time.Second

func finished(status string) bool { return store.Finished(status) }

// startRunner starts the goroutine of a ticket if the engine is running.
func (e *Engine) startRunner(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.runCtx == nil {
		return
	}
	if _, ok := e.runners[id]; ok {
		return
	}
	r := &runner{id: id, wake: make(chan struct{}, 1)}
	e.runners[id] = r
	e.busy++
	e.wg.Add(1)
	// started in order, run in none: its slot is kept from newer tickets
	// until it has asked (see slots)
	e.slots.expect(id)
	go e.loop(e.runCtx, r)
}

// wake nudges a ticket's goroutine: a decision, a child that finished.
func (e *Engine) wake(id string) {
	e.mu.Lock()
	r, ok := e.runners[id]
	if ok && r.idle {
		r.idle = false
		e.busy++
	}
	e.mu.Unlock()
	if !ok {
		e.startRunner(id)
		return
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// park marks the runner idle unless a wake is already pending.
func (e *Engine) park(r *runner) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(r.wake) > 0 {
		return false
	}
	r.idle = true
	e.busy--
	if e.busy == 0 {
		close(e.idle)
		e.idle = make(chan struct{})
	}
	return true
}

func (e *Engine) unpark(r *runner) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r.idle {
		r.idle = false
		e.busy++
	}
}

func (e *Engine) loop(ctx context.Context, r *runner) {
	defer e.wg.Done()
	defer e.slots.arrived(r.id) // (stopped before it ever asked)
	defer e.releaseTurn(r.id)
	defer func() {
		e.mu.Lock()
		if !r.idle {
			e.busy--
			if e.busy == 0 {
				close(e.idle)
				e.idle = make(chan struct{})
			}
		}
		delete(e.runners, r.id)
		e.mu.Unlock()
	}()
	failures := 0
	for ctx.Err() == nil {
		// drain a pending wake: we are about to look at the ticket anyway
		select {
		case <-r.wake:
		default:
		}
		moved, err := e.advance(ctx, r.id)
		if uerr := e.takeUnstopped(r.id); uerr != nil && err == nil {
			err = uerr // parked, but the store does not say so
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// a transient failure (a git lock, a busy disk) gets two more
			// tries before the ticket is handed to a human
			failures++
			e.log.Error("ticket step", "ticket", r.id, "try", failures, "err", err)
			t, terr := e.st.Ticket(r.id)
			// no try can do better without its base branch
			baseGone := terr == nil && e.baseMissing(ctx, t)
			if failures < stepTries && !baseGone {
				select {
				case <-time.After(time.Duration(failures) * stepRetryDelay):
				case <-ctx.Done():
					return
				}
				continue
			}
			reason := "engine error: " + err.Error()
			switch {
			case baseGone:
				reason = baseGoneReason(t.BaseBranch)
			case workspace.WriteFailed(err):
				reason = "git could not write (a full disk?): " + err.Error() + "; free some space, then retry"
			}
			serr := error(nil)
			if diskFull(err) {
				// the disk's, not the ticket's: nothing for a person to
				// take over, and the next run goes on by itself
				serr = fmt.Errorf("%s could not go on: %w", r.id, err)
			} else if serr = e.stopTicket(r.id, store.StatusNeedsHuman, reason); serr != nil {
				e.takeUnstopped(r.id)
			}
			if serr != nil {
				// not parked as if it had stopped. A run until idle ends
				// saying so; the TUI tries again, slower, until the store
				// takes writes.
				e.log.Error("ticket step", "ticket", r.id, "err", serr)
				e.mu.Lock()
				untilIdle := e.untilIdle
				if untilIdle && e.runErr == nil {
					e.runErr = serr
				}
				e.mu.Unlock()
				if untilIdle {
					return
				}
				select {
				case <-time.After(unrecordedRetry):
				case <-ctx.Done():
					return
				}
				failures = 0
				continue
			}
			moved = false
		}
		failures = 0
		if moved {
			continue
		}
		// stopped short of a merge it was to make (paused, refused,
		// blocked): the merges after it need not wait
		e.releaseTurn(r.id)
		if !e.park(r) {
			continue
		}
		t, err := e.st.Ticket(r.id)
		if err == nil && finished(t.Status) {
			return
		}
		select {
		case <-r.wake:
			e.unpark(r)
		case <-ctx.Done():
			return
		}
	}
}

// advance applies pending decisions and runs one step of the ticket if it
// can move. It reports whether the ticket may move again without a human.
func (e *Engine) advance(ctx context.Context, id string) (bool, error) {
	// registered before the decisions are read: a cancel recorded after
	// that read ends the step at once
	stepCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	waitCtx, stopWait := context.WithCancel(stepCtx)
	defer stopWait()
	e.mu.Lock()
	if r := e.runners[id]; r != nil {
		r.stop, r.stopWait = stop, stopWait
	}
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		if r := e.runners[id]; r != nil {
			r.stop, r.stopWait = nil, nil
		}
		e.mu.Unlock()
	}()
	// whatever way it leaves, it holds no newer ticket up any more, but
	// for a step after which it goes straight on: it keeps its place, and
	// the slot it gives back is not a newer ticket's before it asks again
	// (with max_parallel = 1, one ticket after another, not two by turns)
	stepsOn := false
	defer func() {
		if !stepsOn {
			e.slots.arrived(id)
		}
	}()
	t, err := e.applyDecisions(ctx, id)
	if err != nil {
		return false, err
	}
	if t.Paused {
		return false, nil
	}
	switch t.Status {
	case store.StatusQueued, store.StatusRunning:
	case store.StatusWaitingChildren:
		return e.checkChildren(t)
	default:
		return false, nil
	}
	if headingToMerge(t) {
		// (before its slot: those it waits for may need one, and must not
		// wait for it to ask)
		e.slots.arrived(id)
		if err := e.waitMergeTurn(waitCtx, t); err != nil {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			return true, nil // cancelled while waiting: the next advance carries it out
		}
	}
	if !e.slots.tryTake(id) {
		// every slot taken (or an older ticket waits): said, so that
		// "running" counts what runs
		e.waitForSlot(id, true)
		got := e.slots.take(waitCtx, id)
		e.waitForSlot(id, false)
		if !got {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			return true, nil // cancelled while waiting: the next advance carries it out
		}
	}
	defer func() { e.slots.giveKeeping(id, stepsOn) }()
	e.mu.Lock()
	if r := e.runners[id]; r != nil {
		r.stopWait = nil // a pause from here on lets the step end
	}
	e.mu.Unlock()
	if waitCtx.Err() != nil && ctx.Err() == nil {
		return true, nil // paused while it waited: the next advance says so
	}
	err = e.step(stepCtx, t)
	switch {
	case errors.Is(err, errParked):
		return false, nil
	case err != nil && ctx.Err() != nil:
		return false, ctx.Err()
	case err != nil && context.Cause(stepCtx) == errCancelledByHuman:
		return true, nil // the next advance carries the cancel out
	}
	stepsOn = err == nil
	return err == nil, err
}

// maxStops bounds the stops kept on a ticket: each takes a person's act to
// move on, but a long life need not carry them all.
const maxStops = 50

// stopped puts t in status with reason, and keeps the stop in its history.
func stopped(t *store.Ticket, status, reason string) {
	t.Status, t.Reason = status, reason
	t.Stops = append(t.Stops, store.Stop{At: now(), Phase: t.Phase, Status: status, Reason: reason})
	if n := len(t.Stops); n > maxStops {
		t.Stops = slices.Delete(t.Stops, 0, n-maxStops)
	}
}

// stopTicket moves a ticket to a status that needs a human, with a reason.
// A stop that cannot be recorded is kept in unstopped: the step that
// called it parks, and the loop takes it for the step's failure.
func (e *Engine) stopTicket(id, status, reason string) error {
	t, err := e.st.UpdateTicket(id, func(t *store.Ticket) error {
		stopped(t, status, reason)
		if ps := phaseState(t, t.Phase); ps != nil && status == store.StatusNeedsHuman {
			ps.Status = store.PhaseNeedsHuman
		}
		return nil
	})
	if err != nil {
		err = fmt.Errorf("%s could not be recorded as stopped (%s): %w", id, OneLine(reason, 120), err)
		e.mu.Lock()
		if e.unstopped == nil {
			e.unstopped = map[string]error{}
		}
		e.unstopped[id] = err
		e.mu.Unlock()
		return err
	}
	e.publishTicket(t)
	e.log.Info("ticket stopped", "ticket", id, "status", status, "reason", reason)
	return nil
}

// takeUnstopped is the error of a stop of id that could not be recorded
// since the last call, if any.
func (e *Engine) takeUnstopped(id string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	err := e.unstopped[id]
	delete(e.unstopped, id)
	return err
}

// publishTicket sends a deep copy: the runner goes on changing its own.
func (e *Engine) publishTicket(t *store.Ticket) {
	cp := *t
	cp.Children = slices.Clone(t.Children)
	cp.Phases = slices.Clone(t.Phases)
	cp.Decisions = slices.Clone(t.Decisions)
	cp.TestFiles = maps.Clone(t.TestFiles)
	e.broker.publish(Event{Type: EvTicket, TicketID: t.ID, Ticket: &cp})
}

func (e *Engine) publishAttempt(id string, a *store.Attempt) {
	cp := *a
	cp.ToolCalls = slices.Clone(a.ToolCalls) // their results are filled in place later
	e.broker.publish(Event{Type: EvAttempt, TicketID: id, Attempt: &cp})
}

// markCutOff marks an attempt a stopped process left unfinished.
// EndNotRecorded is the error of an attempt whose run went on but whose
// end could not be written.
const EndNotRecorded = "interrupted: its end could not be recorded (a write to the database failed, as on a full disk)"

func markCutOff(a *store.Attempt, ticketStatus string) {
	a.Interrupted = true
	a.Error = "interrupted: the process stopped during this attempt"
	if ticketStatus != store.StatusRunning {
		// the process went on, but the attempt's end was never written
		// (a full disk)
		a.Error = EndNotRecorded
	}
	cutOffToolCalls(a, false)
}

// recover marks attempts cut off by a crash as interrupted.
func (e *Engine) recover(tickets []*store.Ticket) error {
	return e.st.Update(func(tx *store.Tx) error {
		for _, t := range tickets {
			if finished(t.Status) {
				continue
			}
			attempts, err := tx.Attempts(t.ID)
			if err != nil {
				return err
			}
			var spent float64
			for _, a := range attempts {
				if a.Done() {
					continue
				}
				markCutOff(a, t.Status)
				// what its calls cost up to its last checkpoint was paid:
				// it counts in the ticket's cost and toward max_cost_usd
				spent += a.Uncounted()
				if err := tx.PutAttempt(t.ID, a); err != nil {
					return err
				}
			}
			if spent > 0 {
				cur, err := tx.Ticket(t.ID)
				if err != nil {
					return err
				}
				cur.CostUSD += spent
				if err := tx.PutTicket(cur); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// ticketAt is the ticket whose worktree path p is, made or not; nil when
// p is no ticket's.
func (e *Engine) ticketAt(p string) *store.Ticket {
	id := filepath.Base(p)
	if filepath.Clean(p) != filepath.Clean(e.repo.WorktreePath(id)) {
		return nil
	}
	t, err := e.st.Ticket(id)
	if err != nil {
		return nil
	}
	return t
}

func (e *Engine) reconcile(ctx context.Context, tickets []*store.Ticket) (workspace.Report, error) {
	known := map[string]string{}
	for _, t := range tickets {
		if t.Worktree != "" && !finished(t.Status) {
			known[t.ID] = t.Worktree
		}
	}
	return e.repo.Reconcile(ctx, known)
}

// phaseState finds a phase in the ticket's route.
func phaseState(t *store.Ticket, name string) *store.PhaseState {
	for i := range t.Phases {
		if t.Phases[i].Name == name {
			return &t.Phases[i]
		}
	}
	return nil
}

// nextPhase is the phase after name in the ticket's route.
func nextPhase(t *store.Ticket, name string) string {
	for i := range t.Phases {
		if t.Phases[i].Name == name && i+1 < len(t.Phases) {
			return t.Phases[i+1].Name
		}
	}
	return ""
}

func now() time.Time { return time.Now().UTC() }

// waitForSlot records and announces that ticket id waits for a slot, or
// no longer does.
func (e *Engine) waitForSlot(id string, waiting bool) {
	e.slotMu.Lock()
	if waiting {
		if e.slotWaiters == nil {
			e.slotWaiters = map[string]bool{}
		}
		e.slotWaiters[id] = true
	} else {
		delete(e.slotWaiters, id)
	}
	// published under the lock: a reader of WaitingForSlot never sees a
	// state older than the events it gets after
	e.broker.publish(Event{Type: EvSlot, TicketID: id, Queued: waiting})
	e.slotMu.Unlock()
}

// WaitingForSlot lists the tickets waiting for a max_parallel slot now
// (the UI, after missing events, learns them again here).
func (e *Engine) WaitingForSlot() []string {
	e.slotMu.Lock()
	defer e.slotMu.Unlock()
	ids := make([]string, 0, len(e.slotWaiters))
	for id := range e.slotWaiters {
		ids = append(ids, id)
	}
	return ids
}

// publishMerged moves into the repository's store the private objects of
// sensitive tickets that are merged (a run cut off before it published
// them, or a merge made by hand): the base branch must not depend on
// .git/agent-tui.
func (e *Engine) publishMerged(ctx context.Context) {
	e.repo.SweepPublished()
	for _, dir := range e.repo.PrivateStores() {
		id := filepath.Base(dir)
		t, err := e.st.Ticket(id)
		if err != nil {
			continue // not this database's
		}
		if t.Status != store.StatusDone && !e.repo.BaseNeedsStore(ctx, id, t.BaseBranch) {
			continue
		}
		if err := e.repo.Publish(id); err != nil {
			e.log.Warn("publish objects", "ticket", id, "err", err)
		}
	}
}
