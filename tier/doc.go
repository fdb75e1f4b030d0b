// Package tier defines the cache tiers that hold blocks: the [Tier]
// interface, its [Stats], the [ErrMiss] sentinel, and [DiskConfig]. The
// tiers themselves are in tier/memory (ristretto, cost = bytes) and
// tier/disk (files over several directories with a quota, watermarks,
// per-block checksums and a warm restart); tier/tiertest is the
// conformance suite both pass.
//
// A tier knows nothing of objects, peers or prefetch: it stores immutable
// blocks under opaque keys that the cache package makes.
package tier
