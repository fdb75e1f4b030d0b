package tierfs_test

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tierfs/tierfs"
	"github.com/tierfs/tierfs/internal/s3test"
	"github.com/tierfs/tierfs/objstore/s3store"
	"github.com/tierfs/tierfs/objstore/storetest"
)

// The benchmarks read from an s3test server shaped like a distant object
// store: a 20 ms first-byte latency per request, 50 MB/s per connection
// and 200 MB/s in total. Each measures its baseline in the same run, on the
// same server, before its loop: one single-stream GetObject through the
// plain SDK for throughput, one 1-byte GET round trip for latency. Cold
// measures build a fresh FS per iteration with the timer stopped. They
// report, beside ns/op and allocations, the rate in MB/s, the ratio to the
// baseline and the origin GETs and bytes per op counted by the server.
//
// With -benchtime 1x the whole set takes well under a minute on 2 cores;
// go run ./benchmarks is the fuller harness (transfer-manager baselines,
// larger objects, more scenarios).
var benchShaping = s3test.Shaping{Latency: 20 * time.Millisecond, ConnBandwidth: 50e6, TotalBandwidth: 200e6}

const (
	benchBucket = "bench"
	benchKey    = "obj.bin"
)

// bench is one benchmark's server, object and clients.
type bench struct {
	b     *testing.B
	srv   *s3test.Server
	sdk   *s3.Client // the plain-SDK baseline's client
	store *s3store.Store
	size  int64
}

// newBench starts a shaped server holding one object of size bytes.
func newBench(b *testing.B, size int64) *bench {
	b.Helper()
	srv := s3test.Start(b, s3test.Config{Shaping: benchShaping})
	if err := srv.CreateBucket(benchBucket); err != nil {
		b.Fatal(err)
	}
	if err := srv.PutObject(benchBucket, benchKey, storetest.Data(1, int(size))); err != nil {
		b.Fatal(err)
	}
	client := func() *s3.Client {
		return s3.New(s3.Options{
			Region: "us-east-1", BaseEndpoint: aws.String(srv.URL()), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider("bench", "bench", ""),
			HTTPClient:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}},
		})
	}
	st, err := s3store.New(b.Context(), benchBucket, "", &s3store.Options{Client: client()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return &bench{b: b, srv: srv, sdk: client(), store: st, size: size}
}

// coldFS returns a new FS, so with cold caches; the caller closes it.
func (x *bench) coldFS(opts ...tierfs.Option) *tierfs.FS {
	x.b.Helper()
	fsys, err := tierfs.New(x.store, opts...)
	if err != nil {
		x.b.Fatal(err)
	}
	return fsys
}

// get reads the object, or the range rng of it, with one plain-SDK
// GetObject and returns the time it took.
func (x *bench) get(rng string) time.Duration {
	x.b.Helper()
	in := &s3.GetObjectInput{Bucket: aws.String(benchBucket), Key: aws.String(benchKey)}
	if rng != "" {
		in.Range = aws.String(rng)
	}
	t0 := time.Now()
	out, err := x.sdk.GetObject(context.Background(), in)
	if err != nil {
		x.b.Fatal(err)
	}
	defer out.Body.Close()
	if _, err := io.Copy(io.Discard, out.Body); err != nil {
		x.b.Fatal(err)
	}
	return time.Since(t0)
}

// singleStream is the throughput baseline: one GetObject of the whole
// object, in MB/s.
func (x *bench) singleStream() float64 {
	return mbps(x.size, x.get(""))
}

// roundTrip is the latency baseline: the median of 5 one-byte GETs.
func (x *bench) roundTrip() time.Duration {
	var ds []time.Duration
	for range 5 {
		ds = append(ds, x.get("bytes=0-0"))
	}
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// start resets the server's counters, just before the loop.
func (x *bench) start() { x.srv.ResetStats() }

// reportOrigin reports the origin GETs and bytes per op since start.
func (x *bench) reportOrigin() {
	st := x.srv.Stats(benchBucket, benchKey)
	n := float64(x.b.N)
	x.b.ReportMetric(float64(st.Gets)/n, "origin-GETs/op")
	x.b.ReportMetric(float64(st.BodyBytes)/n, "origin-B/op")
}

// reportRate reports bytes per op over the timed part as MB/s and its
// ratio to base (in MB/s), and returns the rate.
func (x *bench) reportRate(bytes int64, base float64, unit string) float64 {
	rate := mbps(bytes*int64(x.b.N), x.b.Elapsed())
	x.b.ReportMetric(rate, "MB/s")
	x.b.ReportMetric(rate/base, unit)
	return rate
}

func mbps(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds() / 1e6
}

// BenchmarkColdSequential reads a 128 MiB object with io.Copy through a
// cold FS at the default options. x-single-stream is the ratio to one
// plain GetObject (at most 4 here: the total cap is 4 connections' worth).
func BenchmarkColdSequential(b *testing.B) {
	x := newBench(b, 128<<20)
	single := x.singleStream()
	b.ReportAllocs()
	x.start()
	for b.Loop() {
		b.StopTimer()
		fsys := x.coldFS()
		b.StartTimer()
		f, err := fsys.Open(benchKey)
		if err != nil {
			b.Fatal(err)
		}
		n, err := io.Copy(io.Discard, f)
		if err != nil || n != x.size {
			b.Fatalf("read %d of %d: %v", n, x.size, err)
		}
		b.StopTimer()
		f.Close()
		fsys.Close()
		b.StartTimer()
	}
	x.reportRate(x.size, single, "x-single-stream")
	x.reportOrigin()
}

// BenchmarkTimeToFirstByte times Open and a 1-byte Read on a cold FS.
// x-round-trip is the ratio to one 1-byte GET (the goal is 1.2;
// Open sends a HEAD before the first GET). No MB/s: one byte is read.
func BenchmarkTimeToFirstByte(b *testing.B) {
	x := newBench(b, 16<<20)
	rtt := x.roundTrip()
	b.ReportAllocs()
	x.start()
	buf := make([]byte, 1)
	for b.Loop() {
		b.StopTimer()
		fsys := x.coldFS()
		b.StartTimer()
		f, err := fsys.Open(benchKey)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(f, buf); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		f.Close()
		fsys.Close()
		b.StartTimer()
	}
	per := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(float64(rtt)/1e6, "round-trip-ms")
	b.ReportMetric(float64(per)/float64(rtt), "x-round-trip")
	x.reportOrigin()
}

// BenchmarkJitteredReaders has 16 goroutines read a 128 MiB object from
// one handle in 128 KiB ReadAts, in order with ±512 KiB of jitter, on a
// cold FS. x-single-stream is the ratio to one plain GetObject;
// x-one-reader to a cold io.Copy through tierfs measured before the loop
// (the goal is 0.8).
func BenchmarkJitteredReaders(b *testing.B) {
	const (
		readers = 16
		chunk   = 128 << 10
		jitter  = 512 << 10
	)
	x := newBench(b, 128<<20)
	single := x.singleStream()
	one := func() float64 {
		fsys := x.coldFS()
		defer fsys.Close()
		t0 := time.Now()
		f, err := fsys.Open(benchKey)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		n, err := io.Copy(io.Discard, f)
		if err != nil {
			b.Fatal(err)
		}
		return mbps(n, time.Since(t0))
	}()
	// The chunks' offsets, each displaced by a uniform ±jitter, sorted.
	rng := rand.New(rand.NewPCG(1, 3))
	type item struct{ off, key int64 }
	var items []item
	for off := int64(0); off < x.size; off += chunk {
		items = append(items, item{off, off + rng.Int64N(2*jitter+1) - jitter})
	}
	slices.SortStableFunc(items, func(a, b item) int { return cmp.Compare(a.key, b.key) })
	b.ReportAllocs()
	x.start()
	var resets int64
	for b.Loop() {
		b.StopTimer()
		fsys := x.coldFS()
		f, err := fsys.Open(benchKey)
		if err != nil {
			b.Fatal(err)
		}
		ra := f.(io.ReaderAt)
		var cursor atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, readers)
		b.StartTimer()
		for range readers {
			wg.Go(func() {
				buf := make([]byte, chunk)
				for k := cursor.Add(1) - 1; k < int64(len(items)); k = cursor.Add(1) - 1 {
					if _, err := ra.ReadAt(buf, items[k].off); err != nil && err != io.EOF {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		b.StopTimer()
		close(errs)
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
		resets += fsys.Stats().Prefetch.Resets
		f.Close()
		fsys.Close()
		b.StartTimer()
	}
	rate := x.reportRate(x.size, single, "x-single-stream")
	b.ReportMetric(rate/one, "x-one-reader")
	b.ReportMetric(float64(resets)/float64(b.N), "resets/op")
	x.reportOrigin()
}

// BenchmarkRandomReads makes 100 ReadAts of 4-64 KiB at random offsets of
// a cold 256 MiB object (about 3 per 8 MiB block), one at a time. x-round-trip is the p50 latency
// over one 1-byte GET (the goal is 1.2); origin-x-asked is origin
// bytes over bytes asked (goal 1.5).
func BenchmarkRandomReads(b *testing.B) {
	const reads = 100
	x := newBench(b, 256<<20)
	rtt := x.roundTrip()
	b.ReportAllocs()
	x.start()
	rng := rand.New(rand.NewPCG(1, 4))
	buf := make([]byte, 64<<10)
	var lat []time.Duration
	var asked int64
	for b.Loop() {
		b.StopTimer()
		fsys := x.coldFS()
		f, err := fsys.Open(benchKey)
		if err != nil {
			b.Fatal(err)
		}
		ra := f.(io.ReaderAt)
		b.StartTimer()
		for range reads {
			n := 4<<10 + rng.IntN(60<<10+1)
			off := rng.Int64N(x.size - int64(n) + 1)
			t0 := time.Now()
			if _, err := ra.ReadAt(buf[:n], off); err != nil && err != io.EOF {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
			asked += int64(n)
		}
		b.StopTimer()
		f.Close()
		fsys.Close()
		b.StartTimer()
	}
	slices.Sort(lat)
	p50 := lat[(len(lat)-1)/2]
	b.ReportMetric(mbps(asked, b.Elapsed()), "MB/s")
	b.ReportMetric(float64(p50)/1e6, "p50-ms")
	b.ReportMetric(float64(p50)/float64(rtt), "x-round-trip")
	b.ReportMetric(float64(x.srv.Stats(benchBucket, benchKey).BodyBytes)/float64(asked), "origin-x-asked")
	x.reportOrigin()
}

// BenchmarkSkipPattern reads 80% and skips 20% of each eighth of a cold
// 128 MiB object (Mountpoint's 400 MB / 100 MB, scaled) with 1 MiB Reads.
// MB/s counts the bytes read; x-single-stream is against one plain
// GetObject of the whole object; origin-x-read is origin bytes over bytes
// read (the goal is 1.2).
func BenchmarkSkipPattern(b *testing.B) {
	x := newBench(b, 128<<20)
	single := x.singleStream()
	period := x.size / 8
	readLen := period * 4 / 5
	b.ReportAllocs()
	x.start()
	buf := make([]byte, 1<<20)
	var read int64
	for b.Loop() {
		b.StopTimer()
		fsys := x.coldFS()
		f, err := fsys.Open(benchKey)
		if err != nil {
			b.Fatal(err)
		}
		sk := f.(io.ReadSeeker)
		b.StartTimer()
		for off := int64(0); off < x.size; off += period {
			if _, err := sk.Seek(off, io.SeekStart); err != nil {
				b.Fatal(err)
			}
			for left := readLen; left > 0; {
				n, err := sk.Read(buf[:min(int64(len(buf)), left)])
				left -= int64(n)
				read += int64(n)
				if err != nil {
					b.Fatal(err)
				}
			}
		}
		b.StopTimer()
		f.Close()
		fsys.Close()
		b.StartTimer()
	}
	x.reportRate(read/int64(b.N), single, "x-single-stream")
	b.ReportMetric(float64(x.srv.Stats(benchBucket, benchKey).BodyBytes)/float64(read), "origin-x-read")
	x.reportOrigin()
}

// BenchmarkBlockSize is how the default block size was chosen: a cold
// sequential read and sparse 4–64 KiB reads at several block sizes, on the
// same shaped link. Larger blocks amortize the first-byte latency of each
// GET; smaller ones fetch less around a random read that turns dense.
func BenchmarkBlockSize(b *testing.B) {
	x := newBench(b, 128<<20)
	for _, bs := range []int64{2 << 20, 4 << 20, 8 << 20, 16 << 20} {
		b.Run(fmt.Sprintf("sequential/%dMiB", bs>>20), func(b *testing.B) {
			x.start()
			for b.Loop() {
				b.StopTimer()
				fsys := x.coldFS(tierfs.WithBlockSize(bs))
				b.StartTimer()
				f, err := fsys.Open(benchKey)
				if err != nil {
					b.Fatal(err)
				}
				if n, err := io.Copy(io.Discard, f); err != nil || n != x.size {
					b.Fatalf("read %d of %d: %v", n, x.size, err)
				}
				b.StopTimer()
				f.Close()
				fsys.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(x.size)/1e6/(b.Elapsed().Seconds()/float64(b.N)), "MB/s")
		})
	}
}
