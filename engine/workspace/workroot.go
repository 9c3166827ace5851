package workspace

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// A repository's work root holds agent-tui's own checkouts of it: ticket
// worktrees, base views and the merge-check checkout. It is outside .git
// (Jest and Vitest skip every path with a .git directory in it, so they
// found no tests in a worktree there), by default under
// $XDG_DATA_HOME/agent-tui/repos, one directory per repository. The root
// chosen is recorded in the git dir, so a later run with another
// environment finds it, and the root names its git dir back, so a path
// inside it leads to its repository without asking git there.
const (
	workRootPointer = "workroot" // in <git dir>/agent-tui
	workRootOwner   = "gitdir"   // in the work root
)

// DataDir is where work roots are made by default; "" when there is no
// home directory to make them in (they are then made inside .git, as
// before).
func DataDir() string {
	home := os.Getenv("XDG_DATA_HOME")
	if !filepath.IsAbs(home) {
		h, err := os.UserHomeDir()
		if err != nil || !filepath.IsAbs(h) {
			return ""
		}
		home = filepath.Join(h, ".local", "share")
	}
	return filepath.Join(filepath.Clean(home), "agent-tui")
}

// legacyRoot is where agent-tui kept its checkouts before, and keeps its
// other files (temporary directories, private object stores) still.
func (r *Repo) legacyRoot() string { return filepath.Join(r.GitDir, "agent-tui") }

// WorkRoot is the repository's work root.
func (r *Repo) WorkRoot() string {
	if r.workRoot == "" {
		return r.legacyRoot()
	}
	return r.workRoot
}

// resolveWorkRoot is the root recorded for the repository, else the one
// it would get.
func (r *Repo) resolveWorkRoot() string {
	if data, ok := readSmallRegular(filepath.Join(r.legacyRoot(), workRootPointer), 4096); ok {
		if root := filepath.Clean(strings.TrimSpace(data)); filepath.IsAbs(root) && !r.ownedByAnother(root) {
			return root
		}
	}
	data := DataDir()
	if data == "" {
		return r.legacyRoot()
	}
	name := filepath.Base(r.Dir)
	if name == "." || name == string(filepath.Separator) || name == "" {
		name = "repo"
	}
	sum := sha256.Sum256([]byte(r.GitDir))
	root := filepath.Join(data, "repos", name+"-"+hex.EncodeToString(sum[:6]))
	if !canMake(root) {
		return r.legacyRoot() // a read-only home: inside .git, as before
	}
	return root
}

// canMake says the nearest directory there is on the way to p is one
// this process may make directories in.
func canMake(p string) bool {
	for d := p; ; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil {
			return fi.IsDir() && unix.Access(d, unix.W_OK|unix.X_OK) == nil
		}
		if filepath.Dir(d) == d {
			return false
		}
	}
}

// ownedByAnother says root names a git dir other than this one that is
// still there: the pointer came with a copy of the repository (cp -r), and
// the copy's worktrees must not go where the original's are.
func (r *Repo) ownedByAnother(root string) bool {
	data, ok := readSmallRegular(filepath.Join(root, workRootOwner), 4096)
	if !ok {
		return false
	}
	owner := filepath.Clean(strings.TrimSpace(data))
	return owner != r.GitDir && isGitDir(owner)
}

func isGitDir(p string) bool {
	head, err1 := os.Lstat(filepath.Join(p, "HEAD"))
	objects, err2 := os.Lstat(filepath.Join(p, "objects"))
	return err1 == nil && err2 == nil && head.Mode().IsRegular() && objects.IsDir()
}

// UseWorkRoot makes root the repository's work root (the demo keeps its
// checkouts beside its repository, to go with it). Nothing may have been
// made in the old one.
func (r *Repo) UseWorkRoot(root string) error {
	root, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	r.claimMu.Lock()
	r.workRoot, r.claimed = root, false
	r.claimMu.Unlock()
	return r.claimWorkRoot()
}

// claimWorkRoot records the work root both ways before the first checkout
// is made in it.
func (r *Repo) claimWorkRoot() error {
	r.claimMu.Lock()
	defer r.claimMu.Unlock()
	root := r.WorkRoot()
	if r.claimed || root == r.legacyRoot() {
		return nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("making agent-tui's work directory: %w", err)
	}
	if err := writeSmallFile(filepath.Join(root, workRootOwner), r.GitDir+"\n"); err != nil {
		return fmt.Errorf("making agent-tui's work directory: %w", err)
	}
	if err := os.MkdirAll(r.legacyRoot(), 0o755); err != nil {
		return err
	}
	if err := writeSmallFile(filepath.Join(r.legacyRoot(), workRootPointer), root+"\n"); err != nil {
		return err
	}
	r.claimed = true
	return nil
}

// writeSmallFile replaces p with data whole (never half-written).
func writeSmallFile(p, data string) error {
	if old, ok := readSmallRegular(p, len(data)+1); ok && old == data {
		return nil
	}
	tmp := p + ".agent-tui"
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, p)
}

// WorkDirs are the directories outside .git that hold checkouts of
// agent-tui's, this repository's and any other's: hidden from confined
// commands, but for their own worktree.
func (r *Repo) WorkDirs() []string {
	var dirs []string
	d := DataDir()
	if root := r.WorkRoot(); root != r.legacyRoot() && (d == "" || !strings.HasPrefix(root, d+string(filepath.Separator))) {
		dirs = append(dirs, root)
	}
	if d != "" && dirExists(d) {
		dirs = append(dirs, d)
	}
	return dirs
}

// inWorkRoot is inTicketWorktree for a work root outside .git: dir lies
// in <root>/worktrees, views or verify, where root names a git dir that
// names root back.
func inWorkRoot(parts []string, i int) (gitDir, ticket string, ok bool) {
	switch parts[i] {
	case "worktrees", "views", "verify":
	default:
		return "", "", false
	}
	root := strings.Join(parts[:i], string(filepath.Separator))
	if root == "" {
		return "", "", false
	}
	data, ok := readSmallRegular(filepath.Join(root, workRootOwner), 4096)
	if !ok {
		return "", "", false
	}
	gd := filepath.Clean(strings.TrimSpace(data))
	back, ok := readSmallRegular(filepath.Join(gd, "agent-tui", workRootPointer), 4096)
	if !ok || filepath.Clean(strings.TrimSpace(back)) != root || !isGitDir(gd) {
		return "", "", false
	}
	if parts[i] == "worktrees" && i+1 < len(parts) {
		ticket = parts[i+1]
	}
	return gd, ticket, true
}

// uniq is paths without repeats, in order (a work root inside .git
// names its directories twice).
func uniq(paths ...string) []string {
	var out []string
	for _, p := range paths {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}
