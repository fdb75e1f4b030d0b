// Command modelload loads a safetensors file the way an inference server
// does: it reads the header (an 8-byte little-endian length, then JSON
// naming each tensor's dtype, shape and byte range), then every tensor's
// range with ReadAt, several at once. It loads three times and prints the
// time and the bytes fetched from the store for each: cold, warm (the same
// FS, served from its tiers) and after a restart (a new FS over the same
// disk-tier directory, as a restarted process). Each tensor's bytes are
// checked against the SHA-256 the header's __metadata__ gives for it.
//
// With no arguments it starts an S3-protocol server on loopback that
// behaves like a distant object store, with a generated model in it; with
// -url it loads -file from a real bucket (checksums are checked only where
// __metadata__ has them).
//
//	go run ./examples/modelload
//	go run ./examples/modelload -size 1GiB -parallel 16
//	go run ./examples/modelload -url 's3://bucket/models/llama?region=us-east-1' -file model-00001-of-00004.safetensors
package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/tierfs/tierfs"
	"github.com/tierfs/tierfs/internal/s3test"
	_ "github.com/tierfs/tierfs/objstore/s3store" // registers s3://; import the backend of your store
	"github.com/tierfs/tierfs/tier"
)

type config struct {
	url, file string // url "": an embedded loopback server with a generated model
	sizeMiB   int64  // generated model size
	parallel  int    // tensors read at once
	memMiB    int64
	cacheDir  string // "": a temporary directory
	latency   time.Duration
	bandwidth int64
}

func main() {
	var c config
	flag.StringVar(&c.url, "url", "", "load -file from this store URL instead of a generated model")
	flag.StringVar(&c.file, "file", "model.safetensors", "the safetensors file to load")
	flag.Int64Var(&c.sizeMiB, "size", 256, "generated model size in MiB")
	flag.IntVar(&c.parallel, "parallel", 8, "tensors read at once")
	flag.Int64Var(&c.memMiB, "mem", 1024, "memory tier in MiB")
	flag.StringVar(&c.cacheDir, "cache-dir", "", "disk tier directory (default: a temporary one, removed at exit)")
	flag.DurationVar(&c.latency, "latency", 20*time.Millisecond, "embedded server: first-byte latency of every request")
	flag.Int64Var(&c.bandwidth, "bandwidth", 100e6, "embedded server: bytes/s per connection")
	flag.Parse()
	if err := run(context.Background(), c, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "modelload:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config, out io.Writer) error {
	if c.url == "" {
		srv, err := s3test.New(s3test.Config{Shaping: s3test.Shaping{Latency: c.latency, ConnBandwidth: c.bandwidth}})
		if err != nil {
			return err
		}
		defer srv.Close()
		if err := srv.CreateBucket("models"); err != nil {
			return err
		}
		if err := srv.PutObject("models", "demo/"+c.file, generate(c.sizeMiB<<20)); err != nil {
			return err
		}
		// The SDK's default credential chain reads these; the loopback
		// server accepts any keys. With -url, yours come from the environment.
		for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_EC2_METADATA_DISABLED": "true"} {
			if os.Getenv(k) == "" {
				os.Setenv(k, v)
			}
		}
		c.url = "s3://models/demo?region=us-east-1&path_style=true&endpoint=" + srv.URL()
		fmt.Fprintf(out, "S3-protocol server on %s: a %d MiB model in s3://models/demo\n", srv.URL(), c.sizeMiB)
	}
	if c.cacheDir == "" {
		dir, err := os.MkdirTemp("", "tierfs-modelload")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		c.cacheDir = dir
	}
	open := func() (*tierfs.FS, error) {
		return tierfs.Open(ctx, c.url,
			tierfs.WithMemoryCache(c.memMiB<<20),
			tierfs.WithDiskCache(tier.DiskConfig{Dirs: []string{c.cacheDir}, Quota: 4 * (c.memMiB << 20)}))
	}

	fsys, err := open()
	if err != nil {
		return err
	}
	defer func() { fsys.Close() }()
	for _, pass := range []string{"cold", "warm", "restart"} {
		if pass == "restart" {
			if err := fsys.Close(); err != nil {
				return err
			}
			next, err := open()
			if err != nil {
				return err
			}
			fsys = next
		}
		before := fsys.Stats().Requests
		start := time.Now()
		n, checked, err := load(ctx, fsys, c.file, c.parallel)
		if err != nil {
			return fmt.Errorf("%s: %w", pass, err)
		}
		d := time.Since(start)
		if err := settle(ctx, fsys); err != nil {
			return err
		}
		after := fsys.Stats().Requests
		fmt.Fprintf(out, "%-8s %.1f MiB in %v = %.0f MiB/s; origin: %d GETs, %.1f MiB; %d tensors checked\n",
			pass+":", mib(n), d.Round(time.Millisecond), mib(n)/d.Seconds(),
			after.Gets-before.Gets, mib(after.BytesIn-before.BytesIn), checked)
	}
	return nil
}

// settle waits until the block loads that the reads started have ended
// (readahead may run on after the last ReadAt returns), so that each pass
// counts the origin bytes it caused.
func settle(ctx context.Context, fsys *tierfs.FS) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for fsys.Stats().LoadsInFlight > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// tensor is a header entry of a safetensors file.
type tensor struct {
	DType       string   `json:"dtype"`
	Shape       []int64  `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"` // from the end of the header
}

// load reads name's header, then every tensor with ReadAt, parallel at
// once, and checks each against its SHA-256 in __metadata__ if there is
// one. It returns the bytes read and the tensors checked.
func load(ctx context.Context, fsys fs.FS, name string, parallel int) (n int64, checked int, err error) {
	f, err := fsys.Open(name)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	ra, ok := f.(io.ReaderAt)
	if !ok {
		return 0, 0, fmt.Errorf("%s: not an io.ReaderAt", name)
	}
	var lenBuf [8]byte
	if _, err := ra.ReadAt(lenBuf[:], 0); err != nil {
		return 0, 0, fmt.Errorf("%s: header length: %w", name, err)
	}
	hlen := int64(binary.LittleEndian.Uint64(lenBuf[:]))
	if hlen <= 0 || hlen > 100<<20 {
		return 0, 0, fmt.Errorf("%s: header length %d", name, hlen)
	}
	hdr := make([]byte, hlen)
	if _, err := ra.ReadAt(hdr, 8); err != nil {
		return 0, 0, fmt.Errorf("%s: header: %w", name, err)
	}
	var entries map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &entries); err != nil {
		return 0, 0, fmt.Errorf("%s: header: %w", name, err)
	}
	var meta map[string]string
	if raw, ok := entries["__metadata__"]; ok {
		if err := json.Unmarshal(raw, &meta); err != nil {
			return 0, 0, fmt.Errorf("%s: __metadata__: %w", name, err)
		}
		delete(entries, "__metadata__")
	}

	// In file order, parallel at a time, as a loader fills its tensors.
	type entry struct {
		name string
		tensor
	}
	var tensors []entry
	for tname, raw := range entries {
		e := entry{name: tname}
		if err := json.Unmarshal(raw, &e.tensor); err != nil {
			return 0, 0, fmt.Errorf("%s: tensor %s: %w", name, tname, err)
		}
		tensors = append(tensors, e)
	}
	slices.SortFunc(tensors, func(a, b entry) int { return cmp.Compare(a.DataOffsets[0], b.DataOffsets[0]) })
	g, _ := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	for _, t := range tensors {
		begin, end := 8+hlen+t.DataOffsets[0], 8+hlen+t.DataOffsets[1]
		want, hasSum := meta["sha256."+t.name]
		if hasSum {
			checked++
		}
		n += end - begin
		g.Go(func() error {
			buf := make([]byte, end-begin) // a real loader reads into the tensor's memory
			if _, err := ra.ReadAt(buf, begin); err != nil {
				return fmt.Errorf("%s: tensor %s: %w", name, t.name, err)
			}
			if sum := sha256.Sum256(buf); hasSum && hex.EncodeToString(sum[:]) != want {
				return fmt.Errorf("%s: tensor %s: wrong bytes (sha256 %x, want %s)", name, t.name, sum, want)
			}
			return nil
		})
	}
	return n, checked, g.Wait()
}

// generate returns a safetensors file of about size bytes: float16 tensors
// of random bytes, each with its SHA-256 in __metadata__.
func generate(size int64) []byte {
	const rows = 1024
	r := rand.NewChaCha8([32]byte{42})
	header := map[string]any{}
	meta := map[string]string{"format": "pt"}
	var data bytes.Buffer
	for i := 0; int64(data.Len()) < size; i++ {
		cols := min(int64(1024), (size-int64(data.Len()))/(2*rows)+1)
		t := make([]byte, 2*rows*cols)
		r.Read(t)
		name := fmt.Sprintf("model.layers.%d.mlp.weight", i)
		header[name] = tensor{DType: "F16", Shape: []int64{rows, cols}, DataOffsets: [2]int64{int64(data.Len()), int64(data.Len() + len(t))}}
		sum := sha256.Sum256(t)
		meta["sha256."+name] = hex.EncodeToString(sum[:])
		data.Write(t)
	}
	header["__metadata__"] = meta
	js, err := json.Marshal(header)
	if err != nil {
		panic(err) // a map of plain values always marshals
	}
	file := binary.LittleEndian.AppendUint64(nil, uint64(len(js)))
	return slices.Concat(file, js, data.Bytes())
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }
