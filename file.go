package tierfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"path"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/prefetch"
)

// File is an open file: one version of one object, the one seen at open.
// Every byte it returns is of that version; when the store no longer has
// it and a block is not cached, reads fail with an error wrapping
// objstore.ErrChanged rather than return bytes of another version.
//
// ReadAt may be called concurrently; Read, Seek and WriteTo share the file
// offset and are serialized.
type File struct {
	fsys    *FS
	ctx     context.Context
	release func() // releases ctx (see FS.bind); called by Close
	name    string
	obj     objstore.Object

	r *prefetch.Reader // readahead and the access pattern

	mu     sync.Mutex // guards off; held by Read, Seek and WriteTo
	off    int64
	closed atomic.Bool
}

var (
	_ fs.File     = (*File)(nil)
	_ io.ReaderAt = (*File)(nil)
	_ io.Seeker   = (*File)(nil)
	_ io.WriterTo = (*File)(nil)
)

// Object returns the object version the file reads.
func (f *File) Object() objstore.Object { return f.obj }

// Stat returns the file's FileInfo.
func (f *File) Stat() (fs.FileInfo, error) {
	if err := f.check("stat"); err != nil {
		return nil, err
	}
	return fileInfo{obj: f.obj}, nil
}

func (f *File) check(op string) error {
	if f.closed.Load() || f.fsys.isClosed() {
		return &fs.PathError{Op: op, Path: f.name, Err: fs.ErrClosed}
	}
	return nil
}

// ReadAt reads len(p) bytes at off, with the io.ReaderAt contract.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if err := f.check("read"); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: fmt.Errorf("%w: negative offset", fs.ErrInvalid)}
	}
	n, err := f.r.ReadAt(p, off)
	if err != nil && err != io.EOF {
		f.fsys.changed(f.name, f.obj, err)
		if f.closed.Load() {
			err = fmt.Errorf("%w: %w", fs.ErrClosed, err)
		}
		err = &fs.PathError{Op: "read", Path: f.name, Err: f.fsys.closedErr(f.ctx, err)}
	}
	return n, err
}

// Read reads from the file offset.
func (f *File) Read(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check("read"); err != nil {
		return 0, err
	}
	if f.off >= f.obj.Size {
		return 0, io.EOF
	}
	n, err := f.ReadAt(p[:min(int64(len(p)), f.obj.Size-f.off)], f.off)
	f.off += int64(n)
	if err == io.EOF {
		err = nil
	}
	return n, err
}

// Seek sets the file offset, as io.Seeker. Seeking past the end is
// allowed; reads there return io.EOF.
func (f *File) Seek(offset int64, whence int) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check("seek"); err != nil {
		return 0, err
	}
	var base int64
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		base = f.off
	case io.SeekEnd:
		base = f.obj.Size
	default:
		return 0, &fs.PathError{Op: "seek", Path: f.name, Err: fmt.Errorf("%w: whence %d", fs.ErrInvalid, whence)}
	}
	if offset > 0 && base > math.MaxInt64-offset {
		return 0, &fs.PathError{Op: "seek", Path: f.name, Err: fmt.Errorf("%w: position %d%+d overflows", fs.ErrInvalid, base, offset)}
	}
	abs := base + offset
	if abs < 0 {
		return 0, &fs.PathError{Op: "seek", Path: f.name, Err: fmt.Errorf("%w: negative position", fs.ErrInvalid)}
	}
	f.off = abs
	return abs, nil
}

// WriteTo writes the rest of the file from the file offset to w, a block
// at a time (a reader that reads to the end: readahead loads whole blocks
// from its first read on, through the peers when there are). Bytes of
// blocks the readahead holds are written from the cache's own buffers,
// with no copy; the others go through one buffer of at most a block.
func (f *File) WriteTo(w io.Writer) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.check("read"); err != nil {
		return 0, err
	}
	bs := f.fsys.blocks.BlockSize()
	buf := make([]byte, min(bs, max(f.obj.Size-f.off, 0)))
	var total int64
	for f.off < f.obj.Size {
		// Up to the next block boundary, so each call is within a block.
		n := min(bs-f.off%bs, f.obj.Size-f.off, int64(len(buf)))
		wn, err := f.r.CopyTo(w, buf[:n], f.off)
		total += int64(wn)
		f.off += int64(wn)
		if werr := (*prefetch.WriteError)(nil); errors.As(err, &werr) {
			return total, werr.Err
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return total, &fs.PathError{Op: "read", Path: f.name, Err: err}
		}
		if int64(wn) < n {
			// The object ended early: the read said io.EOF.
			return total, &fs.PathError{Op: "read", Path: f.name, Err: io.ErrUnexpectedEOF}
		}
	}
	return total, nil
}

// Close closes the file. It is idempotent.
func (f *File) Close() error {
	if f.closed.Swap(true) {
		return nil
	}
	err := f.r.Close()
	f.release()
	return err
}

// fileInfo describes a file from its object.
type fileInfo struct{ obj objstore.Object }

func (i fileInfo) Name() string       { return path.Base(i.obj.Key) }
func (i fileInfo) Size() int64        { return i.obj.Size }
func (i fileInfo) Mode() fs.FileMode  { return 0o444 }
func (i fileInfo) ModTime() time.Time { return i.obj.ModTime }
func (i fileInfo) IsDir() bool        { return false }
func (i fileInfo) Sys() any           { return i.obj }

// dirInfo describes a directory; prefixes have no time of their own.
type dirInfo struct{ name string }

func (i dirInfo) Name() string       { return i.name }
func (i dirInfo) Size() int64        { return 0 }
func (i dirInfo) Mode() fs.FileMode  { return fs.ModeDir | 0o555 }
func (i dirInfo) ModTime() time.Time { return time.Time{} }
func (i dirInfo) IsDir() bool        { return true }
func (i dirInfo) Sys() any           { return nil }
