package store

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"syscall"
)

// bbolt's file format (version 2): two meta pages at the start, each a
// 16-byte page header then the meta record below, whose last field is an
// FNV-64a checksum of the fields before it.
const (
	boltMagic      = 0xED0CDAED
	pageHeaderSize = 16
	metaSize       = 64
	metaChecksumAt = 56
)

// checkLength refuses a file shorter than its own pages say: cut short (a
// full disk, a copy stopped halfway), bbolt would crash reading a page
// that is not there, before it can return an error. A file that is not a
// database at all is left for bbolt to refuse. repair: a new file cut
// short may be emptied for bbolt to make again (not by a reader).
func checkLength(path string, repair bool) error {
	f, err := os.Open(path)
	if err != nil {
		return nil // not there yet: Open creates it
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return nil
	}
	var best struct {
		txid, pages uint64
		pageSize    uint32
		ok          bool
	}
	readMeta := func(off int64) {
		buf := make([]byte, metaSize)
		if _, err := f.ReadAt(buf, off+pageHeaderSize); err != nil && err != io.EOF {
			return
		}
		le := binary.LittleEndian
		if le.Uint32(buf[0:]) != boltMagic || le.Uint32(buf[4:]) != 2 {
			return
		}
		h := fnv.New64a()
		h.Write(buf[:metaChecksumAt])
		if h.Sum64() != le.Uint64(buf[metaChecksumAt:]) {
			return
		}
		if txid := le.Uint64(buf[48:]); !best.ok || txid > best.txid {
			best.txid, best.pages, best.pageSize, best.ok = txid, le.Uint64(buf[40:]), le.Uint32(buf[8:]), true
		}
	}
	readMeta(0)
	if best.ok {
		readMeta(int64(best.pageSize))
	} else {
		readMeta(int64(os.Getpagesize())) // the first is damaged: bbolt reads the second there too
	}
	if !best.ok || best.pageSize == 0 {
		return nil
	}
	if need := best.pages * uint64(best.pageSize); uint64(fi.Size()) < need {
		// the pages of a new file, cut short as they were written (a
		// full disk): no transaction was ever committed to it, so there
		// is nothing to lose; made again, unless a process holds it
		if best.txid <= 1 && repair && emptyIfUnheld(f, fi.Size()) {
			return nil
		}
		return fmt.Errorf("database %s is damaged: %d bytes where its pages need %d (cut short?); restore it from a copy, or move it away to start a new one", path, fi.Size(), need)
	}
	return nil
}

// emptyIfUnheld truncates the database file f to nothing, under the lock
// bbolt takes, when no process holds it and it still has the size it was
// judged at (a process that made it a database meanwhile grew it).
func emptyIfUnheld(f *os.File, size int64) bool {
	w, err := os.OpenFile(f.Name(), os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer w.Close()
	if syscall.Flock(int(w.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return false
	}
	defer syscall.Flock(int(w.Fd()), syscall.LOCK_UN)
	if fi, err := w.Stat(); err != nil || fi.Size() != size {
		return false
	}
	return w.Truncate(0) == nil
}
