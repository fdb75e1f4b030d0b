package memory_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tierfs/tierfs/tier/memory"
	"github.com/tierfs/tierfs/tier/tiertest"
)

var sizes = []struct {
	name string
	n    int
}{{"64KiB", 64 << 10}, {"4MiB", 4 << 20}}

// hitSetup returns a tier holding one 4 MiB block under "blk", and the
// same bytes as a plain slice.
func hitSetup(b *testing.B) (*memory.Tier, []byte) {
	b.Helper()
	mt := newTier(b, memory.Config{MaxBytes: 64 << 20})
	data := tiertest.Block("blk", 4<<20)
	if err := mt.Put(context.Background(), "blk", data); err != nil {
		b.Fatal(err)
	}
	mt.Wait()
	return mt, data
}

// BenchmarkHit is ReadAt from the tier of a 64 KiB range (from offset 1 MiB)
// and of a whole 4 MiB block.
func BenchmarkHit(b *testing.B) {
	mt, _ := hitSetup(b)
	ctx := context.Background()
	for _, s := range sizes {
		b.Run(s.name, func(b *testing.B) {
			p := make([]byte, s.n)
			off := int64(4<<20 - s.n)
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			for b.Loop() {
				if n, err := mt.ReadAt(ctx, "blk", p, off); n != s.n || err != nil {
					b.Fatal(n, err)
				}
			}
		})
	}
}

// BenchmarkCopyBaseline is copy of the same bytes from a plain []byte.
func BenchmarkCopyBaseline(b *testing.B) {
	_, data := hitSetup(b)
	for _, s := range sizes {
		b.Run(s.name, func(b *testing.B) {
			p := make([]byte, s.n)
			off := 4<<20 - s.n
			b.SetBytes(int64(s.n))
			b.ReportAllocs()
			for b.Loop() {
				copy(p, data[off:])
			}
		})
	}
}

// BenchmarkHitVsCopy measures both in one loop, in alternating batches so
// that both see the same machine, and reports hit throughput over copy
// throughput as "hit/copy" (1 means a hit costs no more than the copy).
func BenchmarkHitVsCopy(b *testing.B) {
	mt, data := hitSetup(b)
	ctx := context.Background()
	for _, s := range sizes {
		b.Run(s.name, func(b *testing.B) {
			p := make([]byte, s.n)
			off := 4<<20 - s.n
			const batch = 16
			var hit, cp time.Duration
			var rounds int64
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				for range batch {
					if n, err := mt.ReadAt(ctx, "blk", p, int64(off)); n != s.n || err != nil {
						b.Fatal(n, err)
					}
				}
				t1 := time.Now()
				for range batch {
					copy(p, data[off:])
				}
				cp += time.Since(t1)
				hit += t1.Sub(t0)
				rounds += batch
			}
			mb := float64(s.n) * float64(rounds) / 1e6
			b.ReportMetric(mb/hit.Seconds(), "hit-MB/s")
			b.ReportMetric(mb/cp.Seconds(), "copy-MB/s")
			b.ReportMetric(cp.Seconds()/hit.Seconds(), "hit/copy")
		})
	}
}

// BenchmarkRSS fills a 256 MiB tier with 4 MiB blocks four times over,
// each block freshly allocated as a fetch would, then collects garbage
// and reports the heap in use and the resident set against the budget.
// Run it alone: go test -run '^$' -bench RSS -benchtime 1x.
func BenchmarkRSS(b *testing.B) {
	const budget, block = 256 << 20, 4 << 20
	ctx := context.Background()
	template := tiertest.Block("template", block)
	runtime.GC()
	baseRSS := rss(b)
	var held, inuse, peakHeap, afterGC, afterFree uint64
	for b.Loop() {
		mt, err := memory.New(memory.Config{MaxBytes: budget})
		if err != nil {
			b.Fatal(err)
		}
		for i := range 4 * budget / block {
			// Every page written, as a fetched block's are: untouched
			// pages of a fresh allocation are never resident.
			data := make([]byte, block)
			copy(data, template)
			data[0] = byte(i)
			mt.Put(ctx, strconv.Itoa(i), data)
			mt.Wait()
		}
		peakHeap = max(peakHeap, heapBytes())
		st := mt.Stats()
		held = uint64(st.Bytes)
		runtime.GC()
		inuse = heapBytes()
		afterGC = rss(b)
		debug.FreeOSMemory()
		afterFree = rss(b)
		runtime.KeepAlive(mt)
		mt.Close()
	}
	b.ReportMetric(float64(held)/budget, "held/budget")
	b.ReportMetric(float64(peakHeap)/budget, "peak-heap/budget")
	b.ReportMetric(float64(inuse)/budget, "heap-inuse/budget")
	b.ReportMetric(float64(afterGC-baseRSS)/budget, "rss-gc/budget")
	b.ReportMetric(float64(afterFree-baseRSS)/budget, "rss-freed/budget")
}

// heapBytes is the memory in heap objects, live or not yet collected.
func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// rss reads the resident set size from /proc/self/statm.
func rss(b *testing.B) uint64 {
	buf, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		b.Skip("RSS is read from /proc/self/statm, which this system lacks:", err)
	}
	f := strings.Fields(string(buf))
	pages, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		b.Fatal(fmt.Errorf("statm %q: %w", buf, err))
	}
	return pages * uint64(os.Getpagesize())
}
