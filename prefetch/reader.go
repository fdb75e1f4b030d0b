package prefetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
	"time"

	"github.com/tierfs/tierfs/cache"
	"github.com/tierfs/tierfs/objstore"
)

// Reader reads one object version with readahead. ReadAt may be called
// from several goroutines at once; reads that several goroutines issue in
// order still count as sequential.
//
// A Reader plans under its lock and does I/O outside it. Lock order:
// Reader.mu before Prefetcher.mu; the cache's locks are never taken while
// Reader.mu is held, except by Handle.Release, which takes only the
// cache's own lock.
type Reader struct {
	p      *Prefetcher
	ctx    context.Context
	cancel context.CancelFunc
	obj    objstore.Object
	bs     int64
	nb     int64 // blocks in the object

	mu       sync.Mutex // guards every field below
	det      detector
	held     map[int64]*cache.Handle // blocks held (loading or loaded): references on the cache's loads, which keep their bytes reserved from the budget
	headLen  int64                   // bytes Open fetched before the first read (SetHead)
	sparse   map[int64]sparseUse     // what sparse reads asked of each block
	lastRead time.Time
	tune     tuner // loads in flight, sought by throughput (tune.go)
	closed   bool
}

// NewReader returns a Reader of obj. ctx governs its reads; Close (of the
// Reader or the Prefetcher) ends them.
func (p *Prefetcher) NewReader(ctx context.Context, obj objstore.Object) (*Reader, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("prefetch: %w", fs.ErrClosed)
	}
	rctx, cancel := context.WithCancel(ctx)
	bs := p.blocks.BlockSize()
	r := &Reader{
		p: p, ctx: rctx, cancel: cancel, obj: obj, bs: bs, nb: cache.NumBlocks(obj.Size, bs),
		det: newDetector(p.cfg, bs, !p.blocks.Tiered()), lastRead: p.now(), tune: newTuner(p.cfg.Concurrency, p.now(), p.blocks.Received()),
	}
	r.det.partStart = p.blocks.Tiered() && !p.blocks.Shared()
	p.readers[r] = struct{}{}
	return r, nil
}

// SetHead tells the Reader that the object's first n bytes were fetched
// when it was opened (and given to the cache with cache.Blocks.Keep): a
// read within the first half of them starts no readahead, so a program
// that only looks at a file's first bytes (its type, a header) costs the
// one request that fetched them.
func (r *Reader) SetHead(n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.headLen = n
}

// ReadAt reads len(p) bytes at off with the io.ReaderAt contract.
func (r *Reader) ReadAt(p []byte, off int64) (int, error) { return r.read(p, off, nil) }

// CopyTo reads len(buf) bytes at off as ReadAt does and writes them to w,
// in order, returning the count written. The bytes of blocks the Reader
// holds are written from the cache's own buffer, with no copy into buf
// (io.Copy of a cold stream then copies each byte once, from the socket
// into the cache); buf carries the others. Like ReadAt, it returns
// io.EOF when the object ends before len(buf) bytes; a failed write is a
// *WriteError holding the Writer's error.
func (r *Reader) CopyTo(w io.Writer, buf []byte, off int64) (int, error) {
	cw := &countingWriter{w: w}
	_, err := r.read(buf, off, cw)
	return int(cw.n), err
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (r *Reader) read(p []byte, off int64, w io.Writer) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("prefetch: %w: negative offset %d", fs.ErrInvalid, off)
	}
	if off >= r.obj.Size {
		return 0, io.EOF
	}
	want := min(int64(len(p)), r.obj.Size-off)
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return 0, fmt.Errorf("prefetch: read %q: %w", r.obj.Key, fs.ErrClosed)
	}
	v := r.det.classify(off, want)
	if v.reset {
		r.p.stats.resets.Add(1)
	}
	if v.turnedRandom {
		r.dropAll()
	} else if v.created >= 0 {
		r.dropLeft(v.created)
	}
	random := r.det.random
	si := v.stream
	r.lastRead = r.p.now()
	// A read within the first half of the head starts no readahead: a
	// sequential reader gets to the second half within microseconds and
	// starts it there, a round trip before it needs the bytes past the
	// head.
	quiet := off+want <= r.headLen/2
	ahead := si >= 0 && !r.p.cfg.Disabled
	// A straggler (a read that ends behind the blocks its stream keeps)
	// starts no readahead from where it is: the stream is far ahead.
	straggler := si >= 0 && off+want <= r.det.keepFrom(si)
	var youngAhead int64 // a young stream's window, fetched with the read
	// In a peer ring a young stream loads whole blocks as an older one
	// does: the ring shares blocks (an owner loads each once for all),
	// while a young stream's sparse fetches go to the origin from every
	// member of a cold fleet.
	if ahead && r.det.young(si) && !r.p.blocks.Shared() {
		youngAhead = r.det.streams[si].window
	}
	r.mu.Unlock()

	var n int64
	var err error
	if random || si < 0 {
		n, err = r.readSparse(p[:want], off)
		if random {
			r.p.stats.randomReads.Add(1)
		}
		err = emitRead(w, p[:n], err)
	} else if youngAhead > 0 {
		n, err = r.readYoung(p[:want], off, youngAhead, w)
	} else {
		if ahead && !quiet && !straggler {
			// Fetch the blocks of this read and the window after it in
			// parallel before waiting for the first.
			r.schedule(si, off)
		}
		n, err = r.readSequential(p[:want], off, si, w)
	}
	if err == nil && ahead && !quiet && youngAhead == 0 {
		r.mu.Lock()
		if r.tune.sample(r.p.now(), r.p.blocks.Received(), r.bs) && si < len(r.det.streams) {
			r.det.fit(si, int64(r.tune.conc)*r.bs)
		}
		r.mu.Unlock()
		r.schedule(si, -1)
	}
	r.mu.Lock()
	r.trim()
	r.mu.Unlock()
	if err != nil {
		return int(n), err
	}
	if n < int64(len(p)) {
		return int(n), io.EOF
	}
	return int(n), nil
}

// readYoung serves a read of a young stream (a window under a block): a
// sparse read that, on a miss, fetches the window's bytes past the read
// with it, so the stream's next reads find their bytes cached. A block
// held, cached or loading serves the read as usual.
func (r *Reader) readYoung(p []byte, off, window int64, w io.Writer) (int64, error) {
	r.mu.Lock()
	held := r.held[off/r.bs] != nil
	r.mu.Unlock()
	if held {
		return r.readSequential(p, off, -1, w)
	}
	n, err := r.p.blocks.ReadAt(r.ctx, r.obj, p, off, cache.ReadOptions{Sparse: true, Ahead: window})
	if err == io.EOF {
		err = nil
	}
	if int64(n) < int64(len(p)) && err == nil {
		err = io.ErrUnexpectedEOF
	}
	if err == nil {
		r.p.stats.youngReads.Add(1)
	}
	return int64(n), emitRead(w, p[:n], err)
}

// emitRead writes the bytes a read got to w, if set and the read
// succeeded, and returns the read's error or the write's.
func emitRead(w io.Writer, got []byte, err error) error {
	if err != nil {
		return err
	}
	return emit(w, got)
}

// Held returns how many blocks the Reader holds (loading or loaded).
func (r *Reader) Held() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.held)
}

// Close lets go of what the Reader holds (loads nobody else wants are
// cancelled) and ends its reads. It is idempotent.
func (r *Reader) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.cancel()
	r.dropAll()
	r.mu.Unlock()
	r.p.mu.Lock()
	delete(r.p.readers, r)
	r.p.mu.Unlock()
	return nil
}

// dropIfIdle releases the held blocks if the last read was before cutoff.
func (r *Reader) dropIfIdle(cutoff time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lastRead.Before(cutoff) && len(r.held) > 0 {
		r.p.stats.idleReclaims.Add(1)
		r.dropAll()
	}
}

// isNoBudget reports whether err is the cache's "budget short".
func isNoBudget(err error) bool { return errors.Is(err, cache.ErrNoBudget) }
