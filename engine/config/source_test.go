package config

import "testing"

func TestSourceLines(t *testing.T) {
	doc := `# comment = 1
base_branch = """
[phases.code]
models = ["fake"]
"""
approve = [
  ["nested"],
  "x = y",
]
[[model]]
name = "a"
[[model]]
name = "b" # trailing = comment
[model.extra]
x = 1
[phases.code]
"models" = ["a"]
[phases]
review.models = [
  "b",
]
`
	s := scanSource([]byte(doc))
	tests := []struct {
		path []string
		want int
	}{
		{[]string{"base_branch"}, 2},
		{[]string{"approve"}, 6},
		{[]string{"nested"}, 0}, // inside a multi-line array, not a header
		{[]string{"x"}, 0},
		{[]string{"model", "0", "name"}, 11},
		{[]string{"model", "1", "name"}, 13},
		{[]string{"model", "1", "provider"}, 12}, // falls back to the table header
		{[]string{"model", "1", "extra", "x"}, 15},
		{[]string{"phases", "code", "models"}, 17}, // not the one inside the string
		{[]string{"phases", "code"}, 16},
		{[]string{"phases", "review", "models"}, 19},
		{[]string{"phases", "review"}, 19},
		{[]string{"max_parallel"}, 0},
	}
	for _, tt := range tests {
		if got := s.line(tt.path...); got != tt.want {
			t.Errorf("line(%q) = %d, want %d", tt.path, got, tt.want)
		}
	}
	if got := s.keyAt(2); got != "base_branch" {
		t.Errorf("keyAt(2) = %q", got)
	}
	var nilSource *source
	if nilSource.line("x") != 0 {
		t.Error("nil source has lines")
	}
}
