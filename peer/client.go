package peer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/tierfs/tierfs/cache"
	"github.com/tierfs/tierfs/objstore"
)

// Causes of a fallback from a peer to the next owner or the origin.
var (
	errStall   = errors.New("peer: stalled")
	errBusy    = errors.New("peer: owner busy or its load waits on a peer")
	errTimeout = errors.New("peer: fetch timed out")
	errClosed  = errors.New("peer: member closed")
	errGaveUp  = errors.New("peer: a member asking for the block as its secondary gave up on the owner")
)

// Fetch implements cache.Peers: it asks the block's primary owner, then
// its secondary, for the bytes of dst from `from` on, verifying every
// frame before announcing it with progress. It answers an error wrapping
// cache.ErrNoPeer when this member owns the block, no other member is
// live, every owner is in the penalty box, or this member is the
// block's secondary and the primary failed (the ring asks it next, so
// the cache keeps the block); otherwise an error means
// the cache goes on from the origin at the returned offset. A peer that
// fails, stalls for Config.StallTimeout or sends a frame that does not
// verify is put in the penalty box. A load that goes on to the origin
// because an owner other than this member failed or was skipped is an
// origin fallback, capped by Config.MaxFallbacks (see Origin).
func (m *Member) Fetch(ctx context.Context, ref cache.BlockRef, dst []byte, from int64, progress func(n int64)) (int64, error) {
	if !m.running.Load() || m.closed.Load() {
		return from, fmt.Errorf("peer: not running: %w", cache.ErrNoPeer)
	}
	if from >= int64(len(dst)) {
		return from, nil // nothing left to ask for
	}
	if ref.StoreID != m.cfg.StoreID || ref.BlockSize != m.cfg.BlockSize {
		return from, fmt.Errorf("peer: block of another store or block size: %w", cache.ErrNoPeer)
	}
	v := m.View()
	p, s := m.owners(v, ref.Object, ref.Index)
	var ident []byte
	asked, passed := false, false // passed: an owner other than this member was skipped or failed
	var errs []error
	next := false // this member is the owner next after one passed
	for _, i := range [...]int{p, s} {
		if i < 0 || v.Nodes[i].Name == m.cfg.Name {
			next = i >= 0 && passed
			break // this member owns it (next): it loads from the origin
		}
		node := v.Nodes[i]
		passed = true
		if m.penalty.boxed(node.Name) {
			m.stats.fallbacks[causePenalized].Add(1)
			continue
		}
		if ident == nil {
			ident = refIdentity(ref)
		}
		asked = true
		m.stats.fetches.Add(1)
		path := blockPath
		if i == s && passed && i != p {
			path = secondPath
		}
		n, err := m.fetchFrom(ctx, node, path, ref, ident, dst, from, progress)
		from = n
		if err == nil {
			m.penalty.clear(node.Name)
			return from, nil
		}
		if ctx.Err() != nil || m.closed.Load() {
			return from, err
		}
		c := cause(err)
		m.stats.fallbacks[c].Add(1)
		if c != causeBusy {
			if m.penalty.add(node.Name) {
				m.stats.penalized.Add(1)
			}
		}
		m.log.Debug("peer: fetch from a peer failed", "peer", node.Name, "key", ref.Object.Key, "block", ref.Index, "at", from, "err", err)
		errs = append(errs, fmt.Errorf("peer %s: %w", node.Name, err))
	}
	if passed {
		// The cache goes to the origin for the rest: a fallback, capped
		// by the store Origin wraps.
		m.stats.originFallbacks.Add(1)
		if m.fallbacks.slots != nil {
			m.fallbacks.mark(ref, from)
		}
	}
	if !asked {
		return from, fmt.Errorf("peer: no live owner to ask: %w", cache.ErrNoPeer)
	}
	if next {
		// The ring asks this member next for the block: the cache keeps
		// it, as for a block it owns.
		return from, fmt.Errorf("peer: this member owns the block next: %w: %w", cache.ErrNoPeer, errors.Join(errs...))
	}
	return from, errors.Join(errs...)
}

// owners returns the primary and secondary owner of block idx of obj in
// v (see View.BlockOwners).
func (m *Member) owners(v *View, obj objstore.Object, idx int64) (primary, secondary int) {
	bs := m.cfg.BlockSize
	return v.BlockOwners(cache.Key(m.cfg.StoreID, obj, bs, -1), cache.NumBlocks(obj.Size, bs), idx,
		func(i int64) string { return cache.Key(m.cfg.StoreID, obj, bs, i) })
}

// Owns reports whether this member is the primary owner of the block ref
// names in its current view (cache.Owner): the cache then loads it from
// the origin at once, keeps it for the ring, and never marks the load as
// waiting on a peer.
func (m *Member) Owns(ref cache.BlockRef) bool {
	if !m.running.Load() || m.closed.Load() || ref.StoreID != m.cfg.StoreID || ref.BlockSize != m.cfg.BlockSize {
		return false
	}
	v := m.View()
	p, _ := m.owners(v, ref.Object, ref.Index)
	return p >= 0 && v.Nodes[p].Name == m.cfg.Name
}

var _ cache.Owner = (*Member)(nil)

// fetchFrom asks one peer for dst[from:] and returns the offset up to
// which dst holds verified bytes.
func (m *Member) fetchFrom(ctx context.Context, node Node, path string, ref cache.BlockRef, ident, dst []byte, from int64, progress func(int64)) (int64, error) {
	return m.get(ctx, request{node: node, path: path, ref: ref, ident: ident, from: from, length: -1}, dst, 0, progress)
}

// request is one request for bytes of a block to one peer.
type request struct {
	node   Node
	path   string
	ref    cache.BlockRef
	ident  []byte // refIdentity(ref)
	from   int64  // the first byte asked, in the block
	length int64  // bytes asked (cachedPath); -1: to the block's end
}

// get sends rq, signed, and reads the verified frames of the answer into
// dst, whose first byte is the block's byte at base (base ≤ rq.from),
// announcing each with progress. It returns the offset in the block up
// to which dst holds verified bytes. A block request is tracked, so that
// a member asking as the block's secondary can make it give up (see
// inflight.go); a range request (cachedPath) is not, and a 404 to it is
// an error wrapping cache.ErrNotCached.
func (m *Member) get(ctx context.Context, rq request, dst []byte, base int64, progress func(int64)) (int64, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, m.cfg.FetchTimeout, errTimeout)
	defer cancel()
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	defer context.AfterFunc(m.ctx, func() { stop(errClosed) })()
	cached := rq.path == cachedPath
	fetched := &m.stats.bytesFetched
	if cached {
		fetched = &m.stats.cachedBytesFetched
	} else {
		defer m.track(rq.ref.Key, stop)()
	}
	stall := time.AfterFunc(m.cfg.StallTimeout, func() { stop(errStall) })
	defer stall.Stop()

	ref, from := rq.ref, rq.from
	var nonce [nonceLen]byte
	rand.Read(nonce[:])
	ts := m.cfg.Now().UnixNano()
	sig := signRequest(m.keys.request, http.MethodGet, rq.path, rq.ident, from, rq.length, ts, nonce[:])
	q := url.Values{
		qStore: {ref.StoreID}, qKey: {ref.Object.Key}, qETag: {ref.Object.Version.ETag}, qVersionID: {ref.Object.Version.ID},
		qSize: {strconv.FormatInt(ref.Object.Size, 10)}, qBlockSize: {strconv.FormatInt(ref.BlockSize, 10)},
		qIndex: {strconv.FormatInt(ref.Index, 10)}, qFrom: {strconv.FormatInt(from, 10)},
	}
	if cached {
		q.Set(qLen, strconv.FormatInt(rq.length, 10))
	}
	u := url.URL{Scheme: m.scheme, Host: rq.node.DataAddr, Path: rq.path, RawQuery: q.Encode()}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return from, err
	}
	req.Header.Set(hdrTime, formatTime(ts))
	req.Header.Set(hdrNonce, hex.EncodeToString(nonce[:]))
	req.Header.Set(hdrSig, hex.EncodeToString(sig))
	resp, err := m.client.Do(req)
	if err != nil {
		return from, withCause(ctx, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusNotFound && cached:
		return from, fmt.Errorf("peer: %s: %w", resp.Status, cache.ErrNotCached)
	case resp.StatusCode == http.StatusConflict, resp.StatusCode == http.StatusServiceUnavailable, resp.StatusCode == http.StatusBadGateway:
		return from, fmt.Errorf("%w: %s", errBusy, resp.Status)
	default:
		return from, fmt.Errorf("peer: %s", resp.Status)
	}
	t := newFrameTagger(m.keys.frame, nonce[:], rq.ident)
	off, end := from, base+int64(len(dst))
	for off < end {
		stall.Reset(m.cfg.StallTimeout)
		n, err := t.readFrame(resp.Body, off, dst[off-base:], m.cfg.FrameSize)
		if err != nil {
			return off, withCause(ctx, err)
		}
		off += int64(n)
		fetched.Add(int64(n))
		progress(off)
	}
	return off, nil
}

// FetchCached implements cache.CachedFetcher: it asks the primary owner
// of the block ref names, and no other member, for the bytes of dst at
// off in the block, only if the owner already holds them in its tiers
// (the owner never starts a load for it). It returns how many bytes of
// dst, from its start, are verified. It answers an error wrapping
// cache.ErrNoPeer without a request when this member owns the block, no
// other member is live, or the owner is in the penalty box, and one
// wrapping cache.ErrNotCached when the owner does not hold the bytes;
// the cache then reads them from the origin (not capped by
// Config.MaxFallbacks). An owner that fails, stalls or sends a frame
// that does not verify is put in the penalty box, as by Fetch.
func (m *Member) FetchCached(ctx context.Context, ref cache.BlockRef, dst []byte, off int64) (int, error) {
	if !m.running.Load() || m.closed.Load() {
		return 0, fmt.Errorf("peer: not running: %w", cache.ErrNoPeer)
	}
	if len(dst) == 0 {
		return 0, nil
	}
	if ref.StoreID != m.cfg.StoreID || ref.BlockSize != m.cfg.BlockSize {
		return 0, fmt.Errorf("peer: block of another store or block size: %w", cache.ErrNoPeer)
	}
	if _, length, err := cache.BlockSpan(ref.Index, ref.Object.Size, ref.BlockSize); err != nil || off < 0 || off+int64(len(dst)) > length {
		return 0, fmt.Errorf("peer: %d bytes at %d of block %d: %w", len(dst), off, ref.Index, fs.ErrInvalid)
	}
	v := m.View()
	p, _ := m.owners(v, ref.Object, ref.Index)
	if p < 0 || v.Nodes[p].Name == m.cfg.Name {
		return 0, fmt.Errorf("peer: this member owns the block: %w", cache.ErrNoPeer)
	}
	node := v.Nodes[p]
	if m.penalty.boxed(node.Name) {
		m.stats.fallbacks[causePenalized].Add(1)
		return 0, fmt.Errorf("peer: owner %s is in the penalty box: %w", node.Name, cache.ErrNoPeer)
	}
	m.stats.cachedFetches.Add(1)
	rq := request{node: node, path: cachedPath, ref: ref, ident: refIdentity(ref), from: off, length: int64(len(dst))}
	end, err := m.get(ctx, rq, dst, off, func(int64) {})
	n := int(end - off)
	switch {
	case err == nil:
		m.stats.cachedHits.Add(1)
		m.penalty.clear(node.Name)
		return n, nil
	case errors.Is(err, cache.ErrNotCached):
		return n, err
	case ctx.Err() != nil || m.closed.Load():
		return n, err
	}
	c := cause(err)
	m.stats.fallbacks[c].Add(1)
	if c != causeBusy && m.penalty.add(node.Name) {
		m.stats.penalized.Add(1)
	}
	m.log.Debug("peer: cached fetch from a peer failed", "peer", node.Name, "key", ref.Object.Key, "block", ref.Index, "at", end, "err", err)
	return n, fmt.Errorf("peer %s: %w", node.Name, err)
}

var _ cache.CachedFetcher = (*Member)(nil)

// withCause returns err, or the reason ctx ended if it did.
func withCause(ctx context.Context, err error) error {
	if c := context.Cause(ctx); c != nil && !errors.Is(err, c) {
		return fmt.Errorf("%w: %w", c, err)
	}
	return err
}

func cause(err error) int {
	switch {
	case errors.Is(err, errFrame):
		return causeCorrupt
	case errors.Is(err, errStall), errors.Is(err, errTimeout):
		return causeStall
	case errors.Is(err, errBusy):
		return causeBusy
	case errors.Is(err, errGaveUp):
		return causeGaveUp
	}
	return causeError
}

// penaltyBox holds peers that failed: a boxed peer is skipped until its
// time is up; each failure in a row doubles the time, up to max.
type penaltyBox struct {
	base, max time.Duration
	now       func() time.Time
	mu        sync.Mutex // guards peers
	peers     map[string]penalty
}

type penalty struct {
	until   time.Time
	strikes int
}

func (b *penaltyBox) init(base, max time.Duration, now func() time.Time) {
	b.base, b.max, b.now, b.peers = base, max, now, make(map[string]penalty)
}

func (b *penaltyBox) boxed(name string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, ok := b.peers[name]
	return ok && b.now().Before(p.until)
}

// add boxes name, reporting whether it was free.
func (b *penaltyBox) add(name string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.peers[name]
	now := b.now()
	free := !now.Before(p.until)
	d := b.base << min(p.strikes, 20)
	if d > b.max || d <= 0 {
		d = b.max
	}
	p.strikes++
	p.until = now.Add(d)
	b.peers[name] = p
	return free
}

func (b *penaltyBox) clear(name string) {
	b.mu.Lock()
	delete(b.peers, name)
	b.mu.Unlock()
}
