package prefetch

// The stream detector: which reads of a file are sequential. It is a pure
// state machine, with no I/O and no lock of its own (the Reader holds its
// lock around it), so that its decisions can be tested as tables of reads.

// nearGap is how far past a young stream's position a read may land and
// still continue it. A stream becomes established after two reads; then
// the wider Forward band applies. Random reads rarely land near the same
// young stream twice, so they do not pass for a stream.
const nearGap = 1 << 20

// stream is one sequential run of reads.
type stream struct {
	start  int64 // offset of its earliest read
	next   int64 // offset just past the furthest read
	bytes  int64 // bytes its reads asked for
	window int64 // bytes to keep fetched ahead of next: at least twice bytes
	reads  int   // reads that continued it
	run    int   // reads that continued it since the last stray read
	used   int64 // tick of its last read, for replacement
}

// detector tracks up to Config.Streams streams of one file and whether
// the file is in random mode.
type detector struct {
	bs          int64 // block size
	maxWindow   int64 // Config.MaxWindow, at least one block
	minWindow   int64 // the least window: 0, or two blocks where nothing keeps a young stream's bytes
	forward     int64 // Config.Forward
	backward    int64 // Config.Backward
	maxStreams  int   // Config.Streams
	randomAfter int   // Config.RandomAfter
	// partStart says a stream's first block is not loaded whole when the
	// stream began inside it: its reads there are sparse (the young
	// stream's fetches hold them), so a skip does not fetch the bytes it
	// skipped over in the block it lands in. Set where the cache keeps
	// sparse fetches and no ring shares whole blocks.
	partStart bool

	streams []stream
	misses  int  // reads in a row that continued no stream
	random  bool // misses fetch only the bytes asked for
	tick    int64
}

// verdict is what the detector made of one read.
type verdict struct {
	// stream is the index of the established stream the read continued,
	// or -1: the read fetches only its bytes.
	stream int
	// reset says an established stream was replaced by a new one.
	reset bool
	// turnedRandom says this read turned random mode on: what readahead
	// the file holds is to be let go.
	turnedRandom bool
	// created is the index of the stream this read started (the reader
	// jumped where no stream was), or -1.
	created int
}

// newDetector returns a detector for blocks of bs bytes. With blocks set,
// streams start with a window of two blocks, as where the cache has no
// tier to keep a young stream's bytes (each young read would otherwise be
// a request of its own).
func newDetector(cfg Config, bs int64, blocks bool) detector {
	d := detector{
		bs: bs, maxWindow: max(cfg.MaxWindow, bs), forward: cfg.Forward, backward: cfg.Backward,
		maxStreams: cfg.Streams, randomAfter: cfg.RandomAfter,
	}
	if blocks {
		d.minWindow = min(2*bs, d.maxWindow)
	}
	// A file is most often read from its start: a read at 0 continues
	// this stream at once. Its window grows from what is read.
	d.streams = []stream{{next: 0, reads: 1, window: d.minWindow}}
	return d
}

// classify files the read [off, off+n) under a stream.
func (d *detector) classify(off, n int64) verdict {
	d.tick++
	for i := range d.streams {
		s := &d.streams[i]
		back, fwd := int64(nearGap), int64(nearGap)
		if s.reads >= 2 && !d.random {
			// A read up to Forward behind an established stream is a
			// straggler of it (goroutines reading in order, one of them
			// late): it continues the stream, and the reader fetches
			// only its bytes if its block was already let go.
			back, fwd = max(d.backward, d.forward), d.forward
		}
		if off < s.next-back || off > s.next+fwd {
			continue
		}
		if s.reads < 2 && off+n <= s.next {
			// A young stream continues only forward: a read that ends
			// where the last one began (a Parquet footer read after the
			// file's tail) is not the start of a sequential stream.
			continue
		}
		s.start = min(s.start, off)
		s.next = max(s.next, off+n)
		s.bytes += n
		// The window follows the reader: twice what it has read, so a
		// few small reads fetch little and a reader that keeps up
		// reaches whole blocks and the full window geometrically.
		s.window = max(s.window, min(2*s.bytes, d.maxWindow))
		s.reads++
		s.run++
		s.used = d.tick
		// Out of random mode only on firmer evidence: three reads of one
		// stream with no stray read between them.
		if s.reads < 2 || (d.random && s.run < 3) {
			v := d.miss()
			for j := range d.streams {
				if j != i {
					d.streams[j].run = 0
				}
			}
			return v
		}
		d.misses = 0
		d.random = false
		return verdict{stream: i, created: -1}
	}
	v := d.miss()
	for i := range d.streams {
		d.streams[i].run = 0
	}
	lruOrNew := len(d.streams)
	// Replace the least recently used stream.
	lru := 0
	for i := range d.streams {
		if d.streams[i].used < d.streams[lru].used {
			lru = i
		}
	}
	ns := stream{start: off, next: off + n, bytes: n, window: d.startWindow(n), reads: 1, used: d.tick}
	if len(d.streams) < d.maxStreams {
		d.streams = append(d.streams, ns)
	} else {
		v.reset = d.streams[lru].reads >= 3
		d.streams[lru] = ns
		lruOrNew = lru
	}
	v.created = lruOrNew
	return v
}

// miss counts a read that continued no established stream, turning random
// mode on after randomAfter in a row.
func (d *detector) miss() verdict {
	d.misses++
	v := verdict{stream: -1, created: -1}
	if d.misses >= d.randomAfter && !d.random {
		d.random = true
		v.turnedRandom = true
	}
	return v
}

// grow doubles stream si's window (to at least two blocks), up to
// maxWindow: its reader had to wait for a block.
func (d *detector) grow(si int) {
	if s := &d.streams[si]; s.reads >= 2 {
		s.window = min(max(s.window*2, 2*d.bs), d.maxWindow)
	}
}

// fit widens stream si's window to hold n bytes, up to maxWindow: more
// loads in flight need a window that holds them.
func (d *detector) fit(si int, n int64) {
	s := &d.streams[si]
	s.window = max(s.window, min(n, d.maxWindow))
}

// shrink halves stream si's window, down to one block: the budget is
// short.
func (d *detector) shrink(si int) {
	d.streams[si].window = max(d.bs, d.streams[si].window/2)
}

// startWindow is a new stream's window: twice the read that started it,
// within maxWindow.
func (d *detector) startWindow(n int64) int64 {
	return max(min(2*n, d.maxWindow), d.minWindow)
}

// young reports whether stream si's window is still under a block: its
// readahead is then the next window's bytes fetched with the read itself
// (a sparse read with cache.ReadOptions.Ahead), not whole blocks.
func (d *detector) young(si int) bool {
	return si >= 0 && si < len(d.streams) && d.streams[si].window < d.bs
}

// speculative reports whether the block starting at start lies ahead of
// some stream other than except (holds bytes past its position, within
// its window), and not within except's own window: readahead for a stream
// the reader has left, or the rest of the block it was reading.
func (d *detector) speculative(start int64, except int) bool {
	if except >= 0 && except < len(d.streams) {
		s := d.streams[except]
		if start+d.bs > s.next-d.backward && start < s.next+max(s.window, d.bs) {
			return false
		}
	}
	for i, s := range d.streams {
		if i != except && start+d.bs > s.next && start < s.next+max(s.window, d.bs) {
			return true
		}
	}
	return false
}

// left closes the windows of the streams other than except, which the
// reader has left by starting except elsewhere: they no longer claim the
// blocks ahead of them (which except may load and pass), and a reader that
// comes back to one widens it again as it waits.
func (d *detector) left(except int) {
	for i := range d.streams {
		if i != except {
			d.streams[i].window = 0
		}
	}
}

// wanted reports whether some stream still needs the block starting at
// start: within its backward band or its window.
func (d *detector) wanted(start int64) bool {
	for _, s := range d.streams {
		if start+d.bs > s.next-d.backward && start < s.next+max(s.window, d.bs) {
			return true
		}
	}
	return false
}

// beforeStart reports whether block idx begins before stream si began
// (partStart): the stream reads that block sparse and never loads it whole.
func (d *detector) beforeStart(si int, idx int64) bool {
	return d.partStart && si >= 0 && si < len(d.streams) && idx*d.bs < d.streams[si].start
}

// keepFrom returns the offset from which stream si keeps blocks: Backward
// behind its position.
func (d *detector) keepFrom(si int) int64 {
	if si < 0 || si >= len(d.streams) {
		return 0
	}
	return d.streams[si].next - d.backward
}
