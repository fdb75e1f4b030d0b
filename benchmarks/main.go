// Command benchmarks is tierfs's benchmark harness: it runs every scenario
// against an S3-protocol server on loopback (internal/s3test: gofakes3
// behind a shaping front that adds a first-byte latency per request and
// bandwidth caps per connection and in total), measures tierfs beside
// baselines in the same run (single-stream GetObject with the plain SDK,
// the AWS SDK's transfer manager, the emulated link's limit), and writes a
// Markdown table, JSON and an SVG chart.
//
//	go run ./benchmarks                      # every scenario, defaults
//	go run ./benchmarks -size 256MiB -scenarios 1,3
//	go run ./benchmarks -latency 50ms -conn-bw 100MB -total-bw 0
//
// See benchmarks/README.md for what each scenario measures and why.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tierfs/tierfs/internal/s3test"
)

// config is the harness's flags.
type config struct {
	latency     time.Duration
	connBW      int64 // bytes/s per connection; 0 = no cap
	totalBW     int64 // bytes/s over all connections; 0 = no cap
	wideConnBW  int64 // per-connection cap of scenario 1b; 0 = no cap
	wideTotalBW int64 // total cap of scenario 1b; 0 = no cap
	wideConc    int   // tierfs's readahead concurrency in scenario 1b
	slowConnBW  int64 // per-connection cap of scenario 1c (no total cap)
	size        int64 // the big object
	linkConns   int   // connections the link ceiling assumes
	files       int   // small files in scenario 7
	randomReads int   // reads in scenario 4
	handles     int   // open handles in scenario 6
	budget      int64 // readahead budget in scenario 6
	scenarios   []int
	out         string
	tm          string // "auto", "off" or a built tmbaseline binary
	tmRefs      bool   // also run the transfer manager at its default concurrency with ranges
	seed        uint64
	count       int    // runs of each scenario; figures are their medians
	writeSize   int64  // scenario 8's checkpoint
	partSize    int64  // scenario 8's part size
	writeConc   int    // scenario 8's parts in flight
	cpuProfile  string // CPU profile of the harness; scenario 8's writer writes it + ".writeload"
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchmarks:", err)
		os.Exit(2)
	}
	if err := run(context.Background(), cfg); err != nil {
		fmt.Fprintln(os.Stderr, "benchmarks:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	fl := flag.NewFlagSet("benchmarks", flag.ContinueOnError)
	var c config
	var connBW, totalBW, wideConnBW, wideTotalBW, slowConnBW, size, budget, scen, writeSize, partSize string
	fl.DurationVar(&c.latency, "latency", 20*time.Millisecond, "first-byte latency the emulated store adds to every request")
	fl.StringVar(&connBW, "conn-bw", "50MB", "bandwidth cap per connection, bytes/s (suffixes KB MB GB KiB MiB GiB; 0 = none)")
	fl.StringVar(&totalBW, "total-bw", "200MB", "bandwidth cap over all connections, bytes/s (0 = none)")
	fl.StringVar(&wideConnBW, "wide-conn-bw", "20MB", "bandwidth cap per connection in scenario 1b, where 8× single-stream is reachable (0 = none)")
	fl.StringVar(&wideTotalBW, "wide-total-bw", "200MB", "bandwidth cap over all connections in scenario 1b (0 = none)")
	fl.IntVar(&c.wideConc, "wide-concurrency", 16, "tierfs's readahead concurrency (prefetch.Config.Concurrency) in scenario 1b")
	fl.StringVar(&slowConnBW, "slow-conn-bw", "8MiB", "bandwidth cap per connection in scenario 1c, with no total cap (cross-region S3 and OSS look like this)")
	fl.StringVar(&size, "size", "1GiB", "size of the big object of scenarios 1-7a")
	fl.IntVar(&c.linkConns, "link-conns", 16, "connections the link ceiling assumes: min(total-bw, link-conns × conn-bw)")
	fl.IntVar(&c.files, "files", 500, "small files (64-512 KiB) in scenario 7")
	fl.IntVar(&c.randomReads, "random-reads", 200, "random reads in scenario 4, spread over the whole object")
	fl.IntVar(&c.handles, "handles", 256, "open handles in scenario 6")
	fl.StringVar(&budget, "budget", "512MiB", "readahead memory budget in scenario 6")
	fl.StringVar(&scen, "scenarios", "1,2,3,4,5,6,7,8", "scenarios to run, comma-separated")
	fl.StringVar(&writeSize, "write-size", "2GiB", "size of the checkpoint scenario 8 writes")
	fl.StringVar(&partSize, "part-size", "8MiB", "part size of scenario 8's upload")
	fl.IntVar(&c.writeConc, "write-concurrency", defaultWriteConc, "parts in flight in scenario 8")
	fl.StringVar(&c.out, "out", "", "directory for results.md, results.json and results.svg (default: benchmarks/results)")
	fl.StringVar(&c.tm, "tm", "auto", "transfer-manager baseline: auto (build benchmarks/tmbaseline), off, or the path of a built binary")
	fl.BoolVar(&c.tmRefs, "tm-refs", false, "also run the transfer manager at its default concurrency with 8 MiB ranges in scenario 1 (references, about a minute more)")
	fl.Uint64Var(&c.seed, "seed", 1, "seed of the data and of the random patterns")
	fl.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the harness (with its server) to this file, and scenario 8's writer's to the file + \".writeload\" (its allocations to + \".writeload.mem\")")
	fl.IntVar(&c.count, "count", 1, "runs of every scenario: each figure is their median, with the lowest and highest beside it")
	if err := fl.Parse(args); err != nil {
		return c, err
	}
	if fl.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fl.Args())
	}
	var err error
	for _, p := range []struct {
		name string
		s    string
		dst  *int64
	}{{"-conn-bw", connBW, &c.connBW}, {"-total-bw", totalBW, &c.totalBW}, {"-wide-conn-bw", wideConnBW, &c.wideConnBW}, {"-wide-total-bw", wideTotalBW, &c.wideTotalBW}, {"-slow-conn-bw", slowConnBW, &c.slowConnBW}, {"-size", size, &c.size}, {"-budget", budget, &c.budget}, {"-write-size", writeSize, &c.writeSize}, {"-part-size", partSize, &c.partSize}} {
		if *p.dst, err = parseBytes(p.s); err != nil {
			return c, fmt.Errorf("%s: %w", p.name, err)
		}
	}
	if c.latency < 0 {
		return c, fmt.Errorf("-latency: negative")
	}
	if c.size < 16<<20 {
		return c, fmt.Errorf("-size: %d is under 16 MiB", c.size)
	}
	if c.linkConns < 1 || c.files < 1 || c.randomReads < 1 || c.handles < 1 || c.wideConc < 1 || c.count < 1 || c.writeConc < 1 {
		return c, fmt.Errorf("-link-conns, -files, -random-reads, -handles, -wide-concurrency, -write-concurrency and -count must be at least 1")
	}
	if c.partSize < 5<<20 || c.partSize > 5<<30 {
		return c, fmt.Errorf("-part-size: %d is outside S3's [5 MiB, 5 GiB]", c.partSize)
	}
	if c.writeSize < 1 {
		return c, fmt.Errorf("-write-size: must be at least 1 byte")
	}
	for f := range strings.SplitSeq(scen, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 8 {
			return c, fmt.Errorf("-scenarios: %q is not a scenario (1-8)", f)
		}
		if !slices.Contains(c.scenarios, n) {
			c.scenarios = append(c.scenarios, n)
		}
	}
	slices.Sort(c.scenarios)
	return c, nil
}

// parseBytes parses "100MB", "64MiB", "1.5GB" or a plain number of bytes.
func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	t := strings.TrimSpace(s)
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("bad byte count %q", s)
	}
	return int64(f * mult), nil
}

// srcDir is the directory of this file when it was built, where
// tmbaseline/ and results/ are found.
func srcDir() string {
	_, file, _, ok := runtime.Caller(0)
	if ok && filepath.IsAbs(file) {
		if _, err := os.Stat(filepath.Join(filepath.Dir(file), "tmbaseline")); err == nil {
			return filepath.Dir(file)
		}
	}
	return "benchmarks"
}

// defaultWriteConc is scenario 8's parts in flight: one more than
// s3store's default (5). Every part idles on its connection for the
// first-byte latency and, over http, for the SDK's SigV4 hash of its
// body, so at 5 the plain SDK's own upload reaches only 0.90-0.91 of the
// link, and a goal of 0.9 there would measure the emulation's edge rather
// than what tierfs adds; at 6 the SDK reaches 0.94 and tierfs's goal
// measures tierfs.
const defaultWriteConc = 6

func run(ctx context.Context, cfg config) error {
	start := time.Now()
	if cfg.out == "" {
		cfg.out = filepath.Join(srcDir(), "results")
	}
	// FastPartETags: S3 hashes uploaded parts on its machines; this server
	// shares the client's two CPUs (scenario 8).
	srv, err := s3test.New(s3test.Config{Shaping: s3test.Shaping{
		Latency: cfg.latency, ConnBandwidth: cfg.connBW, TotalBandwidth: cfg.totalBW,
	}, FastPartETags: true})
	if err != nil {
		return err
	}
	defer srv.Close()
	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	g := &gauge{base: newTransport()}
	e := &env{cfg: cfg, srv: srv, bucket: "bench", gauge: g, hc: newHTTPClient(g)}
	e.tierfsSDK = newSDK(srv.URL(), e.hc)
	e.sdk = newSDK(srv.URL(), newHTTPClient(newTransport()))
	config := map[string]string{
		"latency":  cfg.latency.String(),
		"conn-bw":  rate(cfg.connBW),
		"total-bw": rate(cfg.totalBW),
		"budget":   human(cfg.budget),
		"size":     human(cfg.size),
		"write":    fmt.Sprintf("%s in parts of %s, %d at once", human(cfg.writeSize), human(cfg.partSize), cfg.writeConc),
		"cpus":     strconv.Itoa(runtime.NumCPU()),
		"go":       runtime.Version(),
		"count":    strconv.Itoa(cfg.count),
	}
	res := &results{Started: start, Config: config}
	e.res = res

	fmt.Fprintf(os.Stderr, "benchmarks: S3-protocol server on %s: latency %v, %s per connection, %s in total\n",
		srv.URL(), cfg.latency, rate(cfg.connBW), rate(cfg.totalBW))
	if err := e.seed(ctx); err != nil {
		return err
	}
	if cfg.tm != "off" {
		tm, err := newTMRunner(ctx, cfg.tm, srv.URL(), e.bucket)
		if err != nil {
			res.Failures = append(res.Failures, "transfer-manager baseline unavailable: "+err.Error())
			fmt.Fprintln(os.Stderr, "benchmarks: transfer-manager baseline unavailable:", err)
		} else {
			defer tm.close()
			e.tm = tm
		}
	}
	scenarios := map[int]func(context.Context) error{
		1: e.coldSequential, 2: e.firstByte, 3: e.reordered, 4: e.randomThenScan,
		5: e.skipAndParquet, 6: e.manyHandles, 7: e.modelAndSmallFiles, 8: e.writeCheckpoint,
	}
	var passes []*results
	for pass := 1; pass <= cfg.count; pass++ {
		e.res = &results{Started: start, Config: config}
		for _, n := range cfg.scenarios {
			t0 := time.Now()
			fmt.Fprintf(os.Stderr, "benchmarks: scenario %d (run %d of %d)...\n", n, pass, cfg.count)
			if err := scenarios[n](ctx); err != nil {
				msg := fmt.Sprintf("scenario %d: %v", n, err)
				e.res.Failures = append(e.res.Failures, msg)
				fmt.Fprintln(os.Stderr, "benchmarks:", msg)
			}
			fmt.Fprintf(os.Stderr, "benchmarks: scenario %d took %v\n", n, time.Since(t0).Round(100*time.Millisecond))
		}
		passes = append(passes, e.res)
	}
	merged := mergeRuns(passes)
	res.Rows, res.Failures = merged.Rows, append(res.Failures, merged.Failures...)
	res.Seconds = time.Since(start).Seconds()
	res.markdown(os.Stdout)
	if err := res.write(cfg.out); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "benchmarks: wrote %s/results.{md,json,svg} in %v\n", cfg.out, time.Since(start).Round(time.Second))
	if len(res.Failures) > 0 {
		return errors.New("some scenarios failed; see the table")
	}
	return nil
}

func rate(bw int64) string {
	if bw == 0 {
		return "uncapped"
	}
	return fmt.Sprintf("%s/s", num(float64(bw)/1e6)+" MB")
}

func human(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%s MiB", num(float64(n)/(1<<20)))
	case n >= 1<<10:
		return fmt.Sprintf("%s KiB", num(float64(n)/(1<<10)))
	}
	return fmt.Sprintf("%d B", n)
}
