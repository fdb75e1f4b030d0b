package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// meas is one timed run: wall time and CPU use in cores.
type meas struct {
	wall time.Duration
	cpu  float64
}

// measure times f and the CPU this process (and its waited-for children)
// spent meanwhile.
func measure(f func() error) (meas, error) {
	c0, t0 := cpuTime(), time.Now()
	err := f()
	wall := time.Since(t0)
	m := meas{wall: wall}
	if wall > 0 {
		m.cpu = float64(cpuTime()-c0) / float64(wall)
	}
	return m, err
}

// mbps is n bytes over d in MB/s (10^6 bytes).
func mbps(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds() / 1e6
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// percentile returns the p-th percentile (0..100) of ds by the
// nearest-rank method; ds is sorted in place.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	rank := int(math.Ceil(p / 100 * float64(len(ds))))
	return ds[min(max(rank, 1), len(ds))-1]
}

// linkLimit is the emulated link's limit in MB/s for conns connections:
// min(total cap, conns × per-connection cap); +Inf when neither is capped.
func (c config) linkLimit(conns int) float64 { return linkLimit(c.totalBW, c.connBW, conns) }

// linkLimit is min(total, conns × perConn) in MB/s, from caps in bytes/s
// (0 = no cap); +Inf when neither is capped.
func linkLimit(total, perConn int64, conns int) float64 {
	l := math.Inf(1)
	if perConn > 0 {
		l = float64(int64(conns)*perConn) / 1e6
	}
	if total > 0 {
		l = min(l, float64(total)/1e6)
	}
	return l
}

// gen returns n deterministic pseudo-random bytes for seed.
func gen(seed uint64, n int64) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), 0x7b}).Read(b)
	return b
}

// sdkGet reads key (or a range of it, "bytes=a-b") with one plain-SDK
// GetObject and io.Copy of the body.
func (e *env) sdkGet(ctx context.Context, key, rng string) (int64, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(key)}
	if rng != "" {
		in.Range = aws.String(rng)
	}
	out, err := e.sdk.GetObject(ctx, in)
	if err != nil {
		return 0, err
	}
	defer out.Body.Close()
	return io.Copy(io.Discard, out.Body)
}

// roundTrip measures one origin round trip: the median of 5 one-byte
// ranged GETs, and of 5 HEADs.
func (e *env) roundTrip(ctx context.Context) (get, head time.Duration, err error) {
	var gets, heads []time.Duration
	for range 5 {
		t0 := time.Now()
		if _, err := e.sdkGet(ctx, bigKey, "bytes=0-0"); err != nil {
			return 0, 0, err
		}
		gets = append(gets, time.Since(t0))
		t0 = time.Now()
		if _, err := e.sdk.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(e.bucket), Key: aws.String(bigKey)}); err != nil {
			return 0, 0, err
		}
		heads = append(heads, time.Since(t0))
	}
	return percentile(gets, 50), percentile(heads, 50), nil
}

// ensureRTT measures the round trip if scenario 2 has not.
func (e *env) ensureRTT(ctx context.Context) error {
	if e.rtt > 0 {
		return nil
	}
	get, _, err := e.roundTrip(ctx)
	e.rtt = get
	return err
}

func ratio(a, b float64) float64 {
	if b == 0 || math.IsInf(b, 0) {
		return math.NaN()
	}
	return a / b
}

// times formats a ratio as "0.98× what".
func times(r float64, what string) string {
	if math.IsNaN(r) {
		return ""
	}
	return fmt.Sprintf("%s× %s", num(r), what)
}

// joinNonEmpty joins the non-empty parts with "; ".
func joinNonEmpty(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "; ")
}
