package cache_test

import (
	"bytes"
	"testing"

	"github.com/tierfs/tierfs/cache"
	"github.com/tierfs/tierfs/objstore/memstore"
	"github.com/tierfs/tierfs/objstore/storetest"
)

// Abandon stops a load only if nobody else holds it: a reader still
// reading the block (its own Demand handle) keeps the load running to the
// end, and the block is cached whole.
func TestAbandonSharedLoadRunsOn(t *testing.T) {
	data := storetest.Data(5, 2*blockSize)
	ms, _ := memstore.FromMap(map[string][]byte{"obj": data})
	gs := &gatedStore{Store: ms, free: 300 << 10, gate: make(chan struct{})}
	b := newBlocks(t, gs, newMapTier())
	obj, _ := ms.Stat(t.Context(), "obj")
	h, err := b.Load(t.Context(), obj, 0, cache.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	reader := h.Demand() // another reader, still reading the block
	h.Abandon()
	close(gs.gate)
	p := make([]byte, blockSize)
	if _, err := reader.ReadAt(t.Context(), p, 0); err != nil || !bytes.Equal(p, data[:blockSize]) {
		t.Fatalf("the reader still holding the load: %v", err)
	}
	reader.Release()
	b.Wait()
	if st := b.Stats(); st.Cancelled != 0 {
		t.Errorf("%d loads cancelled though a reader held the block", st.Cancelled)
	}
	if !b.Cached(obj, 0) {
		t.Error("the block a reader read whole is not cached")
	}
}
