package tierfs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/tierfs/tierfs/objstore"
)

// spillSize is how much a writer buffers in memory before it moves the
// data to a temporary file.
const spillSize = 8 << 20

// Create returns a writer for name, under a ReadWrite policy (otherwise an
// error wrapping fs.ErrPermission). Nothing is visible in the store until
// the writer's Close uploads it (in parts, for large files), and nothing
// half-written is ever visible: a failed Close leaves the previous version.
// After Close this process reads the new version at once, and the old
// version's cached blocks are dropped. Large writes are buffered in a
// temporary file (mode 0600) that Close removes.
func (fsys *FS) Create(name string) (io.WriteCloser, error) {
	if err := fsys.check("create", name); err != nil {
		return nil, err
	}
	if !fsys.policy.Writable() {
		return nil, &fs.PathError{Op: "create", Path: name, Err: fmt.Errorf("%w: the %v policy does not allow writes", fs.ErrPermission, fsys.policy)}
	}
	if name == "." || !objstore.ValidKey(name) {
		return nil, &fs.PathError{Op: "create", Path: name, Err: fs.ErrInvalid}
	}
	e, _, err := fsys.resolve(fsys.ctx, "create", name, false)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if e.Dir {
		return nil, &fs.PathError{Op: "create", Path: name, Err: errIsDir}
	}
	w := &writer{fsys: fsys, ctx: fsys.ctx, name: name}
	if err == nil {
		old := e.Object
		w.old = &old
	}
	return w, nil
}

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
	if err := fsys.store.Delete(fsys.ctx, name); err != nil {
		return &fs.PathError{Op: "remove", Path: name, Err: err}
	}
	fsys.meta.Removed(name)
	if err := fsys.blocks.Drop(fsys.ctx, e.Object); err != nil {
		fsys.log.Debug("tierfs: dropping blocks of a removed file", "name", name, "err", err)
	}
	return nil
}

// writer buffers a file and uploads it on Close.
type writer struct {
	fsys *FS
	ctx  context.Context
	name string
	old  *objstore.Object // the version replaced, if known

	buf    bytes.Buffer
	tmp    *os.File // after spilling
	size   int64
	err    error // sticky
	closed bool
}

func (w *writer) Write(p []byte) (int, error) {
	if w.closed {
		return 0, &fs.PathError{Op: "write", Path: w.name, Err: fs.ErrClosed}
	}
	if w.err != nil {
		return 0, w.err
	}
	if w.tmp == nil && w.buf.Len()+len(p) > spillSize {
		if w.err = w.spill(); w.err != nil {
			return 0, w.err
		}
	}
	var n int
	var err error
	if w.tmp != nil {
		n, err = w.tmp.Write(p)
	} else {
		n, err = w.buf.Write(p)
	}
	w.size += int64(n)
	if err != nil {
		w.err = &fs.PathError{Op: "write", Path: w.name, Err: err}
		return n, w.err
	}
	return n, nil
}

func (w *writer) spill() error {
	f, err := os.CreateTemp("", "tierfs-write-*")
	if err != nil {
		return &fs.PathError{Op: "write", Path: w.name, Err: err}
	}
	if _, err := f.Write(w.buf.Bytes()); err != nil {
		f.Close()
		os.Remove(f.Name())
		return &fs.PathError{Op: "write", Path: w.name, Err: err}
	}
	w.buf = bytes.Buffer{}
	w.tmp = f
	return nil
}

// Close uploads the file. It is idempotent; the first call's result is
// the one that counts.
func (w *writer) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if w.tmp != nil {
		defer func() {
			w.tmp.Close()
			os.Remove(w.tmp.Name())
		}()
	}
	if w.err != nil {
		return w.err
	}
	if w.fsys.isClosed() {
		return &fs.PathError{Op: "close", Path: w.name, Err: fs.ErrClosed}
	}
	var body io.Reader = &w.buf
	if w.tmp != nil {
		if _, err := w.tmp.Seek(0, io.SeekStart); err != nil {
			return &fs.PathError{Op: "close", Path: w.name, Err: err}
		}
		body = w.tmp
	}
	obj, err := w.fsys.store.Put(w.ctx, w.name, body, objstore.PutOptions{Size: w.size})
	if err != nil {
		return &fs.PathError{Op: "close", Path: w.name, Err: err}
	}
	w.fsys.meta.Written(w.name, obj)
	if w.old != nil && w.old.Version != obj.Version {
		if err := w.fsys.blocks.Drop(w.ctx, *w.old); err != nil {
			w.fsys.log.Debug("tierfs: dropping blocks of a replaced file", "name", w.name, "err", err)
		}
	}
	return nil
}
