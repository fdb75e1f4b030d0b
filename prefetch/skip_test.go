package prefetch_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/tierfs/tierfs/cache"
	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/memstore"
	"github.com/tierfs/tierfs/objstore/storetest"
	"github.com/tierfs/tierfs/prefetch"
	"github.com/tierfs/tierfs/tier"
)

// What a skip costs: the reader of a skip pattern (read a run, jump past a
// gap, read on) is charged for no bytes it skipped in the block it lands
// in, and for no more than had arrived of the block it left.

// rangeStore serves a memstore's objects and records every range fetched.
// The bodies of ranges that start in [holdFrom, holdTo) stop after their
// first `free` bytes until the fetch is cancelled.
type rangeStore struct {
	*memstore.Store
	holdFrom, holdTo, free int64

	mu     sync.Mutex
	ranges [][2]int64              // [off, end) of each range fetched
	held   map[int64]chan struct{} // closed when the body of a range at off stops at free
}

// heldAt returns a channel closed once a range starting at off has given
// its free bytes to the reader (who has written them where it keeps them)
// and waits.
func (s *rangeStore) heldAt(off int64) chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held == nil {
		s.held = map[int64]chan struct{}{}
	}
	if s.held[off] == nil {
		s.held[off] = make(chan struct{})
	}
	return s.held[off]
}

// markHeld closes heldAt(off), once.
func (s *rangeStore) markHeld(off int64) {
	ch := s.heldAt(off)
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-ch:
	default:
		close(ch)
	}
}

func (s *rangeStore) NewRangeReader(ctx context.Context, key string, off, length int64, opts objstore.ReadOptions) (*objstore.Reader, error) {
	open := func(ctx context.Context, off, length int64, v objstore.Version) (io.ReadCloser, objstore.Object, error) {
		s.mu.Lock()
		s.ranges = append(s.ranges, [2]int64{off, off + length})
		s.mu.Unlock()
		r, err := s.Store.NewRangeReader(ctx, key, off, length, objstore.ReadOptions{Version: v})
		if err != nil {
			return nil, objstore.Object{}, err
		}
		left := int64(-1)
		var held func()
		if off >= s.holdFrom && off < s.holdTo {
			left, held = s.free, func() { s.markHeld(off) }
		}
		return &heldBody{ctx: ctx, r: r, left: left, held: held}, r.Object(), nil
	}
	return objstore.NewReader(ctx, key, off, length, opts, objstore.RetryPolicy{StallTimeout: -1}, open)
}

// fetched returns the ranges fetched so far.
func (s *rangeStore) fetched() [][2]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][2]int64(nil), s.ranges...)
}

// heldBody reads r; with left ≥ 0, only that many bytes, and then calls
// held and waits for ctx.
type heldBody struct {
	ctx  context.Context
	r    io.ReadCloser
	left int64
	held func()
}

func (b *heldBody) Read(p []byte) (int, error) {
	if b.left == 0 {
		// The reader asks for more: it has taken all the bytes before.
		b.held()
		<-b.ctx.Done()
		return 0, b.ctx.Err()
	}
	if b.left > 0 {
		p = p[:min(int64(len(p)), b.left)]
	}
	n, err := b.r.Read(p)
	if b.left > 0 {
		b.left -= int64(n)
	}
	return n, err
}

func (b *heldBody) Close() error { return b.r.Close() }

const skipBS = 1 << 20 // blocks large enough that a load announces bytes before its end

// skipEnv is a cache with a memory tier over a rangeStore, and a
// prefetcher.
type skipEnv struct {
	store  *rangeStore
	blocks *cache.Blocks
	p      *prefetch.Prefetcher
	obj    objstore.Object
	data   []byte
}

func newSkipEnv(t *testing.T, blocks int, holdFrom, holdTo, free int64) *skipEnv {
	return newSkipEnvConfig(t, blocks, holdFrom, holdTo, free, prefetch.Config{MaxWindow: 8 * skipBS})
}

func newSkipEnvConfig(t *testing.T, blocks int, holdFrom, holdTo, free int64, cfg prefetch.Config) *skipEnv {
	t.Helper()
	data := storetest.Data(7, blocks*skipBS)
	ms, err := memstore.FromMap(map[string][]byte{"obj": data})
	if err != nil {
		t.Fatal(err)
	}
	s := &rangeStore{Store: ms, holdFrom: holdFrom, holdTo: holdTo, free: free}
	obj, _ := ms.Stat(t.Context(), "obj")
	budget := prefetch.NewBudget(256 << 20)
	b, err := cache.New(cache.Config{Store: s, Tiers: []tier.Tier{newMemoryTier(t)}, BlockSize: skipBS, Budget: budget})
	if err != nil {
		t.Fatal(err)
	}
	p, err := prefetch.New(cfg, b, budget, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.Close()
		p.Close()
	})
	return &skipEnv{store: s, blocks: b, p: p, obj: obj, data: data}
}

// readRun reads [from, to) in 64 KiB reads and checks the bytes.
func (e *skipEnv) readRun(t *testing.T, r *prefetch.Reader, from, to int64) {
	t.Helper()
	p := make([]byte, 64<<10)
	for off := from; off < to; off += int64(len(p)) {
		q := p[:min(int64(len(p)), to-off)]
		if _, err := r.ReadAt(q, off); err != nil && err != io.EOF {
			t.Fatalf("read at %d: %v", off, err)
		}
		if !bytes.Equal(q, e.data[off:off+int64(len(q))]) {
			t.Fatalf("wrong bytes at %d", off)
		}
	}
}

// waitLoads waits, for at most 10 s, until no load is running.
func (e *skipEnv) waitLoads(t *testing.T) {
	t.Helper()
	done := make(chan struct{})
	go func() { e.blocks.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("loads still running 10 s after the reader left them: %+v", e.blocks.Stats())
	}
}

// A stream that begins inside a block never fetches the bytes of that
// block before its start: the skip landed past them.
func TestStreamInsideBlockSkipsItsStart(t *testing.T) {
	e := newSkipEnv(t, 32, 0, 0, 0)
	r, err := e.p.NewReader(t.Context(), e.obj)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	start := int64(10*skipBS + skipBS/2)
	e.readRun(t, r, start, start+8*skipBS)
	e.waitLoads(t)
	for _, rg := range e.store.fetched() {
		if rg[0] < start && rg[1] > 10*skipBS {
			t.Errorf("fetched [%d, %d): bytes of block 10 before the stream's start %d", rg[0], rg[1], start)
		}
	}
}

// A reader that jumps away in the middle of a block it is loading stops
// that load and the loads ahead of it; what had arrived of the block it
// read from is kept, so coming back fetches only the rest.
// Both when the jump starts a new stream and when it is a skip within
// Config.Forward that continues the stream.
func TestJumpStopsTheBlockLeft(t *testing.T) {
	for _, to := range []int64{20, 40} {
		t.Run(fmt.Sprintf("to block %d", to), func(t *testing.T) { testJumpStops(t, to*skipBS) })
	}
}

func testJumpStops(t *testing.T, to int64) {
	const free = 512 << 10
	// Ranges from block 8 to 15 stop after their first 512 KiB.
	e := newSkipEnv(t, 48, 8*skipBS, 16*skipBS, free)
	r, err := e.p.NewReader(t.Context(), e.obj)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	leftAt := int64(8*skipBS + 256<<10)
	e.readRun(t, r, 0, leftAt)
	// Block 8's load has received its free bytes (only then does the
	// jump leave them kept: on a loaded machine the read at leftAt comes
	// while fewer have arrived).
	select {
	case <-e.store.heldAt(8 * skipBS):
	case <-time.After(10 * time.Second):
		t.Fatal("block 8's load did not receive its first bytes within 10s")
	}
	e.readRun(t, r, to, to+2*skipBS) // the jump
	e.waitLoads(t)                   // block 8's held load was stopped
	// Back to block 8: its first 512 KiB were kept; only the rest is
	// fetched, past them.
	n := len(e.store.fetched())
	e.store.mu.Lock()
	e.store.holdTo = 0 // serve everything whole from now on
	e.store.mu.Unlock()
	e.readRun(t, r, leftAt, 9*skipBS)
	for _, rg := range e.store.fetched()[n:] {
		if rg[0] < 8*skipBS+free && rg[1] > leftAt {
			t.Errorf("coming back fetched [%d, %d) again: block 8's first %d bytes had arrived", rg[0], rg[1], free)
		}
	}
}

// A stream the reader left claims no blocks ahead of it any more: those a
// new stream loads as it passes through the old one's window are let go
// behind it as any others are.
func TestLeftStreamClaimsNothing(t *testing.T) {
	cfg := prefetch.Config{MaxWindow: 8 * skipBS, Forward: 2 * skipBS, Backward: skipBS}
	e := newSkipEnvConfig(t, 48, 0, 0, 0, cfg)
	r, err := e.p.NewReader(t.Context(), e.obj)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	e.readRun(t, r, 0, 8*skipBS+skipBS/4) // its window reaches block 16
	e.readRun(t, r, 12*skipBS, 24*skipBS) // a new stream, past Forward, through it
	for _, idx := range r.HeldBlocks() {
		if idx > 9 && idx < 23 {
			t.Errorf("held blocks %v: block %d is behind the new stream and ahead of the one left", r.HeldBlocks(), idx)
			break
		}
	}
}
