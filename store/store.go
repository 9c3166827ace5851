package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	gojson "github.com/goccy/go-json"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"agent-tui/engine/wtfile"
)

var (
	bucketTickets  = []byte("tickets")
	bucketAttempts = []byte("attempts")
	bucketMeta     = []byte("meta")
	// bucketActive indexes the tickets that are not finished, so start-up
	// reads only those, however long the history.
	bucketActive = []byte("active")
)

// ErrNotFound is returned for an unknown ticket id.
var ErrNotFound = errors.New("not found")

// ErrInUse means another process holds the database.
var ErrInUse = errors.New("in use by another agent-tui process")

type Store struct {
	// damage is the first damaged-page error: after bbolt's panic its
	// handle is in no known state (locks it took may be held), so every
	// later operation returns this instead of touching it
	damage   atomic.Pointer[error]
	db       *bolt.DB
	path     string
	readOnly bool

	// group commit: updates that arrive while one commits are committed
	// together, with one fsync
	commitMu sync.Mutex
	queueMu  sync.Mutex
	queue    []*pendingUpdate
}

type pendingUpdate struct {
	fn       func(*Tx) error
	err      error
	panicked any
	done     chan struct{}
}

// openCurrent opens path and takes its lock, making sure the file locked
// is still the one at path: `compact` renames a new file over the old one
// while a waiting Open holds the old one open, and whatever it then wrote
// would go to a deleted file.
func openCurrent(path string, timeout time.Duration, readOnly bool) (*bolt.DB, error) {
	deadline := time.Now().Add(timeout)
	for {
		before, statErr := os.Stat(path)
		db, err := boltOpen(path, 0o600, &bolt.Options{Timeout: max(time.Until(deadline), time.Millisecond), ReadOnly: readOnly})
		if err != nil {
			return nil, err
		}
		after, err := os.Stat(path)
		if statErr != nil || (err == nil && os.SameFile(before, after)) {
			return db, nil // new (nothing to replace it yet), or still the one at path
		}
		db.Close()
		if time.Now().After(deadline) {
			return nil, bolterrors.ErrTimeout
		}
	}
}

// Open opens (creating if needed) the database at path. If another process
// holds it, Open fails after timeout with ErrInUse.
func Open(path string, timeout time.Duration) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	if fi, err := os.Stat(path); err == nil {
		if err := notAFile(path, fi); err != nil {
			return nil, err
		}
	}
	if err := checkLength(path, true); err != nil {
		return nil, err
	}
	// (a file a failed open made is left: another process may hold it by
	// now, and an empty one is made a database by the next open)
	db, err := openCurrent(path, timeout, false)
	if err != nil {
		return nil, openError(path, err)
	}
	if err := initBuckets(db, path); err != nil {
		if errors.Is(err, ErrDamaged) {
			// bbolt may hold its own locks after its panic: closing
			// could hang, and the process is about to exit
			return nil, err
		}
		db.Close()
		if errors.Is(err, errNotOurs) {
			return nil, fmt.Errorf("database %s %w", path, err)
		}
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	return &Store{db: db, path: path}, nil
}

// notAFile refuses a directory, fifo or device as the database: bbolt
// would wait on a fifo for ever, and fail on a device with EINVAL.
func notAFile(path string, fi os.FileInfo) error {
	if !fi.Mode().IsRegular() {
		// a directory too: "is a directory, not a database file"
		return fmt.Errorf("database %s is %s, not a database file", path, wtfile.Kind(fi.Mode()))
	}
	return nil
}

// InUseError: another process holds the database at Path (Holder names
// it, when /proc/locks tells: " (pid 123)").
type InUseError struct{ Path, Holder string }

func (e *InUseError) Error() string {
	return fmt.Sprintf("database %s is %v%s: quit it, then try again", e.Path, ErrInUse, e.Holder)
}

func (e *InUseError) Unwrap() error { return ErrInUse }

// openError is the one line for a failed bbolt open of path.
func openError(path string, err error) error {
	switch {
	case errors.Is(err, ErrDamaged):
		return err // names the file already
	case errors.Is(err, bolterrors.ErrTimeout):
		return &InUseError{Path: path, Holder: holder(path)}
	case unreadableMeta(err):
		return &damageError{fmt.Sprintf("database %s cannot be read (%v): not a database, or its first pages are damaged; if it is agent-tui's, keep a copy of it, then restore it from a backup or move it away to start a new one", path, err)}
	case NotWritable(err):
		return refused(path, "written", err)
	}
	return fmt.Errorf("database %s: %w", path, err)
}

// refused says the file at path cannot be read or written, and why, with
// the path said once.
func refused(path, what string, err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("database %s cannot be %s (%w)", path, what, err)
}

// NotWritable reports whether err is a refusal to open a file for writing
// that reading would not meet: a read-only filesystem or file, or an
// immutable one.
func NotWritable(err error) bool {
	return errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)
}

// errNotOurs: a bbolt file with buckets, none of them agent-tui's.
var errNotOurs = errors.New("holds no agent-tui tickets: not agent-tui's database")

// ErrNotDatabase: the file at the path is empty, so no database yet.
var ErrNotDatabase = errors.New("an empty file, not a database")

// OpenReadOnly opens the database at path for reading only (bbolt's
// ReadOnly): the commands that only read, which then read a file or
// filesystem that cannot be written too. It creates, initializes and
// repairs nothing. Its lock is shared: readers open it
// together, and a writer holding it (or one waiting for it once a reader
// holds it) gets ErrInUse after timeout, as with Open.
func OpenReadOnly(path string, timeout time.Duration) (*Store, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	if err := notAFile(path, fi); err != nil {
		return nil, err
	}
	if fi.Size() == 0 {
		return nil, fmt.Errorf("database %s is %w", path, ErrNotDatabase) // bbolt would write one there
	}
	if err := checkLength(path, false); err != nil {
		return nil, err
	}
	db, err := openCurrent(path, timeout, true)
	if err != nil {
		if NotWritable(err) {
			return nil, refused(path, "read", err) // (not openError's "written")
		}
		return nil, openError(path, err)
	}
	var complete, empty bool
	if err := guard(path, func() error {
		return db.View(func(tx *bolt.Tx) error {
			complete = hasOurBuckets(tx)
			first, _ := tx.Cursor().First()
			empty = first == nil
			return nil
		})
	}); err != nil {
		if !errors.Is(err, ErrDamaged) {
			db.Close()
		}
		return nil, err
	}
	if !complete {
		// (a database from before the active index lacks only that one,
		// which reading does not use)
		db.Close()
		if empty && fi.Size() > freshPages*int64(os.Getpagesize()) {
			return nil, lostMeta(path, fi.Size())
		}
		return nil, fmt.Errorf("database %s %w", path, errNotOurs)
	}
	return &Store{db: db, path: path, readOnly: true}, nil
}

// ReadOnly says the store was opened by OpenReadOnly: updates fail.
func (s *Store) ReadOnly() bool { return s.readOnly }

// unreadableMeta: bbolt found no usable meta page (both damaged, or not
// a bbolt file at all).
func unreadableMeta(err error) bool {
	return errors.Is(err, bolterrors.ErrInvalid) || errors.Is(err, bolterrors.ErrVersionMismatch) || errors.Is(err, bolterrors.ErrChecksum)
}

// initBuckets makes what a new database, or one from before the active
// index, lacks; a database that has it all is not written to (a read of
// the history changes nothing on disk).
func initBuckets(db *bolt.DB, path string) error {
	return guard(path, func() error { return makeBuckets(db, path) })
}

// lostMeta is the error for a database that reads as empty in a file of
// size bytes, more than a new one's.
func lostMeta(path string, size int64) error {
	return &damageError{fmt.Sprintf("database %s cannot be read, it may be damaged (it reads as empty though the file holds %d bytes: its newest meta page is unreadable): keep a copy of it, then restore it from a backup or move it away to start a new one", path, size)}
}

// freshPages is the size, in pages, of the file bbolt makes for a new
// database: two meta pages, a freelist and an empty root.
const freshPages = 4

// hasOurBuckets: the buckets every agent-tui database has held (the
// active index came later, and only the engine reads it).
func hasOurBuckets(tx *bolt.Tx) bool {
	return tx.Bucket(bucketTickets) != nil && tx.Bucket(bucketAttempts) != nil && tx.Bucket(bucketMeta) != nil
}

func makeBuckets(db *bolt.DB, path string) error {
	complete := false
	if err := db.View(func(tx *bolt.Tx) error {
		complete = hasOurBuckets(tx) && tx.Bucket(bucketActive) != nil
		return nil
	}); err != nil || complete {
		return err
	}
	return db.Update(func(tx *bolt.Tx) error {
		first, _ := tx.Cursor().First()
		if tx.Bucket(bucketTickets) == nil && first != nil {
			// another program's bbolt file: not to be filled with tickets
			return errNotOurs
		}
		if fi, err := os.Stat(path); first == nil && err == nil && fi.Size() > freshPages*int64(db.Info().PageSize) {
			// empty, in a file that held more: bbolt fell back to the
			// older meta page, the newer one damaged (right after a
			// compact, the older one is of an empty file). Written now,
			// the newer state would be lost for good
			return lostMeta(path, fi.Size())
		}
		for _, b := range [][]byte{bucketTickets, bucketAttempts, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if tx.Bucket(bucketActive) != nil {
			return nil
		}
		// a database from before the index: build it once
		active, err := tx.CreateBucket(bucketActive)
		if err != nil {
			return err
		}
		return tx.Bucket(bucketTickets).ForEach(func(k, v []byte) error {
			var t struct{ Status string }
			if json.Unmarshal(v, &t) == nil && !Finished(t.Status) {
				return active.Put(k, nil)
			}
			return nil
		})
	})
}

// Close closes the database; one found damaged is left as it is, since
// bbolt may still hold the locks of the operation it panicked in.
func (s *Store) Close() error {
	if s.damage.Load() != nil {
		return nil
	}
	return s.db.Close()
}
func (s *Store) Path() string { return s.path }

// ParseID turns "T-12" (or "12") into 12.
func ParseID(id string) (uint64, error) {
	n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(id)), "T-"), 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("bad ticket id %q (want T-N)", id)
	}
	return n, nil
}

// FormatID is the inverse of ParseID.
func FormatID(n uint64) string { return "T-" + strconv.FormatUint(n, 10) }

func key(n uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

// Tx gives typed access inside one bbolt transaction.
type Tx struct{ tx *bolt.Tx }

// Update runs fn in a write transaction and returns once it is on disk.
//
// Updates that arrive while another commits wait and are then committed
// together in one transaction, one fsync for all: under load the writers
// share the disk's latency instead of queueing for it one by one. A lone
// update commits at once. When fn fails, its changes are rolled back and
// the other updates of its group run again in a new transaction; so fn may
// run more than once and must derive everything it reports from the
// transaction it is given.
func (s *Store) Update(fn func(*Tx) error) error {
	u := &pendingUpdate{fn: fn, done: make(chan struct{})}
	s.queueMu.Lock()
	s.queue = append(s.queue, u)
	s.queueMu.Unlock()

	s.commitMu.Lock()
	s.queueMu.Lock()
	group := s.queue
	s.queue = nil
	s.queueMu.Unlock()
	if len(group) > 0 { // else an earlier committer took ours
		s.commitGroup(group)
	}
	s.commitMu.Unlock()

	<-u.done
	if u.panicked != nil {
		panic(u.panicked)
	}
	return u.err
}

func (s *Store) commitGroup(group []*pendingUpdate) {
	for len(group) > 0 {
		failed := -1
		// (damage found in an update's fn, or in bbolt's commit, breaks
		// the store: the rest of the group gets the same error)
		err := s.guarded(func() error {
			return s.db.Update(func(tx *bolt.Tx) error {
				for i, u := range group {
					if err := u.run(&Tx{tx}, s.path); err != nil {
						failed = i
						return err
					}
				}
				return nil
			})
		})
		if failed < 0 { // committed, or the commit failed for all
			for _, u := range group {
				u.err = err
				close(u.done)
			}
			return
		}
		f := group[failed]
		f.err = err
		close(f.done)
		group = append(group[:failed:failed], group[failed+1:]...)
	}
}

// run calls fn, turning a panic into an error so the group is rolled back;
// the panic is raised again in the caller's goroutine, unless it was
// bbolt's on a damaged page (the caller gets the error).
func (u *pendingUpdate) run(tx *Tx, path string) (err error) {
	defer func() {
		if inBbolt, fault := panicOrigin(); inBbolt || fault {
			if r := recover(); r != nil {
				err = asDamage(path, r, inBbolt)
			}
			return
		}
		if r := recover(); r != nil {
			u.panicked = r
			err = fmt.Errorf("store update panicked: %v", r)
		}
	}()
	return u.fn(tx)
}

// View runs fn in a read transaction.
func (s *Store) View(fn func(*Tx) error) error {
	return s.guarded(func() error {
		return s.db.View(func(tx *bolt.Tx) error { return fn(&Tx{tx}) })
	})
}

// Meta reads a value the store keeps about itself; "" when unset.
func (tx *Tx) Meta(key string) string {
	return string(tx.tx.Bucket(bucketMeta).Get([]byte(key)))
}

// SetMeta sets a value the store keeps about itself.
func (tx *Tx) SetMeta(key, value string) error {
	return tx.tx.Bucket(bucketMeta).Put([]byte(key), []byte(value))
}

// CreateTicket allocates the next id, fills timestamps and stores t.
func (tx *Tx) CreateTicket(t *Ticket) error {
	b := tx.tx.Bucket(bucketTickets)
	// every ticket's page is read first (not decoded): past a damaged
	// one, the new ticket could never be listed, and the write could
	// spread the damage; bbolt's panic there is the store's error
	if err := b.ForEach(func(k, v []byte) error { return nil }); err != nil {
		return err
	}
	n, err := b.NextSequence()
	if err != nil {
		return err
	}
	t.ID = FormatID(n)
	now := time.Now().UTC()
	t.Created, t.Updated = now, now
	return tx.put(n, t)
}

// appendFill packs pages tightly: keys are sequence numbers, so inserts
// append and half-empty pages (bbolt's default split) would double the file.
const appendFill = 0.9

func (tx *Tx) put(n uint64, t *Ticket) error {
	data, err := json.Marshal(t)
	if err != nil {
		return err
	}
	b := tx.tx.Bucket(bucketTickets)
	b.FillPercent = appendFill
	if err := b.Put(key(n), data); err != nil {
		return err
	}
	if Finished(t.Status) {
		return tx.tx.Bucket(bucketActive).Delete(key(n))
	}
	return tx.tx.Bucket(bucketActive).Put(key(n), nil)
}

// PutTicket stores an existing ticket.
func (tx *Tx) PutTicket(t *Ticket) error {
	n, err := ParseID(t.ID)
	if err != nil {
		return err
	}
	t.Updated = time.Now().UTC()
	return tx.put(n, t)
}

// Ticket reads one ticket.
func (tx *Tx) Ticket(id string) (*Ticket, error) {
	n, err := ParseID(id)
	if err != nil {
		return nil, err
	}
	data := tx.tx.Bucket(bucketTickets).Get(key(n))
	if data == nil {
		return nil, fmt.Errorf("ticket %s: %w", FormatID(n), ErrNotFound)
	}
	t := new(Ticket)
	if err := gojson.Unmarshal(data, t); err != nil {
		return nil, fmt.Errorf("ticket %s: corrupt record: %w", FormatID(n), err)
	}
	return t, nil
}

// Tickets reads all tickets in id order. Decoding is spread over the CPUs
// and done by go-json (4-5x encoding/json's speed here): with ten
// thousand tickets JSON decoding is most of the start-up time.
// Records are decoded where bbolt keeps them (no copies), into tickets and
// phase lists allocated in one piece each: on a machine where page faults
// are dear, fresh heap is most of the cost.
func (tx *Tx) Tickets() ([]*Ticket, error) {
	var raw [][]byte
	err := tx.tx.Bucket(bucketTickets).ForEach(func(k, v []byte) error {
		raw = append(raw, v) // valid until the transaction ends, after decoding
		return nil
	})
	if err != nil {
		return nil, err
	}
	const phasesEach = 10 // the longest route; a longer list grows on its own
	tickets := make([]Ticket, len(raw))
	phases := make([]PhaseState, len(raw)*phasesEach)
	out := make([]*Ticket, len(raw))
	errs := make([]error, len(raw))
	workers := min(runtime.GOMAXPROCS(0), 1+len(raw)/512)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			// the records point into bbolt's mapping of the file: a
			// damaged length reads past it (see faultsPanic)
			defer func() {
				if _, fault := panicOrigin(); fault {
					if r := recover(); r != nil {
						errs[w] = errPastMapping
					}
				}
			}()
			defer debug.SetPanicOnFault(faultsPanic())
			for i := w; i < len(raw); i += workers {
				t := &tickets[i]
				t.Phases = phases[i*phasesEach : i*phasesEach : (i+1)*phasesEach]
				if err := gojson.Unmarshal(raw[i], t); err != nil {
					errs[i] = fmt.Errorf("ticket #%d: corrupt record: %w", i+1, err)
				}
				out[i] = t
			}
		}(w)
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// ActiveTickets reads the tickets that are not finished, in id order.
func (tx *Tx) ActiveTickets() ([]*Ticket, error) {
	var out []*Ticket
	err := tx.tx.Bucket(bucketActive).ForEach(func(k, _ []byte) error {
		t, err := tx.Ticket(FormatID(binary.BigEndian.Uint64(k)))
		if err != nil {
			return err
		}
		out = append(out, t)
		return nil
	})
	return out, err
}

// Finished reports whether a status is final.
func Finished(status string) bool {
	return status == StatusDone || status == StatusCancelled || status == StatusFailed
}

func (tx *Tx) attemptBucket(id string, create bool) (*bolt.Bucket, error) {
	n, err := ParseID(id)
	if err != nil {
		return nil, err
	}
	root := tx.tx.Bucket(bucketAttempts)
	if create {
		return root.CreateBucketIfNotExists(key(n))
	}
	return root.Bucket(key(n)), nil
}

// PutAttempt stores a, allocating its Seq when zero.
func (tx *Tx) PutAttempt(ticketID string, a *Attempt) error {
	b, err := tx.attemptBucket(ticketID, true)
	if err != nil {
		return err
	}
	switch {
	case a.Seq == 0:
		n, err := b.NextSequence()
		if err != nil {
			return err
		}
		a.Seq = int(n)
	case uint64(a.Seq) > b.Sequence():
		// Seq came from a transaction that was rolled back (see Update):
		// keep the sequence ahead of every stored attempt
		if err := b.SetSequence(uint64(a.Seq)); err != nil {
			return err
		}
	}
	data, err := json.Marshal(a)
	if err != nil {
		return err
	}
	b.FillPercent = appendFill
	tx.tx.Bucket(bucketAttempts).FillPercent = appendFill
	return b.Put(key(uint64(a.Seq)), data)
}

// Attempts reads every attempt of a ticket in order.
func (tx *Tx) Attempts(ticketID string) ([]*Attempt, error) {
	b, err := tx.attemptBucket(ticketID, false)
	if err != nil || b == nil {
		return nil, err
	}
	var out []*Attempt
	err = b.ForEach(func(k, v []byte) error {
		a, err := decodeAttempt(ticketID, k, v)
		if err == nil {
			out = append(out, a)
		}
		return err
	})
	return out, err
}

func decodeAttempt(ticketID string, k, v []byte) (*Attempt, error) {
	a := new(Attempt)
	if err := gojson.Unmarshal(v, a); err != nil {
		return nil, fmt.Errorf("%s attempt %d: corrupt record: %w", ticketID, binary.BigEndian.Uint64(k), err)
	}
	return a, nil
}

// LastAttemptCost reads what a ticket's latest attempt cost and whether it
// ended, and nothing else (nil when it has none): the Attempt it returns
// has only Ended, Interrupted, CostUSD, Counted and its Validator's CostUSD.
// list reads it for every ticket not finished, whose streams may be large.
func (tx *Tx) LastAttemptCost(ticketID string) (*Attempt, error) {
	b, err := tx.attemptBucket(ticketID, false)
	if err != nil || b == nil {
		return nil, err
	}
	k, v := b.Cursor().Last()
	if k == nil {
		return nil, nil
	}
	var lean struct {
		Ended       time.Time `json:"ended"`
		Interrupted bool      `json:"interrupted"`
		CostUSD     float64   `json:"cost_usd"`
		Counted     float64   `json:"counted_usd"`
		Validator   *struct {
			CostUSD float64 `json:"cost_usd"`
		} `json:"validator"`
	}
	if err := gojson.Unmarshal(v, &lean); err != nil {
		return nil, fmt.Errorf("%s attempt %d: corrupt record: %w", ticketID, binary.BigEndian.Uint64(k), err)
	}
	a := &Attempt{Ended: lean.Ended, Interrupted: lean.Interrupted, CostUSD: lean.CostUSD, Counted: lean.Counted}
	if lean.Validator != nil {
		a.Validator = &Validator{CostUSD: lean.Validator.CostUSD}
	}
	return a, nil
}

// Attempt reads one attempt by sequence.
func (tx *Tx) Attempt(ticketID string, seq int) (*Attempt, error) {
	b, err := tx.attemptBucket(ticketID, false)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, fmt.Errorf("%s attempt %d: %w", ticketID, seq, ErrNotFound)
	}
	data := b.Get(key(uint64(seq)))
	if data == nil {
		return nil, fmt.Errorf("%s attempt %d: %w", ticketID, seq, ErrNotFound)
	}
	a := new(Attempt)
	return a, gojson.Unmarshal(data, a)
}

// Convenience wrappers, each its own transaction.

func (s *Store) CreateTicket(t *Ticket) error {
	return s.Update(func(tx *Tx) error { return tx.CreateTicket(t) })
}

func (s *Store) PutTicket(t *Ticket) error {
	return s.Update(func(tx *Tx) error { return tx.PutTicket(t) })
}

func (s *Store) Ticket(id string) (t *Ticket, err error) {
	err = s.View(func(tx *Tx) error { t, err = tx.Ticket(id); return err })
	return t, err
}

func (s *Store) ActiveTickets() (ts []*Ticket, err error) {
	err = s.View(func(tx *Tx) error { ts, err = tx.ActiveTickets(); return err })
	return ts, err
}

func (s *Store) Tickets() (ts []*Ticket, err error) {
	err = s.View(func(tx *Tx) error { ts, err = tx.Tickets(); return err })
	return ts, err
}

// UpdateTicket reads, modifies and writes a ticket in one transaction.
func (s *Store) UpdateTicket(id string, fn func(*Ticket) error) (t *Ticket, err error) {
	err = s.Update(func(tx *Tx) error {
		if t, err = tx.Ticket(id); err != nil {
			return err
		}
		if err := fn(t); err != nil {
			return err
		}
		return tx.PutTicket(t)
	})
	return t, err
}

func (s *Store) PutAttempt(ticketID string, a *Attempt) error {
	return s.Update(func(tx *Tx) error { return tx.PutAttempt(ticketID, a) })
}

func (s *Store) Attempts(ticketID string) (as []*Attempt, err error) {
	err = s.View(func(tx *Tx) error { as, err = tx.Attempts(ticketID); return err })
	return as, err
}

func (s *Store) Attempt(ticketID string, seq int) (a *Attempt, err error) {
	err = s.View(func(tx *Tx) error { a, err = tx.Attempt(ticketID, seq); return err })
	return a, err
}

// Check runs bbolt's consistency check (for tests: bbolt walks the pages
// in a goroutine of its own, where a page pointing past the end of a
// damaged file is a crash, not an error).
func (s *Store) Check() error {
	return s.View(func(tx *Tx) error {
		var errs []string
		for err := range tx.tx.Check() {
			errs = append(errs, err.Error())
		}
		if len(errs) > 0 {
			sort.Strings(errs)
			return fmt.Errorf("database check: %s", strings.Join(errs, "; "))
		}
		return nil
	})
}

// Size reports the database file's size on disk and the bytes of pages
// holding live data.
func (s *Store) Size() (file int64, live int64, err error) {
	fi, err := os.Stat(s.path)
	if err != nil {
		return 0, 0, err
	}
	err = s.View(func(tx *Tx) error {
		return tx.tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			bs := b.Stats()
			live += int64(bs.LeafInuse + bs.BranchInuse)
			return nil
		})
	})
	return fi.Size(), live, err
}
