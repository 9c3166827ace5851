package tools

import (
	"os"

	"golang.org/x/sys/unix"
)

// pipeEmpty says whether nothing is left to read in the pipe r.
func pipeEmpty(r *os.File) bool {
	conn, err := r.SyscallConn()
	if err != nil {
		return false
	}
	left := 1
	conn.Control(func(fd uintptr) {
		if n, err := unix.IoctlGetInt(int(fd), unix.TIOCINQ); err == nil {
			left = n
		}
	})
	return left == 0
}
