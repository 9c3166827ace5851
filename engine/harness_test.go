package engine

import (
	"context"
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

var shellProject = oaitest.ShellProject

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
	t    testing.TB
	dir  string
	st   *store.Store
	cfg  *config.Config
	srv  *oaitest.Server
	repo *workspace.Repo
	eng  *Engine
	// runLimit bounds runIdle (default a minute)
	runLimit time.Duration
}

// script answers one request; phase is parsed from the first user line.
type script func(r *oaitest.Request, phase string) oaitest.Reply

func newHarness(t testing.TB, extraConfig string, s script) *harness {
	t.Helper()
	return newHarnessOn(t, shellProject, extraConfig, s)
}

// newHarnessOn is newHarness on a repository holding project.
func newHarnessOn(t testing.TB, project map[string]string, extraConfig string, s script) *harness {
	t.Helper()
	t.Setenv("AGENT_TUI_TEST_KEY", "sk-test-SECRET-0123456789")
	h := &harness{t: t, dir: t.TempDir()}
	if err := workspace.InitRepo(h.dir, project, "main"); err != nil {
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
	limit := h.runLimit
	if limit == 0 {
		limit = 60 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
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
// firstFailedThenDone checks that the phase's first attempt failed with an
// objection holding want ("": any), that another attempt followed, and
// that the ticket ended done; it returns the phase's attempts.
func (h *harness) firstFailedThenDone(id, phase, want string) []AttemptView {
	h.t.Helper()
	a := h.phase(id, phase).Attempts
	if len(a) < 2 || a[0].Verdict == nil || a[0].Verdict.Pass || !strings.Contains(strings.Join(a[0].Verdict.Objections, " "), want) {
		h.t.Fatalf("%s attempts %+v", phase, a)
	}
	if tk := h.ticket(id); tk.Status != store.StatusDone {
		h.t.Fatalf("%s (%s)", tk.Status, tk.Reason)
	}
	return a
}

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

func userText(r *oaitest.Request) string { return oaitest.UserText(r) }
func phaseOf(r *oaitest.Request) string  { return oaitest.PhaseOf(r) }
func ticketOf(r *oaitest.Request) string { return oaitest.TicketOf(r) }
func toolTurns(r *oaitest.Request) int   { return oaitest.ToolTurns(r) }
func pass() oaitest.Reply                { return oaitest.Pass() }
func fail(objections ...string) oaitest.Reply {
	return oaitest.Fail(objections...)
}
func writeCall(id, path, content string) oaitest.ToolCall {
	return oaitest.WriteCall(id, path, content)
}
func developer(r *oaitest.Request, _ string) oaitest.Reply { return oaitest.Developer(r) }

// builtinTests is developer writing tests made of shell builtins (no
// grep): a check of them starts no process but its shell.
func builtinTests(r *oaitest.Request, phase string) oaitest.Reply {
	if id := ticketOf(r); phase == "tests" && oaitest.ToolTurns(r) == 0 {
		return oaitest.Reply{ToolCalls: []oaitest.ToolCall{writeCall("c1", "tests/"+id+"_test.sh",
			"read -r line < src/"+id+".txt || exit 1\n[ \"$line\" = \"done "+id+"\" ]\n")}}
	}
	return developer(r, phase)
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

func configPhase(models ...string) config.PhaseConfig { return config.PhaseConfig{Models: models} }

func newRouter(cfg *config.Config) *llm.Router { return llm.NewRouter(cfg, llm.Options{}) }
