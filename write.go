package tierfs

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tierfs/tierfs/cache"
	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/tier"
)

// CreateOptions qualify [FS.CreateContext]. The zero value (and nil) is
// what Create does: an unconditional write with the store's part size.
type CreateOptions struct {
	// ContentType is stored with the object where the store keeps one.
	ContentType string
	// Metadata is stored as the object's user metadata where the store
	// keeps it (S3, OSS); names are ASCII letters, digits and '-'.
	Metadata map[string]string

	// IfMatch publishes the file only if the object's current version
	// still has this ETag (checked by the store when the upload
	// completes); IfNotExist only if no object has the name. A write that
	// loses fails at Close with an error wrapping objstore.ErrChanged and
	// publishes nothing. IfUnchanged does either with what CreateContext
	// found: IfMatch of the version it resolved, or IfNotExist when the
	// name was free, so that a writer never overwrites a version it did
	// not see. At most one of the three may be set. OSS checks IfNotExist
	// only (IfMatch fails with errors.ErrUnsupported); file:// checks
	// them against writers in this process only.
	IfMatch     objstore.Version
	IfNotExist  bool
	IfUnchanged bool

	// Size, if not zero, is the exact number of bytes that will be
	// written; the store sizes its parts for it (a larger or smaller
	// write fails at Close with fs.ErrInvalid). Zero means unknown: S3
	// parts then grow as the file does, so a file of up to 5 TiB fits in
	// S3's 10,000 parts.
	Size int64
	// PartSize and Concurrency, if not zero, replace the store's part
	// size and parts in flight for this write (S3, OSS). The upload holds
	// at most Concurrency+1 parts in memory.
	PartSize    int64
	Concurrency int
}

// Create returns a writer for name, under a ReadWrite policy (otherwise an
// error wrapping fs.ErrPermission): CreateContext with the FS's base
// context and no options.
func (fsys *FS) Create(name string) (io.WriteCloser, error) {
	return fsys.CreateContext(fsys.ctx, name, nil)
}

// CreateContext returns a Writer for name, under a ReadWrite policy
// (otherwise an error wrapping fs.ErrPermission). The bytes stream to the
// store as they are written (S3 and OSS: a multipart upload whose parts go
// out while more arrive, Concurrency at once; file://: a temporary file
// beside the target, renamed at Close), so memory stays within the
// store's part buffers whatever the file's size.
//
// Nothing is visible before Close returns nil, and nothing half-written
// ever is: Abort, or cancelling ctx before Close returns, or closing the
// FS, publishes nothing and aborts the multipart upload; a failed Close
// leaves the previous version. After Close this process reads the new version at
// once: the written bytes enter the cache tiers under it (0 origin GETs
// to read them back while they fit), and the old version's blocks are
// dropped.
//
// The name is checked at once: an invalid name fails with fs.ErrInvalid,
// a name that is a directory with fs.ErrInvalid, a name with a parent
// that is a file with fs.ErrExist, each in an *fs.PathError.
func (fsys *FS) CreateContext(ctx context.Context, name string, opts *CreateOptions) (*Writer, error) {
	const op = "create"
	var o CreateOptions
	if opts != nil {
		o = *opts
	}
	old, err := fsys.checkWrite(ctx, op, name)
	if err != nil {
		return nil, err
	}
	popts := objstore.PutOptions{
		Size: o.Size, ContentType: o.ContentType, Metadata: o.Metadata,
		IfMatch: o.IfMatch, IfNotExist: o.IfNotExist, PartSize: o.PartSize, Concurrency: o.Concurrency,
	}
	if o.IfUnchanged {
		if popts.Conditional() {
			return nil, &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("%w: IfUnchanged with IfMatch or IfNotExist", fs.ErrInvalid)}
		}
		if old != nil {
			popts.IfMatch = objstore.Version{ETag: old.Version.ETag}
			if old.Version.ETag == "" {
				popts.IfMatch = old.Version
			}
		} else {
			popts.IfNotExist = true
		}
	}
	// The upload ends with ctx or with the FS: Close of the FS aborts it.
	ctx, release := fsys.bind(ctx)
	ow, err := objstore.NewWriter(ctx, fsys.store, name, popts)
	if err != nil {
		release()
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	w := &Writer{fsys: fsys, ctx: ctx, name: name, old: old, w: ow}
	w.release = sync.OnceFunc(release)
	if fsys.blocks.Tiered() {
		w.bs = fsys.blocks.BlockSize()
		var id [12]byte
		rand.Read(id[:])
		w.pending = objstore.Object{Key: name, Size: 1 << 62, Version: objstore.Version{ETag: "tierfs-pending-" + hex.EncodeToString(id[:])}}
	}
	return w, nil
}

// checkWrite checks that name may be written: the policy, the name, and
// what the store holds (not a directory; no parent a file). It returns
// the object name holds now, if any.
func (fsys *FS) checkWrite(ctx context.Context, op, name string) (*objstore.Object, error) {
	if err := fsys.check(op, name); err != nil {
		return nil, err
	}
	if !fsys.policy.Writable() {
		return nil, &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("%w: the %v policy does not allow writes", fs.ErrPermission, fsys.policy)}
	}
	if name == "." || !objstore.ValidKey(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	e, _, err := fsys.resolve(ctx, op, name, false)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if e.Dir {
		return nil, &fs.PathError{Op: op, Path: name, Err: errIsDir}
	}
	for dir := name; ; {
		i := strings.LastIndexByte(dir, '/')
		if i < 0 {
			break
		}
		dir = dir[:i]
		if pe, ok := fsys.meta.Lookup(dir); ok && pe.Dir {
			break // a known directory's parents are directories too
		}
		if _, serr := fsys.store.Stat(ctx, dir); serr == nil {
			return nil, &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("%w: parent %q is a file", fs.ErrExist, dir)}
		} else if !errors.Is(serr, fs.ErrNotExist) {
			return nil, &fs.PathError{Op: op, Path: name, Err: serr}
		}
	}
	if err == nil {
		old := e.Object
		return &old, nil
	}
	return nil, nil
}

// Writer is a file being written, from [FS.CreateContext]. Write streams
// its bytes to the store; Close publishes it; Abort (or cancelling the
// context given to CreateContext) abandons it. A Writer is for one
// goroutine, except Abort, which may be called from another to stop a
// Write in progress.
type Writer struct {
	fsys *FS
	ctx  context.Context
	name string
	old  *objstore.Object // the version replaced, if any
	w    *objstore.Writer

	release func() // ends the watch of the FS's Close on ctx; once the upload is over

	// The written bytes bound for the tiers: each full block is offered
	// to them under pending (a version no store has) as it is written,
	// and moved under the new version at Close; cur holds the block being
	// filled. bs is 0 without tiers.
	bs      int64
	pending objstore.Object
	cur     []byte       // from getBuf
	bufs    chan []byte  // block buffers the tiers released
	made    int          // block buffers made, up to writeBufs
	blocks  atomic.Int64 // full blocks offered under pending; read by Abort
	size    int64

	mu     sync.Mutex // guards closed and err
	closed bool
	err    error // the first Close's or Abort's result
}

var _ io.WriteCloser = (*Writer)(nil)

// Write writes p to the file. It blocks while the upload's part buffers
// are full; after the upload failed, was aborted or ctx was cancelled, it
// returns an error.
func (w *Writer) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	if w.bs > 0 {
		w.keep(p[:n])
	}
	w.size += int64(n)
	if err != nil {
		return n, &fs.PathError{Op: "write", Path: w.name, Err: err}
	}
	return n, nil
}

// keep collects written bytes into blocks and offers each full one to
// the tiers under the pending version.
func (w *Writer) keep(p []byte) {
	for len(p) > 0 {
		if w.cur == nil {
			w.cur = w.getBuf()
		}
		n := min(len(p), int(w.bs)-len(w.cur))
		w.cur = append(w.cur, p[:n]...)
		p = p[n:]
		if int64(len(w.cur)) == w.bs {
			key := cache.Key(w.fsys.opts.storeID, w.pending, w.bs, w.blocks.Load())
			w.offer(w.fsys.tiers, key, w.cur)
			w.blocks.Add(1)
			w.cur = nil
		}
	}
}

// writeBufs is how many block buffers a Writer uses to pass written
// blocks to the tiers: the disk tier writes them behind, and a Writer
// whose buffers are all queued there waits for one, so the written bytes
// bound for the tiers hold at most writeBufs blocks of memory and never
// overflow the disk tier's queue (which would drop them). One: the disk
// tier writes a block in a fraction of the time the upload takes to send
// it, so a second buffer bought no speed (scenario 8: 107 MB/s with one,
// 97-99 with two, on the same busy machine) but cost a block of memory,
// and twice that in the garbage the collector lets grow beside the live
// heap before it runs (the writer's peak RSS: 88 MiB with one, 95-97 with
// two, against a bound of 96).
const writeBufs = 1

// getBuf returns an empty block buffer, waiting for one the tiers have
// released once writeBufs are out.
func (w *Writer) getBuf() []byte {
	if w.bufs == nil {
		w.bufs = make(chan []byte, writeBufs)
	}
	select {
	case b := <-w.bufs:
		return b[:0]
	default:
	}
	if w.made < writeBufs {
		w.made++
		return make([]byte, 0, w.bs)
	}
	select {
	case b := <-w.bufs:
		return b[:0]
	case <-w.fsys.ctx.Done(): // the FS closed: its tiers may keep a buffer for good
		return make([]byte, 0, w.bs)
	}
}

// offer gives the full block data (a buffer of getBuf) to tiers under
// key: to a tier that writes behind (tier.Releaser, the disk tier) as it
// is, to the others (the memory tier, which keeps what it is given) as a
// copy. data goes back to the buffers once no tier reads it.
func (w *Writer) offer(tiers []tier.Tier, key string, data []byte) {
	ctx := context.WithoutCancel(w.ctx)
	var refs atomic.Int32
	refs.Store(1)
	done := func() {
		if refs.Add(-1) == 0 {
			select {
			case w.bufs <- data:
			default: // one made while the FS closed: left to the GC
			}
		}
	}
	for _, t := range tiers {
		if r, ok := t.(tier.Releaser); ok {
			refs.Add(1)
			r.PutRelease(ctx, key, data, done) // calls done, on error too
			continue
		}
		t.Put(ctx, key, bytes.Clone(data))
	}
	done()
}

// Close publishes the file and waits for the upload. nil means the store
// holds the new version and this process reads it at once. A conditional
// write that lost (CreateOptions.IfMatch, IfNotExist, IfUnchanged) fails
// with an error wrapping objstore.ErrChanged. Close is idempotent: later
// calls return the first call's result.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return w.err
	}
	w.closed = true
	w.err = w.close()
	return w.err
}

func (w *Writer) close() error {
	defer w.release()
	moved := false
	defer func() {
		if !moved {
			w.dropPending()
		}
	}()
	if w.fsys.isClosed() {
		w.w.Abort()
		return &fs.PathError{Op: "close", Path: w.name, Err: fs.ErrClosed}
	}
	if err := w.w.Close(); err != nil {
		return &fs.PathError{Op: "close", Path: w.name, Err: err}
	}
	obj := w.w.Object()
	w.fsys.meta.Written(w.name, obj)
	if w.old != nil && w.old.Version != obj.Version {
		if err := w.fsys.blocks.Drop(w.ctx, *w.old); err != nil {
			w.fsys.log.Debug("tierfs: dropping blocks of a replaced file", "name", w.name, "err", err)
		}
	}
	if w.bs > 0 && obj.Size == w.size {
		w.moveBlocks(obj) // leaves no block under the pending version
		moved = true
	}
	return nil
}

// moveBlocks puts the written blocks under obj, the new version: the
// last one from memory, and each full block held under the pending
// version by a tier that is a tier.Mover (both tiers are) moved there,
// with no byte read or written (the disk tier rewrites the block file's
// header and renames it). Only for a tier that is no Mover or whose Move
// fails (it lost the block, or cannot move it: another device, say) is
// the block read back, from whichever tier still has it, and offered to
// that tier again, as every block once was (2 GiB read and written again
// at the Close of a 2 GiB checkpoint). A block no tier holds is not
// offered; reading it costs an origin GET. It returns once the tiers
// serve every block moved or offered, so the first read of the new
// version finds them.
func (w *Writer) moveBlocks(obj objstore.Object) {
	ctx := context.WithoutCancel(w.ctx)
	n := w.blocks.Load()
	if len(w.cur) > 0 {
		// The last, partial block first: Keep copies it, and its buffer
		// (the only one: writeBufs) then serves the reads below.
		w.fsys.blocks.Keep(ctx, obj, n*w.bs, w.cur)
		select {
		case w.bufs <- w.cur:
		default:
		}
		w.cur = nil
	}
	tiers := w.fsys.tiers
	// Where each tier has the block after its Move: under to, under from
	// (no Mover, or it could not move it), or nowhere (it lost it).
	const (
		underFrom = iota
		underTo
		lost
	)
	has := make([]int, len(tiers))
	var rest []tier.Tier
	for idx := int64(0); idx < n; idx++ {
		from := cache.Key(w.fsys.opts.storeID, w.pending, w.bs, idx)
		to := cache.Key(w.fsys.opts.storeID, obj, w.bs, idx)
		rest = rest[:0]
		for i, t := range tiers {
			has[i] = underFrom
			if m, ok := t.(tier.Mover); ok {
				switch err := m.Move(ctx, from, to); {
				case err == nil:
					has[i] = underTo
					continue
				case errors.Is(err, tier.ErrMiss):
					has[i] = lost
				}
			}
			rest = append(rest, t)
		}
		if len(rest) == 0 {
			continue
		}
		buf := w.getBuf()[:w.bs]
		found := false
		for i, t := range tiers {
			key := from
			switch has[i] {
			case lost:
				continue
			case underTo:
				key = to
			}
			if m, err := t.ReadAt(ctx, key, buf, 0); int64(m) == w.bs && (err == nil || err == io.EOF) {
				found = true
				break
			}
		}
		for _, t := range rest {
			t.Delete(ctx, from)
		}
		if !found {
			select {
			case w.bufs <- buf:
			default:
			}
			continue
		}
		w.offer(rest, to, buf)
	}
	// Read-your-writes from the first read on: the disk tier has written
	// the blocks, the memory tier has admitted them.
	flushTiers(ctx, tiers)
	for _, t := range tiers {
		if a, ok := t.(interface{ Wait() }); ok {
			a.Wait()
		}
	}
}

// dropPending removes the blocks offered under the pending version. A
// block a Write in another goroutine offers after it (a Write racing
// Abort) stays until the tier evicts it: no reader can ask for it. A
// Close that ran moveBlocks does not call it: every pending key is gone
// by then (moved, or deleted after its block was offered again).
func (w *Writer) dropPending() {
	if w.bs == 0 {
		return
	}
	ctx := context.WithoutCancel(w.ctx)
	n := w.blocks.Load()
	for idx := int64(0); idx < n; idx++ {
		key := cache.Key(w.fsys.opts.storeID, w.pending, w.bs, idx)
		for _, t := range w.fsys.tiers {
			t.Delete(ctx, key)
		}
	}
}

// Abort abandons the file: nothing is published, the multipart upload is
// aborted (it has been when Abort returns), and a Write in progress in
// another goroutine returns an error. Abort after Abort returns nil;
// Abort after Close does nothing and returns an error wrapping
// fs.ErrClosed (Close's result says whether the file was published).
func (w *Writer) Abort() error {
	if err := w.w.Abort(); err != nil {
		return &fs.PathError{Op: "abort", Path: w.name, Err: err}
	}
	w.release()
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		w.closed = true
		w.err = &fs.PathError{Op: "close", Path: w.name, Err: objstore.ErrAborted}
		w.dropPending()
	}
	return nil
}

// Object returns the stored object after a successful Close, and the
// zero Object otherwise.
func (w *Writer) Object() objstore.Object { return w.w.Object() }

// Remove removes the named file, under a ReadWrite policy (otherwise an
// error wrapping fs.ErrPermission). Directories are prefixes: they go
// away with their last file.
func (fsys *FS) Remove(name string) error {
	if err := fsys.check("remove", name); err != nil {
		return err
	}
	if !fsys.policy.Writable() {
		return &fs.PathError{Op: "remove", Path: name, Err: fmt.Errorf("%w: the %v policy does not allow writes", fs.ErrPermission, fsys.policy)}
	}
	e, _, err := fsys.resolve(fsys.ctx, "remove", name, false)
	if err != nil {
		return err
	}
	if e.Dir {
		return &fs.PathError{Op: "remove", Path: name, Err: errIsDir}
	}
	return fsys.removeObject(fsys.ctx, "remove", e.Object)
}

// removeObject deletes obj and forgets it.
func (fsys *FS) removeObject(ctx context.Context, op string, obj objstore.Object) error {
	if err := fsys.store.Delete(ctx, obj.Key); err != nil {
		return &fs.PathError{Op: op, Path: obj.Key, Err: err}
	}
	fsys.meta.Removed(obj.Key)
	if err := fsys.blocks.Drop(ctx, obj); err != nil {
		fsys.log.Debug("tierfs: dropping blocks of a removed file", "name", obj.Key, "err", err)
	}
	return nil
}
