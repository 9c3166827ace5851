package engine

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

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
	vital bool // the session means nothing without it (a review's diff)
	// dropped: assemble cut it to nothing (set on the caller's sections)
	dropped bool
	// fit, when set, makes the body within about n bytes instead of a cut
	// of it (a list whose every item must keep its head)
	fit func(n int) string
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
		order := make([]int, len(secs))
		for i := range order {
			order[i] = i
		}
		// a small section goes after every larger one, whatever its
		// priority: dropping a diagnosis of 20 tokens does nothing for a
		// diff 200,000 over, and leaves the review without its reference
		small := func(i int) bool { return llm.EstimateTokens(secs[i].body) < smallSection }
		sort.SliceStable(order, func(a, b int) bool {
			if sa, sb := small(order[a]), small(order[b]); sa != sb {
				return sb
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
				body = cut(s.body, keep*4, s.tail)
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

// fitList is numbered(intro, items) within about n bytes: short items
// whole, long ones cut to an equal share of the room, each with its head;
// when even heads do not fit, the oldest go, said. The newest item is
// what the last attempt failed on: never the first to lose.
func fitList(intro string, items []string, n int) string {
	const itemMark = " […]"
	for drop := 0; drop < len(items); drop++ {
		kept := items[drop:]
		head := intro
		if drop > 0 {
			head += fmt.Sprintf("[%d earlier items trimmed to fit the context budget]\n", drop)
		}
		room := n - len(head)
		for i := range kept {
			room -= len(fmt.Sprintf("%d. \n", i+1)) + len(itemMark)
		}
		// equal shares, the short items' unused part going to the rest
		order := make([]int, len(kept))
		for i := range order {
			order[i] = i
		}
		sort.Slice(order, func(a, b int) bool { return len(kept[order[a]]) < len(kept[order[b]]) })
		limit := make([]int, len(kept))
		left := room
		for j, i := range order {
			share := left / (len(order) - j)
			limit[i] = min(len(kept[i]), share)
			left -= limit[i]
		}
		if slices.Min(limit) < min(minItemHead, slices.Min(lengths(kept))) && drop < len(items)-1 {
			continue
		}
		out := make([]string, len(kept))
		for i, it := range kept {
			out[i] = it
			if limit[i] < len(it) {
				out[i] = strings.ToValidUTF8(it[:max(limit[i], 0)], "") + itemMark
			}
		}
		return numbered(head, out)
	}
	return ""
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
		body := cutResult(m.Content, keep*4, m.Name)
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

// cutResult is cut for a tool's result: a command's output keeps its end
// (where failures are), a file read its start and the note it ends with
// (how many lines there are, where to continue).
func cutResult(content string, n int, tool string) string {
	if tool == "run_command" {
		return cut(content, n, true)
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

// droppedMark starts what stands in for an earlier tool result.
const droppedMark = "[dropped"
