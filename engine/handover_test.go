package engine

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"agent-tui/engine/oaitest"
	"agent-tui/engine/workspace"
	"agent-tui/store"
)

func (h *harness) decide(id string, d store.Decision) {
	h.t.Helper()
	if _, err := Decide(h.st, h.cfg, id, d); err != nil {
		h.t.Fatal(err)
	}
	h.runIdle()
}

func (h *harness) wantStatus(id, status, reasonHas string) *store.Ticket {
	h.t.Helper()
	tk := h.ticket(id)
	if tk.Status != status || !strings.Contains(tk.Reason, reasonHas) {
		h.t.Fatalf("status %s (%s), want %s with %q", tk.Status, tk.Reason, status, reasonHas)
	}
	return tk
}

// A person who approves code with a merge left half-way in the worktree
// is told so: git add would have taken the conflict markers as resolved,
// and they would have been merged.
func TestApprovedCodeWithUnresolvedConflictsStops(t *testing.T) {
	h := newHarness(t, "", developer)
	h.cfg.Approve = []string{"code"}
	id := h.add("hotfix", "conflicted by hand", false)
	h.runIdle()
	wt := h.wantStatus(id, store.StatusAwaiting, "").Worktree
	gitOut(t, wt, "checkout", "-q", "-b", "side")
	os.WriteFile(filepath.Join(wt, "shared.txt"), []byte("side A\n"), 0o644)
	gitOut(t, wt, "add", "shared.txt")
	gitOut(t, wt, "commit", "-qm", "A")
	gitOut(t, wt, "checkout", "-q", "agent/"+id)
	os.WriteFile(filepath.Join(wt, "shared.txt"), []byte("side B\n"), 0o644)
	gitOut(t, wt, "add", "shared.txt")
	gitOut(t, wt, "commit", "-qm", "B")
	gitMay(wt, "merge", "side") // conflicts: left half-way
	h.decide(id, store.Decision{Kind: store.DecisionApprove})
	h.wantStatus(id, store.StatusNeedsHuman, "code approved, but git holds unresolved conflicts in shared.txt")
	os.WriteFile(filepath.Join(wt, "shared.txt"), []byte("both\n"), 0o644)
	gitOut(t, wt, "add", "shared.txt")
	h.decide(id, store.Decision{Kind: store.DecisionApprove})
	h.wantStatus(id, store.StatusDone, "")
	if data, _ := os.ReadFile(filepath.Join(h.dir, "shared.txt")); string(data) != "both\n" {
		t.Fatalf("merged shared.txt = %q", data)
	}
}

// CI is the judge of done: a cifix a person approves (having fixed the
// worktree, or not) is followed by CI again, not taken for a green run.
func TestApprovedCIFixRunsCIAgain(t *testing.T) {
	h := newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
		id := ticketOf(r)
		if phase == "code" && toolTurns(r) == 0 {
			return oaitest.Reply{ToolCalls: []oaitest.ToolCall{writeCall("a", "src/"+id+".txt", "done "+id+"\n"), writeCall("b", "src/lint.bad", "x")}}
		}
		if phase == "cifix" && toolTurns(r) == 0 {
			return oaitest.Reply{Text: "I could not find it."}
		}
		return developer(r, phase)
	})
	h.cfg.CICommand = "sh run_tests.sh && if [ -e src/lint.bad ]; then echo 'lint: src/lint.bad'; exit 1; fi"
	id := h.add("hotfix", "ci breaker", false)
	h.runIdle()
	wt := h.wantStatus(id, store.StatusNeedsHuman, "cifix").Worktree
	// approved as it is: CI runs, is red, and cifix gets another go
	h.decide(id, store.Decision{Kind: store.DecisionApprove})
	h.wantStatus(id, store.StatusNeedsHuman, "cifix")
	if ci := h.phase(id, "ci"); len(ci.Attempts) != 2 || ci.Attempts[1].Checks[0].Pass {
		t.Fatalf("CI after the approval: %+v", ci.Attempts)
	}
	os.Remove(filepath.Join(wt, "src", "lint.bad"))
	h.decide(id, store.Decision{Kind: store.DecisionApprove})
	h.wantStatus(id, store.StatusDone, "")
	if ci := h.phase(id, "ci"); len(ci.Attempts) != 3 || !ci.Attempts[2].Checks[0].Pass {
		t.Fatalf("CI after the fix: %+v", ci.Attempts)
	}
	if fix := h.phase(id, "cifix"); fix.Status != store.PhasePassed {
		t.Fatalf("cifix %s after its work (a person's) made CI green", fix.Status)
	}
	if _, err := os.Stat(filepath.Join(h.dir, "src", "lint.bad")); !os.IsNotExist(err) {
		t.Fatal("the file CI refused was merged")
	}
}

// gitMay runs git in dir whatever its exit code.
func gitMay(dir string, args ...string) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Run()
}

// What a person changes in the worktree after approving review's result
// is neither dropped nor merged unchecked: committed, then CI and review
// again, and the approval asked again.
func TestChangesAfterReviewAreCheckedBeforeTheMerge(t *testing.T) {
	for _, commit := range []bool{false, true} {
		t.Run(fmt.Sprintf("committed=%v", commit), func(t *testing.T) {
			h := newHarness(t, "", developer)
			h.cfg.Approve = []string{"review"}
			id := h.add("hotfix", "edited after review", false)
			h.runIdle()
			wt := h.wantStatus(id, store.StatusAwaiting, "").Worktree
			os.WriteFile(filepath.Join(wt, "human.txt"), []byte("by hand\n"), 0o644)
			if commit {
				gitOut(t, wt, "add", "human.txt")
				gitOut(t, wt, "commit", "-qm", "by hand")
			}
			before := gitOut(t, h.dir, "rev-parse", "main")
			h.decide(id, store.Decision{Kind: store.DecisionApprove})
			tk := h.wantStatus(id, store.StatusAwaiting, "")
			if after := gitOut(t, h.dir, "rev-parse", "main"); after != before {
				t.Fatal("merged without CI and review of the change")
			}
			if ci, rev := h.phase(id, "ci"), h.phase(id, "review"); len(ci.Attempts) != 2 || len(rev.Attempts) != 2 {
				t.Fatalf("ci %d and review %d attempts, want 2 each", len(ci.Attempts), len(rev.Attempts))
			}
			if d := tk.Decisions[len(tk.Decisions)-1]; !strings.Contains(d.Outcome, "CI and review run again") {
				t.Fatalf("the approve's outcome: %q", d.Outcome)
			}
			h.decide(id, store.Decision{Kind: store.DecisionApprove})
			h.wantStatus(id, store.StatusDone, "")
			if data, _ := os.ReadFile(filepath.Join(h.dir, "human.txt")); string(data) != "by hand\n" {
				t.Fatalf("the person's file on main: %q", data)
			}
		})
	}
}

// A reject (or retry) puts the worktree back to its last commit for the
// next attempt; what a person changed there is kept as a stash, and said.
// The stash is the ticket's own ref, never on the person's stash stack:
// their `git stash pop` in the checkout still gets their own work.
func TestPersonsEditsBeforeARejectAreKept(t *testing.T) {
	h := newHarness(t, "", developer)
	h.cfg.Approve = []string{"review"}
	id := h.add("hotfix", "rejected with edits", false)
	h.runIdle()
	wt := h.wantStatus(id, store.StatusAwaiting, "").Worktree
	userStash(t, h.dir)
	os.WriteFile(filepath.Join(wt, "notes.txt"), []byte("my notes\n"), 0o644)
	h.decide(id, store.Decision{Kind: store.DecisionReject, Reason: "redo it"})
	tk := h.wantStatus(id, store.StatusAwaiting, "")
	d := tk.Decisions[len(tk.Decisions)-1]
	ref := workspace.StashRefs(id) + "/1"
	if !strings.Contains(d.Outcome, "kept as a stash, "+ref) || !strings.Contains(d.Outcome, "git stash apply "+ref) {
		t.Fatalf("the reject's outcome: %q", d.Outcome)
	}
	if got := gitOut(t, h.dir, "log", "-1", "--format=%s", ref); !strings.Contains(got, id+"'s worktree as it was at the reject at review") {
		t.Fatalf("%s: %q", ref, got)
	}
	if got := gitOut(t, wt, "show", ref+"^3:notes.txt"); got != "my notes\n" {
		t.Fatalf("stashed notes.txt: %q", got)
	}
	// the attempts after it (code, CI, review again) kept nothing aside
	if refs := gitOut(t, h.dir, "for-each-ref", "--format=%(refname)", workspace.StashRefs(id)+"/"); refs != ref+"\n" {
		t.Fatalf("stashes of %s: %q", id, refs)
	}
	userStashIsOnTop(t, h.dir)
	gitOut(t, wt, "stash", "apply", ref)
	if data, _ := os.ReadFile(filepath.Join(wt, "notes.txt")); string(data) != "my notes\n" {
		t.Fatalf("notes.txt after git stash apply %s: %q", ref, data)
	}
}

// userStash puts a person's own work on the stash stack of the checkout
// at dir.
func userStash(t *testing.T, dir string) {
	t.Helper()
	os.WriteFile(filepath.Join(dir, "wip.txt"), []byte("user wip\n"), 0o644)
	gitOut(t, dir, "-c", "user.name=u", "-c", "user.email=u@localhost", "stash", "push", "-q", "--include-untracked", "-m", "user wip")
}

// userStashIsOnTop checks the person's stash stack holds their own stash
// alone, so a `git stash pop` gets it back.
func userStashIsOnTop(t *testing.T, dir string) {
	t.Helper()
	if list := gitOut(t, dir, "stash", "list"); strings.Count(list, "\n") != 1 || !strings.Contains(list, "user wip") {
		t.Fatalf("the person's stash list: %q", list)
	}
	gitOut(t, dir, "stash", "pop", "-q")
	if data, _ := os.ReadFile(filepath.Join(dir, "wip.txt")); string(data) != "user wip\n" {
		t.Fatalf("wip.txt after git stash pop: %q", data)
	}
}

// A cancel removes the worktree; what a person changed there and did not
// commit is kept as a stash first, and said.
func TestPersonsEditsBeforeACancelAreKept(t *testing.T) {
	h := newHarness(t, "", developer)
	h.cfg.Approve = []string{"review"}
	id := h.add("hotfix", "cancelled with edits", false)
	h.runIdle()
	wt := h.wantStatus(id, store.StatusAwaiting, "").Worktree
	userStash(t, h.dir)
	os.WriteFile(filepath.Join(wt, "notes.txt"), []byte("my notes\n"), 0o644)
	h.decide(id, store.Decision{Kind: store.DecisionCancel})
	tk := h.wantStatus(id, store.StatusCancelled, "")
	ref := workspace.StashRefs(id) + "/1"
	if d := tk.Decisions[len(tk.Decisions)-1]; !strings.Contains(d.Outcome, "kept as a stash, "+ref) {
		t.Fatalf("the cancel's outcome: %q", d.Outcome)
	}
	if _, err := os.Stat(wt); !os.IsNotExist(err) {
		t.Fatalf("the worktree stayed: %v", err)
	}
	if got := gitOut(t, h.dir, "log", "-1", "--format=%s", ref); !strings.Contains(got, id+"'s worktree as it was at the cancel") {
		t.Fatalf("%s: %q", ref, got)
	}
	if got := gitOut(t, h.dir, "show", ref+"^3:notes.txt"); got != "my notes\n" {
		t.Fatalf("stashed notes.txt: %q", got)
	}
	userStashIsOnTop(t, h.dir)
}

// A worktree a person switched to another branch stops the ticket, naming
// it, before anything runs or is merged there.
func TestWorktreeOnAnotherBranchStops(t *testing.T) {
	h := newHarness(t, "", developer)
	h.cfg.Approve = []string{"code"}
	id := h.add("hotfix", "switched", false)
	h.runIdle()
	wt := h.wantStatus(id, store.StatusAwaiting, "").Worktree
	gitOut(t, wt, "checkout", "-q", "-b", "side")
	h.decide(id, store.Decision{Kind: store.DecisionApprove})
	h.wantStatus(id, store.StatusNeedsHuman, "its worktree is on branch side, not agent/"+id+": switch it back")
	gitOut(t, wt, "checkout", "-q", "agent/"+id)
	h.decide(id, store.Decision{Kind: store.DecisionApprove})
	h.wantStatus(id, store.StatusDone, "")
}

// Guidance given at review (stopped there, or waiting at its gate) is for
// the code: the work goes back to code with it, and the next review reads
// it too. A plain retry there reviews again.
func TestGuidanceAtReviewReachesCode(t *testing.T) {
	h := newHarness(t, "", developer)
	h.cfg.Approve = []string{"review"}
	id := h.add("hotfix", "guided at review", false)
	h.runIdle()
	h.wantStatus(id, store.StatusAwaiting, "")
	codeBefore, reviewBefore := len(h.requests("code")), len(h.requests("review"))
	h.decide(id, store.Decision{Kind: store.DecisionRetry, Guidance: "GUIDE-REVIEW: name it fooBar"})
	h.wantStatus(id, store.StatusAwaiting, "")
	code := h.requests("code")
	if len(code) == codeBefore || !strings.Contains(userText(code[codeBefore]), "Guidance from a human: GUIDE-REVIEW: name it fooBar") {
		t.Fatalf("code did not run with the guidance (%d code requests before, %d after)", codeBefore, len(code))
	}
	if rev := h.requests("review"); len(rev) <= reviewBefore || !strings.Contains(userText(rev[len(rev)-1]), "GUIDE-REVIEW") {
		t.Fatal("the next review does not read the guidance")
	}
	codeBefore = len(h.requests("code"))
	h.decide(id, store.Decision{Kind: store.DecisionRetry})
	h.wantStatus(id, store.StatusAwaiting, "")
	if n := len(h.requests("code")); n != codeBefore {
		t.Fatalf("a plain retry at review ran code (%d requests, %d before)", n, codeBefore)
	}
	// guidance and a model: code, which runs next, runs on that model
	h.decide(id, store.Decision{Kind: store.DecisionRetry, Guidance: "again", Model: "large"})
	code = h.requests("code")
	if len(code) == codeBefore || code[codeBefore].Model != "big-1" {
		t.Fatalf("code after a retry with guidance on large: %d requests, %d before, model %q", len(code), codeBefore, code[min(codeBefore, len(code)-1)].Model)
	}
}

// Objections and human words reach the model in the order they were
// given, and a list trimmed to the budget keeps the newest objection and
// the head of each older one.
func TestObjectionsInOrderAndTrimmedFromTheLongest(t *testing.T) {
	var c counter
	long := "LONG-1 " + strings.Repeat("detail ", 600) + "END-LONG-1"
	h := newHarness(t, "\n[phases.diagnosis]\ncontext_tokens = 1400\nmax_attempts = 2\n", func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase == "validator of diagnosis" {
			if c.inc("v") == 1 {
				return fail(long)
			}
			return fail(fmt.Sprintf("OBJ-%d: missing item", c.inc("v")))
		}
		return developer(r, phase)
	})
	id := h.add("hotfix", "objections", false)
	h.runIdle()
	h.wantStatus(id, store.StatusNeedsHuman, "diagnosis failed 2 attempts")
	h.decide(id, store.Decision{Kind: store.DecisionRetry, Guidance: "GUIDE-1"})
	reqs := h.requests("diagnosis")
	u := userText(reqs[2])
	long1, obj, guide := strings.Index(u, "LONG-1 detail"), strings.Index(u, "OBJ-3: missing item"), strings.Index(u, "GUIDE-1")
	if long1 < 0 || obj < 0 || guide < 0 || !(long1 < obj && obj < guide) {
		t.Fatalf("want LONG-1's head, OBJ-3 and GUIDE-1 in that order:\n%s", u)
	}
	if strings.Contains(u, "END-LONG-1") {
		t.Fatalf("the long objection was not the one cut:\n%s", u)
	}
}

// A worktree already at a new ticket's path (another database's ticket of
// the same number, left with uncommitted files) is not taken over: its
// files would be committed and merged as the ticket's.
func TestStrayWorktreeIsNotTakenOver(t *testing.T) {
	h := newHarness(t, "", developer)
	wt := h.eng.repo.WorktreePath("T-1")
	gitOut(t, h.dir, "worktree", "add", "-q", "-b", "agent/T-1", wt, "main")
	os.WriteFile(filepath.Join(wt, "precious.txt"), []byte("not the ticket's\n"), 0o644)
	id := h.add("hotfix", "new database", false)
	h.runIdle()
	h.wantStatus(id, store.StatusNeedsHuman, "files this ticket did not write (precious.txt;")
	os.Remove(filepath.Join(wt, "precious.txt"))
	h.decide(id, store.Decision{Kind: store.DecisionRetry})
	h.wantStatus(id, store.StatusDone, "")
	if _, err := os.Stat(filepath.Join(h.dir, "precious.txt")); err == nil {
		t.Fatal("the stray file was merged")
	}
}

// A directory that is no worktree at a new ticket's path is not removed
// to make one: it holds someone's files.
func TestStrayDirectoryIsNotRemoved(t *testing.T) {
	h := newHarness(t, "", developer)
	wt := h.eng.repo.WorktreePath("T-1")
	os.MkdirAll(wt, 0o755)
	os.WriteFile(filepath.Join(wt, "mine.txt"), []byte("mine\n"), 0o644)
	id := h.add("hotfix", "new database", false)
	h.runIdle()
	h.wantStatus(id, store.StatusNeedsHuman, "files this ticket did not write (mine.txt;")
	if _, err := os.Stat(filepath.Join(wt, "mine.txt")); err != nil {
		t.Fatal(err)
	}
}

// A worktree on another branch already at a new ticket's path is named as
// not the ticket's, not as one to switch back.
func TestStrayWorktreeOnAnotherBranchIsNamed(t *testing.T) {
	h := newHarness(t, "", developer)
	wt := h.eng.repo.WorktreePath("T-1")
	gitOut(t, h.dir, "worktree", "add", "-q", "-b", "stranger", wt, "main")
	id := h.add("hotfix", "new database", false)
	h.runIdle()
	h.wantStatus(id, store.StatusNeedsHuman, "a worktree on branch stranger is already at "+wt+", where T-1's goes")
}

// A branch a person reset to the base by hand holds none of the ticket's
// work: approving it is not a merge, and the ticket is not done. Said as
// such (not "commits added"), before a review of an empty diff; put back,
// it merges.
func TestBranchResetToTheBaseIsNotMerged(t *testing.T) {
	h := newHarness(t, "", developer)
	h.cfg.Approve = []string{"review"}
	id := h.add("hotfix", "reset by hand", false)
	h.runIdle()
	wt := h.wantStatus(id, store.StatusAwaiting, "").Worktree
	tip := strings.TrimSpace(gitOut(t, wt, "rev-parse", "HEAD"))
	reviews := len(h.requests("review"))
	gitOut(t, wt, "reset", "-q", "--hard", "main")
	h.decide(id, store.Decision{Kind: store.DecisionApprove})
	tk := h.wantStatus(id, store.StatusNeedsHuman, "nothing to merge: agent/"+id+" holds no commits beyond the base branch main")
	if tk.Merged != "" || len(h.requests("review")) != reviews {
		t.Fatalf("merged %q; %d reviews, %d before", tk.Merged, len(h.requests("review")), reviews)
	}
	if n := strings.TrimSpace(gitOut(t, h.dir, "rev-list", "--count", "--merges", "main")); n != "0" {
		t.Fatalf("%s merge commits on main", n)
	}
	gitOut(t, wt, "reset", "-q", "--hard", tip)
	h.decide(id, store.Decision{Kind: store.DecisionApprove})
	if tk := h.wantStatus(id, store.StatusDone, ""); tk.Merged == "" {
		t.Fatal("done without its merge")
	}
}

// The same at the merge itself, when no person's review stands between
// (the merge was blocked, and the branch reset while it waited).
func TestBranchResetWhileItsMergeWaitsIsNotMerged(t *testing.T) {
	h := newHarness(t, "", developer)
	h.cfg.Approve = []string{}
	gitOut(t, h.dir, "checkout", "-q", "-b", "elsewhere")
	id := h.add("hotfix", "reset at the merge", false)
	h.runIdle()
	wt := h.wantStatus(id, store.StatusNeedsHuman, "your checkout is on branch elsewhere, not the base branch main").Worktree
	gitOut(t, wt, "reset", "-q", "--hard", "main")
	gitOut(t, h.dir, "checkout", "-q", "main")
	h.decide(id, store.Decision{Kind: store.DecisionApprove})
	if tk := h.wantStatus(id, store.StatusNeedsHuman, "nothing to merge: agent/"+id+" holds no commits"); tk.Merged != "" {
		t.Fatalf("merged %q", tk.Merged)
	}
}

// A base branch deleted (renamed) while the ticket waited at review is
// said to be gone when the approve's merge finds it missing, not that the
// checkout is on another branch.
func TestBaseBranchGoneAtTheMergeIsSaid(t *testing.T) {
	h := newHarness(t, "", developer)
	h.cfg.Approve = []string{"review"}
	id := h.add("hotfix", "base renamed before the merge", false)
	h.runIdle()
	h.wantStatus(id, store.StatusAwaiting, "")
	gitOut(t, h.dir, "branch", "-m", "main", "trunk")
	h.decide(id, store.Decision{Kind: store.DecisionApprove})
	h.wantStatus(id, store.StatusNeedsHuman, "merge blocked: the base branch main no longer exists")
}

// A branch named "agent" keeps git from making agent/T-N: the ticket
// stops at once, naming it, not with git's error after three tries.
func TestBranchNamedAgentStopsTheTicketAtOnce(t *testing.T) {
	defer func(d time.Duration) { stepRetryDelay = d }(stepRetryDelay)
	stepRetryDelay = time.Minute // a try again would show as a minute's wait
	h := newHarness(t, "", developer)
	gitOut(t, h.dir, "branch", "agent")
	id := h.add("hotfix", "blocked branch name", false)
	start := time.Now()
	h.runIdle()
	h.wantStatus(id, store.StatusNeedsHuman, "a branch named agent exists, which keeps git from making the ticket's branch agent/"+id)
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("stopped after %v: tried again first", d)
	}
	gitOut(t, h.dir, "branch", "-m", "agent", "agent-old")
	h.decide(id, store.Decision{Kind: store.DecisionRetry})
	h.wantStatus(id, store.StatusDone, "")
}
