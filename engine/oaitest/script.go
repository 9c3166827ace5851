package oaitest

import (
	"encoding/json"
	"strings"
)

// Helpers for scripting a model that follows agent-tui's request contract:
// the first user line is "Phase: <phase> · Ticket <id> (<kind>): <title>".

// FirstUserLine is the first line of the first user message.
func FirstUserLine(r *Request) string {
	for _, m := range r.Messages {
		if m.Role == "user" {
			line, _, _ := strings.Cut(m.Content, "\n")
			return line
		}
	}
	return ""
}

// UserText is the first user message.
func UserText(r *Request) string {
	for _, m := range r.Messages {
		if m.Role == "user" {
			return m.Content
		}
	}
	return ""
}

// PhaseOf reads the phase ("discovery", "validator of techspec", ...).
func PhaseOf(r *Request) string {
	line := strings.TrimPrefix(FirstUserLine(r), "Phase: ")
	name, _, _ := strings.Cut(line, " · ")
	return name
}

// TicketOf reads the ticket id.
func TicketOf(r *Request) string {
	_, rest, _ := strings.Cut(FirstUserLine(r), "Ticket ")
	id, _, _ := strings.Cut(rest, " ")
	return id
}

// ToolTurns counts the assistant turns with tool calls so far: 0 on the
// first request of an attempt.
func ToolTurns(r *Request) int {
	n := 0
	for _, m := range r.Messages {
		if m.Role == "assistant" && len(m.ToolCalls) > 0 {
			n++
		}
	}
	return n
}

// WriteCall is a write_file tool call.
func WriteCall(id, path, content string) ToolCall {
	b, _ := json.Marshal(map[string]string{"path": path, "content": content})
	return ToolCall{ID: id, Name: "write_file", Args: string(b)}
}

// Pass is a passing verdict.
func Pass() Reply { return Reply{Text: `{"pass": true, "objections": []}`} }

// Fail is a failing verdict wrapped in prose and a code fence.
func Fail(objections ...string) Reply {
	b, _ := json.Marshal(map[string]any{"pass": false, "objections": objections})
	return Reply{Text: "Here is my verdict:\n```json\n" + string(b) + "\n```"}
}

// ShellProject is a repository whose tests are shell scripts under tests/,
// run by `sh run_tests.sh`, so red/green checks take milliseconds.
var ShellProject = map[string]string{
	"README.md":    "# demo project\n",
	"run_tests.sh": "set -e\nfor f in tests/*.sh; do [ -e \"$f\" ] || continue; sh \"$f\"; done\necho all tests passed\n",
	"src/app.txt":  "app v1\n",
}

// Developer carries any ticket of ShellProject through every phase
// correctly: tests/<id>_test.sh fails until code writes src/<id>.txt.
func Developer(r *Request) Reply {
	id, phase := TicketOf(r), PhaseOf(r)
	switch phase {
	case "tests":
		if ToolTurns(r) == 0 {
			return Reply{ToolCalls: []ToolCall{WriteCall("c1", "tests/"+id+"_test.sh", "grep -q 'done "+id+"' src/"+id+".txt\n")}}
		}
		return Reply{Text: "Wrote tests/" + id + "_test.sh: fails until src/" + id + ".txt says done."}
	case "code", "cifix":
		if ToolTurns(r) == 0 {
			return Reply{ToolCalls: []ToolCall{WriteCall("c2", "src/"+id+".txt", "done "+id+"\n")}}
		}
		return Reply{Text: "Wrote src/" + id + ".txt."}
	case "review":
		return Pass()
	case "split":
		return Reply{Text: `{"tickets": [{"kind": "feature", "title": "child one", "body": "b1"}, {"kind": "hotfix", "title": "child two", "body": "b2"}]}`}
	}
	if strings.HasPrefix(phase, "validator of ") {
		return Pass()
	}
	return Reply{Text: "## " + phase + " of " + id + "\n\nA document for " + phase + ".\n\n## Acceptance criteria\n1. it works\n", PromptTokens: 1000, CompletionTokens: 200}
}

// ClearRequests forgets the recorded requests (long soaks measure memory
// without the recorder's share).
func (s *Server) ClearRequests() {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	s.h.reqs = nil
}
