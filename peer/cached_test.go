package peer

import (
	"bytes"
	"errors"
	"testing"

	"github.com/tierfs/tierfs/cache"
	"github.com/tierfs/tierfs/objstore/memstore"
)

// TestFetchCached: a cached-only fetch gets a range of a block from its
// owner's tiers (the whole block, or an extent that covers the range),
// exact and verified, or ErrNotCached when the owner does not hold it;
// the owner never loads for it, and the origin is never asked. A block
// this member owns is not asked of anyone.
func TestFetchCached(t *testing.T) {
	store := memstore.New()
	ms := startRing(t, store, 2, nil)
	a, b := ms[0], ms[1]
	obj, data := putObject(t, store, "sparse.bin", 32*testBlock)
	held := ownedBy(t, a, obj, b.Name(), a.Name())
	cold := ownedBy(t, a, obj, b.Name(), a.Name(), held)
	part := ownedBy(t, a, obj, b.Name(), a.Name(), held, cold)
	mine := ownedBy(t, a, obj, a.Name(), b.Name())
	at := func(idx, off int64, n int) []byte { return data[idx*testBlock+off:][:n] }

	// The owner holds block held whole, and an extent of block part.
	if err := b.blocks.Ensure(t.Context(), obj, held); err != nil {
		t.Fatal(err)
	}
	if _, err := b.blocks.ReadAt(t.Context(), obj, make([]byte, 20000), part*testBlock+5000, cache.ReadOptions{Sparse: true}); err != nil {
		t.Fatal(err)
	}
	b.blocks.Wait()
	store.ResetStats()
	loads := b.blocks.Stats().Loads

	for _, tc := range []struct {
		name   string
		idx    int64
		off    int64
		n      int
		want   error // nil: the bytes
		asked  bool
		served bool
	}{
		{"held block, one frame", held, 100, 3000, nil, true, true},
		{"held block, frames", held, testFrame - 7, 5*testFrame + 11, nil, true, true},
		{"held block, to its end", held, testBlock - 9000, 9000, nil, true, true},
		{"extent, inside", part, 6000, 10000, nil, true, true},
		{"extent, all of it", part, 5000, 20000, nil, true, true},
		{"extent, past its end", part, 20000, 6000, cache.ErrNotCached, true, false},
		{"block not held", cold, 0, 4096, cache.ErrNotCached, true, false},
		{"block this member owns", mine, 0, 4096, cache.ErrNoPeer, false, false},
	} {
		before, bb := a.Stats(), b.Stats()
		dst := make([]byte, tc.n)
		n, err := a.FetchCached(t.Context(), refOf(obj, tc.idx), dst, tc.off)
		after, ba := a.Stats(), b.Stats()
		switch {
		case tc.want == nil && (err != nil || n != tc.n || !bytes.Equal(dst, at(tc.idx, tc.off, tc.n))):
			t.Errorf("%s: FetchCached = %d, %v; want the %d bytes", tc.name, n, err, tc.n)
		case tc.want != nil && (!errors.Is(err, tc.want) || n != 0):
			t.Errorf("%s: FetchCached = %d, %v; want 0, %v", tc.name, n, err, tc.want)
		}
		if got := after.CachedFetches - before.CachedFetches; got != b2i(tc.asked) {
			t.Errorf("%s: %d cached fetches sent; want %d", tc.name, got, b2i(tc.asked))
		}
		if got := ba.CachedServed + ba.CachedMissed - bb.CachedServed - bb.CachedMissed; got != b2i(tc.asked) {
			t.Errorf("%s: the owner answered %d cached fetches; want %d", tc.name, got, b2i(tc.asked))
		}
		hits, served := after.CachedHits-before.CachedHits, ba.CachedServed-bb.CachedServed
		if hits != b2i(tc.served) || served != hits {
			t.Errorf("%s: %d hits, %d served by the owner; want %d", tc.name, hits, served, b2i(tc.served))
		}
		fetched, sent := after.CachedBytesFetched-before.CachedBytesFetched, ba.CachedBytesServed-bb.CachedBytesServed
		if want := int64(tc.n) * b2i(tc.served); fetched != want || sent != want {
			t.Errorf("%s: %d bytes fetched, %d sent; want %d", tc.name, fetched, sent, want)
		}
		if after.Fallbacks != before.Fallbacks || after.Penalized != before.Penalized {
			t.Errorf("%s: a miss counted as a failure: %+v → %+v", tc.name, before, after)
		}
	}
	if got := b.blocks.Stats().Loads; got != loads {
		t.Errorf("the owner started %d loads for cached-only fetches; want none", got-loads)
	}
	if st := store.Total(); st.Gets != 0 {
		t.Errorf("cached-only fetches cost %d origin GETs; want none", st.Gets)
	}
	if s := a.Stats(); s.Fetches != 0 {
		t.Errorf("%d block fetches; want none", s.Fetches)
	}
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// TestSparseReadAsksOwner: a sparse read through the cache that spans a
// block the owner holds and one it does not gets the first from the
// owner and only the rest from the origin (one GET of exactly those
// bytes), counts each where it came from, and keeps both as extents: the
// same read again asks nobody. A young stream's read takes its bytes
// ahead, within the block, with the same request.
func TestSparseReadAsksOwner(t *testing.T) {
	store := memstore.New()
	ms := startRing(t, store, 2, nil)
	a, b := ms[0], ms[1]
	obj, data := putObject(t, store, "span.bin", 64*testBlock)
	// Two consecutive blocks owned by b, the first held there.
	var idx int64 = -1
	v := a.View()
	for i := range cache.NumBlocks(obj.Size, testBlock) - 1 {
		p, _ := a.owners(v, obj, i)
		q, _ := a.owners(v, obj, i+1)
		if v.Nodes[p].Name == b.Name() && v.Nodes[q].Name == b.Name() {
			idx = i
			break
		}
	}
	if idx < 0 {
		t.Fatal("no two consecutive blocks owned by b")
	}
	if err := b.blocks.Ensure(t.Context(), obj, idx); err != nil {
		t.Fatal(err)
	}
	b.blocks.Wait()
	store.ResetStats()
	loads := b.blocks.Stats().Loads

	const first, second = 30000, 12345
	off := (idx+1)*testBlock - first
	got := make([]byte, first+second)
	if _, err := a.blocks.ReadAt(t.Context(), obj, got, off, cache.ReadOptions{Sparse: true}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data[off:off+first+second]) {
		t.Fatal("wrong bytes")
	}
	cs, ps, st := a.blocks.Stats(), a.Stats(), store.Total()
	t.Logf("origin: %d GETs, %d bytes; from the owner: %d bytes; cached fetches %d, hits %d", st.Gets, st.BodyBytes, cs.PeerBytesServed, ps.CachedFetches, ps.CachedHits)
	if st.Gets != 1 || st.BodyBytes != second || cs.OriginFetches != 1 || cs.OriginBytesServed != second {
		t.Errorf("origin: %d GETs of %d bytes (cache: %d fetches, %d bytes served); want 1 of %d", st.Gets, st.BodyBytes, cs.OriginFetches, cs.OriginBytesServed, second)
	}
	if cs.PeerBytesServed != first || ps.CachedFetches != 2 || ps.CachedHits != 1 || ps.CachedBytesFetched != first {
		t.Errorf("peers: %d bytes served; stats %+v; want %d bytes in 1 hit of 2 asked", cs.PeerBytesServed, ps, first)
	}
	if bs := b.Stats(); bs.CachedBytesServed != first || bs.CachedServed != 1 || bs.CachedMissed != 1 {
		t.Errorf("owner: %+v", bs)
	}
	if n := b.blocks.Stats().Loads - loads; n != 0 {
		t.Errorf("the owner started %d loads; want none", n)
	}
	if ps.Fetches != 0 || cs.Loads != 0 {
		t.Errorf("a sparse read loaded blocks: %d fetches, %d loads", ps.Fetches, cs.Loads)
	}
	// Kept as extents: asked again, nobody is asked.
	clear(got)
	if _, err := a.blocks.ReadAt(t.Context(), obj, got, off, cache.ReadOptions{Sparse: true}); err != nil || !bytes.Equal(got, data[off:off+first+second]) {
		t.Fatalf("second read: %v", err)
	}
	if st2, ps2 := store.Total(), a.Stats(); st2.Gets != 1 || ps2.CachedFetches != 2 {
		t.Errorf("second read: %d GETs, %d cached fetches; want no new request", st2.Gets, ps2.CachedFetches)
	}

	// A young stream's read (Ahead) of the held block takes the bytes
	// past it, within the block, with the same request; its next read
	// finds them kept.
	const n, ahead = 5000, 40000
	yoff := idx * testBlock
	p := make([]byte, n)
	if _, err := a.blocks.ReadAt(t.Context(), obj, p, yoff, cache.ReadOptions{Sparse: true, Ahead: ahead}); err != nil || !bytes.Equal(p, data[yoff:yoff+n]) {
		t.Fatalf("young read: %v", err)
	}
	ps3 := a.Stats()
	if ps3.CachedFetches != 3 || ps3.CachedHits != 2 || ps3.CachedBytesFetched != first+n+ahead {
		t.Errorf("young read: %+v; want one more hit of %d bytes", ps3, n+ahead)
	}
	p = make([]byte, ahead)
	if _, err := a.blocks.ReadAt(t.Context(), obj, p, yoff+n, cache.ReadOptions{Sparse: true}); err != nil || !bytes.Equal(p, data[yoff+n:yoff+n+ahead]) {
		t.Fatalf("next read: %v", err)
	}
	if st3, ps4 := store.Total(), a.Stats(); st3.Gets != 1 || ps4.CachedFetches != 3 {
		t.Errorf("next read: %d GETs, %d cached fetches; want no new request", st3.Gets, ps4.CachedFetches)
	}
	if cs := a.blocks.Stats(); cs.PeerBytesServed != first+n {
		t.Errorf("bytes served from peers %d; want %d (the next read's come from the tier that keeps them)", cs.PeerBytesServed, first+n)
	}
}

// TestSparseReadSplits: a sparse read over three blocks, the outer two
// held by their owner and the middle one owned by the reader itself,
// takes the outer parts from the owner and only the middle part from the
// origin, with one GET of exactly its bytes.
func TestSparseReadSplits(t *testing.T) {
	store := memstore.New()
	ms := startRing(t, store, 2, nil)
	a, b := ms[0], ms[1]
	obj, data := putObject(t, store, "split.bin", 128*testBlock)
	v := a.View()
	owner := func(i int64) string { p, _ := a.owners(v, obj, i); return v.Nodes[p].Name }
	idx := int64(-1)
	for i := range cache.NumBlocks(obj.Size, testBlock) - 2 {
		if owner(i) == b.Name() && owner(i+1) == a.Name() && owner(i+2) == b.Name() {
			idx = i
			break
		}
	}
	if idx < 0 {
		t.Fatal("no blocks owned by b, a, b in a row")
	}
	for _, i := range []int64{idx, idx + 2} {
		if err := b.blocks.Ensure(t.Context(), obj, i); err != nil {
			t.Fatal(err)
		}
	}
	b.blocks.Wait()
	store.ResetStats()
	const head, tail = 7000, 9000
	off := (idx+1)*testBlock - head
	got := make([]byte, head+testBlock+tail)
	if _, err := a.blocks.ReadAt(t.Context(), obj, got, off, cache.ReadOptions{Sparse: true}); err != nil || !bytes.Equal(got, data[off:off+int64(len(got))]) {
		t.Fatalf("read: %v", err)
	}
	st, cs, ps := store.Total(), a.blocks.Stats(), a.Stats()
	t.Logf("origin: %d GETs, %d bytes; from the owner %d bytes in %d hits", st.Gets, st.BodyBytes, cs.PeerBytesServed, ps.CachedHits)
	if st.Gets != 1 || st.BodyBytes != testBlock || cs.OriginBytesServed != testBlock {
		t.Errorf("origin: %d GETs of %d bytes; want 1 of the middle block's %d", st.Gets, st.BodyBytes, testBlock)
	}
	if cs.PeerBytesServed != head+tail || ps.CachedFetches != 2 || ps.CachedHits != 2 {
		t.Errorf("from peers %d bytes, %+v; want %d in 2 hits", cs.PeerBytesServed, ps, head+tail)
	}
}
