package disk

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tierfs/tierfs/tier"
	"github.com/tierfs/tierfs/tier/tiertest"
)

// readBlock reads key whole; it reports a hit with exact bytes, a miss,
// or fails the test on anything else.
func readBlock(t testing.TB, tr *Tier, key string, want []byte) bool {
	t.Helper()
	p := make([]byte, len(want)+1)
	n, err := tr.ReadAt(t.Context(), key, p, 0)
	switch {
	case errors.Is(err, tier.ErrMiss):
		return false
	case err != io.EOF || !bytes.Equal(p[:n], want):
		t.Fatalf("read %q: %d bytes, %v (wrong bytes or error)", key, n, err)
	}
	return true
}

func TestSickDir(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	ffs := &faultFS{}
	clock := newFakeClock()
	cfg := tier.DiskConfig{Dirs: []string{a, b}, Quota: 1 << 30, MinFreeRatio: -1, FillQueue: 100,
		IOTimeout: 5 * time.Second, ProbeInterval: 30 * time.Second}
	tr := openTier(t, cfg, &Options{fsys: ffs, Clock: clock})
	var keysA, keysB []int
	for i := range 40 {
		tr.Put(t.Context(), testKey(i), testData(i))
		if tr.dirFor(hashKey(testKey(i))).path == a {
			keysA = append(keysA, i)
		} else {
			keysB = append(keysB, i)
		}
	}
	flush(t, tr)
	if len(keysA) == 0 || len(keysB) == 0 {
		t.Fatalf("blocks not spread: %d in a, %d in b", len(keysA), len(keysB))
	}
	dirA := tr.dirs[0]

	var faults atomic.Int64
	var failA atomic.Bool
	failA.Store(true)
	ffs.setHook(func(op, path string) error {
		if failA.Load() && strings.HasPrefix(path, a+"/") && (op == "read" || op == "write") {
			faults.Add(1)
			return syscall.EIO
		}
		return nil
	})
	if readBlock(t, tr, testKey(keysA[0]), testData(keysA[0])) {
		t.Fatal("read through EIO was a hit")
	}
	if st := tr.Stats(); st.Errors != 1 {
		t.Fatalf("Stats.Errors = %d after one EIO, want 1", st.Errors)
	}
	dirA.mu.Lock()
	sick := dirA.sick
	dirA.mu.Unlock()
	if !sick {
		t.Fatal("directory not marked unhealthy after EIO")
	}
	// Its blocks are misses without touching it; the other dir works.
	n := faults.Load()
	for _, i := range keysA {
		if readBlock(t, tr, testKey(i), testData(i)) {
			t.Fatalf("hit on a sick directory")
		}
	}
	for _, i := range keysB {
		if !readBlock(t, tr, testKey(i), testData(i)) {
			t.Fatalf("miss on the healthy directory")
		}
	}
	if faults.Load() != n {
		t.Errorf("the sick directory was read %d more times", faults.Load()-n)
	}
	dropped := tr.Stats().Dropped
	tr.Put(t.Context(), testKey(keysA[0])+"-new", []byte("x")) // may land in either dir
	for i := 1000; ; i++ {
		if k := testKey(i); tr.dirFor(hashKey(k)) == dirA {
			tr.Put(t.Context(), k, testData(i))
			break
		}
	}
	if tr.Stats().Dropped <= dropped {
		t.Error("a fill for the sick directory was not dropped")
	}

	// Not due yet, then due with the fault still there: stays sick.
	tr.maintain()
	clock.Advance(cfg.ProbeInterval)
	tr.maintain()
	if readBlock(t, tr, testKey(keysA[1]), testData(keysA[1])) {
		t.Fatal("re-admitted while the probe fails")
	}
	// The disk recovers: the next probe re-admits the directory.
	failA.Store(false)
	clock.Advance(cfg.ProbeInterval)
	tr.maintain()
	for _, i := range keysA {
		if !readBlock(t, tr, testKey(i), testData(i)) {
			t.Fatalf("miss after re-admission")
		}
	}

	// A stall: a read hangs past IOTimeout; the watchdog marks the
	// directory sick, other reads of it miss at once.
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	ffs.setHook(func(op, path string) error {
		if op == "read" && strings.HasPrefix(path, a+"/") {
			once.Do(func() {
				close(entered)
				<-release
			})
		}
		return nil
	})
	done := make(chan error)
	go func() {
		_, err := tr.ReadAt(t.Context(), testKey(keysA[0]), make([]byte, 10), 0)
		done <- err
	}()
	<-entered
	clock.Advance(cfg.IOTimeout + time.Second)
	tr.maintain()
	if readBlock(t, tr, testKey(keysA[1]), testData(keysA[1])) {
		t.Fatal("hit on a directory with a stalled read")
	}
	close(release)
	if err := <-done; err != nil && !errors.Is(err, tier.ErrMiss) {
		t.Fatalf("stalled read: %v", err)
	}
	clock.Advance(cfg.ProbeInterval)
	tr.maintain()
	if !readBlock(t, tr, testKey(keysA[1]), testData(keysA[1])) {
		t.Fatal("miss after the stall ended and the probe passed")
	}
	t.Logf("%+v", tr.Stats())
}

func TestNoSpace(t *testing.T) {
	dir := t.TempDir()
	ffs := &faultFS{}
	cfg := tier.DiskConfig{Dirs: []string{dir}, Quota: 1 << 30, MinFreeRatio: -1, FillQueue: 100}
	tr := openTier(t, cfg, &Options{fsys: ffs})
	for i := range 10 {
		tr.Put(t.Context(), testKey(i), testData(i))
	}
	flush(t, tr)

	// Every write fails with ENOSPC: evict, retry, drop; nothing reaches
	// a reader and the directory stays healthy.
	ffs.setHook(func(op, path string) error {
		if op == "write" {
			return syscall.ENOSPC
		}
		return nil
	})
	for i := 10; i < 20; i++ {
		if err := tr.Put(t.Context(), testKey(i), testData(i)); err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	flush(t, tr)
	st := tr.Stats()
	if st.Dropped != 10 || st.Errors != 0 || st.Evictions == 0 {
		t.Errorf("after 10 fills into a full disk: %+v; want 10 dropped, no errors, evictions", st)
	}
	for i := range 20 {
		readBlock(t, tr, testKey(i), testData(i))
	}
	// ENOSPC once per block: the retry after eviction stores it.
	var n atomic.Int64
	ffs.setHook(func(op, path string) error {
		if op == "write" && n.Add(1)%4 == 1 { // header write of the first try
			return syscall.ENOSPC
		}
		return nil
	})
	for i := 20; i < 30; i++ {
		tr.Put(t.Context(), testKey(i), testData(i))
		flush(t, tr)
		if !readBlock(t, tr, testKey(i), testData(i)) {
			t.Errorf("block %d not stored after one ENOSPC", i)
		}
	}
	if st := tr.Stats(); st.Errors != 0 {
		t.Errorf("ENOSPC counted as an I/O error: %+v", st)
	}
	if left := listTemps(t, dir); left != 0 {
		t.Errorf("%d temporary files left by failed writes", left)
	}
}

func listTemps(t testing.TB, dir string) int {
	n := 0
	for _, f := range listFiles(t, dir) {
		if isTemp(f.path) {
			n++
		}
	}
	return n
}

// TestNoSpaceTmpfs fills a real 8 MiB tmpfs through a quota of 64 MiB,
// so the file system, not the quota, runs out.
func TestNoSpaceTmpfs(t *testing.T) {
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("SKIPPED LOUDLY: cannot mount a tmpfs here (%v: %s); the injected-ENOSPC test TestNoSpace still ran", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", mnt, err, out)
		}
	})
	cfg := tier.DiskConfig{Dirs: []string{mnt}, Quota: 64 << 20, MinFreeRatio: -1, FillQueue: 16, FillWorkers: 4}
	tr, err := Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	const block = 256 << 10
	key := func(i int) string { return fmt.Sprint("tmpfs-", i) }
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 9))
			for i := g; i < 128; i += 4 {
				if err := tr.Put(t.Context(), key(i), tiertest.Block(key(i), block)); err != nil {
					t.Errorf("Put: %v", err)
				}
				j := r.IntN(i + 1)
				p := make([]byte, 1000)
				off := r.Int64N(block - 1000)
				n, err := tr.ReadAt(t.Context(), key(j), p, off)
				if err != nil && !errors.Is(err, tier.ErrMiss) {
					t.Errorf("ReadAt: %v", err)
				} else if err == nil && !bytes.Equal(p[:n], tiertest.Block(key(j), block)[off:off+1000]) {
					t.Errorf("ReadAt %s: wrong bytes", key(j))
				}
			}
		}()
	}
	wg.Wait()
	if err := tr.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	held := 0
	for i := range 128 {
		if readBlock(t, tr, key(i), tiertest.Block(key(i), block)) {
			held++
		}
	}
	st := tr.Stats()
	t.Logf("tmpfs of 8 MiB, 32 MiB offered: %d blocks held, %+v", held, st)
	if held == 0 || st.Errors != 0 || st.Dropped+st.Evictions == 0 {
		t.Errorf("held %d, %+v: want blocks held, no I/O errors, drops or evictions", held, st)
	}
	if n := listTemps(t, mnt); n != 0 {
		t.Errorf("%d temporary files left", n)
	}
}

func TestLock(t *testing.T) {
	dir := t.TempDir()
	cfg := tier.DiskConfig{Dirs: []string{dir}, Quota: 1 << 20}
	first, err := Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	_, err = Open(tier.DiskConfig{Dirs: []string{other, dir}, Quota: 1 << 20}, nil)
	if !errors.Is(err, ErrLocked) || !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second Open: %v; want ErrLocked (fs.ErrExist)", err)
	}
	// It names the directory and the holder, once (issue 11: the error
	// stuttered "tier: disk: lock …: tier: disk: …" and named nobody).
	msg := err.Error()
	if strings.Count(msg, "tier: disk") != 1 || strings.Count(msg, dir) != 1 || !strings.Contains(msg, fmt.Sprintf("pid %d", os.Getpid())) {
		t.Errorf("second Open: %q; want the directory and the holder's pid, once", msg)
	}
	// The failed Open released the lock it had taken on the other dir.
	tr := openTier(t, tier.DiskConfig{Dirs: []string{other}, Quota: 1 << 20}, nil)
	tr.Close()
	first.Close()
	openTier(t, cfg, nil)
}

func TestRestart(t *testing.T) {
	dirs := []string{t.TempDir(), t.TempDir()}
	cfg := tier.DiskConfig{Dirs: dirs, Quota: 1 << 30, MinFreeRatio: -1, FillQueue: 100}
	tr, err := Open(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	for i := range n {
		tr.Put(t.Context(), testKey(i), testData(i))
	}
	flush(t, tr)
	before := tr.Stats()
	tr.Close()

	// The walks wait until the first hit has been served.
	release := make(chan struct{})
	walks := make(chan string, len(dirs))
	hook := func(dir string) {
		walks <- dir
		<-release
	}
	reordered := tier.DiskConfig{Dirs: []string{dirs[1], dirs[0]}, Quota: cfg.Quota, MinFreeRatio: -1, FillQueue: 100}
	tr = openTier(t, reordered, &Options{beforeWalk: hook})
	<-walks
	<-walks
	for i := range n {
		if !readBlock(t, tr, testKey(i), testData(i)) {
			t.Fatalf("block %d: miss during the rebuild", i)
		}
	}
	// A fill waits for the walk, so it cannot pass the quota uncounted.
	tr.Put(t.Context(), "new", []byte("new block"))
	if st := tr.Stats(); st.Puts != 0 || st.Blocks != n {
		t.Fatalf("during the rebuild: %+v", st)
	}
	close(release)
	flush(t, tr)
	st := tr.Stats()
	if st.Blocks != n+1 || st.Bytes <= before.Bytes || st.Puts != 1 {
		t.Errorf("after the rebuild: %+v; before the restart: %+v", st, before)
	}
	if st.Bytes-before.Bytes != roundUp(fileSize(3, 9), tr.dirs[0].bsize) {
		t.Errorf("bytes after the rebuild %d, before %d", st.Bytes, before.Bytes)
	}
	if !readBlock(t, tr, "new", []byte("new block")) {
		t.Error("block filled during the rebuild is a miss")
	}
}

func TestDeletePendingAndClose(t *testing.T) {
	dir := t.TempDir()
	release := make(chan struct{})
	cfg := tier.DiskConfig{Dirs: []string{dir}, Quota: 1 << 30, MinFreeRatio: -1, FillQueue: 4, FillWorkers: 1}
	tr, err := Open(cfg, &Options{beforeWalk: func(string) { <-release }})
	if err != nil {
		t.Fatal(err)
	}
	// Queued blocks are readable from the queue, a Delete cancels one, a
	// full queue drops.
	for i := range 6 {
		tr.Put(t.Context(), testKey(i), testData(i))
	}
	if !readBlock(t, tr, testKey(1), testData(1)) || !tr.Contains(testKey(1)) {
		t.Fatal("queued block not readable, or not there for Contains")
	}
	tr.Delete(t.Context(), testKey(1))
	if readBlock(t, tr, testKey(1), testData(1)) || tr.Contains(testKey(1)) {
		t.Fatal("deleted queued block readable, or there for Contains")
	}
	if st := tr.Stats(); st.Dropped < 1 {
		t.Errorf("full queue: %+v", st)
	}
	close(release)
	flush(t, tr)
	if readBlock(t, tr, testKey(1), testData(1)) {
		t.Fatal("deleted queued block written")
	}
	if !readBlock(t, tr, testKey(2), testData(2)) {
		t.Fatal("queued block lost")
	}
	if err := tr.Close(); err != nil {
		t.Fatal(err)
	}
	if tr.Contains(testKey(2)) {
		t.Error("Contains = true after Close")
	}
	if err := tr.Flush(t.Context()); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Flush after Close: %v", err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
}

// TestReadableWhileWritesFail: a directory made unhealthy by a failed
// write, whose writes go on failing but whose reads work (a full or
// read-only file system), serves its valid blocks again after the next
// probe, and still drops fills (issue 11, finding 7: it never served them
// again).
func TestReadableWhileWritesFail(t *testing.T) {
	a := t.TempDir()
	ffs := &faultFS{}
	clock := newFakeClock()
	cfg := tier.DiskConfig{Dirs: []string{a}, Quota: 1 << 30, MinFreeRatio: -1, FillQueue: 100,
		IOTimeout: 5 * time.Second, ProbeInterval: 30 * time.Second}
	tr := openTier(t, cfg, &Options{fsys: ffs, Clock: clock})
	for i := range 8 {
		tr.Put(t.Context(), testKey(i), testData(i))
	}
	flush(t, tr)
	var failWrites atomic.Bool
	failWrites.Store(true)
	ffs.setHook(func(op, path string) error {
		if failWrites.Load() && op == "write" {
			return syscall.EROFS
		}
		return nil
	})
	tr.Put(t.Context(), testKey(100), testData(100)) // its write fails: the directory turns sick
	flush(t, tr)
	if readBlock(t, tr, testKey(0), testData(0)) {
		t.Fatal("hit on a directory just marked unhealthy: the test checks nothing")
	}
	clock.Advance(cfg.ProbeInterval)
	tr.maintain() // the probe's write fails, its read works
	for i := range 8 {
		if !readBlock(t, tr, testKey(i), testData(i)) {
			t.Fatalf("block %d: miss on a directory whose reads work", i)
		}
	}
	dropped := tr.Stats().Dropped
	tr.Put(t.Context(), testKey(101), testData(101))
	flush(t, tr)
	if tr.Stats().Dropped <= dropped || tr.Contains(testKey(101)) {
		t.Error("a fill for a directory whose writes fail was not dropped")
	}
	failWrites.Store(false)
	clock.Advance(cfg.ProbeInterval)
	tr.maintain()
	tr.Put(t.Context(), testKey(102), testData(102))
	flush(t, tr)
	if !readBlock(t, tr, testKey(102), testData(102)) {
		t.Error("fills still dropped after the probe succeeded")
	}
}

// TestNestedInOtherTier: a cache directory inside another tier's (here
// one this process opened; the same holds for another process's) is
// refused with fs.ErrInvalid (issue 11, finding 7: it was accepted).
func TestNestedInOtherTier(t *testing.T) {
	outer := t.TempDir()
	openTier(t, tier.DiskConfig{Dirs: []string{outer}, Quota: 1 << 20}, nil)
	for _, inner := range []string{filepath.Join(outer, "sub"), filepath.Join(outer, "a", "b")} {
		tr, err := Open(tier.DiskConfig{Dirs: []string{inner}, Quota: 1 << 20}, nil)
		if err == nil {
			tr.Close()
			t.Errorf("Open of %s inside another tier's directory succeeded", inner)
			continue
		}
		if !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Open of %s: %v, want fs.ErrInvalid", inner, err)
		}
	}
}
