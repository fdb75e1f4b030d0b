package disk

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/tierfs/tierfs/tier"
)

// recency is d's LRU, newest first, and its cache of open files, newest
// first.
func recency(d *dir) (idx, fds []keyHash) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for e := d.idx.root.next; e != &d.idx.root; e = e.next {
		idx = append(idx, e.hash)
	}
	for ob := d.fds.root.next; ob != &d.fds.root; ob = ob.next {
		fds = append(fds, ob.h)
	}
	return idx, fds
}

// TestContainsLeavesRecency: Contains moves no block up the LRU or the
// cache of open files, opens no file and counts nothing; a ReadAt (the
// control) does move the block it reads.
func TestContainsLeavesRecency(t *testing.T) {
	cfs := newCountFS()
	cfg := tier.DiskConfig{Dirs: []string{t.TempDir()}, Quota: 1 << 30, MinFreeRatio: -1}
	tr := openTier(t, cfg, &Options{fsys: cfs})
	d := tr.dirs[0]
	const n = 6
	for i := range n {
		tr.Put(t.Context(), testKey(i), testData(i))
		flush(t, tr) // one at a time: the LRU order is the order of the Puts
	}
	// Blocks 1 and 3 read, so the open-file cache holds them.
	for _, i := range []int{3, 1} {
		if !readBlock(t, tr, testKey(i), testData(i)) {
			t.Fatalf("block %d: miss", i)
		}
	}
	idx, fds := recency(d)
	if len(idx) != n || len(fds) != 2 {
		t.Fatalf("%d blocks indexed, %d files open; want %d and 2", len(idx), len(fds), n)
	}
	if idx[n-1] != hashKey(testKey(0)) {
		t.Fatal("block 0, the first put and never read, is not the oldest")
	}
	st, opens := tr.Stats(), cfs.openCount("")
	for range 100 {
		for i := range n {
			if !tr.Contains(testKey(i)) {
				t.Fatalf("Contains(block %d) = false", i)
			}
		}
		if tr.Contains("absent") {
			t.Fatal("Contains(absent) = true")
		}
	}
	idx2, fds2 := recency(d)
	if !slices.Equal(idx, idx2) || !slices.Equal(fds, fds2) {
		t.Errorf("Contains changed recency: LRU %x → %x, open files %x → %x", idx, idx2, fds, fds2)
	}
	if st2 := tr.Stats(); st2 != st {
		t.Errorf("Contains changed Stats: %+v → %+v", st, st2)
	}
	if o := cfs.openCount(""); o != opens {
		t.Errorf("Contains opened files: %d open before, %d after", opens, o)
	}

	// The control: a read of the oldest block makes it the newest.
	if !readBlock(t, tr, testKey(0), testData(0)) {
		t.Fatal("block 0: miss")
	}
	if idx3, _ := recency(d); idx3[0] != hashKey(testKey(0)) {
		t.Error("a read of the oldest block did not move it to the front: this test cannot see a move")
	}
}

// TestContainsDuringRebuild: before a directory's rebuild walk has
// indexed a block, Contains finds its file with a stat, and does nothing
// else: no open, no read, no index entry, no counter.
func TestContainsDuringRebuild(t *testing.T) {
	dir := t.TempDir()
	cfg := tier.DiskConfig{Dirs: []string{dir}, Quota: 1 << 30, MinFreeRatio: -1, FillQueue: 100}
	tr, err := Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 10
	for i := range n {
		tr.Put(t.Context(), testKey(i), testData(i))
	}
	flush(t, tr)
	tr.Close()

	ffs := &faultFS{}
	var mu sync.Mutex // guards ops and failStat
	var ops []string
	failStat := false
	ffs.setHook(func(op, path string) error {
		if !strings.HasPrefix(path, dir+"/") {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		ops = append(ops, op)
		if op == "stat" && failStat {
			return syscall.EIO
		}
		return nil
	})
	takeOps := func() []string {
		mu.Lock()
		defer mu.Unlock()
		o := ops
		ops = nil
		return o
	}
	walking, release := make(chan struct{}), make(chan struct{})
	tr = openTier(t, cfg, &Options{fsys: ffs, beforeWalk: func(string) {
		close(walking)
		<-release
	}})
	<-walking
	d := tr.dirs[0]
	takeOps()
	st := tr.Stats()
	for i := range n {
		if !tr.Contains(testKey(i)) {
			t.Fatalf("block %d, on disk and not yet indexed: Contains = false", i)
		}
	}
	if tr.Contains("absent") {
		t.Error("Contains(absent) = true during the rebuild")
	}
	o := takeOps()
	if len(o) != n+1 || slices.ContainsFunc(o, func(op string) bool { return op != "stat" }) {
		t.Errorf("file operations of %d calls of Contains during the rebuild: %v; want %d stats", n+1, o, n+1)
	}
	if st2 := tr.Stats(); st2 != st {
		t.Errorf("Contains changed Stats: %+v → %+v", st, st2)
	}
	if idx, fds := recency(d); len(idx) != 0 || len(fds) != 0 {
		t.Errorf("Contains indexed %d blocks and opened %d files", len(idx), len(fds))
	}

	// A stat that fails is a no, not an I/O error.
	mu.Lock()
	failStat = true
	mu.Unlock()
	if tr.Contains(testKey(0)) {
		t.Error("Contains = true with stat failing")
	}
	d.mu.Lock()
	sick := d.sick
	d.mu.Unlock()
	if st2 := tr.Stats(); st2 != st || sick {
		t.Errorf("a failed stat in Contains: Stats %+v → %+v, directory sick %v", st, st2, sick)
	}
	mu.Lock()
	failStat = false
	mu.Unlock()

	// A block put during the rebuild waits in the queue: there.
	tr.Put(t.Context(), "new", []byte("new block"))
	if !tr.Contains("new") {
		t.Error("Contains = false for a block waiting in the queue")
	}

	close(release)
	flush(t, tr)
	takeOps()
	for i := range n {
		if !tr.Contains(testKey(i)) {
			t.Fatalf("block %d: Contains = false after the rebuild", i)
		}
	}
	if !tr.Contains("new") || tr.Contains("absent") {
		t.Error("after the rebuild: Contains(new) false or Contains(absent) true")
	}
	if o := takeOps(); len(o) != 0 {
		t.Errorf("Contains after the rebuild touched the disk: %v", o)
	}
}

// TestContainsSickDir: a sick directory's blocks are not there for
// Contains, as they are not for ReadAt, and asking does not touch it; a
// block still queued for it is there for both.
func TestContainsSickDir(t *testing.T) {
	ffs := &faultFS{}
	cfg := tier.DiskConfig{Dirs: []string{t.TempDir()}, Quota: 1 << 30, MinFreeRatio: -1, FillQueue: 100}
	tr := openTier(t, cfg, &Options{fsys: ffs, Clock: newFakeClock()})
	for i := range 5 {
		tr.Put(t.Context(), testKey(i), testData(i))
	}
	flush(t, tr)
	var ops []string
	var mu sync.Mutex
	ffs.setHook(func(op, path string) error {
		mu.Lock()
		defer mu.Unlock()
		ops = append(ops, fmt.Sprint(op, " ", path))
		return nil
	})
	tr.ioError(tr.dirs[0], syscall.EIO)
	st := tr.Stats()
	for i := range 5 {
		if tr.Contains(testKey(i)) {
			t.Errorf("block %d of a sick directory: Contains = true", i)
		}
		if readBlock(t, tr, testKey(i), testData(i)) {
			t.Fatalf("block %d of a sick directory: ReadAt hit", i)
		}
	}
	mu.Lock()
	if len(ops) != 0 {
		t.Errorf("Contains and ReadAt touched a sick directory: %v", ops)
	}
	mu.Unlock()
	if st2 := tr.Stats(); st2.Hits != st.Hits || st2.Misses != st.Misses+5 {
		t.Errorf("5 misses: %+v → %+v", st, st2)
	}

	// A block queued before its directory turned sick is served from
	// the queue (fills wait for the rebuild walk, held here).
	release := make(chan struct{})
	tr = openTier(t, tier.DiskConfig{Dirs: []string{t.TempDir()}, Quota: 1 << 30, MinFreeRatio: -1},
		&Options{Clock: newFakeClock(), beforeWalk: func(string) { <-release }})
	t.Cleanup(func() { close(release) }) // before openTier's Close, which waits for the walk
	tr.Put(t.Context(), "queued", []byte("queued block"))
	tr.ioError(tr.dirs[0], syscall.EIO)
	if !tr.Contains("queued") {
		t.Error("a block queued for a sick directory: Contains = false")
	}
	if !readBlock(t, tr, "queued", []byte("queued block")) {
		t.Error("a block queued for a sick directory: ReadAt missed (Contains must agree with it)")
	}
}
