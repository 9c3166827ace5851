package ui

import (
	"sort"

	"agent-tui/store"
)

// ticketData is what the UI knows of one ticket's attempts: loaded lazily
// from the Backend when the ticket is first selected, kept current by
// attempt snapshots and stream deltas.
type ticketData struct {
	attempts []*store.Attempt // by seq
	loaded   bool
	loading  bool
	loadErr  string // why the last load failed (a damaged page): said where they would show
	version  int    // bumped when attempts change: history, CI and docs caches key on it
	streams  map[int]*streamBuf
	latest   int // highest attempt seq seen, from snapshots or deltas
}

// notLoaded is what a pane shows of attempts not loaded (yet).
func (d *ticketData) notLoaded(st *styles, w int) []string {
	if d != nil && d.loadErr != "" {
		var out []string
		for _, r := range wrapRows(sanitize("attempts could not be read: "+d.loadErr), max(w, 10)) {
			out = append(out, st.fail.Render(r))
		}
		return out
	}
	return []string{st.dim.Render("loading attempts…")}
}

func newTicketData() *ticketData {
	return &ticketData{streams: map[int]*streamBuf{}}
}

// upsert records an attempt snapshot.
func (d *ticketData) upsert(a *store.Attempt) {
	d.version++
	d.latest = max(d.latest, a.Seq)
	i := sort.Search(len(d.attempts), func(i int) bool { return d.attempts[i].Seq >= a.Seq })
	if i < len(d.attempts) && d.attempts[i].Seq == a.Seq {
		d.attempts[i] = a
	} else {
		d.attempts = append(d.attempts, nil)
		copy(d.attempts[i+1:], d.attempts[i:])
		d.attempts[i] = a
	}
	// a snapshot longer than what the deltas gave means deltas were missed
	// (the UI started mid-attempt, or dropped events): it is the truth
	if s, ok := d.streams[a.Seq]; ok && len(a.Stream) > s.raw {
		d.streams[a.Seq] = newStreamBuf(a.Stream)
	}
}

// setLoaded merges a full load with snapshots that arrived meanwhile.
func (d *ticketData) setLoaded(list []*store.Attempt) {
	old := d.attempts
	d.attempts = nil
	d.loaded, d.loading, d.loadErr = true, false, ""
	d.version++
	for _, a := range list {
		d.upsert(a)
	}
	for _, a := range old {
		i := sort.Search(len(d.attempts), func(i int) bool { return d.attempts[i].Seq >= a.Seq })
		if i == len(d.attempts) || d.attempts[i].Seq != a.Seq {
			d.upsert(a)
		} else if cur := d.attempts[i]; !cur.Done() && (a.Done() || len(a.Stream) > len(cur.Stream)) {
			d.attempts[i] = a
		} else if !cur.Done() && cur.Model == "" && a.Model != "" {
			// the model a call streams from is told by an event, stored
			// only when the call ends
			c := *cur
			c.Model, c.Provider = a.Model, a.Provider
			d.attempts[i] = &c
		}
	}
}

func (d *ticketData) attempt(seq int) *store.Attempt {
	i := sort.Search(len(d.attempts), func(i int) bool { return d.attempts[i].Seq >= seq })
	if i < len(d.attempts) && d.attempts[i].Seq == seq {
		return d.attempts[i]
	}
	return nil
}

// delta appends streamed text to attempt seq.
func (d *ticketData) delta(seq int, text string) {
	d.latest = max(d.latest, seq)
	s, ok := d.streams[seq]
	if !ok {
		s = &streamBuf{}
		d.streams[seq] = s
	}
	s.Append(text)
}

// stream is the buffer of attempt seq, built from its stored text the first
// time it is needed (called from Update, never View).
func (d *ticketData) stream(seq int) *streamBuf {
	if s, ok := d.streams[seq]; ok {
		return s
	}
	a := d.attempt(seq)
	if a == nil {
		return nil
	}
	s := newStreamBuf(a.Stream)
	d.streams[seq] = s
	return s
}

// lastDeliverable is the newest deliverable of phase, for editing.
func (d *ticketData) lastDeliverable(phase string) string {
	for i := len(d.attempts) - 1; i >= 0; i-- {
		if a := d.attempts[i]; a.Phase == phase && a.Deliverable != "" {
			return a.Deliverable
		}
	}
	return ""
}

// accepted is the attempt whose deliverable a phase settled on: the one the
// engine marked, else the last that passed.
func (d *ticketData) accepted(ps store.PhaseState) *store.Attempt {
	if ps.Accepted != 0 {
		if a := d.attempt(ps.Accepted); a != nil {
			return a
		}
	}
	for i := len(d.attempts) - 1; i >= 0; i-- {
		a := d.attempts[i]
		if a.Phase == ps.Name && a.Verdict != nil && a.Verdict.Pass {
			return a
		}
	}
	return nil
}
