package workspace

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// A base view is a checkout of a base branch's commit, shared by the
// tickets that read the repository before they have a worktree of their
// own (discovery, diagnosis, an epic's phases). Not the user's checkout:
// that holds uncommitted files (a .env), may be on another branch, and
// may hold .git/agent-tui/worktrees, where older tickets' worktrees are.
type baseView struct {
	path, base string
	refs       int
}

func (r *Repo) viewRoot() string { return filepath.Join(r.WorkRoot(), "views") }

// BaseView returns a checkout of base as it is now, and a release to call
// once done reading it. A view is made once per commit and removed when
// no one reads it and base has moved on.
func (r *Repo) BaseView(ctx context.Context, base string) (string, func(), error) {
	commit, err := r.baseCommit(ctx, base)
	if err != nil {
		return "", nil, err
	}
	r.viewsMu.Lock()
	defer r.viewsMu.Unlock()
	if r.views == nil {
		r.views, r.newest = map[string]*baseView{}, map[string]string{}
	}
	v := r.views[commit]
	if v == nil || !r.worktreeReady(v.path) {
		path := filepath.Join(r.viewRoot(), commit)
		err := r.registerView(context.WithoutCancel(ctx), path, commit)
		if err == nil {
			// the files, outside the lock: they are the view's alone, and
			// a large tree must not hold up other tickets' worktrees
			_, err = r.git(context.WithoutCancel(ctx), path, nil, "read-tree", "-u", "--reset", "HEAD")
		}
		if err != nil {
			return "", nil, err
		}
		v = &baseView{path: path, base: base}
		r.views[commit] = v
	}
	v.refs++
	if old := r.newest[base]; old != commit {
		r.newest[base] = commit
		r.dropUnread(old)
	}
	return v.path, func() {
		r.viewsMu.Lock()
		defer r.viewsMu.Unlock()
		v.refs--
		if r.newest[v.base] != commit {
			r.dropUnread(commit)
		}
	}, nil
}

// registerView registers the view's worktree, its files not yet checked
// out. It is an add like a ticket's (addConcurrently), beside the ticket
// worktrees being made: waiting for the write lock, it waited for their
// whole checkouts (seconds each in a large repository), and a ticket's
// first request with it, as a burst's tickets make their worktrees.
func (r *Repo) registerView(ctx context.Context, path, commit string) error {
	add := func() error {
		_, err := r.worktreeAdd(ctx, nil, "-q", "--force", "--detach", "--no-checkout", path, commit)
		return err
	}
	// the path is the view's alone (one maker per commit, viewsMu): what
	// is there is a crash's leftover, and --force replaces its registration
	r.wtMu.RLock()
	os.RemoveAll(path)
	r.addSlots <- struct{}{}
	err := add()
	<-r.addSlots
	r.wtMu.RUnlock()
	if err == nil {
		return nil
	}
	// tripped over another add's half-written registration: again, alone
	r.wtMu.Lock()
	defer r.wtMu.Unlock()
	os.RemoveAll(path)
	return add()
}

// dropUnread removes the view of commit when no one reads it (viewsMu held).
func (r *Repo) dropUnread(commit string) {
	v := r.views[commit]
	if v == nil || v.refs > 0 {
		return
	}
	delete(r.views, commit)
	r.wtMu.Lock()
	os.RemoveAll(v.path)
	r.wtMu.Unlock()
	// its registration goes with the next prune (a finished ticket's, or
	// the next start's)
}

// DropViews removes the base views no one reads and their registrations:
// at the end of a run, so that a quit leaves no detached checkout in
// git worktree list.
func (r *Repo) DropViews(ctx context.Context) error {
	r.viewsMu.Lock()
	dropped := false
	for commit, v := range r.views {
		if v.refs == 0 {
			r.dropUnread(commit)
			dropped = true
		}
	}
	r.viewsMu.Unlock()
	// and the checkout merge results were checked in (verifyAt)
	for _, verify := range r.bothRoots("verify") {
		if dirExists(verify) {
			r.wtMu.Lock()
			os.RemoveAll(verify)
			r.wtMu.Unlock()
			dropped = true
		}
	}
	if !dropped {
		return nil
	}
	_, err := r.git(context.WithoutCancel(ctx), r.Dir, nil, "worktree", "prune")
	return err
}

// baseCommit is the commit base is at.
func (r *Repo) baseCommit(ctx context.Context, base string) (string, error) {
	commit, err := r.branchTip(ctx, base)
	switch {
	case err != nil:
		return "", fmt.Errorf("base branch %s: %w", base, err)
	case commit == "":
		return "", fmt.Errorf("base branch %s does not exist", base)
	}
	return commit, nil
}
