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
// # One fetch per block, readable as it arrives
//
// Concurrent misses of one block share one load. The load runs on its own
// goroutine, detached from its callers' contexts (context.WithoutCancel)
// under Config.FetchTimeout, so a caller that gives up does not fail the
// others; each caller still stops waiting when its own context ends, and
// Close cancels the loads. A panic inside a load becomes an error for every
// waiter, never a hang. A load's bytes are readable as they arrive: a
// reader waiting for the first kilobytes of a block gets them after one
// round trip, not after the whole block.
//
// # Random reads
//
// [Blocks.ReadAtMode] with [Partial] serves a miss by fetching only the
// bytes asked for (aligned to [PartialAlign]) unless the block is already
// being loaded, so small random reads are not amplified into whole
// blocks. The prefetch layer chooses the mode from the access pattern.
//
// # Ownership
//
// Blocks owns neither the store nor the tiers: Close waits for the loads
// in flight and leaves them open for their owner to close.
package cache
