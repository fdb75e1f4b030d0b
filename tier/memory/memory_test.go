package memory_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"testing"
	"time"

	"github.com/tierfs/tierfs/tier"
	"github.com/tierfs/tierfs/tier/memory"
	"github.com/tierfs/tierfs/tier/tiertest"
)

func newTier(t testing.TB, cfg memory.Config) *memory.Tier {
	t.Helper()
	mt, err := memory.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mt.Close() })
	return mt
}

func TestConformance(t *testing.T) {
	tiertest.Run(t, tiertest.Harness{
		New: func(t *testing.T, capacity int64) tier.Tier {
			mt, err := memory.New(memory.Config{MaxBytes: capacity})
			if err != nil {
				t.Fatal(err)
			}
			return mt
		},
		Settle: func(t *testing.T, tr tier.Tier) { tr.(*memory.Tier).Wait() },
	})
}

func TestConfig(t *testing.T) {
	for _, cfg := range []memory.Config{
		{},
		{MaxBytes: -1},
		{MaxBytes: 1 << 20, ExpectedBlockSize: -1},
		{MaxBytes: 1 << 20, NumCounters: -1},
		{MaxBytes: 1 << 20, BufferItems: -1},
	} {
		if mt, err := memory.New(cfg); !errors.Is(err, fs.ErrInvalid) {
			if mt != nil {
				mt.Close()
			}
			t.Errorf("New(%+v): err = %v, want fs.ErrInvalid", cfg, err)
		}
	}
	got := memory.DefaultConfig(256 << 20)
	want := memory.Config{MaxBytes: 256 << 20, ExpectedBlockSize: 4 << 20, NumCounters: memory.MinNumCounters, BufferItems: 64}
	if got != want {
		t.Errorf("DefaultConfig(256 MiB) = %+v, want %+v", got, want)
	}
	if got := memory.DefaultConfig(64 << 30).NumCounters; got != 10*(64<<30)/(4<<20) {
		t.Errorf("DefaultConfig(64 GiB).NumCounters = %d, want 10 × 16384", got)
	}
}

// TestHitAllocs checks that a hit allocates nothing. ristretto's striped
// Get buffer allocates a fresh stripe of BufferItems hashes each time one
// fills and is handed to the policy, which AllocsPerRun (an integer
// average) rounds to 0; the exact rate is logged.
func TestHitAllocs(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("-short or -race: counts allocations, and the race detector makes sync.Pool drop stripes; .ci/run runs this test without -race")
	}
	ctx := context.Background()
	mt := newTier(t, memory.Config{MaxBytes: 64 << 20})
	data := tiertest.Block("k", 64<<10)
	if err := mt.Put(ctx, "k", data); err != nil {
		t.Fatal(err)
	}
	mt.Wait()
	p := make([]byte, 4096)
	read := func() {
		if n, err := mt.ReadAt(ctx, "k", p, 1000); n != len(p) || err != nil {
			t.Fatalf("ReadAt = %d, %v", n, err)
		}
	}
	if a := testing.AllocsPerRun(1000, read); a != 0 {
		t.Errorf("allocations per hit = %v, want 0", a)
	}
	const runs = 100_000
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		read()
	}
	runtime.ReadMemStats(&after)
	perHit := float64(after.Mallocs-before.Mallocs) / runs
	t.Logf("exact: %.4f allocations, %.2f bytes per hit", perHit, float64(after.TotalAlloc-before.TotalAlloc)/runs)
	if perHit > 1.0/32 {
		t.Errorf("%.4f allocations per hit, want ≤ 1/BufferItems", perHit)
	}
	if !bytes.Equal(p, data[1000:1000+len(p)]) {
		t.Error("wrong bytes")
	}
}

// TestCollision makes every key hash alike: a lookup that finds another
// key's entry is a miss, never its bytes, and deleting the other key
// leaves the held one (and its accounting) alone.
func TestCollision(t *testing.T) {
	ctx := context.Background()
	mt, err := memory.NewWithHash(memory.Config{MaxBytes: 1 << 20}, func(string) (uint64, uint64) { return 42, 0 })
	if err != nil {
		t.Fatal(err)
	}
	defer mt.Close()
	a, b := tiertest.Block("a", 1000), tiertest.Block("b", 1000)
	if err := mt.Put(ctx, "a", a); err != nil {
		t.Fatal(err)
	}
	mt.Wait()
	if err := mt.Put(ctx, "b", b); err != nil {
		t.Fatal(err)
	}
	mt.Wait()
	p := make([]byte, 1000)
	if n, err := mt.ReadAt(ctx, "b", p, 0); !errors.Is(err, tier.ErrMiss) || n != 0 {
		t.Fatalf("ReadAt(b) with a held under the same hash = %d, %v; want ErrMiss", n, err)
	}
	if mt.Collisions() != 1 {
		t.Errorf("Collisions = %d, want 1", mt.Collisions())
	}
	// Contains is exact: a held key under the same hash is not b.
	if !mt.Contains("a") || mt.Contains("b") {
		t.Errorf("Contains(a), Contains(b) = %v, %v with a held and b's hash the same; want true, false", mt.Contains("a"), mt.Contains("b"))
	}
	if mt.Collisions() != 1 {
		t.Errorf("Contains counted collisions: %d, want 1", mt.Collisions())
	}
	if err := mt.Delete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	mt.Wait()
	if n, err := mt.ReadAt(ctx, "a", p, 0); n != len(p) || err != nil || !bytes.Equal(p, a) {
		t.Fatalf("ReadAt(a) = %d, %v (right bytes: %v)", n, err, bytes.Equal(p, a))
	}
	st := mt.Stats()
	if st.Blocks != 1 || st.Bytes != mt.PolicyUsed() || st.Puts != 1 || st.Dropped != 1 {
		t.Errorf("after the collision: %+v, policy holds %d", st, mt.PolicyUsed())
	}
	if err := mt.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	mt.Wait()
	if st := mt.Stats(); st.Blocks != 0 || st.Bytes != 0 || mt.PolicyUsed() != 0 {
		t.Errorf("after deleting a: %+v, policy holds %d", st, mt.PolicyUsed())
	}
	// With a gone, b can be stored.
	if err := mt.Put(ctx, "b", b); err != nil {
		t.Fatal(err)
	}
	mt.Wait()
	if n, err := mt.ReadAt(ctx, "b", p, 0); n != len(p) || err != nil || !bytes.Equal(p, b) {
		t.Fatalf("ReadAt(b) = %d, %v", n, err)
	}
	if mt.Contains("a") || !mt.Contains("b") {
		t.Errorf("Contains(a), Contains(b) = %v, %v with b held; want false, true", mt.Contains("a"), mt.Contains("b"))
	}
}

// heldBytes checks the tier's accounting against what ristretto holds and
// returns the sum of the lengths of the held blocks.
func heldBytes(t *testing.T, mt *memory.Tier) (sumLen int64) {
	t.Helper()
	var sumCost, n int64
	mt.Held(func(key string, data []byte, cost int64) {
		if want := int64(cap(data)+len(key)) + memory.EntryOverhead; cost != want {
			t.Errorf("%s: cost %d, want %d", key, cost, want)
		}
		sumLen += int64(len(data))
		sumCost += cost
		n++
	})
	st := mt.Stats()
	if st.Bytes != sumCost || st.Blocks != n || st.Bytes != mt.PolicyUsed() {
		t.Errorf("Stats.Bytes %d, Blocks %d; held: %d bytes of cost in %d blocks; ristretto's policy: %d",
			st.Bytes, st.Blocks, sumCost, n, mt.PolicyUsed())
	}
	return sumLen
}

func TestBudget(t *testing.T) {
	ctx := context.Background()
	const maxBytes = 8 << 20
	mt := newTier(t, memory.Config{MaxBytes: maxBytes})
	const block = 256 << 10
	const count = 4 * maxBytes / block
	p := make([]byte, 100)
	for i := range count {
		key := fmt.Sprintf("blk-%d", i)
		if err := mt.Put(ctx, key, make([]byte, block)); err != nil {
			t.Fatal(err)
		}
		// Read some blocks back, so that admission has frequencies to
		// weigh and rejects some newcomers.
		for j := range i % 4 {
			mt.ReadAt(ctx, fmt.Sprintf("blk-%d", i-j), p, 0)
		}
		if i%16 == 15 {
			mt.Wait()
			if st := mt.Stats(); st.Bytes > maxBytes {
				t.Fatalf("after %d puts: Stats.Bytes %d > MaxBytes %d", i+1, st.Bytes, maxBytes)
			}
		}
	}
	mt.Wait()
	sumLen := heldBytes(t, mt)
	st := mt.Stats()
	t.Logf("%d blocks of %d offered to a %d-byte tier: %+v", count, block, maxBytes, st)
	if st.Bytes > maxBytes || sumLen > maxBytes {
		t.Errorf("Stats.Bytes %d, blocks' bytes %d; MaxBytes %d", st.Bytes, sumLen, maxBytes)
	}
	if st.Bytes < maxBytes-2*block {
		t.Errorf("Stats.Bytes %d: the tier is not full", st.Bytes)
	}
	if st.Puts+st.Dropped != count || st.Puts-st.Evictions != st.Blocks {
		t.Errorf("Puts %d + Dropped %d != %d offered, or Puts - Evictions != Blocks %d", st.Puts, st.Dropped, count, st.Blocks)
	}
	if st.Evictions == 0 {
		t.Error("no evictions")
	}
	// Settled, Contains says exactly which blocks ristretto's store holds.
	held := map[string]bool{}
	mt.Held(func(key string, _ []byte, _ int64) { held[key] = true })
	for i := range count {
		key := fmt.Sprintf("blk-%d", i)
		if got := mt.Contains(key); got != held[key] {
			t.Fatalf("Contains(%s) = %v; ristretto holds it: %v", key, got, held[key])
		}
	}
}

func TestTooBig(t *testing.T) {
	ctx := context.Background()
	mt := newTier(t, memory.Config{MaxBytes: 1 << 20})
	if err := mt.Put(ctx, "big", make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	mt.Wait()
	if _, err := mt.ReadAt(ctx, "big", make([]byte, 1), 0); !errors.Is(err, tier.ErrMiss) {
		t.Errorf("ReadAt of a block bigger than MaxBytes: %v, want ErrMiss", err)
	}
	if st := mt.Stats(); st.Dropped != 1 || st.Puts != 0 || st.Bytes != 0 {
		t.Errorf("%+v", st)
	}
	if mt.Contains("big") {
		t.Error("Contains of a block bigger than MaxBytes = true")
	}
}

// TestPutKeepsArray checks that the cost is the array Put pins.
func TestPutKeepsArray(t *testing.T) {
	ctx := context.Background()
	mt := newTier(t, memory.Config{MaxBytes: 1 << 20})
	buf := make([]byte, 10, 5000)
	if err := mt.Put(ctx, "k", buf); err != nil {
		t.Fatal(err)
	}
	mt.Wait()
	if st := mt.Stats(); st.Bytes != 5000+1+memory.EntryOverhead {
		t.Errorf("Bytes %d for a 10-byte block in a 5000-byte array", st.Bytes)
	}
	if n, err := mt.ReadAt(ctx, "k", make([]byte, 20), 0); n != 10 || err != io.EOF {
		t.Errorf("ReadAt = %d, %v; want 10, io.EOF", n, err)
	}
}

func TestDeleteCancelsPendingPut(t *testing.T) {
	ctx := context.Background()
	mt := newTier(t, memory.Config{MaxBytes: 1 << 20})
	for i := range 100 {
		key := fmt.Sprint(i)
		if err := mt.Put(ctx, key, []byte(key)); err != nil {
			t.Fatal(err)
		}
		if err := mt.Delete(ctx, key); err != nil {
			t.Fatal(err)
		}
		if mt.Contains(key) {
			t.Fatalf("Contains after Put, Delete = true")
		}
	}
	mt.Wait()
	for i := range 100 {
		if _, err := mt.ReadAt(ctx, fmt.Sprint(i), make([]byte, 1), 0); !errors.Is(err, tier.ErrMiss) {
			t.Fatalf("ReadAt after Put, Delete: %v", err)
		}
	}
	if st := mt.Stats(); st.Blocks != 0 || st.Bytes != 0 || mt.PolicyUsed() != 0 {
		t.Errorf("%+v, policy %d", st, mt.PolicyUsed())
	}
}

// TestFreshKeysAdmittedWithRoom: ristretto's policy admits every item
// that fits in the room left, whatever TinyLFU thinks, so a tier with room
// serves every block it was given, even while other blocks are hot.
func TestFreshKeysAdmittedWithRoom(t *testing.T) {
	ctx := context.Background()
	mt := newTier(t, memory.Config{MaxBytes: 64 << 20})
	const n, block = 500, 64 << 10 // 32 MiB
	p := make([]byte, 10)
	for i := range n {
		if err := mt.Put(ctx, fmt.Sprint(i), tiertest.Block(fmt.Sprint(i), block)); err != nil {
			t.Fatal(err)
		}
		if i%50 == 49 {
			mt.Wait()
		}
		// Keep block 0 hot.
		for range 10 {
			mt.ReadAt(ctx, "0", p, 0)
		}
	}
	mt.Wait()
	for i := range n {
		q := make([]byte, block)
		if n, err := mt.ReadAt(ctx, fmt.Sprint(i), q, 0); n != block || err != nil || !bytes.Equal(q, tiertest.Block(fmt.Sprint(i), block)) {
			t.Fatalf("block %d of %d put into a tier with room: %d, %v", i, n, n, err)
		}
	}
	if st := mt.Stats(); st.Dropped != 0 || st.Puts != n {
		t.Errorf("%+v", st)
	}
}

// TestAdmissionWhenFull measures how many fresh blocks a full tier admits
// (Put then Wait, as a fetch then a read would), when its residents have
// been read once and when they have not. It asserts only exact bytes.
func TestAdmissionWhenFull(t *testing.T) {
	ctx := context.Background()
	for _, reads := range []int{0, 1, 3} {
		mt := newTier(t, memory.Config{MaxBytes: 16 << 20})
		const block = 256 << 10
		resident := int(16<<20/(block+memory.EntryOverhead+16)) - 1
		p := make([]byte, 1)
		for i := range resident {
			mt.Put(ctx, fmt.Sprintf("res-%d", i), make([]byte, block))
		}
		mt.Wait()
		for range reads {
			for i := range resident {
				mt.ReadAt(ctx, fmt.Sprintf("res-%d", i), p, 0)
			}
		}
		const fresh = 200
		admitted := 0
		for i := range fresh {
			key := fmt.Sprintf("new-%d", i)
			data := tiertest.Block(key, block)
			mt.ReadAt(ctx, key, p, 0) // the miss that made the cache fetch it
			mt.Put(ctx, key, data)
			mt.Wait()
			q := make([]byte, block)
			n, err := mt.ReadAt(ctx, key, q, 0)
			switch {
			case err == nil && n == block && bytes.Equal(q, data):
				admitted++
			case !errors.Is(err, tier.ErrMiss):
				t.Fatalf("%s: %d, %v", key, n, err)
			}
		}
		st := mt.Stats()
		t.Logf("residents read %d times: %d of %d fresh blocks admitted (%.0f%%); %+v",
			reads, admitted, fresh, 100*float64(admitted)/fresh, st)
	}
}

func TestClose(t *testing.T) {
	ctx := context.Background()
	before := runtime.NumGoroutine()
	var tiers []*memory.Tier
	for range 4 {
		mt, err := memory.New(memory.Config{MaxBytes: 1 << 20})
		if err != nil {
			t.Fatal(err)
		}
		mt.Put(ctx, "k", []byte("v"))
		mt.Wait()
		tiers = append(tiers, mt)
	}
	if n := runtime.NumGoroutine(); n < before+8 {
		t.Logf("goroutines %d → %d with 4 tiers", before, n)
	}
	for _, mt := range tiers {
		if err := mt.Close(); err != nil {
			t.Fatal(err)
		}
		if err := mt.Close(); err != nil {
			t.Fatal(err)
		}
		mt.Wait() // no-op after Close
		if mt.Contains("k") {
			t.Error("Contains after Close = true")
		}
		if st := mt.Stats(); st.Blocks != 0 || st.Bytes != 0 || st.Evictions != 0 || st.Puts != 1 {
			t.Errorf("after Close: %+v", st)
		}
	}
	// ristretto's Close waits for its goroutines to signal; give them the
	// scheduler to finish returning: up to 5 s of yielding, since on a
	// loaded machine (CI runs packages at once) an exiting goroutine may
	// wait for a thread the kernel has descheduled.
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(5 * time.Second); n > before && time.Now().Before(deadline); {
		runtime.Gosched()
		n = runtime.NumGoroutine()
	}
	if n > before {
		t.Errorf("goroutines: %d before, %d after Close", before, n)
	}
}

// TestEntryOverhead measures the heap one stored block costs besides its
// data and key, and checks it against EntryOverhead. The cost per block
// is highest just after the maps (ristretto's store shards and policy,
// the tier's index) have doubled: 15,600, 62,700 and 123,700 blocks are
// such peaks (found by a sweep from 1,000 to 1,070,000 blocks, whose
// peaks all lay within 284–294 B).
func TestEntryOverhead(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("-short or -race: measures heap bytes per entry, which the race detector inflates; .ci/run runs this test without -race")
	}
	ctx := context.Background()
	worst := 0.0
	for _, n := range []int{5_000, 15_600, 20_000, 50_000, 62_700, 100_000, 123_700} {
		keys := make([]string, n)
		for i := range keys {
			keys[i] = fmt.Sprintf("object@etag/%08d", i)
		}
		var empty, before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&empty)
		mt, err := memory.New(memory.Config{MaxBytes: 1 << 30})
		if err != nil {
			t.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&before)
		t.Logf("an empty tier: %d bytes", int64(before.HeapAlloc)-int64(empty.HeapAlloc))
		for i, k := range keys {
			mt.Put(ctx, k, nil)
			if i%1000 == 999 {
				mt.Wait()
			}
		}
		mt.Wait()
		if st := mt.Stats(); st.Blocks != int64(n) {
			t.Fatalf("%d of %d blocks held", st.Blocks, n)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		per := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(n)
		t.Logf("%d blocks: %.0f bytes each besides data and key", n, per)
		worst = max(worst, per)
		runtime.KeepAlive(keys)
		mt.Close()
	}
	if worst > memory.EntryOverhead {
		t.Errorf("measured up to %.0f bytes a block; EntryOverhead is %d", worst, memory.EntryOverhead)
	}
}

// A block is readable from the moment Put returns, before ristretto's
// goroutine has admitted it: a reader arriving in between must not miss
// and fetch the block again.
func TestReadableBeforeAdmission(t *testing.T) {
	tr, err := memory.New(memory.Config{MaxBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	for i := range 200 {
		key := fmt.Sprintf("k%d", i)
		data := []byte(key)
		if err := tr.Put(t.Context(), key, data); err != nil {
			t.Fatal(err)
		}
		if !tr.Contains(key) {
			t.Fatalf("Contains right after Put(%q) = false", key)
		}
		p := make([]byte, len(data))
		if n, err := tr.ReadAt(t.Context(), key, p, 0); err != nil && err != io.EOF || n != len(data) || string(p) != key {
			t.Fatalf("read right after Put(%q) = %d, %v", key, n, err)
		}
	}
	if err := tr.Delete(t.Context(), "k0"); err != nil {
		t.Fatal(err)
	}
	tr.Wait()
	if _, err := tr.ReadAt(t.Context(), "k0", make([]byte, 1), 0); !errors.Is(err, tier.ErrMiss) {
		t.Errorf("read after Delete: %v, want a miss", err)
	}
	if tr.Contains("k0") || !tr.Contains("k1") {
		t.Error("after Delete(k0): Contains(k0) true or Contains(k1) false")
	}
}

// TestContainsRecordsNoAccess: Contains never reaches ristretto's Get,
// the lookup that records an access for TinyLFU's frequency sketch (and
// is how a read makes a block likelier to be admitted and kept).
// ristretto's metrics count every Get as it is made; a ReadAt (the
// control) counts one.
func TestContainsRecordsNoAccess(t *testing.T) {
	ctx := context.Background()
	mt, err := memory.NewWithMetrics(memory.Config{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer mt.Close()
	if err := mt.Put(ctx, "held", []byte("held block")); err != nil {
		t.Fatal(err)
	}
	mt.Wait()
	if err := mt.Put(ctx, "queued", []byte("queued block")); err != nil {
		t.Fatal(err)
	}
	gets, st := mt.RistrettoGets(), mt.Stats()
	for range 1000 {
		if !mt.Contains("held") {
			t.Fatal("Contains(held) = false")
		}
		mt.Contains("queued") // true until admission decides, then true if admitted
		if mt.Contains("absent") {
			t.Fatal("Contains(absent) = true")
		}
	}
	if g := mt.RistrettoGets(); g != gets {
		t.Errorf("3000 calls of Contains made %d lookups in ristretto", g-gets)
	}
	mt.Wait()
	if st2 := mt.Stats(); st2.Hits != st.Hits || st2.Misses != st.Misses {
		t.Errorf("Contains counted: %+v → %+v", st, st2)
	}
	gets = mt.RistrettoGets()
	if _, err := mt.ReadAt(ctx, "held", make([]byte, 1), 0); err != nil {
		t.Fatal(err)
	}
	if g := mt.RistrettoGets(); g != gets+1 {
		t.Errorf("a ReadAt made %d lookups in ristretto, want 1: this test cannot see one", g-gets)
	}
}

// TestContainsAllocs: Contains allocates nothing, present or absent. (Unlike
// TestHitAllocs it runs under -race too: Contains goes through no
// sync.Pool, which the race detector makes drop items.)
func TestContainsAllocs(t *testing.T) {
	mt := newTier(t, memory.Config{MaxBytes: 1 << 20})
	if err := mt.Put(context.Background(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	mt.Wait()
	for _, key := range []string{"k", "absent"} {
		if a := testing.AllocsPerRun(1000, func() { mt.Contains(key) }); a != 0 {
			t.Errorf("Contains(%q): %v allocations, want 0", key, a)
		}
	}
}

// TestMoveWhenFull moves every block of a full tier to a new key: each
// moved block is admitted (the old key leaves ristretto's policy before
// the new one arrives, with the same cost, so it has the room), none is
// lost, and Stats count no Put, drop or eviction. (The frequencies
// TinyLFU kept for the old keys do not follow the blocks: a fresh Put
// then competes with moved blocks as with fresh ones; logged.)
func TestMoveWhenFull(t *testing.T) {
	ctx := context.Background()
	const max = 16 << 20
	const block = 256 << 10
	mt := newTier(t, memory.Config{MaxBytes: max})
	n := max / (block + memory.EntryOverhead + len("res-000"))
	for i := range n {
		mt.Put(ctx, fmt.Sprintf("res-%03d", i), tiertest.Block(fmt.Sprint(i), block))
	}
	mt.Wait()
	p := make([]byte, 1)
	for range 3 { // residents worth keeping
		for i := range n {
			mt.ReadAt(ctx, fmt.Sprintf("res-%03d", i), p, 0)
		}
	}
	before := mt.Stats()
	if before.Blocks != int64(n) || before.Bytes > max || max-before.Bytes >= block {
		t.Fatalf("the tier is not full: %+v", before)
	}
	for i := range n {
		if err := mt.Move(ctx, fmt.Sprintf("res-%03d", i), fmt.Sprintf("moved-%03d", i)); err != nil {
			t.Fatal(err)
		}
		mt.Wait()
	}
	after := mt.Stats()
	if after.Blocks != before.Blocks || after.Bytes != before.Bytes || after.Puts != before.Puts ||
		after.Dropped != before.Dropped || after.Evictions != before.Evictions {
		t.Errorf("moving every block of a full tier changed Stats:\nbefore %+v\nafter  %+v", before, after)
	}
	q := make([]byte, block)
	for i := range n {
		if _, err := mt.ReadAt(ctx, fmt.Sprintf("res-%03d", i), q, 0); !errors.Is(err, tier.ErrMiss) {
			t.Fatalf("res-%03d after its Move: %v, want a miss", i, err)
		}
		if k, err := mt.ReadAt(ctx, fmt.Sprintf("moved-%03d", i), q, 0); k != block || err != nil || !bytes.Equal(q, tiertest.Block(fmt.Sprint(i), block)) {
			t.Fatalf("moved-%03d: %d, %v (or wrong bytes)", i, k, err)
		}
	}
	mt.Put(ctx, "fresh", make([]byte, block))
	mt.Wait()
	t.Logf("%d blocks moved in a full tier, all kept; a fresh Put after them admitted: %v", n, mt.Contains("fresh"))
}
