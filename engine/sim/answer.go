package sim

import (
	"encoding/json"
	"fmt"
	"strings"
)

const (
	testCmd = "go test ./..."
	ciCmd   = "go vet ./... && go test ./..."
)

func (c *convo) answer() Turn {
	switch {
	case c.phase == "":
		return Turn{Text: "This is agent-tui's simulated model. It answers agent-tui's phase requests only."}
	case c.validator:
		return c.validate()
	case c.phase == "review":
		return c.review()
	case c.kind == "hotfix" && strings.HasPrefix(strings.ToLower(c.title), "bench:"):
		return c.bench()
	case c.kind == "epic" && c.title == EpicTitle:
		return c.epic()
	case c.kind == "hotfix" && c.title == HotfixTitle:
		return c.hotfix()
	}
	if f := findFeature(c.title); f != nil && c.kind == "feature" {
		return c.feature(f)
	}
	return c.generic()
}

func verdict(pass bool, objections ...string) Turn {
	if objections == nil {
		objections = []string{}
	}
	b, _ := json.Marshal(map[string]any{"pass": pass, "objections": objections})
	return Turn{Text: string(b)}
}

// validate checks the deliverable's content: it objects only to what a
// careful validator would, so a rejection always has a visible cause.
func (c *convo) validate() Turn {
	d := c.section("Deliverable of phase ")
	switch c.phase {
	case "discovery":
		if !hasHeading(d, "acceptance criteria") {
			return verdict(false, "The functional spec has no \"Acceptance criteria\" section: later phases need a "+
				"numbered list of concrete checks (an input and its expected output for each behaviour), "+
				"including the empty-input and punctuation-only cases the Behaviour section mentions.")
		}
	case "diagnosis":
		if repro := headingBody(d, "reproduction"); strings.Contains(strings.ToLower(repro), "unconfirmed") {
			if hasHeading(d, "objections addressed") {
				return verdict(false, "Still unconfirmed: the revision rules out nothing; both candidate causes remain "+
					"and neither is shown with an input. Only the reporter can supply a failing title; a hotfix "+
					"cannot be built on a guess.")
			}
			return verdict(false, "The reproduction is unconfirmed: the diagnosis names two candidate causes and shows "+
				"no input that produces the reported \"?\" box. Show a failing input, or establish that none can be found here.")
		}
	}
	return verdict(true)
}

// hasHeading reports whether markdown text has a heading starting with name.
func hasHeading(text, name string) bool {
	return headingIndex(text, name) >= 0
}

func headingIndex(text, name string) int {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "#") && strings.HasPrefix(strings.ToLower(strings.TrimSpace(strings.TrimLeft(l, "#"))), name) {
			return i
		}
	}
	return -1
}

// headingBody is the text under a heading, up to the next heading.
func headingBody(text, name string) string {
	i := headingIndex(text, name)
	if i < 0 {
		return ""
	}
	lines := strings.Split(text, "\n")[i+1:]
	for j, l := range lines {
		if strings.HasPrefix(l, "#") {
			lines = lines[:j]
			break
		}
	}
	return strings.Join(lines, "\n")
}

// review reads the changed files the diff names, then passes.
func (c *convo) review() Turn {
	var reads []Call
	for _, f := range diffFiles(c.section("Diff of the branch against ")) {
		if !strings.HasSuffix(f, "_test.go") && len(reads) < 2 {
			reads = append(reads, readFile(f))
		}
	}
	if len(reads) == 0 {
		return verdict(true)
	}
	return c.play(
		say("Reading the changed code next to the documents.\n", reads...),
		func() Turn { return verdict(true) },
	)
}

// diffFiles lists the "b/" side of a unified diff's file headers.
func diffFiles(diff string) []string {
	var out []string
	for _, l := range strings.Split(diff, "\n") {
		if f, ok := strings.CutPrefix(l, "+++ b/"); ok {
			out = append(out, strings.TrimSpace(f))
		}
	}
	return out
}

func (c *convo) feature(f *fspec) Turn {
	objections := c.section("Objections to address")
	switch c.phase {
	case "discovery":
		// the demo feature's first draft forgets its criteria; the validator catches it
		withCriteria := f != slugify || c.retry()
		return c.play(
			say("Let me look at the package the ticket touches.\n", listDir("textutil"), readFile("textutil/textutil.go")),
			say(featureDiscovery(f, withCriteria, objections)),
		)
	case "techspec":
		return c.play(
			say("Checking the test style before designing.\n", readFile("textutil/textutil_test.go")),
			say(featureTechspec(f)),
		)
	case "planning":
		return Turn{Text: featurePlan(f)}
	case "tests":
		return c.play(
			say("Reading the existing tests to follow their style.\n", listDir("textutil"), readFile("textutil/textutil_test.go")),
			say("Writing the table test from the acceptance criteria.\n", writeFile(f.testFile, f.tests)),
			say("Running the tests: they must fail now.\n", runCommand(testCmd)),
			say(testsSummary(f.testFile, "Test"+f.fn, f.criteria)),
		)
	case "code":
		return c.play(
			say("Reading the frozen tests first.\n", readFile(f.testFile)),
			say(fmt.Sprintf("Writing `%s` following the plan.\n", f.sig), writeFile(f.file, f.code)),
			say("Running the tests.\n", runCommand(testCmd)),
			say(fmt.Sprintf("## Changes\n\n- `%s` (new): `%s`, one pass over the runes as the tech spec describes.\n\n"+
				"`%s` passes; the test file is unchanged.\n", f.file, f.sig, testCmd)),
		)
	case "cifix":
		if f.vetOld == "" {
			return c.generic()
		}
		return c.play(
			say("The CI log points at "+f.file+"; reading it.\n", readFile(f.file)),
			func() Turn {
				if !strings.Contains(c.result("read_file"), f.vetOld) {
					return Turn{Text: "The file no longer has the line the log points at."}
				}
				return Turn{Text: "`go vet` reports unreachable code: a leftover second return. Removing it.\n",
					Calls: []Call{editFile(f.file, f.vetOld, f.vetNew)}}
			},
			say("Running the CI command to confirm.\n", runCommand(ciCmd)),
			say("## Cause\n\n`go vet` failed with \"unreachable code\" in `"+f.file+"`: a second `return` left after the "+
				"first one from an earlier draft. `go test` does not run that vet check, so the tests were green.\n\n"+
				"## Fix\n\nRemoved the dead `return strings.Trim(...)` line. Behaviour is unchanged (the slug never "+
				"has leading or trailing dashes by construction). `"+ciCmd+"` passes.\n"),
		)
	}
	return c.generic()
}

func (c *convo) hotfix() Turn {
	guidance := c.humanGuidance()
	switch c.phase {
	case "diagnosis":
		if guidance != "" {
			return c.play(
				say("Re-reading Truncate with the human's guidance in mind.\n", readFile(truncateFile)),
				say(diagnosisConfirmed(guidance)),
			)
		}
		if c.retry() {
			return c.play(
				say("Looking for the callers of Truncate, to find the failing title.\n", search(`Truncate\(`, ".")),
				say(diagnosisUnconfirmed(c.section("Objections to address"))),
			)
		}
		return c.play(
			say("Finding Truncate.\n", search(`func Truncate`, ".")),
			say("Reading it.\n", readFile(truncateFile)),
			say(diagnosisUnconfirmed("")),
		)
	case "tests":
		return c.play(
			say("Reading the existing Truncate tests.\n", readFile("textutil/textutil_test.go")),
			say("Writing the regression test from the diagnosis.\n", writeFile(truncateTest, truncateTestSrc)),
			say("Running the tests: the regression test must fail now.\n", runCommand(testCmd)),
			say(testsSummary(truncateTest, "TestTruncateKeepsCharactersWhole", []string{
				"`Truncate(\"Crème brûlée\", 3)` returns `\"Crè\"`, valid UTF-8 (the reported bug).",
				"Inputs shorter than n characters are returned whole, accented or not.",
				"ASCII behaviour is unchanged."})),
		)
	case "code":
		return c.play(
			say("Reading Truncate.\n", readFile(truncateFile)),
			func() Turn {
				if !strings.Contains(c.result("read_file"), truncateBuggy) {
					return Turn{Text: "Truncate no longer looks like the diagnosis quotes it; no change made."}
				}
				return Turn{Text: "Cutting at the n-th character instead of the n-th byte.\n",
					Calls: []Call{editFile(truncateFile, truncateBuggy, truncateFixed)}}
			},
			say("Running the tests.\n", runCommand(testCmd)),
			say("## Changes\n\n- `"+truncateFile+"`, `Truncate`: walks the string by runes and cuts at the byte index "+
				"of the n-th character, so a cut never splits a character.\n\n`"+testCmd+"` passes; the regression "+
				"test is unchanged.\n"),
		)
	}
	return c.generic()
}

func (c *convo) epic() Turn {
	switch c.phase {
	case "discovery":
		return c.play(
			say("Looking at textutil.\n", listDir("textutil")),
			say(epicDiscovery),
		)
	case "techspec":
		return Turn{Text: epicTechspec}
	case "split":
		return Turn{Text: epicSplit()}
	}
	return c.generic()
}

// generic answers tickets without a script: documents shaped like the
// prompts ask, and for file phases a look around and an honest summary.
func (c *convo) generic() Turn {
	body := c.section("Ticket")
	switch c.phase {
	case "discovery", "diagnosis", "techspec":
		return c.play(
			say("Looking at the repository layout.\n", listDir(".")),
			say(genericDoc(c.phase, c.title, body)),
		)
	case "planning", "split":
		src := c.section("Tech spec")
		return Turn{Text: genericDoc(c.phase, c.title, src)}
	case "tests", "code":
		return c.placeholder()
	case "cifix":
		return c.play(
			say("Looking at the repository layout.\n", listDir(".")),
			say("I looked at the repository layout. This simulated model has scripts only for the demo project's "+
				"tickets, so I made no change for \""+c.title+"\"."),
		)
	}
	return Turn{Text: genericDoc(c.phase, c.title, body)}
}
