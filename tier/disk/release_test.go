package disk

import (
	"bytes"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tierfs/tierfs/tier"
)

var _ tier.Releaser = (*Tier)(nil)

// PutRelease gives the buffer back once: when the block is written, at
// once when it is refused (full queue, already queued), and never while a
// read of the queued block copies from it. The release poisons the buffer,
// as a cache reusing it for another block would: a read that copied after
// it would see wrong bytes, and the race detector a write racing a read.
func TestPutRelease(t *testing.T) {
	ffs := &faultFS{}
	stall, writing := make(chan struct{}), make(chan struct{})
	signal := sync.OnceFunc(func() { close(writing) })
	ffs.setHook(func(op, path string) error {
		if op == "write" {
			signal()
			<-stall
		}
		return nil
	})
	cfg := tier.DiskConfig{Dirs: []string{t.TempDir()}, Quota: 1 << 30, MinFreeRatio: -1, FillQueue: 1, FillWorkers: 1}
	tr := openTier(t, cfg, &Options{fsys: ffs})
	unstall := sync.OnceFunc(func() { close(stall) })
	t.Cleanup(unstall)

	var released [4]atomic.Int32
	put := func(i int, data []byte) {
		t.Helper()
		err := tr.PutRelease(t.Context(), testKey(i), data, func() {
			released[i].Add(1)
			for j := range data {
				data[j] = 0xff
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// Block 0 goes to the worker, which stalls writing it; block 1 fills
	// the queue; block 2 finds it full and is dropped, released at once.
	// A second offer of block 1 is refused as queued, released at once.
	d0, d1 := testData(0), testData(1)
	put(0, bytes.Clone(d0))
	<-writing // the worker has taken block 0 and stalls writing it
	put(1, bytes.Clone(d1))
	put(2, testData(2))
	if got := released[2].Load(); got != 1 {
		t.Errorf("block dropped on a full queue: released %d times, want 1 (at once)", got)
	}
	put(3, testData(3))
	if got := released[3].Load(); got != 1 {
		t.Errorf("block dropped on a full queue: released %d times, want 1", got)
	}
	dup := testData(1)
	if err := tr.PutRelease(t.Context(), testKey(1), dup, func() { released[1].Add(100) }); err != nil {
		t.Fatal(err)
	}
	if got := released[1].Load(); got != 100 {
		t.Errorf("a block offered while queued: released %d, want the duplicate's at once (100)", got)
	}
	released[1].Store(0)
	if released[0].Load() != 0 || released[1].Load() != 0 {
		t.Fatalf("released before written: %d, %d", released[0].Load(), released[1].Load())
	}

	// Readers copy the queued blocks while the worker writes them.
	var wg sync.WaitGroup
	for r := range 4 {
		wg.Go(func() {
			key, want := testKey(r%2), [][]byte{d0, d1}[r%2]
			p := make([]byte, len(want))
			for range 200 {
				n, err := tr.ReadAt(t.Context(), key, p, 0)
				if err != nil && n != len(p) {
					t.Errorf("read %s: %d bytes, %v", key, n, err)
					return
				}
				if !bytes.Equal(p[:n], want) {
					t.Errorf("read %s: wrong bytes (a released buffer was read)", key)
					return
				}
			}
		})
	}
	unstall()
	wg.Wait()
	flush(t, tr)
	for i := range 2 {
		if got := released[i].Load(); got != 1 {
			t.Errorf("block %d: released %d times after it was written, want 1", i, got)
		}
	}
	for i, want := range [][]byte{d0, d1} {
		readBlock(t, tr, testKey(i), want)
	}
}
