package workspace

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// HeadOf reads what the worktree wt has checked out from git's files, no
// process started: ref is the branch's ref ("refs/heads/agent/T-1"), ""
// when HEAD is detached; commit is what HEAD is at, "" when unknown (an
// unborn branch, a ref format git's files do not show).
func (r *Repo) HeadOf(wt string) (ref, commit string) {
	admin := r.registration(wt)
	if admin == "" {
		return "", ""
	}
	data, err := os.ReadFile(filepath.Join(admin, "HEAD"))
	if err != nil {
		return "", ""
	}
	head := strings.TrimSpace(string(data))
	ref, isRef := strings.CutPrefix(head, "ref: ")
	if !isRef {
		return "", head
	}
	return ref, r.refCommit(ref)
}

// refCommit is the commit a ref names, loose or packed; "" when neither
// holds it.
func (r *Repo) refCommit(ref string) string {
	if !strings.HasPrefix(ref, "refs/") || slices.Contains(strings.Split(ref, "/"), "..") {
		return ""
	}
	if data, err := os.ReadFile(filepath.Join(r.GitDir, filepath.FromSlash(ref))); err == nil {
		return strings.TrimSpace(string(data))
	}
	f, err := os.Open(filepath.Join(r.GitDir, "packed-refs"))
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if commit, name, ok := strings.Cut(sc.Text(), " "); ok && name == ref {
			return commit
		}
	}
	return ""
}

// SetAside keeps what a person changed in the worktree wt and did not
// commit (tracked or not) as a stash, before the engine puts the worktree
// back to its last commit: it says whether there was anything to keep.
// Only what the work tree holds beyond the index counts: what an attempt
// left is staged already (the engine stages before it judges).
func (r *Repo) SetAside(ctx context.Context, wt, message string) (bool, error) {
	ctx = context.WithoutCancel(ctx) // see CommitAll
	if unstaged, err := r.hasUnstaged(ctx, wt); !unstaged || err != nil {
		return false, err
	}
	_, err := r.gitIn(ctx, wt, nil, gitArgs(agentIdentity, []string{"stash", "push", "-q", "--include-untracked", "-m", message})...)
	return err == nil, err
}
