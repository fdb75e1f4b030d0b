package consistency

import (
	"strings"
	"sync"
	"time"

	"github.com/tierfs/tierfs/objstore"
)

// Entry is what the FS knows of one name.
type Entry struct {
	// Object is the file's object when the name is a file.
	Object objstore.Object
	// Dir reports that the name is a directory (a prefix with keys under
	// it).
	Dir bool
	// Missing reports that the name was found to be neither.
	Missing bool
}

// ListEntry is one entry of a directory listing.
type ListEntry struct {
	// Name is the entry's name within the directory.
	Name string
	// Dir reports a subdirectory; otherwise the entry is a file.
	Dir bool
	// Object is the file's object (Key is its full name).
	Object objstore.Object
}

// DefaultMaxEntries bounds a Meta when NewMeta is given zero: about
// 200 MB of metadata for a dataset of a million names.
const DefaultMaxEntries = 1 << 20

// Meta is a metadata cache under a Policy: it remembers entries, and
// whole directory listings, with the time they were learned and answers
// only while the policy trusts them. It does no I/O itself; a [Journal]
// given to SetJournal is told of every change. It holds at most a bounded
// number of entries, and as many listed entries again; when full, it
// forgets an arbitrary one per insertion. Meta is safe for concurrent
// use.
type Meta struct {
	policy Policy
	now    func() time.Time
	max    int

	mu       sync.Mutex // guards the fields below; held while the journal is called
	entries  map[string]stamped
	listings map[string]stampedList
	listed   int     // entries over all listings
	journal  Journal // nil: none
}

type stamped struct {
	Entry
	at  time.Time
	own bool // learned from this process's own write or removal
}

type stampedList struct {
	entries []ListEntry
	at      time.Time
}

// NewMeta returns an empty cache under p. now is the clock (nil means
// time.Now); maxEntries bounds the cache (zero means DefaultMaxEntries).
func NewMeta(p Policy, now func() time.Time, maxEntries int) *Meta {
	if now == nil {
		now = time.Now
	}
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	return &Meta{policy: p, now: now, max: maxEntries, entries: make(map[string]stamped), listings: make(map[string]stampedList)}
}

// Policy returns the policy the cache follows.
func (m *Meta) Policy() Policy { return m.policy }

// trusted reports whether something learned at at is still trusted for
// ttl; m.mu is held.
func (m *Meta) trusted(at time.Time, ttl time.Duration) bool {
	return ttl < 0 || (ttl > 0 && m.now().Sub(at) < ttl)
}

// Lookup returns the entry for name if the policy still trusts it.
func (m *Meta) Lookup(name string) (Entry, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[name]
	if !ok {
		return Entry{}, false
	}
	if m.trusted(e.at, m.entryTTL(e)) {
		return e.Entry, true
	}
	delete(m.entries, name)
	return Entry{}, false
}

func (m *Meta) entryTTL(e stamped) time.Duration {
	if e.Missing && !e.own {
		return m.policy.NegativeTTL()
	}
	return m.policy.AttrTTL()
}

// Store records what was just learned of name. A missing name is not
// recorded when the policy keeps no negative entries.
func (m *Meta) Store(name string, e Entry) {
	ttl := m.policy.AttrTTL()
	if e.Missing {
		ttl = m.policy.NegativeTTL()
	}
	if ttl == 0 {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	at := m.now()
	m.put(name, stamped{Entry: e, at: at})
	m.record(Record{Op: OpStore, Name: name, At: at, Entry: e})
}

// put adds an entry, making room first; m.mu is held.
func (m *Meta) put(name string, s stamped) {
	if _, ok := m.entries[name]; !ok && len(m.entries) >= m.max {
		for k := range m.entries {
			delete(m.entries, k)
			break
		}
	}
	m.entries[name] = s
}

// KeepsListings reports whether the policy lets listings be cached: when
// it trusts attributes for a while and refuses writes (ReadOnly, TTL with
// a non-zero attr). Under ReadWrite, listings are always asked of the
// store.
func (m *Meta) KeepsListings() bool {
	return m.policy.AttrTTL() != 0 && !m.policy.Writable()
}

// Listing returns the cached listing of dir ("." for the root), in the
// order it was listed, if the policy still trusts it. The slice is
// shared: callers must not change it.
func (m *Meta) Listing(dir string) ([]ListEntry, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.listings[dir]
	if !ok {
		return nil, false
	}
	if m.KeepsListings() && m.trusted(l.at, m.policy.AttrTTL()) {
		return l.entries, true
	}
	m.dropListing(dir)
	return nil, false
}

// StoreListing records the whole listing of dir, just made, when the
// policy keeps listings (see KeepsListings) and it fits the bound.
func (m *Meta) StoreListing(dir string, entries []ListEntry) {
	if !m.KeepsListings() || len(entries) > m.max {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	at := m.now()
	m.putListing(dir, stampedList{entries: entries, at: at})
	m.record(Record{Op: OpList, Name: dir, At: at, List: entries})
}

// putListing adds a listing, making room first; m.mu is held.
func (m *Meta) putListing(dir string, l stampedList) {
	m.dropListing(dir)
	for k := range m.listings {
		if m.listed+len(l.entries) <= m.max {
			break
		}
		m.dropListing(k)
	}
	m.listings[dir] = l
	m.listed += len(l.entries)
}

func (m *Meta) dropListing(dir string) {
	if l, ok := m.listings[dir]; ok {
		m.listed -= len(l.entries)
		delete(m.listings, dir)
	}
}

// dropListingsAbove forgets the listings of name's parent directories;
// m.mu is held.
func (m *Meta) dropListingsAbove(name string) {
	for dir := parent(name); ; dir = parent(dir) {
		m.dropListing(dir)
		if dir == "." {
			return
		}
	}
}

// Written records a write made by this process: name now holds obj,
// whatever the TTL (read-your-writes), and its parent directories exist.
func (m *Meta) Written(name string, obj objstore.Object) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.entries[name] = stamped{Entry: Entry{Object: obj}, at: now, own: true}
	m.dropListingsAbove(name)
	for dir := parent(name); dir != "."; dir = parent(dir) {
		m.entries[dir] = stamped{Entry: Entry{Dir: true}, at: now}
	}
	// What this process wrote is trusted beyond the TTL here, never in
	// another process: the journal forgets the name.
	m.record(Record{Op: OpForget, Name: name})
}

// Removed records a removal made by this process: name is missing at
// once, and trusted as missing for the attribute TTL (not the negative
// one). Parent directories are forgotten, since they may now be empty.
func (m *Meta) Removed(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries[name] = stamped{Entry: Entry{Missing: true}, at: m.now(), own: true}
	m.dropListing(name)
	m.dropListingsAbove(name)
	for dir := parent(name); dir != "."; dir = parent(dir) {
		delete(m.entries, dir)
	}
	m.record(Record{Op: OpForget, Name: name})
}

// Forget drops what is known of name: its entry, its listing if it is a
// directory, and the listing of the directory that holds it (which
// describes it too).
func (m *Meta) Forget(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.forget(name)
	m.record(Record{Op: OpForget, Name: name})
}

func (m *Meta) forget(name string) {
	delete(m.entries, name)
	m.dropListing(name)
	m.dropListing(parent(name))
}

// Clear drops everything, as Refresh and Warmup do.
func (m *Meta) Clear() {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.entries)
	clear(m.listings)
	m.listed = 0
	m.record(Record{Op: OpClear})
}

// Len returns the number of entries held, listings not counted.
func (m *Meta) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}

func parent(name string) string {
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return "."
	}
	return name[:i]
}
