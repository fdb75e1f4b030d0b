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

	"golang.org/x/sync/singleflight"

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

	flight singleflight.Group
	stats  counters
	closed atomic.Bool

	mu       sync.Mutex     // guards stopping and calls to wg.Add
	stopping bool           // Close has begun: no new shared fetch starts
	wg       sync.WaitGroup // shared fetches still running

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
		timeout: cfg.FetchTimeout, log: log, stop: stop, cancelStop: cancel,
	}, nil
}

// BlockSize returns the block size in bytes.
func (b *Blocks) BlockSize() int64 { return b.blockSize }

// ReadAt reads len(p) bytes of obj's version at off, with the io.ReaderAt
// contract: fewer bytes only at the end of the object, with io.EOF. Every
// byte is of obj.Version: a block the cache does not hold and the origin no
// longer has in that version fails with an error wrapping
// objstore.ErrChanged.
func (b *Blocks) ReadAt(ctx context.Context, obj objstore.Object, p []byte, off int64) (int, error) {
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
	done := int64(0)
	for done < want {
		pos := off + done
		idx := pos / b.blockSize
		boff := pos - idx*b.blockSize
		n := min(want-done, b.blockSize-boff)
		if err := b.readBlock(ctx, obj, idx, p[done:done+n], boff); err != nil {
			return int(done), err
		}
		done += n
	}
	if done < int64(len(p)) {
		return int(done), io.EOF
	}
	return int(done), nil
}

// readBlock fills dst from block idx of obj, starting boff bytes into it.
func (b *Blocks) readBlock(ctx context.Context, obj objstore.Object, idx int64, dst []byte, boff int64) error {
	key := Key(b.storeID, obj, b.blockSize, idx)
	if len(b.tiers) > 0 {
		n, err := b.tiers[0].ReadAt(ctx, key, dst, boff)
		if err == nil || (err == io.EOF && n == len(dst)) {
			b.stats.tierHits[0].Add(1)
			return nil
		}
		if !errors.Is(err, tier.ErrMiss) {
			b.log.Debug("cache: tier read failed", "tier", 0, "err", err)
		}
	}
	data, err := b.load(ctx, obj, idx, key)
	if err != nil {
		return err
	}
	if boff+int64(len(dst)) > int64(len(data)) {
		return fmt.Errorf("cache: read %q: block %d has %d bytes, want [%d, %d)", obj.Key, idx, len(data), boff, boff+int64(len(dst)))
	}
	copy(dst, data[boff:])
	return nil
}

// Prefetch makes sure block idx of obj is cached, fetching it if no tier
// holds it. It returns when the block was loaded (or found), or when ctx
// is done; the fetch itself goes on for other waiters.
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
	_, err := b.load(ctx, obj, idx, key)
	return err
}

// Load returns the whole block idx of obj, from a tier or the origin, for
// callers that keep the block themselves. The returned bytes are shared
// and must not be modified.
func (b *Blocks) Load(ctx context.Context, obj objstore.Object, idx int64) ([]byte, error) {
	if b.closed.Load() {
		return nil, fmt.Errorf("cache: load %q: %w", obj.Key, fs.ErrClosed)
	}
	return b.load(ctx, obj, idx, Key(b.storeID, obj, b.blockSize, idx))
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

// load returns the whole block idx of obj, from a lower tier or the
// origin, filling the tiers above it. Concurrent loads of one block share
// one fetch, which runs detached from ctx under its own timeout; ctx ends
// only this caller's wait.
func (b *Blocks) load(ctx context.Context, obj objstore.Object, idx int64, key string) ([]byte, error) {
	off, length, err := BlockSpan(idx, obj.Size, b.blockSize)
	if err != nil {
		return nil, err
	}
	ch := b.flight.DoChan(key, func() (data any, err error) {
		if !b.begin() {
			return nil, fmt.Errorf("cache: fetch %q: %w", obj.Key, fs.ErrClosed)
		}
		defer b.wg.Done()
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("cache: fetch %q block %d: panic: %v\n%s", obj.Key, idx, r, debug.Stack())
			}
		}()
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.timeout)
		defer cancel()
		defer context.AfterFunc(b.stop, cancel)()
		return b.fetch(fctx, obj, idx, key, off, length)
	})
	select {
	case r := <-ch:
		if r.Shared {
			b.stats.shared.Add(1)
		}
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.([]byte), nil
	case <-ctx.Done():
		return nil, fmt.Errorf("cache: read %q block %d: %w", obj.Key, idx, ctx.Err())
	}
}

// fetch runs once per shared load.
func (b *Blocks) fetch(ctx context.Context, obj objstore.Object, idx int64, key string, off, length int64) ([]byte, error) {
	data := make([]byte, length)
	// The first tier too: the previous load of this block may have filled
	// it between this caller's miss there and the start of this load.
	for i := 0; i < len(b.tiers); i++ {
		n, err := b.tiers[i].ReadAt(ctx, key, data, 0)
		if int64(n) == length && (err == nil || err == io.EOF) {
			b.stats.tierHits[min(i, maxTiers-1)].Add(1)
			b.fill(ctx, key, data, i)
			return data, nil
		}
	}
	b.stats.originGets.Add(1)
	r, err := b.store.NewRangeReader(ctx, obj.Key, off, length, objstore.ReadOptions{Version: obj.Version})
	if err != nil {
		b.stats.originErrors.Add(1)
		return nil, err
	}
	defer r.Close()
	n, err := io.ReadFull(r, data)
	b.stats.originBytes.Add(int64(n))
	if err != nil {
		b.stats.originErrors.Add(1)
		return nil, fmt.Errorf("cache: fetch %q block %d: %w", obj.Key, idx, err)
	}
	b.fill(ctx, key, data, len(b.tiers))
	return data, nil
}

// fill offers data to the tiers above tier `below`. Tiers do not wait for
// slow storage and may drop the block; a failure is logged, not returned:
// the caller has its bytes.
func (b *Blocks) fill(ctx context.Context, key string, data []byte, below int) {
	for i := 0; i < below; i++ {
		if err := b.tiers[i].Put(ctx, key, data); err != nil {
			b.log.Debug("cache: fill failed", "tier", i, "err", err)
		}
	}
}

// begin registers a shared fetch, unless Close has begun.
func (b *Blocks) begin() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopping {
		return false
	}
	b.wg.Add(1)
	return true
}

// Close marks b closed, cancels the shared fetches still running and
// waits for them to return. It does not close the tiers or the store,
// which the caller owns. It is idempotent.
func (b *Blocks) Close() error {
	b.closed.Store(true)
	b.mu.Lock()
	b.stopping = true
	b.mu.Unlock()
	b.cancelStop()
	b.wg.Wait()
	return nil
}
