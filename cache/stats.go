package cache

import "sync/atomic"

// TierStats are the cache's counts for one tier. A lookup is one reader's
// read of one block, or one load of a block; each asks the tiers in order
// until one serves it. The tier's own tier.Stats count its ReadAt calls;
// these count lookups, including those that skipped the tier because it
// did not hold the block (Contains), which the tier never saw.
type TierStats struct {
	// Name is the tier's name ("memory", "disk", or "tierN").
	Name string
	// Hits counts lookups the tier served: from the block, or from an
	// extent it holds (a sparse read's bytes; a read that an extent
	// serves in part counts a hit for that part, and looks up the rest).
	Hits int64
	// Misses counts lookups that asked the tier and went on.
	Misses int64
	// Promotions counts blocks found in a lower tier and offered to this
	// one (which may still decline them; see its Dropped count).
	// Promotions happen behind the reads that found the block (see the
	// package doc); the tier's own ReadAt count includes their reads.
	Promotions int64
	// BytesServed counts bytes copied from this tier to readers.
	BytesServed int64
}

// Stats are the counters of a Blocks since it was made.
type Stats struct {
	// Tiers are the tiers' counts, fastest first.
	Tiers []TierStats
	// Loads counts block loads started; Shared counts lookups that joined
	// a load another had started instead of starting one; Cancelled
	// counts loads stopped because no holder wanted them any more.
	Loads, Shared, Cancelled int64
	// LoadsInFlight is the number of loads running now, cancelled ones
	// still winding down included.
	LoadsInFlight int64
	// AdmitDeferred counts blocks streamed once (LoadOptions.Once) that
	// the first tier was not offered, since they had not been loaded
	// before.
	AdmitDeferred int64
	// PromotionsDropped counts promotions skipped because the queue of
	// promotions was full; the block is promoted on a later read.
	PromotionsDropped int64
	// BuffersMade counts block buffers allocated for loads, BuffersReused
	// those taken from loads whose blocks no tier kept (see admit.go).
	BuffersMade, BuffersReused int64
	// ExtentHits counts reads served from a cached extent (a range
	// smaller than a block, cached by a sparse read or an open); Extents
	// is how many are indexed now.
	ExtentHits, Extents int64
	// PeerHits counts blocks a peer served whole; PeerErrors the peer
	// fetches (of blocks, or of a sparse read's bytes: CachedFetcher)
	// that failed and went on to the origin, a peer's miss not counted;
	// PeerBytesServed the bytes from peers copied to readers.
	PeerHits, PeerErrors, PeerBytesServed int64
	// OriginFetches counts the ranged reads the cache asked the store for
	// (blocks and sparse ranges); OriginBytes the bytes they brought;
	// OriginErrors those that failed; OriginBytesServed the bytes from
	// the origin copied to readers. The store's own request counts
	// (objstore.RequestCounter) include its retries and resumes.
	OriginFetches, OriginBytes, OriginErrors, OriginBytesServed int64
}

type tierCounters struct {
	hits, misses, promotions atomic.Int64
}

type counters struct {
	tiers             []tierCounters
	served            []atomic.Int64 // by source: tiers, then peer, then origin
	loads, shared     atomic.Int64
	cancelled         atomic.Int64
	running           atomic.Int64 // load goroutines not ended
	admitDeferred     atomic.Int64
	received          atomic.Int64 // block bytes received from the origin so far, as they arrive
	promotionsDropped atomic.Int64
	extentHits        atomic.Int64
	peerHits          atomic.Int64
	peerErrors        atomic.Int64
	originFetches     atomic.Int64
	originBytes       atomic.Int64
	originErrors      atomic.Int64
}

func (c *counters) init(tiers int) {
	c.tiers = make([]tierCounters, tiers)
	c.served = make([]atomic.Int64, tiers+2)
}

// Stats returns the counters.
func (b *Blocks) Stats() Stats {
	c := &b.stats
	s := Stats{
		Loads: c.loads.Load(), Shared: c.shared.Load(), Cancelled: c.cancelled.Load(), PromotionsDropped: c.promotionsDropped.Load(), AdmitDeferred: c.admitDeferred.Load(),
		ExtentHits: c.extentHits.Load(), Extents: int64(b.extents.len()),
		BuffersMade: b.buffers.made.Load(), BuffersReused: b.buffers.reused.Load(),
		PeerHits: c.peerHits.Load(), PeerErrors: c.peerErrors.Load(), PeerBytesServed: c.served[b.srcPeer()].Load(),
		OriginFetches: c.originFetches.Load(), OriginBytes: c.originBytes.Load(), OriginErrors: c.originErrors.Load(),
		OriginBytesServed: c.served[b.srcOrigin()].Load(),
	}
	s.LoadsInFlight = c.running.Load()
	for i := range b.tiers {
		t := &c.tiers[i]
		s.Tiers = append(s.Tiers, TierStats{
			Name: b.names[i], Hits: t.hits.Load(), Misses: t.misses.Load(),
			Promotions: t.promotions.Load(), BytesServed: c.served[i].Load(),
		})
	}
	return s
}

// Received returns the bytes of blocks received from the origin so far,
// counted as they arrive (OriginBytes counts a fetch when it ends): the
// measure readahead tunes its concurrency by.
func (b *Blocks) Received() int64 { return b.stats.received.Load() }
