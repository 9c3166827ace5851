// Package wstest keeps tests' ticket worktrees out of the home directory.
package wstest

import (
	"fmt"
	"os"
	"testing"
)

// M runs a package's tests with XDG_DATA_HOME, where work roots are made,
// in a temporary directory of their own, removed after.
type M struct{ *testing.M }

func (m M) Run() int {
	data, err := os.MkdirTemp("", "agent-tui-data-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(data)
	os.Setenv("XDG_DATA_HOME", data)
	return m.M.Run()
}
