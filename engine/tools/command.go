package tools

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"
)

// secretWords mark environment variables that must not reach model
// commands, anywhere in the name; secretParts only as a whole part of it
// (GH_PAT, NPM_AUTH, DB_PASS, SENTRY_DSN: a data source name holds its
// password or key), since inside a word they mean other things (PATH,
// AUTHOR, PASSAGE).
var (
	secretWords = []string{"KEY", "SECRET", "TOKEN", "PASSWORD", "PASSWD", "PASSPHRASE", "CREDENTIAL", "COOKIE"}
	secretParts = []string{"PAT", "AUTH", "PASS", "PWD", "CREDS", "APIKEY", "DSN"}
)

// secretVar says whether the variable kv ("NAME=value") looks like it
// holds a secret: by its name, or by a value that is a URL with a password
// in it (DATABASE_URL=postgres://user:pw@host/db).
func secretVar(kv string) bool {
	name, value, _ := strings.Cut(kv, "=")
	upper := strings.ToUpper(name)
	for _, w := range secretWords {
		if strings.Contains(upper, w) {
			return true
		}
	}
	if upper != "PWD" && upper != "OLDPWD" {
		for _, part := range strings.FieldsFunc(upper, func(r rune) bool { return r < 'A' || r > 'Z' }) {
			if slices.Contains(secretParts, part) {
				return true
			}
		}
	}
	return urlWithPassword(value)
}

// urlWithPassword: s is a URL whose authority holds user:password@. (Not
// net/url: this package is initialized before the program's others, and
// net/url would come after them; see the stash package.)
func urlWithPassword(s string) bool {
	_, rest, ok := strings.Cut(strings.TrimSpace(s), "://")
	if !ok {
		return false
	}
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		rest = rest[:i]
	}
	at := strings.LastIndex(rest, "@")
	return at > 0 && strings.Contains(rest[:at], ":")
}

// ScrubEnv drops the variables that look secret (secretVar),
// SSH_AUTH_SOCK (access to the user's keys), and any named in extraDrop.
func ScrubEnv(env []string, extraDrop []string) []string {
	out := make([]string, 0, len(env))
next:
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if secretVar(kv) || strings.EqualFold(name, "SSH_AUTH_SOCK") {
			continue
		}
		for _, d := range extraDrop {
			if strings.EqualFold(name, d) {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max   int
	buf   []byte
	total int64
	tap   *outputTap // nil: none
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	if t.tap != nil {
		t.tap.write(p)
	}
	t.total += int64(len(p))
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	b := t.buf
	if len(b) > t.max {
		b = b[len(b)-t.max:]
	}
	if int64(len(b)) < t.total {
		// Do not start in the middle of a character.
		for i := 0; i < utf8.UTFMax && len(b) > 0 && !utf8.RuneStart(b[0]); i++ {
			b = b[1:]
		}
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	if int64(len(b)) < t.total {
		s = fmt.Sprintf("[output truncated: showing the last %d of %d bytes]\n", len(b), t.total) + s
	}
	return s
}

func (b *Box) commandEnv() []string {
	env := WithTMPDIR(ScrubEnv(os.Environ(), b.opts.ExtraEnvDrop), b.tmpDir)
	if b.opts.Sensitive && b.mode != sandboxNone {
		env = PrivateCaches(env, b.tmpDir)
	}
	return env
}

// WithTMPDIR is env with the temporary directory set to dir, in place of
// any it had: TMPDIR, TMP and TEMP, and Java's java.io.tmpdir (Java reads
// no variable for it, and /tmp is not writable in the sandbox).
func WithTMPDIR(env []string, dir string) []string {
	javaOpts := ""
	env = slices.DeleteFunc(env, func(kv string) bool {
		name, value, _ := strings.Cut(kv, "=")
		if name == "JAVA_TOOL_OPTIONS" {
			javaOpts = value
		}
		return name == "TMPDIR" || name == "TMP" || name == "TEMP" || name == "JAVA_TOOL_OPTIONS"
	})
	javaOpts = strings.TrimSpace(javaOpts + " -Djava.io.tmpdir=" + dir)
	return append(env, "TMPDIR="+dir, "TMP="+dir, "TEMP="+dir, "JAVA_TOOL_OPTIONS="+javaOpts)
}

// Result is how a command ended.
type Result struct {
	ExitCode int    // 128+N when killed by signal N
	Output   string // the tail of stdout and stderr together
	TimedOut bool
	// Unconfined says why a command that was to be confined was not.
	Unconfined string
}

// ExecConfined is Exec with the command unable to write anywhere but
// beneath writable, or to read files beneath hidden (except beneath
// writable or readable): for the user's test and CI commands, which run tests a model
// wrote and show their output to the next model. A thread of this process
// is confined (Landlock), starts the command and ends with it, so nothing
// else of agent-tui is, and no helper process is started. Where Landlock
// is not usable it is Exec, and Result.Unconfined says why.
func ExecConfined(ctx context.Context, argv []string, dir string, env []string, timeout time.Duration, outputCap int, writable, readable, hidden []string) (Result, error) {
	hidden = existing(append(slices.Clone(hidden), terminals...))
	if v := landlockABI(); v < 2 {
		// before ABI 2, a confined process can never move or link a file
		// into another directory: a check would fail for that alone
		res, err := Exec(ctx, argv, dir, env, timeout, outputCap)
		res.Unconfined = fmt.Sprintf("Landlock ABI %d here; test runs are confined from ABI 2 (Linux 5.19)", v)
		return res, err
	}
	// The groups the run makes are noted and killed with it (keepInGroup),
	// which needs the run's session made by setsid(1) once it runs: Exec
	// makes it in the child it forks, and the keeper, asked then, could
	// not answer (see keepInGroup). Where either cannot be had (no
	// setsid(1), before Linux 5.5, another architecture), what leaves the
	// group outlives the run, as it would unconfined.
	keep := setsidProgram() != "" && socketFilterHere()
	var keeper *groupKeeper
	res, err, confined := execOnThread(func() error {
		if err := confineThread(existing(writable), existing(readable), hidden); err != nil {
			return err
		}
		if keep {
			keeper, _ = keepInGroup()
		}
		return nil
	}, func() (Result, error) {
		if keeper == nil {
			return execSession(ctx, argv, dir, env, timeout, outputCap, true, nil) // here: this thread is the confined one
		}
		// the groups it made go as soon as it ends, before its output is
		// read to the end (a server left running holds it)
		return execSession(ctx, append([]string{setsidProgram()}, argv...), dir, env, timeout, outputCap, false, func() { keeper.end() })
	})
	if confined == nil {
		if keeper != nil && err == nil && notStarted(res, argv[0]) {
			// what Exec says of a program that cannot run (a bad #! line)
			return Result{}, fmt.Errorf("cannot run command: %s", strings.TrimSpace(res.Output))
		}
		return res, err
	}
	res, err = Exec(ctx, argv, dir, env, timeout, outputCap)
	res.Unconfined = confined.Error()
	return res, err
}

// execOnThread is Exec from a thread of its own, once prepare (which
// confines that thread: Landlock, seccomp) succeeded there; prepErr is
// prepare's error, and then nothing ran. The thread is never unlocked: it
// ends with its goroutine, and Go starts no thread from a locked one (it
// would inherit the confinement).
//
// The thread's priority is lowered first (commandNice): the command forked
// from it inherits that from its first instruction, and so does all it
// starts.
func execOnThread(prepare func() error, run func() (Result, error)) (res Result, err, prepErr error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		if onMainThread() {
			// never the process's first thread: a process-directed signal,
			// ptrace of its id and /proc/<pid> judge agent-tui by it, so
			// confined it would share the run's Landlock domain with the
			// run (which could then signal agent-tui), and it would be
			// lost to the runtime once its goroutine ends. Held here, it
			// cannot be the thread the work gets.
			res, err, prepErr = execOnThread(prepare, run)
			runtime.UnlockOSThread()
			return
		}
		lowerThreadPriority()
		if prepare != nil {
			prepErr = prepare()
		}
		if prepErr == nil {
			res, err = run()
		}
	}()
	<-done
	return res, err, prepErr
}

// Exec runs argv in dir in a session of its own: on timeout, and when it
// ends, the whole process group is killed, so nothing it started outlives
// it. Only the last outputCap bytes of output are kept. An error means the
// command could not run or ctx was cancelled; a failing command is not one.
// It runs from a thread of its own (execOnThread), at a lower priority.
func Exec(ctx context.Context, argv []string, dir string, env []string, timeout time.Duration, outputCap int) (Result, error) {
	res, err, _ := execOnThread(nil, func() (Result, error) {
		return execSession(ctx, argv, dir, env, timeout, outputCap, true, nil)
	})
	return res, err
}

// notStarted says whether setsid(1) could not run prog: 126 or 127, and
// one line of complaint naming it (in whatever language).
func notStarted(res Result, prog string) bool {
	out := strings.TrimSpace(res.Output)
	return (res.ExitCode == 126 || res.ExitCode == 127) && !strings.Contains(out, "\n") &&
		strings.HasPrefix(out, "setsid: ") && strings.Contains(out, prog)
}

// setsidProgram is setsid(1), "" where there is none.
var setsidProgram = sync.OnceValue(func() string {
	// the system's first: a directory on PATH may be one commands can write
	for _, p := range []string{"/usr/bin/setsid", "/bin/setsid", "/usr/sbin/setsid", "/sbin/setsid"} {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	p, err := exec.LookPath("setsid")
	if err != nil || !filepath.IsAbs(p) {
		return ""
	}
	return p
})

// execSession is Exec; with newSession false the command must make its
// own session (argv[0] is setsid(1)): until it has, it is killed by its
// pid alone.
func execSession(ctx context.Context, argv []string, dir string, env []string, timeout time.Duration, outputCap int, newSession bool, exited func()) (Result, error) {
	if exited == nil {
		exited = func() {}
	}
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(tctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = withPWD(env, dir)
	// The output comes through a pipe of our own, not one exec makes: its
	// Wait waits for every process holding the pipe (a test's server left
	// in the background), up to WaitDelay, before the groups that hold it
	// could be killed. Here they are killed as soon as the command ends.
	r, w, err := os.Pipe()
	if err != nil {
		exited()
		return Result{}, fmt.Errorf("cannot run command: %v", err)
	}
	defer r.Close()
	cmd.Stdout, cmd.Stderr = w, w
	// A new session: the process group can be killed as a whole, and the
	// command has no controlling terminal to read from or inject into.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: newSession}
	if !newSession {
		// a confined run (ExecConfined): its shell ends with agent-tui,
		// even by SIGKILL (what it started and left running does not)
		setDeathSignal(cmd.SysProcAttr, syscall.SIGKILL)
	}
	cmd.Cancel = func() error {
		syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	if len(argv) > 1 && argv[1] == HelperArg {
		// The sandbox helper kills what the command left, its orphans
		// included, when asked to stop; WaitDelay, longer than its own
		// sweep, kills it if it does not. It is asked by SIGTERM when
		// agent-tui dies too, even by SIGKILL: its parent-death signal.
		cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
		cmd.WaitDelay = sweepLimit + 3*time.Second
		setDeathSignal(cmd.SysProcAttr, syscall.SIGTERM)
	}
	// A parent-death signal (the helper's, bwrap's --die-with-parent) comes
	// when the thread that started the child ends, not the process
	// (golang/go#27505), and Go ends a thread whose goroutine exits while
	// locked to it. Locked here until the child has been waited for, the
	// thread cannot end before agent-tui does. (Set here rather than by
	// prctl in the helper, which would name the same thread and leave a
	// gap before it runs: Go's child sets it before exec and signals itself
	// if its parent is already gone.)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	start := time.Now()
	err = cmd.Start()
	w.Close()
	out := &tailBuffer{max: outputCap, tap: tapFrom(ctx)}
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		io.Copy(out, r)
	}()
	if err == nil {
		err = cmd.Wait()
		// Nothing the command started outlives it.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	exited()
	drainOutput(r, drained)
	switch {
	case ctx.Err() != nil:
		// what it printed so far is kept: a CI run cut off is shown as far as it got
		return Result{ExitCode: -1, Output: out.String()}, fmt.Errorf("command cancelled after %s", time.Since(start).Round(time.Millisecond))
	case tctx.Err() != nil:
		return Result{ExitCode: -1, Output: out.String(), TimedOut: true}, nil
	}
	res := Result{}
	var ee *exec.ExitError
	switch {
	case err == nil, errors.Is(err, exec.ErrWaitDelay):
	case errors.As(err, &ee):
		res.ExitCode = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.ExitCode = 128 + int(ws.Signal())
		}
	default:
		return Result{}, fmt.Errorf("cannot run command: %v", err)
	}
	res.Output = out.String()
	return res, nil
}

// drainOutput waits, once the command has ended and everything it started
// that could be found is killed, until its output is read: to the end of
// the pipe, or to the last byte in it. A process that escaped every kill
// (one in its own session, unconfined) may hold the pipe open and write
// to it later: that is not waited for.
func drainOutput(r *os.File, drained <-chan struct{}) {
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		select {
		case <-drained:
			return
		case <-time.After(time.Millisecond):
		}
		if pipeEmpty(r) {
			break
		}
	}
	r.Close() // (ends the read)
	<-drained
}

func (b *Box) runCommand(ctx context.Context, a args) (string, error) {
	command, err := a.str("command")
	if err != nil {
		return "", err
	}
	if strings.TrimSpace(command) == "" {
		return "", errors.New("command is empty")
	}
	argv := b.commandArgv(command)
	var res Result
	filtered := false
	if b.mode == sandboxBwrap {
		// unix sockets lead out of any sandbox: see refuseUnixSockets
		res, err, filtered = execNoUnixSockets(ctx, argv, b.rootDir, b.commandEnv(), b.opts.CommandTimeout, b.opts.OutputCap)
	}
	if !filtered {
		res, err = Exec(ctx, argv, b.rootDir, b.commandEnv(), b.opts.CommandTimeout, b.opts.OutputCap)
	}
	if err != nil {
		return "", err
	}
	if res.TimedOut {
		return "", &worded{fmt.Sprintf("error: command timed out after %s; it and its child processes were killed\n%s", b.opts.CommandTimeout, res.Output)}
	}
	text := res.Output
	if text == "" {
		text = "(no output)"
	}
	return fmt.Sprintf("exit code %d\n%s", res.ExitCode, text), nil
}

// worded is a failure whose result text is complete and may span lines
// (e.g. a timeout followed by the output so far).
type worded struct{ text string }

func (w *worded) Error() string { return w.text }

// withPWD points PWD at dir: os/exec only does so when Env is nil, and a
// program that trusts PWD would otherwise look at agent-tui's own directory.
func withPWD(env []string, dir string) []string {
	abs, err := filepath.Abs(dir)
	if err != nil || dir == "" {
		return env
	}
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, "PWD=") {
			out = append(out, kv)
		}
	}
	return append(out, "PWD="+abs)
}
