package tools

import (
	"bytes"
	"os"
	"slices"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// A sweeper kills every process under this one, the Landlock helper, a
// child subreaper: whatever a command left, however it left its parent,
// session or group, has a chain of parents that ends here.
//
// The shell's process group goes in one signal. The rest (what left the
// group: setsid, setpgid) must be found in /proc, and killing each as it
// is found can lose a race: a process that forks and exits in a loop has
// a new pid by the time it is killed. So that part of the tree is frozen
// first: every process in it is stopped (a stopped process cannot fork),
// pass after pass until a pass finds no new one and every one has
// stopped; only then is each killed. The sweep ends when this process has
// no child left, not even a zombie: then nothing it started lives.
type sweeper struct {
	self     int
	sh       int // the command's shell, which leads its process group; 0 if none
	shStatus unix.WaitStatus
	shReaped bool
	stopped  map[procKey]bool
	killed   map[procKey]bool
	members  map[int]bool // the tree the last pass found, this process included
	pidMax   int
	buf      []byte
}

// procKey tells a process from a later one that got the same pid.
type procKey struct {
	pid   int
	start uint64 // starttime in /proc/<pid>/stat
}

type procStat struct {
	ppid  int
	pgrp  int
	state byte
	start uint64
}

func newSweeper(sh int) *sweeper {
	s := &sweeper{self: os.Getpid(), sh: sh, stopped: map[procKey]bool{}, killed: map[procKey]bool{},
		members: map[int]bool{}, buf: make([]byte, 1024)}
	if b, err := os.ReadFile("/proc/sys/kernel/pid_max"); err == nil {
		s.pidMax, _ = strconv.Atoi(string(bytes.TrimSpace(b)))
	}
	return s
}

// run sweeps for at most limit. It reports nothing: the command's output
// goes to the same stdout and stderr.
func (s *sweeper) run(limit time.Duration) {
	start := time.Now()
	if s.sh > 0 {
		// The shell's group at once, forks under way included: there
		// is no race within it. The shell is not reaped yet, so its pid
		// still names that group. Its children out of the group come
		// here and are found below.
		unix.Kill(-s.sh, unix.SIGKILL)
	}
	for {
		if s.reap() || time.Since(start) > limit {
			return
		}
		tree, fresh, settled := s.pass()
		if fresh > 0 {
			continue // after the new ones at once
		}
		// Every process in the tree stopped (or dying, or in the
		// kernel): none can fork any more. Killing them all is then
		// final, but for a fork that was under way when its parent was
		// stopped; the next passes find that child. Past half the limit
		// (a process that does not stop), kill what there is anyway.
		if settled || time.Since(start) > limit/2 {
			for _, k := range tree {
				if !s.killed[k] {
					unix.Kill(k.pid, unix.SIGKILL) // a stopped process dies too
					s.killed[k] = true
				}
			}
		}
		time.Sleep(time.Millisecond)
	}
}

// reap collects the children that have ended; true when none is left.
func (s *sweeper) reap() bool {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG|unix.WALL, nil)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.ECHILD:
			return true
		case err != nil || pid <= 0:
			return false
		}
		if pid == s.sh {
			s.shStatus, s.shReaped = ws, true
		}
	}
}

// pass reads every /proc/<pid>/stat once, finds the processes whose chain
// of parents leads here, and stops those it has not stopped before. fresh
// counts those; settled is true when every other one has stopped (or
// was killed, or is a zombie, or is in the kernel, where it may at most
// finish one fork).
func (s *sweeper) pass() (tree []procKey, fresh int, settled bool) {
	p := &passState{s: s, known: map[int]bool{s.self: true}, waiting: map[int][]int{}, settled: true}
	// The newest pids first, and again while they turn up new processes:
	// one racing to fork is among them, often newer than any listing of
	// /proc, and is stopped as soon as its parent is known to be ours.
	last := 0
	for range 64 {
		last = lastPid()
		if last <= 0 {
			break
		}
		before := p.fresh
		for i := range newestWindow {
			p.visit(s.wrap(last - i))
		}
		if p.fresh == before {
			break
		}
	}
	for _, pid := range procPids(last, s.self) {
		p.visit(pid)
	}
	s.members = p.known
	return p.tree, p.fresh, p.settled
}

// newestWindow is how many of the newest pids a pass looks at first.
const newestWindow = 32

type passState struct {
	s       *sweeper
	known   map[int]bool  // in the tree
	waiting map[int][]int // pids read whose parent is not known yet, by parent
	tree    []procKey
	fresh   int
	settled bool
}

// visit reads pid's stat: in the tree when its parent is (or was in the
// last pass), and then so are those read before that waited for it.
func (p *passState) visit(pid int) {
	if pid <= 0 || p.known[pid] || pid == p.s.self {
		return
	}
	st, ok := p.s.readStat(pid)
	if !ok {
		return
	}
	if !p.known[st.ppid] && !p.s.members[st.ppid] {
		p.waiting[st.ppid] = append(p.waiting[st.ppid], pid)
		return
	}
	p.add(pid, st)
	for stack := []int{pid}; len(stack) > 0; {
		parent := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		kids := p.waiting[parent]
		delete(p.waiting, parent)
		for _, k := range kids {
			if p.known[k] {
				continue
			}
			// read again: its parent may have gone since (then its
			// parent is this process, known too)
			if st, ok := p.s.readStat(k); ok && p.known[st.ppid] {
				p.add(k, st)
				stack = append(stack, k)
			}
		}
	}
}

func (p *passState) add(pid int, st procStat) {
	p.known[pid] = true
	k := procKey{pid, st.start}
	p.tree = append(p.tree, k)
	switch {
	case p.s.killed[k]:
	case !p.s.stopped[k]:
		unix.Kill(pid, unix.SIGSTOP)
		p.s.stopped[k] = true
		p.fresh++
		p.settled = false
	case bytes.IndexByte([]byte("TtDZX"), st.state) < 0:
		unix.Kill(pid, unix.SIGSTOP) // not stopped yet, or set going again
		p.settled = false
	}
}

// wrap brings a pid counted down past 1 back from the top, as the kernel
// hands them out.
func (s *sweeper) wrap(pid int) int {
	if pid < 1 && s.pidMax > 0 {
		return pid + s.pidMax - 1
	}
	return pid
}

// lastPid is the pid the kernel handed out last (in this pid namespace),
// from /proc/loadavg; 0 when unknown.
func lastPid() int {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := bytes.Fields(b)
	if len(f) < 5 {
		return 0
	}
	n, _ := strconv.Atoi(string(f[4]))
	return n
}

// procPids lists the processes in /proc but self, newest first (counting
// down from last, the pid handed out last, then down from the top).
func procPids(last, self int) []int {
	d, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	defer d.Close()
	names, _ := d.Readdirnames(-1)
	pids := make([]int, 0, len(names))
	for _, n := range names {
		if pid, err := strconv.Atoi(n); err == nil && pid != self {
			pids = append(pids, pid)
		}
	}
	slices.SortFunc(pids, func(a, b int) int {
		if (a <= last) != (b <= last) {
			if a <= last {
				return -1
			}
			return 1
		}
		return b - a
	})
	return pids
}

func (s *sweeper) readStat(pid int) (procStat, bool) { return readStat(pid, s.buf) }

// readStat reads "pid (comm) state ppid … starttime …" into buf; comm may
// hold spaces and parentheses.
func readStat(pid int, buf []byte) (procStat, bool) {
	fd, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/stat", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return procStat{}, false
	}
	n, err := unix.Read(fd, buf)
	unix.Close(fd)
	if err != nil || n <= 0 {
		return procStat{}, false
	}
	return parseStat(buf[:n])
}

func parseStat(b []byte) (procStat, bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, false
	}
	// fields from the state on: state is field 3, ppid 4, pgrp 5,
	// starttime 22
	f := bytes.Fields(b[i+1:])
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, false
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	pgrp, err2 := strconv.Atoi(string(f[2]))
	start, err3 := strconv.ParseUint(string(f[19]), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return procStat{}, false
	}
	return procStat{ppid: ppid, pgrp: pgrp, state: f[0][0], start: start}, true
}

// statusCode is a shell's exit code from its wait status, 128+N for
// signal N.
func statusCode(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}
