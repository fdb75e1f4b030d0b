package cache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/tier"
)

// DefaultBlockSize is the block size when Config.BlockSize is zero: large
// enough that one ranged GET reaches a connection's full bandwidth past
// the first-byte latency (8 MiB at 20–50 ms and 50–100 MB/s), small enough
// that a random read does not drag in much more than it needs.
const DefaultBlockSize = 8 << 20

// DefaultMaxExtents is the number of sparse extents indexed when
// Config.MaxExtents is zero.
const DefaultMaxExtents = 1 << 16

// Config configures Blocks. The zero value of each optional field means
// the default given in its comment.
type Config struct {
	// Store is the origin. Required.
	Store objstore.Store
	// StoreID names the origin in block keys, so two stores sharing one
	// disk tier never share blocks. Use the store's URL without
	// credentials. Empty is allowed for a cache used with one store only.
	StoreID string
	// Tiers are the cache tiers, fastest first (memory, then disk). A
	// block fetched from the origin or a peer is offered to every tier; a
	// block found in a lower tier is offered to the tiers above it. None
	// means no caching: every read goes to the origin (still
	// deduplicated). A tier with a method Name() string is named by it in
	// Stats; others are "tier0", "tier1", ….
	Tiers []tier.Tier
	// OnceTiers is how many of the first tiers (the memory tiers) a block
	// loaded with LoadOptions.Once is not offered unless it was loaded
	// before (see admit.go). Zero means none: Once changes nothing.
	OnceTiers int
	// OnceMinSize is the smallest object whose blocks LoadOptions.Once
	// keeps out of the OnceTiers on their first load: a one-shot scan of
	// a small object costs the memory tier little, and a reader reading
	// it again expects it cached. Zero means every object.
	OnceMinSize int64
	// Peers, if not nil, is asked for a block after the tiers and before
	// the origin. See [Peers].
	Peers Peers
	// BlockSize is the unit of origin reads and cache entries. Zero means
	// DefaultBlockSize; it must be between 64 KiB and 256 MiB.
	BlockSize int64
	// FetchTimeout bounds one shared block fetch, which runs detached from
	// the callers' contexts so one caller giving up does not fail the
	// others. Zero means 2 minutes.
	FetchTimeout time.Duration
	// MaxExtents bounds how many sparse extents (byte ranges smaller than
	// a block, see [ReadOptions].Sparse) are indexed; the least recently
	// used is forgotten and deleted from the tiers beyond it. Zero means
	// DefaultMaxExtents.
	MaxExtents int
	// Logger receives fetch failures at debug level. Nil means none.
	Logger *slog.Logger
	// Budget, if not nil, bounds the memory of blocks loading or held
	// through a Handle: a load reserves its block's bytes before it starts
	// and returns them once it has ended and no handle holds it. The
	// prefetch package shares one Budget between these loads and its own.
	Budget Budget
}

// Budget is a shared memory budget in bytes. Implementations are safe for
// concurrent use.
type Budget interface {
	// Acquire reserves n bytes, waiting until they are free or ctx is
	// done.
	Acquire(ctx context.Context, n int64) error
	// TryAcquire reserves n bytes if they are free now.
	TryAcquire(n int64) bool
	// Release returns n bytes reserved by Acquire or TryAcquire.
	Release(n int64)
}

// ErrNoBudget is returned by Load with ReserveTry when the budget has no
// room for the block now.
var ErrNoBudget = errors.New("cache: memory budget short")

// ErrPeerWait is returned by Load with Local set when the block's load in
// progress is itself waiting on a peer: a member serving a peer must not
// join it, or two members whose views of the ring differ could wait on
// each other.
var ErrPeerWait = errors.New("cache: block load is waiting on a peer")

// Blocks reads byte ranges of object versions through the tiers, the peers
// and the origin, block by block. Concurrent misses of one block share one
// load. Blocks is safe for concurrent use.
type Blocks struct {
	store     objstore.Store
	storeID   string
	tiers     []tier.Tier
	names     []string
	peers     Peers
	blockSize int64
	timeout   time.Duration
	log       *slog.Logger
	budget    Budget // nil: loads are not budgeted
	extents   *extents
	promoter  *promoter
	seen      *doorkeeper // blocks loaded before (LoadOptions.Once)
	onceTiers int
	onceMin   int64      // Config.OnceMinSize
	buffers   bufferPool // full-block buffers no tier kept

	stats  counters
	closed atomic.Bool

	// mu guards flights, stopping, calls to wg.Add and the fields of each
	// flight marked as guarded by it. Lock order: Blocks.mu before
	// flight.mu; extents.mu is never held with either.
	mu      sync.Mutex
	flights map[string]*flight // loads in progress, by block key
	// leaving holds the loads cancelled (unref) whose goroutines still
	// run: they left flights, but Wait waits for them too, since they
	// may still count a fetch.
	leaving  map[*flight]struct{}
	stopping bool           // Close has begun: no new load starts
	wg       sync.WaitGroup // loads still running

	// stop is cancelled by Close, which ends the loads still running
	// (they are detached from their callers' contexts).
	stop       context.Context
	cancelStop context.CancelFunc
}

// New validates cfg and returns a Blocks.
func New(cfg Config) (*Blocks, error) {
	if cfg.Store == nil {
		return nil, fmt.Errorf("cache: %w: Config.Store is nil", fs.ErrInvalid)
	}
	if cfg.BlockSize == 0 {
		cfg.BlockSize = DefaultBlockSize
	}
	if cfg.BlockSize < 64<<10 || cfg.BlockSize > 256<<20 {
		return nil, fmt.Errorf("cache: %w: block size %d outside [64 KiB, 256 MiB]", fs.ErrInvalid, cfg.BlockSize)
	}
	if cfg.FetchTimeout < 0 {
		return nil, fmt.Errorf("cache: %w: negative fetch timeout", fs.ErrInvalid)
	}
	if cfg.FetchTimeout == 0 {
		cfg.FetchTimeout = 2 * time.Minute
	}
	if cfg.OnceTiers < 0 || cfg.OnceTiers > len(cfg.Tiers) {
		return nil, fmt.Errorf("cache: %w: OnceTiers %d of %d tiers", fs.ErrInvalid, cfg.OnceTiers, len(cfg.Tiers))
	}
	if cfg.MaxExtents < 0 {
		return nil, fmt.Errorf("cache: %w: negative MaxExtents %d", fs.ErrInvalid, cfg.MaxExtents)
	}
	if cfg.MaxExtents == 0 {
		cfg.MaxExtents = DefaultMaxExtents
	}
	names := make([]string, len(cfg.Tiers))
	for i, t := range cfg.Tiers {
		if t == nil {
			return nil, fmt.Errorf("cache: %w: tier %d is nil", fs.ErrInvalid, i)
		}
		names[i] = fmt.Sprintf("tier%d", i)
		if n, ok := t.(interface{ Name() string }); ok && n.Name() != "" {
			names[i] = n.Name()
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stop, cancel := context.WithCancel(context.Background())
	b := &Blocks{
		store: cfg.Store, storeID: cfg.StoreID, tiers: cfg.Tiers, names: names, peers: cfg.Peers,
		blockSize: cfg.BlockSize, timeout: cfg.FetchTimeout, log: log, budget: cfg.Budget,
		stop: stop, cancelStop: cancel, flights: make(map[string]*flight), leaving: make(map[*flight]struct{}),
	}
	b.extents = newExtents(cfg.MaxExtents, b.deleteExtent)
	b.seen, b.onceTiers, b.onceMin = newDoorkeeper(), cfg.OnceTiers, cfg.OnceMinSize
	b.buffers.size = cfg.BlockSize
	b.stats.init(len(cfg.Tiers))
	if len(cfg.Tiers) > 1 {
		b.promoter = newPromoter(b)
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			b.promoter.run(b.stop)
		}()
	}
	return b, nil
}

// Tiered reports whether the cache has tiers, which keep what it fetches
// (blocks and extents). Without, only loads in flight are shared.
func (b *Blocks) Tiered() bool { return len(b.tiers) > 0 }

// Shared reports whether the cache has peers (Config.Peers): blocks it
// loads are shared with a ring.
func (b *Blocks) Shared() bool { return b.peers != nil }

// BlockSize returns the block size in bytes.
func (b *Blocks) BlockSize() int64 { return b.blockSize }

// srcPeer and srcOrigin are the sources after the tiers' indexes.
func (b *Blocks) srcPeer() int   { return len(b.tiers) }
func (b *Blocks) srcOrigin() int { return len(b.tiers) + 1 }

// Cached reports whether a tier holds block idx of obj, or a load of it
// is under way, without reading it or changing any statistics: for
// planning which blocks to load. A read of a block a lower tier holds is
// served from there in place (and the block promoted behind it), so it
// needs no load.
func (b *Blocks) Cached(obj objstore.Object, idx int64) bool {
	if b.closed.Load() {
		return false
	}
	key := Key(b.storeID, obj, b.blockSize, idx)
	for _, t := range b.tiers {
		if t.Contains(key) {
			return true
		}
	}
	b.mu.Lock()
	_, loading := b.flights[key]
	b.mu.Unlock()
	return loading
}

// Reserve says how a load that Load starts reserves its block's bytes from
// Config.Budget. A load that Load joins reserves nothing more.
type Reserve int

const (
	// ReserveWait waits under the caller's context for the bytes.
	ReserveWait Reserve = iota
	// ReserveTry starts the load only if the bytes are free now, and
	// returns ErrNoBudget otherwise: for readahead, which is skipped when
	// memory is short.
	ReserveTry
)

// LoadOptions qualify Load.
type LoadOptions struct {
	// Reserve says how a new load reserves its bytes. Ignored without a
	// Config.Budget.
	Reserve Reserve
	// Local loads the block without asking the peers, and refuses (with
	// ErrPeerWait) to join a load that is waiting on a peer: for serving
	// a peer, which must never forward. Bytes read through its Handle go
	// to the peer, not to a reader of this process: they are not counted
	// as served.
	Local bool
	// Once says the block is likely read once (a sequential stream's):
	// if its object has at least Config.OnceMinSize bytes, the first
	// tiers (Config.OnceTiers) keep it only if it was loaded before, so a
	// one-shot scan does not flush them (see admit.go); lower tiers keep
	// it as always. A read that is not Once joining the load lifts it.
	Once bool
	// Parts, if more than one, fetches a block the origin serves in that
	// many ranges at once (at most maxParts), each on a connection of its
	// own, so that it arrives in a fraction of the time where a
	// connection's own rate is the limit: for the last blocks of a
	// stream, which no load after them overlaps. The bytes past the
	// first range become readable as each range ends, in order. A block
	// the tiers, a peer or an extent serve is found as always.
	Parts int
}

// maxParts is the most ranges LoadOptions.Parts splits a block into.
const maxParts = 4

// Load joins or starts the load of block idx of obj and returns a Handle
// on it at once: the lookup chain runs on its own goroutine (see the
// package doc). The caller must Release the handle. ctx bounds only the
// wait for the budget; the load runs under Config.FetchTimeout for as long
// as a handle or a reader wants it.
func (b *Blocks) Load(ctx context.Context, obj objstore.Object, idx int64, opts LoadOptions) (*Handle, error) {
	if b.closed.Load() {
		return nil, fmt.Errorf("cache: load %q: %w", obj.Key, fs.ErrClosed)
	}
	f, err := b.load(ctx, obj, idx, opts, false)
	if err != nil {
		return nil, err
	}
	return &Handle{b: b, f: f, forPeer: opts.Local}, nil
}

// Ensure makes sure block idx of obj is cached: it returns at once if the
// first tier holds it, and otherwise loads it (from a lower tier, a peer
// or the origin, filling the tiers above) and waits for the load to end.
// For warming a cache; the bytes are not returned.
func (b *Blocks) Ensure(ctx context.Context, obj objstore.Object, idx int64) error {
	if b.closed.Load() {
		return fmt.Errorf("cache: load %q: %w", obj.Key, fs.ErrClosed)
	}
	if _, _, err := BlockSpan(idx, obj.Size, b.blockSize); err != nil {
		return err
	}
	key := Key(b.storeID, obj, b.blockSize, idx)
	if len(b.tiers) > 0 && b.tiers[0].Contains(key) {
		return nil
	}
	f, err := b.load(ctx, obj, idx, LoadOptions{}, true)
	if err != nil {
		return err
	}
	defer b.unref(f, false)
	select {
	case <-f.done:
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.err
	case <-ctx.Done():
		return fmt.Errorf("cache: waiting for a block: %w", ctx.Err())
	}
}

// Wait returns when no load or promotion is in progress: every block
// loaded so far has been offered to the tiers, and every load cancelled
// has returned (its counters are final). Loads started meanwhile are
// waited for too.
func (b *Blocks) Wait() {
	if b.promoter != nil {
		defer b.promoter.wait()
	}
	for {
		b.mu.Lock()
		var f *flight
		for _, f = range b.flights {
			break
		}
		if f == nil {
			for f = range b.leaving {
				break
			}
		}
		b.mu.Unlock()
		if f == nil {
			return
		}
		<-f.done
	}
}

// Drop removes every cached block and extent of obj's version from every
// tier, as when the version is replaced by a write in this process.
func (b *Blocks) Drop(ctx context.Context, obj objstore.Object) error {
	var errs []error
	for idx := range NumBlocks(obj.Size, b.blockSize) {
		key := Key(b.storeID, obj, b.blockSize, idx)
		b.extents.forget(key)
		for _, t := range b.tiers {
			if err := t.Delete(ctx, key); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// deleteExtent removes an extent the index forgot from the tiers.
func (b *Blocks) deleteExtent(key string) {
	for _, t := range b.tiers {
		if err := t.Delete(context.Background(), key); err != nil {
			b.log.Debug("cache: dropping an extent", "err", err)
		}
	}
}

// Close marks b closed, cancels the loads still running and waits for
// them to end. It does not close the tiers or the store, which the caller
// owns. It is idempotent.
func (b *Blocks) Close() error {
	b.closed.Store(true)
	b.mu.Lock()
	b.stopping = true
	b.mu.Unlock()
	b.cancelStop()
	b.wg.Wait()
	return nil
}
