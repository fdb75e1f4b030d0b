package memory

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/ristretto/v2"
	"github.com/dgraph-io/ristretto/v2/z"

	"github.com/tierfs/tierfs/tier"
)

// Defaults for the zero fields of [Config].
const (
	// DefaultExpectedBlockSize is the block size NumCounters is sized for
	// when Config.ExpectedBlockSize is zero: the cache's default block.
	DefaultExpectedBlockSize = 4 << 20
	// DefaultBufferItems is ristretto's recommended Get buffer size.
	DefaultBufferItems = 64
	// MinNumCounters is the least number of frequency counters the
	// default NumCounters gives (about 3 bytes each).
	MinNumCounters = 1024
)

// EntryOverhead is the memory, in bytes, that one stored block costs
// besides its data array and its key's bytes: the entry struct (64 B
// size class), ristretto's store slot (a 48 B storeItem and its 8 B map
// key), its policy slot (a map[uint64]int64 entry) and the slot of the
// tier's own index (a map[string]*entry entry, 24 B; it is what Contains
// reads), each in a Swiss table that may be half empty after growing.
// TestEntryOverhead measures 207–290 B a block on amd64 with Go 1.26, the
// most just after the maps have doubled; a sweep from 1,000 to 1,070,000
// blocks peaked at 294 B. The index slot is 35–60 B of that (without it:
// 172–236 B). This bound is charged against MaxBytes for every block,
// with cap(data) and len(key).
const EntryOverhead = 320

// Config configures a memory tier. The zero value of each optional field
// means the default given in its comment; a negative value is invalid.
type Config struct {
	// MaxBytes is the budget: the sum of the costs of the blocks held
	// never exceeds it once admission has settled. A block costs
	// cap(data) + len(key) + EntryOverhead. Required, > 0.
	MaxBytes int64
	// ExpectedBlockSize is the typical size of a block, used only to size
	// NumCounters. Zero means DefaultExpectedBlockSize (4 MiB).
	ExpectedBlockSize int64
	// NumCounters is how many access-frequency counters ristretto's
	// TinyLFU keeps (about 3 bytes each, rounded up to a power of two).
	// Zero means 10 × MaxBytes / ExpectedBlockSize (ristretto's advice:
	// ten times the number of items the full cache holds), and at least
	// MinNumCounters.
	NumCounters int64
	// BufferItems is the size of ristretto's striped Get buffers, through
	// which hits reach the frequency sketch. Each full stripe costs one
	// allocation of 8×BufferItems bytes, so a hit allocates 1/BufferItems
	// times on average. Zero means DefaultBufferItems (64).
	BufferItems int64
}

// DefaultConfig returns a config with a budget of maxBytes and every
// default filled in.
func DefaultConfig(maxBytes int64) Config {
	c := Config{MaxBytes: maxBytes}
	c.fill()
	return c
}

func (c *Config) fill() {
	if c.ExpectedBlockSize == 0 {
		c.ExpectedBlockSize = DefaultExpectedBlockSize
	}
	if c.NumCounters == 0 && c.ExpectedBlockSize > 0 {
		c.NumCounters = max(10*(c.MaxBytes/c.ExpectedBlockSize), MinNumCounters)
	}
	if c.BufferItems == 0 {
		c.BufferItems = DefaultBufferItems
	}
}

func (c Config) validate() error {
	switch {
	case c.MaxBytes <= 0:
		return fmt.Errorf("tier: memory: MaxBytes %d must be > 0: %w", c.MaxBytes, fs.ErrInvalid)
	case c.ExpectedBlockSize < 0:
		return fmt.Errorf("tier: memory: ExpectedBlockSize %d must be ≥ 0: %w", c.ExpectedBlockSize, fs.ErrInvalid)
	case c.NumCounters < 0:
		return fmt.Errorf("tier: memory: NumCounters %d must be ≥ 0: %w", c.NumCounters, fs.ErrInvalid)
	case c.BufferItems < 0:
		return fmt.Errorf("tier: memory: BufferItems %d must be ≥ 0: %w", c.BufferItems, fs.ErrInvalid)
	}
	return nil
}

// Tier is a memory tier: blocks held in the Go heap by a ristretto cache
// whose cost is bytes. All methods are safe for concurrent use.
type Tier struct {
	maxBytes int64

	// mu guards the lifetime of c: every call into c holds mu.RLock and
	// first checks closed; Close holds mu.Lock. ristretto's Close is not
	// safe against a concurrent Set, Del, Get or Wait (it closes the
	// channels they send on).
	mu     sync.RWMutex
	closed bool
	c      *ristretto.Cache[string, *entry]

	// closing is set just before c.Close, so that the blocks its Clear
	// drops are not counted as evictions.
	closing atomic.Bool

	// entries is the tier's own index: every entry from Put until it is
	// gone, whether it waits in ristretto's buffer, is being decided, or
	// is held in ristretto's store. It serves two purposes:
	//   - A block is readable from the moment Put returns instead of only
	//     after ristretto's goroutine gets to it (a reader arriving in
	//     between would otherwise fetch it again): a read that misses in
	//     ristretto looks here.
	//   - Contains answers from it alone, so that it records no access:
	//     ristretto's Get feeds the frequency sketch, and its GetTTL, which
	//     does not, knows only the key's hash and would say yes for a
	//     key that collides with a held one.
	// An entry leaves when ristretto rejects, evicts or deletes it (the
	// callbacks), on Delete, and on Close. Its slot costs memory, counted
	// in EntryOverhead. emu is taken after mu, never held across a call
	// into c (Del may block on ristretto's buffer, whose goroutine takes
	// emu in the callbacks).
	emu     sync.RWMutex // guards entries
	entries map[string]*entry

	// Counters. Hits and misses are hot; the rest change on Put and in
	// ristretto's callbacks. Each has a cache line to itself.
	hits, misses, collisions paddedInt
	offered                  paddedInt // entries whose cost ristretto took (admission attempted)
	rejected                 paddedInt // of those, rejected by the policy
	putDrops                 paddedInt // Put calls dropped before ristretto's policy saw them
	evictions                paddedInt
	bytes, blocks            paddedInt
}

type paddedInt struct {
	atomic.Int64
	_ [56]byte
}

// entry is the value stored in ristretto. ristretto keeps only a hash of
// the key, so the key is stored here and compared on every lookup: a hash
// collision is a miss, never another block's bytes.
type entry struct {
	key   string
	data  []byte
	cost  int64
	moved bool // stored by Move: its admission is not a Put, its rejection an eviction
	// state is queued until ristretto's policy takes the entry's cost,
	// held from then, and gone once it has been rejected, evicted or
	// deleted. Only the transition out of held changes the counters, so
	// each entry is counted once whichever callback sees it last.
	state atomic.Int32
}

const (
	queued int32 = iota
	held
	gone
)

var (
	errMiss   = fmt.Errorf("tier: memory: %w", tier.ErrMiss)
	errClosed = fmt.Errorf("tier: memory: %w", fs.ErrClosed)
)

var (
	_ tier.Tier  = (*Tier)(nil)
	_ tier.Mover = (*Tier)(nil)
)

// New returns a memory tier configured by cfg. It starts ristretto's two
// goroutines; Close stops them.
func New(cfg Config) (*Tier, error) {
	return newTier(cfg, keyHash, false)
}

// keyHash is the key hash ristretto indexes by. The conflict hash is 0 on
// purpose: the entry holds the whole key, which is compared on every
// lookup, and with a conflict hash ristretto's policy (which knows only
// the first hash) and its store (which checks both) can disagree: a Del
// of a key whose first hash equals a held key's would drop the held key
// from the policy's accounting while the store keeps its bytes.
func keyHash(key string) (uint64, uint64) { return z.MemHashString(key), 0 }

// newTier is New with the key hash given and, if metrics, ristretto's
// metrics on (they slow every Get; tests use them to count the lookups
// that reach ristretto).
func newTier(cfg Config, hash func(string) (uint64, uint64), metrics bool) (*Tier, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.fill()
	t := &Tier{maxBytes: cfg.MaxBytes, entries: make(map[string]*entry)}
	c, err := ristretto.NewCache(&ristretto.Config[string, *entry]{
		NumCounters: cfg.NumCounters,
		MaxCost:     cfg.MaxBytes,
		BufferItems: cfg.BufferItems,
		KeyToHash:   hash,
		Metrics:     metrics,
		// Our cost already counts the store slot (EntryOverhead).
		IgnoreInternalCost: true,
		// Put passes cost 0, so ristretto calls Cost in its single
		// processing goroutine right before the policy decides. That is
		// the only admission hook ristretto has.
		Cost:     t.onCost,
		OnReject: t.onReject,
		OnEvict:  t.onEvict,
		OnExit:   t.onExit,
		// Blocks are immutable: never replace a held entry. A Put of a
		// key already held (or of a colliding key) goes to the policy as
		// new, which rejects it because the hash is present.
		ShouldUpdate: func(cur, prev *entry) bool { return false },
	})
	if err != nil {
		return nil, fmt.Errorf("tier: memory: %w: %w", fs.ErrInvalid, err)
	}
	t.c = c
	return t, nil
}

// The callbacks run on ristretto's processing goroutine, one at a time,
// except onExit, which Del also calls on the caller's goroutine.

// forget removes e from the index if it is there (and not a later Put's
// entry for the same key).
func (t *Tier) forget(e *entry) {
	if e == nil {
		return
	}
	t.emu.Lock()
	if t.entries[e.key] == e {
		delete(t.entries, e.key)
	}
	t.emu.Unlock()
}

func (t *Tier) onCost(e *entry) int64 {
	e.state.Store(held)
	if !e.moved {
		t.offered.Add(1)
	}
	t.blocks.Add(1)
	t.bytes.Add(e.cost)
	return e.cost
}

func (t *Tier) onReject(it *ristretto.Item[*entry]) {
	t.forget(it.Value)
	if e := it.Value; e != nil && e.state.CompareAndSwap(held, gone) {
		if e.moved {
			// The tier held the block under another key and lost it
			// for want of room.
			t.evictions.Add(1)
		} else {
			t.rejected.Add(1)
		}
		t.release(e)
	}
}

func (t *Tier) onEvict(it *ristretto.Item[*entry]) {
	// A victim already deleted by Del has a nil Value: not an eviction.
	t.forget(it.Value)
	if e := it.Value; e != nil && e.state.CompareAndSwap(held, gone) {
		if !t.closing.Load() {
			t.evictions.Add(1)
		}
		t.release(e)
	}
}

func (t *Tier) onExit(e *entry) {
	t.forget(e)
	if e != nil && e.state.CompareAndSwap(held, gone) {
		t.release(e)
	}
}

func (t *Tier) release(e *entry) {
	t.blocks.Add(-1)
	t.bytes.Add(-e.cost)
}

// ReadAt copies bytes of the block under key, from off, into p. A hit
// allocates nothing (but see Config.BufferItems). ctx is not consulted:
// a hit is one copy from memory.
func (t *Tier) ReadAt(ctx context.Context, key string, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("tier: memory: read %q at offset %d: %w", key, off, fs.ErrInvalid)
	}
	t.mu.RLock()
	if t.closed {
		t.mu.RUnlock()
		return 0, errClosed
	}
	e, ok := t.c.Get(key)
	t.mu.RUnlock()
	if ok && e.key != key {
		t.collisions.Add(1)
		ok = false
	}
	if !ok {
		// Not in ristretto's store (yet): a Put not yet admitted.
		e, ok = t.lookup(key)
	}
	if !ok {
		t.misses.Add(1)
		return 0, errMiss
	}
	t.hits.Add(1)
	if off >= int64(len(e.data)) {
		return 0, io.EOF
	}
	n := copy(p, e.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// lookup returns the entry for key from the tier's index, if it is there
// and not gone.
func (t *Tier) lookup(key string) (*entry, bool) {
	t.emu.RLock()
	e, ok := t.entries[key]
	t.emu.RUnlock()
	if !ok || e.state.Load() == gone {
		return nil, false
	}
	return e, true
}

// Contains reports whether the tier holds the block for key now: stored,
// or put and still waiting for ristretto's admission (a ReadAt serves
// both). It answers from the tier's own index of entries and never calls
// into ristretto, so it records no access in the frequency sketch (nor
// in Stats): a block asked about a thousand times is no likelier to be
// admitted or kept than one never asked about. It allocates nothing and
// takes one read lock. False after Close.
func (t *Tier) Contains(key string) bool {
	_, ok := t.lookup(key)
	return ok
}

// Put offers data as the block for key and keeps data itself (it pins
// the array behind data, and is charged cap(data)). It never blocks:
// ristretto admits asynchronously, so the block may be readable only
// after Wait, or never (buffer full, rejected by TinyLFU, bigger than
// MaxBytes), which counts in Stats.Dropped. A key already held is left
// as it is.
func (t *Tier) Put(ctx context.Context, key string, data []byte) error {
	if key == "" {
		return fmt.Errorf("tier: memory: put: empty key: %w", fs.ErrInvalid)
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return errClosed
	}
	cost := int64(cap(data)) + int64(len(key)) + EntryOverhead
	if cost > t.maxBytes {
		t.putDrops.Add(1)
		return nil
	}
	if e, ok := t.c.Get(key); ok && e.key == key {
		return nil
	}
	e := &entry{key: key, data: data, cost: cost}
	t.emu.Lock()
	if _, dup := t.entries[key]; dup {
		t.emu.Unlock()
		return nil
	}
	t.entries[key] = e
	t.emu.Unlock()
	if !t.c.Set(key, e, 0) {
		t.putDrops.Add(1)
		t.forget(e)
	}
	return nil
}

// Delete removes the block for key, if present, and cancels a Put of key
// that is still waiting for admission.
func (t *Tier) Delete(ctx context.Context, key string) error {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return errClosed
	}
	t.emu.Lock()
	delete(t.entries, key)
	t.emu.Unlock()
	if e, ok := t.c.Get(key); ok && e.key != key {
		// Another key with the same hash is held: leave it.
		return nil
	}
	t.c.Del(key)
	return nil
}

// Move implements tier.Mover: the block under from, held or still
// waiting for admission, is stored under to with the same bytes (not
// copied) and the same cost, and leaves from; a block under to is
// replaced. It does not wait: as with Put, ristretto admits the block
// under to asynchronously, and it is readable at once meanwhile. From and
// to's old block leave ristretto before the moved block arrives, so its
// policy has from's room for it (the same cost, which counts from's key
// length) and admits it unless other blocks took that room in between.
// A moved block that is refused counts in Stats.Evictions (the tier held
// it and lost it for room); otherwise Move counts nothing: no hit, miss
// or Put. Move fails with an error wrapping tier.ErrMiss if the tier does
// not hold from; with one wrapping errors.ErrUnsupported, and nothing
// changed, if another held key shares to's hash (ristretto holds one
// block per hash, and Put could not store to either); and with a plain
// error if ristretto's buffer is full, after which neither key holds the
// block (counted in Stats.Dropped). ctx is not consulted.
func (t *Tier) Move(ctx context.Context, from, to string) error {
	if from == "" || to == "" {
		return fmt.Errorf("tier: memory: move: empty key: %w", fs.ErrInvalid)
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.closed {
		return errClosed
	}
	if from == to {
		if _, ok := t.lookup(from); ok {
			return nil
		}
		return errMiss
	}
	if cur, ok := t.c.Get(to); ok && cur.key != to {
		return fmt.Errorf("tier: memory: move: another held block shares the new key's hash: %w", errors.ErrUnsupported)
	}
	t.emu.Lock()
	e, ok := t.entries[from]
	if !ok || e.state.Load() == gone {
		t.emu.Unlock()
		return errMiss
	}
	m := &entry{key: to, data: e.data, cost: e.cost, moved: true}
	delete(t.entries, from)
	t.entries[to] = m
	t.emu.Unlock()
	// Not under emu: Del may wait for ristretto's goroutine, which takes
	// emu in the callbacks.
	t.c.Del(from)
	t.c.Del(to)
	if !t.c.Set(to, m, 0) {
		t.forget(m)
		t.putDrops.Add(1)
		return fmt.Errorf("tier: memory: move: ristretto's buffer is full: the block is dropped")
	}
	return nil
}

// Wait blocks until every Put and Delete made before it has been through
// ristretto's admission: after Wait, an admitted block is readable and
// Stats are exact. It is for tests and for callers that must know; Put
// itself never waits. Wait after Close returns at once.
func (t *Tier) Wait() {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if !t.closed {
		t.c.Wait()
	}
}

// Name returns "memory", the tier's name in the cache's statistics.
func (t *Tier) Name() string { return "memory" }

// Stats returns the tier's counters. Puts, Dropped, Bytes and Blocks are
// exact once Wait returns; in between, a block whose admission is being
// decided counts as stored until the policy rejects it.
func (t *Tier) Stats() tier.Stats {
	offered, rejected := t.offered.Load(), t.rejected.Load()
	return tier.Stats{
		Hits:      t.hits.Load(),
		Misses:    t.misses.Load(),
		Puts:      offered - rejected,
		Dropped:   t.putDrops.Load() + rejected,
		Evictions: t.evictions.Load(),
		Bytes:     t.bytes.Load(),
		Blocks:    t.blocks.Load(),
		Capacity:  t.maxBytes,
	}
}

// Close drops every block and stops ristretto's goroutines. It is
// idempotent; later calls other than Stats and Wait fail with an error
// wrapping fs.ErrClosed.
func (t *Tier) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	t.closing.Store(true)
	t.c.Close()
	t.emu.Lock()
	clear(t.entries)
	t.emu.Unlock()
	return nil
}
