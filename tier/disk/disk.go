package disk

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tierfs/tierfs/tier"
)

var _ tier.Tier = (*Tier)(nil)

// ErrLocked reports that a cache directory is owned by another Tier, in
// this process or another. It wraps fs.ErrExist.
var ErrLocked = fmt.Errorf("tier: disk: cache directory in use by another tier: %w", fs.ErrExist)

// Clock tells the time. The tier uses it for I/O timeouts, health probes
// and the statfs poll; tests pass a fake one.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives the time once d has passed.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Options are the settings of a Tier that are not part of
// tier.DiskConfig. The zero value (or nil) is ready to use.
type Options struct {
	// Logger receives state changes: a directory that turns sick or
	// healthy, damaged files, sweep results. Nil discards.
	Logger *slog.Logger
	// Clock tells the time. Nil means the real clock.
	Clock Clock

	// Testing hooks, set only by this package's tests.
	fsys       fileSystem       // nil means the real file system
	beforeWalk func(dir string) // called at the start of each directory's rebuild walk
	afterSweep func(dir string) // called when a directory's sweep of earlier formats is done
	moveHook   func()           // called by a Move between its header write and its rename
}

// Tier is a disk tier: blocks in files over one or more directories, with
// a quota, watermarks, a free-space floor, per-piece checksums, atomic
// writes, a lock per directory and an index rebuilt at start. See the
// package documentation. All methods are safe for concurrent use.
//
// Lock order: Tier.mmu, then Tier.pmu, then dir.mu; no file operation
// runs under pmu or dir.mu.
type Tier struct {
	cfg   tier.DiskConfig // validated, defaults filled in
	log   *slog.Logger
	clock Clock
	fs    fileSystem
	dirs  []*dir

	queue chan *fill

	pmu     sync.Mutex       // guards pending, idle and the canceled flag of every fill
	pending map[string]*fill // blocks accepted by Put and not yet written or dropped
	idle    chan struct{}    // closed while pending is empty

	mmu sync.Mutex // serializes maintenance passes

	moves sync.WaitGroup // Moves in progress (Add under pmu while not closed); Close waits for them

	closed    atomic.Bool
	done      chan struct{} // closed by Close: goroutines stop
	closeOnce sync.Once
	wg        sync.WaitGroup // workers, rebuild walks, maintenance

	hits, misses, puts, dropped, evictions, corrupt, ioErrors atomic.Int64

	moveHook func() // Options.moveHook
}

// dir is one cache directory: its lock, its share of the quota, its
// index and its health.
type dir struct {
	path     string // the configured directory, absolute
	root     string // path/v2 (layoutDir): where block files live
	id       uint64 // placement seed, kept in the lock file
	lockFile *os.File
	bsize    int64  // file-system block size: the unit of space charged
	dev      uint64 // the layout directory's device: a Move between directories on two devices cannot rename

	share, high, low int64 // quota share and watermarks, in bytes

	ready   chan struct{} // closed when the rebuild walk has counted every file
	rebuilt atomic.Bool   // set just before ready is closed

	mu        sync.Mutex // guards every field below
	unlinked  *sync.Cond // on mu: signalled when releasing drops
	idx       *lru
	fds       *fdCache // open block files, each belonging to an entry of idx
	reserved  int64    // bytes of blocks being written (their charge)
	releasing int64    // bytes of blocks evicted from idx and not yet unlinked
	sick      bool
	sickErr   error
	readOK    bool // sick, but a probe read an indexed block: reads are served, fills still dropped
	lost      bool // the lock file is gone or replaced: sick until Close, never probed
	nextProbe time.Time
	inflight  map[uint64]time.Time // start time of each file operation in progress
	moving    map[keyHash]bool     // keys a Move is moving from or to (see move.go)
	seq       uint64
}

// Open opens a disk tier over cfg.Dirs, creating them (0700) if missing
// and taking each one's lock; a directory owned by another tier fails
// with an error wrapping ErrLocked. It starts the index rebuild in the
// background and returns at once: blocks already on disk are served while
// the rebuild runs. o may be nil.
func Open(cfg tier.DiskConfig, o *Options) (*Tier, error) {
	cfg, err := validate(cfg)
	if err != nil {
		return nil, err
	}
	if o == nil {
		o = &Options{}
	}
	t := &Tier{
		cfg:      cfg,
		log:      o.Logger,
		clock:    o.Clock,
		fs:       o.fsys,
		moveHook: o.moveHook,
		queue:    make(chan *fill, cfg.FillQueue),
		pending:  make(map[string]*fill),
		idle:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	close(t.idle)
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	if t.clock == nil {
		t.clock = realClock{}
	}
	if t.fs == nil {
		t.fs = osFS{}
	}
	share := cfg.Quota / int64(len(cfg.Dirs))
	for _, p := range cfg.Dirs {
		d, err := t.openDir(p, share)
		if err != nil {
			t.releaseLocks()
			return nil, err
		}
		t.dirs = append(t.dirs, d)
	}
	// Two directories with the same placement seed (one copied from the
	// other) would take every block to one of them.
	seen := map[uint64]bool{}
	for _, d := range t.dirs {
		for seen[d.id] {
			if err := d.newID(); err != nil {
				t.releaseLocks()
				return nil, err
			}
		}
		seen[d.id] = true
	}
	for _, d := range t.dirs {
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			t.rebuild(d, o.beforeWalk)
			t.sweepOld(d)
			if o.afterSweep != nil {
				o.afterSweep(d.path)
			}
		}()
	}
	for range cfg.FillWorkers {
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			t.worker()
		}()
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		t.maintenanceLoop()
	}()
	return t, nil
}

// validate checks cfg and fills in the defaults of its zero fields.
func validate(cfg tier.DiskConfig) (tier.DiskConfig, error) {
	bad := func(format string, args ...any) (tier.DiskConfig, error) {
		return tier.DiskConfig{}, fmt.Errorf("tier: disk: "+format+": %w", append(args, fs.ErrInvalid)...)
	}
	if len(cfg.Dirs) == 0 {
		return bad("no directories")
	}
	dirs := make([]string, 0, len(cfg.Dirs))
	seen := map[string]bool{}
	for _, p := range cfg.Dirs {
		if p == "" {
			return bad("empty directory name")
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			return bad("directory %q: %v", p, err)
		}
		if seen[abs] {
			return bad("directory %q given twice", abs)
		}
		seen[abs] = true
		dirs = append(dirs, abs)
	}
	for _, a := range dirs {
		for _, b := range dirs {
			if a != b && len(b) > len(a) && b[:len(a)] == a && b[len(a)] == filepath.Separator {
				return bad("directory %q is inside directory %q", b, a)
			}
		}
	}
	for _, d := range dirs {
		// Inside another tier's directory (this process's or another's):
		// its rebuild would take our files for its own.
		for p := filepath.Dir(d); ; p = filepath.Dir(p) {
			if _, err := os.Lstat(filepath.Join(p, lockName)); err == nil {
				return bad("directory %q is inside cache directory %q", d, p)
			}
			if filepath.Dir(p) == p {
				break
			}
		}
	}
	cfg.Dirs = dirs
	if cfg.Quota <= 0 {
		return bad("quota %d is not positive", cfg.Quota)
	}
	if cfg.Quota/int64(len(dirs)) <= 0 {
		return bad("quota %d is too small for %d directories", cfg.Quota, len(dirs))
	}
	if cfg.High == 0 {
		cfg.High = 0.95
	}
	if cfg.Low == 0 {
		cfg.Low = 0.7
	}
	if !(cfg.Low > 0 && cfg.Low < cfg.High && cfg.High <= 1) { // also false for NaN
		return bad("watermarks low %v, high %v: want 0 < low < high ≤ 1", cfg.Low, cfg.High)
	}
	switch {
	case cfg.MinFreeRatio == 0:
		cfg.MinFreeRatio = 0.05
	case math.IsNaN(cfg.MinFreeRatio) || cfg.MinFreeRatio >= 1:
		return bad("free-space ratio %v: want < 1", cfg.MinFreeRatio)
	}
	if cfg.FillQueue < 0 || cfg.FillWorkers < 0 || cfg.IOTimeout < 0 || cfg.ProbeInterval < 0 {
		return bad("negative fill queue, fill workers, I/O timeout or probe interval")
	}
	if cfg.FillQueue == 0 {
		cfg.FillQueue = 64
	}
	if cfg.FillWorkers == 0 {
		cfg.FillWorkers = 2 * len(dirs)
	}
	if cfg.IOTimeout == 0 {
		cfg.IOTimeout = 10 * time.Second
	}
	if cfg.ProbeInterval == 0 {
		cfg.ProbeInterval = 30 * time.Second
	}
	return cfg, nil
}

// dirFor places a block: rendezvous hashing of the key hash over the
// directories' seeds, so blocks spread evenly, a reordered Dirs list keeps
// every block where it is, and adding a directory moves only its share.
func (t *Tier) dirFor(h keyHash) *dir {
	if len(t.dirs) == 1 {
		return t.dirs[0]
	}
	k := binary.LittleEndian.Uint64(h[8:])
	var best *dir
	var bestScore uint64
	for _, d := range t.dirs {
		if s := mix64(k ^ d.id); best == nil || s > bestScore {
			best, bestScore = d, s
		}
	}
	return best
}

// mix64 is the splitmix64 finalizer.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func (d *dir) blockPath(h keyHash) string {
	name := h.name()
	return d.root + string(filepath.Separator) + name[:2] + string(filepath.Separator) + name
}

func errClosed(op string) error { return fmt.Errorf("tier: disk: %s: %w", op, fs.ErrClosed) }

// ReadAt implements tier.Tier. It verifies the header of the block file
// and the checksum of every piece the range covers, on every read.
func (t *Tier) ReadAt(ctx context.Context, key string, p []byte, off int64) (int, error) {
	if t.closed.Load() {
		return 0, errClosed("read")
	}
	if off < 0 {
		return 0, fmt.Errorf("tier: disk: read at offset %d: %w", off, fs.ErrInvalid)
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if n, err, ok := t.readPending(key, p, off); ok {
		t.hits.Add(1)
		return n, err
	}
	n, err := t.readDisk(key, p, off)
	if errors.Is(err, tier.ErrMiss) {
		t.misses.Add(1)
	} else {
		t.hits.Add(1)
	}
	return n, err
}

func miss(what string) error { return fmt.Errorf("tier: disk: %s: %w", what, tier.ErrMiss) }

// Put implements tier.Tier: it queues the block for a fill worker and
// returns at once; a full queue or a sick directory drops the block.
func (t *Tier) Put(ctx context.Context, key string, data []byte) error {
	return t.PutRelease(ctx, key, data, nil)
}

// PutRelease implements tier.Releaser: Put, calling release (if not nil)
// once the block is written or dropped and no read of it from the queue
// still copies from data.
func (t *Tier) PutRelease(ctx context.Context, key string, data []byte, release func()) error {
	queued := false
	defer func() {
		if !queued && release != nil {
			release()
		}
	}()
	if key == "" {
		return fmt.Errorf("tier: disk: put: empty key: %w", fs.ErrInvalid)
	}
	if len(key) > maxKeyLen {
		return fmt.Errorf("tier: disk: put: key of %d bytes, limit %d: %w", len(key), maxKeyLen, fs.ErrInvalid)
	}
	if t.closed.Load() {
		return errClosed("put")
	}
	h := hashKey(key)
	d := t.dirFor(h)
	d.mu.Lock()
	sick, present := d.sick, d.idx.get(h) != nil
	d.mu.Unlock()
	if present {
		return nil // a key always names the same bytes
	}
	if sick || fileSize(len(key), int64(len(data))) > d.share {
		t.dropped.Add(1)
		return nil
	}
	t.pmu.Lock()
	defer t.pmu.Unlock()
	if t.closed.Load() {
		return errClosed("put")
	}
	if t.pending[key] != nil {
		return nil
	}
	f := &fill{key: key, h: h, d: d, data: data, release: release, done: make(chan struct{})}
	select {
	case t.queue <- f:
		if len(t.pending) == 0 {
			t.idle = make(chan struct{})
		}
		t.pending[key] = f
		queued = true
	default:
		t.dropped.Add(1)
	}
	return nil
}

// Delete implements tier.Tier.
func (t *Tier) Delete(ctx context.Context, key string) error {
	if t.closed.Load() {
		return errClosed("delete")
	}
	t.pmu.Lock()
	if f := t.pending[key]; f != nil {
		f.canceled = true
		t.unpendLocked(f)
	}
	t.pmu.Unlock()
	h := hashKey(key)
	d := t.dirFor(h)
	var open *openBlock
	d.mu.Lock()
	if e := d.idx.get(h); e != nil {
		open = d.removeLocked(e)
	}
	d.mu.Unlock()
	closeFiles(open)
	// Unlink even when the index did not know the file: during the
	// rebuild it may not have been counted yet.
	t.unlink(d, d.blockPath(h))
	return nil
}

// Contains implements tier.Tier. A block still queued for writing is
// there, whatever the health of its directory: ReadAt serves it from the
// caller's bytes. Otherwise the directory's index answers, and a sick
// directory answers false (its reads miss). Contains reads no file, opens
// none (the cache of open files is left alone), does not move the block
// up the LRU and counts nothing; it takes Tier.pmu and the directory's
// mutex, each for a map lookup.
//
// One exception reaches the disk: before the directory's start-up
// rebuild has finished, a block file may be there that the index does not
// know yet (ReadAt looks for it and indexes it). Then Contains stats the
// block's path: a stat(2), no open, no byte read, no index entry added,
// no counter; a regular file there is a yes (its header is checked only
// by a ReadAt), and a stat that fails is a no, not an I/O error.
func (t *Tier) Contains(key string) bool {
	if t.closed.Load() {
		return false
	}
	t.pmu.Lock()
	f := t.pending[key]
	t.pmu.Unlock()
	if f != nil {
		return true
	}
	h := hashKey(key)
	d := t.dirFor(h)
	d.mu.Lock()
	// rebuilt is read under d.mu, as in readDisk: the walk adds its last
	// batch under d.mu before it sets rebuilt, so seeing it set here means
	// the index is complete.
	sick, indexed, rebuilt := d.sick && !d.readOK, d.idx.get(h) != nil, d.rebuilt.Load()
	d.mu.Unlock()
	switch {
	case sick:
		return false
	case indexed:
		return true
	case rebuilt:
		return false
	}
	info, err := t.fs.Stat(d.blockPath(h))
	return err == nil && info.Mode().IsRegular()
}

// Flush waits until every directory's index rebuild is done and every
// block accepted by Put so far has been written or dropped. It is the
// Settle hook of the conformance suite.
func (t *Tier) Flush(ctx context.Context) error {
	if t.closed.Load() {
		return errClosed("flush")
	}
	for _, d := range t.dirs {
		select {
		case <-d.ready:
		case <-ctx.Done():
			return ctx.Err()
		case <-t.done:
			return errClosed("flush")
		}
	}
	t.pmu.Lock()
	idle := t.idle
	t.pmu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-t.done:
		return errClosed("flush")
	}
}

// Name returns "disk", the tier's name in the cache's statistics.
func (t *Tier) Name() string { return "disk" }

// Stats implements tier.Tier.
func (t *Tier) Stats() tier.Stats {
	st := tier.Stats{
		Hits: t.hits.Load(), Misses: t.misses.Load(), Puts: t.puts.Load(), Dropped: t.dropped.Load(),
		Evictions: t.evictions.Load(), Corrupt: t.corrupt.Load(), Errors: t.ioErrors.Load(),
		Capacity: t.cfg.Quota,
	}
	for _, d := range t.dirs {
		d.mu.Lock()
		st.Bytes += d.idx.used
		st.Blocks += int64(d.idx.len())
		d.mu.Unlock()
	}
	return st
}

// Close implements tier.Tier. Blocks still queued are dropped (and
// counted); a block being written is finished. Close waits for every
// goroutine of the tier, so a file operation hung in the kernel holds it
// up, and then releases the directory locks.
func (t *Tier) Close() error {
	t.closeOnce.Do(func() {
		t.pmu.Lock()
		t.closed.Store(true)
		t.pmu.Unlock()
		close(t.done)
		t.wg.Wait()
		t.moves.Wait()
		t.pmu.Lock()
		for {
			select {
			case f := <-t.queue:
				t.dropped.Add(1)
				t.unpendLocked(f)
				if rel := f.endLocked(); rel != nil {
					defer rel()
				}
				continue
			default:
			}
			break
		}
		t.pmu.Unlock()
		for _, d := range t.dirs {
			d.mu.Lock()
			open := d.fds.closeAll()
			d.mu.Unlock()
			closeFiles(open...)
		}
		t.releaseLocks()
	})
	return nil
}

func (t *Tier) releaseLocks() {
	for _, d := range t.dirs {
		d.lockFile.Close() // closing the descriptor releases the flock
	}
}

// unpendLocked removes f from pending if it is still there. t.pmu is held.
func (t *Tier) unpendLocked(f *fill) {
	if t.pending[f.key] != f {
		return
	}
	delete(t.pending, f.key)
	if len(t.pending) == 0 {
		close(t.idle)
	}
}
