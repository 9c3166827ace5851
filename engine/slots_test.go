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
	if !s.tryTake("T-1") {
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
	untilWaiting(s, 4)
	s.give()
	wg.Wait()
	if want := []string{"T-3", "T-5", "T-9", "T-12"}; !slices.Equal(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}

	// a waiter whose context ends leaves the queue; the slot is not lost
	s = newSlots(1)
	s.tryTake("T-1")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan bool)
	go func() { done <- s.take(ctx, "T-1") }()
	untilWaiting(s, 1)
	cancel()
	if <-done {
		t.Fatal("a cancelled wait took a slot")
	}
	s.give()
	if !s.tryTake("T-2") || s.tryTake("T-3") {
		t.Fatalf("slots after a cancelled wait: free %d", s.free)
	}
}

// A newer ticket that waited only because older ones were still to ask
// gets a slot left free as soon as they have taken theirs, not at the next
// slot given back (the demo's epic waited seconds with two slots free).
func TestSlotsLeftFreeGoToTheNewerWaiting(t *testing.T) {
	for _, viaTake := range []bool{false, true} {
		s := newSlots(4)
		for _, id := range []string{"T-1", "T-2", "T-3"} {
			s.expect(id)
		}
		granted := make(chan bool, 1)
		go func() { granted <- s.take(context.Background(), "T-3") }()
		untilWaiting(s, 1)
		for _, id := range []string{"T-1", "T-2"} {
			if viaTake {
				if !s.take(context.Background(), id) {
					t.Fatalf("%s got no slot", id)
				}
			} else if !s.tryTake(id) {
				t.Fatalf("%s got no slot", id)
			}
		}
		select {
		case <-granted:
		case <-time.After(5 * time.Second):
			s.mu.Lock()
			free := s.free
			s.mu.Unlock()
			t.Fatalf("take %v: T-3 still waits with %d slots free", viaTake, free)
		}
	}
}

// Tickets start in the order they were made, the first too: the
// goroutines start in no set order, but a newer ticket does not take a
// slot before an older one has asked.
func TestTicketsStartOldestFirst(t *testing.T) {
	var first []string
	for _, id := range requestsOneSlot(t, 5) {
		if !slices.Contains(first, id) {
			first = append(first, id)
		}
	}
	if len(first) != 5 || !slices.IsSortedFunc(first, func(a, b string) int {
		x, _ := store.ParseID(a)
		y, _ := store.ParseID(b)
		return int(x) - int(y)
	}) {
		t.Fatalf("first requests by ticket: %v", first)
	}
}

// With one slot, a ticket that goes straight on from step to step keeps
// it: tickets run one after another, not two by turns, each done before
// the next begins.
func TestATicketKeepsItsPlaceBetweenSteps(t *testing.T) {
	order := requestsOneSlot(t, 3)
	if runs := slices.Compact(slices.Clone(order)); !slices.Equal(runs, []string{"T-1", "T-2", "T-3"}) {
		t.Fatalf("requests by ticket, in runs: %v", runs)
	}
}

// requestsOneSlot runs n hotfixes with max_parallel = 1 and says the
// ticket of each model request, in order.
func requestsOneSlot(t *testing.T, n int) []string {
	var mu sync.Mutex
	var order []string
	h := newHarness(t, "", func(r *oaitest.Request, phase string) oaitest.Reply {
		mu.Lock()
		order = append(order, ticketOf(r))
		mu.Unlock()
		return developer(r, phase)
	})
	h.cfg.MaxParallel = 1
	h.eng = New(Options{Store: h.st, Config: h.cfg, Repo: h.repo, Router: h.eng.router, Prompts: h.eng.prompts})
	for i := 1; i <= n; i++ {
		h.add("hotfix", fmt.Sprintf("t%d", i), false)
	}
	h.runIdle()
	mu.Lock()
	defer mu.Unlock()
	return slices.Clone(order)
}

// An expected ticket holds a newer one up only until it asks, or says it
// will not: then the newer one gets the free slot (no wait forever).
func TestExpectedTicketHoldsUpOnlyUntilItArrives(t *testing.T) {
	s := newSlots(1)
	s.expect("T-1")
	s.expect("T-2")
	if s.tryTake("T-2") {
		t.Fatal("T-2 took the slot before T-1 asked")
	}
	got := make(chan bool, 1)
	go func() { got <- s.take(context.Background(), "T-2") }()
	select {
	case <-got:
		t.Fatal("T-2 got the slot while T-1 was expected")
	case <-time.After(50 * time.Millisecond):
	}
	s.arrived("T-1") // returned without a slot (paused, awaiting approval)
	select {
	case ok := <-got:
		if !ok {
			t.Fatal("T-2's take failed")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("T-2 still waits after T-1 arrived")
	}
	// an older one that asks takes a free slot before a waiting newer one
	s = newSlots(1)
	s.expect("T-3")
	s.tryTake("T-5") // refused: T-3 is expected
	if !s.tryTake("T-3") {
		t.Fatal("T-3 was refused the free slot")
	}
}

// untilWaiting returns once n tickets wait in s.
func untilWaiting(s *slots, n int) {
	for {
		s.mu.Lock()
		got := len(s.waiting)
		s.mu.Unlock()
		if got == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
