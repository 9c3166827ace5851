package engine

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"agent-tui/engine/oaitest"
)

// Test files and their output too big for code's budget: the names of the
// frozen files are still there, and the end of the output still says
// which command printed it.
func TestCodeKnowsItsFrozenFilesWhateverTheBudget(t *testing.T) {
	var long strings.Builder
	for range 600 {
		long.WriteString("# a long comment line of the test file, padding padding\n")
	}
	h := newHarness(t, "\n[phases.code]\ncontext_tokens = 4000\n", func(r *oaitest.Request, phase string) oaitest.Reply {
		id := ticketOf(r)
		if phase == "tests" && toolTurns(r) == 0 {
			test := "if ! grep -q 'done " + id + "' src/" + id + ".txt; then i=0; while [ $i -lt 400 ]; do echo \"FAILOUT line $i: expected done, found nothing at all\"; i=$((i+1)); done; exit 1; fi\n"
			return oaitest.Reply{ToolCalls: []oaitest.ToolCall{writeCall("c1", "tests/"+id+"_test.sh", test+long.String())}}
		}
		return developer(r, phase)
	})
	id := h.add("hotfix", "big tests", false)
	h.runIdle()
	code := h.firstTurns("code")
	if len(code) == 0 {
		t.Fatalf("no code request (%s)", h.ticket(id).Reason)
	}
	text := userText(code[0])
	if !strings.Contains(text, "## Test files (frozen: do not change them)\n\ntests/"+id+"_test.sh\n") {
		t.Fatalf("the frozen files are not named:\n%s", text)
	}
	if !strings.Contains(text, "## Contents of the test files\n\n[all ") {
		t.Fatalf("the test's body was not trimmed: the budget tests nothing:\n%s", text)
	}
	if !regexp.MustCompile(`## Failing test output \(before any code\)\n\n\$ sh run_tests.sh\n\n\[… trimmed to fit the context budget …\]\n(FAILOUT line \d+: expected done, found nothing at all\n)+`).MatchString(text) || !strings.Contains(text, "FAILOUT line 399") {
		t.Fatalf("the cut output lost its command or its end:\n%s", text)
	}
}

// A log's end cut to fit keeps the command line it begins with.
func TestTailCutKeepsTheCommandLine(t *testing.T) {
	body := "$ make ci\n" + strings.Repeat("output line\n", 500) + "FAIL: the last line\n"
	got := cutSection(section{body: body, tail: true, head: true}, 400)
	if !strings.HasPrefix(got, "$ make ci\n"+trimMark) || !strings.HasSuffix(got, "FAIL: the last line\n") || len(got) > 450 {
		t.Fatalf("%q", got)
	}
	// a first line that would take the room is not kept at the cost of the end
	long := "$ " + strings.Repeat("x", 300) + "\n" + strings.Repeat("output line\n", 100)
	if got := cutSection(section{body: long, tail: true, head: true}, 400); strings.HasPrefix(got, "$ ") || !strings.HasSuffix(got, "output line\n") {
		t.Fatalf("%q", got)
	}
}

// The names of the frozen files go last, after even the small sections:
// thirty long names are over the size small sections keep to.
func TestFrozenNamesAreTrimmedLast(t *testing.T) {
	var names []string
	for i := range 30 {
		names = append(names, fmt.Sprintf("tests/T-1_case_%02d_with_a_long_descriptive_name_test.sh", i))
	}
	list := strings.Join(names, "\n")
	out := "$ sh run_tests.sh\n" + strings.Repeat("FAIL: expected done\n", 40)
	secs := []section{
		{title: "Diagnosis", body: strings.Repeat("the fix approach, in words. ", 15), prio: prioPrimary, vital: true},
		{title: "Test files (frozen: do not change them)", body: list, prio: prioFeedback, last: true},
		{title: "Failing test output", body: out, prio: prioOutput, tail: true, head: true},
	}
	text, _, trimmed := assemble("Phase: code", secs, 600)
	if !strings.Contains(text, list) {
		t.Fatalf("the frozen names were cut (trimmed %v):\n%s", trimmed, text)
	}
	if len(trimmed) == 0 {
		t.Fatal("nothing was trimmed: the budget tests nothing")
	}
}
