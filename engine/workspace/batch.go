package workspace

import "sync"

// batcher gathers requests that arrive while a batch is running into the
// next batch, so a burst of tickets costs one git process (or one pass over
// the checkout) per batch rather than one per ticket.
type batcher[T any] struct {
	running sync.Mutex
	mu      sync.Mutex
	pending []T
}

// add queues req and waits until no batch runs; then it runs whatever is
// queued, req included unless an earlier caller's batch already took it.
// Each request carries its own way of reporting back.
func (b *batcher[T]) add(req T, run func(batch []T)) { b.addThen(req, nil, run) }

// addThen is add, calling queued (if not nil) once req is queued.
func (b *batcher[T]) addThen(req T, queued func(), run func(batch []T)) {
	b.mu.Lock()
	b.pending = append(b.pending, req)
	b.mu.Unlock()
	if queued != nil {
		queued()
	}

	b.running.Lock()
	defer b.running.Unlock()
	b.mu.Lock()
	batch := b.pending
	b.pending = nil
	b.mu.Unlock()
	if len(batch) > 0 {
		run(batch)
	}
}
