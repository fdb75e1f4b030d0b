package prefetch

import "time"

// Throughput-seeking concurrency. A file starts with startConcurrency
// loads in flight (at most Config.Concurrency). While its reader has to
// wait for loads, it adds connections: after each sample (tuneEvery and at
// least a round of loads read), if the reader waited it raises the count;
// if the next sample's rate did not rise by a twentieth, the
// raise did not pay (the link, the store or the CPUs are the limit, not
// the loads in flight) and is undone, and probing pauses for tuneHold
// samples. A raise adds half the count: a link whose connections give
// little each needs many more of them, found in a few samples, and a
// raise past a link's width costs little memory. The first sample, which
// holds the stream's start, only sets the rate to beat. So a
// file finds the width of a link whose connections are slow
// each (cross-region S3 and OSS give a few MB/s a connection), and stays
// where more connections buy nothing. Config.Concurrency caps it, and
// Config.MaxLoads and the budget bound all files together.

const (
	// startConcurrency is the loads a file starts with.
	startConcurrency = 8
	// tuneEvery is the shortest sample: about fifteen round trips to S3.
	tuneEvery = 300 * time.Millisecond
	// tuneGain is the rise in rate a raise must bring to be kept.
	tuneGain = 1.05
	// tuneHold is how many samples probing pauses after a raise that did
	// not pay.
	tuneHold = 3
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
	lastRate float64   // the previous sample's rate, bytes/s
	raised   int       // the raise made after the previous sample (0: none)
	samples  int       // samples ended so far
	hold     int       // samples left before probing again
}

func newTuner(max int, now time.Time, received int64) tuner {
	return tuner{conc: min(startConcurrency, max), max: max, start: now, from: received}
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
// fine grain); bs is the block size.
func (t *tuner) sample(now time.Time, received, bs int64) (raised bool) {
	elapsed := now.Sub(t.start)
	if elapsed < tuneEvery || t.read < int64(t.conc)*bs/2 {
		return false
	}
	rate := float64(received-t.from) / elapsed.Seconds()
	t.samples++
	switch {
	case t.samples == 1:
		// The first sample has the stream's start in it (its first
		// round trips, a window still growing): a rate to beat, not a
		// reason to raise.
		t.lastRate = rate
	case t.raised > 0 && rate < t.lastRate*tuneGain:
		// The last raise bought nothing: undo it; the rate to beat stays
		// the one measured before it.
		t.conc -= t.raised
		t.raised, t.hold = 0, tuneHold
	case t.hold > 0:
		t.hold--
		t.raised, t.lastRate = 0, rate
	case t.waited && t.conc < t.max:
		step := min(max(1, t.conc/2), t.max-t.conc)
		t.conc += step
		t.raised, t.lastRate = step, rate
		raised = true
	default:
		t.raised, t.lastRate = 0, rate
	}
	t.start, t.from, t.read, t.waited = now, received, 0, false
	return raised
}
