package peer

import (
	"context"
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/tierfs/tierfs/cache"
	"github.com/tierfs/tierfs/objstore"
)

// Query parameters of a block request.
const (
	qStore     = "s"
	qKey       = "k"
	qETag      = "e"
	qVersionID = "v"
	qSize      = "z"
	qBlockSize = "b"
	qIndex     = "i"
	qFrom      = "f"
	qLen       = "n" // bytes asked, in a range request (cachedPath)
)

var framePool = sync.Pool{New: func() any { return new([]byte) }}

// serve answers one block request: 401 with no body unless it is signed
// with the cluster secret, fresh and not seen before; 409 if the block's
// load here is itself waiting on a peer; 503 when too many are being
// served; otherwise 200 and the block's bytes from the asked offset, in
// frames, as they arrive. A load that fails mid-block cuts the response,
// which the client sees as an error and resumes elsewhere. A range
// request on cachedPath is answered from the tiers only (serveCached).
func (m *Member) serve(w http.ResponseWriter, r *http.Request, l Loader) {
	m.hmu.Lock()
	if m.stopping {
		m.hmu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	m.handlers.Add(1)
	m.hmu.Unlock()
	defer m.handlers.Done()
	second, cached := r.URL.Path == secondPath, r.URL.Path == cachedPath
	if r.Method != http.MethodGet || r.URL.Path != blockPath && !second && !cached {
		m.stats.rejected.Add(1)
		w.WriteHeader(http.StatusNotFound)
		return
	}
	q := r.URL.Query()
	ints := []int64{0, 0, 0, 0, -1}
	keys := []string{qSize, qBlockSize, qIndex, qFrom}
	if cached {
		keys = append(keys, qLen)
	}
	ok := true
	for i, k := range keys {
		vs := q[k]
		if len(vs) != 1 {
			ok = false
			break
		}
		n, err := strconv.ParseInt(vs[0], 10, 64)
		if err != nil || n < 0 {
			ok = false
			break
		}
		ints[i] = n
	}
	for _, k := range [...]string{qStore, qKey, qETag, qVersionID} {
		ok = ok && len(q[k]) == 1
	}
	ts, terr := strconv.ParseInt(r.Header.Get(hdrTime), 10, 64)
	nonce, nok := parseNonce(r.Header.Get(hdrNonce))
	sig, serr := hex.DecodeString(r.Header.Get(hdrSig))
	if !ok || terr != nil || !nok || serr != nil {
		m.reject(w)
		return
	}
	size, bs, idx, from, n := ints[0], ints[1], ints[2], ints[3], ints[4]
	obj := objstore.Object{Key: q.Get(qKey), Size: size, Version: objstore.Version{ETag: q.Get(qETag), ID: q.Get(qVersionID)}}
	storeID := q.Get(qStore)
	ident := identity(storeID, obj, bs, idx)
	if !hmac.Equal(sig, signRequest(m.keys.request, r.Method, r.URL.Path, ident, from, n, ts, nonce[:])) {
		m.reject(w)
		return
	}
	now := m.cfg.Now().UnixNano()
	if d := time.Duration(now - ts); d > m.cfg.MaxClockSkew || d < -m.cfg.MaxClockSkew {
		m.reject(w)
		return
	}
	if err := m.nonces.add(nonce, ts, now, 2*m.cfg.MaxClockSkew); err != nil {
		m.reject(w)
		return
	}
	// Authenticated from here on.
	_, length, err := cache.BlockSpan(idx, size, bs)
	if err != nil || storeID != m.cfg.StoreID || bs != m.cfg.BlockSize || from >= length || cached && (n == 0 || n > length-from) {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	select {
	case m.serving <- struct{}{}:
		defer func() { <-m.serving }()
	default:
		m.stats.refused.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	ctx := r.Context()
	if cached {
		m.serveCached(ctx, w, l, obj, idx, from, n, newFrameTagger(m.keys.frame, nonce[:], ident))
		return
	}
	h, err := m.loadLocal(ctx, l, obj, idx, second)
	if errors.Is(err, cache.ErrPeerWait) {
		m.stats.refused.Add(1)
		w.WriteHeader(http.StatusConflict)
		return
	}
	if err != nil {
		m.log.Debug("peer: load for a peer failed", "key", obj.Key, "block", idx, "err", err)
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	defer h.Release()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	bp := framePool.Get().(*[]byte)
	defer framePool.Put(bp)
	if cap(*bp) < m.cfg.FrameSize {
		*bp = make([]byte, m.cfg.FrameSize)
	}
	buf := (*bp)[:m.cfg.FrameSize]
	t := newFrameTagger(m.keys.frame, nonce[:], ident)
	m.stats.served.Add(1)
	for off := from; off < length; {
		n := min(int64(len(buf)), length-off)
		if _, err := h.ReadAt(ctx, buf[:n], off); err != nil {
			m.log.Debug("peer: serving a block failed", "key", obj.Key, "block", idx, "at", off, "err", err)
			panic(http.ErrAbortHandler) // cut the response: the client resumes elsewhere
		}
		// Counted before the write, so a client holding the bytes
		// finds them counted.
		m.stats.bytesServed.Add(n)
		if err := t.writeFrame(w, off, buf[:n]); err != nil {
			m.stats.bytesServed.Add(-n)
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		off += n
	}
}

// CachedReader is an optional interface of a Loader: ReadCached reads
// bytes of an object version from the cache's tiers only, never loading
// them, and fails with an error wrapping cache.ErrNotCached when they are
// not all held. *cache.Blocks implements it. A member whose Loader lacks
// it answers every cached-only request 404.
type CachedReader interface {
	ReadCached(ctx context.Context, obj objstore.Object, p []byte, off int64) (int, error)
}

var _ CachedReader = (*cache.Blocks)(nil)

// serveCached answers a cached-only request, authenticated, for n bytes
// at from in block idx of obj: from the cache's tiers only, in frames
// tagged by t, or 404 with no body when they are not all held. It never
// starts a load, so never forwards.
func (m *Member) serveCached(ctx context.Context, w http.ResponseWriter, l Loader, obj objstore.Object, idx, from, n int64, t *frameTagger) {
	cr, ok := l.(CachedReader)
	buf := make([]byte, n)
	var err error = cache.ErrNotCached
	if ok {
		// All of it before the headers: an eviction midway must not cut a
		// response, which the asker would hold against this member.
		_, err = cr.ReadCached(ctx, obj, buf, idx*m.cfg.BlockSize+from)
	}
	if err != nil {
		code := http.StatusNotFound
		if errors.Is(err, cache.ErrNotCached) {
			m.stats.cachedMissed.Add(1)
		} else {
			m.log.Debug("peer: reading cached bytes for a peer failed", "key", obj.Key, "block", idx, "err", err)
			code = http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(code)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	m.stats.cachedServed.Add(1)
	rc := http.NewResponseController(w)
	for off := int64(0); off < n; {
		k := min(int64(m.cfg.FrameSize), n-off)
		// Counted before the write, as by serve.
		m.stats.cachedBytesServed.Add(k)
		if err := t.writeFrame(w, from+off, buf[off:off+k]); err != nil {
			m.stats.cachedBytesServed.Add(-k)
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		off += k
	}
}

// reject answers 401 with no body.
func (m *Member) reject(w http.ResponseWriter) {
	m.stats.rejected.Add(1)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusUnauthorized)
}

// loadLocal loads a block for a peer without asking peers. A load of a
// block this member owns is marked as waiting on a peer for the moment
// the cache asks Fetch, which answers cache.ErrNoPeer at once; a request
// arriving in that moment is retried for up to about 30 ms rather than
// refused, or the asker would go to the secondary and the origin would
// send the block twice. A block owned by another member in this view
// is refused at once: this member's load may truly be waiting on a peer.
// Unless the asker asks as the block's secondary (second), having given
// up on the owner: then this member gives up on its own fetch of the
// block from a peer, which goes on from the origin, and joins that load
// (see inflight.go).
func (m *Member) loadLocal(ctx context.Context, l Loader, obj objstore.Object, idx int64, second bool) (*cache.Handle, error) {
	wait := time.Millisecond
	for {
		h, err := l.Load(ctx, obj, idx, cache.LoadOptions{Local: true})
		if !errors.Is(err, cache.ErrPeerWait) || wait > 16*time.Millisecond {
			return h, err
		}
		v := m.View()
		if p, _ := m.owners(v, obj, idx); p < 0 || v.Nodes[p].Name != m.cfg.Name {
			if !second {
				return h, err
			}
			if done := m.giveUp(cache.Key(m.cfg.StoreID, obj, m.cfg.BlockSize, idx)); done != nil {
				select {
				case <-done:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
			}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		wait *= 2
	}
}
