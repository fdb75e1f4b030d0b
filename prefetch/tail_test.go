package prefetch_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/tierfs/tierfs/cache"
	"github.com/tierfs/tierfs/objstore/memstore"
	"github.com/tierfs/tierfs/objstore/storetest"
	"github.com/tierfs/tierfs/prefetch"
	"github.com/tierfs/tierfs/tier"
)

// A load in its last eighth leaves its place among the loads in flight
// to the next block, so that the next request's round trip passes while
// the link still carries the tail: with two loads allowed and both held
// at the start of their tails, the reader starts a third and a fourth.
func TestTailStartsTheNextLoad(t *testing.T) {
	const bs = 4 << 20
	data := storetest.Data(3, 16*bs)
	ms, err := memstore.FromMap(map[string][]byte{"obj": data})
	if err != nil {
		t.Fatal(err)
	}
	// Ranges that start in blocks 2 and 3 stop where their tails begin.
	s := &rangeStore{Store: ms, holdFrom: 2 * bs, holdTo: 4 * bs, free: bs - bs/8}
	obj, _ := ms.Stat(t.Context(), "obj")
	budget := prefetch.NewBudget(256 << 20)
	b, err := cache.New(cache.Config{Store: s, Tiers: []tier.Tier{newMemoryTier(t)}, BlockSize: bs, Budget: budget})
	if err != nil {
		t.Fatal(err)
	}
	p, err := prefetch.New(prefetch.Config{Concurrency: 2, MaxWindow: 8 * bs}, b, budget, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.Close()
		p.Close()
	})
	e := &skipEnv{store: s, blocks: b, p: p, obj: obj, data: data}
	r, err := p.NewReader(t.Context(), obj)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	e.readRun(t, r, 0, 2*bs)
	for _, blk := range []int64{2, 3} {
		select {
		case <-s.heldAt(blk * bs):
		case <-time.After(10 * time.Second):
			t.Fatalf("block %d's load did not reach its tail within 10 s; fetched %v", blk, s.fetched())
		}
	}
	e.readRun(t, r, 2*bs, 2*bs+64<<10) // bytes that arrived: the reader reads on
	deadline := time.Now().Add(10 * time.Second)
	for {
		started := map[int64]bool{}
		for _, rg := range s.fetched() {
			started[rg[0]/bs] = true
		}
		if started[4] && started[5] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("blocks 2 and 3 in their tails, yet blocks 4 and 5 not loading after 10 s: fetched %v", s.fetched())
		}
		runtime.Gosched()
	}
}
