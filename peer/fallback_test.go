package peer

import (
	"bytes"
	"context"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tierfs/tierfs/cache"
	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/memstore"
)

// trackStore counts the range reads open at once, from the call until the
// body is closed, and the most there were.
type trackStore struct {
	objstore.Store
	open, peak atomic.Int64
}

func (s *trackStore) NewRangeReader(ctx context.Context, key string, off, length int64, opts objstore.ReadOptions) (*objstore.Reader, error) {
	n := s.open.Add(1)
	for p := s.peak.Load(); n > p && !s.peak.CompareAndSwap(p, n); p = s.peak.Load() {
	}
	r, err := s.Store.NewRangeReader(ctx, key, off, length, opts)
	if err != nil {
		s.open.Add(-1)
		return nil, err
	}
	open := func(context.Context, int64, int64, objstore.Version) (io.ReadCloser, objstore.Object, error) {
		return &releaser{ReadCloser: r, release: sync.OnceFunc(func() { s.open.Add(-1) })}, r.Object(), nil
	}
	return objstore.NewReader(ctx, key, off, length, opts, objstore.RetryPolicy{MaxResumes: -1, StallTimeout: -1}, open)
}

// crash stops m as a killed process would stop: no leave, no answers to
// gossip or block requests. The others hold it in their views until
// memberlist declares it dead.
// (Close after it does nothing.)
func crash(t *testing.T, m *member) {
	t.Helper()
	m.closed.Store(true)
	m.cancel()
	m.hmu.Lock()
	m.stopping = true
	m.hmu.Unlock()
	m.srv.Close()
	m.handlers.Wait()
	if err := m.ml.Shutdown(); err != nil {
		t.Fatal(err)
	}
	m.wg.Wait()
	m.client.CloseIdleConnections()
}

// TestFallbacksCapped: a member owning a third of an object's blocks
// crashes; a reader's loads of its blocks all fall back to the origin at
// once, and MaxFallbacks of them run at a time (without a cap, all of
// them do). Every byte is exact and each fallback is counted.
func TestFallbacksCapped(t *testing.T) {
	for _, tc := range []struct {
		name string
		max  int
	}{{"capped at 3", 3}, {"no cap", -1}} {
		t.Run(tc.name, func(t *testing.T) {
			store := memstore.New()
			obj, data := putObject(t, store, "herd.bin", 48*testBlock)
			track := &trackStore{Store: store}
			a := startMember(t, track, func() Config { c := testConfig(); c.Name, c.MaxFallbacks = "a", tc.max; return c }())
			victim := startMember(t, store, func() Config { c := testConfig(a.GossipAddr()); c.Name = "victim"; return c }())
			waitRing(t, []*member{a, victim}, 2)
			var owned []int64
			v := a.View()
			for i := range cache.NumBlocks(obj.Size, testBlock) {
				if p, _ := a.owners(v, obj, i); v.Nodes[p].Name == victim.Name() {
					owned = append(owned, i)
				}
			}
			if len(owned) < 8 {
				t.Fatalf("the victim owns %d blocks; want at least 8", len(owned))
			}
			crash(t, victim)
			store.SetLatency(20 * time.Millisecond)
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			var wg sync.WaitGroup
			for _, idx := range owned {
				wg.Go(func() {
					got := make([]byte, testBlock)
					if _, err := a.blocks.ReadAt(ctx, obj, got, idx*testBlock, cache.ReadOptions{}); err != nil {
						t.Errorf("block %d: %v", idx, err)
					} else if !bytes.Equal(got, data[idx*testBlock:(idx+1)*testBlock]) {
						t.Errorf("block %d: wrong bytes", idx)
					}
				})
			}
			wg.Wait()
			a.blocks.Wait() // the loads close their origin reads as they end
			s := a.Stats()
			peak := track.peak.Load()
			t.Logf("%d blocks of the crashed owner read at once: %d origin loads at most at once; %d fallbacks, %d waited; by cause %+v",
				len(owned), peak, s.OriginFallbacks, s.FallbackWaits, s.Fallbacks)
			if track.open.Load() != 0 {
				t.Errorf("%d origin reads left open", track.open.Load())
			}
			if s.OriginFallbacks != int64(len(owned)) {
				t.Errorf("%d origin fallbacks counted; want %d (one per block of the crashed owner)", s.OriginFallbacks, len(owned))
			}
			if tc.max > 0 {
				if peak > int64(tc.max) {
					t.Errorf("%d origin loads at once; want ≤ MaxFallbacks = %d", peak, tc.max)
				}
				if s.FallbackWaits == 0 {
					t.Error("no fallback waited for a slot")
				}
			} else if peak <= 3 {
				t.Errorf("without a cap, %d origin loads at once; the herd this test caps did not form", peak)
			}
		})
	}
}
