package tierfs

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/prometheus/client_golang/prometheus"
)

// WithMetrics exports the FS's Stats as Prometheus metrics, registered
// with reg at New (no global registry is touched) and unregistered at
// Close. Every metric carries a constant label store, the FS's store
// identity (the redacted URL for Open, WithStoreID for New), so FS values
// of different stores register side by side. Two FS values of one store
// on one registry need a label of their own, on every FS of that
// registry (Prometheus wants the same label names on a metric):
// prometheus.WrapRegistererWith(prometheus.Labels{"fs": "train"}, reg).
// A registration that collides is an error wrapping fs.ErrExist.
//
// The metrics are read from Stats when scraped, so they equal its
// figures: the store's requests by kind and bytes on the wire, bytes
// served to readers by source (each tier by name, peer, origin), lookups
// by tier and result, each tier's size and evictions, loads, readahead
// used and abandoned, the memory budget, and the peer ring's counters
// with WithPeers.
func WithMetrics(reg prometheus.Registerer) Option {
	return func(o *options) error {
		if reg == nil {
			return fmt.Errorf("tierfs: %w: WithMetrics(nil)", fs.ErrInvalid)
		}
		o.metrics = reg
		return nil
	}
}

// registerMetrics registers fsys's collector with reg; the returned func
// unregisters it.
func registerMetrics(fsys *FS, reg prometheus.Registerer, store string) (func(), error) {
	c := newCollector(fsys, store)
	if err := reg.Register(c); err != nil {
		if are := (prometheus.AlreadyRegisteredError{}); errors.As(err, &are) {
			return nil, fmt.Errorf("tierfs: metrics of store %q already registered (wrap the Registerer with a label of its own): %w: %w", store, fs.ErrExist, err)
		}
		return nil, fmt.Errorf("tierfs: registering metrics: %w", err)
	}
	return func() { reg.Unregister(c) }, nil
}

// collector reads the FS's Stats at each scrape.
type collector struct {
	fsys  *FS
	descs map[string]*prometheus.Desc
	types map[string]prometheus.ValueType
}

// metricDef is one metric: its name (after "tierfs_"), help, variable
// labels and whether it is a gauge (a counter otherwise).
type metricDef struct {
	name, help string
	labels     []string
	gauge      bool
}

var metricDefs = []metricDef{
	{"store_requests_total", "Requests sent to the object store, by kind (get, head, list, put, delete, other), as its service counts them: retries, resumes and parts included.", []string{"kind"}, false},
	{"store_bytes_total", "Body bytes of the object store's successful requests: received (GETs) and sent (PUTs and parts).", []string{"direction"}, false},
	{"served_bytes_total", "Bytes served to readers from the cache, by where they came from: a tier by name, peer or origin.", []string{"source"}, false},
	{"tier_lookups_total", "The cache's lookups of a block in a tier, by tier and result (hit, miss).", []string{"tier", "result"}, false},
	{"tier_promotions_total", "Blocks copied into a tier from a slower one.", []string{"tier"}, false},
	{"tier_bytes", "Bytes a tier holds, as charged against its capacity.", []string{"tier"}, true},
	{"tier_capacity_bytes", "A tier's configured capacity.", []string{"tier"}, true},
	{"tier_blocks", "Blocks a tier holds.", []string{"tier"}, true},
	{"tier_evictions_total", "Blocks a tier removed to make room.", []string{"tier"}, false},
	{"tier_dropped_total", "Blocks a tier was offered and did not store (queue full, rejected, error).", []string{"tier"}, false},
	{"tier_corrupt_total", "Blocks that failed verification in a tier and were removed.", []string{"tier"}, false},
	{"tier_errors_total", "I/O errors on a tier's storage.", []string{"tier"}, false},
	{"origin_fetches_total", "Ranged reads the cache asked the store for.", nil, false},
	{"origin_errors_total", "Ranged reads of the store that failed.", nil, false},
	{"loads_total", "Block loads started.", nil, false},
	{"loads_shared_total", "Reads that joined a load already running instead of fetching again.", nil, false},
	{"loads_cancelled_total", "Loads stopped because nobody wanted them any more.", nil, false},
	{"loads_in_flight", "Block loads running now.", nil, true},
	{"buffers_made_total", "Block buffers allocated for loads.", nil, false},
	{"buffers_reused_total", "Loads that reused the buffer of an earlier load no tier kept.", nil, false},
	{"extent_hits_total", "Reads served from cached extents (bytes smaller than a block that a sparse read or an open fetched).", nil, false},
	{"metadata_lookups_total", "Name lookups.", nil, false},
	{"metadata_hits_total", "Name lookups the metadata cache answered without asking the store.", nil, false},
	{"readahead_blocks_total", "Blocks fetched ahead of their reader.", nil, false},
	{"readahead_used_total", "Block reads served from blocks readahead held.", nil, false},
	{"readahead_abandoned_total", "Readahead loads let go while still running because their reader jumped elsewhere.", nil, false},
	{"readahead_budget_short_total", "Readahead skipped for lack of budget.", nil, false},
	{"readahead_budget_used_bytes", "Bytes of the readahead memory budget reserved now.", nil, true},
	{"readahead_budget_peak_bytes", "Most bytes of the readahead memory budget reserved at once.", nil, true},
	{"peer_members", "Members of the peer ring sharing this FS's store and block size, itself included (0 without peers).", nil, true},
	{"peer_fetches_total", "Block requests sent to peers.", nil, false},
	{"peer_fetched_bytes_total", "Verified bytes peers returned.", nil, false},
	{"peer_served_total", "Block requests from peers answered with bytes.", nil, false},
	{"peer_served_bytes_total", "Bytes sent to peers.", nil, false},
	{"peer_cached_fetches_total", "Sparse reads' requests to a block's owner for bytes it already holds.", nil, false},
	{"peer_cached_hits_total", "Of those, the requests the owner answered with all the bytes.", nil, false},
	{"peer_cached_fetched_bytes_total", "Verified bytes owners returned to sparse reads from their caches.", nil, false},
	{"peer_cached_served_total", "Requests of other members' sparse reads answered from this member's cache, by result (hit, miss).", []string{"result"}, false},
	{"peer_fallbacks_total", "Times a fetch moved on from a peer, by cause (error, stall, corrupt, busy, penalized, gave_up).", []string{"cause"}, false},
	{"peer_origin_fallbacks_total", "Block loads that went on to the origin because their owner failed.", nil, false},
	{"peer_rejected_total", "Peer requests refused as unsigned, forged, stale or replayed.", nil, false},
	{"peer_refused_total", "Peer requests refused because the block's load waits on a peer or too many were served.", nil, false},
	{"peer_penalized_total", "Peers put in the penalty box.", nil, false},
}

func newCollector(fsys *FS, store string) *collector {
	c := &collector{fsys: fsys, descs: map[string]*prometheus.Desc{}, types: map[string]prometheus.ValueType{}}
	for _, d := range metricDefs {
		c.descs[d.name] = prometheus.NewDesc("tierfs_"+d.name, d.help, d.labels, prometheus.Labels{"store": store})
		c.types[d.name] = prometheus.CounterValue
		if d.gauge {
			c.types[d.name] = prometheus.GaugeValue
		}
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range metricDefs {
		ch <- c.descs[d.name]
	}
}

// Collect implements prometheus.Collector: one Stats, every metric.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.fsys.Stats()
	emit := func(name string, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(c.descs[name], c.types[name], float64(v), labels...)
	}
	r := st.Requests
	for _, k := range []struct {
		kind string
		n    int64
	}{{"get", r.Gets}, {"head", r.Heads}, {"list", r.Lists}, {"put", r.Puts}, {"delete", r.Deletes}, {"other", r.Other}} {
		emit("store_requests_total", k.n, k.kind)
	}
	emit("store_bytes_total", r.BytesIn, "received")
	emit("store_bytes_total", r.BytesOut, "sent")
	emit("served_bytes_total", st.PeerBytesServed, "peer")
	emit("served_bytes_total", st.OriginBytesServed, "origin")
	for _, t := range st.Tiers {
		emit("served_bytes_total", t.BytesServed, t.Name)
		emit("tier_lookups_total", t.Hits, t.Name, "hit")
		emit("tier_lookups_total", t.Misses, t.Name, "miss")
		emit("tier_promotions_total", t.Promotions, t.Name)
		emit("tier_bytes", t.Tier.Bytes, t.Name)
		emit("tier_capacity_bytes", t.Tier.Capacity, t.Name)
		emit("tier_blocks", t.Tier.Blocks, t.Name)
		emit("tier_evictions_total", t.Tier.Evictions, t.Name)
		emit("tier_dropped_total", t.Tier.Dropped, t.Name)
		emit("tier_corrupt_total", t.Tier.Corrupt, t.Name)
		emit("tier_errors_total", t.Tier.Errors, t.Name)
	}
	emit("origin_fetches_total", st.OriginFetches)
	emit("origin_errors_total", st.OriginErrors)
	emit("loads_total", st.Loads)
	emit("loads_shared_total", st.SharedFetches)
	emit("loads_cancelled_total", st.CancelledLoads)
	emit("loads_in_flight", st.LoadsInFlight)
	emit("buffers_made_total", st.BuffersMade)
	emit("buffers_reused_total", st.BuffersReused)
	emit("extent_hits_total", st.ExtentHits)
	emit("metadata_lookups_total", st.MetaLookups)
	emit("metadata_hits_total", st.MetaHits)
	p := st.Prefetch
	emit("readahead_blocks_total", p.ReadaheadBlocks)
	emit("readahead_used_total", p.HeldHits)
	emit("readahead_abandoned_total", p.LeftCancelled)
	emit("readahead_budget_short_total", p.BudgetShort)
	emit("readahead_budget_used_bytes", p.BudgetUsed)
	emit("readahead_budget_peak_bytes", p.BudgetPeak)
	ps := st.Peers
	emit("peer_members", int64(ps.Members))
	emit("peer_fetches_total", ps.Fetches)
	emit("peer_fetched_bytes_total", ps.BytesFetched)
	emit("peer_served_total", ps.Served)
	emit("peer_served_bytes_total", ps.BytesServed)
	emit("peer_cached_fetches_total", ps.CachedFetches)
	emit("peer_cached_hits_total", ps.CachedHits)
	emit("peer_cached_fetched_bytes_total", ps.CachedBytesFetched)
	emit("peer_cached_served_total", ps.CachedServed, "hit")
	emit("peer_cached_served_total", ps.CachedMissed, "miss")
	f := ps.Fallbacks
	for _, k := range []struct {
		cause string
		n     int64
	}{{"error", f.Error}, {"stall", f.Stall}, {"corrupt", f.Corrupt}, {"busy", f.Busy}, {"penalized", f.Penalized}, {"gave_up", f.GaveUp}} {
		emit("peer_fallbacks_total", k.n, k.cause)
	}
	emit("peer_origin_fallbacks_total", ps.OriginFallbacks)
	emit("peer_rejected_total", ps.Rejected)
	emit("peer_refused_total", ps.Refused)
	emit("peer_penalized_total", ps.Penalized)
}
