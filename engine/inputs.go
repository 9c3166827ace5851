package engine

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"agent-tui/engine/config"
	"agent-tui/engine/llm"
	"agent-tui/engine/tools"
	"agent-tui/engine/wtfile"
	"agent-tui/prompts"
	"agent-tui/store"

	openai "github.com/sashabaranov/go-openai"
)

// phaseInput is everything a session gets (SPEC section 5), already trimmed
// to the phase's context budget.
type phaseInput struct {
	try      int // the attempt's number within the phase's budget
	system   string
	user     string
	tokens   int
	trimmed  []string
	feedback []string
	box      *tools.Box
}

func (e *Engine) promptData(t *store.Ticket, phase string, box *tools.Box) prompts.Data {
	d := prompts.Data{
		Phase: phase, TicketID: t.ID, Kind: t.Kind, Title: t.Title,
		TestCommand: e.testCmd(t), CICommand: e.ciCmd(t),
	}
	if box != nil {
		for _, def := range box.Definitions() {
			d.Tools = append(d.Tools, def.Name)
		}
		d.CanWrite = writesFiles(phase)
		d.CanRun = writesFiles(phase)
	}
	return d
}

// promptStop is why a ticket stops when prompt name does not render (for
// the phase judged, the validator's): an override's fault, which no
// attempt mends. Prompts are read once, at start.
func promptStop(name, judged string, err error) string {
	of := "the " + name + " prompt"
	if judged != "" {
		of += " (judging " + judged + ")"
	}
	return of + " does not render: " + err.Error() + ": fix the file, restart agent-tui, then retry"
}

// accepted returns the accepted deliverable of a phase, or "".
func accepted(t *store.Ticket, attempts []*store.Attempt, phase string) string {
	ps := phaseState(t, phase)
	if ps == nil || ps.Accepted == 0 {
		return ""
	}
	for _, a := range attempts {
		if a.Seq == ps.Accepted {
			return a.Deliverable
		}
	}
	return ""
}

// acceptedAttempt returns the accepted attempt of a phase, or nil.
func acceptedAttempt(t *store.Ticket, attempts []*store.Attempt, phase string) *store.Attempt {
	ps := phaseState(t, phase)
	if ps == nil || ps.Accepted == 0 {
		return nil
	}
	for _, a := range attempts {
		if a.Seq == ps.Accepted {
			return a
		}
	}
	return nil
}

// feedbackFor gathers what a new attempt must address: the objections of
// every earlier attempt of the phase (review's for code), and human words.
func feedbackFor(t *store.Ticket, phase string, attempts []*store.Attempt) []string {
	// a check's failures before the phase last passed were put right then
	// (code went green, then review sent it back): stale, not to address
	lastPass := -1
	for i, a := range attempts {
		if a.Phase == phase && a.Verdict != nil && a.Verdict.Pass {
			lastPass = i
		}
	}
	// in the order they were given: the model reads what came after what
	type item struct {
		at   time.Time
		text string
	}
	var items []item
	for i, a := range attempts {
		from := a.Phase == phase || (phase == config.Code && a.Phase == config.Review)
		if !from || a.Verdict == nil || a.Verdict.Pass || (a.Verdict.By == "check" && i < lastPass) {
			continue
		}
		at := a.Ended
		if at.IsZero() {
			at = a.Started
		}
		for _, o := range a.Verdict.Objections {
			items = append(items, item{at, o})
		}
	}
	for _, d := range t.Decisions {
		if d.Superseded != "" || d.Phase != phase && !sentBack(d, phase) {
			continue
		}
		if d.Kind == store.DecisionReject && d.Reason != "" {
			items = append(items, item{d.At, rejectPrefix + d.Reason})
		}
		if d.Kind == store.DecisionRetry && d.Guidance != "" {
			items = append(items, item{d.At, guidancePrefix + d.Guidance})
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].at.Before(items[j].at) })
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.text
	}
	return dedupe(out)
}

// sentBack says whether d, taken at review or at a blocked merge, sent the
// work back to code with words for phase: a reject's reason, or a retry's
// guidance (a retry without it reviews again). Code and the next review
// both read them.
func sentBack(d store.Decision, phase string) bool {
	if phase != config.Code && phase != config.Review {
		return false
	}
	switch d.Phase {
	case Merge:
		return d.Kind == store.DecisionReject || d.Kind == store.DecisionRetry
	case config.Review:
		return d.Kind == store.DecisionReject || d.Kind == store.DecisionRetry && d.Guidance != ""
	}
	return false
}

// maxDiffLine is the most of one diff line the review reads: a minified
// file's one line changed would otherwise take the whole budget, and cut
// the other files' hunks out.
const maxDiffLine = 2000

// clipLongLines cuts each line of s longer than n bytes (on a character's
// edge), saying how much of it is left out.
func clipLongLines(s string, n int) string {
	if !strings.Contains(s, "\n") && len(s) <= n {
		return s
	}
	lines := strings.Split(s, "\n")
	changed := false
	for i, l := range lines {
		if len(l) <= n {
			continue
		}
		head, more := ClipBytes(l, n)
		lines[i] = fmt.Sprintf("%s [… %d more bytes of this line not shown]", head, more)
		changed = true
	}
	if !changed {
		return s
	}
	return strings.Join(lines, "\n")
}

// lastDeliverable is the most recent finished attempt's deliverable.
func lastDeliverable(attempts []*store.Attempt, phase string) string {
	for i := len(attempts) - 1; i >= 0; i-- {
		a := attempts[i]
		if a.Phase == phase && !a.Interrupted && a.Deliverable != "" {
			return a.Deliverable
		}
	}
	return ""
}

// groundwork is what tests and code build on: a hotfix's diagnosis, else
// the plan.
func groundwork(t *store.Ticket, attempts []*store.Attempt) (title, body string) {
	if t.Kind == KindHotfix {
		return "Diagnosis", accepted(t, attempts, config.Diagnosis)
	}
	return "Plan", accepted(t, attempts, config.Planning)
}

// buildInput assembles the phase's context within its budget.
func (e *Engine) buildInput(ctx context.Context, t *store.Ticket, ps *store.PhaseState, attempts []*store.Attempt) (*phaseInput, error) {
	in := &phaseInput{feedback: feedbackFor(t, ps.Name, attempts)}
	readRoot := t.Worktree
	if writesFiles(ps.Name) || readsFiles(ps.Name) {
		release := func() {}
		if readRoot == "" {
			// not the user's checkout (uncommitted files, another branch):
			// base as committed
			view, done, err := e.repo.BaseView(ctx, t.BaseBranch)
			if err != nil {
				return nil, err
			}
			readRoot, release = view, done
		}
		box, err := tools.New(tools.Options{
			Root: readRoot, ReadOnly: !writesFiles(ps.Name), CommandTimeout: e.cfg.CommandTimeout.Duration,
			Sandbox: e.cfg.Sandbox, TempDir: e.ticketTemp(t), ExtraEnvDrop: e.secretEnvNames(),
			Hidden: e.hiddenFromCommands(), Readable: e.readableHidden(t), Sensitive: t.Sensitive, Release: release,
		})
		if err != nil {
			release()
			return nil, err
		}
		in.box = box
	}
	name := ps.Name
	sys, err := e.prompts.Render(name, e.promptData(t, name, in.box))
	if err != nil {
		if in.box != nil {
			in.box.Close()
		}
		// the file's to mend, not a step to try again
		if serr := e.stopTicket(t.ID, store.StatusNeedsHuman, promptStop(name, "", err)); serr != nil {
			return nil, serr
		}
		return nil, errParked
	}
	in.system = sys

	spec := accepted(t, attempts, config.Discovery)
	plan := accepted(t, attempts, config.Planning)
	design := accepted(t, attempts, config.Techspec)
	diagnosis := accepted(t, attempts, config.Diagnosis)
	ticket := fmt.Sprintf("# %s\n\n%s", t.Title, strings.TrimSpace(t.Body))
	var secs []section
	switch name {
	case config.Discovery, config.Diagnosis:
		secs = append(secs, section{title: "Ticket", body: ticket, prio: prioTicket, vital: true},
			section{title: "Repository overview", body: e.overview(readRoot), prio: prioOverview})
	case config.Techspec:
		secs = append(secs, section{title: "Functional spec", body: spec, prio: prioPrimary, vital: true})
	case config.Planning:
		secs = append(secs, section{title: "Tech spec", body: design, prio: prioPrimary, vital: true},
			section{title: "Acceptance criteria (functional spec)", body: acceptanceCriteria(spec), prio: prioCriteria})
	case config.Tests:
		title, body := groundwork(t, attempts)
		secs = append(secs, section{title: title, body: body, prio: prioPrimary, vital: true})
		if t.Kind != KindHotfix {
			secs = append(secs, section{title: "Acceptance criteria (functional spec)", body: acceptanceCriteria(spec), prio: prioCriteria})
		}
	case config.Code:
		title, body := groundwork(t, attempts)
		outTitle, out := e.testOutput(t, attempts)
		if len(t.Conflicts) > 0 && !codeRanSince(t, attempts) {
			// run before the base was merged in: the branch is not that now
			outTitle, out = "Test output", "(not run since "+t.BaseBranch+" was merged into this branch: run the tests yourself once the conflicts are resolved)"
		}
		secs = append(secs, section{title: title, body: body, prio: prioPrimary, vital: true})
		if len(t.TestFiles) > 0 {
			// which files are frozen is said whatever the budget (their
			// bodies may go): a change to one fails the attempt
			names := slices.Sorted(maps.Keys(t.TestFiles))
			secs = append(secs, section{title: "Test files (frozen: do not change them)", body: strings.Join(names, "\n"), prio: prioFeedback, last: true})
		}
		secs = append(secs, section{title: "Contents of the test files", body: fileBodies(t.Worktree, t.TestFiles, 0), prio: prioFiles},
			section{title: outTitle, body: out, prio: prioOutput, tail: true, head: true})
		if len(t.Conflicts) > 0 {
			secs = append(secs, section{title: "Merge conflicts to resolve", prio: prioFeedback, body: fmt.Sprintf(
				"%s changed since this work began and was merged into this branch. These files conflict: %s. Where both sides changed the same lines the file holds conflict markers (<<<<<<<, =======, >>>>>>>); a file one side deleted is as the other left it. Resolve each, keeping what both sides meant, so that no marker is left and the tests pass.",
				t.BaseBranch, strings.Join(t.Conflicts, ", "))})
		}
	case config.CIFix:
		secs = append(secs, section{title: "Failing CI log", body: e.ciLog(attempts), prio: prioPrimary, tail: true, head: true, vital: true})
	case config.Review:
		// review judges what would be merged: the branch's commits
		diff, err := e.repo.BranchDiff(ctx, t.Worktree, t.BaseBranch)
		if err != nil {
			in.box.Close()
			return nil, err
		}
		diff = clipLongLines(diff, maxDiffLine)
		if t.Kind == KindHotfix {
			secs = append(secs, section{title: "Diagnosis", body: diagnosis, prio: prioOutput})
		} else {
			secs = append(secs, section{title: "Tech spec", body: design, prio: prioCriteria},
				section{title: "Plan", body: plan, prio: prioOutput})
		}
		// what is judged goes last when trimming; the documents it is
		// judged against give way first. The files it changes are listed
		// apart, kept whole: a diff cut to fit must not read as all of it
		if files := diffFiles(diff); len(files) > 1 {
			// trimmed after the diff: a list longer than an eighth of the
			// budget (thousands of generated files) keeps its start and
			// says how many more, where it used to go whole
			secs = append(secs, section{title: "Files the branch changes", body: strings.Join(files, "\n"), prio: prioCriteria, last: true, share: 1.0 / 8,
				fit: func(n int) string { return headOfList(files, n) }})
		}
		secs = append(secs, section{title: "Diff of the branch against " + t.BaseBranch, body: "```diff\n" + diff + "\n```", prio: prioPrimary, vital: true,
			more: "read_file reads the changed files as they are now"})
	case config.Split:
		secs = append(secs, section{title: "Tech spec", body: design, prio: prioPrimary, vital: true})
	}
	if len(in.feedback) > 0 {
		title := "Objections to address"
		intro := "Earlier attempts of this phase were rejected. Address EVERY point below; do not undo an earlier fix while fixing a later one.\n\n"
		if name == config.Review {
			// a review is not revised: it checks the new code against
			// what it objected to before
			title = "Objections raised by earlier reviews"
			intro = "The code was changed to answer these. Check each one against the diff; object again only to what is still wrong.\n\n"
		}
		items := in.feedback
		// at most half the budget: objections that grow with each attempt
		// would otherwise squeeze out the ticket they are about
		secs = append(secs, section{title: title, body: numbered(intro, items), prio: prioFeedback, share: 1.0 / 2,
			fit: func(n int) string { return fitList(intro, items, n) }})
		if prev := lastDeliverable(attempts, name); prev != "" && !writesFiles(name) && name != config.Review {
			secs = append(secs, section{title: "Your previous deliverable (revise it)", body: prev, prio: prioPrevious})
		}
	}
	header := fmt.Sprintf("Phase: %s · Ticket %s (%s): %s", name, t.ID, t.Kind, t.Title)
	budget := e.cfg.Phase(name).ContextTokens
	sizes := make([]int, len(secs))
	for i, s := range secs {
		sizes[i] = llm.EstimateTokens(s.body)
	}
	defs := toolDefinitions(in.box)
	// the instructions and the tool definitions are sent with every call
	fixed := instructionTokens(sys) + llm.EstimateTools(defs)
	room, err := roomFor(name, budget, fixed, header)
	if err != nil {
		if in.box != nil {
			in.box.Close()
		}
		return nil, err
	}
	if in.box != nil && room > 0 {
		// the tool results of later calls come within the same budget
		room -= toolRoomOf(room)
	}
	in.user, in.tokens, in.trimmed = assemble(header, secs, room)
	in.tokens += fixed
	for i, s := range secs {
		// a review of a diff it never saw would pass anything, and a design
		// from a spec cut to a line is made up: what a phase works from
		// keeps some substance
		kept := keptOf(s)
		if s.vital && (s.dropped || kept < min(sizes[i], vitalFloor)) {
			if in.box != nil {
				in.box.Close() // its root, and a base view it holds
			}
			return nil, &budgetTooSmall{phase: name, budget: budget, what: s.title, tokens: sizes[i], kept: kept}
		}
	}
	return in, nil
}

// instructionTokens are what the system prompt, and the framing of the
// user message beside it, take of a call's budget.
func instructionTokens(system string) int {
	return llm.EstimateMessages([]openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleSystem, Content: system}, {Role: openai.ChatMessageRoleUser}})
}

// roomFor is what a phase's budget leaves for its material once the
// instructions and tool definitions (fixed) and the header are counted;
// an error when nothing would be left, since a call over its budget would
// be sent all the same, whatever is trimmed.
func roomFor(phase string, budget, fixed int, header string) (int, error) {
	if budget > 0 && fixed+llm.EstimateTokens(header) >= budget {
		return 0, &budgetTooSmall{phase: phase, budget: budget, fixed: fixed + llm.EstimateTokens(header)}
	}
	return leftOf(budget, fixed), nil
}

// leftOf is what a budget leaves after used tokens: at least one, since 0
// means no budget at all.
func leftOf(budget, used int) int {
	if budget <= 0 {
		return budget
	}
	return max(budget-used, 1)
}

// budgetTooSmall: a phase's context_tokens leaves nothing of what the
// session exists for.
// vitalFloor is the fewest tokens of what a phase works from (its spec,
// plan, diff, CI log) that it may be given, when there are more.
const vitalFloor = 500

type budgetTooSmall struct {
	phase, what          string
	budget, tokens, kept int
	fixed                int // the instructions and tool definitions, when they alone are over it
}

func (b *budgetTooSmall) Error() string {
	if b.fixed > 0 {
		return fmt.Sprintf("%s: context_tokens = %d is less than its instructions and tool definitions alone (%d tokens): raise [phases.%s] context_tokens, then retry", b.phase, b.budget, b.fixed, b.phase)
	}
	left := "nothing"
	if b.kept > 0 && b.kept < b.tokens {
		left = fmt.Sprintf("only %d tokens", b.kept)
	}
	return fmt.Sprintf("%s: context_tokens = %d leaves %s of %q (%d tokens): raise [phases.%s] context_tokens, then retry", b.phase, b.budget, left, b.what, b.tokens, b.phase)
}

// hiddenFromCommands are what a confined command may not read: the
// database and the log (every ticket's words, sensitive ones included),
// and the other tickets' worktrees (this repository's and any other's)
// and temporary files.
func (e *Engine) hiddenFromCommands() []string {
	db, err := filepath.Abs(e.st.Path()) // --db as typed may be relative
	if err != nil {
		db = e.st.Path()
	}
	// the private object stores inside are named as well: the repository
	// lists them as alternates, and bubblewrap, which hides a directory
	// by an empty one in its place, leaves each there empty (git warns of
	// a missing one on every command)
	hidden := append([]string{db, filepath.Join(e.repo.GitDir, "agent-tui.log"), filepath.Join(e.repo.GitDir, "agent-tui")}, e.repo.PrivateStores()...)
	return append(hidden, e.repo.WorkDirs()...)
}

// readableHidden is what in hidden places the ticket's commands read: the
// checkout's node_modules (see DependencyLink), and the ticket's own
// object store (git in its worktree reads its objects there), if it is
// sensitive. Only agent-tui's git writes the store: every git command on
// the repository reads it (an alternate), so an object planted there
// would be everyone's.
func (e *Engine) readableHidden(t *store.Ticket) []string {
	var readable []string
	if link := e.repo.DependencyLink(); link != "" {
		// the checkout's node_modules, in the hidden work root
		readable = append(readable, link)
	}
	if t.Sensitive {
		readable = append(readable, e.repo.PrivateObjects(t.ID))
	}
	return readable
}

func (e *Engine) ticketTemp(t *store.Ticket) string {
	return filepath.Join(e.repo.GitDir, "agent-tui", "tmp", t.ID)
}

// removeTicketFiles removes a finished ticket's worktree and temporary
// directory (what its runs left there); its branch stays. A failure is
// logged and returned.
func (e *Engine) removeTicketFiles(ctx context.Context, t *store.Ticket) error {
	err := e.repo.RemoveWorktree(ctx, t.ID)
	if err != nil {
		e.log.Warn("remove worktree", "ticket", t.ID, "err", err)
	}
	e.removeTicketTemp(t)
	return err
}

// removeTicketTemp removes what a finished ticket's commands left in its
// temporary directory (an epic's too: it has no worktree).
func (e *Engine) removeTicketTemp(t *store.Ticket) {
	if err := os.RemoveAll(e.ticketTemp(t)); err != nil {
		e.log.Warn("remove temporary directory", "ticket", t.ID, "err", err)
	}
}

// maxOverviewEntries and maxOverviewBytes bound the overview's list of
// top-level entries.
const (
	maxOverviewEntries = 300
	maxOverviewBytes   = 6000
)

// overview is a short map of the repository: top-level entries and the
// start of the README.
func (e *Engine) overview(dir string) string {
	if dir == "" {
		return ""
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ""
	}
	var names []string
	for _, en := range entries {
		n := en.Name()
		if n == ".git" {
			continue
		}
		if en.IsDir() {
			n += "/"
		}
		names = append(names, n)
	}
	sort.Strings(names)
	// a root of thousands of files would take the budget from the ticket
	// and the README: the first ones, and how many more
	more := 0
	for size, i := 0, 0; i < len(names); i++ {
		if size += len(names[i]) + 2; i >= maxOverviewEntries || size > maxOverviewBytes {
			names, more = names[:i], len(names)-i
			break
		}
	}
	var b strings.Builder
	b.WriteString("Top-level entries: " + strings.Join(names, ", "))
	if more > 0 {
		fmt.Fprintf(&b, ", and %d more (list_dir lists them all)", more)
	}
	b.WriteString("\n")
	root, err := os.OpenRoot(dir)
	if err != nil {
		return b.String()
	}
	defer root.Close()
	for _, readme := range []string{"README.md", "README", "readme.md"} {
		// never through a symlink: it may point at a key outside
		if data, _, err := wtfile.Head(root, readme, 2001); err == nil {
			b.WriteString("\n" + readme + " (start):\n" + cut(string(data), 2000, false))
			break
		}
	}
	return b.String()
}

// codeRanSince says a code attempt began after the decision that sent the
// work back to code (and merged the base into the branch).
func codeRanSince(t *store.Ticket, attempts []*store.Attempt) bool {
	var back time.Time
	for _, d := range t.Decisions {
		if d.Applied && d.Superseded == "" && sentBack(d, config.Code) && d.At.After(back) {
			back = d.At
		}
	}
	for _, a := range attempts {
		if a.Phase == config.Code && a.Started.After(back) {
			return true
		}
	}
	return false
}

// testOutput is the test run code reads, titled: the last code attempt's,
// else the red run of the accepted tests attempt.
func (e *Engine) testOutput(t *store.Ticket, attempts []*store.Attempt) (title, body string) {
	// the latest run of the tests says where the code stands now: the red
	// run of the tests phase is stale once code has run them
	for i := len(attempts) - 1; i >= 0; i-- {
		a := attempts[i]
		if a.Phase != config.Code || a.Interrupted {
			continue
		}
		for _, c := range a.Checks {
			if c.Name != CheckCodeGreen {
				continue
			}
			if c.Pass {
				return "Test output of the last attempt (the tests passed; the objections say what is still wrong)", "$ " + c.Command + "\n" + c.Output
			}
			return "Failing test output of the last attempt", "$ " + c.Command + "\n" + c.Output
		}
	}
	if a := acceptedAttempt(t, attempts, config.Tests); a != nil {
		for _, c := range a.Checks {
			if c.Name == CheckTestsRed {
				return "Failing test output (before any code)", "$ " + c.Command + "\n" + c.Output
			}
		}
	}
	return "Failing test output", ""
}

// ciLog is the latest failing CI output (from ci or an earlier cifix).
func (e *Engine) ciLog(attempts []*store.Attempt) string {
	for i := len(attempts) - 1; i >= 0; i-- {
		if attempts[i].Interrupted {
			continue // a run cut off says nothing of the code
		}
		for _, c := range attempts[i].Checks {
			if c.Name == "ci" && !c.Pass {
				return "$ " + c.Command + "\n" + c.Output
			}
		}
	}
	return ""
}

// diffFiles lists the files a unified diff changes, as its headers name
// them (DiffFileName); a rename as "old → new": its header names the new
// path alone, and a diff cut to fit must not hide that the old one went.
func diffFiles(diff string) []string {
	var files []string
	inHeader := false // between a "diff --git" line and the file's first hunk
	for line := range strings.Lines(diff) {
		line = strings.TrimRight(line, "\n")
		if name, ok := DiffFileName(line); ok {
			files = append(files, name)
			inHeader = true
			continue
		}
		if strings.HasPrefix(line, "@@") || strings.HasPrefix(line, "--- ") {
			inHeader = false
		}
		if old, ok := strings.CutPrefix(line, "rename from "); ok && inHeader && len(files) > 0 {
			files[len(files)-1] = old + " → " + files[len(files)-1]
		}
	}
	return files
}

// DiffFileName is the file a "diff --git a/x b/x" header names, as it names
// it: x, or "x" quoted where git quoted it (a newline, a quote, a control
// character in it); ok is false for any other line.
func DiffFileName(line string) (name string, ok bool) {
	rest, ok := strings.CutPrefix(line, "diff --git ")
	if !ok {
		return "", false
	}
	if i := strings.Index(rest, ` "b/`); strings.HasPrefix(rest, `"`) && i >= 0 {
		return `"` + rest[i+4:], true
	}
	// both sides name the same path but for a rename: split in the
	// middle, so a directory named "x b" is not taken for the b side
	if n := (len(rest) - 5) / 2; len(rest)%2 == 1 && n > 0 && strings.HasPrefix(rest, "a/") && rest[2+n:5+n] == " b/" && rest[2:2+n] == rest[5+n:] {
		return rest[5+n:], true
	}
	if i := strings.Index(rest, " b/"); i >= 0 {
		return rest[i+3:], true
	}
	return rest, true
}

// headOfList is lines joined, as many as fit in about n bytes (all when
// n <= 0 or they fit), and a last line saying how many were left out.
func headOfList(lines []string, n int) string {
	whole := strings.Join(lines, "\n")
	if n <= 0 || len(whole) <= n {
		return whole
	}
	var b strings.Builder
	for i, l := range lines {
		more := fmt.Sprintf("… and %d more files", len(lines)-i)
		if b.Len()+len(l)+1+len(more) > n {
			if i == 0 {
				return ""
			}
			b.WriteString(more)
			return b.String()
		}
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return strings.TrimSuffix(b.String(), "\n")
}
