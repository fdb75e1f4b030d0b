package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/tier"
)

// ReadOptions qualify ReadAt.
type ReadOptions struct {
	// Sparse serves a miss by fetching only the bytes asked for, which are
	// then cached as an extent (see the package doc), instead of loading
	// the whole block: right for random small reads, which whole blocks
	// would amplify. A block already being loaded is waited for instead.
	// A sparse read of a block a lower tier holds does not promote it: a
	// small read is no reason to copy a whole block up.
	Sparse bool
	// Ahead, for a sparse read, extends the fetch of a miss that reaches
	// the read's end by up to this many bytes past it (within the object,
	// and stopping at a block a tier holds or a load brings): the reader
	// of a young sequential stream gets its next bytes with the same
	// request. They are kept as extents like the rest.
	Ahead int64
}

// ReadAt reads len(p) bytes of obj's version at off, with the io.ReaderAt
// contract: fewer bytes only at the end of the object, with io.EOF. Every
// byte is of obj.Version: a block the cache does not hold and the origin no
// longer has in that version fails with an error wrapping
// objstore.ErrChanged.
//
// Each block the read touches is looked up once: the first tier, then the
// extents, then the lower tiers in place (a whole read has the block
// promoted to the tiers above behind it), then a load in progress; a miss
// loads the whole block through the lookup chain (reserving its bytes from
// Config.Budget, waiting for them under ctx) or, for a sparse read,
// fetches only the bytes asked for: from the block's owner in the ring if
// it already holds them (CachedFetcher), otherwise from the origin. Sparse
// misses of consecutive blocks that go to the origin are fetched with one
// request.
func (b *Blocks) ReadAt(ctx context.Context, obj objstore.Object, p []byte, off int64, opts ReadOptions) (int, error) {
	if b.closed.Load() {
		return 0, fmt.Errorf("cache: read %q: %w", obj.Key, fs.ErrClosed)
	}
	if off < 0 {
		return 0, fmt.Errorf("cache: read %q: %w: negative offset %d", obj.Key, fs.ErrInvalid, off)
	}
	if off >= obj.Size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), obj.Size-off)
	// Sparse misses of consecutive blocks are fetched together: run is
	// where in p the misses not yet fetched start.
	done, run := int64(0), int64(-1)
	fetchRun := func() error {
		if run < 0 {
			return nil
		}
		var ahead int64
		if opts.Sparse && done == want {
			ahead = b.aheadRoom(obj, off+want, opts.Ahead)
		}
		err := b.fetchRange(ctx, obj, p[run:done], off+run, ahead)
		if err == nil {
			run = -1
		}
		return err
	}
	for done < want {
		pos := off + done
		idx := pos / b.blockSize
		boff := pos - idx*b.blockSize
		n := min(want-done, b.blockSize-boff)
		if opts.Sparse {
			// An extent that covers the start of this block's part: its
			// bytes are served, and only the rest is looked up.
			if got := b.readExtentStart(ctx, Key(b.storeID, obj, b.blockSize, idx), p[done:done+n], boff); got > 0 {
				if ferr := fetchRun(); ferr != nil {
					return int(run), ferr
				}
				done += got
				continue
			}
		}
		miss, err := b.readBlock(ctx, obj, idx, p[done:done+n], boff, opts.Sparse)
		if err == nil && miss {
			if run < 0 {
				run = done
			}
			done += n
			continue
		}
		if ferr := fetchRun(); ferr != nil {
			return int(run), ferr
		}
		if err != nil {
			return int(done), err
		}
		done += n
	}
	if err := fetchRun(); err != nil {
		return int(run), err
	}
	if done < int64(len(p)) {
		return int(done), io.EOF
	}
	return int(done), nil
}

// readBlock fills dst from block idx of obj, starting boff bytes into it,
// or, for a sparse read, reports a miss (no tier or extent has the bytes
// and no load of the block is under way): the caller fetches them with
// fetchRange.
func (b *Blocks) readBlock(ctx context.Context, obj objstore.Object, idx int64, dst []byte, boff int64, sparse bool) (miss bool, err error) {
	key := Key(b.storeID, obj, b.blockSize, idx)
	if len(b.tiers) > 0 {
		// The first tier's lookup is a hit if its block or an extent it
		// holds serves the bytes; a miss is counted once both missed.
		if b.readTier(ctx, 0, key, dst, boff, false) {
			return false, nil
		}
	}
	// An extent (kept mostly by the first tier) before a lower tier's
	// whole block, which is read there in place; a whole read has the
	// block promoted to the tiers above behind it (see promote.go).
	if i, ok := b.readExtent(ctx, key, dst, boff); ok {
		b.stats.tiers[i].hits.Add(1)
		return false, nil
	}
	if len(b.tiers) > 0 {
		b.stats.tiers[0].misses.Add(1)
	}
	for i := 1; i < len(b.tiers); i++ {
		if !b.tiers[i].Contains(key) {
			b.stats.tiers[i].misses.Add(1)
			continue
		}
		if b.readTier(ctx, i, key, dst, boff, true) {
			if !sparse {
				_, blen, _ := BlockSpan(idx, obj.Size, b.blockSize)
				b.promoter.offer(key, blen, i)
			}
			return false, nil
		}
	}
	var f *flight
	if sparse {
		if f, err = b.join(key, false, true); f == nil && err == nil {
			return true, nil
		}
	} else {
		f, err = b.load(ctx, obj, idx, LoadOptions{}, true)
	}
	if err != nil {
		return false, err
	}
	defer b.unref(f, false)
	end := boff + int64(len(dst))
	if err := f.wait(ctx, end); err != nil {
		return false, err
	}
	copy(dst, f.data[boff:end])
	b.served(f, boff, end)
	return false, nil
}

// readTier fills dst from tier i's copy of block key, counting a hit, and
// a miss if countMiss. A tier that fails is a miss, logged.
func (b *Blocks) readTier(ctx context.Context, i int, key string, dst []byte, boff int64, countMiss bool) bool {
	n, err := b.tiers[i].ReadAt(ctx, key, dst, boff)
	if n == len(dst) && (err == nil || err == io.EOF) {
		b.stats.tiers[i].hits.Add(1)
		b.stats.served[i].Add(int64(n))
		return true
	}
	if countMiss {
		b.stats.tiers[i].misses.Add(1)
	}
	if !errors.Is(err, tier.ErrMiss) {
		b.log.Debug("cache: tier read failed", "tier", b.names[i], "err", err)
	}
	return false
}

// readExtent fills dst from an extent of block key that covers [boff,
// boff+len(dst)), from the first tier that holds it, and returns that
// tier's index (the caller counts the lookup's hit).
func (b *Blocks) readExtent(ctx context.Context, key string, dst []byte, boff int64) (int, bool) {
	e, ok := b.extents.find(key, boff, boff+int64(len(dst)))
	if !ok {
		return 0, false
	}
	for i, t := range b.tiers {
		n, err := t.ReadAt(ctx, e.key, dst, boff-e.start)
		if n == len(dst) && (err == nil || err == io.EOF) {
			b.stats.extentHits.Add(1)
			b.stats.served[i].Add(int64(n))
			return i, true
		}
	}
	// Evicted from every tier: forget it.
	b.extents.forget1(key, e)
	return 0, false
}

// readExtentStart copies into dst the bytes of an extent of block key that
// covers boff but ends before boff+len(dst), from the first tier that
// holds it, and returns how many (0 if there is no such extent).
func (b *Blocks) readExtentStart(ctx context.Context, key string, dst []byte, boff int64) int64 {
	e, ok := b.extents.find(key, boff, boff+1)
	if !ok || e.end >= boff+int64(len(dst)) {
		return 0 // none, or one that covers it all (readBlock serves it)
	}
	part := dst[:e.end-boff]
	for i, t := range b.tiers {
		n, err := t.ReadAt(ctx, e.key, part, boff-e.start)
		if n == len(part) && (err == nil || err == io.EOF) {
			b.stats.extentHits.Add(1)
			b.stats.tiers[i].hits.Add(1) // a lookup of the part it served
			b.stats.served[i].Add(int64(n))
			return int64(n)
		}
	}
	b.extents.forget1(key, e)
	return 0
}

// fetchRange fetches the bytes [start, start+len(dst)) of obj, and keeps
// each block's part of them as an extent: with peers that can answer
// from their caches (CachedFetcher), each block's part is asked of its
// owner first, the last one with up to ahead more bytes of its block;
// what they do not give is fetched from the origin, consecutive bytes
// with one request, the last with up to ahead more bytes.
func (b *Blocks) fetchRange(ctx context.Context, obj objstore.Object, dst []byte, start, ahead int64) error {
	cf, ok := b.peers.(CachedFetcher)
	if !ok || b.peers == nil {
		return b.fetchOrigin(ctx, obj, dst, start, ahead)
	}
	// run is where in dst the bytes left for the origin start (-1: none).
	run := int64(-1)
	for done := int64(0); done < int64(len(dst)); {
		pos := start + done
		idx := pos / b.blockSize
		boff := pos - idx*b.blockSize
		_, blen, err := BlockSpan(idx, obj.Size, b.blockSize)
		if err != nil {
			return err
		}
		n := min(int64(len(dst))-done, blen-boff)
		var extra int64
		if done+n == int64(len(dst)) {
			extra = min(ahead, blen-boff-n)
		}
		got := b.fetchPeerCached(ctx, cf, obj, idx, dst[done:done+n], boff, extra)
		if got > 0 && run >= 0 {
			// The origin's bytes end where the peer's begin.
			if err := b.fetchOrigin(ctx, obj, dst[run:done], start+run, 0); err != nil {
				return err
			}
			run = -1
		}
		if got < n && run < 0 {
			run = done + got
		}
		done += n
	}
	if run >= 0 {
		return b.fetchOrigin(ctx, obj, dst[run:], start+run, ahead)
	}
	return nil
}

// fetchPeerCached asks the peers for the bytes of dst, at boff in block
// idx of obj (and up to extra more bytes of the block, kept but not
// returned), only if the block's owner holds them; it returns how many
// bytes of dst it filled, from the start, counted as served from peers
// and kept as an extent.
func (b *Blocks) fetchPeerCached(ctx context.Context, cf CachedFetcher, obj objstore.Object, idx int64, dst []byte, boff, extra int64) int64 {
	key := Key(b.storeID, obj, b.blockSize, idx)
	ref := BlockRef{StoreID: b.storeID, Object: obj, BlockSize: b.blockSize, Index: idx, Key: key}
	buf := dst
	if extra > 0 {
		buf = make([]byte, int64(len(dst))+extra)
	}
	n, err := cf.FetchCached(ctx, ref, buf, boff)
	n = max(0, min(n, len(buf)))
	if err != nil && !errors.Is(err, ErrNoPeer) && !errors.Is(err, ErrNotCached) {
		b.stats.peerErrors.Add(1)
		b.log.Debug("cache: cached fetch from a peer failed; going to the origin", "key", obj.Key, "block", idx, "at", boff+int64(n), "err", err)
	}
	if err == nil && n < len(buf) {
		n = 0 // a broken promise: trust none of it
	}
	if n == 0 {
		return 0
	}
	got := min(int64(n), int64(len(dst)))
	if extra > 0 {
		copy(dst, buf[:got])
	}
	b.stats.served[b.srcPeer()].Add(got)
	b.keep(ctx, obj, idx*b.blockSize+boff, buf[:n])
	return got
}

// fetchOrigin fetches the bytes [start, start+len(dst)) of obj, and up to
// ahead more, from the origin with one request, and keeps each block's
// part of them as an extent.
func (b *Blocks) fetchOrigin(ctx context.Context, obj objstore.Object, dst []byte, start, ahead int64) error {
	buf := dst
	if ahead > 0 {
		buf = make([]byte, int64(len(dst))+ahead)
	}
	b.stats.originFetches.Add(1)
	r, err := b.store.NewRangeReader(ctx, obj.Key, start, int64(len(buf)), objstore.ReadOptions{Version: obj.Version})
	if err != nil {
		b.stats.originErrors.Add(1)
		return err
	}
	defer r.Close()
	n, err := io.ReadFull(r, buf)
	b.stats.originBytes.Add(int64(n))
	if err != nil {
		b.stats.originErrors.Add(1)
		return fmt.Errorf("cache: read %q at %d: %w", obj.Key, start, err)
	}
	copy(dst, buf)
	b.stats.served[b.srcOrigin()].Add(int64(len(dst)))
	b.keep(ctx, obj, start, buf)
	return nil
}

// ReadCached reads len(p) bytes of obj's version at off from the tiers
// only: each block's part from a tier that holds the whole block or from
// an extent that covers it. It never starts or joins a load and never
// asks a peer or the origin: it is how a member answers a peer's sparse
// read (CachedFetcher), and a load for a peer must never forward. It
// returns len(p) and nil, or 0 and an error wrapping ErrNotCached if a
// byte is not held (fs.ErrInvalid for a range outside the object). Like
// a Local handle's reads, it counts nothing in Stats: the bytes go to a
// peer, not to a reader of this process.
func (b *Blocks) ReadCached(ctx context.Context, obj objstore.Object, p []byte, off int64) (int, error) {
	if b.closed.Load() {
		return 0, fmt.Errorf("cache: read %q: %w", obj.Key, fs.ErrClosed)
	}
	if off < 0 || off+int64(len(p)) > obj.Size {
		return 0, fmt.Errorf("cache: read %q: %w: %d bytes at %d of %d", obj.Key, fs.ErrInvalid, len(p), off, obj.Size)
	}
	for done := int64(0); done < int64(len(p)); {
		pos := off + done
		idx := pos / b.blockSize
		boff := pos - idx*b.blockSize
		n := min(int64(len(p))-done, b.blockSize-boff)
		if !b.readHeld(ctx, Key(b.storeID, obj, b.blockSize, idx), p[done:done+n], boff) {
			return 0, fmt.Errorf("cache: read %q at %d: %w", obj.Key, pos, ErrNotCached)
		}
		done += n
	}
	return len(p), nil
}

// readHeld fills dst from block key at boff out of a tier that holds the
// whole block, or an extent that covers the bytes, counting nothing.
func (b *Blocks) readHeld(ctx context.Context, key string, dst []byte, boff int64) bool {
	full := func(n int, err error) bool { return n == len(dst) && (err == nil || err == io.EOF) }
	for _, t := range b.tiers {
		if t.Contains(key) && full(t.ReadAt(ctx, key, dst, boff)) {
			return true
		}
	}
	e, ok := b.extents.find(key, boff, boff+int64(len(dst)))
	if !ok {
		return false
	}
	for _, t := range b.tiers {
		if full(t.ReadAt(ctx, e.key, dst, boff-e.start)) {
			return true
		}
	}
	b.extents.forget1(key, e) // evicted from every tier
	return false
}

// aheadRoom returns how many bytes past end (up to ahead) a sparse fetch
// may take in: within the object, and not into a block that a tier holds
// or a load is bringing.
func (b *Blocks) aheadRoom(obj objstore.Object, end, ahead int64) int64 {
	if ahead <= 0 || len(b.tiers) == 0 {
		return 0 // nothing would keep the bytes
	}
	stop := min(obj.Size, end+ahead)
	for idx := end / b.blockSize; idx*b.blockSize < stop; idx++ {
		if idx*b.blockSize > end-1 && b.Cached(obj, idx) {
			stop = idx * b.blockSize
			break
		}
	}
	return max(stop-end, 0)
}

// ServedFromOrigin counts n bytes that the caller fetched from the origin
// itself and gave to a reader without the cache (FS.ReadFile returns the
// first bytes its open fetched) as served from the origin, so that the
// bytes served by source add up to the bytes readers were given.
func (b *Blocks) ServedFromOrigin(n int64) {
	b.stats.served[b.srcOrigin()].Add(n)
}

// Keep offers bytes of obj at off that the caller fetched from the origin
// itself (as FS.Open does with a file's first bytes) to the cache: each
// whole block they cover is offered to the tiers as a block, and each part
// of a block as an extent, so that later reads of them, and the load of
// their block, need not fetch them again. The cache keeps its own copy.
func (b *Blocks) Keep(ctx context.Context, obj objstore.Object, off int64, data []byte) {
	if b.closed.Load() || off < 0 || off+int64(len(data)) > obj.Size {
		return
	}
	b.keep(ctx, obj, off, data)
}

func (b *Blocks) keep(ctx context.Context, obj objstore.Object, off int64, data []byte) {
	if len(b.tiers) == 0 {
		return
	}
	for done := int64(0); done < int64(len(data)); {
		pos := off + done
		idx := pos / b.blockSize
		boff := pos - idx*b.blockSize
		_, blen, err := BlockSpan(idx, obj.Size, b.blockSize)
		if err != nil {
			return
		}
		n := min(int64(len(data))-done, blen-boff)
		piece := make([]byte, n)
		copy(piece, data[done:done+n])
		key := Key(b.storeID, obj, b.blockSize, idx)
		if boff == 0 && n == blen {
			b.fill(ctx, key, piece, len(b.tiers))
		} else {
			ekey := extentKey(key, boff, n)
			b.fill(ctx, ekey, piece, len(b.tiers))
			b.extents.add(key, extent{start: boff, end: boff + n, key: ekey})
		}
		done += n
	}
}
