// Command dataloader reads WebDataset-style tar shards the way a training
// loop does: each epoch visits the shards in a new shuffled order, N
// worker goroutines each stream whole shards with archive/tar and group
// their files into samples by key (000042.jpg + 000042.cls = one sample).
// It prints the throughput of each epoch and the cache's figures from
// fsys.Stats(): the second epoch is served from the memory tier, not the
// store. The same figures are served as Prometheus metrics on /metrics
// (tierfs.WithMetrics with a registry of its own, and promhttp).
//
// With no arguments it starts an S3-protocol server on loopback that
// behaves like a distant object store and fills it with generated shards;
// with -url it reads the *.tar files under a real bucket's prefix.
//
//	go run ./examples/dataloader
//	go run ./examples/dataloader -workers 16 -metrics 127.0.0.1:9464 -hold
//	go run ./examples/dataloader -url 's3://bucket/datasets/train?region=us-east-1'
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tierfs/tierfs"
	"github.com/tierfs/tierfs/internal/s3test"
	_ "github.com/tierfs/tierfs/objstore/s3store" // registers s3://; import the driver of your store
)

type config struct {
	url                   string // "": an embedded loopback server with generated shards
	shards, samples, size int    // generated data: shards, samples per shard, bytes per sample
	workers, epochs       int
	memMiB                int64
	metricsAddr           string
	hold                  bool
	latency               time.Duration
	bandwidth             int64
}

func main() {
	var c config
	flag.StringVar(&c.url, "url", "", "read the *.tar shards under this store URL instead of generated ones")
	flag.IntVar(&c.shards, "shards", 32, "generated shards")
	flag.IntVar(&c.samples, "samples", 64, "samples per generated shard")
	flag.IntVar(&c.size, "sample-size", 64<<10, "bytes of a generated sample's image")
	flag.IntVar(&c.workers, "workers", 8, "reader goroutines")
	flag.IntVar(&c.epochs, "epochs", 2, "passes over the shards")
	flag.Int64Var(&c.memMiB, "mem", 1024, "memory tier in MiB")
	flag.StringVar(&c.metricsAddr, "metrics", "127.0.0.1:0", "serve /metrics on this address (port 0: any free port)")
	flag.BoolVar(&c.hold, "hold", false, "after the epochs, keep serving /metrics until interrupted")
	flag.DurationVar(&c.latency, "latency", 20*time.Millisecond, "embedded server: first-byte latency of every request")
	flag.Int64Var(&c.bandwidth, "bandwidth", 100e6, "embedded server: bytes/s per connection")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "dataloader:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config) error {
	if c.url == "" {
		srv, url, err := startServer(c)
		if err != nil {
			return err
		}
		defer srv.Close()
		c.url = url
	}

	// Metrics: a registry of our own (no global state), served on loopback.
	reg := prometheus.NewRegistry()
	ln, err := net.Listen("tcp", c.metricsAddr)
	if err != nil {
		return fmt.Errorf("-metrics: %w", err)
	}
	msrv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{})}
	go msrv.Serve(ln)
	defer msrv.Close()
	fmt.Printf("metrics on http://%s/metrics\n", ln.Addr())

	fsys, err := tierfs.Open(ctx, c.url, tierfs.WithMemoryCache(c.memMiB<<20), tierfs.WithMetrics(reg))
	if err != nil {
		return err
	}
	defer fsys.Close()

	var shards []string
	err = fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && path.Ext(name) == ".tar" {
			shards = append(shards, name)
		}
		return err
	})
	if err != nil {
		return err
	}
	if len(shards) == 0 {
		return fmt.Errorf("no .tar shards under %s", c.url)
	}
	fmt.Printf("%d shards, %d workers, %d epochs\n", len(shards), c.workers, c.epochs)

	for epoch := 1; epoch <= c.epochs; epoch++ {
		before := fsys.Stats()
		start := time.Now()
		samples, nbytes, err := epochPass(ctx, fsys, shards, c.workers, uint64(epoch))
		if err != nil {
			return fmt.Errorf("epoch %d: %w", epoch, err)
		}
		d := time.Since(start)
		after := fsys.Stats()
		fmt.Printf("epoch %d: %d samples, %.1f MiB in %v = %.0f samples/s, %.1f MiB/s\n",
			epoch, samples, mib(nbytes), d.Round(time.Millisecond), float64(samples)/d.Seconds(), mib(nbytes)/d.Seconds())
		fmt.Printf("  origin: %d GETs, %.1f MiB", after.Requests.Gets-before.Requests.Gets, mib(after.Requests.BytesIn-before.Requests.BytesIn))
		for i, t := range after.Tiers {
			fmt.Printf("; %s: %d hits, %d misses", t.Name, t.Hits-before.Tiers[i].Hits, t.Misses-before.Tiers[i].Misses)
		}
		fmt.Println()
	}
	if c.hold {
		fmt.Println("serving /metrics until interrupted")
		<-ctx.Done()
	}
	return nil
}

// epochPass reads every shard once, in an order shuffled by seed, with
// workers goroutines, and returns the samples and bytes read.
func epochPass(ctx context.Context, fsys fs.FS, shards []string, workers int, seed uint64) (samples, nbytes int64, err error) {
	order := make(chan string)
	go func() {
		defer close(order)
		r := rand.New(rand.NewPCG(seed, 0))
		for _, i := range r.Perm(len(shards)) {
			select {
			case order <- shards[i]:
			case <-ctx.Done():
				return
			}
		}
	}()
	var (
		wg       sync.WaitGroup
		nS, nB   atomic.Int64
		errOnce  sync.Once
		firstErr error
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range order {
				s, b, err := readShard(fsys, name)
				nS.Add(s)
				nB.Add(b)
				if err != nil {
					errOnce.Do(func() { firstErr = fmt.Errorf("%s: %w", name, err) })
				}
			}
		}()
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	return nS.Load(), nB.Load(), firstErr
}

// readShard streams one tar shard and counts its samples: consecutive
// files with the same key (the name up to its first dot) are one sample.
// A training loop would decode each sample here and hand it on.
func readShard(fsys fs.FS, name string) (samples, nbytes int64, err error) {
	f, err := fsys.Open(name)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	key := ""
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return samples, nbytes, nil
		}
		if err != nil {
			return samples, nbytes, err
		}
		n, err := io.Copy(io.Discard, tr)
		nbytes += n
		if err != nil {
			return samples, nbytes, err
		}
		if k, _, _ := strings.Cut(path.Base(h.Name), "."); k != key {
			key = k
			samples++
		}
	}
}

// startServer starts the loopback S3-protocol server and writes the
// generated shards; it returns the URL to open.
func startServer(c config) (*s3test.Server, string, error) {
	srv, err := s3test.New(s3test.Config{Shaping: s3test.Shaping{Latency: c.latency, ConnBandwidth: c.bandwidth}})
	if err != nil {
		return nil, "", err
	}
	if err := srv.CreateBucket("data"); err != nil {
		srv.Close()
		return nil, "", err
	}
	if err := putShards(srv, c); err != nil {
		srv.Close()
		return nil, "", err
	}
	// The SDK's default credential chain reads these; the loopback server
	// accepts any keys. With -url, yours come from the environment.
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_EC2_METADATA_DISABLED": "true"} {
		if os.Getenv(k) == "" {
			os.Setenv(k, v)
		}
	}
	fmt.Printf("S3-protocol server on %s: %d shards of %d samples in s3://data/train\n", srv.URL(), c.shards, c.samples)
	return srv, "s3://data/train?region=us-east-1&path_style=true&endpoint=" + srv.URL(), nil
}

// putShards writes c.shards generated tar shards of c.samples samples each.
func putShards(srv *s3test.Server, c config) error {
	rnd := rand.NewChaCha8([32]byte{1})
	for s := range c.shards {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for i := range c.samples {
			key := fmt.Sprintf("%06d", s*c.samples+i)
			img := make([]byte, c.size)
			rnd.Read(img)
			for _, file := range []struct {
				ext  string
				body []byte
			}{{".jpg", img}, {".cls", fmt.Appendf(nil, "%d\n", i%1000)}} {
				if err := tw.WriteHeader(&tar.Header{Name: key + file.ext, Mode: 0o644, Size: int64(len(file.body))}); err != nil {
					return err
				}
				if _, err := tw.Write(file.body); err != nil {
					return err
				}
			}
		}
		if err := tw.Close(); err != nil {
			return err
		}
		if err := srv.PutObject("data", fmt.Sprintf("train/shard-%06d.tar", s), buf.Bytes()); err != nil {
			return err
		}
	}
	return nil
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }
