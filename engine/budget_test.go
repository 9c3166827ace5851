package engine

import (
	"strings"
	"testing"
)

// Over budget, the least important section pays the whole excess, the
// cut's own marker included: nothing above it is touched, and the result
// fits.
func TestAssembleTrimsTheLeastImportantFirst(t *testing.T) {
	objections := "1. the first objection\n2. the second objection\n"
	plan := strings.Repeat("a step of the plan\n", 40)
	files := strings.Repeat("line of a test file that is long enough\n", 200)
	for _, over := range []int{1, 13, 100, 500} {
		secs := []section{
			{title: "Plan", body: plan, prio: prioPrimary},
			{title: "Test files", body: files, prio: prioFiles},
			{title: "Objections", body: objections, prio: prioFeedback},
		}
		full, total, _ := assemble("header", append([]section(nil), secs...), 0)
		budget := total - over
		got, n, trimmed := assemble("header", secs, budget)
		if n > budget {
			t.Fatalf("over %d: %d tokens for a budget of %d", over, n, budget)
		}
		if len(trimmed) != 1 || !strings.HasPrefix(trimmed[0], "Test files:") {
			t.Fatalf("over %d: trimmed %v", over, trimmed)
		}
		if !strings.Contains(got, plan) || !strings.Contains(got, objections) || len(got) >= len(full) {
			t.Fatalf("over %d: a more important section was cut", over)
		}
	}
}

// A section cut to nothing says so instead of vanishing.
func TestAssembleSaysWhatItDroppedWhole(t *testing.T) {
	secs := []section{
		{title: "Spec", body: strings.Repeat("spec line\n", 50), prio: prioPrimary},
		{title: "Overview", body: strings.Repeat("overview line\n", 50), prio: prioOverview},
	}
	got, _, trimmed := assemble("h", secs, 155)
	if !strings.Contains(got, "## Overview") || !strings.Contains(got, "trimmed to fit the context budget") {
		t.Fatalf("the dropped section left no word:\n%s", got)
	}
	if len(trimmed) != 1 || !strings.HasPrefix(trimmed[0], "Overview:") {
		t.Fatalf("trimmed %v", trimmed)
	}
}
