package s3store

import "testing"

// FuzzPartSizeOf checks the part sizes of an upload of unknown size: each
// within S3's limits and no smaller than the one before, and MaxParts of
// them holding MaxObjectSize whatever the base part size.
func FuzzPartSizeOf(f *testing.F) {
	f.Add(int64(MinPartSize))
	f.Add(int64(DefaultPartSize))
	f.Add(int64(MaxPartSize))
	f.Add(int64(MinPartSize + 1))
	f.Fuzz(func(t *testing.T, base int64) {
		if base < MinPartSize || base > MaxPartSize {
			return
		}
		var total, prev int64
		for num := int32(1); num <= MaxParts; num++ {
			n := PartSizeOf(base, num)
			if n < MinPartSize || n > MaxPartSize {
				t.Fatalf("part %d of base %d: %d bytes, outside [%d, %d]", num, base, n, MinPartSize, MaxPartSize)
			}
			if n < prev {
				t.Fatalf("part %d of base %d: %d bytes, smaller than the one before (%d)", num, base, n, prev)
			}
			if num <= growEvery && n != base {
				t.Fatalf("part %d of base %d: %d bytes, want the base", num, base, n)
			}
			prev = n
			total += n
		}
		if total < MaxObjectSize {
			t.Fatalf("base %d: %d parts hold %d bytes, less than S3's largest object (%d)", base, MaxParts, total, int64(MaxObjectSize))
		}
	})
}

func TestPartSizeOfEdges(t *testing.T) {
	for _, c := range []struct {
		base int64
		num  int32
		want int64
	}{
		{DefaultPartSize, 0, DefaultPartSize},
		{DefaultPartSize, 1, DefaultPartSize},
		{DefaultPartSize, growEvery, DefaultPartSize},
		{DefaultPartSize, growEvery + 1, 2 * DefaultPartSize},
		{DefaultPartSize, MaxParts, MaxPartSize},
		{MaxPartSize, growEvery + 1, MaxPartSize},
		{0, 5, 0},
	} {
		if got := PartSizeOf(c.base, c.num); got != c.want {
			t.Errorf("PartSizeOf(%d, %d) = %d, want %d", c.base, c.num, got, c.want)
		}
	}
}
