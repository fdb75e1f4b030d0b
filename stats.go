package tierfs

import (
	"github.com/tierfs/tierfs/prefetch"
	"github.com/tierfs/tierfs/tier"
)

// Stats are an FS's counters since it was made.
type Stats struct {
	// OriginGets and OriginBytes count the ranged reads sent to the store
	// and the bytes they brought.
	OriginGets, OriginBytes int64
	// OriginErrors counts block fetches from the store that failed.
	OriginErrors int64
	// SharedFetches counts reads that waited on a fetch another read had
	// started, instead of fetching again.
	SharedFetches int64
	// Tiers holds each tier's own counters, fastest first, with the hits
	// the cache served from it in TierHits.
	Tiers    []tier.Stats
	TierHits []int64
	// MetaLookups counts name lookups; MetaHits those the metadata cache
	// answered without asking the store.
	MetaLookups, MetaHits int64
	// Prefetch holds the readahead counters: blocks fetched ahead, streams
	// reset, reads served in random mode, the memory budget's use.
	Prefetch prefetch.Stats
}

// Stats returns the FS's counters.
func (fsys *FS) Stats() Stats {
	cs := fsys.blocks.Stats()
	s := Stats{
		OriginGets: cs.OriginGets, OriginBytes: cs.OriginBytes, OriginErrors: cs.OriginErrors,
		SharedFetches: cs.Shared, TierHits: cs.TierHits,
		MetaLookups: fsys.metaLookups.Load(), MetaHits: fsys.metaHits.Load(),
		Prefetch: fsys.pf.Stats(),
	}
	for _, t := range fsys.tiers {
		s.Tiers = append(s.Tiers, t.Stats())
	}
	return s
}
