package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db")
	s, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestTicketsGetSequentialIDsAndSurviveReopen(t *testing.T) {
	s, path := openTemp(t)
	for i := 1; i <= 3; i++ {
		tk := &Ticket{Kind: "feature", Title: fmt.Sprintf("t%d", i), Status: StatusQueued}
		if err := s.CreateTicket(tk); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("T-%d", i); tk.ID != want {
			t.Fatalf("id %q, want %q", tk.ID, want)
		}
	}
	if err := s.PutAttempt("T-2", &Attempt{Phase: "discovery", N: 1, Deliverable: "spec", Stream: "abc"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s2, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	all, err := s2.Tickets()
	if err != nil || len(all) != 3 || all[2].Title != "t3" {
		t.Fatalf("tickets after reopen: %v %v", all, err)
	}
	as, err := s2.Attempts("t-2")
	if err != nil || len(as) != 1 || as[0].Seq != 1 || as[0].Deliverable != "spec" {
		t.Fatalf("attempts after reopen: %+v %v", as, err)
	}
	if err := s2.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestUnknownTicketIsNotFound(t *testing.T) {
	s, _ := openTemp(t)
	if _, err := s.Ticket("T-9"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("got %v", err)
	}
	if _, err := s.Ticket("bogus"); err == nil || !strings.Contains(err.Error(), "bad ticket id") {
		t.Fatalf("got %v", err)
	}
}

func TestSecondOpenFailsFastWithReason(t *testing.T) {
	_, path := openTemp(t)
	start := time.Now()
	_, err := Open(path, 200*time.Millisecond)
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "in use by another agent-tui process") {
		t.Fatalf("message %q", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestUpdateTicketRollsBackOnError(t *testing.T) {
	s, _ := openTemp(t)
	tk := &Ticket{Kind: "feature", Title: "x", Status: StatusQueued}
	if err := s.CreateTicket(tk); err != nil {
		t.Fatal(err)
	}
	_, err := s.UpdateTicket(tk.ID, func(x *Ticket) error {
		x.Status = StatusDone
		return errors.New("nope")
	})
	if err == nil {
		t.Fatal("want error")
	}
	got, _ := s.Ticket(tk.ID)
	if got.Status != StatusQueued {
		t.Fatalf("half-written: %s", got.Status)
	}
}

func TestCompactShrinksAfterDeletes(t *testing.T) {
	s, path := openTemp(t)
	tk := &Ticket{Kind: "feature", Title: "x"}
	if err := s.CreateTicket(tk); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 64<<10)
	// live data worth measuring: attempts of 0.5 to 3 KB, like real ones
	for i := 0; i < 5000; i++ {
		if err := s.PutAttempt(tk.ID, &Attempt{Phase: "tests", N: i, Stream: big[:500+(i*37)%2500]}); err != nil {
			t.Fatal(err)
		}
	}
	// rewriting the same attempt many times leaves free pages behind
	a := &Attempt{Phase: "code", N: 1}
	for i := 0; i < 400; i++ {
		a.Stream = big[:len(big)-i]
		if err := s.PutAttempt(tk.ID, a); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	before, after, err := Compact(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if after > before {
		t.Fatalf("compact grew the file: %d → %d", before, after)
	}
	s2, err := Open(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	got, err := s2.Attempt(tk.ID, a.Seq)
	if err != nil || got.Stream != a.Stream {
		t.Fatalf("data lost in compaction: %v", err)
	}
	if err := s2.Check(); err != nil {
		t.Fatal(err)
	}
	file, live, err := s2.Size()
	t.Logf("before %d, after %d bytes; live data %d bytes", before, after, live)
	if err != nil || live == 0 || file > 2*live {
		t.Fatalf("after compaction the file is %d bytes for %d of live data (%v)", file, live, err)
	}
}

func TestActiveIndexFollowsStatus(t *testing.T) {
	s, _ := openTemp(t)
	for i := 0; i < 3; i++ {
		if err := s.CreateTicket(&Ticket{Kind: "feature", Title: "t", Status: StatusQueued}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.UpdateTicket("T-2", func(x *Ticket) error { x.Status = StatusDone; return nil }); err != nil {
		t.Fatal(err)
	}
	act, err := s.ActiveTickets()
	if err != nil || len(act) != 2 || act[0].ID != "T-1" || act[1].ID != "T-3" {
		t.Fatalf("active %v %v", act, err)
	}
}
