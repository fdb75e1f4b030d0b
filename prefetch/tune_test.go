package prefetch

import (
	"testing"
	"time"
)

// The tuner raises the loads in flight while raises pay, undoes one that
// does not, waits before probing again, and never passes the cap.
func TestTuner(t *testing.T) {
	const bs = 1 << 20
	now := time.Unix(0, 0)
	var received int64
	tu := newTuner(32, now, received)
	if tu.conc != startConcurrency {
		t.Fatalf("start %d", tu.conc)
	}
	// rate(conc) is the rate a link gives at conc connections: 8 MiB/s
	// each up to 20 connections, then flat.
	var rate func(conc int) float64
	rate = func(conc int) float64 { return float64(min(conc, 20) * 8 << 20) }
	step := func() {
		d := time.Duration(float64(tu.conc*bs) / rate(tu.conc) * float64(time.Second))
		d = max(d, tuneEvery)
		got := int64(rate(tu.conc) * d.Seconds())
		tu.note(got, true)
		received += got
		now = now.Add(d)
		tu.sample(now, received, bs)
	}
	var seen []int
	for range 40 {
		step()
		seen = append(seen, tu.conc)
	}
	best := 0
	for _, c := range seen {
		best = max(best, c)
		if c > 32 {
			t.Fatalf("conc %d over the cap: %v", c, seen)
		}
	}
	t.Logf("conc over 40 samples: %v", seen)
	if best < 20 {
		t.Errorf("conc never reached the link's width (20): %v", seen)
	}
	if last := seen[len(seen)-1]; last < 20 {
		t.Errorf("conc settled at %d, under the link's width (20): %v", last, seen)
	}
	// A link that 8 connections fill: the raise to 12 buys nothing and is
	// undone; probing resumes after tuneHold samples, and is undone again.
	rate = func(conc int) float64 { return float64(min(conc, 8) * 8 << 20) }
	tu = newTuner(32, now, received)
	seen = seen[:0]
	for range 12 {
		step()
		seen = append(seen, tu.conc)
	}
	t.Logf("on a link 8 fill: %v", seen)
	if seen[0] != 8 || seen[1] != 12 || seen[2] != 8 {
		t.Errorf("on a link 8 connections fill: %v; want the first sample to set the rate, then a raise to 12 undone", seen)
	}
	for i, c := range seen {
		if i > 0 && c > 8 && seen[i-1] > 8 {
			t.Errorf("a raise kept for two samples on a link 8 fill: %v", seen)
		}
	}
	// A reader that never waits is never given more.
	tu = newTuner(32, now, received)
	for range 10 {
		tu.note(64*bs, false)
		received += 64 * bs
		now = now.Add(time.Second)
		tu.sample(now, received, bs)
	}
	if tu.conc != startConcurrency {
		t.Errorf("a reader that never waited: conc %d", tu.conc)
	}
	// The cap is the cap.
	tu = newTuner(4, now, received)
	if tu.conc != 4 {
		t.Errorf("start under a cap of 4: %d", tu.conc)
	}
}
