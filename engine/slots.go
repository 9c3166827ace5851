package engine

import (
	"context"
	"slices"
	"sync"

	"agent-tui/store"
)

// slots hands out max_parallel's slots, a free one to the oldest ticket
// that waits (the lowest number), not to whichever goroutine asks first:
// tickets made in a burst start in the order they were made, and one that
// waits is not passed by a newer one.
type slots struct {
	mu      sync.Mutex
	free    int
	waiting []*slotWait // oldest first
}

type slotWait struct {
	n       uint64
	granted chan struct{}
}

func newSlots(n int) *slots { return &slots{free: n} }

// tryTake takes a slot if one is free and no older ticket waits for it.
func (s *slots) tryTake() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.free > 0 && len(s.waiting) == 0 {
		s.free--
		return true
	}
	return false
}

// take waits for a slot, in the tickets' order; false if ctx ended first.
func (s *slots) take(ctx context.Context, id string) bool {
	n, _ := store.ParseID(id)
	s.mu.Lock()
	if s.free > 0 && len(s.waiting) == 0 {
		s.free--
		s.mu.Unlock()
		return true
	}
	w := &slotWait{n: n, granted: make(chan struct{})}
	i, _ := slices.BinarySearchFunc(s.waiting, w, func(a, b *slotWait) int {
		if a.n <= b.n {
			return -1 // the same number (never) after the one waiting
		}
		return 1
	})
	s.waiting = slices.Insert(s.waiting, i, w)
	s.mu.Unlock()
	select {
	case <-w.granted:
		return true
	case <-ctx.Done():
		s.mu.Lock()
		defer s.mu.Unlock()
		if i := slices.Index(s.waiting, w); i >= 0 {
			s.waiting = slices.Delete(s.waiting, i, i+1)
			return false
		}
		// granted as ctx ended: handed on
		s.giveLocked()
		return false
	}
}

// give returns a slot: to the oldest ticket waiting, if one does.
func (s *slots) give() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.giveLocked()
}

func (s *slots) giveLocked() {
	if len(s.waiting) > 0 {
		w := s.waiting[0]
		s.waiting = s.waiting[1:]
		close(w.granted)
		return
	}
	s.free++
}
