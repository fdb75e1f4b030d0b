package objstore

import (
	"errors"
	"io/fs"
	"testing"
)

func TestCheckRange(t *testing.T) {
	for _, c := range []struct {
		off, length, size, n int64
		ok                   bool
	}{
		{0, 0, 0, 0, true}, {0, -1, 0, 0, true}, {0, 1, 0, 0, false}, {1, -1, 0, 0, false},
		{0, -1, 10, 10, true}, {10, -1, 10, 0, true}, {10, 0, 10, 0, true}, {9, 1, 10, 1, true},
		{9, 2, 10, 0, false}, {-1, 1, 10, 0, false}, {11, 0, 10, 0, false}, {0, 10, 10, 10, true},
		{5, 1<<63 - 1, 10, 0, false}, {0, 0, -1, 0, false},
	} {
		n, err := CheckRange(c.off, c.length, c.size)
		if (err == nil) != c.ok || (c.ok && n != c.n) {
			t.Errorf("CheckRange(%d, %d, %d) = %d, %v; want %d, ok=%v", c.off, c.length, c.size, n, err, c.n, c.ok)
		}
		if err != nil && !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("CheckRange error %v does not wrap fs.ErrInvalid", err)
		}
	}
}

func FuzzCheckRange(f *testing.F) {
	f.Add(int64(0), int64(-1), int64(0))
	f.Add(int64(5), int64(10), int64(15))
	f.Add(int64(1<<62), int64(1<<62), int64(1<<63-1))
	f.Fuzz(func(t *testing.T, off, length, size int64) {
		n, err := CheckRange(off, length, size)
		if err != nil {
			if !errors.Is(err, fs.ErrInvalid) {
				t.Fatalf("error %v does not wrap fs.ErrInvalid", err)
			}
			return
		}
		if off < 0 || size < 0 || n < 0 || off > size || n > size-off {
			t.Fatalf("CheckRange(%d, %d, %d) = %d accepted a range outside the object", off, length, size, n)
		}
		if length >= 0 && n != length {
			t.Fatalf("CheckRange(%d, %d, %d) = %d, want the asked length", off, length, size, n)
		}
		if length < 0 && off+n != size {
			t.Fatalf("CheckRange(%d, %d, %d) = %d does not reach the end", off, length, size, n)
		}
		if CheckRangeArgs(off, length) != nil {
			t.Fatalf("CheckRangeArgs(%d, %d) rejected a range CheckRange accepted", off, length)
		}
	})
}

func FuzzValidKey(f *testing.F) {
	for _, k := range []string{"a", "a/b", "", ".", "..", "a/../b", "/a", "a/", "日本", "a\x00b", "\xff"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, key string) {
		if !ValidKey(key) {
			if err := CheckKey("op", key); !errors.Is(err, fs.ErrInvalid) {
				t.Fatalf("CheckKey(%q) = %v, want fs.ErrInvalid", key, err)
			}
			return
		}
		if !fs.ValidPath(key) || key == "." || len(key) > MaxKeyLen {
			t.Fatalf("ValidKey accepted %q", key)
		}
		if !ValidPrefix(key) || !ValidPrefix(key+"/") {
			t.Fatalf("ValidPrefix rejects valid key %q", key)
		}
	})
}
