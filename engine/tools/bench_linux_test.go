package tools

import (
	"context"
	"os"
	"testing"
	"time"
)

// One confined test run of a command that does nothing: what confining
// it costs (Landlock ruleset, seccomp filters, the group keeper).
func BenchmarkExecConfinedTrue(b *testing.B) {
	if !LandlockUsable() {
		b.Skip("no Landlock")
	}
	wt := b.TempDir()
	for b.Loop() {
		res, err := ExecConfined(context.Background(), []string{"true"}, wt, os.Environ(), 10*time.Second, 4096, []string{wt}, nil, nil)
		if err != nil || res.ExitCode != 0 || res.Unconfined != "" {
			b.Fatal(err, res)
		}
	}
}
