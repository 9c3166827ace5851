package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"agent-tui/engine/config"
	"agent-tui/engine/llm"
	"agent-tui/engine/oaitest"
	"agent-tui/engine/workspace"
	"agent-tui/prompts"
	"agent-tui/store"
)

// The test project: "tests" are shell scripts under tests/, run by
// run_tests.sh, so red/green checks take milliseconds.
var shellProject = map[string]string{
	"README.md":    "# demo project\n",
	"run_tests.sh": "set -e\nfor f in tests/*.sh; do [ -e \"$f\" ] || continue; sh \"$f\"; done\necho all tests passed\n",
	"src/app.txt":  "app v1\n",
}

// baseConfig is a three-tier config on one provider at URL, plus a backup.
const baseConfig = `
test_command = "sh run_tests.sh"
approve = []
max_parallel = 4
retry_backoff = "50ms"
stream_idle_timeout = "2s"

[[provider]]
name = "cloud"
base_url = "%[1]s"
api_key_env = "AGENT_TUI_TEST_KEY"

[[provider]]
name = "backup"
base_url = "%[1]s"
api_key_env = "AGENT_TUI_TEST_KEY"

[[model]]
name = "large"
id = "big-1"
provider = "cloud"
input_per_mtok = 10
output_per_mtok = 30

[[model]]
name = "medium"
id = "mid-1"
provider = "cloud"
input_per_mtok = 1
output_per_mtok = 3

[[model]]
name = "small"
id = "tiny-1"
provider = "cloud"
input_per_mtok = 0.1
output_per_mtok = 0.3

[[model]]
name = "spare"
id = "spare-1"
provider = "backup"
input_per_mtok = 1
output_per_mtok = 3

[phases.discovery]
models = ["medium", "spare"]
`

type harness struct {
	t    *testing.T
	dir  string
	st   *store.Store
	cfg  *config.Config
	srv  *oaitest.Server
	repo *workspace.Repo
	eng  *Engine
}

// script answers one request; phase is parsed from the first user line.
type script func(r *oaitest.Request, phase string) oaitest.Reply

func newHarness(t *testing.T, extraConfig string, s script) *harness {
	t.Helper()
	t.Setenv("AGENT_TUI_TEST_KEY", "sk-test-SECRET-0123456789")
	h := &harness{t: t, dir: t.TempDir()}
	if err := workspace.InitRepo(h.dir, shellProject, "main"); err != nil {
		t.Fatal(err)
	}
	h.srv = oaitest.New(func(r *oaitest.Request) oaitest.Reply { return s(r, phaseOf(r)) })
	t.Cleanup(h.srv.Close)
	cfgPath := filepath.Join(t.TempDir(), "agent-tui.toml")
	if err := os.WriteFile(cfgPath, []byte(fmt.Sprintf(baseConfig, h.srv.URL)+extraConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	var err error
	if h.cfg, err = config.Load(cfgPath); err != nil {
		t.Fatal(err)
	}
	if h.repo, err = workspace.Open(h.dir); err != nil {
		t.Fatal(err)
	}
	if h.st, err = store.Open(filepath.Join(h.repo.GitDir, "agent-tui.db"), time.Second); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.st.Close() })
	h.eng = New(Options{Store: h.st, Config: h.cfg, Repo: h.repo, Router: llm.NewRouter(h.cfg, llm.Options{}), Prompts: prompts.New("")})
	return h
}

func (h *harness) add(kind, title string, sensitive bool) string {
	h.t.Helper()
	t, err := AddTicket(h.st, NewTicket{Kind: kind, Title: title, Body: "body of " + title, Sensitive: sensitive}, "main")
	if err != nil {
		h.t.Fatal(err)
	}
	return t.ID
}

func (h *harness) runIdle() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := h.eng.Run(ctx, true); err != nil {
		h.t.Fatalf("run: %v", err)
	}
}

func (h *harness) ticket(id string) *store.Ticket {
	h.t.Helper()
	t, err := h.st.Ticket(id)
	if err != nil {
		h.t.Fatal(err)
	}
	return t
}

func (h *harness) view(id string) TicketView {
	h.t.Helper()
	as, err := h.st.Attempts(id)
	if err != nil {
		h.t.Fatal(err)
	}
	return Describe(h.ticket(id), as)
}

func (h *harness) phase(id, name string) PhaseView {
	for _, p := range h.view(id).Phases {
		if p.Name == name {
			return p
		}
	}
	h.t.Fatalf("%s has no phase %s", id, name)
	return PhaseView{}
}

// firstTurns returns the first request of each attempt of a phase.
func (h *harness) firstTurns(phase string) []*oaitest.Request {
	var out []*oaitest.Request
	for _, r := range h.requests(phase) {
		if toolTurns(r) == 0 {
			out = append(out, r)
		}
	}
	return out
}

// requests returns the recorded requests of a phase ("validator of X" too).
func (h *harness) requests(phase string) []*oaitest.Request {
	var out []*oaitest.Request
	for _, r := range h.srv.Requests() {
		if phaseOf(r) == phase {
			out = append(out, r)
		}
	}
	return out
}

func firstUserLine(r *oaitest.Request) string {
	for _, m := range r.Messages {
		if m.Role == "user" {
			line, _, _ := strings.Cut(m.Content, "\n")
			return line
		}
	}
	return ""
}

func userText(r *oaitest.Request) string {
	for _, m := range r.Messages {
		if m.Role == "user" {
			return m.Content
		}
	}
	return ""
}

// phaseOf reads "Phase: X · ..." or "Phase: validator of X · ...".
func phaseOf(r *oaitest.Request) string {
	line := strings.TrimPrefix(firstUserLine(r), "Phase: ")
	name, _, _ := strings.Cut(line, " · ")
	return name
}

func toolTurns(r *oaitest.Request) int {
	n := 0
	for _, m := range r.Messages {
		if m.Role == "assistant" && len(m.ToolCalls) > 0 {
			n++
		}
	}
	return n
}

func pass() oaitest.Reply { return oaitest.Reply{Text: `{"pass": true, "objections": []}`} }

func fail(objections ...string) oaitest.Reply {
	b, _ := json.Marshal(map[string]any{"pass": false, "objections": objections})
	return oaitest.Reply{Text: "Here is my verdict:\n```json\n" + string(b) + "\n```"}
}

func writeCall(id, path, content string) oaitest.ToolCall {
	b, _ := json.Marshal(map[string]string{"path": path, "content": content})
	return oaitest.ToolCall{ID: id, Name: "write_file", Args: string(b)}
}

// developer is a scripted model that carries a ticket through every phase
// of the shell project correctly.
func developer(r *oaitest.Request, phase string) oaitest.Reply {
	id := ticketOf(r)
	switch phase {
	case "tests":
		if toolTurns(r) == 0 {
			return oaitest.Reply{ToolCalls: []oaitest.ToolCall{writeCall("c1", "tests/"+id+"_test.sh",
				"grep -q 'done "+id+"' src/"+id+".txt\n")}}
		}
		return oaitest.Reply{Text: "Wrote tests/" + id + "_test.sh: fails until src/" + id + ".txt says done."}
	case "code", "cifix":
		if toolTurns(r) == 0 {
			return oaitest.Reply{ToolCalls: []oaitest.ToolCall{writeCall("c2", "src/"+id+".txt", "done "+id+"\n")}}
		}
		return oaitest.Reply{Text: "Wrote src/" + id + ".txt."}
	case "review":
		return pass()
	case "split":
		return oaitest.Reply{Text: `{"tickets": [{"kind": "feature", "title": "child one", "body": "b1"}, {"kind": "hotfix", "title": "child two", "body": "b2"}]}`}
	}
	if strings.HasPrefix(phase, "validator of ") {
		return pass()
	}
	return oaitest.Reply{Text: "## " + phase + " of " + id + "\n\nA document for " + phase + ".\n\n## Acceptance criteria\n1. it works\n", PromptTokens: 1000, CompletionTokens: 200}
}

// ticketOf reads the ticket id from the first user line.
func ticketOf(r *oaitest.Request) string {
	line := firstUserLine(r)
	_, rest, _ := strings.Cut(line, "Ticket ")
	id, _, _ := strings.Cut(rest, " ")
	return id
}

// counter counts calls per key, safely.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) inc(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[k]++
	return c.n[k]
}
