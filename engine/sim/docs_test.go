package sim

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// A cut summary never splits a character (the demo shows CJK bodies).
func TestOneLineCutsWholeCharacters(t *testing.T) {
	s := strings.Repeat("列表视图", 40)
	for n := 1; n < 30; n++ {
		if got := oneLine(s, n); !utf8.ValidString(got) {
			t.Fatalf("oneLine(…, %d) = %q", n, got)
		}
	}
}
