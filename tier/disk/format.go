package disk

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
)

// The block file format, version 1. All integers are little endian.
//
//	offset  size  field
//	0       8     magic "TIERFSB\x00"
//	8       2     format version (1)
//	10      2     flags (0)
//	12      4     piece size in bytes
//	16      8     data length in bytes
//	24      4     key length in bytes
//	28      k     key
//	28+k    4×n   CRC32C of each data piece, n = ceil(data length / piece size)
//	…       4     CRC32C of every header byte before it
//	…       d     data
//
// The header names the key, so a file that landed under another key's name
// (two files swapped, a hash collision) is detected, and it carries the
// checksum of every piece, so a read verifies exactly the pieces it covers.
const (
	formatVersion = 1
	// layoutDir is the subdirectory of each cache dir that holds format-1
	// files. A later format uses another name, so an old binary never
	// reads a new layout and a new binary never misreads an old one.
	layoutDir = "v1"
	// pieceSize is the unit of verification: 32 KiB, as JuiceFS uses; a
	// partial read costs at most two extra partial pieces, and the
	// checksums of a 4 MiB block take 512 bytes.
	pieceSize = 32 << 10
	// fixedHeader is the size of the header before the key.
	fixedHeader = 28
	// maxKeyLen bounds the key stored in a header (and so the header).
	maxKeyLen = 64 << 10
	// tmpPrefix starts the name of every temporary file; the start-up
	// sweep removes files with it.
	tmpPrefix = "tmp-"
	// nameLen is the length of a block file name: hex of a 128-bit hash.
	nameLen = 32
	// probeName is the file a health probe writes, reads and removes.
	probeName = "probe"
)

var magic = [8]byte{'T', 'I', 'E', 'R', 'F', 'S', 'B', 0}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errCorrupt is an internal marker for a block file that fails
// verification; it never leaves the package (readers see tier.ErrMiss).
var errCorrupt = errors.New("tier: disk: corrupt block file")

// keyHash is the 128-bit name of a key: the first half of its SHA-256.
// Two keys that share it would share a file name; the key in the header
// turns that (astronomically unlikely) case into a miss, never wrong bytes.
type keyHash [16]byte

func hashKey(key string) keyHash {
	sum := sha256.Sum256([]byte(key))
	var h keyHash
	copy(h[:], sum[:16])
	return h
}

// name is the file name of a block: 32 lowercase hex digits. It never
// contains a separator and is far below 255 bytes.
func (h keyHash) name() string { return hex.EncodeToString(h[:]) }

// subdir is the fan-out directory of a block: the first byte in hex, so a
// cache dir has at most 256 subdirectories.
func (h keyHash) subdir() string { return hex.EncodeToString(h[:1]) }

// parseName returns the hash a block file name stands for.
func parseName(name string) (keyHash, bool) {
	var h keyHash
	if len(name) != nameLen {
		return h, false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return h, false
		}
	}
	if _, err := hex.Decode(h[:], []byte(name)); err != nil {
		return h, false
	}
	return h, true
}

func numPieces(dataLen int64) int64 { return (dataLen + pieceSize - 1) / pieceSize }

// headerLen is the length of the header of a block of dataLen bytes under
// a key of keyLen bytes.
func headerLen(keyLen int, dataLen int64) int64 {
	return fixedHeader + int64(keyLen) + 4*numPieces(dataLen) + 4
}

// encodeHeader returns the header for data stored under key.
func encodeHeader(key string, data []byte) []byte {
	n := numPieces(int64(len(data)))
	h := make([]byte, headerLen(len(key), int64(len(data))))
	copy(h, magic[:])
	binary.LittleEndian.PutUint16(h[8:], formatVersion)
	binary.LittleEndian.PutUint16(h[10:], 0)
	binary.LittleEndian.PutUint32(h[12:], pieceSize)
	binary.LittleEndian.PutUint64(h[16:], uint64(len(data)))
	binary.LittleEndian.PutUint32(h[24:], uint32(len(key)))
	copy(h[fixedHeader:], key)
	sums := h[fixedHeader+len(key):]
	for i := range n {
		lo := i * pieceSize
		hi := min(lo+pieceSize, int64(len(data)))
		binary.LittleEndian.PutUint32(sums[4*i:], crcOf(data[lo:hi]))
	}
	end := len(h) - 4
	binary.LittleEndian.PutUint32(h[end:], crcOf(h[:end]))
	return h
}

// header is a verified header.
type header struct {
	dataLen int64
	hdrLen  int64
	sums    []byte // 4 bytes per piece
}

// parseFixed checks the part of the header before the key and returns the
// data length. buf holds at least fixedHeader bytes.
func parseFixed(buf []byte, key string) (dataLen int64, err error) {
	if [8]byte(buf[:8]) != magic ||
		binary.LittleEndian.Uint16(buf[8:]) != formatVersion ||
		binary.LittleEndian.Uint16(buf[10:]) != 0 ||
		binary.LittleEndian.Uint32(buf[12:]) != pieceSize ||
		binary.LittleEndian.Uint32(buf[24:]) != uint32(len(key)) {
		return 0, errCorrupt
	}
	dl := binary.LittleEndian.Uint64(buf[16:])
	if dl > 1<<40 {
		return 0, errCorrupt
	}
	return int64(dl), nil
}

// parseHeader verifies a whole header (hdr holds exactly headerLen bytes)
// for key.
func parseHeader(hdr []byte, key string, dataLen int64) (header, error) {
	end := len(hdr) - 4
	if binary.LittleEndian.Uint32(hdr[end:]) != crcOf(hdr[:end]) {
		return header{}, errCorrupt
	}
	if string(hdr[fixedHeader:fixedHeader+len(key)]) != key {
		return header{}, errCorrupt
	}
	return header{dataLen: dataLen, hdrLen: int64(len(hdr)), sums: hdr[fixedHeader+len(key) : end]}, nil
}

// verifyPiece checks piece i of a block against its header.
func (h *header) verifyPiece(i int64, piece []byte) bool {
	return crcOf(piece) == h.sum(i)
}

// sum is the CRC32C the header gives for piece i.
func (h *header) sum(i int64) uint32 { return binary.LittleEndian.Uint32(h.sums[4*i:]) }

// roundUp rounds n up to a multiple of bsize: the space a file of n bytes
// takes on a file system with blocks of bsize bytes.
func roundUp(n, bsize int64) int64 {
	if n == 0 {
		return bsize // an inode and its directory entry are not free either
	}
	return (n + bsize - 1) / bsize * bsize
}

// rawCRC updates a CRC32C without the inversions on entry and exit (the
// form the crc32 instruction computes): crcOf(b) == ^rawCRC(^0, b).
func rawCRC(crc uint32, b []byte) uint32 { return ^crc32.Update(^crc, castagnoli, b) }
