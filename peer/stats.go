package peer

import "sync/atomic"

const (
	causeError = iota
	causeStall
	causeCorrupt
	causeBusy
	causePenalized
	causeGaveUp
	numCauses
)

type counters struct {
	fetches, bytesFetched, served, bytesServed, rejected, refused, penalized atomic.Int64
	originFallbacks, fallbackWaits                                           atomic.Int64
	cachedFetches, cachedHits, cachedBytesFetched                            atomic.Int64
	cachedServed, cachedMissed, cachedBytesServed                            atomic.Int64
	fallbacks                                                                [numCauses]atomic.Int64
}

// Stats are a member's counters since it was made.
type Stats struct {
	// Members is how many members share this one's store and block size,
	// itself included; ViewHash digests their names (members with equal
	// hashes see the same ring).
	Members  int
	ViewHash uint64
	// Fetches counts requests for a block sent to peers; BytesFetched the
	// verified bytes they returned.
	Fetches, BytesFetched int64
	// Served counts block requests this member answered with bytes;
	// BytesServed the bytes it sent.
	Served, BytesServed int64
	// CachedFetches counts cached-only requests sent to owners for the
	// bytes of a sparse read (see Member.FetchCached); CachedHits those
	// answered with all the bytes; CachedBytesFetched the verified bytes
	// they returned. The others went to the origin.
	CachedFetches, CachedHits, CachedBytesFetched int64
	// CachedServed counts cached-only requests this member answered with
	// bytes from its tiers; CachedMissed those it answered 404, not
	// holding the bytes; CachedBytesServed the bytes it sent them.
	CachedServed, CachedMissed, CachedBytesServed int64
	// Fallbacks counts peers given up on, by cause, in block and
	// cached-only fetches.
	Fallbacks Fallbacks
	// OriginFallbacks counts block loads that went on to the origin
	// because an owner other than this member failed or was in the
	// penalty box; FallbackWaits those of them that waited for a slot
	// (Config.MaxFallbacks were running).
	OriginFallbacks, FallbackWaits int64
	// Rejected counts requests refused as unsigned, forged, stale or
	// replayed (401, no body); Refused those refused because the block's
	// load here waits on a peer (409) or too many were being served (503).
	Rejected, Refused int64
	// Penalized counts peers put in the penalty box.
	Penalized int64
}

// Fallbacks counts the times a fetch moved on from a peer, by cause.
type Fallbacks struct {
	Error     int64 // the request or the response failed
	Stall     int64 // no verified frame within StallTimeout, or FetchTimeout passed
	Corrupt   int64 // a frame failed its CRC32C or its tag
	Busy      int64 // the owner refused (409, 503) or its origin failed (502)
	Penalized int64 // the owner was skipped: it is in the penalty box
	// GaveUp: a member asked this one for the block as its secondary,
	// having given up on the owner, and this one gave up on it too.
	GaveUp int64
}

// Stats returns the member's counters.
func (m *Member) Stats() Stats {
	v := m.View()
	c := &m.stats
	return Stats{
		Members: len(v.Nodes), ViewHash: v.Hash(),
		Fetches: c.fetches.Load(), BytesFetched: c.bytesFetched.Load(),
		Served: c.served.Load(), BytesServed: c.bytesServed.Load(),
		CachedFetches: c.cachedFetches.Load(), CachedHits: c.cachedHits.Load(), CachedBytesFetched: c.cachedBytesFetched.Load(),
		CachedServed: c.cachedServed.Load(), CachedMissed: c.cachedMissed.Load(), CachedBytesServed: c.cachedBytesServed.Load(),
		Fallbacks: Fallbacks{
			Error: c.fallbacks[causeError].Load(), Stall: c.fallbacks[causeStall].Load(),
			Corrupt: c.fallbacks[causeCorrupt].Load(), Busy: c.fallbacks[causeBusy].Load(),
			Penalized: c.fallbacks[causePenalized].Load(), GaveUp: c.fallbacks[causeGaveUp].Load(),
		},
		OriginFallbacks: c.originFallbacks.Load(), FallbackWaits: c.fallbackWaits.Load(),
		Rejected: c.rejected.Load(), Refused: c.refused.Load(), Penalized: c.penalized.Load(),
	}
}
