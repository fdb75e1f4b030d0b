package filestore_test

import (
	"context"
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/tierfs/tierfs/objstore"
)

// TestRequestStats: one request per operation that passed its checks,
// failed or not; none for a call refused before any I/O.
func TestRequestStats(t *testing.T) {
	s := newStore(t, t.TempDir())
	ctx := t.Context()
	put(t, s, "a/b", "hello")
	if _, err := s.Stat(ctx, "missing"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	if _, err := s.NewRangeReader(ctx, "missing", 0, -1, objstore.ReadOptions{}); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	if got := read(t, s, "a/b", objstore.Version{}); string(got) != "hello" {
		t.Fatalf("read %q", got)
	}
	if _, err := s.Put(ctx, "short", strings.NewReader("abc"), objstore.PutOptions{Size: 4}); !errors.Is(err, fs.ErrInvalid) {
		t.Fatal(err)
	}
	if _, err := s.List(ctx, objstore.ListOptions{Prefix: "a/"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "a/b"); err != nil {
		t.Fatal(err)
	}
	// Refused before any I/O: not counted.
	s.Stat(ctx, "../escape")
	s.Put(ctx, ".tierfs-tmp-x", strings.NewReader("x"), objstore.PutOptions{})
	s.List(ctx, objstore.ListOptions{Prefix: "/abs"})
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	s.Delete(cancelled, "a/b")
	want := objstore.RequestStats{Puts: 2, Heads: 1, Gets: 2, Lists: 1, Deletes: 1, BytesIn: 5, BytesOut: 5}
	if got := s.RequestStats(); got != want {
		t.Errorf("RequestStats = %+v, want %+v", got, want)
	}
	s.Close()
	s.Stat(ctx, "a/b")
	if got := s.RequestStats(); got != want {
		t.Errorf("after Close: RequestStats = %+v, want %+v", got, want)
	}
}
