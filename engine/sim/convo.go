package sim

import (
	"strings"

	openai "github.com/sashabaranov/go-openai"
)

// convo is what the simulated model reads from one request.
type convo struct {
	phase     string // discovery, ..., split; for a validator, the judged phase
	validator bool
	id        string // T-N
	kind      string
	title     string
	user      string // the first user message, whole
	results   []toolResult
	tools     map[string]bool
}

type toolResult struct{ name, content string }

func newConvo(msgs []openai.ChatCompletionMessage, tools map[string]bool) *convo {
	c := &convo{tools: tools}
	names := map[string]string{} // tool call id -> name
	for _, m := range msgs {
		switch m.Role {
		case openai.ChatMessageRoleUser:
			// later user messages only re-ask for a readable answer, and
			// every answer here is readable: the first one decides
			if c.user == "" {
				c.user = m.Content
			}
		case openai.ChatMessageRoleAssistant:
			for _, tc := range m.ToolCalls {
				names[tc.ID] = tc.Function.Name
			}
		case openai.ChatMessageRoleTool:
			name := m.Name
			if name == "" {
				name = names[m.ToolCallID]
			}
			c.results = append(c.results, toolResult{name: name, content: m.Content})
		}
	}
	c.parseHeader()
	return c
}

// parseHeader reads "Phase: <phase> · Ticket <T-N> (<kind>): <title>" or
// "Phase: validator of <phase> · Ticket ...".
func (c *convo) parseHeader() {
	line, _, _ := strings.Cut(c.user, "\n")
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), "Phase:")
	if !ok {
		return
	}
	phase, ticket, _ := strings.Cut(rest, "·")
	phase = strings.TrimSpace(phase)
	if p, ok := strings.CutPrefix(phase, "validator of "); ok {
		c.validator, phase = true, strings.TrimSpace(p)
	}
	c.phase = phase
	ticket = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(ticket), "Ticket"))
	id, rest, ok := strings.Cut(ticket, " (")
	if !ok {
		c.title = ticket
		return
	}
	c.id = strings.TrimSpace(id)
	kind, title, _ := strings.Cut(rest, "):")
	c.kind = strings.TrimSpace(kind)
	c.title = strings.TrimSpace(title)
}

// Section titles the engine writes; a section runs to the next of these
// (deliverables quoted inside have their own "## " headings).
var engineSections = []string{
	"Ticket", "Repository overview", "Functional spec", "Tech spec", "Plan",
	"Acceptance criteria (functional spec)", "Diagnosis", "Test files (frozen: do not change them)",
	"Failing test output", "Failing CI log", "Objections to address",
	"Your previous deliverable (revise it)", "Source of truth: ",
	"Deliverable of phase ", "Diff of the branch against ",
}

// section returns the body of the engine section whose title starts with
// prefix, or "".
func (c *convo) section(prefix string) string {
	i := strings.Index(c.user, "\n## "+prefix)
	if i < 0 {
		return ""
	}
	body := c.user[i+4:]
	if nl := strings.IndexByte(body, '\n'); nl >= 0 {
		body = body[nl+1:]
	} else {
		return ""
	}
	end := len(body)
	for _, s := range engineSections {
		if j := strings.Index(body, "\n## "+s); j >= 0 && j < end {
			end = j
		}
	}
	return strings.TrimSpace(body[:end])
}

// retry reports whether earlier attempts of the phase were rejected.
func (c *convo) retry() bool { return c.section("Objections to address") != "" }

// humanGuidance is what a human told the engine to pass on, if anything.
func (c *convo) humanGuidance() string {
	var out []string
	for _, l := range strings.Split(c.section("Objections to address"), "\n") {
		if _, g, ok := strings.Cut(l, "Guidance from a human: "); ok {
			out = append(out, strings.TrimSpace(g))
		}
	}
	return strings.Join(out, "; ")
}

// result is the content of the latest tool result of that tool, or "".
func (c *convo) result(name string) string {
	for i := len(c.results) - 1; i >= 0; i-- {
		if c.results[i].name == name {
			return c.results[i].content
		}
	}
	return ""
}

// step is one turn of a scripted session; it may read the results of the
// turns before it.
type step func() Turn

// play returns the turn the conversation is at: each scripted turn's tool
// calls produce as many tool results, so the count of results so far says
// which turn comes next. Calls to tools the phase lacks are dropped before
// counting, exactly as Answer drops them.
func (c *convo) play(steps ...step) Turn {
	done := 0
	for i, s := range steps {
		t := s()
		var calls []Call
		for _, call := range t.Calls {
			if c.tools[call.Name] {
				calls = append(calls, call)
			}
		}
		last := i == len(steps)-1
		if len(t.Calls) > 0 && len(calls) == 0 && !last {
			continue // a step made only of tools this phase lacks
		}
		t.Calls = calls
		if done >= len(c.results) || last {
			if last {
				t.Calls = nil // the last step is the deliverable
			}
			return t
		}
		done += len(calls)
	}
	return Turn{Text: "Done."}
}

func say(text string, calls ...Call) step {
	return func() Turn { return Turn{Text: text, Calls: calls} }
}

func readFile(path string) Call { return Call{Name: "read_file", Args: map[string]any{"path": path}} }
func listDir(path string) Call  { return Call{Name: "list_dir", Args: map[string]any{"path": path}} }
func search(pattern, path string) Call {
	return Call{Name: "search", Args: map[string]any{"pattern": pattern, "path": path}}
}
func writeFile(path, content string) Call {
	return Call{Name: "write_file", Args: map[string]any{"path": path, "content": content}}
}
func editFile(path, old, new string) Call {
	return Call{Name: "edit_file", Args: map[string]any{"path": path, "old_string": old, "new_string": new}}
}
func runCommand(cmd string) Call {
	return Call{Name: "run_command", Args: map[string]any{"command": cmd}}
}
