// Package demo builds the throwaway repository of `agent-tui --demo`: a
// small Go project in git, a config that points every phase at the
// simulated model, and three seeded tickets whose runs show the whole
// cycle (validator rejection, red then green, CI fixed, a hand-over, and
// branches waiting for approval).
package demo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"agent-tui/engine"
	"agent-tui/engine/sim"
	"agent-tui/engine/workspace"
	"agent-tui/store"
)

// Demo is a prepared demo repository.
type Demo struct {
	Root       string // the repository and its worktrees, nothing else
	Dir        string // the repository (its checkout)
	ConfigPath string // .agent-tui.toml inside it
	DBPath     string // the default database path, inside the git directory
}

// ChunkDelay is the pace of the simulated model in the demo: slow enough
// to watch the streams, fast enough to finish in about a minute.
const ChunkDelay = 20 * time.Millisecond

// BaseBranch is the demo repository's only branch.
const BaseBranch = "main"

// Setup creates the demo repository in dir/repo, where dir must be empty
// or absent, with its config pointing at the simulated model at baseURL,
// and seeds the demo tickets. The tickets' worktrees go to dir/work,
// so that removing dir removes every trace of the demo.
func Setup(dir, baseURL string) (*Demo, error) {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("demo: %s is not empty", dir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("demo: %w", err)
	}
	files := Project()
	// committed with the project, so the checkout stays clean for merges
	files[".agent-tui.toml"] = Config(baseURL)
	if err := workspace.InitRepo(filepath.Join(dir, "repo"), files, BaseBranch); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	repo, err := workspace.Open(filepath.Join(dir, "repo"))
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if err := repo.UseWorkRoot(filepath.Join(dir, "work")); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	d := &Demo{
		Root:       dir,
		Dir:        repo.Dir,
		ConfigPath: filepath.Join(repo.Dir, ".agent-tui.toml"),
		DBPath:     filepath.Join(repo.GitDir, "agent-tui.db"),
	}
	st, err := store.Open(d.DBPath, time.Second)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	for _, t := range sim.DemoTickets() {
		if _, err := engine.AddTicket(st, engine.NewTicket{Kind: t.Kind, Title: t.Title, Body: t.Body}, BaseBranch); err != nil {
			st.Close()
			return nil, fmt.Errorf("demo: seeding %q: %w", t.Title, err)
		}
	}
	if err := st.Close(); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	return d, nil
}

// Start prepares a demo in a new temporary directory with the simulated
// model serving on loopback. stop shuts the model down; the directory is
// left in place so the user can look at it afterwards.
func Start(ctx context.Context) (*Demo, func(), error) {
	if _, err := exec.LookPath("go"); err != nil {
		// its tests, CI and the red/green checks all run `go`
		return nil, nil, errors.New("demo: the demo project is a Go module and `go` is not on PATH")
	}
	dir, err := os.MkdirTemp("", "agent-tui-demo-*")
	if err != nil {
		return nil, nil, fmt.Errorf("demo: %w", err)
	}
	url, stop, err := sim.Serve(ctx, sim.Options{ChunkDelay: ChunkDelay})
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	d, err := Setup(dir, url)
	if err != nil {
		stop()
		os.RemoveAll(dir) // half-built: nothing worth keeping
		return nil, nil, err
	}
	return d, stop, nil
}

// Config is the demo's .agent-tui.toml: one local, simulated provider with
// three made-up tiers (priced, so the cost columns have something to show).
func Config(baseURL string) string {
	return fmt.Sprintf(`# agent-tui demo: every phase runs on the built-in simulated model.
base_branch = %q
test_command = "go test ./..."
ci_command = "go vet ./... && go test ./..."
approve = ["review"]
max_parallel = 4

[[provider]]
name = "sim"
base_url = %q
local = true
simulated = true

[[model]]
name = "large"
id = "sim-large"
provider = "sim"
input_per_mtok = 3.0
output_per_mtok = 15.0

[[model]]
name = "medium"
id = "sim-medium"
provider = "sim"
input_per_mtok = 0.8
output_per_mtok = 4.0

[[model]]
name = "small"
id = "sim-small"
provider = "sim"
input_per_mtok = 0.1
output_per_mtok = 0.4

# the hotfix's diagnosis cannot be confirmed without a human: hand it over
# after two attempts rather than three
[phases.diagnosis]
max_attempts = 2
`, BaseBranch, baseURL)
}
