package tierfs_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tierfs/tierfs"
	"github.com/tierfs/tierfs/consistency"
	"github.com/tierfs/tierfs/internal/metalog"
	"github.com/tierfs/tierfs/internal/s3test"
	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/storetest"
	"github.com/tierfs/tierfs/tier"
)

// Issue 11, finding 6: under ReadOnly and within a TTL, listings are cached
// like attributes, and the metadata cache is kept beside the disk tier,
// so a warm restart reads cached files without asking the store.

// restartStoreID names the store in these tests: the FS keeps metadata
// only for a store it can tell from others sharing the cache directory.
const restartStoreID = "s3://test/root"

// restartFiles puts n files of assorted sizes (under, at and over the
// 64 KiB block and the 128 KiB first read) under two directories.
func restartFiles(t *testing.T, s objstore.Store, n int) map[string][]byte {
	t.Helper()
	sizes := []int{0, 1, 5000, 64 << 10, 100_000, 128 << 10, 300_000}
	files := make(map[string][]byte, n)
	for i := range n {
		name := fmt.Sprintf("d%d/sub/f%02d.bin", i%2, i)
		if i%3 == 0 {
			name = fmt.Sprintf("d%d/f%02d.bin", i%2, i)
		}
		data := storetest.Data(uint64(100+i), sizes[i%len(sizes)])
		if _, err := s.Put(t.Context(), name, bytes.NewReader(data), objstore.PutOptions{Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		files[name] = data
	}
	return files
}

// readEverything walks the tree, stats, reads (ReadFile and Open) and
// lists every file, checking the bytes and that the walk found them all.
func readEverything(t *testing.T, fsys *tierfs.FS, files map[string][]byte) {
	t.Helper()
	found := 0
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		found++
		want, ok := files[name]
		if !ok {
			return fmt.Errorf("walk found %s, which is no file", name)
		}
		if info, err := d.Info(); err != nil || info.Size() != int64(len(want)) {
			return fmt.Errorf("%s: entry %v, %v; want size %d", name, info, err, len(want))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found != len(files) {
		t.Fatalf("walk found %d files of %d", found, len(files))
	}
	for name, want := range files {
		if fi, err := fsys.Stat(name); err != nil || fi.Size() != int64(len(want)) {
			t.Fatalf("Stat(%s) = %v, %v", name, fi, err)
		}
		if got, err := fsys.ReadFile(name); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("ReadFile(%s): %d bytes, %v; want %d exact", name, len(got), err, len(want))
		}
		f, err := fsys.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(f)
		f.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("reading %s: %d bytes, %v", name, len(got), err)
		}
		if _, err := fsys.ReadDir(filepath.ToSlash(filepath.Dir(name))); err != nil {
			t.Fatal(err)
		}
	}
	fsys.WaitLoads()
}

// restartFS opens an FS over s with a disk tier in dir.
func restartFS(t *testing.T, s objstore.Store, dir string, opts ...tierfs.Option) *tierfs.FS {
	t.Helper()
	o := []tierfs.Option{tierfs.WithBlockSize(64 << 10), tierfs.WithMemoryCache(16 << 20), tierfs.WithStoreID(restartStoreID),
		tierfs.WithDiskCache(tier.DiskConfig{Dirs: []string{filepath.Join(dir, "d0"), filepath.Join(dir, "d1")}, Quota: 256 << 20})}
	fsys, err := tierfs.New(s, append(o, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return fsys
}

// sameAsServer fails unless the FS counted what the server did.
func sameAsServer(t *testing.T, what string, fsys *tierfs.FS, srv *s3test.Server) {
	t.Helper()
	if got, want := fsys.Stats().Requests, srv.BucketStats("test").RequestStats(); got != want {
		t.Errorf("%s: Stats().Requests = %+v; the server counted %+v", what, got, want)
	}
}

// TestWarmRestartNoRequests: a new FS over the same disk directories
// walks, lists, stats, opens and reads every file of the first run
// without a request to the store (before: one GET per file opened, one
// HEAD per file stated and a listing per directory).
func TestWarmRestartNoRequests(t *testing.T) {
	srv, s := s3Store(t, s3test.Shaping{})
	files := restartFiles(t, s, 21)
	dir := t.TempDir()

	srv.ResetStats()
	first := restartFS(t, s, dir)
	readEverything(t, first, files)
	sameAsServer(t, "first run", first, srv)
	cold := srv.Total()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	// Opens first (no listing teaches the names), then everything.
	srv.ResetStats()
	second := restartFS(t, s, dir)
	for name, want := range files {
		if got, err := second.ReadFile(name); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("ReadFile(%s) after a restart: %d bytes, %v", name, len(got), err)
		}
	}
	opens := srv.Total()
	readEverything(t, second, files)
	sameAsServer(t, "warm restart", second, srv)
	second.Close()
	if opens.Requests != 0 {
		t.Errorf("ReadFile of %d files after a restart: %d requests (%d GET, %d HEAD, %d LIST); want 0", len(files), opens.Requests, opens.Gets, opens.Heads, opens.Lists)
	}
	if st := srv.Total(); st.Requests != 0 {
		t.Errorf("warm restart over %d files (walk, ReadDir, Stat, ReadFile, Open): %d requests (%d GET, %d HEAD, %d LIST); want 0", len(files), st.Requests, st.Gets, st.Heads, st.Lists)
	}
	t.Logf("FIGURE restart: %d files, first run %d requests (%d GET, %d HEAD, %d LIST); after a restart ReadFile of each %d requests, then walk, ReadDir, Stat, ReadFile, Open of each %d in all",
		len(files), cold.Requests, cold.Gets, cold.Heads, cold.Lists, opens.Requests, srv.Total().Requests)
}

// TestWalkListsOnce: under ReadOnly, and within a TTL, a second epoch's
// WalkDir lists nothing; past the TTL, and after Refresh, it lists again;
// under ReadWrite and a zero TTL it lists every time.
func TestWalkListsOnce(t *testing.T) {
	srv, s := s3Store(t, s3test.Shaping{})
	files := restartFiles(t, s, 12)
	walk := func(fsys *tierfs.FS) int64 {
		t.Helper()
		before := srv.Total().Lists
		n := 0
		if err := fs.WalkDir(fsys, ".", func(_ string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				n++
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if n != len(files) {
			t.Fatalf("walk found %d files of %d", n, len(files))
		}
		return srv.Total().Lists - before
	}
	const dirs = 5 // ., d0, d1, d0/sub, d1/sub
	clock := newClock()
	for _, c := range []struct {
		name          string
		policy        consistency.Policy
		first, second int64 // listings of the first and second walks
	}{
		{"read-only", consistency.ReadOnly(), dirs, 0},
		{"ttl", consistency.TTL(time.Minute, time.Minute), dirs, 0},
		// Each subdirectory is also looked up (a listing of one key).
		{"ttl-zero", consistency.TTL(0, 0), 2*dirs - 1, 2*dirs - 1},
		{"read-write", consistency.ReadWrite(time.Minute), dirs, dirs},
	} {
		fsys := newFS(t, s, tierfs.WithConsistency(c.policy), tierfs.WithClock(clock.Now))
		srv.ResetStats()
		first, second := walk(fsys), walk(fsys)
		if first != c.first || second != c.second {
			t.Errorf("%s: the walks listed %d and %d times, want %d and %d", c.name, first, second, c.first, c.second)
		}
		sameAsServer(t, c.name, fsys, srv)
		if c.name == "ttl" {
			clock.Advance(time.Minute)
			if n := walk(fsys); n != dirs {
				t.Errorf("ttl: a walk past the TTL listed %d times, want %d", n, dirs)
			}
		}
		if c.name == "read-only" {
			fsys.Refresh()
			if n := walk(fsys); n != dirs {
				t.Errorf("read-only: a walk after Refresh listed %d times, want %d", n, dirs)
			}
			fsys.Forget("d0/sub/f01.bin")
			if n := walk(fsys); n != 1 {
				t.Errorf("read-only: a walk after Forget of a file listed %d times, want 1 (its directory)", n)
			}
		}
		t.Logf("FIGURE walk %s: first epoch %d listings, second %d", c.name, first, second)
	}
}

// TestRestartChangedName: after a restart, a file whose kept version is
// gone from the store (and from the disk tier) fails once with ErrChanged,
// and the next Open reads the new version; Forget does it on demand, and
// what it forgets is forgotten beside the disk tier too.
func TestRestartChangedName(t *testing.T) {
	srv, s := s3Store(t, s3test.Shaping{})
	files := restartFiles(t, s, 7)
	dir := t.TempDir()
	first := restartFS(t, s, dir)
	readEverything(t, first, files)
	first.Close()

	const name = "d0/f00.bin"
	v2 := storetest.Data(999, 200_000)
	if _, err := s.Put(t.Context(), name, bytes.NewReader(v2), objstore.PutOptions{Size: int64(len(v2))}); err != nil {
		t.Fatal(err)
	}
	second := restartFS(t, s, dir)
	// The kept version (0 bytes) is served as kept: ReadOnly.
	if fi, err := second.Stat(name); err != nil || fi.Size() != int64(len(files[name])) {
		t.Fatalf("Stat after restart = %v, %v; want the kept size %d", fi, err, len(files[name]))
	}
	second.Forget(name)
	if got, err := second.ReadFile(name); err != nil || !bytes.Equal(got, v2) {
		t.Fatalf("ReadFile after Forget: %d bytes, %v; want the new version", len(got), err)
	}
	second.Close()

	// A version that changes under a file kept across a restart, whose
	// blocks are not on disk: ErrChanged once, then the new version.
	const big = "d0/sub/f04.bin"
	v3 := storetest.Data(998, 300_000)
	third := restartFS(t, s, dir, tierfs.WithMemoryCache(0))
	defer third.Close()
	if got, err := third.ReadFile(name); err != nil || !bytes.Equal(got, v2) {
		t.Fatalf("ReadFile of the forgotten name after a restart: %d bytes, %v; want the new version", len(got), err)
	}
	if _, err := s.Put(t.Context(), big, bytes.NewReader(v3), objstore.PutOptions{Size: int64(len(v3))}); err != nil {
		t.Fatal(err)
	}
	srv.ResetStats()
	f, err := third.Open(big)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if st := srv.Total(); st.Requests != 0 {
		t.Fatalf("Open of a kept name made %d requests", st.Requests)
	}
	// Drop its blocks from the disk tier, so a read must go to the store:
	// every directory beside the kept metadata (metalog.Dir) is the disk tier's
	// layout directory (v2/, named for its format).
	for _, d := range []string{"d0", "d1"} {
		ents, err := os.ReadDir(filepath.Join(dir, d))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if e.IsDir() && e.Name() != metalog.Dir {
				os.RemoveAll(filepath.Join(dir, d, e.Name()))
			}
		}
	}
	third.Close()
	fourth := restartFS(t, s, dir, tierfs.WithMemoryCache(0))
	defer fourth.Close()
	if _, err := fourth.ReadFile(big); !errors.Is(err, objstore.ErrChanged) {
		t.Fatalf("ReadFile of a kept version since replaced: %v, want ErrChanged", err)
	}
	if got, err := fourth.ReadFile(big); err != nil || !bytes.Equal(got, v3) {
		t.Errorf("ReadFile after ErrChanged: %d bytes, %v; want the new version", len(got), err)
	}
}

// TestRestartCorruptMeta: a kept metadata file that is torn, damaged,
// garbage or another store's is ignored from the damage on: the restart
// reads the exact bytes, asking the store for what it lost.
func TestRestartCorruptMeta(t *testing.T) {
	t.Parallel()
	srv, s := s3Store(t, s3test.Shaping{})
	files := restartFiles(t, s, 14)
	metaFile := func(dir string) string { return metalog.Path(filepath.Join(dir, "d0"), restartStoreID) }
	for _, c := range []struct {
		name    string
		damage  func(b []byte) []byte
		anyCold bool // whether some requests must be made
	}{
		{"garbage", func(b []byte) []byte { return bytes.Repeat([]byte{0xa5}, len(b)) }, true},
		{"truncated-mid-record", func(b []byte) []byte { return b[:len(b)*2/3] }, true},
		{"flipped-byte", func(b []byte) []byte { b[len(b)/2] ^= 0x40; return b }, true},
		{"huge-length", func(b []byte) []byte {
			// The first record's length field: 2^32-1.
			copy(b[len("tierfs-meta 1\n"):], []byte{0xff, 0xff, 0xff, 0xff})
			return b
		}, true},
		{"empty", func([]byte) []byte { return nil }, true},
		{"intact", func(b []byte) []byte { return b }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			first := restartFS(t, s, dir)
			readEverything(t, first, files)
			first.Close()
			p := metaFile(dir)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, c.damage(b), 0o600); err != nil {
				t.Fatal(err)
			}
			srv.ResetStats()
			second := restartFS(t, s, dir)
			defer second.Close()
			readEverything(t, second, files)
			sameAsServer(t, c.name, second, srv)
			if n := srv.Total().Requests; (n > 0) != c.anyCold {
				t.Errorf("%d requests after a restart on a %s file", n, c.name)
			}
			t.Logf("FIGURE corrupt-meta %s: %d requests after the restart (exact bytes)", c.name, srv.Total().Requests)
		})
	}
}

// TestRestartKeyedByStore: two stores sharing a cache directory one after
// the other (a store identity each) never read each other's metadata; an
// FS without an identity (New without WithStoreID) keeps none; a
// ReadWrite FS removes what a read-only one kept, so nothing it writes is
// served stale by a later read-only run.
func TestRestartKeyedByStore(t *testing.T) {
	srv, s := s3Store(t, s3test.Shaping{})
	files := restartFiles(t, s, 7)
	dir := t.TempDir()
	first := restartFS(t, s, dir)
	readEverything(t, first, files)
	first.Close()

	other := mustMem(t, map[string][]byte{"d0/f00.bin": []byte("another store's bytes")})
	o, err := tierfs.New(other, tierfs.WithStoreID("mem://other"), tierfs.WithDiskCache(tier.DiskConfig{Dirs: []string{filepath.Join(dir, "d0"), filepath.Join(dir, "d1")}, Quota: 256 << 20}))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := o.ReadFile("d0/f00.bin"); err != nil || string(got) != "another store's bytes" {
		t.Errorf("another store on the same directory read %q, %v", got, err)
	}
	o.Close()

	// An FS with no identity keeps nothing: the file stays the first's.
	anon, err := tierfs.New(s, tierfs.WithDiskCache(tier.DiskConfig{Dirs: []string{filepath.Join(dir, "d0"), filepath.Join(dir, "d1")}, Quota: 256 << 20}))
	if err != nil {
		t.Fatal(err)
	}
	srv.ResetStats()
	if _, err := anon.Stat("d0/f00.bin"); err != nil {
		t.Fatal(err)
	}
	anon.Close()
	if srv.Total().Requests == 0 {
		t.Error("an FS without a store identity read kept metadata")
	}

	srv.ResetStats()
	warm := restartFS(t, s, dir)
	readEverything(t, warm, files)
	warm.Close()
	if n := srv.Total().Requests; n != 0 {
		t.Errorf("the first store's restart after others used the directory: %d requests, want 0", n)
	}

	// ReadWrite removes the kept file: a later read-only run sees what
	// the writer wrote.
	rw := restartFS(t, s, dir, tierfs.WithConsistency(consistency.ReadWrite(time.Minute)))
	w, err := rw.Create("d0/f00.bin")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "written")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rw.Close()
	ro := restartFS(t, s, dir)
	defer ro.Close()
	if got, err := ro.ReadFile("d0/f00.bin"); err != nil || string(got) != "written" {
		t.Errorf("read-only run after a read-write one: %q, %v; want what was written", got, err)
	}
}

// TestRestartTTL: under a TTL policy, kept entries keep the time they were
// asked of the store: a restart within the TTL asks nothing, one past it
// asks again.
func TestRestartTTL(t *testing.T) {
	srv, s := s3Store(t, s3test.Shaping{})
	files := restartFiles(t, s, 7)
	dir := t.TempDir()
	clock := newClock()
	policy := tierfs.WithConsistency(consistency.TTL(time.Minute, time.Minute))
	first := restartFS(t, s, dir, policy, tierfs.WithClock(clock.Now))
	readEverything(t, first, files)
	first.Close()

	for _, c := range []struct {
		advance time.Duration
		cold    bool
	}{{30 * time.Second, false}, {31 * time.Second, true}} {
		clock.Advance(c.advance)
		srv.ResetStats()
		fsys := restartFS(t, s, dir, policy, tierfs.WithClock(clock.Now))
		readEverything(t, fsys, files)
		fsys.Close()
		if n := srv.Total().Requests; (n > 0) != c.cold {
			t.Errorf("restart %v after the first run's reads, TTL 1m: %d requests", clock.Now().Sub(newClock().Now()), n)
		}
	}
}
