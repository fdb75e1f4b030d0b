package cache

import (
	"context"
	"io"
	"sync"
)

// Promotion: a block a reader found in a lower tier (disk) is copied up
// into the tiers above it by a background worker, not on the reader's
// path. A block copied up needs memory the upper tier will keep, and
// memory a process touches for the first time is slow to get (each page
// faults: about 21 ms for 8 MiB on the 2-core VMs this is built on, 40
// times a copy into memory already in use), so a reader that waited for
// the copy would read a disk tier at a fraction of its speed. The reader
// instead reads the lower tier in place, into its own buffer, and the
// worker promotes behind it. The queue is bounded: a promotion that finds
// it full is dropped (counted), and the block is promoted on a later
// read. Sparse reads do not promote: a small read is no reason to copy a
// whole block up.

// promoteQueue is how many promotions may wait.
const promoteQueue = 16

type promotion struct {
	key    string
	length int64
	from   int // the tier that holds the block
}

// promoter copies blocks up the tiers on one goroutine.
type promoter struct {
	b     *Blocks
	queue chan promotion

	mu      sync.Mutex          // guards pending and idle
	pending map[string]struct{} // queued or being copied, by key
	idle    *sync.Cond          // signalled when pending empties
}

func newPromoter(b *Blocks) *promoter {
	p := &promoter{b: b, queue: make(chan promotion, promoteQueue), pending: map[string]struct{}{}}
	p.idle = sync.NewCond(&p.mu)
	return p
}

// offer queues the promotion of block key (length bytes) from tier from,
// unless it is queued already or the queue is full.
func (p *promoter) offer(key string, length int64, from int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.pending[key]; ok {
		return
	}
	select {
	case p.queue <- promotion{key: key, length: length, from: from}:
		p.pending[key] = struct{}{}
	default:
		p.b.stats.promotionsDropped.Add(1)
	}
}

// run copies the queued blocks up until ctx is done.
func (p *promoter) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			p.mu.Lock()
			clear(p.pending)
			p.idle.Broadcast()
			p.mu.Unlock()
			return
		case pr := <-p.queue:
			p.promote(ctx, pr)
			p.mu.Lock()
			delete(p.pending, pr.key)
			if len(p.pending) == 0 {
				p.idle.Broadcast()
			}
			p.mu.Unlock()
		}
	}
}

// promote reads the block from its tier and offers it to the tiers above
// it that do not hold it yet.
func (p *promoter) promote(ctx context.Context, pr promotion) {
	b := p.b
	if b.tiers[0].Contains(pr.key) {
		return
	}
	data := make([]byte, pr.length)
	n, err := b.tiers[pr.from].ReadAt(ctx, pr.key, data, 0)
	if int64(n) != pr.length || (err != nil && err != io.EOF) {
		return // evicted or damaged meanwhile: nothing to promote
	}
	b.fill(ctx, pr.key, data, pr.from)
}

// wait returns when no promotion is queued or running.
func (p *promoter) wait() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for len(p.pending) > 0 {
		p.idle.Wait()
	}
}
