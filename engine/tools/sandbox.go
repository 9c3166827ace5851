package tools

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// HelperArg as the first program argument makes the program the Landlock
// helper: it confines itself and runs the shell command (see init).
const HelperArg = "__agent_tui_sandbox"

// sweepLimit bounds the Landlock helper's sweep of what a command left (a
// fork bomb could keep it going forever). Exec gives the helper more than
// this before killing it.
const sweepLimit = 2 * time.Second

type sandboxMode int

const (
	sandboxNone sandboxMode = iota
	sandboxBwrap
	sandboxLandlock
)

// helperInstalled is set when the program called InstallHelper, i.e. when
// re-executing ourselves as the Landlock helper will work.
var helperInstalled atomic.Bool

// InstallHelper says this program may be started again as the Landlock
// helper: main calls it, and TestMain in tests that run commands.
func InstallHelper() { helperInstalled.Store(true) }

// The helper runs from this package's init, before most of agent-tui's
// packages are initialized: the markdown and highlighting ones take some
// 45 ms, which every model command would pay. A package is initialized
// once its imports are, the first by import path among those ready, so
// this one comes early while it imports only the standard library,
// golang.org/x/sys and wtfile (TestHelperSkipsOtherPackagesInit).
func init() {
	closeInheritedOnExec()
	if len(os.Args) < 2 || os.Args[1] != HelperArg {
		return
	}
	err := runHelper(os.Args[2:])
	fmt.Fprintf(os.Stderr, "agent-tui sandbox: %v\n", err)
	os.Exit(126)
}

// hiddenMark starts a helper argument naming a path not to be read;
// readableMark one naming a path to read (not write) though hidden.
const (
	hiddenMark   = "!"
	readableMark = "+"
)

// parseHelperArgs splits "PATH... [+READABLE...] [!HIDDEN...] -- COMMAND":
// the paths commands may write, those they may only read (inside hidden
// ones), those they may not read, and the command.
func parseHelperArgs(args []string) (writable, readable, hidden []string, command string, err error) {
	for i, a := range args {
		if a == "--" {
			if i+2 != len(args) {
				break
			}
			for _, p := range args[:i] {
				if h, ok := strings.CutPrefix(p, hiddenMark); ok {
					hidden = append(hidden, h)
				} else if r, ok := strings.CutPrefix(p, readableMark); ok {
					readable = append(readable, r)
				} else {
					writable = append(writable, p)
				}
			}
			return writable, readable, hidden, args[i+1], nil
		}
	}
	return nil, nil, nil, "", fmt.Errorf("usage: %s PATH... [%sREADABLE...] [%sHIDDEN...] -- COMMAND", HelperArg, readableMark, hiddenMark)
}

var (
	bwrapOnce sync.Once
	bwrapPath string // "" when bubblewrap is missing or does not work here

	landlockOnce sync.Once
	landlockOK   bool

	goDirsOnce sync.Once
	goDirs     []string
	goModDirs  []string // of goDirs, the module caches: downloads only
)

func detectSandbox() sandboxMode {
	if bwrapWorks() {
		return sandboxBwrap
	}
	if landlockWorks() {
		return sandboxLandlock
	}
	return sandboxNone
}

func probeTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

// bwrapWorks runs bubblewrap once with the flags real commands use: it is
// often installed but unusable (no user namespaces in a container).
func bwrapWorks() bool {
	bwrapOnce.Do(func() {
		p, err := exec.LookPath("bwrap")
		if err != nil {
			return
		}
		// nothing written to disk: a probe killed half-way (a crash, a
		// kill -9) leaves nothing behind
		ctx, cancel := probeTimeout()
		defer cancel()
		argv := bwrapArgv(p, "/", nil, nil, nil, "echo probe-ok")
		if out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).Output(); err == nil && string(out) == "probe-ok\n" {
			bwrapPath = p
		}
	})
	return bwrapPath != ""
}

// LandlockUsable says whether this kernel offers Landlock (the test and CI
// runs are kept from reading other tickets with it).
func LandlockUsable() bool { return landlockABI() >= 2 }

// landlockWorks checks the kernel and then runs the helper once for real.
func landlockWorks() bool {
	landlockOnce.Do(func() {
		if !helperInstalled.Load() || landlockABI() < 1 {
			return
		}
		self, err := os.Executable()
		if err != nil {
			return
		}
		ctx, cancel := probeTimeout()
		defer cancel()
		// a write allowed by a rule, and nothing written to disk
		out, err := exec.CommandContext(ctx, self, HelperArg, "/dev/null", "--", "echo x > /dev/null && echo probe-ok").Output()
		landlockOK = err == nil && string(out) == "probe-ok\n"
	})
	return landlockOK
}

func bwrapArgv(bwrap, dir string, writable, readable, hidden []string, command string) []string {
	// its own pid namespace: the /proc it mounts shows no process of ours
	// (agent-tui's environ holds the keys)
	argv := []string{bwrap, "--die-with-parent", "--unshare-pid", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"}
	for _, h := range hidden {
		if strings.HasPrefix(h, "/dev/") {
			continue // --dev made a /dev of its own
		}
		// an empty directory or file in its place; the binds below still
		// reach into a hidden directory
		if fi, err := os.Stat(h); err == nil && fi.IsDir() {
			argv = append(argv, "--tmpfs", h)
		} else {
			argv = append(argv, "--ro-bind", "/dev/null", h)
		}
	}
	for _, r := range readable {
		argv = append(argv, "--ro-bind", r, r)
	}
	for _, w := range writable {
		argv = append(argv, "--bind", w, w)
	}
	return append(argv, "--chdir", dir, "/bin/sh", "-c", command)
}

// homeKeys are the key material commonly kept in a home directory (SSH
// and GPG keys, cloud credentials); homeSecrets add package managers'
// credentials. A model's command reads none of them.
var (
	homeKeys    = []string{".ssh", ".gnupg", ".aws", ".azure", ".kube", ".password-store", ".config/gh", ".config/gcloud"}
	homeSecrets = append(slices.Clone(homeKeys), ".git-credentials", ".netrc", ".npmrc", ".pypirc", ".docker/config.json", ".cargo/credentials", ".cargo/credentials.toml")
)

// HomeKeys are homeKeys in this home directory: the user's test and CI
// runs may not read them either (they run tests a model wrote, and their
// output goes to the next model), while package managers' credentials
// stay readable there for installing dependencies.
func HomeKeys() []string { return inHome(homeKeys) }

// inHome joins names to the home directory; none when it is unknown.
func inHome(names []string) []string {
	home, err := os.UserHomeDir()
	if err != nil || !filepath.IsAbs(home) {
		return nil
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, filepath.Join(home, n))
	}
	return out
}

// hidden are the paths that exist among those commands may not read,
// with symlinks resolved (the sandbox acts on what they point to).
func (b *Box) hidden() []string {
	return existing(append(append(slices.Clone(b.opts.Hidden), terminals...), inHome(homeSecrets)...))
}

// terminals are the user's terminals: a command that reads one takes
// what is typed there (agent-tui's keys, a password in another window).
// Bubblewrap gives commands a /dev of their own instead.
var terminals = []string{"/dev/pts"}

// existing are the paths that exist, symlinks resolved, once each.
func existing(paths []string) []string {
	var out []string
	for _, p := range paths {
		real, err := filepath.EvalSymlinks(p)
		if err != nil || !filepath.IsAbs(real) || real == "/" || slices.Contains(out, real) {
			continue
		}
		out = append(out, real)
	}
	return out
}

// goCacheDirs are the Go build and module caches: writable so that `go
// build` and `go test` work inside the sandbox.
func goCacheDirs() []string {
	goDirsOnce.Do(func() {
		var build, mod []string
		fromGo := false
		if _, err := exec.LookPath("go"); err == nil {
			ctx, cancel := probeTimeout()
			out, err := exec.CommandContext(ctx, "go", "env", "GOCACHE", "GOMODCACHE").Output()
			cancel()
			if f := strings.Split(strings.TrimSpace(string(out)), "\n"); err == nil && len(f) == 2 {
				build, mod, fromGo = f[:1], f[1:], true
			}
		}
		if !fromGo {
			if c, err := os.UserCacheDir(); err == nil {
				build = append(build, filepath.Join(c, "go-build"))
			}
			if home, err := os.UserHomeDir(); err == nil {
				mod = append(mod, filepath.Join(home, "go", "pkg", "mod"))
			}
			build, mod = append(build, os.Getenv("GOCACHE")), append(mod, os.Getenv("GOMODCACHE"))
		}
		for i, c := range append(build, mod...) {
			if !filepath.IsAbs(c) {
				continue
			}
			if fromGo {
				// on a machine where go never ran they do not exist yet,
				// and inside the sandbox go could not make them: made
				// here, as go itself would on its first run
				os.MkdirAll(c, 0o755)
			}
			goDirs = append(goDirs, filepath.Clean(c))
			if i >= len(build) {
				goModDirs = append(goModDirs, filepath.Clean(c))
			}
		}
	})
	return goDirs
}

// homeCaches are package managers' download caches: writable so that
// cargo, npm, pip, maven and gradle work inside the sandbox as go does.
var homeCaches = []string{".cache", ".npm", ".cargo/registry", ".cargo/git", ".cargo/.package-cache", ".m2/repository", ".gradle/caches", ".gradle/wrapper"}

// cachesOf are the cache directories a tool makes on its first run: made
// here when the tool is installed, since inside the sandbox it could not
// (the Go caches are made the same way, by goCacheDirs).
var cachesOf = map[string][]string{
	"npm":    {".npm"},
	"cargo":  {".cargo/registry", ".cargo/git"},
	"mvn":    {".m2/repository"},
	"gradle": {".gradle/caches", ".gradle/wrapper"},
	"pip3":   {".cache"},
}

var makeCachesOnce sync.Once

// cacheDirs are the caches commands may write beside the paths in also,
// shared with the user's own builds: the Go caches and homeCaches that
// exist, resolved by writableCaches. A sensitive ticket's commands share
// only those that hold downloads alone (Go's module cache, cargo's
// registry), never what builds leave (compiled code, test output), which
// other tickets' commands could read: theirs are private (PrivateCaches).
func cacheDirs(sensitive bool, also ...string) []string {
	makeCachesOnce.Do(makeToolCaches)
	return cachesFor(sensitive, append(slices.Clone(goCacheDirs()), inHome(homeCaches)...), append(slices.Clone(goModDirs), inHome(downloadCaches)...), also)
}

// cachesFor is cacheDirs from the shared caches and those of them that
// hold downloads alone.
func cachesFor(sensitive bool, shared, downloads, also []string) []string {
	if sensitive {
		// resolved past the caches other tickets' commands may write, too
		return writableCaches(downloads, append(slices.Clone(also), shared...))
	}
	return writableCaches(shared, also)
}

// within says whether path is dir or beneath it.
func within(path, dir string) bool {
	dir = filepath.Clean(dir)
	return path == dir || strings.HasPrefix(path, dir+string(filepath.Separator))
}

// downloadCaches are the homeCaches that hold nothing but what was
// downloaded.
var downloadCaches = []string{".cargo/registry", ".cargo/git", ".cargo/.package-cache"}

// PrivateCaches is env with the caches of builds (Go's, pip's, npm's,
// yarn's, Maven's, Gradle's, and XDG's for the rest) beneath dir: a
// sensitive ticket's, whose commands may not write the shared ones.
// Dependencies are downloaded again there, once per ticket.
func PrivateCaches(env []string, dir string) []string {
	vars := map[string]string{
		"GOCACHE":           "go-build",
		"XDG_CACHE_HOME":    "xdg",
		"PIP_CACHE_DIR":     "pip",
		"npm_config_cache":  "npm",
		"YARN_CACHE_FOLDER": "yarn",
		"GRADLE_USER_HOME":  "gradle",
	}
	mavenOpts := ""
	env = slices.DeleteFunc(env, func(kv string) bool {
		name, value, _ := strings.Cut(kv, "=")
		if name == "MAVEN_OPTS" {
			mavenOpts = value
		}
		_, ours := vars[name]
		return ours || name == "MAVEN_OPTS"
	})
	names := slices.Sorted(maps.Keys(vars))
	for _, name := range names {
		env = append(env, name+"="+filepath.Join(dir, "cache", vars[name]))
	}
	return append(env, "MAVEN_OPTS="+strings.TrimSpace(mavenOpts+" -Dmaven.repo.local="+filepath.Join(dir, "cache", "m2")))
}

// writableCaches resolves the directories in cands, leaving out any whose
// resolution looks up a name inside a directory commands may write (one of
// cands, or of also): a command could have made that name a symlink to
// anywhere, and the grant would follow it (GOCACHE, ~/.cache/go-build by
// default, made a link to the home directory). What is left out that way
// is inside the other's grant already, or was such a link.
func writableCaches(cands, also []string) []string {
	// every directory granted is a root: agent-tui's own paths, and each
	// cache as named and as resolved here (a link's target counts once it
	// is granted; until then it is only a command's say-so)
	var roots []string
	addRoot := func(p string) bool {
		if p == "/" || slices.Contains(roots, p) {
			return false
		}
		roots = append(roots, p)
		return true
	}
	for _, p := range also {
		if filepath.IsAbs(p) {
			addRoot(filepath.Clean(p))
			if real, err := filepath.EvalSymlinks(p); err == nil {
				addRoot(real)
			}
		}
	}
	for _, c := range cands {
		if filepath.IsAbs(c) {
			addRoot(filepath.Clean(c))
		}
	}
	inRoot := func(dir string) bool {
		return slices.ContainsFunc(roots, func(r string) bool { return within(dir, r) })
	}
	for {
		var out []string
		grew := false
		for _, c := range cands {
			if !filepath.IsAbs(c) {
				continue
			}
			real, ok := resolveOutside(c, inRoot)
			if !ok || real == "/" || slices.Contains(out, real) {
				continue
			}
			// (a file too: cargo's lock, .package-cache)
			if st, err := os.Stat(real); err == nil && (st.IsDir() || st.Mode().IsRegular()) {
				out = append(out, real)
				grew = addRoot(real) || grew
			}
		}
		if !grew {
			return out
		}
	}
}

// resolveOutside resolves the absolute path p as filepath.EvalSymlinks does,
// failing when p does not exist or a name would be looked up in a directory
// for which inside is true.
func resolveOutside(p string, inside func(dir string) bool) (string, bool) {
	todo := strings.Split(p, "/")
	cur, links := "/", 0
	for len(todo) > 0 {
		name := todo[0]
		todo = todo[1:]
		switch name {
		case "", ".":
			continue
		case "..":
			cur = filepath.Dir(cur)
			continue
		}
		if inside(cur) {
			return "", false
		}
		next := filepath.Join(cur, name)
		fi, err := os.Lstat(next)
		if err != nil {
			return "", false
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		target, err := os.Readlink(next)
		if links++; err != nil || links > 40 {
			return "", false
		}
		if filepath.IsAbs(target) {
			cur = "/"
		}
		todo = append(strings.Split(target, "/"), todo...)
	}
	return cur, true
}

// makeToolCaches makes the caches of the tools installed (cachesOf).
func makeToolCaches() {
	for tool, dirs := range cachesOf {
		if _, err := exec.LookPath(tool); err == nil {
			for _, d := range inHome(dirs) {
				os.MkdirAll(d, 0o755)
			}
		}
	}
}

// writableDevices are the devices commands may write: /dev/null, and
// /dev/full (a test of a full disk writes it).
var writableDevices = []string{"/dev/null", "/dev/full"}

// CheckWritable is where the user's test and CI runs may write: the
// ticket's own paths (its worktree, temporary directory, private object
// store), the caches, /dev/null and /dev/shm (Python's multiprocessing
// makes its semaphores there).
func CheckWritable(sensitive bool, own ...string) []string {
	var out []string
	own = append(append(own, writableDevices...), "/dev/shm")
	for _, p := range append(existing(own), cacheDirs(sensitive, own...)...) {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

func (b *Box) writable() []string {
	// /dev/shm as the test and CI runs have it (CheckWritable): POSIX
	// semaphores and shared memory live there
	w := append([]string{b.rootDir, b.tmpDir}, existing([]string{"/dev/shm"})...)
	for _, d := range cacheDirs(b.opts.Sensitive, w...) {
		dup := false
		for _, x := range w {
			dup = dup || x == d
		}
		if !dup {
			w = append(w, d)
		}
	}
	return w
}

func (b *Box) commandArgv(command string) []string {
	switch b.mode {
	case sandboxBwrap:
		return bwrapArgv(bwrapPath, b.rootDir, b.writable(), existing(b.opts.Readable), b.hidden(), command)
	case sandboxLandlock:
		if self, err := os.Executable(); err == nil {
			argv := append([]string{self, HelperArg}, b.writable()...)
			argv = append(argv, writableDevices...)
			for _, r := range existing(b.opts.Readable) {
				argv = append(argv, readableMark+r)
			}
			for _, h := range b.hidden() {
				argv = append(argv, hiddenMark+h)
			}
			return append(argv, "--", command)
		}
	}
	return []string{"/bin/sh", "-c", command}
}

// Confinement says, for people, what commands run by the model can write.
func (b *Box) Confinement() string { return describe(b.mode, b.opts.Sandbox) }

// Confinement says how run_command would be confined on this machine with
// the sandbox setting ("auto" or "off"), without making a Box.
func Confinement(sandbox string) string {
	mode := sandboxNone
	if sandbox == "" || sandbox == "auto" {
		mode = detectSandbox()
	}
	d := describe(mode, sandbox)
	if sandbox != "off" && landlockABI() < 2 {
		d += "; test and CI runs are not kept from reading other tickets (that needs Landlock 2, Linux 5.19)"
	}
	return d
}

func describe(mode sandboxMode, sandbox string) string {
	const noFilter = " (no socket filter on this architecture)"
	switch mode {
	case sandboxBwrap:
		text := "bubblewrap: commands can write only to the worktree, the ticket temp dir and the package caches, and cannot read other tickets or home credentials"
		switch {
		case !socketFilterHere():
			return text + "; they can reach unix sockets" + noFilter
		case !filterableLauncher(bwrapPath):
			return text + "; they can reach unix sockets (this bubblewrap is setuid or has file capabilities, which the socket filter would disable)"
		}
		return text + ", nor reach unix sockets"
	case sandboxLandlock:
		text := "landlock: writes limited to the worktree, the ticket temp dir and the package caches; other tickets and home credentials unreadable"
		if !socketFilterHere() {
			return text + "; unix sockets reachable" + noFilter
		}
		return text + "; no unix sockets"
	}
	if sandbox == "off" {
		return "unconfined (sandbox = \"off\"): commands can write anywhere the user can"
	}
	return "unconfined (neither bubblewrap nor Landlock is usable here): commands can write anywhere the user can"
}
