package store

import (
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Compact rewrites the database without free pages: bbolt files never
// shrink on their own. The new file replaces the old one only when whole.
func Compact(path string, timeout time.Duration) (before, after int64, err error) {
	if _, err := os.Stat(path); err != nil {
		// bbolt would create it: there is nothing to compact
		return 0, 0, fmt.Errorf("database %s: %w", path, err)
	}
	src, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return 0, 0, fmt.Errorf("database %s is %w%s: quit it, then compact", path, ErrInUse, holder(path))
		}
		return 0, 0, fmt.Errorf("database %s: %w", path, err)
	}
	defer src.Close()
	if fi, err := os.Stat(path); err == nil {
		before = fi.Size()
	}
	tmp := path + ".compact"
	os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, nil)
	if err != nil {
		return 0, 0, err
	}
	if err := bolt.Compact(dst, src, 64<<20); err != nil {
		dst.Close()
		os.Remove(tmp)
		return 0, 0, fmt.Errorf("compact: %w", err)
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		os.Remove(tmp)
		return 0, 0, err
	}
	dst.Close()
	// rename while the source's lock is still held so no writer slips in
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return 0, 0, err
	}
	if fi, err := os.Stat(path); err == nil {
		after = fi.Size()
	}
	return before, after, nil
}
