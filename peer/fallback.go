package peer

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"sync"

	"github.com/tierfs/tierfs/cache"
	"github.com/tierfs/tierfs/objstore"
)

// Capping origin fallbacks
//
// When an owner dies, every block it owned that a member's readers want
// goes to the origin from that member at once (groupcache's herd,
// golang/groupcache#77): the penalty box spares the dead owner the
// requests, not the origin the loads. Fetch cannot hold a slot through
// the origin load, which the cache makes after Fetch returns; so Fetch
// marks the range the cache will ask the origin for, and the store the
// cache reads the origin through (Member.Origin) takes a slot for a
// marked range before it opens it and gives it back when the cache closes
// the body. Other origin reads (blocks this member owns, loads for peers,
// sparse reads) pass through untouched.

// DefaultMaxFallbacks is Config.MaxFallbacks's default.
const DefaultMaxFallbacks = 8

// maxMarks bounds the marked ranges not yet opened; a mark is normally
// taken at once, so more means the cache did not open them (it was
// cancelled in between), and they are dropped.
const maxMarks = 4096

// fallbacks is a member's cap on concurrent origin fallbacks.
type fallbacks struct {
	slots chan struct{} // nil: no cap
	mu    sync.Mutex    // guards marks
	marks map[string]int
}

func (f *fallbacks) init(max int) {
	if max > 0 {
		f.slots = make(chan struct{}, max)
	}
	f.marks = make(map[string]int)
}

func markKey(key string, v objstore.Version, off int64) string {
	return key + "\x00" + v.String() + "\x00" + strconv.FormatInt(off, 10)
}

// mark records that the cache will read the range of ref from off in the
// block from the origin because the ring failed it.
func (f *fallbacks) mark(ref cache.BlockRef, from int64) {
	k := markKey(ref.Object.Key, ref.Object.Version, ref.Index*ref.BlockSize+from)
	f.mu.Lock()
	if len(f.marks) >= maxMarks {
		clear(f.marks)
	}
	f.marks[k]++
	f.mu.Unlock()
}

// take removes a mark for the range of key from off, reporting whether
// there was one.
func (f *fallbacks) take(key string, v objstore.Version, off int64) bool {
	k := markKey(key, v, off)
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.marks[k]
	switch {
	case !ok:
		return false
	case n == 1:
		delete(f.marks, k)
	default:
		f.marks[k] = n - 1
	}
	return true
}

// Origin returns store, through which the cache this member serves reads
// the origin, with the loads that fall back from the ring to the origin
// capped at Config.MaxFallbacks at once: a load beyond the cap waits for
// a slot (or its context). Give it to the cache as cache.Config.Store;
// tierfs.WithPeers does. Without it the fallbacks are counted
// (Stats.OriginFallbacks) but not capped. Its methods are safe for
// concurrent use.
func (m *Member) Origin(store objstore.Store) objstore.Store {
	return &origin{Store: store, m: m}
}

type origin struct {
	objstore.Store
	m *Member
}

func (o *origin) NewRangeReader(ctx context.Context, key string, off, length int64, opts objstore.ReadOptions) (*objstore.Reader, error) {
	fb := &o.m.fallbacks
	if fb.slots == nil || !fb.take(key, opts.Version, off) {
		return o.Store.NewRangeReader(ctx, key, off, length, opts)
	}
	select {
	case fb.slots <- struct{}{}:
	default:
		o.m.stats.fallbackWaits.Add(1)
		select {
		case fb.slots <- struct{}{}:
		case <-ctx.Done():
			return nil, fmt.Errorf("peer: waiting for an origin fallback slot: %w", context.Cause(ctx))
		}
	}
	var once sync.Once
	release := func() { once.Do(func() { <-fb.slots }) }
	r, err := o.Store.NewRangeReader(ctx, key, off, length, opts)
	if err != nil {
		release()
		return nil, err
	}
	// The cache closes the reader it gets when the load ends; the slot
	// goes back then. The outer Reader neither resumes nor times out: r
	// does both.
	open := func(context.Context, int64, int64, objstore.Version) (io.ReadCloser, objstore.Object, error) {
		return &releaser{ReadCloser: r, release: release}, r.Object(), nil
	}
	out, err := objstore.NewReader(ctx, key, off, length, opts, objstore.RetryPolicy{MaxResumes: -1, StallTimeout: -1}, open)
	if err != nil {
		r.Close()
		release()
		return nil, err
	}
	return out, nil
}

// releaser gives back a fallback slot when its body is closed.
type releaser struct {
	io.ReadCloser
	release func()
}

func (r *releaser) Close() error {
	err := r.ReadCloser.Close()
	r.release()
	return err
}
