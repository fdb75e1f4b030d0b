//go:build !amd64

package disk

// copyPiece copies src to dst (of the same length) and returns the
// CRC32C of the bytes copied (a fused loop exists on amd64 only).
func copyPiece(dst, src []byte) uint32 {
	copy(dst, src)
	return crcOf(dst)
}
