package cache

import (
	"context"
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"
)

// progressStep is how many bytes a fetch receives between wake-ups of the
// readers waiting on it.
const progressStep = 256 << 10

// flight is one block being loaded. Its bytes become readable as they
// arrive, so a reader waiting for the start of a block does not wait for
// its end: the first byte of a cold read costs one round trip, not one
// block transfer.
//
// A flight is reference-counted: every Handle holds one reference, and
// every demand read holds one while it waits and copies. When the last
// reference goes before the load has ended, nobody wants the block any
// more and the load is cancelled. The memory reserved for the flight's
// buffer is returned when the load has ended and no reference is left.
type flight struct {
	key    string
	length int64  // the block's length
	data   []byte // the whole block; bytes [0, filled) are final; nil once reused (no reference left)

	mu       sync.Mutex    // guards filled, err, progress, segs and waitingOnPeer
	filled   int64         // bytes of data received
	err      error         // set when the load failed; final
	progress chan struct{} // closed and replaced when filled or err change
	segs     []segment     // where the bytes came from, in order of offset
	// waitingOnPeer is set while the load waits on a peer's answer: a
	// load for a peer must not join it (the two members could wait on
	// each other).
	waitingOnPeer bool
	done          chan struct{} // closed when the load has ended, either way

	// The fields below are guarded by Blocks.mu.
	refs      int
	ended     bool               // the load's goroutine has finished
	abandoned bool               // cancelled for want of readers; left the map
	keep      bool               // a reader asked bytes of it: it runs to the end, unless abandoned (Handle.Abandon)
	keepPart  bool               // abandoned after a reader asked bytes of it: what arrived is kept as an extent
	parts     int                // LoadOptions.Parts
	once      bool               // loaded for a stream: the first tier keeps it only on a second load
	retained  bool               // a tier kept data: the buffer is not reused
	tierHolds int                // tiers (tier.Releaser) still reading data: reused when they are done
	reserved  int64              // bytes to return to the budget once ended and unreferenced
	cancel    context.CancelFunc // cancels the load
}

// segment says that the bytes of a flight up to end came from src.
type segment struct {
	end int64
	src int
}

func newFlight(key string, data []byte) *flight {
	return &flight{key: key, length: int64(len(data)), data: data, progress: make(chan struct{}), done: make(chan struct{})}
}

// advance records that data[:n] is final and came from src, and wakes the
// waiters.
func (f *flight) advance(n int64, src int) {
	f.mu.Lock()
	f.filled = n
	if k := len(f.segs) - 1; k >= 0 && f.segs[k].src == src {
		f.segs[k].end = n
	} else {
		f.segs = append(f.segs, segment{end: n, src: src})
	}
	close(f.progress)
	f.progress = make(chan struct{})
	f.mu.Unlock()
}

// finish ends the load with err (nil: the whole block is in data).
func (f *flight) finish(err error) {
	f.mu.Lock()
	f.err = err
	close(f.progress)
	f.progress = make(chan struct{})
	f.mu.Unlock()
	close(f.done)
}

// setWaitingOnPeer marks whether the load is waiting on a peer.
func (f *flight) setWaitingOnPeer(on bool) {
	f.mu.Lock()
	f.waitingOnPeer = on
	f.mu.Unlock()
}

func (f *flight) isWaitingOnPeer() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.waitingOnPeer
}

// wait returns when data[:end] is final, the load failed, or ctx is done.
func (f *flight) wait(ctx context.Context, end int64) error {
	for {
		f.mu.Lock()
		filled, err, ch := f.filled, f.err, f.progress
		f.mu.Unlock()
		if filled >= end {
			return nil
		}
		if err != nil {
			return err
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("cache: waiting for a block: %w", ctx.Err())
		}
	}
}

// ready reports whether data[:end] is final.
func (f *flight) ready(end int64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.filled >= end
}

// sources calls fn for each run of [from, to) with the source its bytes
// came from. The bytes must be final.
func (f *flight) sources(from, to int64, fn func(src int, n int64)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	start := int64(0)
	for _, s := range f.segs {
		lo, hi := max(start, from), min(s.end, to)
		if hi > lo {
			fn(s.src, hi-lo)
		}
		start = s.end
	}
}

// progressWriter copies a body into a flight's buffer, advancing it every
// progressStep bytes.
type progressWriter struct {
	f        *flight
	src      int
	received *atomic.Int64 // the cache's count of bytes received, if not nil
	n        int64         // bytes written
	last     int64         // bytes announced
	limit    int64         // where the range fetched ends (0: the block's end)
	silent   bool          // announces nothing: a range past bytes not arrived yet (a split load's)
}

func (w *progressWriter) Write(p []byte) (int, error) {
	limit := w.limit
	if limit == 0 {
		limit = int64(len(w.f.data))
	}
	if w.n+int64(len(p)) > limit {
		return 0, fmt.Errorf("cache: body longer than the range asked")
	}
	copy(w.f.data[w.n:], p)
	w.n += int64(len(p))
	if w.received != nil {
		w.received.Add(int64(len(p)))
	}
	if w.n-w.last >= progressStep && !w.silent {
		w.f.advance(w.n, w.src)
		w.last = w.n
	}
	return len(p), nil
}

// flush announces the bytes written and not announced yet.
func (w *progressWriter) flush() {
	if w.n > w.last {
		w.f.advance(w.n, w.src)
		w.last = w.n
	}
}

// Handle is a reference to a block being loaded or loaded, returned by
// [Blocks.Load]. Its bytes become readable as they arrive. The holder must
// call Release when it no longer needs the block: the block's memory stays
// reserved from Config.Budget while any handle holds it, and a load that
// no handle holds any more before it ends is cancelled.
type Handle struct {
	b        *Blocks
	f        *flight
	forPeer  bool       // a Local load: bytes read go to a peer, not a reader, and are not counted as served
	mu       sync.Mutex // guards released
	released bool
}

// Wait returns when the block's bytes [0, end) have arrived, the load
// failed (its error), or ctx is done.
func (h *Handle) Wait(ctx context.Context, end int64) error { return h.f.wait(ctx, end) }

// Ready reports whether the bytes [0, end) have arrived.
func (h *Handle) Ready(end int64) bool { return h.f.ready(end) }

// Done is closed when the load has ended, either way.
func (h *Handle) Done() <-chan struct{} { return h.f.done }

// Err returns the load's error once Done is closed.
func (h *Handle) Err() error {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	return h.f.err
}

// Len returns the block's length in bytes.
func (h *Handle) Len() int64 { return h.f.length }

// ReadAt copies the block's bytes at off into p, waiting for them under
// ctx, and counts them as served from where the load found them. It reads
// within the block only: off+len(p) must not pass Len.
func (h *Handle) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	end := off + int64(len(p))
	if off < 0 || end > h.f.length {
		return 0, fmt.Errorf("cache: %w: read [%d, %d) of a %d-byte block", fs.ErrInvalid, off, end, h.f.length)
	}
	if err := h.f.wait(ctx, end); err != nil {
		return 0, err
	}
	n := copy(p, h.f.data[off:end])
	if !h.forPeer {
		h.b.served(h.f, off, end)
	}
	return n, nil
}

// View returns the block's bytes [off, end), waiting for them under ctx,
// and counts them as served as ReadAt does, without copying them: the
// slice is the cache's own buffer. It is valid, and must not be modified,
// until the handle is released (the buffer may then be reused for
// another block).
func (h *Handle) View(ctx context.Context, off, end int64) ([]byte, error) {
	if off < 0 || end < off || end > h.f.length {
		return nil, fmt.Errorf("cache: %w: view [%d, %d) of a %d-byte block", fs.ErrInvalid, off, end, h.f.length)
	}
	if err := h.f.wait(ctx, end); err != nil {
		return nil, err
	}
	if !h.forPeer {
		h.b.served(h.f, off, end)
	}
	return h.f.data[off:end:end], nil
}

// Demand returns another handle on the same load, for a reader that needs
// its bytes: the load then runs to its end even if every other handle is
// released. The caller must Release it too. It must be called while h is
// held (not released).
func (h *Handle) Demand() *Handle {
	h.b.mu.Lock()
	h.f.refs++
	h.f.keep = true
	h.b.mu.Unlock()
	return &Handle{b: h.b, f: h.f, forPeer: h.forPeer}
}

// Release gives the reference back. It is idempotent.
func (h *Handle) Release() { h.give(false) }

// Abandon gives the reference back as Release does, and if it was the last
// one, stops the load even though a reader asked bytes of it (Demand): the
// reader has left the block and nobody else holds it. The bytes that had
// arrived are kept as an extent (see extents.go), so a reader that comes
// back fetches only the rest.
func (h *Handle) Abandon() { h.give(true) }

func (h *Handle) give(abandon bool) {
	h.mu.Lock()
	done := h.released
	h.released = true
	h.mu.Unlock()
	if !done {
		h.b.unref(h.f, abandon)
	}
}
