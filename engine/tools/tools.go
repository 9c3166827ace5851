// Package tools implements the function tools the model uses inside a
// ticket's worktree (SPEC section 10). Every file access goes through an
// os.Root so nothing can be read or written outside the worktree.
package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Options configures a Box.
type Options struct {
	Root           string        // the worktree
	ReadOnly       bool          // analysis phases: read_file, list_dir, search only
	CommandTimeout time.Duration // default 2m
	OutputCap      int           // bytes of command output kept (the tail), default 16 KiB
	ExtraEnvDrop   []string      // additional environment variable names to drop
	Sandbox        string        // "auto" (or "") or "off"
	TempDir        string        // per-ticket temp dir, TMPDIR for commands; a private one when empty
	// Hidden are files and directories confined commands may not read
	// (agent-tui's database, other tickets' worktrees); credentials in the
	// home directory are hidden too. The worktree and TempDir stay
	// readable even inside a hidden directory.
	Hidden []string
	// Readable are paths commands may read, not write, though inside a
	// hidden one: a sensitive ticket's private git objects.
	Readable []string
	// Sensitive commands write no shared cache that builds leave code or
	// output in: they get private ones (PrivateCaches).
	Sensitive bool
	// Release, when set, is called once by Close: the root is lent (a
	// shared view of the base branch).
	Release func()
}

const (
	defaultTimeout   = 2 * time.Minute
	defaultOutputCap = 16 << 10
)

// Box runs tool calls for one session inside one worktree.
type Box struct {
	opts    Options
	root    *os.Root
	rootDir string // absolute, symlinks resolved
	tmpDir  string
	ownTmp  bool
	mode    sandboxMode
	tools   []tool
	// the worktree's submodules (.gitmodules' paths), read once
	subsOnce sync.Once
	subs     []string
}

type tool struct {
	name     string
	desc     string
	schema   string
	required []string
	write    bool
	run      func(b *Box, ctx context.Context, a args) (string, error)
}

// New opens the worktree opts.Root and picks the command confinement.
func New(opts Options) (*Box, error) {
	mode := sandboxNone
	switch opts.Sandbox {
	case "", "auto":
		mode = detectSandbox()
	case "off":
	default:
		return nil, fmt.Errorf("tools: sandbox must be \"auto\" or \"off\", not %q", opts.Sandbox)
	}
	return newWithMode(opts, mode)
}

func newWithMode(opts Options, mode sandboxMode) (*Box, error) {
	if opts.Root == "" {
		return nil, errors.New("tools: no worktree root")
	}
	if opts.CommandTimeout <= 0 {
		opts.CommandTimeout = defaultTimeout
	}
	if opts.OutputCap <= 0 {
		opts.OutputCap = defaultOutputCap
	}
	abs, err := filepath.Abs(opts.Root)
	if err != nil {
		return nil, fmt.Errorf("tools: %w", err)
	}
	rootDir, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("tools: worktree: %w", err)
	}
	root, err := os.OpenRoot(rootDir)
	if err != nil {
		return nil, fmt.Errorf("tools: worktree: %w", err)
	}
	b := &Box{opts: opts, root: root, rootDir: rootDir, mode: mode}
	if opts.TempDir == "" {
		b.tmpDir, err = os.MkdirTemp("", "agent-tui-tmp-")
		b.ownTmp = true
	} else {
		b.tmpDir, err = filepath.Abs(opts.TempDir)
		if err == nil {
			err = os.MkdirAll(b.tmpDir, 0o700)
		}
		if err == nil {
			b.tmpDir, err = filepath.EvalSymlinks(b.tmpDir)
		}
	}
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("tools: temp dir: %w", err)
	}
	for _, t := range allTools {
		if !opts.ReadOnly || !t.write {
			b.tools = append(b.tools, t)
		}
	}
	return b, nil
}

// Close releases the worktree handle and removes a temp dir Box created.
func (b *Box) Close() error {
	err := b.root.Close()
	if b.opts.Release != nil {
		b.opts.Release()
		b.opts.Release = nil
	}
	if b.ownTmp {
		if rerr := os.RemoveAll(b.tmpDir); err == nil {
			err = rerr
		}
	}
	return err
}

// A Definition is a tool as the model is told of it; Parameters is its
// JSON schema. (The package does not import the model client: see init.)
type Definition struct {
	Name, Description string
	Parameters        json.RawMessage
}

// Definitions are the tools offered to the model, in a stable order.
func (b *Box) Definitions() []Definition {
	defs := make([]Definition, 0, len(b.tools))
	for _, t := range b.tools {
		defs = append(defs, Definition{Name: t.name, Description: t.desc, Parameters: json.RawMessage(t.schema)})
	}
	return defs
}

// Call runs one tool call. It never panics and never fails: problems become
// an "error: ..." result the model can read and act on.
func (b *Box) Call(ctx context.Context, name, argsJSON string) (result string, isErr bool) {
	defer func() {
		if r := recover(); r != nil {
			result, isErr = oneLine(fmt.Sprintf("error: internal error in %s: %v", name, r)), true
		}
	}()
	var t *tool
	for i := range allTools {
		if allTools[i].name == name {
			t = &allTools[i]
		}
	}
	if t == nil {
		return fmt.Sprintf("error: unknown tool %q; available: %s", clip(name, 100), b.names()), true
	}
	if t.write && b.opts.ReadOnly {
		return fmt.Sprintf("error: %s is not available in this phase (read-only); available: %s", name, b.names()), true
	}
	a, err := parseArgs(argsJSON, t.required)
	if err != nil {
		return oneLine("error: " + name + ": " + err.Error()), true
	}
	out, err := t.run(b, ctx, a)
	var w *worded
	if errors.As(err, &w) {
		return w.text, true
	}
	if err != nil {
		return oneLine("error: " + err.Error()), true
	}
	return out, false
}

func (b *Box) names() string {
	var n []string
	for _, t := range b.tools {
		n = append(n, t.name)
	}
	return strings.Join(n, ", ")
}

// args are a tool call's decoded arguments.
type args map[string]json.RawMessage

func parseArgs(s string, required []string) (args, error) {
	if strings.TrimSpace(s) == "" {
		s = "{}" // some models send nothing for a call without arguments
	}
	var a args
	if err := json.Unmarshal([]byte(s), &a); err != nil || a == nil {
		return nil, fmt.Errorf("arguments are not a JSON object: %q", clip(s, 200))
	}
	for _, k := range required {
		if v, ok := a[k]; !ok || string(v) == "null" {
			return nil, fmt.Errorf("missing required argument %q", k)
		}
	}
	return a, nil
}

func (a args) str(key string) (string, error) {
	v, ok := a[key]
	if !ok || string(v) == "null" {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", fmt.Errorf("argument %q must be a string", key)
	}
	return s, nil
}

// int accepts a number or a numeric string: models send both.
func (a args) int(key string, def int) (int, error) {
	v, ok := a[key]
	if !ok || string(v) == "null" {
		return def, nil
	}
	var f float64
	if err := json.Unmarshal(v, &f); err != nil {
		var s string
		if json.Unmarshal(v, &s) != nil {
			return 0, fmt.Errorf("argument %q must be an integer", key)
		}
		if _, err := fmt.Sscan(s, &f); err != nil {
			return 0, fmt.Errorf("argument %q must be an integer", key)
		}
	}
	if f != float64(int(f)) {
		return 0, fmt.Errorf("argument %q must be an integer", key)
	}
	return int(f), nil
}

// clip shortens s to at most n bytes without splitting a character.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "..."
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// Resolve joins p to root after cleaning it, refusing absolute paths and paths
// that leave root. The result is always root itself or beneath it. It does
// not look at the file system; symlinks are checked by os.Root on access.
func Resolve(root, p string) (string, error) {
	if p == "" {
		return "", errors.New("path is empty")
	}
	if strings.IndexByte(p, 0) >= 0 {
		return "", errors.New("path contains a NUL byte")
	}
	if filepath.IsAbs(p) || strings.HasPrefix(p, "/") {
		return "", fmt.Errorf("path must be relative to the worktree: %q", clip(p, 200))
	}
	root = filepath.Clean(root)
	joined := filepath.Join(root, p)
	rel, err := filepath.Rel(root, joined)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("path leaves the worktree: %q", clip(p, 200))
	}
	return joined, nil
}

// rel turns a model-supplied path into a clean path relative to the root,
// "." for the root itself.
func (b *Box) rel(p string) (string, error) {
	abs, err := Resolve(b.rootDir, p)
	if err != nil {
		return "", err
	}
	return filepath.Rel(b.rootDir, abs)
}

var allTools = []tool{
	{
		name:     "read_file",
		desc:     "Read a text file in the worktree. Optional offset (1-based first line) and limit (number of lines) read part of a large file.",
		schema:   `{"type":"object","properties":{"path":{"type":"string","description":"file path relative to the worktree"},"offset":{"type":"integer","description":"first line to read, 1-based"},"limit":{"type":"integer","description":"maximum number of lines"}},"required":["path"]}`,
		required: []string{"path"},
		run:      (*Box).readFile,
	},
	{
		name:     "write_file",
		desc:     "Create or overwrite a file in the worktree with the given content; parent directories are created.",
		schema:   `{"type":"object","properties":{"path":{"type":"string","description":"file path relative to the worktree"},"content":{"type":"string","description":"the complete new content"}},"required":["path","content"]}`,
		required: []string{"path", "content"},
		write:    true,
		run:      (*Box).writeFile,
	},
	{
		name:     "edit_file",
		desc:     "Replace old_string with new_string in a file. old_string must occur exactly once: include enough surrounding lines to make it unique.",
		schema:   `{"type":"object","properties":{"path":{"type":"string","description":"file path relative to the worktree"},"old_string":{"type":"string","description":"exact text to replace, occurring exactly once"},"new_string":{"type":"string","description":"replacement text"}},"required":["path","old_string","new_string"]}`,
		required: []string{"path", "old_string", "new_string"},
		write:    true,
		run:      (*Box).editFile,
	},
	{
		name:   "list_dir",
		desc:   "List a directory of the worktree, sorted by name; directories end with /. Optional offset (1-based first entry) lists the rest of a large one.",
		schema: `{"type":"object","properties":{"path":{"type":"string","description":"directory relative to the worktree, default \".\""},"offset":{"type":"integer","description":"first entry to list, 1-based"}}}`,
		run:    (*Box).listDir,
	},
	{
		name:     "search",
		desc:     "Search file contents with a Go regular expression (RE2 syntax). Returns file:line:text lines, at most 200.",
		schema:   `{"type":"object","properties":{"pattern":{"type":"string","description":"regular expression"},"path":{"type":"string","description":"file or directory to search, relative to the worktree, default \".\""}},"required":["pattern"]}`,
		required: []string{"pattern"},
		run:      (*Box).search,
	},
	{
		name:     "run_command",
		desc:     "Run a shell command (sh -c) in the worktree. Returns the exit code and the tail of the combined output. Commands have a time limit; background processes are killed when the command ends.",
		schema:   `{"type":"object","properties":{"command":{"type":"string","description":"shell command line"}},"required":["command"]}`,
		required: []string{"command"},
		write:    true,
		run:      (*Box).runCommand,
	},
}
