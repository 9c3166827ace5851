package tools

import (
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Every command agent-tui runs (a test or CI run, confined or not, and a
// model's command in each sandbox) and what it starts later runs at a
// lower priority than agent-tui, so that many at once leave the TUI and
// the engine a share of the processors.
func TestCommandsRunAtLowerPriority(t *testing.T) {
	raw, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0)
	if err != nil {
		t.Fatal(err)
	}
	if 20-raw+commandNice > 19 {
		t.Skipf("the tests run at nice %d: commands could not be lower", 20-raw)
	}
	want := strconv.Itoa(20 - raw + commandNice)
	// the shell and a process it starts later
	const script = "nice; sleep 0.05; sh -c nice"
	wantBoth := want + "\n" + want
	ctx := context.Background()
	wt := t.TempDir()
	res, err := Exec(ctx, []string{"sh", "-c", script}, wt, os.Environ(), 10*time.Second, 4096)
	if err != nil || strings.TrimSpace(res.Output) != wantBoth {
		t.Errorf("Exec: %q %v, want %q", res.Output, err, wantBoth)
	}
	res, err = ExecConfined(ctx, []string{"sh", "-c", script}, wt, os.Environ(), 10*time.Second, 4096, []string{wt}, nil, nil)
	if err != nil || strings.TrimSpace(res.Output) != wantBoth {
		t.Errorf("ExecConfined: %q %v (unconfined: %q), want %q", res.Output, err, res.Unconfined, wantBoth)
	}
	for _, sandbox := range []string{"off", "auto"} {
		b, _, _ := setup(t, Options{Sandbox: sandbox})
		out, isErr := call(t, b, "run_command", map[string]any{"command": script})
		wantOK(t, out, isErr)
		if !strings.HasSuffix(strings.TrimSpace(out), wantBoth) {
			t.Errorf("run_command with sandbox %q (%s): %q, want %q", sandbox, b.Confinement(), out, wantBoth)
		}
	}
}
