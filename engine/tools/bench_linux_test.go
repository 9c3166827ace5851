package tools

import (
	"context"
	"os"
	"testing"
	"time"
)

// benchExecConfined runs argv confined in a worktree of its own, b.N
// times, wanting exit 0 and, unless it is "", output.
func benchExecConfined(b *testing.B, argv []string, output string) {
	if !LandlockUsable() {
		b.Skip("no Landlock")
	}
	wt := b.TempDir()
	for b.Loop() {
		res, err := ExecConfined(context.Background(), argv, wt, os.Environ(), 10*time.Second, 4096, []string{wt}, nil, nil)
		if err != nil || res.ExitCode != 0 || res.Unconfined != "" || output != "" && res.Output != output {
			b.Fatal(err, res)
		}
	}
}

// One confined test run of a command that does nothing: what confining
// it costs (Landlock ruleset, seccomp filters, the group keeper).
func BenchmarkExecConfinedTrue(b *testing.B) { benchExecConfined(b, []string{"true"}, "") }

// One confined test run that leaves a process in the background with its
// output (a server it started): what ending it costs.
func BenchmarkExecConfinedBackground(b *testing.B) {
	benchExecConfined(b, []string{"sh", "-c", "setsid sleep 30 & echo started"}, "started\n")
}

// One run_command of `true` through the Landlock helper, which is this
// binary started again: what the model's command costs before it runs.
func BenchmarkRunCommandTrue(b *testing.B) {
	if !landlockWorks() {
		b.Skip("no Landlock helper")
	}
	dir := b.TempDir()
	box, err := New(Options{Root: dir, TempDir: dir + "/tmp"})
	if err != nil {
		b.Fatal(err)
	}
	defer box.Close()
	for b.Loop() {
		res, isErr := box.Call(context.Background(), "run_command", `{"command":"true"}`)
		if isErr || res != "exit code 0\n(no output)" {
			b.Fatal(res)
		}
	}
}
