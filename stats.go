package tierfs

import (
	"github.com/tierfs/tierfs/cache"
	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/peer"
	"github.com/tierfs/tierfs/prefetch"
	"github.com/tierfs/tierfs/tier"
)

// Stats are an FS's counters since it was made.
type Stats struct {
	// Requests counts the requests sent to the store since the FS was
	// made, by kind (GET, HEAD, LIST, PUT, DELETE, other), and the bytes
	// they carried, as the store's service saw them: retries, resumes and
	// the first bytes Open fetches included (see objstore.RequestStats).
	// For a store shared with other users (New), their requests count
	// too. RequestsCounted is false when the store does not count its
	// requests (it does not implement objstore.RequestCounter); all the
	// backends of this module do.
	Requests        objstore.RequestStats
	RequestsCounted bool
	// Tiers are the cache tiers, fastest first: the cache's lookups of
	// blocks in each (hits, misses, promotions into it, bytes served from
	// it to readers) and the tier's own counters.
	Tiers []TierStats
	// PeerBytesServed and OriginBytesServed count the bytes served to
	// readers that came from peers and from the origin; with each
	// tier's BytesServed, they sum to the bytes readers were given from
	// the cache. Bytes Open fetched are served from the tier that keeps
	// them, or from the origin when ReadFile returns them as they came.
	PeerBytesServed, OriginBytesServed int64
	// OriginFetches counts the ranged reads the cache asked the store for
	// (a block, or the bytes of a sparse read), also those of loads
	// cancelled before their request went out (Requests counts what
	// reached the store); OriginErrors those that failed.
	OriginFetches, OriginErrors int64
	// Loads counts block loads started; SharedFetches counts reads that
	// joined a load another had started instead of fetching again;
	// CancelledLoads counts loads stopped because nobody wanted them any
	// more.
	Loads, SharedFetches, CancelledLoads int64
	// LoadsInFlight is the number of block loads running now.
	LoadsInFlight int64
	// AdmitDeferred counts blocks a sequential stream loaded that the
	// memory tier was not offered, since they had not been loaded before:
	// the blocks of an object over an eighth of the memory tier enter it
	// on a second pass (a disk tier keeps them from the first), so a
	// one-shot read of a large object neither flushes the memory tier nor
	// holds the object.
	AdmitDeferred int64
	// BuffersMade counts the block buffers the cache allocated for
	// loads; BuffersReused the loads that took the buffer of an earlier
	// load whose block no tier kept (a block streamed once, or one the
	// disk tier has written), so steady-state streaming allocates next
	// to nothing. A block the memory tier keeps keeps its buffer.
	BuffersMade, BuffersReused int64
	// PromotionsDropped counts blocks found in a lower tier whose copy to
	// the tiers above was skipped because too many were queued; they are
	// promoted on a later read.
	PromotionsDropped int64
	// ExtentHits counts reads served from a cached extent (bytes smaller
	// than a block that a sparse read or an open fetched); Extents is how
	// many are indexed now.
	ExtentHits, Extents int64
	// MetaLookups counts name lookups; MetaHits those the metadata cache
	// answered without asking the store.
	MetaLookups, MetaHits int64
	// Prefetch holds the readahead counters: blocks fetched ahead, streams
	// reset, reads served in random mode, the memory budget's use.
	Prefetch prefetch.Stats
	// Peers holds the peer ring's counters (WithPeers; zero without):
	// members, the view's hash, blocks and bytes fetched from peers and
	// served to them, fallbacks by cause, rejected requests, peers
	// penalized.
	Peers peer.Stats
}

// TierStats are one tier's figures: the cache's view of it (a lookup is
// one read of one block, or one load; see cache.TierStats) and the tier's
// own counters (tier.Stats: its ReadAt calls, blocks held, evictions,
// drops, corruption).
type TierStats struct {
	cache.TierStats
	Tier tier.Stats
}

// Stats returns the FS's counters.
func (fsys *FS) Stats() Stats {
	cs := fsys.blocks.Stats()
	s := Stats{
		PeerBytesServed: cs.PeerBytesServed, OriginBytesServed: cs.OriginBytesServed,
		OriginFetches: cs.OriginFetches, OriginErrors: cs.OriginErrors,
		Loads: cs.Loads, SharedFetches: cs.Shared, CancelledLoads: cs.Cancelled, PromotionsDropped: cs.PromotionsDropped, AdmitDeferred: cs.AdmitDeferred, BuffersMade: cs.BuffersMade, BuffersReused: cs.BuffersReused, LoadsInFlight: cs.LoadsInFlight,
		ExtentHits: cs.ExtentHits, Extents: cs.Extents,
		MetaLookups: fsys.metaLookups.Load(), MetaHits: fsys.metaHits.Load(),
		Prefetch: fsys.pf.Stats(),
	}
	if fsys.peer != nil {
		s.Peers = fsys.peer.Stats()
	}
	if rc, ok := fsys.store.(objstore.RequestCounter); ok {
		s.Requests, s.RequestsCounted = rc.RequestStats().Sub(fsys.reqBase), true
	}
	for i, t := range fsys.tiers {
		s.Tiers = append(s.Tiers, TierStats{TierStats: cs.Tiers[i], Tier: t.Stats()})
	}
	return s
}
