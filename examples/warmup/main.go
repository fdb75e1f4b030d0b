// Command warmup fetches a dataset into the disk tier before training: the
// scheduled "DataLoad" of the production cache stacks, as a command that a
// cron job or an init container runs. It draws a progress bar on stderr
// (FS.Warmup's progress callback), then prints how many blocks were
// already cached, how many it fetched from the store, and how many files
// it skipped because they could not be read (it then exits 1). Run it
// again over the same cache directory and store URL: everything is
// already cached, and the store sees no GET.
//
// With no arguments it starts an S3-protocol server on loopback that
// behaves like a distant object store, with generated files in it, and
// warms them into a temporary directory. With -url it warms a real
// bucket's prefix; the arguments are names, directories or path.Match
// patterns under it (default: everything).
//
//	go run ./examples/warmup
//	go run ./examples/warmup -url 's3://bucket/datasets?region=us-east-1' -cache-dir /mnt/nvme0/tierfs -quota 500 train val/*.tar
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/tierfs/tierfs"
	"github.com/tierfs/tierfs/internal/s3test"
	_ "github.com/tierfs/tierfs/objstore/s3store" // registers s3://; import the backend of your store
	"github.com/tierfs/tierfs/tier"
)

type config struct {
	url         string   // "": an embedded loopback server with generated files
	patterns    []string // what to warm; none means everything
	cacheDir    string   // "": a temporary directory
	quotaGiB    int64
	concurrency int
	files       int   // generated files
	sizeMiB     int64 // size of each generated file
}

func main() {
	var c config
	flag.StringVar(&c.url, "url", "", "the store URL whose files to warm (default: an embedded server with generated files)")
	flag.StringVar(&c.cacheDir, "cache-dir", "", "disk tier directory (default: a temporary one, removed at exit)")
	flag.Int64Var(&c.quotaGiB, "quota", 10, "disk tier quota in GiB")
	flag.IntVar(&c.concurrency, "concurrency", 8, "blocks fetched at once")
	flag.IntVar(&c.files, "files", 16, "generated files")
	flag.Int64Var(&c.sizeMiB, "size", 12, "size of each generated file in MiB")
	flag.Parse()
	c.patterns = flag.Args()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, c, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "warmup:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config, out, progress io.Writer) error {
	if c.url == "" {
		srv, url, err := startServer(c)
		if err != nil {
			return err
		}
		defer srv.Close()
		c.url = url
	}
	if c.cacheDir == "" {
		dir, err := os.MkdirTemp("", "tierfs-warmup")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		c.cacheDir = dir
	}
	if len(c.patterns) == 0 {
		c.patterns = []string{"."}
	}

	// No memory tier: a warmup command only fills the disk, which the
	// training processes on this host open with the same URL and directory.
	fsys, err := tierfs.Open(ctx, c.url,
		tierfs.WithMemoryCache(0),
		tierfs.WithDiskCache(tier.DiskConfig{Dirs: []string{c.cacheDir}, Quota: c.quotaGiB << 30}),
		tierfs.WithWarmupConcurrency(c.concurrency))
	if err != nil {
		return err
	}
	defer fsys.Close()

	fmt.Fprintf(out, "warming %s into %s\n", strings.Join(c.patterns, " "), c.cacheDir)
	bar := &progressBar{w: progress}
	start := time.Now()
	werr := fsys.Warmup(ctx, c.patterns, bar.update)
	bar.finish()

	// A block the disk tier already held costs no fetch; the others are
	// fetched from the store, once each.
	st := fsys.Stats()
	p := bar.last
	fmt.Fprintf(out, "%d files, %.1f MiB, %d blocks in %v\n", p.FilesTotal, mib(p.BytesTotal), bar.blocks, time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(out, "  already cached: %d blocks\n", bar.blocks-st.OriginFetches)
	fmt.Fprintf(out, "  fetched:        %d blocks, %.1f MiB in %d GETs\n", st.OriginFetches-st.OriginErrors, mib(st.Requests.BytesIn), st.Requests.Gets)
	fmt.Fprintf(out, "  skipped:        %d files\n", p.Errors)
	if werr != nil {
		return fmt.Errorf("%d files skipped: %w", p.Errors, werr)
	}
	return nil
}

// progressBar draws Warmup's progress on one terminal line. Warmup calls
// update after every block and listing page, never concurrently.
type progressBar struct {
	w      io.Writer
	drawn  time.Time
	last   tierfs.WarmupProgress
	blocks int64 // blocks done: the calls that added bytes
}

func (b *progressBar) update(p tierfs.WarmupProgress) {
	if p.BytesDone > b.last.BytesDone {
		b.blocks++
	}
	b.last = p
	if time.Since(b.drawn) >= 100*time.Millisecond {
		b.draw()
	}
}

func (b *progressBar) draw() {
	b.drawn = time.Now()
	p := b.last
	if p.Listing {
		fmt.Fprintf(b.w, "\rlisting: %d files, %.1f MiB", p.FilesTotal, mib(p.BytesTotal))
		return
	}
	const width = 30
	frac := 1.0
	if p.BytesTotal > 0 {
		frac = float64(p.BytesDone) / float64(p.BytesTotal)
	}
	n := int(frac * width)
	fmt.Fprintf(b.w, "\r[%s%s] %3.0f%%  %d/%d files  %.1f/%.1f MiB", strings.Repeat("=", n), strings.Repeat(" ", width-n),
		100*frac, p.FilesDone, p.FilesTotal, mib(p.BytesDone), mib(p.BytesTotal))
	if p.Errors > 0 {
		fmt.Fprintf(b.w, "  %d failed", p.Errors)
	}
}

func (b *progressBar) finish() {
	b.draw()
	fmt.Fprintln(b.w)
}

// startServer starts the loopback S3-protocol server with c.files
// generated files; it returns the URL to open.
func startServer(c config) (*s3test.Server, string, error) {
	srv, err := s3test.New(s3test.Config{Shaping: s3test.Shaping{Latency: 20 * time.Millisecond, ConnBandwidth: 100e6}})
	if err != nil {
		return nil, "", err
	}
	err = srv.CreateBucket("data")
	r := rand.NewChaCha8([32]byte{3})
	for i := 0; i < c.files && err == nil; i++ {
		b := make([]byte, c.sizeMiB<<20)
		r.Read(b)
		err = srv.PutObject("data", fmt.Sprintf("datasets/train/part-%05d.bin", i), b)
	}
	if err != nil {
		srv.Close()
		return nil, "", fmt.Errorf("loopback server: %w", err)
	}
	// The SDK's default credential chain reads these; the loopback server
	// accepts any keys. With -url, yours come from the environment.
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_EC2_METADATA_DISABLED": "true"} {
		if os.Getenv(k) == "" {
			os.Setenv(k, v)
		}
	}
	return srv, "s3://data/datasets/train?region=us-east-1&path_style=true&endpoint=" + srv.URL(), nil
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }
