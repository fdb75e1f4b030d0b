package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime/debug"

	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/tier"
)

// load is the one way a block enters a flight: it joins the load of block
// idx of obj in progress, or reserves the block's bytes as opts say and
// starts one, and returns it with a reference taken for the caller (give
// it back with unref). The load runs b.lookup on its own goroutine,
// detached from ctx under Config.FetchTimeout.
//
// demand says the caller is a reader that asked for bytes of the block (or
// a warmup): its load runs to the end whoever still holds it, so the block
// is cached. Other loads (readahead through a Handle) are cancelled when
// their last reference goes before they end. A demand caller has already
// missed the first tier; the lookup looks there again only with Contains,
// for a load that filled it in between.
func (b *Blocks) load(ctx context.Context, obj objstore.Object, idx int64, opts LoadOptions, demand bool) (*flight, error) {
	off, length, err := BlockSpan(idx, obj.Size, b.blockSize)
	if err != nil {
		return nil, err
	}
	key := Key(b.storeID, obj, b.blockSize, idx)
	var reserved int64
	for {
		if f, err := b.join(key, opts.Local, demand); f != nil || err != nil {
			b.release(reserved)
			return f, err
		}
		if b.budget != nil && reserved == 0 {
			if opts.Reserve == ReserveTry {
				if !b.budget.TryAcquire(length) {
					return nil, ErrNoBudget
				}
			} else if err := b.budget.Acquire(ctx, length); err != nil {
				return nil, fmt.Errorf("cache: read %q: waiting for memory: %w", obj.Key, err)
			}
			reserved = length
		}
		b.mu.Lock()
		if b.flights[key] == nil {
			break // with b.mu held
		}
		b.mu.Unlock() // started while this caller waited: join it
	}
	if b.stopping {
		b.mu.Unlock()
		b.release(reserved)
		return nil, fmt.Errorf("cache: fetch %q: %w", obj.Key, fs.ErrClosed)
	}
	f := newFlight(key, b.buffers.get(length))
	f.refs, f.reserved, f.keep, f.once = 1, reserved, demand, opts.Once && obj.Size >= b.onceMin
	f.parts = min(opts.Parts, maxParts)
	// The load is detached from ctx; unref cancels it with errAbandoned
	// when nobody wants it any more, Close with errClosing.
	actx, abandon := context.WithCancelCause(context.WithoutCancel(ctx))
	fctx, cancel := context.WithTimeout(actx, b.timeout)
	f.cancel = func() { abandon(errAbandoned) }
	b.flights[key] = f
	b.wg.Add(1)
	b.mu.Unlock()
	b.stats.loads.Add(1)
	b.stats.running.Add(1)
	stopAfter := context.AfterFunc(b.stop, func() { abandon(errClosing) })
	from := 0
	if demand && len(b.tiers) > 0 {
		from = 1
	}
	go func() {
		defer b.wg.Done()
		defer b.stats.running.Add(-1)
		defer cancel()
		defer stopAfter()
		err := b.lookup(fctx, obj, idx, off, f, from, opts.Local)
		if err != nil {
			b.keepPart(fctx, obj, off, f)
		}
		// Leave the map only after the tiers were offered the block, so a
		// reader arriving now finds it in the first tier.
		b.mu.Lock()
		if b.flights[key] == f {
			delete(b.flights, key)
		}
		delete(b.leaving, f)
		f.ended = true
		var rel int64
		var free []byte
		if f.refs == 0 {
			rel, f.reserved = f.reserved, 0
			free = f.reusable()
		}
		b.mu.Unlock()
		f.finish(err)
		b.release(rel)
		if free != nil {
			b.buffers.put(free)
		}
	}()
	return f, nil
}

// keepPart keeps the bytes a load abandoned by a reader that had asked
// bytes of it (Handle.Abandon) received before it stopped, as an extent,
// if there are at least minGap of them: fewer cost less fetched again.
func (b *Blocks) keepPart(ctx context.Context, obj objstore.Object, off int64, f *flight) {
	b.mu.Lock()
	part := f.keepPart && !b.stopping
	b.mu.Unlock()
	if !part || !errors.Is(context.Cause(ctx), errAbandoned) {
		return
	}
	f.mu.Lock()
	n := f.filled
	f.mu.Unlock()
	if n >= minGap && n < f.length {
		b.keep(context.WithoutCancel(ctx), obj, off, f.data[:n])
	}
}

// join takes a reference on the load of key in progress, if any: (nil,
// nil) if there is none. A local load refuses one waiting on a peer.
func (b *Blocks) join(key string, local, demand bool) (*flight, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.flights[key]
	if f == nil {
		return nil, nil
	}
	if local && f.isWaitingOnPeer() {
		return nil, ErrPeerWait
	}
	f.refs++
	f.keep = f.keep || demand
	f.once = f.once && !demand
	b.stats.shared.Add(1)
	return f, nil
}

// unref gives back a reference taken by load. The last one cancels a load
// nobody asked bytes of, or returns the reservation of one that ended.
func (b *Blocks) unref(f *flight, abandon bool) {
	b.mu.Lock()
	f.refs--
	var rel int64
	var free []byte
	if f.refs == 0 {
		switch {
		case f.ended:
			rel, f.reserved = f.reserved, 0
			free = f.reusable()
		case (abandon || !f.keep) && !f.abandoned:
			// A block a reader asked bytes of and then left (Abandon)
			// keeps what arrived: the reader may come back.
			f.abandoned, f.keepPart = true, f.keep
			if b.flights[f.key] == f {
				delete(b.flights, f.key)
			}
			b.leaving[f] = struct{}{}
			f.cancel()
			b.stats.cancelled.Add(1)
		}
	}
	b.mu.Unlock()
	b.release(rel)
	if free != nil {
		b.buffers.put(free)
	}
}

// reusable returns f's buffer for reuse, once, if no tier kept it and none
// still reads it (tier.Releaser): the caller saw that the load has ended
// and nobody holds it. Called with Blocks.mu held.
func (f *flight) reusable() []byte {
	if f.retained || f.tierHolds > 0 || f.data == nil {
		return nil
	}
	d := f.data
	f.data = nil
	return d
}

func (b *Blocks) release(n int64) {
	if b.budget != nil && n > 0 {
		b.budget.Release(n)
	}
}

// lookup is the lookup chain of one block, in the shape of groupcache's
// load: the tiers in order from tier `from` (a lower tier's hit fills the
// tiers above it), then an extent that starts the block (the first bytes
// an open fetched), then the peers (unless local), then the origin from
// the last byte received; a block from a peer or the origin fills every
// tier. A panic becomes the load's error.
func (b *Blocks) lookup(ctx context.Context, obj objstore.Object, idx, off int64, f *flight, from int, local bool) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cache: fetch %q block %d: panic: %v\n%s", obj.Key, idx, r, debug.Stack())
		}
	}()
	key, length := f.key, int64(len(f.data))
	if from > 0 && b.tiers[0].Contains(key) {
		from = 0 // filled by a load that ended after the caller's miss
	}
	for i := from; i < len(b.tiers); i++ {
		t := b.tiers[i]
		if i > 0 || from == 0 {
			if !t.Contains(key) {
				b.stats.tiers[i].misses.Add(1)
				continue
			}
		}
		n, err := t.ReadAt(ctx, key, f.data, 0)
		if int64(n) == length && (err == nil || err == io.EOF) {
			b.stats.tiers[i].hits.Add(1)
			f.advance(length, i)
			b.fillFlight(ctx, f, i)
			return nil
		}
		b.stats.tiers[i].misses.Add(1)
		if !errors.Is(err, tier.ErrMiss) {
			b.log.Debug("cache: tier read failed", "tier", b.names[i], "err", err)
		}
	}
	pre := b.readPrefix(ctx, key, f)
	owned := false
	if o, ok := b.peers.(Owner); ok && b.peers != nil && !local {
		owned = o.Owns(BlockRef{StoreID: b.storeID, Object: obj, BlockSize: b.blockSize, Index: idx, Key: key})
		if owned {
			// The ring will ask this member for the block: keep it.
			b.mu.Lock()
			f.once = false
			b.mu.Unlock()
		}
	}
	if b.peers != nil && !local && !owned {
		f.setWaitingOnPeer(true)
		ref := BlockRef{StoreID: b.storeID, Object: obj, BlockSize: b.blockSize, Index: idx, Key: key}
		n, perr := b.peers.Fetch(ctx, ref, f.data, pre, func(end int64) { f.advance(end, b.srcPeer()) })
		f.setWaitingOnPeer(false)
		if errors.Is(perr, ErrNoPeer) {
			// This member owns the block (or is alone): the ring will ask
			// it for the block, so it keeps it even if streamed once.
			b.mu.Lock()
			f.once = false
			b.mu.Unlock()
		}
		if n > pre {
			f.advance(n, b.srcPeer())
			pre = n
		}
		if perr == nil && pre == length {
			b.stats.peerHits.Add(1)
			b.fillFlight(ctx, f, len(b.tiers))
			return nil
		}
		if perr != nil && !errors.Is(perr, ErrNoPeer) {
			b.stats.peerErrors.Add(1)
			b.log.Debug("cache: peer fetch failed; going to the origin", "key", obj.Key, "block", idx, "at", pre, "err", perr)
		}
	}
	// The origin fills the gaps: up to the next extent the tiers hold
	// (the bytes of earlier sparse reads, at least minGap of them: a
	// smaller one costs less fetched again than a request more), then
	// that extent and those that join it, and so on to the block's end.
	for pre < length {
		end := length
		if e, ok := b.extents.next(key, pre, minGap); ok {
			end = e.start
		}
		if f.parts > 1 && pre == 0 && end == length {
			// A split load: the whole block in parallel ranges; on a
			// failed range, the rest is fetched as a gap.
			if pre = b.fetchParts(ctx, obj, idx, off, f); pre < length && ctx.Err() != nil {
				return fmt.Errorf("cache: fetch %q block %d: %w", obj.Key, idx, context.Cause(ctx))
			}
			continue
		}
		if err := b.fetchGap(ctx, obj, idx, off, f, pre, end); err != nil {
			return err
		}
		pre = b.readExtentsFrom(ctx, key, f, end)
	}
	b.fillFlight(ctx, f, len(b.tiers))
	return nil
}

// minGap is the smallest extent a load reads from the tiers instead of
// fetching its bytes again with the rest of the block: below it, the
// round trip of the request after it costs more than the bytes.
const minGap = 256 << 10

// fetchGap fetches the bytes [from, to) of block idx (at off in the
// object) into f from the origin.
func (b *Blocks) fetchGap(ctx context.Context, obj objstore.Object, idx, off int64, f *flight, from, to int64) error {
	return b.fetchSpan(ctx, obj, idx, off, f, from, to, false)
}

// fetchSpan fetches the bytes [from, to) of block idx into f, announcing
// them as they arrive unless silent.
func (b *Blocks) fetchSpan(ctx context.Context, obj objstore.Object, idx, off int64, f *flight, from, to int64, silent bool) error {
	b.stats.originFetches.Add(1)
	r, err := b.store.NewRangeReader(ctx, obj.Key, off+from, to-from, objstore.ReadOptions{Version: obj.Version})
	if err != nil {
		b.originFailed(ctx)
		return err
	}
	defer r.Close()
	w := &progressWriter{f: f, src: b.srcOrigin(), n: from, last: from, received: &b.stats.received, limit: to, silent: silent}
	n, err := io.Copy(w, r)
	b.stats.originBytes.Add(n)
	if err == nil && n != to-from {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		b.originFailed(ctx)
		return fmt.Errorf("cache: fetch %q block %d: %w", obj.Key, idx, err)
	}
	if !silent {
		w.flush()
	}
	return nil
}

// fetchParts fetches block idx (at off in the object) into f in f.parts
// ranges at once: the first announces its bytes as they arrive, the others
// each when it ends and all before it have. It waits for every range it
// started (none writes into f after it returns) and returns the end of the
// bytes announced: the block's length, or where the first failed range
// begins, for the caller to fetch from there on. f.parts is cleared, so the
// caller's next attempt is a plain one.
func (b *Blocks) fetchParts(ctx context.Context, obj objstore.Object, idx, off int64, f *flight) int64 {
	length := int64(len(f.data))
	size := (length + int64(f.parts) - 1) / int64(f.parts)
	f.parts = 0
	type part struct {
		start, end int64
		done       chan struct{}
		err        error
	}
	var rest []*part
	for start := size; start < length; start += size {
		p := &part{start: start, end: min(start+size, length), done: make(chan struct{})}
		rest = append(rest, p)
		go func() {
			defer close(p.done)
			p.err = b.fetchSpan(ctx, obj, idx, off, f, p.start, p.end, true)
		}()
	}
	pos := int64(0)
	if err := b.fetchGap(ctx, obj, idx, off, f, 0, min(size, length)); err == nil {
		pos = min(size, length)
	} else {
		f.mu.Lock()
		pos = f.filled
		f.mu.Unlock()
	}
	for _, p := range rest {
		<-p.done
		if p.err == nil && pos == p.start {
			f.advance(p.end, b.srcOrigin())
			pos = p.end
		}
	}
	return pos
}

// fillFlight offers a loaded block to the tiers above tier `below`, and
// marks its buffer taken. A block streamed once (LoadOptions.Once) that
// was not loaded before skips the first tier (see admit.go).
func (b *Blocks) fillFlight(ctx context.Context, f *flight, below int) {
	b.mu.Lock()
	once := f.once
	b.mu.Unlock()
	from := 0
	if once && b.onceTiers > 0 && !b.seen.seen(f.key) {
		from = b.onceTiers
		b.stats.admitDeferred.Add(1)
	}
	if from >= below {
		return
	}
	for i := from; i < below; i++ {
		var err error
		if r, ok := b.tiers[i].(tier.Releaser); ok {
			// The tier gives the buffer back when it is done with it.
			b.mu.Lock()
			f.tierHolds++
			b.mu.Unlock()
			err = r.PutRelease(ctx, f.key, f.data, func() { b.tierDone(f) })
		} else {
			b.mu.Lock()
			f.retained = true
			b.mu.Unlock()
			err = b.tiers[i].Put(ctx, f.key, f.data)
		}
		if err != nil {
			b.log.Debug("cache: fill failed", "tier", b.names[i], "err", err)
			continue
		}
		if below < len(b.tiers) {
			b.stats.tiers[i].promotions.Add(1)
		}
	}
}

// tierDone is a tier's release of a flight's buffer (tier.Releaser): the
// buffer is reused once the load has ended, nobody holds it and no tier
// still reads it.
func (b *Blocks) tierDone(f *flight) {
	b.mu.Lock()
	f.tierHolds--
	var free []byte
	if f.refs == 0 && f.ended {
		free = f.reusable()
	}
	b.mu.Unlock()
	if free != nil {
		b.buffers.put(free)
	}
}

var (
	errAbandoned = errors.New("cache: load cancelled: no reader wants the block")
	errClosing   = fmt.Errorf("cache: load cancelled: %w", fs.ErrClosed)
)

// originFailed counts a failed origin fetch, unless the load was cancelled
// because nobody wanted it or the cache is closing.
func (b *Blocks) originFailed(ctx context.Context) {
	if c := context.Cause(ctx); !errors.Is(c, errAbandoned) && !errors.Is(c, errClosing) {
		b.stats.originErrors.Add(1)
	}
}

// readPrefix copies into f the extents that start the block, one after
// the other as long as they join up (an open's first bytes, a young
// stream's fetches), from the first tier that has each, and returns how
// many bytes they gave (0 if none).
func (b *Blocks) readPrefix(ctx context.Context, key string, f *flight) int64 {
	return b.readExtentsFrom(ctx, key, f, 0)
}

// readExtentsFrom copies into f the extents that cover pre and those that
// join them, as readPrefix does from the block's start, and returns where
// the bytes they gave end (pre if none).
func (b *Blocks) readExtentsFrom(ctx context.Context, key string, f *flight, pre int64) int64 {
	for pre < int64(len(f.data)) {
		e, ok := b.extents.find(key, pre, pre+1)
		if !ok || e.end > int64(len(f.data)) {
			break
		}
		got := false
		for i, t := range b.tiers {
			n, err := t.ReadAt(ctx, e.key, f.data[pre:e.end], pre-e.start)
			if int64(n) == e.end-pre && (err == nil || err == io.EOF) {
				b.stats.extentHits.Add(1)
				f.advance(e.end, i)
				got = true
				break
			}
		}
		if !got {
			b.extents.forget1(key, e)
			break
		}
		pre = e.end
	}
	return pre
}

// fill offers data to the tiers above tier `below`, counting promotions
// when it came from a tier. Tiers do not wait for slow storage and may
// drop the block; a failure is logged, not returned: the readers have
// their bytes.
func (b *Blocks) fill(ctx context.Context, key string, data []byte, below int) {
	for i := 0; i < below; i++ {
		if err := b.tiers[i].Put(ctx, key, data); err != nil {
			b.log.Debug("cache: fill failed", "tier", b.names[i], "err", err)
			continue
		}
		if below < len(b.tiers) {
			b.stats.tiers[i].promotions.Add(1)
		}
	}
}

// served counts the bytes [from, to) of a flight as served to a reader,
// by where they came from.
func (b *Blocks) served(f *flight, from, to int64) {
	f.sources(from, to, func(src int, n int64) { b.stats.served[src].Add(n) })
}
