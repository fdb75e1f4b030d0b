package tierfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"path"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tierfs/tierfs/cache"
	"github.com/tierfs/tierfs/consistency"
	"github.com/tierfs/tierfs/internal/metalog"
	"github.com/tierfs/tierfs/objstore"
	_ "github.com/tierfs/tierfs/objstore/filestore" // registers file:// (standard library only)
	_ "github.com/tierfs/tierfs/objstore/memstore"  // registers mem:// (standard library only)
	"github.com/tierfs/tierfs/peer"
	"github.com/tierfs/tierfs/prefetch"
	"github.com/tierfs/tierfs/tier"
)

// FS is an io/fs.FS over an object store, with the cache tiers, the
// consistency policy and the metadata cache in front of it. Names are
// slash-separated keys relative to the store's root; directories are
// prefixes. FS is safe for concurrent use.
type FS struct {
	store      objstore.Store
	ownStore   bool // Open made the store, so Close closes it
	blocks     *cache.Blocks
	pf         *prefetch.Prefetcher
	tiers      []tier.Tier
	meta       *consistency.Meta
	journal    *metalog.Log // the metadata kept beside the disk tier, or nil
	policy     consistency.Policy
	log        *slog.Logger
	opts       options
	peer       *peer.Member // nil without WithPeers
	unregister func()       // removes the metrics collector (WithMetrics), or nil

	ctx    context.Context // base context of the fs.FS methods
	cancel context.CancelFunc

	metaLookups, metaHits atomic.Int64
	reqBase               objstore.RequestStats // the store's counts when the FS was made

	mu     sync.Mutex // guards closed
	closed bool
}

var (
	_ fs.FS         = (*FS)(nil)
	_ fs.StatFS     = (*FS)(nil)
	_ fs.ReadDirFS  = (*FS)(nil)
	_ fs.ReadFileFS = (*FS)(nil)
	_ fs.SubFS      = (*FS)(nil)
	_ fs.GlobFS     = (*FS)(nil)
)

// Open opens the store named by rawURL (s3://, oss://, file://, mem://;
// see package objstore) and returns an FS over it. file:// and mem:// are
// always registered; s3:// and oss:// are registered by importing their
// backend (objstore/s3store, objstore/ossstore) or package all, so a
// program links only the SDKs it uses. ctx governs opening;
// the FS's own operations run under WithBaseContext's context or, by
// default, ctx without its cancellation.
func Open(ctx context.Context, rawURL string, opts ...Option) (*FS, error) {
	o := defaultOptions()
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if o.log != nil {
		// The backend routes its SDK's log output to WithLogger's logger.
		ctx = objstore.ContextWithLogger(ctx, o.log)
	}
	store, err := objstore.Open(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(rawURL) // parsed already by objstore.Open
	opts = append([]Option{WithStoreID(objstore.Redact(u)), WithBaseContext(context.WithoutCancel(ctx))}, opts...)
	fsys, err := New(store, opts...)
	if err != nil {
		if c, ok := store.(io.Closer); ok {
			c.Close()
		}
		return nil, err
	}
	fsys.ownStore = true
	return fsys, nil
}

// onceFraction: an object streamed once enters the memory tier on its
// first pass if it is at most this fraction of the tier (see cache's
// admit.go), on its second otherwise.
const onceFraction = 8

// New returns an FS over store. The caller keeps ownership of store: Close
// does not close it.
func New(store objstore.Store, opts ...Option) (*FS, error) {
	if store == nil {
		return nil, fmt.Errorf("tierfs: %w: nil store", fs.ErrInvalid)
	}
	o := defaultOptions()
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	named := o.storeID != ""
	if !named {
		if o.peers != nil {
			return nil, fmt.Errorf("tierfs: %w: WithPeers needs an explicit store identity (WithStoreID)", fs.ErrInvalid)
		}
		o.storeID = "new"
	}
	if o.baseCtx == nil {
		o.baseCtx = context.Background()
	}
	log := o.log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tiers, err := newTiers(o, log)
	if err != nil {
		return nil, err
	}
	budgetSize := o.readahead.Budget
	if budgetSize == 0 {
		budgetSize = prefetch.DefaultConfig().Budget
	}
	budget := prefetch.NewBudget(budgetSize)
	member, err := newMember(o, log)
	if err != nil {
		closeTiers(tiers)
		return nil, err
	}
	ccfg := cache.Config{Store: store, StoreID: o.storeID, Tiers: tiers, BlockSize: o.blockSize, Logger: log, Budget: budget}
	if len(tiers) > 0 && o.memBytes != 0 {
		// The memory tier: the blocks of an object over an eighth of it
		// that a stream reads enter it on a second pass.
		ccfg.OnceTiers = 1
		ccfg.OnceMinSize = tiers[0].Stats().Capacity / onceFraction
	}
	if member != nil {
		// The cache reads the origin through the member, which caps the
		// loads that fall back from the ring (peer.Config.MaxFallbacks).
		ccfg.Peers, ccfg.Store = member, member.Origin(store)
	}
	blocks, err := cache.New(ccfg)
	if err != nil {
		closeTiers(tiers)
		return nil, err
	}
	pf, err := prefetch.New(o.readahead, blocks, budget, o.now)
	if err != nil {
		blocks.Close()
		closeTiers(tiers)
		return nil, err
	}
	if member != nil {
		// The member starts once the cache it serves from exists.
		if err := member.Start(o.baseCtx, blocks); err != nil {
			member.Close()
			pf.Close()
			blocks.Close()
			closeTiers(tiers)
			return nil, err
		}
	}
	meta := consistency.NewMeta(o.policy, o.now, 0)
	var journal *metalog.Log
	if o.disk != nil && len(o.disk.Dirs) > 0 && named {
		journal = keepMeta(meta, metalog.Path(o.disk.Dirs[0], o.storeID), o, log)
	}
	ctx, cancel := context.WithCancel(o.baseCtx)
	fsys := &FS{
		store: store, blocks: blocks, pf: pf, tiers: tiers, policy: o.policy,
		meta: meta, journal: journal, log: log, opts: o, ctx: ctx, cancel: cancel, peer: member,
	}
	if rc, ok := store.(objstore.RequestCounter); ok {
		fsys.reqBase = rc.RequestStats()
	}
	if o.metrics != nil {
		unregister, err := registerMetrics(fsys, o.metrics, o.storeID)
		if err != nil {
			fsys.Close()
			return nil, err
		}
		fsys.unregister = unregister
	}
	return fsys, nil
}

// keepMeta loads into meta what an earlier FS over the same store kept
// at path, beside the disk tier, and returns the journal that keeps
// meta's changes there from now on. Under a policy that allows writes it
// removes the file instead and keeps nothing: what this process writes
// would make it stale for a later read-only run.
func keepMeta(meta *consistency.Meta, path string, o options, log *slog.Logger) *metalog.Log {
	if o.policy.Writable() {
		if err := metalog.Remove(path); err != nil {
			log.Warn("tierfs: removing kept metadata", "err", err)
		}
		return nil
	}
	records, err := metalog.Load(path, o.storeID)
	if err != nil {
		// A torn or damaged file: what is before the damage is used,
		// the rest is asked of the store again.
		log.Info("tierfs: kept metadata damaged; the rest is asked of the store", "loaded", len(records), "err", err)
	}
	for _, r := range records {
		meta.Apply(r)
	}
	j := metalog.New(path, o.storeID, log)
	meta.SetJournal(j) // rewrites the file from what was loaded
	return j
}

// newMember makes the ring member WithPeers asks for, or returns nil.
func newMember(o options, log *slog.Logger) (*peer.Member, error) {
	if o.peers == nil {
		return nil, nil
	}
	cfg := *o.peers
	bs := o.blockSize
	if bs == 0 {
		bs = cache.DefaultBlockSize
	}
	if cfg.StoreID != "" && cfg.StoreID != o.storeID {
		return nil, fmt.Errorf("tierfs: %w: peer store identity %q is not the FS's %q", fs.ErrInvalid, cfg.StoreID, o.storeID)
	}
	if cfg.BlockSize != 0 && cfg.BlockSize != bs {
		return nil, fmt.Errorf("tierfs: %w: peer block size %d is not the FS's %d", fs.ErrInvalid, cfg.BlockSize, bs)
	}
	cfg.StoreID, cfg.BlockSize = o.storeID, bs
	if cfg.Logger == nil && o.log != nil {
		cfg.Logger = log
	}
	return peer.New(cfg)
}

// Peer returns the FS's member of a peer ring (WithPeers), or nil.
func (fsys *FS) Peer() *peer.Member { return fsys.peer }

// flusher is a tier that writes behind: Flush waits for what it queued.
type flusher interface {
	Flush(ctx context.Context) error
}

// flushTiers waits for the tiers that write behind (the disk tier) to
// write what they have queued.
func flushTiers(ctx context.Context, tiers []tier.Tier) error {
	var errs []error
	for _, t := range tiers {
		if f, ok := t.(flusher); ok {
			errs = append(errs, f.Flush(ctx))
		}
	}
	return errors.Join(errs...)
}

// closeFlushTimeout bounds how long Close waits for the disk tier to write
// the blocks it has queued (at most FillQueue blocks), so that the next
// process finds them.
const closeFlushTimeout = 30 * time.Second

func closeTiers(tiers []tier.Tier) error {
	var errs []error
	for _, t := range tiers {
		errs = append(errs, t.Close())
	}
	return errors.Join(errs...)
}

// Close stops the FS: it cancels the base context, waits for fetches in
// flight, closes the tiers (a disk tier keeps its blocks for the next
// run) and, when Open made the store, the store. Files still open fail
// from then on. Close is idempotent; other calls after it fail with an
// error wrapping fs.ErrClosed.
func (fsys *FS) Close() error {
	fsys.mu.Lock()
	if fsys.closed {
		fsys.mu.Unlock()
		return nil
	}
	fsys.closed = true
	fsys.mu.Unlock()
	fsys.cancel()
	if fsys.unregister != nil {
		fsys.unregister()
	}
	var errs []error
	if fsys.peer != nil {
		// The ring first: the others stop asking this member for blocks,
		// and its fetches from them go on from the origin.
		errs = append(errs, fsys.peer.Close())
	}
	// The cache next: it cancels the loads, which the prefetcher waits
	// for. Then the blocks the disk tier has queued are written, so the
	// next process on the same directories finds them.
	errs = append(errs, fsys.blocks.Close(), fsys.pf.Close())
	ctx, cancel := context.WithTimeout(context.WithoutCancel(fsys.ctx), closeFlushTimeout)
	if err := flushTiers(ctx, fsys.tiers); err != nil {
		fsys.log.Debug("tierfs: flushing the disk tier on close", "err", err)
	}
	cancel()
	errs = append(errs, closeTiers(fsys.tiers))
	if fsys.journal != nil {
		errs = append(errs, fsys.journal.Close())
	}
	if c, ok := fsys.store.(io.Closer); ok && fsys.ownStore {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

func (fsys *FS) isClosed() bool {
	fsys.mu.Lock()
	defer fsys.mu.Unlock()
	return fsys.closed
}

// Refresh forgets all cached metadata, listings included, and what is
// kept of it beside the disk tier, so the next lookups ask the store
// (cached blocks stay: they are keyed by version).
func (fsys *FS) Refresh() { fsys.meta.Clear() }

// Forget drops what the metadata cache knows of name (its size and
// version, or that it is missing; its listing if it is a directory) and
// the cached listing of the directory that holds it, here and beside the
// disk tier, so that the next Open, Stat, ReadFile or ReadDir of it asks
// the store, under any policy. Cached blocks stay: they are keyed by
// version. A read that fails with objstore.ErrChanged forgets its name by
// itself.
func (fsys *FS) Forget(name string) { fsys.meta.Forget(name) }

// changed forgets name when err says the version obj is gone and the
// metadata cache still holds that version, so that the next Open sees
// the version the store has now.
func (fsys *FS) changed(name string, obj objstore.Object, err error) {
	if !errors.Is(err, objstore.ErrChanged) {
		return
	}
	if e, ok := fsys.meta.Lookup(name); ok && !e.Dir && !e.Missing && e.Object.Version == obj.Version {
		fsys.meta.Forget(name)
	}
}

// Store returns the store the FS reads.
func (fsys *FS) Store() objstore.Store { return fsys.store }

// check validates an operation's name and the FS's state.
func (fsys *FS) check(op, name string) error {
	if !fs.ValidPath(name) {
		return &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	if fsys.isClosed() {
		return &fs.PathError{Op: op, Path: name, Err: fs.ErrClosed}
	}
	return nil
}

// resolve resolves name to a file, a directory or nothing, through the
// metadata cache under the policy: the one way Open, ReadFile and Stat
// look a name up. A name the metadata cache does not know costs one
// request: with head set (Open, ReadFile), a GET of the file's first
// openChunk bytes instead of a HEAD, which tells that it is a file, its
// size and version, and brings its first bytes (returned, and given to the
// cache, so that reading them costs nothing more); without (Stat), a
// HEAD. With peers (WithPeers), Open and ReadFile also send a HEAD: the
// version comes from the origin and the bytes from the ring, so each
// member's open does not fetch the first bytes from the origin again. A
// name that is no object may be a directory: a listing tells. Errors are
// *fs.PathError for op.
func (fsys *FS) resolve(ctx context.Context, op, name string, head bool) (consistency.Entry, []byte, error) {
	if name == "." {
		return consistency.Entry{Dir: true}, nil, nil
	}
	fsys.metaLookups.Add(1)
	if e, ok := fsys.meta.Lookup(name); ok {
		fsys.metaHits.Add(1)
		if e.Missing {
			return e, nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		return e, nil, nil
	}
	if !objstore.ValidKey(name) {
		return consistency.Entry{}, nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	var obj objstore.Object
	var first []byte
	var err error
	if head && fsys.peer == nil {
		obj, first, err = fsys.readHead(ctx, name)
		for try := 1; try < 3 && errors.Is(err, objstore.ErrChanged); try++ {
			// The version the first bytes came from went before the
			// rest of them did (a cut body resumed pinned): the name
			// is there, with a newer version.
			obj, first, err = fsys.readHead(ctx, name)
		}
	} else {
		sctx, cancel := fsys.bound(ctx)
		obj, err = fsys.store.Stat(sctx, name)
		cancel()
	}
	if err == nil && obj.Version.IsZero() {
		// A store of this module refuses such a reply itself; another
		// Store may not: an open file could not be kept to one version.
		err = objstore.NewError("stat", name, objstore.ErrBadResponse, errors.New("no ETag or version id"))
	}
	switch {
	case err == nil:
		e := consistency.Entry{Object: obj}
		fsys.meta.Store(name, e)
		return e, first, nil
	case !errors.Is(err, fs.ErrNotExist):
		return consistency.Entry{}, nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	e, err := fsys.lookupDir(ctx, op, name)
	return e, nil, err
}

// openChunk is how much of a file Open fetches with its first request.
const openChunk = 128 << 10

// readHead fetches the first openChunk bytes of name (all of a smaller
// file) with one GET, and gives them to the cache, which keeps them in
// its tiers (a whole block, or an extent of block 0) within their
// budgets: the file's first reads are served from there, and the load of
// block 0 fetches only what follows.
func (fsys *FS) readHead(ctx context.Context, name string) (objstore.Object, []byte, error) {
	rctx, cancel := fsys.bound(ctx)
	defer cancel()
	r, err := fsys.store.NewRangeReader(rctx, name, 0, openChunk, objstore.ReadOptions{Clamp: true})
	if err != nil {
		return objstore.Object{}, nil, err
	}
	defer r.Close()
	head := make([]byte, r.Remaining())
	if _, err := io.ReadFull(r, head); err != nil {
		return objstore.Object{}, nil, err
	}
	obj := r.Object()
	obj.Key = name
	fsys.blocks.Keep(ctx, obj, 0, head)
	return obj, head, nil
}

// bound returns ctx bounded by WithMetadataTimeout, for one request for
// metadata.
func (fsys *FS) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if fsys.opts.metaTimeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, fsys.opts.metaTimeout)
}

// bind returns a context that ends with ctx or with the FS (Close), with
// fs.ErrClosed as its cause then, and the function that releases it.
func (fsys *FS) bind(ctx context.Context) (context.Context, func()) {
	if ctx == fsys.ctx {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(fsys.ctx, func() { cancel(fs.ErrClosed) })
	return ctx, func() {
		stop()
		cancel(context.Canceled)
	}
}

// closedErr returns err, made to wrap fs.ErrClosed too when the FS was
// closed or ctx ended because it was: a read that Close cut short says
// so, not "context canceled".
func (fsys *FS) closedErr(ctx context.Context, err error) error {
	if err == nil || errors.Is(err, fs.ErrClosed) {
		return err
	}
	if fsys.isClosed() || errors.Is(context.Cause(ctx), fs.ErrClosed) {
		return fmt.Errorf("%w: %w", fs.ErrClosed, err)
	}
	return err
}

// Open opens the named file or directory. A file reads the object version
// it sees now, whatever happens to the object later; see File.
func (fsys *FS) Open(name string) (fs.File, error) {
	return fsys.OpenContext(fsys.ctx, name)
}

// OpenContext is Open with a context that governs the lookup and every
// later read of the returned file.
//
// The file's reads end when ctx ends or the FS is closed, whichever comes
// first (a read cut short by Close fails with an error wrapping
// fs.ErrClosed); closing the file releases ctx.
func (fsys *FS) OpenContext(ctx context.Context, name string) (fs.File, error) {
	if err := fsys.check("open", name); err != nil {
		return nil, err
	}
	ctx, release := fsys.bind(ctx)
	e, head, err := fsys.resolve(ctx, "open", name, true)
	if err != nil {
		release()
		return nil, fsys.closedPathErr(ctx, err)
	}
	if e.Dir {
		return &dir{fsys: fsys, ctx: ctx, release: release, name: name}, nil
	}
	r, err := fsys.pf.NewReader(ctx, e.Object)
	if err != nil {
		release()
		return nil, &fs.PathError{Op: "open", Path: name, Err: fsys.closedErr(ctx, err)}
	}
	r.SetHead(int64(len(head)))
	return &File{fsys: fsys, ctx: ctx, release: release, name: name, obj: e.Object, r: r}, nil
}

// closedPathErr is closedErr for the *fs.PathError resolve returns.
func (fsys *FS) closedPathErr(ctx context.Context, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		pe.Err = fsys.closedErr(ctx, pe.Err)
		return pe
	}
	return fsys.closedErr(ctx, err)
}

// lookupDir tells whether name, known not to be an object, is a
// directory.
func (fsys *FS) lookupDir(ctx context.Context, op, name string) (consistency.Entry, error) {
	ctx, cancel := fsys.bound(ctx)
	defer cancel()
	page, err := fsys.store.List(ctx, objstore.ListOptions{Prefix: name + "/", Delimiter: "/", MaxKeys: 1})
	if err != nil {
		return consistency.Entry{}, &fs.PathError{Op: op, Path: name, Err: listErr(err)}
	}
	if len(page.Objects)+len(page.Prefixes) > 0 {
		e := consistency.Entry{Dir: true}
		fsys.meta.Store(name, e)
		return e, nil
	}
	fsys.meta.Store(name, consistency.Entry{Missing: true})
	return consistency.Entry{}, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
}

// listErr explains a listing's fs.ErrNotExist: a prefix with no key under
// it lists empty, so "not there" means the store's bucket (or root
// directory) is, which would otherwise read as a failed listing of the
// name looked up.
func listErr(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("the store's bucket or root does not exist: %w", err)
	}
	return err
}

// Stat returns the FileInfo of name.
func (fsys *FS) Stat(name string) (fs.FileInfo, error) {
	if err := fsys.check("stat", name); err != nil {
		return nil, err
	}
	e, _, err := fsys.resolve(fsys.ctx, "stat", name, false)
	if err != nil {
		return nil, err
	}
	if e.Dir {
		return dirInfo{name: path.Base(name)}, nil
	}
	return fileInfo{obj: e.Object}, nil
}

// ReadFile reads the whole named file. A small file the metadata cache
// does not know costs one request.
func (fsys *FS) ReadFile(name string) ([]byte, error) {
	if err := fsys.check("read", name); err != nil {
		return nil, err
	}
	e, head, err := fsys.resolve(fsys.ctx, "read", name, true)
	if err != nil {
		return nil, err
	}
	if e.Dir {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errIsDir}
	}
	size := e.Object.Size
	// The first bytes the open fetched go to the caller as they came.
	fsys.blocks.ServedFromOrigin(int64(len(head)))
	if int64(len(head)) == size {
		return head, nil
	}
	if fsys.peer != nil && len(head) == 0 && size <= fsys.blocks.BlockSize() {
		// A file of one block is read as that block through the lookup
		// chain, so the ring shares it: a readahead reader would fetch it
		// as sparse reads, which the owner answers only if it already
		// holds the bytes (cold, they go to the origin). The block is the
		// file, so this reads no more than the file.
		buf := make([]byte, size)
		if _, err := fsys.blocks.ReadAt(fsys.ctx, e.Object, buf, 0, cache.ReadOptions{}); err != nil && err != io.EOF {
			fsys.changed(name, e.Object, err)
			return nil, &fs.PathError{Op: "read", Path: name, Err: err}
		}
		return buf, nil
	}
	r, err := fsys.pf.NewReader(fsys.ctx, e.Object)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	defer r.Close()
	buf := make([]byte, size)
	n := copy(buf, head)
	got, err := r.ReadAt(buf[n:], int64(n))
	if err != nil && !(err == io.EOF && int64(n+got) == size) {
		fsys.changed(name, e.Object, err)
		return nil, &fs.PathError{Op: "read", Path: name, Err: fsys.closedErr(fsys.ctx, err)}
	}
	return buf, nil
}

var errIsDir = fmt.Errorf("%w: is a directory", fs.ErrInvalid)

// ReadDir reads the named directory and returns its entries sorted by
// name. It lists the store one level at a time, page by page.
func (fsys *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	if err := fsys.check("readdir", name); err != nil {
		return nil, err
	}
	e, _, err := fsys.resolve(fsys.ctx, "readdir", name, false)
	if err != nil {
		return nil, err
	}
	if !e.Dir {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fmt.Errorf("%w: not a directory", fs.ErrInvalid)}
	}
	d := &dir{fsys: fsys, ctx: fsys.ctx, name: name}
	entries, err := d.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int {
		if a.Name() < b.Name() {
			return -1
		}
		if a.Name() > b.Name() {
			return 1
		}
		return 0
	})
	return entries, nil
}

// Glob returns the names matching pattern, as fs.Glob does.
func (fsys *FS) Glob(pattern string) ([]string, error) {
	return fs.Glob(noGlob{fsys}, pattern)
}

// noGlob hides FS.Glob from fs.Glob, which would otherwise call it back.
type noGlob struct{ fsys *FS }

func (g noGlob) Open(name string) (fs.File, error)          { return g.fsys.Open(name) }
func (g noGlob) ReadDir(name string) ([]fs.DirEntry, error) { return g.fsys.ReadDir(name) }
func (g noGlob) Stat(name string) (fs.FileInfo, error)      { return g.fsys.Stat(name) }

// Sub returns the FS rooted at dir.
func (fsys *FS) Sub(dir string) (fs.FS, error) {
	if err := fsys.check("sub", dir); err != nil {
		return nil, err
	}
	if dir == "." {
		return fsys, nil
	}
	return &subFS{fsys: fsys, dir: dir}, nil
}
