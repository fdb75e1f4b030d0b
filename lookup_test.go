package tierfs_test

import (
	"bytes"
	"io"
	"math/rand/v2"
	"runtime"
	"strconv"
	"testing"

	"github.com/tierfs/tierfs"
	"github.com/tierfs/tierfs/internal/s3test"
	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/memstore"
	"github.com/tierfs/tierfs/objstore/storetest"
	"github.com/tierfs/tierfs/prefetch"
	"github.com/tierfs/tierfs/tier"
)

// The figures of the lookup chain, pinned for scripted access patterns:
// every request the store saw is in Stats, a warm pass counts one tier hit
// per block read (no probe counts), a restart fills memory from disk, and
// sparse reads are cached.

const (
	lkBlock = 256 << 10
	lkSize  = 32 * lkBlock
)

// requestsOf converts what memstore counted to the library's form.
func requestsOf(st memstore.Stats) objstore.RequestStats {
	return objstore.RequestStats{Gets: st.Gets, Heads: st.Heads, Lists: st.Lists, Puts: st.Puts, Deletes: st.Deletes, BytesIn: st.BodyBytes, BytesOut: st.PutBytes}
}

// checkRequests fails unless fsys's request counts equal what s counted.
func checkRequests(t *testing.T, what string, fsys *tierfs.FS, s *memstore.Store) {
	t.Helper()
	got := fsys.Stats()
	if !got.RequestsCounted {
		t.Fatalf("%s: requests not counted", what)
	}
	if want := requestsOf(s.Total()); got.Requests != want {
		t.Errorf("%s: Stats().Requests = %+v; the store counted %+v", what, got.Requests, want)
	}
}

func lkFS(t *testing.T, s objstore.Store, disk string, opts ...tierfs.Option) *tierfs.FS {
	t.Helper()
	o := []tierfs.Option{tierfs.WithBlockSize(lkBlock), tierfs.WithMemoryCache(64 << 20)}
	if disk != "" {
		o = append(o, tierfs.WithDiskCache(tier.DiskConfig{Dirs: []string{disk}, Quota: 256 << 20}))
	}
	fsys, err := tierfs.New(s, append(o, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return fsys
}

// readAllAt reads the whole file with reads of n bytes at increasing
// offsets, and checks the bytes.
func readAllAt(t *testing.T, fsys *tierfs.FS, name string, want []byte, n int) int {
	t.Helper()
	f, err := fsys.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ra := f.(io.ReaderAt)
	reads := 0
	p := make([]byte, n)
	for off := 0; off < len(want); off += n {
		got, err := ra.ReadAt(p, int64(off))
		if err != nil && err != io.EOF {
			t.Fatal(err)
		}
		if !bytes.Equal(p[:got], want[off:off+got]) {
			t.Fatalf("wrong bytes at %d", off)
		}
		reads++
	}
	return reads
}

func TestWarmPassOneHitPerBlockRead(t *testing.T) {
	data := storetest.Data(1, lkSize)
	s := mustMem(t, map[string][]byte{"obj": data})
	fsys := lkFS(t, s, "")
	defer fsys.Close()
	readAllAt(t, fsys, "obj", data, 64<<10) // cold
	fsys.WaitLoads()
	tierfs.SettleTiers(fsys)
	checkRequests(t, "cold pass", fsys, s)
	if st := s.Total(); st.Gets != 1+32 || st.BodyBytes != lkSize || st.Heads+st.Lists != 0 {
		t.Errorf("cold pass: the store saw %+v; want the open's GET and one per block, %d bytes", st, lkSize)
	}
	// A stream's blocks enter memory on their second load, not the first:
	// a one-shot read holds nothing but the open's first bytes.
	if st := fsys.Stats(); st.Tiers[0].Tier.Blocks != 1 || st.AdmitDeferred != 32 {
		t.Errorf("after one pass: memory holds %d entries, %d admissions deferred; want the first bytes only and 32", st.Tiers[0].Tier.Blocks, st.AdmitDeferred)
	}
	readAllAt(t, fsys, "obj", data, 64<<10) // the second pass is kept
	fsys.WaitLoads()
	tierfs.SettleTiers(fsys)
	before := fsys.Stats()
	reads := readAllAt(t, fsys, "obj", data, 64<<10) // warm: 128 reads over 32 blocks
	after := fsys.Stats()
	if reads != 128 {
		t.Fatalf("%d reads", reads)
	}
	hits := after.Tiers[0].Hits - before.Tiers[0].Hits
	own := after.Tiers[0].Tier.Hits - before.Tiers[0].Tier.Hits
	if hits != 128 || own != 128 {
		t.Errorf("warm pass of 128 reads over 32 blocks: %d lookup hits, %d tier hits; want 128 and 128", hits, own)
	}
	if d := after.Tiers[0].Misses - before.Tiers[0].Misses; d != 0 {
		t.Errorf("warm pass: %d misses", d)
	}
	if d := after.Tiers[0].BytesServed - before.Tiers[0].BytesServed; d != lkSize {
		t.Errorf("warm pass: %d bytes served from memory, want %d", d, lkSize)
	}
	if d := after.Requests.Sub(before.Requests); d.Requests() != 0 {
		t.Errorf("warm pass: %+v requests", d)
	}
	checkRequests(t, "warm pass", fsys, s)
}

// After a restart, the first pass reads from disk and fills memory; the
// second is served by memory. Every request the store saw is in Stats.
func TestRestartFillsMemoryFromDisk(t *testing.T) {
	data := storetest.Data(2, lkSize)
	s := mustMem(t, map[string][]byte{"obj": data})
	dir := t.TempDir()
	fsys := lkFS(t, s, dir)
	readAllAt(t, fsys, "obj", data, 512)
	if err := fsys.Close(); err != nil {
		t.Fatal(err)
	}
	s.ResetStats()
	fsys = lkFS(t, s, dir, tierfs.WithReadahead(tierfsNoReadahead()))
	defer fsys.Close()
	readAllAt(t, fsys, "obj", data, 512) // every tar-header-sized read
	fsys.WaitLoads()
	tierfs.SettleTiers(fsys)
	first := fsys.Stats()
	if first.Tiers[0].Name != "memory" || first.Tiers[1].Name != "disk" {
		t.Errorf("tier names %q, %q", first.Tiers[0].Name, first.Tiers[1].Name)
	}
	// Every read was served by a tier (the head's extent, a hit of the
	// tier holding it, then the disk in place), and every block was
	// promoted to memory behind the reads.
	reads := int64(lkSize / 512)
	if got := first.Tiers[0].Hits + first.Tiers[1].Hits; got != reads || first.ExtentHits == 0 {
		t.Errorf("first pass after a restart: %d reads served by tiers (memory %d, disk %d, extents %d), want %d",
			got, first.Tiers[0].Hits, first.Tiers[1].Hits, first.ExtentHits, reads)
	}
	if first.Tiers[1].Hits == 0 || first.Tiers[0].Promotions != 32 {
		t.Errorf("first pass after a restart: disk hits %d, promotions to memory %d (%d dropped); want > 0 and 32",
			first.Tiers[1].Hits, first.Tiers[0].Promotions, first.PromotionsDropped)
	}
	// The open's GET brought the first 128 KiB; nothing else came from the origin.
	if st := s.Total(); st.Gets != 1 || st.BodyBytes != 128<<10 {
		t.Errorf("first pass after a restart: the store saw %+v; want only the open's GET", st)
	}
	checkRequests(t, "restart, first pass", fsys, s)
	readAllAt(t, fsys, "obj", data, 512)
	second := fsys.Stats()
	if d := second.Tiers[0].Hits - first.Tiers[0].Hits; d != lkSize/512 {
		t.Errorf("second pass after a restart: %d memory hits, want %d", d, lkSize/512)
	}
	if d := second.Tiers[1].Hits - first.Tiers[1].Hits; d != 0 {
		t.Errorf("second pass after a restart: %d disk hits, want 0", d)
	}
	checkRequests(t, "restart, second pass", fsys, s)
}

func tierfsNoReadahead() prefetch.Config { return prefetch.Config{Disabled: true} }

// Random 4 KiB reads at unaligned offsets, twice: the first pass fetches
// at most 1.5× the bytes asked, the second costs no request at all.
func TestRandomReadsTwice(t *testing.T) {
	t.Parallel()
	for _, disk := range []bool{false, true} {
		t.Run(map[bool]string{false: "memory", true: "memory+disk"}[disk], func(t *testing.T) {
			t.Parallel()
			const size = 64 << 20
			data := storetest.Data(3, size)
			s := mustMem(t, map[string][]byte{"obj": data})
			dir := ""
			if disk {
				dir = t.TempDir()
			}
			fsys := lkFS(t, s, dir)
			defer fsys.Close()
			f, err := fsys.Open("obj")
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ra := f.(io.ReaderAt)
			r := rand.New(rand.NewPCG(7, 7))
			offs := make([]int64, 300)
			for i := range offs {
				offs[i] = 1<<20 + r.Int64N(size-1<<20-4096)
			}
			p := make([]byte, 4096)
			for pass := range 2 {
				s.ResetStats()
				for _, off := range offs {
					if _, err := ra.ReadAt(p, off); err != nil || !bytes.Equal(p, data[off:off+4096]) {
						t.Fatalf("pass %d: read at %d: %v", pass, off, err)
					}
				}
				st := s.Total()
				if pass == 0 && float64(st.BodyBytes) > 1.5*300*4096 {
					t.Errorf("first pass: %d bytes from the origin for %d asked", st.BodyBytes, 300*4096)
				}
				if pass == 1 && st.Requests != 0 {
					t.Errorf("second pass over the same offsets: %+v; want no request", st)
				}
			}
		})
	}
}

// ReadFile of a small cold file is one request, and so is Stat.
func TestReadFileOneRequest(t *testing.T) {
	data := storetest.Data(4, 64<<10)
	s := mustMem(t, map[string][]byte{"small": data, "other": data})
	fsys := lkFS(t, s, "")
	defer fsys.Close()
	got, err := fsys.ReadFile("small")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatal(err)
	}
	if st := s.Total(); st.Requests != 1 || st.Gets != 1 {
		t.Errorf("ReadFile of a 64 KiB cold file: %+v; want 1 GET", st)
	}
	if _, err := fsys.ReadFile("small"); err != nil {
		t.Fatal(err)
	}
	if st := s.Total(); st.Requests != 1 {
		t.Errorf("ReadFile again: %+v; want no new request", st)
	}
	if _, err := fsys.Stat("other"); err != nil {
		t.Fatal(err)
	}
	if st := s.Total(); st.Requests != 2 || st.Heads != 1 {
		t.Errorf("Stat of a cold name: %+v; want one HEAD", st)
	}
	checkRequests(t, "ReadFile and Stat", fsys, s)
}

// A thousand open files hold their first bytes within the memory budget:
// the heap grows by at most the budget and 10%. Unbounded, their first
// bytes alone would take 125 MiB. The 10% covers each open file's
// bookkeeping (its metadata entry, Reader and context: about 1.7 KiB),
// which no budget bounds.
func TestManyOpenFilesWithinBudget(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's shadow memory distorts heap figures; .ci/run runs this test without -race")
	}
	const files, budget = 1000, 32 << 20
	m := map[string][]byte{}
	for i := range files {
		m[string(rune('a'+i%26))+"/"+strconv.Itoa(i)] = storetest.Data(uint64(i), 200<<10)
	}
	s := mustMem(t, m)
	fsys, err := tierfs.New(s, tierfs.WithMemoryCache(budget))
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	// The test server's own bookkeeping per object is made before the
	// measurement: it is the server's memory, not the library's.
	for name := range m {
		if _, err := s.Stat(t.Context(), name); err != nil {
			t.Fatal(err)
		}
	}
	before := heapInUse()
	var open []io.Closer
	for name := range m {
		f, err := fsys.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, f)
	}
	tierfs.SettleTiers(fsys)
	grew := heapInUse() - before
	t.Logf("1,000 open files: heap grew by %.2f MiB with a %d MiB memory budget", float64(grew)/(1<<20), budget>>20)
	if grew > budget*11/10 {
		t.Errorf("1,000 open files grew the heap by %d bytes; budget %d + 10%%", grew, budget)
	}
	for _, f := range open {
		f.Close()
	}
}

func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// A warm-disk restart run over an S3-protocol server: the FS's request
// counts equal what the server counted, request by request, in each
// phase: a cold read (with a listing, a HEAD and a file's first bytes), a
// restart served from disk, random reads twice.
func TestStatsEqualServerAcrossRestart(t *testing.T) {
	srv, s := s3Store(t, s3test.Shaping{})
	data := storetest.Data(5, 6*lkBlock+1234)
	for name, body := range map[string][]byte{"d/big": data, "d/small": data[:5000]} {
		if _, err := s.Put(t.Context(), name, bytes.NewReader(body), objstore.PutOptions{Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	equal := func(what string, fsys *tierfs.FS) {
		t.Helper()
		got, want := fsys.Stats().Requests, srv.BucketStats("test").RequestStats()
		if got != want {
			t.Errorf("%s: Stats().Requests = %+v; the server counted %+v", what, got, want)
		}
	}
	run := func(what string) {
		srv.ResetStats()
		fsys := lkFS(t, s, dir)
		defer fsys.Close()
		if _, err := fsys.ReadDir("d"); err != nil {
			t.Fatal(err)
		}
		if _, err := fsys.Stat("d/small"); err != nil {
			t.Fatal(err)
		}
		if got, err := fsys.ReadFile("d/small"); err != nil || !bytes.Equal(got, data[:5000]) {
			t.Fatalf("small: %v", err)
		}
		readAllAt(t, fsys, "d/big", data, 100<<10)
		fsys.WaitLoads()
		equal(what+": after reading", fsys)
		f, err := fsys.Open("d/big")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		r := rand.New(rand.NewPCG(1, 2))
		p := make([]byte, 3000)
		offs := make([]int64, 40)
		for i := range offs {
			offs[i] = r.Int64N(int64(len(data) - len(p)))
		}
		for range 2 {
			for _, off := range offs {
				if _, err := f.(io.ReaderAt).ReadAt(p, off); err != nil || !bytes.Equal(p, data[off:off+int64(len(p))]) {
					t.Fatalf("random read at %d: %v", off, err)
				}
			}
		}
		fsys.WaitLoads()
		equal(what+": after random reads", fsys)
	}
	run("cold")
	if st := srv.BucketStats("test"); st.Gets == 0 || st.Lists == 0 || st.Heads == 0 {
		t.Fatalf("the cold run made no GET, LIST or HEAD: %+v", st)
	}
	run("restart from disk")
	if st := srv.BucketStats("test"); st.BodyBytes > 256<<10 {
		t.Errorf("restart from disk: %d bytes from the server, want only metadata and first bytes", st.BodyBytes)
	}
}
