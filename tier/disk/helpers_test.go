package disk

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tierfs/tierfs/tier"
)

// fakeClock is a Clock that moves only when told to.
type fakeClock struct {
	mu      sync.Mutex // guards now and waiters
	now     time.Time
	waiters []fakeWaiter
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	c.waiters = append(c.waiters, fakeWaiter{c.now.Add(d), ch})
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.waiters[:0]
	for _, w := range c.waiters {
		if !w.at.After(c.now) {
			w.ch <- c.now
		} else {
			kept = append(kept, w)
		}
	}
	c.waiters = kept
}

// faultFS is the real file system with a hook called before every
// operation; the hook may return an error to inject (EIO, ENOSPC) or
// block to stall. op is one of open, read, write, rename, remove, mkdir,
// readdir, statfs, stat.
type faultFS struct {
	osFS
	mu     sync.Mutex // guards hook and statfs
	hook   func(op, path string) error
	statfs func(path string) (fsStat, error)
}

func (f *faultFS) setHook(h func(op, path string) error) {
	f.mu.Lock()
	f.hook = h
	f.mu.Unlock()
}

func (f *faultFS) call(op, path string) error {
	f.mu.Lock()
	h := f.hook
	f.mu.Unlock()
	if h == nil {
		return nil
	}
	return h(op, path)
}

func (f *faultFS) OpenFile(name string, flag int, perm fs.FileMode) (file, error) {
	if err := f.call("open", name); err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	fl, err := f.osFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{file: fl, fs: f, path: name}, nil
}

func (f *faultFS) Rename(o, n string) error {
	if err := f.call("rename", o); err != nil {
		return &os.LinkError{Op: "rename", Old: o, New: n, Err: err}
	}
	return f.osFS.Rename(o, n)
}

func (f *faultFS) Remove(name string) error {
	if err := f.call("remove", name); err != nil {
		return &fs.PathError{Op: "remove", Path: name, Err: err}
	}
	return f.osFS.Remove(name)
}

func (f *faultFS) Mkdir(name string, perm fs.FileMode) error {
	if err := f.call("mkdir", name); err != nil {
		return &fs.PathError{Op: "mkdir", Path: name, Err: err}
	}
	return f.osFS.Mkdir(name, perm)
}

func (f *faultFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if err := f.call("readdir", name); err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	return f.osFS.ReadDir(name)
}

func (f *faultFS) Statfs(path string) (fsStat, error) {
	if err := f.call("statfs", path); err != nil {
		return fsStat{}, &fs.PathError{Op: "statfs", Path: path, Err: err}
	}
	f.mu.Lock()
	s := f.statfs
	f.mu.Unlock()
	if s != nil {
		return s(path)
	}
	return f.osFS.Statfs(path)
}

func (f *faultFS) Stat(name string) (fs.FileInfo, error) {
	if err := f.call("stat", name); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	return f.osFS.Stat(name)
}

type faultFile struct {
	file
	fs   *faultFS
	path string
}

func (f *faultFile) ReadAt(p []byte, off int64) (int, error) {
	if err := f.fs.call("read", f.path); err != nil {
		return 0, &fs.PathError{Op: "read", Path: f.path, Err: err}
	}
	return f.file.ReadAt(p, off)
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.fs.call("write", f.path); err != nil {
		return 0, &fs.PathError{Op: "write", Path: f.path, Err: err}
	}
	return f.file.WriteAt(p, off)
}

func (f *faultFile) Write(p []byte) (int, error) {
	if err := f.fs.call("write", f.path); err != nil {
		return 0, &fs.PathError{Op: "write", Path: f.path, Err: err}
	}
	return f.file.Write(p)
}

// openTier opens a tier for a test and closes it at cleanup, checking
// that no goroutine of it outlives Close.
func openTier(t testing.TB, cfg tier.DiskConfig, o *Options) *Tier {
	t.Helper()
	before := runtime.NumGoroutine()
	tr, err := Open(cfg, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		tr.Close()
		checkGoroutines(t, before)
	})
	return tr
}

// checkGoroutines fails if more goroutines run than before, after giving
// exiting ones a chance to finish: up to 5 s of yielding, since on a
// loaded machine an exiting goroutine (the tier's, or one of the testing
// package's between benchmark runs) may wait for a thread the kernel has
// descheduled.
func checkGoroutines(t testing.TB, before int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if runtime.NumGoroutine() <= before {
			return
		}
		runtime.Gosched()
	}
	buf := make([]byte, 1<<16)
	t.Errorf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
}

func flush(t testing.TB, tr *Tier) {
	t.Helper()
	if err := tr.Flush(t.Context()); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

// diskFile is a file under a cache dir's layout directory.
type diskFile struct {
	path   string
	size   int64
	blocks int64 // st_blocks×512
}

// listFiles returns the regular files in the layout directory of dir.
func listFiles(t testing.TB, dir string) []diskFile {
	t.Helper()
	var out []diskFile
	root := filepath.Join(dir, layoutDir)
	filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return nil
		}
		info, err := e.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		out = append(out, diskFile{path: p, size: info.Size(), blocks: statBlocks(info)})
		return nil
	})
	return out
}

func isTemp(p string) bool { return strings.HasPrefix(filepath.Base(p), tmpPrefix) }

func removeAll(t testing.TB, p string) {
	if err := os.RemoveAll(p); err != nil {
		t.Error(err)
	}
}
