package memstore_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/memstore"
	"github.com/tierfs/tierfs/objstore/storetest"
)

func TestConformance(t *testing.T) {
	var mu sync.Mutex
	stores := map[*testing.T]*memstore.Store{}
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) objstore.Store {
			s := memstore.New()
			s.SetRetryPolicy(objstore.RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond})
			mu.Lock()
			stores[t] = s
			mu.Unlock()
			t.Cleanup(func() {
				mu.Lock()
				delete(stores, t)
				mu.Unlock()
			})
			return s
		},
		CutReads: func(t *testing.T, key string, after int64, times int) {
			mu.Lock()
			s := stores[t]
			mu.Unlock()
			if s == nil {
				t.Fatal("CutReads: no store made by this test")
			}
			s.CutReads(key, after, times)
		},
	})
}

func mustPut(t *testing.T, s *memstore.Store, key, data string) objstore.Object {
	t.Helper()
	obj, err := s.Put(t.Context(), key, bytes.NewReader([]byte(data)), objstore.PutOptions{Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

func readAll(ctx context.Context, s *memstore.Store, key string, v objstore.Version) ([]byte, *objstore.Reader, error) {
	r, err := s.NewRangeReader(ctx, key, 0, -1, objstore.ReadOptions{Version: v})
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	return b, r, err
}

func TestVersions(t *testing.T) {
	s := memstore.New()
	v1 := mustPut(t, s, "k", "same").Version
	v2 := mustPut(t, s, "k", "same").Version
	if v1.ETag != v2.ETag {
		t.Errorf("identical content got ETags %q and %q; want the content hash twice", v1.ETag, v2.ETag)
	}
	if v1.ID == v2.ID || v1 == v2 {
		t.Errorf("two Puts got the same version %v", v1)
	}
	// The ETag alone pins the content, which is the same.
	if b, _, err := readAll(t.Context(), s, "k", objstore.Version{ETag: v1.ETag}); err != nil || string(b) != "same" {
		t.Errorf("read pinned to the ETag of identical content = %q, %v", b, err)
	}
	if _, _, err := readAll(t.Context(), s, "k", v1); !errors.Is(err, objstore.ErrChanged) {
		t.Errorf("read pinned to the replaced version: %v, want ErrChanged", err)
	}
	if got := "5a42489ab9c6a1e5a8ab4b1ea8e7a1d2"; len(v1.ETag) != len(got) {
		t.Errorf("ETag %q is not hex MD5", v1.ETag)
	}
	obj, err := s.Stat(t.Context(), "k")
	if err != nil || obj.Checksums["crc32c"] == "" {
		t.Errorf("Stat = %+v, %v; want a crc32c checksum", obj, err)
	}
}

func TestPutCopiesBody(t *testing.T) {
	s := memstore.New()
	data := []byte("original")
	if _, err := s.Put(t.Context(), "k", bytes.NewReader(data), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	copy(data, "CHANGED!")
	if b, _, err := readAll(t.Context(), s, "k", objstore.Version{}); err != nil || string(b) != "original" {
		t.Errorf("read after the caller changed its buffer = %q, %v", b, err)
	}
}

func TestReaderKeepsItsVersion(t *testing.T) {
	s := memstore.New()
	mustPut(t, s, "k", "old bytes")
	r, err := s.NewRangeReader(t.Context(), "k", 0, -1, objstore.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	mustPut(t, s, "k", "new bytes")
	if b, err := io.ReadAll(r); err != nil || string(b) != "old bytes" {
		t.Errorf("open reader after an overwrite read %q, %v; want the old bytes", b, err)
	}
}

func TestStats(t *testing.T) {
	s := memstore.New()
	mustPut(t, s, "a", "hello")
	mustPut(t, s, "b", "world!")
	if _, err := s.Stat(t.Context(), "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(t.Context(), "missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	if _, _, err := readAll(t.Context(), s, "a", objstore.Version{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.List(t.Context(), objstore.ListOptions{Prefix: "a"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(t.Context(), "b"); err != nil {
		t.Fatal(err)
	}
	// Invalid keys and done contexts reach no "server".
	if _, err := s.Stat(t.Context(), "../x"); !errors.Is(err, fs.ErrInvalid) {
		t.Fatal(err)
	}
	if got, want := s.Stats("a"), (memstore.Stats{Requests: 4, Heads: 1, Gets: 1, BodyBytes: 5, Puts: 1, PutBytes: 5, Lists: 1}); got != want {
		t.Errorf("Stats(a) = %+v, want %+v", got, want)
	}
	if got, want := s.Stats("missing"), (memstore.Stats{Requests: 1, Heads: 1}); got != want {
		t.Errorf("Stats(missing) = %+v, want %+v", got, want)
	}
	want := memstore.Stats{Requests: 7, Heads: 2, Gets: 1, BodyBytes: 5, Puts: 2, PutBytes: 11, Deletes: 1, Lists: 1}
	if got := s.Total(); got != want {
		t.Errorf("Total() = %+v, want %+v", got, want)
	}
	s.ResetStats()
	if got := s.Total(); got != (memstore.Stats{}) {
		t.Errorf("Total() after ResetStats = %+v", got)
	}
	if got := s.Stats("a"); got != (memstore.Stats{}) {
		t.Errorf("Stats(a) after ResetStats = %+v", got)
	}
}

func TestCutReads(t *testing.T) {
	s := memstore.New()
	s.SetRetryPolicy(objstore.RetryPolicy{BaseDelay: time.Microsecond, MaxDelay: time.Microsecond})
	data := bytes.Repeat([]byte("0123456789"), 100)
	mustPut(t, s, "k", string(data))
	s.CutReads("k", 300, 2)
	b, r, err := readAll(t.Context(), s, "k", objstore.Version{})
	if err != nil || !bytes.Equal(b, data) {
		t.Fatalf("read with 2 cuts: %d bytes, %v", len(b), err)
	}
	if r.Resumes() != 2 {
		t.Errorf("Resumes() = %d, want 2", r.Resumes())
	}
	if st := s.Stats("k"); st.Gets != 3 || st.Faults != 2 || st.BodyBytes != 1000 {
		t.Errorf("Stats = %+v, want 3 gets, 2 faults, 1000 body bytes", st)
	}
	// The cut is used up.
	s.ResetStats()
	if _, r, err := readAll(t.Context(), s, "k", objstore.Version{}); err != nil || r.Resumes() != 0 {
		t.Errorf("read after the cuts ran out: %v", err)
	}
	// Endless cuts: an error wrapping the cut, after the policy's resumes.
	s.CutReads("k", 100, -1)
	b, _, err = readAll(t.Context(), s, "k", objstore.Version{})
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("read with endless cuts: %d bytes, %v; want io.ErrUnexpectedEOF", len(b), err)
	}
	if !bytes.Equal(b, data[:len(b)]) {
		t.Error("wrong bytes before the failure")
	}
	s.CutReads("k", 0, 0)
	if _, _, err := readAll(t.Context(), s, "k", objstore.Version{}); err != nil {
		t.Errorf("read after removing the cut: %v", err)
	}
}

func TestFailNext(t *testing.T) {
	s := memstore.New()
	s.SetRetryPolicy(objstore.RetryPolicy{BaseDelay: time.Microsecond, MaxDelay: time.Microsecond})
	mustPut(t, s, "k", "data")
	boom := errors.New("boom")
	s.FailNext(memstore.OpStat, "k", fs.ErrPermission, 1)
	if _, err := s.Stat(t.Context(), "k"); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("Stat with a fault: %v, want fs.ErrPermission", err)
	}
	if _, err := s.Stat(t.Context(), "k"); err != nil {
		t.Errorf("Stat after the fault ran out: %v", err)
	}
	// Any key, two times.
	s.FailNext(memstore.OpPut, "", boom, 2)
	for _, k := range []string{"x", "y"} {
		if _, err := s.Put(t.Context(), k, bytes.NewReader(nil), objstore.PutOptions{}); !errors.Is(err, boom) {
			t.Errorf("Put(%s) with a fault: %v", k, err)
		}
	}
	if _, err := s.Stat(t.Context(), "x"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a failed Put stored the object: %v", err)
	}
	mustPut(t, s, "z", "")
	// A failed first request is tried again (RetryPolicy.MaxResumes, 5
	// here): one failure is hidden, six are not.
	s.FailNext(memstore.OpRead, "k", boom, 1)
	if r, err := s.NewRangeReader(t.Context(), "k", 0, -1, objstore.ReadOptions{}); err != nil {
		t.Errorf("open with one fault: %v, want it tried again", err)
	} else {
		r.Close()
	}
	s.FailNext(memstore.OpRead, "k", boom, 6)
	if _, err := s.NewRangeReader(t.Context(), "k", 0, -1, objstore.ReadOptions{}); !errors.Is(err, boom) {
		t.Errorf("open with six faults: %v", err)
	}
	// A transient failure of a resume is retried: a cut plus one failed
	// re-open still reads the exact bytes.
	s.CutReads("k", 2, 1)
	r, err := s.NewRangeReader(t.Context(), "k", 0, -1, objstore.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.FailNext(memstore.OpRead, "k", boom, 1)
	b, err := io.ReadAll(r)
	if err != nil || string(b) != "data" || r.Resumes() != 2 {
		t.Errorf("read with a cut and a failed resume = %q, %v, %d resumes", b, err, r.Resumes())
	}
	// A final error on resume ends the read at once.
	s.CutReads("k", 1, 1)
	s.ResetStats()
	r, err = s.NewRangeReader(t.Context(), "k", 0, -1, objstore.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.FailNext(memstore.OpRead, "k", fs.ErrNotExist, -1)
	_, err = io.ReadAll(r)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("resume failing with fs.ErrNotExist: %v", err)
	}
	if st := s.Stats("k"); st.Gets != 2 {
		t.Errorf("Gets = %d, want 2 (no retry after a final error)", st.Gets)
	}
	s.ClearFaults()
	if _, _, err := readAll(t.Context(), s, "k", objstore.Version{}); err != nil {
		t.Errorf("read after ClearFaults: %v", err)
	}
	s.FailNext(memstore.OpList, "p/", boom, 1)
	if _, err := s.List(t.Context(), objstore.ListOptions{}); err != nil {
		t.Errorf("List of another prefix failed: %v", err)
	}
	if _, err := s.List(t.Context(), objstore.ListOptions{Prefix: "p/"}); !errors.Is(err, boom) {
		t.Errorf("List with a fault: %v", err)
	}
	s.FailNext(memstore.OpDelete, "k", boom, 1)
	if err := s.Delete(t.Context(), "k"); !errors.Is(err, boom) {
		t.Errorf("Delete with a fault: %v", err)
	}
}

func TestLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := memstore.New()
		mustPut(t, s, "k", "v")
		s.SetLatency(40 * time.Millisecond)
		start := time.Now()
		if _, err := s.Stat(t.Context(), "k"); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 40*time.Millisecond {
			t.Errorf("Stat took %v, want 40ms", d)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
		defer cancel()
		start = time.Now()
		if _, err := s.Stat(ctx, "k"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Stat under a shorter deadline: %v", err)
		}
		if d := time.Since(start); d != 10*time.Millisecond {
			t.Errorf("Stat gave up after %v, want 10ms", d)
		}
	})
}

func TestHook(t *testing.T) {
	s := memstore.New()
	mustPut(t, s, "k", "v")
	release := make(chan struct{})
	entered := make(chan string, 10)
	s.SetHook(func(ctx context.Context, op, key string) error {
		entered <- op + " " + key
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	done := make(chan error)
	go func() {
		_, _, err := readAll(t.Context(), s, "k", objstore.Version{})
		done <- err
	}()
	if got := <-entered; got != "read k" {
		t.Errorf("hook saw %q", got)
	}
	select {
	case err := <-done:
		t.Fatalf("read finished while the hook blocked it: %v", err)
	default:
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s.SetHook(func(ctx context.Context, op, key string) error { return fs.ErrPermission })
	if err := s.Delete(t.Context(), "k"); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("Delete with a failing hook: %v", err)
	}
	s.SetHook(nil)
	if err := s.Delete(t.Context(), "k"); err != nil {
		t.Error(err)
	}
}

func TestFromMap(t *testing.T) {
	s, err := memstore.FromMap(map[string][]byte{"b": []byte("2"), "a/x": []byte("1")})
	if err != nil {
		t.Fatal(err)
	}
	page, err := s.List(t.Context(), objstore.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range page.Objects {
		keys = append(keys, o.Key)
	}
	if !slices.Equal(keys, []string{"a/x", "b"}) {
		t.Errorf("keys = %q", keys)
	}
	if _, err := memstore.FromMap(map[string]string{"../x": "1"}); !errors.Is(err, fs.ErrInvalid) {
		t.Errorf("FromMap with an invalid key: %v", err)
	}
}

func TestListTokenInsidePrefix(t *testing.T) {
	s, err := memstore.FromMap(map[string]string{"a/1": "", "a/2": "", "a0": "", "b": ""})
	if err != nil {
		t.Fatal(err)
	}
	// A token that is a common prefix skips the keys under it.
	page, err := s.List(t.Context(), objstore.ListOptions{Delimiter: "/", Token: "a/"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Prefixes) != 0 || len(page.Objects) != 2 || page.Objects[0].Key != "a0" {
		t.Errorf("List after token a/ = %+v", page)
	}
	// A page that ends exactly at the last entry has no Next.
	page, err = s.List(t.Context(), objstore.ListOptions{MaxKeys: 4})
	if err != nil || page.Next != "" || len(page.Objects) != 4 {
		t.Errorf("List of exactly MaxKeys entries = %+v, %v", page, err)
	}
}
