// Package storetest is the conformance suite every objstore backend passes.
//
// A backend's test calls [Run] with a [Harness] that makes fresh, empty
// stores:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Harness{
//			New: func(t *testing.T) objstore.Store { return memstore.New() },
//		})
//	}
//
// The suite checks the contract written on [objstore.Store]: exact bytes
// for every range at the edges, errors that wrap the right sentinels,
// listing order and pagination, version pinning across overwrites, cut
// bodies resumed without a wrong or missing byte, cancelled contexts, and
// writes: an [objstore.Writer] streaming in parts, aborted or cancelled at
// random points (nothing published, no upload left open), and conditional
// Puts (IfNotExist, IfMatch; of two racing writers exactly one wins).
// For a store that is an [objstore.RequestCounter] it also checks the
// counts of a scripted sequence of calls, step by step, and with
// [Harness.ServerStats] that they equal the service's own.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tierfs/tierfs/objstore"
)

// Harness adapts a backend to the suite.
type Harness struct {
	// New returns a new, empty store rooted where no other test writes.
	// Cleanup is the harness's business (t.Cleanup).
	New func(t *testing.T) objstore.Store
	// CutReads, if not nil, makes the next `times` GET bodies of key
	// (relative to the store's root) end after `after` body bytes, by a
	// connection reset or an early EOF; times -1 means every body from now
	// on. Nil skips the cut-body cases: a
	// backend with no network has no body to cut.
	CutReads func(t *testing.T, key string, after int64, times int)
	// Bend, if not nil, makes every reply to a read (GET or HEAD) of key,
	// relative to the store's root, bend the rules as b says until t
	// ends: what a server or a gateway in front of it may do. It reports
	// false if it cannot bend replies so here (a proxy in front of a real
	// server cannot drop a signed Range header); the suite then leaves
	// that part out. Nil skips the BentReplies case: a backend with no
	// network has no reply to bend.
	Bend func(t *testing.T, key string, b Bend) bool
	// MultipartSize, if positive, is the body size above which the backend
	// uploads in parts; the suite then puts objects of about 2.5 times it,
	// with the size known and unknown, and reads them back.
	MultipartSize int64
	// ServerStats, if not nil, returns the requests the service behind
	// the store that t's New made has counted so far (at least those on
	// the store's bucket), as the service itself counted them. When the
	// store is an [objstore.RequestCounter], the RequestStats case then
	// checks that the store's counts move exactly as the service's do, at
	// every step. Nil checks the store's counts against the steps alone.
	ServerStats func(t *testing.T) objstore.RequestStats
	// OpenUploads, if not nil, returns the keys of the multipart uploads
	// the service behind the store that t's New made holds open under
	// the store's root, as the service lists them. The write cases then
	// check that an aborted, cancelled or refused write leaves none.
	OpenUploads func(t *testing.T) []string
}

// Bend says how the replies of Harness.Bend bend the rules.
type Bend struct {
	// IgnoreRange answers a ranged GET with 200 and the whole object.
	IgnoreRange bool
	// NoLength sends no Content-Length: bodies go chunked, and a HEAD
	// tells no size.
	NoLength bool
	// NoETag sends no ETag.
	NoETag bool
}

// Run runs the conformance suite as subtests of t.
func Run(t *testing.T, h Harness) {
	if h.New == nil {
		t.Fatal("storetest: Harness.New is nil")
	}
	cases := []struct {
		name string
		fn   func(*testing.T, Harness)
	}{
		{"RoundTrip", testRoundTrip},
		{"Ranges", testRanges},
		{"EmptyObject", testEmptyObject},
		{"Keys", testKeys},
		{"InvalidKeys", testInvalidKeys},
		{"NotFound", testNotFound},
		{"Overwrite", testOverwrite},
		{"PutSizeMismatch", testPutSizeMismatch},
		{"List", testList},
		{"ListDelimiter", testListDelimiter},
		{"ListPagination", testListPagination},
		{"Delete", testDelete},
		{"CancelledContext", testCancelledContext},
		{"ConcurrentReads", testConcurrentReads},
		{"Multipart", testMultipart},
		{"CutBody", testCutBody},
		{"BentReplies", testBentReplies},
		{"RequestStats", testRequestStats},
		{"Writer", testWriter},
		{"WriterAbort", testWriterAbort},
		{"ConditionalPut", testConditionalPut},
		{"ConditionalRace", testConditionalRace},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.fn(t, h) })
	}
}

// Data returns n deterministic pseudo-random bytes for seed, so a wrong
// offset shows up as wrong bytes.
func Data(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func put(t *testing.T, s objstore.Store, key string, data []byte) objstore.Object {
	t.Helper()
	obj, err := s.Put(t.Context(), key, bytes.NewReader(data), objstore.PutOptions{Size: int64(len(data))})
	if err != nil {
		t.Fatalf("Put(%q, %d bytes): %v", key, len(data), err)
	}
	if obj.Key != key {
		t.Errorf("Put(%q) returned Key %q", key, obj.Key)
	}
	if obj.Size != int64(len(data)) {
		t.Errorf("Put(%q) returned Size %d, want %d", key, obj.Size, len(data))
	}
	if obj.Version.IsZero() {
		t.Errorf("Put(%q) returned a zero Version", key)
	}
	return obj
}

// readRange reads [off, off+length) of key pinned to v and returns the
// bytes, checking the Reader's accounting on the way.
func readRange(ctx context.Context, s objstore.Store, key string, off, length int64, v objstore.Version) ([]byte, error) {
	r, err := s.NewRangeReader(ctx, key, off, length, objstore.ReadOptions{Version: v})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	want := length
	if want < 0 {
		want = r.Object().Size - off
	}
	if r.Remaining() != want {
		return nil, fmt.Errorf("Reader.Remaining() = %d before reading, want %d", r.Remaining(), want)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return b, err
	}
	if int64(len(b)) != want {
		return b, fmt.Errorf("read %d bytes, want %d", len(b), want)
	}
	return b, nil
}

func mustRead(t *testing.T, s objstore.Store, key string, off, length int64) []byte {
	t.Helper()
	b, err := readRange(t.Context(), s, key, off, length, objstore.Version{})
	if err != nil {
		t.Fatalf("read %q [%d,+%d): %v", key, off, length, err)
	}
	return b
}

func testRoundTrip(t *testing.T, h Harness) {
	s := h.New(t)
	data := Data(1, 100_000)
	obj := put(t, s, "dir/object.bin", data)
	st, err := s.Stat(t.Context(), "dir/object.bin")
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if st.Key != "dir/object.bin" || st.Size != int64(len(data)) {
		t.Errorf("Stat = {Key %q, Size %d}, want {dir/object.bin, %d}", st.Key, st.Size, len(data))
	}
	if st.Version != obj.Version {
		t.Errorf("Stat version %v, Put returned %v", st.Version, obj.Version)
	}
	if st.ModTime.IsZero() {
		t.Error("Stat returned a zero ModTime")
	}
	got := mustRead(t, s, "dir/object.bin", 0, -1)
	if !bytes.Equal(got, data) {
		t.Fatal("full read returned other bytes than were put")
	}
	r, err := s.NewRangeReader(t.Context(), "dir/object.bin", 10, 20, objstore.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Object().Version != obj.Version || r.Object().Size != int64(len(data)) {
		t.Errorf("Reader.Object() = %+v, want version %v size %d", r.Object(), obj.Version, len(data))
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close before reading: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := r.Read(make([]byte, 1)); err == nil {
		t.Error("Read after Close succeeded")
	}
	// A pinned read of the current version works.
	if b, err := readRange(t.Context(), s, "dir/object.bin", 5, 5, obj.Version); err != nil || !bytes.Equal(b, data[5:10]) {
		t.Errorf("pinned read: %v", err)
	}
}

func testRanges(t *testing.T, h Harness) {
	s := h.New(t)
	const size = 10_000
	data := Data(2, size)
	put(t, s, "r", data)
	ok := []struct{ off, length int64 }{
		{0, 0}, {0, 1}, {0, size}, {0, -1}, {1, -1}, {size - 1, 1}, {size - 1, -1},
		{size, 0}, {size, -1}, {4095, 4097}, {5000, 0}, {1234, 4321},
	}
	for _, c := range ok {
		got, err := readRange(t.Context(), s, "r", c.off, c.length, objstore.Version{})
		if err != nil {
			t.Errorf("range [%d,+%d): %v", c.off, c.length, err)
			continue
		}
		end := int64(size)
		if c.length >= 0 {
			end = c.off + c.length
		}
		if !bytes.Equal(got, data[c.off:end]) {
			t.Errorf("range [%d,+%d): wrong bytes", c.off, c.length)
		}
	}
	// Clamped: a range past the end is cut at the end.
	for _, c := range []struct{ off, length, want int64 }{
		{size - 1000, 5000, 1000}, {0, 2 * size, size}, {size, 10, 0}, {100, 50, 50},
	} {
		r, err := s.NewRangeReader(t.Context(), "r", c.off, c.length, objstore.ReadOptions{Clamp: true})
		if err != nil {
			t.Errorf("clamped range [%d,+%d): %v", c.off, c.length, err)
			continue
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || int64(len(got)) != c.want || !bytes.Equal(got, data[c.off:c.off+c.want]) || r.Object().Size != size {
			t.Errorf("clamped range [%d,+%d): %d bytes (want %d), %v", c.off, c.length, len(got), c.want, err)
		}
	}
	if _, err := s.NewRangeReader(t.Context(), "r", size+1, 10, objstore.ReadOptions{Clamp: true}); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("clamped range past the end: %v, want fs.ErrInvalid", err)
	}
	bad := []struct{ off, length int64 }{
		{-1, 1}, {-1, -1}, {size + 1, 0}, {size + 1, -1}, {size, 1}, {size - 1, 2}, {0, size + 1},
		{1 << 62, 1 << 62}, {1, 1<<63 - 1},
	}
	for _, c := range bad {
		_, err := readRange(t.Context(), s, "r", c.off, c.length, objstore.Version{})
		if !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("range [%d,+%d) of a %d-byte object: err = %v, want fs.ErrInvalid", c.off, c.length, size, err)
		}
	}
}

func testEmptyObject(t *testing.T, h Harness) {
	s := h.New(t)
	obj := put(t, s, "empty", nil)
	st, err := s.Stat(t.Context(), "empty")
	if err != nil || st.Size != 0 {
		t.Fatalf("Stat(empty) = %+v, %v", st, err)
	}
	for _, length := range []int64{0, -1} {
		b, err := readRange(t.Context(), s, "empty", 0, length, obj.Version)
		if err != nil || len(b) != 0 {
			t.Errorf("read empty object [0,+%d): %d bytes, %v", length, len(b), err)
		}
	}
	if _, err := readRange(t.Context(), s, "empty", 0, 1, objstore.Version{}); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("read 1 byte of an empty object: %v, want fs.ErrInvalid", err)
	}
}

// Keys whose encodings trip up SDKs and servers.
var oddKeys = []string{
	"with space", "plus+sign", "per%cent", "per%25cent", "amp&ersand", "q?mark", "hash#tag", "eq=sign",
	"unicode/日本語/ファイル", "emoji-😀", "tilde~", "semi;colon", "comma,", "quote'",
	"a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/deep.bin", "trailing-dot.", ".hidden", "..dots", "a..b",
	"UPPER/lower", "tab\tkey", "brackets[1]", "paren(1)", "dollar$", "at@sign", "star*",
	"back\\slash", "lt<gt>", "x" + strings.Repeat("y", 200),
}

func testKeys(t *testing.T, h Harness) {
	s := h.New(t)
	for i, k := range oddKeys {
		if !objstore.ValidKey(k) {
			t.Fatalf("test key %q is not valid", k)
		}
		data := Data(uint64(100+i), 37+i)
		put(t, s, k, data)
		if got := mustRead(t, s, k, 0, -1); !bytes.Equal(got, data) {
			t.Errorf("key %q: read other bytes than were put", k)
		}
		st, err := s.Stat(t.Context(), k)
		if err != nil || st.Key != k {
			t.Errorf("Stat(%q) = %q, %v", k, st.Key, err)
		}
	}
	keys := listAll(t, s, objstore.ListOptions{})
	want := slices.Clone(oddKeys)
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Errorf("List returned\n%q\nwant\n%q", keys, want)
	}
}

func testInvalidKeys(t *testing.T, h Harness) {
	s := h.New(t)
	bad := []string{"", ".", "..", "/abs", "trailing/", "a//b", "a/./b", "a/../b", "../up", "bad\xffutf8", strings.Repeat("k", objstore.MaxKeyLen+1)}
	ctx := t.Context()
	for _, k := range bad {
		check := func(op string, err error) {
			t.Helper()
			if !errors.Is(err, fs.ErrInvalid) {
				t.Errorf("%s(%q): err = %v, want fs.ErrInvalid", op, k, err)
			}
		}
		_, err := s.Stat(ctx, k)
		check("Stat", err)
		_, err = s.NewRangeReader(ctx, k, 0, -1, objstore.ReadOptions{})
		check("NewRangeReader", err)
		_, err = s.Put(ctx, k, strings.NewReader("x"), objstore.PutOptions{Size: 1})
		check("Put", err)
		check("Delete", s.Delete(ctx, k))
	}
	for _, p := range []string{"/abs", "a//", "../", "a/../"} {
		if _, err := s.List(ctx, objstore.ListOptions{Prefix: p}); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("List(prefix %q): err = %v, want fs.ErrInvalid", p, err)
		}
	}
	if _, err := s.List(ctx, objstore.ListOptions{MaxKeys: -1}); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("List(MaxKeys -1): err = %v, want fs.ErrInvalid", err)
	}
	if keys := listAll(t, s, objstore.ListOptions{}); len(keys) != 0 {
		t.Errorf("invalid puts stored %q", keys)
	}
}

func testNotFound(t *testing.T, h Harness) {
	s := h.New(t)
	put(t, s, "present/x", []byte("x"))
	for _, k := range []string{"absent", "present", "present/y", "present/x/z"} {
		if _, err := s.Stat(t.Context(), k); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Stat(%q): err = %v, want fs.ErrNotExist", k, err)
		}
		if _, err := s.NewRangeReader(t.Context(), k, 0, 1, objstore.ReadOptions{}); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("NewRangeReader(%q): err = %v, want fs.ErrNotExist", k, err)
		}
		if _, err := s.NewRangeReader(t.Context(), k, 0, 0, objstore.ReadOptions{}); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("NewRangeReader(%q, length 0): err = %v, want fs.ErrNotExist", k, err)
		}
	}
	page, err := s.List(t.Context(), objstore.ListOptions{Prefix: "absent/"})
	if err != nil || len(page.Objects)+len(page.Prefixes) != 0 || page.Next != "" {
		t.Errorf("List of an absent prefix = %+v, %v; want an empty last page", page, err)
	}
}

func testOverwrite(t *testing.T, h Harness) {
	s := h.New(t)
	old := Data(3, 5000)
	v1 := put(t, s, "o", old).Version
	// Identical size and content: the version must still change, so that
	// a cache keyed by version never serves a block of the replaced object
	// as if nothing happened when the store reuses content hashes. (Same
	// content with the same ETag is harmless: the bytes are equal.)
	v2 := put(t, s, "o", old).Version
	neu := Data(4, 5000)
	v3 := put(t, s, "o", neu).Version
	if v3 == v1 || v3 == v2 {
		t.Fatalf("overwrite with new bytes kept the version: %v, %v, %v", v1, v2, v3)
	}
	st, err := s.Stat(t.Context(), "o")
	if err != nil || st.Version != v3 {
		t.Fatalf("Stat after overwrite = %v, %v; want version %v", st.Version, err, v3)
	}
	if got := mustRead(t, s, "o", 0, -1); !bytes.Equal(got, neu) {
		t.Fatal("read after overwrite returned old bytes")
	}
	if v2 != v3 {
		_, err = readRange(t.Context(), s, "o", 0, 100, v2)
		if !errors.Is(err, objstore.ErrChanged) {
			t.Errorf("read pinned to a replaced version: err = %v, want objstore.ErrChanged", err)
		}
		_, err = readRange(t.Context(), s, "o", 0, 0, v2)
		if !errors.Is(err, objstore.ErrChanged) {
			t.Errorf("zero-length read pinned to a replaced version: err = %v, want objstore.ErrChanged", err)
		}
	}
	if b, err := readRange(t.Context(), s, "o", 100, 100, v3); err != nil || !bytes.Equal(b, neu[100:200]) {
		t.Errorf("read pinned to the current version: %v", err)
	}
	// A deleted object's pinned read: not there at all.
	if err := s.Delete(t.Context(), "o"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int64{10, 0} {
		_, err = readRange(t.Context(), s, "o", 0, n, v3)
		if !errors.Is(err, objstore.ErrChanged) || errors.Is(err, fs.ErrNotExist) {
			t.Errorf("pinned read of %d bytes of a deleted object: err = %v, want objstore.ErrChanged (the same on every backend)", n, err)
		}
	}
	// Unpinned, it is simply not there.
	if _, err = readRange(t.Context(), s, "o", 0, 10, objstore.Version{}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("unpinned read of a deleted object: err = %v, want fs.ErrNotExist", err)
	}
}

func testPutSizeMismatch(t *testing.T, h Harness) {
	s := h.New(t)
	for _, c := range []struct {
		body int
		size int64
	}{{10, 11}, {10, 9}, {0, 1}} {
		key := fmt.Sprintf("mismatch-%d-%d", c.body, c.size)
		_, err := s.Put(t.Context(), key, bytes.NewReader(Data(5, c.body)), objstore.PutOptions{Size: c.size})
		if !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Put %d bytes with Size %d: err = %v, want fs.ErrInvalid", c.body, c.size, err)
		}
		if _, err := s.Stat(t.Context(), key); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("after a failed Put, Stat(%q): err = %v, want fs.ErrNotExist", key, err)
		}
	}
	// A failed overwrite leaves the previous version in place.
	prev := put(t, s, "keep", []byte("previous"))
	if _, err := s.Put(t.Context(), "keep", strings.NewReader("short"), objstore.PutOptions{Size: 100}); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("short overwrite: err = %v, want fs.ErrInvalid", err)
	}
	if st, err := s.Stat(t.Context(), "keep"); err != nil || st.Version != prev.Version {
		t.Errorf("after a failed overwrite: Stat = %v, %v; want the previous version %v", st.Version, err, prev.Version)
	}
	// A body that fails mid-way stores nothing.
	_, err := s.Put(t.Context(), "broken", io.MultiReader(strings.NewReader("abc"), errReader{}), objstore.PutOptions{})
	if err == nil {
		t.Error("Put of a failing body succeeded")
	}
	if _, err := s.Stat(t.Context(), "broken"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after a failed body, Stat: err = %v, want fs.ErrNotExist", err)
	}
	// Unknown size works.
	data := Data(6, 3000)
	obj, err := s.Put(t.Context(), "unknown-size", io.MultiReader(bytes.NewReader(data[:1000]), bytes.NewReader(data[1000:])), objstore.PutOptions{})
	if err != nil || obj.Size != 3000 {
		t.Fatalf("Put with unknown size = %+v, %v", obj, err)
	}
	if got := mustRead(t, s, "unknown-size", 0, -1); !bytes.Equal(got, data) {
		t.Error("unknown-size put: wrong bytes")
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("storetest: body failed") }

// listAll pages through a listing and returns object keys and prefixes
// together, checking order, page size and the absence of repeats.
func listAll(t *testing.T, s objstore.Store, opts objstore.ListOptions) []string {
	t.Helper()
	var all []string
	for pages := 0; ; pages++ {
		if pages > 10_000 {
			t.Fatal("List never ended")
		}
		page, err := s.List(t.Context(), opts)
		if err != nil {
			t.Fatalf("List(%+v): %v", opts, err)
		}
		if opts.MaxKeys > 0 && len(page.Objects)+len(page.Prefixes) > opts.MaxKeys {
			t.Fatalf("List page has %d entries, MaxKeys %d", len(page.Objects)+len(page.Prefixes), opts.MaxKeys)
		}
		var keys []string
		for _, o := range page.Objects {
			if !strings.HasPrefix(o.Key, opts.Prefix) {
				t.Errorf("listed key %q outside prefix %q", o.Key, opts.Prefix)
			}
			keys = append(keys, o.Key)
		}
		for _, p := range page.Prefixes {
			if opts.Delimiter == "" || !strings.HasSuffix(p, opts.Delimiter) {
				t.Errorf("common prefix %q does not end in the delimiter %q", p, opts.Delimiter)
			}
		}
		keys = append(keys, page.Prefixes...)
		slices.Sort(keys)
		if len(all) > 0 && len(keys) > 0 && keys[0] <= all[len(all)-1] {
			t.Fatalf("List page starts at %q, not after the previous page's %q", keys[0], all[len(all)-1])
		}
		all = append(all, keys...)
		if page.Next == "" {
			return all
		}
		if len(keys) == 0 {
			t.Fatal("List returned an empty page with a Next token")
		}
		opts.Token = page.Next
	}
}

func testList(t *testing.T, h Harness) {
	s := h.New(t)
	// No key is also a prefix of another ("a" beside "a/b"): a file system
	// cannot hold both, and S3 users rarely mean it.
	keys := []string{"a.txt", "a-b", "a/b", "a/c/d", "a0", "b/x", "ab"}
	sizes := map[string]int{}
	for i, k := range keys {
		put(t, s, k, Data(uint64(i), i*10))
		sizes[k] = i * 10
	}
	want := slices.Clone(keys)
	slices.Sort(want)
	if got := listAll(t, s, objstore.ListOptions{}); !slices.Equal(got, want) {
		t.Errorf("List = %q, want %q (byte-wise lexical order of full keys)", got, want)
	}
	page, err := s.List(t.Context(), objstore.ListOptions{Prefix: "a/"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range page.Objects {
		got = append(got, o.Key)
		if o.Size != int64(sizes[o.Key]) {
			t.Errorf("listed %q with size %d, want %d", o.Key, o.Size, sizes[o.Key])
		}
		if o.ModTime.IsZero() {
			t.Errorf("listed %q with a zero ModTime", o.Key)
		}
	}
	if !slices.Equal(got, []string{"a/b", "a/c/d"}) {
		t.Errorf("List(prefix a/) = %q", got)
	}
	if got := listAll(t, s, objstore.ListOptions{Prefix: "a"}); !slices.Equal(got, []string{"a-b", "a.txt", "a/b", "a/c/d", "a0", "ab"}) {
		t.Errorf("List(prefix a) = %q", got)
	}
}

func testListDelimiter(t *testing.T, h Harness) {
	s := h.New(t)
	for _, k := range []string{"top.txt", "d1/f1", "d1/f2", "d1/sub/f3", "d2/f4", "d1-file", "e/f/g/h"} {
		put(t, s, k, []byte(k))
	}
	check := func(prefix string, wantObjs, wantPrefixes []string) {
		t.Helper()
		var objs, prefixes []string
		opts := objstore.ListOptions{Prefix: prefix, Delimiter: "/"}
		for {
			page, err := s.List(t.Context(), opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range page.Objects {
				objs = append(objs, o.Key)
			}
			prefixes = append(prefixes, page.Prefixes...)
			if page.Next == "" {
				break
			}
			opts.Token = page.Next
		}
		if !slices.Equal(objs, wantObjs) || !slices.Equal(prefixes, wantPrefixes) {
			t.Errorf("List(prefix %q, delimiter /) = objects %q prefixes %q; want %q %q", prefix, objs, prefixes, wantObjs, wantPrefixes)
		}
	}
	check("", []string{"d1-file", "top.txt"}, []string{"d1/", "d2/", "e/"})
	check("d1/", []string{"d1/f1", "d1/f2"}, []string{"d1/sub/"})
	check("d1", []string{"d1-file"}, []string{"d1/"})
	check("e/", nil, []string{"e/f/"})
	check("nothing/", nil, nil)
	// Common prefixes count toward MaxKeys and paginate like objects.
	got := listAll(t, s, objstore.ListOptions{Delimiter: "/", MaxKeys: 1})
	if want := []string{"d1-file", "d1/", "d2/", "e/", "top.txt"}; !slices.Equal(got, want) {
		t.Errorf("List(delimiter /, MaxKeys 1) = %q, want %q", got, want)
	}
}

func testListPagination(t *testing.T, h Harness) {
	s := h.New(t)
	const n = 1100
	var want []string
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	for i := range n {
		k := fmt.Sprintf("many/k%05d", i)
		want = append(want, k)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if _, err := s.Put(t.Context(), k, strings.NewReader("v"), objstore.PutOptions{Size: 1}); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	page, err := s.List(t.Context(), objstore.ListOptions{Prefix: "many/"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Objects) == 0 || len(page.Objects) >= n || page.Next == "" {
		t.Errorf("first page of %d keys with the default MaxKeys: %d keys, Next %q; want a partial page and a token", n, len(page.Objects), page.Next)
	}
	if got := listAll(t, s, objstore.ListOptions{Prefix: "many/"}); !slices.Equal(got, want) {
		t.Errorf("paged listing returned %d keys, want %d in order", len(got), len(want))
	}
	if got := listAll(t, s, objstore.ListOptions{Prefix: "many/", MaxKeys: 333}); !slices.Equal(got, want) {
		t.Errorf("listing with MaxKeys 333 returned %d keys, want %d in order", len(got), len(want))
	}
}

func testDelete(t *testing.T, h Harness) {
	s := h.New(t)
	put(t, s, "d/x", []byte("x"))
	put(t, s, "d/y", []byte("y"))
	if err := s.Delete(t.Context(), "d/x"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(t.Context(), "d/x"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat after Delete: err = %v, want fs.ErrNotExist", err)
	}
	if err := s.Delete(t.Context(), "d/x"); err != nil {
		t.Errorf("Delete of a missing key: %v, want nil", err)
	}
	if err := s.Delete(t.Context(), "never/was"); err != nil {
		t.Errorf("Delete of a missing key: %v, want nil", err)
	}
	if got := listAll(t, s, objstore.ListOptions{}); !slices.Equal(got, []string{"d/y"}) {
		t.Errorf("List after Delete = %q", got)
	}
	if err := s.Delete(t.Context(), "d/y"); err != nil {
		t.Fatal(err)
	}
	if got := listAll(t, s, objstore.ListOptions{Delimiter: "/"}); len(got) != 0 {
		t.Errorf("List after deleting everything = %q, want nothing", got)
	}
}

func testCancelledContext(t *testing.T, h Harness) {
	s := h.New(t)
	put(t, s, "c", Data(7, 1000))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: err = %v, want context.Canceled", op, err)
		}
	}
	_, err := s.Stat(ctx, "c")
	check("Stat", err)
	_, err = s.NewRangeReader(ctx, "c", 0, 10, objstore.ReadOptions{})
	check("NewRangeReader", err)
	_, err = s.List(ctx, objstore.ListOptions{})
	check("List", err)
	_, err = s.Put(ctx, "c2", strings.NewReader("x"), objstore.PutOptions{Size: 1})
	check("Put", err)
	check("Delete", s.Delete(ctx, "c"))
	if _, err := s.Stat(t.Context(), "c2"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a Put under a cancelled context stored the object (Stat err = %v)", err)
	}
	if _, err := s.Stat(t.Context(), "c"); err != nil {
		t.Errorf("a Delete under a cancelled context removed the object (Stat err = %v)", err)
	}
	// Cancelling while a body is being read ends the read with an error.
	ctx, cancel = context.WithCancel(t.Context())
	r, err := s.NewRangeReader(ctx, "c", 0, -1, objstore.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := io.ReadFull(r, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	cancel()
	// The body may already be buffered locally; reading on must either
	// finish with the exact bytes or fail, never end short.
	rest, err := io.ReadAll(r)
	if err == nil && len(rest) != 990 {
		t.Errorf("read after cancel returned %d bytes and no error, want 990 or an error", len(rest))
	}
}

func testConcurrentReads(t *testing.T, h Harness) {
	s := h.New(t)
	data := Data(8, 1<<20)
	v := put(t, s, "conc", data).Version
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 8 {
				off := r.Int64N(int64(len(data)))
				n := r.Int64N(int64(len(data)) - off + 1)
				b, err := readRange(t.Context(), s, "conc", off, n, v)
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(b, data[off:off+n]) {
					errs <- fmt.Errorf("range [%d,+%d): wrong bytes", off, n)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func testMultipart(t *testing.T, h Harness) {
	if h.MultipartSize <= 0 {
		t.Skip("storetest: Harness.MultipartSize is 0: the backend has no multipart upload")
	}
	s := h.New(t)
	n := int(h.MultipartSize*5/2) + 12345
	data := Data(9, n)
	obj, err := s.Put(t.Context(), "big/known", bytes.NewReader(data), objstore.PutOptions{Size: int64(n)})
	if err != nil || obj.Size != int64(n) {
		t.Fatalf("multipart Put with known size = %+v, %v", obj, err)
	}
	if got := mustRead(t, s, "big/known", 0, -1); !bytes.Equal(got, data) {
		t.Error("multipart (known size): wrong bytes")
	}
	// io.MultiReader hides the length and any WriterTo.
	obj, err = s.Put(t.Context(), "big/unknown", io.MultiReader(bytes.NewReader(data)), objstore.PutOptions{})
	if err != nil || obj.Size != int64(n) {
		t.Fatalf("multipart Put with unknown size = %+v, %v", obj, err)
	}
	if got := mustRead(t, s, "big/unknown", int64(h.MultipartSize)-7, 1000); !bytes.Equal(got, data[h.MultipartSize-7:h.MultipartSize+993]) {
		t.Error("multipart (unknown size): wrong bytes across a part boundary")
	}
	// A multipart upload whose body is short stores nothing.
	_, err = s.Put(t.Context(), "big/short", bytes.NewReader(data[:n-1]), objstore.PutOptions{Size: int64(n)})
	if !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("short multipart body: err = %v, want fs.ErrInvalid", err)
	}
	if _, err := s.Stat(t.Context(), "big/short"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after a failed multipart Put: Stat err = %v, want fs.ErrNotExist", err)
	}
	// A body that fails after several parts stores nothing either.
	_, err = s.Put(t.Context(), "big/broken", io.MultiReader(bytes.NewReader(data), errReader{}), objstore.PutOptions{})
	if err == nil {
		t.Error("multipart Put of a failing body succeeded")
	}
	if _, err := s.Stat(t.Context(), "big/broken"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("after a failed multipart body: Stat err = %v, want fs.ErrNotExist", err)
	}
}

func testCutBody(t *testing.T, h Harness) {
	if h.CutReads == nil {
		t.Skip("storetest: Harness.CutReads is nil: the backend has no network body to cut")
	}
	s := h.New(t)
	const size = 300_000
	data := Data(10, size)
	v := put(t, s, "cut", data).Version

	// Cut twice, at different points: the read resumes and is exact.
	h.CutReads(t, "cut", 70_000, 2)
	r, err := s.NewRangeReader(t.Context(), "cut", 1000, size-2000, objstore.ReadOptions{Version: v})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil {
		t.Fatalf("read with 2 cut bodies: %v", err)
	}
	if !bytes.Equal(got, data[1000:size-1000]) {
		t.Fatalf("read with 2 cut bodies: %d bytes, wrong content", len(got))
	}
	if r.Resumes() < 1 {
		t.Errorf("Resumes() = %d after cut bodies, want at least 1", r.Resumes())
	}

	// Cuts that never stop: an error, never a short success.
	put(t, s, "cut-always", data)
	h.CutReads(t, "cut-always", 10_000, -1)
	r, err = s.NewRangeReader(t.Context(), "cut-always", 0, -1, objstore.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err = io.ReadAll(r)
	r.Close()
	if err == nil {
		t.Fatalf("read with endless cuts returned %d bytes and no error", len(got))
	}
	if !bytes.Equal(got, data[:len(got)]) {
		t.Fatal("read with endless cuts returned wrong bytes before failing")
	}

	// An overwrite between the cut and the resume: ErrChanged, no torn read.
	put(t, s, "cut-change", data)
	h.CutReads(t, "cut-change", 50_000, 1)
	r, err = s.NewRangeReader(t.Context(), "cut-change", 0, -1, objstore.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 40_000)
	if _, err := io.ReadFull(r, first); err != nil {
		t.Fatal(err)
	}
	put(t, s, "cut-change", Data(11, size))
	got, err = io.ReadAll(r)
	r.Close()
	if err == nil {
		// The body may have arrived whole before the overwrite: then every
		// byte must be of the first version.
		if !bytes.Equal(append(first, got...), data) {
			t.Fatal("read across an overwrite returned bytes of two versions")
		}
	} else if !errors.Is(err, objstore.ErrChanged) {
		t.Errorf("resume after an overwrite: err = %v, want objstore.ErrChanged", err)
	}
}

// testBentReplies reads objects whose replies lack a Content-Length or an
// ETag, or ignore Range: every read gets the exact bytes or an error
// wrapping objstore.ErrBadResponse, never a short success, a size of 0 or
// a read pinned to nothing.
func testBentReplies(t *testing.T, h Harness) {
	if h.Bend == nil {
		t.Skip("storetest: Harness.Bend is nil: the backend has no reply to bend")
	}
	s := h.New(t)
	const size = 300_000
	data := Data(12, size)
	// exactOrBad reads [off, off+length) unpinned and checks that it got
	// the exact bytes or ErrBadResponse. It reports which.
	exactOrBad := func(key string, off, length int64) (exact bool) {
		t.Helper()
		end := int64(size)
		if length >= 0 {
			end = off + length
		}
		got, err := readRange(t.Context(), s, key, off, length, objstore.Version{})
		switch {
		case err == nil && !bytes.Equal(got, data[off:end]):
			t.Errorf("%s [%d, %d): %d bytes and no error, want %d exact bytes or ErrBadResponse", key, off, end, len(got), end-off)
		case err != nil && !errors.Is(err, objstore.ErrBadResponse):
			t.Errorf("%s [%d, %d): %v, want the exact bytes or ErrBadResponse", key, off, end, err)
		}
		return err == nil
	}
	statBad := func(key string) {
		t.Helper()
		obj, err := s.Stat(t.Context(), key)
		if !errors.Is(err, objstore.ErrBadResponse) {
			t.Errorf("Stat(%s) = size %d, version %q, err %v; want ErrBadResponse", key, obj.Size, obj.Version, err)
		}
	}

	bend := func(key string, b Bend) bool {
		t.Helper()
		put(t, s, key, data)
		if !h.Bend(t, key, b) {
			t.Logf("the harness cannot bend replies as %+v here: %s left out", b, key)
			return false
		}
		return true
	}

	if bend("ignore-range", Bend{IgnoreRange: true}) {
		exactOrBad("ignore-range", 0, 1000)
		exactOrBad("ignore-range", 5000, 1000)
		exactOrBad("ignore-range", size-10, -1)
	}

	// No length: a HEAD tells no size, a whole body's end is unknown.
	if bend("no-length", Bend{NoLength: true}) {
		statBad("no-length")
		exactOrBad("no-length", 0, -1)
		exactOrBad("no-length", 1000, 5000) // a Content-Range may tell
		exactOrBad("no-length", size-100, 0)
	}

	// A server that ignores Range and sends the object chunked.
	if bend("no-length-whole", Bend{NoLength: true, IgnoreRange: true}) {
		statBad("no-length-whole")
		exactOrBad("no-length-whole", 0, -1)
		exactOrBad("no-length-whole", 0, 1000)
		exactOrBad("no-length-whole", 7000, 1000)
	}

	// No ETag: a read could not be pinned to one version.
	if bend("no-etag", Bend{NoETag: true}) {
		statBad("no-etag")
		for _, r := range [][2]int64{{0, -1}, {0, 1000}, {1000, 0}} {
			if exactOrBad("no-etag", r[0], r[1]) {
				t.Errorf("no-etag [%d, +%d): read unpinned, want ErrBadResponse", r[0], r[1])
			}
		}
	}
}

// testRequestStats runs a scripted sequence of calls and checks, after
// each, how the store's RequestStats moved: the kinds the call must have
// used, none it must not, the exact object bytes, and (with
// Harness.ServerStats) equality with the service's own counts.
func testRequestStats(t *testing.T, h Harness) {
	s := h.New(t)
	rc, ok := s.(objstore.RequestCounter)
	if !ok {
		// Counting is optional for a Store; every backend of this module
		// counts (each asserts objstore.RequestCounter at compile time).
		t.Skipf("storetest: %T does not count its requests (it is no objstore.RequestCounter): nothing to check", s)
	}
	// want checks the delta d of one step; it reports a problem or "".
	type want func(d objstore.RequestStats) string
	step := func(name string, check want, fn func() error) {
		t.Helper()
		var srv0 objstore.RequestStats
		if h.ServerStats != nil {
			srv0 = h.ServerStats(t)
		}
		st0 := rc.RequestStats()
		if err := fn(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		d := rc.RequestStats().Sub(st0)
		t.Logf("%s: %+v", name, d)
		if d.Requests() < 1 {
			t.Errorf("%s: no request counted: %+v", name, d)
		}
		if msg := check(d); msg != "" {
			t.Errorf("%s: store counted %+v: %s", name, d, msg)
		}
		if h.ServerStats != nil {
			if ds := h.ServerStats(t).Sub(srv0); ds != d {
				t.Errorf("%s: store counted %+v\nserver counted %+v", name, d, ds)
			}
		}
	}
	// none reports the fields of d among names that are not zero.
	none := func(d objstore.RequestStats, names ...string) string {
		vals := map[string]int64{
			"Gets": d.Gets, "Heads": d.Heads, "Lists": d.Lists, "Puts": d.Puts, "Deletes": d.Deletes,
			"Other": d.Other, "BytesIn": d.BytesIn, "BytesOut": d.BytesOut,
		}
		var bad []string
		for _, n := range names {
			if vals[n] != 0 {
				bad = append(bad, fmt.Sprintf("%s %d, want 0", n, vals[n]))
			}
		}
		return strings.Join(bad, "; ")
	}
	read := func(key string, off, length int64, want []byte) func() error {
		return func() error {
			got, err := readRange(t.Context(), s, key, off, length, objstore.Version{})
			if err == nil && !bytes.Equal(got, want) {
				err = fmt.Errorf("read [%d,+%d): wrong bytes", off, length)
			}
			return err
		}
	}
	putBody := func(key string, data []byte, size int64) func() error {
		return func() error {
			obj, err := s.Put(t.Context(), key, io.MultiReader(bytes.NewReader(data)), objstore.PutOptions{Size: size})
			if err == nil && obj.Size != int64(len(data)) {
				err = fmt.Errorf("the put returned size %d, want %d", obj.Size, len(data))
			}
			return err
		}
	}
	readStep := func(n int64) want {
		return func(d objstore.RequestStats) string {
			if d.Gets < 1 || d.BytesIn != n {
				return fmt.Sprintf("want at least 1 Get and BytesIn %d (the test servers honour ranges)", n)
			}
			return none(d, "Puts", "Deletes", "Lists", "BytesOut")
		}
	}
	putStep := func(n int64, multipart bool) want {
		return func(d objstore.RequestStats) string {
			if d.Puts < 1 || d.BytesOut != n {
				return fmt.Sprintf("want at least 1 Put and BytesOut %d", n)
			}
			if multipart && (d.Puts < 3 || d.Other < 2) {
				return "want 3 or more part Puts and at least 2 Other (create, complete) for a multipart upload"
			}
			return none(d, "Gets", "Deletes", "Lists", "BytesIn")
		}
	}

	const size = 100_000
	data := Data(20, size)
	step("Put small", putStep(size, false), putBody("counted", data, size))
	step("Stat", func(d objstore.RequestStats) string {
		if d.Heads < 1 {
			return "want at least 1 Head"
		}
		return none(d, "Gets", "Puts", "Deletes", "Lists", "Other", "BytesIn", "BytesOut")
	}, func() error { _, err := s.Stat(t.Context(), "counted"); return err })
	step("ranged read", readStep(3000), read("counted", 1000, 3000, data[1000:4000]))
	step("read to the end", readStep(5000), read("counted", size-5000, -1, data[size-5000:]))
	// A read from the end to the end: S3 answers its GET with 416, and the
	// store learns the size from a HEAD.
	step("empty read at the end", func(d objstore.RequestStats) string {
		if d.Gets+d.Heads < 1 {
			return "want a Get or a Head"
		}
		return none(d, "Puts", "Deletes", "Lists", "BytesIn", "BytesOut")
	}, read("counted", size, -1, nil))
	step("zero-length read at the end", func(d objstore.RequestStats) string {
		if d.Gets+d.Heads < 1 {
			return "want a Get or a Head"
		}
		return none(d, "Puts", "Deletes", "Lists", "BytesIn", "BytesOut")
	}, read("counted", size, 0, nil))
	step("List", func(d objstore.RequestStats) string {
		if d.Lists < 1 {
			return "want at least 1 List"
		}
		return none(d, "Gets", "Heads", "Puts", "Deletes", "BytesIn", "BytesOut")
	}, func() error {
		page, err := s.List(t.Context(), objstore.ListOptions{Prefix: "count"})
		if err == nil && (len(page.Objects) != 1 || page.Objects[0].Key != "counted") {
			err = fmt.Errorf("the listing is %+v, want the one object", page)
		}
		return err
	})
	// Unknown size: the store finds the length by reading.
	step("Put small, unknown size", putStep(size, false), putBody("counted-unknown", data, 0))
	big := int64(300_000)
	multipart := h.MultipartSize > 0
	if multipart {
		big = h.MultipartSize*5/2 + 12345
	}
	bigData := Data(21, int(big))
	step("Put large", putStep(big, multipart), putBody("counted-big", bigData, big))
	step("Put large, unknown size", putStep(big, multipart), putBody("counted-big-unknown", bigData, 0))
	step("read large", readStep(big), read("counted-big", 0, -1, bigData))
	deleteStep := func(d objstore.RequestStats) string {
		if d.Deletes < 1 {
			return "want at least 1 Delete"
		}
		return none(d, "Gets", "Heads", "Puts", "Lists", "BytesIn", "BytesOut")
	}
	step("Delete", deleteStep, func() error { return s.Delete(t.Context(), "counted-big") })
	step("Delete missing", deleteStep, func() error { return s.Delete(t.Context(), "never-was") })
	step("Stat missing", func(d objstore.RequestStats) string {
		if d.Heads < 1 {
			return "want at least 1 Head"
		}
		return none(d, "Gets", "Puts", "Deletes", "Lists", "BytesIn", "BytesOut")
	}, func() error {
		if _, err := s.Stat(t.Context(), "counted-big"); !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("stat of a deleted key: %v, want fs.ErrNotExist", err)
		}
		return nil
	})
	if h.CutReads == nil {
		return
	}
	// Cut bodies: every resume is one more Get; BytesIn counts what the
	// Reader received, the cut bodies' bytes included, exactly once.
	h.CutReads(t, "counted", 20_000, 2)
	step("read with 2 cut bodies", func(d objstore.RequestStats) string {
		if d.Gets < 3 || d.BytesIn != size {
			return fmt.Sprintf("want at least 3 Gets (2 cut, 1 whole) and BytesIn %d", size)
		}
		return none(d, "Puts", "Deletes", "Lists", "BytesOut")
	}, read("counted", 0, -1, data))
}
