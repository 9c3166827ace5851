package ui

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"agent-tui/engine"
	"agent-tui/engine/llm"
	"agent-tui/store"
)

// fakeBackend is an in-memory Backend that records what the UI asked.
type fakeBackend struct {
	mu        sync.Mutex
	tickets   []*store.Ticket
	attempts  map[string][]*store.Attempt
	diffs     map[string]string
	models    []engine.ModelChoice
	health    []llm.ProviderHealth
	decisions []decision
	added     []engine.NewTicket
	calls     int // every Backend call but Subscribe
	decideErr error
	addErr    error
	// ticketsErr: the store cannot be read (a damaged database)
	ticketsErr error
	// attemptsErr: a ticket's attempts cannot be read (a damaged page)
	attemptsErr error
	// tickets the engine says wait for a max_parallel slot
	slotWaiters []string
}

type decision struct {
	id string
	d  store.Decision
}

func (f *fakeBackend) count() {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
}

func (f *fakeBackend) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *fakeBackend) Subscribe(int) (<-chan engine.Event, func()) {
	ch := make(chan engine.Event)
	return ch, func() { close(ch) }
}

func (f *fakeBackend) Tickets() ([]*store.Ticket, error) {
	f.count()
	if f.ticketsErr != nil {
		return nil, f.ticketsErr
	}
	return append([]*store.Ticket(nil), f.tickets...), nil
}

func (f *fakeBackend) Attempts(id string) ([]*store.Attempt, error) {
	f.count()
	if f.attemptsErr != nil {
		return nil, f.attemptsErr
	}
	return append([]*store.Attempt(nil), f.attempts[id]...), nil
}

func (f *fakeBackend) Diff(_ context.Context, id string) (string, error) {
	f.count()
	return f.diffs[id], nil
}

func (f *fakeBackend) Add(_ context.Context, n engine.NewTicket) (*store.Ticket, error) {
	f.count()
	if err := n.Validate(); err != nil {
		return nil, err
	}
	if f.addErr != nil {
		return nil, f.addErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.added = append(f.added, n)
	t := &store.Ticket{ID: fmt.Sprintf("T-%d", len(f.tickets)+1), Kind: n.Kind, Title: n.Title, Body: n.Body, Status: store.StatusQueued}
	f.tickets = append(f.tickets, t)
	return t, nil
}

func (f *fakeBackend) Decide(id string, d store.Decision) error {
	f.count()
	if f.decideErr != nil {
		return f.decideErr
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.decisions = append(f.decisions, decision{id, d})
	return nil
}

func (f *fakeBackend) Health() []llm.ProviderHealth { f.count(); return f.health }
func (f *fakeBackend) Models() []engine.ModelChoice { f.count(); return f.models }
func (f *fakeBackend) Confinement() string          { f.count(); return "bwrap: read-only root, no network" }
func (f *fakeBackend) WaitingForSlot() []string     { f.count(); return f.slotWaiters }

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

func phases(kind, current, status string) []store.PhaseState {
	var out []store.PhaseState
	passed := true
	for _, p := range engine.Route(kind) {
		ps := store.PhaseState{Name: p, Status: store.PhasePending}
		if p == current {
			passed = false
			ps.Status, ps.Attempts = status, 1
		} else if passed {
			ps.Status, ps.Attempts = store.PhasePassed, 1
		}
		out = append(out, ps)
	}
	return out
}

func att(seq int, phase string, n int, pass bool, deliverable string) *store.Attempt {
	a := &store.Attempt{
		Seq: seq, Phase: phase, N: n, Model: "mid", Provider: "sim",
		Deliverable: deliverable, TokensIn: 1200 * n, TokensOut: 340, CostUSD: 0.0123,
		Started: t0, Ended: t0.Add(time.Minute), ContextTokens: 5400,
		Stream:  "Working on " + phase + ".\n" + deliverable + "\n",
		Verdict: &store.Verdict{Pass: pass, By: "validator"},
	}
	if !pass {
		a.Verdict.Objections = []string{"the " + phase + " misses the error path", "acceptance criteria are not testable"}
	}
	return a
}

// fixture is the fixed data set of the UI tests and goldens.
func fixture() *fakeBackend {
	f := &fakeBackend{
		attempts: map[string][]*store.Attempt{},
		diffs:    map[string]string{},
		models:   []engine.ModelChoice{{Name: "small", Local: true}, {Name: "mid"}, {Name: "large"}},
		health: []llm.ProviderHealth{
			{Name: "sim", Simulated: true},
			{Name: "backup", Failures: 3, CoolingUntil: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)},
		},
	}
	add := func(t *store.Ticket) { t.Created, t.Updated = t0, t0; f.tickets = append(f.tickets, t) }
	add(&store.Ticket{ID: "T-1", Kind: "feature", Title: "Add login flow", Body: "Users sign in with email and password.",
		Status: store.StatusAwaiting, Phase: "review", CostUSD: 0.4213, Branch: "agent/T-1", Worktree: "/wt/T-1",
		Phases: phases("feature", "review", store.PhaseAwaiting)})
	add(&store.Ticket{ID: "T-2", Kind: "hotfix", Title: "Fix crash on empty config", Status: store.StatusRunning,
		Phase: "code", CostUSD: 0.05, Phases: phases("hotfix", "code", store.PhaseRunning)})
	add(&store.Ticket{ID: "T-3", Kind: "epic", Title: "Billing overhaul", Status: store.StatusWaitingChildren,
		Phase: "split", CostUSD: 1.2, Children: []string{"T-4", "T-5"}, Phases: phases("epic", "split", store.PhasePassed)})
	add(&store.Ticket{ID: "T-4", Kind: "feature", Title: "Invoices API", Parent: "T-3", Status: store.StatusNeedsHuman,
		Phase: "tests", Reason: "tests gave up after 3 attempts", CostUSD: 0.33, Phases: phases("feature", "tests", store.PhaseFailed)})
	add(&store.Ticket{ID: "T-5", Kind: "feature", Title: "Payment webhooks", Parent: "T-3", Status: store.StatusQueued,
		Phase: "discovery", Phases: phases("feature", "discovery", store.PhasePending)})
	add(&store.Ticket{ID: "T-6", Kind: "hotfix", Title: "Typo in README", Status: store.StatusDone, Phase: "merge",
		CostUSD: 0.01, Phases: phases("hotfix", "none", "")})
	add(&store.Ticket{ID: "T-7", Kind: "feature", Title: "Dark mode", Status: store.StatusCancelled, Phase: "planning",
		Paused: true, CostUSD: 0.02, Phases: phases("feature", "planning", store.PhaseCancelled)})

	planObj := att(3, "planning", 1, false, "## Plan\n\n1. Add a form.")
	f.attempts["T-1"] = []*store.Attempt{
		att(1, "discovery", 1, true, "# Functional spec\n\nUsers **sign in** with email and password.\n\n- wrong password shows an error\n- three failures lock the account"),
		att(2, "techspec", 1, true, "# Tech spec\n\nA `session` table and a `/login` handler."),
		planObj,
		att(4, "planning", 2, true, "## Plan\n\n1. Migration\n2. Handler\n3. Tests"),
		{Seq: 5, Phase: "tests", N: 1, Model: "mid", Provider: "sim", Started: t0, Ended: t0, Deliverable: "tests written",
			Verdict: &store.Verdict{Pass: true, By: "check"},
			Checks:  []store.Check{{Name: "tests red", Command: "go test ./...", ExitCode: 1, Output: "--- FAIL: TestLogin\nFAIL", Pass: false}}},
		{Seq: 6, Phase: "code", N: 1, Model: "mid", Provider: "sim", Started: t0, Ended: t0, Deliverable: "implemented",
			Fallbacks: []store.Fallback{{Model: "large", Provider: "openai", Reason: "429 rate limited"}},
			Verdict:   &store.Verdict{Pass: true, By: "check"},
			Checks:    []store.Check{{Name: "code green", Command: "go test ./...", ExitCode: 0, Output: "ok  \texample/login\t0.01s", Pass: true}}},
		{Seq: 7, Phase: "ci", N: 1, Model: "", Provider: "", Started: t0, Ended: t0, Stream: "$ go vet ./...\nok\n",
			Verdict: &store.Verdict{Pass: true, By: "check"},
			Checks:  []store.Check{{Name: "ci", Command: "go vet ./... && go test -race ./...", ExitCode: 0, Output: "ok  \texample/login\t1.02s", Pass: true}}},
		att(8, "review", 1, true, "Looks good: the diff matches the plan."),
	}
	f.attempts["T-2"] = []*store.Attempt{
		att(9, "diagnosis", 1, true, "# Diagnosis\n\nnil map on empty config."),
		att(10, "tests", 1, true, "regression test added"),
		{Seq: 11, Phase: "code", N: 1, Model: "mid", Provider: "sim", Started: t0, ContextTokens: 8100, TokensIn: 9000, TokensOut: 700, CostUSD: 0.021,
			Stream: "Reading the config loader.\n→ read_file {\"path\":\"config.go\"}\n← package config ...\nThe map is nil when the file is empty; initialising it.\n"},
	}
	f.attempts["T-4"] = []*store.Attempt{
		{Seq: 12, Phase: "tests", N: 3, Model: "mid", Provider: "sim", Started: t0, Ended: t0, Error: "tests did not fail (expected red)", Interrupted: false,
			Verdict: &store.Verdict{Pass: false, By: "check", Objections: []string{"the test command passed: the new tests do not test the change"}}},
	}
	f.diffs["T-1"] = "diff --git a/login.go b/login.go\nnew file mode 100644\nindex 0000000..1111111\n--- /dev/null\n+++ b/login.go\n@@ -0,0 +1,3 @@\n+package login\n+\n+func Login() {}\n" +
		"diff --git a/README.md b/README.md\nindex 2222222..3333333 100644\n--- a/README.md\n+++ b/README.md\n@@ -1,2 +1,2 @@\n # Example\n-old line\n+new line\n"
	return f
}

func init() {
	// timers would hold commands up for seconds in tests
	after = func(time.Duration, func(time.Time) tea.Msg) tea.Cmd { return nil }
}

// update applies one message and returns the model and its command.
func update(m Model, msg tea.Msg) (Model, tea.Cmd) {
	next, cmd := m.Update(msg)
	return next.(Model), cmd
}

// collect runs cmd and the commands it batches, returning their messages.
// A command that does not return quickly (a cursor blink) is dropped.
func collect(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	ch := make(chan tea.Msg, 1)
	go func() { ch <- cmd() }()
	var msg tea.Msg
	select {
	case msg = <-ch:
	case <-time.After(200 * time.Millisecond):
		return nil
	}
	if b, ok := msg.(tea.BatchMsg); ok {
		var out []tea.Msg
		for _, c := range b {
			out = append(out, collect(c)...)
		}
		return out
	}
	if msg == nil {
		return nil
	}
	return []tea.Msg{msg}
}

// settle runs commands and feeds their messages back until none is left.
func settle(t testing.TB, m Model, cmd tea.Cmd) Model {
	t.Helper()
	for range 20 {
		msgs := collect(cmd)
		if len(msgs) == 0 {
			return m
		}
		var cmds []tea.Cmd
		for _, msg := range msgs {
			if _, quit := msg.(tea.QuitMsg); quit {
				continue
			}
			var c tea.Cmd
			m, c = update(m, msg)
			cmds = append(cmds, c)
		}
		cmd = tea.Batch(cmds...)
	}
	return m
}

// press sends keys: single characters, or names like "enter", "esc".
func press(t testing.TB, m Model, keys ...string) Model {
	t.Helper()
	for _, k := range keys {
		var cmd tea.Cmd
		m, cmd = update(m, keyMsg(k))
		m = settle(t, m, cmd)
	}
	return m
}

func keyMsg(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "shift+tab":
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "left":
		return tea.KeyPressMsg{Code: tea.KeyLeft}
	case "right":
		return tea.KeyPressMsg{Code: tea.KeyRight}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "home":
		return tea.KeyPressMsg{Code: tea.KeyHome}
	case "end":
		return tea.KeyPressMsg{Code: tea.KeyEnd}
	case "pgup":
		return tea.KeyPressMsg{Code: tea.KeyPgUp}
	case "pgdown":
		return tea.KeyPressMsg{Code: tea.KeyPgDown}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "ctrl+s":
		return tea.KeyPressMsg{Code: 's', Mod: tea.ModCtrl}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	}
	r := []rune(k)
	return tea.KeyPressMsg{Code: r[0], Text: k}
}

// typeText types s one key at a time.
func typeText(t testing.TB, m Model, s string) Model {
	for _, r := range s {
		if r == ' ' {
			m = press(t, m, "space")
			continue
		}
		m = press(t, m, string(r))
	}
	return m
}

// newTestModel is a model at w×h with the fixture loaded.
func newTestModel(t testing.TB, f *fakeBackend, w, h int) Model {
	t.Helper()
	// files for $EDITOR go where the test cleans up, not to /tmp
	m := NewModel(f, Options{Simulated: true, Repo: "/repo", Confinement: "bwrap: read-only root, no network", EditDir: t.TempDir()})
	m, _ = update(m, tea.WindowSizeMsg{Width: w, Height: h})
	m = settle(t, m, m.Init())
	return m
}

func plain(m Model) string {
	return stripANSI(m.View().Content)
}

func rowIDs(m Model) string { return strings.Join(m.q.rows, " ") }

func stripANSI(s string) string { return ansi.Strip(s) }

func stringWidth(s string) int { return ansi.StringWidth(s) }
