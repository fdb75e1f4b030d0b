package cache

import (
	"testing"

	"github.com/tierfs/tierfs/objstore"
)

func FuzzBlockMath(f *testing.F) {
	f.Add(int64(0), int64(1), int64(0))
	f.Add(int64(8<<20), int64(8<<20), int64(0))
	f.Add(int64(8<<20+1), int64(8<<20), int64(1))
	f.Add(int64(1<<62), int64(64<<10), int64(1<<40))
	f.Fuzz(func(t *testing.T, size, bs, idx int64) {
		nb := NumBlocks(size, bs)
		off, n, err := BlockSpan(idx, size, bs)
		if err != nil {
			if idx >= 0 && idx < nb && bs > 0 {
				t.Fatalf("BlockSpan(%d, %d, %d) refused a block inside the object: %v", idx, size, bs, err)
			}
			return
		}
		if off < 0 || n <= 0 || n > bs || off+n > size || off != idx*bs {
			t.Fatalf("BlockSpan(%d, %d, %d) = [%d, +%d)", idx, size, bs, off, n)
		}
		if idx == nb-1 && off+n != size {
			t.Fatalf("last block [%d, +%d) does not end at %d", off, n, size)
		}
		if idx < nb-1 && n != bs {
			t.Fatalf("inner block %d has %d bytes, want %d", idx, n, bs)
		}
	})
}

func FuzzKeyInjective(f *testing.F) {
	f.Add("s", "k", "e", "i", int64(1), int64(0), "s", "k", "e", "i", int64(1), int64(1))
	f.Add("a|1:b", "", "", "", int64(1), int64(0), "a", "b", "", "", int64(1), int64(0))
	f.Fuzz(func(t *testing.T, s1, k1, e1, i1 string, bs1, idx1 int64, s2, k2, e2, i2 string, bs2, idx2 int64) {
		o1 := objstore.Object{Key: k1, Version: objstore.Version{ETag: e1, ID: i1}}
		o2 := objstore.Object{Key: k2, Version: objstore.Version{ETag: e2, ID: i2}}
		same := s1 == s2 && k1 == k2 && e1 == e2 && i1 == i2 && bs1 == bs2 && idx1 == idx2
		if (Key(s1, o1, bs1, idx1) == Key(s2, o2, bs2, idx2)) != same {
			t.Fatalf("Key collision or split: %q vs %q", Key(s1, o1, bs1, idx1), Key(s2, o2, bs2, idx2))
		}
	})
}
