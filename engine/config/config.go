// Package config holds agent-tui's configuration: providers, models, per-phase
// model chains and limits, loaded from TOML (SPEC section 9).
package config

import "time"

// Phase names (SPEC section 8). Validator is configured like a phase.
const (
	Discovery = "discovery"
	Diagnosis = "diagnosis"
	Techspec  = "techspec"
	Planning  = "planning"
	Tests     = "tests"
	Code      = "code"
	CI        = "ci"
	CIFix     = "cifix"
	Review    = "review"
	Split     = "split"
	Validator = "validator"
)

// AllPhases lists every configurable phase name, validator included.
var AllPhases = []string{Discovery, Diagnosis, Techspec, Planning, Tests, Code, CI, CIFix, Review, Split, Validator}

type Config struct {
	// Path is the file the config was read from; empty for the environment default.
	Path string `toml:"-"`
	// Skipped are the providers no call can go to (their key variable is
	// not set): a phase on its default tier takes the nearest tier of
	// another provider instead (see defaultModel). Set by the router.
	Skipped map[string]bool `toml:"-"`

	BaseBranch  string   `toml:"base_branch"`
	TestCommand string   `toml:"test_command"`
	CICommand   string   `toml:"ci_command"`
	MaxParallel int      `toml:"max_parallel"`
	Approve     []string `toml:"approve"`
	MaxCostUSD  float64  `toml:"max_cost_usd"`

	// Limits of the model client and tools; defaults apply when zero.
	StreamIdleTimeout Duration `toml:"stream_idle_timeout"` // no byte from a stream for this long ends it
	RequestTimeout    Duration `toml:"request_timeout"`     // whole request upper bound
	Retries           int      `toml:"retries"`             // retries on the same model before falling back; < 0: none
	RetryBackoff      Duration `toml:"retry_backoff"`       // first backoff; doubles each retry
	ProviderCooldown  Duration `toml:"provider_cooldown"`   // how long a failing provider is skipped
	CommandTimeout    Duration `toml:"command_timeout"`     // run_command and test/ci commands
	Sandbox           string   `toml:"sandbox"`             // "auto" (default), "off"

	Providers []Provider             `toml:"provider"`
	Models    []Model                `toml:"model"`
	Phases    map[string]PhaseConfig `toml:"phases"`

	// Set by Load: where keys are in the file (for error lines) and which
	// keys were written explicitly (so defaults do not replace them).
	src     *source
	present map[string]bool
}

type Provider struct {
	Name      string `toml:"name"`
	BaseURL   string `toml:"base_url"`
	APIKeyEnv string `toml:"api_key_env"`
	Local     bool   `toml:"local"`
	// Simulated marks the built-in demo model so the UI can say so.
	Simulated bool `toml:"simulated"`
}

type Model struct {
	Name          string  `toml:"name"`
	ID            string  `toml:"id"`
	Provider      string  `toml:"provider"`
	InputPerMTok  float64 `toml:"input_per_mtok"`
	OutputPerMTok float64 `toml:"output_per_mtok"`
}

// Cost is what in prompt tokens and out completion tokens cost on m.
func (m Model) Cost(in, out int) float64 {
	return float64(in)/1e6*m.InputPerMTok + float64(out)/1e6*m.OutputPerMTok
}

type PhaseConfig struct {
	Models        []string `toml:"models"`
	MaxAttempts   int      `toml:"max_attempts"`
	ContextTokens int      `toml:"context_tokens"`
}

// Duration is a time.Duration written in TOML as a string like "30s".
type Duration struct{ time.Duration }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }
