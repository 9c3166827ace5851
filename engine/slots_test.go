package engine

import (
	"agent-tui/engine/oaitest"
	"agent-tui/store"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// A free slot goes to the oldest ticket waiting, whatever the order they
// asked in; a wait that ends hands a slot granted meanwhile on.
func TestSlotsGoToTheOldestWaiting(t *testing.T) {
	s := newSlots(1)
	if !s.tryTake() {
		t.Fatal("a free slot was not taken")
	}
	var mu sync.Mutex
	var order []string
	var wg sync.WaitGroup
	for _, id := range []string{"T-9", "T-3", "T-12", "T-5"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s.take(context.Background(), id) {
				mu.Lock()
				order = append(order, id)
				mu.Unlock()
				s.give()
			}
		}()
	}
	for {
		s.mu.Lock()
		n := len(s.waiting)
		s.mu.Unlock()
		if n == 4 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	s.give()
	wg.Wait()
	if want := []string{"T-3", "T-5", "T-9", "T-12"}; !slices.Equal(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}

	// a waiter whose context ends leaves the queue; the slot is not lost
	s = newSlots(1)
	s.tryTake()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan bool)
	go func() { done <- s.take(ctx, "T-1") }()
	for {
		s.mu.Lock()
		n := len(s.waiting)
		s.mu.Unlock()
		if n == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if <-done {
		t.Fatal("a cancelled wait took a slot")
	}
	s.give()
	if !s.tryTake() || s.tryTake() {
		t.Fatalf("slots after a cancelled wait: free %d", s.free)
	}
}

// Once all wait, a freed slot goes to the oldest: whichever ticket came
// first to the one slot, the others start in the order they were made
// (the first may be any: the goroutines start in no set order).
func TestTicketsStartOldestFirst(t *testing.T) {
	var mu sync.Mutex
	var first []string
	h := newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
		mu.Lock()
		if id := ticketOf(r); !slices.Contains(first, id) {
			first = append(first, id)
		}
		mu.Unlock()
		return developer(r, phase)
	})
	h.cfg.MaxParallel = 1
	h.eng = New(Options{Store: h.st, Config: h.cfg, Repo: h.repo, Router: h.eng.router, Prompts: h.eng.prompts})
	for i := 1; i <= 5; i++ {
		h.add("hotfix", fmt.Sprintf("t%d", i), false)
	}
	h.runIdle()
	if len(first) != 5 || !slices.IsSortedFunc(first[1:], func(a, b string) int {
		x, _ := store.ParseID(a)
		y, _ := store.ParseID(b)
		return int(x) - int(y)
	}) {
		t.Fatalf("first requests by ticket: %v", first)
	}
}
