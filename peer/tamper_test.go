package peer

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tierfs/tierfs/cache"
	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/memstore"
)

// frameLen is the length on the wire of one full frame in these tests.
const frameLen = frameHeader + testFrame + frameFooter

// tamperer is a RoundTripper that reads the whole response of every block
// request and hands the client edit(body) instead: a tampering proxy.
type tamperer struct {
	base http.RoundTripper
	mu   sync.Mutex // guards edit and saved
	edit func(body []byte) []byte
	// saved holds clean responses by block index, for replays.
	saved map[string][]byte
}

func (tp *tamperer) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := tp.base.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	tp.mu.Lock()
	idx := req.URL.Query().Get(qIndex)
	if _, ok := tp.saved[idx]; !ok {
		tp.saved[idx] = bytes.Clone(body)
	}
	if tp.edit != nil {
		body = tp.edit(bytes.Clone(body))
	}
	tp.mu.Unlock()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	resp.ContentLength = -1
	return resp, nil
}

func (tp *tamperer) set(edit func([]byte) []byte) {
	tp.mu.Lock()
	tp.edit = edit
	tp.mu.Unlock()
}

// ownedBy returns the index of a block of obj, other than not, whose
// primary owner, in m's view, is named primary and whose secondary is
// named secondary (or, if secondary has the form "!name", is not name).
func ownedBy(t *testing.T, m *member, obj objstore.Object, primary, secondary string, not ...int64) int64 {
	t.Helper()
	v := m.View()
	for i := range cache.NumBlocks(obj.Size, testBlock) {
		p, s := m.owners(v, obj, i)
		sn := v.Nodes[s].Name
		okSec := sn == secondary
		if strings.HasPrefix(secondary, "!") {
			okSec = sn != secondary[1:]
		}
		if v.Nodes[p].Name == primary && okSec {
			skip := false
			for _, n := range not {
				skip = skip || n == i
			}
			if !skip {
				return i
			}
		}
	}
	t.Fatalf("no block owned by %s then %s", primary, secondary)
	return 0
}

func refOf(obj objstore.Object, idx int64) cache.BlockRef {
	return cache.BlockRef{StoreID: testStore, Object: obj, BlockSize: testBlock, Index: idx, Key: cache.Key(testStore, obj, testBlock, idx)}
}

// TestTamperedFramesRejected: a proxy between a member and the owner flips
// bits, cuts, drops, reorders and replays frames and swaps in another
// block's response, in block and cached-only responses: every case is
// rejected at the first bad frame, only verified bytes are announced, and
// a read through the cache (whole or sparse) still gets exact bytes with
// nothing bad cached.
func TestTamperedFramesRejected(t *testing.T) {
	store := memstore.New()
	ms := startRing(t, store, 2, nil)
	a, b := ms[0], ms[1]
	obj, data := putObject(t, store, "weights.bin", 40*testBlock)
	tp := &tamperer{base: a.client.Transport, saved: map[string][]byte{}}
	a.client.Transport = tp

	idx := ownedBy(t, a, obj, b.Name(), a.Name())
	other := ownedBy(t, a, obj, b.Name(), a.Name(), idx)
	truth := func(i int64) []byte { return data[i*testBlock : (i+1)*testBlock] }
	// Clean fetches first, saved for the replays.
	for _, i := range []int64{idx, other} {
		dst := make([]byte, testBlock)
		if n, err := a.Fetch(t.Context(), refOf(obj, i), dst, 0, func(int64) {}); err != nil || n != testBlock || !bytes.Equal(dst, truth(i)) {
			t.Fatalf("clean fetch of block %d: %d, %v", i, n, err)
		}
	}
	flip := func(at int) func([]byte) []byte {
		return func(b []byte) []byte { b[at] ^= 0x10; return b }
	}
	for _, tc := range []struct {
		name  string
		edit  func([]byte) []byte
		valid int64 // verified bytes before the bad frame
		cause int
	}{
		{"bit flip in payload", flip(2*frameLen + frameHeader + 100), 2 * testFrame, causeCorrupt},
		{"bit flip in CRC", flip(3*frameLen + frameHeader + testFrame), 3 * testFrame, causeCorrupt},
		{"bit flip in tag", flip(frameLen + frameHeader + testFrame + 4 + 7), testFrame, causeCorrupt},
		{"bit flip in length", flip(frameLen + 1), testFrame, causeCorrupt},
		{"cut mid-frame", func(b []byte) []byte { return b[:4*frameLen+77] }, 4 * testFrame, causeError},
		{"cut at a frame", func(b []byte) []byte { return b[:5*frameLen] }, 5 * testFrame, causeError},
		{"frame dropped", func(b []byte) []byte { return append(b[:2*frameLen:2*frameLen], b[3*frameLen:]...) }, 2 * testFrame, causeCorrupt},
		{"frames swapped", func(b []byte) []byte {
			f1 := bytes.Clone(b[frameLen : 2*frameLen])
			copy(b[frameLen:], b[2*frameLen:3*frameLen])
			copy(b[2*frameLen:], f1)
			return b
		}, testFrame, causeCorrupt},
		{"frame repeated", func(b []byte) []byte { copy(b[3*frameLen:], b[2*frameLen:3*frameLen]); return b }, 3 * testFrame, causeCorrupt},
		{"response replayed", func([]byte) []byte { return bytes.Clone(tp.saved[itoa(idx)]) }, 0, causeCorrupt},
		{"another block's response", func([]byte) []byte { return bytes.Clone(tp.saved[itoa(other)]) }, 0, causeCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a.penalty.clear(b.Name())
			before := a.Stats()
			tp.set(tc.edit)
			defer tp.set(nil)
			dst := make([]byte, testBlock)
			var announced int64
			n, err := a.Fetch(t.Context(), refOf(obj, idx), dst, 0, func(end int64) { announced = end })
			// a is the block's secondary: the failure wraps ErrNoPeer
			// too, so that its cache keeps the block for the ring.
			if err == nil || !errors.Is(err, cache.ErrNoPeer) {
				t.Fatalf("Fetch = %d, %v; want a failure that makes a the owner next", n, err)
			}
			if n != tc.valid || announced != tc.valid {
				t.Errorf("Fetch returned %d and announced %d verified bytes; want %d", n, announced, tc.valid)
			}
			if !bytes.Equal(dst[:n], truth(idx)[:n]) {
				t.Error("announced bytes differ from the block's")
			}
			after := a.Stats()
			if after.Fallbacks == before.Fallbacks || after.Penalized != before.Penalized+1 {
				t.Errorf("stats %+v → %+v", before, after)
			}
			if got := counts(after)[tc.cause] - counts(before)[tc.cause]; got != 1 {
				t.Errorf("fallbacks of the expected cause rose by %d: %+v", got, after.Fallbacks)
			}
		})
	}

	// Cached-only ranges come in the same frames, checked the same way.
	a.blocks.Wait()
	b.blocks.Wait()
	const coff, clen = 1000, 4*testFrame + 123
	for _, tc := range []struct {
		name  string
		edit  func([]byte) []byte
		valid int64
		cause int
	}{
		{"cached: bit flip in payload", flip(frameLen + frameHeader + 9), testFrame, causeCorrupt},
		{"cached: bit flip in tag", flip(2*frameLen + frameHeader + testFrame + 4), 2 * testFrame, causeCorrupt},
		{"cached: cut", func(b []byte) []byte { return b[:3*frameLen+10] }, 3 * testFrame, causeError},
		{"cached: a block response instead", func([]byte) []byte { return bytes.Clone(tp.saved[itoa(idx)]) }, 0, causeCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a.penalty.clear(b.Name())
			before, loads := a.Stats(), b.blocks.Stats().Loads
			tp.set(tc.edit)
			defer tp.set(nil)
			dst := make([]byte, clen)
			n, err := a.FetchCached(t.Context(), refOf(obj, idx), dst, coff)
			if err == nil || errors.Is(err, cache.ErrNotCached) || errors.Is(err, cache.ErrNoPeer) {
				t.Fatalf("FetchCached = %d, %v; want a failure", n, err)
			}
			if int64(n) != tc.valid || !bytes.Equal(dst[:n], truth(idx)[coff:coff+n]) {
				t.Errorf("FetchCached returned %d verified bytes; want %d, exact", n, tc.valid)
			}
			after := a.Stats()
			if got := counts(after)[tc.cause] - counts(before)[tc.cause]; got != 1 || after.Penalized != before.Penalized+1 {
				t.Errorf("stats %+v → %+v; want one fallback of the cause and the owner penalized", before, after)
			}
			if after.CachedHits != before.CachedHits || after.CachedBytesFetched-before.CachedBytesFetched != tc.valid {
				t.Errorf("cached hits %d → %d, bytes %d → %d", before.CachedHits, after.CachedHits, before.CachedBytesFetched, after.CachedBytesFetched)
			}
			if got := b.blocks.Stats().Loads - loads; got != 0 {
				t.Errorf("the owner started %d loads", got)
			}
		})
	}
	// Through the cache, a sparse read takes the verified frames and the
	// rest from the origin, and keeps exact bytes.
	a.penalty.clear(b.Name())
	tp.set(flip(2*frameLen + frameHeader + 1))
	store.ResetStats()
	peerErrors := a.blocks.Stats().PeerErrors
	sparse := make([]byte, clen)
	soff := idx*testBlock + coff
	if _, err := a.blocks.ReadAt(t.Context(), obj, sparse, soff, cache.ReadOptions{Sparse: true}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sparse, data[soff:soff+clen]) {
		t.Fatal("a sparse read through a tampering proxy got wrong bytes")
	}
	if st := store.Total(); st.Gets != 1 || st.BodyBytes != clen-2*testFrame {
		t.Errorf("origin: %d GETs of %d bytes; want 1 of the %d bytes after the verified frames", st.Gets, st.BodyBytes, clen-2*testFrame)
	}
	if got := a.blocks.Stats().PeerErrors - peerErrors; got != 1 {
		t.Errorf("PeerErrors rose by %d; want 1", got)
	}
	tp.set(func([]byte) []byte { t.Error("range asked of a peer again"); return nil })
	clear(sparse)
	if _, err := a.blocks.ReadAt(t.Context(), obj, sparse, soff, cache.ReadOptions{Sparse: true}); err != nil || !bytes.Equal(sparse, data[soff:soff+clen]) {
		t.Fatalf("kept extents: %v", err)
	}
	tp.set(nil)

	// Through the cache: the read resumes from the origin at the last
	// verified byte; the bytes read and the bytes cached are exact.
	a.penalty.clear(b.Name())
	tp.set(flip(7*frameLen + frameHeader + 3))
	store.ResetStats()
	got := make([]byte, testBlock)
	if _, err := a.blocks.ReadAt(t.Context(), obj, got, idx*testBlock, cache.ReadOptions{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, truth(idx)) {
		t.Fatal("a read through a tampering proxy got wrong bytes")
	}
	if st := store.Total(); st.BodyBytes != testBlock-7*testFrame || st.Gets != 1 {
		t.Errorf("origin: %d GETs of %d bytes; want 1 of the %d bytes after the last verified frame", st.Gets, st.BodyBytes, testBlock-7*testFrame)
	}
	a.blocks.Wait()
	tp.set(func([]byte) []byte { t.Error("block asked of a peer again"); return nil })
	clear(got)
	if _, err := a.blocks.ReadAt(t.Context(), obj, got, idx*testBlock, cache.ReadOptions{}); err != nil || !bytes.Equal(got, truth(idx)) {
		t.Fatalf("cached block: %v, equal %v", err, bytes.Equal(got, truth(idx)))
	}
}

func counts(s Stats) [numCauses]int64 {
	f := s.Fallbacks
	return [numCauses]int64{causeError: f.Error, causeStall: f.Stall, causeCorrupt: f.Corrupt, causeBusy: f.Busy, causePenalized: f.Penalized}
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

// TestFrameBinding: a frame verifies only for its own request nonce,
// block identity (store, key, ETag, version id, size, block size, index)
// and offset.
func TestFrameBinding(t *testing.T) {
	k := deriveKeys(testSecret)
	obj := objstore.Object{Key: "k", Size: 10 * testBlock, Version: objstore.Version{ETag: "e1", ID: "v1"}}
	nonce := bytes.Repeat([]byte{1}, nonceLen)
	payload := bytes.Repeat([]byte("tierfs"), 1000)
	var buf bytes.Buffer
	if err := newFrameTagger(k.frame, nonce, identity(testStore, obj, testBlock, 3)).writeFrame(&buf, 4096, payload); err != nil {
		t.Fatal(err)
	}
	frame := buf.Bytes()
	check := func(name string, key, nonce []byte, store string, o objstore.Object, bs, idx, off int64, ok bool) {
		t.Helper()
		dst := make([]byte, testBlock)
		n, err := newFrameTagger(key, nonce, identity(store, o, bs, idx)).readFrame(bytes.NewReader(frame), off, dst, testBlock)
		if ok != (err == nil) {
			t.Errorf("%s: verify = %d, %v; want ok %v", name, n, err, ok)
		}
		if ok && !bytes.Equal(dst[:n], payload) {
			t.Errorf("%s: wrong payload", name)
		}
	}
	with := func(f func(*objstore.Object)) objstore.Object { o := obj; f(&o); return o }
	check("same", k.frame, nonce, testStore, obj, testBlock, 3, 4096, true)
	check("other key", deriveKeys([]byte("another secret of enough length")).frame, nonce, testStore, obj, testBlock, 3, 4096, false)
	check("other nonce", k.frame, bytes.Repeat([]byte{2}, nonceLen), testStore, obj, testBlock, 3, 4096, false)
	check("other store", k.frame, nonce, "mem://other", obj, testBlock, 3, 4096, false)
	check("other object", k.frame, nonce, testStore, with(func(o *objstore.Object) { o.Key = "j" }), testBlock, 3, 4096, false)
	check("other ETag", k.frame, nonce, testStore, with(func(o *objstore.Object) { o.Version.ETag = "e2" }), testBlock, 3, 4096, false)
	check("other version id", k.frame, nonce, testStore, with(func(o *objstore.Object) { o.Version.ID = "v2" }), testBlock, 3, 4096, false)
	check("other size", k.frame, nonce, testStore, with(func(o *objstore.Object) { o.Size++ }), testBlock, 3, 4096, false)
	check("other block size", k.frame, nonce, testStore, obj, 2*testBlock, 3, 4096, false)
	check("other index", k.frame, nonce, testStore, obj, testBlock, 4, 4096, false)
	check("other offset", k.frame, nonce, testStore, obj, testBlock, 3, 0, false)
}

// stallStore holds every body until the caller gives up: an owner whose
// origin hangs answers a peer's request with headers and then nothing.
type stallStore struct{ objstore.Store }

func (stallStore) NewRangeReader(ctx context.Context, key string, off, length int64, opts objstore.ReadOptions) (*objstore.Reader, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestStalledOwner: an owner that sends its headers and then hangs is
// abandoned once, after StallTimeout, for the secondary, which serves
// the block; the stalled owner is penalized and skipped next time (no
// second stall). TestPeersOwnerHangs does the same with readers on
// three members at once.
func TestStalledOwner(t *testing.T) {
	store := memstore.New()
	obj, data := putObject(t, store, "stall.bin", 64*testBlock)
	const stall = 500 * time.Millisecond
	ms := startRing(t, store, 3, func(i int, c *Config) { c.StallTimeout = stall })
	// The stalled member is a fourth one whose cache reads a store that
	// hangs.
	cfg := testConfig(ms[0].GossipAddr(), ms[1].GossipAddr(), ms[2].GossipAddr())
	cfg.Name, cfg.StallTimeout = "stalled", stall
	hung := startMember(t, stallStore{store}, cfg)
	ms = append(ms, hung)
	waitRing(t, ms, 4)
	a := ms[0]
	// Blocks the stalled member owns whose secondary is not a (a would go
	// to the origin).
	idx := ownedBy(t, a, obj, hung.Name(), "!"+a.Name())
	next := ownedBy(t, a, obj, hung.Name(), "!"+a.Name(), idx)
	for i, want := range []struct {
		idx       int64
		stall     int64
		penalized int64
	}{{idx, 1, 0}, {next, 1, 1}} {
		dst := make([]byte, testBlock)
		start := time.Now()
		n, err := a.Fetch(t.Context(), refOf(obj, want.idx), dst, 0, func(int64) {})
		took := time.Since(start)
		if err != nil || n != testBlock || !bytes.Equal(dst, data[want.idx*testBlock:(want.idx+1)*testBlock]) {
			t.Fatalf("fetch %d: %d, %v", i, n, err)
		}
		s := a.Stats()
		if s.Fallbacks.Stall != want.stall || s.Fallbacks.Penalized != want.penalized {
			t.Errorf("fetch %d: fallbacks %+v; want %d stalls, %d skipped", i, s.Fallbacks, want.stall, want.penalized)
		}
		t.Logf("fetch %d took %v (stall timeout %v)", i, took, stall)
	}
}

// TestViewsDisagree is mailgun/groupcache#72: two members each think the
// other owns every block and read the same blocks at once. A member never
// joins a load waiting on a peer for a peer (409), so nothing waits on
// itself: no timeouts, exact bytes, at most 2 origin GETs per block.
func TestViewsDisagree(t *testing.T) {
	store := memstore.New()
	ms := startRing(t, store, 2, nil)
	a, b := ms[0], ms[1]
	obj, data := putObject(t, store, "cycle.bin", 8*testBlock)
	heavy := func(m *member, heavy string) {
		var nodes []Node
		for _, n := range m.View().Nodes {
			if n.Name == heavy {
				n.Weight = 100
			}
			nodes = append(nodes, n)
		}
		m.mu.Lock()
		m.publishLocked(map[string]Node{nodes[0].Name: nodes[0], nodes[1].Name: nodes[1]})
		m.mu.Unlock()
	}
	heavy(a, b.Name())
	heavy(b, a.Name())
	store.SetLatency(20 * time.Millisecond)
	store.ResetStats()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Go(func() {
			got := make([]byte, len(data))
			if _, err := m.blocks.ReadAt(ctx, obj, got, 0, cache.ReadOptions{}); err != nil {
				t.Error(err)
			} else if !bytes.Equal(got, data) {
				t.Errorf("%s read wrong bytes", m.Name())
			}
		})
	}
	wg.Wait()
	st := store.Stats("cycle.bin")
	t.Logf("%d origin GETs for %d blocks; refused %d + %d", st.Gets, 8, a.Stats().Refused, b.Stats().Refused)
	if st.Gets > 2*8 {
		t.Errorf("%d origin GETs for 8 blocks; want ≤ 16", st.Gets)
	}
	if s := a.Stats().Fallbacks; s.Stall != 0 {
		t.Errorf("fetches stalled: %+v", s)
	}
}

// TestFetchResumes: a fetch that starts mid-block (the cache had the
// first bytes) gets exactly the rest, announced frame by frame; one with
// nothing left asks nobody.
func TestFetchResumes(t *testing.T) {
	store := memstore.New()
	ms := startRing(t, store, 2, nil)
	a, b := ms[0], ms[1]
	obj, data := putObject(t, store, "resume.bin", 8*testBlock)
	idx := ownedBy(t, a, obj, b.Name(), a.Name())
	want := data[idx*testBlock : (idx+1)*testBlock]
	for _, from := range []int64{1, testFrame, 3*testFrame + 100, testBlock - 1} {
		dst := make([]byte, testBlock)
		copy(dst[:from], want)
		var steps []int64
		n, err := a.Fetch(t.Context(), refOf(obj, idx), dst, from, func(end int64) { steps = append(steps, end) })
		if err != nil || n != testBlock || !bytes.Equal(dst, want) {
			t.Fatalf("from %d: %d, %v", from, n, err)
		}
		if len(steps) == 0 || steps[0] > from+testFrame || steps[len(steps)-1] != testBlock {
			t.Errorf("from %d: announced %v", from, steps)
		}
	}
	before := a.Stats().Fetches
	if n, err := a.Fetch(t.Context(), refOf(obj, idx), make([]byte, testBlock), testBlock, func(int64) {}); err != nil || n != testBlock {
		t.Errorf("nothing left: %d, %v", n, err)
	}
	if a.Stats().Fetches != before {
		t.Error("a fetch with nothing left asked a peer")
	}
}

// arrivalStore hangs like stallStore and signals each request.
type arrivalStore struct {
	objstore.Store
	arrived chan struct{}
}

func (s arrivalStore) NewRangeReader(ctx context.Context, key string, off, length int64, opts objstore.ReadOptions) (*objstore.Reader, error) {
	select {
	case s.arrived <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestSecondaryGivesUp: the secondary of a block is itself waiting on the
// hung primary, with a stall timer that fires much later, when a reader
// that gave up on the primary asks it. The secondary gives up on the
// primary at once, loads the block from the origin, and the reader
// joins that load: exact bytes, one origin GET (not one each).
func TestSecondaryGivesUp(t *testing.T) {
	store := memstore.New()
	obj, data := putObject(t, store, "giveup.bin", 128*testBlock)
	ms := startRing(t, store, 2, func(i int, c *Config) {
		c.StallTimeout = 300 * time.Millisecond // the reader
		if i == 1 {
			c.StallTimeout = time.Minute // the secondary
		}
	})
	a, b := ms[0], ms[1]
	arrived := make(chan struct{}, 64)
	cfg := testConfig(a.GossipAddr(), b.GossipAddr())
	cfg.Name = "hung"
	hung := startMember(t, arrivalStore{store, arrived}, cfg)
	ms = append(ms, hung)
	waitRing(t, ms, 3)
	idx := ownedBy(t, a, obj, hung.Name(), b.Name())
	store.ResetStats()
	// The secondary's own load waits on the hung primary.
	h, err := b.blocks.Load(t.Context(), obj, idx, cache.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Release()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the secondary's load never reached the primary")
	}
	dst := make([]byte, testBlock)
	want := data[idx*testBlock : (idx+1)*testBlock]
	n, err := a.Fetch(t.Context(), refOf(obj, idx), dst, 0, func(int64) {})
	if err != nil || n != testBlock || !bytes.Equal(dst, want) {
		t.Fatalf("fetch: %d, %v", n, err)
	}
	got := make([]byte, testBlock)
	if _, err := h.ReadAt(t.Context(), got, 0); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the secondary's own load: %v", err)
	}
	sa, sb := a.Stats(), b.Stats()
	gets := store.Stats("giveup.bin").Gets
	t.Logf("reader fallbacks %+v; secondary fallbacks %+v; %d origin GETs", sa.Fallbacks, sb.Fallbacks, gets)
	if sa.Fallbacks.Stall != 1 || sa.Fallbacks.Busy != 0 {
		t.Errorf("reader fallbacks %+v; want one stall on the primary and no refusal by the secondary", sa.Fallbacks)
	}
	if sb.Fallbacks.GaveUp != 1 {
		t.Errorf("secondary fallbacks %+v; want it to give up on the primary once", sb.Fallbacks)
	}
	if gets != 1 {
		t.Errorf("%d origin GETs for the block; want 1", gets)
	}
}
