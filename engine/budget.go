package engine

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/sashabaranov/go-openai"

	"agent-tui/engine/llm"
)

// section is one piece of a session's input. Higher prio survives trimming
// longer; tail keeps the end of the text (logs) instead of the start.
type section struct {
	title string
	body  string
	prio  int
	tail  bool
	// head: a cut keeping the end keeps the first line too (the "$ command"
	// a log's end is the output of)
	head  bool
	vital bool // the session means nothing without it (a review's diff)
	// last: trimmed only after every other section, small ones included
	// (the names of the frozen test files: a change to one fails code)
	last bool
	// dropped: assemble cut it to nothing (set on the caller's sections)
	dropped bool
	// fit, when set, makes the body within about n bytes instead of a cut
	// of it (a list whose every item must keep its head)
	fit func(n int) string
	// more says where the rest of a fenced body is when it is cut (a
	// diff's): a file's block says it itself
	more string
	// share, when set, is the most of an over-full budget the section may
	// take (a fraction): cut to it (with fit) before anything else is
	// trimmed, so a list that grows with each attempt (objections, the
	// files of a vast branch) cannot crowd out what it is read with
	share float64
}

// Priorities: feedback is never trimmed before the rest; file bodies and
// older deliverables go first.
const (
	prioFeedback = 100
	prioTicket   = 90
	prioPrimary  = 80
	prioOutput   = 70
	prioCriteria = 60
	prioFiles    = 40
	prioPrevious = 30
	prioOverview = 20
)

// keptOf is how much of a section assemble kept: none of one it left out
// (the note sent in its place is not a part of it).
func keptOf(s section) int {
	if s.dropped {
		return 0
	}
	return llm.EstimateTokens(s.body)
}

// assemble joins sections into one user message within budget tokens and
// says what it trimmed.
func assemble(header string, secs []section, budget int) (string, int, []string) {
	total := llm.EstimateTokens(header)
	for _, s := range secs {
		total += llm.EstimateTokens(s.title) + llm.EstimateTokens(s.body) + 2
	}
	var trimmed []string
	if budget > 0 && total > budget {
		for i := range secs {
			s := &secs[i]
			limit := int(s.share * float64(budget))
			have := llm.EstimateTokens(s.body)
			if s.share <= 0 || have <= limit {
				continue
			}
			var body string
			if s.fit != nil {
				body = s.fit(limit * 4)
			} else {
				body = cutSection(*s, limit*4)
			}
			if now := llm.EstimateTokens(body); body != "" && now < have {
				s.body, total = body, total-(have-now)
				trimmed = append(trimmed, fmt.Sprintf("%s: %d → %d tokens (its share of the budget)", s.title, have, now))
			}
		}
	}
	if budget > 0 && total > budget {
		order := make([]int, len(secs))
		for i := range order {
			order[i] = i
		}
		// a small section goes after every larger one, whatever its
		// priority: dropping a diagnosis of 20 tokens does nothing for a
		// diff 200,000 over, and leaves the review without its reference
		tier := func(i int) int {
			switch {
			case secs[i].last:
				return 2
			case llm.EstimateTokens(secs[i].body) < smallSection:
				return 1
			}
			return 0
		}
		sort.SliceStable(order, func(a, b int) bool {
			if ta, tb := tier(order[a]), tier(order[b]); ta != tb {
				return ta < tb
			}
			return secs[order[a]].prio < secs[order[b]].prio
		})
		markTokens := llm.EstimateTokens(trimMark)
		for _, i := range order {
			if total <= budget {
				break
			}
			s := &secs[i]
			have := llm.EstimateTokens(s.body)
			if have == 0 {
				continue
			}
			// the marker a cut adds is paid for here, not by the next,
			// more important section
			keep := have - (total - budget) - markTokens
			body := ""
			switch {
			case keep > 0 && s.fit != nil:
				body = s.fit(keep * 4)
			case keep > 0:
				body = cutSection(*s, keep*4)
			}
			dropped := body == ""
			if dropped {
				// gone, but not silently: the model knows it was there
				body = fmt.Sprintf("[all %d tokens of this were trimmed to fit the context budget]", have)
			}
			now := llm.EstimateTokens(body)
			if now >= have {
				continue // nothing gained: it stays whole
			}
			s.body, s.dropped = body, dropped
			total -= have - now
			if s.dropped {
				// what was sent in its place is a note, not a part of it
				trimmed = append(trimmed, fmt.Sprintf("%s: %d → 0 tokens (left out)", s.title, have))
			} else {
				trimmed = append(trimmed, fmt.Sprintf("%s: %d → %d tokens", s.title, have, now))
			}
		}
	}
	var b strings.Builder
	b.WriteString(header)
	for _, s := range secs {
		if s.body == "" {
			continue
		}
		b.WriteString("\n\n## ")
		b.WriteString(s.title)
		b.WriteString("\n\n")
		b.WriteString(s.body)
	}
	return b.String(), total, trimmed
}

// smallSection is the size under which a section is trimmed only after
// every larger one.
const smallSection = 256

const trimMark = "\n[… trimmed to fit the context budget …]\n"

// cut keeps about n bytes of s, from the start or the end, on a line
// boundary where one is near.
func cut(s string, n int, tail bool) string {
	if n <= 0 {
		return ""
	}
	if len(s) <= n {
		return s
	}
	if tail {
		part := s[len(s)-n:]
		if i := strings.IndexByte(part, '\n'); i >= 0 && i < n/4 {
			part = part[i+1:]
		}
		return trimMark + part
	}
	part := s[:n]
	if i := strings.LastIndexByte(part, '\n'); i > n*3/4 {
		part = part[:i]
	}
	return part + trimMark
}

// cutSection is cut for a section's body. A body with code fences keeps
// them closed (what follows it must not read as inside the block), and
// its note says how to read what was cut: a file shown in a block, from
// the line its part ends at.
func cutSection(s section, n int) string {
	if s.tail && s.head {
		if i := strings.IndexByte(s.body, '\n'); i >= 0 && i < n/2 {
			rest := s
			rest.body, rest.head = s.body[i+1:], false
			if part := cutSection(rest, n-i-1); part != "" {
				return s.body[:i+1] + part
			}
		}
	}
	if !strings.Contains(s.body, "```") {
		return cut(s.body, n, s.tail)
	}
	// room for a closing fence and the note's hint
	const reserve = 300
	part := cut(s.body, n-reserve, s.tail)
	if part == "" {
		return ""
	}
	if s.tail {
		if kept := strings.TrimPrefix(part, trimMark); openFence(kept) {
			return trimMark + "```\n" + kept
		}
		return part
	}
	kept := strings.TrimSuffix(part, trimMark)
	at := len(kept) // where the cut is in the body
	var hints []string
	if openFence(kept) {
		// (else its last line is cut: read it again)
		whole := strings.HasSuffix(kept, "\n") || s.body[at] == '\n'
		kept = strings.TrimRight(kept, "\n")
		if name, line := openFile(kept); name != "" {
			if !whole {
				line--
			}
			hints = append(hints, fmt.Sprintf("read_file reads the rest of %s from offset=%d", name, line))
		}
		kept += "\n```"
	}
	// files whose blocks were cut whole
	var rest []string
	for line := range strings.Lines(s.body[at:]) {
		if name, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), "### "); ok {
			rest = append(rest, name)
		}
	}
	if len(rest) > 0 {
		hints = append(hints, "read_file reads the files not shown: "+strings.Join(rest[:min(len(rest), 10)], ", "))
	}
	if len(hints) == 0 && s.more != "" {
		hints = append(hints, s.more)
	}
	if len(hints) == 0 {
		return kept + trimMark
	}
	return kept + "\n[… trimmed to fit the context budget; " + strings.Join(hints, "; ") + " …]\n"
}

// openFence says whether s leaves a code block open: an odd number of its
// lines start a fence.
func openFence(s string) bool {
	n := 0
	for line := range strings.Lines(s) {
		if strings.HasPrefix(strings.TrimLeft(line, " "), "```") {
			n++
		}
	}
	return n%2 == 1
}

// openFile is the file whose block s ends inside, as fileBodies shows it
// ("### name", a blank line, a fence), and the first of its lines not in s.
func openFile(s string) (string, int) {
	fence := strings.LastIndex(s, "\n```")
	if fence < 0 {
		return "", 0
	}
	before := strings.TrimRight(s[:fence], "\n")
	h := strings.LastIndexByte(before, '\n')
	name, ok := strings.CutPrefix(before[h+1:], "### ")
	if !ok {
		return "", 0
	}
	shown := s[fence+1:]
	return name, strings.Count(shown, "\n") + 1
}

// numbered lists items 1., 2., ... under intro, a multi-line item
// indented under its number.
func numbered(intro string, items []string) string {
	var b strings.Builder
	b.WriteString(intro)
	for i, it := range items {
		fmt.Fprintf(&b, "%d. %s\n", i+1, strings.ReplaceAll(it, "\n", "\n   "))
	}
	return b.String()
}

// minItemHead is the least of an item fitList keeps: less says nothing.
const minItemHead = 160

// Human words in a list of objections start with these (feedbackFor).
const (
	rejectPrefix   = "A human rejected an earlier attempt: "
	guidancePrefix = "Guidance from a human: "
)

// fitList is numbered(intro, items) within about n bytes. The newest item
// (what the last attempt failed on) and the newest human words stay whole,
// the other items sharing what is left (short ones whole, long ones an
// equal share, each at least its head); when their heads do not fit, the
// oldest of them go, said. Only when even the kept-whole items alone do
// not fit are they cut, the others keeping their heads as long as they can.
func fitList(intro string, items []string, n int) string {
	const itemMark = " […]"
	if len(items) == 0 {
		return ""
	}
	clip := func(it string, l int) string {
		if l >= len(it) {
			return it
		}
		return strings.ToValidUTF8(it[:max(l, 0)], "") + itemMark
	}
	protect := map[int]bool{len(items) - 1: true}
	for i := len(items) - 1; i >= 0; i-- {
		if strings.HasPrefix(items[i], guidancePrefix) || strings.HasPrefix(items[i], rejectPrefix) {
			protect[i] = true
			break
		}
	}
	heads := func(lens []int) (sum int) {
		for _, l := range lens {
			sum += min(l, minItemHead)
		}
		return sum
	}
	// try lays out the list without its drop oldest unprotected items:
	// the others get what is left after the protected ones get want of
	// it (whole or their heads), or ok is false
	try := func(drop int, whole bool) (string, bool) {
		var kept []string
		var prot []bool
		skipped := 0
		for i, it := range items {
			if !protect[i] && skipped < drop {
				skipped++
				continue
			}
			kept, prot = append(kept, it), append(prot, protect[i])
		}
		head := intro
		if drop > 0 {
			head += fmt.Sprintf("[%d earlier items trimmed to fit the context budget]\n", drop)
		}
		room := n - len(head)
		var pLens, oLens []int
		for i, it := range kept {
			// the number, the mark of a cut and a multi-line item's indent
			room -= len(fmt.Sprintf("%d. \n", i+1)) + len(itemMark) + 3*strings.Count(it, "\n")
			if prot[i] {
				pLens = append(pLens, len(it))
			} else {
				oLens = append(oLens, len(it))
			}
		}
		var pLim, oLim []int
		switch {
		case whole && room-sum(pLens) >= heads(oLens):
			pLim, oLim = pLens, fairShares(oLens, room-sum(pLens))
			for i, l := range oLens {
				if oLim[i] < min(l, minItemHead) {
					return "", false
				}
			}
		case !whole && room-heads(oLens) >= heads(pLens):
			oLim = make([]int, len(oLens))
			for i, l := range oLens {
				oLim[i] = min(l, minItemHead)
			}
			pLim = fairShares(pLens, room-heads(oLens))
		default:
			return "", false
		}
		out := make([]string, len(kept))
		for i, it := range kept {
			var l int
			if prot[i] {
				l, pLim = pLim[0], pLim[1:]
			} else {
				l, oLim = oLim[0], oLim[1:]
			}
			out[i] = clip(it, l)
		}
		return numbered(head, out), true
	}
	others := len(items) - len(protect)
	for _, whole := range []bool{true, false} {
		for drop := 0; drop <= others; drop++ {
			if s, ok := try(drop, whole); ok {
				return s
			}
		}
	}
	// not even the protected items' heads fit: they share what there is
	var kept []string
	for i, it := range items {
		if protect[i] {
			kept = append(kept, it)
		}
	}
	head := intro + fmt.Sprintf("[%d earlier items trimmed to fit the context budget]\n", others)
	room := n - len(head) - len(kept)*(len("1. \n")+len(itemMark))
	lim := fairShares(lengths(kept), max(room, 0))
	for i, it := range kept {
		kept[i] = clip(it, lim[i])
	}
	return numbered(head, kept)
}

func sum(xs []int) (s int) {
	for _, x := range xs {
		s += x
	}
	return s
}

func lengths(items []string) []int {
	out := make([]int, len(items))
	for i, it := range items {
		out[i] = len(it)
	}
	return out
}

// tailBytes keeps at most n bytes from the end of s.
func tailBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// fromRuneStart drops the bytes a cut left of a character at the start of s.
func fromRuneStart(s string) string {
	for len(s) > 0 && !utf8.RuneStart(s[0]) {
		s = s[1:]
	}
	return s
}

// dedupe keeps the first of equal strings, in order; strings that differ
// only in the durations they quote (a test run's "ok 0.012s") are equal.
func dedupe(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range in {
		s = strings.TrimSpace(s)
		k := durations.ReplaceAllString(s, "#")
		if s == "" || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, s)
	}
	return out
}

var durations = regexp.MustCompile(`\b\d+(\.\d+)?(ns|µs|us|ms|s|m|h)\b`)

// acceptanceCriteria pulls the "Acceptance criteria" section out of a
// functional spec, or returns "" when there is none.
func acceptanceCriteria(spec string) string {
	lines := strings.Split(spec, "\n")
	start := -1
	for i, l := range lines {
		h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(l, "#")))
		if strings.HasPrefix(l, "#") && strings.HasPrefix(h, "acceptance criteria") {
			start = i + 1
			continue
		}
		if start >= 0 && strings.HasPrefix(l, "#") {
			return strings.TrimSpace(strings.Join(lines[start:i], "\n"))
		}
	}
	if start >= 0 {
		return strings.TrimSpace(strings.Join(lines[start:], "\n"))
	}
	return ""
}

// minToolRoom is what tool results may take of a call at least, up to a
// third of the room: the assembled input of a phase with tools leaves it
// free, so later calls stay within the budget as the first does. A model
// that cannot see what its tools returned can only call them again.
const minToolRoom = 2000

// toolRoomOf is the part of room kept for tool results.
func toolRoomOf(room int) int { return min(minToolRoom, room/3) }

// fitToolResults keeps a conversation's input within budget tokens. The
// first two messages (the assembled input) are fitted already; what the
// tool rounds added is cut, in this order: the older rounds, oldest first
// (each result, then the arguments the model sent, down to a stub); the
// arguments of the latest round's calls (they have run); and last the
// latest results, which the model is about to read, each keeping its share
// of what is left (a command's output keeps its end, where failures are).
// It returns what it cut.
func fitToolResults(msgs []openai.ChatCompletionMessage, budget int) []string {
	if budget <= 0 || len(msgs) <= 2 {
		return nil
	}
	// (over the budget only when the input's vital parts took its room)
	room := max(budget-llm.EstimateMessages(msgs[:2]), toolRoomOf(budget))
	over := llm.EstimateMessages(msgs[2:]) - room
	if over <= 0 {
		return nil
	}
	latest := len(msgs)
	for i := len(msgs) - 1; i >= 2; i-- {
		if msgs[i].Role == openai.ChatMessageRoleAssistant {
			latest = i // the latest round's results follow it
			break
		}
	}
	// the latest calls' arguments (a read's offset) before they are stubbed
	args := map[string]string{}
	if latest < len(msgs) {
		for _, tc := range msgs[latest].ToolCalls {
			args[tc.ID] = tc.Function.Arguments
		}
	}
	var trimmed []string
	stubArgs := func(m *openai.ChatCompletionMessage) {
		for j := range m.ToolCalls {
			if over <= 0 {
				return
			}
			f := &m.ToolCalls[j].Function
			have := llm.EstimateTokens(f.Arguments)
			stub := fmt.Sprintf(`{"dropped": "%d tokens of arguments, to fit the context budget"}`, have)
			if have <= llm.EstimateTokens(stub) {
				continue
			}
			f.Arguments = stub
			over -= have - llm.EstimateTokens(stub)
			trimmed = append(trimmed, fmt.Sprintf("%s arguments: %d → 0 tokens", f.Name, have))
		}
	}
	// the model's own text beside its calls (it goes back with them): a
	// huge one would make every later call too long for any model
	stubText := func(m *openai.ChatCompletionMessage) {
		if over <= 0 || m.Role != openai.ChatMessageRoleAssistant || strings.HasPrefix(m.Content, droppedMark) {
			return
		}
		have := llm.EstimateTokens(m.Content)
		stub := fmt.Sprintf("%s %d tokens of your text from this turn, to fit the context budget]", droppedMark, have)
		if have <= llm.EstimateTokens(stub) {
			return
		}
		m.Content = stub
		over -= have - llm.EstimateTokens(stub)
		trimmed = append(trimmed, fmt.Sprintf("the model's text of an earlier turn: %d → 0 tokens", have))
	}
	for i := 2; i < latest && over > 0; i++ {
		m := &msgs[i]
		if m.Role == openai.ChatMessageRoleTool && !strings.HasPrefix(m.Content, droppedMark) {
			have := llm.EstimateTokens(m.Content)
			m.Content = fmt.Sprintf("%s %d tokens of %s's result, to fit the context budget; call it again if you need it]", droppedMark, have, m.Name)
			over -= have - llm.EstimateTokens(m.Content)
			trimmed = append(trimmed, fmt.Sprintf("earlier %s result: %d → 0 tokens", m.Name, have))
		}
		stubArgs(m)
		stubText(m)
	}
	if latest < len(msgs) && over > 0 {
		stubArgs(&msgs[latest])
		stubText(&msgs[latest])
	}
	if over <= 0 {
		return trimmed
	}
	// the latest results share what is left: the small ones whole, the
	// large ones an equal share each (cut in proportion, a 30-token read
	// lost its one line to make room beside a 64 KiB one)
	var latestResults, sizes []int
	total := 0
	for i := latest + 1; i < len(msgs); i++ {
		if msgs[i].Role == openai.ChatMessageRoleTool {
			n := llm.EstimateTokens(msgs[i].Content)
			latestResults, sizes, total = append(latestResults, i), append(sizes, n), total+n
		}
	}
	if total == 0 {
		return trimmed
	}
	shares := fairShares(sizes, max(total-over, 0))
	for j, i := range latestResults {
		m := &msgs[i]
		have := sizes[j]
		if shares[j] >= have {
			continue
		}
		keep := shares[j] - llm.EstimateTokens(trimMark)
		body := cutResult(m.Content, keep*4, m.Name, args[m.ToolCallID])
		if body == "" {
			body = fmt.Sprintf("%s all %d tokens of this result, to fit the context budget; ask for less of it (an offset and a limit)]", droppedMark, have)
		}
		now := llm.EstimateTokens(body)
		if now >= have {
			continue
		}
		m.Content = body
		trimmed = append(trimmed, fmt.Sprintf("%s result: %d → %d tokens", m.Name, have, now))
	}
	return trimmed
}

// fairShares divides budget among items of the given sizes: each gets
// what it needs if that is no more than an equal share of what the
// smaller ones left, and the rest that equal share.
func fairShares(sizes []int, budget int) []int {
	order := make([]int, len(sizes))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return sizes[order[a]] < sizes[order[b]] })
	shares := make([]int, len(sizes))
	left := budget
	for k, i := range order {
		share := left / (len(order) - k)
		if sizes[i] <= share {
			shares[i] = sizes[i]
		} else {
			shares[i] = share
		}
		left -= shares[i]
	}
	return shares
}

// cutResult is cut for a tool's result: a command's output keeps its
// header (the exit code) and its end (where failures are), a file read
// its start with a note saying which lines are shown and where to go on,
// another tool's result its start and the note it ends with. args are the
// call's arguments (a read's offset).
func cutResult(content string, n int, tool, args string) string {
	switch tool {
	case "run_command":
		return cutCommand(content, n, "to fit the context budget")
	case "read_file":
		if body, ok := cutRead(content, n, args); ok {
			return body
		}
	case "list_dir", "search":
		if body, ok := cutLines(content, n, tool, args); ok {
			return body
		}
	}
	if i := strings.LastIndexByte(strings.TrimRight(content, "\n"), '\n'); i >= 0 {
		if note := strings.TrimRight(content[i+1:], "\n"); strings.HasPrefix(note, "[") && strings.HasSuffix(note, "]") && len(note) < n/2 {
			if body := cut(content[:i], n-len(note)-1, false); body != "" {
				if !strings.HasSuffix(body, "\n") {
					body += "\n"
				}
				return body + note
			}
		}
	}
	return cut(content, n, false)
}

// cutLines is a listing's or a search's result within n bytes, whole
// lines from its start, with a note saying what was kept and (for a
// listing) where to go on: their own closing note would count entries or
// matches the model never saw. ok is false when not one line fits.
func cutLines(content string, n int, tool, args string) (string, bool) {
	if len(content) <= n {
		return content, true
	}
	body, total := content, 0
	if i := strings.LastIndexByte(strings.TrimRight(content, "\n"), '\n'); i >= 0 {
		last := strings.TrimRight(content[i+1:], "\n")
		if m := listNote.FindStringSubmatch(last); m != nil {
			body = content[:i+1]
			fmt.Sscan(m[1], &total)
		} else if strings.HasPrefix(last, "[stopped after ") {
			body = content[:i+1]
		}
	}
	first := 1
	if tool == "list_dir" {
		first = offsetOf(args)
	}
	if total == 0 {
		total = first - 1 + strings.Count(strings.TrimRight(body, "\n")+"\n", "\n")
	}
	noteOf := func(k int) string {
		if tool == "search" {
			return fmt.Sprintf("[trimmed to fit the context budget: the first %d matching lines shown; narrow the pattern or path for the rest]", k)
		}
		return fmt.Sprintf("[trimmed to fit the context budget: listed entries %d-%d of %d; continue with offset=%d]", first, first+k-1, total, first+k)
	}
	room := n - len(noteOf(total))
	if room <= 0 {
		return "", false
	}
	i := strings.LastIndexByte(body[:min(room, len(body))], '\n')
	if i < 0 {
		return "", false
	}
	part := body[:i+1]
	return part + noteOf(strings.Count(part, "\n")), true
}

var (
	listNote   = regexp.MustCompile(`^\[listed entries \d+-\d+ of (\d+); continue with offset=\d+\]$`)
	outputNote = regexp.MustCompile(`^\[output truncated: showing the last \d+ of (\d+) bytes\]\n`)
	// a read's closing note: which lines it showed, of how many
	readNote  = regexp.MustCompile(`^\[(?:truncated at 64 KiB; )?showed lines (\d+)-\d+(?: of (\d+);| of (a file of \d+ bytes), too large to count its lines;|, the end of the file \((\d+) lines,)`)
	clipNote  = regexp.MustCompile(`^\[line \d+ is \d+ bytes: only its start is shown`)
	offsetArg = regexp.MustCompile(`"offset"\s*:\s*"?(\d+)`)
)

// offsetOf is the first line a call's arguments ask for: their offset, or 1.
func offsetOf(args string) int {
	first := 1
	if m := offsetArg.FindStringSubmatch(args); m != nil {
		fmt.Sscan(m[1], &first)
	}
	return max(first, 1)
}

// cutCommand is a command's result within about n bytes: its first line
// (the exit code, or the error) and the end of its output, with a note of
// how much of the output is shown (and why); its start says how the
// command ended.
func cutCommand(content string, n int, why string) string {
	head, rest := "", content
	if i := strings.IndexByte(rest, '\n'); i >= 0 && i < 512 {
		head, rest = rest[:i+1], rest[i+1:]
	}
	total := len(rest)
	if m := outputNote.FindStringSubmatch(rest); m != nil {
		fmt.Sscan(m[1], &total)
		rest = rest[len(m[0]):]
	}
	noteOf := func(k int) string {
		return fmt.Sprintf("[output truncated: showing the last %d of %d bytes, %s]\n", k, total, why)
	}
	room := n - len(head) - len(noteOf(total))
	if room <= 0 || head == "" {
		return cut(content, n, true)
	}
	tail := rest
	if len(tail) > room {
		tail = tail[len(tail)-room:]
		if i := strings.IndexByte(tail, '\n'); i >= 0 && i < room/4 {
			tail = tail[i+1:]
		}
		tail = fromRuneStart(tail)
	}
	return head + noteOf(len(tail)) + tail
}

// cutRead is a read_file result within about n bytes: whole lines from
// its start, and a note naming the last line kept and the offset to go
// on from (the read's own note would send the model past lines it never
// saw). ok is false for a result it does not know (an error, one line
// longer than a read, whose note stays true).
func cutRead(content string, n int, args string) (string, bool) {
	body, first, of := content, 0, ""
	if i := strings.LastIndexByte(strings.TrimRight(content, "\n"), '\n'); i >= 0 {
		if clipNote.MatchString(content[i+1:]) {
			return "", false
		}
		if m := readNote.FindStringSubmatch(content[i+1:]); m != nil {
			body = content[:i+1]
			fmt.Sscan(m[1], &first)
			// (one of the alternatives' groups is set)
			if total := strings.Join(m[2:], ""); total != "" {
				of = " of " + total
			}
		}
	}
	if first == 0 {
		if strings.HasPrefix(content, "error") {
			return "", false
		}
		// the file's end, all of it: the read began at its offset
		first = offsetOf(args)
		lines := strings.Count(body, "\n")
		if !strings.HasSuffix(body, "\n") {
			lines++
		}
		of = fmt.Sprintf(" of %d", first+lines-1)
	}
	noteOf := func(last int) string {
		return fmt.Sprintf("[trimmed to fit the context budget: showed lines %d-%d%s; continue with offset=%d]", first, last, of, last+1)
	}
	room := n - len(noteOf(first+strings.Count(body, "\n")))
	if room <= 0 {
		return "", true
	}
	if len(body) <= room {
		return content, true
	}
	i := strings.LastIndexByte(body[:room], '\n')
	if i < 0 {
		return "", true // not one whole line: the caller says to ask for less
	}
	part := body[:i+1]
	return part + noteOf(first+strings.Count(part, "\n")-1), true
}

// droppedMark starts what stands in for an earlier tool result.
const droppedMark = "[dropped"
