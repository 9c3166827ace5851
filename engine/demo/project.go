package demo

// Project returns the files of the demo's Go project. The simulated model's
// scripts (engine/sim) edit textutil.go by exact text, so keep Truncate as
// it is: its byte slicing is the hotfix's bug.
func Project() map[string]string {
	return map[string]string{
		"go.mod":    "module demo\n\ngo 1.21\n",
		"README.md": readme,
		"textutil/textutil.go": `// Package textutil holds small helpers for titles and other short texts.
package textutil

// Reverse returns s with its characters in reverse order.
func Reverse(s string) string {
	rs := []rune(s)
	for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
		rs[i], rs[j] = rs[j], rs[i]
	}
	return string(rs)
}

// Truncate shortens s to at most n characters.
func Truncate(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if len(s) <= n {
		return s
	}
	return s[:n]
}
`,
		"textutil/textutil_test.go": `package textutil

import "testing"

func TestReverse(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", ""},
		{"abc", "cba"},
		{"héllo", "olléh"},
	}
	for _, c := range cases {
		if got := Reverse(c.in); got != c.want {
			t.Errorf("Reverse(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestTruncate(t *testing.T) {
	cases := []struct {
		in   string
		n    int
		want string
	}{
		{"Hello, World", 5, "Hello"},
		{"short", 10, "short"},
		{"anything", 0, ""},
	}
	for _, c := range cases {
		if got := Truncate(c.in, c.n); got != c.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}
`,
	}
}

const readme = `# demo

A small Go module used by the agent-tui demo. Package ` + "`textutil`" + ` holds helpers for
titles and other short texts:

- ` + "`Reverse(s)`" + `: the characters of s in reverse order;
- ` + "`Truncate(s, n)`" + `: s shortened to at most n characters.

Run the tests with ` + "`go test ./...`" + `; CI runs ` + "`go vet ./... && go test ./...`" + `.

This repository was created by ` + "`agent-tui --demo`" + `. Its model is simulated: no key, no
network. Every ticket runs for real through agent-tui's engine: git worktrees, tools, test runs.
`
