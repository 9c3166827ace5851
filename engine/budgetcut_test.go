package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/sashabaranov/go-openai"

	"agent-tui/engine/oaitest"
	"agent-tui/engine/tools"
	"agent-tui/store"
)

// Reads cut by the budget say which lines the model got and where to go
// on from: the read's own note ("showed lines 1-1418 … offset=1419")
// would send it past lines it never saw. A read from an offset to the
// end, which has no note, gets one too.
func TestCutReadSaysWhereToGoOn(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	for i := 1; i <= 3000; i++ {
		fmt.Fprintf(&b, "line %04d of a file the model reads.......\n", i)
	}
	for i := range 8 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d.txt", i)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	box, err := tools.New(tools.Options{Root: dir, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer box.Close()
	call := openai.ChatCompletionMessage{Role: openai.ChatMessageRoleAssistant}
	var results []openai.ChatCompletionMessage
	first := map[string]int{}
	for i := range 8 {
		id, args := fmt.Sprintf("c%d", i), fmt.Sprintf(`{"path": "f%d.txt"}`, i)
		first[id] = 1
		if i == 7 {
			args, first[id] = `{"path": "f7.txt", "offset": 1700}`, 1700
		}
		call.ToolCalls = append(call.ToolCalls, openai.ToolCall{ID: id, Type: openai.ToolTypeFunction, Function: openai.FunctionCall{Name: "read_file", Arguments: args}})
		out, isErr := box.Call(context.Background(), "read_file", args)
		if isErr {
			t.Fatal(out)
		}
		results = append(results, openai.ChatCompletionMessage{Role: openai.ChatMessageRoleTool, ToolCallID: id, Name: "read_file", Content: out})
	}
	msgs := append([]openai.ChatCompletionMessage{{Role: "system", Content: "s"}, {Role: "user", Content: "u"}, call}, results...)
	fitToolResults(msgs, 4000)
	note := regexp.MustCompile(`\n\[trimmed to fit the context budget: showed lines (\d+)-(\d+) of 3000; continue with offset=(\d+)\]$`)
	for _, m := range msgs[3:] {
		got := note.FindStringSubmatch(m.Content)
		if got == nil {
			t.Fatalf("%s: no note of the lines kept; ends %q", m.ToolCallID, m.Content[max(len(m.Content)-160, 0):])
		}
		from, _ := strconv.Atoi(got[1])
		last, _ := strconv.Atoi(got[2])
		next, _ := strconv.Atoi(got[3])
		body := strings.Split(strings.TrimSuffix(m.Content, got[0]), "\n")
		if from != first[m.ToolCallID] || next != last+1 || last-from+1 != len(body) || !strings.HasPrefix(body[len(body)-1], fmt.Sprintf("line %04d ", last)) {
			t.Fatalf("%s: note %q after %d lines ending %q", m.ToolCallID, got[0], len(body), body[len(body)-1])
		}
	}
}

// A command's output cut by the budget keeps how the command ended: the
// next call's result and the attempt's record both start with the exit
// code and say how much of the output they show.
func TestCutCommandKeepsItsExitCode(t *testing.T) {
	h := newHarness(t, "\n[phases.tests]\ncontext_tokens = 4000\n", func(r *oaitest.Request, phase string) oaitest.Reply {
		if id := ticketOf(r); phase == "tests" && toolTurns(r) == 0 {
			return oaitest.Reply{ToolCalls: []oaitest.ToolCall{writeCall("c1", "tests/"+id+"_test.sh", "grep -q 'done "+id+"' src/"+id+".txt\n"),
				{ID: "seq", Name: "run_command", Args: `{"command": "seq 1 20000; exit 3"}`}}}
		}
		return developer(r, phase)
	})
	id := h.add("hotfix", "cut command output", false)
	h.runIdle()
	var sent string
	for _, r := range h.requests("tests") {
		for _, m := range r.Messages {
			if m.Role == openai.ChatMessageRoleTool && m.ToolCallID == "seq" {
				sent = m.Content
			}
		}
	}
	head := regexp.MustCompile(`^exit code 3\n\[output truncated: showing the last (\d+) of 108894 bytes[^\]\n]*\]\n`)
	m := head.FindStringSubmatch(sent)
	if m == nil || !strings.HasSuffix(sent, "\n20000\n") || len(sent) >= 16<<10 {
		t.Fatalf("the model got %d bytes: %.200q", len(sent), sent)
	}
	if n, _ := strconv.Atoi(m[1]); n != len(sent)-len(m[0]) {
		t.Fatalf("the note says %s bytes, %d shown", m[1], len(sent)-len(m[0]))
	}
	var rec *store.ToolCall
	for _, a := range h.attemptsOf(id, "tests") {
		for i := range a.ToolCalls {
			if a.ToolCalls[i].ID == "seq" {
				rec = &a.ToolCalls[i]
			}
		}
	}
	if rec == nil || !head.MatchString(rec.Result) || len(rec.Result) > toolResultKept || !strings.HasSuffix(rec.Result, "\n20000\n") {
		t.Fatalf("recorded: %+v", rec)
	}
}

// A section cut inside a code block closes the block, so what follows it
// (the failing test output, objections) is not read as code, and says how
// to read the rest: a test file from the line it was cut at, the diff's
// files.
func TestCutFencedSectionIsClosed(t *testing.T) {
	var long strings.Builder
	for i := 1; i <= 600; i++ {
		fmt.Fprintf(&long, "# line %d of a long test file, a comment\n", i)
	}
	h := newHarness(t, "\n[phases.code]\ncontext_tokens = 2500\n[phases.review]\ncontext_tokens = 2500\n", func(r *oaitest.Request, phase string) oaitest.Reply {
		id := ticketOf(r)
		switch {
		case phase == "tests" && toolTurns(r) == 0:
			return oaitest.Reply{ToolCalls: []oaitest.ToolCall{writeCall("c1", "tests/"+id+"_test.sh", "grep -q 'done "+id+"' src/"+id+".txt\n"+long.String())}}
		case phase == "code" && toolTurns(r) == 0:
			return oaitest.Reply{ToolCalls: []oaitest.ToolCall{writeCall("c2", "src/"+id+".txt", "done "+id+"\n"), writeCall("c3", "src/big.txt", long.String())}}
		}
		return developer(r, phase)
	})
	id := h.add("hotfix", "fenced sections", false)
	h.runIdle()
	code, review := h.firstTurns("code"), h.firstTurns("review")
	if len(code) == 0 || len(review) == 0 {
		t.Fatalf("%d code, %d review requests (%s)", len(code), len(review), h.ticket(id).Reason)
	}
	text := userText(code[0])
	out := strings.Index(text, "\n## Failing test output")
	if out < 0 || openFence(text[:out]) || openFence(text) {
		t.Fatalf("code's input leaves a code block open:\n%s", text)
	}
	// the file's line k (after its first) is "# line k-1"
	m := regexp.MustCompile("# line (\\d+) [^\n]*\n```\n\\[… trimmed to fit the context budget; read_file reads the rest of tests/" + id + `_test.sh from offset=(\d+) …\]`).FindStringSubmatch(text)
	if m == nil || m[1] != fmt.Sprint(atoi(m[2])-2) {
		t.Fatalf("no way to the rest of the test file (%q):\n%s", m, text)
	}
	text = userText(review[0])
	if openFence(text) || !strings.Contains(text, "read_file reads the changed files") {
		t.Fatalf("review's input leaves the diff open:\n%s", text[max(len(text)-600, 0):])
	}
}

// A list of objections too long for its room keeps the newest whole and
// a human's newest words whole, and cuts the older items to their starts
// first.
func TestFitListKeepsTheNewestAndGuidanceWhole(t *testing.T) {
	obj := func(i int) string { return fmt.Sprintf("OBJ-%d %s END-%d", i, strings.Repeat("x", 1500), i) }
	var items []string
	for i := range 8 {
		items = append(items, obj(i))
	}
	check := func(got string, n int, whole ...string) {
		t.Helper()
		if len(got) > n {
			t.Fatalf("%d bytes, want at most %d", len(got), n)
		}
		for _, w := range whole {
			if !strings.Contains(got, w) {
				t.Fatalf("%q cut:\n%s", w[:20], got)
			}
		}
		for i, it := range items {
			if !strings.Contains(got, it[:minItemHead-10]) {
				t.Fatalf("item %d lost its start:\n%s", i, got)
			}
		}
	}
	got := fitList("intro\n\n", items, 5700)
	check(got, 5700, obj(7))
	guide := guidancePrefix + "GUIDE-START " + strings.Repeat("g", 1500) + " GUIDE-END"
	items = append(items, obj(8), obj(9), guide)
	got = fitList("intro\n\n", items, 5700)
	check(got, 5700, guide)
	// the guidance is no longer the newest: both stay whole
	items = append(items, obj(10))
	got = fitList("intro\n\n", items, 6000)
	check(got, 6000, guide, obj(10))
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// A diff header names its file whole even when a directory of its path
// ends in " b" (as "a/x b/y b/x b/y" reads); a rename names the new path.
func TestDiffFileName(t *testing.T) {
	for line, want := range map[string]string{
		"diff --git a/Plan b/notes.md b/Plan b/notes.md": "Plan b/notes.md",
		"diff --git a/x.go b/x.go":                       "x.go",
		"diff --git a/old.txt b/new.txt":                 "new.txt",
		`diff --git "a/t\tab" "b/t\tab"`:                 `"t\tab"`,
	} {
		if got, ok := DiffFileName(line); !ok || got != want {
			t.Errorf("%q: %q, want %q", line, got, want)
		}
	}
	if files := diffFiles("diff --git a/Plan b/notes.md b/Plan b/notes.md\n--- a/Plan b/notes.md\n+++ b/Plan b/notes.md\n@@ -1 +1 @@\n-a\n+b\n"); len(files) != 1 || files[0] != "Plan b/notes.md" {
		t.Errorf("diffFiles: %q", files)
	}
}
