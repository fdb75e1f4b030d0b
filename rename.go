package tierfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/tierfs/tierfs/objstore"
)

// Rename moves the file oldname to newname, under a ReadWrite policy
// (otherwise an error wrapping fs.ErrPermission), replacing any file
// newname names. Object stores have no rename: Rename copies the bytes
// (read through the cache, pinned to the version it found, so a file
// changed meanwhile fails with objstore.ErrChanged and moves nothing) to
// newname and then deletes oldname. It is not atomic: for a moment both
// names exist, and a failure between the two steps leaves both (the
// error says so). Directories are not renamed (fs.ErrInvalid). Names are
// checked as [FS.CreateContext] checks them; errors are *os.LinkError.
func (fsys *FS) Rename(oldname, newname string) error {
	return fsys.RenameContext(fsys.ctx, oldname, newname)
}

// RenameContext is Rename under ctx.
func (fsys *FS) RenameContext(ctx context.Context, oldname, newname string) error {
	const op = "rename"
	lerr := func(err error) error {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return &os.LinkError{Op: op, Old: oldname, New: newname, Err: err}
	}
	if err := fsys.check(op, oldname); err != nil {
		return lerr(err)
	}
	if !fsys.policy.Writable() {
		return lerr(fmt.Errorf("%w: the %v policy does not allow writes", fs.ErrPermission, fsys.policy))
	}
	e, _, err := fsys.resolve(ctx, op, oldname, false)
	if err != nil {
		return lerr(err)
	}
	if e.Dir {
		return lerr(errIsDir)
	}
	if oldname == newname {
		return nil
	}
	if _, err := fsys.checkWrite(ctx, op, newname); err != nil {
		return lerr(err)
	}
	src := e.Object
	f, err := fsys.openObject(ctx, src)
	if err != nil {
		return lerr(err)
	}
	defer f.Close()
	w, err := fsys.CreateContext(ctx, newname, &CreateOptions{Size: src.Size})
	if err != nil {
		return lerr(err)
	}
	if _, err := io.Copy(w, f); err != nil {
		w.Abort()
		return lerr(err)
	}
	if err := w.Close(); err != nil {
		return lerr(err)
	}
	if err := fsys.removeObject(ctx, op, src); err != nil {
		return lerr(fmt.Errorf("copied to the new name, but the old one stays: %w", err))
	}
	return nil
}

// RemoveAll removes name and, if it is a directory, every file under it,
// under a ReadWrite policy (otherwise an error wrapping fs.ErrPermission).
// A missing name is not an error. It is not atomic: files are deleted one
// by one, and files written under the directory meanwhile may stay. "."
// (the whole store root) is refused with fs.ErrInvalid.
func (fsys *FS) RemoveAll(name string) error {
	const op = "removeall"
	ctx := fsys.ctx
	if err := fsys.check(op, name); err != nil {
		return err
	}
	if !fsys.policy.Writable() {
		return &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("%w: the %v policy does not allow writes", fs.ErrPermission, fsys.policy)}
	}
	if name == "." {
		return &fs.PathError{Op: op, Path: name, Err: fmt.Errorf("%w: RemoveAll of the root", fs.ErrInvalid)}
	}
	e, _, err := fsys.resolve(ctx, op, name, false)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case !e.Dir:
		return fsys.removeObject(ctx, op, e.Object)
	}
	opts := objstore.ListOptions{Prefix: name + "/"}
	for {
		page, err := fsys.store.List(ctx, opts)
		if err != nil {
			return &fs.PathError{Op: op, Path: name, Err: err}
		}
		for _, obj := range page.Objects {
			if err := fsys.removeObject(ctx, op, obj); err != nil {
				return err
			}
		}
		if page.Next == "" {
			break
		}
		opts.Token = page.Next
	}
	fsys.meta.Removed(name)
	return nil
}

// openObject opens obj, a file resolved already, for reading through the
// cache.
func (fsys *FS) openObject(ctx context.Context, obj objstore.Object) (*File, error) {
	ctx, release := fsys.bind(ctx)
	r, err := fsys.pf.NewReader(ctx, obj)
	if err != nil {
		release()
		return nil, &fs.PathError{Op: "open", Path: obj.Key, Err: fsys.closedErr(ctx, err)}
	}
	return &File{fsys: fsys, ctx: ctx, release: release, name: obj.Key, obj: obj, r: r}, nil
}
