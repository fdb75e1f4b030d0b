package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/tierfs/tierfs/objstore"
)

// The write cases: an objstore.Writer streaming over Put, aborted or
// cancelled at any point, and conditional Puts.

// writeSize is the body the write cases stream: several parts where the
// store uploads in parts.
func writeSize(h Harness) int {
	if h.MultipartSize > 0 {
		return int(h.MultipartSize*5/2) + 13
	}
	return 1<<20 + 13
}

// writeAll writes data to w in pieces of varying sizes, as a producer
// would.
func writeAll(t *testing.T, w *objstore.Writer, data []byte, rng *rand.Rand) {
	t.Helper()
	for len(data) > 0 {
		n := min(len(data), 1+rng.IntN(300<<10))
		if _, err := w.Write(data[:n]); err != nil {
			t.Fatalf("Write: %v", err)
		}
		data = data[n:]
	}
}

// noUploads fails t if the service still has a multipart upload open
// under the store's root.
func noUploads(t *testing.T, h Harness) {
	t.Helper()
	if h.OpenUploads == nil {
		return
	}
	if keys := h.OpenUploads(t); len(keys) > 0 {
		t.Errorf("multipart uploads left open at the service: %q", keys)
	}
}

func testWriter(t *testing.T, h Harness) {
	s := h.New(t)
	data := Data(21, writeSize(h))
	rng := rand.New(rand.NewPCG(21, 1))
	w, err := objstore.NewWriter(t.Context(), s, "w/stream", objstore.PutOptions{
		ContentType: "application/octet-stream",
		Metadata:    map[string]string{"step": "42"},
	})
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, w, data, rng)
	if got := w.Object(); !got.Version.IsZero() {
		t.Errorf("Object before Close = %+v, want the zero Object", got)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	obj := w.Object()
	if obj.Size != int64(len(data)) || obj.Version.IsZero() || obj.Key != "w/stream" {
		t.Errorf("Object after Close = %+v, want key w/stream, %d bytes and a version", obj, len(data))
	}
	st, err := s.Stat(t.Context(), "w/stream")
	if err != nil {
		t.Fatal(err)
	}
	if !obj.Version.Matches(st.Version) {
		t.Errorf("Close's version %v, Stat's %v", obj.Version, st.Version)
	}
	if got := mustRead(t, s, "w/stream", 0, -1); !bytes.Equal(got, data) {
		t.Errorf("read back %d bytes, differing from the %d written", len(got), len(data))
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := w.Write([]byte("x")); err == nil {
		t.Error("Write after Close succeeded")
	}
	if err := w.Abort(); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Abort after Close = %v, want fs.ErrClosed", err)
	}
	noUploads(t, h)

	// An empty body is an empty object.
	w, err = objstore.NewWriter(t.Context(), s, "w/empty", objstore.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close of an empty write: %v", err)
	}
	if got := mustRead(t, s, "w/empty", 0, -1); len(got) != 0 {
		t.Errorf("empty write read back as %d bytes", len(got))
	}

	// Bad options fail at once.
	for _, o := range []objstore.PutOptions{
		{IfNotExist: true, IfMatch: objstore.Version{ETag: "x"}},
		{IfMatch: objstore.Version{ID: "only-an-id"}},
		{Metadata: map[string]string{"bad name": "x"}},
		{PartSize: -1},
	} {
		if _, err := objstore.NewWriter(t.Context(), s, "w/bad", o); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("NewWriter with %+v: %v, want fs.ErrInvalid", o, err)
		}
	}
}

// testWriterAbort aborts or cancels writes at random points, before and
// after every byte was written: the object keeps its old bytes (or stays
// absent), and no multipart upload stays open.
func testWriterAbort(t *testing.T, h Harness) {
	s := h.New(t)
	size := writeSize(h)
	old := put(t, s, "a/old", Data(30, 1000))
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 2))
	data := Data(31, size)
	for i := range 10 {
		point := rng.IntN(size + 1)
		key := "a/old"
		if i%3 == 2 {
			key = "a/new"
		}
		byCancel := i%2 == 1
		ctx, cancel := context.WithCancel(t.Context())
		w, err := objstore.NewWriter(ctx, s, key, objstore.PutOptions{})
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		writeAll(t, w, data[:point], rng)
		if byCancel {
			cancel()
			if err := w.Close(); !errors.Is(err, context.Canceled) {
				t.Errorf("point %d: Close after cancel = %v, want context.Canceled", point, err)
			}
		} else {
			if err := w.Abort(); err != nil {
				t.Errorf("point %d: Abort: %v", point, err)
			}
			if _, err := w.Write([]byte("x")); err == nil {
				t.Errorf("point %d: Write after Abort succeeded", point)
			}
			if err := w.Close(); !errors.Is(err, objstore.ErrAborted) {
				t.Errorf("point %d: Close after Abort = %v, want objstore.ErrAborted", point, err)
			}
		}
		cancel()
		if key == "a/old" {
			st, err := s.Stat(t.Context(), key)
			if err != nil || !old.Version.Matches(st.Version) || st.Size != 1000 {
				t.Errorf("point %d (cancel %v): object is %+v, %v; want the old version %v", point, byCancel, st, err, old.Version)
			}
		} else if _, err := s.Stat(t.Context(), key); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("point %d (cancel %v): Stat of an aborted new key: %v, want fs.ErrNotExist", point, byCancel, err)
		}
		noUploads(t, h)
	}
	if got := mustRead(t, s, "a/old", 0, -1); !bytes.Equal(got, Data(30, 1000)) {
		t.Error("the old object's bytes changed")
	}
	// Nothing but the old object is listed (no temporary file either).
	if keys := listAll(t, s, objstore.ListOptions{}); len(keys) != 1 || keys[0] != "a/old" {
		t.Errorf("keys after the aborted writes: %q, want [a/old]", keys)
	}
}

// unsupported reports whether err says the store cannot check IfMatch.
func unsupported(t *testing.T, err error) bool {
	if errors.Is(err, errors.ErrUnsupported) {
		t.Logf("the store does not check IfMatch: %v", err)
		return true
	}
	return false
}

// testConditionalPut checks IfNotExist and IfMatch, small and (through a
// Writer) in parts: the loser fails with ErrChanged and stores nothing.
func testConditionalPut(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := t.Context()
	putIf := func(key string, data []byte, o objstore.PutOptions) (objstore.Object, error) {
		o.Size = int64(len(data))
		return s.Put(ctx, key, bytes.NewReader(data), o)
	}
	first, err := putIf("c/k", []byte("one"), objstore.PutOptions{IfNotExist: true})
	if err != nil {
		t.Fatalf("IfNotExist on a new key: %v", err)
	}
	if _, err := putIf("c/k", []byte("two"), objstore.PutOptions{IfNotExist: true}); !errors.Is(err, objstore.ErrChanged) {
		t.Errorf("IfNotExist on an existing key: %v, want ErrChanged", err)
	}
	if got := mustRead(t, s, "c/k", 0, -1); string(got) != "one" {
		t.Errorf("after a refused IfNotExist: %q, want %q", got, "one")
	}

	second, err := putIf("c/k", []byte("two"), objstore.PutOptions{IfMatch: first.Version})
	ifMatch := !unsupported(t, err)
	switch {
	case !ifMatch:
		second = put(t, s, "c/k", []byte("two"))
	case err != nil:
		t.Fatalf("IfMatch on the current version: %v", err)
	}
	if ifMatch {
		if _, err := putIf("c/k", []byte("three"), objstore.PutOptions{IfMatch: first.Version}); !errors.Is(err, objstore.ErrChanged) {
			t.Errorf("IfMatch on a replaced version: %v, want ErrChanged", err)
		}
		if _, err := putIf("c/gone", []byte("x"), objstore.PutOptions{IfMatch: first.Version}); !errors.Is(err, objstore.ErrChanged) {
			t.Errorf("IfMatch on a missing key: %v, want ErrChanged", err)
		}
		if _, err := s.Stat(ctx, "c/gone"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("a refused IfMatch created the key: %v", err)
		}
	}
	if got := mustRead(t, s, "c/k", 0, -1); string(got) != "two" {
		t.Errorf("after refused writes: %q, want %q", got, "two")
	}

	// A large conditional write that loses fails at the end, publishing
	// nothing and leaving no upload open.
	big := Data(40, writeSize(h))
	for _, o := range []objstore.PutOptions{{IfNotExist: true}, {IfMatch: first.Version}} {
		if !ifMatch && !o.IfMatch.IsZero() {
			continue
		}
		w, err := objstore.NewWriter(ctx, s, "c/k", o)
		if err != nil {
			t.Fatal(err)
		}
		writeAll(t, w, big, rand.New(rand.NewPCG(40, 4)))
		if err := w.Close(); !errors.Is(err, objstore.ErrChanged) {
			t.Errorf("large write with %+v over a newer version: %v, want ErrChanged", o, err)
		}
		noUploads(t, h)
	}
	if st, err := s.Stat(ctx, "c/k"); err != nil || !second.Version.Matches(st.Version) {
		t.Errorf("after refused large writes: %+v, %v; want version %v", st, err, second.Version)
	}
	if ifMatch {
		w, err := objstore.NewWriter(ctx, s, "c/k", objstore.PutOptions{IfMatch: second.Version})
		if err != nil {
			t.Fatal(err)
		}
		writeAll(t, w, big, rand.New(rand.NewPCG(40, 5)))
		if err := w.Close(); err != nil {
			t.Errorf("large write IfMatch the current version: %v", err)
		}
		if got := mustRead(t, s, "c/k", 0, -1); !bytes.Equal(got, big) {
			t.Error("large conditional write read back wrong")
		}
	}
}

// testConditionalRace has two writers read one version and write under
// IfMatch at once, several times: exactly one wins each round.
func testConditionalRace(t *testing.T, h Harness) {
	s := h.New(t)
	ctx := t.Context()
	cur := put(t, s, "r/k", []byte("v0"))
	for round := range 5 {
		var wg sync.WaitGroup
		var errs [2]error
		var objs [2]objstore.Object
		bodies := [2][]byte{fmt.Appendf(nil, "left %d", round), fmt.Appendf(nil, "right %d", round)}
		start := make(chan struct{})
		for i := range 2 {
			wg.Go(func() {
				<-start
				objs[i], errs[i] = s.Put(ctx, "r/k", bytes.NewReader(bodies[i]), objstore.PutOptions{Size: int64(len(bodies[i])), IfMatch: cur.Version})
			})
		}
		close(start)
		wg.Wait()
		if unsupported(t, errs[0]) || unsupported(t, errs[1]) {
			return
		}
		won := -1
		for i, err := range errs {
			switch {
			case err == nil && won >= 0:
				t.Fatalf("round %d: both writers won", round)
			case err == nil:
				won = i
			case !errors.Is(err, objstore.ErrChanged):
				t.Errorf("round %d: the losing writer's error %v does not wrap ErrChanged", round, err)
			}
		}
		if won < 0 {
			t.Fatalf("round %d: neither writer won: %v; %v", round, errs[0], errs[1])
		}
		if got := mustRead(t, s, "r/k", 0, -1); !bytes.Equal(got, bodies[won]) {
			t.Errorf("round %d: object holds %q, the winner wrote %q", round, got, bodies[won])
		}
		cur = objs[won]
	}
}
