package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/pelletier/go-toml/v2"

	"agent-tui/engine/wtfile"
)

// Error is a configuration error. Its message is always one line:
// "FILE:LINE: key "K": MSG", with the line or key left out when unknown.
type Error struct {
	File string // path as given to Load; empty for configs not read from a file
	Line int    // 1-based; 0 when unknown
	Key  string // dotted key, e.g. "phases.techspec.models"; may be empty
	Msg  string
	// noModels: the file declares no provider or model, and there is none
	// to take (ErrNoModels)
	noModels bool
}

// ErrNoModels is what a config file without providers and models is,
// where neither a user config nor OPENAI_API_KEY gives them: like no file
// and no key, fatal only to what calls a model.
var ErrNoModels = errors.New("no models configured")

func (e *Error) Unwrap() error {
	if e.noModels {
		return ErrNoModels
	}
	return nil
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
	} else {
		b.WriteString("config")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		fmt.Fprintf(&b, "key %q: ", e.Key)
	}
	b.WriteString(oneLine(e.Msg))
	return b.String()
}

// oneLine keeps messages from the TOML library or the OS to a single line, as
// the CLI prints them verbatim.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\r", " ")), " ")
}

// durationKeys are the top-level keys decoded into Duration.
var durationKeys = []string{
	"stream_idle_timeout", "request_timeout", "retry_backoff",
	"provider_cooldown", "command_timeout",
}

// Load reads, defaults and validates the TOML config at path.
func Load(path string) (*Config, error) { return LoadWithEnv(path, os.Getenv) }

// LoadWithEnv is Load. A file that declares no provider and no model (one
// that only sets the test command, say) takes them from the user config
// file, or else from OPENAI_API_KEY, as they would be without it.
func LoadWithEnv(path string, getenv func(string) string) (*Config, error) {
	data, err := wtfile.ReadFile(path, maxConfigSize)
	if err != nil {
		var notRegular *wtfile.NotRegularError
		switch {
		case errors.Is(err, os.ErrNotExist):
			return nil, &Error{File: path, Msg: "no such file" + danglingLink(path)}
		case errors.As(err, &notRegular) && notRegular.Mode.IsDir():
			return nil, &Error{File: path, Msg: "is a directory"}
		case errors.As(err, &notRegular):
			return nil, &Error{File: path, Msg: "is " + wtfile.Kind(notRegular.Mode) + ", not a config file"}
		case errors.Is(err, wtfile.ErrTooLarge):
			return nil, &Error{File: path, Msg: "is over 1 MiB, more than any config needs"}
		}
		return nil, &Error{File: path, Msg: readErrMsg(err)}
	}
	// Windows editors may start the file with a byte-order mark
	c, err := parse(path, bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))
	if err != nil {
		return nil, err
	}
	if c.Retries < 0 {
		// (ApplyDefaults stores an explicit 0 as -1: only the file's own
		// value is checked here)
		return nil, &Error{File: path, Line: c.src.line("retries"), Key: "retries", Msg: "must be 0 or more (0: no retries on the same model)"}
	}
	if len(c.Providers) == 0 && len(c.Models) == 0 {
		from, err := modelsElsewhere(path, getenv)
		if err != nil {
			return nil, err
		}
		if from != nil {
			c.Providers, c.Models = from.Providers, from.Models
		}
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		var e *Error
		if errors.As(err, &e) && e.noModels {
			// which file: XDG_CONFIG_HOME moves it from ~/.config
			e.Msg = noModelsMsg(UserConfigPath(getenv), false)
		}
		return nil, err
	}
	return c, nil
}

// noModelsMsg says that a file declares no providers or models and that
// none could be taken from the user config file user ("" when no path
// could be made for it; there: it exists, and declares none either) or
// OPENAI_API_KEY.
func noModelsMsg(user string, there bool) string {
	switch {
	case there:
		return "no [[provider]] or [[model]] declared, nor in the user config file " + user + ", and no OPENAI_API_KEY to take them from (see README, 2. Your own repository, a real provider)"
	case user != "":
		return "no [[provider]] or [[model]] declared, and no user config file (" + user + ") or OPENAI_API_KEY to take them from (see README, 2. Your own repository, a real provider)"
	}
	return "no [[provider]] or [[model]] declared, and no user config file or OPENAI_API_KEY to take them from (see README, 2. Your own repository, a real provider)"
}

// modelsElsewhere is the config whose providers and models a file without
// any uses: the user config file (when path is not it), or OPENAI_API_KEY's
// default; nil when there is neither.
func modelsElsewhere(path string, getenv func(string) string) (*Config, error) {
	if u := UserConfigPath(getenv); u != "" {
		fi, err := os.Stat(u)
		if err == nil && fi.IsDir() {
			return nil, &Error{File: u, Msg: "is a directory, not a config file"}
		}
		if _, lerr := os.Lstat(u); lerr == nil && err != nil {
			// there, but unreadable or a link to nothing: said, not
			// passed over for OPENAI_API_KEY's defaults
			return nil, &Error{File: u, Msg: readErrMsg(err) + danglingLink(u)}
		}
		if err == nil {
			if pi, err := os.Stat(path); err != nil || !os.SameFile(fi, pi) {
				// (it is path, without models, where this started: no loop)
				c, err := LoadWithEnv(u, getenv)
				var e *Error
				if errors.As(err, &e) && e.noModels {
					// said of the file that needs them: the user config
					// is there, and declares none either
					return nil, &Error{File: path, noModels: true, Msg: noModelsMsg(u, true)}
				}
				return c, err
			}
		}
	}
	if getenv("OPENAI_API_KEY") == "" {
		return nil, nil
	}
	return FromEnv(getenv)
}

// tableAt is the [table] (or [[array]]) header in effect at line n of a
// TOML file, "" before any.
func tableAt(data []byte, n int) string {
	table := ""
	for i, l := range strings.Split(string(data), "\n") {
		if i+1 >= n {
			break
		}
		if m := tableHeader.FindStringSubmatch(l); m != nil {
			table = strings.Join(strings.Fields(strings.ReplaceAll(m[1], " . ", ".")), "")
		}
	}
	return table
}

var tableHeader = regexp.MustCompile(`^\s*\[\[?\s*([A-Za-z0-9_.\- ]+?)\s*\]\]?\s*(#.*)?$`)

// maxConfigSize bounds a config file's read: a link to /dev/zero must not
// take all memory.
const maxConfigSize = 1 << 20

// danglingLink says where path links to when it is a link to nothing.
func danglingLink(path string) string {
	if target, err := os.Readlink(path); err == nil {
		return " (it is a link to " + target + ", which does not exist)"
	}
	return ""
}

func readErrMsg(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// parse decodes data in three passes so every failure gets a line and a key:
// a generic decode catches syntax errors, a look at the generic tree catches
// non-string durations (go-toml reports those without a position), and the
// strict struct decode catches unknown keys and wrong types.
func parse(path string, data []byte) (*Config, error) {
	src := scanSource(data)

	var raw map[string]any
	if err := toml.Unmarshal(data, &raw); err != nil {
		e := fromDecodeError(path, src, err)
		if e.Key == "" {
			e.Key = src.keyAt(e.Line)
		} else if table := tableAt(data, e.Line); table != "" && !strings.Contains(e.Key, ".") {
			// go-toml names a key defined twice by its last part only
			e.Key = table + "." + e.Key
		}
		e.Msg = "syntax error: " + e.Msg
		return nil, e
	}
	for _, k := range durationKeys {
		if v, ok := raw[k]; ok {
			if _, isString := v.(string); !isString {
				return nil, &Error{File: path, Line: src.line(k), Key: k, Msg: `expected a duration string like "30s"`}
			}
		}
	}

	c := &Config{}
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		var strict *toml.StrictMissingError
		if errors.As(err, &strict) && len(strict.Errors) > 0 {
			// Report the first unknown key; fixing one at a time is fine for a
			// hand-edited file, and keeps the error to one line.
			de := &strict.Errors[0]
			line, _ := de.Position()
			return nil, &Error{File: path, Line: line, Msg: fmt.Sprintf("unknown key %q", strings.Join(de.Key(), "."))}
		}
		e := fromDecodeError(path, src, err)
		e.Msg = typeMessage(e.Key, e.Msg)
		return nil, e
	}
	c.Path = path
	c.src = src
	c.present = presentKeys(raw)
	return c, nil
}

func fromDecodeError(path string, src *source, err error) *Error {
	var de *toml.DecodeError
	if !errors.As(err, &de) {
		return &Error{File: path, Msg: strings.TrimPrefix(err.Error(), "toml: ")}
	}
	line, _ := de.Position()
	return &Error{
		File: path,
		Line: line,
		Key:  strings.Join(de.Key(), "."),
		Msg:  strings.TrimPrefix(de.Error(), "toml: "),
	}
}

var cannotDecode = regexp.MustCompile(`^cannot decode TOML (.+?) into (?:struct field \S+ of type )?(\S+)$`)

// typeMessage rewrites go-toml's Go-flavoured type errors into the words of
// the config file ("expected an integer").
func typeMessage(key, msg string) string {
	if m := cannotDecode.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("expected %s, got %s", describeType(m[2]), withArticle(m[1]))
	}
	for _, k := range durationKeys {
		if key == k {
			return fmt.Sprintf(`invalid duration (%s); use e.g. "30s" or "10m"`, strings.TrimPrefix(msg, "time: "))
		}
	}
	return msg
}

func describeType(goType string) string {
	switch goType {
	case "int", "int64":
		return "an integer"
	case "float64":
		return "a number"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "[]string":
		return "an array of strings"
	case "config.Duration":
		return `a duration string like "30s"`
	case "[]config.Provider", "[]config.Model":
		return "an array of tables"
	case "config.PhaseConfig", "config.Provider", "config.Model", "map[string]config.PhaseConfig", "config.Config":
		return "a table"
	}
	return goType
}

// presentKeys lists the keys actually written in the file, top level and
// per phase, so defaults never overwrite an explicit value such as
// retries = 0, and an explicit max_parallel = 0 is reported, not replaced.
func presentKeys(raw map[string]any) map[string]bool {
	p := map[string]bool{}
	for k := range raw {
		p[k] = true
	}
	if phases, ok := raw["phases"].(map[string]any); ok {
		for name, v := range phases {
			if t, ok := v.(map[string]any); ok {
				for k := range t {
					p["phases."+name+"."+k] = true
				}
			}
		}
	}
	return p
}

func withArticle(noun string) string {
	if noun != "" && strings.ContainsRune("aeiou", rune(noun[0])) {
		return "an " + noun
	}
	return "a " + noun
}
