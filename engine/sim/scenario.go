package sim

import "strings"

// Ticket is one ticket of the demo scenario.
type Ticket struct{ Kind, Title, Body string }

// Titles of the demo tickets; the simulated model recognises them.
const (
	FeatureTitle = "Add Slugify to textutil"
	HotfixTitle  = "Truncate garbles some titles"
	EpicTitle    = "Word statistics for textutil"
)

// DemoTickets are the tickets the demo seeds, in order: a feature whose
// discovery is rejected once and whose first code fails `go vet`, a hotfix
// whose diagnosis cannot be confirmed without a human, and an epic split in
// two small features.
func DemoTickets() []Ticket {
	return []Ticket{
		{Kind: "feature", Title: FeatureTitle, Body: "Blog posts need URL-friendly slugs made from their titles. Add a function to " +
			"the textutil package that turns a title such as \"Hello, World!\" into \"hello-world\": lower case, " +
			"words joined by single dashes, punctuation dropped. Titles are often in French or German, so accented " +
			"letters must survive."},
		{Kind: "hotfix", Title: HotfixTitle, Body: "Support reports that some titles in the list view end in a \"?\" box " +
			"instead of a letter. It happens only for some titles and nobody attached an example. The list view " +
			"cuts titles with textutil.Truncate."},
		{Kind: "epic", Title: EpicTitle, Body: "Reports need two small statistics about titles: how many words a title " +
			"has, and whether it reads the same backwards (for the word-game page). Both belong in textutil, " +
			"with tests, and must handle accented letters."},
	}
}

// fspec is everything the simulated model knows about one small feature of
// the demo project: enough to write its documents, tests and code.
type fspec struct {
	key        string // lower-case word of the title that selects it
	fn, sig    string
	file       string
	testFile   string
	problem    string
	inScope    []string
	outOfScope []string
	behaviour  []string
	criteria   []string
	questions  []string
	design     string
	risks      string
	tests      string // the test file
	code       string // what the code phase writes
	vetOld     string // a slip in code that `go vet` flags (not `go test`); cifix replaces it
	vetNew     string
}

var features = []*fspec{slugify, wordCount, isPalindrome}

func findFeature(title string) *fspec {
	t := strings.ToLower(title)
	for _, f := range features {
		if strings.Contains(t, f.key) {
			return f
		}
	}
	return nil
}

var slugify = &fspec{
	key: "slugify", fn: "Slugify", sig: "func Slugify(s string) string",
	file: "textutil/slugify.go", testFile: "textutil/slugify_test.go",
	problem: "Blog posts need stable, readable URLs derived from their titles. Today every caller builds slugs " +
		"by hand with ad-hoc replacements, which drops accented letters and leaves double dashes. The user " +
		"wants one function in textutil that does it the same way everywhere.",
	inScope: []string{"a new exported function `Slugify` in package `textutil`",
		"letters and digits of any script, lower-cased", "tests in the package's table-driven style"},
	outOfScope: []string{"transliteration (\"é\" stays \"é\", it does not become \"e\")",
		"a maximum length or uniqueness of slugs", "changing any existing function"},
	behaviour: []string{"Letters and digits are kept and lower-cased; every other character is a separator.",
		"A run of separators becomes a single dash `-`.",
		"The slug never starts or ends with a dash.",
		"An input without letters or digits (including the empty string) gives the empty string."},
	criteria: []string{"`Slugify(\"Hello, World!\")` returns `\"hello-world\"`.",
		"`Slugify(\"  Go   is fun  \")` returns `\"go-is-fun\"`.",
		"`Slugify(\"already-a-slug\")` returns `\"already-a-slug\"`.",
		"`Slugify(\"Crème Brûlée 2\")` returns `\"crème-brûlée-2\"`.",
		"`Slugify(\"\")` and `Slugify(\"!!!\")` return `\"\"`."},
	questions: []string{"Transliteration: the ticket says accented letters must survive, so they are kept as they are.",
		"Underscores count as separators, like any character that is not a letter or digit."},
	design: "One pass over the runes of the input with a `strings.Builder`. A flag remembers that a separator " +
		"was seen; the dash is written lazily, only before the next kept rune, which gives collapsing and " +
		"no leading or trailing dash without a second pass or a `strings.Trim`. `unicode.IsLetter` and " +
		"`unicode.IsDigit` decide what is kept, `unicode.ToLower` lower-cases, so accented letters survive. " +
		"The obvious alternative, a regular expression replace followed by a trim, allocates three times " +
		"and is harder to read for the Unicode cases.",
	risks: "None outside the new file: no existing function changes. The only subtle part is the lazy dash; " +
		"the table test covers leading, trailing and repeated separators.",
	tests: `package textutil

import "testing"

func TestSlugify(t *testing.T) {
	cases := []struct{ in, want string }{
		{"Hello, World!", "hello-world"},
		{"  Go   is fun  ", "go-is-fun"},
		{"already-a-slug", "already-a-slug"},
		{"Crème Brûlée 2", "crème-brûlée-2"},
		{"", ""},
		{"!!!", ""},
	}
	for _, c := range cases {
		if got := Slugify(c.in); got != c.want {
			t.Errorf("Slugify(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
`,
	code: `package textutil

import (
	"strings"
	"unicode"
)

// Slugify turns a title into a URL-friendly slug: letters and digits are
// kept and lower-cased, every other run of characters becomes one dash, and
// the slug never starts or ends with a dash.
func Slugify(s string) string {
	var b strings.Builder
	pendingDash := false
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			pendingDash = b.Len() > 0
			continue
		}
		if pendingDash {
			b.WriteByte('-')
			pendingDash = false
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
	return strings.Trim(b.String(), "-")
}
`,
	vetOld: "\treturn b.String()\n\treturn strings.Trim(b.String(), \"-\")\n",
	vetNew: "\treturn b.String()\n",
}

var wordCount = &fspec{
	key: "wordcount", fn: "WordCount", sig: "func WordCount(s string) int",
	file: "textutil/wordcount.go", testFile: "textutil/wordcount_test.go",
	problem: "Reports show how long each title is, in words. Callers count words differently today, " +
		"some splitting on single spaces, so titles with tabs or double spaces get wrong numbers.",
	inScope:    []string{"a new exported function `WordCount` in package `textutil`", "tests for it"},
	outOfScope: []string{"counting sentences or characters", "language-specific word rules"},
	behaviour: []string{"A word is a maximal run of non-space characters (Unicode white space separates words).",
		"Leading, trailing and repeated white space do not create words.",
		"Punctuation attached to a word is part of it."},
	criteria: []string{"`WordCount(\"\")` returns `0`.",
		"`WordCount(\"one\")` returns `1`.",
		"`WordCount(\"  two\\twords\\n\")` returns `2`.",
		"`WordCount(\"héllo wörld, again\")` returns `3`."},
	questions: []string{"Hyphenated words count as one word: the ticket does not say otherwise."},
	design: "`strings.Fields` already splits on Unicode white space and drops empty fields, which is exactly " +
		"the behaviour asked for; `WordCount` returns the length of its result. Counting transitions by hand " +
		"would avoid the slice allocation, but titles are short and the clear version wins.",
	risks: "None: a new function in its own file.",
	tests: `package textutil

import "testing"

func TestWordCount(t *testing.T) {
	cases := []struct {
		in   string
		want int
	}{
		{"", 0},
		{"one", 1},
		{"  two\twords\n", 2},
		{"héllo wörld, again", 3},
	}
	for _, c := range cases {
		if got := WordCount(c.in); got != c.want {
			t.Errorf("WordCount(%q) = %d, want %d", c.in, got, c.want)
		}
	}
}
`,
	code: `package textutil

import "strings"

// WordCount is the number of words in s: runs of characters separated by
// Unicode white space.
func WordCount(s string) int {
	return len(strings.Fields(s))
}
`,
}

var isPalindrome = &fspec{
	key: "ispalindrome", fn: "IsPalindrome", sig: "func IsPalindrome(s string) bool",
	file: "textutil/palindrome.go", testFile: "textutil/palindrome_test.go",
	problem: "The word-game page highlights titles that read the same backwards. It needs a check that " +
		"ignores case, spaces and punctuation, and that works on accented letters.",
	inScope:    []string{"a new exported function `IsPalindrome` in package `textutil`", "tests for it"},
	outOfScope: []string{"Unicode normalisation (composed and decomposed accents are different letters)"},
	behaviour: []string{"Only letters and digits are compared; everything else is ignored.",
		"Letters are compared case-insensitively.",
		"A string with nothing to compare (empty, or punctuation only) is a palindrome."},
	criteria: []string{"`IsPalindrome(\"Never odd or even\")` returns `true`.",
		"`IsPalindrome(\"A man, a plan, a canal: Panama!\")` returns `true`.",
		"`IsPalindrome(\"Été\")` returns `true`.",
		"`IsPalindrome(\"agent\")` returns `false`.",
		"`IsPalindrome(\"\")` returns `true`."},
	questions: []string{"Normalisation is out of scope: titles are stored composed (NFC)."},
	design: "Collect the lower-cased letters and digits as a rune slice, then compare it with two indices " +
		"walking inwards. Working on runes, not bytes, keeps accented letters whole.",
	risks: "None: a new function in its own file.",
	tests: `package textutil

import "testing"

func TestIsPalindrome(t *testing.T) {
	cases := []struct {
		in   string
		want bool
	}{
		{"Never odd or even", true},
		{"A man, a plan, a canal: Panama!", true},
		{"Été", true},
		{"agent", false},
		{"", true},
	}
	for _, c := range cases {
		if got := IsPalindrome(c.in); got != c.want {
			t.Errorf("IsPalindrome(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}
`,
	code: `package textutil

import "unicode"

// IsPalindrome reports whether s reads the same backwards, comparing only
// letters and digits, case-insensitively.
func IsPalindrome(s string) bool {
	var rs []rune
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			rs = append(rs, unicode.ToLower(r))
		}
	}
	for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
		if rs[i] != rs[j] {
			return false
		}
	}
	return true
}
`,
}

// The hotfix: Truncate cuts bytes, not characters. These strings must match
// the demo project's textutil.go.
const (
	truncateFile    = "textutil/textutil.go"
	truncateTest    = "textutil/truncate_regression_test.go"
	truncateBuggy   = "\tif len(s) <= n {\n\t\treturn s\n\t}\n\treturn s[:n]\n"
	truncateFixed   = "\t// n counts characters, not bytes: a cut inside a multi-byte character\n\t// leaves invalid UTF-8, which terminals show as \"?\".\n\tcount := 0\n\tfor i := range s {\n\t\tif count == n {\n\t\t\treturn s[:i]\n\t\t}\n\t\tcount++\n\t}\n\treturn s\n"
	truncateTestSrc = `package textutil

import (
	"testing"
	"unicode/utf8"
)

// Regression test for the "?" box at the end of cut titles: Truncate must
// count characters, not bytes.
func TestTruncateKeepsCharactersWhole(t *testing.T) {
	cases := []struct {
		in   string
		n    int
		want string
	}{
		{"Crème brûlée", 3, "Crè"},
		{"Crème brûlée", 12, "Crème brûlée"},
		{"héllo", 10, "héllo"},
		{"plain ascii", 5, "plain"},
	}
	for _, c := range cases {
		got := Truncate(c.in, c.n)
		if !utf8.ValidString(got) {
			t.Errorf("Truncate(%q, %d) = %q: invalid UTF-8", c.in, c.n, got)
		}
		if got != c.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
`
)
