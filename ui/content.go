package ui

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"agent-tui/engine"
	"agent-tui/engine/config"
	"agent-tui/store"
)

// contentKey is what a built tab content depends on; a snapshot of the
// ticket is a new pointer, so a changed ticket is a new key.
type contentKey struct {
	ticket  *store.Ticket
	version int // ticketData.version
	width   int
	docs    int // docCache.version, for the documents tab
}

// contentCache keeps the last built lines of each text tab; finished
// content is built once, not per frame.
type contentCache struct {
	keys  [tabCount]contentKey
	lines [tabCount][]string
}

// docItem is one document of the Documents tab.
type docItem struct {
	title string
	key   docKey
	md    string
}

// docItems lists the ticket body and each phase's accepted deliverable.
func docItems(t *store.Ticket, td *ticketData, width int) []docItem {
	items := []docItem{{
		title: "ticket",
		key:   docKey{t.ID, 0, width},
		md:    "# " + t.ID + " · " + t.Title + "\n\n" + t.Body,
	}}
	if td == nil {
		return items
	}
	for _, ps := range t.Phases {
		a := td.accepted(ps)
		if a == nil || strings.TrimSpace(a.Deliverable) == "" {
			if p := engine.PendingDecision(t); p != nil && p.Kind == store.DecisionEditApprove && ps.Name == t.Phase {
				items = append(items, docItem{title: ps.Name + " · your edit · approved, waiting for a run", key: docKey{t.ID, editSeq(p.Text), width}, md: p.Text})
			} else if draft := waitingDraft(t, td, ps); draft != nil {
				// what `e` opens: the human judges it here, not in the raw stream
				title := fmt.Sprintf("%s · attempt %d · %s · not accepted (e edits it)", ps.Name, draft.N, draft.Model)
				items = append(items, docItem{title: title, key: docKey{t.ID, draft.Seq, width}, md: docText(ps.Name, draft)})
			}
			continue
		}
		title := fmt.Sprintf("%s · attempt %d · %s", ps.Name, a.N, a.Model)
		if a.Verdict != nil && a.Verdict.By != "" {
			title += " · accepted by " + a.Verdict.By
		}
		items = append(items, docItem{title: title, key: docKey{t.ID, a.Seq, width}, md: docText(ps.Name, a)})
	}
	return items
}

// waitingDraft is the latest deliverable of the phase a ticket waits at
// for a human, when none was accepted; nil otherwise.
func waitingDraft(t *store.Ticket, td *ticketData, ps store.PhaseState) *store.Attempt {
	if ps.Name != t.Phase || (t.Status != store.StatusAwaiting && t.Status != store.StatusNeedsHuman) {
		return nil
	}
	for i := len(td.attempts) - 1; i >= 0; i-- {
		if a := td.attempts[i]; a.Phase == ps.Name && strings.TrimSpace(a.Deliverable) != "" {
			return a
		}
	}
	return nil
}

// docText is an attempt's deliverable as a document: a review's verdict,
// which is JSON for the engine, reads as prose.
func docText(phase string, a *store.Attempt) string {
	if phase == config.Split {
		return splitText(a.Deliverable)
	}
	if phase != config.Review || a.Verdict == nil {
		return a.Deliverable
	}
	var b strings.Builder
	switch {
	case len(a.Verdict.Objections) == 0 && a.Verdict.Pass:
		b.WriteString("The review **passed**, with no objections.\n")
	case len(a.Verdict.Objections) == 0:
		b.WriteString("The review **did not pass**.\n")
	case a.Verdict.Pass:
		b.WriteString("The review **passed**, noting:\n\n")
	default:
		b.WriteString("The review **did not pass**. Objections:\n\n")
	}
	for _, o := range a.Verdict.Objections {
		// each line indented into its item: a fence or a heading an
		// objection opens ends with it, not swallowing the text after
		o = strings.TrimRight(strings.ReplaceAll(o, "\r\n", "\n"), "\n")
		b.WriteString("- " + strings.ReplaceAll(o, "\n", "\n  ") + "\n")
	}
	// prose around the verdict is the reviewer's own words: keep it
	if d := strings.TrimSpace(a.Deliverable); !strings.HasPrefix(d, "{") || !strings.HasSuffix(d, "}") {
		b.WriteString("\n" + a.Deliverable)
	}
	return b.String()
}

// splitText shows a split's answer as the tickets it makes, each body as
// the markdown it is; an answer that cannot be read is shown as it is.
func splitText(answer string) string {
	tickets, err := engine.ParseSplit(answer)
	if err != nil {
		return answer
	}
	var b strings.Builder
	fmt.Fprintf(&b, "The split makes %d tickets:\n", len(tickets))
	for i, t := range tickets {
		fmt.Fprintf(&b, "\n## %d. %s: %s\n\n%s\n", i+1, t.Kind, t.Title, strings.TrimSpace(t.Body))
	}
	return b.String()
}

func docsLines(st *styles, items []docItem, dc *docCache, w int) []string {
	var out []string
	for i, it := range items {
		if i > 0 {
			out = append(out, "")
		}
		head := "── " + oneLine(it.title) + " "
		if room := w - ansi.StringWidth(head); room >= 0 {
			head += strings.Repeat("─", room)
		} else {
			head = ansi.Truncate(strings.TrimSuffix(head, " "), w, "…") // a cut title says so
		}
		out = append(out, st.header.Render(head))
		if r, ok := dc.done[it.key]; ok {
			out = append(out, r...)
		} else {
			out = append(out, st.dim.Render("rendering…"))
		}
	}
	return out
}

// historyLines lists every attempt with its verdict, and the human
// decisions between them.
func historyLines(st *styles, t *store.Ticket, td *ticketData, simulated bool, w int) []string {
	var out []string
	// add wraps s under indent; continuation rows hang under the text
	add := func(indent, s string, style func(...string) string) {
		hang := strings.Repeat(" ", ansi.StringWidth(indent))
		for i, r := range wrapRows(prose(s), max(w-len(hang), 10)) {
			if style != nil {
				r = style(r)
			}
			if i == 0 {
				out = append(out, indent+r)
			} else {
				out = append(out, hang+r)
			}
		}
	}
	if td == nil || !td.loaded {
		return td.notLoaded(st, w)
	}
	if len(td.attempts) == 0 {
		out = append(out, st.dim.Render("No attempt yet."))
	}
	passS, failS, dimS := st.pass.Render, st.fail.Render, st.dim.Render
	// a person's decisions come between the attempts, when they were
	// taken (as `agent-tui show` names them: what at which phase, then each
	// detail named, so guidance is not taken for a model); those not yet
	// carried out, last
	decision := func(d store.Decision) {
		s := "decision · " + engine.DecisionWords(d.Kind)
		if d.Phase != "" {
			s += " at " + d.Phase
		}
		if !d.At.IsZero() {
			s += " · " + d.At.Local().Format("2006-01-02 15:04")
		}
		switch {
		case d.Superseded != "":
			s += " · not carried out: " + d.Superseded
		case !d.Applied:
			s += " · pending"
		}
		out = append(out, st.bold.Render(ansi.Truncate(oneLine(s), w, "…")))
		if d.Superseded == "" && d.Applied && d.Outcome != "" {
			// what became of the person's own work: read whole (a stash's name)
			add("  ", d.Outcome, nil)
		}
		for _, kv := range [][2]string{{"model", d.Model}, {"reason", d.Reason}, {"guidance", d.Guidance}} {
			if kv[1] != "" {
				add("  ", kv[0]+": "+engine.OneLine(kv[1], 600), nil)
			}
		}
		out = append(out, "")
	}
	// the engine's stops too (a merge blocked by a dirty checkout): the
	// ticket's reason keeps only the latest
	stops := t.Stops
	stop := func(s store.Stop) {
		out = append(out, st.fail.Bold(true).Render(ansi.Truncate(oneLine(fmt.Sprintf("stop · %s at %s · %s", strings.ReplaceAll(s.Status, "_", " "), s.Phase, s.At.Local().Format("2006-01-02 15:04"))), w, "…")))
		add("  ", engine.OneLine(s.Reason, 600), nil)
		out = append(out, "")
	}
	var timed, rest []store.Decision
	for _, d := range t.Decisions {
		if d.Applied && !d.At.IsZero() {
			timed = append(timed, d)
		} else {
			rest = append(rest, d)
		}
	}
	// before: decisions and stops up to a moment, in the order they came
	before := func(at time.Time, all bool) {
		for {
			switch {
			case len(timed) > 0 && (all || timed[0].At.Before(at)) && (len(stops) == 0 || !stops[0].At.Before(timed[0].At)):
				decision(timed[0])
				timed = timed[1:]
			case len(stops) > 0 && (all || stops[0].At.Before(at)):
				stop(stops[0])
				stops = stops[1:]
			default:
				return
			}
		}
	}
	for _, a := range td.attempts {
		before(a.Started, false)
		command := commandRun(a) // nothing to count but its checks
		model, none := a.Model, noModelAnswered(a)
		// ended with no model's answer taken, though calls may be counted
		unanswered := model == "" && a.Done() && !command
		switch {
		case command:
			model = "command"
		case unanswered:
			model = engine.NoAnswerLabel(a.Interrupted, a.Error, a.Fallbacks, len(a.Wasted) > 0)
		case model == "":
			model = "…"
		}
		if a.Provider != "" && a.Provider != a.Model {
			model += " via " + a.Provider
		}
		if simulated && a.Provider != "human" && !command && !unanswered {
			model += " (simulated)"
		}
		out = append(out, st.bold.Render(ansi.Truncate(oneLine(fmt.Sprintf("%s · attempt %d · %s", a.Phase, a.N, model)), w, "…")))
		if !command && !none && a.Provider != "human" { // a human's text costs no tokens
			line := fmt.Sprintf("%s · context %s", money(a.CostUSD), tokens(a.ContextTokens))
			if counts := tokenCounts(a); counts != "" {
				line = counts + " · " + line
			}
			add("  ", line, dimS)
		}
		left := "fallback from" // to the model that served it
		if a.Model == "" {
			left = "tried"
		}
		for _, f := range a.Fallbacks {
			add("  ", fmt.Sprintf("%s %s (%s): %s", left, f.Model, f.Provider, f.Reason), nil)
		}
		if len(a.Trimmed) > 0 {
			add("  ", "trimmed: "+strings.Join(a.Trimmed, ", "), dimS)
		}
		if a.Validator != nil && len(a.Validator.Trimmed) > 0 {
			add("  ", "validator saw part: "+strings.Join(a.Validator.Trimmed, ", "), dimS)
		}
		switch a.JudgedAfter {
		case engine.JudgedAfterRestart:
			add("  ", "judged after a restart: the saved answer, not asked for again", dimS)
		case engine.JudgedAfterRetry:
			add("  ", "judged on a retry after its first judging stopped: the saved answer, not asked for again", dimS)
		}
		switch v := a.Verdict; {
		case v == nil && !a.Done():
			add("  ", "running…", nil)
		case v == nil:
		case v.Pass:
			add("  ", "✓ pass"+by(v.By), passS)
		default:
			add("  ", "✗ objections"+by(v.By)+":", failS)
			for _, o := range v.Objections {
				add("    - ", clipObjection(o), nil)
			}
		}
		if a.Validator != nil && a.Validator.Model != "" {
			line := fmt.Sprintf("validator %s · %s", a.Validator.Model, money(a.Validator.CostUSD))
			if a.Validator.Estimated {
				line += " · tokens estimated"
			}
			add("  ", line, dimS)
		}
		for _, c := range a.Checks {
			mark, s := "✓", passS
			if !engine.CheckHeld(c) {
				mark, s = "✗", failS
			}
			add("  ", fmt.Sprintf("%s check %s: %s · %s", mark, c.Name, engine.CheckOutcome(c), c.Command), s)
		}
		if a.Error != "" {
			add("  ", "error: "+a.Error, failS)
		}
		if a.Interrupted {
			add("  ", "interrupted", failS)
		}
		out = append(out, "")
	}
	before(time.Time{}, true)
	for _, d := range rest {
		decision(d)
	}
	return out
}

func by(who string) string {
	if who == "" {
		return ""
	}
	return " (" + who + ")"
}

// ciPhases are the phases whose checks the CI tab shows.
var ciPhases = []string{config.CI, config.CIFix, config.Code, config.Tests}

// ciLines shows the checks of the latest attempt of each CI-ish phase.
func ciLines(st *styles, t *store.Ticket, td *ticketData, w int) []string {
	if t.Kind == engine.KindEpic {
		// an epic's work, and so its checks, are its children's
		return []string{st.dim.Render("An epic runs no checks of its own: each child ticket has its own CI tab.")}
	}
	if td == nil || !td.loaded {
		return td.notLoaded(st, w)
	}
	// the latest run first: a red CI run that cifix made green is not
	// the first thing read
	var lasts []*store.Attempt
	for _, phase := range ciPhases {
		for i := len(td.attempts) - 1; i >= 0; i-- {
			if a := td.attempts[i]; a.Phase == phase && len(a.Checks) > 0 {
				lasts = append(lasts, a)
				break
			}
		}
	}
	slices.SortStableFunc(lasts, func(a, b *store.Attempt) int { return b.Started.Compare(a.Started) })
	var out []string
	for _, last := range lasts {
		phase := last.Phase
		for _, c := range last.Checks {
			mark, s := "✓", st.pass
			if !engine.CheckHeld(c) {
				mark, s = "✗", st.fail
			}
			head := fmt.Sprintf("%s %s · %s attempt %d · %s", mark, c.Name, phase, last.N, engine.CheckOutcome(c))
			out = append(out, s.Bold(true).Render(ansi.Truncate(oneLine(head), w, "…")))
			// a command's lines and wraps hang under its first
			for i, r := range wrapRows(sanitize(c.Command), max(w-2, 1)) {
				lead := "  "
				if i == 0 {
					lead = "$ "
				}
				out = append(out, st.dim.Render(lead+r))
			}
			// all that is kept (its last 16 KB, after a line saying how
			// much more the run wrote): the lines are built once a change
			for _, l := range strings.Split(strings.TrimRight(sanitize(ciTail(c.Output)), "\n"), "\n") {
				out = append(out, wrapRows(l, w)...)
			}
			out = append(out, "")
		}
	}
	if len(out) == 0 {
		return []string{st.dim.Render("No checks have run yet.")}
	}
	return out
}

// ciTail is a check's kept output from its first whole line: a cut run's
// kept tail starts where the cut fell, mid-line.
func ciTail(out string) string {
	note, rest, ok := strings.Cut(out, "\n")
	if !ok || !strings.HasPrefix(note, "[output truncated: ") {
		return out
	}
	if i := strings.IndexByte(rest, '\n'); i >= 0 {
		return note + "\n" + rest[i+1:]
	}
	return out
}

// editSeq keys a human's pending edit in the render cache: negative, so
// never an attempt's seq, and new for each text (an edit can be replaced).
func editSeq(text string) int {
	h := fnv.New32a()
	h.Write([]byte(text))
	return -1 - int(h.Sum32()>>1)
}

// objectionShown is as much of one objection as History shows: a model's
// 60,000-character objection took most of the tab. show --json has all.
const objectionShown = 2000

func clipObjection(o string) string {
	if kept, more := engine.ClipBytes(o, objectionShown); more > 0 {
		return fmt.Sprintf("%s… (%d more bytes: agent-tui show --json has them)", kept, more)
	}
	return o
}

// tokenCounts is an attempt's "in / out" tokens, marked when no usage came
// back (a cut-off call, a provider without it) and they were guessed from
// the text, as show says; "" while its first call is under way (counts
// come with a call's end: "0 in / 0 out" beside its cost so far would
// contradict it).
func tokenCounts(a *store.Attempt) string {
	if !a.Done() && a.TokensIn == 0 && a.TokensOut == 0 {
		return ""
	}
	counts := tokens(a.TokensIn) + " in / " + tokens(a.TokensOut) + " out"
	if a.TokensEstimated {
		counts = "~" + counts + " (estimated)"
	}
	return counts
}
