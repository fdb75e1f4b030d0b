// Package cache serves byte ranges of object versions block by block,
// through the cache tiers, the peers and the origin.
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
// One function owns a block's lookup, in the shape of groupcache's load:
// the tiers in order, fastest first; then the [Peers] hook (where a peer
// ring plugs in); then the origin, with a ranged read pinned to the
// version, resuming at the last byte a peer delivered. A hit in a lower
// tier fills the tiers above it (each may still decline it: admission); a
// block from a peer or the origin fills every tier. Every way a block is
// loaded goes through it: [Blocks.ReadAt] (a reader's miss), [Blocks.Load]
// (readahead, holding a [Handle]) and [Blocks.Ensure] (warmup). Whether a
// load waits for the memory budget or is skipped when it is short is an
// option of that one entry ([LoadOptions].Reserve), not of which method
// was called.
//
// A reader's read of a block asks the first tier with a real read (a hit
// is one copy); planning asks [Blocks.Cached], which uses the tiers'
// Contains: no read, no statistics, no change of recency. So a hit is
// counted once per block a reader reads, and never for a probe.
//
// # One load per block, readable as it arrives
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
// Loads are reference-counted. A [Handle] holds a reference, and so does a
// reader while it waits and copies. The block's bytes stay reserved from
// Config.Budget while any reference holds them. A load that only handles
// hold (readahead) is cancelled when the last of them is released before
// it ends: nobody wants the block any more. A load a reader asked bytes
// of, or a warmup, runs to its end so that the block is cached.
//
// # Sparse reads and extents
//
// A read with [ReadOptions].Sparse fetches only the bytes asked for on a
// miss, so small random reads are not amplified into whole blocks, and
// keeps them as an extent: stored in the tiers under a key of its own and
// indexed in memory by block (see extents.go for why exact ranges). A
// second read of the same bytes is a hit. A sparse miss keeps the lookup
// chain's order: the tiers, the extents, then the peers, if their hook is
// a [CachedFetcher] — each block's part is asked of the block's owner,
// which answers only from its own tiers ([Blocks.ReadCached]), never
// loading for it — then the origin for what they did not give. A sparse
// read starts no load (it waits for one already running, found before
// any of these); bytes from a peer count as served from peers and are
// kept as extents too. Open's first bytes enter the
// cache the same way ([Blocks.Keep]), and a load of block 0 starts from
// them. The prefetch layer chooses sparse or whole from the access
// pattern.
//
// # Statistics
//
// [Stats] counts, per tier, the lookups it served and missed, the blocks
// promoted into it, and the bytes served from it to readers; the bytes
// served from peers and the origin; and the origin fetches. The requests
// the store itself sent, retries and resumes included, are counted by the
// store ([objstore.RequestCounter]).
//
// # Ownership
//
// Blocks owns neither the store nor the tiers: Close waits for the loads
// in flight and leaves them open for their owner to close.
package cache
