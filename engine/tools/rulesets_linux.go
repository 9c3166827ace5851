package tools

import (
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// threadRulesets keeps the rulesets of recent checks: making one reads every
// directory on the way to each hidden path and opens each entry (hundreds
// of system calls), while a ticket's checks mostly meet the same
// directories again.
var threadRulesets = rulesetCache{max: 64}

// A pathStamp is what a ruleset's rules depended on in one path: a
// directory's entries (its change time moves with any entry added, removed
// or renamed) or a kept path's identity.
type pathStamp struct {
	path              string
	dev, ino          uint64
	mtime, ctime      int64
	missing, tooFresh bool
	identityOnly      bool // a kept path: its rule holds whatever it contains
}

// racyWindow: a change within this long of a stamp may share its timestamp
// (file times tick coarsely), so a stamp that recent proves nothing.
const racyWindow = 100 * time.Millisecond

func stampOf(p string, identityOnly bool) pathStamp {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return pathStamp{path: p, missing: true, identityOnly: identityOnly}
	}
	s := pathStamp{path: p, dev: st.Dev, ino: st.Ino, identityOnly: identityOnly}
	if !identityOnly {
		s.mtime, s.ctime = st.Mtim.Nano(), st.Ctim.Nano()
		s.tooFresh = time.Since(time.Unix(0, max(s.mtime, s.ctime))) < racyWindow
	}
	return s
}

type cachedRuleset struct {
	fd       int
	stamps   []pathStamp
	used     uint64
	lastUsed time.Time
}

type rulesetCache struct {
	mu      sync.Mutex
	max     int
	clock   uint64
	entries map[string]*cachedRuleset
	builds  int // for tests
	sweep   *time.Timer
}

// rulesetIdle is how long a ruleset no check used stays kept. A ruleset
// holds every file its rules name open (the entries of the directories on
// the way to a hidden path: the repository's root, the home directory), so
// a file deleted there frees no space while one that names it is kept.
var rulesetIdle = 30 * time.Second

// sweepLocked arms the removal of rulesets left unused (c.mu held).
func (c *rulesetCache) sweepLocked() {
	if c.sweep != nil || len(c.entries) == 0 {
		return
	}
	c.sweep = time.AfterFunc(rulesetIdle, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.sweep = nil
		for k, e := range c.entries {
			if time.Since(e.lastUsed) >= rulesetIdle {
				unix.Close(e.fd)
				delete(c.entries, k)
			}
		}
		c.sweepLocked()
	})
}

// get returns a ruleset for writable and hidden, the caller's to close:
// the cached one while nothing it was made from has changed, else a new one.
func (c *rulesetCache) get(writable, readable, hidden []string) (int, error) {
	key := strings.Join(writable, "\x00") + "\x01" + strings.Join(readable, "\x00") + "\x01" + strings.Join(hidden, "\x00")
	c.mu.Lock()
	if e := c.entries[key]; e != nil && unchanged(e.stamps) {
		c.clock++
		e.used, e.lastUsed = c.clock, time.Now()
		fd, err := dupCloexec(e.fd)
		c.mu.Unlock()
		return fd, err
	}
	c.builds++
	c.mu.Unlock()

	fd, stamps, err := buildThreadRuleset(writable, readable, hidden)
	if err != nil {
		return -1, err
	}
	for _, s := range stamps {
		if s.tooFresh {
			return fd, nil // used once, not kept
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = map[string]*cachedRuleset{}
	}
	if old := c.entries[key]; old != nil {
		unix.Close(old.fd)
	} else if len(c.entries) >= c.max {
		c.evictOldest()
	}
	kept, err := dupCloexec(fd)
	if err != nil {
		delete(c.entries, key)
		return fd, nil
	}
	c.clock++
	c.entries[key] = &cachedRuleset{fd: kept, stamps: stamps, used: c.clock, lastUsed: time.Now()}
	c.sweepLocked()
	return fd, nil
}

func (c *rulesetCache) evictOldest() {
	var oldest string
	for k, e := range c.entries {
		if oldest == "" || e.used < c.entries[oldest].used {
			oldest = k
		}
	}
	unix.Close(c.entries[oldest].fd)
	delete(c.entries, oldest)
}

func unchanged(stamps []pathStamp) bool {
	for _, s := range stamps {
		now := stampOf(s.path, s.identityOnly)
		if now.missing != s.missing || now.dev != s.dev || now.ino != s.ino || now.mtime != s.mtime || now.ctime != s.ctime {
			return false
		}
	}
	return true
}

// dupCloexec keeps the copy out of the processes agent-tui starts, as the
// ruleset itself is.
func dupCloexec(fd int) (int, error) { return unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0) }
