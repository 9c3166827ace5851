package config

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Validate checks the config after ApplyDefaults and returns the first
// problem as a one-line *Error. API keys are not checked here: a provider
// whose key variable is not set is skipped when called, so the config stays
// usable for the other providers.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// KeyError is a one-line *Error about the top-level key as the file has
// it (its line, when the file gave it), for what is found wrong later
// than loading: a base_branch that names no branch.
func (c *Config) KeyError(key, format string, args ...any) error {
	return &Error{File: c.Path, Line: c.src.line(key), Key: key, Msg: fmt.Sprintf(format, args...)}
}

func (c *Config) Validate() error {
	// fail builds an error located at path (falling back to its table).
	fail := func(key string, path []string, format string, args ...any) error {
		return &Error{File: c.Path, Line: c.src.line(path...), Key: key, Msg: fmt.Sprintf(format, args...)}
	}

	providers := map[string]bool{}
	for i, p := range c.Providers {
		at := func(k string) []string { return []string{"provider", strconv.Itoa(i), k} }
		switch {
		case p.Name == "":
			return fail("provider.name", at("name"), "provider #%d has no name", i+1)
		case providers[p.Name]:
			return fail("provider.name", at("name"), "duplicate provider %q", p.Name)
		case p.BaseURL == "" && !p.Simulated:
			return fail("provider.base_url", at("base_url"), "provider %q has no base_url", p.Name)
		case p.BaseURL != "" && badURL(p.BaseURL) != "":
			return fail("provider.base_url", at("base_url"), "provider %q: base_url %s %s", p.Name, shownURL(p.BaseURL), badURL(p.BaseURL))
		case p.APIKeyEnv != "" && !envName.MatchString(p.APIKeyEnv):
			// the key itself pasted here would be shown in errors and logs
			return fail("provider.api_key_env", at("api_key_env"), "provider %q: api_key_env names an environment variable (letters, digits, _), not the key itself", p.Name)
		}
		providers[p.Name] = true
	}

	if len(c.Models) == 0 {
		// a file is used whole: the user config and OPENAI_API_KEY serve
		// only where there is no config file at all
		if len(c.Providers) == 0 {
			// (its other settings are still its own, and checked: a
			// command that runs no model uses them too)
			if err := c.validateSettings(fail, nil); err != nil {
				return err
			}
			return &Error{File: c.Path, Msg: noModelsMsg("", false), noModels: true}
		}
		return &Error{File: c.Path, Msg: "no [[model]] declared: a file that declares providers names its models too"}
	}
	models := map[string]bool{}
	for i, m := range c.Models {
		at := func(k string) []string { return []string{"model", strconv.Itoa(i), k} }
		switch {
		case m.Name == "":
			return fail("model.name", at("name"), "model #%d has no name", i+1)
		case models[m.Name]:
			return fail("model.name", at("name"), "duplicate model %q", m.Name)
		case m.Provider == "":
			return fail("model.provider", at("provider"), "model %q has no provider", m.Name)
		case !providers[m.Provider]:
			return fail("model.provider", at("provider"), "model %q uses unknown provider %q", m.Name, m.Provider)
		case !finite(m.InputPerMTok):
			return fail("model.input_per_mtok", at("input_per_mtok"), "model %q: price must be a number, not %v", m.Name, m.InputPerMTok)
		case !finite(m.OutputPerMTok):
			return fail("model.output_per_mtok", at("output_per_mtok"), "model %q: price must be a number, not %v", m.Name, m.OutputPerMTok)
		case m.InputPerMTok < 0:
			return fail("model.input_per_mtok", at("input_per_mtok"), "model %q: price must not be negative", m.Name)
		case m.OutputPerMTok < 0:
			return fail("model.output_per_mtok", at("output_per_mtok"), "model %q: price must not be negative", m.Name)
		}
		models[m.Name] = true
	}
	if err := c.validateSettings(fail, models); err != nil {
		return err
	}
	for _, name := range AllPhases {
		if len(c.Phase(name).Models) == 0 {
			return &Error{File: c.Path, Msg: fmt.Sprintf("phase %q has no model", name)}
		}
	}
	return nil
}

// validateSettings checks what does not name a provider: phases (their
// models among models, unless nil: none are known), approve, the limits,
// durations and sandbox.
func (c *Config) validateSettings(fail func(key string, path []string, format string, args ...any) error, models map[string]bool) error {
	names := make([]string, 0, len(c.Phases))
	for name := range c.Phases {
		names = append(names, name)
	}
	sort.Strings(names) // the same file always reports the same first error
	for _, name := range names {
		p := c.Phases[name]
		at := func(k string) []string { return []string{"phases", name, k} }
		key := func(k string) string { return "phases." + name + "." + k }
		if !slices.Contains(AllPhases, name) {
			return fail("phases."+name, []string{"phases", name}, "unknown phase %q (phases: %s)", name, strings.Join(AllPhases, ", "))
		}
		if p.Models != nil && len(p.Models) == 0 {
			return fail(key("models"), at("models"), "must name at least one model")
		}
		for _, m := range p.Models {
			if models != nil && !models[m] {
				return fail(key("models"), at("models"), "unknown model %q", m)
			}
		}
		if p.MaxAttempts < 0 || (p.MaxAttempts == 0 && c.present[key("max_attempts")]) {
			return fail(key("max_attempts"), at("max_attempts"), "must be at least 1")
		}
		if p.ContextTokens < 0 || (p.ContextTokens == 0 && c.present[key("context_tokens")]) {
			return fail(key("context_tokens"), at("context_tokens"), "must be at least 1")
		}
	}
	for _, a := range c.Approve {
		// The validator judges other phases; it has no deliverable to approve.
		if a == Validator {
			return fail("approve", []string{"approve"}, "the validator judges other phases' work and has none to approve: gate the phase it judges")
		}
		if !slices.Contains(AllPhases, a) {
			return fail("approve", []string{"approve"}, "unknown phase %q", a)
		}
		if a == CI {
			// nothing to approve: CI is a command's run, green or not
			return fail("approve", []string{"approve"}, "ci runs a command, with nothing to approve: gate review, which reads its result")
		}
	}
	if c.MaxParallel < 1 {
		return fail("max_parallel", []string{"max_parallel"}, "must be at least 1")
	}
	if !finite(c.MaxCostUSD) {
		return fail("max_cost_usd", []string{"max_cost_usd"}, "must be a number of dollars, not %v", c.MaxCostUSD)
	}
	if c.MaxCostUSD < 0 {
		return fail("max_cost_usd", []string{"max_cost_usd"}, "must not be negative")
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		// (0s was taken, and the router's default of 1s used instead)
		{"retry_backoff", c.RetryBackoff.Duration},
		{"stream_idle_timeout", c.StreamIdleTimeout.Duration},
		{"request_timeout", c.RequestTimeout.Duration},
		{"provider_cooldown", c.ProviderCooldown.Duration},
		{"command_timeout", c.CommandTimeout.Duration},
	} {
		if d.v <= 0 {
			return fail(d.key, []string{d.key}, "must be greater than zero")
		}
	}
	switch c.Sandbox {
	case "", "auto", "off":
	default:
		return fail("sandbox", []string{"sandbox"}, `must be "auto" or "off", not %q`, c.Sandbox)
	}
	return nil
}

// shownURL is a refused URL as an error may quote it: a password in it
// masked (parsed or not: a raw % makes it unparsable), a query left out
// (it may carry a key), and a value that looks like a key pasted into the
// wrong variable not shown at all.
func shownURL(s string) string {
	if !strings.Contains(s, "://") {
		if len(s) >= 20 && !strings.ContainsAny(s, "/ ") {
			return fmt.Sprintf("(%d characters, not shown: it may be a key)", len(s))
		}
		return strconv.Quote(s)
	}
	s = userinfoPassword.ReplaceAllString(s, "${1}:xxxxx@")
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i+1] + "…"
	}
	return strconv.Quote(s)
}

var userinfoPassword = regexp.MustCompile(`^([^:/?#]*://[^/?#@:]*):[^/?#]*@`)

// badURL says what keeps s from being what an OpenAI client can call
// (e.g. https://host/v1); "" when nothing does.
func badURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return "is not an http:// or https:// URL"
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n <= 0 || n >= 65536 {
			return "has no valid port (" + p + ")"
		}
	}
	switch {
	case u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(s, "?") || strings.HasSuffix(s, "#"):
		// requests go to base_url + "/chat/completions": a query would
		// end up in front of the path
		return "has a query or fragment, which agent-tui cannot send (the API's root, often ending in /v1, is what it needs)"
	case strings.HasSuffix(strings.TrimRight(u.Path, "/"), "/chat/completions"):
		return "ends in /chat/completions, which agent-tui adds itself: give the API's root (often ending in /v1)"
	}
	return ""
}

// finite: TOML's nan and inf are floats, but no price or limit.
func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
