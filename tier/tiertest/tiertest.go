// Package tiertest is the conformance suite every cache tier passes.
//
//	func TestConformance(t *testing.T) {
//		tiertest.Run(t, tiertest.Harness{
//			New: func(t *testing.T, capacity int64) tier.Tier { … },
//			Settle: func(t *testing.T, tr tier.Tier) { tr.(*memory.Tier).Wait() },
//		})
//	}
//
// It checks the contract written on [tier.Tier]: exact bytes for every
// range of a block, io.ReaderAt semantics at the end, misses that wrap
// tier.ErrMiss, that no key is ever answered with another key's bytes,
// that the tier stays within its capacity, behaviour under concurrent use,
// Close, that Contains agrees with ReadAt while changing no statistic
// and, for a tier that says it evicts by recency ([Harness].LRU), no
// eviction, and, for a tier.Mover, the contract of Move.
package tiertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tierfs/tierfs/tier"
)

// Harness adapts a tier to the suite.
type Harness struct {
	// New returns a new, empty tier with room for at least capacity
	// bytes of blocks. Cleanup (Close) is the suite's.
	New func(t *testing.T, capacity int64) tier.Tier
	// Settle waits until the blocks accepted by Put are readable, for
	// tiers that admit or write asynchronously; nil if Put is synchronous.
	Settle func(t *testing.T, tr tier.Tier)
	// LRU promises that the tiers New returns evict exactly the least
	// recently used block first, where a Put or a ReadAt is a use (a tier
	// that keeps one LRU per part, such as a disk tier per directory, is
	// one when New gives it one part). The suite then checks that Contains
	// is not a use: a block probed with Contains after every Put is
	// evicted, where one read after every Put is kept. Tiers whose
	// eviction samples at random (ristretto) leave it false and check in
	// their own tests that Contains records no access.
	LRU bool
}

// Run runs the suite as subtests of t.
func Run(t *testing.T, h Harness) {
	if h.New == nil {
		t.Fatal("tiertest: Harness.New is nil")
	}
	cases := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"RoundTrip", testRoundTrip},
		{"Ranges", testRanges},
		{"Sizes", testSizes},
		{"Miss", testMiss},
		{"Delete", testDelete},
		{"DistinctKeys", testDistinctKeys},
		{"Capacity", testCapacity},
		{"Concurrent", testConcurrent},
		{"Stats", testStats},
		{"Close", testClose},
		{"Contains", testContains},
		{"Release", testRelease},
		{"Move", testMove},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, h) })
	}
}

// Block returns n deterministic bytes for key, different for every key,
// so that a block served under the wrong key shows as wrong bytes.
func Block(key string, n int) []byte {
	var seed uint64 = 14695981039346656037
	for i := 0; i < len(key); i++ {
		seed = (seed ^ uint64(key[i])) * 1099511628211
	}
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func open(t *testing.T, h Harness, capacity int64) tier.Tier {
	t.Helper()
	tr := h.New(t, capacity)
	t.Cleanup(func() { tr.Close() })
	return tr
}

func settle(t *testing.T, h Harness, tr tier.Tier) {
	t.Helper()
	if h.Settle != nil {
		h.Settle(t, tr)
	}
}

func mustPut(t *testing.T, tr tier.Tier, key string, data []byte) {
	t.Helper()
	if err := tr.Put(t.Context(), key, data); err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", key, len(data), err)
	}
}

// readAll reads the whole block under key through ReadAt.
func readAll(ctx context.Context, tr tier.Tier, key string, size int) ([]byte, error) {
	p := make([]byte, size+1)
	n, err := tr.ReadAt(ctx, key, p, 0)
	if err == io.EOF && n == size {
		return p[:n], nil
	}
	if err != nil {
		return p[:n], err
	}
	return p[:n], fmt.Errorf("ReadAt of %d bytes into a %d-byte buffer returned no io.EOF", n, len(p))
}

// expectHit reads key whole and checks the bytes. Tiers may drop blocks
// (admission, queues), so the suite puts and settles before it expects a
// hit, and uses capacities well above what it stores.
func expectHit(t *testing.T, tr tier.Tier, key string, want []byte) {
	t.Helper()
	got, err := readAll(t.Context(), tr, key, len(want))
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %q: wrong bytes", key)
	}
}

func expectMiss(t *testing.T, tr tier.Tier, key string) {
	t.Helper()
	n, err := tr.ReadAt(t.Context(), key, make([]byte, 10), 0)
	if !errors.Is(err, tier.ErrMiss) || n != 0 {
		t.Fatalf("ReadAt(%q) = %d, %v; want 0 and tier.ErrMiss", key, n, err)
	}
}

func testRoundTrip(t *testing.T, h Harness) {
	tr := open(t, h, 64<<20)
	data := Block("rt", 1<<20)
	mustPut(t, tr, "rt", data)
	settle(t, h, tr)
	expectHit(t, tr, "rt", data)
	// Putting the same key again is harmless and keeps the bytes.
	mustPut(t, tr, "rt", Block("rt", 1<<20))
	settle(t, h, tr)
	expectHit(t, tr, "rt", data)
}

func testRanges(t *testing.T, h Harness) {
	tr := open(t, h, 64<<20)
	const size = 300_000
	data := Block("ranges", size)
	mustPut(t, tr, "ranges", data)
	settle(t, h, tr)
	cases := []struct {
		off int64
		n   int
	}{
		{0, 1}, {0, size}, {1, size - 1}, {size - 1, 1}, {12345, 4096}, {65535, 2}, {65536, 65536},
		{size - 100, 100}, {0, 0}, {size, 0}, {100, 0},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		off := r.Int64N(size)
		cases = append(cases, struct {
			off int64
			n   int
		}{off, r.IntN(size - int(off) + 1)})
	}
	for _, c := range cases {
		p := make([]byte, c.n)
		n, err := tr.ReadAt(t.Context(), "ranges", p, c.off)
		if n != c.n || (err != nil && !(err == io.EOF && c.off+int64(c.n) == size)) {
			t.Fatalf("ReadAt(off %d, len %d) = %d, %v", c.off, c.n, n, err)
		}
		if !bytes.Equal(p, data[c.off:c.off+int64(c.n)]) {
			t.Fatalf("ReadAt(off %d, len %d): wrong bytes", c.off, c.n)
		}
	}
	// Past the end: short count with io.EOF, and the bytes there are right.
	for _, c := range []struct {
		off     int64
		n, want int
	}{{size - 10, 20, 10}, {size - 1, 2, 1}, {size, 5, 0}, {size + 10, 5, 0}, {0, size + 1, size}} {
		p := make([]byte, c.n)
		n, err := tr.ReadAt(t.Context(), "ranges", p, c.off)
		if n != c.want || err != io.EOF {
			t.Errorf("ReadAt(off %d, len %d) past the end = %d, %v; want %d, io.EOF", c.off, c.n, n, err, c.want)
			continue
		}
		if n > 0 && !bytes.Equal(p[:n], data[c.off:c.off+int64(n)]) {
			t.Errorf("ReadAt(off %d, len %d) past the end: wrong bytes", c.off, c.n)
		}
	}
	if _, err := tr.ReadAt(t.Context(), "ranges", make([]byte, 1), -1); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("ReadAt at offset -1: err = %v, want fs.ErrInvalid", err)
	}
}

func testSizes(t *testing.T, h Harness) {
	tr := open(t, h, 64<<20)
	sizes := []int{0, 1, 7, 4095, 4096, 4097, 65536, 65537, 1 << 20, 4<<20 + 3}
	for _, n := range sizes {
		mustPut(t, tr, fmt.Sprintf("size-%d", n), Block(fmt.Sprint(n), n))
	}
	settle(t, h, tr)
	for _, n := range sizes {
		expectHit(t, tr, fmt.Sprintf("size-%d", n), Block(fmt.Sprint(n), n))
	}
}

func testMiss(t *testing.T, h Harness) {
	tr := open(t, h, 1<<20)
	expectMiss(t, tr, "never-put")
	mustPut(t, tr, "k", Block("k", 100))
	settle(t, h, tr)
	expectMiss(t, tr, "k2")
	expectMiss(t, tr, "K")
	if err := tr.Put(t.Context(), "", []byte("x")); err == nil {
		t.Error("Put with an empty key succeeded")
	}
}

func testDelete(t *testing.T, h Harness) {
	tr := open(t, h, 8<<20)
	mustPut(t, tr, "a", Block("a", 1000))
	mustPut(t, tr, "b", Block("b", 1000))
	settle(t, h, tr)
	if err := tr.Delete(t.Context(), "a"); err != nil {
		t.Fatal(err)
	}
	settle(t, h, tr)
	expectMiss(t, tr, "a")
	expectHit(t, tr, "b", Block("b", 1000))
	if err := tr.Delete(t.Context(), "a"); err != nil {
		t.Errorf("Delete of an absent key: %v", err)
	}
	// Put after Delete stores again.
	mustPut(t, tr, "a", Block("a", 1000))
	settle(t, h, tr)
	expectHit(t, tr, "a", Block("a", 1000))
}

func testDistinctKeys(t *testing.T, h Harness) {
	tr := open(t, h, 64<<20)
	keys := []string{
		"obj/etag:1/4194304/0", "obj/etag:1/4194304/1", "obj/etag:2/4194304/0", "obj/etag:1/4194304/00",
		"../../etc/passwd", "/abs/path", "a/../b", "nul\x00byte", "nul\x00bytf", "日本語/ブロック", " ", ".", "..",
		strings.Repeat("long", 300), strings.Repeat("long", 300) + "x", "UPPER", "upper", "with/many/slashes/in/it",
	}
	for i, k := range keys {
		mustPut(t, tr, k, Block(k, 1000+i))
	}
	settle(t, h, tr)
	for i, k := range keys {
		expectHit(t, tr, k, Block(k, 1000+i))
	}
}

func testCapacity(t *testing.T, h Harness) {
	const capacity = 4 << 20
	tr := open(t, h, capacity)
	const block = 256 << 10
	for i := range 64 { // 16 MiB offered to a 4 MiB tier
		mustPut(t, tr, fmt.Sprintf("cap-%d", i), Block(fmt.Sprint(i), block))
		if i%8 == 7 {
			settle(t, h, tr)
			st := tr.Stats()
			if st.Bytes > st.Capacity || st.Capacity < capacity {
				t.Fatalf("after %d puts: Stats.Bytes %d, Capacity %d (asked for %d)", i+1, st.Bytes, st.Capacity, capacity)
			}
		}
	}
	settle(t, h, tr)
	held := 0
	for i := range 64 {
		key := fmt.Sprintf("cap-%d", i)
		got, err := readAll(t.Context(), tr, key, block)
		switch {
		case err == nil:
			if !bytes.Equal(got, Block(fmt.Sprint(i), block)) {
				t.Fatalf("%s: wrong bytes", key)
			}
			held++
		case !errors.Is(err, tier.ErrMiss):
			t.Fatalf("%s: %v", key, err)
		}
	}
	if st := tr.Stats(); int64(held)*block > st.Capacity+block {
		t.Errorf("%d blocks of %d bytes readable in a tier of capacity %d", held, block, st.Capacity)
	}
	if held == 0 {
		t.Error("a full tier holds no block at all")
	}
}

func testConcurrent(t *testing.T, h Harness) {
	tr := open(t, h, 64<<20)
	const keys = 32
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for range 300 {
				k := r.IntN(keys)
				key := fmt.Sprintf("c-%d", k)
				size := 4096 + k*1000
				switch r.IntN(10) {
				case 0:
					if err := tr.Delete(t.Context(), key); err != nil {
						errs <- err
						return
					}
				case 1, 2, 3:
					if err := tr.Put(t.Context(), key, Block(key, size)); err != nil {
						errs <- err
						return
					}
				default:
					off := r.Int64N(int64(size))
					p := make([]byte, r.IntN(size-int(off)+1))
					n, err := tr.ReadAt(t.Context(), key, p, off)
					if errors.Is(err, tier.ErrMiss) {
						continue
					}
					if err != nil && err != io.EOF {
						errs <- fmt.Errorf("ReadAt(%s, off %d, len %d): %w", key, off, len(p), err)
						return
					}
					if !bytes.Equal(p[:n], Block(key, size)[off:off+int64(n)]) || n != len(p) {
						errs <- fmt.Errorf("ReadAt(%s, off %d, len %d): %d wrong bytes", key, off, len(p), n)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func testStats(t *testing.T, h Harness) {
	tr := open(t, h, 8<<20)
	before := tr.Stats()
	mustPut(t, tr, "s", Block("s", 5000))
	settle(t, h, tr)
	expectHit(t, tr, "s", Block("s", 5000))
	expectMiss(t, tr, "absent")
	st := tr.Stats()
	if st.Hits != before.Hits+1 || st.Misses != before.Misses+1 {
		t.Errorf("after one hit and one miss: Hits %d→%d, Misses %d→%d", before.Hits, st.Hits, before.Misses, st.Misses)
	}
	if st.Puts < 1 || st.Blocks < 1 || st.Bytes < 5000 {
		t.Errorf("after storing one 5000-byte block: %+v", st)
	}
}

func testClose(t *testing.T, h Harness) {
	tr := h.New(t, 1<<20)
	mustPut(t, tr, "x", Block("x", 10))
	settle(t, h, tr)
	if err := tr.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := tr.Close(); err != nil && !errors.Is(err, fs.ErrClosed) {
		t.Errorf("second Close: %v, want nil or fs.ErrClosed", err)
	}
	if _, err := tr.ReadAt(t.Context(), "x", make([]byte, 1), 0); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("ReadAt after Close: %v, want fs.ErrClosed", err)
	}
	if err := tr.Put(t.Context(), "y", []byte("y")); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Put after Close: %v, want fs.ErrClosed", err)
	}
	if err := tr.Delete(t.Context(), "x"); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Delete after Close: %v, want fs.ErrClosed", err)
	}
}

// containsAll calls Contains on every key n times and returns the first
// answer for each; answers that change between calls fail the test.
func containsAll(t *testing.T, tr tier.Tier, keys []string, n int) []bool {
	t.Helper()
	got := make([]bool, len(keys))
	for i, k := range keys {
		got[i] = tr.Contains(k)
		for range n - 1 {
			if tr.Contains(k) != got[i] {
				t.Fatalf("Contains(%q) changed its answer with nothing else going on", k)
			}
		}
	}
	return got
}

func testContains(t *testing.T, h Harness) {
	t.Run("Presence", func(t *testing.T) {
		tr := open(t, h, 8<<20)
		if tr.Contains("c") {
			t.Fatal("Contains in an empty tier")
		}
		data := Block("c", 5000)
		mustPut(t, tr, "c", data)
		settle(t, h, tr)
		if !tr.Contains("c") {
			t.Fatal("Contains(c) = false after Put and Settle")
		}
		for _, k := range []string{"absent", "C", "c ", "c\x00", ""} {
			if tr.Contains(k) {
				t.Errorf("Contains(%q) = true; only %q was put", k, "c")
			}
		}
		if err := tr.Delete(t.Context(), "c"); err != nil {
			t.Fatal(err)
		}
		settle(t, h, tr)
		if tr.Contains("c") {
			t.Error("Contains(c) = true after Delete")
		}
		expectMiss(t, tr, "c")
		mustPut(t, tr, "c", data)
		settle(t, h, tr)
		if !tr.Contains("c") {
			t.Error("Contains(c) = false after Delete, Put and Settle")
		}
		expectHit(t, tr, "c", data)
	})

	// Contains, however often, moves no counter; a read (the control)
	// moves Hits by one.
	t.Run("Stats", func(t *testing.T) {
		tr := open(t, h, 8<<20)
		data := Block("s", 5000)
		mustPut(t, tr, "s", data)
		settle(t, h, tr)
		before := tr.Stats()
		got := containsAll(t, tr, []string{"s", "absent"}, 1000)
		if !got[0] || got[1] {
			t.Fatalf("Contains(s), Contains(absent) = %v, want true, false", got)
		}
		if after := tr.Stats(); after != before {
			t.Fatalf("2000 calls of Contains changed Stats:\nbefore %+v\nafter  %+v", before, after)
		}
		expectHit(t, tr, "s", data)
		if st := tr.Stats(); st.Hits != before.Hits+1 || st.Misses != before.Misses {
			t.Errorf("one read after the Contains calls: Hits %d→%d, Misses %d→%d; want one hit",
				before.Hits, st.Hits, before.Misses, st.Misses)
		}
	})

	// In a tier that has dropped or evicted blocks, Contains says which
	// ones a ReadAt serves, and asking about all of them moves no counter.
	t.Run("Full", func(t *testing.T) {
		const capacity = 4 << 20
		const block = 256 << 10
		tr := open(t, h, capacity)
		keys := make([]string, 64) // 16 MiB offered to a 4 MiB tier
		for i := range keys {
			keys[i] = fmt.Sprintf("full-%d", i)
			mustPut(t, tr, keys[i], Block(keys[i], block))
			if i%8 == 7 {
				settle(t, h, tr)
			}
		}
		settle(t, h, tr)
		before := tr.Stats()
		has := containsAll(t, tr, keys, 50)
		if after := tr.Stats(); after != before {
			t.Fatalf("Contains over a full tier changed Stats:\nbefore %+v\nafter  %+v", before, after)
		}
		held := 0
		for i, k := range keys {
			got, err := readAll(t.Context(), tr, k, block)
			switch {
			case err == nil:
				if !bytes.Equal(got, Block(k, block)) {
					t.Fatalf("%s: wrong bytes", k)
				}
				held++
				if !has[i] {
					t.Errorf("Contains(%q) = false, but ReadAt serves it", k)
				}
			case errors.Is(err, tier.ErrMiss):
				if has[i] {
					t.Errorf("Contains(%q) = true, but ReadAt misses", k)
				}
			default:
				t.Fatalf("%s: %v", k, err)
			}
		}
		if held == 0 || held == len(keys) {
			t.Errorf("%d of %d blocks held: the tier is not full, or empty", held, len(keys))
		}
	})

	t.Run("Close", func(t *testing.T) {
		tr := h.New(t, 1<<20)
		mustPut(t, tr, "x", Block("x", 10))
		settle(t, h, tr)
		if !tr.Contains("x") {
			t.Fatal("Contains(x) = false after Put and Settle")
		}
		if err := tr.Close(); err != nil {
			t.Fatal(err)
		}
		if tr.Contains("x") {
			t.Error("Contains(x) = true after Close")
		}
	})

	// The oldest block is probed after every Put of a younger one, four
	// times the capacity over: read, an LRU tier keeps it (the control,
	// which shows the probe could save it); asked about with Contains, it
	// must go.
	t.Run("LRU", func(t *testing.T) {
		if !h.LRU {
			t.Skip("Harness.LRU is false: the tier does not promise which block it evicts, so whether Contains saves one cannot be told from outside; its own tests check that Contains records no access")
		}
		const capacity = 1 << 20
		const block = 32 << 10
		old := Block("old", block)
		for _, probe := range []string{"ReadAt", "Contains"} {
			tr := open(t, h, capacity)
			mustPut(t, tr, "old", old)
			settle(t, h, tr)
			evictions := tr.Stats().Evictions
			for i := range 4 * capacity / block {
				key := fmt.Sprintf("young-%d", i)
				mustPut(t, tr, key, Block(key, block))
				settle(t, h, tr)
				if probe == "ReadAt" {
					if got, err := readAll(t.Context(), tr, "old", block); err != nil || !bytes.Equal(got, old) {
						t.Fatalf("after %d younger blocks, the oldest block, read after every Put, is gone or wrong (%v): Harness.LRU is set, but the tier does not keep the most recently read block", i+1, err)
					}
					continue
				}
				for range 10 {
					if !tr.Contains("old") {
						break
					}
				}
			}
			if st := tr.Stats(); st.Evictions == evictions {
				t.Fatalf("probed with %s: no eviction after putting 4× the capacity: %+v", probe, st)
			}
			_, err := readAll(t.Context(), tr, "old", block)
			switch {
			case probe == "Contains" && err == nil:
				t.Error("the oldest block, probed with Contains after every Put and never read, outlived 4× the capacity of younger blocks: Contains counts as a use")
			case err != nil && !errors.Is(err, tier.ErrMiss):
				t.Fatalf("read old: %v", err)
			}
			if probe == "Contains" && tr.Contains("old") {
				t.Error("Contains(old) = true after it was evicted")
			}
		}
	})
}

// testRelease holds a tier.Releaser to its contract: release is called at
// most once per PutRelease, for every block once the tier has settled (it
// keeps the bytes in its own storage), and the bytes read afterwards are
// the block's even though the caller has overwritten its buffer. A tier
// that is no Releaser keeps what it is given: nothing to check.
func testRelease(t *testing.T, h Harness) {
	tr := open(t, h, 64<<20)
	r, ok := tr.(tier.Releaser)
	if !ok {
		return
	}
	const n = 16
	var calls [n]atomic.Int32
	var released sync.WaitGroup
	released.Add(n)
	want := make([][]byte, n)
	for i := range n {
		key := fmt.Sprintf("release/%d", i)
		want[i] = Block(key, 4096+i)
		buf := bytes.Clone(want[i])
		if err := r.PutRelease(t.Context(), key, buf, func() {
			if calls[i].Add(1) == 1 {
				released.Done()
			}
			clear(buf) // the caller reuses the buffer
		}); err != nil {
			t.Fatalf("PutRelease(%q): %v", key, err)
		}
	}
	settle(t, h, tr)
	// A tier may call release just after it has settled (once the worker
	// that wrote the block lets go of it): wait for every release, within
	// a bound.
	all := make(chan struct{})
	go func() { released.Wait(); close(all) }()
	select {
	case <-all:
	case <-time.After(10 * time.Second):
		t.Fatal("not every block was released within 10 s of the tier settling")
	}
	for i := range n {
		if c := calls[i].Load(); c != 1 {
			t.Errorf("block %d: released %d times once settled, want 1", i, c)
		}
		key := fmt.Sprintf("release/%d", i)
		got, err := readAll(t.Context(), tr, key, len(want[i]))
		if err != nil && !errors.Is(err, tier.ErrMiss) {
			t.Errorf("read %q: %v", key, err)
		}
		if err == nil && !bytes.Equal(got, want[i]) {
			t.Errorf("read %q after its buffer was released and overwritten: wrong bytes", key)
		}
	}
}

// testMove holds a tier.Mover to its contract: the block moved reads back
// byte for byte under the new key and is a miss under the old one; a
// block under the new key is replaced; a Move of an absent key is a miss
// that changes nothing; a Move is no hit, miss or Put, and leaves Blocks
// and Bytes; a block Put and not yet settled moves too; Move fails with
// fs.ErrClosed after Close; and reads of other keys (and of the two keys
// moved: the block or a miss) are right while Moves run.
func testMove(t *testing.T, h Harness) {
	if _, ok := open(t, h, 1<<20).(tier.Mover); !ok {
		t.Skip("the tier is no tier.Mover: Move has no contract to check")
	}
	newMover := func(t *testing.T) tier.Mover {
		return open(t, h, 64<<20).(tier.Mover)
	}
	mustMove := func(t *testing.T, m tier.Mover, from, to string) {
		t.Helper()
		if err := m.Move(t.Context(), from, to); err != nil {
			t.Fatalf("Move(%q, %q): %v", from, to, err)
		}
	}

	t.Run("Basic", func(t *testing.T) {
		m := newMover(t)
		const size = 300_001 // several pieces, the last one short
		data := Block("from", size)
		mustPut(t, m, "from", data)
		mustPut(t, m, "other", Block("other", 5000))
		settle(t, h, m)
		before := m.Stats()
		mustMove(t, m, "from", "to")
		settle(t, h, m)
		after := m.Stats()
		if after.Hits != before.Hits || after.Misses != before.Misses || after.Puts != before.Puts ||
			after.Blocks != before.Blocks || after.Bytes != before.Bytes {
			t.Errorf("Move changed Stats:\nbefore %+v\nafter  %+v", before, after)
		}
		if m.Contains("from") || !m.Contains("to") {
			t.Errorf("after Move: Contains(from) = %v, Contains(to) = %v; want false, true", m.Contains("from"), m.Contains("to"))
		}
		expectMiss(t, m, "from")
		expectHit(t, m, "to", data)
		for _, r := range [][2]int{{0, 1}, {32767, 2}, {65536, 65536}, {size - 10, 10}, {12345, 200_000}} {
			p := make([]byte, r[1])
			if n, err := m.ReadAt(t.Context(), "to", p, int64(r[0])); n != r[1] || (err != nil && err != io.EOF) ||
				!bytes.Equal(p, data[r[0]:r[0]+r[1]]) {
				t.Fatalf("ReadAt(to, off %d, len %d) after Move = %d, %v, or wrong bytes", r[0], r[1], n, err)
			}
		}
		expectHit(t, m, "other", Block("other", 5000))
		// Deleting the old key afterwards (as a caller that cleans up
		// does) leaves the moved block; putting it again stores it anew.
		if err := m.Delete(t.Context(), "from"); err != nil {
			t.Fatal(err)
		}
		settle(t, h, m)
		expectHit(t, m, "to", data)
		mustPut(t, m, "from", data)
		settle(t, h, m)
		expectHit(t, m, "from", data)
		expectHit(t, m, "to", data)
		// A chain of moves.
		mustMove(t, m, "to", "to2")
		mustMove(t, m, "to2", "a much longer key than any before it, "+strings.Repeat("x", 100))
		settle(t, h, m)
		expectMiss(t, m, "to")
		expectMiss(t, m, "to2")
		expectHit(t, m, "a much longer key than any before it, "+strings.Repeat("x", 100), data)
	})

	t.Run("Replace", func(t *testing.T) {
		m := newMover(t)
		a, b := Block("a", 70_000), Block("b", 100_000)
		mustPut(t, m, "a", a)
		mustPut(t, m, "b", b)
		settle(t, h, m)
		blocks := m.Stats().Blocks
		mustMove(t, m, "a", "b")
		settle(t, h, m)
		expectMiss(t, m, "a")
		expectHit(t, m, "b", a)
		if got := m.Stats().Blocks; got != blocks-1 {
			t.Errorf("Stats.Blocks after moving a block over another: %d, want %d", got, blocks-1)
		}
	})

	t.Run("Miss", func(t *testing.T) {
		m := newMover(t)
		keep := Block("keep", 4000)
		mustPut(t, m, "keep", keep)
		mustPut(t, m, "deleted", Block("deleted", 4000))
		settle(t, h, m)
		if err := m.Delete(t.Context(), "deleted"); err != nil {
			t.Fatal(err)
		}
		settle(t, h, m)
		before := m.Stats()
		for _, from := range []string{"absent", "deleted", "KEEP"} {
			for _, to := range []string{"keep", "fresh"} {
				if err := m.Move(t.Context(), from, to); !errors.Is(err, tier.ErrMiss) {
					t.Errorf("Move(%q, %q): %v, want tier.ErrMiss", from, to, err)
				}
			}
		}
		settle(t, h, m)
		expectHit(t, m, "keep", keep)
		if m.Contains("fresh") {
			t.Error("a Move that missed left a block under its new key")
		}
		if err := m.Move(t.Context(), "absent", "absent"); !errors.Is(err, tier.ErrMiss) {
			t.Errorf("Move(absent, absent): %v, want tier.ErrMiss", err)
		}
		mustMove(t, m, "keep", "keep")
		expectHit(t, m, "keep", keep)
		for _, k := range [][2]string{{"", "x"}, {"keep", ""}} {
			if err := m.Move(t.Context(), k[0], k[1]); !errors.Is(err, fs.ErrInvalid) {
				t.Errorf("Move(%q, %q): %v, want fs.ErrInvalid", k[0], k[1], err)
			}
		}
		settle(t, h, m)
		after := m.Stats()
		after.Hits -= 2 // the reads of keep
		if after.Hits != before.Hits || after.Misses != before.Misses || after.Puts != before.Puts || after.Blocks != before.Blocks {
			t.Errorf("Moves that failed changed Stats:\nbefore %+v\nafter  %+v", before, after)
		}
	})

	// A block Put and not yet settled (a write behind still queued,
	// admission not yet decided) is the tier's to move.
	t.Run("Unsettled", func(t *testing.T) {
		m := newMover(t)
		var want [][]byte
		for i := range 8 {
			want = append(want, Block(fmt.Sprint("u", i), 50_000+i))
			mustPut(t, m, fmt.Sprint("u", i), want[i])
		}
		for i := range 8 {
			mustMove(t, m, fmt.Sprint("u", i), fmt.Sprint("v", i))
		}
		settle(t, h, m)
		for i := range 8 {
			expectMiss(t, m, fmt.Sprint("u", i))
			expectHit(t, m, fmt.Sprint("v", i), want[i])
		}
	})

	t.Run("Concurrent", func(t *testing.T) {
		m := newMover(t)
		const n = 16
		size := func(i int) int { return 40_000 + 1000*i }
		for i := range n {
			mustPut(t, m, fmt.Sprint("other-", i), Block(fmt.Sprint("other-", i), size(i)))
			mustPut(t, m, fmt.Sprint("src-", i), Block(fmt.Sprint("src-", i), size(i)))
		}
		settle(t, h, m)
		stop := make(chan struct{})
		errs := make(chan error, 8)
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(g), 11))
				for {
					select {
					case <-stop:
						return
					default:
					}
					i := r.IntN(n)
					key, want := fmt.Sprint("other-", i), Block(fmt.Sprint("other-", i), size(i))
					mayMiss := false
					switch r.IntN(3) {
					case 1: // a block being moved: its bytes or a miss
						key, want, mayMiss = fmt.Sprint("src-", i), Block(fmt.Sprint("src-", i), size(i)), true
					case 2:
						key, want, mayMiss = fmt.Sprint("dst-", i), Block(fmt.Sprint("src-", i), size(i)), true
					}
					off := r.IntN(len(want))
					p := make([]byte, r.IntN(len(want)-off+1))
					got, err := m.ReadAt(t.Context(), key, p, int64(off))
					switch {
					case mayMiss && errors.Is(err, tier.ErrMiss):
					case err != nil && err != io.EOF:
						errs <- fmt.Errorf("ReadAt(%s, off %d, len %d): %w", key, off, len(p), err)
						return
					case got != len(p) || !bytes.Equal(p, want[off:off+len(p)]):
						errs <- fmt.Errorf("ReadAt(%s, off %d, len %d): %d wrong bytes", key, off, len(p), got)
						return
					}
				}
			}()
		}
		for i := range n {
			mustMove(t, m, fmt.Sprint("src-", i), fmt.Sprint("dst-", i))
		}
		settle(t, h, m)
		close(stop)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for i := range n {
			expectMiss(t, m, fmt.Sprint("src-", i))
			expectHit(t, m, fmt.Sprint("dst-", i), Block(fmt.Sprint("src-", i), size(i)))
			expectHit(t, m, fmt.Sprint("other-", i), Block(fmt.Sprint("other-", i), size(i)))
		}
	})

	t.Run("Close", func(t *testing.T) {
		m := h.New(t, 1<<20).(tier.Mover)
		mustPut(t, m, "x", Block("x", 10))
		settle(t, h, m)
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		if err := m.Move(t.Context(), "x", "y"); !errors.Is(err, fs.ErrClosed) {
			t.Errorf("Move after Close: %v, want fs.ErrClosed", err)
		}
	})
}
