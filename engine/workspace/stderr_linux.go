package workspace

import (
	"os"

	"golang.org/x/sys/unix"
)

// stderrSink is a file in memory for git's stderr. Git gives its hooks its
// stderr (their stdout too), and a hook that leaves a job in the
// background (`ctags &` in post-commit) leaves it holding that: through a
// pipe, exec's Wait would wait for the job as well as for git. A file is
// not waited for, and what the job writes after git has ended is never read.
func stderrSink() *os.File {
	fd, err := unix.MemfdCreate("git-stderr", unix.MFD_CLOEXEC)
	if err != nil {
		return nil
	}
	return os.NewFile(uintptr(fd), "git-stderr")
}
