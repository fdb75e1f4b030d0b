// Package tier defines the cache tiers that hold blocks: the [Tier]
// interface, its [Stats], the [ErrMiss] sentinel, and [DiskConfig]. A
// tier reads blocks (ReadAt, a hit or a miss, counted, and a use of the
// block for its eviction policy), stores and deletes them (Put, Delete),
// and answers whether it holds one without reading it or counting
// anything (Contains: no hit, no miss, no access for TinyLFU, no move up
// an LRU), so that a cache can ask every tier before it reads any. The
// tiers themselves are in tier/memory (ristretto, cost = bytes) and
// tier/disk (files over several directories with a quota, watermarks,
// per-block checksums and a warm restart); tier/tiertest is the
// conformance suite both pass.
//
// A tier knows nothing of objects, peers or prefetch: it stores immutable
// blocks under opaque keys that the cache package makes.
package tier
