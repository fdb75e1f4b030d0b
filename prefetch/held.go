package prefetch

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"time"

	"github.com/tierfs/tierfs/cache"
)

// Held blocks: the loads a Reader keeps ahead of its streams, each a
// reference on the cache's load (cache.Handle). The cache fetches; the
// Reader only plans which blocks to hold and lets go of those no stream
// needs, which cancels their loads if nobody else wants them.

// readSequential serves a read of an established stream block by block:
// from a block this Reader holds, else from the first tier (or a load
// another reader started), else by loading the block and holding it. When
// the budget has no room for the block, the Reader lets go of all it holds
// (so readers never hold memory while waiting for more) and fetches only
// the bytes asked for.
//
// The first time a read has to wait for a load, it doubles the stream's
// window (grow) and starts the loads the larger window takes in before it
// waits, so a stream that has not caught up yet widens at once rather than
// after the block it waits for has arrived.
//
// A read longer than two blocks lets go of each block once it has copied
// it to the block's end, and tops up the loads ahead of it, so that one
// huge ReadAt streams through the budget instead of holding all of it.
//
// With w set, the bytes go to w instead, block by block, in order: those
// of a held block straight from the cache's buffer, the others through p.
// The count returned is then of bytes written.
func (r *Reader) readSequential(p []byte, off int64, si int, w io.Writer) (int64, error) {
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
		var h *cache.Handle // this read's own reference on a held load
		if a != nil {
			h = a.Demand()
		}
		keepFrom, inHead := r.det.keepFrom(si), pos+n <= r.headLen
		partial := r.det.beforeStart(si, idx)
		r.mu.Unlock()
		if a == nil && inHead {
			// The bytes an open fetched are in the cache (unless its
			// tiers let them go): read them as a sparse read does.
			if err := r.readOnly(dst, pos); err != nil {
				return done, err
			}
			if err := emit(w, dst); err != nil {
				return done, err
			}
			done += n
			continue
		}
		if a == nil && r.p.blocks.Cached(r.obj, idx) {
			if _, err := r.p.blocks.ReadAt(r.ctx, r.obj, dst, pos, cache.ReadOptions{}); err != nil && err != io.EOF {
				return done, err
			}
			if err := emit(w, dst); err != nil {
				return done, err
			}
			done += n
			continue
		}
		if a == nil && ((idx+1)*r.bs <= keepFrom || partial) {
			// A straggler behind the blocks the stream keeps (its block
			// was fetched and let go), or a read in the block the stream
			// began inside (its young fetches hold the bytes past the
			// start): fetch only the bytes asked, not yet cached.
			if err := r.readOnly(dst, pos); err != nil {
				return done, err
			}
			if err := emit(w, dst); err != nil {
				return done, err
			}
			done += n
			continue
		}
		if a == nil {
			var err error
			a, h, err = r.load(idx, false)
			if isNoBudget(err) {
				r.mu.Lock()
				r.dropAll()
				r.mu.Unlock()
				r.p.stats.budgetShort.Add(1)
				if err := r.readOnly(dst, pos); err != nil {
					return done, err
				}
				if err := emit(w, dst); err != nil {
					return done, err
				}
				done += n
				continue
			}
			if err != nil {
				return done, err
			}
		}
		wasReady := h.Ready(boff + n)
		err := r.copyHeld(h, dst, boff, si, pos, &waited, w)
		h.Release()
		if err == nil {
			r.mu.Lock()
			r.tune.note(n, !wasReady)
			r.mu.Unlock()
		}
		if err != nil {
			if h.Err() != nil {
				// Forget the failed block so a later read tries again.
				r.mu.Lock()
				if r.held[idx] == a {
					r.release(idx)
				}
				r.mu.Unlock()
			}
			return done, err
		}
		r.p.stats.heldHits.Add(1)
		done += n
		if big && boff+n == a.Len() && done < int64(len(p)) {
			r.mu.Lock()
			if r.held[idx] == a {
				r.release(idx)
			}
			r.mu.Unlock()
			if !r.p.cfg.Disabled {
				r.schedule(si, off+done)
			}
		}
	}
	return done, nil
}

// copyHeld copies dst's bytes of a held block from h, starting boff into
// the block, waiting for them; with w set, it writes them to w from the
// cache's buffer instead (dst only gives their count). The first time a
// read of the stream has to wait (waited), it widens the window.
func (r *Reader) copyHeld(h *cache.Handle, dst []byte, boff int64, si int, pos int64, waited *bool, w io.Writer) error {
	end := boff + int64(len(dst))
	if !h.Ready(end) && !*waited {
		// The reader caught up with the load: widen the window now.
		*waited = true
		r.widen(si, pos)
	}
	if err := r.waitWidening(h, end, si, pos); err != nil {
		return err
	}
	if w == nil {
		_, err := h.ReadAt(r.ctx, dst, boff)
		return err
	}
	b, err := h.View(r.ctx, boff, end)
	if err != nil {
		return err
	}
	return emit(w, b)
}

// A WriteError is a failed write to the Writer of Reader.CopyTo, as
// opposed to a failed read. Err is the Writer's error.
type WriteError struct{ Err error }

func (e *WriteError) Error() string { return e.Err.Error() }
func (e *WriteError) Unwrap() error { return e.Err }

// emit writes b to w, if w is set; a short write is io.ErrShortWrite. A
// failure is a *WriteError.
func emit(w io.Writer, b []byte) error {
	if w == nil {
		return nil
	}
	n, err := w.Write(b)
	if err == nil && n < len(b) {
		err = io.ErrShortWrite
	}
	if err != nil {
		return &WriteError{err}
	}
	return nil
}

// readOnly fetches only the bytes of dst (a sparse read of the cache).
func (r *Reader) readOnly(dst []byte, pos int64) error {
	if _, err := r.p.blocks.ReadAt(r.ctx, r.obj, dst, pos, cache.ReadOptions{Sparse: true}); err != nil && err != io.EOF {
		return err
	}
	return nil
}

// widenEvery is how long a reader waits for a load before its stream's
// window doubles again: a reader still waiting after it is limited by the
// loads in flight, so more of them, up to Concurrency and the budget, will
// help. It is about two round trips to S3.
const widenEvery = 50 * time.Millisecond

// widen doubles stream si's window and starts the loads it takes in from
// pos on, if readahead is on.
func (r *Reader) widen(si int, pos int64) {
	if r.p.cfg.Disabled || si < 0 {
		return
	}
	r.mu.Lock()
	if si < len(r.det.streams) {
		r.det.grow(si)
	}
	r.mu.Unlock()
	r.schedule(si, pos)
}

// tail is the end of a load of n bytes that no longer counts against the
// tuner's count of loads in flight: the next load starts as a load enters
// it, so that its request's round trip passes while the link still
// carries the tail, instead of after it. Loads that share a link evenly
// end together, and without the overlap the loads that follow them would
// all start together too, and the link would idle for a round trip each
// time (in scenario 1b, a dip of a sixth of the rate every 0.45 s). An
// eighth of a block: 1 MiB of 8 MiB, which lasts 20-50 ms at the 20-50
// MB/s a connection gets when several share a link, about a round trip to
// S3. None for blocks under minSplit, whose requests cost more than
// their bytes.
func tail(n int64) int64 {
	if n < minSplit {
		return 0
	}
	return n / 8
}

// waitWidening waits for h's bytes [0, end), widening stream si's window
// every widenEvery that it is still waiting. Bytes already there cost no
// timer. A wait past the start of h's tail stops there once to start the
// loads that the loads in their tails make room for (schedule).
func (r *Reader) waitWidening(h *cache.Handle, end int64, si int, pos int64) error {
	if h.Ready(end) {
		return nil
	}
	if t := h.Len() - tail(h.Len()); t < end && !h.Ready(t) {
		if err := r.waitFor(h, t, si, pos); err != nil {
			return err
		}
		if !r.p.cfg.Disabled {
			r.schedule(si, pos)
		}
		if h.Ready(end) {
			return nil
		}
	}
	return r.waitFor(h, end, si, pos)
}

// waitFor waits for h's bytes [0, end), widening stream si's window every
// widenEvery that it is still waiting.
func (r *Reader) waitFor(h *cache.Handle, end int64, si int, pos int64) error {
	for {
		ctx, cancel := context.WithTimeout(r.ctx, widenEvery)
		err := h.Wait(ctx, end)
		cancel()
		if herr := h.Err(); err != nil && herr != nil {
			// The load failed as the timer fired: its error, not the
			// timer's.
			return herr
		}
		if err == nil || r.ctx.Err() != nil {
			return err
		}
		r.stalled(si)
		r.widen(si, pos)
	}
}

// stalled ends the tuner's sample while the reader waits for a load of
// stream si (tuner.stalled), widening the stream's window to hold a
// raised count.
func (r *Reader) stalled(si int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if si < 0 || r.p.cfg.Disabled {
		return
	}
	if r.tune.stalled(r.p.now(), r.p.blocks.Received(), r.bs) && si < len(r.det.streams) {
		r.det.fit(si, int64(r.tune.conc)*r.bs)
	}
}

// load starts holding block idx, if the budget has room for it now
// (cache.ErrNoBudget otherwise), and returns the held handle and, unless
// slot is set, a reference of the caller's own on it (Demand), to read
// from and release. With slot set,
// the caller has taken one of Config.MaxLoads (takeLoad) for readahead:
// it goes with the new load, or back if there is none.
func (r *Reader) load(idx int64, slot bool) (*cache.Handle, *cache.Handle, error) {
	kept := false // the slot went with the new load: its watcher gives it back
	if slot {
		defer func() {
			if !kept {
				r.p.loads.Add(-1)
			}
		}()
	}
	r.mu.Lock()
	if prev := r.held[idx]; prev != nil {
		h := prev.Demand()
		r.mu.Unlock()
		return prev, h, nil
	}
	parts := r.parts(idx)
	r.mu.Unlock()
	// Once: a stream's blocks enter the memory tier on a second pass,
	// not the first, so a one-shot scan neither flushes it nor holds the
	// object.
	h, err := r.p.blocks.Load(r.ctx, r.obj, idx, cache.LoadOptions{Reserve: cache.ReserveTry, Once: true, Parts: parts})
	if err != nil {
		return nil, nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if prev := r.held[idx]; prev != nil || r.closed {
		h.Release()
		if prev == nil {
			return nil, nil, fmt.Errorf("prefetch: read %q: %w", r.obj.Key, fs.ErrClosed)
		}
		return prev, prev.Demand(), nil
	}
	if slot {
		r.p.mu.Lock()
		if r.p.closed {
			r.p.mu.Unlock()
			h.Release()
			return nil, nil, fmt.Errorf("prefetch: read %q: %w", r.obj.Key, fs.ErrClosed)
		}
		r.p.wg.Add(1)
		r.p.mu.Unlock()
		kept = true
		// Give the slot back when the load ends. This outlives the
		// Reader, not the Prefetcher.
		go func() {
			defer r.p.wg.Done()
			<-h.Done()
			r.p.loads.Add(-1)
		}()
	}
	if r.held == nil {
		r.held = map[int64]*cache.Handle{} // made on first use: an open file that is not read holds none
	}
	r.held[idx] = h
	if slot {
		return h, nil, nil
	}
	return h, h.Demand(), nil
}

// parts returns how many ranges block idx is fetched in (0: one). The
// last blocks of an object, those within the tuner's count of its end,
// are fetched in two: no load starts after them to keep the link busy as
// they end, so each ends in half the time where a connection's own rate
// is the limit (scenario 1b's tail was a tenth of its time). Not a block
// under 2 MiB (the request would cost more than its bytes), nor the one
// block of an object, nor in a peer ring, whose owner loads whole blocks
// for all. Called with r.mu held.
func (r *Reader) parts(idx int64) int {
	_, length, err := cache.BlockSpan(idx, r.obj.Size, r.bs)
	if err != nil || r.nb < 2 || length < minSplit || idx < r.nb-int64(r.tune.conc) || r.p.blocks.Shared() {
		return 0
	}
	return 2
}

// minSplit is the smallest block parts splits.
const minSplit = 2 << 20

// takeLoad takes one of Config.MaxLoads for a readahead load, if one is
// free; load gives it back when the load ends.
func (p *Prefetcher) takeLoad() bool {
	if p.loads.Add(1) > int64(p.cfg.MaxLoads) {
		p.loads.Add(-1)
		return false
	}
	return true
}

// schedule starts loading the blocks of stream si from offset from (-1:
// the stream's position) to its window's end, at most the tuner's count of the
// Reader's loading at once and Config.MaxLoads over all Readers; a load
// the budget has no room for halves the window. It plans under r.mu and
// loads outside it.
func (r *Reader) schedule(si int, from int64) {
	r.mu.Lock()
	if r.closed || r.det.random || si < 0 || si >= len(r.det.streams) || r.det.streams[si].reads < 1 {
		r.mu.Unlock()
		return
	}
	s := r.det.streams[si]
	if from < 0 {
		from = s.next
	}
	first, last := from/r.bs, min((s.next+s.window-1)/r.bs, r.nb-1)
	conc := r.tune.conc
	loading, ahead := 0, 0
	for idx, a := range r.held {
		select {
		case <-a.Done():
		default:
			if !a.Ready(a.Len() - tail(a.Len())) {
				loading++ // a load in its tail leaves its place to the next
			}
		}
		if idx >= s.next/r.bs {
			ahead++
		}
	}
	// Blocks held ahead of the reader, loading or loaded and not read
	// yet, are at most twice the tuner's count, whatever the window: a
	// reader slower than the link so paces the loads instead of filling
	// its window with blocks it may skip; one that keeps up reads each
	// block as it arrives, and has only loads in flight (and room for
	// those that end out of order).
	maxAhead := 2 * conc
	var plan []int64
	for idx := first; idx <= last; idx++ {
		if r.held[idx] == nil && !r.det.beforeStart(si, idx) {
			plan = append(plan, idx)
		}
	}
	r.mu.Unlock()
	defer func() {
		if loading >= conc {
			r.mu.Lock()
			r.tune.full = true
			r.mu.Unlock()
		}
	}()
	for _, idx := range plan {
		if loading >= conc || ahead >= maxAhead {
			return
		}
		if r.p.blocks.Cached(r.obj, idx) {
			continue
		}
		if !r.p.takeLoad() {
			r.p.stats.loadsCapped.Add(1)
			return
		}
		a, _, err := r.load(idx, true)
		if isNoBudget(err) {
			r.p.stats.budgetShort.Add(1)
			r.mu.Lock()
			if si < len(r.det.streams) {
				r.det.shrink(si)
			}
			r.mu.Unlock()
			return
		}
		if err != nil {
			return
		}
		if a != nil {
			r.p.stats.readahead.Add(1)
		}
		loading++
		ahead++
	}
}

// trim lets go of held blocks no stream needs any more: behind every
// stream's backward band or past every stream's window. Called with r.mu
// held.
func (r *Reader) trim() {
	for idx := range r.held {
		if !r.det.wanted(idx * r.bs) {
			// Abandon: a block the stream read from and passed (a
			// skip within Forward) stops loading, keeping what arrived.
			r.abandon(idx)
		}
	}
}

// release lets go of block idx: its reservation returns to the budget
// once its load has ended, and a load nobody else wants is cancelled.
// Called with r.mu held.
func (r *Reader) release(idx int64) {
	r.held[idx].Release()
	delete(r.held, idx)
}

// abandon lets go of block idx as release does, stopping its load even if
// this Reader's reads had asked bytes of it (cache.Handle.Abandon). Called
// with r.mu held.
func (r *Reader) abandon(idx int64) {
	r.held[idx].Abandon()
	delete(r.held, idx)
}

// dropLeft lets go of the loads still running ahead of the streams the
// reader has just left by jumping elsewhere (starting stream except):
// readahead nobody will read unless the reader comes back, which a skip
// pattern never does, and the rest of the block each was reading. Their
// loads are cancelled (cache.Handle.Abandon), so a skip wastes only what
// had arrived; of a block a reader had read from, that is kept as an
// extent, for a reader that comes back. Loads that ended stay held (their
// bytes are cached anyway) until trimmed. Called with r.mu held.
func (r *Reader) dropLeft(except int) {
	for idx, a := range r.held {
		select {
		case <-a.Done():
			continue
		default:
		}
		if r.det.speculative(idx*r.bs, except) {
			r.abandon(idx)
			r.p.stats.leftCancelled.Add(1)
		}
	}
	r.det.left(except)
	r.tune.jumped = true
}

// dropAll lets go of every held block. Called with r.mu held.
func (r *Reader) dropAll() {
	for idx := range r.held {
		r.release(idx)
	}
}
