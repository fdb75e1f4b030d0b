package consistency

import "time"

// Op is the kind of change a Record describes.
type Op uint8

// The changes a Meta tells its Journal of.
const (
	// OpStore: Name was learned to be Entry at At.
	OpStore Op = iota + 1
	// OpList: the directory Name was listed as List at At.
	OpList
	// OpForget: what was known of Name is dropped, as Meta.Forget drops
	// it (its entry, its listing, its parent's listing).
	OpForget
	// OpClear: everything is dropped.
	OpClear
)

// Record is one change to a Meta, as a Journal receives it and as
// Meta.Apply replays it.
type Record struct {
	Op    Op
	Name  string
	At    time.Time // when it was learned (OpStore, OpList)
	Entry Entry     // OpStore
	List  []ListEntry
}

// Journal keeps a Meta's changes somewhere that outlives the process, so
// that a restart need not ask the store again (the FS keeps one beside its
// disk tier). A Meta calls it with its lock held, in the order of the
// changes, from any goroutine: a Journal must not call the Meta back and
// should buffer rather than block. A Journal that fails drops what it
// holds; the Meta goes on without it.
type Journal interface {
	// Record takes one change. It returns true when the journal would
	// rather be given the whole state (it has grown with changes that
	// replace each other); the Meta then calls Rewrite.
	Record(r Record) (rewrite bool)
	// Rewrite replaces everything the journal holds with records, the
	// Meta's whole state (OpStore and OpList only).
	Rewrite(records []Record)
}

// SetJournal makes j receive every later change, and gives it the whole
// state at once (Rewrite). Entries that this process wrote or removed
// (ReadWrite) are never given to it: another process must not trust them
// beyond its TTL.
func (m *Meta) SetJournal(j Journal) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.journal = j
	if j != nil {
		j.Rewrite(m.snapshot())
	}
}

// record passes r to the journal, and the whole state when it asks for
// it; m.mu is held.
func (m *Meta) record(r Record) {
	if m.journal != nil && m.journal.Record(r) {
		m.journal.Rewrite(m.snapshot())
	}
}

// snapshot returns the state the policy still trusts as records; m.mu is
// held.
func (m *Meta) snapshot() []Record {
	out := make([]Record, 0, len(m.entries)+len(m.listings))
	for name, e := range m.entries {
		if !e.own && m.trusted(e.at, m.entryTTL(e)) {
			out = append(out, Record{Op: OpStore, Name: name, At: e.at, Entry: e.Entry})
		}
	}
	if m.KeepsListings() {
		for dir, l := range m.listings {
			if m.trusted(l.at, m.policy.AttrTTL()) {
				out = append(out, Record{Op: OpList, Name: dir, At: l.at, List: l.entries})
			}
		}
	}
	return out
}

// Apply replays a record a journal kept (from an earlier process), with
// the time it holds, so that a TTL counts from when the store was asked.
// It is not passed back to the journal. Records the policy no longer
// trusts are dropped.
func (m *Meta) Apply(r Record) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch r.Op {
	case OpStore:
		s := stamped{Entry: r.Entry, at: r.At}
		if m.trusted(s.at, m.entryTTL(s)) {
			m.put(r.Name, s)
		}
	case OpList:
		if m.KeepsListings() && len(r.List) <= m.max && m.trusted(r.At, m.policy.AttrTTL()) {
			m.putListing(r.Name, stampedList{entries: r.List, at: r.At})
		}
	case OpForget:
		m.forget(r.Name)
	case OpClear:
		clear(m.entries)
		clear(m.listings)
		m.listed = 0
	}
}
