package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tierfs/tierfs"
	"github.com/tierfs/tierfs/internal/s3test"
	"github.com/tierfs/tierfs/objstore/s3store"
)

// gauge is an http.RoundTripper that counts GETs in flight (from the
// request until its body is closed or read to the end) and remembers the
// peak, so the harness can say at what concurrency tierfs actually ran and
// size the transfer manager's "equal concurrency" run to it.
type gauge struct {
	base     http.RoundTripper
	inflight atomic.Int64
	peak     atomic.Int64
}

func (g *gauge) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method != http.MethodGet || r.URL.Query().Has("list-type") {
		return g.base.RoundTrip(r)
	}
	n := g.inflight.Add(1)
	for p := g.peak.Load(); n > p && !g.peak.CompareAndSwap(p, n); p = g.peak.Load() {
	}
	resp, err := g.base.RoundTrip(r)
	if err != nil {
		g.inflight.Add(-1)
		return nil, err
	}
	resp.Body = &gaugedBody{ReadCloser: resp.Body, g: g}
	return resp, nil
}

// resetPeak starts a new measurement of the peak.
func (g *gauge) resetPeak() { g.peak.Store(g.inflight.Load()) }

type gaugedBody struct {
	io.ReadCloser
	g    *gauge
	once sync.Once
}

func (b *gaugedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.done()
	}
	return n, err
}

func (b *gaugedBody) Close() error {
	b.done()
	return b.ReadCloser.Close()
}

func (b *gaugedBody) done() { b.once.Do(func() { b.g.inflight.Add(-1) }) }

// env is what every scenario shares: the server, the clients and flags.
type env struct {
	cfg    config
	srv    *s3test.Server
	bucket string
	gauge  *gauge
	hc     *http.Client // tierfs's HTTP client, through gauge
	// tierfsSDK is the S3 client tierfs's stores use: static credentials,
	// path-style, requests through hc.
	tierfsSDK *s3.Client
	sdk       *s3.Client // the plain-SDK baseline's client
	tm        *tmRunner  // nil when the transfer-manager baseline is off
	res       *results

	// seqRate is scenario 1's tierfs rate in MB/s (0 if it did not run);
	// rtt is one origin round trip, measured in scenario 2 or on demand.
	seqRate float64
	rtt     time.Duration
	// partsReserved says scenario 8 has had the server fault in its part
	// buffers (s3test.Server.ReserveParts), once per process.
	partsReserved bool
}

// newFS returns a cold FS over the bench bucket (its own store, its own
// tiers), reading through e.gauge.
func (e *env) newFS(ctx context.Context, opts ...tierfs.Option) (*benchFS, error) {
	st, err := s3store.New(ctx, e.bucket, "", &s3store.Options{Client: e.tierfsSDK})
	if err != nil {
		return nil, err
	}
	fsys, err := tierfs.New(st, append([]tierfs.Option{tierfs.WithStoreID("bench")}, opts...)...)
	if err != nil {
		st.Close()
		return nil, err
	}
	return &benchFS{FS: fsys, st: st}, nil
}

// benchFS is an FS that closes its store too.
type benchFS struct {
	*tierfs.FS
	st *s3store.Store
}

func (b *benchFS) Close() error { return errors.Join(b.FS.Close(), b.st.Close()) }

// shaping is the server's shaping from the flags.
func (e *env) shaping() s3test.Shaping {
	return s3test.Shaping{Latency: e.cfg.latency, ConnBandwidth: e.cfg.connBW, TotalBandwidth: e.cfg.totalBW}
}

func newSDK(endpoint string, hc *http.Client) *s3.Client {
	return s3.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("bench", "bench", ""),
		HTTPClient:  hc,
	}, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
}

func newHTTPClient(rt http.RoundTripper) *http.Client {
	return &http.Client{
		Transport:     rt,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func newTransport() *http.Transport {
	return &http.Transport{MaxIdleConnsPerHost: 512, DisableCompression: true, IdleConnTimeout: 90 * time.Second}
}

// procStatus reads a "VmRSS:"-style field of /proc/self/status, in bytes.
func procStatus(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			fields := strings.Fields(rest)
			if len(fields) > 0 {
				kb, _ := strconv.ParseInt(fields[0], 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// sampleRSS samples VmRSS every 10 ms until stop is called, and returns
// the peak seen.
func sampleRSS() (peak func() int64, stop func()) {
	var max atomic.Int64
	max.Store(procStatus("VmRSS"))
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if v := procStatus("VmRSS"); v > max.Load() {
					max.Store(v)
				}
			}
		}
	})
	return max.Load, func() { close(done); wg.Wait() }
}
