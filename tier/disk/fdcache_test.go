package disk

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"sync"
	"testing"

	"github.com/tierfs/tierfs/tier"
)

// countFS is the real file system that counts the block files open for
// reading, by path, and catches a descriptor closed twice.
type countFS struct {
	osFS
	mu        sync.Mutex // guards open, double and afterOpen
	open      map[string]int
	double    int
	afterOpen func(name string) // called after a block file is opened for reading
	noMap     bool              // files cannot be mapped: cached ones are read with pread
}

func newCountFS() *countFS { return &countFS{open: map[string]int{}} }

func (f *countFile) mmap(size int64) ([]byte, error) {
	if m, ok := f.file.(mapper); ok && !f.c.noMap {
		return m.mmap(size)
	}
	return nil, errors.ErrUnsupported
}

func (c *countFS) OpenFile(name string, flag int, perm fs.FileMode) (file, error) {
	f, err := c.osFS.OpenFile(name, flag, perm)
	if err != nil || flag != os.O_RDONLY {
		return f, err
	}
	c.mu.Lock()
	c.open[name]++
	hook := c.afterOpen
	c.mu.Unlock()
	if hook != nil {
		hook(name)
	}
	return &countFile{file: f, c: c, name: name}, nil
}

// openCount is how many descriptors of path are open (all paths if "").
func (c *countFS) openCount(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for p, k := range c.open {
		if path == "" || p == path {
			n += k
		}
	}
	return n
}

type countFile struct {
	file
	c      *countFS
	name   string
	closed bool // guarded by c.mu
}

func (f *countFile) Close() error {
	f.c.mu.Lock()
	if f.closed {
		f.c.double++
		f.c.mu.Unlock()
		return fs.ErrClosed
	}
	f.closed = true
	f.c.open[f.name]--
	f.c.mu.Unlock()
	return f.file.Close()
}

// cachedFDs is how many open files d's cache holds.
func cachedFDs(d *dir) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fds.len()
}

func isCached(d *dir, key string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fds.m[hashKey(key)] != nil
}

func TestFDCache(t *testing.T) {
	t.Run("mapped", func(t *testing.T) { testFDCache(t, true) })
	t.Run("pread", func(t *testing.T) { testFDCache(t, false) })
}

func testFDCache(t *testing.T, mapped bool) {
	newTier := func(t *testing.T, quota int64) (*Tier, *countFS) {
		cfs := newCountFS()
		cfs.noMap = !mapped
		cfg := tier.DiskConfig{Dirs: []string{t.TempDir()}, Quota: quota, MinFreeRatio: -1, FillQueue: 100, FillWorkers: 1}
		t.Cleanup(func() { // runs after openTier's, which closes the tier
			if n := cfs.openCount(""); n != 0 {
				t.Errorf("%d block files open after Close", n)
			}
			if cfs.double != 0 {
				t.Errorf("%d descriptors closed twice", cfs.double)
			}
		})
		return openTier(t, cfg, &Options{fsys: cfs}), cfs
	}
	put := func(t *testing.T, tr *Tier, key string, data []byte) {
		t.Helper()
		if err := tr.Put(t.Context(), key, data); err != nil {
			t.Fatal(err)
		}
		flush(t, tr)
	}

	t.Run("hit-keeps-one-fd", func(t *testing.T) {
		tr, cfs := newTier(t, 1<<30)
		d := tr.dirs[0]
		put(t, tr, testKey(0), testData(0))
		for range 10 {
			if !readBlock(t, tr, testKey(0), testData(0)) {
				t.Fatal("miss")
			}
		}
		path := d.blockPath(hashKey(testKey(0)))
		if n := cfs.openCount(path); n != 1 || !isCached(d, testKey(0)) {
			t.Fatalf("%d descriptors open, cached %v; want 1, true", n, isCached(d, testKey(0)))
		}
		d.mu.Lock()
		isMapped := d.fds.m[hashKey(testKey(0))].m != nil
		d.mu.Unlock()
		if isMapped != mapped {
			t.Fatalf("cached file mapped: %v, want %v", isMapped, mapped)
		}
	})

	// A block deleted and stored again with other bytes is read from its
	// new file: the descriptor of the old one is closed by Delete.
	t.Run("deleted-and-replaced", func(t *testing.T) {
		tr, cfs := newTier(t, 1<<30)
		d := tr.dirs[0]
		key := testKey(1)
		old, repl := testData(1), testData(2)
		put(t, tr, key, old)
		readBlock(t, tr, key, old)
		path := d.blockPath(hashKey(key))
		tr.Delete(t.Context(), key)
		if isCached(d, key) || cfs.openCount(path) != 0 {
			t.Fatal("descriptor of a deleted block kept open")
		}
		if readBlock(t, tr, key, old) {
			t.Fatal("deleted block read")
		}
		put(t, tr, key, repl) // breaks the contract on purpose: other bytes
		if !readBlock(t, tr, key, repl) {
			t.Fatal("replaced block missed")
		}
	})

	// A reader that holds a file while Delete drops it keeps a working
	// descriptor; the last one out closes it.
	t.Run("delete-while-reading", func(t *testing.T) {
		tr, cfs := newTier(t, 1<<30)
		d := tr.dirs[0]
		key := testKey(3)
		put(t, tr, key, testData(3))
		readBlock(t, tr, key, testData(3))
		path := d.blockPath(hashKey(key))
		d.mu.Lock()
		ob := d.fds.acquire(hashKey(key))
		d.mu.Unlock()
		tr.Delete(t.Context(), key)
		if cfs.openCount(path) != 1 {
			t.Fatal("descriptor closed under a reader")
		}
		p := make([]byte, 100)
		if n, err := ob.readAt(p, 10, ob.m); n != 100 || err != nil || !bytes.Equal(p, testData(3)[10:110]) {
			t.Fatalf("read through a held descriptor: %d, %v", n, err)
		}
		d.mu.Lock()
		f := d.fds.release(ob)
		d.mu.Unlock()
		closeFiles(f)
		if cfs.openCount(path) != 0 {
			t.Fatal("last reader did not close the dropped descriptor")
		}
	})

	// A Delete between a reader's open and its caching of the descriptor:
	// the reader is served (it opened the file before the Delete), and
	// the descriptor of the unlinked file is not cached.
	t.Run("delete-during-open", func(t *testing.T) {
		tr, cfs := newTier(t, 1<<30)
		d := tr.dirs[0]
		key := testKey(6)
		put(t, tr, key, testData(6))
		path := d.blockPath(hashKey(key))
		cfs.mu.Lock()
		cfs.afterOpen = func(name string) {
			if name == path {
				tr.Delete(t.Context(), key)
			}
		}
		cfs.mu.Unlock()
		if !readBlock(t, tr, key, testData(6)) {
			t.Fatal("read of a file opened before its Delete missed")
		}
		cfs.mu.Lock()
		cfs.afterOpen = nil
		cfs.mu.Unlock()
		if isCached(d, key) || cfs.openCount(path) != 0 {
			t.Fatal("descriptor of a block deleted during its open kept")
		}
		if readBlock(t, tr, key, testData(6)) {
			t.Fatal("deleted block read")
		}
	})

	t.Run("evicted", func(t *testing.T) {
		tr, cfs := newTier(t, 1<<20)
		d := tr.dirs[0]
		put(t, tr, testKey(10), testData(10))
		readBlock(t, tr, testKey(10), testData(10))
		path := d.blockPath(hashKey(testKey(10)))
		for i := 11; i < 30; i++ {
			put(t, tr, testKey(i), testData(i))
		}
		if tr.Stats().Evictions == 0 {
			t.Fatal("nothing evicted")
		}
		if isCached(d, testKey(10)) || cfs.openCount(path) != 0 {
			t.Fatal("descriptor of an evicted block kept open")
		}
		if readBlock(t, tr, testKey(10), testData(10)) {
			t.Fatal("evicted block read")
		}
	})

	// A byte flipped in a file whose descriptor is cached is caught by the
	// checksum of its piece; the file is removed and its descriptor closed.
	t.Run("corrupted", func(t *testing.T) {
		tr, cfs := newTier(t, 1<<30)
		d := tr.dirs[0]
		key := testKey(14) // several pieces, the last one short
		data := testData(14)
		put(t, tr, key, data)
		readBlock(t, tr, key, data)
		path := d.blockPath(hashKey(key))
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		const bad = 40_000 // in the second piece, a whole one
		at := dataOffset(headerLen(len(key), int64(len(data)))) + bad
		b := []byte{data[bad] ^ 1}
		if _, err := f.WriteAt(b, at); err != nil {
			t.Fatal(err)
		}
		f.Close()
		// A read that does not cover the damaged piece is still served.
		p := make([]byte, 1000)
		if n, err := tr.ReadAt(t.Context(), key, p, 0); n != len(p) || err != nil || !bytes.Equal(p, data[:1000]) {
			t.Fatalf("read of an intact piece: %d, %v", n, err)
		}
		if _, err := tr.ReadAt(t.Context(), key, p, bad-500); !errors.Is(err, tier.ErrMiss) {
			t.Fatalf("read of the damaged piece: %v, want a miss", err)
		}
		if isCached(d, key) || cfs.openCount(path) != 0 {
			t.Fatal("descriptor of a damaged block kept open")
		}
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("damaged file not removed: %v", err)
		}
		if st := tr.Stats(); st.Corrupt != 1 {
			t.Fatalf("Stats.Corrupt = %d, want 1", st.Corrupt)
		}
	})

	// A file cut short while its descriptor is cached (and mapped: the
	// pages past the new end fault) is a damaged block: what is left is
	// still served, a read past the cut is a miss, never a crash.
	t.Run("truncated", func(t *testing.T) {
		tr, cfs := newTier(t, 1<<30)
		d := tr.dirs[0]
		key := testKey(14)
		data := testData(14)
		put(t, tr, key, data)
		readBlock(t, tr, key, data)
		path := d.blockPath(hashKey(key))
		if err := os.Truncate(path, dataOffset(headerLen(len(key), int64(len(data))))+50_000); err != nil {
			t.Fatal(err)
		}
		p := make([]byte, 1000)
		if n, err := tr.ReadAt(t.Context(), key, p, 0); n != len(p) || err != nil || !bytes.Equal(p, data[:1000]) {
			t.Fatalf("read before the cut: %d, %v", n, err)
		}
		if _, err := tr.ReadAt(t.Context(), key, p, 100_000); !errors.Is(err, tier.ErrMiss) {
			t.Fatalf("read past the cut: %v, want a miss", err)
		}
		if isCached(d, key) || cfs.openCount(path) != 0 {
			t.Fatal("descriptor of a truncated block kept open")
		}
		if st := tr.Stats(); st.Corrupt != 1 || st.Errors != 0 {
			t.Fatalf("Stats.Corrupt = %d, Errors = %d; want 1, 0", st.Corrupt, st.Errors)
		}
	})

	t.Run("bounded", func(t *testing.T) {
		tr, cfs := newTier(t, 1<<30)
		d := tr.dirs[0]
		const n = 40
		d.mu.Lock()
		d.fds.max = 8
		d.mu.Unlock()
		for i := range n {
			put(t, tr, testKey(i), []byte(testKey(i)))
		}
		for i := range n {
			readBlock(t, tr, testKey(i), []byte(testKey(i)))
			if c := cachedFDs(d); c > 8 {
				t.Fatalf("%d descriptors cached, bound 8", c)
			}
			if c := cfs.openCount(""); c > 8 {
				t.Fatalf("%d descriptors open, bound 8", c)
			}
		}
		// The most recently used stay.
		for i := n - 8; i < n; i++ {
			if !isCached(d, testKey(i)) {
				t.Errorf("block %d, among the last 8 read, not cached", i)
			}
		}
	})

	t.Run("default-bound", func(t *testing.T) {
		cfg := tier.DiskConfig{Dirs: []string{t.TempDir(), t.TempDir(), t.TempDir()}, Quota: 1 << 30}
		tr := openTier(t, cfg, nil)
		for _, d := range tr.dirs {
			if d.fds.max != openFiles/3 {
				t.Errorf("bound %d per directory, want %d", d.fds.max, openFiles/3)
			}
		}
	})

	t.Run("close", func(t *testing.T) {
		cfs := newCountFS()
		cfg := tier.DiskConfig{Dirs: []string{t.TempDir(), t.TempDir()}, Quota: 1 << 30, MinFreeRatio: -1, FillQueue: 100}
		tr := openTier(t, cfg, &Options{fsys: cfs})
		for i := range 20 {
			tr.Put(t.Context(), testKey(i), testData(i))
		}
		flush(t, tr)
		for i := range 20 {
			readBlock(t, tr, testKey(i), testData(i))
		}
		if c := cfs.openCount(""); c != 20 {
			t.Fatalf("%d descriptors open, want 20", c)
		}
		tr.Close()
		if c := cfs.openCount(""); c != 0 {
			t.Fatalf("%d descriptors open after Close", c)
		}
		if _, err := tr.ReadAt(t.Context(), testKey(0), make([]byte, 1), 0); !errors.Is(err, fs.ErrClosed) {
			t.Fatalf("read after Close: %v", err)
		}
	})

	// Reads during the rebuild (not indexed yet) open the file and do not
	// cache it; once indexed, the next read does.
	t.Run("rebuild", func(t *testing.T) {
		dir := t.TempDir()
		cfg := tier.DiskConfig{Dirs: []string{dir}, Quota: 1 << 30, MinFreeRatio: -1}
		tr := openTier(t, cfg, nil)
		put(t, tr, testKey(5), testData(5))
		tr.Close()
		release := make(chan struct{})
		tr = openTier(t, cfg, &Options{beforeWalk: func(string) { <-release }})
		d := tr.dirs[0]
		if !readBlock(t, tr, testKey(5), testData(5)) {
			t.Fatal("miss during the rebuild")
		}
		if isCached(d, testKey(5)) {
			t.Fatal("descriptor cached before the block was indexed")
		}
		close(release)
		flush(t, tr)
		readBlock(t, tr, testKey(5), testData(5))
		if !isCached(d, testKey(5)) {
			t.Fatal("descriptor not cached after the rebuild")
		}
	})
}

// TestFDCacheConcurrent reads, deletes, refills and evicts the same keys
// from many goroutines: every read returns the exact bytes or a miss, and
// no descriptor is left open or closed twice.
func TestFDCacheConcurrent(t *testing.T) {
	cfs := newCountFS()
	cfg := tier.DiskConfig{Dirs: []string{t.TempDir()}, Quota: 2 << 20, MinFreeRatio: -1, FillQueue: 100}
	tr := openTier(t, cfg, &Options{fsys: cfs})
	tr.dirs[0].mu.Lock()
	tr.dirs[0].fds.max = 4
	tr.dirs[0].mu.Unlock()
	const keys = 12
	datas := make([][]byte, keys)
	for i := range keys {
		datas[i] = testData(i)
	}
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := make([]byte, 64<<10)
			for j := range 300 {
				i := (g*7 + j) % keys
				switch j % 10 {
				case 0:
					tr.Delete(t.Context(), testKey(i))
				case 1, 2:
					tr.Put(t.Context(), testKey(i), datas[i])
				default:
					off := (j * 4099) % len(datas[i])
					n, err := tr.ReadAt(t.Context(), testKey(i), p, int64(off))
					if errors.Is(err, tier.ErrMiss) {
						continue
					}
					if (err != nil && err != io.EOF) || !bytes.Equal(p[:n], datas[i][off:off+n]) {
						t.Errorf("read %d at %d: %d bytes, %v", i, off, n, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	flush(t, tr)
	if st := tr.Stats(); st.Corrupt != 0 || st.Errors != 0 {
		t.Errorf("stats: %+v", st)
	}
	if c := cachedFDs(tr.dirs[0]); c > 4 || cfs.openCount("") != c {
		t.Errorf("%d cached, %d open, bound 4", c, cfs.openCount(""))
	}
	tr.Close()
	if c := cfs.openCount(""); c != 0 || cfs.double != 0 {
		t.Errorf("after Close: %d open, %d closed twice", c, cfs.double)
	}
}
