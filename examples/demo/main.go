// Command demo is the first thing to run: it starts an S3-protocol server
// on loopback that behaves like a real object store (no cloud account),
// fills it with a generated "model", and reads it the way an inference
// program would: one GET stream per object as the baseline, then through
// tierfs cold, warm from memory, and from the disk tier after a restart;
// then a body cut mid-stream and resumed, and an overwrite caught by
// version pinning.
//
//	go run ./examples/demo
//	go run ./examples/demo -latency 20ms -bandwidth 100MB -size 64MiB
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tierfs/tierfs"
	"github.com/tierfs/tierfs/internal/s3test"
	"github.com/tierfs/tierfs/objstore"
	_ "github.com/tierfs/tierfs/objstore/s3store" // registers s3://
	"github.com/tierfs/tierfs/tier"
)

func main() {
	latency := flag.Duration("latency", 20*time.Millisecond, "first-byte latency the emulated store adds to every request")
	bandwidth := flag.String("bandwidth", "100MB", "bandwidth cap per connection (bytes/s; suffixes KB, MB, GB, KiB, MiB, GiB)")
	size := flag.String("size", "32MiB", "size of each of the 4 model shards")
	flag.Parse()
	if err := run(*latency, *bandwidth, *size); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(latency time.Duration, bandwidthFlag, sizeFlag string) error {
	bw, err := parseBytes(bandwidthFlag)
	if err != nil {
		return fmt.Errorf("-bandwidth: %w", err)
	}
	shard, err := parseBytes(sizeFlag)
	if err != nil {
		return fmt.Errorf("-size: %w", err)
	}
	ctx := context.Background()

	srv, err := s3test.New(s3test.Config{Shaping: s3test.Shaping{Latency: latency, ConnBandwidth: bw}})
	if err != nil {
		return err
	}
	defer srv.Close()
	if err := srv.CreateBucket("demo"); err != nil {
		return err
	}
	names := []string{"config.json", "tokenizer.json"}
	data := map[string][]byte{
		"config.json":    []byte(`{"model_type": "demo", "hidden_size": 4096}`),
		"tokenizer.json": gen(99, 1<<20),
	}
	for i := 1; i <= 4; i++ {
		n := fmt.Sprintf("model-%05d-of-00004.safetensors", i)
		names = append(names, n)
		data[n] = gen(uint64(i), int(shard))
	}
	for _, n := range names {
		if err := srv.PutObject("demo", "models/tiny/"+n, data[n]); err != nil {
			return err
		}
	}
	fmt.Printf("S3-protocol server on %s: %d objects in s3://demo/models/tiny, %v first-byte latency, %s/s per connection\n\n",
		srv.URL(), len(names), latency, human(bw))

	// The SDK's default credential chain reads these; the loopback server
	// accepts any keys. Real programs get theirs from the environment.
	setDefault("AWS_ACCESS_KEY_ID", "demo")
	setDefault("AWS_SECRET_ACCESS_KEY", "demo")
	setDefault("AWS_EC2_METADATA_DISABLED", "true")
	url := "s3://demo/models/tiny?region=us-east-1&path_style=true&endpoint=" + srv.URL()
	store, err := objstore.Open(ctx, url) // the store alone, for the baseline
	if err != nil {
		return err
	}
	if c, ok := store.(io.Closer); ok {
		defer c.Close()
	}
	fmt.Printf("opened %s\n\n", url)

	// 1. List, like a loader discovering shards.
	page, err := store.List(ctx, objstore.ListOptions{Delimiter: "/"})
	if err != nil {
		return err
	}
	fmt.Println("listing:")
	for _, o := range page.Objects {
		fmt.Printf("  %-36s %10s  %s\n", o.Key, human(o.Size), o.Version)
	}

	// 2. The baseline: one GET stream per object.
	fmt.Println("\nbaseline, one GET stream per object:")
	srv.ResetStats()
	start := time.Now()
	var total int64
	for _, n := range names {
		got, err := readAll(ctx, store, n, 0, -1)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, data[n]) {
			return fmt.Errorf("%s: wrong bytes", n)
		}
		total += int64(len(got))
	}
	report(srv, total, time.Since(start))

	// 3. The same model through tierfs: cold, then from memory, then from
	// disk in a new FS (as a restarted process would).
	diskDir, err := os.MkdirTemp("", "tierfs-demo-cache")
	if err != nil {
		return err
	}
	defer os.RemoveAll(diskDir)
	openFS := func() (*tierfs.FS, error) {
		return tierfs.Open(ctx, url,
			tierfs.WithMemoryCache(512<<20),
			tierfs.WithDiskCache(tier.DiskConfig{Dirs: []string{diskDir}, Quota: 1 << 30}))
	}
	fsys, err := openFS()
	if err != nil {
		return err
	}
	for _, pass := range []string{"tierfs, cold (from the store)", "tierfs, warm (memory tier)"} {
		fmt.Printf("\n%s:\n", pass)
		srv.ResetStats()
		if err := loadModel(fsys, names, data, srv); err != nil {
			return err
		}
	}
	if err := fsys.Close(); err != nil {
		return err
	}
	fsys, err = openFS()
	if err != nil {
		return err
	}
	fmt.Println("\ntierfs, after a restart (disk tier):")
	srv.ResetStats()
	if err := loadModel(fsys, names, data, srv); err != nil {
		return err
	}
	if err := fsys.Close(); err != nil {
		return err
	}

	// 4. A body cut mid-stream is resumed from the next byte.
	shard1 := "model-00001-of-00004.safetensors"
	fmt.Println("\na connection reset after 1 MiB of a body:")
	srv.ResetStats()
	srv.InjectFault(s3test.Fault{Kind: s3test.ResetAfter, Method: "GET", Bucket: "demo", Key: "models/tiny/" + shard1, AfterBytes: 1 << 20})
	r, err := store.NewRangeReader(ctx, shard1, 0, -1, objstore.ReadOptions{})
	if err != nil {
		return err
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		return err
	}
	fmt.Printf("  read %s exactly: %v; resumed %d time(s); %d GETs, %s sent by the server\n",
		human(int64(len(got))), bytes.Equal(got, data[shard1]), r.Resumes(), srv.Total().Gets, human(srv.Total().BodyBytes))

	// 5. An overwrite while a file is open: its reads fail with ErrChanged
	// instead of mixing versions.
	fmt.Println("\nan overwrite while a file holds the old version:")
	fsys, err = tierfs.Open(ctx, url, tierfs.WithMemoryCache(0))
	if err != nil {
		return err
	}
	defer fsys.Close()
	f, err := fsys.Open(shard1)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := srv.PutObject("demo", "models/tiny/"+shard1, gen(1234, int(shard))); err != nil {
		return err
	}
	// Past the first bytes, which Open fetched with the old version.
	_, err = f.(io.ReaderAt).ReadAt(make([]byte, 4096), shard/2)
	fmt.Printf("  errors.Is(err, objstore.ErrChanged) = %v\n    (%v)\n", errors.Is(err, objstore.ErrChanged), err)
	return nil
}

// loadModel reads every file of the model through fsys, checks the bytes
// and reports speed and what the store served.
func loadModel(fsys *tierfs.FS, names []string, data map[string][]byte, srv *s3test.Server) error {
	start := time.Now()
	var total int64
	for _, n := range names {
		got, err := fs.ReadFile(fsys, n)
		if err != nil {
			return err
		}
		if !bytes.Equal(got, data[n]) {
			return fmt.Errorf("%s: wrong bytes", n)
		}
		total += int64(len(got))
	}
	report(srv, total, time.Since(start))
	return nil
}

func readAll(ctx context.Context, s objstore.Store, key string, off, length int64, pin ...objstore.Version) ([]byte, error) {
	var v objstore.Version
	if len(pin) > 0 {
		v = pin[0]
	}
	r, err := s.NewRangeReader(ctx, key, off, length, objstore.ReadOptions{Version: v})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func report(srv *s3test.Server, n int64, d time.Duration) {
	st := srv.Total()
	fmt.Printf("  %s in %v = %s/s; %d GETs, %d HEADs, %s sent by the server\n",
		human(n), d.Round(time.Millisecond), human(int64(float64(n)/d.Seconds())), st.Gets, st.Heads, human(st.BodyBytes))
}

func setDefault(k, v string) {
	if os.Getenv(k) == "" {
		os.Setenv(k, v)
	}
}

// parseBytes parses "100MB", "64MiB", "1.5GB" or a plain number of bytes.
func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("bad byte count %q", s)
	}
	return int64(f * mult), nil
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// gen returns n deterministic pseudo-random bytes for seed.
func gen(seed uint64, n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}).Read(b)
	return b
}
