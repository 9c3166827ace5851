package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// RepoConfigName is the per-repository config file.
const RepoConfigName = ".agent-tui.toml"

// FromEnv builds the no-config-file default: one OpenAI-compatible provider
// from OPENAI_API_KEY / OPENAI_BASE_URL and three tiers. Only the variable's
// name is stored, never the key.
func FromEnv(getenv func(string) string) (*Config, error) {
	if getenv("OPENAI_API_KEY") == "" {
		return nil, errors.New("no config file found and OPENAI_API_KEY is not set (see README, 2. Your own repository, a real provider)")
	}
	base := getenv("OPENAI_BASE_URL")
	if base == "" {
		base = "https://api.openai.com/v1"
	} else if why := badURL(base); why != "" {
		return nil, fmt.Errorf("OPENAI_BASE_URL %s %s (e.g. https://api.openai.com/v1)", shownURL(base), why)
	}
	c := OpenAIDefaults(base)
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// OpenAIDefaults is the config used without a config file: OpenAI's
// three tiers at base. Without a key it still prices what was spent
// (stats' top-tier comparison).
func OpenAIDefaults(base string) *Config {
	c := &Config{
		Providers: []Provider{{Name: "openai", BaseURL: base, APIKeyEnv: "OPENAI_API_KEY"}},
		Models: []Model{
			{Name: TierLarge, ID: "gpt-5", Provider: "openai", InputPerMTok: 1.25, OutputPerMTok: 10.0},
			{Name: TierMedium, ID: "gpt-5-mini", Provider: "openai", InputPerMTok: 0.25, OutputPerMTok: 2.0},
			{Name: TierSmall, ID: "gpt-5-nano", Provider: "openai", InputPerMTok: 0.05, OutputPerMTok: 0.40},
		},
	}
	c.ApplyDefaults()
	return c
}

// Find resolves which config file to use (SPEC section 8): the explicit
// --config file, which must exist; else .agent-tui.toml in repoDir; else the
// user config. It returns "" and no error when there is none.
func Find(repoDir, explicit string, getenv func(string) string) (string, error) {
	if explicit != "" {
		fi, err := os.Stat(explicit)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return "", errors.New("config file " + explicit + ": no such file")
		case err != nil:
			return "", errors.New("config file " + explicit + ": " + readErrMsg(err))
		case fi.IsDir():
			return "", errors.New("config file " + explicit + ": is a directory")
		}
		return explicit, nil
	}
	candidates := []string{filepath.Join(repoDir, RepoConfigName)}
	if u := UserConfigPath(getenv); u != "" {
		candidates = append(candidates, u)
	}
	for _, p := range candidates {
		// Anything but "does not exist" (e.g. unreadable, or a link to
		// nothing: Lstat) selects the file so Load reports the real problem
		// instead of silently skipping it for another config.
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			return p, nil
		}
	}
	return "", nil
}

// UserConfigPath is $XDG_CONFIG_HOME/agent-tui/config.toml, or
// $HOME/.config/agent-tui/config.toml; "" if neither variable helps.
func UserConfigPath(getenv func(string) string) string {
	// The XDG spec says relative values are invalid and must be ignored.
	if x := getenv("XDG_CONFIG_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "agent-tui", "config.toml")
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".config", "agent-tui", "config.toml")
	}
	return ""
}

// Resolve is Find followed by Load, or FromEnv when no file exists.
func Resolve(repoDir, explicit string, getenv func(string) string) (*Config, error) {
	path, err := Find(repoDir, explicit, getenv)
	if err != nil {
		return nil, err
	}
	if path == "" {
		return FromEnv(getenv)
	}
	return LoadWithEnv(path, getenv)
}
