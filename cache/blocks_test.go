package cache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/tierfs/tierfs/cache"
	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/memstore"
	"github.com/tierfs/tierfs/objstore/storetest"
	"github.com/tierfs/tierfs/tier"
)

// mapTier is the smallest correct tier.Tier: a map, no limit. The real
// tiers are tested by their own suites; here it lets the cache be watched.
type mapTier struct {
	mu     sync.Mutex // guards blocks and puts
	blocks map[string][]byte
	puts   int
}

func newMapTier() *mapTier { return &mapTier{blocks: map[string][]byte{}} }

func (m *mapTier) ReadAt(_ context.Context, key string, p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blocks[key]
	if !ok {
		return 0, tier.ErrMiss
	}
	if off > int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m *mapTier) Put(_ context.Context, key string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.blocks[key] = data
	m.puts++
	return nil
}

func (m *mapTier) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.blocks, key)
	return nil
}

func (m *mapTier) Contains(key string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.blocks[key]
	return ok
}

func (m *mapTier) Stats() tier.Stats { return tier.Stats{} }
func (m *mapTier) Close() error      { return nil }

func (m *mapTier) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.blocks)
}

const blockSize = 1 << 20

func setup(t *testing.T, size int, tiers ...tier.Tier) (*cache.Blocks, *memstore.Store, objstore.Object, []byte) {
	t.Helper()
	data := storetest.Data(1, size)
	s, err := memstore.FromMap(map[string][]byte{"obj": data})
	if err != nil {
		t.Fatal(err)
	}
	obj, err := s.Stat(t.Context(), "obj")
	if err != nil {
		t.Fatal(err)
	}
	b, err := cache.New(cache.Config{Store: s, StoreID: "mem://test", Tiers: tiers, BlockSize: blockSize})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, s, obj, data
}

// newBlocks returns a cache of blockSize blocks over s and tiers, closed
// when the test ends.
func newBlocks(t *testing.T, s objstore.Store, tiers ...tier.Tier) *cache.Blocks {
	t.Helper()
	b, err := cache.New(cache.Config{Store: s, Tiers: tiers, BlockSize: blockSize})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestReadAtExact(t *testing.T) {
	for _, tiers := range [][]tier.Tier{nil, {newMapTier()}, {newMapTier(), newMapTier()}} {
		t.Run(fmt.Sprintf("%d tiers", len(tiers)), func(t *testing.T) {
			const size = 5*blockSize + 12345
			b, _, obj, data := setup(t, size, tiers...)
			r := rand.New(rand.NewPCG(3, 4))
			for range 200 {
				off := r.Int64N(size + 10)
				p := make([]byte, r.IntN(3*blockSize))
				n, err := b.ReadAt(t.Context(), obj, p, off, cache.ReadOptions{})
				want := max(0, min(int64(len(p)), size-off))
				if int64(n) != want {
					t.Fatalf("ReadAt(off %d, len %d) = %d, want %d (%v)", off, len(p), n, want, err)
				}
				if int64(n) < int64(len(p)) && err != io.EOF {
					t.Fatalf("short ReadAt(off %d, len %d) = %d, %v; want io.EOF", off, len(p), n, err)
				}
				if int64(n) == int64(len(p)) && err != nil && !(err == io.EOF && off+int64(n) == size) {
					t.Fatalf("ReadAt(off %d, len %d): %v", off, len(p), err)
				}
				if !bytes.Equal(p[:n], data[min(off, size):min(off, size)+int64(n)]) {
					t.Fatalf("ReadAt(off %d, len %d): wrong bytes", off, len(p))
				}
			}
			if _, err := b.ReadAt(t.Context(), obj, make([]byte, 1), -1, cache.ReadOptions{}); !errors.Is(err, fs.ErrInvalid) {
				t.Errorf("negative offset: %v, want fs.ErrInvalid", err)
			}
		})
	}
}

// 16 goroutines reading random ranges of a 48 MiB object: exact bytes, and
// the origin sends each block once.
func TestConcurrentRandomRangesFetchOnce(t *testing.T) {
	const size = 48 << 20
	mt := newMapTier()
	b, s, obj, data := setup(t, size, mt)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 99))
			for range 100 {
				off := r.Int64N(size)
				p := make([]byte, min(r.Int64N(256<<10)+1, size-off))
				if _, err := b.ReadAt(t.Context(), obj, p, off, cache.ReadOptions{}); err != nil && err != io.EOF {
					errs <- err
					return
				}
				if !bytes.Equal(p, data[off:off+int64(len(p))]) {
					errs <- fmt.Errorf("wrong bytes at %d", off)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	sent := s.Total().BodyBytes
	if float64(sent) > 1.1*size {
		t.Errorf("origin sent %d bytes for a %d-byte object (%.2f×), want ≤ 1.1×", sent, size, float64(sent)/size)
	}
	if st := b.Stats(); st.OriginFetches > int64(cache.NumBlocks(size, blockSize)) {
		t.Errorf("%d origin GETs for %d blocks", st.OriginFetches, cache.NumBlocks(size, blockSize))
	}
}

// Concurrent misses of one block cause one origin GET, even when some
// waiters give up.
func TestSingleFlight(t *testing.T) {
	b, s, obj, data := setup(t, 3*blockSize, newMapTier())
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	s.SetHook(func(ctx context.Context, op, key string) error {
		if op == memstore.OpRead {
			select {
			case arrived <- struct{}{}:
			default:
			}
			select {
			case <-release:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	const readers = 8
	var wg sync.WaitGroup
	results := make(chan error, readers)
	quitters := make([]context.CancelFunc, 0, readers/2)
	for i := range readers {
		ctx, cancel := context.WithCancel(t.Context())
		if i%2 == 0 {
			quitters = append(quitters, cancel)
		} else {
			defer cancel()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := make([]byte, 1000)
			_, err := b.ReadAt(ctx, obj, p, blockSize+int64(i)*100, cache.ReadOptions{})
			if err == nil && !bytes.Equal(p, data[blockSize+int64(i)*100:][:1000]) {
				err = errors.New("wrong bytes")
			}
			results <- err
		}()
	}
	<-arrived // the one fetch has started and is held
	for _, q := range quitters {
		q()
	}
	// The quitters return with their ctx error while the fetch goes on.
	for range len(quitters) {
		if err := <-results; !errors.Is(err, context.Canceled) {
			t.Errorf("a reader that gave up got %v, want context.Canceled", err)
		}
	}
	close(release)
	wg.Wait()
	close(results)
	for err := range results {
		if err != nil {
			t.Errorf("a waiting reader got %v", err)
		}
	}
	if got := s.Stats("obj").Gets; got != 1 {
		t.Errorf("%d origin GETs for one block read by %d goroutines, want 1", got, readers)
	}
}

func TestVersionChanged(t *testing.T) {
	mt := newMapTier()
	b, s, obj, data := setup(t, 3*blockSize, mt)
	p := make([]byte, 100)
	if _, err := b.ReadAt(t.Context(), obj, p, 0, cache.ReadOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(t.Context(), "obj", bytes.NewReader(storetest.Data(2, 3*blockSize)), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	// Block 0 is cached for the pinned version: still served, same bytes.
	if _, err := b.ReadAt(t.Context(), obj, p, 50, cache.ReadOptions{}); err != nil || !bytes.Equal(p, data[50:150]) {
		t.Errorf("cached block of the pinned version: %v", err)
	}
	// Block 2 is not: the origin no longer has the version.
	if _, err := b.ReadAt(t.Context(), obj, p, 2*blockSize, cache.ReadOptions{}); !errors.Is(err, objstore.ErrChanged) {
		t.Errorf("uncached block of a replaced version: err = %v, want objstore.ErrChanged", err)
	}
	// The new version reads as itself, under its own keys.
	obj2, err := s.Stat(t.Context(), "obj")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.ReadAt(t.Context(), obj2, p, 0, cache.ReadOptions{}); err != nil || !bytes.Equal(p, storetest.Data(2, 100)) {
		t.Errorf("read of the new version: %v", err)
	}
}

func TestLowerTierFillsUpper(t *testing.T) {
	upper, lower := newMapTier(), newMapTier()
	b, s, obj, _ := setup(t, 2*blockSize, upper, lower)
	p := make([]byte, 10)
	if _, err := b.ReadAt(t.Context(), obj, p, 0, cache.ReadOptions{}); err != nil {
		t.Fatal(err)
	}
	b.Wait() // the read returns as soon as its bytes arrive; the fill follows
	if upper.len() != 1 || lower.len() != 1 {
		t.Fatalf("after one origin fetch: upper %d, lower %d blocks; want 1 and 1", upper.len(), lower.len())
	}
	// Lose the upper copy: the lower tier serves and refills it.
	upper.mu.Lock()
	clear(upper.blocks)
	upper.mu.Unlock()
	if _, err := b.ReadAt(t.Context(), obj, p, 5, cache.ReadOptions{}); err != nil {
		t.Fatal(err)
	}
	b.Wait()
	if upper.len() != 1 {
		t.Errorf("a lower-tier hit did not refill the upper tier")
	}
	if got := s.Stats("obj").Gets; got != 1 {
		t.Errorf("%d origin GETs, want 1", got)
	}
	st := b.Stats()
	if st.Tiers[0].Hits != 0 || st.Tiers[1].Hits != 1 || st.OriginFetches != 1 || st.Tiers[0].Promotions != 1 || st.Tiers[1].Promotions != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestFetchErrorsAndPanics(t *testing.T) {
	b, s, obj, data := setup(t, 2*blockSize)
	boom := errors.New("boom")
	// The first request and the store's reader's retries of it
	// (RetryPolicy's 5 by default) all fail.
	s.FailNext(memstore.OpRead, "obj", boom, 6)
	p := make([]byte, 10)
	if _, err := b.ReadAt(t.Context(), obj, p, 0, cache.ReadOptions{}); !errors.Is(err, boom) {
		t.Errorf("failed fetch: err = %v, want the cause", err)
	}
	s.SetHook(func(ctx context.Context, op, key string) error { panic("hook panics") })
	if _, err := b.ReadAt(t.Context(), obj, p, 0, cache.ReadOptions{}); err == nil {
		t.Error("a panicking fetch returned no error")
	}
	s.SetHook(nil)
	if _, err := b.ReadAt(t.Context(), obj, p, 0, cache.ReadOptions{}); err != nil || !bytes.Equal(p, data[:10]) {
		t.Errorf("after a failed and a panicking fetch: %v", err)
	}
}

func TestDropAndPrefetch(t *testing.T) {
	mt := newMapTier()
	b, s, obj, _ := setup(t, 3*blockSize+1, mt)
	for i := range cache.NumBlocks(obj.Size, blockSize) {
		if err := b.Ensure(t.Context(), obj, i); err != nil {
			t.Fatal(err)
		}
	}
	if mt.len() != 4 || s.Stats("obj").Gets != 4 {
		t.Fatalf("after prefetching 4 blocks: %d cached, %d GETs", mt.len(), s.Stats("obj").Gets)
	}
	if err := b.Ensure(t.Context(), obj, 0); err != nil || s.Stats("obj").Gets != 4 {
		t.Errorf("prefetch of a cached block fetched again (%v)", err)
	}
	if err := b.Ensure(t.Context(), obj, 4); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("prefetch past the end: %v, want fs.ErrInvalid", err)
	}
	if err := b.Drop(t.Context(), obj); err != nil || mt.len() != 0 {
		t.Errorf("Drop left %d blocks (%v)", mt.len(), err)
	}
}

func TestClose(t *testing.T) {
	b, _, obj, _ := setup(t, blockSize)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := b.ReadAt(t.Context(), obj, make([]byte, 1), 0, cache.ReadOptions{}); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("ReadAt after Close: %v, want fs.ErrClosed", err)
	}
}

func TestNewValidates(t *testing.T) {
	s := memstore.New()
	for _, cfg := range []cache.Config{
		{}, {Store: s, BlockSize: 1000}, {Store: s, BlockSize: 1 << 30}, {Store: s, FetchTimeout: -1}, {Store: s, Tiers: []tier.Tier{nil}},
	} {
		if _, err := cache.New(cfg); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("New(%+v): %v, want fs.ErrInvalid", cfg, err)
		}
	}
}

// Close cancels a shared fetch that no caller waits for any more, instead
// of waiting out its timeout.
func TestCloseCancelsFetches(t *testing.T) {
	b, s, obj, _ := setup(t, blockSize)
	started := make(chan struct{})
	s.SetHook(func(ctx context.Context, op, key string) error {
		if op == memstore.OpRead {
			close(started)
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() {
		_, err := b.ReadAt(ctx, obj, make([]byte, 1), 0, cache.ReadOptions{})
		done <- err
	}()
	<-started
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("reader: %v", err)
	}
	closed := make(chan struct{})
	go func() { b.Close(); close(closed) }()
	<-closed // hangs until the test times out if Close waits for the fetch's own timeout
}

// gatedStore serves a memstore's objects with bodies that stop after the
// first `free` bytes until gate is closed.
type gatedStore struct {
	*memstore.Store
	free int64
	gate chan struct{}
}

type gatedBody struct {
	r    io.Reader
	left int64
	gate chan struct{}
}

func (b *gatedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		<-b.gate
		return b.r.Read(p)
	}
	n, err := b.r.Read(p[:min(int64(len(p)), b.left)])
	b.left -= int64(n)
	return n, err
}

func (b *gatedBody) Close() error { return nil }

func (g *gatedStore) NewRangeReader(ctx context.Context, key string, off, length int64, opts objstore.ReadOptions) (*objstore.Reader, error) {
	open := func(ctx context.Context, off, length int64, v objstore.Version) (io.ReadCloser, objstore.Object, error) {
		r, err := g.Store.NewRangeReader(ctx, key, off, length, objstore.ReadOptions{Version: v})
		if err != nil {
			return nil, objstore.Object{}, err
		}
		return &gatedBody{r: r, left: g.free, gate: g.gate}, r.Object(), nil
	}
	return objstore.NewReader(ctx, key, off, length, opts, objstore.RetryPolicy{StallTimeout: -1}, open)
}

// The first bytes of a block are served while the rest is still coming.
func TestFirstBytesBeforeWholeBlock(t *testing.T) {
	data := storetest.Data(1, 2*blockSize)
	ms, _ := memstore.FromMap(map[string][]byte{"obj": data})
	gs := &gatedStore{Store: ms, free: 300 << 10, gate: make(chan struct{})}
	b := newBlocks(t, gs, newMapTier())
	obj, _ := ms.Stat(t.Context(), "obj")
	p := make([]byte, 1000)
	// Returns although the body is held after 300 KiB of the 1 MiB block.
	if _, err := b.ReadAt(t.Context(), obj, p, 100, cache.ReadOptions{}); err != nil || !bytes.Equal(p, data[100:1100]) {
		t.Fatalf("first bytes: %v", err)
	}
	// A read further into the held block waits; release it.
	done := make(chan error)
	go func() {
		_, err := b.ReadAt(t.Context(), obj, p, 900<<10, cache.ReadOptions{})
		done <- err
	}()
	close(gs.gate)
	if err := <-done; err != nil || !bytes.Equal(p, data[900<<10:900<<10+1000]) {
		t.Fatalf("later bytes: %v", err)
	}
	if got := ms.Stats("obj").Gets; got != 1 {
		t.Errorf("%d GETs, want 1", got)
	}
}

// Sparse reads fetch exactly what they ask for and keep it as extents: a
// second pass over the same offsets costs no request. A sparse read of a
// block cached whole is a hit.
func TestSparseCachedAsExtents(t *testing.T) {
	b, s, obj, data := setup(t, 4*blockSize, newMapTier())
	r := rand.New(rand.NewPCG(1, 1))
	type rd struct{ off, n int64 }
	var reads []rd
	var asked int64
	for range 100 {
		n := 4<<10 + r.Int64N(60<<10)
		reads = append(reads, rd{r.Int64N(obj.Size - n), n})
		asked += n
	}
	for pass := range 2 {
		s.ResetStats()
		for _, x := range reads {
			p := make([]byte, x.n)
			if _, err := b.ReadAt(t.Context(), obj, p, x.off, cache.ReadOptions{Sparse: true}); err != nil || !bytes.Equal(p, data[x.off:x.off+x.n]) {
				t.Fatalf("pass %d: sparse read at %d+%d: %v", pass, x.off, x.n, err)
			}
		}
		st := s.Total()
		if pass == 0 && (st.BodyBytes > asked || st.Gets > int64(len(reads))) {
			t.Errorf("first pass: origin sent %d bytes in %d GETs for %d bytes asked in %d reads", st.BodyBytes, st.Gets, asked, len(reads))
		}
		if pass == 1 && st.Requests != 0 {
			t.Errorf("second pass over the same offsets: %d requests, want 0", st.Requests)
		}
	}
	if st := b.Stats(); st.ExtentHits < 100 || st.Extents == 0 {
		t.Errorf("stats %+v: want ≥ 100 extent hits", st)
	}
	// Once the block is cached whole, a sparse read is a hit.
	if err := b.Ensure(t.Context(), obj, 2); err != nil {
		t.Fatal(err)
	}
	s.ResetStats()
	p := make([]byte, 100)
	off := int64(2*blockSize + 5)
	if _, err := b.ReadAt(t.Context(), obj, p, off, cache.ReadOptions{Sparse: true}); err != nil || !bytes.Equal(p, data[off:][:100]) {
		t.Fatal(err)
	}
	if s.Total().Gets != 0 {
		t.Error("a sparse read of a cached block went to the origin")
	}
}

// An extent evicted from the tiers is found missing, forgotten and
// fetched again; the index holds at most MaxExtents and deletes the ones
// it forgets from the tiers.
func TestExtentsBounded(t *testing.T) {
	data := storetest.Data(1, 4*blockSize)
	s, _ := memstore.FromMap(map[string][]byte{"obj": data})
	obj, _ := s.Stat(t.Context(), "obj")
	mt := newMapTier()
	b, err := cache.New(cache.Config{Store: s, Tiers: []tier.Tier{mt}, BlockSize: blockSize, MaxExtents: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	p := make([]byte, 10)
	for i := range 5 {
		if _, err := b.ReadAt(t.Context(), obj, p, int64(i)*1000, cache.ReadOptions{Sparse: true}); err != nil {
			t.Fatal(err)
		}
	}
	if st := b.Stats(); st.Extents != 3 || mt.len() != 3 {
		t.Fatalf("%d extents indexed, %d in the tier; want 3 and 3", st.Extents, mt.len())
	}
	mt.mu.Lock()
	clear(mt.blocks)
	mt.mu.Unlock()
	s.ResetStats()
	if _, err := b.ReadAt(t.Context(), obj, p, 4000, cache.ReadOptions{Sparse: true}); err != nil || !bytes.Equal(p, data[4000:4010]) {
		t.Fatal(err)
	}
	if s.Total().Gets != 1 {
		t.Errorf("an evicted extent: %d GETs, want 1", s.Total().Gets)
	}
}

// A sparse read across blocks that no tier holds is one GET; the blocks
// it covers whole are kept as blocks, its ends as extents. A later read
// that overlaps it fetches only the part no tier holds. A failed fetch
// reports the bytes before it.
func TestPartialAcrossBlocks(t *testing.T) {
	mt := newMapTier()
	b, s, obj, data := setup(t, 6*blockSize, mt)
	sparse := cache.ReadOptions{Sparse: true}
	off, n := int64(blockSize/2), int64(4*blockSize)
	p := make([]byte, n)
	if got, err := b.ReadAt(t.Context(), obj, p, off, sparse); err != nil || got != len(p) || !bytes.Equal(p, data[off:off+n]) {
		t.Fatalf("sparse read across 5 blocks: %d, %v", got, err)
	}
	if st := s.Total(); st.Gets != 1 || st.BodyBytes != n {
		t.Errorf("sparse read across 5 blocks: %d GETs, %d bytes; want 1 GET of %d", st.Gets, st.BodyBytes, n)
	}
	if st := b.Stats(); st.Extents != 2 || mt.len() != 5 {
		t.Errorf("after it: %d extents, %d tier entries; want 2 extents and 3 whole blocks", st.Extents, mt.len())
	}
	// Shifted by 3 bytes: block 0's part and blocks 1–3 are held; block
	// 4's part is 3 bytes longer than its extent: its extent serves all
	// but those 3, which are fetched.
	s.ResetStats()
	off += 3
	clear(p)
	if _, err := b.ReadAt(t.Context(), obj, p, off, sparse); err != nil || !bytes.Equal(p, data[off:off+n]) {
		t.Fatalf("overlapping sparse read: %v", err)
	}
	if st := s.Total(); st.Gets != 1 || st.BodyBytes != 3 {
		t.Errorf("overlapping sparse read: %d GETs of %d bytes; want 1 of 3", st.Gets, st.BodyBytes)
	}
	// Block 3 (held), block 4 (its first half and 3 bytes held as
	// extents) and 5 (not): the run after the extents fails; the bytes
	// before it are reported.
	s.FailNext(memstore.OpRead, "obj", fs.ErrPermission, 1)
	p = make([]byte, 3*blockSize)
	got, err := b.ReadAt(t.Context(), obj, p, 3*blockSize, sparse)
	if want := blockSize + blockSize/2 + 3; !errors.Is(err, fs.ErrPermission) || got != want || !bytes.Equal(p[:got], data[3*blockSize:3*blockSize+want]) {
		t.Errorf("failed run: %d, %v; want %d bytes and fs.ErrPermission", got, err, want)
	}
}

// A block loaded Once is not offered to the memory tiers (OnceTiers) the
// first time, only to the tiers below; loaded again, it is.
func TestOnceAdmitsOnSecondLoad(t *testing.T) {
	data := storetest.Data(3, 2*blockSize)
	s, _ := memstore.FromMap(map[string][]byte{"obj": data})
	obj, _ := s.Stat(t.Context(), "obj")
	mem, disk := newMapTier(), newMapTier()
	b, err := cache.New(cache.Config{Store: s, Tiers: []tier.Tier{mem, disk}, OnceTiers: 1, BlockSize: blockSize})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	load := func() {
		t.Helper()
		h, err := b.Load(t.Context(), obj, 1, cache.LoadOptions{Once: true})
		if err != nil {
			t.Fatal(err)
		}
		p := make([]byte, 100)
		if _, err := h.ReadAt(t.Context(), p, 0); err != nil || !bytes.Equal(p, data[blockSize:][:100]) {
			t.Fatalf("read: %v", err)
		}
		<-h.Done() // released before its end, the load would be cancelled
		h.Release()
		b.Wait()
	}
	load()
	if mem.len() != 0 || disk.len() != 1 || b.Stats().AdmitDeferred != 1 {
		t.Errorf("first load: memory %d, disk %d blocks, %+v; want 0 and 1", mem.len(), disk.len(), b.Stats())
	}
	load() // from the disk tier, and now into memory
	if mem.len() != 1 || s.Stats("obj").Gets != 1 {
		t.Errorf("second load: memory %d blocks, %d GETs; want 1 and 1", mem.len(), s.Stats("obj").Gets)
	}
	if _, err := cache.New(cache.Config{Store: s, Tiers: []tier.Tier{mem}, OnceTiers: 2}); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("OnceTiers past the tiers: %v", err)
	}

	// An object under OnceMinSize is kept by the memory tier at once.
	mem2, disk2 := newMapTier(), newMapTier()
	small, err := cache.New(cache.Config{Store: s, Tiers: []tier.Tier{mem2, disk2}, OnceTiers: 1, OnceMinSize: obj.Size + 1, BlockSize: blockSize})
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	h, err := small.Load(t.Context(), obj, 0, cache.LoadOptions{Once: true})
	if err != nil {
		t.Fatal(err)
	}
	<-h.Done()
	h.Release()
	small.Wait()
	if mem2.len() != 1 || disk2.len() != 1 || small.Stats().AdmitDeferred != 0 {
		t.Errorf("an object under OnceMinSize: memory %d, disk %d blocks, %d deferred; want 1, 1, 0", mem2.len(), disk2.len(), small.Stats().AdmitDeferred)
	}
}

// A sparse read served again from the extent the first one cached is a
// hit of the tier that holds the extent, not a miss: the lookup counts
// follow where the bytes came from.
func TestExtentHitCountsAsTierHit(t *testing.T) {
	data := storetest.Data(5, 2*blockSize)
	s, _ := memstore.FromMap(map[string][]byte{"obj": data})
	obj, _ := s.Stat(t.Context(), "obj")
	b := newBlocks(t, s, newMapTier())
	p := make([]byte, 1000)
	for pass := range 2 {
		if _, err := b.ReadAt(t.Context(), obj, p, 5000, cache.ReadOptions{Sparse: true}); err != nil || !bytes.Equal(p, data[5000:6000]) {
			t.Fatalf("pass %d: %v", pass, err)
		}
	}
	st := b.Stats()
	if ts := st.Tiers[0]; ts.Hits != 1 || ts.Misses != 1 || ts.BytesServed != 1000 || st.ExtentHits != 1 || s.Stats("obj").Gets != 1 {
		t.Errorf("after a cold and a cached sparse read: %+v, %d extent hits, %d GETs; want 1 hit, 1 miss, 1000 bytes served, 1 extent hit, 1 GET", ts, st.ExtentHits, s.Stats("obj").Gets)
	}
}

// A block loaded after sparse reads cached extents of it takes their
// bytes from the tiers and fetches only the gaps (an extent under minGap,
// 256 KiB, is fetched again with its gap): no byte of an extent big
// enough is fetched twice, and the block is exact.
func TestLoadFillsGapsAroundExtents(t *testing.T) {
	data := storetest.Data(9, 2*blockSize)
	s, _ := memstore.FromMap(map[string][]byte{"obj": data})
	obj, _ := s.Stat(t.Context(), "obj")
	b := newBlocks(t, s, newMapTier())
	sparse := func(off, n int64) {
		t.Helper()
		p := make([]byte, n)
		if _, err := b.ReadAt(t.Context(), obj, p, off, cache.ReadOptions{Sparse: true}); err != nil || !bytes.Equal(p, data[off:off+n]) {
			t.Fatalf("sparse read at %d: %v", off, err)
		}
	}
	sparse(300<<10, 300<<10) // an extent worth keeping
	sparse(700<<10, 10<<10)  // one fetched again with its gap
	before := s.Stats("obj")
	p := make([]byte, blockSize)
	if _, err := b.ReadAt(t.Context(), obj, p, 0, cache.ReadOptions{}); err != nil || !bytes.Equal(p, data[:blockSize]) {
		t.Fatalf("block read: %v", err)
	}
	b.Wait()
	after := s.Stats("obj")
	gets, body := after.Gets-before.Gets, after.BodyBytes-before.BodyBytes
	if gets != 2 || body != blockSize-300<<10 {
		t.Errorf("the load fetched %d bytes in %d GETs; want the %d bytes around the 300 KiB extent in 2", body, gets, blockSize-300<<10)
	}
	// The whole block is cached now: read again, no request.
	if _, err := b.ReadAt(t.Context(), obj, p, 0, cache.ReadOptions{}); err != nil || !bytes.Equal(p, data[:blockSize]) || s.Stats("obj").Gets != after.Gets {
		t.Errorf("second block read: %v, %d GETs more", err, s.Stats("obj").Gets-after.Gets)
	}
}
