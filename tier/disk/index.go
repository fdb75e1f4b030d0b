package disk

// entry is one block in a directory's index. The index is an exact LRU: a
// map from key hash to entry plus an intrusive doubly linked list, most
// recently used at the front. The list order is the last-access order, so
// no access time is stored. 48 bytes per entry plus the map's slot.
type entry struct {
	hash       keyHash
	charge     int64 // bytes charged against the quota: file size rounded up to the fs block
	prev, next *entry
}

// lru is a directory's index. It is not safe for concurrent use; dir.mu
// guards it.
type lru struct {
	m    map[keyHash]*entry
	root entry // sentinel: root.next is the front (newest), root.prev the back (oldest)
	used int64 // sum of charges
}

func newLRU() *lru {
	l := &lru{m: make(map[keyHash]*entry)}
	l.root.next, l.root.prev = &l.root, &l.root
	return l
}

func (l *lru) len() int { return len(l.m) }

func (l *lru) get(h keyHash) *entry { return l.m[h] }

func (l *lru) unlink(e *entry) {
	e.prev.next = e.next
	e.next.prev = e.prev
	e.prev, e.next = nil, nil
}

func (l *lru) insertAfter(e, at *entry) {
	e.prev = at
	e.next = at.next
	at.next.prev = e
	at.next = e
}

// touch moves e to the front.
func (l *lru) touch(e *entry) {
	if l.root.next == e {
		return
	}
	l.unlink(e)
	l.insertAfter(e, &l.root)
}

// add inserts a new entry at the front (newest) or at the back (oldest).
// The hash must not be present.
func (l *lru) add(h keyHash, charge int64, front bool) *entry {
	e := &entry{hash: h, charge: charge}
	l.m[h] = e
	l.used += charge
	if front {
		l.insertAfter(e, &l.root)
	} else {
		l.insertAfter(e, l.root.prev)
	}
	return e
}

func (l *lru) remove(e *entry) {
	delete(l.m, e.hash)
	l.unlink(e)
	l.used -= e.charge
}

// oldest returns the least recently used entry, or nil.
func (l *lru) oldest() *entry {
	if l.root.prev == &l.root {
		return nil
	}
	return l.root.prev
}
