package cache

import (
	"context"
	"fmt"
	"sync"
)

// progressStep is how many bytes a fetch receives between wake-ups of the
// readers waiting on it.
const progressStep = 256 << 10

// flight is one block being loaded. Its bytes become readable as they
// arrive, so a reader waiting for the start of a block does not wait for
// its end: the first byte of a cold read costs one round trip, not one
// block transfer.
type flight struct {
	data []byte // the whole block; bytes [0, filled) are final
	pre  int64  // bytes given at the start (StartWithPrefix); the load fetches the rest

	mu       sync.Mutex    // guards filled, err and progress
	filled   int64         // bytes of data received
	err      error         // set when the load failed; final
	progress chan struct{} // closed and replaced when filled or err change
	done     chan struct{} // closed when the load has ended, either way
}

func newFlight(length int64) *flight {
	return &flight{data: make([]byte, length), progress: make(chan struct{}), done: make(chan struct{})}
}

// advance records that data[:n] is final and wakes the waiters.
func (f *flight) advance(n int64) {
	f.mu.Lock()
	f.filled = n
	close(f.progress)
	f.progress = make(chan struct{})
	f.mu.Unlock()
}

// finish ends the load with err (nil: the whole block is in data).
func (f *flight) finish(err error) {
	f.mu.Lock()
	if err == nil {
		f.filled = int64(len(f.data))
	}
	f.err = err
	close(f.progress)
	f.progress = make(chan struct{})
	f.mu.Unlock()
	close(f.done)
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

// waitDone returns when the load has ended (the block offered to the
// tiers), with its error, or when ctx is done.
func (f *flight) waitDone(ctx context.Context) error {
	select {
	case <-f.done:
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.err
	case <-ctx.Done():
		return fmt.Errorf("cache: waiting for a block: %w", ctx.Err())
	}
}

// progressWriter copies a body into a flight's buffer, advancing it every
// progressStep bytes.
type progressWriter struct {
	f    *flight
	n    int64 // bytes written
	last int64 // bytes announced
}

func (w *progressWriter) Write(p []byte) (int, error) {
	if w.n+int64(len(p)) > int64(len(w.f.data)) {
		return 0, fmt.Errorf("cache: body longer than its block")
	}
	copy(w.f.data[w.n:], p)
	w.n += int64(len(p))
	if w.n-w.last >= progressStep {
		w.f.advance(w.n)
		w.last = w.n
	}
	return len(p), nil
}
