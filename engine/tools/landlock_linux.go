package tools

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// landlockABI is the kernel's Landlock ABI version, 0 when unavailable.
var landlockABI = sync.OnceValue(func() int {
	v, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if errno != 0 {
		return 0
	}
	return int(v)
})

// writeAccess is every write-like right this ABI knows; rights we do not
// handle (reading, executing) stay allowed everywhere.
func writeAccess(abi int) uint64 {
	a := uint64(unix.LANDLOCK_ACCESS_FS_WRITE_FILE |
		unix.LANDLOCK_ACCESS_FS_REMOVE_DIR |
		unix.LANDLOCK_ACCESS_FS_REMOVE_FILE |
		unix.LANDLOCK_ACCESS_FS_MAKE_CHAR |
		unix.LANDLOCK_ACCESS_FS_MAKE_DIR |
		unix.LANDLOCK_ACCESS_FS_MAKE_REG |
		unix.LANDLOCK_ACCESS_FS_MAKE_SOCK |
		unix.LANDLOCK_ACCESS_FS_MAKE_FIFO |
		unix.LANDLOCK_ACCESS_FS_MAKE_BLOCK |
		unix.LANDLOCK_ACCESS_FS_MAKE_SYM)
	if abi >= 2 {
		a |= unix.LANDLOCK_ACCESS_FS_REFER
	}
	if abi >= 3 {
		a |= unix.LANDLOCK_ACCESS_FS_TRUNCATE
	}
	return a
}

// confineThread makes the calling thread, and what it starts from now on,
// unable to write anywhere but beneath writable, or to read files beneath
// hidden (except beneath writable or readable). Landlock and no_new_privs hold for the
// thread only: the caller must be locked to it and let it end with its
// goroutine. It needs Landlock ABI 2 (ExecConfined asks first).
func confineThread(writable, readable, hidden []string) error {
	rs, err := threadRulesets.get(writable, readable, hidden)
	if err != nil {
		return err
	}
	defer unix.Close(rs)
	if err := restrictSelf(rs); err != nil {
		return err
	}
	// where it cannot be had (another architecture), the files' rules hold
	_ = refuseUnixSockets()
	return nil
}

// buildThreadRuleset makes the ruleset confineThread applies, and says
// what it was made from.
func buildThreadRuleset(writable, readable, hidden []string) (int, []pathStamp, error) {
	// moving and linking files between directories (refer) is refused by
	// any ruleset that does not handle and grant it: granted everywhere,
	// and still needs the rights to make and remove files at both ends
	const refer = unix.LANDLOCK_ACCESS_FS_REFER
	write := writeAccess(landlockABI())
	rs, err := newRuleset(readRights | write)
	if err != nil {
		return -1, nil, err
	}
	// stamped before they are read: a change while reading shows later
	var stamps []pathStamp
	for _, p := range append(slices.Clone(writable), readable...) {
		stamps = append(stamps, stampOf(p, true))
	}
	roots := readableRoots(hidden, func(dir string) { stamps = append(stamps, stampOf(dir, false)) })
	// a path that cannot be opened, or a rule refused, stays unreadable
	_ = addRule(rs, "/", unix.LANDLOCK_ACCESS_FS_READ_DIR|refer, 0)
	for _, p := range append(roots, readable...) {
		_ = addRule(rs, p, readRights|refer, unix.O_NOFOLLOW)
	}
	for _, p := range writable {
		_ = addRule(rs, p, (readRights|write)&^makeDevices, unix.O_NOFOLLOW)
	}
	return rs, stamps, nil
}

// signalScope is Landlock's signal scoping where the kernel has it: a
// confined command may signal only what its run started, not agent-tui,
// another ticket's run or any other process of the user's (kill, SIGSTOP).
// It needs erratum 2 fixed, which lets threads of one process always
// signal each other: a thread of agent-tui is confined for test runs, and
// Go's runtime signals its threads.
var signalScope = sync.OnceValue(func() uint64 {
	const erratum2 = 1 << 1
	if landlockABI() < 6 {
		return 0
	}
	errata, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_ERRATA)
	if errno != 0 || errata&erratum2 == 0 {
		return 0
	}
	return unix.LANDLOCK_SCOPE_SIGNAL
})

// newRuleset makes a Landlock ruleset handling the given rights, and
// scoping signals where it can (signalScope).
func newRuleset(handled uint64) (int, error) {
	attr := unix.LandlockRulesetAttr{Access_fs: handled, Scoped: signalScope()}
	size := unsafe.Sizeof(attr)
	if attr.Scoped == 0 {
		size = 8 // what kernels before ABI 4 know
	}
	fd, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), size, 0)
	if errno != 0 {
		return -1, fmt.Errorf("landlock_create_ruleset: %v", errno)
	}
	return int(fd), nil
}

// addRule grants rights beneath p (of them, only those a file can have
// when p is not a directory); a path that cannot be opened is skipped.
func addRule(ruleset int, p string, rights uint64, openFlags int) error {
	pfd, err := unix.Open(p, unix.O_PATH|unix.O_CLOEXEC|openFlags, 0)
	if err != nil {
		return nil
	}
	defer unix.Close(pfd)
	var st unix.Stat_t
	if unix.Fstat(pfd, &st) == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
		rights &= fileRights | unix.LANDLOCK_ACCESS_FS_READ_FILE
	}
	rule := unix.LandlockPathBeneathAttr{Allowed_access: rights, Parent_fd: int32(pfd)}
	if _, _, errno := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, uintptr(ruleset), unix.LANDLOCK_RULE_PATH_BENEATH, uintptr(unsafe.Pointer(&rule)), 0, 0, 0); errno != 0 {
		return fmt.Errorf("landlock_add_rule %s: %v", p, errno)
	}
	return nil
}

// restrictSelf confines the calling thread, and what it starts, to the
// ruleset (no_new_privs first, as Landlock asks of the unprivileged).
func restrictSelf(ruleset int) error {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(no_new_privs): %v", err)
	}
	if _, _, errno := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, uintptr(ruleset), 0, 0); errno != 0 {
		return fmt.Errorf("landlock_restrict_self: %v", errno)
	}
	return nil
}

const readRights = unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_READ_DIR

// makeDevices are the rights to make device nodes: never granted, even
// where a command may write (as root, a node of the disk made in the
// worktree would read and write past every rule).
const makeDevices = unix.LANDLOCK_ACCESS_FS_MAKE_CHAR | unix.LANDLOCK_ACCESS_FS_MAKE_BLOCK

// readableDevices are the entries of /dev a command may read: what
// programs expect to find. The rest (disks, memory, consoles, the kernel
// log) would, for root, read past every rule.
var readableDevices = map[string]bool{
	"null": true, "zero": true, "full": true, "random": true, "urandom": true,
	"tty": true, "ptmx": true, "shm": true, "mqueue": true,
	"fd": true, "stdin": true, "stdout": true, "stderr": true,
}

// readableRoots are the paths beneath which files may be read when the
// hidden ones may not: the entries of every directory on the way to a
// hidden path, except those on the way and the hidden ones, and of /dev
// only readableDevices. visit, when given, hears of each directory before
// it is read.
func readableRoots(hidden []string, visit func(dir string)) []string {
	isHidden, onWay := map[string]bool{}, map[string]bool{"/dev": true}
	for _, h := range hidden {
		h = filepath.Clean(h)
		isHidden[h] = true
		for d := filepath.Dir(h); !onWay[d]; d = filepath.Dir(d) {
			onWay[d] = true
			if d == "/" {
				break
			}
		}
	}
	var out []string
	var walk func(dir string)
	walk = func(dir string) {
		if visit != nil {
			visit(dir)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range entries {
			p := filepath.Join(dir, e.Name())
			switch {
			case isHidden[p]:
			case dir == "/dev" && !readableDevices[e.Name()]:
			case onWay[p]:
				walk(p)
			default:
				out = append(out, p)
			}
		}
	}
	walk("/")
	return out
}

// fileRights are the rights that apply to a non-directory (e.g. /dev/null).
const fileRights = unix.LANDLOCK_ACCESS_FS_WRITE_FILE | unix.LANDLOCK_ACCESS_FS_TRUNCATE

func runHelper(args []string) error {
	writable, readable, hidden, command, err := parseHelperArgs(args)
	if err != nil {
		return err
	}
	// Landlock and no_new_privs apply to the calling thread, which must be
	// the one that execs.
	runtime.LockOSThread()
	// the command may not trace this process (its thread holds the group
	// keeper's listener) unless it is privileged
	_ = HideEnvironment()
	abi := landlockABI()
	if abi < 1 {
		return errors.New("landlock is not available")
	}
	// reads are handled even with nothing hidden: /dev's disks stay out
	handled := writeAccess(abi) | readRights
	rs, err := newRuleset(handled)
	if err != nil {
		return err
	}
	for _, p := range writable {
		if err := addRule(rs, p, handled&^makeDevices, 0); err != nil {
			return err
		}
	}
	// directories stay listable everywhere; files are readable everywhere
	// but in the hidden paths and /dev's devices
	if err := addRule(rs, "/", unix.LANDLOCK_ACCESS_FS_READ_DIR, 0); err != nil {
		return err
	}
	for _, p := range readableRoots(hidden, nil) {
		// a symlink is not followed: what it points to is judged by
		// where that is (a link to ~/.ssh stays unreadable)
		_ = addRule(rs, p, readRights, unix.O_NOFOLLOW)
	}
	for _, p := range readable {
		_ = addRule(rs, p, readRights, unix.O_NOFOLLOW)
	}
	if err := restrictSelf(rs); err != nil {
		return err
	}
	unix.Close(rs)
	_ = refuseUnixSockets()
	// Orphans of the command (`setsid -f`, a double fork) come to this
	// process instead of init, so that none outlives the command: left
	// running, one could change the worktree after the checks.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return syscall.Exec("/bin/sh", []string{"sh", "-c", command}, os.Environ())
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	// A process group of its own (not this process's): the sweep kills it
	// in one go, forks under way included. `kill 0` in the command reaches
	// the command only. The groups the command makes are noted and killed
	// the same way (keepInGroup, which needs the command's group made by
	// setsid(1): see ExecConfined), a fork bomb's too; the sweep is for
	// what is left, and where the keeper cannot be had.
	argv, attr := []string{"/bin/sh", "-c", command}, &syscall.SysProcAttr{Setpgid: true}
	var keeper *groupKeeper
	if launcher := setsidProgram(); launcher != "" && socketFilterHere() {
		if k, err := keepInGroup(); err == nil {
			keeper, argv, attr = k, append([]string{launcher}, argv...), &syscall.SysProcAttr{}
		}
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = os.Environ()
	cmd.SysProcAttr = attr
	if err := cmd.Start(); err != nil { // from this thread: it is the confined one
		return err
	}
	sh := cmd.Process.Pid
	done := make(chan struct{})
	go func() {
		// WNOWAIT: the shell stays a zombie until the sweep reaps it, so
		// its pid, which names its group, cannot go to another process.
		var info unix.Siginfo
		for unix.Waitid(unix.P_PID, sh, &info, unix.WEXITED|unix.WNOWAIT, nil) == unix.EINTR {
		}
		close(done)
	}()
	stopped := false
	select {
	case <-done:
	case <-stop: // cancelled, timed out, or agent-tui died (see Exec)
		stopped = true
	}
	unix.Kill(-sh, unix.SIGKILL) // (before the groups it made: none is made after)
	keeper.end()
	s := newSweeper(sh)
	s.run(sweepLimit)
	code := 128 + int(syscall.SIGTERM)
	if !stopped {
		code = 126
		if s.shReaped {
			code = statusCode(s.shStatus)
		}
	}
	os.Exit(code)
	return nil
}

// setDeathSignal has the child started with attr get sig when its parent
// thread ends.
func setDeathSignal(attr *syscall.SysProcAttr, sig syscall.Signal) { attr.Pdeathsig = sig }

// HideEnvironment keeps this process's environment, which holds the API
// keys, from other processes of the same user: the commands a model runs
// are scrubbed of the keys, but could read them from
// /proc/<agent-tui>/environ. A process that is not dumpable has its /proc
// entries owned by root. (Root itself can still read them.)
func HideEnvironment() error {
	return unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
}
