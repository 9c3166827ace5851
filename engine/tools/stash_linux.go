package tools

import (
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// StashSecrets takes the variables that look secret (API keys) out of
// this process's environment. /proc/<pid>/environ shows the environment a
// process started with to whoever may read it, and root may, even when
// the process is not dumpable: a command a model runs as root could read
// the keys there. agent-tui starts itself again (the same process, by
// exec) without them, and hands their values over a pipe; Getenv finds
// them. Nothing changes when there is nothing to hide, or when the exec
// cannot be done.
func StashSecrets() {
	if fd := os.Getenv(secretsFDVar); fd != "" {
		os.Unsetenv(secretsFDVar)
		n, err := strconv.Atoi(fd)
		if err != nil {
			return
		}
		var st unix.Stat_t
		if unix.Fstat(n, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO {
			return // not our pipe (an inherited variable): never read a terminal
		}
		f := os.NewFile(uintptr(n), "secrets")
		data, _ := io.ReadAll(f)
		f.Close()
		m := map[string]string{}
		for _, kv := range strings.Split(string(data), "\x00") {
			if name, value, ok := strings.Cut(kv, "="); ok && name != "" {
				m[name] = value
			}
		}
		stashMu.Lock()
		stashed = m
		stashMu.Unlock()
		return
	}
	var keep, hide []string
	for _, kv := range os.Environ() {
		if stashable(kv) {
			hide = append(hide, kv)
		} else {
			keep = append(keep, kv)
		}
	}
	payload := strings.Join(hide, "\x00")
	// the pipe is written before the exec and read after it: it must hold
	// everything at once
	if len(hide) == 0 || len(payload) > 32<<10 {
		return
	}
	exe, err := os.Executable()
	if err != nil {
		return
	}
	r, w, err := os.Pipe()
	if err != nil {
		return
	}
	// a user over their pipe quota gets small pipes: a write that does not
	// fit would wait for a reader that only comes after the exec
	if size, err := unix.FcntlInt(w.Fd(), unix.F_GETPIPE_SZ, 0); err != nil || size < len(payload) {
		r.Close()
		w.Close()
		return
	}
	if _, err := io.WriteString(w, payload); err != nil {
		r.Close()
		w.Close()
		return
	}
	w.Close()
	if _, err := unix.FcntlInt(r.Fd(), unix.F_SETFD, 0); err != nil { // kept across the exec
		r.Close()
		return
	}
	keep = append(keep, secretsFDVar+"="+strconv.Itoa(int(r.Fd())))
	syscall.Exec(exe, os.Args, keep)
	r.Close() // the exec failed: go on as we are
}
