package workspace

import (
	"context"
	"fmt"
	"sync"
	"testing"
)

// What one git process costs to start and finish, one at a time and many at
// once. On a machine where starting processes does not scale across cores,
// ns/op stays the same however many run together: a floor under any
// workload made of short git commands (see README, Performance).
//
//	go test -run '^$' -bench GitProcess ./engine/workspace
func BenchmarkGitProcess(b *testing.B) {
	dir := b.TempDir()
	if err := InitRepo(dir, map[string]string{"a": "a\n"}, "main"); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, together := range []int{1, 2, 8, 50} {
		b.Run(fmt.Sprintf("together=%d", together), func(b *testing.B) {
			sem := make(chan struct{}, together)
			var wg sync.WaitGroup
			errs := make(chan error, 1)
			for b.Loop() {
				sem <- struct{}{}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					if _, err := git(ctx, dir, nil, "rev-parse", "HEAD"); err != nil {
						select {
						case errs <- err:
						default:
						}
					}
				}()
			}
			wg.Wait()
			select {
			case err := <-errs:
				b.Fatal(err)
			default:
			}
		})
	}
}
