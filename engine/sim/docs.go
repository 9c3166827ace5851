package sim

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

func numbered(items []string) string {
	var b strings.Builder
	for i, it := range items {
		fmt.Fprintf(&b, "%d. %s\n", i+1, it)
	}
	return b.String()
}

func bullets(items []string) string {
	var b strings.Builder
	for _, it := range items {
		b.WriteString("- " + it + "\n")
	}
	return b.String()
}

// addressed answers the objections of earlier attempts, as the prompts ask.
func addressed(objections string) string {
	if objections == "" {
		return ""
	}
	var items []string
	for _, l := range strings.Split(objections, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || !strings.ContainsAny(l[:1], "0123456789") {
			continue
		}
		_, o, _ := strings.Cut(l, ". ")
		items = append(items, fmt.Sprintf("%q: addressed in this revision.", oneLine(o, 140)))
	}
	if len(items) == 0 {
		return ""
	}
	return "\n## Objections addressed\n\n" + bullets(items)
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		for n > 0 && !utf8.RuneStart(s[n]) {
			n-- // never inside a character
		}
		s = s[:n] + "…"
	}
	return s
}

// featureDiscovery is the functional spec; the first draft of the demo
// feature forgets its acceptance criteria, which the validator catches.
func featureDiscovery(f *fspec, withCriteria bool, objections string) string {
	var b strings.Builder
	b.WriteString("# Functional specification: " + f.fn + "\n\n")
	b.WriteString("## Problem\n\n" + f.problem + "\n\n")
	b.WriteString("## Scope\n\nIn scope:\n\n" + bullets(f.inScope) + "\nOut of scope:\n\n" + bullets(f.outOfScope) + "\n")
	b.WriteString("## Behaviour\n\n`" + f.sig + "` lives in package `textutil`, next to the existing helpers.\n\n" + numbered(f.behaviour) + "\n")
	if withCriteria {
		b.WriteString("## Acceptance criteria\n\nEach line is one check a table-driven test can make.\n\n" + numbered(f.criteria) + "\n")
	}
	b.WriteString("## Open questions\n\n" + bullets(f.questions))
	b.WriteString(addressed(objections))
	return b.String()
}

func featureTechspec(f *fspec) string {
	var b strings.Builder
	b.WriteString("# Technical specification: " + f.fn + "\n\n")
	b.WriteString("## Design\n\n" + f.design + "\n\n")
	b.WriteString("## Changes\n\n")
	fmt.Fprintf(&b, "- `%s` (new): `%s`, documented with a doc comment that states the rules above.\n", f.file, f.sig)
	fmt.Fprintf(&b, "- `%s` (new): a table-driven test in the style of `textutil/textutil_test.go`.\n", f.testFile)
	b.WriteString("- No other file changes; no new dependency (standard library only).\n\n")
	b.WriteString("## Data and errors\n\nThe function is pure: no error return, no panics, no allocation beyond its result. " +
		"Every input is valid, including the empty string and invalid UTF-8 (which ranges as U+FFFD and is " +
		"treated as a separator or a character like any other rune).\n\n")
	b.WriteString("## Testing\n\nOne table test, one row per acceptance criterion:\n\n" + numbered(f.criteria) +
		"\nThe rows live in `" + f.testFile + "` and run with `go test ./...`.\n\n")
	b.WriteString("## Risks\n\n" + f.risks + "\n")
	return b.String()
}

func featurePlan(f *fspec) string {
	var b strings.Builder
	b.WriteString("# Plan: " + f.fn + "\n\n")
	b.WriteString("## Tests to write first\n\n")
	fmt.Fprintf(&b, "- `%s`, `Test%s`: a table of inputs and expected outputs, one row per acceptance criterion:\n\n", f.testFile, f.fn)
	for i, c := range f.criteria {
		fmt.Fprintf(&b, "  %d. %s\n", i+1, c)
	}
	fmt.Fprintf(&b, "\n  It fails now: `%s` does not exist yet, so the package does not compile.\n\n", f.fn)
	b.WriteString("## Steps\n\n")
	fmt.Fprintf(&b, "1. Create `%s` in package `textutil` with the doc comment and the signature `%s`.\n", f.file, f.sig)
	b.WriteString("2. Implement the single pass described in the tech spec's Design section.\n")
	b.WriteString("3. Run `go test ./...`; fix until every row passes, without touching the test file.\n")
	b.WriteString("4. Run `go vet ./...` before handing over: CI runs it too.\n\n")
	b.WriteString("## Done when\n\n`go test ./...` passes with the tests above unchanged, and `go vet ./...` is clean.\n")
	return b.String()
}

func testsSummary(file, name string, criteria []string) string {
	var b strings.Builder
	b.WriteString("## Tests written\n\n")
	fmt.Fprintf(&b, "- `%s`: `%s`, a table test with one row per acceptance criterion:\n\n", file, name)
	for i, c := range criteria {
		fmt.Fprintf(&b, "  %d. %s\n", i+1, c)
	}
	b.WriteString("\n`go test ./...` fails as expected: the code under test is not written yet. The file is frozen from here on.\n")
	return b.String()
}

// The hotfix's diagnosis. Without a failing input the model can only
// suspect; the validator will not let a suspicion through.
func diagnosisUnconfirmed(objections string) string {
	var b strings.Builder
	b.WriteString("## Symptom\n\nSome titles in the list view end in a \"?\" box instead of their last letter. " +
		"Expected: the title is cut cleanly after the configured number of characters.\n\n")
	b.WriteString("## Reproduction\n\nUnconfirmed. The ticket has no failing title, and every ASCII input I can build " +
		"behaves: `Truncate(\"Hello, World\", 5)` returns `\"Hello\"`. Two candidates remain:\n\n" +
		"1. a title whose cut falls inside a multi-byte character, if the list view counts in bytes;\n" +
		"2. a font without the glyph for some character, drawn by the terminal as a box.\n\n")
	b.WriteString("## Root cause\n\nSuspected, not shown: `textutil/textutil.go`, `Truncate`:\n\n" +
		"```go\nif len(s) <= n {\n\treturn s\n}\nreturn s[:n]\n```\n\n" +
		"`len` and slicing count bytes. That would explain candidate 1, but without an example title the " +
		"font explanation cannot be ruled out.\n\n")
	b.WriteString("## Fix approach\n\nIf candidate 1 is confirmed: count characters (runes) in `Truncate` and cut on a " +
		"character boundary. If candidate 2, no code change here.\n\n")
	b.WriteString("## Regression test\n\n`" + truncateTest + "`, `TestTruncateKeepsCharactersWhole`: to be written once " +
		"a failing title is known.\n")
	if objections != "" {
		b.WriteString("\n## Objections addressed\n\n- I searched the repository for callers of `Truncate`: there are none " +
			"outside `textutil`, so the list view that shows the \"?\" is not in this repository and I cannot run it.\n" +
			"- The reproduction therefore stays unconfirmed: only the reporter's title can tell the two candidates apart.\n")
	}
	return b.String()
}

func diagnosisConfirmed(guidance string) string {
	var b strings.Builder
	b.WriteString("## Symptom\n\nSome titles in the list view end in a \"?\" box instead of their last letter. " +
		"Expected: the title is cut cleanly after the configured number of characters.\n\n")
	b.WriteString("## Reproduction\n\nConfirmed with the human's guidance (" + oneLine(guidance, 200) + "): a title whose cut " +
		"falls inside a multi-byte character. `Truncate(\"Crème brûlée\", 3)` returns `\"Cr\\xc3\"`, the first " +
		"byte of `è` alone, which is invalid UTF-8 and drawn as \"?\".\n\n")
	b.WriteString("## Root cause\n\n`textutil/textutil.go`, `Truncate`:\n\n```go\nif len(s) <= n {\n\treturn s\n}\nreturn s[:n]\n```\n\n" +
		"`len` and `s[:n]` count bytes, but `n` is meant as characters. Any title with an accented letter " +
		"before or at the cut is cut too early, and inside a character when the cut lands in one.\n\n")
	b.WriteString("## Fix approach\n\nWalk the string by runes with `for i := range s` and cut at the byte index of the " +
		"n-th character. Inputs shorter than n characters are returned whole; `n <= 0` still returns \"\". " +
		"ASCII behaviour is unchanged, so existing callers and tests are not affected.\n\n")
	b.WriteString("## Regression test\n\n`" + truncateTest + "`, `TestTruncateKeepsCharactersWhole`: a table of inputs " +
		"with accented letters; it asserts the exact result and that it is valid UTF-8. " +
		"`Truncate(\"Crème brûlée\", 3)` must return `\"Crè\"`. It fails on the current code and passes after the fix.\n")
	return b.String()
}

const epicDiscovery = `# Functional specification: word statistics

## Problem

Reports show statistics about titles, and the word-game page highlights titles that read the same
backwards. Both computations are copied around today with small differences. The user wants them in
textutil, tested, and correct for accented letters.

## Scope

In scope:

- ` + "`WordCount`" + `: the number of words in a title.
- ` + "`IsPalindrome`" + `: whether a title reads the same backwards, ignoring case, spaces and punctuation.

Out of scope: other statistics (characters, sentences), Unicode normalisation, any UI.

## Behaviour

1. Words are runs of characters separated by Unicode white space.
2. Palindromes compare letters and digits only, case-insensitively, rune by rune.
3. Both functions are pure and accept any string, including the empty one.

## Acceptance criteria

1. ` + "`WordCount(\"  two\\twords\\n\")`" + ` returns 2; ` + "`WordCount(\"\")`" + ` returns 0.
2. ` + "`WordCount(\"héllo wörld, again\")`" + ` returns 3.
3. ` + "`IsPalindrome(\"Never odd or even\")`" + ` and ` + "`IsPalindrome(\"Été\")`" + ` return true.
4. ` + "`IsPalindrome(\"agent\")`" + ` returns false; ` + "`IsPalindrome(\"\")`" + ` returns true.

## Open questions

- Two functions, two independent changes: they can be built and merged separately.
`

const epicTechspec = `# Technical specification: word statistics

## Design

Two independent functions in two new files of package textutil, so that each can be built, reviewed
and merged on its own branch without conflicts. Both use only the standard library.

## Changes

- ` + "`textutil/wordcount.go`" + ` (new): ` + "`func WordCount(s string) int`" + `, the length of ` + "`strings.Fields(s)`" + `.
- ` + "`textutil/palindrome.go`" + ` (new): ` + "`func IsPalindrome(s string) bool`" + `, collects the lower-cased
  letters and digits as runes and compares them from both ends.
- A table test next to each.

## Data and errors

Pure functions, no errors. Invalid UTF-8 ranges as U+FFFD, which is neither space nor letter.

## Testing

Criteria 1 and 2 in ` + "`textutil/wordcount_test.go`" + `; criteria 3 and 4 in ` + "`textutil/palindrome_test.go`" + `.

## Risks

None beyond the new files; the split into two children keeps each diff small.
`

func epicSplit() string {
	child := func(f *fspec) string {
		return fmt.Sprintf(`{"kind": "feature", "title": %q, "body": %q}`, "Add "+f.fn+" to textutil",
			f.problem+"\n\n`"+f.sig+"` in `"+f.file+"`.\n\n## Acceptance criteria\n\n"+numbered(f.criteria))
	}
	return "{\"tickets\": [\n  " + child(wordCount) + ",\n  " + child(isPalindrome) + "\n]}"
}

// Generic documents, for tickets the simulated model has no script for.

func genericDoc(phase, title, body string) string {
	subject := strings.TrimSpace(title)
	switch phase {
	case "discovery":
		return "## Problem\n\nThe ticket asks: " + subject + ". " + oneLine(body, 300) + "\n\n" +
			"## Scope\n\nIn scope: exactly what the ticket describes. Out of scope: anything it does not mention.\n\n" +
			"## Behaviour\n\n1. After the change, the behaviour the ticket describes is observable.\n" +
			"2. Existing behaviour not named by the ticket is unchanged.\n\n" +
			"## Acceptance criteria\n\n1. A test exercising \"" + subject + "\" passes.\n" +
			"2. The existing test suite still passes.\n\n" +
			"## Open questions\n\n- The ticket is short; I assumed the narrowest reading of it.\n"
	case "diagnosis":
		return "## Symptom\n\n" + subject + ". " + oneLine(body, 300) + "\n\n" +
			"## Reproduction\n\nA unit test that calls the affected code with the input from the ticket.\n\n" +
			"## Root cause\n\nThe code path named by the ticket returns the wrong result for that input.\n\n" +
			"## Fix approach\n\nThe smallest change to that code path; nothing else changes.\n\n" +
			"## Regression test\n\nOne test that fails on the current code and passes after the fix.\n"
	case "techspec":
		return "## Design\n\nThe smallest change that delivers the functional spec, in the package it names.\n\n" +
			"## Changes\n\n- The file holding the affected code: the change itself.\n- A test file next to it.\n\n" +
			"## Data and errors\n\nNo new error cases.\n\n## Testing\n\nOne test per acceptance criterion.\n\n" +
			"## Risks\n\nLow: the change is local.\n"
	case "planning":
		return "## Tests to write first\n\n- One test per acceptance criterion, next to the code it exercises.\n\n" +
			"## Steps\n\n1. Write the tests; see them fail.\n2. Change the code the tech spec names.\n" +
			"3. Run the test command until it passes.\n\n## Done when\n\nThe test command passes with the tests unchanged.\n"
	case "split":
		return fmt.Sprintf(`{"tickets": [{"kind": "feature", "title": %q, "body": %q}]}`, subject, oneLine(body, 500))
	}
	return "Nothing to do for " + subject + " in phase " + phase + "."
}
