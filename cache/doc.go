// Package cache serves byte ranges of object versions block by block,
// through the cache tiers and the origin.
//
// # Blocks and keys
//
// An object is cut into blocks of Config.BlockSize (the last one short).
// A block's key ([Key]) names the store, the object key, its version (ETag
// and version id), the block size and the index, length-prefixed so that no
// two blocks share a key. A block of one version is therefore never found
// under another version's key: a hit cannot tear a read.
//
// # The lookup chain
//
// [Blocks.ReadAt] reads the requested range straight from the first tier
// (memory). On a miss it loads the whole block: from a lower tier (disk),
// which then fills the tiers above it, or from the origin with a ranged
// read pinned to the version, which fills every tier. Peers will slot in
// between the disk tier and the origin.
//
// # One fetch per block
//
// Concurrent misses of one block share one load (golang.org/x/sync/
// singleflight). The load runs detached from its callers' contexts
// (context.WithoutCancel) under Config.FetchTimeout, so a caller that gives
// up, or panics, does not fail the others; each caller still stops waiting
// when its own context ends. A panic inside the load becomes an error for
// every waiter, never a hang.
//
// # Ownership
//
// Blocks owns neither the store nor the tiers: Close waits for the loads
// in flight and leaves them open for their owner to close.
package cache
