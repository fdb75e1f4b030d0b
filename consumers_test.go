package tierfs_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/tierfs/tierfs"
	"github.com/tierfs/tierfs/internal/s3test"
	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/storetest"
	"github.com/tierfs/tierfs/prefetch"
	"github.com/tierfs/tierfs/tier"
)

func makeTar(t *testing.T, members map[string][]byte, order []string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range order {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(members[name]))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(members[name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A data loader walking a tar shard through the FS sees every member.
func TestTarShard(t *testing.T) {
	members := map[string][]byte{}
	var order []string
	for i := range 50 {
		name := fmt.Sprintf("sample-%03d.jpg", i)
		members[name] = storetest.Data(uint64(i), 1000+i*997)
		order = append(order, name)
	}
	shard := makeTar(t, members, order)
	for cname, opts := range configs(t) {
		t.Run(cname, func(t *testing.T) {
			fsys := newFS(t, mustMem(t, map[string][]byte{"train/shard-000.tar": shard}), opts...)
			f, err := fsys.Open("train/shard-000.tar")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			tr := tar.NewReader(f)
			seen := 0
			for {
				h, err := tr.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got, err := io.ReadAll(tr)
				if err != nil || !bytes.Equal(got, members[h.Name]) {
					t.Fatalf("member %s: %v", h.Name, err)
				}
				seen++
			}
			if seen != len(members) {
				t.Errorf("read %d members, want %d", seen, len(members))
			}
		})
	}
}

// archive/zip reads the central directory at the end through io.ReaderAt.
func TestZipReaderAt(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	want := map[string][]byte{}
	for i := range 20 {
		name := fmt.Sprintf("dir/file-%02d.txt", i)
		want[name] = storetest.Data(uint64(100+i), 5000*i+1)
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(want[name])
	}
	zw.Close()
	fsys := newFS(t, mustMem(t, map[string][]byte{"a.zip": buf.Bytes()}))
	f, err := fsys.Open("a.zip")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	zr, err := zip.NewReader(f.(io.ReaderAt), st.Size())
	if err != nil {
		t.Fatal(err)
	}
	for _, zf := range zr.File {
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, want[zf.Name]) {
			t.Fatalf("%s: %v", zf.Name, err)
		}
	}
	if len(zr.File) != len(want) {
		t.Errorf("%d files in the zip, want %d", len(zr.File), len(want))
	}
}

// http.FileServer over the FS answers Range requests with 206 and the
// right bytes.
func TestHTTPFileServerRange(t *testing.T) {
	fsys := newFS(t, mustMem(t, testFiles))
	srv := httptest.NewServer(http.FileServer(http.FS(fsys)))
	defer srv.Close()
	data := testFiles["dir/a.bin"]
	for _, r := range []struct{ from, to int }{{0, 0}, {0, 99}, {65530, 65545}, {299_990, 299_999}, {123_456, 234_567}} {
		req, _ := http.NewRequest("GET", srv.URL+"/dir/a.bin", nil)
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", r.from, r.to))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusPartialContent {
			t.Errorf("range %v: status %d, want 206", r, resp.StatusCode)
		}
		if !bytes.Equal(body, data[r.from:r.to+1]) {
			t.Errorf("range %v: wrong bytes", r)
		}
	}
	resp, err := http.Get(srv.URL + "/dir/")
	if err != nil {
		t.Fatal(err)
	}
	listing, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"a.bin", "b.txt", "sub/"} {
		if !bytes.Contains(listing, []byte(name)) {
			t.Errorf("directory listing lacks %s:\n%s", name, listing)
		}
	}
	resp, err = http.Get(srv.URL + "/missing")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("missing file: status %d, want 404", resp.StatusCode)
	}
}

// 16 goroutines reading random ranges of one 48 MiB object over S3: exact
// bytes, and the origin sends at most 1.1× the object.
func TestConcurrentRandomRangesS3(t *testing.T) {
	t.Parallel()
	const size = 48 << 20
	data := storetest.Data(7, size)
	srv, s := s3Store(t, s3test.Shaping{})
	if _, err := s.Put(t.Context(), "big.bin", bytes.NewReader(data), objstore.PutOptions{Size: size}); err != nil {
		t.Fatal(err)
	}
	fsys, err := tierfs.New(s, tierfs.WithMemoryCache(128<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	f, err := fsys.Open("big.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	srv.ResetStats()
	ra := f.(io.ReaderAt)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 5))
			p := make([]byte, 1<<20)
			for range 100 {
				off := r.Int64N(size)
				n := min(r.Int64N(256<<10)+1, size-off)
				got, err := ra.ReadAt(p[:n], off)
				if err != nil && !(errors.Is(err, io.EOF) && off+n == size) {
					errs <- err
					return
				}
				if int64(got) != n || !bytes.Equal(p[:n], data[off:off+n]) {
					errs <- fmt.Errorf("wrong bytes at %d+%d", off, n)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	sent := srv.Stats("test", "root/big.bin").BodyBytes
	if float64(sent) > 1.1*size {
		t.Errorf("origin sent %d bytes (%.2f× the object), want ≤ 1.1×", sent, float64(sent)/size)
	}
	t.Logf("origin sent %.3f× the object size", float64(sent)/size)
}

func TestWriteToAndSeek(t *testing.T) {
	fsys := newFS(t, mustMem(t, testFiles))
	f, err := fsys.Open("dir/a.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.(io.Seeker).Seek(1000, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := io.Copy(&buf, f) // uses WriterTo
	if err != nil || n != 299_000 || !bytes.Equal(buf.Bytes(), testFiles["dir/a.bin"][1000:]) {
		t.Fatalf("WriteTo from 1000: %d bytes, %v", n, err)
	}
	if pos, _ := f.(io.Seeker).Seek(-10, io.SeekEnd); pos != 299_990 {
		t.Errorf("Seek(-10, end) = %d", pos)
	}
	tail, err := io.ReadAll(f)
	if err != nil || !bytes.Equal(tail, testFiles["dir/a.bin"][299_990:]) {
		t.Errorf("read after Seek from the end: %v", err)
	}
	if _, err := f.(io.Seeker).Seek(1<<40, io.SeekStart); err != nil {
		t.Errorf("Seek past the end: %v", err)
	}
	if n, err := f.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Errorf("Read past the end = %d, %v; want 0, io.EOF", n, err)
	}
	if _, err := f.(io.Seeker).Seek(0, 7); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("Seek with a bad whence: %v", err)
	}
}

// Open reads the first bytes of a file instead of asking for its
// metadata: one request answers the open and the first read, a small file
// is read with that one request, and a larger one never fetches the same
// bytes twice.
func TestOpenFetchesFirstBytes(t *testing.T) {
	small := storetest.Data(1, 50_000)
	large := storetest.Data(2, 3<<20)
	s := mustMem(t, map[string][]byte{"small": small, "large": large, "d/x": []byte("x")})
	fsys := newFS(t, s, tierfs.WithBlockSize(1<<20))
	s.ResetStats()
	f, err := fsys.Open("large")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if st := s.Total(); st.Gets != 1 || st.Heads != 0 {
		t.Errorf("Open: %+v, want 1 GET and no HEAD", st)
	}
	p := make([]byte, 1000)
	if _, err := io.ReadFull(f, p); err != nil || !bytes.Equal(p, large[:1000]) {
		t.Fatalf("first read: %v", err)
	}
	rest, err := io.ReadAll(f)
	if err != nil || !bytes.Equal(append(p, rest...), large) {
		t.Fatalf("whole read: %v", err)
	}
	if got := s.Stats("large").BodyBytes; got != int64(len(large)) {
		t.Errorf("origin sent %d bytes for a %d-byte file", got, len(large))
	}
	s.ResetStats()
	got, err := fs.ReadFile(noReadFile{fsys}, "small")
	if err != nil || !bytes.Equal(got, small) {
		t.Fatalf("small file: %v", err)
	}
	if st := s.Total(); st.Requests != 1 {
		t.Errorf("open and read of a small file: %+v, want one request", st)
	}
	if fi, err := fsys.Stat("d"); err != nil || !fi.IsDir() {
		t.Errorf("directory: %v", err)
	}
	if _, err := fsys.Open("d/missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// noReadFile hides FS.ReadFile, so fs.ReadFile goes through Open.
type noReadFile struct{ fsys *tierfs.FS }

func (n noReadFile) Open(name string) (fs.File, error) { return n.fsys.Open(name) }

// writeRecorder keeps what it is given and the slices it was given, and
// fails with failErr once it holds failAfter bytes.
type writeRecorder struct {
	got       bytes.Buffer
	failAfter int
	failErr   error
	calls     int
}

func (w *writeRecorder) Write(p []byte) (int, error) {
	w.calls++
	if w.failErr != nil && w.got.Len()+len(p) > w.failAfter {
		n := w.failAfter - w.got.Len()
		w.got.Write(p[:n])
		return n, w.failErr
	}
	return w.got.Write(p)
}

// WriteTo of a cold multi-block file writes every byte once and in order
// (held blocks straight from the cache's buffers), counts them as served
// like reads, and returns a failed write's error as is, with the exact
// count written.
func TestWriteToFromHeldBlocks(t *testing.T) {
	const size = 40<<16 + 12345 // 40 blocks of 64 KiB and a bit
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7 >> 3)
	}
	fsys := newFS(t, mustMem(t, map[string][]byte{"big.bin": data}), tierfs.WithMemoryCache(0))
	f, err := fsys.Open("big.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var w writeRecorder
	n, err := f.(io.WriterTo).WriteTo(&w)
	if err != nil || n != size || !bytes.Equal(w.got.Bytes(), data) {
		t.Fatalf("WriteTo: %d of %d bytes, %v; equal: %v", n, size, err, bytes.Equal(w.got.Bytes(), data))
	}
	st := fsys.Stats()
	if st.Prefetch.HeldHits == 0 {
		t.Errorf("no block was written from a held block: %+v", st.Prefetch)
	}
	served := st.OriginBytesServed + st.PeerBytesServed
	for _, ts := range st.Tiers {
		served += ts.BytesServed
	}
	if served != size {
		t.Errorf("bytes served %d, want the %d written", served, size)
	}

	// A writer that fails part way: its error as is, the exact count.
	g, err := fsys.Open("big.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	boom := errors.New("disk full")
	fw := writeRecorder{failAfter: 5<<16 + 100, failErr: boom}
	n, err = g.(io.WriterTo).WriteTo(&fw)
	if err != boom || n != int64(fw.failAfter) || !bytes.Equal(fw.got.Bytes(), data[:fw.failAfter]) {
		t.Errorf("WriteTo into a failing writer: %d bytes, %v; want %d, the writer's error", n, err, fw.failAfter)
	}
	if pos, _ := g.(io.Seeker).Seek(0, io.SeekCurrent); pos != n {
		t.Errorf("file offset %d after writing %d", pos, n)
	}
	// A writer that writes short with no error: io.ErrShortWrite.
	h, err := fsys.Open("big.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if _, err := h.(io.WriterTo).WriteTo(shortWriter{}); !errors.Is(err, io.ErrShortWrite) {
		t.Errorf("WriteTo into a short writer: %v; want io.ErrShortWrite", err)
	}
}

type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return len(p) / 2, nil }

// A cold sequential read through a disk tier reuses block buffers: the
// disk tier gives each back once written (tier.Releaser), so the loads
// allocate a handful of buffers, not one per block, and every byte read,
// then read again from the disk after a restart, is exact.
func TestDiskTierReusesBuffers(t *testing.T) {
	const blocks, bs = 200, 64 << 10
	data := make([]byte, blocks*bs)
	for i := range data {
		data[i] = byte(i*31 + i>>16)
	}
	s := mustMem(t, map[string][]byte{"big.bin": data})
	dir := t.TempDir()
	// The buffers alive at once are at most the window's blocks (held
	// ahead of the reader), those kept behind it, the blocks the disk
	// tier has queued to write, and the block being read.
	const window, behind, queue = 8, 2, 16
	opts := []tierfs.Option{tierfs.WithStoreID("mem-test"), tierfs.WithMemoryCache(0), tierfs.WithReadahead(prefetch.Config{MaxWindow: window * bs, Backward: behind * bs}),
		tierfs.WithDiskCache(tier.DiskConfig{Dirs: []string{dir}, Quota: 64 << 20, FillQueue: queue})}
	fsys := newFS(t, s, opts...)
	f, err := fsys.Open("big.bin")
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := io.Copy(&got, f); err != nil || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("cold read: %d bytes, %v; exact: %v", got.Len(), err, bytes.Equal(got.Bytes(), data))
	}
	f.Close()
	st := fsys.Stats()
	t.Logf("%d loads: %d buffers made, %d reused", st.Loads, st.BuffersMade, st.BuffersReused)
	most := int64(window + behind + queue + 4)
	if raceEnabled {
		// Under the race detector, sync.Pool drops a quarter of what it
		// is given back, on purpose.
		most += st.Loads / 3
	}
	if st.BuffersMade > most || st.BuffersMade+st.BuffersReused < st.Loads {
		t.Errorf("%d buffers made and %d reused for %d loads: the disk tier's buffers are not reused", st.BuffersMade, st.BuffersReused, st.Loads)
	}
	if err := fsys.Close(); err != nil {
		t.Fatal(err)
	}
	st = fsys.Stats()
	dropped := st.Tiers[len(st.Tiers)-1].Tier.Dropped
	// After a restart, from the disk.
	s.ResetStats()
	again := newFS(t, s, opts...)
	b, err := fs.ReadFile(again, "big.bin")
	if err != nil || !bytes.Equal(b, data) {
		t.Fatalf("read after a restart: %d bytes, %v; exact: %v", len(b), err, bytes.Equal(b, data))
	}
	if n := s.Total().BodyBytes; n > dropped*bs+128<<10 {
		t.Errorf("after a restart the origin sent %d bytes, %d blocks were not written; want the disk to serve the rest", n, dropped)
	}
}
