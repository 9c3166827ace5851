package tools

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// HideEnvironment leaves the process not dumpable, which is what makes
// /proc/<pid>/environ unreadable to the commands it starts (for any user
// but root). Checked in a child, so this test process stays as it is.
func TestHideEnvironment(t *testing.T) {
	if os.Getenv("AGENT_TUI_HIDE_CHILD") == "1" {
		if err := HideEnvironment(); err != nil {
			t.Fatal(err)
		}
		d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
		if err != nil || d != 0 {
			t.Fatalf("dumpable %d, %v", d, err)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestHideEnvironment$", "-test.v")
	cmd.Env = append(os.Environ(), "AGENT_TUI_HIDE_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("%v\n%s", err, out)
	}
}
