package disk

import "syscall"

// openFiles is how many block files a Tier keeps open, split evenly over
// its directories (at least minOpenPerDir each): a hit on an open file
// costs no open, header read and close (a fifth of a 256 KiB hit).
const (
	openFiles     = 256
	minOpenPerDir = 16
)

// openBlock is a block file held open with its verified header. The
// header was checked once, when the file was opened; every read still
// verifies the pieces it returns against it.
type openBlock struct {
	f    file
	key  string // the key the header names
	h    keyHash
	hdr  header // sums owned by this openBlock
	size int64  // header and data: the file size the header implies

	// Guarded by the dir's mu:
	refs       int    // readers using f
	cached     bool   // in the dir's fdCache; the cache's reference is not counted in refs
	m          []byte // the file mapped (size bytes), or nil: read with pread
	hits       int    // reads served from the cache
	mapping    bool   // a reader maps the file (once)
	prev, next *openBlock
}

// mapHits is the reads of a file from the cache at which it is mapped:
// a file read once is not worth a mapping (mmap, the page faults and
// munmap cost as much as a 256 KiB read), a file read again is.
const mapHits = 1

// mapFile maps the file, for reads that copy and checksum in one pass
// (see readMapped); nil if it cannot be mapped (it is read with pread).
func (ob *openBlock) mapFile() []byte {
	if mf, ok := ob.f.(mapper); ok {
		if m, err := mf.mmap(ob.size); err == nil {
			return m
		}
	}
	return nil
}

// close unmaps and closes the file; no reader uses it any more.
func (ob *openBlock) close() {
	if ob.m != nil {
		syscall.Munmap(ob.m)
		ob.m = nil
	}
	ob.f.Close()
}

// fdCache is a directory's bounded LRU of open block files, keyed by key
// hash. Its invariant: a cached file belongs to the index entry of its
// hash, so every removal of an entry (Delete, eviction, a damaged or
// vanished file) drops the file with it. A dropped file is closed by the
// last reader using it, never under a reader's feet. Not safe for
// concurrent use; dir.mu guards it.
type fdCache struct {
	m      map[keyHash]*openBlock
	root   openBlock // sentinel: root.next is the newest, root.prev the oldest
	max    int
	closed bool // set by Close: nothing is cached any more
}

func newFDCache(max int) *fdCache {
	c := &fdCache{m: make(map[keyHash]*openBlock), max: max}
	c.root.next, c.root.prev = &c.root, &c.root
	return c
}

// acquire returns the open file of h with a reference taken, or nil.
func (c *fdCache) acquire(h keyHash) *openBlock {
	ob := c.m[h]
	if ob == nil {
		return nil
	}
	ob.refs++
	if c.root.next != ob {
		c.unlink(ob)
		c.insertFront(ob)
	}
	return ob
}

// add caches ob, which a reader holds (refs > 0), unless h already has a
// file or the cache is closed; it reports whether ob was cached, and
// returns the file of an evicted entry for the caller to close once the
// lock is released (nil if none).
func (c *fdCache) add(ob *openBlock) (cached bool, evicted *openBlock) {
	if c.closed || c.max <= 0 || c.m[ob.h] != nil {
		return false, nil
	}
	if len(c.m) >= c.max {
		evicted = c.drop(c.root.prev.h)
	}
	ob.cached = true
	c.m[ob.h] = ob
	c.insertFront(ob)
	return true, evicted
}

// drop removes the file of h from the cache. It returns the file to close
// once the lock is released, or nil if there is none or a reader still
// uses it (the last one closes it).
func (c *fdCache) drop(h keyHash) *openBlock {
	ob := c.m[h]
	if ob == nil {
		return nil
	}
	delete(c.m, h)
	c.unlink(ob)
	ob.cached = false
	if ob.refs > 0 {
		return nil
	}
	return ob
}

// release gives back a reference taken by acquire (or held since the
// file was opened). It returns the file to close once the lock is
// released, or nil.
func (c *fdCache) release(ob *openBlock) *openBlock {
	ob.refs--
	if ob.refs > 0 || ob.cached {
		return nil
	}
	return ob
}

// closeAll drops every file and stops caching; it returns the files to
// close (those no reader uses).
func (c *fdCache) closeAll() []*openBlock {
	c.closed = true
	var obs []*openBlock
	for h := range c.m {
		if ob := c.drop(h); ob != nil {
			obs = append(obs, ob)
		}
	}
	return obs
}

func (c *fdCache) len() int { return len(c.m) }

func (c *fdCache) unlink(ob *openBlock) {
	ob.prev.next = ob.next
	ob.next.prev = ob.prev
	ob.prev, ob.next = nil, nil
}

func (c *fdCache) insertFront(ob *openBlock) {
	ob.prev = &c.root
	ob.next = c.root.next
	c.root.next.prev = ob
	c.root.next = ob
}

// removeLocked removes e from d's index and drops its open file. It
// returns the file to close once d.mu is released, or nil. d.mu is held.
func (d *dir) removeLocked(e *entry) *openBlock {
	d.idx.remove(e)
	return d.fds.drop(e.hash)
}

// closeFiles closes files dropped under d.mu, after it is released.
func closeFiles(obs ...*openBlock) {
	for _, ob := range obs {
		if ob != nil {
			ob.close()
		}
	}
}
