package tools

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A test or CI run ends by killing its process group, and a process that
// left the group (setsid, setpgid: a daemon, `setsid -f`, `timeout`, a
// test's helper in a session of its own) would outlive the run with its
// rights: it could change the worktree after the check had passed, or race
// agent-tui's own git (a directory swapped for a link while `git clean`
// runs deletes files anywhere). So a confined run's calls to setsid and
// setpgid go through agent-tui (a seccomp listener), which carries each
// out and notes the group it makes; when the run ends, later calls are
// told they succeeded and change nothing, and every group noted is killed
// with the run's own. Every process of the run is under the filter, so no
// group can be made unseen.
//
// The run's own session is made by setsid(1), which ExecConfined starts the
// command with, not by Exec's setsid in the forked child: Go forks with
// vfork, whose parent thread holds the runtime (a stop of the world for
// the garbage collector waits for it) until the child runs the command, so
// a call the keeper must answer there can deadlock.

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

	mu      sync.Mutex
	closing bool        // the run has ended: calls change nothing
	groups  []groupNote // the groups the run made
}

// A groupNote is a group the run made: its id, and its leader's start
// time, which tells the leader from another process given its pid later.
type groupNote struct {
	id    int
	start string
}

// keepInGroup applies the filter to the calling thread (no_new_privs set)
// and starts answering; end kills what the run made, once it has ended.
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
		resp := k.answer(&n)
		unix.Syscall(unix.SYS_IOCTL, uintptr(k.listener), unix.SECCOMP_IOCTL_NOTIF_SEND, uintptr(unsafe.Pointer(&resp)))
	}
}

// answer carries a call out, noting the group it makes, until the run has
// ended; then it tells the caller it succeeded. A caller in a pid
// namespace of its own (unshare -p) is refused: its pids are not ours.
func (k *groupKeeper) answer(n *seccompNotif) seccompNotifResp {
	resp := seccompNotifResp{ID: n.ID}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closing {
		if n.Data.Nr == unix.SYS_SETSID {
			resp.Val = int64(n.Pid) // what a new session's id would be
		}
		return resp
	}
	caller, ok := processOf(int(n.Pid))
	if !ok {
		resp.Error = -int32(unix.EPERM)
		return resp
	}
	// a new group takes the id of the process that leads it: setsid's
	// caller, or setpgid's target when pgid is its own (or 0); a setpgid
	// into another group joins one that exists in the same session,
	// which the run made (noted) or is its own
	group := caller
	if n.Data.Nr == unix.SYS_SETPGID {
		pid, pgid := int(int32(n.Data.Args[0])), int(int32(n.Data.Args[1]))
		if pid != 0 {
			group = pid
		}
		if pgid != 0 && pgid != group {
			group = 0 // joins
		}
		if group != caller && group != 0 && parentOf(group) != caller {
			group = 0 // the kernel refuses it: not the caller or its child
		}
	}
	if group > 1 && !slices.ContainsFunc(k.groups, func(g groupNote) bool { return g.id == group }) {
		k.groups = append(k.groups, groupNote{id: group, start: startTime(group)})
	}
	resp.Flags = unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE
	return resp
}

// end is called once the run's own group is killed: no call makes a group
// any more, and every group the run made is killed (but one whose
// leader's pid went to another process since), again while any still has
// a live process: a call carried out as the run ended may have moved a
// process into a group killed a moment before. (A group of zombies takes
// signals too: they wait for a parent to reap them, init or the Landlock
// helper, which holds its shell's until its sweep.) It says how many
// passes that took.
func (k *groupKeeper) end() (passes int) {
	if k == nil {
		return 0
	}
	k.mu.Lock()
	k.closing = true
	groups := slices.Clone(k.groups)
	k.mu.Unlock()
	own := unix.Getpgrp()
	for passes < 100 {
		passes++
		var reached []int
		for _, g := range groups {
			if g.id <= 1 || g.id == own {
				continue // never agent-tui's, nor every process (-1)
			}
			if now := startTime(g.id); now != "" && now != g.start {
				continue // its leader is gone and the pid is another's
			}
			if unix.Kill(-g.id, unix.SIGKILL) == nil {
				reached = append(reached, g.id)
			}
		}
		if len(reached) == 0 || !anyAliveIn(reached) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	unix.Close(k.stopW)
	<-k.done
	return passes
}

// anyAliveIn says whether a process of one of the groups has not ended
// yet (a zombie has).
func anyAliveIn(groups []int) bool {
	buf := make([]byte, 1024)
	for _, pid := range procPids(0, 0) {
		if st, ok := readStat(pid, buf); ok && st.state != 'Z' && st.state != 'X' && slices.Contains(groups, st.pgrp) {
			return true
		}
	}
	return false
}

// processOf is the process thread tid belongs to, when it shares this
// process's pid namespace.
func processOf(tid int) (int, bool) {
	self, err1 := os.Readlink("/proc/self/ns/pid")
	theirs, err2 := os.Readlink("/proc/" + strconv.Itoa(tid) + "/ns/pid")
	if err1 != nil || err2 != nil || self != theirs {
		return 0, false
	}
	tgid, _ := statusField(tid, "Tgid:")
	return tgid, tgid > 0
}

// parentOf is pid's parent, 0 when it cannot be read.
func parentOf(pid int) int {
	ppid, _ := statusField(pid, "PPid:")
	return ppid
}

// statusField reads a number from /proc/<pid>/status.
func statusField(pid int, name string) (int, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, name); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, errors.New(name + " not found")
}

// startTime is pid's start time as /proc shows it, "" when it is gone.
func startTime(pid int) string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ""
	}
	// the fields after the command's name, which may hold anything
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return ""
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return ""
	}
	return f[19] // starttime, the 22nd field
}
