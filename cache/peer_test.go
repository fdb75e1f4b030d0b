package cache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/tierfs/tierfs/cache"
	"github.com/tierfs/tierfs/objstore/memstore"
	"github.com/tierfs/tierfs/objstore/storetest"
	"github.com/tierfs/tierfs/tier"
)

// fakePeers serves blocks from a map of whole objects, delivering at most
// limit bytes of a block (then failing), or ErrNoPeer for blocks it does
// not have. It stands in for the peer ring at the cache's own interface.
type fakePeers struct {
	data   []byte
	limit  int64 // bytes of a block delivered before failing; <0: all
	gate   chan struct{}
	asking chan struct{} // if not nil, gets a value when a fetch starts

	mu    sync.Mutex // guards asked
	asked []int64
}

func (p *fakePeers) Fetch(ctx context.Context, ref cache.BlockRef, dst []byte, from int64, progress func(int64)) (int64, error) {
	p.mu.Lock()
	p.asked = append(p.asked, ref.Index)
	p.mu.Unlock()
	if p.asking != nil {
		p.asking <- struct{}{}
	}
	if p.data == nil {
		return from, fmt.Errorf("fake: %w", cache.ErrNoPeer)
	}
	if p.gate != nil {
		select {
		case <-p.gate:
		case <-ctx.Done():
			return from, ctx.Err()
		}
	}
	off := ref.Index * ref.BlockSize
	end := int64(len(dst))
	if p.limit >= 0 {
		end = min(end, p.limit)
	}
	copy(dst[from:end], p.data[off+from:off+end])
	progress(end)
	if end < int64(len(dst)) {
		return end, errors.New("fake: peer went away")
	}
	return end, nil
}

func peerSetup(t *testing.T, peers *fakePeers, tiers ...tier.Tier) (*cache.Blocks, *memstore.Store, []byte) {
	t.Helper()
	data := storetest.Data(9, 4*blockSize)
	s, _ := memstore.FromMap(map[string][]byte{"obj": data})
	if peers.data != nil {
		peers.data = data
	}
	b, err := cache.New(cache.Config{Store: s, Tiers: tiers, Peers: peers, BlockSize: blockSize})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, s, data
}

// Peers are asked after the tiers and before the origin; a block a peer
// served fills the tiers, so the next read is a tier hit.
func TestPeersBetweenTiersAndOrigin(t *testing.T) {
	peers := &fakePeers{data: []byte{}, limit: -1}
	mt := newMapTier()
	b, s, data := peerSetup(t, peers, mt)
	obj, _ := s.Stat(t.Context(), "obj")
	p := make([]byte, 1000)
	if _, err := b.ReadAt(t.Context(), obj, p, blockSize+10, cache.ReadOptions{}); err != nil || !bytes.Equal(p, data[blockSize+10:][:1000]) {
		t.Fatalf("read through a peer: %v", err)
	}
	b.Wait()
	if _, err := b.ReadAt(t.Context(), obj, p, blockSize+10, cache.ReadOptions{}); err != nil {
		t.Fatal(err)
	}
	st := b.Stats()
	if s.Total().Gets != 0 || st.PeerHits != 1 || len(peers.asked) != 1 || st.Tiers[0].Hits != 1 || st.PeerBytesServed != 1000 {
		t.Errorf("origin GETs %d, peers asked %v, stats %+v", s.Total().Gets, peers.asked, st)
	}
}

// A peer that fails part-way: the origin is asked for the rest only.
func TestPeerFailureResumesAtOrigin(t *testing.T) {
	peers := &fakePeers{data: []byte{}, limit: 300 << 10}
	b, s, data := peerSetup(t, peers)
	obj, _ := s.Stat(t.Context(), "obj")
	p := make([]byte, blockSize)
	if _, err := b.ReadAt(t.Context(), obj, p, 0, cache.ReadOptions{}); err != nil || !bytes.Equal(p, data[:blockSize]) {
		t.Fatalf("read: %v", err)
	}
	if st := s.Total(); st.Gets != 1 || st.BodyBytes != blockSize-300<<10 {
		t.Errorf("origin: %+v; want one GET of the %d bytes after the peer's", st, blockSize-300<<10)
	}
	if st := b.Stats(); st.PeerErrors != 1 || st.PeerBytesServed != 300<<10 || st.OriginBytesServed != blockSize-300<<10 {
		t.Errorf("stats %+v", st)
	}
}

// No peer for a block (ErrNoPeer) is not an error: straight to the origin.
func TestNoPeer(t *testing.T) {
	peers := &fakePeers{limit: -1}
	b, s, _ := peerSetup(t, peers)
	obj, _ := s.Stat(t.Context(), "obj")
	if _, err := b.ReadAt(t.Context(), obj, make([]byte, 10), 0, cache.ReadOptions{}); err != nil {
		t.Fatal(err)
	}
	if st := b.Stats(); st.PeerErrors != 0 || s.Total().Gets != 1 {
		t.Errorf("stats %+v", st)
	}
}

// A load for a peer (Local) never asks the peers, and refuses to join a
// load that is itself waiting on a peer, which could be waiting on this
// member: two members with different views would wait on each other.
func TestLocalLoadRefusesPeerWait(t *testing.T) {
	peers := &fakePeers{data: []byte{}, limit: -1, gate: make(chan struct{}), asking: make(chan struct{}, 8)}
	b, s, data := peerSetup(t, peers)
	obj, _ := s.Stat(t.Context(), "obj")
	h, err := b.Load(t.Context(), obj, 2, cache.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	<-peers.asking // the load is waiting on the peer
	if _, err := b.Load(t.Context(), obj, 2, cache.LoadOptions{Local: true}); !errors.Is(err, cache.ErrPeerWait) {
		t.Errorf("local load of a block waiting on a peer: %v, want ErrPeerWait", err)
	}
	lh, err := b.Load(t.Context(), obj, 3, cache.LoadOptions{Local: true})
	if err != nil {
		t.Fatal(err)
	}
	defer lh.Release()
	p := make([]byte, 100)
	if _, err := lh.ReadAt(t.Context(), p, 0); err != nil || !bytes.Equal(p, data[3*blockSize:][:100]) {
		t.Fatalf("local load: %v", err)
	}
	close(peers.gate)
	if _, err := h.ReadAt(t.Context(), p, 0); err != nil || !bytes.Equal(p, data[2*blockSize:][:100]) {
		t.Fatalf("peer load: %v", err)
	}
	peers.mu.Lock()
	defer peers.mu.Unlock()
	if len(peers.asked) != 1 || peers.asked[0] != 2 {
		t.Errorf("peers asked for %v; want block 2 only", peers.asked)
	}
}

// ownerPeers owns every block (cache.Owner): the lookup never calls Fetch
// and never marks a load as waiting on a peer, so a peer's Local load of
// the block joins it.
type ownerPeers struct{ fakePeers }

func (*ownerPeers) Owns(cache.BlockRef) bool { return true }

func TestOwnedBlockSkipsPeers(t *testing.T) {
	data := storetest.Data(9, 2*blockSize)
	s, _ := memstore.FromMap(map[string][]byte{"obj": data})
	obj, _ := s.Stat(t.Context(), "obj")
	peers := &ownerPeers{fakePeers{limit: -1}}
	b, err := cache.New(cache.Config{Store: s, Peers: peers, BlockSize: blockSize})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	release := make(chan struct{})
	s.SetHook(func(ctx context.Context, op, key string) error {
		if op == memstore.OpRead {
			<-release
		}
		return nil
	})
	h, err := b.Load(t.Context(), obj, 1, cache.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	lh, err := b.Load(t.Context(), obj, 1, cache.LoadOptions{Local: true})
	if err != nil {
		t.Fatalf("a peer's load of an owned block being loaded: %v, want it joined", err)
	}
	defer lh.Release()
	close(release)
	p := make([]byte, 100)
	if _, err := lh.ReadAt(t.Context(), p, 0); err != nil || !bytes.Equal(p, data[blockSize:][:100]) {
		t.Fatalf("read: %v", err)
	}
	peers.mu.Lock()
	defer peers.mu.Unlock()
	if len(peers.asked) != 0 || s.Stats("obj").Gets != 1 {
		t.Errorf("peers asked %v, %d GETs; want none and 1", peers.asked, s.Stats("obj").Gets)
	}
}
