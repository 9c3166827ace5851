package store

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// bbolt asserts rather than returns an error on a page it cannot make
// sense of (a flipped byte, a page from another file): its panic means the
// file is damaged, and must reach the user as one line, not a stack trace.
// A panic anywhere else is a bug and is raised again.

// fromBbolt says whether the panic being handled (called from the deferred
// function that recovered it) was raised inside bbolt's own code.
func fromBbolt() bool {
	pcs := make([]uintptr, 64)
	n := runtime.Callers(3, pcs) // above the deferred function
	frames := runtime.CallersFrames(pcs[:n])
	panicking := false
	for {
		f, more := frames.Next()
		switch {
		case f.Function == "runtime.gopanic":
			panicking = true
		case panicking && strings.HasPrefix(f.Function, "runtime."):
			// a runtime error (an index out of range) raised for its caller
		case panicking:
			return strings.HasPrefix(f.Function, "go.etcd.io/bbolt")
		}
		if !more {
			return false
		}
	}
}

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
	if len(why) > 200 {
		why = why[:200] + "…"
	}
	return &damageError{fmt.Sprintf("database %s cannot be read, it may be damaged (%s): keep a copy of it, then restore it from a backup or move it away to start a new one", path, why)}
}

// catchDamage, deferred, turns a bbolt panic into *err; any other panic
// goes on untouched (looked at before it is recovered, so a bug keeps its
// stack trace).
func catchDamage(path string, err *error) {
	if !fromBbolt() {
		return
	}
	if r := recover(); r != nil {
		*err = damaged(path, r)
	}
}

// catchDamage is catchDamage for an operation of s's: the damage breaks s.
func (s *Store) catchDamage(err *error) {
	if !fromBbolt() {
		return
	}
	if r := recover(); r != nil {
		*err = damaged(s.path, r)
		s.breakOn(*err)
	}
}

// breakOn marks s unusable from now on with err (the first one stays).
func (s *Store) breakOn(err error) { s.damage.CompareAndSwap(nil, &err) }

// broken is the error s was marked unusable with, nil while it is not.
func (s *Store) broken() error {
	if p := s.damage.Load(); p != nil {
		return *p
	}
	return nil
}

// boltOpen is bolt.Open, whose reading of the freelist asserts on a
// damaged page as transactions do.
func boltOpen(path string, mode os.FileMode, opts *bolt.Options) (db *bolt.DB, err error) {
	defer catchDamage(path, &err)
	return bolt.Open(path, mode, opts)
}
