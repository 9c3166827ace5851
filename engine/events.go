package engine

import (
	"strings"
	"sync"
	"time"

	"agent-tui/store"
)

// EventType says what an Event carries.
type EventType int

const (
	// EvTicket carries a snapshot of a ticket after a state change.
	EvTicket EventType = iota
	// EvAttempt carries a snapshot of an attempt (started, tool call, ended).
	EvAttempt
	// EvDelta carries streamed text of a running attempt, coalesced.
	EvDelta
	// EvHealth says provider health may have changed.
	EvHealth
	// EvResync says this subscriber missed events (it did not keep up):
	// what it shows may be stale, reload it from the store.
	EvResync
	// EvSlot says a running ticket waits for one of max_parallel's slots
	// (Queued), or has one again.
	EvSlot
)

type Event struct {
	Type     EventType
	TicketID string
	Ticket   *store.Ticket
	Attempt  *store.Attempt
	Seq      int    // attempt sequence, for EvDelta
	Text     string // EvDelta text
	Queued   bool   // EvSlot: waiting for a slot
}

// FlushInterval coalesces stream deltas to about 30 updates a second per
// stream, so a flood of tokens does not flood the UI.
const FlushInterval = 33 * time.Millisecond

type streamKey struct {
	ticket string
	seq    int
}

// broker fans events out to subscribers, coalescing deltas.
type broker struct {
	mu      sync.Mutex
	subs    map[int]*subscriber
	nextID  int
	pending map[streamKey]*strings.Builder
	order   []streamKey
	timer   *time.Timer
}

type subscriber struct {
	ch   chan Event
	lost bool // an event was dropped; EvResync goes first next time
}

func newBroker() *broker {
	return &broker{subs: map[int]*subscriber{}, pending: map[streamKey]*strings.Builder{}}
}

// subscribe returns a channel of events and a cancel function.
func (b *broker) subscribe(buf int) (<-chan Event, func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	id := b.nextID
	b.nextID++
	sub := &subscriber{ch: make(chan Event, buf)}
	b.subs[id] = sub
	return sub.ch, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if s, ok := b.subs[id]; ok {
			delete(b.subs, id)
			close(s.ch)
		}
	}
}

// delta queues streamed text; it reaches subscribers within FlushInterval.
func (b *broker) delta(ticket string, seq int, text string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.subs) == 0 {
		return
	}
	k := streamKey{ticket, seq}
	sb, ok := b.pending[k]
	if !ok {
		sb = &strings.Builder{}
		b.pending[k] = sb
		b.order = append(b.order, k)
	}
	sb.WriteString(text)
	if b.timer == nil {
		b.timer = time.AfterFunc(FlushInterval, b.flushAll)
	}
}

func (b *broker) flushAll() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.timer = nil
	for _, k := range b.order {
		b.sendLocked(Event{Type: EvDelta, TicketID: k.ticket, Seq: k.seq, Text: b.pending[k].String()})
	}
	clear(b.pending)
	b.order = b.order[:0]
}

// publish sends a state event at once, after any pending text of the same
// ticket so the order on screen is the order of events.
func (b *broker) publish(ev Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.subs) == 0 {
		return
	}
	kept := b.order[:0]
	for _, k := range b.order {
		if k.ticket == ev.TicketID {
			b.sendLocked(Event{Type: EvDelta, TicketID: k.ticket, Seq: k.seq, Text: b.pending[k].String()})
			delete(b.pending, k)
			continue
		}
		kept = append(kept, k)
	}
	b.order = kept
	b.sendLocked(ev)
}

// sendLocked delivers to every subscriber. A subscriber that does not keep
// up loses events rather than stalling every ticket; once it has room
// again it first gets EvResync, and reloads from the store, which keeps
// the full record.
func (b *broker) sendLocked(ev Event) {
	for _, s := range b.subs {
		if s.lost {
			select {
			case s.ch <- Event{Type: EvResync}:
				s.lost = false
			default:
				continue
			}
		}
		select {
		case s.ch <- ev:
		default:
			s.lost = true
		}
	}
}
