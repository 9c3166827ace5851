package engine

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"agent-tui/engine/config"
	"agent-tui/engine/oaitest"
	"agent-tui/store"
)

// The engine's own work per phase transition: the attempt's end, the
// phase's acceptance and the next attempt's start, store commits included.
func BenchmarkPhaseTransition(b *testing.B) {
	h := newHarness(b, "", developer)
	ctx := context.Background()
	var samples []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		id := h.add("epic", fmt.Sprintf("e%d", i), false)
		t := h.ticket(id)
		a, err := h.eng.beginAttempt(t, config.Discovery, &phaseInput{})
		if err != nil {
			b.Fatal(err)
		}
		a.Deliverable = "spec"
		a.Verdict = &store.Verdict{Pass: true, By: "validator"}
		b.StartTimer()
		start := time.Now()
		if err := h.eng.endAttempt(ctx, t, config.Discovery, a, nil); err != nil {
			b.Fatal(err)
		}
		if err := h.eng.step(ctx, t); err != nil { // accepted → passed, next phase
			b.Fatal(err)
		}
		if _, err := h.eng.beginAttempt(t, t.Phase, &phaseInput{}); err != nil {
			b.Fatal(err)
		}
		samples = append(samples, time.Since(start))
	}
	b.StopTimer()
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	b.ReportMetric(float64(samples[len(samples)/2].Microseconds())/1000, "ms-median")
}

// instantProject's test and CI command answers at once: one shell process
// whose tests are shell builtins, red until the ticket's file says done.
var instantProject = map[string]string{
	"README.md":    "# bench project\n",
	"run_tests.sh": "for f in tests/*.sh; do [ -e \"$f\" ] || continue; (. \"$f\") || exit 1; done\necho all tests passed\n",
	"src/app.txt":  "app v1\n",
}

// 50 hotfixes at once on a model that takes 200 ms per call, with test and
// CI commands that answer at once: the wall time against the model time of
// one ticket's critical path.
func BenchmarkFiftyHotfixes(b *testing.B) {
	latency := 200 * time.Millisecond
	if v, err := time.ParseDuration(os.Getenv("BENCH_LATENCY")); err == nil {
		latency = v
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		// the moment the first ticket has its last answer but one (code's
		// second call; the review is the last): no ticket's work after it
		// (its green check, commit, CI run, review diff, merge) can start
		// earlier, so that work alone, spread over every core, bounds the
		// run from below
		var markOnce sync.Once
		var mark struct {
			sync.Mutex
			at         time.Time
			self, kids syscall.Rusage
		}
		h := newHarnessOn(b, instantProject, "", func(r *oaitest.Request, phase string) oaitest.Reply {
			if phase == "code" && oaitest.ToolTurns(r) == 1 {
				markOnce.Do(func() {
					time.AfterFunc(latency, func() {
						mark.Lock()
						defer mark.Unlock()
						mark.at = time.Now()
						syscall.Getrusage(syscall.RUSAGE_SELF, &mark.self)
						syscall.Getrusage(syscall.RUSAGE_CHILDREN, &mark.kids)
					})
				})
			}
			rep := builtinTests(r, phase)
			rep.Delay = latency
			return rep
		})
		h.cfg.MaxParallel = 50
		opts := Options{Store: h.st, Config: h.cfg, Repo: h.repo, Router: h.eng.router, Prompts: h.eng.prompts}
		if os.Getenv("BENCH_TRACE") != "" {
			opts.Log = os.Stderr
		}
		h.eng = New(opts)
		for j := 0; j < 50; j++ {
			h.add("hotfix", fmt.Sprintf("bench %d", j), false)
		}
		b.StartTimer()
		var self0, kids0 syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &self0)
		syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids0)
		start := time.Now()
		h.runIdle()
		wall := time.Since(start)
		var self1, kids1 syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &self1)
		syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids1)
		cpu := func(a, b syscall.Rusage) float64 {
			return time.Duration(b.Utime.Nano() + b.Stime.Nano() - a.Utime.Nano() - a.Stime.Nano()).Seconds()
		}
		b.ReportMetric(cpu(self0, self1), "s-cpu-engine+model")
		b.ReportMetric(cpu(kids0, kids1), "s-cpu-git+scripts")
		// no schedule beats all the CPU spread over every core
		floor := (cpu(self0, self1) + cpu(kids0, kids1)) / float64(runtime.NumCPU())
		mark.Lock()
		marked := !mark.at.IsZero()
		after := cpu(mark.self, self1) + cpu(mark.kids, kids1)
		tail := mark.at.Sub(start).Seconds() + after/float64(runtime.NumCPU())
		mark.Unlock()
		b.StopTimer()
		calls := 0
		for _, r := range h.srv.Requests() {
			if ticketOf(r) == "T-1" {
				calls++
			}
		}
		critical := time.Duration(calls) * latency
		for j := 1; j <= 50; j++ {
			if s := h.ticket(fmt.Sprintf("T-%d", j)).Status; s != store.StatusDone {
				b.Fatalf("T-%d %s", j, s)
			}
		}
		if os.Getenv("BENCH_TRACE") != "" {
			var dones []float64
			for j := 1; j <= 50; j++ {
				dones = append(dones, h.ticket(fmt.Sprintf("T-%d", j)).Updated.Sub(start).Seconds())
			}
			sort.Float64s(dones)
			b.Logf("done: first %.2f, median %.2f, last %.2f; run returned %.2f", dones[0], dones[25], dones[49], wall.Seconds())
			var lateStarts []float64
			for j := 1; j <= 50; j++ {
				as, _ := h.st.Attempts(fmt.Sprintf("T-%d", j))
				for _, a := range as {
					if a.Phase == "tests" {
						lateStarts = append(lateStarts, a.Started.Sub(start).Seconds())
						break
					}
				}
			}
			sort.Float64s(lateStarts)
			b.Logf("tests phase starts: first %.2f, median %.2f, last %.2f", lateStarts[0], lateStarts[25], lateStarts[49])
			for j := 1; j <= 50; j += 7 {
				id := fmt.Sprintf("T-%d", j)
				as, _ := h.st.Attempts(id)
				var line []string
				for _, a := range as {
					line = append(line, fmt.Sprintf("%s %.2f-%.2f", a.Phase, a.Started.Sub(start).Seconds(), a.Ended.Sub(start).Seconds()))
				}
				b.Logf("%s: %s; done %.2f", id, strings.Join(line, ", "), h.ticket(id).Updated.Sub(start).Seconds())
			}
		}
		b.ReportMetric(wall.Seconds(), "s-wall")
		b.ReportMetric(critical.Seconds(), "s-critical-path")
		b.ReportMetric(wall.Seconds()/critical.Seconds(), "x-of-critical-path")
		b.ReportMetric(max(floor, critical.Seconds())/critical.Seconds(), "x-floor-on-these-cores")
		if marked {
			b.ReportMetric(after, "s-cpu-after-last-answer-but-one")
			b.ReportMetric(tail/critical.Seconds(), "x-floor-of-the-last-steps")
		}
	}
}

// The git commands one hotfix cannot do without, with nothing else: its
// worktree, the tests' commit, the code's commit, the review's diff and
// the merge's tree and commit, for 50 tickets spread over every core. No
// engine, model, test run or shell: what real git alone costs on this
// machine, the floor under BenchmarkFiftyHotfixes (whose target is 1.25×
// the 8 calls × 200 ms of one ticket's critical path).
func BenchmarkGitFloor(b *testing.B) {
	const tickets, critical = 50, 8 * 200 * time.Millisecond
	env := append(os.Environ(), "GIT_AUTHOR_NAME=bench", "GIT_AUTHOR_EMAIL=bench@example.com",
		"GIT_COMMITTER_NAME=bench", "GIT_COMMITTER_EMAIL=bench@example.com", "GIT_CONFIG_NOSYSTEM=1")
	git := func(dir string, args ...string) string {
		cmd := exec.Command("git", append([]string{"-c", "maintenance.auto=false"}, args...)...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		root := b.TempDir()
		repo := filepath.Join(root, "repo")
		if err := os.Mkdir(repo, 0o755); err != nil {
			b.Fatal(err)
		}
		git(repo, "init", "-q", "-b", "main")
		write(filepath.Join(repo, "app.txt"), "app v1\n")
		git(repo, "add", "-A")
		git(repo, "commit", "-q", "-m", "init")
		branch := func(t int) string { return fmt.Sprintf("agent/T-%d", t) }
		worktree := func(t int) string { return filepath.Join(root, fmt.Sprintf("T-%d", t)) }
		// every ticket's part on every core at once, one part after the other
		spread := func(part func(t int)) {
			next := make(chan int, tickets)
			for t := 1; t <= tickets; t++ {
				next <- t
			}
			close(next)
			var wg sync.WaitGroup
			for range runtime.NumCPU() {
				wg.Go(func() {
					for t := range next {
						part(t)
					}
				})
			}
			wg.Wait()
		}
		var kids0, kids1 syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids0)
		b.StartTimer()
		start := time.Now()
		spread(func(t int) { git(repo, "worktree", "add", "-q", "-b", branch(t), worktree(t), "main") })
		worktrees := time.Since(start)
		spread(func(t int) {
			wt := worktree(t)
			write(filepath.Join(wt, "app_test.txt"), "test\n")
			git(wt, "add", "-A")
			git(wt, "commit", "-q", "-m", "tests")
			write(filepath.Join(wt, "app.txt"), fmt.Sprintf("app v%d\n", t+1))
			git(wt, "add", "-A")
			git(wt, "commit", "-q", "-m", "code")
			git(wt, "diff", "--merge-base", "main", "HEAD")
			tree := strings.TrimSpace(git(repo, "merge-tree", "--write-tree", "main", branch(t)))
			git(repo, "commit-tree", tree, "-p", "main", "-p", branch(t), "-m", "merge")
		})
		wall := time.Since(start)
		b.StopTimer()
		syscall.Getrusage(syscall.RUSAGE_CHILDREN, &kids1)
		cpu := time.Duration(kids1.Utime.Nano() + kids1.Stime.Nano() - kids0.Utime.Nano() - kids0.Stime.Nano())
		b.ReportMetric(wall.Seconds(), "s-wall")
		b.ReportMetric(worktrees.Seconds(), "s-wall-worktrees-alone")
		b.ReportMetric(cpu.Seconds(), "s-cpu-git")
		b.ReportMetric(float64(cpu.Milliseconds())/(tickets*9), "ms-cpu-per-git-command")
		b.ReportMetric(wall.Seconds()/critical.Seconds(), "x-of-critical-path")
	}
}
