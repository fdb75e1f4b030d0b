//go:build !amd64

package disk

import "hash/crc32"

// crcOf is the CRC32C of b.
func crcOf(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// copyPiece copies src to dst (of the same length) and returns the
// CRC32C of the bytes copied (a fused loop exists on amd64 only).
func copyPiece(dst, src []byte) uint32 {
	copy(dst, src)
	return crcOf(dst)
}
