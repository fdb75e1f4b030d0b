package peer

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/tierfs/tierfs/cache"
	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/memstore"
	"github.com/tierfs/tierfs/tier"
	"github.com/tierfs/tierfs/tier/memory"
)

const (
	testBlock = 64 << 10
	testFrame = 4 << 10
	testStore = "mem://test"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// member is a Member with the cache it serves from.
type member struct {
	*Member
	blocks *cache.Blocks
}

// testConfig is a member's config for these tests; the stall timeout is
// generous (a healthy owner under -race on shared cores can go a second
// without a frame) except where a test sets its own.
func testConfig(seeds ...string) Config {
	return Config{
		BindAddr: "127.0.0.1", DataAddr: "127.0.0.1:0", Seeds: seeds, Secret: testSecret, Cluster: "test",
		StoreID: testStore, BlockSize: testBlock, FrameSize: testFrame, Local: true,
		StallTimeout: 5 * time.Second, FetchTimeout: 20 * time.Second,
	}
}

// startMember starts a member with a memory tier over store, which its
// cache reads through m.Origin, as tierfs wires it.
func startMember(t *testing.T, store objstore.Store, cfg Config) *member {
	t.Helper()
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mem, err := memory.New(memory.DefaultConfig(64 << 20))
	if err != nil {
		t.Fatal(err)
	}
	b, err := cache.New(cache.Config{Store: m.Origin(store), StoreID: cfg.StoreID, Tiers: []tier.Tier{mem}, BlockSize: cfg.BlockSize, Peers: m})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Start(t.Context(), b); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Close()
		b.Close()
		mem.Close()
	})
	return &member{Member: m, blocks: b}
}

// startRing starts n members, each joining through every member started
// before it (a static membership), and waits until every one sees all n.
func startRing(t *testing.T, store objstore.Store, n int, edit func(i int, c *Config)) []*member {
	t.Helper()
	var ms []*member
	for i := range n {
		var seeds []string
		for _, m := range ms {
			seeds = append(seeds, m.GossipAddr())
		}
		cfg := testConfig(seeds...)
		cfg.Name = fmt.Sprintf("m%d", i)
		if edit != nil {
			edit(i, &cfg)
		}
		ms = append(ms, startMember(t, store, cfg))
	}
	waitRing(t, ms, n)
	return ms
}

func waitRing(t *testing.T, ms []*member, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, m := range ms {
		if err := m.WaitMembers(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
}

func putObject(t *testing.T, store *memstore.Store, key string, size int) (objstore.Object, []byte) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	obj, err := store.Put(t.Context(), key, bytes.NewReader(data), objstore.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return obj, data
}

func TestConfigInvalid(t *testing.T) {
	long := string(bytes.Repeat([]byte("z"), 600))
	for name, edit := range map[string]func(*Config){
		"no secret":        func(c *Config) { c.Secret = nil },
		"short secret":     func(c *Config) { c.Secret = []byte("short") },
		"no store":         func(c *Config) { c.StoreID = "" },
		"no block size":    func(c *Config) { c.BlockSize = 0 },
		"meta over 512":    func(c *Config) { c.Zone = long },
		"long cluster":     func(c *Config) { c.Cluster = long },
		"bad weight":       func(c *Config) { c.Weight = -1 },
		"bad port":         func(c *Config) { c.BindPort = 70000 },
		"bad bind address": func(c *Config) { c.BindAddr = "localhost" },
		"bad data address": func(c *Config) { c.DataAddr = "127.0.0.1" },
		"tiny frame":       func(c *Config) { c.FrameSize = 100 },
		"negative timeout": func(c *Config) { c.StallTimeout = -1 },
	} {
		cfg := testConfig()
		edit(&cfg)
		if _, err := New(cfg); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("%s: New = %v; want fs.ErrInvalid", name, err)
		}
	}
	if _, err := New(testConfig()); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

// TestRingShares: members reading one object at once, cold, get exact
// bytes and the origin serves it about once.
func TestRingShares(t *testing.T) {
	store := memstore.New()
	ms := startRing(t, store, 4, nil)
	obj, data := putObject(t, store, "model.bin", 32*testBlock+1234)
	store.ResetStats()
	var wg sync.WaitGroup
	for _, m := range ms {
		wg.Go(func() {
			got := make([]byte, len(data))
			if _, err := m.blocks.ReadAt(t.Context(), obj, got, 0, cache.ReadOptions{}); err != nil {
				t.Error(err)
				return
			}
			if !bytes.Equal(got, data) {
				t.Errorf("%s read wrong bytes", m.Name())
			}
		})
	}
	wg.Wait()
	origin := store.Total().BodyBytes
	ratio := float64(origin) / float64(len(data))
	t.Logf("origin bytes ÷ object = %.3f", ratio)
	if ratio > 1.05 {
		t.Errorf("origin sent %d bytes for a %d-byte object read by %d members (%.2f×); want ≤ 1.05×", origin, len(data), len(ms), ratio)
	}
	var fetched, served int64
	for _, m := range ms {
		s := m.Stats()
		fetched += s.BytesFetched
		served += s.BytesServed
		if s.Members != 4 || s.Rejected != 0 {
			t.Errorf("%s: %+v", m.Name(), s)
		}
	}
	if fetched != served || fetched < int64(len(data)) {
		t.Errorf("bytes fetched from peers %d, served %d; want equal and ≥ %d", fetched, served, len(data))
	}
}

// TestOtherSecretNeverJoins: a member with another secret or cluster label
// cannot join, and the ring never sees it.
func TestOtherSecretNeverJoins(t *testing.T) {
	store := memstore.New()
	ms := startRing(t, store, 2, nil)
	for name, edit := range map[string]func(*Config){
		"other secret":  func(c *Config) { c.Secret = []byte("another secret, just as long....") },
		"other cluster": func(c *Config) { c.Cluster = "other" },
	} {
		cfg := testConfig()
		cfg.Name = "intruder-" + name[6:]
		edit(&cfg)
		bad := startMember(t, store, cfg)
		if n, err := bad.ml.Join([]string{ms[0].GossipAddr()}); err == nil {
			t.Errorf("%s: join succeeded with %d members", name, n)
		}
		if n := len(bad.View().Nodes); n != 1 {
			t.Errorf("%s: the intruder sees %d members", name, n)
		}
		for _, m := range ms {
			if n := len(m.View().Nodes); n != 2 {
				t.Errorf("%s: %s sees %d members; want 2", name, m.Name(), n)
			}
			if n := m.ml.NumMembers(); n != 2 {
				t.Errorf("%s: memberlist of %s has %d members; want 2", name, m.Name(), n)
			}
		}
	}
}

// signedRequest builds a block request for block idx of obj, signed with
// key at time ts.
func signedRequest(t *testing.T, addr string, key []byte, obj objstore.Object, idx int64, ts int64, nonce []byte) *http.Request {
	t.Helper()
	return signedRangeRequest(t, addr, key, blockPath, obj, idx, 0, -1, ts, nonce)
}

// signedRangeRequest builds a request on path for the bytes of block idx
// of obj from `from`, length of them (-1: a block request, to the end),
// signed with key at time ts.
func signedRangeRequest(t *testing.T, addr string, key []byte, path string, obj objstore.Object, idx, from, length, ts int64, nonce []byte) *http.Request {
	t.Helper()
	ident := identity(testStore, obj, testBlock, idx)
	sig := signRequest(key, http.MethodGet, path, ident, from, length, ts, nonce)
	q := url.Values{
		qStore: {testStore}, qKey: {obj.Key}, qETag: {obj.Version.ETag}, qVersionID: {obj.Version.ID},
		qSize: {strconv.FormatInt(obj.Size, 10)}, qBlockSize: {strconv.Itoa(testBlock)},
		qIndex: {strconv.FormatInt(idx, 10)}, qFrom: {strconv.FormatInt(from, 10)},
	}
	if length >= 0 {
		q.Set(qLen, strconv.FormatInt(length, 10))
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addr+path+"?"+q.Encode(), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set(hdrTime, formatTime(ts))
	req.Header.Set(hdrNonce, hex.EncodeToString(nonce))
	req.Header.Set(hdrSig, hex.EncodeToString(sig))
	return req
}

// TestSignedRequests: unsigned, wrongly signed, stale, replayed and
// altered requests, for blocks and cached-only ranges, get 401 and no
// body; a good one gets the block, or the range it holds (404 and no
// load for one it does not).
func TestSignedRequests(t *testing.T) {
	store := memstore.New()
	ms := startRing(t, store, 1, nil)
	m := ms[0]
	obj, data := putObject(t, store, "a.bin", 3*testBlock)
	client := &http.Client{}
	defer client.CloseIdleConnections()
	nonce := func() []byte {
		b := make([]byte, nonceLen)
		rand.Read(b)
		return b
	}
	now := func() int64 { return time.Now().UnixNano() }
	do := func(req *http.Request) (int, []byte) {
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body
	}

	// A good request, read and verified as a client would.
	n0, ts0 := nonce(), now()
	good := signedRequest(t, m.DataAddr(), m.keys.request, obj, 1, ts0, n0)
	code, body := do(good)
	if code != http.StatusOK {
		t.Fatalf("signed request: %d", code)
	}
	tg := newFrameTagger(m.keys.frame, n0, identity(testStore, obj, testBlock, 1))
	got := make([]byte, testBlock)
	r := bytes.NewReader(body)
	for off := 0; off < testBlock; {
		n, err := tg.readFrame(r, int64(off), got[off:], testFrame)
		if err != nil {
			t.Fatalf("frame at %d: %v", off, err)
		}
		off += n
	}
	if !bytes.Equal(got, data[testBlock:2*testBlock]) || r.Len() != 0 {
		t.Fatal("a good response does not hold the block's bytes")
	}

	// A good cached-only request for a range of the block it now holds,
	// and one for a block it does not hold: 404, no body, no load.
	m.blocks.Wait()
	loads := m.blocks.Stats().Loads
	const coff, clen = 1000, 3*testFrame + 5
	nc, tsc := nonce(), now()
	cachedReq := func(idx, from, length, ts int64, nonce []byte) *http.Request {
		return signedRangeRequest(t, m.DataAddr(), m.keys.request, cachedPath, obj, idx, from, length, ts, nonce)
	}
	code, body = do(cachedReq(1, coff, clen, tsc, nc))
	if code != http.StatusOK {
		t.Fatalf("signed cached-only request: %d", code)
	}
	tg = newFrameTagger(m.keys.frame, nc, identity(testStore, obj, testBlock, 1))
	got = make([]byte, clen)
	r = bytes.NewReader(body)
	for off := 0; off < clen; {
		n, err := tg.readFrame(r, int64(coff+off), got[off:], testFrame)
		if err != nil {
			t.Fatalf("cached frame at %d: %v", off, err)
		}
		off += n
	}
	if !bytes.Equal(got, data[testBlock+coff:][:clen]) || r.Len() != 0 {
		t.Fatal("a good cached-only response does not hold the range's bytes")
	}
	if code, body := do(cachedReq(2, 0, 100, now(), nonce())); code != http.StatusNotFound || len(body) != 0 {
		t.Errorf("cached-only request for a block not held: %d with %d body bytes; want 404 and none", code, len(body))
	}
	if got := m.blocks.Stats().Loads - loads; got != 0 {
		t.Errorf("cached-only requests started %d loads; want none", got)
	}

	otherKey := deriveKeys([]byte("not the cluster secret at all!!!")).request
	altered := func(k, v string) func() *http.Request {
		return func() *http.Request {
			req := cachedReq(1, coff, clen, now(), nonce())
			q := req.URL.Query()
			q.Set(k, v)
			req.URL.RawQuery = q.Encode()
			return req
		}
	}
	bad := map[string]func() *http.Request{
		"cached unsigned": func() *http.Request {
			req := cachedReq(1, coff, clen, now(), nonce())
			req.Header.Del(hdrSig)
			return req
		},
		"cached wrong secret": func() *http.Request {
			return signedRangeRequest(t, m.DataAddr(), otherKey, cachedPath, obj, 1, coff, clen, now(), nonce())
		},
		"cached stale":          func() *http.Request { return cachedReq(1, coff, clen, now()-int64(2*DefaultMaxClockSkew), nonce()) },
		"cached replayed":       func() *http.Request { return cachedReq(1, coff, clen, tsc, nc) },
		"cached altered length": altered(qLen, strconv.Itoa(clen+1)),
		"cached altered offset": altered(qFrom, "0"),
		"cached altered index":  altered(qIndex, "0"),
		"cached without length": altered(qLen, ""),
		"block request sent as cached-only": func() *http.Request {
			req := signedRequest(t, m.DataAddr(), m.keys.request, obj, 1, now(), nonce())
			req.URL.Path = cachedPath
			q := req.URL.Query()
			q.Set(qLen, strconv.Itoa(testBlock))
			req.URL.RawQuery = q.Encode()
			return req
		},
		"cached-only request sent as a block request": func() *http.Request {
			req := cachedReq(1, 0, testBlock, now(), nonce())
			req.URL.Path = blockPath
			return req
		},
		"unsigned": func() *http.Request {
			req := signedRequest(t, m.DataAddr(), m.keys.request, obj, 0, now(), nonce())
			req.Header.Del(hdrSig)
			return req
		},
		"wrong secret": func() *http.Request { return signedRequest(t, m.DataAddr(), otherKey, obj, 0, now(), nonce()) },
		"stale": func() *http.Request {
			return signedRequest(t, m.DataAddr(), m.keys.request, obj, 0, now()-int64(2*DefaultMaxClockSkew), nonce())
		},
		"future": func() *http.Request {
			return signedRequest(t, m.DataAddr(), m.keys.request, obj, 0, now()+int64(2*DefaultMaxClockSkew), nonce())
		},
		"replayed": func() *http.Request { return signedRequest(t, m.DataAddr(), m.keys.request, obj, 1, ts0, n0) },
		"altered index": func() *http.Request {
			req := signedRequest(t, m.DataAddr(), m.keys.request, obj, 0, now(), nonce())
			q := req.URL.Query()
			q.Set(qIndex, "2")
			req.URL.RawQuery = q.Encode()
			return req
		},
		"altered etag": func() *http.Request {
			req := signedRequest(t, m.DataAddr(), m.keys.request, obj, 0, now(), nonce())
			q := req.URL.Query()
			q.Set(qETag, "forged")
			req.URL.RawQuery = q.Encode()
			return req
		},
		"altered time": func() *http.Request {
			req := signedRequest(t, m.DataAddr(), m.keys.request, obj, 0, now(), nonce())
			req.Header.Set(hdrTime, formatTime(now()+1))
			return req
		},
	}
	before := m.Stats()
	sent := 0
	for range 125 {
		for name, mk := range bad {
			code, body := do(mk())
			sent++
			if code != http.StatusUnauthorized || len(body) != 0 {
				t.Fatalf("%s request: %d with %d body bytes; want 401 and none", name, code, len(body))
			}
		}
	}
	after := m.Stats()
	if got := after.Rejected - before.Rejected; got != int64(sent) {
		t.Errorf("Rejected rose by %d for %d bad requests", got, sent)
	}
	if after.Served != before.Served || after.BytesServed != before.BytesServed ||
		after.CachedServed != before.CachedServed || after.CachedMissed != before.CachedMissed || after.CachedBytesServed != before.CachedBytesServed {
		t.Errorf("bad requests were served: %+v → %+v", before, after)
	}
}

// TestCloseLeavesNoGoroutine: members that gossiped, served and fetched
// leave no goroutine behind once closed (with their caches).
func TestCloseLeavesNoGoroutine(t *testing.T) {
	base := runtime.NumGoroutine()
	func() {
		store := memstore.New()
		obj, data := putObject(t, store, "g.bin", 8*testBlock)
		var closers []func()
		var ms []*Member
		var bs []*cache.Blocks
		for i := range 3 {
			var seeds []string
			for _, m := range ms {
				seeds = append(seeds, m.GossipAddr())
			}
			cfg := testConfig(seeds...)
			cfg.Name = fmt.Sprintf("g%d", i)
			m, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			mem, err := memory.New(memory.DefaultConfig(16 << 20))
			if err != nil {
				t.Fatal(err)
			}
			b, err := cache.New(cache.Config{Store: store, StoreID: testStore, Tiers: []tier.Tier{mem}, BlockSize: testBlock, Peers: m})
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Start(t.Context(), b); err != nil {
				t.Fatal(err)
			}
			ms, bs = append(ms, m), append(bs, b)
			closers = append(closers, func() { m.Close(); b.Close(); mem.Close() })
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		for _, m := range ms {
			if err := m.WaitMembers(ctx, 3); err != nil {
				t.Fatal(err)
			}
		}
		for _, b := range bs {
			got := make([]byte, len(data))
			if _, err := b.ReadAt(ctx, obj, got, 0, cache.ReadOptions{}); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read: %v", err)
			}
		}
		for _, c := range closers {
			c()
		}
		if err := ms[0].Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if err := ms[0].Start(t.Context(), bs[0]); !errors.Is(err, fs.ErrClosed) {
			t.Errorf("Start after Close = %v; want fs.ErrClosed", err)
		}
	}()
	// Goroutines of closed connections and stopped tickers end soon after,
	// not synchronously: give them a bounded while (as goleak does).
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines after Close; %d before:\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
}
