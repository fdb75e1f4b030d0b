package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tierfs/tierfs"
	"github.com/tierfs/tierfs/tier"
)

const (
	bigKey    = "big.bin"
	smallDir  = "small"
	readahead = "tierfs.WithReadahead is not in the library yet, so tierfs reads one block at a time (no readahead)"
)

// seed creates the bucket and its objects (directly: not counted, shaped
// or faulted).
func (e *env) seed(ctx context.Context) error {
	if err := e.srv.CreateBucket(e.bucket); err != nil {
		return err
	}
	if err := e.srv.PutObject(e.bucket, bigKey, gen(e.cfg.seed, e.cfg.size)); err != nil {
		return err
	}
	if !containsInt(e.cfg.scenarios, 7) {
		return nil
	}
	rng := rand.New(rand.NewPCG(e.cfg.seed, 7))
	for i := range e.cfg.files {
		n := int64(64<<10 + rng.IntN(448<<10+1))
		if err := e.srv.PutObject(e.bucket, fmt.Sprintf("%s/f%05d.bin", smallDir, i), gen(e.cfg.seed+uint64(i)+1, n)); err != nil {
			return err
		}
	}
	return nil
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// copyFile opens name in fsys and io.Copy's it to io.Discard.
func copyFile(fsys fs.FS, name string) (int64, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return io.Copy(io.Discard, f)
}

// 1. Cold sequential read of the big object.
func (e *env) coldSequential(ctx context.Context) error {
	sc := fmt.Sprintf("1. cold sequential read of %s (io.Copy)", human(e.cfg.size))
	r, size := e.res, e.cfg.size
	ceiling := e.cfg.linkLimit(e.cfg.linkConns)
	link := r.add(row{Scenario: sc, Name: fmt.Sprintf("link limit: min(total cap, %d × per-connection cap)", e.cfg.linkConns), Value: ceiling, Unit: "MB/s", Role: roleLink})
	if math.IsInf(ceiling, 1) {
		link.NA, link.Note = true, "no cap: the CPUs are the limit"
	}

	var n int64
	m, err := measure(func() error {
		var err error
		n, err = e.sdkGet(ctx, bigKey, "")
		return err
	})
	if err != nil {
		return fmt.Errorf("single-stream GetObject: %w", err)
	}
	single := mbps(n, m.wall)
	r.add(row{Scenario: sc, Name: "single-stream GetObject (plain SDK, io.Copy of the body)", Value: single, Unit: "MB/s", CPU: m.cpu,
		Versus: times(ratio(single, e.cfg.linkLimit(1)), "link at 1 connection"), Role: roleBaseline})

	fsys, err := e.newFS(ctx)
	if err != nil {
		return err
	}
	defer fsys.Close()
	e.gauge.resetPeak()
	e.srv.ResetStats()
	m, err = measure(func() error {
		var err error
		n, err = copyFile(fsys, bigKey)
		return err
	})
	if err != nil {
		return fmt.Errorf("tierfs: %w", err)
	}
	if n != size {
		return fmt.Errorf("tierfs read %d bytes of %d", n, size)
	}
	conc := max(int(e.gauge.peak.Load()), 1)
	st := e.srv.Total()
	tfs := mbps(n, m.wall)
	e.seqRate = tfs
	r.add(row{Scenario: sc, Name: fmt.Sprintf("link limit at tierfs's concurrency (%d GET(s) in flight at peak)", conc), Value: e.cfg.linkLimit(conc), Unit: "MB/s", Role: roleLink})

	// The transfer manager, at its defaults and at tierfs's concurrency.
	tmRates := map[string]float64{}
	type tmRun struct {
		key, name, api, typ string
		conc                int
	}
	runs := []tmRun{
		{"default", fmt.Sprintf("transfermanager GetObject, defaults (split by parts, concurrency %d)", tmDefaultConcurrency), "getobject", "parts", 0},
		{"ranges", fmt.Sprintf("transfermanager GetObject, 8 MiB ranges, concurrency %d", tmDefaultConcurrency), "getobject", "ranges", 0},
		{"download", fmt.Sprintf("transfermanager DownloadObject (WriterAt), 8 MiB ranges, concurrency %d", tmDefaultConcurrency), "download", "ranges", 0},
		{"equal", fmt.Sprintf("transfermanager GetObject, 8 MiB ranges, concurrency %d (= tierfs)", conc), "getobject", "ranges", conc},
	}
	for _, tr := range runs {
		x := row{Scenario: sc, Name: tr.name, Unit: "MB/s", Role: roleBaseline}
		if e.tm == nil {
			x.NA, x.Note = true, "transfer-manager baseline off or unavailable"
			r.add(x)
			continue
		}
		res, m, err := e.tm.run(ctx, bigKey, tr.api, tr.typ, tr.conc)
		if err != nil {
			return err
		}
		if res.Bytes != size {
			return fmt.Errorf("%s read %d bytes of %d", tr.name, res.Bytes, size)
		}
		x.Value, x.CPU = mbps(res.Bytes, time.Duration(res.Seconds*float64(time.Second))), m.cpu
		if tr.key == "default" {
			x.Note = "the object was put in one part, so the default (split by parts) makes one GET"
		}
		tmRates[tr.key] = x.Value
		r.add(x)
	}

	r.add(row{Scenario: sc, Name: "tierfs io.Copy (WriteTo), cold, default options", Value: tfs, Unit: "MB/s", CPU: m.cpu,
		Versus: joinNonEmpty(times(ratio(tfs, single), "single-stream"), times(ratio(tfs, ceiling), "link")),
		Note:   fmt.Sprintf("%d GETs, %d HEADs, %s from the origin; %s", st.Gets, st.Heads, human(st.BodyBytes), readahead), Role: roleTierfs})
	add := func(name string, base float64, goal float64, why string) {
		x := r.add(row{Scenario: sc, Name: name, Value: ratio(tfs, base), Unit: "×", Role: roleInfo, Note: why})
		if math.IsNaN(x.Value) {
			x.NA = true
			return
		}
		x.atLeast(goal, "×")
	}
	add("tierfs / link limit", ceiling, 0.8, "sequential reads should fill the link (readahead.md §3: Mountpoint, gcsfuse)")
	add("tierfs / single-stream", single, 2, "gcsfuse buffered read: 2-6× over sequential (readahead.md §3)")
	add("tierfs / transfermanager (defaults)", tmRates["default"], 1, "")
	add("tierfs / transfermanager (equal concurrency)", tmRates["equal"], 1, "")
	return nil
}

// 2. Time to first byte, cold.
func (e *env) firstByte(ctx context.Context) error {
	sc := "2. time to first byte, cold (Open + 1-byte Read)"
	r := e.res
	get, head, err := e.roundTrip(ctx)
	if err != nil {
		return err
	}
	e.rtt = get
	r.add(row{Scenario: sc, Name: "origin round trip: 1-byte ranged GET (median of 5)", Value: ms(get), Unit: "ms", Role: roleInfo})
	r.add(row{Scenario: sc, Name: "origin HEAD (median of 5)", Value: ms(head), Unit: "ms", Role: roleInfo})
	var ds []time.Duration
	var cpu float64
	var first string
	for i := range 5 {
		fsys, err := e.newFS(ctx)
		if err != nil {
			return err
		}
		e.srv.ResetStats()
		m, err := measure(func() error {
			f, err := fsys.Open(bigKey)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.ReadFull(f, make([]byte, 1))
			return err
		})
		st := e.srv.Total()
		fsys.Close()
		if err != nil {
			return err
		}
		ds = append(ds, m.wall)
		cpu += m.cpu / 5
		if i == 0 {
			first = fmt.Sprintf("%d GET(s) and %d HEAD(s) sent, %s of body sent by the time the byte arrived", st.Gets, st.Heads, human(st.BodyBytes))
		}
	}
	t := percentile(ds, 50)
	x := r.add(row{Scenario: sc, Name: "tierfs Open + first 1-byte Read, cold (median of 5)", Value: ms(t), Unit: "ms", CPU: cpu,
		Versus: times(ratio(ms(t), ms(get)), "round trip"), Note: first + " (Mountpoint's first GET is 1.125 MiB: readahead.md §1.1)", Role: roleTierfs})
	x.atMost(2*ms(get), " ms (2 round trips: a HEAD and a small first GET)")
	return nil
}

// 3. 16 readers of one file, sequential overall but reordered within
// ±512 KiB, as FUSE's multi-threaded readahead delivers reads.
func (e *env) reordered(ctx context.Context) error {
	const (
		readers = 16
		chunk   = 128 << 10
		group   = 8 // chunks of one 1 MiB band: ±512 KiB
	)
	sc := "3. 16 readers, 128 KiB reads reordered within ±512 KiB"
	r, size := e.res, e.cfg.size
	// The order the reads are taken in: chunk indexes, shuffled within each
	// band of 8. A shared atomic cursor hands them out; 16 goroutines
	// reading at once add the scheduling's own reordering.
	nchunks := int((size + chunk - 1) / chunk)
	order := make([]int, nchunks)
	rng := rand.New(rand.NewPCG(e.cfg.seed, 3))
	for g := 0; g < nchunks; g += group {
		band := order[g:min(g+group, nchunks)]
		for i := range band {
			band[i] = g + i
		}
		rng.Shuffle(len(band), func(i, j int) { band[i], band[j] = band[j], band[i] })
	}
	fsys, err := e.newFS(ctx)
	if err != nil {
		return err
	}
	defer fsys.Close()
	f, err := fsys.Open(bigKey)
	if err != nil {
		return err
	}
	defer f.Close()
	ra := f.(io.ReaderAt)
	e.srv.ResetStats()
	var cursor, got atomic.Int64
	m, err := measure(func() error {
		var g errgroup.Group
		for range readers {
			g.Go(func() error {
				buf := make([]byte, chunk)
				for {
					k := cursor.Add(1) - 1
					if k >= int64(nchunks) {
						return nil
					}
					off := int64(order[k]) * chunk
					n, err := ra.ReadAt(buf[:min(chunk, size-off)], off)
					got.Add(int64(n))
					if err != nil && err != io.EOF {
						return err
					}
				}
			})
		}
		return g.Wait()
	})
	if err != nil {
		return err
	}
	st := e.srv.Total()
	rate := mbps(got.Load(), m.wall)
	x := r.add(row{Scenario: sc, Name: "tierfs, 16 goroutines ReadAt on one handle", Value: rate, Unit: "MB/s", CPU: m.cpu, Role: roleTierfs,
		Note: fmt.Sprintf("%d GETs", st.Gets)})
	if e.seqRate > 0 {
		r.add(row{Scenario: sc, Name: "tierfs, one reader (scenario 1)", Value: e.seqRate, Unit: "MB/s", Role: roleBaseline})
		x.Versus = times(rate/e.seqRate, "single reader")
		x.Goal = "≥ 0.9× single reader"
		x.Met = met(rate >= 0.9*e.seqRate)
	}
	amp := r.add(row{Scenario: sc, Name: "origin bytes / bytes returned", Value: float64(st.BodyBytes) / float64(max(got.Load(), 1)), Unit: "×", Role: roleInfo})
	amp.atMost(1.05, "×")
	resets := row{Scenario: sc, Name: "prefetch resets", Unit: "", Role: roleInfo}
	if name, v, ok := findCounter(fsys.Stats(), "reset"); ok {
		resets.Value, resets.Note = float64(v), "tierfs.Stats."+name
	} else {
		resets.NA, resets.Note = true, "tierfs.Stats has no reset counter yet"
	}
	r.add(resets)
	return nil
}

// 4. Random small reads on a cold object, then a sequential scan on the
// same handle.
func (e *env) randomThenScan(ctx context.Context) error {
	sc := "4. random 4-64 KiB ReadAt, then a sequential scan on the same handle"
	r, size := e.res, e.cfg.size
	if err := e.ensureRTT(ctx); err != nil {
		return err
	}
	fsys, err := e.newFS(ctx)
	if err != nil {
		return err
	}
	defer fsys.Close()
	f, err := fsys.Open(bigKey)
	if err != nil {
		return err
	}
	defer f.Close()
	ra := f.(io.ReaderAt)
	// The random reads stay in the first half; the scan reads the second,
	// so it starts cold too.
	half := size / 2
	rng := rand.New(rand.NewPCG(e.cfg.seed, 4))
	buf := make([]byte, 64<<10)
	lat := make([]time.Duration, 0, e.cfg.randomReads)
	var cold []time.Duration // reads that sent a GET to the origin
	var asked int64
	e.srv.ResetStats()
	m, err := measure(func() error {
		for range e.cfg.randomReads {
			n := 4<<10 + rng.IntN(60<<10+1)
			off := rng.Int64N(half - int64(n))
			gets := e.srv.Total().Gets
			t0 := time.Now()
			if _, err := ra.ReadAt(buf[:n], off); err != nil {
				return err
			}
			d := time.Since(t0)
			lat = append(lat, d)
			if e.srv.Total().Gets > gets {
				cold = append(cold, d)
			}
			asked += int64(n)
		}
		return nil
	})
	if err != nil {
		return err
	}
	st := e.srv.Total()
	rtt := ms(e.rtt)
	p50, p99 := ms(percentile(lat, 50)), ms(percentile(lat, 99))
	c50 := ms(percentile(cold, 50))
	x := r.add(row{Scenario: sc, Name: fmt.Sprintf("random ReadAt p50 of the %d reads that went to the origin", len(cold)), Value: c50, Unit: "ms", CPU: m.cpu,
		Versus: times(c50/rtt, "round trip"), Role: roleTierfs, Note: "QD 1; a read went to the origin if the server counted a GET during it"})
	x.atMost(2*rtt, " ms (2× round trip: one small GET per miss)")
	r.add(row{Scenario: sc, Name: fmt.Sprintf("random ReadAt p50 of all %d reads", len(lat)), Value: p50, Unit: "ms", Versus: times(p50/rtt, "round trip"), Role: roleTierfs,
		Note: fmt.Sprintf("over the first %s of the object: later reads hit blocks cached by earlier ones", human(half))})
	r.add(row{Scenario: sc, Name: fmt.Sprintf("random ReadAt p99 of all %d reads", len(lat)), Value: p99, Unit: "ms", Versus: times(p99/rtt, "round trip"), Role: roleTierfs})
	r.add(row{Scenario: sc, Name: "origin round trip (1-byte GET)", Value: rtt, Unit: "ms", Role: roleInfo})
	r.add(row{Scenario: sc, Name: "origin bytes / bytes asked", Value: float64(st.BodyBytes) / float64(asked), Unit: "×", Role: roleInfo,
		Note: fmt.Sprintf("%s asked, %s from the origin in %d GETs", human(asked), human(st.BodyBytes), st.Gets)})
	per := r.add(row{Scenario: sc, Name: "origin bytes per read that went to the origin", Value: float64(st.BodyBytes) / float64(max(len(cold), 1)) / (1 << 20), Unit: "MiB", Role: roleInfo})
	per.atMost(1, " MiB (readahead.md §6.4)")

	// The scan: 1 MiB Reads from the middle, throughput per 8 MiB window.
	if _, err := f.(io.Seeker).Seek(half, io.SeekStart); err != nil {
		return err
	}
	const window = 8 << 20
	sbuf := make([]byte, 1<<20)
	var rates []float64
	var total int64
	m, err = measure(func() error {
		for total < size-half {
			t0 := time.Now()
			var w int64
			for w < window && total < size-half {
				n, err := f.Read(sbuf[:min(int64(len(sbuf)), size-half-total)])
				w += int64(n)
				total += int64(n)
				if err != nil {
					return err
				}
			}
			rates = append(rates, mbps(w, time.Since(t0)))
		}
		return nil
	})
	if err != nil {
		return err
	}
	full, what := e.seqRate, "scenario 1's rate"
	if full == 0 {
		full, what = maxOf(rates), "the scan's best window (scenario 1 did not run)"
	}
	reach := row{Scenario: sc, Name: "MiB read before an 8 MiB window reaches 90% of " + what, Unit: "MiB", Role: roleInfo}
	reach.NA, reach.Note = true, fmt.Sprintf("never, in %s", human(total))
	for i, v := range rates {
		if v >= 0.9*full {
			reach.Value, reach.NA, reach.Note = float64(i*window>>20), false, fmt.Sprintf("window %d of %d", i+1, len(rates))
			break
		}
	}
	r.add(reach)
	scan := mbps(total, m.wall)
	r.add(row{Scenario: sc, Name: "sequential scan after the random reads", Value: scan, Unit: "MB/s", CPU: m.cpu, Role: roleTierfs,
		Versus: times(ratio(scan, e.seqRate), "scenario 1")})
	return nil
}

func maxOf(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}

// readSpan reads n bytes from f's offset with 1 MiB Reads.
func readSpan(f io.Reader, buf []byte, n int64) (int64, error) {
	var got int64
	for got < n {
		k, err := f.Read(buf[:min(int64(len(buf)), n-got)])
		got += int64(k)
		if err == io.EOF {
			return got, nil
		}
		if err != nil {
			return got, err
		}
	}
	return got, nil
}

// 5. Quasi-sequential skips and a Parquet-like footer-then-columns read.
func (e *env) skipAndParquet(ctx context.Context) error {
	sc := "5. skip pattern and Parquet-like reads"
	r, size := e.res, e.cfg.size
	if err := e.ensureRTT(ctx); err != nil {
		return err
	}
	// Mountpoint PR #795: read 399 MB, skip 99 MB over 10.5 GB; here 80%
	// read / 20% skipped of each eighth of the object.
	period := size / 8
	readLen := period * 4 / 5
	fsys, err := e.newFS(ctx)
	if err != nil {
		return err
	}
	defer fsys.Close()
	f, err := fsys.Open(bigKey)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	var read int64
	e.srv.ResetStats()
	m, err := measure(func() error {
		for off := int64(0); off < size; off += period {
			if _, err := f.(io.Seeker).Seek(off, io.SeekStart); err != nil {
				return err
			}
			n, err := readSpan(f, buf, min(readLen, size-off))
			read += n
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	st := e.srv.Total()
	span := mbps(size, m.wall)
	x := r.add(row{Scenario: sc, Name: fmt.Sprintf("skip: read %s, skip %s, x8; object bytes passed per second", human(readLen), human(period-readLen)), Value: span, Unit: "MB/s", CPU: m.cpu, Role: roleTierfs})
	if e.seqRate > 0 {
		r.add(row{Scenario: sc, Name: "sequential read (scenario 1)", Value: e.seqRate, Unit: "MB/s", Role: roleBaseline})
		x.Versus = times(span/e.seqRate, "sequential")
		x.Goal = "≥ 0.9× sequential (PR #795: 10.0 s vs 9.7 s)"
		x.Met = met(span >= 0.9*e.seqRate)
	}
	r.add(row{Scenario: sc, Name: "skip: bytes fetched / bytes read", Value: float64(st.BodyBytes) / float64(read), Unit: "×", Role: roleInfo,
		Note: fmt.Sprintf("%d GETs; fetching through a short skip can be the fast choice", st.Gets)})

	// Parquet: the 8-byte tail, the footer, 3 column chunks of 1-8 MiB.
	pf, err := e.newFS(ctx)
	if err != nil {
		return err
	}
	defer pf.Close()
	g, err := pf.Open(bigKey)
	if err != nil {
		return err
	}
	defer g.Close()
	ra := g.(io.ReaderAt)
	rng := rand.New(rand.NewPCG(e.cfg.seed, 5))
	const footer = 64 << 10
	reads := [][2]int64{{size - 8, 8}, {size - 8 - footer, footer}}
	for range 3 {
		n := int64(1<<20 + rng.IntN(7<<20+1))
		reads = append(reads, [2]int64{rng.Int64N(size - footer - 8 - n), n})
	}
	var asked int64
	e.srv.ResetStats()
	m, err = measure(func() error {
		for _, rd := range reads {
			b := make([]byte, rd[1])
			if _, err := ra.ReadAt(b, rd[0]); err != nil {
				return err
			}
			asked += rd[1]
		}
		return nil
	})
	if err != nil {
		return err
	}
	st = e.srv.Total()
	r.add(row{Scenario: sc, Name: "Parquet-like: tail, 64 KiB footer, 3 column chunks of 1-8 MiB", Value: ms(m.wall), Unit: "ms", CPU: m.cpu, Role: roleTierfs,
		Versus: times(ms(m.wall)/ms(e.rtt), "round trip"), Note: fmt.Sprintf("%s asked in %d reads", human(asked), len(reads))})
	amp := r.add(row{Scenario: sc, Name: "Parquet-like: bytes fetched / bytes read", Value: float64(st.BodyBytes) / float64(asked), Unit: "×", Role: roleInfo,
		Note: fmt.Sprintf("%d GETs, %s from the origin", st.Gets, human(st.BodyBytes))})
	amp.atMost(float64(asked+int64(len(reads))<<20)/float64(asked), "× (at most 1 MiB extra per read, readahead.md §6.4)")
	return nil
}

// 6. Many open handles under a memory budget.
func (e *env) manyHandles(ctx context.Context) error {
	const (
		chunk   = 128 << 10
		memTier = 64 << 20
	)
	sc := fmt.Sprintf("6. %d open handles, %s readahead budget", e.cfg.handles, human(e.cfg.budget))
	r, size, h := e.res, e.cfg.size, e.cfg.handles
	fsys, err := e.newFS(ctx, tierfs.WithMemoryCache(memTier))
	if err != nil {
		return err
	}
	defer fsys.Close()
	files := make([]fs.File, h)
	for i := range files {
		if files[i], err = fsys.Open(bigKey); err != nil {
			return err
		}
		defer files[i].Close()
	}
	runtime.GC()
	debug.FreeOSMemory()
	base := procStatus("VmRSS")
	var peak atomic.Int64
	peak.Store(base)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if v := procStatus("VmRSS"); v > peak.Load() {
					peak.Store(v)
				}
			}
		}
	})
	// One in 8 handles streams 16 MiB; the others read 2 MiB, pause 200 ms
	// and read 2 MiB more (readahead.md §6.2), each from its own offset.
	got := make([]int64, h)
	busy := make([]time.Duration, h)
	m, err := measure(func() error {
		var g errgroup.Group
		for i := range h {
			g.Go(func() error {
				ra := files[i].(io.ReaderAt)
				buf := make([]byte, chunk)
				pos := int64(i) * (size / int64(h)) &^ (chunk - 1)
				read := func(n int64) error {
					t0 := time.Now()
					defer func() { busy[i] += time.Since(t0) }()
					for end := got[i] + n; got[i] < end; {
						k, err := ra.ReadAt(buf[:min(chunk, size-pos)], pos)
						got[i] += int64(k)
						if pos += int64(k); pos >= size {
							pos = 0
						}
						if err != nil && err != io.EOF {
							return err
						}
					}
					return nil
				}
				if i%8 == 0 {
					return read(16 << 20)
				}
				if err := read(2 << 20); err != nil {
					return err
				}
				time.Sleep(200 * time.Millisecond)
				return read(2 << 20)
			})
		}
		return g.Wait()
	})
	close(stop)
	wg.Wait()
	if err != nil {
		return err
	}
	var total int64
	progressed, slowest := 0, math.Inf(1)
	for i := range h {
		total += got[i]
		if got[i] > 0 {
			progressed++
		}
		slowest = min(slowest, mbps(got[i], busy[i]))
	}
	over := float64(peak.Load()-base) / (1 << 20)
	limit := float64(e.cfg.budget+memTier) / (1 << 20)
	x := r.add(row{Scenario: sc, Name: "peak RSS over the process baseline", Value: over, Unit: "MiB", Role: roleInfo,
		Note: fmt.Sprintf("baseline %s (the server's objects included), VmHWM %s; %s; the memory tier is %s",
			human(base), human(procStatus("VmHWM")), readahead, human(memTier))})
	x.atMost(limit, " MiB (budget + memory tier)")
	r.add(row{Scenario: sc, Name: "aggregate throughput", Value: mbps(total, m.wall), Unit: "MB/s", CPU: m.cpu, Role: roleTierfs,
		Versus: times(ratio(mbps(total, m.wall), e.cfg.linkLimit(e.cfg.linkConns)), "link"),
		Note:   fmt.Sprintf("%s read in %v, much of it shared blocks", human(total), m.wall.Round(time.Millisecond))})
	r.add(row{Scenario: sc, Name: "slowest handle, while reading", Value: slowest, Unit: "MB/s", Role: roleInfo})
	p := r.add(row{Scenario: sc, Name: "handles that made progress", Value: float64(progressed), Unit: fmt.Sprintf("of %d", h), Role: roleInfo})
	p.atLeast(float64(h), "")
	return nil
}

// 7. Model load warm (memory, disk), many small files, and the fleet.
func (e *env) modelAndSmallFiles(ctx context.Context) error {
	if err := e.modelLoad(ctx); err != nil {
		return err
	}
	if err := e.smallFiles(ctx); err != nil {
		return err
	}
	e.res.add(row{Scenario: "7c. fleet of nodes starting at once on one model", Name: "origin bytes / model size", NA: true, Role: roleInfo,
		Note: "n/a until peers land"})
	return nil
}

func (e *env) modelLoad(ctx context.Context) error {
	sc := fmt.Sprintf("7a. model load (%s): cold, warm from memory, from disk after a restart", human(e.cfg.size))
	r, size := e.res, e.cfg.size
	dir, err := os.MkdirTemp("", "tierfs-bench-disk")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	opts := []tierfs.Option{
		tierfs.WithMemoryCache(size + 64<<20),
		tierfs.WithDiskCache(tier.DefaultDiskConfig(2*size+256<<20, dir)),
	}
	pass := func(fsys *benchFS, name string, goalZero bool) error {
		e.srv.ResetStats()
		var n int64
		m, err := measure(func() error {
			var err error
			n, err = copyFile(fsys, bigKey)
			return err
		})
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		st := e.srv.Total()
		rate := mbps(n, m.wall)
		r.add(row{Scenario: sc, Name: name, Value: rate, Unit: "MB/s", CPU: m.cpu, Role: roleTierfs,
			Versus: joinNonEmpty(times(ratio(rate, e.seqRate), "cold (scenario 1)"), times(ratio(rate, e.cfg.linkLimit(e.cfg.linkConns)), "link"))})
		gets := r.add(row{Scenario: sc, Name: name + ": origin GETs", Value: float64(st.Gets), Unit: "GETs", Role: roleInfo,
			Note: fmt.Sprintf("%s from the origin", human(st.BodyBytes))})
		if goalZero {
			gets.atMost(0, "")
		}
		return nil
	}
	a, err := e.newFS(ctx, opts...)
	if err != nil {
		return err
	}
	if err := pass(a, "cold, filling the memory and disk tiers", false); err != nil {
		a.Close()
		return err
	}
	if err := pass(a, "warm, from the memory tier", true); err != nil {
		a.Close()
		return err
	}
	if err := a.Close(); err != nil {
		return err
	}
	b, err := e.newFS(ctx, opts...)
	if err != nil {
		return err
	}
	defer b.Close()
	return pass(b, "after a restart, from the disk tier", true)
}

func (e *env) smallFiles(ctx context.Context) error {
	sc := fmt.Sprintf("7b. %d small files of 64-512 KiB, read once in listing order", e.cfg.files)
	r := e.res
	names := make([]string, e.cfg.files)
	for i := range names {
		names[i] = fmt.Sprintf("f%05d.bin", i)
	}
	for _, workers := range []int{1, 16} {
		// Baseline: one plain-SDK GetObject per file.
		var bytes atomic.Int64
		m, err := measure(func() error {
			return forEach(names, workers, func(name string) error {
				n, err := e.sdkGet(ctx, smallDir+"/"+name, "")
				bytes.Add(n)
				return err
			})
		})
		if err != nil {
			return err
		}
		base := float64(len(names)) / m.wall.Seconds()
		r.add(row{Scenario: sc, Name: fmt.Sprintf("%d worker(s): plain SDK GetObject per file", workers), Value: base, Unit: "files/s", CPU: m.cpu, Role: roleBaseline,
			Note: fmt.Sprintf("%s MB/s", num(mbps(bytes.Load(), m.wall)))})

		fsys, err := e.newFS(ctx)
		if err != nil {
			return err
		}
		e.srv.ResetStats()
		bytes.Store(0)
		m, err = measure(func() error {
			entries, err := fsys.ReadDir(smallDir)
			if err != nil {
				return err
			}
			list := make([]string, len(entries))
			for i, de := range entries {
				list[i] = de.Name()
			}
			return forEach(list, workers, func(name string) error {
				n, err := copyFile(fsys, smallDir+"/"+name)
				bytes.Add(n)
				return err
			})
		})
		fsys.Close()
		if err != nil {
			return err
		}
		st := e.srv.Total()
		rate := float64(len(names)) / m.wall.Seconds()
		nf := float64(len(names))
		r.add(row{Scenario: sc, Name: fmt.Sprintf("%d worker(s): tierfs ReadDir, then Open + io.Copy", workers), Value: rate, Unit: "files/s", CPU: m.cpu, Role: roleTierfs,
			Versus: times(rate/base, "plain SDK"),
			Note:   fmt.Sprintf("%s MB/s; per file %s HEADs and %s other requests (listing)", num(mbps(bytes.Load(), m.wall)), num(float64(st.Heads)/nf), num(float64(st.Requests-st.Gets-st.Heads)/nf))})
		g := r.add(row{Scenario: sc, Name: fmt.Sprintf("%d worker(s): tierfs GETs per file", workers), Value: float64(st.Gets) / nf, Unit: "GETs", Role: roleInfo})
		g.atMost(1, " (readahead.md §6.5)")
	}
	return nil
}

// forEach calls f on every name from workers goroutines.
func forEach(names []string, workers int, f func(string) error) error {
	var g errgroup.Group
	g.SetLimit(workers)
	for _, n := range names {
		g.Go(func() error { return f(n) })
	}
	return g.Wait()
}
