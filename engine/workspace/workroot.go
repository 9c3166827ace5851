package workspace

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
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
	if x := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(x) {
		return filepath.Join(resolved(filepath.Clean(x)), "agent-tui")
	}
	return homeDataDir()
}

// homeDataDir is DataDir without XDG_DATA_HOME: where another run may
// have made work roots.
func homeDataDir() string {
	h, err := os.UserHomeDir()
	if err != nil || !filepath.IsAbs(h) {
		return ""
	}
	return filepath.Join(resolved(filepath.Join(h, ".local", "share")), "agent-tui")
}

// resolved is p with the links on its way resolved, as far as it exists:
// git, and a path found from inside a worktree, name the root that way.
func resolved(p string) string {
	for d, rest := p, ""; ; d, rest = filepath.Dir(d), filepath.Join(filepath.Base(d), rest) {
		if real, err := filepath.EvalSymlinks(d); err == nil {
			return filepath.Join(real, rest)
		}
		if filepath.Dir(d) == d {
			return p
		}
	}
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

// WorktreesInsideGit says new worktrees are made inside .git, for want
// of a home directory to make a work root in.
func (r *Repo) WorktreesInsideGit() bool { return r.WorkRoot() == r.legacyRoot() }

// resolveWorkRoot is the root recorded for the repository, else the one
// it would get. The record and the root's owner file share a token drawn
// when the root was first taken: a root whose token differs is another
// repository's (this one is a cp -r copy, or was made where a moved one
// was), whatever paths they name.
func (r *Repo) resolveWorkRoot() string {
	if root, token := readWorkRecord(filepath.Join(r.legacyRoot(), workRootPointer)); filepath.IsAbs(root) {
		owner, ownerToken := readWorkRecord(filepath.Join(root, workRootOwner))
		switch {
		case owner == "" && !dirExists(filepath.Join(root, "worktrees")):
			// gone (removed by hand): made again where it was
			r.workToken = token
			return root
		case token != "" && ownerToken == token && (owner == r.GitDir || !claims(owner, root, token)):
			// (a copy's record names the root the original still claims)
			r.workToken = token
			if owner != r.GitDir {
				// the repository moved: the root names it again, for a
				// run from inside a worktree to find it
				writeSmallFile(filepath.Join(root, workRootOwner), r.GitDir+"\n"+token+"\n")
			}
			return root
		case token == "" && ownerToken == "" && owner == r.GitDir:
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
	base := filepath.Join(data, "repos", name+"-"+hex.EncodeToString(sum[:6]))
	if !canMake(base) {
		return r.legacyRoot() // a read-only home: inside .git, as before
	}
	// a root already there is another repository's (one that was at this
	// path before): never shared
	for i := 1; i < 100; i++ {
		root := base
		if i > 1 {
			root = fmt.Sprintf("%s-%d", base, i)
		}
		if _, err := os.Lstat(root); errors.Is(err, fs.ErrNotExist) {
			return root
		}
	}
	return r.legacyRoot()
}

// claims says the git dir gd records root, with token, as its work root.
func claims(gd, root, token string) bool {
	back, t := readWorkRecord(filepath.Join(gd, "agent-tui", workRootPointer))
	return back == root && t == token && isGitDir(gd)
}

// readWorkRecord reads a pointer or owner file: a path, and the root's
// token on the line after ("" for none).
func readWorkRecord(p string) (path, token string) {
	data, ok := readSmallRegular(p, 4096)
	if !ok {
		return "", ""
	}
	first, rest, _ := strings.Cut(data, "\n")
	if first = strings.TrimSpace(first); first != "" {
		first = filepath.Clean(first)
	}
	return first, strings.TrimSpace(rest)
}

// canMake says the nearest directory there is on the way to p is one
// this process may make directories in: tried, as root may write
// anywhere by its rights and still not in /proc or on a read-only mount.
func canMake(p string) bool {
	for d := p; ; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil {
			if !fi.IsDir() || unix.Access(d, unix.W_OK|unix.X_OK) != nil {
				return false
			}
			probe, err := os.MkdirTemp(d, ".agent-tui-probe-")
			if err != nil {
				return false
			}
			return os.Remove(probe) == nil
		}
		if filepath.Dir(d) == d {
			return false
		}
	}
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
	root = resolved(root)
	r.claimMu.Lock()
	r.workRoot, r.claimed, r.workToken = root, false, ""
	r.claimMu.Unlock()
	return r.claimWorkRoot()
}

// claimWorkRoot records the work root both ways before the first checkout
// is made in it.
func (r *Repo) claimWorkRoot() error {
	r.claimMu.Lock()
	defer r.claimMu.Unlock()
	root := r.WorkRoot()
	if r.claimed || r.WorktreesInsideGit() {
		return nil
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("making agent-tui's work directory: %w", err)
	}
	if owner, token := readWorkRecord(filepath.Join(root, workRootOwner)); r.workToken == "" && owner == r.GitDir && token != "" {
		r.workToken = token // taken by another run of this repository's just now
	}
	if r.workToken == "" {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return err
		}
		r.workToken = hex.EncodeToString(b[:])
	}
	if err := writeSmallFile(filepath.Join(root, workRootOwner), r.GitDir+"\n"+r.workToken+"\n"); err != nil {
		return fmt.Errorf("making agent-tui's work directory: %w", err)
	}
	if err := os.MkdirAll(r.legacyRoot(), 0o755); err != nil {
		return err
	}
	if err := writeSmallFile(filepath.Join(r.legacyRoot(), workRootPointer), root+"\n"+r.workToken+"\n"); err != nil {
		return err
	}
	r.claimed = true
	return nil
}

// DependencyLink is <work root>/node_modules, a link to the checkout's
// node_modules when it has one (installed, not committed): Node looks for
// modules, and npm for programs, in every directory above the code, and
// worktrees inside the checkout's .git found the checkout's there. A
// worktree's own node_modules (an npm install in it) comes first; "" when
// there is no link.
func (r *Repo) DependencyLink() string {
	if r.WorktreesInsideGit() {
		return ""
	}
	link := filepath.Join(r.WorkRoot(), "node_modules")
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		return ""
	}
	return link
}

// linkDependencies makes DependencyLink when the checkout has a
// node_modules directory to share and the link is not there yet, and
// removes it when there is none; once a process (a node_modules
// installed later is linked at the next start).
func (r *Repo) linkDependencies() {
	if r.WorktreesInsideGit() {
		return
	}
	link := filepath.Join(r.WorkRoot(), "node_modules")
	nm := filepath.Join(r.Dir, "node_modules")
	fi, err := os.Stat(nm)
	share := err == nil && fi.IsDir() && !linksIntoCheckout(r.Dir, nm)
	if lfi, err := os.Lstat(link); err == nil {
		if !share && lfi.Mode()&os.ModeSymlink != 0 {
			// made when it was to be shared (by an earlier version, or
			// before the checkout became a workspace)
			os.Remove(link)
		}
		return
	}
	if share {
		os.Symlink(nm, link)
	}
}

// linksIntoCheckout says node_modules holds a link to a package of the
// checkout itself (an npm, yarn or pnpm workspace's, a file: dependency):
// through the link a ticket's tests would load the checkout's code, not
// its worktree's, so such a node_modules is not shared.
func linksIntoCheckout(checkout, nm string) bool {
	if real, err := filepath.EvalSymlinks(checkout); err == nil {
		checkout = real
	}
	realNM, err := filepath.EvalSymlinks(nm)
	if err != nil {
		return false
	}
	entries, _ := os.ReadDir(nm)
	var paths []string
	for _, e := range entries {
		p := filepath.Join(nm, e.Name())
		if strings.HasPrefix(e.Name(), "@") && e.IsDir() {
			scoped, _ := os.ReadDir(p)
			for _, s := range scoped {
				paths = append(paths, filepath.Join(p, s.Name()))
			}
			continue
		}
		paths = append(paths, p)
	}
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if err != nil || fi.Mode()&os.ModeSymlink == 0 {
			continue
		}
		target, err := filepath.EvalSymlinks(p)
		if err == nil && (target == checkout || pathWithin(target, checkout)) && !pathWithin(target, realNM) {
			return true
		}
	}
	return false
}

func pathWithin(p, dir string) bool {
	return strings.HasPrefix(p, dir+string(filepath.Separator))
}

// writeSmallFile replaces p with data whole (never half-written).
func writeSmallFile(p, data string) error {
	if old, ok := readSmallRegular(p, len(data)+1); ok && old == data {
		return nil
	}
	// a temporary name of its own: two runs may write at once
	f, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".*")
	if err != nil {
		return err
	}
	_, err = f.WriteString(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}

// WorkDirs are the directories outside .git that hold checkouts of
// agent-tui's, this repository's and any other's (made under this
// XDG_DATA_HOME or the home directory's default): hidden from confined
// commands, but for their own worktree.
func (r *Repo) WorkDirs() []string {
	var dirs []string
	for _, d := range uniq(DataDir(), homeDataDir()) {
		if d != "" && dirExists(d) {
			dirs = append(dirs, d)
		}
	}
	root := r.WorkRoot()
	if !r.WorktreesInsideGit() && !slices.ContainsFunc(dirs, func(d string) bool { return pathWithin(root, d) }) {
		dirs = append(dirs, root)
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
	gd, _ := readWorkRecord(filepath.Join(root, workRootOwner))
	if gd == "" {
		return "", "", false
	}
	if back, _ := readWorkRecord(filepath.Join(gd, "agent-tui", workRootPointer)); back != root || !isGitDir(gd) {
		return "", "", false
	}
	if parts[i] == "worktrees" && i+1 < len(parts) {
		ticket = parts[i+1]
	}
	return gd, ticket, true
}

// uniq is paths without repeats, in order.
func uniq(paths ...string) []string {
	var out []string
	for _, p := range paths {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// bothRoots are the directories sub of the work root and, where worktrees
// were made before, of .git/agent-tui (once when they are one).
func (r *Repo) bothRoots(sub string) []string {
	return uniq(filepath.Join(r.legacyRoot(), sub), filepath.Join(r.WorkRoot(), sub))
}
