package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/charmbracelet/x/ansi"

	"agent-tui/engine"
	"agent-tui/engine/config"
	"agent-tui/engine/tools"
	"agent-tui/store"
)

// The commands that only read: list, show and stats. They open the
// database read-only and let go of it before they print.

// cmdList prints every ticket, one line each (or JSON).
func cmdList(g globals, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("list", &g, stderr)
	asJSON := fs.Bool("json", false, "")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	var tickets []*store.Ticket
	en, err := openReading(g)
	if err != nil && !errors.Is(err, errNoDatabase) {
		return err
	}
	defer en.close()
	if en.st != nil {
		if tickets, err = en.st.Tickets(); err != nil {
			return err
		}
		if err := addCutOffCost(en.st, tickets); err != nil {
			return err
		}
		en.close() // before writing (see show)
	}
	if *asJSON {
		out := make([]engine.TicketSummary, 0, len(tickets))
		for _, t := range tickets {
			out = append(out, engine.Summarize(t))
		}
		return writeJSON(stdout, out)
	}
	buf := bufio.NewWriterSize(stdout, 64<<10)
	defer buf.Flush()
	tw := tabwriter.NewWriter(buf, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tSTATUS\tPHASE\tCOST\tTITLE")
	for _, t := range tickets {
		phase := engine.CurrentPhase(t)
		if phase == "" {
			phase = "-" // a column of its own for scripts that split the line
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Kind, statusText(t), phase, usd(t.CostUSD), printable(t.Title))
	}
	return tw.Flush()
}

// addCutOffCost adds to a ticket a stopped run left unfinished what its
// cut-off attempt cost so far, as the next run will (and show does): no
// engine runs while the command line holds the database. (Not only a
// running ticket's: one stopped for a write that failed, a full disk, has
// one too.)
func addCutOffCost(st *store.Store, tickets []*store.Ticket) error {
	return st.View(func(tx *store.Tx) error {
		for _, t := range tickets {
			if store.Finished(t.Status) {
				continue
			}
			a, err := tx.LastAttemptCost(t.ID)
			if err != nil {
				return err
			}
			if a != nil {
				t.CostUSD += engine.CutOffCost(a)
			}
		}
		return nil
	})
}

func writeJSON(w io.Writer, v any) error {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(roundFloats(b.Bytes()))
	return err
}

// roundFloats writes the JSON text js with every fractional number held to
// 12 significant digits: sums of dollars read 0.0248, not
// 0.024799999999999996. Numbers inside strings are left alone: only the
// decoder's number tokens, found where it read them, are rewritten.
func roundFloats(js []byte) []byte {
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var out []byte
	from := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		n, ok := tok.(json.Number)
		if !ok || !strings.ContainsAny(string(n), ".eE") || len(n) <= 14 {
			continue
		}
		f, err := n.Float64()
		if err != nil {
			continue
		}
		f, _ = strconv.ParseFloat(strconv.FormatFloat(f, 'g', 12, 64), 64)
		short, err := json.Marshal(f)
		if err != nil {
			continue
		}
		end := int(dec.InputOffset())
		out = append(append(out, js[from:end-len(n)]...), short...)
		from = end
	}
	if out == nil {
		return js
	}
	return append(out, js[from:]...)
}

func cmdShow(g globals, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("show", &g, stderr)
	asJSON := fs.Bool("json", false, "")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	id, err := oneID("show", pos)
	if err != nil {
		return err
	}
	if _, err := store.ParseID(id); err != nil {
		return usagef("%v", err)
	}
	en, err := openReading(g)
	if errors.Is(err, errNoDatabase) {
		return unknownTicket(id)
	}
	if err != nil {
		return err
	}
	defer en.close()
	t, err := resolveTicket(en.st, id)
	if err != nil {
		return err
	}
	attempts, err := en.st.Attempts(t.ID)
	if err != nil {
		return err
	}
	view := engine.DescribeStopped(t, attempts)
	view.Confinement = tools.Confinement(en.cfg.Sandbox)
	// an epic's children as list shows them: which one holds it up
	var children []string
	for _, cid := range t.Children {
		if c, err := en.st.Ticket(cid); err == nil {
			children = append(children, fmt.Sprintf("%s  %s  %s  %s", c.ID, statusText(c), usd(c.CostUSD), printable(engine.OneLine(c.Title, 80))))
			view.ChildrenCostUSD += c.CostUSD
		}
	}
	// closed before writing: output read slowly (a pager) must not keep
	// every other command out of the database
	en.close()
	if *asJSON {
		// the contract's attempt has a verdict object: one that ended
		// without a verdict (cut off, no model answered) did not pass,
		// and no one judged it (by "")
		for i := range view.Phases {
			for j, a := range view.Phases[i].Attempts {
				if a.Verdict == nil {
					view.Phases[i].Attempts[j].Verdict = &engine.VerdictView{Objections: []string{}}
				}
			}
		}
		return writeJSON(stdout, view)
	}
	printShow(stdout, view, statusText(t), children...)
	return nil
}

// objectionShown is as much of one objection as show prints; --json has
// all (a model's 60,000-character objection buried the rest).
const objectionShown = 1000

func clipShown(s, id string) string {
	if kept, more := engine.ClipBytes(s, objectionShown); more > 0 {
		return fmt.Sprintf("%s… (%d more bytes: show %s --json)", kept, more, id)
	}
	return s
}

// oneLineShown is s on one line of at most n bytes, saying where the rest
// is when it was cut.
func oneLineShown(s string, n int, id string) string {
	text := engine.OneLine(s, n)
	if len(strings.Join(strings.Fields(s), " ")) > n {
		text += " (all of it: show " + id + " --json)"
	}
	return text
}

// printableLines is printable for text of several lines: each line after
// the first follows sep (a line break and an indent, or a mark), and a tab
// is spaces, where printable would make both a replacement character.
func printableLines(s, sep string) string {
	lines := strings.Split(strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n"), "\n")
	for i, l := range lines {
		lines[i] = printable(strings.ReplaceAll(l, "\t", "    "))
	}
	return strings.Join(lines, sep)
}

// showBodyLines of a ticket's body are printed by show; --json has all.
const showBodyLines = 20

// children, when given, are an epic's children as list would show them.
func printShow(w io.Writer, v engine.TicketView, status string, children ...string) {
	fmt.Fprintf(w, "%s  %s  %s\n", v.ID, v.Kind, printable(v.Title))
	fmt.Fprintf(w, "status:  %s", status)
	if v.Reason != "" {
		fmt.Fprintf(w, " — %s", printable(v.Reason))
	}
	fmt.Fprintln(w)
	if v.Sensitive {
		fmt.Fprintln(w, "sensitive: yes (only models of providers with local = true see it)")
	}
	if v.Parent != "" {
		fmt.Fprintf(w, "parent:  %s\n", v.Parent)
	}
	switch {
	case len(children) > 0:
		fmt.Fprintln(w, "children:")
		for _, c := range children {
			fmt.Fprintf(w, "  %s\n", c)
		}
	case len(v.Children) > 0:
		fmt.Fprintf(w, "children: %s\n", strings.Join(v.Children, ", "))
	}
	if v.Branch != "" {
		// the worktree's path is the repository's, any name a user gave it
		fmt.Fprintf(w, "branch:  %s\n", printable(strings.TrimSpace(v.Branch+"  "+v.Worktree)))
	}
	if v.Merged != "" {
		fmt.Fprintf(w, "merged:  %s into %s\n", v.Merged, printable(v.BaseBranch))
	}
	if len(v.Conflicts) > 0 {
		fmt.Fprintf(w, "conflicts: %s (with %s, for code to resolve)\n", printable(strings.Join(v.Conflicts, ", ")), printable(v.BaseBranch))
	}
	if v.ChildrenCostUSD > 0 {
		fmt.Fprintf(w, "cost:    %s, %s with its children\n", usd(v.CostUSD), usd(v.CostUSD+v.ChildrenCostUSD))
	} else {
		fmt.Fprintf(w, "cost:    %s\n", usd(v.CostUSD))
	}
	if body := strings.TrimSpace(v.Body); body != "" {
		lines := strings.Split(body, "\n")
		fmt.Fprintln(w, "body:")
		for i, l := range lines {
			if i == showBodyLines {
				fmt.Fprintf(w, "  … %d more lines (show %s --json)\n", len(lines)-i, v.ID)
				break
			}
			fmt.Fprintf(w, "  %s\n", printable(strings.TrimRight(l, "\r")))
		}
	}
	if v.Confinement != "" {
		fmt.Fprintf(w, "commands: %s\n", v.Confinement)
	}
	rejected := rejectedAttempts(v)
	for _, p := range v.Phases {
		phaseStatus := strings.ReplaceAll(p.Status, "_", " ")
		if p.Status == store.PhaseRunning {
			phaseStatus = "interrupted" // as the ticket: no run holds it while show reads
		}
		fmt.Fprintf(w, "\n%-10s %s", p.Name, phaseStatus)
		if p.ByHuman {
			fmt.Fprint(w, " (approved by a person)") // whatever its last attempt's verdict
		} else if n := len(p.Attempts); p.Name == config.CI && p.Status == store.PhasePassed && n > 0 && p.Attempts[n-1].Verdict != nil && !p.Attempts[n-1].Verdict.Pass {
			fmt.Fprint(w, " (by cifix)") // its own run failed; cifix's passed
		}
		if p.CostUSD > 0 {
			fmt.Fprintf(w, "  %s", usd(p.CostUSD))
		}
		fmt.Fprintln(w)
		for _, a := range p.Attempts {
			verdict := "—"
			if a.Verdict != nil {
				verdict = "fail"
				if a.Verdict.Pass {
					verdict = "pass"
				}
			}
			switch {
			case a.Model == "" && len(a.Checks) == 0:
				fmt.Fprintf(w, "  #%d %-8s (%s)", a.N, verdict, printable(engine.NoAnswerLabel(a.Interrupted, a.Error, a.Fallbacks, len(a.Wasted) > 0)))
				if a.TokensIn+a.TokensOut > 0 || a.CostUSD > 0 {
					// calls cut off part-way are billed all the same
					fmt.Fprintf(w, " in %d out %d %s", a.TokensIn, a.TokensOut, usd(a.CostUSD))
					if a.TokensEstimated {
						fmt.Fprint(w, " (tokens estimated)")
					}
				}
			case a.Model == "":
				// a command's run (ci): no model, no tokens
				fmt.Fprintf(w, "  #%d %-8s (command)", a.N, verdict)
				for _, c := range a.Checks {
					fmt.Fprintf(w, " %s: %s", printable(c.Command), printable(engine.CheckOutcome(c)))
				}
			default:
				fmt.Fprintf(w, "  #%d %-8s %-12s in %d out %d %s", a.N, verdict, printable(a.Model), a.TokensIn, a.TokensOut, usd(a.CostUSD))
				if a.TokensEstimated {
					fmt.Fprint(w, " (tokens estimated)")
				}
			}
			if v := a.Validator; v != nil && (v.CostUSD > 0 || v.TokensIn+v.TokensOut > 0) {
				// the attempt's cost holds its validator's: said, or the
				// tokens before it would not add up to it
				estimated := ""
				if v.Estimated {
					estimated = ", tokens estimated"
				}
				fmt.Fprintf(w, " (its validator %s: in %d out %d %s%s)", printable(v.Model), v.TokensIn, v.TokensOut, usd(v.CostUSD), estimated)
			}
			if a.Interrupted {
				fmt.Fprint(w, " interrupted")
			}
			fmt.Fprintln(w)
			left := "skipped" // for the model that served it
			if a.Model == "" {
				left = "tried"
			}
			for _, f := range a.Fallbacks {
				fmt.Fprintf(w, "      %s %s (%s): %s\n", left, printable(f.Model), printable(f.Provider), printable(engine.OneLine(f.Reason, 300)))
			}
			if len(a.Served) > 1 {
				for _, sv := range a.Served {
					fmt.Fprintf(w, "      served by %s (%s): in %d out %d %s\n", printable(sv.Model), printable(sv.Provider), sv.TokensIn, sv.TokensOut, usd(sv.CostUSD))
				}
			}
			for _, c := range cutCalls(a.Wasted) {
				fmt.Fprintf(w, "      cut off: %s\n", c)
			}
			switch a.JudgedAfter {
			case engine.JudgedAfterRestart:
				fmt.Fprintln(w, "      judged after a restart: agent-tui stopped while the answer was judged; the saved answer was judged, not asked for again")
			case engine.JudgedAfterRetry:
				fmt.Fprintln(w, "      judged on a retry: its first judging had stopped (no validator answered readably, or its prompt failed); the saved answer was judged, not asked for again")
			}
			if len(a.Trimmed) > 0 {
				// what the attempt's own input lost to its budget
				fmt.Fprintf(w, "      trimmed: %s\n", printable(oneLineShown(strings.Join(a.Trimmed, ", "), 400, v.ID)))
			}
			if a.Validator != nil && len(a.Validator.Trimmed) > 0 {
				fmt.Fprintf(w, "      validator saw part: %s\n", printable(strings.Join(a.Validator.Trimmed, ", ")))
			}
			if v := a.Validator; v != nil && (v.Unreadable > 0 || len(v.Served) > 1) {
				var parts []string
				judged := a.Verdict != nil && a.Verdict.By == "validator"
				if v.Model != "" && judged {
					parts = append(parts, "judged by "+printable(v.Model))
				}
				if v.Unreadable > 0 {
					parts = append(parts, fmt.Sprintf("%d answer(s) that could not be read", v.Unreadable))
				}
				if !judged {
					parts = append(parts, "no verdict")
				}
				if len(v.Served) > 1 {
					var names []string
					for _, sv := range v.Served {
						names = append(names, printable(sv.Model))
					}
					parts = append(parts, "answered by "+strings.Join(names, ", "))
				}
				fmt.Fprintf(w, "      validator: %s\n", strings.Join(parts, "; "))
			}
			if a.Model != "" {
				for _, c := range a.Checks {
					mark := "✓"
					if !engine.CheckHeld(c) {
						mark = "✗"
					}
					fmt.Fprintf(w, "      %s check %s: %s: %s\n", mark, printable(c.Name), printableLines(c.Command, " ⏎ "), printable(engine.CheckOutcome(c)))
				}
			}
			if a.Verdict != nil {
				for _, o := range a.Verdict.Objections {
					fmt.Fprintf(w, "      - %s\n", printableLines(clipShown(o, v.ID), "\n        "))
				}
			}
			if a.Error != "" && (!a.Interrupted || a.Error == engine.EndNotRecorded) {
				// (a stop or a cancel is said by "interrupted" above)
				fmt.Fprintf(w, "      error: %s\n", printable(a.Error))
			}
			for _, reason := range rejected[phaseAttempt{p.Name, a.N}] {
				fmt.Fprintf(w, "      rejected by a person: %s\n", printable(engine.OneLine(reason, 300)))
			}
		}
	}
	if len(v.Stops) > 0 {
		fmt.Fprintf(w, "\nstops\n")
	}
	for _, s := range v.Stops {
		fmt.Fprintf(w, "  %s  %s at %s: %s\n", s.At.Local().Format("2006-01-02 15:04"), strings.ReplaceAll(s.Status, "_", " "), s.Phase, printable(oneLineShown(s.Reason, 300, v.ID)))
	}
	if len(v.Decisions) > 0 {
		fmt.Fprintf(w, "\ndecisions\n")
	}
	for _, d := range v.Decisions {
		fmt.Fprintf(w, "  %s  %s", d.At.Local().Format("2006-01-02 15:04"), engine.DecisionWords(d.Kind))
		if d.Phase != "" {
			fmt.Fprintf(w, " at %s", d.Phase)
		}
		for _, kv := range [][2]string{{"model", d.Model}, {"reason", d.Reason}, {"guidance", d.Guidance}, {"text", d.Text}} {
			if kv[1] != "" {
				fmt.Fprintf(w, "  %s: %s", kv[0], printable(oneLineShown(kv[1], 200, v.ID)))
			}
		}
		switch {
		case d.Superseded != "":
			fmt.Fprintf(w, "  (not carried out: %s)", printable(d.Superseded))
		case !d.Applied:
			fmt.Fprint(w, "  (waiting for the next run)")
		case d.Outcome != "":
			fmt.Fprintf(w, "  (%s)", printable(d.Outcome))
		}
		fmt.Fprintln(w)
	}
}

// statusText is a status as list and show print it. These commands hold
// the database, so no engine runs: a running ticket was cut off when
// agent-tui last stopped, and the next run takes it up again; a paused one
// moves only once resumed. A pause or resume not yet carried out shows as
// pending.
// cutCalls sums an attempt's calls answered only in part by model: what
// they cost is in the attempt's, though no answer came of them.
func cutCalls(wasted []store.Spend) []string {
	var order []string
	sums := map[string]*store.Spend{}
	calls := map[string]int{}
	for _, w := range wasted {
		k := w.Model + "\x00" + w.Provider
		if sums[k] == nil {
			order = append(order, k)
			sums[k] = &store.Spend{Model: w.Model, Provider: w.Provider}
		}
		sums[k].Add(w)
		calls[k]++
	}
	var lines []string
	for _, k := range order {
		s := sums[k]
		line := fmt.Sprintf("%s (%s), %d call", printable(s.Model), printable(s.Provider), calls[k])
		if calls[k] > 1 {
			line += "s"
		}
		line += fmt.Sprintf(": in %d out %d %s", s.TokensIn, s.TokensOut, usd(s.CostUSD))
		if s.Estimated {
			line += " (tokens estimated)"
		}
		lines = append(lines, line)
	}
	return lines
}

type phaseAttempt struct {
	phase string
	n     int
}

// rejectedAttempts finds the attempt each carried-out reject was about:
// the last of its phase that had ended by then (its verdict may say pass:
// the validator's, before the person's). Keyed by phase and number.
func rejectedAttempts(v engine.TicketView) map[phaseAttempt][]string {
	out := map[phaseAttempt][]string{}
	for _, d := range v.Decisions {
		if d.Kind != store.DecisionReject || !d.Applied || d.Superseded != "" {
			continue
		}
		for _, p := range v.Phases {
			if p.Name != d.Phase {
				continue
			}
			n := 0
			for _, a := range p.Attempts {
				if a.Ended != nil && !a.Ended.After(d.At) {
					n = a.N
				}
			}
			if n > 0 {
				k := phaseAttempt{p.Name, n}
				out[k] = append(out[k], d.Reason)
			}
		}
	}
	return out
}

func statusText(t *store.Ticket) string {
	// the command line holds the database: no engine runs
	return engine.StatusWords(t, true, false)
}

func cmdStats(g globals, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("stats", &g, stderr)
	asJSON := fs.Bool("json", false, "")
	if err := parseNoArgs(fs, args); err != nil {
		return err
	}
	en, err := openReading(g)
	if err != nil && !errors.Is(err, errNoDatabase) {
		return err
	}
	defer en.close()
	s, err := engine.ComputeStats(en.st, en.cfg)
	if err != nil {
		return err
	}
	en.close() // before writing (see show)
	if *asJSON {
		return writeJSON(stdout, s)
	}
	totals := [][]string{{"total spend", usd(s.TotalUSD)}}
	if s.TopTierModel != "" {
		totals = append(totals, []string{"same tokens on " + printable(s.TopTierModel), usd(s.TopTierUSD)})
	}
	spend := [][]string{{"PHASE", "MODEL", "ATTEMPTS", "TOKENS IN", "TOKENS OUT", "SPEND"}}
	for _, r := range s.Spend {
		spend = append(spend, []string{r.Phase, printable(r.Model), strconv.Itoa(r.Attempts), strconv.Itoa(r.TokensIn), strconv.Itoa(r.TokensOut), usd(r.CostUSD)})
	}
	rates := [][]string{{"PHASE", "ATTEMPT", "PASSED", "JUDGED", "PASS RATE"}}
	phases := make([]string, 0, len(s.PassRate))
	for p := range s.PassRate {
		phases = append(phases, p)
	}
	sort.Strings(phases)
	for _, p := range phases {
		for _, r := range s.PassRate[p] {
			rates = append(rates, []string{p, fmt.Sprintf("#%d", r.Attempt), strconv.Itoa(r.Passed), strconv.Itoa(r.Judged), fmt.Sprintf("%.0f%%", 100*r.Rate)})
		}
	}
	return writeTables(stdout, totals, spend, rates)
}

// writeTables writes each table's columns aligned by the cells they take
// on a terminal (a model named in CJK takes two a character, which
// tabwriter counts as one), two spaces apart, a blank line between tables.
func writeTables(w io.Writer, tables ...[][]string) error {
	var b strings.Builder
	for i, rows := range tables {
		if i > 0 {
			b.WriteByte('\n')
		}
		var widths []int
		for _, row := range rows {
			for c, cell := range row {
				if c == len(widths) {
					widths = append(widths, 0)
				}
				widths[c] = max(widths[c], ansi.StringWidth(cell))
			}
		}
		for _, row := range rows {
			for c, cell := range row {
				b.WriteString(cell)
				if c < len(row)-1 {
					b.WriteString(strings.Repeat(" ", widths[c]-ansi.StringWidth(cell)+2))
				}
			}
			b.WriteByte('\n')
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// usd is an amount as the command line prints it, to a hundredth of a
// cent; a cheap call below that is not said to have cost nothing.
func usd(v float64) string {
	if v > 0 && v < 0.00005 {
		return "<$0.0001"
	}
	return fmt.Sprintf("$%.4f", v)
}
