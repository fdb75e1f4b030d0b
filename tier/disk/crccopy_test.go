package disk

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestCopyPiece checks the one-pass copy and checksum against copy and
// hash/crc32, for whole pieces (the fused loop) and short ones, at every
// alignment of source and destination.
func TestCopyPiece(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, pieceSize+64)
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	out := make([]byte, pieceSize+64)
	for _, n := range []int{0, 1, 7, 8, 100, pieceSize - 1, pieceSize} {
		for _, sa := range []int{0, 1, 3, 8, 13} {
			for _, da := range []int{0, 5} {
				src := buf[sa : sa+n]
				clear(out)
				dst := out[da : da+n]
				got := copyPiece(dst, src)
				if want := crcOf(src); got != want {
					t.Fatalf("n %d, src+%d, dst+%d: crc %08x, want %08x", n, sa, da, got, want)
				}
				if !bytes.Equal(dst, src) {
					t.Fatalf("n %d, src+%d, dst+%d: wrong bytes copied", n, sa, da)
				}
				if bytes.ContainsFunc(out[:da], func(r rune) bool { return r != 0 }) || bytes.ContainsFunc(out[da+n:], func(r rune) bool { return r != 0 }) {
					t.Fatalf("n %d, dst+%d: wrote outside dst", n, da)
				}
			}
		}
	}
	// Every single-bit change of a whole piece changes the checksum.
	src := buf[:pieceSize]
	want := crcOf(src)
	for range 200 {
		i := r.IntN(pieceSize)
		src[i] ^= 1 << r.IntN(8)
		if copyPiece(out[:pieceSize], src) == want {
			t.Fatalf("bit flip at %d not seen", i)
		}
		src[i] = buf[i] // restore: buf is src
		want = crcOf(src)
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
