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
// waits is not passed by a newer one. A ticket whose goroutine was started
// but has not asked yet is expected: a newer one does not take a free slot
// before it has asked, or said it will not (arrived).
type slots struct {
	mu       sync.Mutex
	free     int
	waiting  []*slotWait // oldest first
	expected map[uint64]bool
}

type slotWait struct {
	n       uint64
	granted chan struct{}
}

func newSlots(n int) *slots { return &slots{free: n, expected: map[uint64]bool{}} }

func ticketNumber(id string) uint64 {
	n, _ := store.ParseID(id)
	return n
}

// expect notes that ticket id's goroutine starts, and will ask soon.
func (s *slots) expect(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expected[ticketNumber(id)] = true
}

// arrived says ticket id asks no more than it has: a newer ticket need not
// wait for it (it returned before a slot, or waits for something else).
func (s *slots) arrived(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := ticketNumber(id); s.expected[n] {
		delete(s.expected, n)
		s.dispatchLocked()
	}
}

// olderExpected says a ticket older than n is expected to ask.
func (s *slots) olderExpected(n uint64) bool {
	for m := range s.expected {
		if m < n {
			return true
		}
	}
	return false
}

// mayTakeLocked says ticket n takes a free slot now: no older one waits
// for it or is about to ask.
func (s *slots) mayTakeLocked(n uint64) bool {
	return s.free > 0 && (len(s.waiting) == 0 || s.waiting[0].n > n) && !s.olderExpected(n)
}

// tryTake takes a slot for ticket id if it may have one now.
func (s *slots) tryTake(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tryTakeLocked(ticketNumber(id))
}

// tryTakeLocked is tryTake with s.mu held.
func (s *slots) tryTakeLocked(n uint64) bool {
	delete(s.expected, n)
	took := s.mayTakeLocked(n)
	if took {
		s.free--
	}
	// it no longer holds anyone up: a newer one waited for it to ask, and
	// a slot left is theirs
	s.dispatchLocked()
	return took
}

// take waits for a slot, in the tickets' order; false if ctx ended first.
func (s *slots) take(ctx context.Context, id string) bool {
	n := ticketNumber(id)
	s.mu.Lock()
	if s.tryTakeLocked(n) {
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
	s.dispatchLocked()
	s.mu.Unlock()
	select {
	case <-w.granted:
		return true
	case <-ctx.Done():
		s.mu.Lock()
		defer s.mu.Unlock()
		if i := slices.Index(s.waiting, w); i >= 0 {
			s.waiting = slices.Delete(s.waiting, i, i+1)
			s.dispatchLocked()
			return false
		}
		// granted as ctx ended: handed on
		s.giveLocked()
		return false
	}
}

// giveKeeping returns ticket id's slot; keep: it asks again at once, and
// is expected (a newer ticket does not take the slot before it).
func (s *slots) giveKeeping(id string, keep bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if keep {
		s.expected[ticketNumber(id)] = true
	}
	s.giveLocked()
}

// give returns a slot: to the oldest ticket waiting, if one may have it.
func (s *slots) give() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.giveLocked()
}

func (s *slots) giveLocked() {
	s.free++
	s.dispatchLocked()
}

// dispatchLocked hands free slots to the oldest waiting tickets that no
// expected older one is to come before.
func (s *slots) dispatchLocked() {
	for s.free > 0 && len(s.waiting) > 0 && !s.olderExpected(s.waiting[0].n) {
		w := s.waiting[0]
		s.waiting = s.waiting[1:]
		s.free--
		close(w.granted)
	}
}
