// Package workspace manages the user's git checkout and the per-ticket
// worktrees, always through the real git command.
package workspace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// agentIdentity is passed on every commit the engine makes so that commits
// work even where no git identity is configured.
var agentIdentity = []string{"-c", "user.name=agent-tui", "-c", "user.email=agent-tui@localhost"}

// engineConfig goes on every git command the engine runs. Commit and merge
// would otherwise start `git maintenance run --auto` after each of the
// engine's many small commits (a process each); the user's own git
// commands still run it. A git repository the model makes inside its
// worktree is never entered (status of a submodule runs git there, with
// that repository's config), and -c settings reach every git git starts.
// The diff settings keep the engine's diffs in the form it reads ("a/x
// b/x", paths from the top), whatever the user's own config says.
var engineConfig = []string{"-c", "maintenance.auto=false", "-c", "submodule.recurse=false", "-c", "core.fsmonitor=false",
	"-c", "diff.noprefix=false", "-c", "diff.mnemonicPrefix=false", "-c", "diff.relative=false",
	"-c", "diff.srcPrefix=a/", "-c", "diff.dstPrefix=b/", "-c", "diff.suppressBlankEmpty=false"}

// noSparse goes on the engine's git commands in its own worktrees and on
// their creation: git copies the checkout's sparse-checkout settings to a
// new worktree, and a ticket's worktree must hold every file.
var noSparse = []string{"-c", "core.sparseCheckout=false"}

// config is what goes before every git command of r run in dir: the
// user's hooks directory, absolute (see hooksConfig), and outside the
// user's own checkout no sparse checkout.
func (r *Repo) config(dir string) []string {
	if dir == r.Dir {
		return r.hooksConfig()
	}
	return gitArgs(r.hooksConfig(), noSparse)
}

// git is the package's git with r's settings.
func (r *Repo) git(ctx context.Context, dir string, env []string, args ...string) (string, error) {
	return git(ctx, dir, env, gitArgs(r.config(dir), args)...)
}

// worktreeAdd runs git worktree add with args: the new worktree is not
// sparse, whatever the user's checkout is.
func (r *Repo) worktreeAdd(ctx context.Context, env []string, args ...string) (string, error) {
	if err := r.claimWorkRoot(); err != nil {
		return "", err
	}
	r.depsOnce.Do(r.linkDependencies)
	return r.git(ctx, r.Dir, env, gitArgs(noSparse, []string{"worktree", "add"}, args)...)
}

// gitWithInput is the package's gitWithInput with r's settings.
func (r *Repo) gitWithInput(ctx context.Context, dir, in string, args ...string) (string, error) {
	return gitWithInput(ctx, dir, in, gitArgs(r.config(dir), args)...)
}

// gitArgs joins global options and a command into one new slice.
func gitArgs(parts ...[]string) []string {
	var args []string
	for _, p := range parts {
		args = append(args, p...)
	}
	return args
}

// gitError is a failed git invocation: the subcommand and git's own words.
type gitError struct {
	sub    string
	stderr string // as git wrote it
	err    error
}

// line is git's words on one line.
func (e *gitError) line() string { return oneLine(e.stderr) }

func (e *gitError) Error() string {
	if l := e.line(); l != "" {
		return "git " + e.sub + ": " + l
	}
	return "git " + e.sub + ": " + e.err.Error()
}

func (e *gitError) Unwrap() error { return e.err }

// exitCode reports git's exit status, or -1 when git did not run to completion.
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// gitEnv is the environment for git: no prompts, stable messages, and none of
// the variables that would point git at another repository (e.g. when we run
// inside a hook).
func gitEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR",
			"GIT_OBJECT_DIRECTORY", "GIT_PREFIX", "GIT_TERMINAL_PROMPT", "LC_ALL", "GIT_OPTIONAL_LOCKS":
			continue
		}
		env = append(env, kv)
	}
	// GIT_OPTIONAL_LOCKS=0: a status takes no index lock to refresh the
	// index, so none it leaves when killed (its run cancelled) stops the
	// next command in that worktree, nor does it race one
	env = append(env, "GIT_TERMINAL_PROMPT=0", "LC_ALL=C", "GIT_OPTIONAL_LOCKS=0")
	return append(env, extra...)
}

// subcommand names the git subcommand in args, skipping global options.
func subcommand(args []string) string {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "-c" || a == "-C" {
			i++
			continue
		}
		if strings.HasPrefix(a, "-") {
			continue
		}
		if a == "worktree" && i+1 < len(args) {
			return a + " " + args[i+1]
		}
		return a
	}
	return "?"
}

// oneLine squeezes git's multi-line stderr into one line.
func oneLine(s string) string {
	var parts []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, "; ")
}

// git runs git in dir and returns its stdout.
func git(ctx context.Context, dir string, env []string, args ...string) (string, error) {
	var stdout bytes.Buffer
	err := gitTo(ctx, dir, env, nil, &stdout, args...)
	return stdout.String(), err
}

// gitWithInput is git reading stdin from in.
func gitWithInput(ctx context.Context, dir, in string, args ...string) (string, error) {
	var stdout bytes.Buffer
	err := gitTo(ctx, dir, nil, strings.NewReader(in), &stdout, args...)
	return stdout.String(), err
}

// cappedBuffer keeps the first max bytes written and counts the rest.
type cappedBuffer struct {
	buf     bytes.Buffer
	max     int
	dropped int64
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	keep := min(len(p), max(c.max-c.buf.Len(), 0))
	c.buf.Write(p[:keep])
	c.dropped += int64(len(p) - keep)
	return len(p), nil // the rest is counted, not an error
}

// gitCapped is git keeping at most limit bytes of stdout; dropped says how
// many more there were.
func gitCapped(ctx context.Context, dir string, env []string, limit int, args ...string) (out string, dropped int64, err error) {
	c := &cappedBuffer{max: limit}
	err = gitTo(ctx, dir, env, nil, c, args...)
	return c.buf.String(), c.dropped, err
}

var errNoDir = errors.New("git: no directory to run in (a ticket without a worktree)")

// gitTo runs git in dir with its stdout going to w (stdin from in, if any).
func gitTo(ctx context.Context, dir string, env []string, in io.Reader, w io.Writer, args ...string) error {
	if dir == "" {
		// never the process's directory, which is the user's checkout
		return errNoDir
	}
	cmd := exec.CommandContext(ctx, "git", gitArgs(engineConfig, args)...)
	cmd.Dir = dir
	cmd.Env = gitEnv(env...)
	cmd.Stdin = in
	var stderr bytes.Buffer
	cmd.Stdout = w
	cmd.Stderr = &stderr
	sink := stderrSink()
	if sink != nil {
		defer sink.Close()
		cmd.Stderr = sink
	}
	err := cmd.Run()
	if sink != nil && err != nil {
		// what git said (a hook's job may go on writing: only this much)
		buf := make([]byte, 64<<10)
		n, _ := sink.ReadAt(buf, 0)
		stderr.Write(buf[:n])
	}
	if err != nil {
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return &gitError{sub: subcommand(args), stderr: stderr.String(), err: err}
	}
	return nil
}

// InitRepo creates a repository in dir (created if missing) on branch, writes
// files (slash-separated relative paths) and commits them as "initial". Tests
// and the demo use it to get a real repository.
func InitRepo(dir string, files map[string]string, branch string) error {
	ctx := context.Background()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if _, err := git(ctx, dir, nil, "init", "-q", "-b", branch); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	for name, content := range files {
		if i := strings.LastIndex(name, "/"); i > 0 {
			if err := root.MkdirAll(name[:i], 0o755); err != nil {
				return fmt.Errorf("init repo: %w", err)
			}
		}
		if err := root.WriteFile(name, []byte(content), 0o644); err != nil {
			return fmt.Errorf("init repo: %w", err)
		}
	}
	if _, err := git(ctx, dir, nil, "add", "-A"); err != nil {
		return err
	}
	args := gitArgs(agentIdentity, []string{"commit", "-q", "--allow-empty", "--no-verify", "--no-gpg-sign", "-m", "initial"})
	_, err = git(ctx, dir, nil, args...)
	return err
}
