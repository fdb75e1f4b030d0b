package prefetch

import (
	"math"
	"time"
)

// Throughput-seeking concurrency. A file starts with startConcurrency
// loads in flight (at most Config.Concurrency) and probes, one sample at a
// time, whether a different count serves its reader faster:
//
//   - Up: while its reader has to wait for loads, it adds half the count,
//     and once a raise has failed, an eighth (at least one): a probe then
//     costs little (a load in flight when the reader jumps elsewhere is
//     fetched for nothing), while a file on a wide link still gets there
//     fast.
//     If the next sample's rate did not rise by a tenth (raiseGain) over
//     the best sample at the count before, the raise did not pay (the
//     link's total, the store or the CPUs are the limit, not the loads in
//     flight) and is undone. The best, not the last: on a shared machine
//     a sample now and then comes out a third low, and a raise measured
//     against such a dip would seem to pay and be kept, ratcheting the
//     count up to the cap.
//   - Down: when a raise did not pay, it is undone and a quarter of the
//     count shed at once, and again each sample while the rate stays
//     within a twentieth (shedLoss) of the rate measured before the raise
//     (that rate stays the one to keep, so small losses cannot add up). A step that
//     loses more is undone, and probing pauses for tuneHold samples,
//     doubled after each such failure up to maxHold and back to tuneHold
//     when a probe is kept, so a file that has found its width seldom
//     probes it.
//
//   - Straight to the width: a raise that paid in proportion to the
//     loads it added (linearGain of it) shows that the loads were the
//     limit and what one load gives (perConn). A raise that fails after
//     that sets the count the best rate needs at perConn a load, and
//     holds it as the knee, rather than undoing and shedding: on a link
//     whose connections are slow each, the shed that finds the knee by
//     losing costs a sample at a rate well under the link's.
//
// The first sample, which holds the stream's start, only sets the rate
// to beat. A sample ends on a read (sample) or on a wait for a load
// (stalled), whichever comes first past tuneEvery.
//
// So a file finds the width of a link whose connections are slow each
// (cross-region S3 and OSS give a few MB/s a connection), and on a link a
// few connections fill it keeps no more loads in flight than fill it:
// each load holds a block's buffer, and a load in flight when the reader
// jumps elsewhere is fetched for nothing. Config.Concurrency caps it;
// Config.MaxLoads and the budget bound all files together.

const (
	// startConcurrency is the loads a file starts with: enough for a
	// link of a few hundred MB/s at S3's 50–100 MB/s a connection from
	// the first samples on, and few enough that a file that jumps
	// elsewhere early wastes little; a wider link is found in a few
	// raises of half the count.
	startConcurrency = 6
	// minConcurrency is the fewest loads a file sheds down to: one for
	// the block being read and one behind it.
	minConcurrency = 2
	// tuneEvery is the shortest sample: about fifteen round trips to S3.
	tuneEvery = 300 * time.Millisecond
	// raiseGain is the rise in rate a raise must bring to be kept (a
	// tenth: the noise of a shared machine or link passes a twentieth);
	// shedLoss is the loss a shed may not pass.
	raiseGain = 1.10
	shedLoss  = 1.05
	// linearGain is how much of a proportional rise (the rate times
	// the loads' ratio) a raise must bring to count as one: it then
	// measures what one load gives.
	linearGain = 0.8
	// tuneHold and maxHold are how many samples probing in a direction
	// pauses after a probe that failed, the first time and at most.
	tuneHold = 3
	maxHold  = 24
)

// tuner is a file's concurrency control. Its fields are guarded by
// Reader.mu.
type tuner struct {
	conc     int       // loads the file keeps in flight now
	max      int       // Config.Concurrency
	start    time.Time // start of the current sample
	from     int64     // the cache's received bytes at start
	read     int64     // bytes this file read from held blocks since start
	waited   bool      // a read waited for a load since start
	lastRate float64   // the rate to beat (up) or to keep (down), bytes/s
	peak     float64   // the best sample at conc since it last changed (0: none yet)
	probe    int       // loads added (> 0) or shed (< 0) after the last sample, on trial
	down     bool      // the next probe sheds: the last raise did not pay
	samples  int       // samples ended so far
	hold     int       // samples left before the next probe
	pause    int       // the hold after the next failed shed: doubles with each failure, back to tuneHold when a probe is kept
	knee     int       // a count whose last shed lost (the link's width, as last measured), 0 if none
	full     bool      // the file has had conc loads in flight: its pipe filled once
	jumped   bool      // the reader jumped elsewhere since the sample began (Reader.dropLeft)
	begun    bool      // the first sample has begun (once full)
	settled  bool      // a raise has failed: raises are small from now on
	perConn  float64   // bytes/s one load gives, measured by a raise that paid in proportion (0: none yet)
}

func newTuner(max int, now time.Time, received int64) tuner {
	return tuner{conc: min(startConcurrency, max), max: max, start: now, from: received, pause: tuneHold}
}

// note records n bytes read from held blocks, and whether the read
// waited for a load.
func (t *tuner) note(n int64, waited bool) {
	t.read += n
	t.waited = t.waited || waited
}

// sample ends the current sample if it is long enough, adjusting conc,
// and reports whether conc rose. received is the cache's count of bytes
// received from the origin, as they arrive (the process's throughput, in
// fine grain); bs is the block size. A sample is long enough after
// tuneEvery once its reader has read half the loads' blocks.
func (t *tuner) sample(now time.Time, received, bs int64) (raised bool) {
	return t.end(now, received, bs, false)
}

// stalled is sample while the reader waits for a load: the wait is what
// a sample would find out, so tuneEvery is long enough whatever the
// reader has read. Without it a file's first sample could end only after
// its first read, which on a link whose connections are slow each waits
// for a whole block (0.45 s for 8 MiB at 20 MB/s), and the raises that
// find the link's width would all come that much later.
func (t *tuner) stalled(now time.Time, received, bs int64) (raised bool) {
	t.waited = true
	return t.end(now, received, bs, true)
}

func (t *tuner) end(now time.Time, received, bs int64, waiting bool) (raised bool) {
	if !t.begun {
		// The first sample starts once the file has had all its loads
		// in flight, not at the open: the time before (the file not
		// read yet, a young stream's sparse reads, a window still
		// growing) says nothing of what conc loads give.
		if !t.full {
			return false
		}
		t.begun = true
		t.start, t.from, t.read, t.waited = now, received, 0, false
		return false
	}
	if t.jumped {
		// The reader jumped elsewhere in this sample: its loads were
		// let go and the new stream starts young, which says nothing
		// of conc. Sample again, the probe still on trial.
		t.jumped = false
		t.start, t.from, t.read, t.waited = now, received, 0, false
		return false
	}
	elapsed := now.Sub(t.start)
	if elapsed < tuneEvery || t.read < int64(t.conc)*bs/2 && !waiting {
		return false
	}
	rate := float64(received-t.from) / elapsed.Seconds()
	t.samples++
	floor := min(minConcurrency, t.max)
	switch {
	case t.probe > 0 && rate < t.lastRate*raiseGain && t.perConn > 0:
		// The raise bought little, and an earlier raise that paid in
		// proportion measured what one load gives: the link's total
		// (the best rate seen) needs this many, so go there at once
		// instead of shedding step by step to find it.
		best := max(rate, t.lastRate)
		want := int(math.Ceil(best/t.perConn - 0.05)) // a rounding error is not a load
		t.conc = min(max(want, floor), t.conc)
		t.lastRate, t.peak, t.settled = best, 0, true
		t.knee, t.down = t.conc, false
		t.hold, t.pause = t.pause, min(2*t.pause, maxHold)
	case t.probe > 0 && rate < t.lastRate*raiseGain:
		// The raise bought nothing: undo it and shed at once; the rate
		// to keep stays the one measured before the raise. Not from a
		// count whose shed lost already (the knee): pause instead.
		t.conc -= t.probe
		t.peak, t.settled = 0, true
		if t.conc == t.knee {
			// Once: a knee measured on a noisy sample must not hold
			// the count up for good.
			t.hold, t.pause, t.knee = t.pause, min(2*t.pause, maxHold), 0
		} else {
			t.down = true
		}
	case t.probe > 0:
		if from := t.conc - t.probe; rate >= t.lastRate*linearGain*float64(t.conc)/float64(from) {
			// The rate rose in proportion to the loads: the loads, not
			// the link, were the limit, and each gives this much.
			t.perConn = max(t.perConn, rate/float64(t.conc), t.lastRate/float64(from))
		}
		t.lastRate, t.pause, t.down = rate, tuneHold, false
		t.peak = rate
	case t.probe < 0 && rate*shedLoss < t.lastRate:
		// Shedding lost throughput: undo the step; probe up after a
		// pause.
		t.conc -= t.probe
		t.down, t.peak, t.knee = false, 0, t.conc
		t.hold, t.pause = t.pause, min(2*t.pause, maxHold)
	case t.probe < 0:
		// Kept; lastRate stays the rate before shedding began.
		t.pause, t.peak = tuneHold, rate
	default:
		// The best sample at this count is the rate to beat: a sample
		// the machine's other work took down (a dip) must not make
		// the raise after it look as if it paid.
		t.peak = max(t.peak, rate)
		t.lastRate = t.peak
	}
	t.probe = 0
	switch {
	case t.hold > 0:
		t.hold--
	case t.down && t.conc > floor:
		step := min(max(1, t.conc/4), t.conc-floor)
		t.conc -= step
		t.probe, t.peak = -step, 0
	case t.down:
		// At the floor: nothing to shed; probe up after a pause.
		t.down = false
		t.hold, t.pause = t.pause, min(2*t.pause, maxHold)
	case t.waited && t.conc < t.max:
		step := max(1, t.conc/2)
		if t.settled {
			step = max(1, t.conc/8)
		}
		step = min(step, t.max-t.conc)
		t.conc += step
		t.probe, t.peak = step, 0
		raised = true
	}
	t.start, t.from, t.read, t.waited = now, received, 0, false
	return raised
}
