package workspace

import "context"

// ResetHard drops every uncommitted change in a worktree, so a new attempt
// starts from the branch's last accepted commit.
func (r *Repo) ResetHard(ctx context.Context, wt string) error {
	ctx = context.WithoutCancel(ctx) // see EnsureWorktree
	if _, err := r.gitIn(ctx, wt, nil, "reset", "--hard", "-q"); err != nil {
		return err
	}
	// -ff: a git repository the model made inside goes too
	_, err := r.gitIn(ctx, wt, nil, "clean", "-ffdq")
	return err
}
