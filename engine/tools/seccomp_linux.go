package tools

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Landlock does not govern connecting to a unix socket, and a socket is
// a door out of any sandbox: tmux's (a new window runs anything, or keys
// typed into agent-tui's own pane approve a merge), the session bus
// (systemd-run), docker's, an ssh-agent's. So a confined command may not
// make unix sockets (socketpair, which reaches nothing outside, stays),
// nor an io_uring, which would make them past this filter. Programs of
// another architecture (32-bit ones on a 64-bit kernel, whose system
// calls are numbered differently) get no system call at all.

// nativeAudit is this architecture's audit number; 0 where the filter is
// not written for it.
func nativeAudit() uint32 {
	switch runtime.GOARCH {
	case "amd64":
		return unix.AUDIT_ARCH_X86_64
	case "arm64":
		return unix.AUDIT_ARCH_AARCH64
	}
	return 0
}

// x32Bit marks the system calls of x86-64's x32 ABI, which share its
// audit number.
const x32Bit = 0x40000000

func socketFilter() ([]unix.SockFilter, error) {
	arch := nativeAudit()
	if arch == 0 {
		return nil, fmt.Errorf("unix sockets are not filtered on %s", runtime.GOARCH)
	}
	const (
		ld  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jge = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
		ret = unix.BPF_RET | unix.BPF_K
	)
	allow := uint32(unix.SECCOMP_RET_ALLOW)
	refuse := uint32(unix.SECCOMP_RET_ERRNO) | uint32(unix.EACCES)
	noSys := uint32(unix.SECCOMP_RET_ERRNO) | uint32(unix.ENOSYS)
	// seccomp_data: nr at 0, arch at 4, args from 16 (the low half of
	// args[0] first, little-endian)
	return []unix.SockFilter{
		{Code: ld, K: 4},
		{Code: jeq, K: arch, Jt: 1},
		{Code: ret, K: noSys},
		{Code: ld, K: 0},
		{Code: jge, K: x32Bit, Jt: 0, Jf: 1},
		{Code: ret, K: noSys},
		{Code: jeq, K: unix.SYS_IO_URING_SETUP, Jf: 1},
		{Code: ret, K: noSys},
		{Code: jeq, K: unix.SYS_SOCKET, Jf: 3},
		{Code: ld, K: 16},
		{Code: jeq, K: unix.AF_UNIX, Jf: 1},
		{Code: ret, K: refuse},
		{Code: ret, K: allow},
	}, nil
}

// refuseUnixSockets applies the filter to the calling thread and what it
// starts (no_new_privs must be set: restrictSelf does).
func refuseUnixSockets() error {
	filter, err := socketFilter()
	if err != nil {
		return err
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	if err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&prog)), 0, 0); err != nil {
		return fmt.Errorf("seccomp: %v", err)
	}
	return nil
}

// execNoUnixSockets is Exec from a thread that refuses unix sockets: for
// bubblewrap, which needs none to set up. ok is false, and nothing run,
// where the filter cannot be had: another architecture, or a bubblewrap
// that is setuid or has file capabilities, which no_new_privs would keep
// from its privileges.
func execNoUnixSockets(ctx context.Context, argv []string, dir string, env []string, timeout time.Duration, outputCap int) (res Result, err error, ok bool) {
	if !filterableLauncher(argv[0]) {
		return Result{}, nil, false
	}
	res, err, prepErr := execOnThread(func() error {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return err
		}
		return refuseUnixSockets()
	}, func() (Result, error) { return execSession(ctx, argv, dir, env, timeout, outputCap, true, nil) }) // on the filtered thread
	return res, err, prepErr == nil
}

// socketFilterHere says whether this architecture has the filter.
func socketFilterHere() bool { return nativeAudit() != 0 }

// filterableLauncher says whether the program at path still works under
// no_new_privs, which the filter needs: not setuid, no file capabilities.
func filterableLauncher(path string) bool {
	if !socketFilterHere() {
		return false
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode()&os.ModeSetuid != 0 {
		return false
	}
	n, err := unix.Getxattr(path, "security.capability", nil)
	return err != nil || n == 0
}
