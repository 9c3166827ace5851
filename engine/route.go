package engine

import "agent-tui/engine/config"

// Merge is the last step of a feature or hotfix: no model, the branch is
// merged into the base branch.
const Merge = "merge"

// Ticket kinds.
const (
	KindFeature = "feature"
	KindHotfix  = "hotfix"
	KindEpic    = "epic"
)

// Route is the chain of phases a kind goes through, chosen before a single
// token is spent. cifix is skipped when CI is green at once.
func Route(kind string) []string {
	switch kind {
	case KindFeature:
		return []string{config.Discovery, config.Techspec, config.Planning, config.Tests, config.Code, config.CI, config.CIFix, config.Review, Merge}
	case KindHotfix:
		return []string{config.Diagnosis, config.Tests, config.Code, config.CI, config.CIFix, config.Review, Merge}
	case KindEpic:
		return []string{config.Discovery, config.Techspec, config.Split}
	}
	return nil
}

// ValidKind reports whether kind has a route.
func ValidKind(kind string) bool { return Route(kind) != nil }

// validated phases get a validator session after each attempt.
func validated(phase string) bool {
	switch phase {
	case config.Discovery, config.Diagnosis, config.Techspec, config.Planning, config.Tests, config.Split:
		return true
	}
	return false
}

// writesFiles phases get all six tools and work in the worktree.
func writesFiles(phase string) bool {
	switch phase {
	case config.Tests, config.Code, config.CIFix:
		return true
	}
	return false
}

// readsFiles phases get the read-only tools.
func readsFiles(phase string) bool {
	switch phase {
	case config.Discovery, config.Diagnosis, config.Techspec, config.Review:
		return true
	}
	return false
}
