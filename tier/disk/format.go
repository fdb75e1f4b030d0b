package disk

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
)

// The block file format, version 2. All integers are little endian.
//
//	offset  size  field
//	0       8     magic "TIERFSB\x00"
//	8       2     format version (2)
//	10      2     flags (0)
//	12      4     piece size in bytes
//	16      8     data length in bytes
//	24      4     data offset: where the data starts, a multiple of 4096
//	28      4     key length in bytes
//	32      k     key
//	32+k    4×n   CRC32C of each data piece, n = ceil(data length / piece size)
//	…       4     CRC32C of every header byte before it
//	…       p     zeros, up to the data offset
//	offset  d     data
//
// The header names the key, so a file that landed under another key's name
// (two files swapped, a hash collision) is detected, and it carries the
// checksum of every piece, so a read verifies exactly the pieces it covers.
//
// The data starts at its own offset, not right after the header: a writer
// puts it at the header's length plus at least minSlack bytes, rounded up
// to dataAlign. The data is page aligned, and the header can be rewritten
// in place under another key up to minSlack bytes longer (Tier.Move gives
// a block a new key that way, without copying its data). Version 1 started
// the data right after the header, whose length depends on the key's.
const (
	formatVersion = 2
	// layoutDir is the subdirectory of each cache dir that holds format-2
	// files. A later format uses another name, so an old binary never
	// reads a new layout and a new binary never misreads an old one.
	layoutDir = "v2"
	// pieceSize is the unit of verification: 32 KiB, as JuiceFS uses; a
	// partial read costs at most two extra partial pieces, and the
	// checksums of a 4 MiB block take 512 bytes.
	pieceSize = 32 << 10
	// fixedHeader is the size of the header before the key.
	fixedHeader = 32
	// maxKeyLen bounds the key stored in a header (and so the header).
	maxKeyLen = 64 << 10
	// dataAlign is what the data offset is a multiple of: a page.
	dataAlign = 4096
	// minSlack is the least room a writer leaves between the end of the
	// header and the data, so that a key up to minSlack bytes longer fits
	// when the header is rewritten in place. With dataAlign's rounding a
	// 4 MiB block under a key of up to ~3.2 KiB starts its data at 4096,
	// where version 1's file system rounding put the next byte anyway.
	minSlack = 256
	// maxPad bounds the room a parser accepts between the header's end and
	// the data: a writer leaves less than minSlack+dataAlign, and a header
	// rewritten under a shorter key (at most maxKeyLen shorter) adds the
	// difference.
	maxPad = maxKeyLen + minSlack + dataAlign
	// tmpPrefix starts the name of every temporary file; the start-up
	// sweep removes files with it.
	tmpPrefix = "tmp-"
	// nameLen is the length of a block file name: hex of a 128-bit hash.
	nameLen = 32
	// probeName is the file a health probe writes, reads and removes.
	probeName = "probe"
)

// oldLayoutDirs are the layout directories of earlier formats, which the
// start-up sweep empties (see sweepOld).
var oldLayoutDirs = []string{"v1"}

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
// a key of keyLen bytes: up to and including its CRC, without the padding.
func headerLen(keyLen int, dataLen int64) int64 {
	return fixedHeader + int64(keyLen) + 4*numPieces(dataLen) + 4
}

// dataOffset is where a writer starts the data after a header of hdrLen
// bytes: at least minSlack bytes after it, rounded up to dataAlign.
func dataOffset(hdrLen int64) int64 {
	return (hdrLen + minSlack + dataAlign - 1) / dataAlign * dataAlign
}

// fileSize is the size of the file a writer makes for a block of dataLen
// bytes under a key of keyLen bytes.
func fileSize(keyLen int, dataLen int64) int64 {
	return dataOffset(headerLen(keyLen, dataLen)) + dataLen
}

// encodeHeader returns the start of the file for data stored under key:
// the header, then zeros up to the data offset (its length).
func encodeHeader(key string, data []byte) []byte {
	n := numPieces(int64(len(data)))
	sums := make([]byte, 4*n)
	for i := range n {
		lo := i * pieceSize
		hi := min(lo+pieceSize, int64(len(data)))
		binary.LittleEndian.PutUint32(sums[4*i:], crcOf(data[lo:hi]))
	}
	off := dataOffset(headerLen(len(key), int64(len(data))))
	b := make([]byte, off)
	putHeader(b, key, int64(len(data)), off, sums)
	return b
}

// putHeader writes the header of a block of dataLen bytes under key, whose
// data starts at dataOff and whose pieces have the checksums sums, into
// b[:headerLen], and returns that length. b must be long enough; the rest
// of it is left alone.
func putHeader(b []byte, key string, dataLen, dataOff int64, sums []byte) int {
	h := b[:headerLen(len(key), dataLen)]
	copy(h, magic[:])
	binary.LittleEndian.PutUint16(h[8:], formatVersion)
	binary.LittleEndian.PutUint16(h[10:], 0)
	binary.LittleEndian.PutUint32(h[12:], pieceSize)
	binary.LittleEndian.PutUint64(h[16:], uint64(dataLen))
	binary.LittleEndian.PutUint32(h[24:], uint32(dataOff))
	binary.LittleEndian.PutUint32(h[28:], uint32(len(key)))
	copy(h[fixedHeader:], key)
	copy(h[fixedHeader+len(key):], sums)
	end := len(h) - 4
	binary.LittleEndian.PutUint32(h[end:], crcOf(h[:end]))
	return len(h)
}

// header is a verified header.
type header struct {
	dataLen int64
	hdrLen  int64  // the header's length, without the padding
	dataOff int64  // where the data starts in the file
	sums    []byte // 4 bytes per piece
}

// parseFixed checks the part of the header before the key and returns the
// data length and offset. buf holds at least fixedHeader bytes. The offset
// is checked against the header's length, which the key's length and the
// data length give: at or after the header's end, less than maxPad bytes
// after it, and a multiple of dataAlign.
func parseFixed(buf []byte, key string) (dataLen, dataOff int64, err error) {
	if [8]byte(buf[:8]) != magic ||
		binary.LittleEndian.Uint16(buf[8:]) != formatVersion ||
		binary.LittleEndian.Uint16(buf[10:]) != 0 ||
		binary.LittleEndian.Uint32(buf[12:]) != pieceSize ||
		binary.LittleEndian.Uint32(buf[28:]) != uint32(len(key)) {
		return 0, 0, errCorrupt
	}
	dl := binary.LittleEndian.Uint64(buf[16:])
	if dl > 1<<40 {
		return 0, 0, errCorrupt
	}
	off := int64(binary.LittleEndian.Uint32(buf[24:]))
	hl := headerLen(len(key), int64(dl))
	if off < hl || off-hl >= maxPad || off%dataAlign != 0 {
		return 0, 0, errCorrupt
	}
	return int64(dl), off, nil
}

// parseHeader verifies a whole header (hdr holds exactly headerLen bytes)
// for key, whose fixed part parseFixed has checked.
func parseHeader(hdr []byte, key string, dataLen, dataOff int64) (header, error) {
	end := len(hdr) - 4
	if binary.LittleEndian.Uint32(hdr[end:]) != crcOf(hdr[:end]) {
		return header{}, errCorrupt
	}
	if string(hdr[fixedHeader:fixedHeader+len(key)]) != key {
		return header{}, errCorrupt
	}
	return header{dataLen: dataLen, hdrLen: int64(len(hdr)), dataOff: dataOff, sums: hdr[fixedHeader+len(key) : end]}, nil
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
