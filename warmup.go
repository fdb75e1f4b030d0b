package tierfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/tierfs/tierfs/cache"
	"github.com/tierfs/tierfs/consistency"
	"github.com/tierfs/tierfs/objstore"
)

// WarmupProgress is what Warmup reports as it goes.
type WarmupProgress struct {
	FilesDone, FilesTotal int64
	BytesDone, BytesTotal int64
	// Errors counts files that failed; Warmup goes on with the others.
	Errors int64
	// Listing is true while the files are still being found (the totals
	// grow); false once fetching has started.
	Listing bool
}

// Warmup is the scheduled "data load" run before training: it forgets the
// cached metadata, finds the files matching patterns afresh, and fetches
// them into the tiers, WithWarmupConcurrency blocks at a time.
//
// A pattern is a name, a directory (everything under it), "." (the whole
// store) or a path.Match pattern (as fs.Glob; matching directories bring in
// everything under them). progress, if not nil, is called after each block
// and each listing page, never concurrently. Cancelling ctx stops Warmup
// promptly with ctx's error; a file that fails is counted, and Warmup
// returns the errors joined after trying the rest.
func (fsys *FS) Warmup(ctx context.Context, patterns []string, progress func(WarmupProgress)) error {
	if fsys.isClosed() {
		return &fs.PathError{Op: "warmup", Path: ".", Err: fs.ErrClosed}
	}
	fsys.meta.Clear()
	w := &warmup{fsys: fsys, progress: progress, seen: map[string]bool{}}
	w.p.Listing = true
	for _, p := range patterns {
		if err := w.collect(ctx, p); err != nil {
			return err
		}
	}
	w.mu.Lock()
	w.p.Listing = false
	w.report()
	w.mu.Unlock()

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(fsys.opts.warmWorkers)
	var errsMu sync.Mutex // guards errs
	var errs []error
	bs := fsys.blocks.BlockSize()
	for _, obj := range w.files {
		nb := cache.NumBlocks(obj.Size, bs)
		if nb == 0 {
			w.fileDone(nil)
			continue
		}
		f := &warmFile{left: nb}
		for idx := range nb {
			if gctx.Err() != nil {
				break
			}
			g.Go(func() error {
				_, length, _ := cache.BlockSpan(idx, obj.Size, bs)
				err := fsys.blocks.Ensure(gctx, obj, idx)
				if gctx.Err() != nil {
					return gctx.Err()
				}
				w.blockDone(length)
				if ferr, last := f.done(err); last {
					if ferr != nil {
						errsMu.Lock()
						if len(errs) < 10 {
							errs = append(errs, &fs.PathError{Op: "warmup", Path: obj.Key, Err: ferr})
						}
						errsMu.Unlock()
					}
					w.fileDone(ferr)
				}
				return nil
			})
		}
	}
	err := g.Wait()
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		// Warmed blocks are on disk when Warmup returns, not just queued.
		fsys.blocks.Wait()
		err = flushTiers(ctx, fsys.tiers)
	}
	if err != nil {
		return fmt.Errorf("tierfs: warmup: %w", err)
	}
	return errors.Join(errs...)
}

type warmup struct {
	fsys     *FS
	progress func(WarmupProgress)
	files    []objstore.Object
	seen     map[string]bool

	mu sync.Mutex // guards p and calls to progress
	p  WarmupProgress
}

func (w *warmup) report() {
	if w.progress != nil {
		w.progress(w.p)
	}
}

func (w *warmup) add(obj objstore.Object) {
	if w.seen[obj.Key] {
		return
	}
	w.seen[obj.Key] = true
	w.files = append(w.files, obj)
	w.fsys.meta.Store(obj.Key, consistency.Entry{Object: obj})
	w.mu.Lock()
	w.p.FilesTotal++
	w.p.BytesTotal += obj.Size
	w.mu.Unlock()
}

func (w *warmup) blockDone(n int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.p.BytesDone += n
	w.report()
}

// warmFile tracks the blocks of one file still to fetch.
type warmFile struct {
	mu   sync.Mutex // guards left and err
	left int64
	err  error
}

// done records one block's result and reports whether it was the last,
// with the file's first error.
func (f *warmFile) done(err error) (error, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil && f.err == nil {
		f.err = err
	}
	f.left--
	return f.err, f.left == 0
}

func (w *warmup) fileDone(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.p.FilesDone++
	if err != nil {
		w.p.Errors++
	}
	w.report()
}

// collect adds the files a pattern names.
func (w *warmup) collect(ctx context.Context, pattern string) error {
	if !fs.ValidPath(pattern) {
		if _, err := path.Match(pattern, ""); err != nil {
			return &fs.PathError{Op: "warmup", Path: pattern, Err: fmt.Errorf("%w: %w", fs.ErrInvalid, err)}
		}
	}
	if !strings.ContainsAny(pattern, `*?[\`) {
		return w.collectName(ctx, pattern)
	}
	matches, err := fs.Glob(noGlob{w.fsys}, pattern)
	if err != nil {
		return &fs.PathError{Op: "warmup", Path: pattern, Err: fmt.Errorf("%w: %w", fs.ErrInvalid, err)}
	}
	for _, m := range matches {
		if err := w.collectName(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

func (w *warmup) collectName(ctx context.Context, name string) error {
	if !fs.ValidPath(name) {
		return &fs.PathError{Op: "warmup", Path: name, Err: fs.ErrInvalid}
	}
	e, _, err := w.fsys.resolve(ctx, "warmup", name, false)
	if err != nil {
		return err
	}
	if !e.Dir {
		w.add(e.Object)
		return nil
	}
	prefix := ""
	if name != "." {
		prefix = name + "/"
	}
	opts := objstore.ListOptions{Prefix: prefix}
	for {
		page, err := w.fsys.store.List(ctx, opts)
		if err != nil {
			return &fs.PathError{Op: "warmup", Path: name, Err: err}
		}
		for _, o := range page.Objects {
			if o.Version.IsZero() { // a listing without ETags
				key := o.Key
				if o, err = w.fsys.store.Stat(ctx, key); err != nil {
					return &fs.PathError{Op: "warmup", Path: key, Err: err}
				}
			}
			w.add(o)
		}
		w.mu.Lock()
		w.report()
		w.mu.Unlock()
		if page.Next == "" {
			return nil
		}
		opts.Token = page.Next
	}
}
