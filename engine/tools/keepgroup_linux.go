package tools

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A test or CI run ends by killing its process group, and a process that
// left the group (setsid, setpgid: a daemon, `setsid -f`, a test's
// background helper) would outlive the run with its rights: it could
// change the worktree after the check had passed, or race agent-tui's own
// git (a directory swapped for a link while `git clean` runs deletes
// files anywhere). So a confined run's calls to setsid and setpgid are
// answered by agent-tui through a seccomp listener: the first (setsid(1),
// which ExecConfined starts the command with, making its session) is
// carried out, every later one is told it succeeded and changes nothing,
// and the whole run stays in the group that is killed.
//
// The first call is not Exec's own setsid in the forked child: Go forks
// with vfork, whose parent thread holds the runtime (a stop of the world
// for the garbage collector waits for it) until the child runs the
// command, so a call the keeper must answer there can deadlock.

// seccompData, seccompNotif and seccompNotifResp are the kernel's
// struct seccomp_data, seccomp_notif and seccomp_notif_resp.
type seccompData struct {
	Nr                 int32
	Arch               uint32
	InstructionPointer uint64
	Args               [6]uint64
}

type seccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Data  seccompData
}

type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

// groupCallsFilter sends setsid and setpgid to the listener; every other
// call (and another architecture's, which the socket filter refuses) is
// left to the other filters.
func groupCallsFilter() ([]unix.SockFilter, error) {
	arch := nativeAudit()
	if arch == 0 {
		return nil, fmt.Errorf("process groups are not kept on this architecture")
	}
	const (
		ld  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		ret = unix.BPF_RET | unix.BPF_K
	)
	return []unix.SockFilter{
		{Code: ld, K: 4},
		{Code: jeq, K: arch, Jf: 3},
		{Code: ld, K: 0},
		{Code: jeq, K: unix.SYS_SETSID, Jt: 2},
		{Code: jeq, K: unix.SYS_SETPGID, Jt: 1},
		{Code: ret, K: unix.SECCOMP_RET_ALLOW},
		{Code: ret, K: unix.SECCOMP_RET_USER_NOTIF},
	}, nil
}

// A groupKeeper answers one confined run's setsid and setpgid calls.
type groupKeeper struct {
	listener int
	stopR    int
	stopW    int
	done     chan struct{}
}

// keepInGroup applies the filter to the calling thread (no_new_privs set)
// and starts answering; stop ends that once the run's processes are gone.
func keepInGroup() (*groupKeeper, error) {
	filter, err := groupCallsFilter()
	if err != nil {
		return nil, err
	}
	var pipe [2]int
	if err := unix.Pipe2(pipe[:], unix.O_CLOEXEC); err != nil {
		return nil, err
	}
	prog := unix.SockFprog{Len: uint16(len(filter)), Filter: &filter[0]}
	fd, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, unix.SECCOMP_FILTER_FLAG_NEW_LISTENER, uintptr(unsafe.Pointer(&prog)))
	if errno != 0 {
		unix.Close(pipe[0])
		unix.Close(pipe[1])
		return nil, fmt.Errorf("seccomp listener: %v", errno)
	}
	// (the listener is close-on-exec already: the run never holds it)
	k := &groupKeeper{listener: int(fd), stopR: pipe[0], stopW: pipe[1], done: make(chan struct{})}
	go k.serve()
	return k, nil
}

func (k *groupKeeper) serve() {
	defer close(k.done)
	defer unix.Close(k.listener)
	defer unix.Close(k.stopR)
	first := true
	for {
		fds := []unix.PollFd{{Fd: int32(k.listener), Events: unix.POLLIN}, {Fd: int32(k.stopR), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		if fds[1].Revents != 0 || fds[0].Revents&unix.POLLIN == 0 {
			return // stopped, or no process left under the filter
		}
		var n seccompNotif
		if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(k.listener), unix.SECCOMP_IOCTL_NOTIF_RECV, uintptr(unsafe.Pointer(&n))); errno != 0 {
			if errno == unix.EINTR || errno == unix.ENOENT {
				continue // (the caller died meanwhile)
			}
			return
		}
		resp := seccompNotifResp{ID: n.ID}
		switch {
		case first:
			// the run's own setsid, in the child before the command starts:
			// nothing else is under the filter yet
			first = false
			resp.Flags = unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE
		case n.Data.Nr == unix.SYS_SETSID:
			resp.Val = int64(n.Pid) // what a new session's id would be
		}
		unix.Syscall(unix.SYS_IOCTL, uintptr(k.listener), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(&resp)))
	}
}

// stop ends the answering; a process still under the filter would get
// ENOSYS from setsid, but the run's group has been killed by then.
func (k *groupKeeper) stop() {
	if k == nil {
		return
	}
	unix.Close(k.stopW)
	<-k.done
}
