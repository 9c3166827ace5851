package store

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// bbolt asserts rather than returns an error on a page it cannot make
// sense of (a flipped byte, a page from another file): its panic means the
// file is damaged, and must reach the user as one line, not a stack trace.
// A panic anywhere else is a bug and is raised again.

// panicOrigin describes the panic being handled (called from the deferred
// function that will recover it): inBbolt, raised inside bbolt's own code;
// fault, a fault on a bad address (with SetPanicOnFault), wherever it was:
// a value bbolt returned can point past its mapping of a damaged file, and
// fault only when decoded.
func panicOrigin() (inBbolt, fault bool) {
	pcs := make([]uintptr, 64)
	n := runtime.Callers(3, pcs) // above the deferred function
	frames := runtime.CallersFrames(pcs[:n])
	panicking := false
	for {
		f, more := frames.Next()
		switch {
		case f.Function == "runtime.gopanic":
			panicking = true
		case panicking && f.Function == "runtime.sigpanic":
			fault = true
		case panicking && strings.HasPrefix(f.Function, "runtime."):
			// a runtime error (an index out of range) raised for its caller
		case panicking:
			return strings.HasPrefix(f.Function, "go.etcd.io/bbolt"), fault
		}
		if !more {
			return false, false
		}
	}
}

// asDamage is the error for r, a recovered panic, when it means the file
// is damaged: raised in bbolt, or a fault reading the file's mapping (not
// a nil pointer's: that is a bug). Any other panic is raised again, with
// where it came from.
func asDamage(path string, r any, inBbolt bool) error {
	if f, ok := r.(interface{ Addr() uintptr }); inBbolt || ok && f.Addr() >= 1<<16 {
		return damaged(path, r)
	}
	panic(fmt.Sprintf("%v\n[raised again by the store; first raised at:]\n%s", r, debug.Stack()))
}

// errPastMapping: a record read in another goroutine pointed past the
// file's mapping (its fault recovered there).
var errPastMapping = errors.New("a page points outside the file")

// ErrDamaged is in the error of an operation that met a page bbolt could
// not read.
var ErrDamaged = errors.New("database damaged")

type damageError struct{ msg string }

func (e *damageError) Error() string { return e.msg }
func (e *damageError) Unwrap() error { return ErrDamaged }

// damaged is the error for a bbolt panic on the database at path. bbolt
// panics on a page it cannot read, and (rarely) on a bug of its caller's:
// the user keeps a copy before giving the file up.
func damaged(path string, r any) error {
	why := strings.Join(strings.Fields(fmt.Sprint(r)), " ")
	if _, fault := r.(interface{ Addr() uintptr }); fault {
		why = "a page points outside the file"
	}
	if len(why) > 200 {
		why = why[:200] + "…"
	}
	return &damageError{fmt.Sprintf("database %s cannot be read, it may be damaged (%s): keep a copy of it, then restore it from a backup or move it away to start a new one", path, why)}
}

// faultsPanic makes a fault on a bad address in this goroutine a panic
// instead of a crash, and returns the setting to restore: a damaged key
// size sends bbolt reading past the end of its mapping of the file.
// Deferred as defer debug.SetPanicOnFault(faultsPanic()).
func faultsPanic() bool { return debug.SetPanicOnFault(true) }

// catchDamage, deferred, turns a panic on a damaged file into *err; any
// other panic goes on untouched (looked at before it is recovered, so a
// bug keeps its stack trace; a fault is recovered to be told apart).
func catchDamage(path string, err *error) {
	inBbolt, fault := panicOrigin()
	if !inBbolt && !fault {
		return
	}
	if r := recover(); r != nil {
		*err = asDamage(path, r, inBbolt)
	}
}

// guard runs op, which reads the database file at path through bbolt,
// with a damaged page an error instead of a panic or a crash.
func guard(path string, op func() error) (err error) {
	defer catchDamage(path, &err)
	defer debug.SetPanicOnFault(faultsPanic())
	return op()
}

// guarded is guard for an operation of s's: damage found breaks s, and a
// broken s does not run op at all.
func (s *Store) guarded(op func() error) (err error) {
	if p := s.damage.Load(); p != nil {
		return *p
	}
	err = guard(s.path, op)
	if errors.Is(err, errPastMapping) {
		err = damaged(s.path, errPastMapping)
	}
	if errors.Is(err, ErrDamaged) {
		s.damage.CompareAndSwap(nil, &err) // the first one stays
	}
	return err
}

// boltOpen is bolt.Open, whose reading of the freelist asserts on a
// damaged page as transactions do.
func boltOpen(path string, mode os.FileMode, opts *bolt.Options) (db *bolt.DB, err error) {
	err = guard(path, func() error {
		db, err = bolt.Open(path, mode, opts)
		return err
	})
	return db, err
}
