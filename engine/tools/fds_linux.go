package tools

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// closeRangeCloexec is close_range(2)'s CLOSE_RANGE_CLOEXEC (Linux 5.11).
const closeRangeCloexec = 1 << 2

// closeInheritedOnExec marks every descriptor above stderr close-on-exec:
// what started agent-tui may have left some open (a key file, a socket),
// and every command it runs would inherit them past its confinement.
// Go's own descriptors are marked already; a descriptor agent-tui hands a
// child on purpose is cleared of the mark where it is made.
func closeInheritedOnExec() {
	if unix.CloseRange(3, ^uint(0), closeRangeCloexec) == nil {
		return
	}
	// before Linux 5.11: one by one
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, name := range names {
		if fd, err := strconv.Atoi(name); err == nil && fd > 2 {
			unix.FcntlInt(uintptr(fd), unix.F_SETFD, unix.FD_CLOEXEC)
		}
	}
}
