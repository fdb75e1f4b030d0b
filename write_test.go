package tierfs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tierfs/tierfs"
	"github.com/tierfs/tierfs/consistency"
	"github.com/tierfs/tierfs/internal/s3test"
	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/s3store"
	"github.com/tierfs/tierfs/objstore/storetest"
	"github.com/tierfs/tierfs/tier"
)

// writeParts is how a test write is cut: S3's smallest parts, two at once.
var writeParts = &tierfs.CreateOptions{PartSize: s3store.MinPartSize, Concurrency: 2}

// writeIn writes data to w in pieces of varying sizes.
func writeIn(t *testing.T, w io.Writer, data []byte, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	for len(data) > 0 {
		n := min(len(data), 1+rng.IntN(200<<10))
		if _, err := w.Write(data[:n]); err != nil {
			t.Fatalf("Write: %v", err)
		}
		data = data[n:]
	}
}

// TestCreateContext writes a file in parts through the real S3 SDK to the
// loopback server, and reads it back at once: the bytes, content type and
// metadata as written, 0 GETs at the server where the FS has tiers, and
// the FS's request counts equal to the server's.
func TestCreateContext(t *testing.T) {
	for name, opts := range configs(t) {
		t.Run(name, func(t *testing.T) {
			srv, s := s3Store(t, s3test.Shaping{})
			fsys := newFS(t, s, append(opts, tierfs.WithConsistency(consistency.ReadWrite(time.Minute)))...)
			data := storetest.Data(50, 2*s3store.MinPartSize+12345)
			o := *writeParts
			o.ContentType = "application/x-checkpoint"
			o.Metadata = map[string]string{"step": "100"}
			w, err := fsys.CreateContext(t.Context(), "ckpt/step-100/model.bin", &o)
			if err != nil {
				t.Fatal(err)
			}
			writeIn(t, w, data, 50)
			if _, err := s.Stat(t.Context(), "ckpt/step-100/model.bin"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the file is in the store before Close: %v", err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			key := "root/ckpt/step-100/model.bin"
			if st := srv.Stats("test", key); st.Puts != 3 || st.Other != 2 {
				t.Errorf("server saw %d PUTs and %d other requests for the file, want 3 parts, a create and a complete", st.Puts, st.Other)
			}
			if obj := w.Object(); obj.Size != int64(len(data)) || obj.Version.IsZero() {
				t.Errorf("Writer.Object() = %+v", obj)
			}
			got, err := fs.ReadFile(fsys, "ckpt/step-100/model.bin")
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read back: %d bytes, %v", len(got), err)
			}
			if gets := srv.Stats("test", key).Gets; name != "nocache" && gets != 0 {
				t.Errorf("reading back a fresh write cost %d GETs at the server, want 0", gets)
			}
			if got, want := fsys.Stats().Requests, srv.BucketStats("test").RequestStats(); got != want {
				t.Errorf("FS counts %+v, server %+v", got, want)
			}
			var c *s3.Client
			if !s.As(&c) {
				t.Fatal("As(*s3.Client) = false")
			}
			head, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: ptr("test"), Key: &key})
			if err != nil {
				t.Fatal(err)
			}
			if ct := deref(head.ContentType); ct != o.ContentType || head.Metadata["step"] != "100" {
				t.Errorf("stored content type %q, metadata %v; want %q and step=100", ct, head.Metadata, o.ContentType)
			}
		})
	}
}

func ptr(s string) *string { return &s }

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// TestCreateMovesBlocks: Close gives the blocks written under the
// pending version the new version's keys by tier.Mover, reading and
// writing none again: after the Close of an N-block file, each tier has
// stored N blocks (not 2N) and served no read, and the file reads back
// byte for byte with 0 GETs at the server. Before, each tier's block was
// read back and put again at Close (a disk tier's Puts were 2N).
func TestCreateMovesBlocks(t *testing.T) {
	const bs = 64 << 10 // newFS's block size
	for name, opts := range map[string]func(t *testing.T) []tierfs.Option{
		"disk": func(t *testing.T) []tierfs.Option {
			return []tierfs.Option{tierfs.WithMemoryCache(0), tierfs.WithDiskCache(tier.DiskConfig{Dirs: []string{t.TempDir()}, Quota: 256 << 20})}
		},
		// Two directories on one device: blocks also move between them.
		"memory+disk": func(t *testing.T) []tierfs.Option {
			return []tierfs.Option{tierfs.WithMemoryCache(64 << 20), tierfs.WithDiskCache(tier.DiskConfig{Dirs: []string{t.TempDir(), t.TempDir()}, Quota: 256 << 20})}
		},
		// A memory tier that holds a few of the blocks: a Move of one it
		// lost misses, and that block is read from the disk tier (where it
		// moved) and offered to the memory tier again, as before.
		"smallmemory+disk": func(t *testing.T) []tierfs.Option {
			return []tierfs.Option{tierfs.WithMemoryCache(1 << 20), tierfs.WithDiskCache(tier.DiskConfig{Dirs: []string{t.TempDir()}, Quota: 256 << 20})}
		},
	} {
		for _, tail := range []int{0, 12345} {
			t.Run(fmt.Sprintf("%s/tail=%d", name, tail), func(t *testing.T) {
				srv, s := s3Store(t, s3test.Shaping{})
				fsys := newFS(t, s, append(opts(t), tierfs.WithConsistency(consistency.ReadWrite(time.Minute)))...)
				const n = 40
				data := storetest.Data(60, n*bs+tail)
				w, err := fsys.CreateContext(t.Context(), "ckpt/model.bin", writeParts)
				if err != nil {
					t.Fatal(err)
				}
				writeIn(t, w, data, 60)
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				want := int64(n)
				if tail > 0 {
					want++ // the last, partial block, kept from memory at Close
				}
				for _, ts := range fsys.Stats().Tiers {
					if name == "smallmemory+disk" {
						if st := ts.Tier; ts.Name == "disk" && (st.Puts != want || st.Blocks != want || st.Hits > want) {
							t.Errorf("disk tier after the Close of a file of %d blocks, beside a small memory tier: %+v", want, st)
						}
						if st := ts.Tier; ts.Name == "memory" && st.Misses != 0 {
							t.Errorf("memory tier: %d misses at Close: a block whose Move missed was read from it again", st.Misses)
						}
						t.Logf("%s tier: %+v", ts.Name, ts.Tier)
						continue
					}
					if st := ts.Tier; st.Puts != want || st.Blocks != want || st.Hits != 0 || st.Dropped != 0 {
						t.Errorf("%s tier after the Close of a file of %d blocks: %d Puts, %d blocks, %d hits, %d dropped; want %d, %d, 0, 0",
							ts.Name, want, st.Puts, st.Blocks, st.Hits, st.Dropped, want, want)
					}
				}
				got, err := fs.ReadFile(fsys, "ckpt/model.bin")
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("read back: %d bytes, %v", len(got), err)
				}
				if gets := srv.Stats("test", "root/ckpt/model.bin").Gets; gets != 0 {
					t.Errorf("reading back the write cost %d GETs at the server, want 0", gets)
				}
				for _, ts := range fsys.Stats().Tiers {
					if st := ts.Tier; st.Corrupt != 0 || st.Errors != 0 || st.Puts < want {
						t.Errorf("%s tier after the read: %+v", ts.Name, st)
					}
				}
			})
		}
	}
}

// TestCreateAbort aborts or cancels writes at random points: the old
// version stays (in the store and as the FS reads it), no multipart upload
// stays open at the server, and the tiers hold no block of the abandoned
// write.
func TestCreateAbort(t *testing.T) {
	srv, s := s3Store(t, s3test.Shaping{})
	fsys := newFS(t, s, tierfs.WithMemoryCache(64<<20), tierfs.WithConsistency(consistency.ReadWrite(time.Minute)))
	old := storetest.Data(60, 100_000)
	overwrite(t, s, "ckpt.bin", old)
	if got, err := fs.ReadFile(fsys, "ckpt.bin"); err != nil || !bytes.Equal(got, old) {
		t.Fatal(err)
	}
	tierfs.SettleTiers(fsys)
	blocks := fsys.Stats().Tiers[0].Tier.Blocks
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	data := storetest.Data(61, 2*s3store.MinPartSize+1000)
	for i := range 4 {
		point := rng.IntN(len(data) + 1)
		ctx, cancel := context.WithCancel(t.Context())
		w, err := fsys.CreateContext(ctx, "ckpt.bin", writeParts)
		if err != nil {
			t.Fatal(err)
		}
		writeIn(t, w, data[:point], uint64(i))
		if i%2 == 0 {
			if err := w.Abort(); err != nil {
				t.Errorf("point %d: Abort: %v", point, err)
			}
			if err := w.Close(); !errors.Is(err, objstore.ErrAborted) {
				t.Errorf("point %d: Close after Abort = %v, want ErrAborted", point, err)
			}
		} else {
			cancel()
			if err := w.Close(); !errors.Is(err, context.Canceled) {
				t.Errorf("point %d: Close after cancel = %v, want context.Canceled", point, err)
			}
		}
		cancel()
		if ups, err := srv.OpenUploads("test", "root/"); err != nil || len(ups) > 0 {
			t.Errorf("point %d: uploads open at the server: %q, %v", point, ups, err)
		}
		if got, err := fs.ReadFile(fsys, "ckpt.bin"); err != nil || !bytes.Equal(got, old) {
			t.Errorf("point %d: the file reads %d bytes, %v; want the old %d", point, len(got), err, len(old))
		}
		tierfs.SettleTiers(fsys)
		if got := fsys.Stats().Tiers[0].Tier.Blocks; got != blocks {
			t.Errorf("point %d: the memory tier holds %d blocks, %d before the write", point, got, blocks)
		}
		if got, want := fsys.Stats().Requests, srv.BucketStats("test").RequestStats(); got != want {
			t.Errorf("point %d: FS counts %+v, server %+v", point, got, want)
		}
	}
}

// TestCreateIfUnchanged has two FS values (two jobs) read one version of
// a checkpoint and both write it with IfUnchanged: exactly one wins, the
// other fails with ErrChanged, and both read the winner's bytes after.
func TestCreateIfUnchanged(t *testing.T) {
	_, s := s3Store(t, s3test.Shaping{})
	overwrite(t, s, "latest", []byte("v0"))
	a := newFS(t, s, tierfs.WithConsistency(consistency.ReadWrite(0)))
	b := newFS(t, s, tierfs.WithConsistency(consistency.ReadWrite(0)))
	for round := range 3 {
		var ws [2]*tierfs.Writer
		bodies := [2][]byte{storetest.Data(uint64(70+round), 1000), storetest.Data(uint64(80+round), 1000)}
		for i, fsys := range []*tierfs.FS{a, b} {
			w, err := fsys.CreateContext(t.Context(), "latest", &tierfs.CreateOptions{IfUnchanged: true})
			if err != nil {
				t.Fatal(err)
			}
			w.Write(bodies[i])
			ws[i] = w
		}
		var errs [2]error
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Go(func() { errs[i] = ws[i].Close() })
		}
		wg.Wait()
		won := -1
		for i, err := range errs {
			switch {
			case err == nil && won >= 0:
				t.Fatalf("round %d: both writers won", round)
			case err == nil:
				won = i
			case !errors.Is(err, objstore.ErrChanged):
				t.Errorf("round %d: the loser's error %v does not wrap ErrChanged", round, err)
			}
		}
		if won < 0 {
			t.Fatalf("round %d: no writer won: %v; %v", round, errs[0], errs[1])
		}
		for _, fsys := range []*tierfs.FS{a, b} {
			if got, err := fs.ReadFile(fsys, "latest"); err != nil || !bytes.Equal(got, bodies[won]) {
				t.Errorf("round %d: reads %d bytes, %v; want the winner's", round, len(got), err)
			}
		}
	}
	// IfUnchanged on a free name: IfNotExist.
	w1, err := a.CreateContext(t.Context(), "fresh", &tierfs.CreateOptions{IfUnchanged: true})
	if err != nil {
		t.Fatal(err)
	}
	w2, err := b.CreateContext(t.Context(), "fresh", &tierfs.CreateOptions{IfUnchanged: true})
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w1, "one")
	io.WriteString(w2, "two")
	if err := w1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w2.Close(); !errors.Is(err, objstore.ErrChanged) {
		t.Errorf("second IfUnchanged writer of a new name: %v, want ErrChanged", err)
	}
	if _, err := a.CreateContext(t.Context(), "x", &tierfs.CreateOptions{IfUnchanged: true, IfNotExist: true}); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("IfUnchanged with IfNotExist: %v, want fs.ErrInvalid", err)
	}
}

// TestCreateNameChecks: a bad name fails at Create, not at Close.
func TestCreateNameChecks(t *testing.T) {
	s := mustMem(t, testFiles)
	fsys := newFS(t, s, tierfs.WithConsistency(consistency.ReadWrite(time.Minute)))
	for _, c := range []struct {
		name string
		want error
	}{
		{"hello.txt/child", fs.ErrExist},
		{"dir/a.bin/x/y", fs.ErrExist},
		{"dir", fs.ErrInvalid},
		{"a/../b", fs.ErrInvalid},
		{"/abs", fs.ErrInvalid},
		{".", fs.ErrInvalid},
	} {
		_, err := fsys.CreateContext(t.Context(), c.name, nil)
		var pe *fs.PathError
		if !errors.Is(err, c.want) || !errors.As(err, &pe) {
			t.Errorf("CreateContext(%q) = %v, want an *fs.PathError wrapping %v", c.name, err, c.want)
		}
	}
	if w, err := fsys.CreateContext(t.Context(), "dir/new/deeper/f", nil); err != nil {
		t.Errorf("CreateContext under a directory: %v", err)
	} else {
		w.Abort()
	}
	ro := newFS(t, s)
	if _, err := ro.CreateContext(t.Context(), "new", nil); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("CreateContext under ReadOnly: %v, want fs.ErrPermission", err)
	}
	if err := ro.Rename("hello.txt", "x"); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("Rename under ReadOnly: %v, want fs.ErrPermission", err)
	}
	if err := ro.RemoveAll("dir"); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("RemoveAll under ReadOnly: %v, want fs.ErrPermission", err)
	}
}

func TestRenameRemoveAll(t *testing.T) {
	s := mustMem(t, testFiles)
	fsys := newFS(t, s, tierfs.WithConsistency(consistency.ReadWrite(time.Minute)))
	want := testFiles["dir/a.bin"]
	if err := fsys.Rename("dir/a.bin", "moved/a.bin"); err != nil {
		t.Fatal(err)
	}
	if got, err := fs.ReadFile(fsys, "moved/a.bin"); err != nil || !bytes.Equal(got, want) {
		t.Errorf("renamed file: %d bytes, %v", len(got), err)
	}
	if got, err := s.NewRangeReader(t.Context(), "moved/a.bin", 0, -1, objstore.ReadOptions{}); err != nil {
		t.Errorf("renamed file not in the store: %v", err)
	} else {
		b, _ := io.ReadAll(got)
		got.Close()
		if !bytes.Equal(b, want) {
			t.Error("renamed file's bytes in the store differ")
		}
	}
	for _, n := range []string{"dir/a.bin"} {
		if _, err := fsys.Stat(n); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat(%q) after Rename: %v", n, err)
		}
		if _, err := s.Stat(t.Context(), n); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("store still has %q after Rename: %v", n, err)
		}
	}
	for _, c := range []struct {
		old, new string
		want     error
	}{
		{"dir", "dir2", fs.ErrInvalid},
		{"missing", "x", fs.ErrNotExist},
		{"hello.txt", "moved/a.bin/x", fs.ErrExist},
		{"hello.txt", "moved", fs.ErrInvalid},
	} {
		if err := fsys.Rename(c.old, c.new); !errors.Is(err, c.want) {
			t.Errorf("Rename(%q, %q) = %v, want %v", c.old, c.new, err, c.want)
		}
	}

	if err := fsys.RemoveAll("dir"); err != nil {
		t.Fatal(err)
	}
	page, err := s.List(t.Context(), objstore.ListOptions{Prefix: "dir/"})
	if err != nil || len(page.Objects) > 0 {
		t.Errorf("after RemoveAll(dir) the store lists %d keys under dir/, %v", len(page.Objects), err)
	}
	if _, err := fsys.Stat("dir"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat(dir) after RemoveAll: %v", err)
	}
	if err := fsys.RemoveAll("hello.txt"); err != nil {
		t.Errorf("RemoveAll of a file: %v", err)
	}
	if _, err := s.Stat(t.Context(), "hello.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("RemoveAll of a file left it: %v", err)
	}
	if err := fsys.RemoveAll("missing/dir"); err != nil {
		t.Errorf("RemoveAll of a missing name: %v", err)
	}
	if err := fsys.RemoveAll("."); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("RemoveAll(.) = %v, want fs.ErrInvalid", err)
	}
}

// TestCreateAbortUnblocksWrite: Abort from another goroutine ends a Write
// blocked on a slow upload, and the upload is aborted.
func TestCreateAbortUnblocksWrite(t *testing.T) {
	srv, s := s3Store(t, s3test.Shaping{UpConnBandwidth: 2 << 20})
	fsys := newFS(t, s, tierfs.WithConsistency(consistency.ReadWrite(time.Minute)))
	w, err := fsys.CreateContext(t.Context(), "slow.bin", &tierfs.CreateOptions{PartSize: s3store.MinPartSize, Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	chunk := storetest.Data(90, 1<<20)
	first := make(chan struct{})
	done := make(chan error)
	go func() {
		for i := range 40 { // 40 MiB: more than the upload's 2 part buffers and the link take
			if _, err := w.Write(chunk); err != nil {
				done <- err
				return
			}
			if i == 0 {
				close(first)
			}
		}
		done <- nil
	}()
	<-first
	if err := w.Abort(); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if err := <-done; !errors.Is(err, objstore.ErrAborted) {
		t.Errorf("the blocked Write returned %v, want ErrAborted", err)
	}
	if ups, err := srv.OpenUploads("test", "root/"); err != nil || len(ups) > 0 {
		t.Errorf("uploads open after Abort: %q, %v", ups, err)
	}
	if _, err := s.Stat(t.Context(), "slow.bin"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("an aborted write is in the store: %v", err)
	}
	// The part cut off mid-body counts on both sides alike.
	if got, want := fsys.Stats().Requests, srv.BucketStats("test").RequestStats(); got != want {
		t.Errorf("FS counts %+v, server %+v", got, want)
	}
}
