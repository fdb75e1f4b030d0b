package cache

import "sync/atomic"

const maxTiers = 4

// Stats are the counters of a Blocks since it was made.
type Stats struct {
	// TierHits counts block reads served by each tier, fastest first.
	TierHits []int64
	// OriginGets is the number of ranged GETs sent to the origin.
	OriginGets int64
	// OriginBytes is the number of bytes received from the origin.
	OriginBytes int64
	// OriginErrors counts origin fetches that failed.
	OriginErrors int64
	// Shared counts callers that waited on a fetch another caller started.
	Shared int64
}

type counters struct {
	tierHits     [maxTiers]atomic.Int64
	originGets   atomic.Int64
	originBytes  atomic.Int64
	originErrors atomic.Int64
	shared       atomic.Int64
}

// Stats returns the counters.
func (b *Blocks) Stats() Stats {
	s := Stats{
		TierHits:     make([]int64, len(b.tiers)),
		OriginGets:   b.stats.originGets.Load(),
		OriginBytes:  b.stats.originBytes.Load(),
		OriginErrors: b.stats.originErrors.Load(),
		Shared:       b.stats.shared.Load(),
	}
	for i := range s.TierHits {
		s.TierHits[i] = b.stats.tierHits[min(i, maxTiers-1)].Load()
	}
	return s
}
