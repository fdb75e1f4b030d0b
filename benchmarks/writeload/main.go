// Command writeload is scenario 8's writer, run by the harness as a
// subprocess so that its peak RSS is the writer's alone (the harness's
// in-memory S3 server holds the object it writes): it writes -size
// deterministic bytes to -key through tierfs.FS.CreateContext with
// -part-size parts, -concurrency at once, then reads the file back through
// the same FS and checks every byte. It prints one JSON line: the write's
// and the read's seconds, the peak RSS after the write and at the end
// (VmHWM), the origin GETs of the read, and whether the bytes matched.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tierfs/tierfs"
	"github.com/tierfs/tierfs/consistency"
	"github.com/tierfs/tierfs/objstore/s3store"
	"github.com/tierfs/tierfs/tier"
)

type result struct {
	Bytes        int64   `json:"bytes"`
	WriteSeconds float64 `json:"write_seconds"`
	CloseSeconds float64 `json:"close_seconds"` // of WriteSeconds, in Close
	ReadSeconds  float64 `json:"read_seconds"`
	RSSAfter     int64   `json:"rss_after_write"` // VmHWM after Close, bytes
	RSSEnd       int64   `json:"rss_end"`         // VmHWM at the end, bytes
	AnonPeak     int64   `json:"anon_peak_write"` // RssAnon's peak during the write (sampled every 10 ms), bytes
	ReadGets     int64   `json:"read_gets"`       // GETs the FS sent while reading back
	Puts         int64   `json:"puts"`            // PUTs (parts) the FS sent
	Match        bool    `json:"match"`
}

func main() {
	endpoint := flag.String("endpoint", "", "S3 endpoint")
	bucket := flag.String("bucket", "", "bucket")
	key := flag.String("key", "", "key to write")
	size := flag.Int64("size", 2<<30, "bytes to write")
	partSize := flag.Int64("part-size", s3store.DefaultPartSize, "part size")
	conc := flag.Int("concurrency", s3store.DefaultConcurrency, "parts in flight")
	mem := flag.Int64("mem", 0, "memory tier bytes (0: none; the RSS goal is the writer's own memory, not a cache's)")
	disk := flag.String("disk", "", "disk tier directory")
	seed := flag.Uint64("seed", 1, "seed of the data")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the write and the read back to this file")
	memProfile := flag.String("memprofile", "", "write a heap profile (allocations over the whole run) to this file at the end")
	flag.Parse()
	if *memProfile != "" {
		traceHeap = true
		runtime.MemProfileRate = 64 << 10
		defer func() {
			runtime.GC() // the profile holds allocations up to the last GC
			f, err := os.Create(*memProfile)
			if err == nil {
				err = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "writeload:", err)
			}
		}()
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "writeload:", err)
			os.Exit(1)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	res, err := run(context.Background(), *endpoint, *bucket, *key, *size, *partSize, *conc, *mem, *disk, *seed)
	if err != nil {
		fmt.Fprintln(os.Stderr, "writeload:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(res)
}

func run(ctx context.Context, endpoint, bucket, key string, size, partSize int64, conc int, mem int64, disk string, seed uint64) (result, error) {
	res := result{Bytes: size}
	client := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("bench", "bench", ""),
		HTTPClient:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
	})
	st, err := s3store.New(ctx, bucket, "", &s3store.Options{Client: client, PartSize: partSize, Concurrency: conc})
	if err != nil {
		return res, err
	}
	defer st.Close()
	dc := tier.DefaultDiskConfig(size+size/4, disk)
	dc.FillQueue = 8
	opts := []tierfs.Option{tierfs.WithStoreID("bench-write"), tierfs.WithMemoryCache(mem), tierfs.WithConsistency(consistency.ReadWrite(time.Minute))}
	if disk != "" {
		opts = append(opts, tierfs.WithDiskCache(dc))
	}
	fsys, err := tierfs.New(st, opts...)
	if err != nil {
		return res, err
	}
	defer fsys.Close()

	peak, stop := sampleAnon()
	t0 := time.Now()
	w, err := fsys.CreateContext(ctx, key, nil)
	if err != nil {
		return res, err
	}
	src := rand.NewChaCha8(seedBytes(seed))
	buf := make([]byte, 1<<20)
	for left := size; left > 0; {
		n := min(left, int64(len(buf)))
		src.Read(buf[:n])
		if _, err := w.Write(buf[:n]); err != nil {
			w.Abort()
			return res, err
		}
		left -= n
	}
	tw := time.Since(t0)
	if err := w.Close(); err != nil {
		return res, err
	}
	res.CloseSeconds = (time.Since(t0) - tw).Seconds()
	stop()
	res.AnonPeak = peak()
	res.WriteSeconds = time.Since(t0).Seconds()
	res.RSSAfter = hwm()
	before := fsys.Stats().Requests
	res.Puts = before.Puts

	t0 = time.Now()
	f, err := fsys.Open(key)
	if err != nil {
		return res, err
	}
	cmp := &comparer{src: rand.NewChaCha8(seedBytes(seed))}
	n, err := io.Copy(cmp, f.(io.Reader))
	f.Close()
	if err != nil {
		return res, err
	}
	res.ReadSeconds = time.Since(t0).Seconds()
	res.ReadGets = fsys.Stats().Requests.Gets - before.Gets
	res.Match = n == size && !cmp.bad
	res.RSSEnd = hwm()
	return res, nil
}

func seedBytes(seed uint64) [32]byte {
	return [32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), 0x8b}
}

// comparer checks what is written to it against the data stream.
type comparer struct {
	src  *rand.ChaCha8
	want []byte
	bad  bool
}

func (c *comparer) Write(p []byte) (int, error) {
	if cap(c.want) < len(p) {
		c.want = make([]byte, len(p))
	}
	w := c.want[:len(p)]
	c.src.Read(w)
	if !bytes.Equal(w, p) {
		c.bad = true
	}
	return len(p), nil
}

// sampleAnon samples RssAnon (resident memory that is not a mapping of a
// file: the disk tier maps its block files to read them, and those pages
// are page cache, not the writer's memory) every 10 ms until stop is
// called, and returns the peak seen.
func sampleAnon() (peak func() int64, stop func()) {
	var max atomic.Int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if v := status("RssAnon:"); v > max.Load() {
				max.Store(v)
				if traceHeap {
					metrics.Read(heapSamples)
					fmt.Fprintf(os.Stderr, "writeload: RssAnon %d MiB:", v>>20)
					for _, m := range heapSamples {
						fmt.Fprintf(os.Stderr, " %s %d MiB", m.Name, m.Value.Uint64()>>20)
					}
					fmt.Fprintln(os.Stderr)
				}
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return max.Load, func() { close(done); wg.Wait() }
}

// traceHeap makes sampleAnon print the Go runtime's memory at each new
// peak of RssAnon (-memprofile sets it).
var traceHeap bool

var heapSamples = []metrics.Sample{
	{Name: "/memory/classes/heap/objects:bytes"},
	{Name: "/memory/classes/heap/unused:bytes"},
	{Name: "/memory/classes/heap/free:bytes"},
	{Name: "/memory/classes/heap/released:bytes"},
	{Name: "/gc/heap/goal:bytes"},
	{Name: "/memory/classes/total:bytes"},
}

// hwm returns the process's peak resident set size (VmHWM), in bytes.
func hwm() int64 { return status("VmHWM:") }

// proc reads /proc/self/status without allocating: the sampler reads it
// every 10 ms, and its garbage would be counted in the peak it measures.
var proc struct {
	sync.Mutex
	f   *os.File
	buf [16 << 10]byte
}

// status returns a field of /proc/self/status in bytes, or -1.
func status(field string) int64 {
	proc.Lock()
	defer proc.Unlock()
	if proc.f == nil {
		f, err := os.Open("/proc/self/status")
		if err != nil {
			return -1
		}
		proc.f = f
	}
	n, err := proc.f.ReadAt(proc.buf[:], 0)
	if err != nil && err != io.EOF {
		return -1
	}
	b := proc.buf[:n]
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		v, ok := bytes.CutPrefix(line, []byte(field))
		if !ok {
			continue
		}
		v = bytes.TrimSpace(bytes.TrimSuffix(bytes.TrimSpace(v), []byte("kB")))
		var kb int64
		for _, c := range v {
			if c < '0' || c > '9' {
				return -1
			}
			kb = kb*10 + int64(c-'0')
		}
		return kb << 10
	}
	return -1
}
