package workspace

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/singleflight"

	"agent-tui/engine/wtfile"
)

// Repo is the user's repository. Use it through a pointer: it serializes the
// git operations that would otherwise fight over git's locks.
type Repo struct {
	Dir    string // toplevel of the user's checkout
	GitDir string // git common dir, absolute

	// git worktree add/remove/prune share .git/worktrees: new worktrees are
	// added two at a time (read lock and addSlots); anything else that
	// changes the registrations holds the write lock
	wtMu     sync.RWMutex
	addSlots chan struct{}
	creating singleflight.Group // worktree creations under way, by ticket
	branches batcher[*branchReq]
	madeMu   sync.Mutex
	made     map[string]bool    // branches this process created: no one else's
	tips     batcher[*tipReq]   // branches' commits, asked for together
	merges   batcher[*mergeReq] // merges into the user's checkout happen one batch at a time
	prunes   batcher[chan error]

	viewsMu sync.Mutex
	views   map[string]*baseView // by commit
	newest  map[string]string    // base branch → the commit of its newest view

	// looked up once per process: every merge needs them
	identityOnce       sync.Once
	identity           []string
	checkoutGitDirOnce sync.Once
	checkoutGitDir     string
	gitVersionOnce     sync.Once
	mergeTree          bool // git merge-tree --write-tree exists

	hashLen int // bytes in an object id: 20 (SHA-1) or 32 (SHA-256)

	// -c core.hooksPath=<absolute>, when the repository's is relative:
	// git would take it from the worktree a command runs in, whose files
	// the model writes
	hooks       []string
	hooksDir    string
	hooksOnce   sync.Once
	driverFiles []string // see DriverFiles

	alternatesMu sync.Mutex // .git/objects/info/alternates (see KeepPrivate)

	workRoot  string // see workroot.go
	workToken string
	claimMu   sync.Mutex
	claimed   bool // the work root is recorded both ways
	depsOnce  sync.Once
}

func errNotWorktree(wt, repo string) error {
	return fmt.Errorf("%s is not a worktree of %s", wt, repo)
}

// MergeBlocked says why a merge into the user's checkout did not happen; the
// checkout is left as it was.
type MergeBlocked struct {
	Reason string
}

func (e *MergeBlocked) Error() string { return "merge blocked: " + e.Reason }

// Report is what Reconcile found.
type Report struct {
	Recreated []string // ticket IDs whose missing worktree was recreated from its branch
	Orphans   []string // worktree paths nobody knows about; left in place
	Errors    []string
}

// Open finds the repository containing dir.
func Open(dir string) (*Repo, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("not a git repository: %s", dir)
	}
	dir = abs // named in full: "." says nothing in an error
	if gitDir, ticket, ok := inTicketWorktree(abs); ok {
		// git must not look for the repository there: the worktree's .git
		// file, or a repository made inside it, are the model's to write
		if filepath.Base(gitDir) != ".git" {
			what := "agent-tui's own directory"
			if ticket != "" {
				what = "the worktree of ticket " + ticket
			}
			return nil, fmt.Errorf("%s is in %s: run agent-tui in the repository itself", dir, what)
		}
		abs = filepath.Dir(gitDir)
	}
	out, err := git(context.Background(), abs, nil, "rev-parse", "--path-format=absolute", "--show-toplevel", "--git-common-dir", "--show-object-format")
	if err != nil {
		if bare, _ := git(context.Background(), abs, nil, "rev-parse", "--is-bare-repository"); strings.TrimSpace(bare) == "true" {
			return nil, fmt.Errorf("%s is a bare repository: agent-tui works in a checkout of it (git clone it, or git worktree add one)", dir)
		}
		return nil, openError(dir, abs, err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || lines[0] == "" {
		// A bare repository has no toplevel: there is no checkout to work with.
		return nil, fmt.Errorf("not a git repository: %s", dir)
	}
	r := &Repo{Dir: filepath.Clean(lines[0]), GitDir: filepath.Clean(lines[1]), addSlots: make(chan struct{}, 2), hashLen: 20}
	if lines[2] == "sha256" {
		r.hashLen = 32
	}
	for _, root := range []string{r.legacyWorktreeRoot(), ""} {
		if root == "" {
			// the name of a new root comes from the checkout's
			r.workRoot = r.resolveWorkRoot()
			root = r.WorktreeRoot()
		}
		if rel, err := filepath.Rel(root, r.Dir); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
			// inside a ticket's worktree (its path is in `show`): the
			// checkout agent-tui works with is the repository's own
			if filepath.Base(r.GitDir) != ".git" {
				return nil, fmt.Errorf("%s is the worktree of ticket %s: run agent-tui in the repository itself", r.Dir, strings.Split(rel, string(filepath.Separator))[0])
			}
			r.Dir = filepath.Dir(r.GitDir)
		}
	}
	return r, nil
}

// hooksConfig is -c core.hooksPath=<absolute> for every engine git
// command: the hooks directory as the repository's config gave it when
// first asked (a relative path made absolute against the checkout, none
// meaning the git dir's hooks). Git would otherwise take a relative path
// from the worktree a command runs in, whose files the model writes, and
// read a hooks path from config only a worktree sees (includeIf onbranch:
// or gitdir:) or set later (husky's prepare on npm install).
func (r *Repo) hooksConfig() []string {
	r.hooksOnce.Do(func() {
		hp, err := git(context.Background(), r.Dir, nil, "config", "--type=path", "--get", "core.hooksPath")
		hp = strings.TrimRight(hp, "\n")
		switch {
		case err != nil || hp == "":
			hp = filepath.Join(r.GitDir, "hooks")
		case !filepath.IsAbs(hp):
			hp = filepath.Join(r.Dir, hp)
		}
		r.hooksDir = filepath.Clean(hp)
		r.hooks = append([]string{"-c", "core.hooksPath=" + r.hooksDir}, r.pinnedDrivers()...)
	})
	return r.hooks
}

// pinnedDrivers are -c settings for the filter and merge drivers the
// config gives with a relative path (filter.x.clean = ./tools/clean.sh,
// or sh tools/clean.sh), made absolute against the checkout: git runs
// them through the shell in the directory it works in, which for a ticket
// is its worktree, whose files the model writes (and its .gitattributes
// choose the driver). A filter without placeholders runs in the checkout,
// pinned or not.
func (r *Repo) pinnedDrivers() []string {
	out, err := git(context.Background(), r.Dir, nil, "config", "-z", "--get-regexp", `^(filter\..+\.(clean|smudge|process)|merge\..+\.driver)$`)
	if err != nil {
		return nil
	}
	var args []string
	for _, entry := range strings.Split(out, "\x00") {
		key, value, ok := strings.Cut(entry, "\n")
		if !ok {
			continue
		}
		words := strings.Fields(value)
		pinned := false
		for _, i := range r.driverFileWords(words) {
			rel := path.Clean(words[i])
			words[i], pinned = shellQuote(filepath.Join(r.Dir, rel)), true
			if !strings.HasPrefix(rel, "../") {
				r.driverFiles = append(r.driverFiles, rel)
			}
		}
		// a filter runs from the checkout too, pinned or not: what it reads
		// from where it runs is then yours, not the ticket's (a script's
		// own relative calls, python -m's modules, a formatter's config);
		// not where git names files relative to where it works (%f, a
		// merge driver's %A), and a filter's content is its stdin
		inCheckout := !strings.HasPrefix(key, "merge.") && !strings.Contains(value, "%")
		if !pinned && !inCheckout {
			continue
		}
		cmd := value
		if pinned {
			cmd = strings.Join(words, " ")
		}
		if inCheckout {
			cmd = "cd " + shellQuote(r.Dir) + " && " + cmd
		}
		args = append(args, "-c", key+"="+cmd)
	}
	return args
}

// driverFileWords are the indexes of the words of a driver's command
// that name files by a relative path: the program given as a path
// (./tidy.sh), an interpreter's script (sh tidy.sh, env sh tidy), a file
// after -f (sed -f tidy.sed, awk -f tidy), another path into the
// checkout (tools/tidy.conf). Not a module (python3 -m json.tool), code
// (sh -c "…", sed s/a/b/), or anything after a quote, which is not read.
func (r *Repo) driverFileWords(words []string) []int {
	relative := func(w string) bool {
		return w != "" && !filepath.IsAbs(w) && !strings.ContainsAny(w[:1], "-~$%")
	}
	var files []int
	i := 0
	for i < len(words) && driverWrappers[filepath.Base(words[i])] {
		// (nice -n 10, env A=1)
		for i++; i < len(words) && (strings.HasPrefix(words[i], "-") || strings.Contains(words[i], "=") || strings.Trim(words[i], "0123456789") == ""); i++ {
		}
	}
	if i >= len(words) {
		return nil
	}
	prog := filepath.Base(words[i])
	if relative(words[i]) && strings.Contains(words[i], "/") && !strings.ContainsAny(words[i], "'\"`") {
		files = append(files, i)
	}
	for i++; i < len(words); i++ {
		w := words[i]
		switch {
		case strings.ContainsAny(w, "'\"`\\;|&<>()"):
			return files // quoting or shell syntax: not read further
		case driverInterpreters[prog] != "" && strings.HasPrefix(w, "-"):
			for _, flag := range strings.Fields(driverInterpreters[prog]) {
				// bundled too: perl -pe, sh -ec
				if w == flag || len(flag) == 2 && !strings.HasPrefix(w, "--") && strings.Contains(w[1:], flag[1:]) {
					return files // code or a module follows, not a script
				}
			}
		case driverInterpreters[prog] != "":
			if relative(w) {
				files = append(files, i)
			}
			return files // the rest are the script's arguments
		case (w == "-f" || w == "--file") && i+1 < len(words) && relative(words[i+1]):
			i++
			files = append(files, i)
		case relative(w) && strings.Contains(w, "/") && dirExists(filepath.Join(r.Dir, filepath.Dir(w))):
			files = append(files, i)
		}
	}
	return files
}

var (
	// driverInterpreters run the script their first argument names,
	// but after the options that give code or a module instead
	driverInterpreters = map[string]string{"sh": " -c ", "bash": " -c ", "dash": " -c ", "zsh": " -c ", "ksh": " -c ",
		"python": " -c -m ", "python3": " -c -m ", "perl": " -e -E ", "ruby": " -e ", "node": " -e -p --eval --print ", "php": " -r "}
	// driverWrappers run the command that follows their options
	driverWrappers = map[string]bool{"env": true, "nice": true, "nohup": true, "command": true, "exec": true, "ionice": true}
)

// DriverFiles are the files of the checkout (slash paths) that the
// config's filter and merge drivers run (see pinnedDrivers): they run as
// the user, unconfined, on their git commands, so no ticket may change
// them.
func (r *Repo) DriverFiles() []string {
	r.hooksConfig()
	return r.driverFiles
}

// shellQuote is s as one word to sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// HooksInTree is the directory of the repository's hooks relative to the
// checkout, with slashes, when it lies in the work tree (husky's .husky/_
// counts as .husky, whose scripts its hooks run); "" when it does not.
// Files there run as the user, unconfined, on their next git command: no
// ticket may change them.
func (r *Repo) HooksInTree() string {
	r.hooksConfig()
	rel, err := filepath.Rel(r.Dir, r.hooksDir)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return ""
	}
	rel = filepath.ToSlash(rel)
	if rel == ".git" || strings.HasPrefix(rel, ".git/") {
		return "" // no ticket writes there
	}
	if path.Base(rel) == "_" && path.Dir(rel) != "." {
		rel = path.Dir(rel)
	}
	return rel
}

// openError says why git would not open dir, in git's own words: not
// every failure is "not a git repository" (git missing, a repository git
// refuses for its owner, a broken .git).
func openError(dir, abs string, err error) error {
	if errors.Is(err, exec.ErrNotFound) {
		return errors.New("git not found: agent-tui needs git on PATH")
	}
	// git never ran there (exec's chdir failed)
	if fi, err := os.Stat(abs); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("not a git repository: %s (no such directory)", dir)
	} else if err != nil || !fi.IsDir() {
		return fmt.Errorf("not a git repository: %s (not a directory)", dir)
	}
	var ge *gitError
	if !errors.As(err, &ge) || ge.line() == "" {
		return fmt.Errorf("cannot run git: %v", err)
	}
	// git's first line is the reason; later ones are advice, kept only
	// for safe.directory, the way out of the ownership check
	lines := strings.Split(strings.TrimSpace(ge.stderr), "\n")
	reason := strings.TrimPrefix(strings.TrimSpace(lines[0]), "fatal: ")
	if strings.HasPrefix(reason, "not a git repository") {
		for d := abs; ; d = filepath.Dir(d) {
			if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
				return fmt.Errorf("not a git repository: %s (git does not take %s for one: is its HEAD broken, or its objects or refs missing?)", dir, filepath.Join(d, ".git"))
			}
			if filepath.Dir(d) == d {
				break
			}
		}
		return fmt.Errorf("not a git repository: %s", dir)
	}
	for _, l := range lines[1:] {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "git config --global --add safe.directory") {
			reason += " (if you trust it: " + l + ")"
		}
	}
	return fmt.Errorf("git cannot open the repository at %s: %s", dir, reason)
}

// inTicketWorktree says whether dir lies in agent-tui's own directory of
// a repository, <git dir>/agent-tui (a ticket's worktree, its temporary
// directory, a view) or its work root (see workroot.go), judged from its
// path as given and with symlinks resolved (a link there may lead
// elsewhere in it), and the git directory it names alone; ticket names
// the worktree's ticket, if any.
func inTicketWorktree(dir string) (gitDir, ticket string, ok bool) {
	paths := []string{filepath.Clean(dir)}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		paths = append(paths, real)
	}
	for _, p := range paths {
		parts := strings.Split(p, string(filepath.Separator))
		// the outermost match: directories inside can be named anything
		for i := 1; i+1 < len(parts); i++ {
			if gd, ticket, ok := inWorkRoot(parts, i); ok {
				return gd, ticket, true
			}
			if parts[i] != "agent-tui" {
				continue
			}
			gd := strings.Join(parts[:i], string(filepath.Separator))
			head, err1 := os.Lstat(filepath.Join(gd, "HEAD"))
			objects, err2 := os.Lstat(filepath.Join(gd, "objects"))
			if err1 != nil || err2 != nil || !head.Mode().IsRegular() || !objects.IsDir() {
				continue
			}
			if parts[i+1] == "worktrees" && i+2 < len(parts) {
				ticket = parts[i+2]
			}
			return gd, ticket, true
		}
	}
	return "", "", false
}

// ErrDetached is returned by CurrentBranch when no branch is checked out.
var ErrDetached = errors.New("the checkout is in detached HEAD state, not on a branch")

// CurrentBranch is the branch checked out in the user's checkout.
func (r *Repo) CurrentBranch(ctx context.Context) (string, error) {
	out, err := r.git(ctx, r.Dir, nil, "symbolic-ref", "--short", "-q", "HEAD")
	if err != nil {
		if exitCode(err) == 1 {
			return "", ErrDetached
		}
		return "", err
	}
	return strings.TrimSpace(out), nil
}

// IsClean reports whether the user's checkout has no changes to tracked files
// and no untracked files.
func (r *Repo) IsClean(ctx context.Context) (bool, error) {
	out, err := r.git(ctx, r.Dir, nil, "status", "--porcelain", "--untracked-files=all")
	if err != nil {
		return false, err
	}
	return strings.TrimSpace(out) == "", nil
}

// uncommitted lists the tracked files of the user's checkout that have
// changes, staged or not (dirty), and its untracked and ignored entries
// (loose; a directory ends in "/" and holds no tracked file). A merge
// must not overwrite a loose one: git refuses for an untracked file, but
// replaces an ignored one (see looseInTheWay).
func (r *Repo) uncommitted(ctx context.Context) (dirty, loose []string, err error) {
	// --ignored=matching: an ignored directory is one entry, not walked
	out, err := r.git(ctx, r.Dir, nil, "status", "--porcelain", "-z", "--untracked-files=normal", "--ignored=matching")
	if err != nil {
		return nil, nil, err
	}
	fields := strings.Split(out, "\x00")
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if len(f) < 4 {
			continue
		}
		switch f[:2] {
		case "??", "!!":
			loose = append(loose, f[3:])
			continue
		}
		dirty = append(dirty, f[3:])
		if f[0] == 'R' || f[0] == 'C' {
			i++ // the name it was renamed or copied from
		}
	}
	return dirty, loose, nil
}

// SomeFiles names up to five files, and how many more there are.
func SomeFiles(files []string) string {
	if len(files) <= 5 {
		return strings.Join(files, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(files[:5], ", "), len(files)-5)
}

// inTheWay reads, from a failed merge's error, the files of the checkout
// git refused to overwrite or remove: local changes (git status may not
// show them: assume-unchanged) and untracked files, a directory's too.
func inTheWay(err error) (local, untracked []string) {
	var ge *gitError
	if !errors.As(err, &ge) {
		return nil, nil
	}
	lines := strings.Split(ge.stderr, "\n")
	var list *[]string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasSuffix(l, "local changes to the following files would be overwritten by merge:"):
			list = &local
		case strings.HasSuffix(l, "untracked working tree files would be overwritten by merge:"),
			strings.HasSuffix(l, "untracked working tree files would be removed by merge:"),
			strings.HasSuffix(l, "Updating the following directories would lose untracked files in them:"):
			list = &untracked
		case l == "" || strings.HasPrefix(l, "Please ") || l == "Aborting" || strings.HasPrefix(l, "error:") || strings.HasPrefix(l, "fatal:"):
			list = nil
		case list != nil:
			*list = append(*list, l)
		}
	}
	return local, untracked
}

// inTheWayReason is why a merge that git refused (inTheWay) is blocked.
func inTheWayReason(branch string, local, untracked []string) string {
	var why []string
	if len(local) > 0 {
		why = append(why, "your checkout has local changes that merging "+branch+" would overwrite (git status may not show them: assume-unchanged or skip-worktree files): "+SomeFiles(local))
	}
	if len(untracked) > 0 {
		why = append(why, "untracked files in your checkout would be overwritten by merging "+branch+": "+SomeFiles(untracked))
	}
	return strings.Join(why, "; ") + "; commit or move them away, then approve again"
}

// looseInTheWay lists the loose entries of the checkout (see uncommitted)
// that a merge adding the files added from from to to (with mergeBase,
// since the merge-base of the two) would overwrite or delete: the same
// path, a file where the merge puts a directory, anything inside a
// directory the merge replaces with a file, and an existing file inside a
// loose directory that the merge writes.
func (r *Repo) looseInTheWay(ctx context.Context, loose []string, from, to string, mergeBase bool) ([]string, error) {
	added, err := r.changedBy(ctx, from, to, "A", mergeBase)
	if err != nil {
		return nil, err
	}
	var hit []string
	for _, a := range added {
		for _, e := range loose {
			name, isDir := strings.CutSuffix(e, "/")
			switch {
			case a == name, strings.HasPrefix(name, a+"/"):
				hit = append(hit, e)
			case strings.HasPrefix(a, name+"/"):
				if !isDir {
					hit = append(hit, e)
				} else if _, err := os.Lstat(filepath.Join(r.Dir, filepath.FromSlash(a))); err == nil {
					hit = append(hit, a)
				}
			}
		}
	}
	slices.Sort(hit)
	return slices.Compact(hit), nil
}

// changedBy lists the files that differ between from and to (commits or
// trees), of those filter keeps (git's --diff-filter, "" for all); with
// mergeBase, from the merge-base of the two.
func (r *Repo) changedBy(ctx context.Context, from, to, filter string, mergeBase bool) ([]string, error) {
	args := []string{"diff-tree", "-r", "-z", "--no-renames", "--name-only"}
	if filter != "" {
		args = append(args, "--diff-filter="+filter)
	}
	if mergeBase {
		args = append(args, "--merge-base")
	}
	out, err := r.git(ctx, r.Dir, nil, append(args, from, to, "--")...)
	if err != nil {
		return nil, err
	}
	return strings.FieldsFunc(out, func(c rune) bool { return c == 0 }), nil
}

// looseBlocked is why merging branch would overwrite the loose files.
func looseBlocked(branch string, files []string) *MergeBlocked {
	return &MergeBlocked{Reason: fmt.Sprintf("untracked or ignored files in your checkout would be overwritten or deleted by merging %s: %s; move them away, then approve again", branch, SomeFiles(files))}
}

// WorktreeRoot holds the ticket worktrees made from now on.
func (r *Repo) WorktreeRoot() string {
	return filepath.Join(r.WorkRoot(), "worktrees")
}

// legacyWorktreeRoot held them inside .git; a ticket's worktree made
// there stays there until it is removed.
func (r *Repo) legacyWorktreeRoot() string {
	return filepath.Join(r.legacyRoot(), "worktrees")
}

// WorktreePath is where the worktree of ticketID lives.
func (r *Repo) WorktreePath(ticketID string) string {
	if old := filepath.Join(r.legacyWorktreeRoot(), ticketID); !r.WorktreesInsideGit() {
		if _, err := os.Lstat(old); err == nil {
			return old
		}
	}
	return filepath.Join(r.WorktreeRoot(), ticketID)
}

// isWorktreeRoot says dir holds ticket worktrees, now or before.
func (r *Repo) isWorktreeRoot(dir string) bool {
	return dir == r.WorktreeRoot() || dir == r.legacyWorktreeRoot()
}

// BranchName is the branch of ticketID.
func BranchName(ticketID string) string { return "agent/" + ticketID }

var ticketIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`)

// checkTicketID keeps ticket IDs usable as one path element and a branch name.
func checkTicketID(id string) error {
	if !ticketIDRe.MatchString(id) {
		return fmt.Errorf("invalid ticket id %q", id)
	}
	return nil
}

type worktreeEntry struct {
	path     string
	branch   string // short name, "" when detached
	prunable bool
}

func (r *Repo) listWorktrees(ctx context.Context) ([]worktreeEntry, error) {
	out, err := r.git(ctx, r.Dir, nil, "worktree", "list", "--porcelain")
	if err != nil {
		return nil, err
	}
	var list []worktreeEntry
	var cur *worktreeEntry
	for _, line := range strings.Split(out, "\n") {
		key, val, _ := strings.Cut(line, " ")
		switch key {
		case "worktree":
			list = append(list, worktreeEntry{path: filepath.Clean(val)})
			cur = &list[len(list)-1]
		case "branch":
			if cur != nil {
				cur.branch = strings.TrimPrefix(val, "refs/heads/")
			}
		case "prunable":
			if cur != nil {
				cur.prunable = true
			}
		}
	}
	return list, nil
}

// samePath compares paths after resolving symlinks where possible, since git
// may record a path spelled differently from ours (e.g. /tmp vs /private/tmp).
func samePath(a, b string) bool {
	if filepath.Clean(a) == filepath.Clean(b) {
		return true
	}
	ra, err1 := filepath.EvalSymlinks(a)
	rb, err2 := filepath.EvalSymlinks(b)
	return err1 == nil && err2 == nil && ra == rb
}

// CheckBase says, in a user's words, why branch cannot be a ticket's base:
// it does not exist, or has no commit yet (a new repository).
func (r *Repo) CheckBase(ctx context.Context, branch string) error {
	if strings.TrimSpace(branch) == "" {
		return errors.New("no base branch: set base_branch in the config")
	}
	_, err := r.git(ctx, r.Dir, nil, "rev-parse", "--verify", "-q", "refs/heads/"+branch+"^{commit}")
	if exitCode(err) == 1 {
		return fmt.Errorf("base branch %q has no commit (a new repository, or no such branch): commit something first, or set base_branch", branch)
	}
	return err
}

func (r *Repo) branchExists(ctx context.Context, branch string) (bool, error) {
	_, err := r.git(ctx, r.Dir, nil, "rev-parse", "--verify", "-q", "refs/heads/"+branch)
	if err == nil {
		return true, nil
	}
	if exitCode(err) == 1 {
		return false, nil
	}
	return false, err
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// EnsureWorktree returns the worktree of ticketID, creating it when needed:
// from the existing branch agent/ticketID, or as a new branch from base.
func (r *Repo) EnsureWorktree(ctx context.Context, ticketID, base string) (path, branch string, err error) {
	// a git command killed half-way leaves a half-registered worktree or a
	// stale index lock behind: once started, it finishes
	ctx = context.WithoutCancel(ctx)
	if err := checkTicketID(ticketID); err != nil {
		return "", "", err
	}
	if path, branch := r.WorktreePath(ticketID), BranchName(ticketID); r.worktreeReady(path) {
		return path, branch, nil
	}
	// Creations queue (see addConcurrently). A second caller for the same
	// ticket waits for the first one's result rather than queueing again
	// behind every other ticket's creation.
	_, err, _ = r.creating.Do(ticketID, func() (any, error) {
		if r.addConcurrently(ctx, ticketID, base) {
			return nil, nil
		}
		r.wtMu.Lock()
		defer r.wtMu.Unlock()
		_, _, err := r.ensureLocked(ctx, ticketID, base)
		return nil, err
	})
	if err != nil {
		// said plainly: no try does better while that branch is there
		if in := r.branchInTheWay(ctx, BranchName(ticketID)); in != nil {
			return "", "", in
		}
		return "", "", err
	}
	return r.WorktreePath(ticketID), BranchName(ticketID), nil
}

// addConcurrently makes a new ticket's worktree in the common case, one
// `git worktree add` beside at most one other. Each add reads every
// registered worktree, so a burst of tickets makes creation the slowest
// queue in the engine; two at a time use both cores of a small machine.
// git can trip over another add's half-written registration: such an add
// fails cleanly (keeping the branch it made), reports false, and the
// caller does it again alone.
func (r *Repo) addConcurrently(ctx context.Context, ticketID, base string) bool {
	path, branch := r.WorktreePath(ticketID), BranchName(ticketID)
	r.wtMu.RLock()
	defer r.wtMu.RUnlock()
	if dirExists(path) {
		return false // something is there: the careful way
	}
	// made apart from the add: `worktree add -b` would start a `git branch`
	// for each ticket, where one update-ref makes a whole burst's branches
	if err := r.createBranch(ctx, branch, base); err != nil {
		return false
	}
	r.addSlots <- struct{}{}
	defer func() { <-r.addSlots }()
	if err := os.MkdirAll(r.WorktreeRoot(), 0o755); err != nil {
		return false
	}
	// --force: the branch was made just now, so it is checked out nowhere,
	// and git need not read every registered worktree to find out (about
	// 2 ms an add with 50 of them); the path was checked free above
	_, err := r.worktreeAdd(ctx, nil, "-q", "--force", path, branch)
	return err == nil
}

type branchReq struct {
	branch, base string
	done         chan error
}

// createBranch makes the new branch `branch` at base. Branches asked for
// while another batch is being made are made together, in one transaction:
// if any of them cannot be made (it exists, say), none is, and each caller
// gets the error.
func (r *Repo) createBranch(ctx context.Context, branch, base string) error {
	req := &branchReq{branch: branch, base: base, done: make(chan error, 1)}
	r.branches.add(req, func(batch []*branchReq) {
		var in strings.Builder
		for _, q := range batch {
			in.WriteString("create refs/heads/" + q.branch + "\x00" + q.base + "\x00")
		}
		_, err := r.gitWithInput(ctx, r.Dir, in.String(), "update-ref", "-z", "--stdin", "-m", "agent-tui: new ticket branch")
		if err == nil {
			r.madeMu.Lock()
			if r.made == nil {
				r.made = map[string]bool{}
			}
			for _, q := range batch {
				r.made[q.branch] = true
			}
			r.madeMu.Unlock()
		}
		for _, q := range batch {
			q.done <- err
		}
	})
	return <-req.done
}

// Changed lists the paths of the worktree wt that differ from its last
// commit: changed, added (untracked included) or deleted.
func (r *Repo) Changed(ctx context.Context, wt string) ([]string, error) {
	entries, err := r.status(ctx, wt)
	var files []string
	for _, e := range entries {
		files = append(files, e[3:])
	}
	return files, err
}

// status lists the worktree's changes as git status --porcelain puts
// them: "XY path", X the index's side, Y the work tree's.
func (r *Repo) status(ctx context.Context, wt string) ([]string, error) {
	args := []string{"status", "--porcelain", "-z", "--untracked-files=all", "--no-renames", "--ignore-submodules=all"}
	admin := r.registration(wt)
	ticket := admin != ""
	if ticket {
		// build output is never added (addAll), so it is no change either
		if _, excludes, err := r.outputExcludes(ctx, wt, filepath.Join(admin, "index"), nil, nil); err == nil {
			args = append(append(args, "--", "."), excludes...)
		}
	}
	out, err := r.gitIn(ctx, wt, nil, args...)
	if err != nil {
		return nil, err
	}
	var entries, untracked []string
	for _, e := range strings.Split(out, "\x00") {
		if len(e) > 3 {
			entries = append(entries, e)
			if ticket && strings.HasPrefix(e, "?? ") {
				untracked = append(untracked, e[3:])
			}
		}
	}
	if compiled := compiledAmong(wt, untracked); len(compiled) > 0 {
		drop := map[string]bool{}
		for _, f := range compiled {
			drop[f] = true
		}
		entries = slices.DeleteFunc(entries, func(e string) bool { return strings.HasPrefix(e, "?? ") && drop[e[3:]] })
	}
	return entries, nil
}

// Unmerged lists the paths of the worktree wt that git holds as
// conflicted (a merge, a rebase or a cherry-pick a person left half-way):
// `git add` would take their conflict markers for the resolution.
func (r *Repo) Unmerged(ctx context.Context, wt string) ([]string, error) {
	entries, err := r.status(ctx, wt)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		switch e[:2] {
		case "DD", "AU", "UD", "UA", "DU", "AA", "UU":
			files = append(files, e[3:])
		}
	}
	return files, nil
}

// hasUnstaged says the worktree wt holds changes beyond its index: the
// work tree's side of a file changed, or an untracked file (??).
func (r *Repo) hasUnstaged(ctx context.Context, wt string) (bool, error) {
	entries, err := r.status(ctx, wt)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(entries, func(e string) bool { return e[1] != ' ' }), nil
}

// DropUnstaged puts the worktree wt back to what is staged: what a run
// changed or made since (not ignored files) goes. It says whether there
// was anything to drop; one git process when there was not.
func (r *Repo) DropUnstaged(ctx context.Context, wt string) (bool, error) {
	ctx = context.WithoutCancel(ctx) // see CommitAll
	if unstaged, err := r.hasUnstaged(ctx, wt); !unstaged || err != nil {
		return false, err
	}
	if _, err := r.gitIn(ctx, wt, nil, "checkout", "-q", "--", "."); err != nil {
		return true, err
	}
	_, err := r.gitIn(ctx, wt, nil, "clean", "-ffdq")
	return true, err
}

// ShowFile is a file's content at rev (a commit of the worktree wt).
func (r *Repo) ShowFile(ctx context.Context, wt, rev, file string) ([]byte, error) {
	out, err := r.gitIn(ctx, wt, nil, "cat-file", "blob", rev+":"+file)
	return []byte(out), err
}

// RootCommits names the repository's history by its first commits, which
// a move or a copy keeps: "" when there is none yet.
func (r *Repo) RootCommits(ctx context.Context) string {
	// not the stashes agent-tui keeps (SetAside): their untracked files
	// are a commit without parents, which would change the name
	out, err := r.git(ctx, r.Dir, nil, "rev-list", "--max-parents=0", "--exclude=refs/agent-tui/*", "--all")
	if err != nil {
		return ""
	}
	roots := strings.Fields(out)
	sort.Strings(roots)
	return strings.Join(roots, " ")
}

// TopLevelNames lists the names at the top of a branch's tree.
func (r *Repo) TopLevelNames(ctx context.Context, branch string) ([]string, error) {
	out, err := r.git(ctx, r.Dir, nil, "ls-tree", "--name-only", "-z", "refs/heads/"+branch, "--")
	if err != nil {
		return nil, err
	}
	return strings.FieldsFunc(out, func(c rune) bool { return c == 0 }), nil
}

// HasWorktree says the worktree of ticketID is there and whole.
func (r *Repo) HasWorktree(ticketID string) bool { return r.worktreeReady(r.WorktreePath(ticketID)) }

// BranchExists says whether the local branch exists.
func (r *Repo) BranchExists(ctx context.Context, branch string) (bool, error) {
	return r.branchExists(ctx, branch)
}

// worktreeReady says git finished making the worktree at path: it is
// there and registered, and the checkout wrote its index last. (Its .git
// file, if the model changed it, is written back by the next git command.)
func (r *Repo) worktreeReady(path string) bool {
	if !dirExists(path) {
		return false
	}
	admin := r.registration(path)
	if admin == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(admin, "index"))
	return err == nil
}

// registration is the entry under .git/worktrees of the linked worktree
// at wt, found from git's own records (each entry's gitdir file names its
// worktree's .git), never from wt/.git, which the model can rewrite; ""
// when wt is not registered.
func (r *Repo) registration(wt string) string {
	// the directory's own path, symlinks resolved (git may record
	// /private/tmp for /tmp); never wt/.git resolved: the model can make
	// that a link to another ticket's
	names := []string{filepath.Join(filepath.Clean(wt), ".git")}
	if real, err := filepath.EvalSymlinks(wt); err == nil {
		names = append(names, filepath.Join(real, ".git"))
	}
	points := func(admin string) bool {
		data, err := os.ReadFile(filepath.Join(admin, "gitdir"))
		return err == nil && slices.Contains(names, filepath.Clean(strings.TrimSpace(string(data))))
	}
	root := filepath.Join(r.GitDir, "worktrees")
	// git names the entry after the directory, numbered when taken
	if admin := filepath.Join(root, filepath.Base(wt)); points(admin) {
		return admin
	}
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		if admin := filepath.Join(root, e.Name()); e.IsDir() && points(admin) {
			return admin
		}
	}
	return ""
}

// pinned is the environment that ties git to the worktree wt: its
// registration as the git dir, wt as the work tree. Without it git would
// follow wt/.git, which the model can point at a git dir of its own
// making, whose config (core.fsmonitor, hooks) git would run outside any
// sandbox. A .git file found changed is written back, for whoever opens
// the worktree later.
func (r *Repo) pinned(wt string) ([]string, error) {
	env, admin, err := r.pinEnv(wt)
	if err == nil && admin != "" {
		restoreDotGit(wt, admin)
	}
	return env, err
}

// pinEnv is pinned without the repair; admin is the registration, "" for
// the user's checkout.
func (r *Repo) pinEnv(wt string) (env []string, admin string, err error) {
	if samePath(wt, r.Dir) {
		return []string{"GIT_DIR=" + r.GitDir, "GIT_WORK_TREE=" + r.Dir}, "", nil
	}
	admin = r.registration(wt)
	if admin == "" {
		return nil, "", errNotWorktree(wt, r.Dir)
	}
	return append([]string{"GIT_DIR=" + admin, "GIT_WORK_TREE=" + wt}, r.privateEnv(wt)...), admin, nil
}

// restoreDotGit writes wt/.git back as git made it, pointing at admin.
func restoreDotGit(wt, admin string) {
	want := "gitdir: " + admin + "\n"
	dotGit := filepath.Join(wt, ".git")
	if data, ok := readSmallRegular(dotGit, len(want)); ok && data == want {
		return
	}
	// a symlink, a fifo or a directory in its place is removed, not followed
	os.RemoveAll(dotGit)
	if f, err := os.OpenFile(dotGit, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o644); err == nil {
		f.WriteString(want)
		f.Close()
	}
}

// gitIn runs git in the worktree wt, pinned to it (see pinned).
func (r *Repo) gitIn(ctx context.Context, wt string, env []string, args ...string) (string, error) {
	pin, err := r.pinned(wt)
	if err != nil {
		return "", err
	}
	return r.git(ctx, wt, append(pin, env...), args...)
}

func (r *Repo) ensureLocked(ctx context.Context, ticketID, base string) (string, string, error) {
	path, branch := r.WorktreePath(ticketID), BranchName(ticketID)
	if r.worktreeReady(path) {
		return path, branch, nil
	}
	if fi, err := os.Stat(filepath.Join(path, ".git")); err == nil && !fi.IsDir() {
		// registered but never checked out: an add killed half-way. Its
		// branch (if made) stays and the careful way below reuses it.
		if _, err := r.git(ctx, r.Dir, nil, "worktree", "remove", "--force", "--force", path); err != nil {
			if err := os.RemoveAll(path); err != nil {
				return "", "", err
			}
		}
	}
	if !dirExists(path) {
		// the common case, a new ticket, in one git call: creation is
		// serialized, so every call here delays every other ticket
		if err := os.MkdirAll(r.WorktreeRoot(), 0o755); err != nil {
			return "", "", err
		}
		if _, err := r.worktreeAdd(ctx, nil, "-q", "-b", branch, path, base); err == nil {
			return path, branch, nil
		}
		// the branch or a stale registration exists: the careful way below
		os.Remove(path)
	}
	list, err := r.listWorktrees(ctx)
	if err != nil {
		return "", "", err
	}
	for _, w := range list {
		if !samePath(w.path, path) {
			continue
		}
		if dirExists(path) && !w.prunable && r.worktreeReady(path) {
			if w.branch != branch {
				return "", "", fmt.Errorf("worktree %s is on branch %q, expected %s", path, w.branch, branch)
			}
			return path, branch, nil
		}
		// Registered but unusable: its directory gone, or its .git file
		// deleted, overwritten or replaced (a `git init` there would take
		// the ticket's commits): drop both; the branch keeps what was
		// committed, the rest a retry resets anyway.
		if err := os.RemoveAll(path); err != nil {
			return "", "", fmt.Errorf("worktree %s is broken and could not be removed: %v", path, err)
		}
		if _, err := r.git(ctx, r.Dir, nil, "worktree", "prune"); err != nil {
			return "", "", err
		}
		break
	}
	if dirExists(path) {
		// This ticket's own directory, which git no longer knows: its .git
		// file deleted or overwritten (by a command the model ran). What
		// the branch holds is kept; the rest a retry resets anyway.
		if err := os.RemoveAll(path); err != nil {
			return "", "", fmt.Errorf("worktree %s is broken (git no longer knows it) and could not be removed: %v", path, err)
		}
	}
	if err := os.MkdirAll(r.WorktreeRoot(), 0o755); err != nil {
		return "", "", err
	}
	exists, err := r.branchExists(ctx, branch)
	if err != nil {
		return "", "", err
	}
	if exists {
		_, err = r.worktreeAdd(ctx, nil, "-q", path, branch)
	} else {
		_, err = r.worktreeAdd(ctx, nil, "-q", "-b", branch, path, base)
	}
	if err != nil {
		return "", "", err
	}
	return path, branch, nil
}

// CommitAll stages everything in the worktree wt and commits it; committed
// is false when nothing changed.
func (r *Repo) CommitAll(ctx context.Context, wt, message string) (committed bool, err error) {
	// a git command killed half-way leaves a half-registered worktree or a
	// stale index lock behind: once started, it finishes
	ctx = context.WithoutCancel(ctx)
	if err := r.addAll(ctx, wt, nil); err != nil {
		return false, err
	}
	return r.CommitStaged(ctx, wt, message)
}

// CommitStaged commits what is staged in the worktree wt, leaving anything
// else as it is; committed is false when nothing was staged.
func (r *Repo) CommitStaged(ctx context.Context, wt, message string) (committed bool, err error) {
	ctx = context.WithoutCancel(ctx) // see CommitAll
	// -uno: untracked files are not committed, so git need not look for them
	args := gitArgs(agentIdentity, []string{"commit", "-q", "-uno", "--no-verify", "--no-gpg-sign", "-m", message})
	out, err := r.gitIn(ctx, wt, nil, args...)
	switch {
	case err == nil:
		committed = true
	case exitCode(err) == 1 && (strings.Contains(out, "nothing to commit") || strings.Contains(out, "no changes added to commit")):
		// nothing staged (a tracked file changed after staging is left
		// out): not an error
	default:
		return false, err
	}
	return committed, nil
}

// withFullIndex runs fn with GIT_INDEX_FILE pointing at a throwaway copy of
// the worktree's index that has every change staged, so untracked files show
// up in diffs without touching the real index.
func (r *Repo) withFullIndex(ctx context.Context, wt string, fn func(env []string) error) error {
	admin := r.registration(wt)
	if admin == "" {
		return errNotWorktree(wt, r.Dir)
	}
	tmpDir, err := os.MkdirTemp("", "agent-tui-index-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmpDir)
	tmpIndex := filepath.Join(tmpDir, "index")
	data, err := os.ReadFile(filepath.Join(admin, "index"))
	switch {
	case err == nil:
		if err := os.WriteFile(tmpIndex, data, 0o600); err != nil {
			return err
		}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	env := []string{"GIT_INDEX_FILE=" + tmpIndex}
	if err := r.addAll(ctx, wt, env); err != nil {
		return err
	}
	return fn(env)
}

// Diff is the unified diff of the worktree (committed and uncommitted work,
// untracked files included) against its merge-base with base.
func (r *Repo) Diff(ctx context.Context, wt, base string) (string, error) {
	var out string
	err := r.withFullIndex(ctx, wt, func(env []string) error {
		var err error
		out, err = r.diffCapped(ctx, wt, env, "diff", "--cached", "--no-color", "--no-ext-diff", "--no-textconv", "--merge-base", base, "--")
		return err
	})
	return out, err
}

// DiffLimit caps a diff held in memory: a model that writes a huge file
// must not take the UI or the review prompt down with it.
var DiffLimit = 64 << 20

// diffCapped runs a diff in dir: the user's checkout, or a worktree.
func (r *Repo) diffCapped(ctx context.Context, dir string, env []string, args ...string) (string, error) {
	pin, err := r.pinned(dir)
	if err != nil {
		return "", err
	}
	out, dropped, err := gitCapped(ctx, dir, append(pin, env...), DiffLimit, gitArgs(r.config(dir), []string{"-c", "core.quotepath=false"}, args)...)
	if err == nil && dropped > 0 {
		if i := strings.LastIndexByte(out, '\n'); i >= 0 {
			out = out[:i+1] // end on a whole line
		}
		out += fmt.Sprintf("[diff cut at %d MiB: %d more bytes not shown; see it with git diff in the worktree]\n", DiffLimit>>20, dropped)
	}
	return out, err
}

// InLastCommit says the path p (a file or a directory) is in the last
// commit of the worktree wt.
func (r *Repo) InLastCommit(ctx context.Context, wt, p string) bool {
	_, err := r.gitIn(ctx, wt, nil, "cat-file", "-e", "HEAD:"+p)
	return err == nil
}

// AddedLines are the lines the staged work of the worktree wt adds to
// each file against its last commit, by the file's path (a file renamed
// adds only what changed in it), and the lines it removes from any file,
// trimmed: a line moved from one file to another is among both.
func (r *Repo) AddedLines(ctx context.Context, wt string) (added map[string][]string, removed map[string]bool, err error) {
	out, err := r.diffCapped(ctx, wt, nil, "diff", "--cached", "-U0", "-M", "--no-color", "--no-ext-diff", "--no-textconv", "HEAD", "--")
	if err != nil {
		return nil, nil, err
	}
	added, removed = map[string][]string{}, map[string]bool{}
	file := ""
	for line := range strings.Lines(out) {
		line = strings.TrimSuffix(line, "\n")
		switch {
		case strings.HasPrefix(line, "diff --git "):
			file = ""
		case file == "" && strings.HasPrefix(line, "+++ "):
			name := strings.TrimPrefix(line, "+++ ")
			if uq, err := strconv.Unquote(name); err == nil {
				name = uq
			}
			file = strings.TrimPrefix(name, "b/")
		case file != "" && strings.HasPrefix(line, "+"):
			added[file] = append(added[file], line[1:])
		case strings.HasPrefix(line, "-") && !strings.HasPrefix(line, "--- "):
			removed[strings.TrimSpace(line[1:])] = true
		}
	}
	return added, removed, nil
}

// BranchDiff is the unified diff of what the worktree's branch has
// committed against its merge-base with base: what a merge would bring in,
// without the uncommitted files a build or test run leaves behind.
func (r *Repo) BranchDiff(ctx context.Context, wt, base string) (string, error) {
	return r.diffCapped(ctx, wt, nil, "diff", "--no-color", "--no-ext-diff", "--no-textconv", "--merge-base", base, "HEAD", "--")
}

// MergedDiff is what a merge commit brought to its first parent: a finished
// ticket's change, after its worktree is gone.
func (r *Repo) MergedDiff(ctx context.Context, commit string) (string, error) {
	return r.diffCapped(ctx, r.Dir, nil, "diff", "--no-color", "--no-ext-diff", "--no-textconv", commit+"^1", commit, "--")
}

// MergeOf finds the merge commit that brought branch's tip into base,
// looking back along base's first parents over its last thousand merges;
// "" when there is none.
func (r *Repo) MergeOf(ctx context.Context, branch, base string) (string, error) {
	tip, err := r.git(ctx, r.Dir, nil, "rev-parse", "--verify", "-q", "refs/heads/"+branch+"^{commit}")
	if err != nil {
		if exitCode(err) == 1 {
			return "", nil
		}
		return "", err
	}
	tip = strings.TrimSpace(tip)
	out, err := r.git(ctx, r.Dir, nil, "rev-list", "--first-parent", "--merges", "--parents", "--max-count=1000", "refs/heads/"+base, "--")
	if err != nil {
		return "", err
	}
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) >= 3 && slices.Contains(f[2:], tip) {
			return f[0], nil
		}
	}
	return "", nil
}

// RefDiff is what branch has committed against its merge-base with base,
// read from the repository: for a ticket whose worktree is gone. A branch
// that does not exist has no diff.
func (r *Repo) RefDiff(ctx context.Context, branch, base string) (string, error) {
	if ok, err := r.branchExists(ctx, branch); !ok || err != nil {
		return "", err
	}
	return r.diffCapped(ctx, r.Dir, nil, "diff", "--no-color", "--no-ext-diff", "--no-textconv", "--merge-base", base, branch, "--")
}

// Stage stages every change in the worktree, untracked files included.
func (r *Repo) Stage(ctx context.Context, wt string) error {
	return r.addAll(context.WithoutCancel(ctx), wt, nil) // see CommitAll
}

// StageAll stages every change in the worktree, untracked files included,
// and lists the paths that differ from its merge-base with base (renames
// list both names). A CommitStaged after it commits what was staged here.
func (r *Repo) StageAll(ctx context.Context, wt, base string) ([]string, error) {
	ctx = context.WithoutCancel(ctx) // see CommitAll
	if err := r.Stage(ctx, wt); err != nil {
		return nil, err
	}
	out, err := r.gitIn(ctx, wt, nil, "diff", "--cached", "--name-only", "--no-renames", "-z", "--merge-base", base, "--")
	if err != nil {
		return nil, err
	}
	var files []string
	for _, f := range strings.Split(out, "\x00") {
		if f != "" {
			files = append(files, f)
		}
	}
	sort.Strings(files)
	return files, nil
}

// HashFiles returns the sha256 of each file's content (hex), or "" for a file
// that does not exist. Paths are relative to wt and may not leave it. A
// symlink hashes as its target's name, never followed (it may point
// outside the worktree), as git keeps it.
func (r *Repo) HashFiles(wt string, paths []string) (map[string]string, error) {
	root, err := os.OpenRoot(wt)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	sums := make(map[string]string, len(paths))
	for _, p := range paths {
		sum, err := wtfile.Hash(root, p)
		if errors.Is(err, fs.ErrNotExist) {
			sums[p] = ""
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("hash %s: %w", p, err)
		}
		sums[p] = sum
	}
	return sums, nil
}

// Merge merges branch into base in the user's checkout. It refuses, with a
// *MergeBlocked, when the checkout is not on base, is not clean, or the
// merge conflicts; in every refusal the checkout is left unchanged.
//
// Merges happen one after another. Tickets that finish together queue up,
// and whoever holds the checkout merges the whole queue after one check of
// the checkout's state: each ticket still gets its own merge commit.
//
// It returns the merge commit, or "" when the branch brought nothing new.
func (r *Repo) Merge(ctx context.Context, branch, base, message string) (string, error) {
	return r.MergeWith(ctx, branch, base, message, MergeOptions{})
}

// MergeOptions are Merge's options.
type MergeOptions struct {
	// MayBeDirty allows uncommitted changes in the files it names (files
	// the branch never changes: git refuses the merge itself if it would).
	MayBeDirty func(path string) bool
	// At orders the merges of one batch: the earliest goes first, so of
	// two that conflict it is the one that lands. The zero time goes
	// after the others, in the order they came.
	At time.Time
	// Queued, if set, is called once the merge is in the queue: a merge
	// queued after it cannot be made before it.
	Queued func()
	// Verify, if set, checks a merge result no check has seen (the base
	// moved since the branch's CI ran, or other merges of its batch come
	// with it) in a checkout of it at dir: "" when it passes, else why
	// not. A merge whose result fails it is refused (MergeBlocked).
	Verify func(ctx context.Context, dir string) (string, error)
}

// MergeWith is Merge with options.
func (r *Repo) MergeWith(ctx context.Context, branch, base, message string, o MergeOptions) (string, error) {
	req := &mergeReq{branch: branch, base: base, message: message, mayBeDirty: o.MayBeDirty, at: o.At, verify: o.Verify, asked: ctx, done: make(chan mergeResult, 1)}
	r.merges.addThen(req, o.Queued, func(batch []*mergeReq) {
		// a merge once started is finished, whoever asked for it
		r.mergeBatch(context.WithoutCancel(ctx), batch)
	})
	res := <-req.done
	return res.commit, res.err
}

type mergeReq struct {
	branch, base, message string
	mayBeDirty            func(path string) bool
	at                    time.Time
	verify                func(ctx context.Context, dir string) (string, error)
	// asked is the asker's context: a check of the result (minutes, for
	// a real CI) ends with it, unlike the merge, which git must finish
	asked context.Context
	done  chan mergeResult
}

// dirtyFor is what of dirty blocks q's merge.
func (q *mergeReq) dirtyFor(dirty []string) []string {
	if q.mayBeDirty == nil {
		return dirty
	}
	return slices.DeleteFunc(slices.Clone(dirty), q.mayBeDirty)
}

type mergeResult struct {
	commit string
	err    error
}

func (q *mergeReq) fail(err error) { q.done <- mergeResult{err: err} }

func (r *Repo) mergeBatch(ctx context.Context, batch []*mergeReq) {
	// in the order the merges were decided, not the order they came in
	slices.SortStableFunc(batch, func(a, b *mergeReq) int {
		switch {
		case a.at.IsZero() == b.at.IsZero():
			return a.at.Compare(b.at)
		case a.at.IsZero():
			return 1
		}
		return -1
	})
	fail := func(err error) {
		for _, q := range batch {
			q.fail(err)
		}
	}
	// Another git process (a previous agent-tui killed mid-merge leaves its
	// git child running) may still be finishing in the checkout: give it a
	// moment, and never abort a merge that is not ours.
	if busy := r.waitCheckoutIdle(ctx, 5*time.Second); busy != "" {
		fail(&MergeBlocked{Reason: busy})
		return
	}
	cur, err := r.CurrentBranch(ctx)
	if err != nil && !errors.Is(err, ErrDetached) {
		fail(err)
		return
	}
	dirty, loose, err := r.uncommitted(ctx)
	if err != nil {
		fail(err)
		return
	}
	if len(dirty) > 0 && cur != "" {
		// a branch with no commit has every file it keeps staged: that it
		// has no commit is what to say
		if ok, err := r.branchExists(ctx, cur); err == nil && !ok {
			fail(&MergeBlocked{Reason: noCommits(cur)})
			return
		}
	}
	var ready []*mergeReq
	for _, q := range batch {
		switch {
		case cur != q.base:
			q.fail(&MergeBlocked{Reason: r.notOnBase(ctx, cur, q.base)})
		case len(q.dirtyFor(dirty)) > 0:
			q.fail(&MergeBlocked{Reason: "your checkout has uncommitted changes in " + SomeFiles(q.dirtyFor(dirty)) + ": commit or stash them, then approve again"})
		default:
			ready = append(ready, q)
		}
	}
	if len(ready) == 0 {
		return
	}
	if !r.hasMergeTree(ctx) {
		for _, q := range ready {
			// a merge that succeeds or is undone leaves the checkout clean
			q.done <- r.mergeOne(ctx, q, loose)
		}
		return
	}
	r.mergeChain(ctx, ready, loose)
}

// notOnBase is why no merge into base can be made in the checkout, on
// branch cur ("" when detached): "switch to base" only where that can be
// done. A base branch deleted, or checked out in another worktree (git
// lets a branch be checked out in one place only), is said as such.
func (r *Repo) notOnBase(ctx context.Context, cur, base string) string {
	if ok, err := r.branchExists(ctx, base); err == nil && !ok {
		return fmt.Sprintf("the base branch %s no longer exists (renamed or deleted while the ticket ran): make it again (git branch %s COMMIT), then approve again", base, base)
	}
	on := "on branch " + cur
	if cur == "" {
		on = "in detached HEAD state"
	}
	if list, err := r.listWorktrees(ctx); err == nil {
		for _, w := range list {
			if w.branch == base && !w.prunable && !samePath(w.path, r.Dir) {
				return fmt.Sprintf("the base branch %s is checked out in the worktree %s (your checkout here is %s), and git lets a branch be checked out in one place only: run agent-tui in %s, or switch that worktree to another branch and this checkout to %s, then approve again", base, w.path, on, w.path, base)
			}
		}
	}
	if cur == "" {
		return fmt.Sprintf("your checkout is in detached HEAD state, not on the base branch %s", base)
	}
	return fmt.Sprintf("your checkout is on branch %s, not the base branch %s", cur, base)
}

// noCommits is why no merge can be made onto a branch checked out with no
// commit.
func noCommits(branch string) string {
	return fmt.Sprintf("the branch %s checked out has no commits (deleted, then checked out again as a new branch?): make it point at its commits again, then approve again", branch)
}

// mergeChain makes the batch's merge commits, one per branch on top of the
// one before, without touching the checkout (git merge-tree and
// commit-tree), then moves the checkout to the last of them in one
// fast-forward. A branch that conflicts is left out and reported; the
// checkout is touched once, only by the fast-forward. A result no check has
// seen is verified first (MergeOptions.Verify): the whole chain at once,
// and when it fails, each merge on its own, so that only those that fail
// are refused.
//
// Before the checkout is touched, the files the chain adds are checked
// against the checkout's loose files (git's fast-forward replaces an
// ignored file). A merge refused for a file in the way is left out and
// the rest of the batch made again without it.
func (r *Repo) mergeChain(ctx context.Context, batch []*mergeReq, loose []string) {
	headOut, err := r.git(ctx, r.Dir, nil, "rev-parse", "HEAD^{commit}", "HEAD^{tree}")
	lines := strings.Fields(headOut)
	if err == nil && len(lines) != 2 {
		err = fmt.Errorf("git rev-parse HEAD: unexpected output %q", headOut)
	}
	if err != nil {
		if ok, berr := r.branchExists(ctx, batch[0].base); berr == nil && !ok {
			// on the base branch, but it has no commit: deleted, and
			// checked out again as an orphan (git checkout --orphan)
			err = &MergeBlocked{Reason: noCommits(batch[0].base)}
		}
		for _, q := range batch {
			q.fail(err)
		}
		return
	}
	c := &chain{tip: lines[0], tree: lines[1]}
	start := *c
	for _, q := range batch {
		r.chainOne(ctx, c, q)
	}
	if len(c.merged) == 0 {
		return
	}
	if len(loose) > 0 {
		// one diff for the batch; each merge's own only when it hits
		hit, err := r.looseInTheWay(ctx, loose, start.tip, c.tip, false)
		if err != nil {
			for _, q := range c.merged {
				q.fail(err)
			}
			return
		}
		if len(hit) > 0 {
			r.mergeWithout(ctx, c, start, loose, func(from, to string, q *mergeReq) (*MergeBlocked, error) {
				hit, err := r.looseInTheWay(ctx, loose, from, to, false)
				if len(hit) == 0 {
					return nil, err
				}
				return looseBlocked(q.branch, hit), nil
			})
			return
		}
	}
	last := c.merged[len(c.merged)-1]
	if last.verify != nil && (len(c.merged) > 1 || !r.IsAncestor(ctx, start.tip, last.branch)) {
		why, err := r.verifyAt(ctx, last.asked, c.tip, c.env, last.verify)
		if err != nil {
			for _, q := range c.merged {
				q.fail(err)
			}
			return
		}
		if why != "" {
			// again one by one: each merge is checked on what lands
			// before it, and only those that fail stay out
			merged := c.merged
			*c = start
			for _, q := range merged {
				before := *c
				if !r.chainOne(ctx, c, q) || q.verify == nil || r.IsAncestor(ctx, before.tip, q.branch) {
					continue
				}
				why, err := r.verifyAt(ctx, q.asked, c.tip, c.env, q.verify)
				if err == nil && why == "" {
					continue
				}
				if err == nil {
					err = &MergeBlocked{Reason: fmt.Sprintf("merged with %s as it is now (it moved since the branch's CI ran), %s", q.base, why)}
				}
				q.fail(err)
				*c = before
			}
			if len(c.merged) == 0 {
				return
			}
		}
	}
	if _, err := r.git(ctx, r.Dir, nil, "merge", "-q", "--ff-only", c.tip); err != nil {
		if local, untracked := inTheWay(err); len(local)+len(untracked) > 0 {
			// never a merge of git's own after this: it puts the checkout
			// back to HEAD when it fails (read-tree --reset), which loses
			// a change git status does not see (assume-unchanged)
			r.mergeWithout(ctx, c, start, loose, func(from, to string, q *mergeReq) (*MergeBlocked, error) {
				changed, err := r.changedBy(ctx, from, to, "", false)
				l, u := touched(local, changed), touched(untracked, changed)
				if len(l)+len(u) > 0 {
					return &MergeBlocked{Reason: inTheWayReason(q.branch, l, u)}, err
				}
				return nil, err
			})
			return
		}
		if WriteFailed(err) {
			// HEAD did not move, yet git had begun writing the checkout
			// (a full disk): what it wrote goes back
			blocked := &MergeBlocked{Reason: r.undoPartialUpdate(ctx, start.tip, c.tip, false, err)}
			for _, q := range c.merged {
				q.fail(blocked)
			}
			return
		}
		// the checkout changed under us: merge one by one, so each
		// branch gets its own answer
		for _, q := range c.merged {
			q.done <- r.mergeOne(ctx, q, loose)
		}
		return
	}
	for i, q := range c.merged {
		q.done <- mergeResult{commit: c.commits[i]}
	}
}

// mergeWithout answers the merges of c that blocked refuses (each judged
// by what its own merge commit changes, from its first parent), and makes
// the rest again without them. When it refuses none, all are refused: the
// batch as a whole was in the way.
func (r *Repo) mergeWithout(ctx context.Context, c *chain, start chain, loose []string, blocked func(from, to string, q *mergeReq) (*MergeBlocked, error)) {
	var rest []*mergeReq
	refused := false
	from := start.tip
	for i, q := range c.merged {
		switch b, err := blocked(from, c.commits[i], q); {
		case err != nil:
			refused = true
			q.fail(err)
		case b != nil:
			refused = true
			q.fail(b)
		default:
			rest = append(rest, q)
		}
		from = c.commits[i]
	}
	if !refused {
		for _, q := range rest {
			q.fail(&MergeBlocked{Reason: fmt.Sprintf("files in your checkout are in the way of merging %s together with other branches; approve again", q.branch)})
		}
		return
	}
	if len(rest) > 0 {
		r.mergeChain(ctx, rest, loose)
	}
}

// touched lists the files of inWay that changed (paths) names, or that
// lie inside or around one of them (a directory in the way of a file).
func touched(inWay, changed []string) []string {
	var hit []string
	for _, w := range inWay {
		w = strings.TrimSuffix(w, "/")
		if slices.ContainsFunc(changed, func(c string) bool {
			return c == w || strings.HasPrefix(c, w+"/") || strings.HasPrefix(w, c+"/")
		}) {
			hit = append(hit, w)
		}
	}
	return hit
}

// chain is the state of a batch's merges made so far: its tip commit and
// tree, the merges in it with their commits, and the environment a
// sensitive ticket's merge passes on to those after it.
type chain struct {
	tip, tree string
	merged    []*mergeReq
	commits   []string
	env       []string
}

// chainOne makes q's merge commit on top of c, and reports whether it did;
// a merge that conflicts, fails, or has nothing to add gets its answer here.
func (r *Repo) chainOne(ctx context.Context, c *chain, q *mergeReq) bool {
	// a sensitive ticket's merge writes to its private store, and so
	// does every merge after it in the chain: theirs are made on top
	// of its code, which must stay private if the chain is undone
	sensitive := r.branchEnv(q.branch)
	env := sensitive
	if env == nil {
		env = c.env
	}
	out, err := r.git(ctx, r.Dir, env, "merge-tree", "--write-tree", "--name-only", "--no-messages", "-z", c.tip, q.branch)
	fields := strings.Split(strings.TrimRight(out, "\x00"), "\x00")
	switch {
	case err != nil && exitCode(err) == 1 && len(fields) > 1:
		q.fail(&MergeBlocked{Reason: fmt.Sprintf("merging %s into %s conflicts in: %s", q.branch, q.base, strings.Join(fields[1:], ", "))})
		return false
	case err != nil:
		if ok, berr := r.branchExists(ctx, q.branch); berr == nil && !ok {
			err = &MergeBlocked{Reason: fmt.Sprintf("branch %s no longer exists: recreate it and approve again, or cancel the ticket", q.branch)}
		}
		q.fail(err)
		return false
	case fields[0] == c.tree && r.IsAncestor(ctx, q.branch, c.tip):
		// merged before (a run cut off between its merge and recording
		// it), or nothing committed: like git merge, no commit
		q.done <- mergeResult{}
		return false
	}
	// (a branch whose changes are on the base already, made by another
	// ticket, still gets its merge commit: its history is merged)
	args := gitArgs(r.identityArgs(ctx), []string{"commit-tree", fields[0], "-p", c.tip, "-p", q.branch, "-m", q.message})
	commit, err := r.git(ctx, r.Dir, env, args...)
	if err != nil {
		q.fail(err)
		return false
	}
	c.tip, c.tree = strings.TrimSpace(commit), fields[0]
	if sensitive != nil {
		c.env = sensitive // (a refused one is in no one's history)
	}
	c.merged = append(slices.Clip(c.merged), q)
	c.commits = append(slices.Clip(c.commits), c.tip)
	return true
}

// verifyAt runs verify in a checkout of commit (env: where a sensitive
// ticket's objects are). The checkout is kept from one merge to the next
// and moved to each commit, which writes only the files that differ (a
// checkout of the whole tree each time cost more than many checks); what a
// check leaves there goes before the next. Merges run one batch at a time,
// so one checkout serves.
// The check runs under asked (cut off when its asker stops); git under ctx.
func (r *Repo) verifyAt(ctx, asked context.Context, commit string, env []string, verify func(context.Context, string) (string, error)) (string, error) {
	dir := filepath.Join(r.WorkRoot(), "verify", "merge-check")
	moved := false
	if r.worktreeReady(dir) {
		_, err := r.gitIn(ctx, dir, env, "checkout", "-q", "--force", "--detach", commit)
		if err == nil {
			_, err = r.gitIn(ctx, dir, env, "clean", "-ffdq")
		}
		moved = err == nil
	}
	if !moved {
		// none yet, or broken: made again
		r.wtMu.Lock()
		os.RemoveAll(dir)
		if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
			r.wtMu.Unlock()
			return "", err
		}
		_, err := r.worktreeAdd(ctx, env, "-q", "--force", "--detach", dir, commit)
		r.wtMu.Unlock()
		if err != nil {
			return "", err
		}
	}
	if asked == nil {
		asked = ctx
	}
	why, err := verify(asked, dir)
	if err == nil && asked.Err() != nil {
		err = asked.Err() // cut off: no judgment, and nothing merged
	}
	return why, err
}

// Foreign says whether ticketID's branch already exists with commits that
// base does not have, or was merged into base, before the ticket ever had
// a branch: made by someone else (another agent-tui database on this
// repository numbers its tickets from T-1 too), not to be taken over. A burst of new tickets asks
// git once which of their branches exist; only those are looked into.
func (r *Repo) Foreign(ctx context.Context, ticketID, base string) bool {
	branch := BranchName(ticketID)
	r.madeMu.Lock()
	ours := r.made[branch]
	r.madeMu.Unlock()
	if ours {
		return false // made by `create`, which fails on a branch that exists
	}
	if tip, err := r.branchTip(ctx, branch); err == nil && tip == "" {
		return false // no such branch
	}
	n, err := r.CommitsBeyond(ctx, branch, base)
	if err != nil {
		return false
	}
	if n != 0 {
		return true
	}
	// nothing of its own, but merged by someone (another database's
	// finished ticket): taken over, its old tip would be the ticket's start
	// and that ticket's merge record would lose its branch. A branch a
	// crash left at the base, the ticket's own, is merged by no one.
	merge, err := r.MergeOf(ctx, branch, base)
	return err == nil && merge != ""
}

// CommitsBeyond counts the commits branch has that base does not: none
// when the branch holds no work of its own (reset to the base by hand).
func (r *Repo) CommitsBeyond(ctx context.Context, branch, base string) (int, error) {
	out, err := r.git(ctx, r.Dir, nil, "rev-list", "--count", "refs/heads/"+base+"..refs/heads/"+branch, "--")
	if err != nil {
		return 0, err
	}
	var n int
	_, err = fmt.Sscanf(strings.TrimSpace(out), "%d", &n)
	return n, err
}

// BranchInTheWay is a branch whose name keeps git from making a ticket's
// branch: "agent" for "agent/T-1" (a ref is a file, its name's parts
// directories), or one under the ticket's branch's name.
type BranchInTheWay struct {
	Branch, Wanted string
}

func (e *BranchInTheWay) Error() string {
	return fmt.Sprintf("a branch named %s exists, which keeps git from making the ticket's branch %s (one branch's name cannot be the folder of another's): rename it (git branch -m %s NEW-NAME), then retry", e.Branch, e.Wanted, e.Branch)
}

// branchInTheWay finds, once making branch failed, a branch whose name
// is in its way (see BranchInTheWay); nil when there is none.
func (r *Repo) branchInTheWay(ctx context.Context, branch string) error {
	parts := strings.Split(branch, "/")
	for i := 1; i < len(parts); i++ {
		if ok, err := r.branchExists(ctx, strings.Join(parts[:i], "/")); err == nil && ok {
			return &BranchInTheWay{Branch: strings.Join(parts[:i], "/"), Wanted: branch}
		}
	}
	out, err := r.git(ctx, r.Dir, nil, "for-each-ref", "--count=1", "--format=%(refname:short)", "refs/heads/"+branch+"/")
	if name := strings.TrimSpace(out); err == nil && name != "" {
		return &BranchInTheWay{Branch: name, Wanted: branch}
	}
	return nil
}

type tipReq struct {
	branch, tip string
	err         error
	done        chan struct{}
}

// branchTip is the commit branch is at, "" when it does not exist. The
// tickets that start together (asking whether their branches exist, or
// where their base is) ask git once.
func (r *Repo) branchTip(ctx context.Context, branch string) (string, error) {
	req := &tipReq{branch: branch, done: make(chan struct{})}
	r.tips.add(req, func(batch []*tipReq) {
		// for-each-ref answers for each branch that exists, so a missing
		// one fails no one else
		args := []string{"for-each-ref", "--format=%(objectname) %(refname)"}
		for _, q := range batch {
			if ref := "refs/heads/" + q.branch; !slices.Contains(args, ref) {
				args = append(args, ref)
			}
		}
		// one ticket's cancelled context must not fail the others'
		out, err := r.git(context.WithoutCancel(ctx), r.Dir, nil, args...)
		tips := map[string]string{}
		for line := range strings.Lines(out) {
			if tip, ref, ok := strings.Cut(strings.TrimSpace(line), " "); ok {
				tips[ref] = tip
			}
		}
		for _, q := range batch {
			q.tip, q.err = tips["refs/heads/"+q.branch], err
			close(q.done)
		}
	})
	<-req.done
	return req.tip, req.err
}

// BringIn merges base into the branch checked out in the worktree wt, so
// that work sent back from a merge is redone on top of what base holds
// now. A conflict is committed with its markers in the files, for the
// model to resolve; before that, onConflict is told the files, and an
// error from it undoes the merge. Nothing happens when the branch has base
// already. The worktree is expected clean (ResetHard).
func (r *Repo) BringIn(ctx context.Context, wt, base, message string, onConflict func([]string) error) error {
	ctx = context.WithoutCancel(ctx) // see CommitAll
	pin, err := r.pinned(wt)
	if err != nil {
		return err
	}
	if r.isAncestorIn(ctx, wt, pin, "refs/heads/"+base, "HEAD") {
		return nil
	}
	_, mergeErr := r.git(ctx, wt, pin, gitArgs(agentIdentity, []string{"merge", "-q", "--no-ff", "--no-edit", "--no-verify", "--no-gpg-sign", "-m", message, "refs/heads/" + base})...)
	if mergeErr == nil {
		return nil
	}
	conflicts := r.conflictedFiles(ctx, wt, pin)
	undo := func(err error) error {
		r.git(ctx, wt, pin, "merge", "--abort")
		return err
	}
	if len(conflicts) == 0 {
		// refused before it began or failed half-way: the branch stays
		return undo(mergeErr)
	}
	if err := onConflict(conflicts); err != nil {
		return undo(err)
	}
	if err := r.addAll(ctx, wt, nil); err != nil {
		return undo(err)
	}
	msg := message + "\n\nConflicts left for the code phase to resolve: " + strings.Join(conflicts, ", ")
	if _, err := r.git(ctx, wt, pin, gitArgs(agentIdentity, []string{"commit", "-q", "--no-verify", "--no-gpg-sign", "-m", msg})...); err != nil {
		return undo(err)
	}
	return nil
}

// IsAncestor says whether commit a is in b's history.
func (r *Repo) IsAncestor(ctx context.Context, a, b string) bool {
	return r.isAncestorIn(ctx, r.Dir, nil, a, b)
}

// isAncestorIn is IsAncestor with names read in dir (a worktree's HEAD),
// git run with env.
func (r *Repo) isAncestorIn(ctx context.Context, dir string, env []string, a, b string) bool {
	_, err := r.git(ctx, dir, env, "merge-base", "--is-ancestor", a, b)
	return err == nil
}

// conflictedFiles lists the paths a merge under way in dir left unmerged.
func (r *Repo) conflictedFiles(ctx context.Context, dir string, env []string) []string {
	out, _ := r.git(ctx, dir, env, "diff", "--name-only", "--diff-filter=U", "-z")
	var files []string
	for _, f := range strings.Split(out, "\x00") {
		if f != "" {
			files = append(files, f)
		}
	}
	return files
}

// hasMergeTree reports whether git can merge without a checkout
// (merge-tree --write-tree, git 2.38 and later).
func (r *Repo) hasMergeTree(ctx context.Context) bool {
	r.gitVersionOnce.Do(func() {
		out, _ := r.git(ctx, r.Dir, nil, "version")
		var major, minor int
		if _, err := fmt.Sscanf(strings.TrimPrefix(strings.TrimSpace(out), "git version "), "%d.%d", &major, &minor); err == nil {
			r.mergeTree = major > 2 || major == 2 && minor >= 38
		}
	})
	return r.mergeTree
}

// mergeOne runs one merge; a conflict is undone and reported.
func (r *Repo) mergeOne(ctx context.Context, q *mergeReq, loose []string) mergeResult {
	before, err := r.git(ctx, r.Dir, nil, "rev-parse", "HEAD")
	if err != nil {
		return mergeResult{err: err}
	}
	if len(loose) > 0 {
		// what the branch adds since the merge-base (git merge replaces
		// an ignored file too)
		hit, err := r.looseInTheWay(ctx, loose, "HEAD", q.branch, true)
		if err != nil {
			return mergeResult{err: err}
		}
		if len(hit) > 0 {
			return mergeResult{err: looseBlocked(q.branch, hit)}
		}
	}
	err = r.mergeOneChecked(ctx, q.branch, q.base, q.message)
	if err != nil {
		return mergeResult{err: err}
	}
	after, err := r.git(ctx, r.Dir, nil, "rev-parse", "HEAD")
	if err != nil || after == before {
		// an "already up to date" merge makes no commit
		return mergeResult{err: err}
	}
	return mergeResult{commit: strings.TrimSpace(after)}
}

func (r *Repo) mergeOneChecked(ctx context.Context, branch, base, message string) error {
	args := gitArgs(r.identityArgs(ctx), []string{"merge", "--no-ff", "--no-edit", "-m", message, branch})
	_, mergeErr := r.git(ctx, r.Dir, r.branchEnv(branch), args...)
	if mergeErr == nil {
		return nil
	}
	if local, untracked := inTheWay(mergeErr); len(local)+len(untracked) > 0 {
		// refused before it started: nothing to undo
		return &MergeBlocked{Reason: inTheWayReason(branch, local, untracked)}
	}
	conflicts := r.conflictedFiles(ctx, r.Dir, nil)
	_, noMergeHead := r.git(ctx, r.Dir, nil, "rev-parse", "-q", "--verify", "MERGE_HEAD")
	if noMergeHead == nil || len(conflicts) > 0 {
		if _, err := r.git(ctx, r.Dir, nil, "merge", "--abort"); err != nil {
			return fmt.Errorf("%v; and undoing it failed: %v", mergeErr, err)
		}
	}
	if len(conflicts) > 0 {
		return &MergeBlocked{Reason: fmt.Sprintf("merging %s into %s conflicts in: %s", branch, base, strings.Join(conflicts, ", "))}
	}
	if WriteFailed(mergeErr) {
		if head, err := r.git(ctx, r.Dir, nil, "rev-parse", "HEAD"); err == nil {
			return &MergeBlocked{Reason: r.undoPartialUpdate(ctx, strings.TrimSpace(head), branch, true, mergeErr)}
		}
	}
	return mergeErr
}

// WriteFailed says whether err is git's failure to write (a full disk, a
// quota, an I/O error): no retry helps until space is freed, and a
// checkout update git had begun is left half done.
func WriteFailed(err error) bool {
	var ge *gitError
	if !errors.As(err, &ge) {
		return false
	}
	words := strings.ToLower(ge.stderr)
	for _, w := range []string{"no space left", "out of diskspace", "disk quota exceeded", "write error", "unable to write", "short write", "input/output error"} {
		if strings.Contains(words, w) {
			return true
		}
	}
	return false
}

// undoPartialUpdate puts the checkout's files that a failed update from
// head towards to had begun to write back as head has them, and removes
// the files it added: git leaves them half written, and they would read
// as the user's own uncommitted changes. mergeBase: the update was a
// merge of the branch to (what it changes since the merge-base). It
// returns the reason the merge is blocked.
func (r *Repo) undoPartialUpdate(ctx context.Context, head, to string, mergeBase bool, gitErr error) string {
	ctx = context.WithoutCancel(ctx) // half undone is worse than not begun
	why := "git could not write your checkout's files while merging (" + oneLine(gitErr.Error()) + ")"
	added, err := r.changedBy(ctx, head, to, "A", mergeBase)
	var kept []string
	if err == nil {
		kept, err = r.changedBy(ctx, head, to, "DMT", mergeBase)
	}
	if err == nil && len(kept) > 0 {
		// the index too: git may have written part of it
		_, err = r.git(ctx, r.Dir, nil, append([]string{"checkout", "-q", head, "--"}, kept...)...)
	}
	for _, f := range added {
		p := filepath.Join(r.Dir, filepath.FromSlash(f))
		if rerr := os.Remove(p); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
			err = rerr
		}
		// and the directories it made for them, when empty
		for d := filepath.Dir(p); len(d) > len(r.Dir) && os.Remove(d) == nil; d = filepath.Dir(d) {
		}
	}
	if err == nil && len(added) > 0 {
		// out of the index, should git have written it
		_, err = r.git(ctx, r.Dir, nil, append([]string{"reset", "-q", head, "--"}, added...)...)
	}
	if err != nil {
		return why + ", and putting back what it had written failed (" + oneLine(err.Error()) + "): see git status in your checkout, then approve again"
	}
	return why + ": the files it had written were put back as they were; free the space (or fix the error), then approve again"
}

// waitCheckoutIdle waits until the checkout has no merge in progress and
// no index lock, returning a reason when it stays busy.
func (r *Repo) waitCheckoutIdle(ctx context.Context, wait time.Duration) string {
	r.checkoutGitDirOnce.Do(func() {
		out, err := r.git(ctx, r.Dir, nil, "rev-parse", "--absolute-git-dir")
		if err == nil {
			r.checkoutGitDir = strings.TrimSpace(out)
		}
	})
	gitDir := r.checkoutGitDir
	if gitDir == "" {
		return ""
	}
	deadline := time.Now().Add(wait)
	for {
		reason := ""
		if _, err := os.Stat(filepath.Join(gitDir, "MERGE_HEAD")); err == nil {
			reason = "your checkout has a merge in progress (MERGE_HEAD exists): finish it or run `git merge --abort`"
		} else if _, err := os.Stat(filepath.Join(gitDir, "index.lock")); err == nil {
			reason = "another git process holds your checkout's index (.git/index.lock); if none runs, remove the lock"
		}
		if reason == "" || time.Now().After(deadline) || ctx.Err() != nil {
			return reason
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// identityArgs supplies an identity for the merge commit only when the user
// has none, so the user's own name is used where configured.
func (r *Repo) identityArgs(ctx context.Context) []string {
	// one `git config` call instead of two per merge
	r.identityOnce.Do(func() {
		out, _ := r.git(ctx, r.Dir, nil, "config", "--get-regexp", `^user\.(name|email)$`)
		if !strings.Contains(out, "user.name ") || !strings.Contains(out, "user.email ") {
			r.identity = append([]string{}, agentIdentity...)
		}
	})
	return r.identity
}

// RemoveWorktree deletes the worktree of ticketID; its branch stays.
func (r *Repo) RemoveWorktree(ctx context.Context, ticketID string) error {
	// a git command killed half-way leaves a half-registered worktree or a
	// stale index lock behind: once started, it finishes
	ctx = context.WithoutCancel(ctx)
	if err := checkTicketID(ticketID); err != nil {
		return err
	}
	path := r.WorktreePath(ticketID)
	// the write lock: no add of this (or any) worktree is half-way while
	// its files go
	r.wtMu.Lock()
	// the .git file is in the worktree, which the model writes: only an
	// entry under .git/worktrees is touched
	if entry := r.removableRegistration(path); entry != "" {
		if _, err := os.Stat(filepath.Join(entry, "locked")); err == nil {
			// prune keeps a locked entry (an add killed half-way): git
			// removes it when asked by name, else it is unlocked for prune
			if _, err := r.git(ctx, r.Dir, nil, "worktree", "remove", "--force", "--force", path); err == nil {
				r.wtMu.Unlock()
				return nil
			}
			os.Remove(filepath.Join(entry, "locked"))
		}
	}
	// The files go here; the registration goes with every other one
	// removed meanwhile, in one git process (starting processes is most of
	// what a finished ticket costs).
	err := os.RemoveAll(path)
	r.wtMu.Unlock()
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	r.prunes.add(done, func(batch []chan error) {
		r.wtMu.Lock()
		_, err := r.git(ctx, r.Dir, nil, "worktree", "prune")
		r.wtMu.Unlock()
		for _, q := range batch {
			q <- err
		}
	})
	return <-done
}

// readSmallRegular reads the file at p when it is a regular file (not a
// symlink, a fifo, a device) of at most max bytes: the model writes the
// worktree, and a fifo there would hang agent-tui.
func readSmallRegular(p string, max int) (string, bool) {
	data, err := wtfile.ReadIn(filepath.Dir(p), filepath.Base(p), int64(max))
	return string(data), err == nil
}

// removableRegistration is the registration of the worktree at path, or,
// when git's record of it was emptied by a crash, the entry its .git file
// names under .git/worktrees; "" when there is neither.
func (r *Repo) removableRegistration(path string) string {
	if admin := r.registration(path); admin != "" {
		return admin
	}
	data, ok := readSmallRegular(filepath.Join(path, ".git"), 4096)
	if !ok {
		return ""
	}
	dir, _ := strings.CutPrefix(strings.TrimSpace(data), "gitdir: ")
	if filepath.Dir(dir) != filepath.Join(r.GitDir, "worktrees") {
		return ""
	}
	return dir
}

// Reconcile compares the worktrees the store believes in (ticket ID to path)
// with what exists: missing ones are recreated from their branch, unknown
// ones are reported as orphans and left alone.
func (r *Repo) Reconcile(ctx context.Context, known map[string]string) (Report, error) {
	var rep Report
	r.wtMu.Lock()
	defer r.wtMu.Unlock()

	ids := make([]string, 0, len(known))
	for id := range known {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		p := known[id]
		if dirExists(p) {
			continue
		}
		if err := checkTicketID(id); err != nil {
			rep.Errors = append(rep.Errors, err.Error())
			continue
		}
		exists, err := r.branchExists(ctx, BranchName(id))
		if err != nil {
			return rep, err
		}
		if !exists {
			rep.Errors = append(rep.Errors, fmt.Sprintf("%s: worktree %s is missing and branch %s does not exist", id, p, BranchName(id)))
			continue
		}
		if _, _, err := r.ensureLocked(ctx, id, ""); err != nil {
			rep.Errors = append(rep.Errors, fmt.Sprintf("%s: recreating worktree: %v", id, err))
			continue
		}
		rep.Recreated = append(rep.Recreated, id)
	}

	isKnown := func(p string) bool {
		for id, kp := range known {
			if samePath(kp, p) || samePath(r.WorktreePath(id), p) {
				return true
			}
		}
		return false
	}
	seen := map[string]bool{}
	addOrphan := func(p string) {
		p = filepath.Clean(p)
		if !seen[p] && !isKnown(p) {
			seen[p] = true
			rep.Orphans = append(rep.Orphans, p)
		}
	}
	for _, root := range r.bothRoots("worktrees") {
		entries, err := os.ReadDir(root)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return rep, err
		}
		for _, e := range entries {
			if e.IsDir() {
				addOrphan(filepath.Join(root, e.Name()))
			}
		}
	}
	// base views are made again when needed: the last run's go
	for _, views := range r.bothRoots("views") {
		if !dirExists(views) {
			continue
		}
		if err := os.RemoveAll(views); err != nil {
			rep.Errors = append(rep.Errors, "removing old base views: "+err.Error())
		} else if _, err := r.git(ctx, r.Dir, nil, "worktree", "prune"); err != nil {
			rep.Errors = append(rep.Errors, "pruning old base views: "+err.Error())
		}
	}
	list, err := r.listWorktrees(ctx)
	if err != nil {
		return rep, err
	}
	for _, w := range list {
		if strings.HasPrefix(w.branch, "agent/") && !w.prunable && !samePath(w.path, r.Dir) {
			addOrphan(w.path)
		}
	}
	sort.Strings(rep.Orphans)
	return rep, nil
}
