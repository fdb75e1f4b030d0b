package tierfs_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/tierfs/tierfs"
	"github.com/tierfs/tierfs/objstore/memstore"
	"github.com/tierfs/tierfs/objstore/storetest"
)

// bigObject is shared by the tests of small reads on a large object. It is
// made on first use, not at init: every start of the test binary (a -run
// of any other test, TestPeersOwnerKilled's member process) paid for its
// 256 MiB, seconds under -race.
var bigObject = sync.OnceValue(func() []byte { return storetest.Data(11, 256<<20) })

// bigFS returns an FS at default options over a store holding bigObject
// as name, and the store.
func bigFS(t *testing.T, name string) (*tierfs.FS, *memstore.Store) {
	t.Helper()
	s := mustMem(t, map[string][]byte{name: bigObject()})
	fsys, err := tierfs.New(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsys.Close() })
	return fsys, s
}

// Two 4 KiB reads in the middle of a large object on a fresh handle, then
// Close: the origin sends little (the open's first bytes, the reads and a
// window twice what was read), and no load is left running.
func TestSmallReadsFetchLittle(t *testing.T) {
	fsys, s := bigFS(t, "big")
	f, err := fsys.Open("big")
	if err != nil {
		t.Fatal(err)
	}
	ra := f.(io.ReaderAt)
	const at = 100_000_000
	p := make([]byte, 4096)
	for i := range 2 {
		off := int64(at + i*4096)
		if _, err := ra.ReadAt(p, off); err != nil || !bytes.Equal(p, bigObject()[off:off+4096]) {
			t.Fatalf("read %d: %v", i, err)
		}
	}
	f.Close()
	// The reads fetched their bytes with the reads themselves (a young
	// stream): no block load was started, so none can run on after Close.
	st := fsys.Stats()
	if st.LoadsInFlight != 0 || st.Loads != 0 {
		t.Errorf("two 4 KiB reads then Close: %d loads started, %d in flight; want none", st.Loads, st.LoadsInFlight)
	}
	if got := s.Total().BodyBytes; got > 1<<20 {
		t.Errorf("two 4 KiB reads then Close: %d bytes from the origin, want ≤ 1 MiB", got)
	}
	t.Logf("two 4 KiB reads: %d bytes from the origin in %d GETs", s.Total().BodyBytes, s.Total().Gets)
}

// A 1,000-byte HTTP range request through http.FileServerFS fetches about
// its bytes, not blocks.
func TestHTTPRangeFetchesLittle(t *testing.T) {
	fsys, s := bigFS(t, "big.bin")
	srv := httptest.NewServer(http.FileServerFS(fsys))
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/big.bin", nil)
	req.Header.Set("Range", "bytes=100000000-100000999")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, bigObject()[100_000_000:100_001_000]) {
		t.Fatalf("status %d, %d bytes", resp.StatusCode, len(body))
	}
	fsys.WaitLoads()
	if got := s.Total().BodyBytes; got > 1<<20 {
		t.Errorf("a 1,000-byte range: %d bytes from the origin, want ≤ 1 MiB", got)
	}
	t.Logf("a 1,000-byte range: %d bytes from the origin in %d requests", s.Total().BodyBytes, s.Total().Requests)
}

// A reader of 64 KiB chunks from a fresh handle: the fetches grow with
// what it reads (few requests, no block fetched ahead of a reader that
// stops), and every byte is right.
func TestWindowFollowsReader(t *testing.T) {
	fsys, s := bigFS(t, "big")
	f, err := fsys.Open("big")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const start, chunk = 50 << 20, 64 << 10
	var read int64
	ra := f.(io.ReaderAt)
	p := make([]byte, chunk)
	for i := range 32 { // 2 MiB in all
		off := int64(start + i*chunk)
		if _, err := ra.ReadAt(p, off); err != nil || !bytes.Equal(p, bigObject()[off:off+chunk]) {
			t.Fatalf("read %d: %v", i, err)
		}
		read += chunk
	}
	fsys.WaitLoads()
	st := s.Total()
	t.Logf("2 MiB in 64 KiB reads: %d GETs, %d bytes from the origin (%s)", st.Gets, st.BodyBytes, fmt.Sprint(fsys.Stats().Prefetch))
	if st.BodyBytes > 4*read+128<<10 {
		t.Errorf("2 MiB read in 64 KiB chunks fetched %d bytes: the window ran ahead of the reader", st.BodyBytes)
	}
	if st.Gets > 10 {
		t.Errorf("2 MiB read in 64 KiB chunks took %d GETs: the window did not grow", st.Gets)
	}
}
