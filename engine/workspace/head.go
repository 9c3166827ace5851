package workspace

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
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

// StashRefs is where the stashes SetAside makes for ticketID are kept:
// StashRefs(id)+"/1", "/2", … in the order they were made.
func StashRefs(ticketID string) string { return "refs/agent-tui/stash/" + ticketID }

// SetAside keeps what a person changed in the worktree wt of ticketID and
// did not commit (tracked or not) as a stash, before the engine puts the
// worktree back to its last commit: ref names it ("" when there was
// nothing to keep); `git stash apply <ref>` brings it back. Only what the
// work tree holds beyond the index counts: what an attempt left is staged
// already (the engine stages before it judges).
//
// The stash is made as git stash makes it (a commit of the work tree, its
// parents HEAD, the index and the untracked files) but is kept under a
// ref of its own, never refs/stash: that stack is the person's, shared by
// every worktree, and a `git stash pop` in their checkout would apply the
// ticket's work there. A ref of its own also keeps it from gc. The
// worktree is left as it was.
func (r *Repo) SetAside(ctx context.Context, wt, ticketID, message string) (ref string, err error) {
	ctx = context.WithoutCancel(ctx) // see CommitAll
	if err := checkTicketID(ticketID); err != nil {
		return "", err
	}
	if unstaged, err := r.hasUnstaged(ctx, wt); !unstaged || err != nil {
		return "", err
	}
	// pinned, with the registration kept: its index is read below
	pin, admin, err := r.pinEnv(wt)
	if err != nil {
		return "", err
	}
	if admin == "" {
		return "", errNotWorktree(wt, r.Dir) // the user's checkout
	}
	restoreDotGit(wt, admin)
	run := func(env []string, in string, args ...string) (string, error) {
		env = append(slices.Clip(pin), env...)
		var out bytes.Buffer
		var stdin io.Reader
		if in != "" {
			stdin = strings.NewReader(in)
		}
		err := gitTo(ctx, wt, env, stdin, &out, gitArgs(r.config(wt), args)...)
		return strings.TrimSpace(out.String()), err
	}
	commitTree := func(tree, msg string, parents ...string) (string, error) {
		args := gitArgs(agentIdentity, []string{"commit-tree", "--no-gpg-sign", tree, "-m", msg})
		for _, p := range parents {
			args = append(args, "-p", p)
		}
		return run(nil, "", args...)
	}
	head, err := run(nil, "", "rev-parse", "--verify", "-q", "HEAD^{commit}")
	if err != nil {
		return "", err
	}
	subject, _ := run(nil, "", "log", "-1", "--format=%h %s", head)
	on := "on " + BranchName(ticketID) + ": " + subject
	indexTree, err := run(nil, "", "write-tree")
	if err != nil {
		return "", err
	}
	indexCommit, err := commitTree(indexTree, "index "+on, head)
	if err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp("", "agent-tui-stash-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	// the work tree's tracked files: the index with every change to them
	work := filepath.Join(tmp, "work")
	data, err := os.ReadFile(filepath.Join(admin, "index"))
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(work, data, 0o600); err != nil {
		return "", err
	}
	if _, err := run([]string{"GIT_INDEX_FILE=" + work}, "", "add", "-u", "--", ":/"); err != nil {
		return "", err
	}
	workTree, err := run([]string{"GIT_INDEX_FILE=" + work}, "", "write-tree")
	if err != nil {
		return "", err
	}
	parents := []string{head, indexCommit}
	// the untracked files, as git stash -u takes them (a repository
	// inside, listed as "dir/", is left out, as git stash leaves it)
	list, err := run(nil, "", "ls-files", "-z", "--others", "--exclude-standard", "--", ":/")
	if err != nil {
		return "", err
	}
	var untracked strings.Builder
	for _, f := range strings.Split(list, "\x00") {
		if f != "" && !strings.HasSuffix(f, "/") {
			untracked.WriteString(f + "\x00")
		}
	}
	if untracked.Len() > 0 {
		loose := []string{"GIT_INDEX_FILE=" + filepath.Join(tmp, "untracked")}
		if _, err := run(loose, untracked.String(), "update-index", "-z", "--add", "--remove", "--stdin"); err != nil {
			return "", err
		}
		tree, err := run(loose, "", "write-tree")
		if err != nil {
			return "", err
		}
		commit, err := commitTree(tree, "untracked files "+on)
		if err != nil {
			return "", err
		}
		parents = append(parents, commit)
	}
	stash, err := commitTree(workTree, message, parents...)
	if err != nil {
		return "", err
	}
	// numbered after the ticket's last one; "" as the old value: made
	// new, never over one that is there
	refs, err := run(nil, "", "for-each-ref", "--format=%(refname)", StashRefs(ticketID)+"/")
	if err != nil {
		return "", err
	}
	n := 0
	for _, line := range strings.Fields(refs) {
		var k int
		if _, err := fmt.Sscanf(strings.TrimPrefix(line, StashRefs(ticketID)+"/"), "%d", &k); err == nil {
			n = max(n, k)
		}
	}
	ref = fmt.Sprintf("%s/%d", StashRefs(ticketID), n+1)
	if _, err := run(nil, "", "update-ref", "-m", message, ref, stash, ""); err != nil {
		return "", err
	}
	return ref, nil
}
