package config

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// base declares one provider and the three tiers; tests append to it.
const base = `[[provider]]
name = "openai"
base_url = "https://api.openai.com/v1"
api_key_env = "OPENAI_API_KEY"

[[model]]
name = "large"
id = "gpt-5"
provider = "openai"
input_per_mtok = 1.25
output_per_mtok = 10.0

[[model]]
name = "medium"
provider = "openai"

[[model]]
name = "small"
provider = "openai"
`

// baseLines is the number of lines in base, so tests can name absolute lines.
var baseLines = strings.Count(base, "\n")

func writeConfig(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadGood(t *testing.T) {
	body := `base_branch = "main"
test_command = "go test ./..."
ci_command = "go vet ./... && go test -race ./..."
max_parallel = 2
max_cost_usd = 5.0
retries = 0
request_timeout = "2m"
sandbox = "off"

[phases.techspec]
models = ["large", "medium"]
max_attempts = 5
context_tokens = 60000

[phases.validator]
models = ["small"]

` + base + `
[[provider]]
name = "local"
base_url = "http://localhost:11434/v1"
local = true

[[model]]
name = "llama"
provider = "local"
`
	c, err := Load(writeConfig(t, ".agent-tui.toml", body))
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Path base", filepath.Base(c.Path), ".agent-tui.toml"},
		{"BaseBranch", c.BaseBranch, "main"},
		{"MaxParallel", c.MaxParallel, 2},
		{"MaxCostUSD", c.MaxCostUSD, 5.0},
		{"explicit retries = 0 means none", c.Retries, -1},
		{"RequestTimeout", c.RequestTimeout.Duration, 2 * time.Minute},
		{"StreamIdleTimeout default", c.StreamIdleTimeout.Duration, 90 * time.Second},
		{"RetryBackoff default", c.RetryBackoff.Duration, time.Second},
		{"CommandTimeout default", c.CommandTimeout.Duration, 10 * time.Minute},
		{"ProviderCooldown default", c.ProviderCooldown.Duration, 30 * time.Second},
		{"Sandbox", c.Sandbox, "off"},
		{"Approve default", fmt.Sprint(c.Approve), "[review]"},
		{"medium ID defaults to name", c.Models[1].ID, "medium"},
		{"large ID", c.Models[0].ID, "gpt-5"},
		{"techspec chain", fmt.Sprint(c.Phase(Techspec).Models), "[large medium]"},
		{"techspec attempts", c.Phase(Techspec).MaxAttempts, 5},
		{"techspec context", c.Phase(Techspec).ContextTokens, 60000},
		{"code default chain", fmt.Sprint(c.Phase(Code).Models), "[medium]"},
		{"code default attempts", c.Phase(Code).MaxAttempts, 3},
		{"code default context", c.Phase(Code).ContextTokens, 32000},
		{"validator chain", fmt.Sprint(c.Phase(Validator).Models), "[small]"},
		{"validator context", c.Phase(Validator).ContextTokens, 16000},
		{"gated review", c.Gated(Review), true},
		{"gated code", c.Gated(Code), false},
		{"simulated", c.Simulated(), false},
		{"test cmd", c.TestCommand, "go test ./..."},
		{"ci cmd", c.CICommand, "go vet ./... && go test -race ./..."},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	m, p, ok := c.Model("llama")
	if !ok || !p.Local || p.Name != "local" || m.ID != "llama" {
		t.Errorf("Model(llama) = %+v, %+v, %v", m, p, ok)
	}
	if _, _, ok := c.Model("nope"); ok {
		t.Error("Model(nope) found")
	}
	if top, ok := c.TopTier(); !ok || top.Name != "large" {
		t.Errorf("TopTier = %+v, %v", top, ok)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		body string
		line int // 0: the message must carry no line
		want []string
	}{
		{"syntax error", "max_parallel = 2\nbase_branch = \"main\n", 2, []string{"syntax error"}},
		{"syntax error in header", base + "\n[phases.code\n", baseLines + 2, []string{"syntax error"}},
		{"duplicate key", "retries = 1\nretries = 2\n", 2, []string{"syntax error", `"retries"`}},
		{"duplicate key in a table", "[phases.code]\nmax_attempts = 2\n\n# again\nmax_attempts = 3\n", 5, []string{"syntax error", `key "phases.code.max_attempts"`}},
		{"wrong type int", "\n\nmax_parallel = \"four\"\n" + base, 3, []string{`key "max_parallel"`, "expected an integer, got a string"}},
		{"wrong type float for int", "max_parallel = 1.5\n" + base, 1, []string{`key "max_parallel"`, "expected an integer"}},
		{"table where phase expected", "[phases]\ncode = 3\n" + base, 2, []string{`key "phases.code"`, "expected a table, got an integer"}},
		{"wrong type array", base + "[phases.code]\nmodels = \"medium\"\n", baseLines + 2, []string{`key "phases.code.models"`, "expected an array of strings"}},
		{"wrong type in provider", base + "[[provider]]\nname = \"x\"\nlocal = \"yes\"\n", baseLines + 3, []string{`key "provider.local"`, "true or false"}},
		{"unknown key", "modles = [\"x\"]\n" + base, 1, []string{`unknown key "modles"`}},
		{"unknown key in phase", base + "\n[phases.code]\nmodels = [\"medium\"]\nmax_attempt = 2\n", baseLines + 4, []string{`unknown key "phases.code.max_attempt"`}},
		{"unknown key in model", base + "\n[[model]]\nname = \"x\"\nprovder = \"openai\"\n", baseLines + 4, []string{`unknown key "model.provder"`}},
		{"unknown phase", base + "\n[phases.foo]\nmodels = [\"small\"]\n", baseLines + 2, []string{`key "phases.foo"`, `unknown phase "foo" (phases: discovery,`}},
		{"approve validator", "approve = [\"validator\"]\n" + base, 1, []string{`key "approve"`, "the validator judges other phases' work"}},
		{"unknown model in chain", base + "\n[phases.techspec]\nmax_attempts = 2\nmodels = [\"large\", \"large-backup\"]\n", baseLines + 4, []string{`key "phases.techspec.models"`, `unknown model "large-backup"`}},
		{"unknown model in dotted chain", base + "\n[phases]\nreview.models = [\"huge\"]\n", baseLines + 3, []string{`unknown model "huge"`}},
		{"unknown model in multi-line chain", base + "\n[phases.code]\nmodels = [\n  \"medium\",\n  \"nope\",\n]\n", baseLines + 3, []string{`unknown model "nope"`}},
		{"empty chain", base + "\n[phases.code]\nmodels = []\n", baseLines + 3, []string{"at least one model"}},
		{"bad provider ref", base + "\n[[model]]\nname = \"x\"\nprovider = \"anthropic\"\n", baseLines + 4, []string{`key "model.provider"`, `unknown provider "anthropic"`}},
		{"missing provider ref", base + "\n[[model]]\nname = \"x\"\n", baseLines + 2, []string{`key "model.provider"`, "no provider"}},
		{"bad duration", "retry_backoff = \"1s\"\n\nrequest_timeout = \"5 minutes\"\n" + base, 3, []string{`key "request_timeout"`, "invalid duration"}},
		{"duration as number", "\ncommand_timeout = 600\n" + base, 2, []string{`key "command_timeout"`, "duration string"}},
		{"zero duration", "\nprovider_cooldown = \"0s\"\n" + base, 2, []string{`key "provider_cooldown"`, "greater than zero"}},
		{"zero backoff", "retry_backoff = \"0s\"\n" + base, 1, []string{`key "retry_backoff"`, "greater than zero"}},
		{"duplicate provider", base + "\n[[provider]]\nname = \"openai\"\nbase_url = \"x\"\n", baseLines + 3, []string{`duplicate provider "openai"`}},
		{"provider without name", base + "\n[[provider]]\nbase_url = \"x\"\n", baseLines + 2, []string{`key "provider.name"`}},
		{"provider without base_url", base + "\n[[provider]]\nname = \"local\"\n", baseLines + 2, []string{`key "provider.base_url"`}},
		{"base_url not a URL", base + "\n[[provider]]\nname = \"local\"\nbase_url = \"not a url\"\n", baseLines + 4, []string{`key "provider.base_url"`, `"not a url" is not an http:// or https:// URL`}},
		{"base_url with no such port", base + "\n[[provider]]\nname = \"local\"\nbase_url = \"http://localhost:99999/v1\"\n", baseLines + 4, []string{`key "provider.base_url"`, "has no valid port (99999)"}},
		{"base_url with a query", base + "\n[[provider]]\nname = \"local\"\nbase_url = \"https://x.openai.azure.com/v1?api-version=2024-10-21\"\n", baseLines + 4, []string{`key "provider.base_url"`, "has a query or fragment"}},
		{"base_url with the endpoint's path", base + "\n[[provider]]\nname = \"local\"\nbase_url = \"http://localhost:8080/v1/chat/completions/\"\n", baseLines + 4, []string{`key "provider.base_url"`, "ends in /chat/completions, which agent-tui adds itself"}},
		{"base_url without scheme", base + "\n[[provider]]\nname = \"local\"\nbase_url = \"localhost:11434/v1\"\n", baseLines + 4, []string{`key "provider.base_url"`}},
		{"duplicate model", base + "\n[[model]]\nname = \"small\"\nprovider = \"openai\"\n", baseLines + 3, []string{`duplicate model "small"`}},
		{"negative price", base + "\n[[model]]\nname = \"x\"\nprovider = \"openai\"\noutput_per_mtok = -1.0\n", baseLines + 5, []string{`key "model.output_per_mtok"`}},
		{"approve unknown phase", "approve = [\"review\", \"deploy\"]\n" + base, 1, []string{`key "approve"`, `unknown phase "deploy"`}},
		{"approve ci", "approve = [\"ci\"]\n" + base, 1, []string{`key "approve"`, `ci runs a command`}},
		{"max_parallel zero", "max_parallel = 0\n" + base, 1, []string{`key "max_parallel"`, "at least 1"}},
		{"max_attempts zero", base + "[phases.code]\n\nmax_attempts = 0\n", baseLines + 3, []string{`key "phases.code.max_attempts"`, "at least 1"}},
		{"max_attempts negative", base + "[phases.code]\nmax_attempts = -1\n", baseLines + 2, []string{"at least 1"}},
		{"negative cost", "max_cost_usd = -1.0\n" + base, 1, []string{`key "max_cost_usd"`}},
		{"nan cost", "max_cost_usd = nan\n" + base, 1, []string{`key "max_cost_usd"`, "not NaN"}},
		{"infinite cost", "max_cost_usd = inf\n" + base, 1, []string{`key "max_cost_usd"`, "not +Inf"}},
		{"nan price", base + "\n[[model]]\nname = \"x\"\nprovider = \"openai\"\ninput_per_mtok = nan\n", baseLines + 5, []string{`key "model.input_per_mtok"`, "not NaN"}},
		{"bad sandbox", base + "\nsandbox = \"docker\"\n", 0, nil}, // after a table: it is a provider key
		{"bad sandbox top level", "sandbox = \"docker\"\n" + base, 1, []string{`key "sandbox"`, `"docker"`}},
		{"no models", "[[provider]]\nname = \"p\"\nbase_url = \"http://u\"\n", 0, []string{"no [[model]] declared"}},
		{"negative retries", "\nretries = -3\n" + base, 2, []string{`key "retries"`, "0 or more"}},
		{"api_key_env holding a key", base + "\n[[provider]]\nname = \"local\"\nbase_url = \"http://localhost:8080/v1\"\napi_key_env = \"sk-live-0123\"\n", baseLines + 5, []string{`key "provider.api_key_env"`, "names an environment variable"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, "config.toml", tt.body)
			_, err := Load(path)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans lines: %q", msg)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T is not *Error", err)
			}
			if tt.want == nil { // only asserting that it fails
				return
			}
			prefix := path + ":"
			if tt.line > 0 {
				prefix = fmt.Sprintf("%s:%d: ", path, tt.line)
			}
			if !strings.HasPrefix(msg, prefix) || (tt.line == 0 && ce.Line != 0) {
				t.Errorf("error %q: want prefix %q", msg, prefix)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.toml")
	_, err := Load(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("err = %v", err)
	}
}

func TestApproveAbsentVsEmpty(t *testing.T) {
	tests := []struct {
		name, approve string
		wantNil       bool
		want          string
		gatedReview   bool
	}{
		{"absent", "", false, "[review]", true},
		{"empty", "approve = []\n", false, "[]", false},
		{"explicit", "approve = [\"techspec\", \"review\"]\n", false, "[techspec review]", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(writeConfig(t, "c.toml", tt.approve+base))
			if err != nil {
				t.Fatal(err)
			}
			if c.Approve == nil {
				t.Fatal("Approve is nil after ApplyDefaults")
			}
			if got := fmt.Sprint(c.Approve); got != tt.want {
				t.Errorf("Approve = %s, want %s", got, tt.want)
			}
			if c.Gated(Review) != tt.gatedReview {
				t.Errorf("Gated(review) = %v", c.Gated(Review))
			}
			// Defaults must be idempotent: a second pass keeps "no gates".
			c.ApplyDefaults()
			if got := fmt.Sprint(c.Approve); got != tt.want {
				t.Errorf("after second ApplyDefaults Approve = %s", got)
			}
		})
	}
}

// priced declares models (in name order) at the given price per million
// tokens, in and out together.
func priced(prices map[string]float64) *Config {
	c := &Config{Providers: []Provider{{Name: "p", BaseURL: "http://u"}}}
	for _, n := range slices.Sorted(maps.Keys(prices)) {
		c.Models = append(c.Models, Model{Name: n, Provider: "p", InputPerMTok: prices[n] / 6, OutputPerMTok: prices[n] * 5 / 6})
	}
	return c
}

func TestTierFallbacks(t *testing.T) {
	model := func(names ...string) *Config {
		c := &Config{Providers: []Provider{{Name: "p", BaseURL: "http://u"}}}
		for _, n := range names {
			c.Models = append(c.Models, Model{Name: n, Provider: "p"})
		}
		return c
	}
	tests := []struct {
		name                  string
		c                     *Config
		techspec, code, valid string
	}{
		{"all tiers", model("small", "medium", "large"), "large", "medium", "small"},
		{"no large", model("small", "medium"), "medium", "medium", "small"},
		{"no medium", model("small", "large"), "large", "large", "small"},
		{"no small", model("large", "medium"), "large", "medium", "medium"},
		{"only small", model("small"), "small", "small", "small"},
		{"only large", model("large"), "large", "large", "large"},
		{"no tier names", model("qwen", "llama"), "qwen", "qwen", "qwen"},
		// without tier names, the prices say which is which
		{"no tier names, priced", priced(map[string]float64{"opus": 90, "haiku": 1.5, "sonnet": 18}), "opus", "sonnet", "haiku"},
		{"no tier names, two priced", priced(map[string]float64{"opus": 90, "haiku": 1.5}), "opus", "opus", "haiku"},
		{"configured wins", func() *Config {
			c := model("a", "b", "large")
			c.Phases = map[string]PhaseConfig{Code: {Models: []string{"b", "a"}}}
			return c
		}(), "large", "b", "large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.c.ApplyDefaults()
			if err := tt.c.Validate(); err != nil {
				t.Fatal(err)
			}
			for _, ph := range []struct{ phase, want string }{{Techspec, tt.techspec}, {Code, tt.code}, {Validator, tt.valid}} {
				if got := tt.c.Phase(ph.phase).Models; len(got) == 0 || got[0] != ph.want {
					t.Errorf("Phase(%s).Models = %v, want first %s", ph.phase, got, ph.want)
				}
			}
			if top, ok := tt.c.TopTier(); !ok || top.Name != tt.techspec {
				t.Errorf("TopTier = %v, %v", top.Name, ok)
			}
		})
	}
}

// The top tier of stats' comparison is the dearest model configured, not
// only techspec's: a retry on a dearer one must not be compared with less
// than it cost.
func TestTopTierIsTheDearestModel(t *testing.T) {
	c := &Config{
		Providers: []Provider{{Name: "p", BaseURL: "http://127.0.0.1:1/v1", APIKeyEnv: "K"}},
		Models: []Model{
			{Name: "medium", Provider: "p", InputPerMTok: 2, OutputPerMTok: 8},
			{Name: "large", Provider: "p", InputPerMTok: 10, OutputPerMTok: 40},
			{Name: "huge", Provider: "p", InputPerMTok: 20, OutputPerMTok: 80},
		},
		Phases: map[string]PhaseConfig{Techspec: {Models: []string{"medium", "large"}}},
	}
	c.ApplyDefaults()
	if top, ok := c.TopTier(); !ok || top.Name != "huge" {
		t.Fatalf("TopTier = %v, %v", top.Name, ok)
	}
	// lopsided prices: input-heavy tokens cost most on the dear input
	c.Models = append(c.Models, Model{Name: "reader", Provider: "p", InputPerMTok: 60, OutputPerMTok: 1})
	if top, ok := c.DearestFor(1_000_000, 10_000); !ok || top.Name != "reader" {
		t.Fatalf("DearestFor(input-heavy) = %v, %v", top.Name, ok)
	}
	if top, ok := c.DearestFor(10_000, 1_000_000); !ok || top.Name != "huge" {
		t.Fatalf("DearestFor(output-heavy) = %v, %v", top.Name, ok)
	}
}

func TestPhaseReturnsCopy(t *testing.T) {
	c := &Config{Phases: map[string]PhaseConfig{Code: {Models: []string{"a"}}}}
	c.Phase(Code).Models[0] = "changed"
	if c.Phases[Code].Models[0] != "a" {
		t.Error("Phase returned the config's own slice")
	}
}

func TestFromEnv(t *testing.T) {
	const secret = "sk-test-SECRET-value-123"
	env := func(m map[string]string) func(string) string {
		return func(k string) string { return m[k] }
	}

	_, err := FromEnv(env(nil))
	if err == nil || err.Error() != "no config file found and OPENAI_API_KEY is not set (see README, 2. Your own repository, a real provider)" {
		t.Fatalf("without key: %v", err)
	}

	c, err := FromEnv(env(map[string]string{"OPENAI_API_KEY": secret}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Path != "" || len(c.Providers) != 1 || c.Providers[0].BaseURL != "https://api.openai.com/v1" || c.Providers[0].APIKeyEnv != "OPENAI_API_KEY" {
		t.Errorf("config = %+v", c)
	}
	for _, w := range []struct {
		name, id string
		in, out  float64
	}{{"large", "gpt-5", 1.25, 10}, {"medium", "gpt-5-mini", 0.25, 2}, {"small", "gpt-5-nano", 0.05, 0.40}} {
		m, p, ok := c.Model(w.name)
		if !ok || m.ID != w.id || m.InputPerMTok != w.in || m.OutputPerMTok != w.out || p.Name != "openai" {
			t.Errorf("Model(%s) = %+v %v", w.name, m, ok)
		}
	}
	if got := c.Phase(Planning).Models; fmt.Sprint(got) != "[large]" {
		t.Errorf("planning chain %v", got)
	}
	for _, form := range []string{fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", *c), fmt.Sprint(c.Providers)} {
		if strings.Contains(form, secret) {
			t.Fatalf("config printed form contains the key: %s", form)
		}
	}

	// a bad variable is named as the variable, not as a config key
	if _, err := FromEnv(env(map[string]string{"OPENAI_API_KEY": secret, "OPENAI_BASE_URL": "localhost:18383"})); err == nil || !strings.HasPrefix(err.Error(), "OPENAI_BASE_URL \"localhost:18383\"") {
		t.Errorf("bad OPENAI_BASE_URL: %v", err)
	}
	c, err = FromEnv(env(map[string]string{"OPENAI_API_KEY": secret, "OPENAI_BASE_URL": "http://localhost:4000/v1"}))
	if err != nil || c.Providers[0].BaseURL != "http://localhost:4000/v1" {
		t.Errorf("base url: %v %v", c, err)
	}
}

// A key in the environment must never reach a load error either.
func TestLoadErrorsNeverShowKeys(t *testing.T) {
	const secret = "sk-live-DO-NOT-PRINT"
	t.Setenv("OPENAI_API_KEY", secret)
	bodies := []string{
		base + "\n[[model]]\nname = \"x\"\nprovider = \"nope\"\n",
		strings.Replace(base, `base_url = "https://api.openai.com/v1"`, "", 1),
		"max_parallel = \"" + "x" + "\"\n" + base,
	}
	for _, b := range bodies {
		_, err := Load(writeConfig(t, "c.toml", b))
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("err = %v", err)
		}
	}
	// A set api_key_env whose variable is empty is not a load error.
	if _, err := Load(writeConfig(t, "c.toml", strings.Replace(base, "OPENAI_API_KEY", "UNSET_VAR_FOR_TEST", 1))); err != nil {
		t.Errorf("empty key env var: %v", err)
	}
}

func TestFind(t *testing.T) {
	repo := t.TempDir()
	xdg := t.TempDir()
	home := t.TempDir()
	repoCfg := filepath.Join(repo, ".agent-tui.toml")
	xdgCfg := filepath.Join(xdg, "agent-tui", "config.toml")
	homeCfg := filepath.Join(home, ".config", "agent-tui", "config.toml")
	explicit := filepath.Join(t.TempDir(), "mine.toml")
	for _, p := range []string{repoCfg, xdgCfg, homeCfg, explicit} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(base), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := func(xdgHome string) func(string) string {
		return func(k string) string {
			return map[string]string{"XDG_CONFIG_HOME": xdgHome, "HOME": home}[k]
		}
	}
	rm := func(p string) {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	check := func(name, explicitArg string, getenv func(string) string, want string) {
		t.Helper()
		got, err := Find(repo, explicitArg, getenv)
		if err != nil || got != want {
			t.Errorf("%s: Find = %q, %v; want %q", name, got, err, want)
		}
	}

	check("explicit first", explicit, env(xdg), explicit)
	check("repo before user", "", env(xdg), repoCfg)
	rm(repoCfg)
	check("xdg", "", env(xdg), xdgCfg)
	check("relative XDG ignored", "", env("relative/dir"), homeCfg)
	check("home when XDG unset", "", env(""), homeCfg)
	rm(xdgCfg)
	check("xdg set but empty falls to nothing", "", env(xdg), "")
	rm(homeCfg)
	check("none", "", env(""), "")

	missing := filepath.Join(repo, "missing.toml")
	_, err := Find(repo, missing, env(""))
	if err == nil || err.Error() != "config file "+missing+": no such file" {
		t.Errorf("missing explicit: %v", err)
	}
}

func TestResolve(t *testing.T) {
	repo := t.TempDir()
	noEnv := func(string) string { return "" }
	if _, err := Resolve(repo, "", noEnv); err == nil || !strings.Contains(err.Error(), "OPENAI_API_KEY") {
		t.Errorf("no file, no key: %v", err)
	}
	if err := os.WriteFile(filepath.Join(repo, ".agent-tui.toml"), []byte("max_parallel = 7\n"+base), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Resolve(repo, "", noEnv)
	if err != nil || c.MaxParallel != 7 || c.Retries != DefaultRetries {
		t.Errorf("repo file: %+v, %v", c, err)
	}
}

// A file that declares no provider and no model (only the test command,
// say) takes them from the user config, or else from OPENAI_API_KEY, as
// they would be without it; with neither, the error says where to put
// them.
func TestFileWithoutModelsTakesThemFromElsewhere(t *testing.T) {
	repo, home := t.TempDir(), t.TempDir()
	own := filepath.Join(repo, ".agent-tui.toml")
	if err := os.WriteFile(own, []byte("test_command = \"sh t.sh\"\n\n[phases.validator]\nmodels = [\"small\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"HOME": home}
	getenv := func(k string) string { return env[k] }
	if _, err := Resolve(repo, "", getenv); err == nil || !strings.Contains(err.Error(), ".agent-tui.toml: no [[provider]] or [[model]] declared, and no user config file ("+filepath.Join(home, ".config", "agent-tui", "config.toml")+") or OPENAI_API_KEY") {
		t.Fatalf("neither: %v", err)
	}
	env["OPENAI_API_KEY"], env["OPENAI_BASE_URL"] = "sk-x", "http://127.0.0.1:9/v1"
	c, err := Resolve(repo, "", getenv)
	if err != nil || c.TestCommand != "sh t.sh" || len(c.Providers) != 1 || c.Providers[0].BaseURL != "http://127.0.0.1:9/v1" || c.Phase("validator").Models[0] != "small" {
		t.Fatalf("from OPENAI_API_KEY: %+v, %v", c, err)
	}
	user := filepath.Join(home, ".config", "agent-tui", "config.toml")
	// a user config that is a directory is said, not passed over
	if err := os.MkdirAll(user, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Resolve(repo, "", getenv); err == nil || !strings.Contains(err.Error(), "config.toml: is a directory, not a config file") {
		t.Fatalf("a directory as the user config: %v", err)
	}
	os.Remove(user)
	if err := os.WriteFile(user, []byte("test_command = \"ignored\"\n"+base), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err = Resolve(repo, "", getenv)
	if err != nil || c.TestCommand != "sh t.sh" || c.Providers[0].Name != "openai" || c.Providers[0].BaseURL == "http://127.0.0.1:9/v1" {
		t.Fatalf("from the user config: %+v, %v", c, err)
	}
	// a user config without models of its own goes on to the key, once
	if err := os.WriteFile(user, []byte("max_parallel = 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if c, err = Resolve(home, "", getenv); err != nil || c.MaxParallel != 3 || c.Providers[0].BaseURL != "http://127.0.0.1:9/v1" {
		t.Fatalf("user config alone: %+v, %v", c, err)
	}
}

func TestSimulatedProviderNeedsNoURL(t *testing.T) {
	c := &Config{
		Providers: []Provider{{Name: "demo", Simulated: true}},
		Models:    []Model{{Name: "demo", Provider: "demo"}},
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if !c.Simulated() {
		t.Error("Simulated() = false")
	}
}

// A file saved with a byte-order mark (Windows editors) loads as without.
func TestLoadSkipsByteOrderMark(t *testing.T) {
	path := writeConfig(t, "bom.toml", "\xef\xbb\xbfmax_parallel = 3\n"+base)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxParallel != 3 {
		t.Fatalf("max_parallel %d", c.MaxParallel)
	}
}

// A file without providers or models, and nowhere to take them from, has
// its own settings checked all the same: a command that runs no model
// (add, list) would otherwise take a broken file without a word.
func TestFileWithoutModelsIsStillChecked(t *testing.T) {
	for body, want := range map[string]string{
		"approve = [\"bogus\"]\n":           `:1: key "approve": unknown phase "bogus"`,
		"max_parallel = 0\n":                `:1: key "max_parallel": must be at least 1`,
		"sandbox = \"maybe\"\n":             `:1: key "sandbox": must be "auto" or "off"`,
		"[phases.nope]\nmax_attempts = 2\n": `unknown phase "nope"`,
	} {
		path := writeConfig(t, ".agent-tui.toml", body)
		_, err := LoadWithEnv(path, func(string) string { return "" })
		if err == nil || errors.Is(err, ErrNoModels) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
	// phases naming models are left for where the models come from
	path := writeConfig(t, ".agent-tui.toml", "[phases.code]\nmodels = [\"big\"]\n")
	if _, err := LoadWithEnv(path, func(string) string { return "" }); !errors.Is(err, ErrNoModels) {
		t.Errorf("a phase's models with no models anywhere: %v", err)
	}
}

// A user config that is there but declares no models either is named as
// such, in the error of the file that needed them.
func TestUserConfigWithoutModelsIsNamed(t *testing.T) {
	repo, home := t.TempDir(), t.TempDir()
	own := filepath.Join(repo, ".agent-tui.toml")
	user := filepath.Join(home, ".config", "agent-tui", "config.toml")
	os.MkdirAll(filepath.Dir(user), 0o755)
	os.WriteFile(own, []byte("test_command = \"sh t.sh\"\n"), 0o644)
	os.WriteFile(user, []byte("max_parallel = 2\n"), 0o644)
	env := map[string]string{"HOME": home}
	_, err := Resolve(repo, "", func(k string) string { return env[k] })
	if err == nil || !errors.Is(err, ErrNoModels) || !strings.HasPrefix(err.Error(), own+": ") || !strings.Contains(err.Error(), "nor in the user config file "+user) {
		t.Fatalf("%v", err)
	}
}

// A config that is a fifo, a device or a link to nothing is said in one
// line: not a wait, not all memory, and not passed over for another
// config (OPENAI_API_KEY's defaults would send the code elsewhere).
func TestConfigThatIsNoFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.toml")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("no fifo here:", err)
	}
	dangling := filepath.Join(dir, "dangling.toml")
	if err := os.Symlink(filepath.Join(dir, "nowhere", "x.toml"), dangling); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge.toml")
	if err := os.WriteFile(huge, bytes.Repeat([]byte("# comment\n"), 110_000), 0o644); err != nil {
		t.Fatal(err)
	}
	withKey := func(k string) string { return map[string]string{"OPENAI_API_KEY": "sk-x"}[k] }
	for path, want := range map[string]string{
		fifo:        "fifo.toml: is a named pipe, not a config file",
		"/dev/zero": "/dev/zero: is a device, not a config file",
		dangling:    "dangling.toml: no such file (it is a link to " + filepath.Join(dir, "nowhere", "x.toml") + ", which does not exist)",
		huge:        "huge.toml: is over 1 MiB",
	} {
		if _, err := os.Stat(path); path == "/dev/zero" && err != nil {
			continue
		}
		_, err := LoadWithEnv(path, withKey)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", path, err)
		}
	}

	// found, not skipped: the repository's link to nothing, and the user's
	repo := t.TempDir()
	if err := os.Symlink("/nonexistent/agent-tui.toml", filepath.Join(repo, RepoConfigName)); err != nil {
		t.Fatal(err)
	}
	if _, err := Resolve(repo, "", withKey); err == nil || !strings.Contains(err.Error(), "which does not exist") {
		t.Errorf("the repository's dangling link: %v", err)
	}
	xdg := t.TempDir()
	if err := os.MkdirAll(filepath.Join(xdg, "agent-tui"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/nonexistent/config.toml", filepath.Join(xdg, "agent-tui", "config.toml")); err != nil {
		t.Fatal(err)
	}
	env := func(k string) string {
		return map[string]string{"OPENAI_API_KEY": "sk-x", "XDG_CONFIG_HOME": xdg}[k]
	}
	if _, err := Resolve(t.TempDir(), "", env); err == nil || !strings.Contains(err.Error(), "which does not exist") {
		t.Errorf("the user's dangling link: %v", err)
	}
	// and a repository file without models takes them from there: said too
	withoutModels := t.TempDir()
	if err := os.WriteFile(filepath.Join(withoutModels, RepoConfigName), []byte("test_command = \"true\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Resolve(withoutModels, "", env); err == nil || !strings.Contains(err.Error(), "which does not exist") {
		t.Errorf("the user's dangling link behind a file without models: %v", err)
	}
}

// A refused URL is quoted without the secrets it may hold.
func TestShownURLKeepsSecrets(t *testing.T) {
	for in, want := range map[string]string{
		"ftp://user:supersecretpw@host/v1":                     `"ftp://user:xxxxx@host/v1"`,
		"https://bob:p%ssword@api.example.com/v1":              `"https://bob:xxxxx@api.example.com/v1"`,
		"https://api.example.com/v1?api_key=sk-live-SECRET123": `"https://api.example.com/v1?…"`,
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl":    "(49 characters, not shown: it may be a key)",
		"not a url":      `"not a url"`,
		"localhost:8080": `"localhost:8080"`,
	} {
		if got := shownURL(in); got != want {
			t.Errorf("shownURL(%q) = %s, want %s", in, got, want)
		}
	}
}
