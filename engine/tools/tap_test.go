package tools

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// A run's output reaches a tap as it comes, before the run ends, and the
// run returns what it would without one.
func TestOutputTapSeesOutputAsItComes(t *testing.T) {
	var mu sync.Mutex
	var got strings.Builder
	early := make(chan struct{}, 1)
	ctx := WithOutputTap(context.Background(), func(s string) {
		mu.Lock()
		defer mu.Unlock()
		got.WriteString(s)
		if strings.Contains(got.String(), "first") {
			select {
			case early <- struct{}{}:
			default:
			}
		}
	})
	done := make(chan Result, 1)
	go func() {
		res, err := Exec(ctx, []string{"sh", "-c", "echo first; sleep 1; printf 'naïve end\\n'"}, t.TempDir(), nil, 10*time.Second, 1<<20)
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	select {
	case <-early:
	case <-done:
		t.Fatal("the tap saw nothing before the run ended")
	}
	res := <-done
	mu.Lock()
	defer mu.Unlock()
	if got.String() != res.Output || res.Output != "first\nnaïve end\n" {
		t.Fatalf("tap %q, output %q", got.String(), res.Output)
	}
}

// A character cut between two writes reaches the tap whole.
func TestOutputTapKeepsCharactersWhole(t *testing.T) {
	var parts []string
	o := &outputTap{tap: func(s string) { parts = append(parts, s) }}
	b := []byte("aï")
	o.write(b[:2]) // "a" and the first byte of ï
	o.write(b[2:])
	if strings.Join(parts, "|") != "a|ï" {
		t.Fatalf("%q", parts)
	}
}
