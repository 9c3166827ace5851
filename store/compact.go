package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Compact rewrites the database without free pages: bbolt files never
// shrink on their own. The new file replaces the old one only when whole,
// with the old one's mode and owner; a link is followed, not replaced.
func Compact(path string, timeout time.Duration) (before, after int64, err error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		// bbolt would create it: there is nothing to compact
		return 0, 0, fmt.Errorf("database %s: %w", path, err)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return 0, 0, fmt.Errorf("database %s: %w", path, err)
	}
	if err := checkLength(real, true); err != nil {
		return 0, 0, err
	}
	src, err := boltOpen(real, 0o600, &bolt.Options{Timeout: timeout})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return 0, 0, fmt.Errorf("database %s is %w%s: quit it, then compact", path, ErrInUse, holder(real))
		}
		if errors.Is(err, ErrDamaged) {
			return 0, 0, err
		}
		return 0, 0, fmt.Errorf("database %s: %w", path, err)
	}
	defer src.Close()
	before = fi.Size()
	tmp := real + ".compact"
	os.Remove(tmp)
	dst, err := bolt.Open(tmp, fi.Mode().Perm(), nil)
	if err != nil {
		os.Remove(tmp)
		return 0, 0, fmt.Errorf("compact: %w", err)
	}
	fail := func(err error) (int64, int64, error) {
		dst.Close()
		os.Remove(tmp)
		return 0, 0, err
	}
	// the umask took bits off the mode; the owner is the old file's when
	// this user may give it (root compacting someone's database)
	if err := os.Chmod(tmp, fi.Mode().Perm()); err != nil {
		return fail(fmt.Errorf("compact: %w", err))
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		os.Chown(tmp, int(st.Uid), int(st.Gid))
	}
	if err := compactInto(dst, src, path); err != nil {
		return fail(err)
	}
	// one commit more puts the whole database in the other meta page too
	// (the copy's last commit wrote one; the other still names the empty
	// file): a damaged meta page then falls back to all of it
	if err := dst.Update(func(*bolt.Tx) error { return nil }); err != nil {
		return fail(fmt.Errorf("compact: %w", err))
	}
	if err := dst.Sync(); err != nil {
		return fail(err)
	}
	dst.Close()
	// rename while the source's lock is still held so no writer slips in
	if err := os.Rename(tmp, real); err != nil {
		os.Remove(tmp)
		return 0, 0, err
	}
	if fi, err := os.Stat(real); err == nil {
		after = fi.Size()
	}
	return before, after, nil
}

// compactInto copies src into dst; a damaged page of src is an error.
func compactInto(dst, src *bolt.DB, path string) error {
	return guard(path, func() error {
		if err := bolt.Compact(dst, src, 64<<20); err != nil {
			return fmt.Errorf("compact: %w", err)
		}
		return nil
	})
}
