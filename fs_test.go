package tierfs_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"testing/fstest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tierfs/tierfs"
	"github.com/tierfs/tierfs/internal/s3test"
	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/filestore"
	"github.com/tierfs/tierfs/objstore/memstore"
	"github.com/tierfs/tierfs/objstore/s3store"
	"github.com/tierfs/tierfs/objstore/storetest"
	"github.com/tierfs/tierfs/tier"
)

// testFiles is the tree most tests use.
var testFiles = map[string][]byte{
	"hello.txt":             []byte("hello, world\n"),
	"empty":                 {},
	"dir/a.bin":             storetest.Data(1, 300_000),
	"dir/b.txt":             []byte("b"),
	"dir/sub/c.bin":         storetest.Data(2, 70_000),
	"dir/sub/deeper/d.txt":  []byte("d"),
	"dir-sibling.txt":       []byte("sibling"),
	"spaces in name/x y.md": []byte("# x y\n"),
	"unicode/日本語.txt":       []byte("こんにちは"),
}

// stores returns a fresh store of each kind holding files.
func stores(t *testing.T, files map[string][]byte) map[string]objstore.Store {
	t.Helper()
	out := map[string]objstore.Store{}
	ms, err := memstore.FromMap(files)
	if err != nil {
		t.Fatal(err)
	}
	out["mem"] = ms
	fst, err := filestore.New(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fst.Close() })
	out["file"] = fst
	srv, s3s := s3Store(t, s3test.Shaping{})
	_ = srv
	out["s3"] = s3s
	for _, s := range []objstore.Store{fst, s3s} {
		for k, v := range files {
			if _, err := s.Put(t.Context(), k, bytes.NewReader(v), objstore.PutOptions{Size: int64(len(v))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

// s3Store starts a loopback S3 server and returns a store on a bucket.
func s3Store(t *testing.T, sh s3test.Shaping) (*s3test.Server, *s3store.Store) {
	t.Helper()
	srv := s3test.Start(t, s3test.Config{Shaping: sh})
	if err := srv.CreateBucket("test"); err != nil {
		t.Fatal(err)
	}
	client := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL()), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	s, err := s3store.New(t.Context(), "test", "root", &s3store.Options{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return srv, s
}

// configs returns the cache configurations every FS test runs over.
func configs(t *testing.T) map[string][]tierfs.Option {
	return map[string][]tierfs.Option{
		"nocache": {tierfs.WithMemoryCache(0)},
		"memory":  {tierfs.WithMemoryCache(64 << 20)},
		"memory+disk": {tierfs.WithMemoryCache(8 << 20), tierfs.WithDiskCache(tier.DiskConfig{
			Dirs: []string{filepath.Join(t.TempDir(), "d0"), filepath.Join(t.TempDir(), "d1")}, Quota: 256 << 20,
		})},
	}
}

func newFS(t *testing.T, s objstore.Store, opts ...tierfs.Option) *tierfs.FS {
	t.Helper()
	fsys, err := tierfs.New(s, append([]tierfs.Option{tierfs.WithBlockSize(64 << 10)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := fsys.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return fsys
}

// fstestFiles is a smaller tree for fstest.TestFS, which reads every file
// a byte at a time: two files still cross a 64 KiB block boundary.
var fstestFiles = map[string][]byte{
	"hello.txt":             []byte("hello, world\n"),
	"empty":                 {},
	"dir/a.bin":             storetest.Data(1, 70_000),
	"dir/b.txt":             []byte("b"),
	"dir/sub/c.bin":         storetest.Data(2, 66_000),
	"dir/sub/deeper/d.txt":  []byte("d"),
	"dir-sibling.txt":       []byte("sibling"),
	"spaces in name/x y.md": []byte("# x y\n"),
	"unicode/日本語.txt":       []byte("こんにちは"),
}

// Parallel tests. A test that starts its own store and FS and asserts
// nothing process-wide (goroutine counts, the heap, shared pools, the
// environment) calls t.Parallel: Go starts parallel tests only once every
// serial one has ended, so the serial tests that count goroutines or heap
// never run beside them. TestFSTestFS is the longest (its s3/nocache
// configuration makes a request for each read of one to three bytes);
// the others run on the core it leaves.

func TestFSTestFS(t *testing.T) {
	t.Parallel()
	var names []string
	for k := range fstestFiles {
		names = append(names, k)
	}
	slices.Sort(names)
	for sname, s := range stores(t, fstestFiles) {
		for cname, opts := range configs(t) {
			t.Run(sname+"/"+cname, func(t *testing.T) {
				// Each configuration is its own FS over a store the
				// others only read: they run side by side (fstest
				// reads a byte or three at a time; without a cache,
				// each read is a request of its own).
				t.Parallel()
				fsys := newFS(t, s, opts...)
				if err := fstest.TestFS(fsys, names...); err != nil {
					t.Fatal(err)
				}
				// The sub tree is read a second time, from the cache.
				sub, err := fsys.Sub("dir")
				if err != nil {
					t.Fatal(err)
				}
				if err := fstest.TestFS(sub, "a.bin", "b.txt", "sub/c.bin", "sub/deeper/d.txt"); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

func TestReadFileExact(t *testing.T) {
	t.Parallel()
	for sname, s := range stores(t, testFiles) {
		for cname, opts := range configs(t) {
			t.Run(sname+"/"+cname, func(t *testing.T) {
				fsys := newFS(t, s, opts...)
				for name, want := range testFiles {
					for pass := range 2 {
						got, err := fs.ReadFile(fsys, name)
						if err != nil || !bytes.Equal(got, want) {
							t.Fatalf("pass %d: ReadFile(%q): %d bytes, %v", pass, name, len(got), err)
						}
					}
				}
			})
		}
	}
}

func TestErrors(t *testing.T) {
	fsys := newFS(t, mustMem(t, testFiles))
	for _, c := range []struct {
		name string
		want error
	}{
		{"missing", fs.ErrNotExist}, {"dir/missing", fs.ErrNotExist}, {"/abs", fs.ErrInvalid}, {"a/../b", fs.ErrInvalid},
		{"dir/", fs.ErrInvalid}, {"", fs.ErrInvalid}, {"hello.txt/x", fs.ErrNotExist},
	} {
		_, err := fsys.Open(c.name)
		var pe *fs.PathError
		if !errors.Is(err, c.want) || !errors.As(err, &pe) {
			t.Errorf("Open(%q): %v, want a *fs.PathError wrapping %v", c.name, err, c.want)
		}
		if _, err := fsys.Stat(c.name); !errors.Is(err, c.want) {
			t.Errorf("Stat(%q): %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := fsys.ReadFile("dir"); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("ReadFile of a directory: %v", err)
	}
	if _, err := fsys.ReadDir("hello.txt"); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("ReadDir of a file: %v", err)
	}
	if _, err := fsys.Create("new"); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("Create under ReadOnly: %v, want fs.ErrPermission", err)
	}
	if err := fsys.Remove("hello.txt"); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("Remove under ReadOnly: %v, want fs.ErrPermission", err)
	}
	f, err := fsys.Open("hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.(io.Seeker).Seek(-1, io.SeekStart); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("Seek to -1: %v", err)
	}
	if _, err := f.(io.ReaderAt).ReadAt(make([]byte, 1), -1); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("ReadAt at -1: %v", err)
	}
	f.Close()
	if _, err := f.Read(make([]byte, 1)); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Read after Close: %v", err)
	}
}

func TestClose(t *testing.T) {
	fsys, err := tierfs.New(mustMem(t, testFiles))
	if err != nil {
		t.Fatal(err)
	}
	f, err := fsys.Open("hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	if err := fsys.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fsys.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for name, err := range map[string]error{
		"Open":     func() error { _, err := fsys.Open("hello.txt"); return err }(),
		"Stat":     func() error { _, err := fsys.Stat("hello.txt"); return err }(),
		"ReadFile": func() error { _, err := fsys.ReadFile("hello.txt"); return err }(),
		"ReadDir":  func() error { _, err := fsys.ReadDir("."); return err }(),
		"file":     func() error { _, err := f.Read(make([]byte, 1)); return err }(),
	} {
		if !errors.Is(err, fs.ErrClosed) {
			t.Errorf("%s after Close: %v, want fs.ErrClosed", name, err)
		}
	}
}

func mustMem(t *testing.T, files map[string][]byte) *memstore.Store {
	t.Helper()
	s, err := memstore.FromMap(files)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMain(m *testing.M) {
	// The S3 SDK's default chain is never reached (clients are built with
	// static keys), but keep it from probing the network if it were.
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	code := m.Run()
	os.Exit(code)
}

var _ = fmt.Sprint
