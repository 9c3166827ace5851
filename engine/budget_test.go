package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/sashabaranov/go-openai"

	"agent-tui/engine/llm"
	"agent-tui/engine/oaitest"
	"agent-tui/store"
)

// Over budget, the least important section pays the whole excess, the
// cut's own marker included: nothing above it is touched, and the result
// fits.
func TestAssembleTrimsTheLeastImportantFirst(t *testing.T) {
	objections := "1. the first objection\n2. the second objection\n"
	plan := strings.Repeat("a step of the plan\n", 40)
	files := strings.Repeat("line of a test file that is long enough\n", 200)
	for _, over := range []int{1, 13, 100, 500} {
		secs := []section{
			{title: "Plan", body: plan, prio: prioPrimary},
			{title: "Test files", body: files, prio: prioFiles},
			{title: "Objections", body: objections, prio: prioFeedback},
		}
		full, total, _ := assemble("header", append([]section(nil), secs...), 0)
		budget := total - over
		got, n, trimmed := assemble("header", secs, budget)
		if n > budget {
			t.Fatalf("over %d: %d tokens for a budget of %d", over, n, budget)
		}
		if len(trimmed) != 1 || !strings.HasPrefix(trimmed[0], "Test files:") {
			t.Fatalf("over %d: trimmed %v", over, trimmed)
		}
		if !strings.Contains(got, plan) || !strings.Contains(got, objections) || len(got) >= len(full) {
			t.Fatalf("over %d: a more important section was cut", over)
		}
	}
}

// A section cut to nothing says so instead of vanishing.
func TestAssembleSaysWhatItDroppedWhole(t *testing.T) {
	secs := []section{
		{title: "Spec", body: strings.Repeat("spec line\n", 50), prio: prioPrimary},
		{title: "Overview", body: strings.Repeat("overview line\n", 50), prio: prioOverview},
	}
	got, _, trimmed := assemble("h", secs, 155)
	if !strings.Contains(got, "## Overview") || !strings.Contains(got, "trimmed to fit the context budget") {
		t.Fatalf("the dropped section left no word:\n%s", got)
	}
	if len(trimmed) != 1 || !strings.HasPrefix(trimmed[0], "Overview:") {
		t.Fatalf("trimmed %v", trimmed)
	}
	// left out whole: the record says so, not that the note in its place
	// is what was kept of it
	secs = []section{
		{title: "Spec", body: strings.Repeat("spec line\n", 50), prio: prioPrimary},
		{title: "Overview", body: strings.Repeat("overview line\n", 50), prio: prioOverview},
	}
	got, _, trimmed = assemble("h", secs, 128)
	if !strings.Contains(got, "[all ") || len(trimmed) == 0 || trimmed[0] != "Overview: 175 → 0 tokens (left out)" {
		t.Fatalf("trimmed %v:\n%s", trimmed, got)
	}
}

// A section shorter than the note that would replace it stays whole, and
// is not called left out (a 5-token source of truth stopped a validator
// whose budget had room for it).
func TestAssembleKeepsWhatCannotShrink(t *testing.T) {
	secs := []section{
		{title: "Deliverable", body: strings.Repeat("deliverable line\n", 400), prio: prioPrimary},
		{title: "Source", body: "the ticket", prio: prioCriteria},
	}
	got, _, _ := assemble("h", secs, 300)
	if secs[1].dropped || keptOf(secs[1]) == 0 || !strings.Contains(got, "## Source\n\nthe ticket") {
		t.Fatalf("the short section: dropped %v, kept %d\n%s", secs[1].dropped, keptOf(secs[1]), got)
	}
	if secs[0].dropped || keptOf(secs[0]) == 0 {
		t.Fatalf("the long section: dropped %v, kept %d", secs[0].dropped, keptOf(secs[0]))
	}
}

// Tool results count toward a phase's context budget: each call's input
// stays within it (with room kept for tool results), older results cut
// first, and the attempt records the cuts.
func TestToolResultsStayWithinTheBudget(t *testing.T) {
	big := strings.Repeat("a line of a large file that the model reads\n", 2500) // ~28k tokens
	project := map[string]string{"README.md": "# x\n", "run_tests.sh": "exit 0\n", "big1.txt": big, "big2.txt": big}
	h := newHarnessOn(t, project, "\n[phases.diagnosis]\ncontext_tokens = 4000\n", func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase == "diagnosis" {
			switch toolTurns(r) {
			case 0:
				return oaitest.Reply{ToolCalls: []oaitest.ToolCall{{ID: "r1", Name: "read_file", Args: `{"path": "big1.txt"}`}}}
			case 1:
				return oaitest.Reply{ToolCalls: []oaitest.ToolCall{{ID: "r2", Name: "read_file", Args: `{"path": "big2.txt"}`}}}
			}
		}
		return developer(r, phase)
	})
	// a ticket that alone would fill the budget: the input leaves the
	// tool results their room, and no call goes over
	tk, err := AddTicket(h.st, NewTicket{Kind: "hotfix", Title: "reads big files", Body: strings.Repeat("the ticket says a lot\n", 2000)}, "main")
	if err != nil {
		t.Fatal(err)
	}
	id := tk.ID
	h.runIdle()
	reqs := h.requests("diagnosis")
	if len(reqs) < 3 {
		t.Fatalf("%d diagnosis requests", len(reqs))
	}
	for i, r := range reqs {
		limit := 4000 + 100 // the calls' own framing
		if n := llm.EstimateMessages(r.Messages) + llm.EstimateTools(r.Tools); n > limit {
			t.Errorf("request %d: about %d tokens, over %d", i+1, n, limit)
		}
	}
	a := h.phase(id, "diagnosis").Attempts[0]
	// the attempt's context is its largest call's
	largest := 0
	for _, r := range reqs {
		largest = max(largest, llm.EstimateMessages(r.Messages)+llm.EstimateTools(r.Tools))
	}
	if a.ContextTokens < largest-100 || a.ContextTokens > 4100 {
		t.Errorf("context_tokens %d, the largest call about %d", a.ContextTokens, largest)
	}
	if !strings.Contains(strings.Join(a.Trimmed, "; "), "read_file result") {
		t.Fatalf("trimmed %q", a.Trimmed)
	}
	// the result the model just asked for is what it gets to read; the
	// older one gave way first
	last := reqs[2].Messages
	var results []string
	for _, m := range last {
		if m.Role == "tool" {
			results = append(results, m.Content)
		}
	}
	if len(results) != 2 || !strings.HasPrefix(results[0], droppedMark) || len(results[1]) < 4000 {
		t.Fatalf("third request's results: older %d bytes, newest %d bytes", len(results[0]), len(results[1]))
	}
}

// The model's own earlier arguments (whole files it wrote) give way before
// the output of the command it just ran, whose end (the failure) is kept.
func TestOldArgumentsGiveWayBeforeTheLatestResult(t *testing.T) {
	file := strings.Repeat("package x // a line of a file the model wrote\n", 1000) // ~12k tokens
	out := strings.Repeat("ok  \tx/pkg\t0.01s\n", 50) + "--- FAIL: TestTheNewThing\nFAIL\n"
	msgs := []openai.ChatCompletionMessage{
		{Role: openai.ChatMessageRoleSystem, Content: "system"},
		{Role: openai.ChatMessageRoleUser, Content: "the task"},
		{Role: openai.ChatMessageRoleAssistant, ToolCalls: []openai.ToolCall{{ID: "w", Type: openai.ToolTypeFunction, Function: openai.FunctionCall{Name: "write_file", Arguments: `{"path": "x.go", "content": "` + file + `"}`}}}},
		{Role: openai.ChatMessageRoleTool, ToolCallID: "w", Name: "write_file", Content: "ok: wrote x.go"},
		{Role: openai.ChatMessageRoleAssistant, ToolCalls: []openai.ToolCall{{ID: "r", Type: openai.ToolTypeFunction, Function: openai.FunctionCall{Name: "run_command", Arguments: `{"command": "go test ./..."}`}}}},
		{Role: openai.ChatMessageRoleTool, ToolCallID: "r", Name: "run_command", Content: out},
	}
	trimmed := fitToolResults(msgs, 4000)
	if msgs[5].Content != out {
		t.Fatalf("the latest command's output was cut: %q (trimmed %q)", msgs[5].Content, trimmed)
	}
	if !json.Valid([]byte(msgs[2].ToolCalls[0].Function.Arguments)) || strings.Contains(msgs[2].ToolCalls[0].Function.Arguments, "package x") {
		t.Fatalf("old arguments: %.80q", msgs[2].ToolCalls[0].Function.Arguments)
	}
	if n := llm.EstimateMessages(msgs); n > 4000 {
		t.Fatalf("about %d tokens after fitting into 4000", n)
	}
}

// A huge text the model sent beside its calls goes back with them on the
// next turn: it gives way too, or no model would take the call.
func TestHugeTextBesideCallsGivesWay(t *testing.T) {
	huge := strings.Repeat("the model thinking out loud at length\n", 100000) // ~1M tokens
	msgs := []openai.ChatCompletionMessage{
		{Role: openai.ChatMessageRoleSystem, Content: "system"},
		{Role: openai.ChatMessageRoleUser, Content: "the task"},
		{Role: openai.ChatMessageRoleAssistant, Content: huge, ToolCalls: []openai.ToolCall{{ID: "r", Type: openai.ToolTypeFunction, Function: openai.FunctionCall{Name: "read_file", Arguments: `{"path": "a.go"}`}}}},
		{Role: openai.ChatMessageRoleTool, ToolCallID: "r", Name: "read_file", Content: "package a\n"},
	}
	trimmed := fitToolResults(msgs, 4000)
	if n := llm.EstimateMessages(msgs); n > 4000 {
		t.Fatalf("about %d tokens after fitting into 4000 (trimmed %q)", n, trimmed)
	}
	if msgs[3].Content != "package a\n" || len(trimmed) == 0 {
		t.Fatalf("result %q, trimmed %q", msgs[3].Content, trimmed)
	}
}

// A review whose budget leaves nothing of the diff would pass code it
// never saw: the ticket stops, saying which budget to raise.
func TestReviewWithoutRoomForTheDiffStops(t *testing.T) {
	h := newHarness(t, "\n[phases.review]\ncontext_tokens = 20\n", developer)
	before := gitOut(t, h.dir, "rev-parse", "main")
	id := h.add("hotfix", "tiny review budget", false)
	h.runIdle()
	tk := h.ticket(id)
	if tk.Status != store.StatusNeedsHuman || tk.Phase != "review" || !strings.Contains(tk.Reason, "[phases.review] context_tokens") {
		t.Fatalf("%s at %s (%s)", tk.Status, tk.Phase, tk.Reason)
	}
	if n := len(h.requests("review")); n != 0 {
		t.Fatalf("review asked %d times without the diff", n)
	}
	if after := gitOut(t, h.dir, "rev-parse", "main"); after != before {
		t.Fatal("merged without a review that saw the diff")
	}
}

// A review whose diff must be cut to fit still gets the small diagnosis
// it judges against (it used to go first, whole, for nothing) and the
// list of every file the branch changes: a cut diff must not read as all.
func TestReviewOfACutDiffKeepsItsReferenceAndTheFileList(t *testing.T) {
	big := strings.Repeat("a line of a generated file in the change\n", 4000) // ~40k tokens
	h := newHarness(t, "\n[phases.review]\ncontext_tokens = 6000\n", func(r *oaitest.Request, phase string) oaitest.Reply {
		id := ticketOf(r)
		if phase == "code" && toolTurns(r) == 0 {
			return oaitest.Reply{ToolCalls: []oaitest.ToolCall{
				writeCall("c1", "gen/big.txt", big),
				writeCall("c2", "src/"+id+".txt", "done "+id+"\n"),
				writeCall("c3", "zz/last.txt", "the last file\n"),
			}}
		}
		return developer(r, phase)
	})
	id := h.add("hotfix", "cut review", false)
	h.runIdle()
	if tk := h.ticket(id); tk.Status != store.StatusDone {
		t.Fatalf("%s (%s)", tk.Status, tk.Reason)
	}
	reqs := h.requests("review")
	if len(reqs) == 0 {
		t.Fatal("no review")
	}
	var user string
	for _, m := range reqs[0].Messages {
		if m.Role == "user" {
			user = m.Content
		}
	}
	if !strings.Contains(user, "## Diagnosis\n") || strings.Contains(user, "## Diagnosis\n\n[all ") {
		t.Errorf("the diagnosis was dropped:\n%.600s", user)
	}
	files := user[strings.Index(user, "## Files the branch changes"):]
	for _, f := range []string{"gen/big.txt", "src/" + id + ".txt", "tests/" + id + "_test.sh", "zz/last.txt"} {
		if !strings.Contains(files, f) {
			t.Errorf("file list lacks %s", f)
		}
	}
	if strings.Contains(user, "the last file") {
		t.Errorf("the diff was not cut: the test proves nothing")
	}
}

// A rename is listed with its old path, which the diff's header leaves
// out: a diff cut to fit must not hide that README.md went.
func TestReviewFileListNamesARenamesOldPath(t *testing.T) {
	h := newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
		id := ticketOf(r)
		if phase == "code" && toolTurns(r) == 0 {
			return oaitest.Reply{ToolCalls: []oaitest.ToolCall{
				{ID: "c1", Name: "run_command", Args: `{"command": "mv README.md 'READ ME.md'"}`},
				writeCall("c2", "src/"+id+".txt", "done "+id+"\n"),
			}}
		}
		return developer(r, phase)
	})
	id := h.add("hotfix", "renamed", false)
	h.runIdle()
	h.wantStatus(id, store.StatusDone, "")
	files := h.reviewFileList()
	if !strings.Contains(files, "\nREADME.md → READ ME.md\n") {
		t.Errorf("the file list does not name README.md as renamed:\n%s", files)
	}
}

// A diagnosis works from the ticket: a budget under the phase's own
// instructions, or one that leaves too little of the ticket, stops it
// before anything is sent (a call over its budget was sent before, with
// nothing recorded as trimmed).
func TestDiagnosisWithoutRoomForTheTicketStops(t *testing.T) {
	body := strings.Repeat("the report goes on about what the user saw and when ", 200) // ~2.6k tokens
	for _, c := range []struct {
		budget int
		want   string
	}{
		{300, "diagnosis: context_tokens = 300 is less than its instructions and tool definitions alone ("},
		{1000, "diagnosis: context_tokens = 1000 leaves only "},
	} {
		h := newHarness(t, fmt.Sprintf("\n[phases.diagnosis]\ncontext_tokens = %d\n", c.budget), developer)
		tk, err := AddTicket(h.st, NewTicket{Kind: "hotfix", Title: "long report", Body: body}, "main")
		if err != nil {
			t.Fatal(err)
		}
		id := tk.ID
		h.runIdle()
		tk = h.ticket(id)
		if tk.Status != store.StatusNeedsHuman || !strings.Contains(tk.Reason, c.want) || !strings.Contains(tk.Reason, "raise [phases.diagnosis] context_tokens") {
			t.Fatalf("budget %d: %s (%s)", c.budget, tk.Status, tk.Reason)
		}
		if n := len(h.requests("diagnosis")); n != 0 {
			t.Fatalf("budget %d: diagnosis asked %d times", c.budget, n)
		}
	}
}

// The latest round's results share the room in proportion, and its calls'
// arguments (they have run) give way before them.
func TestLatestRoundSharesTheRoom(t *testing.T) {
	big := strings.Repeat("a line of a big file the model asked for\n", 1500) // ~15k tokens
	msgs := []openai.ChatCompletionMessage{
		{Role: openai.ChatMessageRoleSystem, Content: "system"},
		{Role: openai.ChatMessageRoleUser, Content: "the task"},
		{Role: openai.ChatMessageRoleAssistant, ToolCalls: []openai.ToolCall{
			{ID: "a", Type: openai.ToolTypeFunction, Function: openai.FunctionCall{Name: "write_file", Arguments: `{"path": "w.txt", "content": "` + strings.Repeat("x", 60000) + `"}`}},
			{ID: "b", Type: openai.ToolTypeFunction, Function: openai.FunctionCall{Name: "read_file", Arguments: `{"path": "one.txt"}`}},
			{ID: "c", Type: openai.ToolTypeFunction, Function: openai.FunctionCall{Name: "read_file", Arguments: `{"path": "two.txt"}`}},
		}},
		{Role: openai.ChatMessageRoleTool, ToolCallID: "a", Name: "write_file", Content: "ok"},
		{Role: openai.ChatMessageRoleTool, ToolCallID: "b", Name: "read_file", Content: "ONE " + big},
		{Role: openai.ChatMessageRoleTool, ToolCallID: "c", Name: "read_file", Content: "TWO " + big},
	}
	fitToolResults(msgs, 6000)
	if strings.Contains(msgs[2].ToolCalls[0].Function.Arguments, "xxxx") {
		t.Error("the latest round's write_file arguments were kept whole")
	}
	one, two := llm.EstimateTokens(msgs[4].Content), llm.EstimateTokens(msgs[5].Content)
	if !strings.HasPrefix(msgs[4].Content, "ONE") || !strings.HasPrefix(msgs[5].Content, "TWO") || one < 1000 || two < 1000 {
		t.Fatalf("results kept %d and %d tokens", one, two)
	}
	if n := llm.EstimateMessages(msgs); n > 6000+200 {
		t.Fatalf("about %d tokens after fitting into 6000", n)
	}
}

// A design from a spec cut to a line is made up: when techspec's budget
// leaves only a sliver of the functional spec, the ticket stops, saying
// how much was left and which budget to raise; with room for a real part
// of it, techspec runs on what fits.
func TestTechspecFromASliverOfTheSpecStops(t *testing.T) {
	hugeSpec := func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase == "discovery" {
			return oaitest.Reply{Text: "# Functional spec\n\n## Acceptance criteria\n- it works\n\n" + strings.Repeat("A requirement that matters to the design.\n", 2500)}
		}
		return developer(r, phase)
	}
	for _, c := range []struct {
		budget int
		stops  bool
	}{{6000, false}, {900, true}} {
		h := newHarness(t, fmt.Sprintf("\n[phases.techspec]\ncontext_tokens = %d\n", c.budget), hugeSpec)
		id := h.add("feature", "huge spec", false)
		h.runIdle()
		tk := h.ticket(id)
		stopped := tk.Status == store.StatusNeedsHuman && tk.Phase == "techspec"
		if stopped != c.stops {
			t.Fatalf("budget %d: %s at %s (%s)", c.budget, tk.Status, tk.Phase, tk.Reason)
		}
		if c.stops && (!strings.Contains(tk.Reason, `tokens of "Functional spec"`) || !strings.Contains(tk.Reason, "[phases.techspec] context_tokens") || len(h.requests("techspec")) != 0) {
			t.Fatalf("budget %d: %s; %d techspec calls", c.budget, tk.Reason, len(h.requests("techspec")))
		}
	}
}

// Trimmed to fit, a list of objections keeps every item's head and the
// newest whole; with no room even for heads, the oldest go, said.
func TestFitListKeepsEveryHeadAndTheNewest(t *testing.T) {
	long := "LONG-1 " + strings.Repeat("detail ", 500) + "END-LONG-1"
	items := []string{long, "OBJ-2: missing item 2", "line one\nline two"}
	got := fitList("intro\n\n", items, 800)
	if len(got) > 800 {
		t.Fatalf("%d bytes, want at most 800", len(got))
	}
	for _, want := range []string{"1. LONG-1 detail", " […]\n", "2. OBJ-2: missing item 2\n", "3. line one\n   line two\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "END-LONG-1") {
		t.Error("the long item was not cut")
	}
	var many []string
	for i := range 40 {
		many = append(many, fmt.Sprintf("OBJ-%d: %s", i, strings.Repeat("x", 300)))
	}
	got = fitList("", many, 2000)
	if !strings.Contains(got, "earlier items trimmed to fit the context budget]") || !strings.Contains(got, "OBJ-39: xxx") || strings.Contains(got, "OBJ-0:") {
		t.Fatalf("many items:\n%s", got)
	}
	if len(got) > 2000 {
		t.Fatalf("%d bytes", len(got))
	}
}

// What is left for the latest results goes to the small ones whole, and
// the large ones share the rest; a cut read keeps the note it ends with.
func TestLatestResultsShareFairly(t *testing.T) {
	if got := fairShares([]int{10, 1000, 20, 1000}, 300); !slices.Equal(got, []int{10, 135, 20, 135}) {
		t.Fatalf("fairShares = %v", got)
	}
	if got := fairShares([]int{10, 20}, 300); !slices.Equal(got, []int{10, 20}) {
		t.Fatalf("fairShares with room = %v", got)
	}
	big := strings.Repeat("a long line of a minified file ", 2000) + "\n[line 1 is 20971524 bytes: only its start is shown, cut at 64 KiB; 1 lines in all; continue with offset=2]"
	small := "change 295\nchange 296\n[showed lines 295-296 of 400; continue with offset=297]"
	msgs := []openai.ChatCompletionMessage{
		{Role: "system", Content: "s"}, {Role: "user", Content: "u"},
		{Role: "assistant", ToolCalls: []openai.ToolCall{{ID: "a", Function: openai.FunctionCall{Name: "read_file", Arguments: "{}"}}, {ID: "b", Function: openai.FunctionCall{Name: "read_file", Arguments: "{}"}}}},
		{Role: "tool", ToolCallID: "a", Name: "read_file", Content: big},
		{Role: "tool", ToolCallID: "b", Name: "read_file", Content: small},
	}
	fitToolResults(msgs, 3000)
	if msgs[4].Content != small {
		t.Fatalf("the small result was cut: %q", msgs[4].Content)
	}
	if got := msgs[3].Content; len(got) >= len(big) || !strings.HasSuffix(got, "continue with offset=2]") || !strings.Contains(got, "trimmed to fit") {
		t.Fatalf("the large result: %d bytes, ends %q", len(got), got[max(len(got)-80, 0):])
	}
}

// One long line (a minified file's) is cut in the diff the review reads,
// so the other files' hunks keep their room.
func TestReviewDiffLinesAreClipped(t *testing.T) {
	long := "-" + strings.Repeat("é", 3000) + "x"
	diff := "diff --git a/app.min.js b/app.min.js\n" + long + "\n+short\n"
	got := clipLongLines(diff, maxDiffLine)
	lines := strings.Split(got, "\n")
	if len(lines) != 4 || len(lines[1]) > maxDiffLine+60 || !strings.Contains(lines[1], "more bytes of this line not shown") || !utf8.ValidString(got) || lines[2] != "+short" {
		t.Fatalf("%d lines; the long one %d bytes: %.80q…", len(lines), len(lines[1]), lines[1])
	}
	if same := "a\nb\n"; clipLongLines(same, maxDiffLine) != same {
		t.Fatal("short lines changed")
	}
}

// The overview's list of top-level entries is bounded: a root of
// thousands of files leaves room for the README's start.
func TestOverviewListIsBounded(t *testing.T) {
	dir := t.TempDir()
	for i := range 1500 {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("file_%04d_%s.txt", i, strings.Repeat("n", 90))), nil, 0o644)
	}
	os.WriteFile(filepath.Join(dir, "README.md"), []byte("# The project\n"), 0o644)
	e := &Engine{}
	got := e.overview(dir)
	if len(got) > maxOverviewBytes+500 || !strings.Contains(got, "more (list_dir lists them all)") || !strings.Contains(got, "README.md (start):\n# The project") {
		t.Fatalf("%d bytes:\n%.300s…%s", len(got), got, got[max(len(got)-200, 0):])
	}
}

// A branch of thousands of files (generated, vendored) keeps the start of
// its file list and how many more, within an eighth of review's budget:
// the whole list was left out where it alone outgrew the budget.
func TestReviewOfManyFilesKeepsTheStartOfTheList(t *testing.T) {
	h := newHarness(t, "\n[phases.review]\ncontext_tokens = 6000\n", func(r *oaitest.Request, phase string) oaitest.Reply {
		id := ticketOf(r)
		if phase == "code" && toolTurns(r) == 0 {
			calls := []oaitest.ToolCall{writeCall("c0", "src/"+id+".txt", "done "+id+"\n")}
			for i := range 600 {
				calls = append(calls, writeCall(fmt.Sprintf("g%d", i), fmt.Sprintf("generated/module_%03d/data.txt", i), "x\n"))
			}
			return oaitest.Reply{ToolCalls: calls}
		}
		return developer(r, phase)
	})
	id := h.add("hotfix", "many files", false)
	h.runIdle()
	h.wantStatus(id, store.StatusDone, "")
	files := h.reviewFileList()
	if !strings.Contains(files, "generated/module_000/data.txt") || !regexp.MustCompile(`… and \d+ more files`).MatchString(files) || strings.Contains(files, "trimmed to fit") {
		t.Fatalf("the file list:\n%s", files)
	}
	for _, tr := range h.phase(id, "review").Attempts[0].Trimmed {
		if strings.HasPrefix(tr, "Files the branch changes") && strings.Contains(tr, "left out") {
			t.Fatalf("trimmed: %v", h.phase(id, "review").Attempts[0].Trimmed)
		}
	}
}

// Objections take at most half of an over-full budget, cut to the newest
// whole and the older ones' starts: they grew with every attempt and
// squeezed out the ticket they are about, until the ticket stopped for
// want of room with attempts left (tester).
func TestObjectionsLeaveTheTicketItsRoom(t *testing.T) {
	long := func(n int) string {
		return fmt.Sprintf("objection-%d: ", n) + strings.Repeat("the regression test does not cover the boundary case. ", 110) // ~1,500 tokens
	}
	var judged atomic.Int32
	h := newHarness(t, "\n[phases.diagnosis]\ncontext_tokens = 8000\nmax_attempts = 5\n", func(r *oaitest.Request, phase string) oaitest.Reply {
		if phase == "validator of diagnosis" {
			return fail(long(int(judged.Add(1))))
		}
		return developer(r, phase)
	})
	tk, err := AddTicket(h.st, NewTicket{Kind: "hotfix", Title: "a long ticket", Body: strings.Repeat("The report says what broke and how. ", 4000)}, "main")
	if err != nil {
		t.Fatal(err)
	}
	h.runIdle()
	var firsts []*oaitest.Request
	for _, r := range h.firstTurns("diagnosis") {
		if ticketOf(r) == tk.ID {
			firsts = append(firsts, r)
		}
	}
	if len(firsts) != 5 {
		t.Fatalf("diagnosis asked %d times, want all 5 attempts (%s: %s)", len(firsts), h.ticket(tk.ID).Status, h.ticket(tk.ID).Reason)
	}
	last := userText(firsts[4])
	ticket := last[strings.Index(last, "## Ticket"):]
	if i := strings.Index(ticket[3:], "\n## "); i >= 0 {
		ticket = ticket[:i+3]
	}
	if n := llm.EstimateTokens(ticket); n < 1500 {
		t.Errorf("the fifth attempt kept %d tokens of the ticket", n)
	}
	for n := 1; n <= 4; n++ {
		if !strings.Contains(last, fmt.Sprintf("objection-%d", n)) {
			t.Errorf("the fifth attempt lost objection %d", n)
		}
	}
}

// reviewFileList is the list of the files the branch changes as the first
// review read it.
func (h *harness) reviewFileList() string {
	h.t.Helper()
	reqs := h.requests("review")
	if len(reqs) == 0 {
		h.t.Fatal("no review")
	}
	user := userText(reqs[0])
	i := strings.Index(user, "## Files the branch changes")
	if i < 0 {
		h.t.Fatalf("no file list:\n%.800s", user)
	}
	files := user[i:]
	return files[:strings.Index(files, "\n## ")]
}
