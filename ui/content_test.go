package ui

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// History cuts an objection past 2,000 bytes, on a character's edge, and
// says how much more there is; a shorter one is whole.
func TestHistoryClipsALongObjection(t *testing.T) {
	long := strings.Repeat("é", 30000)
	got := clipObjection(long)
	if len(got) > objectionShown+100 || !utf8.ValidString(got) || !strings.HasSuffix(got, "… (58000 more bytes: agent-tui show --json has them)") {
		t.Fatalf("%d bytes, ends %q", len(got), got[max(0, len(got)-80):])
	}
	if short := "fix the parser"; clipObjection(short) != short {
		t.Fatalf("a short objection changed: %q", clipObjection(short))
	}
}
