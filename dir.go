package tierfs

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/tierfs/tierfs/consistency"
	"github.com/tierfs/tierfs/objstore"
)

// dir is an open directory: a prefix listed one page at a time as its
// entries are asked for.
type dir struct {
	fsys    *FS
	ctx     context.Context
	release func() // releases ctx (see FS.bind); nil for none
	name    string

	// Read state; fs.ReadDirFile is not for concurrent use.
	pending []fs.DirEntry           // listed, not yet returned
	files   map[string]bool         // names listed as objects: a prefix of the same name is left out
	listed  []consistency.ListEntry // what the pages returned, for the metadata cache; nil if it keeps no listings
	token   string                  // next page
	started bool
	done    bool // no page left
	closed  bool
}

var _ fs.ReadDirFile = (*dir)(nil)

func (d *dir) prefix() string {
	if d.name == "." {
		return ""
	}
	return d.name + "/"
}

func (d *dir) Stat() (fs.FileInfo, error) {
	if d.closed {
		return nil, &fs.PathError{Op: "stat", Path: d.name, Err: fs.ErrClosed}
	}
	return dirInfo{name: path.Base(d.name)}, nil
}

func (d *dir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: errIsDir}
}

func (d *dir) Close() error {
	if !d.closed && d.release != nil {
		d.release()
	}
	d.closed = true
	return nil
}

// ReadDir returns the next n entries in listing order, or all the rest
// when n <= 0, as fs.ReadDirFile says.
func (d *dir) ReadDir(n int) ([]fs.DirEntry, error) {
	if d.closed {
		return nil, &fs.PathError{Op: "readdir", Path: d.name, Err: fs.ErrClosed}
	}
	if d.fsys.isClosed() {
		return nil, &fs.PathError{Op: "readdir", Path: d.name, Err: fs.ErrClosed}
	}
	if !d.started && d.cached() {
		d.started, d.done = true, true
	}
	for (n <= 0 || len(d.pending) < n) && !d.done {
		if err := d.nextPage(); err != nil {
			return nil, err
		}
	}
	if n <= 0 {
		out := d.pending
		d.pending = nil
		if out == nil {
			out = []fs.DirEntry{}
		}
		return out, nil
	}
	if len(d.pending) == 0 {
		return nil, io.EOF
	}
	k := min(n, len(d.pending))
	out := d.pending[:k:k]
	d.pending = d.pending[k:]
	return out, nil
}

// cached fills pending from the metadata cache's listing of the
// directory, if it has one the policy trusts.
func (d *dir) cached() bool {
	entries, ok := d.fsys.meta.Listing(d.name)
	if !ok {
		return false
	}
	d.pending = make([]fs.DirEntry, 0, len(entries))
	for _, e := range entries {
		if e.Dir {
			d.pending = append(d.pending, fs.FileInfoToDirEntry(dirInfo{name: e.Name}))
		} else {
			d.pending = append(d.pending, fs.FileInfoToDirEntry(fileInfo{obj: e.Object}))
		}
	}
	return true
}

// nextPage lists one page of the prefix and learns the metadata of the
// objects on it, so opening them needs no request of its own.
func (d *dir) nextPage() error {
	if d.started && d.token == "" {
		d.done = true
		return nil
	}
	if !d.started && d.fsys.meta.KeepsListings() {
		d.listed = []consistency.ListEntry{}
	}
	d.started = true
	prefix := d.prefix()
	ctx, cancel := d.fsys.bound(d.ctx)
	page, err := d.fsys.store.List(ctx, objstore.ListOptions{Prefix: prefix, Delimiter: "/", Token: d.token})
	cancel()
	if err != nil {
		return &fs.PathError{Op: "readdir", Path: d.name, Err: d.fsys.closedErr(d.ctx, listErr(err))}
	}
	for _, o := range page.Objects {
		name := strings.TrimPrefix(o.Key, prefix)
		if name == "" || strings.Contains(name, "/") {
			continue
		}
		if !o.Version.IsZero() {
			d.fsys.meta.Store(o.Key, consistency.Entry{Object: o})
		}
		d.pending = append(d.pending, fs.FileInfoToDirEntry(fileInfo{obj: o}))
		if d.listed != nil && !o.Version.IsZero() {
			d.listed = append(d.listed, consistency.ListEntry{Name: name, Object: o})
		} else {
			d.listed = nil // an entry that could not be opened from it: not kept
		}
		if d.files == nil {
			d.files = make(map[string]bool)
		}
		d.files[name] = true
	}
	for _, p := range page.Prefixes {
		name := strings.TrimSuffix(strings.TrimPrefix(p, prefix), "/")
		if name == "" || strings.Contains(name, "/") {
			continue
		}
		if d.files[name] {
			// An object x beside keys x/…: x is the file, as Open and
			// Stat find it; one entry per name. (An object sorts before
			// the prefix it starts, so it was seen first.)
			continue
		}
		d.fsys.meta.Store(prefix+name, consistency.Entry{Dir: true})
		d.pending = append(d.pending, fs.FileInfoToDirEntry(dirInfo{name: name}))
		if d.listed != nil {
			d.listed = append(d.listed, consistency.ListEntry{Name: name, Dir: true})
		}
	}
	d.token = page.Next
	if d.token == "" {
		d.done = true
		if d.listed != nil {
			d.fsys.meta.StoreListing(d.name, d.listed)
			d.listed = nil
		}
	}
	return nil
}

// subFS is the FS rooted at a directory.
type subFS struct {
	fsys *FS
	dir  string
}

var (
	_ fs.StatFS     = (*subFS)(nil)
	_ fs.ReadDirFS  = (*subFS)(nil)
	_ fs.ReadFileFS = (*subFS)(nil)
	_ fs.SubFS      = (*subFS)(nil)
	_ fs.GlobFS     = (*subFS)(nil)
)

func (s *subFS) full(op, name string) (string, error) {
	if !fs.ValidPath(name) {
		return "", &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	return path.Join(s.dir, name), nil
}

// fix rewrites a PathError's path to the name the caller gave.
func (s *subFS) fix(err error, name string) error {
	if pe, ok := err.(*fs.PathError); ok {
		return &fs.PathError{Op: pe.Op, Path: name, Err: pe.Err}
	}
	return err
}

func (s *subFS) Open(name string) (fs.File, error) {
	full, err := s.full("open", name)
	if err != nil {
		return nil, err
	}
	f, err := s.fsys.Open(full)
	return f, s.fix(err, name)
}

func (s *subFS) Stat(name string) (fs.FileInfo, error) {
	full, err := s.full("stat", name)
	if err != nil {
		return nil, err
	}
	fi, err := s.fsys.Stat(full)
	return fi, s.fix(err, name)
}

func (s *subFS) ReadDir(name string) ([]fs.DirEntry, error) {
	full, err := s.full("readdir", name)
	if err != nil {
		return nil, err
	}
	es, err := s.fsys.ReadDir(full)
	return es, s.fix(err, name)
}

func (s *subFS) ReadFile(name string) ([]byte, error) {
	full, err := s.full("read", name)
	if err != nil {
		return nil, err
	}
	b, err := s.fsys.ReadFile(full)
	return b, s.fix(err, name)
}

func (s *subFS) Sub(dir string) (fs.FS, error) {
	full, err := s.full("sub", dir)
	if err != nil {
		return nil, err
	}
	return s.fsys.Sub(full)
}

func (s *subFS) Glob(pattern string) ([]string, error) {
	if _, err := path.Match(pattern, ""); err != nil {
		return nil, err
	}
	matches, err := s.fsys.Glob(path.Join(globEscape(s.dir), pattern))
	if err != nil {
		return nil, err
	}
	out := matches[:0]
	for _, m := range matches {
		rel := strings.TrimPrefix(m, s.dir+"/")
		if rel == m {
			return nil, fmt.Errorf("tierfs: glob %q under %q returned %q", pattern, s.dir, m)
		}
		out = append(out, rel)
	}
	return out, nil
}

// globEscape quotes the characters path.Match treats specially.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
