package prefetch

import (
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tierfs/tierfs/cache"
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

type counters struct {
	readahead, heldHits, resets, randomReads, budgetShort, idleReclaims, loadsCapped, youngReads, leftCancelled atomic.Int64
}

// Stats are a Prefetcher's counters since it was made.
type Stats struct {
	// ReadaheadBlocks counts blocks fetched ahead of their reader.
	ReadaheadBlocks int64
	// HeldHits counts block reads served from blocks a reader held.
	HeldHits int64
	// YoungReads counts reads of young streams (windows under a block),
	// which fetch the window's bytes with the read instead of blocks.
	YoungReads int64
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
	// LeftCancelled counts readahead loads let go while still running
	// because their reader jumped elsewhere (their loads are cancelled
	// unless another reader wants them).
	LeftCancelled int64
	// IdleReclaims counts readers whose readahead was dropped for idling.
	IdleReclaims int64
	// BudgetUsed and BudgetPeak are the bytes reserved now and at most.
	BudgetUsed, BudgetPeak int64
}

// Stats returns the counters.
func (p *Prefetcher) Stats() Stats {
	return Stats{
		ReadaheadBlocks: p.stats.readahead.Load(), HeldHits: p.stats.heldHits.Load(), YoungReads: p.stats.youngReads.Load(), LeftCancelled: p.stats.leftCancelled.Load(),
		Resets: p.stats.resets.Load(), RandomReads: p.stats.randomReads.Load(),
		BudgetShort: p.stats.budgetShort.Load(), IdleReclaims: p.stats.idleReclaims.Load(),
		LoadsCapped: p.stats.loadsCapped.Load(), Loads: p.loads.Load(),
		BudgetUsed: p.budget.Used(), BudgetPeak: p.budget.Peak(),
	}
}
