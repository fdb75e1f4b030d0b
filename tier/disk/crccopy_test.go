package disk

import (
	"bytes"
	"hash/crc32"
	"math/rand/v2"
	"testing"
)

// TestCopyPiece checks the one-pass copy and checksum against copy and
// hash/crc32, for whole pieces (the fused loop) and short ones, at every
// alignment of source and destination.
func TestCopyPiece(t *testing.T) {
	for _, fold := range []bool{false, true} {
		if fold && !haveFold512Default {
			continue // this CPU has no VPCLMULQDQ: only the other paths run
		}
		t.Run(map[bool]string{false: "crc", true: "fold"}[fold], func(t *testing.T) {
			haveFold512 = fold
			defer func() { haveFold512 = haveFold512Default }()
			testCopyPiece(t)
		})
	}
}

func testCopyPiece(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, pieceSize+64)
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	out := make([]byte, pieceSize+64)
	for _, n := range []int{0, 1, 7, 8, 100, 255, 256, 257, 511, 512, 1000, 4096, pieceSize - 1, pieceSize} {
		for _, sa := range []int{0, 1, 3, 8, 13} {
			for _, da := range []int{0, 5} {
				src := buf[sa : sa+n]
				clear(out)
				dst := out[da : da+n]
				got := copyPiece(dst, src)
				want := crc32.Checksum(src, castagnoli)
				if got != want {
					t.Fatalf("n %d, src+%d, dst+%d: crc %08x, want %08x", n, sa, da, got, want)
				}
				if !bytes.Equal(dst, src) {
					t.Fatalf("n %d, src+%d, dst+%d: wrong bytes copied", n, sa, da)
				}
				if c := crcOf(src); c != want {
					t.Fatalf("n %d, src+%d: crcOf %08x, want %08x", n, sa, c, want)
				}
				if bytes.ContainsFunc(out[:da], func(r rune) bool { return r != 0 }) || bytes.ContainsFunc(out[da+n:], func(r rune) bool { return r != 0 }) {
					t.Fatalf("n %d, dst+%d: wrote outside dst", n, da)
				}
			}
		}
	}
	// Every single-bit change of a whole piece changes the checksum.
	src := buf[:pieceSize]
	want := crc32.Checksum(src, castagnoli)
	for range 200 {
		i := r.IntN(pieceSize)
		src[i] ^= 1 << r.IntN(8)
		if copyPiece(out[:pieceSize], src) == want {
			t.Fatalf("bit flip at %d not seen", i)
		}
		src[i] = buf[i] // restore: buf is src
		want = crc32.Checksum(src, castagnoli)
	}
}

func BenchmarkCopyPiece(b *testing.B) {
	src := make([]byte, pieceSize)
	dst := make([]byte, pieceSize)
	b.Run("fused", func(b *testing.B) {
		b.SetBytes(pieceSize)
		for range b.N {
			copyPiece(dst, src)
		}
	})
	b.Run("crc32", func(b *testing.B) {
		b.SetBytes(pieceSize)
		for range b.N {
			crcOf(src)
		}
	})
	b.Run("copy", func(b *testing.B) {
		b.SetBytes(pieceSize)
		for range b.N {
			copy(dst, src)
		}
	})
}

// FuzzCopyPiece checks copyPiece and crcOf against hash/crc32 and copy for
// any bytes, length and alignment, on every path this CPU has.
func FuzzCopyPiece(f *testing.F) {
	f.Add([]byte("123456789"), uint16(0), uint8(0))
	f.Add(bytes.Repeat([]byte{0xff}, 300), uint16(257), uint8(3))
	f.Add(bytes.Repeat([]byte{1, 2, 3}, 11000), uint16(pieceSize), uint8(0))
	f.Fuzz(func(t *testing.T, seed []byte, n uint16, align uint8) {
		size := int(n) % (pieceSize + 1)
		a := int(align % 64)
		src := make([]byte, a+size)
		for i := range src {
			if len(seed) > 0 {
				src[i] = seed[i%len(seed)] ^ byte(i/len(seed))
			}
		}
		src = src[a:]
		want := crc32.Checksum(src, castagnoli)
		for _, fold := range []bool{false, true} {
			if fold && !haveFold512Default {
				continue
			}
			haveFold512 = fold
			dst := make([]byte, size+1)[1:]
			got := copyPiece(dst, src)
			c := crcOf(src)
			haveFold512 = haveFold512Default
			if got != want || c != want || !bytes.Equal(dst, src) {
				t.Fatalf("size %d, align %d, fold %v: copyPiece %08x, crcOf %08x, want %08x; bytes equal %v", size, a, fold, got, c, want, bytes.Equal(dst, src))
			}
		}
	})
}
