package memstore

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/tierfs/tierfs/internal/ctxio"
	"github.com/tierfs/tierfs/objstore"
)

// Store is an object store held in memory. The zero value is not usable;
// call [New] or [FromMap]. All methods are safe for concurrent use.
//
// Stored bytes are never modified: Put copies the body into a new buffer,
// and a reader keeps the buffer of the version it was opened on.
type Store struct {
	mu      sync.RWMutex       // guards objects, keys and seq
	objects map[string]*object // current version of each key
	keys    []string           // the keys of objects, sorted
	seq     uint64             // last Version.ID handed out

	inst instruments // counters and faults; has its own lock
}

// object is one immutable version of a key.
type object struct {
	data []byte
	obj  objstore.Object
}

var (
	_ objstore.Store          = (*Store)(nil)
	_ objstore.RequestCounter = (*Store)(nil)
)

// New returns an empty Store.
func New() *Store {
	return &Store{objects: make(map[string]*object)}
}

// FromMap returns a Store holding one object per entry of m, put in key
// order, for examples and tests. A key that is not valid
// ([objstore.ValidKey]) is an error wrapping fs.ErrInvalid.
func FromMap[V string | []byte](m map[string]V) (*Store, error) {
	s := New()
	keys := make([]string, 0, len(m))
	for k := range m {
		if err := objstore.CheckKey("put", k); err != nil {
			return nil, wrapMem(err)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		s.store(k, []byte(m[k]), objstore.PutOptions{})
	}
	return s, nil
}

// wrapMem adds the backend's name to the cause of an *objstore.Error.
func wrapMem(err error) error {
	if e, ok := err.(*objstore.Error); ok && e.Err != nil {
		e.Err = fmt.Errorf("mem: %w", e.Err)
	}
	return err
}

// newErr returns an *objstore.Error for op on key whose message names the
// backend.
func newErr(op, key string, sentinel error, format string, args ...any) error {
	return objstore.NewError(op, key, sentinel, fmt.Errorf("mem: "+format, args...))
}

// ctxErr wraps a done context's error for op on key.
func ctxErr(op, key string, err error) error {
	return objstore.NewError(op, key, nil, fmt.Errorf("mem: %w", err))
}

// store makes data (owned by the Store from now on) the current version
// of key and returns its attributes.
func (s *Store) store(key string, data []byte, opts objstore.PutOptions) objstore.Object {
	obj, _ := s.storeIf(key, data, opts)
	return obj
}

// storeIf is store under opts' precondition, checked and applied under
// one lock: of two writers with the same IfMatch, one wins.
func (s *Store) storeIf(key string, data []byte, opts objstore.PutOptions) (objstore.Object, error) {
	sum := md5.Sum(data)
	var crc [4]byte
	binary.BigEndian.PutUint32(crc[:], crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)))
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.objects[key]; ok && opts.IfNotExist {
		return objstore.Object{}, newErr(OpPut, key, objstore.ErrChanged, "key exists (version %s)", cur.obj.Version)
	} else if !opts.IfMatch.IsZero() && (!ok || !opts.IfMatch.Matches(cur.obj.Version)) {
		return objstore.Object{}, newErr(OpPut, key, objstore.ErrChanged, "key is not at version %s", opts.IfMatch)
	}
	s.seq++
	o := &object{data: data, obj: objstore.Object{
		Key:     key,
		Size:    int64(len(data)),
		ModTime: time.Now().Round(0),
		Version: objstore.Version{ETag: hex.EncodeToString(sum[:]), ID: strconv.FormatUint(s.seq, 10)},
		Checksums: map[string]string{
			"crc32c": base64.StdEncoding.EncodeToString(crc[:]),
		},
	}}
	// ContentType and Metadata are kept by S3; the memory store has no
	// use for them.
	if _, ok := s.objects[key]; !ok {
		i, _ := slices.BinarySearch(s.keys, key)
		s.keys = slices.Insert(s.keys, i, key)
	}
	s.objects[key] = o
	return o.attrs(), nil
}

// attrs returns a copy of o's attributes that the caller may modify.
func (o *object) attrs() objstore.Object {
	a := o.obj
	a.Checksums = make(map[string]string, len(o.obj.Checksums))
	for k, v := range o.obj.Checksums {
		a.Checksums[k] = v
	}
	return a
}

func (s *Store) lookup(key string) *object {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.objects[key]
}

// Stat returns the attributes of the current version of key.
func (s *Store) Stat(ctx context.Context, key string) (objstore.Object, error) {
	if err := objstore.CheckKey(OpStat, key); err != nil {
		return objstore.Object{}, wrapMem(err)
	}
	if err := s.inst.request(ctx, OpStat, key); err != nil {
		return objstore.Object{}, err
	}
	o := s.lookup(key)
	if o == nil {
		return objstore.Object{}, newErr(OpStat, key, fs.ErrNotExist, "no such key")
	}
	return o.attrs(), nil
}

// NewRangeReader opens the bytes [off, off+length) of key; see
// [objstore.Store]. Every body opened (the first and each resume) counts
// as one GET in [Store.Stats] and passes through the faults set with
// [Store.CutReads], [Store.FailNext], [Store.SetLatency] and
// [Store.SetHook].
func (s *Store) NewRangeReader(ctx context.Context, key string, off, length int64, opts objstore.ReadOptions) (*objstore.Reader, error) {
	if err := objstore.CheckKey(OpRead, key); err != nil {
		return nil, wrapMem(err)
	}
	if err := ctx.Err(); err != nil {
		return nil, ctxErr(OpRead, key, err)
	}
	open := func(ctx context.Context, off, length int64, v objstore.Version) (io.ReadCloser, objstore.Object, error) {
		return s.openBody(ctx, key, off, length, v)
	}
	return objstore.NewReader(ctx, key, off, length, opts, s.inst.retryPolicy(), open)
}

// openBody is the store's objstore.RangeOpener for key.
func (s *Store) openBody(ctx context.Context, key string, off, length int64, v objstore.Version) (io.ReadCloser, objstore.Object, error) {
	if err := s.inst.request(ctx, OpRead, key); err != nil {
		return nil, objstore.Object{}, err
	}
	o := s.lookup(key)
	if o == nil {
		if !v.IsZero() {
			// The pinned version is gone, as on every backend.
			return nil, objstore.Object{}, newErr(OpRead, key, objstore.ErrChanged, "want version %s, no such key", v)
		}
		return nil, objstore.Object{}, newErr(OpRead, key, fs.ErrNotExist, "no such key")
	}
	if !v.Matches(o.obj.Version) {
		return nil, objstore.Object{}, newErr(OpRead, key, objstore.ErrChanged, "want version %s, store has %s", v, o.obj.Version)
	}
	// objstore.NewReader checks the range against the size; hand it a
	// body clipped to the object so that a bad range fails there.
	size := int64(len(o.data))
	start := min(off, size)
	end := size
	if length >= 0 && length <= size-start {
		end = start + length
	}
	var body io.Reader = bytes.NewReader(o.data[start:end])
	if after, ok := s.inst.takeCut(key); ok {
		body = &cutReader{r: body, left: after}
	}
	return &memBody{ctx: ctx, r: body, key: key, inst: &s.inst}, o.attrs(), nil
}

// memBody is one response body: it stops when ctx is done and counts the
// bytes it delivers.
type memBody struct {
	ctx  context.Context
	r    io.Reader
	key  string
	inst *instruments
}

func (b *memBody) Read(p []byte) (int, error) {
	if err := b.ctx.Err(); err != nil {
		return 0, ctxErr(OpRead, b.key, err)
	}
	n, err := b.r.Read(p)
	b.inst.addBodyBytes(b.key, n)
	return n, err
}

func (b *memBody) Close() error { return nil }

// cutReader ends its body with an error after left bytes, as a reset
// connection would.
type cutReader struct {
	r    io.Reader
	left int64
}

// errCut is the error a body cut by CutReads ends with.
var errCut = fmt.Errorf("mem: connection reset (injected by CutReads): %w", io.ErrUnexpectedEOF)

func (c *cutReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errCut
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

// Put stores the bytes of r as key; see [objstore.Store]. The body is
// read to the end (or to PutOptions.Size plus one byte) before anything
// is stored, so a failed Put leaves the previous version in place.
// Every Put makes a new version, even of identical bytes.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts objstore.PutOptions) (objstore.Object, error) {
	if err := objstore.CheckKey(OpPut, key); err != nil {
		return objstore.Object{}, wrapMem(err)
	}
	if err := opts.Check(); err != nil {
		return objstore.Object{}, newErr(OpPut, key, nil, "%w", err)
	}
	if err := s.inst.request(ctx, OpPut, key); err != nil {
		return objstore.Object{}, err
	}
	var buf bytes.Buffer
	src := ctxio.NewReader(ctx, r)
	if opts.Size > 0 {
		buf.Grow(int(min(opts.Size, 64<<20)))
		src = io.LimitReader(src, opts.Size+1)
	}
	if _, err := buf.ReadFrom(src); err != nil {
		if ctx.Err() != nil {
			return objstore.Object{}, ctxErr(OpPut, key, ctx.Err())
		}
		return objstore.Object{}, newErr(OpPut, key, nil, "reading body: %w", err)
	}
	if opts.Size > 0 && int64(buf.Len()) != opts.Size {
		return objstore.Object{}, newErr(OpPut, key, fs.ErrInvalid, "body has %s bytes, PutOptions.Size says %d", sizeText(buf.Len(), opts.Size), opts.Size)
	}
	// A context cancelled while the body was read fails the Put too.
	if err := ctx.Err(); err != nil {
		return objstore.Object{}, ctxErr(OpPut, key, err)
	}
	obj, err := s.storeIf(key, buf.Bytes(), opts)
	if err != nil {
		return objstore.Object{}, err
	}
	s.inst.addPutBytes(key, buf.Len())
	return obj, nil
}

func sizeText(got int, want int64) string {
	if int64(got) > want {
		return "more than " + strconv.FormatInt(want, 10)
	}
	return strconv.Itoa(got)
}

// Delete removes key. Deleting a missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := objstore.CheckKey(OpDelete, key); err != nil {
		return wrapMem(err)
	}
	if err := s.inst.request(ctx, OpDelete, key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.objects[key]; !ok {
		return nil
	}
	delete(s.objects, key)
	if i, found := slices.BinarySearch(s.keys, key); found {
		s.keys = slices.Delete(s.keys, i, i+1)
	}
	return nil
}
