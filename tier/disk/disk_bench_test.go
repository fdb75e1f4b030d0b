package disk

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/tierfs/tierfs/tier"
	"github.com/tierfs/tierfs/tier/tiertest"
)

// BenchmarkHit reads a cached block from the page cache (warm) through the
// tier, beside os.File.ReadAt of the same bytes from a plain file in the
// same directory, and reports hit/readat: the plain read's time over the
// tier's (1 means free). Both sides read from a file already open: the
// plain file is opened once, and the tier keeps the block file open in
// its cache of open files (filled by the warm-up reads), as it does for a
// block read again soon; the "uncached" case opens the block file on
// every read (cache disabled), as for a block not read lately. What the
// tier adds is the CRC32C of every piece the range covers (the whole
// partial pieces at the ends of an unaligned range) and its bookkeeping
// (index, LRU, health). The uncached case also reports hit/open+readat:
// against a plain read that opens and closes the file each time too, as
// the tier does there. The two loops alternate in rounds of 16 reads, so
// both see the same machine: the noise of a shared machine (other
// programs on the other core) falls on both.
func BenchmarkHit(b *testing.B) {
	const block = 4 << 20
	for _, c := range []struct {
		name     string
		off, n   int64
		uncached bool
	}{
		{"block-4MiB", 0, block, false},
		{"range-256KiB", 1 << 20, 256 << 10, false},
		{"range-256KiB-unaligned", 1<<20 + 1000, 256 << 10, false},
		{"range-256KiB-uncached", 1 << 20, 256 << 10, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			dir := b.TempDir()
			tr := openTier(b, tier.DiskConfig{Dirs: []string{dir}, Quota: 1 << 30}, nil)
			if c.uncached {
				d := tr.dirs[0]
				d.mu.Lock()
				d.fds.max = 0
				d.mu.Unlock()
			}
			data := tiertest.Block("hit", block)
			tr.Put(b.Context(), "hit", data)
			flush(b, tr)
			plain := filepath.Join(dir, "plain")
			if err := os.WriteFile(plain, data, 0o600); err != nil {
				b.Fatal(err)
			}
			f, err := os.Open(plain)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			p := make([]byte, c.n)
			for range 3 { // warm both in the page cache (and the tier's open file)
				tr.ReadAt(b.Context(), "hit", p, c.off)
				f.ReadAt(p, c.off)
			}
			b.SetBytes(c.n)
			b.ReportAllocs()
			b.ResetTimer()
			var tierTime, fileTime, openTime time.Duration
			const round = 16
			for done := 0; done < b.N; done += round {
				k := min(round, b.N-done)
				start := time.Now()
				for range k {
					if n, err := tr.ReadAt(b.Context(), "hit", p, c.off); n != len(p) || (err != nil && c.off+c.n != block) {
						b.Fatalf("tier read: %d bytes, %v", n, err)
					}
				}
				mid := time.Now()
				b.StopTimer()
				for range k {
					if _, err := f.ReadAt(p, c.off); err != nil {
						b.Fatal(err)
					}
				}
				fileTime += time.Since(mid)
				tierTime += mid.Sub(start)
				if c.uncached {
					t0 := time.Now()
					for range k {
						g, err := os.Open(plain)
						if err != nil {
							b.Fatal(err)
						}
						if _, err := g.ReadAt(p, c.off); err != nil {
							b.Fatal(err)
						}
						g.Close()
					}
					openTime += time.Since(t0)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(fileTime)/float64(tierTime), "hit/readat")
			if c.uncached {
				b.ReportMetric(float64(openTime)/float64(tierTime), "hit/open+readat")
			}
			b.ReportMetric(float64(fileTime.Nanoseconds())/float64(b.N), "readat-ns/op")
		})
	}
}

// BenchmarkRestart measures a restart over a directory of 100,000 cached
// block files of 8 KiB (a 4 KiB header, 200 bytes of data): the time from Open to the first hit, the time to the
// end of the index rebuild, and the index memory per entry after it.
func BenchmarkRestart(b *testing.B) {
	const blocks = 100_000
	dir := b.TempDir()
	start := time.Now()
	{
		tr, err := Open(tier.DiskConfig{Dirs: []string{dir}, Quota: 1 << 40, MinFreeRatio: -1}, nil)
		if err != nil {
			b.Fatal(err)
		}
		d := tr.dirs[0]
		// The start-up walk sweeps temporary files: write after it, as fills do.
		<-d.ready
		data := tiertest.Block("restart", 200) // the header in one 4 KiB fs block, the data in the next
		for i := range blocks {
			key := testKey(i)
			if err := tr.writeFile(d, hashKey(key), encodeHeader(key, data), data); err != nil {
				b.Fatal(err)
			}
		}
		tr.Close()
	}
	b.Logf("built %d block files in %v", blocks, time.Since(start))
	b.Run("open-to-first-hit", func(b *testing.B) {
		var firstHit, rebuilt time.Duration
		var perEntry float64
		for range b.N {
			runtime.GC()
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			start := time.Now()
			tr, err := Open(tier.DiskConfig{Dirs: []string{dir}, Quota: 1 << 40, MinFreeRatio: -1}, nil)
			if err != nil {
				b.Fatal(err)
			}
			p := make([]byte, 100)
			if _, err := tr.ReadAt(b.Context(), testKey(blocks/2), p, 0); err != nil {
				b.Fatal(err)
			}
			firstHit += time.Since(start)
			flush(b, tr)
			rebuilt += time.Since(start)
			if st := tr.Stats(); st.Blocks != blocks {
				b.Fatalf("%d blocks indexed, want %d", st.Blocks, blocks)
			}
			runtime.GC()
			runtime.ReadMemStats(&m1)
			perEntry += float64(m1.HeapAlloc-m0.HeapAlloc) / blocks
			runtime.KeepAlive(tr)
			tr.Close()
		}
		b.ReportMetric(float64(firstHit.Microseconds())/float64(b.N), "µs-to-first-hit")
		b.ReportMetric(float64(rebuilt.Milliseconds())/float64(b.N), "ms-to-rebuilt")
		b.ReportMetric(perEntry/float64(b.N), "index-bytes/entry")
	})
}

// BenchmarkMove gives a cached 4 MiB block a new key, as the writer's
// Close does for every block it wrote, both ways in turn on the same
// tier: with Move (a 4 KiB header read and rewrite and a rename), and as
// Close did it before Move (a whole read of the block, a Put of it under
// the new key, its write behind, and a Delete of the old key). It reports
// µs/move, µs/copy and copy/move, the ratio of the two.
func BenchmarkMove(b *testing.B) {
	const block = 4 << 20
	tr := openTier(b, tier.DiskConfig{Dirs: []string{b.TempDir()}, Quota: 1 << 30, MinFreeRatio: -1}, nil)
	tr.Put(b.Context(), "k0", tiertest.Block("move", block))
	flush(b, tr)
	buf := make([]byte, block)
	from, to := "k0", "k1"
	var moving, copying time.Duration
	for b.Loop() {
		t0 := time.Now()
		if err := tr.Move(b.Context(), from, to); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if n, err := tr.ReadAt(b.Context(), to, buf, 0); n != block || err != nil {
			b.Fatal(n, err)
		}
		tr.Put(b.Context(), from, buf)
		flush(b, tr)
		tr.Delete(b.Context(), to)
		moving += t1.Sub(t0)
		copying += time.Since(t1)
	}
	if st := tr.Stats(); st.Blocks != 1 || st.Corrupt != 0 {
		b.Fatalf("%+v: want 1 block", st)
	}
	b.ReportMetric(float64(moving.Microseconds())/float64(b.N), "µs/move")
	b.ReportMetric(float64(copying.Microseconds())/float64(b.N), "µs/copy")
	b.ReportMetric(float64(copying)/float64(moving), "copy/move")
}
