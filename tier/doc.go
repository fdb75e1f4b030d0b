// Package tier defines the cache tiers that hold blocks: the [Tier]
// interface, its [Stats], the [ErrMiss] sentinel, and [DiskConfig]. A
// tier reads blocks (ReadAt, a hit or a miss, counted, and a use of the
// block for its eviction policy), stores and deletes them (Put, Delete),
// and answers whether it holds one without reading it or counting
// anything (Contains: no hit, no miss, no access for TinyLFU, no move up
// an LRU), so that a cache can ask every tier before it reads any.
//
// Two abilities are optional, found by type assertion as io/fs finds
// fs.StatFS: a [Releaser] gives back the buffers it is given once it has
// stored their bytes elsewhere (the disk tier), so the caller can reuse
// them; a [Mover] gives a block another key without copying its bytes
// (both tiers), which the writer of a file uses at Close to move the
// blocks it wrote under a provisional key to the version the store made.
// A Move that fails says whether the tier held the block (an error
// wrapping [ErrMiss] if not), and the caller falls back to reading the
// block and putting it under the new key.
//
// The tiers themselves are in tier/memory (ristretto, cost = bytes) and
// tier/disk (files over several directories with a quota, watermarks,
// per-block checksums and a warm restart); tier/tiertest is the
// conformance suite both pass, Move included.
//
// A tier knows nothing of objects, peers or prefetch: it stores immutable
// blocks under opaque keys that the cache package makes.
package tier
