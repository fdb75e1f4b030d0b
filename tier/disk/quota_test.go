package disk

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tierfs/tierfs/tier"
	"github.com/tierfs/tierfs/tier/tiertest"
)

func TestWatermarks(t *testing.T) {
	dir := t.TempDir()
	const block = 64 << 10
	probe := openTier(t, tier.DiskConfig{Dirs: []string{t.TempDir()}, Quota: 1 << 20, MinFreeRatio: -1}, nil)
	charge := roundUp(fileSize(len("wm-000-0000"), block), probe.dirs[0].bsize)
	quota := 40 * charge
	cfg := tier.DiskConfig{Dirs: []string{dir}, Quota: quota, High: 0.8, Low: 0.5, MinFreeRatio: -1, FillQueue: 1000, FillWorkers: 4}
	tr := openTier(t, cfg, nil)
	data := tiertest.Block("wm", block)

	// Concurrent fills: Stats.Bytes after every Put, and the bytes really
	// on disk (temporary files included) watched by another goroutine.
	stop := make(chan struct{})
	var maxDisk atomic.Int64
	var watch sync.WaitGroup
	watch.Add(1)
	go func() {
		defer watch.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			var sum int64
			for _, f := range listFiles(t, dir) {
				sum += roundUp(f.size, tr.dirs[0].bsize)
			}
			if sum > maxDisk.Load() {
				maxDisk.Store(sum)
			}
		}
	}()
	var wg sync.WaitGroup
	var over atomic.Int64
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				tr.Put(t.Context(), fmt.Sprintf("wm-%03d-%04d", g, i), data)
				if b := tr.Stats().Bytes; b > quota {
					over.Store(b)
				}
			}
		}()
	}
	wg.Wait()
	flush(t, tr)
	close(stop)
	watch.Wait()
	if b := over.Load(); b != 0 {
		t.Errorf("Stats.Bytes reached %d over a quota of %d", b, quota)
	}
	if m := maxDisk.Load(); m > quota+charge {
		t.Errorf("%d bytes on disk at one time, quota %d, one block %d", m, quota, charge)
	}
	var onDisk, allocated int64
	for _, f := range listFiles(t, dir) {
		onDisk += roundUp(f.size, tr.dirs[0].bsize)
		allocated += f.blocks
	}
	st := tr.Stats()
	if onDisk != st.Bytes || onDisk > quota {
		t.Errorf("after the fills: %d bytes on disk (%d allocated), Stats.Bytes %d, quota %d", onDisk, allocated, st.Bytes, quota)
	}
	if st.Evictions == 0 {
		t.Errorf("no eviction after offering %d bytes to a quota of %d", 800*charge, quota)
	}
	t.Logf("concurrent: max on disk %d, after %d (allocated %d), quota %d, %+v", maxDisk.Load(), onDisk, allocated, quota, st)

	// One at a time: usage never passes High; an eviction pass brings it
	// down to at most Low.
	high, low := int64(cfg.High*float64(quota)), int64(cfg.Low*float64(quota))
	prev := st.Bytes
	passes := 0
	for i := range 200 {
		tr.Put(t.Context(), fmt.Sprintf("seq-%d", i), data)
		flush(t, tr)
		b := tr.Stats().Bytes
		if b > high {
			t.Fatalf("usage %d above the high watermark %d", b, high)
		}
		if b < prev {
			passes++
			if b > low {
				t.Fatalf("after an eviction pass usage is %d, above the low watermark %d", b, low)
			}
		}
		prev = b
	}
	if passes == 0 {
		t.Error("no eviction pass")
	}
}

func TestFreeSpaceFloor(t *testing.T) {
	dir := t.TempDir()
	ffs := &faultFS{}
	const total = 100 << 20
	var external atomic.Int64
	ffs.statfs = func(string) (fsStat, error) {
		var used int64
		for _, f := range listFiles(t, dir) {
			used += roundUp(f.size, 4096)
		}
		return fsStat{BlockSize: 4096, Total: total, Avail: total - external.Load() - used}, nil
	}
	cfg := tier.DiskConfig{Dirs: []string{dir}, Quota: 50 << 20, MinFreeRatio: 0.1, FillQueue: 100}
	clock := newFakeClock()
	tr := openTier(t, cfg, &Options{fsys: ffs, Clock: clock})
	data := tiertest.Block("floor", 1<<20)
	for i := range 20 {
		tr.Put(t.Context(), fmt.Sprint("floor-", i), data)
	}
	flush(t, tr)
	if st := tr.Stats(); st.Blocks != 20 {
		t.Fatalf("%d blocks stored with room to spare, want 20", st.Blocks)
	}
	// Another program fills the file system: 5 MiB free, the floor is 10.
	external.Store(75 << 20)
	tr.maintain()
	st, _ := ffs.Statfs(dir)
	if st.Avail < total/10 {
		t.Errorf("after a maintenance pass %d bytes free, floor %d", st.Avail, total/10)
	}
	if s := tr.Stats(); s.Evictions == 0 || s.Blocks == 0 {
		t.Errorf("floor eviction: %+v", s)
	}
	// Fills keep the floor too, under quota.
	external.Store(85 << 20)
	for i := range 20 {
		tr.Put(t.Context(), fmt.Sprint("floor2-", i), data)
		flush(t, tr)
		if st, _ := ffs.Statfs(dir); st.Avail < total/10 {
			t.Fatalf("a fill took free space to %d, floor %d", st.Avail, total/10)
		}
	}
	t.Logf("%+v", tr.Stats())
}

func TestConfigValidation(t *testing.T) {
	d := t.TempDir()
	for _, c := range []tier.DiskConfig{
		{Quota: 1 << 20},
		{Dirs: []string{""}, Quota: 1 << 20},
		{Dirs: []string{d, d + "/"}, Quota: 1 << 20},
		{Dirs: []string{d, d + "/sub"}, Quota: 1 << 20},
		{Dirs: []string{d}},
		{Dirs: []string{d}, Quota: -1},
		{Dirs: []string{d, t.TempDir()}, Quota: 1},
		{Dirs: []string{d}, Quota: 1 << 20, High: 0.5, Low: 0.6},
		{Dirs: []string{d}, Quota: 1 << 20, High: 1.1},
		{Dirs: []string{d}, Quota: 1 << 20, High: 0.6},
		{Dirs: []string{d}, Quota: 1 << 20, Low: -0.1},
		{Dirs: []string{d}, Quota: 1 << 20, High: math.NaN()},
		{Dirs: []string{d}, Quota: 1 << 20, MinFreeRatio: 1},
		{Dirs: []string{d}, Quota: 1 << 20, FillQueue: -1},
		{Dirs: []string{d}, Quota: 1 << 20, FillWorkers: -1},
		{Dirs: []string{d}, Quota: 1 << 20, IOTimeout: -1},
		{Dirs: []string{d}, Quota: 1 << 20, ProbeInterval: -1},
	} {
		tr, err := Open(c, nil)
		if !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Open(%+v) = %v; want an error wrapping fs.ErrInvalid", c, err)
		}
		if tr != nil {
			tr.Close()
		}
	}
	tr := openTier(t, tier.DiskConfig{Dirs: []string{"relative-" + t.Name()}, Quota: 1 << 20}, nil)
	t.Cleanup(func() { removeAll(t, "relative-"+t.Name()) })
	if p := tr.cfg.Dirs[0]; p[0] != '/' {
		t.Errorf("directory kept relative: %q", p)
	}
}
