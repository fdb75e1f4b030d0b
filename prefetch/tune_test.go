package prefetch

import (
	"slices"
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
	tu.full = true // the pipe has filled: samples begin
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
	if best < 18 {
		t.Errorf("conc never reached nine tenths of the link's width (20): %v", seen)
	}
	if last := seen[len(seen)-1]; last < 18 {
		t.Errorf("conc settled at %d, under nine tenths of the link's width (20): %v", last, seen)
	}
	// A link that 8 connections fill: raises pay up to it; the one past
	// it is undone with a shed, which loses and is undone too; probes
	// come seldom once it has settled.
	rate = func(conc int) float64 { return float64(min(conc, 8) * 8 << 20) }
	tu = newTuner(32, now, received)
	tu.full = true // the pipe has filled: samples begin
	seen = seen[:0]
	for range 40 {
		step()
		seen = append(seen, tu.conc)
	}
	t.Logf("on a link 8 fill: %v", seen)
	settled := seen[len(seen)-1]
	if seen[0] != startConcurrency || settled < 8 || settled > 12 {
		t.Errorf("on a link 8 connections fill: %v; want a start at %d and a count between 8 and 12 at the end", seen, startConcurrency)
	}
	// The raise from 6 to 9 paid in proportion (8 MiB/s a load), so the
	// one past the width (to 13) goes straight to the width it implies,
	// 8, with no shed under it to find it.
	if i := slices.Index(seen, 13); i < 0 || i+1 >= len(seen) || seen[i+1] != 8 {
		t.Errorf("on a link 8 fill, the raise to 13 was not followed by the measured width, 8: %v", seen)
	} else if j := slices.IndexFunc(seen[i:], func(c int) bool { return c < 8 }); j >= 0 {
		t.Errorf("on a link 8 fill, sample %d shed to %d, under the width a proportional raise measured: %v", i+j, seen[i+j], seen)
	}
	probes := 0
	for i, c := range seen[10:] {
		if c != settled && seen[10+i-1] == c {
			t.Errorf("a probe kept for two samples on a link 8 fill: %v", seen)
		}
		if c != settled {
			probes++
		}
	}
	if probes > 6 {
		t.Errorf("%d probes in the last 30 samples on a link 8 fill: failed probes should pause probing longer each time: %v", probes, seen)
	}
	// A link that 4 connections fill: the file sheds down to 4 and stays
	// there but for rare probes, never under 3 and never settling above.
	rate = func(conc int) float64 { return float64(min(conc, 4) * 8 << 20) }
	tu = newTuner(32, now, received)
	tu.full = true // the pipe has filled: samples begin
	seen = seen[:0]
	for range 60 {
		step()
		seen = append(seen, tu.conc)
	}
	t.Logf("on a link 4 fill: %v", seen)
	at4 := 0
	for _, c := range seen[20:] {
		if c < 3 {
			t.Fatalf("shed under the link's width: %v", seen)
		}
		if c == 4 {
			at4++
		}
	}
	if at4 < 30 {
		t.Errorf("at the link's width (4) for %d of the last 40 samples: %v", at4, seen)
	}
	// A noisy link 6 connections fill (±3% from sample to sample): losses
	// within the noise do not add up to shedding under its width.
	noise := []float64{1.03, 0.97, 1.01, 0.98, 1.02, 0.99, 0.97, 1.03}
	k := 0
	rate = func(conc int) float64 { k++; return float64(min(conc, 6)*8<<20) * noise[k%len(noise)] }
	tu = newTuner(32, now, received)
	tu.full = true // the pipe has filled: samples begin
	seen = seen[:0]
	for range 60 {
		step()
		seen = append(seen, tu.conc)
	}
	t.Logf("on a noisy link 6 fill: %v", seen)
	for _, c := range seen[20:] {
		if c < 5 {
			t.Fatalf("shed under the link's width on noise: %v", seen)
		}
	}
	if last := seen[len(seen)-1]; last > 9 {
		t.Errorf("settled at %d on a link 6 fill: %v", last, seen)
	}
	// A link 5 connections fill, on a machine whose other work takes a
	// sample's rate down by a third now and then: a raise measured
	// against a dip does not pay, so the count does not ratchet up (it
	// went to the cap before the rate to beat was the best sample).
	dips := []float64{1, 1, 0.65, 0.65, 1, 1, 1, 1, 0.7, 0.7, 1, 1}
	k = 0
	rate = func(conc int) float64 { k++; return float64(min(conc, 5)*8<<20) * dips[k%len(dips)] }
	tu = newTuner(32, now, received)
	tu.full = true // the pipe has filled: samples begin
	seen = seen[:0]
	for range 80 {
		step()
		seen = append(seen, tu.conc)
	}
	t.Logf("on a link 5 fill with dips: %v", seen)
	over := 0
	for _, c := range seen[20:] {
		if c < 4 {
			t.Fatalf("shed under the link's width on dips: %v", seen)
		}
		if c > startConcurrency {
			over++
		}
	}
	if over > 8 {
		t.Errorf("over %d loads for %d of the last 60 samples on a link 5 fill with dips: %v", startConcurrency, over, seen)
	}
	// A reader that never waits is never given more.
	tu = newTuner(32, now, received)
	tu.full = true // the pipe has filled: samples begin
	for range 10 {
		tu.note(64*bs, false)
		received += 64 * bs
		now = now.Add(time.Second)
		tu.sample(now, received, bs)
	}
	if tu.conc != startConcurrency {
		t.Errorf("a reader that never waited: conc %d", tu.conc)
	}
	// Before the file's loads have all been in flight once (a window
	// still growing), nothing is sampled: a ramp is not a rate.
	tu = newTuner(32, now, received)
	for range 10 {
		tu.note(64*bs, true)
		received += 64 * bs
		now = now.Add(time.Second)
		tu.sample(now, received, bs)
	}
	if tu.conc != startConcurrency || tu.samples != 0 {
		t.Errorf("a file whose pipe never filled: conc %d after %d samples", tu.conc, tu.samples)
	}
	// A sample in which the reader jumped elsewhere (its loads let go, a
	// young stream begun) is taken again, its probe still on trial.
	tu = newTuner(32, now, received)
	tu.full = true
	tu.sample(now, received, bs) // begins
	now = now.Add(time.Second)
	tu.note(64*bs, true)
	received += 64 * bs
	tu.sample(now, received, bs) // the first sample: probes up
	probe, conc := tu.probe, tu.conc
	tu.jumped = true
	now = now.Add(time.Second)
	tu.note(bs, true)
	received += bs // the jump's dip
	tu.sample(now, received, bs)
	if probe <= 0 || tu.probe != probe || tu.conc != conc {
		t.Errorf("a sample with a jump in it judged the probe: probe %d→%d, conc %d→%d", probe, tu.probe, conc, tu.conc)
	}
	// The cap is the cap.
	tu = newTuner(4, now, received)
	tu.full = true // the pipe has filled: samples begin
	if tu.conc != 4 {
		t.Errorf("start under a cap of 4: %d", tu.conc)
	}
}

// A reader waiting inside a block it has not read yet (a whole block at a
// connection's slow rate) ends the tuner's samples by its waits: the
// loads are raised before its first read returns.
func TestTunerStalled(t *testing.T) {
	const bs = 8 << 20
	now := time.Unix(0, 0)
	var received int64
	tu := newTuner(16, now, received)
	tu.full = true
	tu.sample(now, received, bs) // begins
	for range 3 {
		now = now.Add(tuneEvery / 2)
		received += 6 << 20 // bytes arrive; the reader has read none
		tu.sample(now, received, bs)
	}
	if tu.conc != startConcurrency || tu.samples != 0 {
		t.Fatalf("a sample ended with nothing read, on a read: conc %d, %d samples", tu.conc, tu.samples)
	}
	if !tu.stalled(now, received, bs) || tu.conc <= startConcurrency || tu.samples != 1 {
		t.Errorf("a reader waiting past tuneEvery: conc %d after %d samples, want a raise from %d", tu.conc, tu.samples, startConcurrency)
	}
	// Within tuneEvery of that sample, a wait ends none.
	now = now.Add(tuneEvery / 2)
	received += 9 << 20
	if c := tu.conc; tu.stalled(now, received, bs) || tu.conc != c || tu.samples != 1 {
		t.Errorf("a wait within tuneEvery of the last sample: conc %d→%d, %d samples", c, tu.conc, tu.samples)
	}
}
