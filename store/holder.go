package store

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// holder names the process that holds path's lock, as " (pid N: command)",
// read from /proc/locks; "" where that cannot be known.
func holder(path string) string {
	var st unix.Stat_t
	if unix.Stat(path, &st) != nil {
		return ""
	}
	locks, err := os.ReadFile("/proc/locks")
	if err != nil {
		return ""
	}
	// e.g. "1: FLOCK  ADVISORY  WRITE 3043 fe:00:9978140 0 EOF"
	id := fmt.Sprintf("%02x:%02x:%d", unix.Major(uint64(st.Dev)), unix.Minor(uint64(st.Dev)), st.Ino)
	for line := range strings.Lines(string(locks)) {
		f := strings.Fields(line)
		if len(f) < 6 || f[1] != "FLOCK" || f[5] != id {
			continue
		}
		pid := f[4]
		cmd, _ := os.ReadFile("/proc/" + pid + "/cmdline")
		cmd = bytes.TrimRight(bytes.ReplaceAll(cmd, []byte{0}, []byte{' '}), " ")
		if len(cmd) == 0 {
			return " (pid " + pid + ")"
		}
		return " (pid " + pid + ": " + string(cmd) + ")"
	}
	return ""
}
