package tierfs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tierfs/tierfs"
	"github.com/tierfs/tierfs/consistency"
	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/memstore"
	"github.com/tierfs/tierfs/objstore/storetest"
	"github.com/tierfs/tierfs/tier"
)

// fakeClock is the clock the policies read in these tests.
type fakeClock struct {
	mu sync.Mutex // guards t
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func overwrite(t *testing.T, s objstore.Store, key string, data []byte) {
	t.Helper()
	if _, err := s.Put(t.Context(), key, bytes.NewReader(data), objstore.PutOptions{Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
}

func size(t *testing.T, fsys fs.StatFS, name string) int64 {
	t.Helper()
	fi, err := fsys.Stat(name)
	if err != nil {
		t.Fatalf("Stat(%q): %v", name, err)
	}
	return fi.Size()
}

func TestReadOnlyCachesUntilRefresh(t *testing.T) {
	s := mustMem(t, testFiles)
	clock := newClock()
	fsys := newFS(t, s, tierfs.WithClock(clock.Now))
	if size(t, fsys, "hello.txt") != 13 {
		t.Fatal("unexpected size")
	}
	if _, err := fsys.Stat("later.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	overwrite(t, s, "hello.txt", []byte("a longer hello, world\n"))
	overwrite(t, s, "later.txt", []byte("now here"))
	s.ResetStats()
	clock.Advance(1000 * time.Hour)
	if size(t, fsys, "hello.txt") != 13 {
		t.Error("read-only saw a change before Refresh")
	}
	if _, err := fsys.Stat("later.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Error("read-only forgot a missing name before Refresh")
	}
	if st := s.Total(); st.Heads+st.Lists != 0 {
		t.Errorf("read-only asked the store %d times for cached metadata", st.Heads+st.Lists)
	}
	fsys.Refresh()
	if size(t, fsys, "hello.txt") != 22 {
		t.Error("Refresh did not show the new version")
	}
	if _, err := fsys.Stat("later.txt"); err != nil {
		t.Errorf("Refresh did not show a new file: %v", err)
	}
}

func TestTTLRevalidates(t *testing.T) {
	s := mustMem(t, testFiles)
	clock := newClock()
	fsys := newFS(t, s, tierfs.WithClock(clock.Now), tierfs.WithConsistency(consistency.TTL(10*time.Second, 2*time.Second)))
	size(t, fsys, "hello.txt")
	if _, err := fsys.Stat("later.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	overwrite(t, s, "hello.txt", []byte("changed!"))
	overwrite(t, s, "later.txt", []byte("x"))
	clock.Advance(time.Second)
	if size(t, fsys, "hello.txt") != 13 {
		t.Error("TTL revalidated before attr passed")
	}
	if _, err := fsys.Stat("later.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Error("TTL forgot a missing name before negative passed")
	}
	clock.Advance(time.Second) // 2s: negative entries expire
	if _, err := fsys.Stat("later.txt"); err != nil {
		t.Errorf("after the negative TTL a new file is still missing: %v", err)
	}
	clock.Advance(8 * time.Second) // 10s: positive entries expire
	if size(t, fsys, "hello.txt") != 8 {
		t.Error("after attr the change is not seen")
	}
	got, err := fs.ReadFile(fsys, "hello.txt")
	if err != nil || string(got) != "changed!" {
		t.Errorf("ReadFile after revalidation = %q, %v", got, err)
	}
}

func TestTTLZeroAsksEveryTime(t *testing.T) {
	s := mustMem(t, testFiles)
	fsys := newFS(t, s, tierfs.WithConsistency(consistency.TTL(0, 0)))
	s.ResetStats()
	for range 3 {
		size(t, fsys, "hello.txt")
		fsys.Stat("missing")
	}
	if got := s.Stats("hello.txt").Heads; got != 3 {
		t.Errorf("%d HEADs for 3 Stats under TTL(0, 0), want 3", got)
	}
	if got := s.Stats("missing").Heads; got != 3 {
		t.Errorf("%d HEADs for 3 Stats of a missing name under TTL(0, 0), want 3", got)
	}
}

// An overwrite while a file is open: its reads return bytes of the version
// it opened, end to end, or fail with objstore.ErrChanged.
func TestOverwriteDuringRead(t *testing.T) {
	const size = 1 << 20
	old := storetest.Data(1, size)
	for cname, opts := range configs(t) {
		t.Run(cname, func(t *testing.T) {
			s := mustMem(t, map[string][]byte{"f": old})
			fsys := newFS(t, s, append(opts, tierfs.WithConsistency(consistency.TTL(0, 0)))...)
			f, err := fsys.Open("f")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			first := make([]byte, size/2)
			if _, err := io.ReadFull(f, first); err != nil {
				t.Fatal(err)
			}
			overwrite(t, s, "f", storetest.Data(2, size))
			rest, err := io.ReadAll(f)
			switch {
			case err == nil:
				if !bytes.Equal(append(first, rest...), old) {
					t.Fatal("a read across an overwrite mixed versions")
				}
			case errors.Is(err, objstore.ErrChanged):
				if !bytes.Equal(rest, old[size/2:size/2+len(rest)]) {
					t.Fatal("bytes before ErrChanged are not of the opened version")
				}
			default:
				t.Fatalf("read across an overwrite: %v", err)
			}
			// A new open sees the new version.
			got, err := fs.ReadFile(fsys, "f")
			if err != nil || !bytes.Equal(got, storetest.Data(2, size)) {
				t.Errorf("ReadFile after the overwrite: %v", err)
			}
		})
	}
}

func TestReadWrite(t *testing.T) {
	t.Parallel()
	s := mustMem(t, testFiles)
	clock := newClock()
	fsys := newFS(t, s, tierfs.WithClock(clock.Now), tierfs.WithConsistency(consistency.ReadWrite(time.Minute)))

	// Nothing is visible before Close.
	w, err := fsys.Create("out/result.bin")
	if err != nil {
		t.Fatal(err)
	}
	data := storetest.Data(3, 100_000)
	w.Write(data[:50_000])
	if _, err := s.Stat(t.Context(), "out/result.bin"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a file is in the store before its writer's Close: %v", err)
	}
	w.Write(data[50_000:])
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// Read your writes at once.
	got, err := fs.ReadFile(fsys, "out/result.bin")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read after write: %v", err)
	}
	if fi, err := fsys.Stat("out"); err != nil || !fi.IsDir() {
		t.Errorf("parent of a written file: %v", err)
	}

	// Overwrite a cached file: the new bytes at once, old blocks dropped.
	before, err := fs.ReadFile(fsys, "dir/a.bin")
	if err != nil {
		t.Fatal(err)
	}
	tierfs.SettleTiers(fsys)
	blocksBefore := fsys.Stats().Tiers[0].Tier.Blocks
	w, err = fsys.Create("dir/a.bin")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "short now")
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, _ := fs.ReadFile(fsys, "dir/a.bin"); string(got) != "short now" {
		t.Errorf("after an overwrite: %q", got)
	}
	tierfs.SettleTiers(fsys)
	if after := fsys.Stats().Tiers[0].Tier.Blocks; after >= blocksBefore {
		t.Errorf("memory tier holds %d blocks after an overwrite, %d before: the old version's blocks were not dropped", after, blocksBefore)
	}
	_ = before

	// A large write streams through a multipart-capable Put.
	big := storetest.Data(4, 20<<20)
	w, err = fsys.Create("big.bin")
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(big); off += 1 << 20 {
		if _, err := w.Write(big[off : off+1<<20]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if got, err := fs.ReadFile(fsys, "big.bin"); err != nil || !bytes.Equal(got, big) {
		t.Errorf("large write: %v", err)
	}

	// Remove: gone at once; a directory cannot be removed.
	if err := fsys.Remove("out/result.bin"); err != nil {
		t.Fatal(err)
	}
	if _, err := fsys.Stat("out/result.bin"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat after Remove: %v", err)
	}
	if err := fsys.Remove("out/result.bin"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("second Remove: %v", err)
	}
	if err := fsys.Remove("dir"); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("Remove of a directory: %v", err)
	}
	if _, err := fsys.Create("dir"); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("Create over a directory: %v", err)
	}
	// Another writer's file appears at once: no negative caching.
	if _, err := fsys.Stat("theirs.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	overwrite(t, s, "theirs.txt", []byte("x"))
	if _, err := fsys.Stat("theirs.txt"); err != nil {
		t.Errorf("a file created by another writer is not seen at once: %v", err)
	}
}

// A failed upload leaves the previous version.
func TestReadWriteFailedClose(t *testing.T) {
	s := mustMem(t, testFiles)
	fsys := newFS(t, s, tierfs.WithConsistency(consistency.ReadWrite(0)))
	boom := errors.New("boom")
	s.FailNext(memstore.OpPut, "hello.txt", boom, 1)
	w, err := fsys.Create("hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "replacement")
	if err := w.Close(); !errors.Is(err, boom) {
		t.Errorf("Close with a failing store: %v", err)
	}
	if got, _ := fs.ReadFile(fsys, "hello.txt"); string(got) != "hello, world\n" {
		t.Errorf("after a failed upload: %q", got)
	}
}

func TestWarmup(t *testing.T) {
	files := map[string][]byte{}
	for i := range 10 {
		files[fmt.Sprintf("model/shard-%02d.bin", i)] = storetest.Data(uint64(i), 200_000+i)
	}
	files["model/config.json"] = []byte("{}")
	files["other/skip.bin"] = storetest.Data(99, 100_000)
	s := mustMem(t, files)
	fsys := newFS(t, s, tierfs.WithMemoryCache(64<<20))
	var last tierfs.WarmupProgress
	calls := 0
	if err := fsys.Warmup(t.Context(), []string{"model/*.bin", "model/config.json"}, func(p tierfs.WarmupProgress) {
		calls++
		if p.BytesDone < last.BytesDone || p.FilesDone < last.FilesDone {
			t.Errorf("progress went backwards: %+v after %+v", p, last)
		}
		last = p
	}); err != nil {
		t.Fatal(err)
	}
	var total int64
	for k, v := range files {
		if strings.HasPrefix(k, "model/") {
			total += int64(len(v))
		}
	}
	if last.FilesDone != 11 || last.FilesTotal != 11 || last.BytesDone != total || last.BytesTotal != total || last.Listing {
		t.Errorf("final progress %+v, want 11 files and %d bytes done", last, total)
	}
	s.ResetStats()
	for k, v := range files {
		if strings.HasPrefix(k, "model/") {
			if got, err := fs.ReadFile(fsys, k); err != nil || !bytes.Equal(got, v) {
				t.Fatalf("%s after warmup: %v", k, err)
			}
		}
	}
	if st := s.Total(); st.Gets+st.Heads+st.Lists != 0 {
		t.Errorf("reading warmed files asked the store %+v", st)
	}
	// A directory pattern brings in everything under it; "." everything.
	if err := fsys.Warmup(t.Context(), []string{"."}, func(p tierfs.WarmupProgress) { last = p }); err != nil {
		t.Fatal(err)
	}
	if last.FilesDone != 12 {
		t.Errorf("warmup of . did %d files, want 12", last.FilesDone)
	}
	if err := fsys.Warmup(t.Context(), []string{"[bad"}, nil); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("bad pattern: %v", err)
	}
	if err := fsys.Warmup(t.Context(), []string{"nothing/here"}, nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing name: %v", err)
	}
}

func TestWarmupCancel(t *testing.T) {
	files := map[string][]byte{}
	for i := range 20 {
		files[fmt.Sprintf("d/f%02d", i)] = storetest.Data(uint64(i), 256<<10)
	}
	s := mustMem(t, files)
	fsys := newFS(t, s)
	ctx, cancel := context.WithCancel(t.Context())
	started := make(chan struct{})
	var once sync.Once
	s.SetHook(func(hctx context.Context, op, key string) error {
		if op == memstore.OpRead {
			once.Do(func() { close(started) })
			<-hctx.Done() // hold every fetch until the warmup is cancelled
			return hctx.Err()
		}
		return nil
	})
	done := make(chan error)
	go func() { done <- fsys.Warmup(ctx, []string{"d"}, nil) }()
	<-started
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled warmup: %v, want context.Canceled", err)
	}
	s.SetHook(nil)
}

// A second FS on the same disk dirs reads what the first fetched, whether
// the first read the file or warmed it up.
func TestWarmRestartFromDisk(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"read", "warmup"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			const size = 20 << 20
			data := storetest.Data(5, size)
			s := mustMem(t, map[string][]byte{"model.bin": data})
			dirs := []string{filepath.Join(t.TempDir(), "a"), filepath.Join(t.TempDir(), "b")}
			disk := tier.DiskConfig{Dirs: dirs, Quota: 256 << 20}
			open := func() *tierfs.FS {
				fsys, err := tierfs.New(s, tierfs.WithMemoryCache(0), tierfs.WithDiskCache(disk), tierfs.WithBlockSize(1<<20))
				if err != nil {
					t.Fatal(err)
				}
				return fsys
			}
			first := open()
			if how == "warmup" {
				if err := first.Warmup(t.Context(), []string{"model.bin"}, nil); err != nil {
					t.Fatal(err)
				}
			} else if got, err := fs.ReadFile(first, "model.bin"); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("first read: %v", err)
			}
			if err := first.Close(); err != nil { // writes what the disk tier queued
				t.Fatal(err)
			}
			s.ResetStats()
			second := open()
			defer second.Close()
			got, err := fs.ReadFile(second, "model.bin")
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read after restart: %v", err)
			}
			sent := s.Total().BodyBytes
			if float64(sent) >= 0.1*size {
				t.Errorf("after a restart the origin sent %d bytes of a %d-byte object (%.1f%%), want < 10%%", sent, size, 100*float64(sent)/size)
			}
			t.Logf("origin bytes after restart: %d (%.2f%% of the object)", sent, 100*float64(sent)/size)
		})
	}
}
