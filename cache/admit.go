package cache

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// Streamed once: a block a sequential stream loads (LoadOptions.Once) of
// an object of at least Config.OnceMinSize bytes (the FS sets an eighth of
// the memory tier) is kept by the memory tiers (the first
// Config.OnceTiers) only when it was loaded before, so a one-shot scan of
// a large object, such as a model a process loads once at start, neither
// flushes the memory tier nor holds the object: the lower tiers (disk)
// keep it as always, and a second pass finds it there, or, without a disk
// tier, fetches it again and then keeps it. Smaller objects are kept at
// once, subject to the tier's own admission (TinyLFU in the memory tier). A block this member of a peer ring owns is kept at once: the ring
// will ask for it. This is the doorkeeper of TinyLFU-style admission, applied before the
// tier's own: a key must have been seen once to be admitted.

// seenSlots is the size of the doorkeeper: direct-mapped hashes of block
// keys (512 KiB), enough for 64 Ki blocks (512 GiB of 8 MiB blocks); a
// collision only forgets a block, which is then admitted a pass later.
const seenSlots = 1 << 16

type doorkeeper struct {
	seed  maphash.Seed
	slots [seenSlots]atomic.Uint64
}

func newDoorkeeper() *doorkeeper { return &doorkeeper{seed: maphash.MakeSeed()} }

// seen reports whether key was offered before, and records it.
func (d *doorkeeper) seen(key string) bool {
	h := maphash.String(d.seed, key) | 1 // 0 marks an empty slot
	slot := &d.slots[h%seenSlots]
	return slot.Swap(h) == h
}

// Block buffers of full blocks are reused: a load whose block no tier
// kept gives its buffer back when it has ended, nobody holds it and no
// tier still reads it (a disk tier, a tier.Releaser, says when it has
// written it), so steady-state streaming allocates next to nothing and
// touches memory already mapped (fresh memory faults page by page, which
// costs more than the copy). Only a block the memory tier keeps is not
// reused: it goes to the garbage collector when evicted.
type bufferPool struct {
	size         int64
	pool         sync.Pool
	made, reused atomic.Int64
}

func (p *bufferPool) get(n int64) []byte {
	if n == p.size {
		if b, ok := p.pool.Get().(*[]byte); ok {
			p.reused.Add(1)
			return *b
		}
	}
	p.made.Add(1)
	b := make([]byte, n)
	if n == p.size {
		adviseHuge(b) // a buffer kept for reuse: worth huge pages
	}
	return b
}

func (p *bufferPool) put(b []byte) {
	if int64(cap(b)) == p.size {
		b = b[:p.size]
		p.pool.Put(&b)
	}
}
