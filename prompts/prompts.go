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

// Check renders every prompt once with sample data, so that a broken
// override is found before a run spends anything, not when its phase
// comes: it must parse, use only fields Data has, and say something.
func (s *Set) Check() error {
	for _, name := range Names {
		// every kind and tool set a phase may render with, so a field
		// used only in one branch is found too
		for _, kind := range []string{"feature", "hotfix", "epic"} {
			for _, tools := range [][]string{nil, {"read_file", "list_files", "search", "write_file", "edit_file", "run_command"}} {
				d := Data{Phase: name, TicketID: "T-1", Kind: kind, Title: "a title", TestCommand: "make test", CICommand: "make ci",
					Tools: tools, CanWrite: tools != nil, CanRun: tools != nil}
				out, err := s.Render(name, d)
				if err != nil {
					return err
				}
				if strings.TrimSpace(out) == "" {
					return fmt.Errorf("%s: the prompt is empty (delete the file to use the built-in one)", s.originOf(name))
				}
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
func (s *Set) Render(name string, d Data) (string, error) {
	t, err := s.template(name)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, d); err != nil {
		return "", fmt.Errorf("%s: %w", s.originOf(name), err)
	}
	return buf.String(), nil
}

// Builtin returns the embedded text of a prompt (for docs and tests).
func Builtin(name string) (string, error) {
	b, err := builtin.ReadFile(name + ".md")
	return string(b), err
}
