package filestore

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tierfs/tierfs/internal/ctxio"
	"github.com/tierfs/tierfs/internal/reqcount"
	"github.com/tierfs/tierfs/objstore"
)

// TempPrefix begins the names of the temporary files Put writes before
// renaming them over their key. List skips such files, and keys with an
// element that begins with it are invalid.
const TempPrefix = ".tierfs-tmp-"

// Options configure a Store. The zero value (or nil) gives the defaults
// stated per field.
type Options struct {
	// FileMode is the permission of the files Put creates, before the
	// process's umask applies. Zero means 0644: the directory holds the
	// user's data, readable as any file they write would be.
	FileMode fs.FileMode
	// DirMode is the permission of the directories Put creates, before
	// the umask. Zero means 0755.
	DirMode fs.FileMode
	// NoSync skips the fsync of each written file and of its directory
	// in Put. Faster; a machine crash may then lose a Put that returned,
	// though never expose a partly written file.
	NoSync bool
}

// Store is an objstore.Store over a local directory. Create it with
// [New]; Close releases the directory handle. All methods are safe for
// concurrent use.
type Store struct {
	dir      string   // absolute path of the root, for messages
	root     *os.Root // every file access goes through it
	fileMode fs.FileMode
	dirMode  fs.FileMode
	noSync   bool
	closed   atomic.Bool
	lastTime atomic.Int64     // last mtime (ns) Put set; makes Put mtimes unique
	counter  reqcount.Counter // operations served, as RequestStats

	// condMu serializes the check and the rename of conditional Puts
	// (PutOptions.IfMatch, IfNotExist), so that of two such writers in
	// this process one wins; see "Writes" in the package documentation.
	condMu sync.Mutex
}

var (
	_ objstore.Store          = (*Store)(nil)
	_ objstore.RequestCounter = (*Store)(nil)
	_ io.Closer               = (*Store)(nil)
)

// New returns a Store over dir, which must exist and be a directory. A
// relative dir is made absolute against the working directory now; the
// Store then keeps a handle on the directory itself, so renaming it or
// changing the working directory later does not move the Store. opts may
// be nil. Modes with bits other than permissions are an error wrapping
// fs.ErrInvalid.
func New(dir string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.FileMode == 0 {
		o.FileMode = 0o644
	}
	if o.DirMode == 0 {
		o.DirMode = 0o755
	}
	if o.FileMode&^fs.ModePerm != 0 || o.DirMode&^fs.ModePerm != 0 {
		return nil, fmt.Errorf("objstore: file: open %q: %w: modes %v, %v have bits other than permissions", dir, fs.ErrInvalid, o.FileMode, o.DirMode)
	}
	if dir == "" {
		return nil, fmt.Errorf("objstore: file: open: %w: empty directory", fs.ErrInvalid)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("objstore: file: open %q: %w", dir, err)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("objstore: file: open %q: %w", abs, err)
	}
	if fi, err := root.Stat("."); err != nil || !fi.IsDir() {
		root.Close()
		if err == nil {
			err = fmt.Errorf("%w: not a directory", fs.ErrInvalid)
		}
		return nil, fmt.Errorf("objstore: file: open %q: %w", abs, err)
	}
	return &Store{dir: abs, root: root, fileMode: o.FileMode, dirMode: o.DirMode, noSync: o.NoSync}, nil
}

// Dir returns the absolute path of the Store's directory, as given to New.
func (s *Store) Dir() string { return s.dir }

// Close releases the directory handle. Readers already open keep their
// files and may be read to the end. Later calls of the Store's methods
// return errors wrapping fs.ErrClosed; Close itself may be called again
// and then returns nil.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	if err := s.root.Close(); err != nil {
		return fmt.Errorf("objstore: file: close %q: %w", s.dir, err)
	}
	return nil
}

// start does the checks every operation on key begins with: a valid,
// unreserved key, an open Store and a live context.
func (s *Store) start(ctx context.Context, op, key string) error {
	if err := checkKey(op, key); err != nil {
		return err
	}
	if s.closed.Load() {
		return objstore.NewError(op, key, fs.ErrClosed, errors.New("file: store closed"))
	}
	if err := ctx.Err(); err != nil {
		return objstore.NewError(op, key, nil, fmt.Errorf("file: %w", err))
	}
	return nil
}

// checkKey applies objstore.ValidKey and the rules of this backend: no
// element may begin with TempPrefix, and where the OS separator is not
// "/", no key may hold it (or a drive colon).
func checkKey(op, key string) error {
	if err := objstore.CheckKey(op, key); err != nil {
		if e, ok := err.(*objstore.Error); ok && e.Err != nil {
			e.Err = fmt.Errorf("file: %w", e.Err)
		}
		return err
	}
	if reserved(key) {
		return objstore.NewError(op, key, fs.ErrInvalid, fmt.Errorf("file: an element begins with the reserved %q", TempPrefix))
	}
	if filepath.Separator != '/' && strings.ContainsAny(key, string(filepath.Separator)+":") {
		return objstore.NewError(op, key, fs.ErrInvalid, fmt.Errorf("file: key holds %q or ':', not allowed in names on this system", filepath.Separator))
	}
	return nil
}

// reserved reports whether an element of key begins with TempPrefix.
func reserved(key string) bool {
	for e := range strings.SplitSeq(key, "/") {
		if strings.HasPrefix(e, TempPrefix) {
			return true
		}
	}
	return false
}

// native turns a key into a name relative to the root.
func native(key string) string { return filepath.FromSlash(key) }

// mapErr wraps err from the file system for op on key with the sentinel
// it stands for.
func mapErr(op, key string, err error) error {
	var sentinel error
	var errno syscall.Errno
	var pe *fs.PathError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		sentinel = fs.ErrNotExist
	case errors.Is(err, fs.ErrPermission):
		sentinel = fs.ErrPermission
	case errors.Is(err, fs.ErrClosed):
		sentinel = fs.ErrClosed
	case errors.Is(err, syscall.EINVAL), errors.Is(err, syscall.ENAMETOOLONG), errors.Is(err, syscall.EILSEQ):
		sentinel = fs.ErrInvalid
	case errors.As(err, &pe) && !errors.As(pe.Err, &errno):
		// os.Root refused the name itself (a symbolic link that leads
		// out of the root, or an absolute one) rather than the system
		// failing it: access outside the store is denied.
		sentinel = fs.ErrPermission
	}
	return objstore.NewError(op, key, sentinel, fmt.Errorf("file: %w", err))
}

// objectOf returns the attributes of key from the FileInfo of its file.
func objectOf(key string, fi fs.FileInfo) objstore.Object {
	return objstore.Object{Key: key, Size: fi.Size(), ModTime: fi.ModTime(), Version: versionOf(fi)}
}

// versionOf derives a file's version from its size, modification time
// and device and inode numbers: a hex SHA-256 prefix of them.
func versionOf(fi fs.FileInfo) objstore.Version {
	dev, ino := fileID(fi)
	var b [32]byte
	binary.BigEndian.PutUint64(b[0:], uint64(fi.Size()))
	binary.BigEndian.PutUint64(b[8:], uint64(fi.ModTime().UnixNano()))
	binary.BigEndian.PutUint64(b[16:], dev)
	binary.BigEndian.PutUint64(b[24:], ino)
	sum := sha256.Sum256(b[:])
	return objstore.Version{ETag: hex.EncodeToString(sum[:16])}
}

// RequestStats returns the operations the Store served, counted as an S3
// server would count the requests behind them: a Head per Stat, a Get per
// body opened (a Reader's first open and each resume), a List per List, a
// Put per Put and a Delete per Delete. An operation counts once its key
// (or prefix) is valid, the Store open and the context live, whether it
// then succeeds or fails. BytesIn is the bytes read from bodies; BytesOut
// the bytes stored by successful Puts. Other is always 0.
func (s *Store) RequestStats() objstore.RequestStats { return s.counter.Stats() }

// Stat returns the attributes of the file of key, following symbolic
// links that stay inside the directory. Directories and files that are
// not regular (devices, sockets, pipes) are not objects: fs.ErrNotExist.
func (s *Store) Stat(ctx context.Context, key string) (objstore.Object, error) {
	if err := s.start(ctx, "stat", key); err != nil {
		return objstore.Object{}, err
	}
	s.counter.Add(reqcount.Head)
	fi, err := s.root.Stat(native(key))
	if err != nil {
		return objstore.Object{}, mapErr("stat", key, err)
	}
	if !fi.Mode().IsRegular() {
		return objstore.Object{}, objstore.NewError("stat", key, fs.ErrNotExist, fmt.Errorf("file: not a regular file (%v)", fi.Mode().Type()))
	}
	return objectOf(key, fi), nil
}

// NewRangeReader opens the bytes [off, off+length) of key; see
// [objstore.Store]. The version is checked on the open file handle, and
// the Reader keeps that handle: once open, it reads the bytes of that
// version to the end even if Put replaces the file meanwhile (the
// replaced file lives on until its last handle closes).
func (s *Store) NewRangeReader(ctx context.Context, key string, off, length int64, opts objstore.ReadOptions) (*objstore.Reader, error) {
	if err := s.start(ctx, "read", key); err != nil {
		return nil, err
	}
	open := func(ctx context.Context, off, length int64, v objstore.Version) (io.ReadCloser, objstore.Object, error) {
		return s.openBody(ctx, key, off, length, v)
	}
	return objstore.NewReader(ctx, key, off, length, opts, objstore.RetryPolicy{}, open)
}

// openBody is the objstore.RangeOpener for key.
func (s *Store) openBody(ctx context.Context, key string, off, length int64, v objstore.Version) (io.ReadCloser, objstore.Object, error) {
	if err := ctx.Err(); err != nil {
		return nil, objstore.Object{}, objstore.NewError("read", key, nil, fmt.Errorf("file: %w", err))
	}
	s.counter.Add(reqcount.Get)
	f, err := s.root.OpenFile(native(key), openFlags, 0)
	if err != nil {
		err = mapErr("read", key, err)
		if !v.IsZero() && errors.Is(err, fs.ErrNotExist) {
			// The pinned version is gone, as on every backend.
			return nil, objstore.Object{}, objstore.NewError("read", key, objstore.ErrChanged, fmt.Errorf("file: want version %s, no such file", v))
		}
		return nil, objstore.Object{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, objstore.Object{}, mapErr("read", key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		sentinel := fs.ErrNotExist
		if !v.IsZero() {
			sentinel = objstore.ErrChanged
		}
		return nil, objstore.Object{}, objstore.NewError("read", key, sentinel, fmt.Errorf("file: not a regular file (%v)", fi.Mode().Type()))
	}
	obj := objectOf(key, fi)
	if !v.Matches(obj.Version) {
		f.Close()
		return nil, objstore.Object{}, objstore.NewError("read", key, objstore.ErrChanged, fmt.Errorf("file: want version %s, file has %s", v, obj.Version))
	}
	// objstore.NewReader checks the range against the size; clip here
	// so that a bad range fails there.
	size := fi.Size()
	start := min(off, size)
	end := size
	if length >= 0 && length <= size-start {
		end = start + length
	}
	return &fileBody{ctx: ctx, key: key, f: f, r: io.NewSectionReader(f, start, end-start), counter: &s.counter}, obj, nil
}

// fileBody reads a section of an open file and stops when ctx is done.
type fileBody struct {
	ctx     context.Context
	key     string
	f       *os.File
	r       *io.SectionReader
	counter *reqcount.Counter // counts the bytes read
}

func (b *fileBody) Read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, objstore.NewError("read", b.key, nil, fmt.Errorf("file: %w", err))
	}
	n, err := b.r.Read(p)
	b.counter.AddIn(int64(n))
	return n, err
}

func (b *fileBody) Close() error { return b.f.Close() }

// Put writes the bytes of r to a temporary file next to key's file,
// syncs it (unless Options.NoSync), and renames it over the key, so
// readers see the old file or the new one, never a part. Missing parent
// directories are created. A key with an existing object as one of its
// parents ("a/b" while "a" is a file), or a key that is a directory of
// other keys, is an error wrapping fs.ErrExist: a path cannot be a file
// and a directory at once. On any error the temporary file is removed
// and the previous version stays.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts objstore.PutOptions) (objstore.Object, error) {
	if err := s.start(ctx, "put", key); err != nil {
		return objstore.Object{}, err
	}
	if err := opts.Check(); err != nil {
		return objstore.Object{}, objstore.NewError("put", key, nil, fmt.Errorf("file: %w", err))
	}
	s.counter.Add(reqcount.Put)
	f, tmp, err := s.createTemp(key)
	if err != nil {
		return objstore.Object{}, err
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			s.root.Remove(native(tmp))
		}
	}()

	src := ctxio.NewReader(ctx, r)
	if opts.Size > 0 {
		src = io.LimitReader(src, opts.Size+1)
	}
	n, err := io.Copy(f, src)
	if err != nil {
		if ctx.Err() != nil {
			return objstore.Object{}, objstore.NewError("put", key, nil, fmt.Errorf("file: %w", ctx.Err()))
		}
		return objstore.Object{}, objstore.NewError("put", key, nil, fmt.Errorf("file: writing %s: %w", tmp, err))
	}
	if opts.Size > 0 && n != opts.Size {
		what := strconv.FormatInt(n, 10)
		if n > opts.Size {
			what = "more than " + strconv.FormatInt(opts.Size, 10)
		}
		return objstore.Object{}, objstore.NewError("put", key, fs.ErrInvalid, fmt.Errorf("file: body has %s bytes, PutOptions.Size says %d", what, opts.Size))
	}
	if err := ctx.Err(); err != nil {
		return objstore.Object{}, objstore.NewError("put", key, nil, fmt.Errorf("file: %w", err))
	}
	// A modification time unique among this Store's Puts, at the
	// nanosecond, makes the version change on every overwrite even
	// where the kernel's clock is coarse and an inode number is reused.
	mtime := s.nextTime()
	if err := s.root.Chtimes(native(tmp), mtime, mtime); err != nil {
		return objstore.Object{}, mapErr("put", key, err)
	}
	if !s.noSync {
		if err := f.Sync(); err != nil {
			return objstore.Object{}, mapErr("put", key, err)
		}
	}
	fi, err := f.Stat()
	if err != nil {
		return objstore.Object{}, mapErr("put", key, err)
	}
	if err := f.Close(); err != nil {
		return objstore.Object{}, mapErr("put", key, err)
	}
	if opts.Conditional() {
		s.condMu.Lock()
		defer s.condMu.Unlock()
		if err := s.checkCondition(key, opts); err != nil {
			return objstore.Object{}, err
		}
	}
	if err := s.root.Rename(native(tmp), native(key)); err != nil {
		if errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.EEXIST) || errors.Is(err, syscall.ENOTEMPTY) {
			return objstore.Object{}, objstore.NewError("put", key, fs.ErrExist, fmt.Errorf("file: the key is a directory of other keys: %w", err))
		}
		return objstore.Object{}, mapErr("put", key, err)
	}
	committed = true
	s.counter.AddOut(n)
	if !s.noSync {
		s.syncDir(path.Dir(key))
	}
	return objectOf(key, fi), nil
}

// checkCondition checks the precondition of a Put against the file that
// key names now; the caller holds condMu.
func (s *Store) checkCondition(key string, opts objstore.PutOptions) error {
	fi, err := s.root.Stat(native(key))
	exists := err == nil && fi.Mode().IsRegular()
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return mapErr("put", key, err)
	}
	switch {
	case opts.IfNotExist && exists:
		return objstore.NewError("put", key, objstore.ErrChanged, fmt.Errorf("file: key exists (version %s)", versionOf(fi)))
	case !opts.IfMatch.IsZero() && !exists:
		return objstore.NewError("put", key, objstore.ErrChanged, fmt.Errorf("file: key is gone, want version %s", opts.IfMatch))
	case !opts.IfMatch.IsZero() && !opts.IfMatch.Matches(versionOf(fi)):
		return objstore.NewError("put", key, objstore.ErrChanged, fmt.Errorf("file: key has version %s, want %s", versionOf(fi), opts.IfMatch))
	}
	return nil
}

// createTemp creates the parent directories of key and a new temporary
// file among them. A concurrent Delete may remove an emptied parent
// between the two steps; then it tries again.
func (s *Store) createTemp(key string) (*os.File, string, error) {
	dir := path.Dir(key)
	for attempt := 0; ; attempt++ {
		if dir != "." {
			if err := s.root.MkdirAll(native(dir), s.dirMode); err != nil {
				if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, fs.ErrExist) {
					return nil, "", objstore.NewError("put", key, fs.ErrExist, fmt.Errorf("file: a parent of the key is an object: %w", err))
				}
				return nil, "", mapErr("put", key, err)
			}
		}
		tmp := path.Join(dir, TempPrefix+strconv.FormatUint(rand.Uint64(), 36))
		f, err := s.root.OpenFile(native(tmp), os.O_WRONLY|os.O_CREATE|os.O_EXCL, s.fileMode)
		if err == nil {
			return f, tmp, nil
		}
		if attempt < 5 && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrExist)) {
			continue
		}
		return nil, "", mapErr("put", key, err)
	}
}

// nextTime returns the current time, or a nanosecond after the last time
// it returned if that is not earlier.
func (s *Store) nextTime() time.Time {
	for {
		last := s.lastTime.Load()
		now := max(time.Now().UnixNano(), last+1)
		if s.lastTime.CompareAndSwap(last, now) {
			return time.Unix(0, now)
		}
	}
}

// syncDir makes a rename in dir durable; failures are ignored, as some
// file systems do not sync directories and the data is already in place.
func (s *Store) syncDir(dir string) {
	d, err := s.root.Open(native(dir))
	if err != nil {
		return
	}
	d.Sync()
	d.Close()
}

// Delete removes the file of key, then each parent directory that is
// left empty, up to the Store's directory, as S3 prefixes vanish with
// their last key. A missing key, or a key that names a directory, is not
// an error. A symbolic link is removed itself, not its target.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.start(ctx, "delete", key); err != nil {
		return err
	}
	s.counter.Add(reqcount.Delete)
	fi, err := s.root.Lstat(native(key))
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		return nil
	case err != nil:
		return mapErr("delete", key, err)
	case fi.IsDir():
		return nil
	}
	if err := s.root.Remove(native(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return mapErr("delete", key, err)
	}
	for dir := path.Dir(key); dir != "."; dir = path.Dir(dir) {
		// Only real, empty directories go; a symbolic link to a
		// directory is part of the user's layout.
		fi, err := s.root.Lstat(native(dir))
		if err != nil || !fi.IsDir() || s.root.Remove(native(dir)) != nil {
			break
		}
	}
	return nil
}
