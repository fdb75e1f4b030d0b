package filestore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"syscall"

	"github.com/tierfs/tierfs/internal/reqcount"
	"github.com/tierfs/tierfs/objstore"
)

// DefaultMaxKeys is the page size of List when ListOptions.MaxKeys is 0,
// as in S3.
const DefaultMaxKeys = 1000

// List returns one page of the keys under opts.Prefix in byte-wise lexical
// order of the full keys, as S3 gives them; see the package documentation
// for how directories are walked. ListPage.Next is the last key or common
// prefix of the page, set only when more entries follow.
func (s *Store) List(ctx context.Context, opts objstore.ListOptions) (objstore.ListPage, error) {
	if !objstore.ValidPrefix(opts.Prefix) {
		return objstore.ListPage{}, objstore.NewError("list", opts.Prefix, fs.ErrInvalid, errors.New("file: invalid prefix"))
	}
	if opts.MaxKeys < 0 {
		return objstore.ListPage{}, objstore.NewError("list", opts.Prefix, fs.ErrInvalid, fmt.Errorf("file: negative MaxKeys %d", opts.MaxKeys))
	}
	if s.closed.Load() {
		return objstore.ListPage{}, objstore.NewError("list", opts.Prefix, fs.ErrClosed, errors.New("file: store closed"))
	}
	if err := ctx.Err(); err != nil {
		return objstore.ListPage{}, objstore.NewError("list", opts.Prefix, nil, fmt.Errorf("file: %w", err))
	}
	s.counter.Add(reqcount.List)
	l := &lister{
		s: s, ctx: ctx, opts: opts, max: opts.MaxKeys,
		descend:   opts.Delimiter != "/",
		ancestors: make(map[[2]uint64]bool),
	}
	if l.max == 0 {
		l.max = DefaultMaxKeys
	}
	// A directory that a prefix element cannot be (a regular file, or
	// a name reserved for temporary files) holds no keys.
	if !reserved(opts.Prefix) {
		i := strings.LastIndexByte(opts.Prefix, '/') + 1
		err := l.walkDir(opts.Prefix[:i], opts.Prefix[i:])
		if err != nil && !errors.Is(err, errPageFull) {
			return objstore.ListPage{}, err
		}
	}
	return l.page, nil
}

// lister builds one page of a listing by walking directories depth first,
// each in the order of the items it yields (a directory d sorts as "d/",
// as the keys under it do), which is the lexical order of full keys.
type lister struct {
	s       *Store
	ctx     context.Context
	opts    objstore.ListOptions
	max     int
	descend bool // walk into directories (Delimiter is not "/")

	ancestors map[[2]uint64]bool // device and inode of the directories being walked
	page      objstore.ListPage
	n         int    // entries on the page
	last      string // the last entry added
}

// errPageFull stops the walk once the page is full and one more entry
// was found.
var errPageFull = errors.New("page full")

// add puts one entry on the page, or reports errPageFull if the page
// already holds MaxKeys entries.
func (l *lister) add(item string, obj *objstore.Object) error {
	if l.n == l.max {
		l.page.Next = l.last
		return errPageFull
	}
	l.n++
	l.last = item
	if obj != nil {
		l.page.Objects = append(l.page.Objects, *obj)
	} else {
		l.page.Prefixes = append(l.page.Prefixes, item)
	}
	return nil
}

// walkDir lists the directory dir ("" or a key prefix ending in "/") for
// names that begin with namePrefix, and returns errPageFull when the page
// is full.
func (l *lister) walkDir(dir, namePrefix string) error {
	if err := l.ctx.Err(); err != nil {
		return objstore.NewError("list", l.opts.Prefix, nil, fmt.Errorf("file: %w", err))
	}
	if len(dir) > objstore.MaxKeyLen {
		return nil
	}
	sub, names, id, err := l.s.readDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) || isRootRefusal(err) {
			return nil // no such directory, or not one inside the root: no keys
		}
		return mapErr("list", l.opts.Prefix, err)
	}
	defer sub.Close()
	if id != [2]uint64{} {
		if l.ancestors[id] {
			return nil // a symbolic link back to a directory being walked
		}
		l.ancestors[id] = true
		defer delete(l.ancestors, id)
	}
	// Directories wait on a stack until every name that sorts before
	// "d/" (names that extend "d" with a byte below '/') was handled;
	// the top of the stack is the smallest.
	var stack []string
	flush := func(upTo string) error {
		for len(stack) > 0 && (upTo == "" || stack[len(stack)-1] < upTo) {
			p := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if err := l.dirItem(p); err != nil {
				return err
			}
		}
		return nil
	}
	tok := l.opts.Token
	for i, name := range names {
		if !strings.HasPrefix(name, namePrefix) {
			continue
		}
		if i%256 == 255 {
			if err := l.ctx.Err(); err != nil {
				return objstore.NewError("list", l.opts.Prefix, nil, fmt.Errorf("file: %w", err))
			}
		}
		full := dir + name
		p := full + "/"
		// Whatever name is, every item it yields is at most p, or
		// starts with p: skip it without a stat when that is at or
		// before the token.
		if p <= tok && !(l.descend && strings.HasPrefix(tok, p)) {
			continue
		}
		if !objstore.ValidKey(full) {
			continue // not representable as a key
		}
		fi, ok := l.s.statEntry(sub, name, full)
		if !ok {
			continue
		}
		switch {
		case fi.IsDir():
			if err := flush(p); err != nil {
				return err
			}
			stack = append(stack, p)
		case fi.Mode().IsRegular():
			if err := flush(full); err != nil {
				return err
			}
			if err := l.object(full, fi); err != nil {
				return err
			}
		}
	}
	return flush("")
}

// dirItem handles the directory whose keys begin with p.
func (l *lister) dirItem(p string) error {
	tok := l.opts.Token
	if !l.descend {
		if p <= tok {
			return nil
		}
		return l.add(p, nil)
	}
	if p <= tok && !strings.HasPrefix(tok, p) {
		return nil
	}
	return l.walkDir(p, "")
}

// object handles the file of key, rolling it into a common prefix when
// a delimiter other than "/" follows the listing's prefix in it.
func (l *lister) object(key string, fi fs.FileInfo) error {
	item, isPrefix := key, false
	if d := l.opts.Delimiter; d != "" && d != "/" {
		if j := strings.Index(key[len(l.opts.Prefix):], d); j >= 0 {
			item, isPrefix = key[:len(l.opts.Prefix)+j+len(d)], true
		}
	}
	if item <= l.opts.Token || (isPrefix && item == l.last) {
		return nil
	}
	if isPrefix {
		return l.add(item, nil)
	}
	obj := objectOf(key, fi)
	return l.add(item, &obj)
}

// readDir opens dir ("" for the root) as a Root of its own and returns it
// with the sorted names in it, less temporary files, and the directory's
// device and inode.
func (s *Store) readDir(dir string) (*os.Root, []string, [2]uint64, error) {
	name := "."
	if dir != "" {
		name = native(strings.TrimSuffix(dir, "/"))
	}
	sub, err := s.root.OpenRoot(name)
	if err != nil {
		return nil, nil, [2]uint64{}, err
	}
	f, err := sub.Open(".")
	if err != nil {
		sub.Close()
		return nil, nil, [2]uint64{}, err
	}
	defer f.Close()
	var id [2]uint64
	if fi, err := f.Stat(); err == nil {
		id[0], id[1] = fileID(fi)
	}
	names, err := f.Readdirnames(-1)
	if err != nil {
		sub.Close()
		return nil, nil, [2]uint64{}, err
	}
	names = slices.DeleteFunc(names, func(n string) bool { return strings.HasPrefix(n, TempPrefix) })
	slices.Sort(names)
	return sub, names, id, nil
}

// statEntry returns the FileInfo of name in the directory sub, following
// a symbolic link if it stays inside the Store's root. ok is false for an
// entry that vanished, a broken link, or one that leads outside.
func (s *Store) statEntry(sub *os.Root, name, full string) (fs.FileInfo, bool) {
	fi, err := sub.Lstat(name)
	if err != nil {
		return nil, false
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		// Resolve against the Store's root: the link may lead to a
		// sibling of this directory.
		if fi, err = s.root.Stat(native(full)); err != nil {
			return nil, false
		}
	}
	return fi, true
}

// isRootRefusal reports whether os.Root refused a name (a link out of
// the root) rather than the system failing the call.
func isRootRefusal(err error) bool {
	var pe *fs.PathError
	var errno syscall.Errno
	return errors.As(err, &pe) && !errors.As(pe.Err, &errno) && !errors.Is(err, fs.ErrClosed)
}
