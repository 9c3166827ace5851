package config

import (
	"cmp"
	"slices"
	"time"
)

// Defaults (SPEC sections 4 and 9).
const (
	DefaultMaxParallel       = 4
	DefaultRetries           = 2
	DefaultRetryBackoff      = time.Second
	DefaultStreamIdleTimeout = 90 * time.Second
	DefaultRequestTimeout    = 10 * time.Minute
	DefaultProviderCooldown  = 30 * time.Second
	DefaultCommandTimeout    = 10 * time.Minute
	DefaultSandbox           = "auto"
	DefaultMaxAttempts       = 3
	DefaultContextTokens     = 32000
	DefaultValidatorContext  = 16000
)

// Tier names the default phase chains refer to.
const (
	TierLarge  = "large"
	TierMedium = "medium"
	TierSmall  = "small"
)

// ApplyDefaults fills every unset field. A key written explicitly in the
// loaded file is left alone even when zero (max_parallel = 0 is left for
// Validate to reject), except retries = 0, stored as -1 ("no retries"). It is
// idempotent.
func (c *Config) ApplyDefaults() {
	unset := func(key string) bool { return !c.present[key] }
	if c.MaxParallel == 0 && unset("max_parallel") {
		c.MaxParallel = DefaultMaxParallel
	}
	// nil means the key was absent; go-toml decodes "approve = []" to an
	// empty non-nil slice, which means "no gates".
	if c.Approve == nil {
		c.Approve = []string{Review}
	}
	if c.Retries == 0 {
		// The model client reads a zero Retries as "unset" and a negative one
		// as "none", so an explicit retries = 0 is stored as -1.
		if unset("retries") {
			c.Retries = DefaultRetries
		} else {
			c.Retries = -1
		}
	}
	setDur := func(d *Duration, key string, def time.Duration) {
		if d.Duration == 0 && unset(key) {
			d.Duration = def
		}
	}
	setDur(&c.RetryBackoff, "retry_backoff", DefaultRetryBackoff)
	setDur(&c.StreamIdleTimeout, "stream_idle_timeout", DefaultStreamIdleTimeout)
	setDur(&c.RequestTimeout, "request_timeout", DefaultRequestTimeout)
	setDur(&c.ProviderCooldown, "provider_cooldown", DefaultProviderCooldown)
	setDur(&c.CommandTimeout, "command_timeout", DefaultCommandTimeout)
	if c.Sandbox == "" {
		c.Sandbox = DefaultSandbox
	}
	for i := range c.Models {
		if c.Models[i].ID == "" {
			c.Models[i].ID = c.Models[i].Name
		}
	}
}

// Phase returns the configuration of a phase with defaults filled in,
// including the default model chain when none is configured. The returned
// Models slice is a copy.
func (c *Config) Phase(name string) PhaseConfig {
	p := c.Phases[name]
	p.Models = slices.Clone(p.Models)
	if p.MaxAttempts == 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.ContextTokens == 0 {
		p.ContextTokens = DefaultContextTokens
		if name == Validator {
			p.ContextTokens = DefaultValidatorContext
		}
	}
	if p.Models == nil {
		if m := c.defaultModel(name); m != "" {
			p.Models = []string{m}
		}
	}
	return p
}

// defaultTier is the tier a phase runs on by weight (SPEC section 4).
func defaultTier(phase string) string {
	switch phase {
	case Techspec, Planning, Split:
		return TierLarge
	case Validator:
		return TierSmall
	}
	return TierMedium
}

// defaultModel picks the phase's tier, or the nearest tier that exists:
// heavier first for ordinary phases (a missing tier should not make a phase
// weaker than asked), lighter first for the validator (which must stay cheap).
// Without any tier names, the first declared model serves.
func (c *Config) defaultModel(phase string) string {
	order := []string{TierLarge, TierMedium, TierSmall}
	if phase == Validator {
		order = []string{TierSmall, TierMedium, TierLarge}
	}
	candidates := append([]string{defaultTier(phase)}, order...)
	// a tier whose provider cannot be called is as good as missing, while
	// another can be
	for _, callable := range []bool{true, false} {
		for _, t := range candidates {
			if _, p, ok := c.Model(t); ok && (!callable || !c.Skipped[p.Name]) {
				return t
			}
		}
	}
	return c.modelByPrice(defaultTier(phase))
}

// modelByPrice stands in for tier names a config does not use: by the
// prices it gives, the dearest model for the large tier, the cheapest for
// the small (the validator), the one above the middle for the rest. With
// no prices (or all equal) the first declared model serves every tier.
func (c *Config) modelByPrice(tier string) string {
	if len(c.Models) == 0 {
		return ""
	}
	price := func(m Model) float64 { return m.InputPerMTok + m.OutputPerMTok }
	byPrice := slices.DeleteFunc(slices.Clone(c.Models), func(m Model) bool { return c.Skipped[m.Provider] })
	if len(byPrice) == 0 {
		byPrice = slices.Clone(c.Models)
	}
	slices.SortStableFunc(byPrice, func(a, b Model) int { return cmp.Compare(price(a), price(b)) })
	if price(byPrice[0]) == price(byPrice[len(byPrice)-1]) {
		return byPrice[0].Name // the first declared (the sort is stable)
	}
	switch tier {
	case TierLarge:
		return byPrice[len(byPrice)-1].Name
	case TierSmall:
		return byPrice[0].Name
	}
	return byPrice[len(byPrice)/2].Name
}

// ModelNames are the names of the models the config declares, in order.
func (c *Config) ModelNames() []string {
	names := make([]string, 0, len(c.Models))
	for _, m := range c.Models {
		names = append(names, m.Name)
	}
	return names
}

// Model looks up a model by name with its provider. The ID defaults to the
// name even if ApplyDefaults has not run. ok is false if either is missing.
func (c *Config) Model(name string) (Model, Provider, bool) {
	for _, m := range c.Models {
		if m.Name != name {
			continue
		}
		if m.ID == "" {
			m.ID = m.Name
		}
		for _, p := range c.Providers {
			if p.Name == m.Provider {
				return m, p, true
			}
		}
		return m, Provider{}, false
	}
	return Model{}, Provider{}, false
}

// TopTier is the reference for "what these tokens would have cost on the
// top tier": the dearest model configured (a retry on it may have been
// dearer than techspec's), else the one serving techspec.
func (c *Config) TopTier() (Model, bool) {
	var top Model
	found := false
	if chain := c.Phase(Techspec).Models; len(chain) > 0 {
		top, _, found = c.Model(chain[0])
	}
	for _, m := range c.Models {
		if m.InputPerMTok+m.OutputPerMTok > top.InputPerMTok+top.OutputPerMTok {
			top, found = m, true
		}
	}
	return top, found
}

// DearestFor is the model the tokens in and out would cost most on:
// "the top tier" for them, when prices are lopsided (cheap input, dear
// output) and TopTier's sum of the two prices ranks otherwise. TopTier
// where none costs more.
func (c *Config) DearestFor(in, out int) (Model, bool) {
	top, found := c.TopTier()
	for _, m := range c.Models {
		if m.Cost(in, out) > top.Cost(in, out) {
			top, found = m, true
		}
	}
	return top, found
}

// Gated reports whether a phase waits for a human after its checks pass.
func (c *Config) Gated(phase string) bool {
	approve := c.Approve
	if approve == nil {
		approve = []string{Review}
	}
	return slices.Contains(approve, phase)
}

// Simulated reports whether any provider is the built-in demo model.
func (c *Config) Simulated() bool {
	return slices.ContainsFunc(c.Providers, func(p Provider) bool { return p.Simulated })
}
