package prefetch

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tierfs/tierfs/cache"
	"github.com/tierfs/tierfs/objstore"
)

// Prefetcher holds what all open files share: the blocks, the memory
// budget, the counters and the goroutine that reclaims idle readahead.
// It is safe for concurrent use.
type Prefetcher struct {
	cfg    Config
	blocks *cache.Blocks
	budget *Budget
	now    func() time.Time

	stats counters
	loads atomic.Int64 // readahead loads in flight over all Readers (Config.MaxLoads)

	mu      sync.Mutex // guards readers, closed and calls to wg.Add
	readers map[*Reader]struct{}
	closed  bool
	stop    chan struct{}
	wg      sync.WaitGroup // the reclaimer and the watchers of held loads
}

// New returns a Prefetcher reading through blocks under budget (which
// should be the one given to blocks as cache.Config.Budget, so that
// demand loads and readahead share it). now is the clock for idle
// reclaim; nil means time.Now.
func New(cfg Config, blocks *cache.Blocks, budget *Budget, now func() time.Time) (*Prefetcher, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if blocks == nil || budget == nil {
		return nil, fmt.Errorf("prefetch: %w: nil blocks or budget", fs.ErrInvalid)
	}
	if budget.Size() < 2*blocks.BlockSize() {
		return nil, fmt.Errorf("prefetch: %w: budget %d is less than two blocks of %d", fs.ErrInvalid, budget.Size(), blocks.BlockSize())
	}
	if now == nil {
		now = time.Now
	}
	p := &Prefetcher{cfg: cfg, blocks: blocks, budget: budget, now: now, readers: map[*Reader]struct{}{}, stop: make(chan struct{})}
	p.wg.Add(1)
	go p.reclaim()
	return p, nil
}

// reclaim drops the readahead of files idle for longer than IdleTimeout.
func (p *Prefetcher) reclaim() {
	defer p.wg.Done()
	t := time.NewTicker(p.cfg.IdleTimeout / 2)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		p.mu.Lock()
		readers := make([]*Reader, 0, len(p.readers))
		for r := range p.readers {
			readers = append(readers, r)
		}
		p.mu.Unlock()
		cutoff := p.now().Add(-p.cfg.IdleTimeout)
		for _, r := range readers {
			r.dropIfIdle(cutoff)
		}
	}
}

// Close stops the reclaimer, closes every Reader still open and waits for
// the loads they started to end: close the cache.Blocks first, which
// cancels them, or let them finish. It is idempotent.
func (p *Prefetcher) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	readers := make([]*Reader, 0, len(p.readers))
	for r := range p.readers {
		readers = append(readers, r)
	}
	p.mu.Unlock()
	close(p.stop)
	for _, r := range readers {
		r.Close()
	}
	p.wg.Wait()
	return nil
}

// Budget returns the shared memory budget.
func (p *Prefetcher) Budget() *Budget { return p.budget }

// Reader reads one object version with readahead. ReadAt may be called
// from several goroutines at once; reads that several goroutines issue in
// order still count as sequential.
type Reader struct {
	p      *Prefetcher
	ctx    context.Context
	cancel context.CancelFunc
	obj    objstore.Object
	bs     int64
	nb     int64 // blocks in the object

	mu       sync.Mutex // guards every field below
	streams  []stream
	misses   int  // reads in a row that continued no stream
	random   bool // misses fetch only the bytes asked for
	held     map[int64]*ahead
	head     []byte              // the object's first bytes, if given (SetHead)
	sparse   map[int64]sparseUse // what sparse reads asked of each block
	lastRead time.Time
	tick     int64
	closed   bool
}

// stream is one sequential run of reads.
type stream struct {
	next   int64 // offset just past the furthest read
	window int64 // bytes to keep fetched ahead of next
	reads  int   // reads that continued it
	run    int   // reads that continued it since the last stray read
	used   int64 // tick of its last read, for replacement
}

// ahead is a block this Reader holds (loading or loaded).
type ahead struct {
	h       *cache.Handle
	size    int64 // bytes reserved from the budget
	ended   bool  // the load has ended (guarded by Reader.mu)
	dropped bool  // released from held while still loading
}

// NewReader returns a Reader of obj. ctx governs its reads; Close (of the
// Reader or the Prefetcher) ends them.
func (p *Prefetcher) NewReader(ctx context.Context, obj objstore.Object) (*Reader, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("prefetch: %w", fs.ErrClosed)
	}
	rctx, cancel := context.WithCancel(ctx)
	bs := p.blocks.BlockSize()
	r := &Reader{
		p: p, ctx: rctx, cancel: cancel, obj: obj, bs: bs, nb: cache.NumBlocks(obj.Size, bs),
		held: map[int64]*ahead{}, lastRead: p.now(),
		// A file is most often read from its start: a read at 0 continues
		// this stream at once.
		streams: []stream{{next: 0, window: min(2*bs, max(p.cfg.MaxWindow, bs)), reads: 1}},
	}
	p.readers[r] = struct{}{}
	return r, nil
}

// SetHead gives the Reader the object's first bytes, already fetched (by
// an open that read them instead of asking for metadata): reads within
// them need no fetch, and the load of block 0 fetches only what follows.
// head must not be modified afterwards.
func (r *Reader) SetHead(head []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.head = head
}

// ReadAt reads len(p) bytes at off with the io.ReaderAt contract.
func (r *Reader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("prefetch: %w: negative offset %d", fs.ErrInvalid, off)
	}
	if off >= r.obj.Size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), r.obj.Size-off)
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return 0, fmt.Errorf("prefetch: read %q: %w", r.obj.Key, fs.ErrClosed)
	}
	si := r.classify(off, want)
	random := r.random
	r.lastRead = r.p.now()
	r.mu.Unlock()

	var n int64
	var err error
	r.mu.Lock()
	head := r.head
	r.mu.Unlock()
	// A read within the first half of the head starts no readahead: a
	// program that only looks at a file's first bytes (its type, a
	// header) costs the one GET that fetched the head. A sequential reader
	// gets to the second half within microseconds and starts it there,
	// a round trip before it needs the bytes past the head.
	quiet := false
	if off+want <= int64(len(head)) {
		n = int64(copy(p[:want], head[off:]))
		quiet = off+want <= int64(len(head))/2
	} else if random || si < 0 {
		n, err = r.readSparse(p[:want], off)
		if random {
			r.p.stats.randomReads.Add(1)
		}
	} else {
		if si >= 0 && !r.p.cfg.Disabled {
			// Fetch the blocks of this read and the window after it in
			// parallel before waiting for the first.
			r.mu.Lock()
			r.schedule(si, off)
			r.mu.Unlock()
		}
		n, err = r.readSequential(p[:want], off, si)
	}
	if err == nil && si >= 0 && !r.p.cfg.Disabled && !quiet {
		r.mu.Lock()
		if si < len(r.streams) {
			r.schedule(si, r.streams[si].next)
		}
		r.mu.Unlock()
	}
	r.mu.Lock()
	r.trim()
	r.mu.Unlock()
	if err != nil {
		return int(n), err
	}
	if n < int64(len(p)) {
		return int(n), io.EOF
	}
	return int(n), nil
}

// Sparse reads of a block fetch only their bytes until the block looks
// dense: once sparse reads have asked a sixteenth of it (at least
// denseMin bytes), the next one loads the whole block into the cache. Random small reads over a large object stay near
// 1× the bytes asked; random reads that keep coming back to the same
// blocks end up served from the cache.
const (
	denseFraction = 16
	denseMin      = 256 << 10
	maxSparse     = 4096 // blocks tracked per Reader; the record restarts beyond
)

type sparseUse struct {
	bytes int64 // asked by sparse reads
}

// readSparse serves a read that belongs to no established stream, block
// by block: only the bytes asked for, unless the block is cached, being
// loaded, or dense enough to load whole. Consecutive blocks read the same
// way go to the cache in one call, so a read across blocks that fetches
// only its bytes is one GET.
func (r *Reader) readSparse(p []byte, off int64) (int64, error) {
	// The mode of each block the read covers, from what earlier reads asked.
	type span struct {
		n    int64
		mode cache.Mode
	}
	var spans []span
	r.mu.Lock()
	if r.sparse == nil || len(r.sparse) >= maxSparse {
		r.sparse = map[int64]sparseUse{}
	}
	for done := int64(0); done < int64(len(p)); {
		pos := off + done
		idx := pos / r.bs
		n := min(int64(len(p))-done, (idx+1)*r.bs-pos)
		u := r.sparse[idx]
		mode := cache.Partial
		if u.bytes >= max(r.bs/denseFraction, denseMin) {
			mode = cache.Whole
		}
		u.bytes += n
		r.sparse[idx] = u
		if k := len(spans) - 1; k >= 0 && spans[k].mode == mode {
			spans[k].n += n
		} else {
			spans = append(spans, span{n: n, mode: mode})
		}
		done += n
	}
	r.mu.Unlock()
	var done int64
	for _, sp := range spans {
		got, err := r.p.blocks.ReadAtMode(r.ctx, r.obj, p[done:done+sp.n], off+done, sp.mode)
		done += int64(got)
		if err != nil && err != io.EOF {
			return done, err
		}
		if int64(got) < sp.n {
			break
		}
	}
	return done, nil
}

// nearGap is how far past a young stream's position a read may land and
// still continue it. A stream becomes established after two reads; then
// the wider Forward band applies. Random reads rarely land near the same
// young stream twice, so they do not pass for a stream.
const nearGap = 1 << 20

// classify files the read [off, off+n) under a stream and returns the
// stream's index if the stream is established (sequential), or -1: such a
// read fetches only the bytes it asks for. Called with r.mu held.
func (r *Reader) classify(off, n int64) int {
	r.tick++
	for i := range r.streams {
		s := &r.streams[i]
		back, fwd := int64(nearGap), int64(nearGap)
		if s.reads >= 2 && !r.random {
			// A read up to Forward behind an established stream is a
			// straggler of it (goroutines reading in order, one of them
			// late): it continues the stream, and readSequential fetches
			// only its bytes if its block was already let go.
			back, fwd = max(r.p.cfg.Backward, r.p.cfg.Forward), r.p.cfg.Forward
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
		s.next = max(s.next, off+n)
		s.reads++
		s.run++
		s.used = r.tick
		// Out of random mode only on firmer evidence: three reads of one
		// stream with no stray read between them.
		if s.reads < 2 || (r.random && s.run < 3) {
			r.misses++
			r.checkRandom()
			for j := range r.streams {
				if j != i {
					r.streams[j].run = 0
				}
			}
			return -1
		}
		r.misses = 0
		r.random = false
		return i
	}
	r.misses++
	r.checkRandom()
	for i := range r.streams {
		r.streams[i].run = 0
	}
	// Replace the least recently used stream.
	lru := 0
	for i := range r.streams {
		if r.streams[i].used < r.streams[lru].used {
			lru = i
		}
	}
	ns := stream{next: off + n, window: r.startWindow(n), reads: 1, used: r.tick}
	if len(r.streams) < r.p.cfg.Streams {
		r.streams = append(r.streams, ns)
	} else {
		if r.streams[lru].reads >= 3 {
			r.p.stats.resets.Add(1)
		}
		r.streams[lru] = ns
	}
	return -1
}

// checkRandom turns random mode on after RandomAfter misses in a row.
// Called with r.mu held.
func (r *Reader) checkRandom() {
	if r.misses >= r.p.cfg.RandomAfter && !r.random {
		r.random = true
		r.dropAll()
	}
}

// readSequential serves a read block by block: from a block this Reader
// holds, else from the cache tiers, else by loading the block and holding
// it. When the budget has no room for the block, the Reader lets go of
// all it holds (so readers never hold memory while waiting for more) and
// fetches only the bytes asked for.
//
// The first time a read has to wait for a load, it doubles the stream's
// window (grow) and starts the loads the larger window takes in before it
// waits, so a stream that has not caught up yet widens at once rather than
// after the block it waits for has arrived.
//
// A read longer than two blocks lets go of each block once it has copied
// it to the block's end, and tops up the loads ahead of it, so that one
// huge ReadAt streams through the budget instead of holding all of it.
func (r *Reader) readSequential(p []byte, off int64, si int) (int64, error) {
	big := int64(len(p)) > 2*r.bs
	waited := false
	var done int64
	for done < int64(len(p)) {
		pos := off + done
		idx := pos / r.bs
		boff := pos - idx*r.bs
		n := min(int64(len(p))-done, r.bs-boff)
		dst := p[done : done+n]
		r.mu.Lock()
		a := r.held[idx]
		r.mu.Unlock()
		if a == nil && r.p.blocks.ReadCached(r.ctx, r.obj, idx, dst, boff) {
			done += n
			continue
		}
		if a == nil && si >= 0 && (idx+1)*r.bs <= r.keepFrom(si) {
			// A straggler behind the blocks the stream keeps: its block
			// was fetched and let go; fetch only the bytes asked.
			if _, err := r.p.blocks.ReadAtMode(r.ctx, r.obj, dst, pos, cache.Partial); err != nil && err != io.EOF {
				return done, err
			}
			done += n
			continue
		}
		if a == nil {
			var err error
			if a, err = r.load(idx, false); err != nil {
				return done, err
			}
		}
		if a == nil { // no room in the budget
			r.mu.Lock()
			r.dropAll()
			r.mu.Unlock()
			r.p.stats.budgetShort.Add(1)
			if _, err := r.p.blocks.ReadAtMode(r.ctx, r.obj, dst, pos, cache.Partial); err != nil && err != io.EOF {
				return done, err
			}
			done += n
			continue
		}
		if !a.h.Ready(boff+n) && !waited {
			// The reader caught up with the load: widen the window now.
			waited = true
			r.widen(si, pos)
		}
		if err := r.waitWidening(a.h, boff+n, si, pos); err != nil {
			if a.h.Err() != nil {
				// Forget the failed block so a later read tries again.
				r.mu.Lock()
				if r.held[idx] == a {
					r.release(idx)
				}
				r.mu.Unlock()
			}
			return done, err
		}
		copy(dst, a.h.Bytes()[boff:boff+n])
		r.p.stats.heldHits.Add(1)
		done += n
		if big && boff+n == a.size && done < int64(len(p)) {
			r.mu.Lock()
			if r.held[idx] == a {
				r.release(idx)
			}
			if si >= 0 && si < len(r.streams) && !r.p.cfg.Disabled {
				r.schedule(si, off+done)
			}
			r.mu.Unlock()
		}
	}
	return done, nil
}

// widenEvery is how long a reader waits for a load before its stream's
// window doubles again: a reader still waiting after it is limited by the
// loads in flight, so more of them, up to Concurrency and the budget, will
// help. It is about two round trips to S3.
const widenEvery = 50 * time.Millisecond

// widen doubles stream si's window and starts the loads it takes in from
// pos on, if si is a stream and readahead is on.
func (r *Reader) widen(si int, pos int64) {
	if si < 0 || r.p.cfg.Disabled {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if si < len(r.streams) {
		r.grow(si)
		r.schedule(si, pos)
	}
}

// waitWidening waits for h's bytes [0, end), widening stream si's window
// every widenEvery that it is still waiting. Bytes already there cost no
// timer.
func (r *Reader) waitWidening(h *cache.Handle, end int64, si int, pos int64) error {
	if h.Ready(end) {
		return nil
	}
	for {
		ctx, cancel := context.WithTimeout(r.ctx, widenEvery)
		err := h.Wait(ctx, end)
		cancel()
		if err == nil || r.ctx.Err() != nil || h.Err() != nil {
			return err
		}
		r.widen(si, pos)
	}
}

// load starts holding block idx, if its bytes can be reserved from the
// budget now: the load runs on a goroutine. It returns nil without error
// when there was no room. With slot set, the caller has taken one of
// Config.MaxLoads (takeLoad): it goes with the new load, or back if there
// is none.
func (r *Reader) load(idx int64, slot bool) (*ahead, error) {
	kept := false // the slot went with the new ahead: its watcher gives it back
	if slot {
		defer func() {
			if !kept {
				r.p.loads.Add(-1)
			}
		}()
	}
	_, size, err := cache.BlockSpan(idx, r.obj.Size, r.bs)
	if err != nil {
		return nil, err
	}
	if !r.p.budget.TryAcquire(size) {
		return nil, nil
	}
	var h *cache.Handle
	r.mu.Lock()
	head := r.head
	r.mu.Unlock()
	if idx == 0 && len(head) > 0 {
		// The head may be longer than a (small) block.
		h, err = r.p.blocks.StartWithPrefix(r.ctx, r.obj, 0, head[:min(int64(len(head)), size)])
	} else {
		h, err = r.p.blocks.Start(r.ctx, r.obj, idx)
	}
	if err != nil {
		r.p.budget.Release(size)
		return nil, err
	}
	a := &ahead{h: h, size: size}
	r.mu.Lock()
	if prev := r.held[idx]; prev != nil || r.closed {
		r.mu.Unlock()
		r.p.budget.Release(size)
		if prev == nil {
			return nil, fmt.Errorf("prefetch: read %q: %w", r.obj.Key, fs.ErrClosed)
		}
		return prev, nil
	}
	r.p.mu.Lock()
	if r.p.closed {
		r.p.mu.Unlock()
		r.mu.Unlock()
		r.p.budget.Release(size)
		return nil, fmt.Errorf("prefetch: read %q: %w", r.obj.Key, fs.ErrClosed)
	}
	r.p.wg.Add(1)
	r.p.mu.Unlock()
	r.held[idx] = a
	kept = slot
	r.mu.Unlock()
	// Mark the load ended, and return the reservation of a block let go
	// while it was loading (the load goes on for the cache). This outlives
	// the Reader, not the Prefetcher.
	go func() {
		defer r.p.wg.Done()
		<-h.Done()
		if slot {
			r.p.loads.Add(-1)
		}
		r.mu.Lock()
		a.ended = true
		if a.dropped {
			r.p.budget.Release(a.size)
		}
		r.mu.Unlock()
	}()
	return a, nil
}

// takeLoad takes one of Config.MaxLoads for a readahead load, if one is
// free; load gives it back when the load ends.
func (p *Prefetcher) takeLoad() bool {
	if p.loads.Add(1) > int64(p.cfg.MaxLoads) {
		p.loads.Add(-1)
		return false
	}
	return true
}

// keepFrom returns the offset from which stream si keeps blocks: Backward
// behind its position.
func (r *Reader) keepFrom(si int) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if si >= len(r.streams) {
		return 0
	}
	return r.streams[si].next - r.p.cfg.Backward
}

// grow doubles stream si's window, up to MaxWindow: the reader had to
// wait. Called with r.mu held.
func (r *Reader) grow(si int) {
	s := &r.streams[si]
	if s.reads >= 2 {
		s.window = min(s.window*2, max(r.p.cfg.MaxWindow, r.bs))
	}
}

// startWindow is a new stream's window: two blocks, or twice the read
// that started it, whichever is larger, within MaxWindow.
func (r *Reader) startWindow(n int64) int64 {
	return min(max(2*r.bs, 2*n), max(r.p.cfg.MaxWindow, r.bs))
}

// schedule starts loading the blocks of stream si from offset from to its
// window's end past its position, at most Concurrency loading at once,
// each reserved from the budget first; a reservation that fails halves the
// window. Called with r.mu held; it releases and retakes it around
// reservations.
func (r *Reader) schedule(si int, from int64) {
	s := r.streams[si]
	if s.reads < 1 || r.random || r.closed {
		return
	}
	first := from / r.bs
	last := min((s.next+s.window-1)/r.bs, r.nb-1)
	loading := 0
	for _, a := range r.held {
		if !a.ended {
			loading++
		}
	}
	for idx := first; idx <= last && loading < r.p.cfg.Concurrency; idx++ {
		if r.held[idx] != nil {
			continue
		}
		r.mu.Unlock()
		cached := r.p.blocks.ReadCached(r.ctx, r.obj, idx, nil, 0)
		var a *ahead
		var err error
		if !cached {
			if !r.p.takeLoad() {
				r.p.stats.loadsCapped.Add(1)
				r.mu.Lock()
				return
			}
			a, err = r.load(idx, true)
			if a != nil {
				r.p.stats.readahead.Add(1)
			}
		}
		r.mu.Lock()
		if cached {
			continue
		}
		if err != nil {
			return
		}
		if a == nil {
			r.p.stats.budgetShort.Add(1)
			if si < len(r.streams) {
				r.streams[si].window = max(r.bs, r.streams[si].window/2)
			}
			return
		}
		loading++
	}
}

// trim releases held blocks no stream needs any more: behind every
// stream's backward band or past every stream's window. Called with r.mu
// held.
func (r *Reader) trim() {
	for idx := range r.held {
		start := idx * r.bs
		keep := false
		for _, s := range r.streams {
			if start+r.bs > s.next-r.p.cfg.Backward && start < s.next+max(s.window, r.bs) {
				keep = true
				break
			}
		}
		if !keep {
			r.release(idx)
		}
	}
}

// release stops holding block idx. Called with r.mu held.
func (r *Reader) release(idx int64) {
	a := r.held[idx]
	delete(r.held, idx)
	if a.ended {
		r.p.budget.Release(a.size)
	} else {
		a.dropped = true // the watching goroutine releases it
	}
}

// dropAll releases every held block. Called with r.mu held.
func (r *Reader) dropAll() {
	for idx := range r.held {
		r.release(idx)
	}
}

// dropIfIdle releases the held blocks if the last read was before cutoff.
func (r *Reader) dropIfIdle(cutoff time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lastRead.Before(cutoff) && len(r.held) > 0 {
		r.p.stats.idleReclaims.Add(1)
		r.dropAll()
	}
}

// Held returns how many blocks the Reader holds (loading or loaded).
func (r *Reader) Held() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.held)
}

// Close ends the Reader's loads and releases what it holds. It is
// idempotent.
func (r *Reader) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.cancel()
	r.dropAll()
	r.mu.Unlock()
	r.p.mu.Lock()
	delete(r.p.readers, r)
	r.p.mu.Unlock()
	return nil
}

type counters struct {
	readahead, heldHits, resets, randomReads, budgetShort, idleReclaims, loadsCapped atomic.Int64
}

// Stats are a Prefetcher's counters since it was made.
type Stats struct {
	// ReadaheadBlocks counts blocks fetched ahead of their reader.
	ReadaheadBlocks int64
	// HeldHits counts block reads served from blocks a reader held.
	HeldHits int64
	// Resets counts sequential streams broken by a read elsewhere.
	Resets int64
	// RandomReads counts reads served in random mode.
	RandomReads int64
	// BudgetShort counts readahead skipped for lack of budget.
	BudgetShort int64
	// LoadsCapped counts readahead put off because Config.MaxLoads loads
	// were in flight.
	LoadsCapped int64
	// Loads is the readahead loads in flight now.
	Loads int64
	// IdleReclaims counts readers whose readahead was dropped for idling.
	IdleReclaims int64
	// BudgetUsed and BudgetPeak are the bytes reserved now and at most.
	BudgetUsed, BudgetPeak int64
}

// Stats returns the counters.
func (p *Prefetcher) Stats() Stats {
	return Stats{
		ReadaheadBlocks: p.stats.readahead.Load(), HeldHits: p.stats.heldHits.Load(),
		Resets: p.stats.resets.Load(), RandomReads: p.stats.randomReads.Load(),
		BudgetShort: p.stats.budgetShort.Load(), IdleReclaims: p.stats.idleReclaims.Load(),
		LoadsCapped: p.stats.loadsCapped.Load(), Loads: p.loads.Load(),
		BudgetUsed: p.budget.Used(), BudgetPeak: p.budget.Peak(),
	}
}
