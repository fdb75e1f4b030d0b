package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tierfs/tierfs"
	"github.com/tierfs/tierfs/cache"
	"github.com/tierfs/tierfs/internal/s3test"
	"github.com/tierfs/tierfs/prefetch"
	"github.com/tierfs/tierfs/tier"
)

const (
	bigKey   = "big.bin"
	smallDir = "small"
)

// seed creates the bucket and its objects (directly: not counted, shaped
// or faulted).
func (e *env) seed(ctx context.Context) error {
	if err := e.srv.CreateBucket(e.bucket); err != nil {
		return err
	}
	if slices.IndexFunc(e.cfg.scenarios, func(n int) bool { return n <= 7 }) < 0 {
		return nil // scenario 8 writes its own object
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
	for i := range fleetFiles {
		if err := e.srv.PutObject(e.bucket, fmt.Sprintf("%s/f%05d.bin", fleetDir, i), gen(e.cfg.seed+uint64(i)+1<<20, fleetFileSize)); err != nil {
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

// coldFile is the big object open in an FS of its own.
type coldFile struct {
	fs.File
	fsys *benchFS
}

// Close closes the file and its FS.
func (c *coldFile) Close() error { return errors.Join(c.File.Close(), c.fsys.Close()) }

// openCold opens the big object in a new cold FS.
func (e *env) openCold(ctx context.Context) (*coldFile, error) {
	fsys, err := e.newFS(ctx)
	if err != nil {
		return nil, err
	}
	f, err := fsys.Open(bigKey)
	if err != nil {
		fsys.Close()
		return nil, err
	}
	return &coldFile{File: f, fsys: fsys}, nil
}

// copyFile opens name in fsys and io.Copy's it to io.Discard.
// halfway discards what it is written and takes the process's MemStats
// once half bytes have passed.
type halfway struct {
	n, half int64
	ms      runtime.MemStats
	taken   bool
}

func (h *halfway) Write(p []byte) (int, error) {
	h.n += int64(len(p))
	if !h.taken && h.n >= h.half {
		runtime.ReadMemStats(&h.ms)
		h.taken = true
	}
	return len(p), nil
}

func copyFile(fsys fs.FS, name string) (int64, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return io.Copy(io.Discard, f)
}

// 1. Cold sequential read of the big object: at the default shaping and
// options, then (1b) at a shaping where 8× single-stream is reachable (a
// per-connection cap under an eighth of the total cap) with tierfs at a
// higher readahead concurrency.
func (e *env) coldSequential(ctx context.Context) error {
	sh := e.shaping()
	sc := fmt.Sprintf("1. cold sequential read of %s (io.Copy), default options", human(e.cfg.size))
	seq, err := e.sequential(ctx, sc, sh, nil, false)
	if err != nil {
		return err
	}
	e.seqRate = seq

	wide := sh
	wide.ConnBandwidth, wide.TotalBandwidth = e.cfg.wideConnBW, e.cfg.wideTotalBW
	e.srv.SetShaping(wide)
	defer e.srv.SetShaping(sh)
	sc = fmt.Sprintf("1b. cold sequential read of %s (io.Copy), %s a connection, %s in total, tierfs at prefetch.Config{Concurrency: %d}",
		human(e.cfg.size), capName(e.cfg.wideConnBW), capName(e.cfg.wideTotalBW), e.cfg.wideConc)
	if _, err = e.sequential(ctx, sc, wide, &prefetch.Config{Concurrency: e.cfg.wideConc}, true); err != nil {
		return err
	}
	return e.slowConnections(ctx, sh)
}

// slowSpan is what scenario 1c's single-stream baseline reads: at a few
// MB/s a whole object would take minutes.
const slowSpan = 64 << 20

// 1c. Cold sequential read at default options on a link whose connections
// are slow each and whose total is not capped (cross-region S3 and OSS):
// tierfs must find the link's width by itself (throughput-seeking
// concurrency), within its memory budget.
func (e *env) slowConnections(ctx context.Context, sh s3test.Shaping) error {
	r, size := e.res, e.cfg.size
	slow := sh
	slow.ConnBandwidth, slow.TotalBandwidth = e.cfg.slowConnBW, 0
	e.srv.SetShaping(slow)
	defer e.srv.SetShaping(sh)
	sc := fmt.Sprintf("1c. cold sequential read of %s (io.Copy), %s a connection, no total cap, default options", human(size), capName(e.cfg.slowConnBW))
	span := min(int64(slowSpan), size)
	var n int64
	m, err := measure(func() error {
		var err error
		n, err = e.sdkGet(ctx, bigKey, fmt.Sprintf("bytes=0-%d", span-1))
		return err
	})
	if err != nil {
		return fmt.Errorf("single-stream GetObject: %w", err)
	}
	if n != span {
		return fmt.Errorf("single-stream GetObject read %d bytes of %d", n, span)
	}
	single := mbps(n, m.wall)
	r.add(row{Scenario: sc, Name: fmt.Sprintf("single-stream GetObject of the first %s (plain SDK, Range, io.Copy of the body)", human(span)), Value: single, Unit: "MB/s", CPU: m.cpu, Role: roleBaseline})
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
	tfs := mbps(n, m.wall)
	st, ps := e.srv.Total(), fsys.Stats().Prefetch
	r.add(row{Scenario: sc, Name: "tierfs io.Copy (WriteTo), cold, default options", Value: tfs, Unit: "MB/s", CPU: m.cpu, Role: roleTierfs,
		Versus: times(ratio(tfs, single), "single-stream"),
		Note:   fmt.Sprintf("%d GETs, %s from the origin; %d GETs in flight at peak; %d blocks read ahead", st.Gets, human(st.BodyBytes), e.gauge.peak.Load(), ps.ReadaheadBlocks)})
	r.add(row{Scenario: sc, Name: "tierfs / single-stream", Value: ratio(tfs, single), Unit: "×", Role: roleInfo,
		Note: "throughput-seeking concurrency: a file adds loads while they raise its rate"}).atLeast(12, "×")
	budget := prefetch.DefaultConfig().Budget
	r.add(row{Scenario: sc, Name: "readahead budget peak", Value: float64(ps.BudgetPeak) / (1 << 20), Unit: "MiB", Role: roleInfo,
		Note: fmt.Sprintf("the budget is %s", human(budget))}).atMost(float64(budget)/(1<<20), "MiB")
	return nil
}

// capName is a bandwidth cap for a scenario's title.
func capName(bw int64) string {
	if bw <= 0 {
		return "no cap"
	}
	return rate(bw)
}

// singleSpan is the most scenario 1b's single-stream baseline reads: at
// its low per-connection cap a whole 1 GiB object would take about a
// minute, and the rate of one stream does not depend on its length.
const singleSpan = 256 << 20

// sequential measures one cold sequential read of the big object under
// the shaping sh (which the server has) with tierfs at ra (nil: the
// default options), beside single-stream GetObject and the transfer
// manager. It returns tierfs's rate in MB/s. wide is scenario 1b: the
// single stream reads at most singleSpan, and of the transfer manager only
// DownloadObject at tierfs's concurrency runs (its GetObject at its
// defaults and at equal concurrency are scenario 1's goals).
func (e *env) sequential(ctx context.Context, sc string, sh s3test.Shaping, ra *prefetch.Config, wide bool) (float64, error) {
	r, size, connBW, totalBW := e.res, e.cfg.size, sh.ConnBandwidth, sh.TotalBandwidth
	one := linkLimit(totalBW, connBW, 1)
	ref := linkLimit(totalBW, connBW, e.cfg.linkConns)
	link := r.add(row{Scenario: sc, Name: fmt.Sprintf("reference: link limit at %d connections (-link-conns)", e.cfg.linkConns), Value: ref, Unit: "MB/s", Role: roleLink})
	if math.IsInf(ref, 1) {
		link.NA, link.Note = true, "no cap: the CPUs are the limit"
	}

	var n int64
	span, singleName := size, "single-stream GetObject (plain SDK, io.Copy of the body)"
	rng := ""
	if wide && size > singleSpan {
		span = singleSpan
		rng = fmt.Sprintf("bytes=0-%d", span-1)
		singleName = fmt.Sprintf("single-stream GetObject of the first %s (plain SDK, Range, io.Copy of the body)", human(span))
	}
	m, err := measure(func() error {
		var err error
		n, err = e.sdkGet(ctx, bigKey, rng)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("single-stream GetObject: %w", err)
	}
	if n != span {
		return 0, fmt.Errorf("single-stream GetObject read %d bytes of %d", n, span)
	}
	single := mbps(n, m.wall)
	r.add(row{Scenario: sc, Name: singleName, Value: single, Unit: "MB/s", CPU: m.cpu,
		Versus: times(ratio(single, one), "link at 1 connection"), Role: roleBaseline})

	cfg := prefetch.DefaultConfig()
	var opts []tierfs.Option
	what := "default options"
	if ra != nil {
		opts = append(opts, tierfs.WithReadahead(*ra))
		what = fmt.Sprintf("tierfs.WithReadahead(prefetch.Config{Concurrency: %d})", ra.Concurrency)
		cfg.Concurrency = ra.Concurrency
	}
	// The process's memory before the FS exists (the server's objects
	// and the harness), for the one-shot read's peak RSS.
	runtime.GC()
	debug.FreeOSMemory()
	rssBase := procStatus("VmRSS")
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	fsys, err := e.newFS(ctx, opts...)
	if err != nil {
		return 0, err
	}
	defer fsys.Close()
	e.gauge.resetPeak()
	e.srv.ResetStats()
	rssPeak, stopRSS := sampleRSS()
	half := &halfway{half: size / 2}
	m, err = measure(func() error {
		f, err := fsys.Open(bigKey)
		if err != nil {
			return err
		}
		defer f.Close()
		n, err = io.Copy(half, f)
		return err
	})
	stopRSS()
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	if err != nil {
		return 0, fmt.Errorf("tierfs: %w", err)
	}
	if n != size {
		return 0, fmt.Errorf("tierfs read %d bytes of %d", n, size)
	}
	peak := int(e.gauge.peak.Load())
	// The goal's link limit is at tierfs's concurrency: the loads a file
	// starts with (it adds more while they raise its rate) or the GETs it
	// had in flight at peak if more (so a tierfs that used fewer
	// connections is not let off).
	conc := max(min(cfg.Concurrency, 8), peak, 1)
	ceiling := linkLimit(totalBW, connBW, conc)
	st, ps := e.srv.Total(), fsys.Stats().Prefetch
	tfs := mbps(n, m.wall)
	r.add(row{Scenario: sc, Name: fmt.Sprintf("link limit: min(total cap, %d × per-connection cap)", conc), Value: ceiling, Unit: "MB/s", Role: roleLink,
		Note: fmt.Sprintf("%d = max(readahead concurrency %d, %d GETs in flight at peak)", conc, cfg.Concurrency, peak)})

	// The transfer manager: at its defaults, at tierfs's concurrency, and
	// (references) with ranges at its default concurrency and DownloadObject.
	type tmRun struct {
		key, name, api, typ string
		conc                int
	}
	var runs []tmRun
	if !wide {
		runs = append(runs,
			tmRun{"default", fmt.Sprintf("transfermanager GetObject, defaults (split by parts, concurrency %d)", tmDefaultConcurrency), "getobject", "parts", 0},
			tmRun{"equal", fmt.Sprintf("transfermanager GetObject, 8 MiB ranges, concurrency %d (= tierfs)", conc), "getobject", "ranges", conc})
	}
	runs = append(runs, tmRun{"download-equal", fmt.Sprintf("transfermanager DownloadObject (WriterAt), 8 MiB ranges, concurrency %d (= tierfs)", conc), "download", "ranges", conc})
	if !wide && e.cfg.tmRefs {
		runs = append(runs,
			tmRun{"ranges", fmt.Sprintf("transfermanager GetObject, 8 MiB ranges, concurrency %d", tmDefaultConcurrency), "getobject", "ranges", 0},
			tmRun{"download", fmt.Sprintf("transfermanager DownloadObject (WriterAt), 8 MiB ranges, concurrency %d", tmDefaultConcurrency), "download", "ranges", 0})
	}
	tmRates, tmCPU := map[string]float64{}, map[string]float64{}
	serverAlloc := math.NaN() // KiB the in-process server allocates per MiB it sends
	for _, tr := range runs {
		x := row{Scenario: sc, Name: tr.name, Unit: "MB/s", Role: roleBaseline}
		if e.tm == nil {
			x.NA, x.Note = true, "transfer-manager baseline off or unavailable"
			r.add(x)
			continue
		}
		var tm0, tm1 runtime.MemStats
		runtime.ReadMemStats(&tm0)
		res, m, err := e.tm.run(ctx, bigKey, tr.api, tr.typ, tr.conc)
		if err != nil {
			return 0, err
		}
		runtime.ReadMemStats(&tm1)
		if tr.key == "download-equal" && res.Bytes > 0 {
			// The transfer manager runs in a subprocess: what this
			// process allocated meanwhile is the server's.
			serverAlloc = float64(tm1.TotalAlloc-tm0.TotalAlloc) / (float64(res.Bytes) / (1 << 20)) / (1 << 10)
		}
		if res.Bytes != size {
			return 0, fmt.Errorf("%s read %d bytes of %d", tr.name, res.Bytes, size)
		}
		x.Value, x.CPU = mbps(res.Bytes, time.Duration(res.Seconds*float64(time.Second))), m.cpu
		if tr.key == "default" {
			x.Note = "the object was put in one part, so the default (split by parts) makes one GET"
		}
		tmRates[tr.key] = x.Value
		tmCPU[tr.key] = m.cpu * m.wall.Seconds() // CPU-seconds: the subprocess and the server
		r.add(x)
	}

	r.add(row{Scenario: sc, Name: "tierfs io.Copy (WriteTo), cold, " + what, Value: tfs, Unit: "MB/s", CPU: m.cpu,
		Versus: joinNonEmpty(times(ratio(tfs, single), "single-stream"), times(ratio(tfs, ceiling), "link")),
		Note: fmt.Sprintf("%d GETs, %d HEADs, %s from the origin; %d blocks read ahead, %d prefetch resets, budget peak %s",
			st.Gets, st.Heads, human(st.BodyBytes), ps.ReadaheadBlocks, ps.Resets, human(ps.BudgetPeak)), Role: roleTierfs})
	add := func(name string, base float64) *row {
		x := r.add(row{Scenario: sc, Name: name, Value: ratio(tfs, base), Unit: "×", Role: roleInfo})
		x.NA = math.IsNaN(x.Value)
		return x
	}
	add(fmt.Sprintf("tierfs / link limit at %d connections", conc), ceiling).atLeast(0.9, "×")
	x := add("tierfs / single-stream", single)
	if reach := ratio(ceiling, one); reach < 8 {
		// Not a goal here: no client can reach it on this link.
		x.Note = fmt.Sprintf("the issue's ≥ 8× is held in 1b: here it is impossible by construction, since the link limit at %d connections is %s× one connection's (%s / %s)",
			conc, num(reach), rate(int64(ceiling*1e6)), rate(int64(one*1e6)))
	} else {
		x.atLeast(8, "×")
		x.Note = fmt.Sprintf("reachable: the link limit at %d connections is %s× one connection's, if the CPUs allow (see CPU)", conc, num(reach))
	}
	if !wide {
		mib := float64(n) / (1 << 20)
		r.add(row{Scenario: sc, Name: "tierfs one-shot read, default options: peak RSS over the process baseline", Value: float64(rssPeak()-rssBase) / (1 << 20), Unit: "MiB", Role: roleInfo,
			Note: "VmRSS sampled every 10 ms; the baseline is taken after a GC, before the FS is made (the server's objects included)"}).atMost(300, "MiB")
		all := float64(ms1.TotalAlloc-ms0.TotalAlloc) / mib / (1 << 10)
		r.add(row{Scenario: sc, Name: "bytes allocated per MiB read (process: tierfs and the in-process server)", Value: all, Unit: "KiB",
			Role: roleInfo, Note: fmt.Sprintf("%.1f allocations per MiB; %d GCs", float64(ms1.Mallocs-ms0.Mallocs)/mib, ms1.NumGC-ms0.NumGC)})
		fst := fsys.Stats()
		x := r.add(row{Scenario: sc, Name: "bytes allocated per MiB read by tierfs, whole read (the process's, less the server's per MiB in the DownloadObject run)", Value: all - serverAlloc, Unit: "KiB", Role: roleInfo,
			Note: fmt.Sprintf("the server allocates %.0f KiB per MiB it sends; %d block buffers made (%s: the loads and blocks alive at once, at the peak), %d reused; a tierfs that allocated each 8 MiB block would allocate 1024 KiB per MiB",
				serverAlloc, fst.BuffersMade, human(fst.BuffersMade*cache.DefaultBlockSize), fst.BuffersReused)})
		x.NA = math.IsNaN(x.Value)
		if half.taken {
			secondHalf := float64(size-half.half) / (1 << 20)
			steady := float64(ms1.TotalAlloc-half.ms.TotalAlloc)/secondHalf/(1<<10) - serverAlloc
			y := r.add(row{Scenario: sc, Name: "bytes allocated per MiB read by tierfs, steady state (the read's second half, less the server's)", Value: steady, Unit: "KiB", Role: roleInfo,
				Note: fmt.Sprintf("%.1f allocations per MiB; the goal is a tenth of a tierfs that allocated each block (1024 KiB per MiB)", float64(ms1.Mallocs-half.ms.Mallocs)/secondHalf)})
			y.NA = math.IsNaN(y.Value)
			if !y.NA {
				y.atMost(102.4, "KiB")
			}
		}
		add("tierfs / transfermanager (defaults)", tmRates["default"]).above(1, "×")
		add(fmt.Sprintf("tierfs / transfermanager GetObject at equal concurrency (%d)", conc), tmRates["equal"]).above(1, "×")
	}
	if !wide && tmCPU["download-equal"] > 0 {
		cpuS := m.cpu * m.wall.Seconds()
		r.add(row{Scenario: sc, Name: fmt.Sprintf("CPU-seconds: tierfs / transfermanager DownloadObject at equal concurrency (%d)", conc), Value: cpuS / tmCPU["download-equal"], Unit: "×", Role: roleInfo,
			Note: fmt.Sprintf("%.2f s against %.2f s; both with the in-process server's CPU", cpuS, tmCPU["download-equal"])}).atMost(1.1, "×")
	}
	y := add(fmt.Sprintf("tierfs / transfermanager DownloadObject at equal concurrency (%d)", conc), tmRates["download-equal"])
	if !y.NA {
		y.reference("> 1× (DownloadObject is the transfer manager's fastest path, into a WriterAt, not a stream)", y.Value > 1)
	}
	return tfs, nil
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
	const runs = 5
	var total, afterOpen, open []time.Duration
	var cpu float64
	var first string
	for i := range runs {
		fsys, err := e.newFS(ctx)
		if err != nil {
			return err
		}
		e.srv.ResetStats()
		var tOpen, tByte time.Duration
		m, err := measure(func() error {
			t0 := time.Now()
			f, err := fsys.Open(bigKey)
			if err != nil {
				return err
			}
			defer f.Close()
			t1 := time.Now()
			_, err = io.ReadFull(f, make([]byte, 1))
			tOpen, tByte = t1.Sub(t0), time.Since(t1)
			return err
		})
		st := e.srv.Total()
		fsys.Close()
		if err != nil {
			return err
		}
		total = append(total, tOpen+tByte)
		open = append(open, tOpen)
		afterOpen = append(afterOpen, tByte)
		cpu += m.cpu / runs
		if i == 0 {
			first = fmt.Sprintf("%d GET(s) and %d HEAD(s) sent, %s of body sent by the time the byte arrived", st.Gets, st.Heads, human(st.BodyBytes))
		}
	}
	rtt := ms(get)
	t, o, a := ms(percentile(total, 50)), ms(percentile(open, 50)), ms(percentile(afterOpen, 50))
	x := r.add(row{Scenario: sc, Name: fmt.Sprintf("tierfs Open + first 1-byte Read, cold (median of %d)", runs), Value: t, Unit: "ms", CPU: cpu,
		Versus: times(t/rtt, "round trip"), Role: roleTierfs,
		Note: first + "; tierfs opens with one GET of the first 128 KiB, which also serves the first read"})
	x.atMost(1.2*rtt, " ms (1.2× round trip)")
	r.add(row{Scenario: sc, Name: fmt.Sprintf("tierfs Open alone (median of %d)", runs), Value: o, Unit: "ms", Versus: times(o/rtt, "round trip"), Role: roleInfo})
	r.add(row{Scenario: sc, Name: fmt.Sprintf("tierfs first 1-byte Read after Open (median of %d)", runs), Value: a, Unit: "ms", Versus: times(a/rtt, "round trip"), Role: roleInfo,
		Note: "reference only: the goal is on Open + first byte"})
	return nil
}

// 3. 16 readers of one file, in order with ±512 KiB of jitter, as FUSE's
// multi-threaded readahead delivers reads.
func (e *env) reordered(ctx context.Context) error {
	const (
		readers = 16
		chunk   = 128 << 10
		jitter  = 512 << 10
	)
	sc := "3. 16 goroutines, 128 KiB reads in order with ±512 KiB jitter"
	r, size := e.res, e.cfg.size
	order := jitteredOrder(size, chunk, jitter, rand.New(rand.NewPCG(e.cfg.seed, 3)))
	single := e.seqRate
	if single == 0 { // scenario 1 did not run: measure one reader here
		fsys, err := e.newFS(ctx)
		if err != nil {
			return err
		}
		var n int64
		m, err := measure(func() error {
			var err error
			n, err = copyFile(fsys, bigKey)
			return err
		})
		fsys.Close()
		if err != nil {
			return err
		}
		single = mbps(n, m.wall)
	}
	f, err := e.openCold(ctx)
	if err != nil {
		return err
	}
	defer f.Close()
	ra := f.File.(io.ReaderAt)
	e.srv.ResetStats()
	var cursor, got atomic.Int64
	m, err := measure(func() error {
		var g errgroup.Group
		for range readers {
			g.Go(func() error {
				buf := make([]byte, chunk)
				for {
					k := cursor.Add(1) - 1
					if k >= int64(len(order)) {
						return nil
					}
					off := order[k]
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
	st, ps := e.srv.Total(), f.fsys.Stats().Prefetch
	rate := mbps(got.Load(), m.wall)
	r.add(row{Scenario: sc, Name: "tierfs, one reader, cold io.Copy", Value: single, Unit: "MB/s", Role: roleBaseline,
		Note: map[bool]string{true: "scenario 1", false: "measured here (scenario 1 did not run)"}[e.seqRate > 0]})
	x := r.add(row{Scenario: sc, Name: "tierfs, 16 goroutines ReadAt on one handle", Value: rate, Unit: "MB/s", CPU: m.cpu, Role: roleTierfs,
		Versus: times(rate/single, "single reader"), Note: fmt.Sprintf("%d GETs; %d blocks read ahead, %d reads in random mode", st.Gets, ps.ReadaheadBlocks, ps.RandomReads)})
	x.Goal = "≥ 0.8× single reader"
	x.Met = met(rate >= 0.8*single)
	amp := r.add(row{Scenario: sc, Name: "origin bytes / bytes returned", Value: float64(st.BodyBytes) / float64(max(got.Load(), 1)), Unit: "×", Role: roleInfo})
	amp.reference("≤ 1.05× (readahead.md)", amp.Value <= 1.05)
	r.add(row{Scenario: sc, Name: "prefetch resets", Value: float64(ps.Resets), Role: roleInfo, Note: "tierfs.Stats().Prefetch.Resets: streams broken by a read elsewhere"})
	return nil
}

// jitteredOrder returns the offsets of the chunks of an object of size
// bytes in the order 16 readers take them: in order, each displaced by up
// to ±jitter bytes (its offset plus a uniform jitter, sorted).
func jitteredOrder(size, chunk, jitter int64, rng *rand.Rand) []int64 {
	type item struct{ off, key int64 }
	items := make([]item, 0, (size+chunk-1)/chunk)
	for off := int64(0); off < size; off += chunk {
		items = append(items, item{off, off + rng.Int64N(2*jitter+1) - jitter})
	}
	slices.SortStableFunc(items, func(a, b item) int { return cmp.Compare(a.key, b.key) })
	out := make([]int64, len(items))
	for i, it := range items {
		out[i] = it.off
	}
	return out
}

// 4. Random small reads on a cold object, then a sequential scan on the
// same handle.
func (e *env) randomThenScan(ctx context.Context) error {
	sc := "4. random 4-64 KiB ReadAt over the whole object, then a sequential scan on the same handle"
	r, size := e.res, e.cfg.size
	if err := e.ensureRTT(ctx); err != nil {
		return err
	}
	f, err := e.openCold(ctx)
	if err != nil {
		return err
	}
	defer f.Close()
	ra := f.File.(io.ReaderAt)
	rng := rand.New(rand.NewPCG(e.cfg.seed, 4))
	buf := make([]byte, 64<<10)
	lat := make([]time.Duration, 0, e.cfg.randomReads)
	var cold []time.Duration // reads that sent a GET to the origin
	var asked int64
	// The origin bytes and bytes asked after the first half of the reads,
	// where fewer blocks have been read often enough to be loaded whole.
	var halfBody, halfAsked int64
	half := e.cfg.randomReads / 2
	e.srv.ResetStats()
	m, err := measure(func() error {
		for i := range e.cfg.randomReads {
			if i == half {
				halfBody, halfAsked = e.srv.Total().BodyBytes, asked
			}
			n := 4<<10 + rng.IntN(60<<10+1)
			off := rng.Int64N(size - int64(n) + 1)
			gets := e.srv.Total().Gets
			t0 := time.Now()
			if _, err := ra.ReadAt(buf[:n], off); err != nil && err != io.EOF {
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
	st, ps := e.srv.Total(), f.fsys.Stats().Prefetch
	rtt := ms(e.rtt)
	p50, p99 := ms(percentile(lat, 50)), ms(percentile(lat, 99))
	c50 := ms(percentile(cold, 50))
	density := float64(len(lat)) / (float64(size) / float64(8<<20))
	x := r.add(row{Scenario: sc, Name: fmt.Sprintf("random ReadAt p50 of all %d reads", len(lat)), Value: p50, Unit: "ms", CPU: m.cpu,
		Versus: times(p50/rtt, "round trip"), Role: roleTierfs,
		Note: fmt.Sprintf("QD 1, over all %s (%s reads per 8 MiB of object); %d reads served in random mode", human(size), num(density), ps.RandomReads)})
	x.atMost(1.2*rtt, " ms (1.2× round trip)")
	r.add(row{Scenario: sc, Name: fmt.Sprintf("random ReadAt p50 of the %d reads that went to the origin", len(cold)), Value: c50, Unit: "ms",
		Versus: times(c50/rtt, "round trip"), Role: roleInfo, Note: "a read went to the origin if the server counted a GET during it"})
	r.add(row{Scenario: sc, Name: fmt.Sprintf("random ReadAt p99 of all %d reads", len(lat)), Value: p99, Unit: "ms", Versus: times(p99/rtt, "round trip"), Role: roleInfo})
	r.add(row{Scenario: sc, Name: "origin round trip (1-byte GET)", Value: rtt, Unit: "ms", Role: roleInfo})
	amp := r.add(row{Scenario: sc, Name: "origin bytes / bytes asked", Value: float64(st.BodyBytes) / float64(asked), Unit: "×", Role: roleInfo,
		Note: fmt.Sprintf("%s asked, %s from the origin in %d GETs", human(asked), human(st.BodyBytes), st.Gets)})
	amp.atMost(1.5, "×")
	if half > 0 {
		r.add(row{Scenario: sc, Name: fmt.Sprintf("origin bytes / bytes asked, first %d reads only", half), Value: float64(halfBody) / float64(max(halfAsked, 1)), Unit: "×", Role: roleInfo,
			Note: fmt.Sprintf("%s reads per 8 MiB of object: a block once a sixteenth of it has been asked is loaded whole, so the ratio depends on the reads' density", num(density/2))})
	}

	// The scan: 1 MiB Reads over the whole object from the start, timed
	// per 8 MiB window.
	if _, err := f.File.(io.Seeker).Seek(0, io.SeekStart); err != nil {
		return err
	}
	const window = 8 << 20
	sbuf := make([]byte, 1<<20)
	var rates []float64
	var total int64
	e.srv.ResetStats()
	m, err = measure(func() error {
		for total < size {
			t0 := time.Now()
			var w int64
			for w < window && total < size {
				n, err := f.Read(sbuf[:min(int64(len(sbuf)), size-total)])
				w += int64(n)
				total += int64(n)
				if err == io.EOF {
					break
				}
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
	full, what := e.seqRate, "scenario 1's cold rate"
	if full == 0 {
		full, what = maxOf(rates), "the scan's best window (scenario 1 did not run)"
	}
	reach := row{Scenario: sc, Name: "MiB scanned before an 8 MiB window reaches 90% of " + what, Unit: "MiB", Role: roleInfo}
	reach.NA, reach.Note = true, fmt.Sprintf("never, in %s", human(total))
	for i, v := range rates {
		if v >= 0.9*full {
			reach.Value, reach.NA, reach.Note = float64(i*window>>20), false, fmt.Sprintf("window %d of %d", i+1, len(rates))
			break
		}
	}
	rx := r.add(reach)
	rx.atMost(64, " MiB")
	if rx.NA {
		rx.Met = met(false)
	}
	scan := mbps(total, m.wall)
	r.add(row{Scenario: sc, Name: "sequential scan after the random reads, whole object", Value: scan, Unit: "MB/s", CPU: m.cpu, Role: roleTierfs,
		Versus: times(ratio(scan, e.seqRate), "scenario 1"), Note: fmt.Sprintf("%d GETs, %s from the origin", e.srv.Total().Gets, human(e.srv.Total().BodyBytes))})
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
	// Mountpoint PR #795: read 399 MB, skip 99 MB over 10.5 GB. The issue's
	// 400 MB / 100 MB when the object holds it; else 80% read / 20%
	// skipped of each eighth of the object (a skip that may be shorter
	// than a block, which readahead of whole blocks then fetches).
	period, readLen := int64(500e6), int64(400e6)
	pattern := "400 MB / 100 MB, as in the issue"
	if size < period {
		period = size / 8
		readLen = period * 4 / 5
		pattern = "80% / 20% of each eighth: 400 MB / 100 MB scaled to the object"
	}
	f, err := e.openCold(ctx)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	var read int64
	e.srv.ResetStats()
	m, err := measure(func() error {
		for off := int64(0); off < size; off += period {
			if _, err := f.File.(io.Seeker).Seek(off, io.SeekStart); err != nil {
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
	if e.seqRate > 0 {
		r.add(row{Scenario: sc, Name: "sequential read (scenario 1)", Value: e.seqRate, Unit: "MB/s", Role: roleBaseline})
	}
	// x is used before the next add: add may move the rows.
	x := r.add(row{Scenario: sc, Name: fmt.Sprintf("skip: read %s, skip %s, repeated (%s); object bytes passed per second", human(readLen), human(period-readLen), pattern), Value: span, Unit: "MB/s", CPU: m.cpu, Role: roleTierfs})
	if e.seqRate > 0 {
		x.Versus = times(span/e.seqRate, "sequential")
		x.reference("≥ 0.9× sequential (Mountpoint PR #795: 10.0 s vs 9.7 s)", span >= 0.9*e.seqRate)
	}
	amp := r.add(row{Scenario: sc, Name: "skip: bytes fetched / bytes read", Value: float64(st.BodyBytes) / float64(read), Unit: "×", Role: roleInfo,
		Note: fmt.Sprintf("%d GETs, %s from the origin for %s read", st.Gets, human(st.BodyBytes), human(read))})
	amp.atMost(1.05, "×")

	// Parquet: the 8-byte tail, the footer, 3 column chunks of 1-8 MiB.
	g, err := e.openCold(ctx)
	if err != nil {
		return err
	}
	defer g.Close()
	ra := g.File.(io.ReaderAt)
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
	amp = r.add(row{Scenario: sc, Name: "Parquet-like: bytes fetched / bytes read", Value: float64(st.BodyBytes) / float64(asked), Unit: "×", Role: roleInfo,
		Note: fmt.Sprintf("%d GETs, %s from the origin", st.Gets, human(st.BodyBytes))})
	amp.atMost(1.2, "×")
	return nil
}

// 6. Many open handles under a memory budget.
//
// The goal row runs the handles with a soft memory limit on the process
// (debug.SetMemoryLimit, what GOMEMLIMIT sets) of the Go runtime's memory
// at the baseline plus the budget plus 10%, as a job given that much
// memory would be deployed: Go's collector otherwise lets garbage grow to
// GOGC% of the live heap before it collects, and this process's live heap
// holds the in-process server's objects (1 GiB and more), so without a
// limit the peak measures the collector's pacing, not what tierfs holds.
// A tierfs that held more than its budget would still show: the collector
// cannot free live memory. The same run without the limit follows as a
// reference.
func (e *env) manyHandles(ctx context.Context) error {
	sc := fmt.Sprintf("6. %d open handles, %s readahead budget, no memory tier", e.cfg.handles, human(e.cfg.budget))
	r, h := e.res, e.cfg.handles
	allowed := int64(1.1 * float64(e.cfg.budget))
	lim, err := e.handlesRun(ctx, allowed)
	if err != nil {
		return err
	}
	free, err := e.handlesRun(ctx, 0)
	if err != nil {
		return err
	}
	x := r.add(row{Scenario: sc, Name: "peak RSS over the process baseline, soft memory limit at the baseline + budget + 10%", Value: lim.over, Unit: "MiB", Role: roleInfo,
		Note: fmt.Sprintf("baseline %s before the FS was made (the server's objects included); memory limit %s (Go runtime memory %s at the baseline + %s); WithMemoryCache(0), so no memory tier; readahead budget peak %s, %d readahead skips for lack of budget; %d GCs",
			human(lim.base), human(lim.limit), human(lim.goBase), human(allowed), human(lim.ps.BudgetPeak), lim.ps.BudgetShort, lim.gcs)})
	x.atMost(float64(allowed)/(1<<20), " MiB (budget + 10%)")
	r.add(row{Scenario: sc, Name: "peak RSS over the process baseline, no memory limit (reference)", Value: free.over, Unit: "MiB", Role: roleInfo,
		Note: fmt.Sprintf("baseline %s; %d GCs: the collector's target is twice the live heap, which holds the server's objects, so the garbage of the run (the server's, the SDK's, tierfs's blocks) stays until it is reached", human(free.base), free.gcs)})
	r.add(row{Scenario: sc, Name: "aggregate throughput", Value: mbps(lim.total, lim.m.wall), Unit: "MB/s", CPU: lim.m.cpu, Role: roleTierfs,
		Versus: times(ratio(mbps(lim.total, lim.m.wall), e.cfg.linkLimit(e.cfg.linkConns)), "link"),
		Note:   fmt.Sprintf("with the memory limit: %s read in %v; %s from the origin in %d GETs; without it %s", human(lim.total), lim.m.wall.Round(time.Millisecond), human(lim.st.BodyBytes), lim.st.Gets, rate(int64(mbps(free.total, free.m.wall)*1e6)))})
	r.add(row{Scenario: sc, Name: "slowest handle, while reading", Value: lim.slowest, Unit: "MB/s", Role: roleInfo})
	p := r.add(row{Scenario: sc, Name: "handles that made progress", Value: float64(min(lim.progressed, free.progressed)), Unit: fmt.Sprintf("of %d", h), Role: roleInfo,
		Note: "the smaller count of the two runs"})
	p.atLeast(float64(h), "")
	return nil
}

// handlesResult is one run of scenario 6's handles.
type handlesResult struct {
	base, goBase, limit int64 // VmRSS and Go runtime memory at the baseline; the memory limit set (0: none)
	over                float64
	total               int64
	progressed          int
	slowest             float64
	gcs                 uint32
	m                   meas
	ps                  prefetch.Stats
	st                  s3test.ObjectStats
}

// handlesRun opens the handles on a new FS and reads, sampling VmRSS
// every 10 ms. allowed > 0 sets a soft memory limit of the Go runtime's
// memory at the baseline plus allowed for the run.
func (e *env) handlesRun(ctx context.Context, allowed int64) (res handlesResult, err error) {
	const chunk = 128 << 10
	size, h := e.cfg.size, e.cfg.handles
	// The baseline is taken before the FS exists: the server's objects and
	// the harness, after a GC.
	runtime.GC()
	debug.FreeOSMemory()
	res.base = procStatus("VmRSS")
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	res.goBase = int64(ms0.Sys - ms0.HeapReleased)
	if allowed > 0 {
		res.limit = res.goBase + allowed
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(res.limit))
	}
	// No memory tier (WithMemoryCache(0)), so the readahead budget is all
	// the memory tierfs is allowed to hold.
	fsys, err := e.newFS(ctx, tierfs.WithMemoryCache(0), tierfs.WithReadahead(prefetch.Config{Budget: e.cfg.budget}))
	if err != nil {
		return res, err
	}
	defer fsys.Close()
	files := make([]fs.File, h)
	for i := range files {
		if files[i], err = fsys.Open(bigKey); err != nil {
			return res, err
		}
		defer files[i].Close()
	}
	e.srv.ResetStats()
	peak, stopRSS := sampleRSS()
	// One in 8 handles streams 16 MiB; the others read 2 MiB, pause 200 ms
	// and read 2 MiB more (readahead.md §6.2), each from its own offset.
	got := make([]int64, h)
	busy := make([]time.Duration, h)
	res.m, err = measure(func() error {
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
	stopRSS()
	if err != nil {
		return res, err
	}
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	res.gcs = ms1.NumGC - ms0.NumGC
	res.slowest = math.Inf(1)
	for i := range h {
		res.total += got[i]
		if got[i] > 0 {
			res.progressed++
		}
		res.slowest = min(res.slowest, mbps(got[i], busy[i]))
	}
	res.ps, res.st = fsys.Stats().Prefetch, e.srv.Total()
	res.over = float64(peak()-res.base) / (1 << 20)
	return res, nil
}

// 7. Model load warm (memory, disk), many small files, and the fleet on
// the model and on many small files.
func (e *env) modelAndSmallFiles(ctx context.Context) error {
	if err := e.modelLoad(ctx); err != nil {
		return err
	}
	if err := e.smallFiles(ctx); err != nil {
		return err
	}
	if err := e.fleet(ctx); err != nil {
		return err
	}
	return e.fleetSmallFiles(ctx)
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
			gets.reference("0 GETs when warm", st.Gets == 0)
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
		g.reference("≤ 1 GET per file (readahead.md §6.5)", g.Value <= 1)
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
