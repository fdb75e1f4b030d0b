package cache_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/tierfs/tierfs/cache"
	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/memstore"
	"github.com/tierfs/tierfs/objstore/storetest"
	"github.com/tierfs/tierfs/tier"
)

// partStore serves a memstore's objects, records the ranges asked, and
// fails the first request for a range that starts at failAt, if set.
type partStore struct {
	*memstore.Store
	mu     sync.Mutex
	ranges [][2]int64
	failAt int64
}

func (s *partStore) NewRangeReader(ctx context.Context, key string, off, length int64, opts objstore.ReadOptions) (*objstore.Reader, error) {
	s.mu.Lock()
	s.ranges = append(s.ranges, [2]int64{off, off + length})
	fail := s.failAt > 0 && off == s.failAt
	if fail {
		s.failAt = 0
	}
	s.mu.Unlock()
	if fail {
		return nil, errors.New("partStore: refused")
	}
	return s.Store.NewRangeReader(ctx, key, off, length, opts)
}

func (s *partStore) asked() [][2]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][2]int64(nil), s.ranges...)
}

// A load with Parts fetches the block in that many ranges at once, with
// exact bytes; a range that fails is fetched again with what follows it.
func TestLoadInParts(t *testing.T) {
	const bs = 4 << 20
	data := storetest.Data(3, 2*bs+bs/2)
	for _, tc := range []struct {
		name   string
		idx    int64
		failAt int64
		want   [][2]int64
	}{
		{"whole block in 2", 0, 0, [][2]int64{{0, bs / 2}, {bs / 2, bs}}},
		{"short last block in 2", 2, 0, [][2]int64{{2 * bs, 2*bs + bs/4}, {2*bs + bs/4, 2*bs + bs/2}}},
		{"second range fails", 1, bs + bs/2, [][2]int64{{bs, bs + bs/2}, {bs + bs/2, 2 * bs}, {bs + bs/2, 2 * bs}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ms, _ := memstore.FromMap(map[string][]byte{"obj": data})
			s := &partStore{Store: ms, failAt: tc.failAt}
			b, err := cache.New(cache.Config{Store: s, Tiers: []tier.Tier{newMapTier()}, BlockSize: bs})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			obj, _ := ms.Stat(t.Context(), "obj")
			h, err := b.Load(t.Context(), obj, tc.idx, cache.LoadOptions{Parts: 2})
			if err != nil {
				t.Fatal(err)
			}
			off, n, _ := cache.BlockSpan(tc.idx, obj.Size, bs)
			p := make([]byte, n)
			if _, err := h.ReadAt(t.Context(), p, 0); err != nil {
				t.Fatal(err)
			}
			h.Release()
			if !bytes.Equal(p, data[off:off+n]) {
				t.Fatal("wrong bytes")
			}
			b.Wait()
			got := s.asked()
			// The two ranges start at once, in either order.
			if len(got) >= 2 && got[0][0] > got[1][0] {
				got[0], got[1] = got[1], got[0]
			}
			if len(got) != len(tc.want) {
				t.Fatalf("ranges asked %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("ranges asked %v, want %v", got, tc.want)
				}
			}
			// The block is cached whole.
			q := make([]byte, n)
			if _, err := b.ReadAt(t.Context(), obj, q, off, cache.ReadOptions{}); (err != nil && err != io.EOF) || !bytes.Equal(q, p) {
				t.Fatalf("cached read: %v", err)
			}
			if len(s.asked()) != len(tc.want) {
				t.Errorf("reading the loaded block again asked the store: %v", s.asked())
			}
		})
	}
}
