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

// DefaultMaxEntries bounds a Meta when NewMeta is given zero: about
// 200 MB of metadata for a dataset of a million names.
const DefaultMaxEntries = 1 << 20

// Meta is a metadata cache under a Policy: it remembers entries with the
// time they were learned and answers only while the policy trusts them.
// It does no I/O. It holds at most a bounded number of entries; when full,
// it forgets an arbitrary one per insertion. Meta is safe for concurrent
// use.
type Meta struct {
	policy Policy
	now    func() time.Time
	max    int

	mu      sync.Mutex // guards entries
	entries map[string]stamped
}

type stamped struct {
	Entry
	at  time.Time
	own bool // learned from this process's own write or removal
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
	return &Meta{policy: p, now: now, max: maxEntries, entries: make(map[string]stamped)}
}

// Policy returns the policy the cache follows.
func (m *Meta) Policy() Policy { return m.policy }

// Lookup returns the entry for name if the policy still trusts it.
func (m *Meta) Lookup(name string) (Entry, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[name]
	if !ok {
		return Entry{}, false
	}
	ttl := m.policy.AttrTTL()
	if e.Missing && !e.own {
		ttl = m.policy.NegativeTTL()
	}
	if ttl < 0 || (ttl > 0 && m.now().Sub(e.at) < ttl) {
		return e.Entry, true
	}
	delete(m.entries, name)
	return Entry{}, false
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
	if _, ok := m.entries[name]; !ok && len(m.entries) >= m.max {
		for k := range m.entries {
			delete(m.entries, k)
			break
		}
	}
	m.entries[name] = stamped{Entry: e, at: m.now()}
}

// Written records a write made by this process: name now holds obj,
// whatever the TTL (read-your-writes), and its parent directories exist.
func (m *Meta) Written(name string, obj objstore.Object) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.entries[name] = stamped{Entry: Entry{Object: obj}, at: now, own: true}
	for dir := parent(name); dir != "."; dir = parent(dir) {
		m.entries[dir] = stamped{Entry: Entry{Dir: true}, at: now}
	}
}

// Removed records a removal made by this process: name is missing at
// once, and trusted as missing for the attribute TTL (not the negative
// one). Parent directories are forgotten, since they may now be empty.
func (m *Meta) Removed(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.entries[name] = stamped{Entry: Entry{Missing: true}, at: m.now(), own: true}
	for dir := parent(name); dir != "."; dir = parent(dir) {
		delete(m.entries, dir)
	}
}

// Forget drops what is known of name.
func (m *Meta) Forget(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.entries, name)
}

// Clear drops everything, as Refresh and Warmup do.
func (m *Meta) Clear() {
	m.mu.Lock()
	defer m.mu.Unlock()
	clear(m.entries)
}

// Len returns the number of entries held.
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
