package prefetch

import (
	"context"
	"sync/atomic"

	"golang.org/x/sync/semaphore"
)

// Budget is a memory budget in bytes shared by readahead and the cache's
// loads in flight. It implements cache.Budget. A request larger than the
// whole budget is cut to the budget, so it waits for everything rather
// than forever.
type Budget struct {
	size int64
	sem  *semaphore.Weighted
	used atomic.Int64
	peak atomic.Int64
}

// NewBudget returns a budget of size bytes.
func NewBudget(size int64) *Budget {
	return &Budget{size: size, sem: semaphore.NewWeighted(size)}
}

func (b *Budget) clamp(n int64) int64 { return min(n, b.size) }

// Acquire reserves n bytes, waiting until they are free or ctx is done.
func (b *Budget) Acquire(ctx context.Context, n int64) error {
	if err := b.sem.Acquire(ctx, b.clamp(n)); err != nil {
		return err
	}
	b.note(b.clamp(n))
	return nil
}

// TryAcquire reserves n bytes if they are free now.
func (b *Budget) TryAcquire(n int64) bool {
	if !b.sem.TryAcquire(b.clamp(n)) {
		return false
	}
	b.note(b.clamp(n))
	return true
}

// Release returns n bytes.
func (b *Budget) Release(n int64) {
	b.used.Add(-b.clamp(n))
	b.sem.Release(b.clamp(n))
}

func (b *Budget) note(n int64) {
	u := b.used.Add(n)
	for p := b.peak.Load(); u > p && !b.peak.CompareAndSwap(p, u); p = b.peak.Load() {
	}
}

// Size returns the budget in bytes.
func (b *Budget) Size() int64 { return b.size }

// Used returns the bytes reserved now.
func (b *Budget) Used() int64 { return b.used.Load() }

// Peak returns the most bytes ever reserved at once.
func (b *Budget) Peak() int64 { return b.peak.Load() }
