package ui

import (
	"fmt"
	"strings"

	"agent-tui/engine"
	"agent-tui/store"
)

// statusWord is a status as the user reads it.
func statusWord(t *store.Ticket) string {
	w := strings.ReplaceAll(t.Status, "_", " ")
	if t.Paused && !finished(t.Status) {
		w += " (paused)"
	}
	return w
}

func finished(status string) bool { return store.Finished(status) }

// waiting reports whether the ticket waits for the user.
func waiting(t *store.Ticket) bool {
	return t.Status == store.StatusAwaiting || t.Status == store.StatusNeedsHuman
}

func kindShort(kind string) string {
	switch kind {
	case engine.KindFeature:
		return "feat"
	case engine.KindHotfix:
		return "fix"
	}
	return kind
}

// progress is the current phase and its place in the route, e.g. "code 5/9".
func progress(t *store.Ticket) string {
	names := make([]string, 0, len(t.Phases))
	for _, p := range t.Phases {
		names = append(names, p.Name)
	}
	if len(names) == 0 {
		names = engine.Route(t.Kind)
	}
	if t.Status == store.StatusDone {
		return fmt.Sprintf("%d/%d", len(names), len(names))
	}
	for i, n := range names {
		if n == t.Phase {
			return fmt.Sprintf("%s %d/%d", n, i+1, len(names))
		}
	}
	return t.Phase
}

func money(v float64) string {
	if v < 10 {
		return fmt.Sprintf("$%.3f", v)
	}
	return fmt.Sprintf("$%.2f", v)
}

// tokens prints a token count compactly: 950, 12.3k, 1.2M.
func tokens(n int) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d", n)
	case n < 1_000_000:
		return fmt.Sprintf("%.1fk", float64(n)/1000)
	}
	return fmt.Sprintf("%.1fM", float64(n)/1_000_000)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

func clamp(v, lo, hi int) int {
	if v > hi {
		v = hi
	}
	if v < lo {
		v = lo
	}
	return v
}
