package cache_test

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/tierfs/tierfs/cache"
	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/memstore"
	"github.com/tierfs/tierfs/objstore/storetest"
)

// openGateStore's NewRangeReader tells entered it was called, then waits
// for gate whatever its context says (a request already on its way), and
// counts the calls that returned.
type openGateStore struct {
	*memstore.Store
	entered chan struct{}
	gate    chan struct{}
	done    atomic.Int64
}

func (s *openGateStore) NewRangeReader(ctx context.Context, key string, off, length int64, opts objstore.ReadOptions) (*objstore.Reader, error) {
	s.entered <- struct{}{}
	<-s.gate
	defer s.done.Add(1)
	return s.Store.NewRangeReader(ctx, key, off, length, opts)
}

// Wait covers a load cancelled while its goroutine still runs (it left the
// loads in progress at once, but may still count a fetch): before, Wait
// returned at once, and the load's counters moved after it.
func TestWaitCoversCancelledLoads(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ms, _ := memstore.FromMap(map[string][]byte{"obj": storetest.Data(6, blockSize)})
		s := &openGateStore{Store: ms, entered: make(chan struct{}, 1), gate: make(chan struct{})}
		b := newBlocks(t, s)
		obj, _ := ms.Stat(t.Context(), "obj")
		h, err := b.Load(t.Context(), obj, 0, cache.LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		<-s.entered
		h.Release() // nobody wants the load: cancelled, its goroutine in the store
		var waited atomic.Bool
		go func() {
			b.Wait()
			waited.Store(true)
		}()
		synctest.Wait()
		if waited.Load() {
			t.Error("Wait returned while a cancelled load's goroutine was still in the store")
		}
		close(s.gate)
		synctest.Wait()
		if !waited.Load() {
			t.Error("Wait did not return once the cancelled load had ended")
		}
		if st := b.Stats(); st.Cancelled != 1 || st.OriginFetches != 1 || s.done.Load() != 1 {
			t.Errorf("after Wait: %d cancelled, %d origin fetches counted, %d requests returned by the store; want 1 each", st.Cancelled, st.OriginFetches, s.done.Load())
		}
	})
}
