package demo

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"agent-tui/engine"
	"agent-tui/engine/config"
	"agent-tui/engine/llm"
	"agent-tui/engine/sim"
	"agent-tui/engine/workspace"
	"agent-tui/prompts"
	"agent-tui/store"
)

// TestScenario runs the whole demo through the real engine, client, store,
// worktrees and `go test` runs, and checks that it shows what SPEC section
// 11 promises.
func TestScenario(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole demo with real go test runs")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("needs the go command on PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	start := time.Now()

	url, stop, err := sim.Serve(ctx, sim.Options{ChunkDelay: ChunkDelay})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	d, err := Setup(t.TempDir(), url)
	if err != nil {
		t.Fatal(err)
	}

	// built exactly as cli.go builds it
	st, err := store.Open(d.DBPath, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg, err := config.Load(d.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.Simulated() {
		t.Error("the demo config does not mark its provider simulated")
	}
	repo, err := workspace.Open(d.Dir)
	if err != nil {
		t.Fatal(err)
	}
	// the worktrees go with the demo, not to the home directory
	if want := filepath.Join(d.Root, "work"); repo.WorkRoot() != want {
		t.Fatalf("work root %s, want %s", repo.WorkRoot(), want)
	}
	var logBuf bytes.Buffer
	eng := engine.New(engine.Options{
		Store: st, Config: cfg, Repo: repo,
		Router:  llm.NewRouter(cfg, llm.Options{}),
		Prompts: prompts.New(prompts.OverrideDir(repo.Dir)),
		Log:     &logBuf,
	})
	if err := eng.Run(ctx, true); err != nil {
		t.Fatalf("run: %v\nengine log:\n%s", err, logBuf.String())
	}
	elapsed := time.Since(start)
	t.Logf("demo scenario ran in %s (wall time, setup and go test runs included)", elapsed.Round(100*time.Millisecond))
	defer func() {
		if t.Failed() {
			t.Logf("engine log:\n%s\n%s", logBuf.String(), dump(st))
		}
	}()

	tickets, err := st.Tickets()
	if err != nil {
		t.Fatal(err)
	}
	byTitle := map[string]*store.Ticket{}
	for _, tk := range tickets {
		byTitle[tk.Title] = tk
	}
	attempts := func(tk *store.Ticket, phase string) []*store.Attempt {
		t.Helper()
		all, err := st.Attempts(tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		var out []*store.Attempt
		for _, a := range all {
			if a.Phase == phase {
				out = append(out, a)
			}
		}
		return out
	}
	check := func(a *store.Attempt, name string) *store.Check {
		for i := range a.Checks {
			if a.Checks[i].Name == name {
				return &a.Checks[i]
			}
		}
		return nil
	}
	status := func(tk *store.Ticket, want string) {
		t.Helper()
		if tk.Status != want {
			t.Errorf("%s %q: status %s (phase %s, reason %q), want %s", tk.ID, tk.Title, tk.Status, tk.Phase, tk.Reason, want)
		}
	}
	// redGreen checks that tests went red, then code green.
	redGreen := func(tk *store.Ticket) {
		t.Helper()
		ts := attempts(tk, config.Tests)
		if len(ts) == 0 {
			t.Errorf("%s: no tests attempt", tk.ID)
		} else if c := check(ts[len(ts)-1], "tests red"); c == nil || c.Pass || c.ExitCode == 0 {
			t.Errorf("%s: tests phase did not go red: %+v", tk.ID, c)
		}
		cs := attempts(tk, config.Code)
		if len(cs) == 0 {
			t.Errorf("%s: no code attempt", tk.ID)
		} else if c := check(cs[len(cs)-1], "code green"); c == nil || !c.Pass {
			t.Errorf("%s: code phase did not go green: %+v", tk.ID, c)
		}
	}

	// the feature: rejected once by the validator, red, green, CI red, fixed, waiting
	f := byTitle[sim.FeatureTitle]
	if f == nil {
		t.Fatal("feature ticket missing")
	}
	status(f, store.StatusAwaiting)
	if f.Phase != config.Review {
		t.Errorf("feature waits at phase %s, want review", f.Phase)
	}
	if ds := attempts(f, config.Discovery); len(ds) != 2 {
		t.Errorf("feature discovery attempts: %d, want 2", len(ds))
	} else {
		if v := ds[0].Verdict; v == nil || v.Pass || v.By != "validator" {
			t.Errorf("feature discovery attempt 1 verdict %+v, want failed by the validator", v)
		}
		if v := ds[1].Verdict; v == nil || !v.Pass {
			t.Errorf("feature discovery attempt 2 verdict %+v, want pass", v)
		}
		if len(ds[1].Feedback) == 0 {
			t.Error("feature discovery attempt 2 was given no objections")
		}
	}
	redGreen(f)
	if ci := attempts(f, config.CI); len(ci) == 0 || ci[0].Verdict == nil || ci[0].Verdict.Pass {
		t.Errorf("feature: want a red ci attempt, got %d attempts", len(ci))
	}
	if fx := attempts(f, config.CIFix); len(fx) == 0 || fx[len(fx)-1].Verdict == nil || !fx[len(fx)-1].Verdict.Pass {
		t.Error("feature: cifix did not pass")
	} else if c := check(fx[len(fx)-1], "ci"); c == nil || !c.Pass {
		t.Errorf("feature: cifix ci check %+v", c)
	}
	if rv := attempts(f, config.Review); len(rv) == 0 || rv[len(rv)-1].Verdict == nil || !rv[len(rv)-1].Verdict.Pass {
		t.Error("feature: review did not pass")
	}
	if f.CostUSD <= 0 {
		t.Errorf("feature cost %v, want > 0", f.CostUSD)
	}

	// the hotfix: the diagnosis loop gives up and hands over
	h := byTitle[sim.HotfixTitle]
	if h == nil {
		t.Fatal("hotfix ticket missing")
	}
	status(h, store.StatusNeedsHuman)
	if ds := attempts(h, config.Diagnosis); len(ds) != cfg.Phase(config.Diagnosis).MaxAttempts {
		t.Errorf("hotfix diagnosis attempts: %d, want %d", len(ds), cfg.Phase(config.Diagnosis).MaxAttempts)
	}

	// the epic: split in two children, each a real change waiting for approval
	e := byTitle[sim.EpicTitle]
	if e == nil {
		t.Fatal("epic ticket missing")
	}
	status(e, store.StatusWaitingChildren)
	if len(e.Children) != 2 {
		t.Fatalf("epic children: %v, want 2", e.Children)
	}
	for _, id := range e.Children {
		c, err := st.Ticket(id)
		if err != nil {
			t.Fatal(err)
		}
		status(c, store.StatusAwaiting)
		redGreen(c)
	}
	if t.Failed() {
		return
	}

	// What a user does next: approve the feature (merged into main), give
	// the hotfix the guidance it asked for, and a benchmark-style ticket.
	if _, err := engine.Decide(st, cfg, f.ID, store.Decision{Kind: store.DecisionApprove}); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Decide(st, cfg, h.ID, store.Decision{Kind: store.DecisionRetry,
		Guidance: "A failing title from the reporter: \"Crème brûlée recipes\"."}); err != nil {
		t.Fatal(err)
	}
	b, err := engine.AddTicket(st, engine.NewTicket{Kind: engine.KindHotfix, Title: "bench: one"}, BaseBranch)
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := eng.Run(ctx, true); err != nil {
		t.Fatalf("second run: %v", err)
	}
	t.Logf("second run (merge, guided hotfix, bench ticket) took %s", time.Since(start).Round(100*time.Millisecond))
	reload := func(id string) *store.Ticket {
		t.Helper()
		tk, err := st.Ticket(id)
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}
	status(reload(f.ID), store.StatusDone)
	if _, err := os.Stat(filepath.Join(d.Dir, "textutil", "slugify.go")); err != nil {
		t.Errorf("the approved feature was not merged into the checkout: %v", err)
	}
	h = reload(h.ID)
	status(h, store.StatusAwaiting)
	redGreen(h)
	if ds := attempts(h, config.Diagnosis); len(ds) == 0 || ds[len(ds)-1].Verdict == nil || !ds[len(ds)-1].Verdict.Pass {
		t.Error("hotfix: the guided diagnosis did not pass")
	}
	b = reload(b.ID)
	status(b, store.StatusAwaiting)
	redGreen(b)
}

// dump summarises every ticket and attempt, for a failing test's log.
func dump(st *store.Store) string {
	var b strings.Builder
	tickets, _ := st.Tickets()
	for _, tk := range tickets {
		fmt.Fprintf(&b, "%s %q %s phase=%s reason=%q\n", tk.ID, tk.Title, tk.Status, tk.Phase, tk.Reason)
		as, _ := st.Attempts(tk.ID)
		for _, a := range as {
			fmt.Fprintf(&b, "  %s #%d verdict=%+v error=%q\n", a.Phase, a.N, a.Verdict, a.Error)
			for _, tc := range a.ToolCalls {
				fmt.Fprintf(&b, "    %s %.80s -> %.120q\n", tc.Name, tc.Args, tc.Result)
			}
			for _, c := range a.Checks {
				fmt.Fprintf(&b, "    check %s pass=%v: %.300q\n", c.Name, c.Pass, c.Output)
			}
		}
	}
	return b.String()
}
