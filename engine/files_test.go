package engine

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"agent-tui/engine/oaitest"
	"agent-tui/store"
)

func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (h *harness) baseTestsPass() {
	h.t.Helper()
	out, err := exec.Command("sh", "-c", "cd "+h.dir+" && sh run_tests.sh").CombinedOutput()
	if err != nil {
		h.t.Fatalf("the project's tests fail on the base branch: %v\n%s", err, out)
	}
}

// The full feature route on a real repository: red, green, CI, review,
// merge; the base branch gets a commit naming the ticket.
func TestFeatureLandsOnBaseBranch(t *testing.T) {
	h := newHarness(t, "", developer)
	id := h.add("feature", "write the feature file", false)
	h.runIdle()
	tk := h.ticket(id)
	if tk.Status != store.StatusDone {
		t.Fatalf("status %s (%s)", tk.Status, tk.Reason)
	}
	var order []string
	for _, r := range h.srv.Requests() {
		p := phaseOf(r)
		if !strings.HasPrefix(p, "validator") && (len(order) == 0 || order[len(order)-1] != p) {
			order = append(order, p)
		}
	}
	if got := strings.Join(order, ","); got != "discovery,techspec,planning,tests,code,review" {
		t.Fatalf("phase order %s", got)
	}
	code := h.firstTurns("code")[0]
	if u := userText(code); !strings.Contains(u, "Failing test output") || !strings.Contains(u, "tests/"+id+"_test.sh") {
		t.Fatalf("code's first request lacks the failing output:\n%s", u)
	}
	log := gitOut(t, h.dir, "log", "--format=%s", "main")
	if !strings.Contains(log, id+":") {
		t.Fatalf("no merge commit naming %s:\n%s", id, log)
	}
	for _, f := range []string{"src/" + id + ".txt", "tests/" + id + "_test.sh"} {
		if _, err := os.Stat(filepath.Join(h.dir, f)); err != nil {
			t.Fatalf("%s not on the base branch", f)
		}
	}
	h.baseTestsPass()
	// tests first: the branch's tests commit holds the test, what was checked red
	var testsCommit string
	for _, l := range strings.Split(gitOut(t, h.dir, "log", "--format=%H %s", "agent/"+id), "\n") {
		if sha, subject, _ := strings.Cut(l, " "); strings.HasPrefix(subject, id+" tests:") {
			testsCommit = sha
		}
	}
	if testsCommit == "" {
		t.Fatalf("no tests commit on agent/%s", id)
	}
	if files := gitOut(t, h.dir, "show", "--name-only", "--format=", testsCommit); files != "tests/"+id+"_test.sh\n" {
		t.Fatalf("the tests commit holds %q", files)
	}
	if _, err := os.Stat(h.repo.WorktreePath(id)); !os.IsNotExist(err) {
		t.Fatalf("worktree still there: %v", err)
	}
	// done, its worktree gone: the Diff tab still shows what it brought
	if tk.Merged == "" {
		t.Fatal("no merge commit recorded")
	}
	d, err := h.eng.Diff(context.Background(), id)
	if err != nil || !strings.Contains(d, "+++ b/src/"+id+".txt") || !strings.Contains(d, "+++ b/tests/"+id+"_test.sh") {
		t.Fatalf("diff of a merged ticket: %v\n%s", err, d)
	}
	// a record from before merges were recorded: the merge is looked up
	if _, err := h.st.UpdateTicket(id, func(x *store.Ticket) error { x.Merged = ""; return nil }); err != nil {
		t.Fatal(err)
	}
	if again, err := h.eng.Diff(context.Background(), id); err != nil || again != d {
		t.Fatalf("diff without a recorded merge: %v\n%s", err, again)
	}
	ci := h.phase(id, "ci")
	if len(ci.Attempts) != 1 || !ci.Attempts[0].Checks[0].Pass {
		t.Fatalf("ci: %+v", ci)
	}
	if cs := h.phase(id, "cifix").Status; cs != store.PhaseSkipped {
		t.Fatalf("cifix %s", cs)
	}
	red := h.phase(id, "tests").Attempts[0].Checks[0]
	if red.Pass || red.ExitCode == 0 {
		t.Fatalf("tests check not red: %+v", red)
	}
}

// A code attempt that rewrites the test to get green is failed; the test
// that lands is the red one.
func TestCodeMayNotChangeTests(t *testing.T) {
	var c counter
	h := newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase == "code" && toolTurns(r) == 0 && c.inc("code") == 1 {
			return oaitest.Reply{ToolCalls: []oaitest.ToolCall{writeCall("x", "tests/"+ticketOf(r)+"_test.sh", "exit 0\n")}}
		}
		return developer(r, phase)
	})
	id := h.add("hotfix", "cheat", false)
	h.runIdle()
	code := h.phase(id, "code")
	if len(code.Attempts) != 2 || code.Attempts[0].Verdict.Pass || !strings.Contains(strings.Join(code.Attempts[0].Verdict.Objections, " "), "test files") {
		t.Fatalf("code attempts: %+v", code.Attempts)
	}
	if u := userText(h.firstTurns("code")[1]); !strings.Contains(u, "test files written in the tests phase (and the scripts that run them) were changed") {
		t.Fatalf("second code attempt lacks the objection:\n%s", u)
	}
	data, err := os.ReadFile(filepath.Join(h.dir, "tests", id+"_test.sh"))
	if err != nil || !strings.Contains(string(data), "grep -q") {
		t.Fatalf("landed test is not the red one: %q %v", data, err)
	}
	h.baseTestsPass()
}

// Tool calls that try to leave the worktree write and read nothing outside
// it; the session goes on.
func TestToolsStayInsideWorktree(t *testing.T) {
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.txt")
	os.WriteFile(secret, []byte("TOP-SECRET"), 0o644)
	h := newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase == "tests" && toolTurns(r) == 0 {
			link, _ := json.Marshal(map[string]string{"command": "ln -s " + outside + " escape"})
			read, _ := json.Marshal(map[string]string{"path": "escape/secret.txt"})
			readAbs, _ := json.Marshal(map[string]string{"path": secret})
			return oaitest.Reply{ToolCalls: []oaitest.ToolCall{
				writeCall("a", "../../../../../../../"+filepath.Join(outside, "up.txt"), "x"),
				writeCall("b", filepath.Join(outside, "abs.txt"), "x"),
				{ID: "c", Name: "run_command", Args: string(link)},
				writeCall("d", "escape/link.txt", "x"),
				{ID: "e", Name: "read_file", Args: string(read)},
				{ID: "f", Name: "read_file", Args: string(readAbs)},
			}}
		}
		if phase == "tests" && toolTurns(r) == 1 {
			for _, m := range r.Messages {
				if m.Role == "tool" && strings.Contains(m.Content, "TOP-SECRET") {
					return oaitest.Reply{Text: "LEAKED"}
				}
			}
			return oaitest.Reply{ToolCalls: []oaitest.ToolCall{{ID: "g", Name: "run_command", Args: `{"command": "rm -f escape"}`}, writeCall("h", "tests/"+ticketOf(r)+"_test.sh", "grep -q 'done "+ticketOf(r)+"' src/"+ticketOf(r)+".txt\n")}}
		}
		return developer(r, phase)
	})
	id := h.add("hotfix", "escape attempts", false)
	h.runIdle()
	entries, _ := os.ReadDir(outside)
	if len(entries) != 1 {
		t.Fatalf("files written outside the worktree: %v", entries)
	}
	for _, a := range h.phase(id, "tests").Attempts {
		if strings.Contains(a.Deliverable, "LEAKED") {
			t.Fatal("a file outside the worktree was read")
		}
	}
	if s := h.ticket(id).Status; s != store.StatusDone {
		t.Fatalf("status %s (%s)", s, h.ticket(id).Reason)
	}
	calls := h.phase(id, "tests").Attempts[0].ToolCalls
	refused := 0
	for _, c := range calls {
		if c.IsErr {
			refused++
		}
	}
	if refused < 4 {
		t.Fatalf("expected the escapes to be refused: %+v", calls)
	}
}

// A red CI run sends its log to cifix, whose fix lands.
func TestCIFailureFixedByCIFix(t *testing.T) {
	h := newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
		id := ticketOf(r)
		switch {
		case phase == "code" && toolTurns(r) == 0:
			return oaitest.Reply{ToolCalls: []oaitest.ToolCall{writeCall("a", "src/"+id+".txt", "done "+id+"\n"), writeCall("b", "src/lint.bad", "x")}}
		case phase == "cifix" && toolTurns(r) == 0:
			if !strings.Contains(userText(r), "Failing CI log") || !strings.Contains(userText(r), "lint.bad") {
				return oaitest.Reply{Text: "no log given"}
			}
			return oaitest.Reply{ToolCalls: []oaitest.ToolCall{{ID: "c", Name: "run_command", Args: `{"command": "rm src/lint.bad"}`}}}
		}
		return developer(r, phase)
	})
	// make the CI log mention the culprit
	h.cfg.CICommand = "sh run_tests.sh && if [ -e src/lint.bad ]; then echo 'lint: src/lint.bad is not allowed'; exit 1; fi"
	id := h.add("hotfix", "ci breaker", false)
	h.runIdle()
	if s := h.ticket(id).Status; s != store.StatusDone {
		t.Fatalf("status %s (%s)", s, h.ticket(id).Reason)
	}
	ci := h.phase(id, "ci")
	if len(ci.Attempts) != 1 || ci.Attempts[0].Checks[0].Pass {
		t.Fatalf("ci should have been red once: %+v", ci.Attempts)
	}
	if fix := h.phase(id, "cifix"); fix.Status != store.PhasePassed || len(fix.Attempts) != 1 {
		t.Fatalf("cifix %+v", fix)
	}
	if _, err := os.Stat(filepath.Join(h.dir, "src", "lint.bad")); !os.IsNotExist(err) {
		t.Fatal("the fix did not land on the base branch")
	}
	h.baseTestsPass()
}

// Review objections reach code; a gated review waits; reject sends the
// reason to code and the next review; approve merges.
func TestReviewLoopAndApprovalGate(t *testing.T) {
	var c counter
	h := newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase == "review" && c.inc("review") == 1 {
			return fail("REV-1: src file lacks a trailing note")
		}
		return developer(r, phase)
	})
	h.cfg.Approve = []string{"review"}
	id := h.add("hotfix", "gated", false)
	before := gitOut(t, h.dir, "rev-parse", "main")
	h.runIdle()
	if u := userText(h.firstTurns("code")[1]); !strings.Contains(u, "REV-1") {
		t.Fatalf("code's second attempt lacks the review objection:\n%s", u)
	}
	// the second review checks the old objection; it is not told to revise a verdict
	if u := userText(h.requests("review")[1]); !strings.Contains(u, "Objections raised by earlier reviews") || !strings.Contains(u, "REV-1") || strings.Contains(u, "Your previous deliverable") {
		t.Fatalf("the second review's input:\n%s", u)
	}
	tk := h.ticket(id)
	if tk.Status != store.StatusAwaiting {
		t.Fatalf("status %s (%s)", tk.Status, tk.Reason)
	}
	if after := gitOut(t, h.dir, "rev-parse", "main"); after != before {
		t.Fatal("the base branch moved before approval")
	}
	if _, err := Decide(h.st, h.cfg, id, store.Decision{Kind: store.DecisionReject, Reason: "REJ: name the ticket in the file"}); err != nil {
		t.Fatal(err)
	}
	h.runIdle()
	// review only reads: the reason goes to code, and the next review
	// checks it was handled
	if code := h.firstTurns("code"); len(code) != 3 || !strings.Contains(userText(code[2]), "REJ: name the ticket in the file") {
		t.Fatalf("the reject reason did not reach code (%d code attempts)", len(code))
	}
	rev := h.requests("review")
	if len(rev) != 3 || !strings.Contains(userText(rev[2]), "REJ: name the ticket in the file") {
		t.Fatalf("the reject reason did not reach the next review (%d review requests)", len(rev))
	}
	if s := h.ticket(id).Status; s != store.StatusAwaiting {
		t.Fatalf("after reject: %s", s)
	}
	if _, err := Decide(h.st, h.cfg, id, store.Decision{Kind: store.DecisionApprove}); err != nil {
		t.Fatal(err)
	}
	h.runIdle()
	if s := h.ticket(id).Status; s != store.StatusDone {
		t.Fatalf("after approve: %s (%s)", s, h.ticket(id).Reason)
	}
	if after := gitOut(t, h.dir, "rev-parse", "main"); after == before {
		t.Fatal("approve did not merge")
	}
	// code sent back starts at 1 again in stats, and so does its CI run
	s, err := ComputeStats(h.st, h.cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, phase := range []string{"code", "ci"} {
		if rows := s.PassRate[phase]; len(rows) != 1 || rows[0].Attempt != 1 || rows[0].Judged != 3 {
			t.Fatalf("%s pass rate %+v, want 3 judged as attempt 1", phase, rows)
		}
	}
}

// A dirty checkout blocks the merge with a reason; approve after cleaning
// merges.
func TestMergeWaitsForCleanCheckout(t *testing.T) {
	h := newHarness(t, "", developer)
	os.WriteFile(filepath.Join(h.dir, "README.md"), []byte("local edit\n"), 0o644)
	id := h.add("hotfix", "blocked merge", false)
	h.runIdle()
	tk := h.ticket(id)
	if tk.Status != store.StatusNeedsHuman || !strings.Contains(tk.Reason, "uncommitted") {
		t.Fatalf("status %s reason %q", tk.Status, tk.Reason)
	}
	gitOut(t, h.dir, "checkout", "README.md")
	if _, err := Decide(h.st, h.cfg, id, store.Decision{Kind: store.DecisionApprove}); err != nil {
		t.Fatal(err)
	}
	h.runIdle()
	if s := h.ticket(id).Status; s != store.StatusDone {
		t.Fatalf("status %s (%s)", s, h.ticket(id).Reason)
	}
}

// renamingBaseAt is a harness whose base branch main is renamed trunk as
// the first call of phase comes in.
func renamingBaseAt(t *testing.T, phase string) *harness {
	var calls atomic.Int32
	var h *harness
	h = newHarness(t, "", func(r *oaitest.Request, p string) oaitest.Reply {
		if p == phase && calls.Add(1) == 1 {
			gitOut(t, h.dir, "branch", "-m", "main", "trunk")
		}
		return developer(r, p)
	})
	return h
}

// A base branch renamed while a ticket runs stops it at the first attempt
// git fails for it, naming the branch: not every attempt asked for and
// failed alike. Made again, a retry carries on.
func TestBaseBranchRenamedMidRunStopsOnce(t *testing.T) {
	h := renamingBaseAt(t, "tests")
	id := h.add("hotfix", "base renamed", false)
	h.runIdle()
	tk := h.ticket(id)
	if tk.Status != store.StatusNeedsHuman || !strings.Contains(tk.Reason, "the base branch main no longer exists") {
		t.Fatalf("status %s reason %q", tk.Status, tk.Reason)
	}
	if n := len(h.phase(id, "tests").Attempts); n != 1 {
		t.Fatalf("%d tests attempts, want the first to stop the ticket", n)
	}
	gitOut(t, h.dir, "branch", "-m", "trunk", "main")
	if _, err := Decide(h.st, h.cfg, id, store.Decision{Kind: store.DecisionRetry}); err != nil {
		t.Fatal(err)
	}
	h.runIdle()
	if tk := h.ticket(id); tk.Status != store.StatusDone {
		t.Fatalf("after the retry: %s (%s)", tk.Status, tk.Reason)
	}
}

// The same when the rename comes later, during code (the review's diff
// is the first to fail, a step of the engine's, not an attempt), or while
// the ticket waits at review and a reject brings the base in: the stop
// names the branch, at once.
func TestBaseBranchRenamedLaterStopsNamingIt(t *testing.T) {
	h := renamingBaseAt(t, "code")
	id := h.add("hotfix", "base renamed during code", false)
	// a step tried again would wait a minute first: the run would take that
	// long, where it takes about a second (timed against the usual second
	// it was flaky on a loaded machine)
	defer func(d time.Duration) { stepRetryDelay = d }(stepRetryDelay)
	stepRetryDelay = time.Minute
	start := time.Now()
	h.runIdle()
	if tk := h.ticket(id); tk.Status != store.StatusNeedsHuman || !strings.Contains(tk.Reason, "the base branch main no longer exists") {
		t.Fatalf("status %s reason %q", tk.Status, tk.Reason)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("stopped after %v: tried again first", d)
	}

	h2 := newHarness(t, "", developer)
	h2.cfg.Approve = []string{"review"}
	id = h2.add("hotfix", "base renamed at review", false)
	h2.runIdle()
	if tk := h2.ticket(id); tk.Status != store.StatusAwaiting {
		t.Fatalf("%s (%s)", tk.Status, tk.Reason)
	}
	gitOut(t, h2.dir, "branch", "-m", "main", "trunk")
	if _, err := Decide(h2.st, h2.cfg, id, store.Decision{Kind: store.DecisionReject, Reason: "more"}); err != nil {
		t.Fatal(err)
	}
	h2.runIdle()
	if tk := h2.ticket(id); tk.Status != store.StatusNeedsHuman || !strings.Contains(tk.Reason, "the base branch main no longer exists") {
		t.Fatalf("after the reject: status %s reason %q", tk.Status, tk.Reason)
	}
}

// A merge onto a base branch that has no commits any more (deleted, then
// checked out again as an orphan) waits for a person with that reason, not
// an engine error tried three times.
func TestMergeOntoOrphanedBaseIsBlocked(t *testing.T) {
	h := newHarness(t, "", developer)
	h.cfg.Approve = []string{"review"}
	id := h.add("hotfix", "orphaned base", false)
	h.runIdle()
	if tk := h.ticket(id); tk.Status != store.StatusAwaiting {
		t.Fatalf("%s (%s)", tk.Status, tk.Reason)
	}
	gitOut(t, h.dir, "checkout", "-q", "--detach")
	gitOut(t, h.dir, "branch", "-D", "main")
	gitOut(t, h.dir, "checkout", "-q", "--orphan", "main")
	if _, err := Decide(h.st, h.cfg, id, store.Decision{Kind: store.DecisionApprove}); err != nil {
		t.Fatal(err)
	}
	h.runIdle()
	tk := h.ticket(id)
	if tk.Status != store.StatusNeedsHuman || !strings.Contains(tk.Reason, "the branch main checked out has no commits") {
		t.Fatalf("with its files staged: status %s reason %q", tk.Status, tk.Reason)
	}
	// and with nothing staged
	gitOut(t, h.dir, "rm", "-r", "-q", "--cached", ".")
	if _, err := Decide(h.st, h.cfg, id, store.Decision{Kind: store.DecisionApprove}); err != nil {
		t.Fatal(err)
	}
	h.runIdle()
	tk = h.ticket(id)
	if tk.Status != store.StatusNeedsHuman || !strings.Contains(tk.Reason, "the branch main checked out has no commits") {
		t.Fatalf("status %s reason %q", tk.Status, tk.Reason)
	}
}

// Three hotfixes and an epic with two children run at once in separate
// worktrees and all land.
func TestParallelTicketsAllLand(t *testing.T) {
	h := newHarness(t, "", developer)
	var ids []string
	for _, title := range []string{"one", "two", "three"} {
		ids = append(ids, h.add("hotfix", title, false))
	}
	epic := h.add("epic", "two parts", false)
	h.runIdle()
	ep := h.ticket(epic)
	if ep.Status != store.StatusDone {
		t.Fatalf("epic %s (%s)", ep.Status, ep.Reason)
	}
	ids = append(ids, ep.Children...)
	worktrees := map[string]bool{}
	for _, id := range ids {
		tk := h.ticket(id)
		if tk.Status != store.StatusDone {
			t.Fatalf("%s %s (%s)", id, tk.Status, tk.Reason)
		}
		if _, err := os.Stat(filepath.Join(h.dir, "src", id+".txt")); err != nil {
			t.Fatalf("%s's change is not on the base branch", id)
		}
		worktrees[tk.Branch] = true
	}
	if len(worktrees) != 5 {
		t.Fatalf("branches: %v", worktrees)
	}
	h.baseTestsPass()
	// the attempts overlapped in time: the tickets ran concurrently
	var spans [][2]int64
	for _, id := range ids[:3] {
		as, _ := h.st.Attempts(id)
		spans = append(spans, [2]int64{as[0].Started.UnixNano(), as[len(as)-1].Ended.UnixNano()})
	}
	overlap := spans[0][0] < spans[1][1] && spans[1][0] < spans[0][1]
	if !overlap {
		t.Fatalf("hotfixes did not overlap: %v", spans)
	}
	_ = context.Background
}

// A ticket without a worktree of its own (an epic's discovery) reads the
// base branch as committed: not the user's checkout, with its uncommitted
// files, its other branch, and other tickets' worktrees under .git.
func TestReadingPhasesSeeTheBaseNotTheCheckout(t *testing.T) {
	var leaked []string
	var mu sync.Mutex
	h := newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase == "discovery" && toolTurns(r) == 0 {
			return oaitest.Reply{ToolCalls: []oaitest.ToolCall{
				{ID: "a", Name: "list_dir", Args: `{"path": "."}`},
				{ID: "b", Name: "read_file", Args: `{"path": "secret.env"}`},
				{ID: "c", Name: "search", Args: `{"pattern": "CANARY"}`},
			}}
		}
		if phase == "discovery" && toolTurns(r) == 1 {
			for _, m := range r.Messages {
				if m.Role != "tool" {
					continue
				}
				canaries := []string{"CANARY-SECRET", "CANARY-OTHER"}
				if m.ToolCallID == "a" { // the listing
					canaries = append(canaries, "secret.env", "OTHER.md")
				}
				for _, canary := range canaries {
					if strings.Contains(m.Content, canary) {
						mu.Lock()
						leaked = append(leaked, canary)
						mu.Unlock()
					}
				}
			}
		}
		return developer(r, phase)
	})
	os.WriteFile(filepath.Join(h.dir, "secret.env"), []byte("KEY=CANARY-SECRET\n"), 0o600)
	gitOut(t, h.dir, "checkout", "-q", "-b", "other")
	os.WriteFile(filepath.Join(h.dir, "OTHER.md"), []byte("CANARY-OTHER\n"), 0o644)
	gitOut(t, h.dir, "add", "OTHER.md")
	gitOut(t, h.dir, "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "other")
	h.cfg.Approve = []string{"discovery"}
	id := h.add("epic", "reads the repository", false)
	h.runIdle()
	if tk := h.ticket(id); tk.Status != store.StatusAwaiting || tk.Phase != "discovery" {
		t.Fatalf("%s at %s (%s)", tk.Status, tk.Phase, tk.Reason)
	}
	if len(leaked) > 0 {
		t.Fatalf("discovery saw %v", leaked)
	}
	if u := userText(h.requests("discovery")[0]); !strings.Contains(u, "run_tests.sh") || strings.Contains(u, "secret.env") {
		t.Fatalf("overview:\n%s", u)
	}
}

// A test file that is a symlink to a key outside the worktree is shown by
// its target's name: the key reaches neither the model nor the store.
func TestSymlinkedTestFileIsNotFollowed(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "id_rsa")
	os.WriteFile(secret, []byte("PRIVATEKEY0123456789abcdef"), 0o600)
	h := newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase == "tests" && toolTurns(r) == 0 {
			link, _ := json.Marshal(map[string]string{"command": "ln -s " + secret + " tests/fixture.txt"})
			id := ticketOf(r)
			return oaitest.Reply{ToolCalls: []oaitest.ToolCall{
				writeCall("t", "tests/"+id+"_test.sh", "grep -q 'done "+id+"' src/"+id+".txt\n"),
				{ID: "l", Name: "run_command", Args: string(link)},
			}}
		}
		return developer(r, phase)
	})
	id := h.add("hotfix", "links a key", false)
	h.runIdle()
	if s := h.ticket(id).Status; s != store.StatusDone {
		t.Fatalf("status %s (%s)", s, h.ticket(id).Reason)
	}
	if _, ok := h.ticket(id).TestFiles["tests/fixture.txt"]; !ok {
		t.Fatalf("the link is not among the tests: %v", h.ticket(id).TestFiles)
	}
	shown := false
	for _, r := range h.srv.Requests() {
		if strings.Contains(string(r.Raw), "PRIVATEKEY") {
			t.Fatalf("the key was sent to the model (%s)", phaseOf(r))
		}
		shown = shown || phaseOf(r) == "validator of tests" && strings.Contains(userText(r), "(symlink to "+secret+")")
	}
	if !shown {
		t.Fatal("the tests validator was not shown the link")
	}
	as, err := h.st.Attempts(id)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range as {
		if b, _ := json.Marshal(a); strings.Contains(string(b), "PRIVATEKEY") {
			t.Fatalf("the key was stored with the %s attempt", a.Phase)
		}
	}
}

// Your own change to agent-tui's config, not committed (sandbox = "off",
// as a stop advised), does not block a merge: no ticket may change that
// file. Another uncommitted change still does.
func TestMergeAllowsAnUncommittedOwnConfig(t *testing.T) {
	h := newHarness(t, "", developer)
	cfg := filepath.Join(h.dir, ".agent-tui.toml")
	if err := os.WriteFile(cfg, []byte("max_parallel = 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitOut(t, h.dir, "add", ".agent-tui.toml")
	gitOut(t, h.dir, "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-q", "-m", "config")
	if err := os.WriteFile(cfg, []byte("max_parallel = 2\nsandbox = \"off\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	id := h.add("hotfix", "with my config changed", false)
	h.runIdle()
	if tk := h.ticket(id); tk.Status != store.StatusDone {
		t.Fatalf("%s (%s)", tk.Status, tk.Reason)
	}
	if data, _ := os.ReadFile(cfg); !strings.Contains(string(data), "sandbox") {
		t.Fatalf("the uncommitted change was lost: %q", data)
	}
	if err := os.WriteFile(filepath.Join(h.dir, "README.md"), []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	id = h.add("hotfix", "with another file changed", false)
	h.runIdle()
	if tk := h.ticket(id); tk.Status != store.StatusNeedsHuman || !strings.Contains(tk.Reason, "README.md") {
		t.Fatalf("%s (%s)", tk.Status, tk.Reason)
	}
}
