// Package memory is a [tier.Tier] that holds blocks in the Go heap, on
// ristretto v2 (github.com/dgraph-io/ristretto/v2) with cost = bytes.
//
//	mt, err := memory.New(memory.DefaultConfig(8 << 30))
//	defer mt.Close()
//
// # Cost and budget
//
// A block costs cap(data) + len(key) + [EntryOverhead] bytes (the entry,
// ristretto's store and policy slots, the slot of the tier's own index;
// measured by TestEntryOverhead), and [Config].MaxBytes bounds the sum:
// Stats.Bytes is that sum and, once admission has settled ([Tier.Wait]),
// never exceeds MaxBytes. ristretto's own per-item charge is switched off
// (IgnoreInternalCost) because EntryOverhead already counts it. A block
// bigger than MaxBytes is dropped and counted, never stored. Put keeps the
// caller's slice, so the tier pins the whole array behind it; that is why
// the cost is cap(data), not len(data).
//
// Outside the budget: a fixed ~300 KB a tier (ristretto's 32K-entry Set
// buffer, 256 store shards, the frequency sketch of about 3 bytes per
// [Config].NumCounters) and, above all, the Go garbage collector, which
// lets the heap grow to about twice the live bytes (GOGC=100) before it
// collects the blocks evicted since. BenchmarkRSS, filling a 256 MiB tier
// four times over with 4 MiB blocks, measured: blocks held 0.98× the
// budget; heap in use after a GC 1.00×; peak heap 1.75×; RSS just after
// a GC 2.0× (the ≈2× of ristretto#320 is this, not ristretto) and 0.99×
// after debug.FreeOSMemory. With GOGC=50 the peak heap was 1.38× and the
// RSS after a GC 1.55×. A process that must bound its RSS sets a memory
// limit (debug.SetMemoryLimit, GOMEMLIMIT) above the tier's budget.
//
// # Admission
//
// ristretto admits asynchronously. Set puts the item in a 32K-entry
// buffer and returns false if it is full; one goroutine then asks the
// policy. The policy (policy.go, defaultPolicy.Add) admits unconditionally
// whenever the item fits in the room left, so a tier with room accepts
// every fresh block (TestFreshKeysAdmittedWithRoom: 500 of 500, with a
// hot block read throughout). The ≈65% misses of ristretto#346 come from
// IgnoreInternalCost=false adding a ~48 B storeItem to unit costs, which
// shrank its "10,000 item" cache to about 200 items and so made it full.
//
// When the tier is full, TinyLFU compares the newcomer's estimated
// frequency with the least of five sampled residents and rejects it if
// lower. A block just fetched has been looked up once (its miss), and
// reads reach the sketch only in batches of BufferItems, so it usually
// loses to any resident that has been read: TestAdmissionWhenFull admits
// 6–10% of fresh blocks into a full tier (Put, Wait, read), whether the
// residents were read 0, 1 or 3 times. ristretto has no window (as
// W-TinyLFU's) and no setting that turns admission off. So a full memory
// tier is scan-resistant (a pass over more data than it holds keeps a
// stable part of the old data instead of flushing it), but a block the
// cache has just fetched for readahead may not be in it: the prefetcher
// must hold blocks it is about to serve in its own buffers (or the disk
// tier must), not rely on this tier.
//
// A dropped or rejected Put is a later miss ([tier.ErrMiss]) and counts in
// Stats.Dropped; Put never blocks and never waits for ristretto
// ([Tier.Wait] is for tests and settling).
//
// # Presence
//
// [Tier.Contains] answers from the tier's own index, a map from key to
// entry that holds every block from Put until ristretto rejects, evicts
// or deletes it (its callbacks keep the map exact), and never calls into
// ristretto. ristretto has no lookup that is both silent and exact: Get
// pushes the key's hash into the buffers that feed TinyLFU's frequency
// sketch (and, with metrics on, counts a hit or miss), so a probe would
// make a block likelier to be admitted and kept; GetTTL records nothing,
// but it checks only the key's 64-bit hash, so it would say yes for a
// key whose hash a held block shares (a ReadAt of it misses; see Keys).
// The index costs a map slot per block (35–60 B, in EntryOverhead) and a
// read lock per Contains; Contains allocates nothing. The same map makes
// a block readable from the moment Put returns, before ristretto's
// goroutine has admitted it: a read that misses in ristretto looks there.
// TestContainsRecordsNoAccess counts ristretto's lookups (its metrics,
// switched on for the test) around a thousand calls of Contains: none.
//
// # Moves
//
// [Tier.Move] (a [tier.Mover]) stores the block of one key under another
// without copying it: the entry's bytes go under a new entry, with the
// same cost, and the old key and any block under the new one are deleted
// from ristretto before the new entry is set, so the policy, which sees
// them in that order, has the old block's room for it. It does not wait
// for admission (the block is readable under the new key at once, from
// the index); a moved block the policy still refuses counts as an
// eviction, and a Move is otherwise no hit, miss or Put. The frequency
// TinyLFU keeps for the old key does not follow the block (ristretto
// cannot rename a key in its sketch): under its new key a moved block is
// as likely to be evicted as a fresh one. The writer of a file moves
// blocks that were never read, so it loses nothing by that.
//
// # Keys
//
// ristretto keeps a 64-bit hash of a key, not the key. The entry stores
// the key and every lookup compares it, so a hash collision is a miss,
// never another block's bytes.
//
// # Counters
//
// Stats come from the tier's own atomic counters, not ristretto's Metrics:
// those slow every Get, count a colliding key's lookup as a hit, count
// Del in keys-evicted, and are cleared by Close. Puts counts blocks the
// policy admitted (a Move's block is not one); Dropped, those dropped on
// a full buffer, too big, or rejected; Evictions, blocks removed to make
// room (OnEvict), and moved blocks the policy refused.
package memory
