package disk

import (
	"hash/crc32"

	"golang.org/x/sys/cpu"
)

//go:noescape
func crcFold512(src *byte, n int, init uint32) uint32

//go:noescape
func copyFold512(dst, src *byte, n int, init uint32) uint32

//go:noescape
func copyCRC3(crcA, crcB, crcC uint32, dst, src *byte, n int) (retA, retB, retC uint32)

func cpuid1ECX() uint32

// haveCopyCRC reports the crc32 instruction (SSE 4.2: CPUID.1:ECX bit 20).
var haveCopyCRC = cpuid1ECX()&(1<<20) != 0

// haveFold512 reports what copyFold512 needs: AVX-512 (with the OS saving
// its registers, which x/sys/cpu checks) and VPCLMULQDQ on 512-bit
// registers.
var haveFold512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VPCLMULQDQ

// copyCRCStream is the length of each of the three streams copyCRC3 runs
// over a whole piece; the piece's last pieceSize-3×copyCRCStream bytes
// (8) go through the table.
const copyCRCStream = pieceSize / 3 / 24 * 24

// shiftTable[b][i] is the non-inverted CRC32C of copyCRCStream zero bytes
// from the value i<<(8b): CRC32C is linear, so the CRC of a stream that
// follows another is the other's CRC shifted over it, XORed in.
var shiftTable = func() *[4][256]uint32 {
	var t [4][256]uint32
	zeros := make([]byte, copyCRCStream)
	for b := range 4 {
		for i := range 256 {
			t[b][i] = rawCRC(uint32(i)<<(8*b), zeros)
		}
	}
	return &t
}()

func shiftCRC(x uint32) uint32 {
	return shiftTable[0][x&0xff] ^ shiftTable[1][x>>8&0xff] ^ shiftTable[2][x>>16&0xff] ^ shiftTable[3][x>>24]
}

// copyPiece copies src to dst (of the same length) and returns the
// CRC32C of the bytes copied. A whole piece goes through copyCRC3: one
// pass that loads each word, folds it into the CRC and stores it, at the
// speed of the CRC alone.
func copyPiece(dst, src []byte) uint32 {
	if haveFold512 && len(src) >= 256 && len(dst) == len(src) {
		return copyFold(dst, src)
	}
	if len(src) != pieceSize || len(dst) != pieceSize || !haveCopyCRC {
		copy(dst, src)
		return crcOf(dst)
	}
	a, b, c := copyCRC3(^uint32(0), 0, 0, &dst[0], &src[0], copyCRCStream)
	crc := shiftCRC(shiftCRC(a)^b) ^ c
	tail := dst[3*copyCRCStream:]
	copy(tail, src[3*copyCRCStream:])
	return ^rawCRC(crc, tail)
}

// copyFold is copyPiece by carry-less multiplication: copyFold512 copies
// the bytes and checksums them at the speed of the copy, all but the last
// len%256, which go through the table.
func copyFold(dst, src []byte) uint32 {
	n := len(src) &^ 255
	crc := copyFold512(&dst[0], &src[0], n, ^uint32(0))
	copy(dst[n:], src[n:])
	return ^rawCRC(crc, dst[n:len(src)])
}

// crcOf is the CRC32C of b: by carry-less multiplication (crcFold512) where
// the CPU has it, about twice as fast as hash/crc32's three crc32 streams.
func crcOf(b []byte) uint32 {
	if !haveFold512 || len(b) < 256 {
		return crc32.Checksum(b, castagnoli)
	}
	n := len(b) &^ 255
	return ^rawCRC(crcFold512(&b[0], n, ^uint32(0)), b[n:])
}
