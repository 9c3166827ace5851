package workspace

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// A sensitive ticket's work must not be readable by other tickets'
// commands, yet every worktree's git reads the repository's one object
// store. So a sensitive ticket's objects (its blobs, trees and commits) go
// to a store of its own, .git/agent-tui/objects/ID, which the repository
// lists as an alternate: agent-tui's git and the user's read them, while
// confined commands, for which .git/agent-tui is hidden, cannot. Once the
// ticket is merged they move into the repository's store.

// PrivateObjects is where a sensitive ticket's git objects are kept.
func (r *Repo) PrivateObjects(ticketID string) string {
	return filepath.Join(r.GitDir, "agent-tui", "objects", ticketID)
}

// PrivateStores lists the private object stores there are.
func (r *Repo) PrivateStores() []string {
	dirs, _ := filepath.Glob(filepath.Join(r.GitDir, "agent-tui", "objects", "*"))
	return dirs
}

func (r *Repo) alternatesFile() string {
	return filepath.Join(r.GitDir, "objects", "info", "alternates")
}

// KeepPrivate gives ticketID's worktree a private object store from now on
// (see PrivateObjects). It is idempotent.
func (r *Repo) KeepPrivate(ticketID string) error {
	if err := checkTicketID(ticketID); err != nil {
		return err
	}
	dir := r.PrivateObjects(ticketID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	os.Remove(filepath.Join(dir, publishedMark)) // in use again: not to be swept
	return r.editAlternates(func(lines []string) []string {
		if slices.Contains(lines, alternate(ticketID)) {
			return lines
		}
		return append(lines, alternate(ticketID))
	})
}

// alternate is the alternates entry of ticketID's store: relative to
// .git/objects, so that moving the repository keeps it.
func alternate(ticketID string) string {
	return "../agent-tui/objects/" + ticketID
}

// Publish puts ticketID's private objects into the repository's store,
// once its work is merged (and so anyone's to read), and takes the store
// out of the alternates. The objects are linked, not moved, and the store
// is removed only at the next start (SweepPublished): a git process
// running now may have found an object in neither place otherwise.
func (r *Repo) Publish(ticketID string) error {
	if err := checkTicketID(ticketID); err != nil {
		return err
	}
	dir := r.PrivateObjects(ticketID)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	main := filepath.Join(r.GitDir, "objects")
	// loose objects, then packs (each .pack before its .idx, so that no
	// index ever names a pack that is not there)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".idx") {
			return err
		}
		return linkObject(dir, main, p)
	})
	if err == nil {
		err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".idx") {
				return err
			}
			return linkObject(dir, main, p)
		})
	}
	if err != nil {
		return fmt.Errorf("publish objects of %s: %w", ticketID, err)
	}
	if err := r.editAlternates(func(lines []string) []string {
		return slices.DeleteFunc(lines, func(l string) bool { return l == alternate(ticketID) || l == dir })
	}); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, publishedMark), nil, 0o644)
}

// publishedMark, in a store, says Publish is done with it.
const publishedMark = "published"

// SweepPublished removes the stores Publish is done with (at start, when
// no git process of the last run reads them any more).
func (r *Repo) SweepPublished() {
	for _, dir := range r.PrivateStores() {
		if _, err := os.Stat(filepath.Join(dir, publishedMark)); err == nil {
			os.RemoveAll(dir)
		}
	}
}

// linkObject gives the file at p, under from, a second name at the same
// place under to (a copy where links cannot be made); one there already
// (the same object) stays.
func linkObject(from, to, p string) error {
	rel, err := filepath.Rel(from, p)
	if err != nil || rel == publishedMark || rel == "info" || strings.HasPrefix(rel, "info"+string(filepath.Separator)) {
		return err
	}
	dst := filepath.Join(to, rel)
	if _, err := os.Lstat(dst); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if os.Link(p, dst) == nil {
		return nil
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	tmp := dst + ".agent-tui"
	if err := os.WriteFile(tmp, data, 0o444); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// editAlternates rewrites the repository's alternates file through edit,
// whole or not at all; an empty list removes it.
func (r *Repo) editAlternates(edit func([]string) []string) error {
	r.alternatesMu.Lock()
	defer r.alternatesMu.Unlock()
	path := r.alternatesFile()
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	var lines []string
	for l := range strings.Lines(string(data)) {
		if l = strings.TrimRight(l, "\r\n"); l != "" {
			lines = append(lines, l)
		}
	}
	lines = edit(lines)
	if len(lines) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".agent-tui"
	if err := os.WriteFile(tmp, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// privateEnv sends the objects git writes in the worktree wt to its
// ticket's private store, if it has one.
func (r *Repo) privateEnv(wt string) []string {
	if !r.isWorktreeRoot(filepath.Dir(wt)) {
		return nil
	}
	return r.storeEnv(filepath.Base(wt))
}

// branchEnv is privateEnv for git working on a ticket's branch from the
// user's checkout (a merge): what it writes (merged files, conflicts
// and all) stays private until Publish.
func (r *Repo) branchEnv(branch string) []string {
	id, ok := strings.CutPrefix(branch, "agent/")
	if !ok || checkTicketID(id) != nil {
		return nil
	}
	return r.storeEnv(id)
}

func (r *Repo) storeEnv(ticketID string) []string {
	dir := r.PrivateObjects(ticketID)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil
	}
	return []string{"GIT_OBJECT_DIRECTORY=" + dir, "GIT_ALTERNATE_OBJECT_DIRECTORIES=" + filepath.Join(r.GitDir, "objects")}
}

// BaseNeedsStore says whether base's history holds a commit of
// ticketID's private store: its branch merged by hand.
func (r *Repo) BaseNeedsStore(ctx context.Context, ticketID, base string) bool {
	tip, err := r.branchTip(ctx, BranchName(ticketID))
	if err != nil || len(tip) < 3 {
		return false
	}
	if _, err := os.Stat(filepath.Join(r.PrivateObjects(ticketID), tip[:2], tip[2:])); err != nil {
		return false // the branch's last commit is not the store's
	}
	return r.IsAncestor(ctx, tip, "refs/heads/"+base)
}
