package cache

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"runtime/debug"
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
	// block fetched from the origin is offered to every tier; a block
	// found in a lower tier is offered to the tiers above it. None means
	// no caching: every read goes to the origin (still deduplicated).
	Tiers []tier.Tier
	// BlockSize is the unit of origin reads and cache entries. Zero means
	// DefaultBlockSize; it must be between 64 KiB and 256 MiB.
	BlockSize int64
	// FetchTimeout bounds one shared block fetch, which runs detached from
	// the callers' contexts so one caller giving up does not fail the
	// others. Zero means 2 minutes.
	FetchTimeout time.Duration
	// Logger receives fetch failures at debug level. Nil means none.
	Logger *slog.Logger
	// Budget, if not nil, bounds the memory of loads in flight: a load
	// reserves its block's bytes before it starts (waiting if need be)
	// and returns them when it ends. The prefetch package shares one
	// Budget between these loads and the readahead it holds.
	Budget Budget
}

// Budget is a shared memory budget in bytes. Implementations are safe for
// concurrent use.
type Budget interface {
	// Acquire reserves n bytes, waiting until they are free or ctx is
	// done.
	Acquire(ctx context.Context, n int64) error
	// Release returns n bytes reserved by Acquire.
	Release(n int64)
}

// Blocks reads byte ranges of object versions through the tiers and the
// origin, block by block. Concurrent misses of one block share one origin
// fetch. Blocks is safe for concurrent use.
type Blocks struct {
	store     objstore.Store
	storeID   string
	tiers     []tier.Tier
	blockSize int64
	timeout   time.Duration
	log       *slog.Logger
	budget    Budget // nil: loads are not budgeted

	stats  counters
	closed atomic.Bool

	mu       sync.Mutex         // guards flights, stopping and calls to wg.Add
	flights  map[string]*flight // loads in progress, by block key
	stopping bool               // Close has begun: no new load starts
	wg       sync.WaitGroup     // loads still running

	// stop is cancelled by Close, which ends the shared fetches still
	// running (they are detached from their callers' contexts).
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
	for i, t := range cfg.Tiers {
		if t == nil {
			return nil, fmt.Errorf("cache: %w: tier %d is nil", fs.ErrInvalid, i)
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	stop, cancel := context.WithCancel(context.Background())
	return &Blocks{
		store: cfg.Store, storeID: cfg.StoreID, tiers: cfg.Tiers, blockSize: cfg.BlockSize,
		timeout: cfg.FetchTimeout, log: log, budget: cfg.Budget, stop: stop, cancelStop: cancel, flights: make(map[string]*flight),
	}, nil
}

// BlockSize returns the block size in bytes.
func (b *Blocks) BlockSize() int64 { return b.blockSize }

// ReadAt reads len(p) bytes of obj's version at off, with the io.ReaderAt
// contract: fewer bytes only at the end of the object, with io.EOF. Every
// byte is of obj.Version: a block the cache does not hold and the origin no
// longer has in that version fails with an error wrapping
// objstore.ErrChanged. Misses load whole blocks (Mode Whole).
func (b *Blocks) ReadAt(ctx context.Context, obj objstore.Object, p []byte, off int64) (int, error) {
	return b.ReadAtMode(ctx, obj, p, off, Whole)
}

// Mode says how a read that misses every tier fetches from the origin.
type Mode int

const (
	// Whole fetches the whole block, fills the tiers and serves the read
	// from it as soon as its bytes arrive: right for sequential reads and
	// for blocks that will be read again.
	Whole Mode = iota
	// Partial fetches only the bytes asked for (rounded out to
	// PartialAlign), caching nothing, unless the block is already being
	// fetched, which the read then waits for: right for random small
	// reads, which whole blocks would amplify.
	Partial
)

// PartialAlign is the alignment of a Partial read's origin fetch.
const PartialAlign = 4 << 10

// ReadAtMode is ReadAt with a fetch mode for misses.
func (b *Blocks) ReadAtMode(ctx context.Context, obj objstore.Object, p []byte, off int64, mode Mode) (int, error) {
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
	// Partial misses of consecutive blocks are fetched together, with one
	// GET: run is where in p the misses not yet fetched start.
	done, run := int64(0), int64(-1)
	fetchRun := func() error {
		if run < 0 {
			return nil
		}
		err := b.readRange(ctx, obj, p[run:done], off+run)
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
		miss, err := b.readBlock(ctx, obj, idx, p[done:done+n], boff, mode)
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
// or, in Partial mode, reports a miss (no tier has the bytes and no load
// of the block is under way): the caller fetches them with readRange.
func (b *Blocks) readBlock(ctx context.Context, obj objstore.Object, idx int64, dst []byte, boff int64, mode Mode) (miss bool, err error) {
	key := Key(b.storeID, obj, b.blockSize, idx)
	// Partial reads ask every tier for the range; whole reads only the
	// first, and load the block from the others.
	last := min(len(b.tiers), 1)
	if mode == Partial {
		last = len(b.tiers)
	}
	for i := range last {
		n, err := b.tiers[i].ReadAt(ctx, key, dst, boff)
		if err == nil || (err == io.EOF && n == len(dst)) {
			b.stats.tierHits[min(i, maxTiers-1)].Add(1)
			return false, nil
		}
		if !errors.Is(err, tier.ErrMiss) {
			b.log.Debug("cache: tier read failed", "tier", i, "err", err)
		}
	}
	f, err := b.flight(ctx, obj, idx, key, mode == Whole)
	if err != nil {
		return false, err
	}
	if f == nil {
		return true, nil
	}
	if err := f.wait(ctx, boff+int64(len(dst))); err != nil {
		return false, err
	}
	copy(dst, f.data[boff:])
	return false, nil
}

// readRange fetches len(dst) bytes of obj at start from the origin,
// rounded out to PartialAlign, caching nothing.
func (b *Blocks) readRange(ctx context.Context, obj objstore.Object, dst []byte, start int64) error {
	end := start + int64(len(dst))
	astart := start - start%PartialAlign
	aend := min(obj.Size, (end+PartialAlign-1)/PartialAlign*PartialAlign)
	b.stats.originGets.Add(1)
	r, err := b.store.NewRangeReader(ctx, obj.Key, astart, aend-astart, objstore.ReadOptions{Version: obj.Version})
	if err != nil {
		b.stats.originErrors.Add(1)
		return err
	}
	defer r.Close()
	if astart == start && aend == end {
		n, err := io.ReadFull(r, dst)
		b.stats.originBytes.Add(int64(n))
		if err != nil {
			b.stats.originErrors.Add(1)
			return fmt.Errorf("cache: read %q at %d: %w", obj.Key, start, err)
		}
		return nil
	}
	buf := make([]byte, aend-astart)
	n, err := io.ReadFull(r, buf)
	b.stats.originBytes.Add(int64(n))
	if err != nil {
		b.stats.originErrors.Add(1)
		return fmt.Errorf("cache: read %q at %d: %w", obj.Key, start, err)
	}
	copy(dst, buf[start-astart:])
	return nil
}

// Prefetch makes sure block idx of obj is cached, fetching it if no tier
// holds it. It returns when the block was loaded (or found), or when ctx
// is done; the fetch itself goes on, for other readers, under
// Config.FetchTimeout.
func (b *Blocks) Prefetch(ctx context.Context, obj objstore.Object, idx int64) error {
	if b.closed.Load() {
		return fmt.Errorf("cache: prefetch %q: %w", obj.Key, fs.ErrClosed)
	}
	if _, _, err := BlockSpan(idx, obj.Size, b.blockSize); err != nil {
		return err
	}
	key := Key(b.storeID, obj, b.blockSize, idx)
	if len(b.tiers) > 0 {
		if _, err := b.tiers[0].ReadAt(ctx, key, nil, 0); err == nil {
			return nil
		}
	}
	f, err := b.flight(ctx, obj, idx, key, true)
	if err != nil {
		return err
	}
	return f.waitDone(ctx)
}

// Load returns the whole block idx of obj, from a tier or the origin, for
// callers that keep the block themselves. The returned bytes are shared
// and must not be modified. Load does not reserve from Config.Budget: a
// caller that keeps blocks accounts for them itself (the prefetch package
// reserves before it calls Load).
func (b *Blocks) Load(ctx context.Context, obj objstore.Object, idx int64) ([]byte, error) {
	if b.closed.Load() {
		return nil, fmt.Errorf("cache: load %q: %w", obj.Key, fs.ErrClosed)
	}
	if _, _, err := BlockSpan(idx, obj.Size, b.blockSize); err != nil {
		return nil, err
	}
	f, err := b.startFlight(ctx, obj, idx, Key(b.storeID, obj, b.blockSize, idx), false)
	if err != nil {
		return nil, err
	}
	if err := f.waitDone(ctx); err != nil {
		return nil, err
	}
	return f.data, nil
}

// Handle is a load of one block, started by Start. Its bytes become
// readable as they arrive.
type Handle struct{ f *flight }

// Start joins or starts the load of block idx of obj and returns at once.
// Like Load, it does not reserve from Config.Budget.
func (b *Blocks) Start(ctx context.Context, obj objstore.Object, idx int64) (*Handle, error) {
	if b.closed.Load() {
		return nil, fmt.Errorf("cache: load %q: %w", obj.Key, fs.ErrClosed)
	}
	f, err := b.startFlight(ctx, obj, idx, Key(b.storeID, obj, b.blockSize, idx), false)
	if err != nil {
		return nil, err
	}
	return &Handle{f: f}, nil
}

// StartWithPrefix starts the load of block idx of obj whose first bytes
// the caller already received (as FS.Open does with the first bytes of a
// file): the load fetches only the rest, and the prefix is readable at
// once. If the block is being loaded already, it joins that load. It does
// not reserve from Config.Budget.
func (b *Blocks) StartWithPrefix(ctx context.Context, obj objstore.Object, idx int64, prefix []byte) (*Handle, error) {
	if b.closed.Load() {
		return nil, fmt.Errorf("cache: load %q: %w", obj.Key, fs.ErrClosed)
	}
	f, err := b.startFlightPrefix(ctx, obj, idx, Key(b.storeID, obj, b.blockSize, idx), false, prefix)
	if err != nil {
		return nil, err
	}
	return &Handle{f: f}, nil
}

// Wait returns when the block's bytes [0, end) have arrived, the load
// failed (its error), or ctx is done.
func (h *Handle) Wait(ctx context.Context, end int64) error { return h.f.wait(ctx, end) }

// Ready reports whether the bytes [0, end) have arrived.
func (h *Handle) Ready(end int64) bool {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	return h.f.filled >= end
}

// Done is closed when the load has ended, either way.
func (h *Handle) Done() <-chan struct{} { return h.f.done }

// Err returns the load's error once Done is closed.
func (h *Handle) Err() error {
	h.f.mu.Lock()
	defer h.f.mu.Unlock()
	return h.f.err
}

// Bytes returns the block's buffer. Only the bytes a Wait returned for, or
// all of them after Done without error, are final; they must not be
// modified.
func (h *Handle) Bytes() []byte { return h.f.data }

// Wait returns when no load is in progress: every block fetched so far has
// been offered to the tiers. Loads started meanwhile are waited for too.
func (b *Blocks) Wait() {
	for {
		b.mu.Lock()
		var f *flight
		for _, f = range b.flights {
			break
		}
		b.mu.Unlock()
		if f == nil {
			return
		}
		<-f.done
	}
}

// ReadCached copies dst's bytes of block idx of obj, starting boff bytes
// into the block, from the first tier that has them, and reports whether
// one did. It never goes to the origin.
func (b *Blocks) ReadCached(ctx context.Context, obj objstore.Object, idx int64, dst []byte, boff int64) bool {
	if len(b.tiers) == 0 || b.closed.Load() {
		return false
	}
	key := Key(b.storeID, obj, b.blockSize, idx)
	for i, t := range b.tiers {
		n, err := t.ReadAt(ctx, key, dst, boff)
		if err == nil || (err == io.EOF && n == len(dst)) {
			b.stats.tierHits[min(i, maxTiers-1)].Add(1)
			return true
		}
	}
	return false
}

// Tiers returns how many tiers the cache reads through.
func (b *Blocks) Tiers() int { return len(b.tiers) }

// Drop removes every cached block of obj's version from every tier, as
// when the version is replaced by a write in this process.
func (b *Blocks) Drop(ctx context.Context, obj objstore.Object) error {
	var errs []error
	for idx := range NumBlocks(obj.Size, b.blockSize) {
		key := Key(b.storeID, obj, b.blockSize, idx)
		for _, t := range b.tiers {
			if err := t.Delete(ctx, key); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// flight returns the load of block idx in progress, starting one if start
// is set and none is (nil, nil if none is and start is not). The load runs
// on its own goroutine, detached from ctx under Config.FetchTimeout, so a
// caller that gives up does not fail the others, and ends when the whole
// block is loaded and offered to the tiers. Close cancels it. With a
// Budget, the caller that starts a load first reserves its bytes, waiting
// under ctx.
func (b *Blocks) flight(ctx context.Context, obj objstore.Object, idx int64, key string, start bool) (*flight, error) {
	if f, ok := b.join(key); ok || !start {
		return f, nil
	}
	return b.startFlight(ctx, obj, idx, key, b.budget != nil)
}

// startFlight joins or starts the load of key, reserving its bytes from
// the budget first if reserve is set.
func (b *Blocks) startFlight(ctx context.Context, obj objstore.Object, idx int64, key string, reserve bool) (*flight, error) {
	return b.startFlightPrefix(ctx, obj, idx, key, reserve, nil)
}

// startFlightPrefix is startFlight for a block whose first bytes the
// caller already has: the load fetches only the rest.
func (b *Blocks) startFlightPrefix(ctx context.Context, obj objstore.Object, idx int64, key string, reserve bool, prefix []byte) (*flight, error) {
	off, length, err := BlockSpan(idx, obj.Size, b.blockSize)
	if err != nil {
		return nil, err
	}
	if f, ok := b.join(key); ok {
		return f, nil
	}
	var reserved int64 // bytes to return to the budget when the load ends
	if reserve {
		if err := b.budget.Acquire(ctx, length); err != nil {
			return nil, fmt.Errorf("cache: read %q: waiting for memory: %w", obj.Key, err)
		}
		reserved = length
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if f, ok := b.flights[key]; ok { // started while this caller waited
		b.stats.shared.Add(1)
		b.release(reserved)
		return f, nil
	}
	if b.stopping {
		b.release(reserved)
		return nil, fmt.Errorf("cache: fetch %q: %w", obj.Key, fs.ErrClosed)
	}
	f := newFlight(length)
	if len(prefix) > 0 {
		if int64(len(prefix)) > length {
			b.release(reserved)
			return nil, fmt.Errorf("cache: %w: a %d-byte prefix of a %d-byte block", fs.ErrInvalid, len(prefix), length)
		}
		copy(f.data, prefix)
		f.pre, f.filled = int64(len(prefix)), int64(len(prefix))
	}
	b.flights[key] = f
	b.wg.Add(1)
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.timeout)
	stopAfter := context.AfterFunc(b.stop, cancel)
	go func() {
		defer b.wg.Done()
		defer cancel()
		defer stopAfter()
		err := b.run(fctx, obj, idx, key, off, f)
		// Leave the map only after the tiers were offered the block, so a
		// reader arriving now finds it in the first tier.
		b.mu.Lock()
		delete(b.flights, key)
		b.mu.Unlock()
		f.finish(err)
		b.release(reserved)
	}()
	return f, nil
}

// join returns the load of key in progress, if any.
func (b *Blocks) join(key string) (*flight, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f, ok := b.flights[key]
	if ok {
		b.stats.shared.Add(1)
	}
	return f, ok
}

func (b *Blocks) release(n int64) {
	if b.budget != nil && n > 0 {
		b.budget.Release(n)
	}
}

// run loads a block into f: from a tier if one has it (the first one too:
// the previous load may have filled it after this caller's miss there),
// else from the origin, and offers it to the tiers above where it was
// found. A panic becomes the load's error.
func (b *Blocks) run(ctx context.Context, obj objstore.Object, idx int64, key string, off int64, f *flight) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cache: fetch %q block %d: panic: %v\n%s", obj.Key, idx, r, debug.Stack())
		}
	}()
	length, pre := int64(len(f.data)), f.pre
	// Only the bytes past the prefix are written here: readers may already
	// be reading the prefix.
	for i, t := range b.tiers {
		n, err := t.ReadAt(ctx, key, f.data[pre:], pre)
		if int64(n) == length-pre && (err == nil || err == io.EOF) {
			b.stats.tierHits[min(i, maxTiers-1)].Add(1)
			b.fill(ctx, key, f.data, i)
			return nil
		}
	}
	if pre == length {
		b.fill(ctx, key, f.data, len(b.tiers))
		return nil
	}
	b.stats.originGets.Add(1)
	r, err := b.store.NewRangeReader(ctx, obj.Key, off+pre, length-pre, objstore.ReadOptions{Version: obj.Version})
	if err != nil {
		b.stats.originErrors.Add(1)
		return err
	}
	defer r.Close()
	w := &progressWriter{f: f, n: pre, last: pre}
	n, err := io.Copy(w, r)
	b.stats.originBytes.Add(n)
	if err == nil && n != length-pre {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		b.stats.originErrors.Add(1)
		return fmt.Errorf("cache: fetch %q block %d: %w", obj.Key, idx, err)
	}
	b.fill(ctx, key, f.data, len(b.tiers))
	return nil
}

// fill offers data to the tiers above tier `below`. Tiers do not wait for
// slow storage and may drop the block; a failure is logged, not returned:
// the readers have their bytes.
func (b *Blocks) fill(ctx context.Context, key string, data []byte, below int) {
	for i := 0; i < below; i++ {
		if err := b.tiers[i].Put(ctx, key, data); err != nil {
			b.log.Debug("cache: fill failed", "tier", i, "err", err)
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
