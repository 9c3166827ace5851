// Package prompts holds the system prompt of every phase as an embedded
// text/template. A repository overrides any of them with a file of the same
// name in .agent-tui/prompts/.
package prompts

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"text/template"

	"agent-tui/engine/wtfile"
)

//go:embed *.md
var builtin embed.FS

// Names lists every prompt: one per phase plus the validator and the
// diagnosis variant of discovery.
var Names = []string{"discovery", "diagnosis", "techspec", "planning", "tests", "code", "cifix", "review", "split", "validator"}

// Data is what a template can use.
type Data struct {
	Phase       string
	TicketID    string
	Kind        string
	Title       string
	TestCommand string
	CICommand   string
	Tools       []string // names of the tools the session has
	CanWrite    bool
	CanRun      bool
}

// Set renders prompts, preferring overrides from a directory.
type Set struct {
	overrideDir string
	mu          sync.Mutex
	cache       map[string]*template.Template
	origin      map[string]string // where each cached template came from
}

// New returns a Set; overrideDir may be "" or missing.
func New(overrideDir string) *Set {
	return &Set{overrideDir: overrideDir, cache: map[string]*template.Template{}, origin: map[string]string{}}
}

// Validated lists the phases the validator judges: its prompt is rendered
// with each of them as .Phase.
var Validated = []string{"discovery", "diagnosis", "techspec", "planning", "tests", "split"}

// The tools a session has: the read-only phases', and those of the phases
// that write files.
var (
	readTools = []string{"read_file", "list_dir", "search"}
	allTools  = []string{"read_file", "write_file", "edit_file", "list_dir", "search", "run_command"}
)

// Variants is every shape of data prompt name is rendered with at run time
// (sample values where only the text differs): each phase it renders for,
// each kind, the phase's tools, a command configured or not.
func Variants(name string) []Data {
	phases := []string{name}
	if name == "validator" {
		phases = Validated
	}
	var tools []string
	writes := false
	switch name {
	case "discovery", "diagnosis", "techspec", "review":
		tools = readTools
	case "tests", "code", "cifix":
		tools, writes = allTools, true
	}
	var out []Data
	for _, phase := range phases {
		for _, kind := range []string{"feature", "hotfix", "epic"} {
			// the CI command falls back to the test command; either may be
			// missing (none configured or detected)
			for _, cmds := range [][2]string{{"make test", "make ci"}, {"make test", "make test"}, {"", "make ci"}, {"", ""}} {
				out = append(out, Data{Phase: phase, TicketID: "T-1", Kind: kind, Title: "a title",
					TestCommand: cmds[0], CICommand: cmds[1],
					Tools: tools, CanWrite: writes, CanRun: writes})
			}
		}
	}
	return out
}

// Check renders every prompt with every variant of its data, so that a
// broken override is found before a run spends anything, not when the
// phase (or kind, or phase judged) that takes its failing branch comes: it
// must parse, use only fields Data has, and say something.
func (s *Set) Check() error {
	for _, name := range Names {
		for _, d := range Variants(name) {
			as := fmt.Sprintf(" (rendered as for phase %s of a %s ticket)", d.Phase, d.Kind)
			out, err := s.render(name, d, as)
			if err != nil {
				return err
			}
			if strings.TrimSpace(out) == "" {
				return fmt.Errorf("%s%s: the prompt is empty (delete the file to use the built-in one)", s.originOf(name), as)
			}
		}
	}
	return nil
}

// Unknown warns of the files in the override directory that override no
// prompt (a misspelt diagnosis.md is otherwise silently unused).
func (s *Set) Unknown() []string {
	if s.overrideDir == "" {
		return nil
	}
	entries, err := os.ReadDir(s.overrideDir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".md")
		if ok && !e.IsDir() && !slices.Contains(Names, name) {
			out = append(out, fmt.Sprintf("%s overrides no prompt, and is not used (the prompts are %s.md)",
				filepath.Join(s.overrideDir, e.Name()), strings.Join(Names, ".md, ")))
		}
	}
	return out
}

func (s *Set) originOf(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.origin[name]
}

// maxPromptSize bounds a prompt file's read; no template is near it.
const maxPromptSize = 1 << 20

// OverrideDir is where a repository's own prompts live.
func OverrideDir(repoDir string) string { return filepath.Join(repoDir, ".agent-tui", "prompts") }

func (s *Set) template(name string) (*template.Template, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.cache[name]; ok {
		return t, nil
	}
	file := name + ".md"
	var src []byte
	var err error
	origin := "built-in prompt " + file
	if s.overrideDir != "" {
		p := filepath.Join(s.overrideDir, file)
		// a link to /dev/zero or a fifo is an error, not all memory or a wait
		src, err = wtfile.ReadFile(p, maxPromptSize)
		if err == nil {
			origin = p
		} else if target, lerr := os.Readlink(p); lerr == nil && errors.Is(err, fs.ErrNotExist) {
			// meant as an override: not passed over for the built-in one
			return nil, fmt.Errorf("prompt %s: a link to %s, which does not exist", p, target)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("prompt %s: %w", p, err)
		}
	}
	if src == nil {
		if src, err = builtin.ReadFile(file); err != nil {
			return nil, fmt.Errorf("no prompt named %q", name)
		}
	}
	t, err := template.New(name).Option("missingkey=error").Parse(string(src))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", origin, err)
	}
	s.cache[name] = t
	s.origin[name] = origin
	return t, nil
}

// Render produces the system prompt of a phase.
func (s *Set) Render(name string, d Data) (string, error) { return s.render(name, d, "") }

// render is Render; an error names the file, then as (how it was rendered).
func (s *Set) render(name string, d Data, as string) (string, error) {
	t, err := s.template(name)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, d); err != nil {
		if strings.Contains(err.Error(), "can't evaluate field") {
			// what to use instead
			return "", fmt.Errorf("%s%s: %w; a prompt can use %s", s.originOf(name), as, err, Fields())
		}
		return "", fmt.Errorf("%s%s: %w", s.originOf(name), as, err)
	}
	return buf.String(), nil
}

// Fields lists what a template can use, as it writes them (.Phase, ...).
func Fields() string {
	t := reflect.TypeFor[Data]()
	names := make([]string, t.NumField())
	for i := range names {
		names[i] = "." + t.Field(i).Name
	}
	return strings.Join(names, ", ")
}

// Builtin returns the embedded text of a prompt (for docs and tests).
func Builtin(name string) (string, error) {
	b, err := builtin.ReadFile(name + ".md")
	return string(b), err
}
