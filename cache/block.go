package cache

import (
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/tierfs/tierfs/objstore"
)

// NumBlocks returns how many blocks of blockSize cover an object of size
// bytes. An empty object has no block.
func NumBlocks(size, blockSize int64) int64 {
	if size <= 0 || blockSize <= 0 {
		return 0
	}
	return (size-1)/blockSize + 1
}

// BlockSpan returns the offset and length of block idx of an object of
// size bytes. The last block may be short. It returns an error wrapping
// fs.ErrInvalid for an index outside the object.
func BlockSpan(idx, size, blockSize int64) (off, length int64, err error) {
	if blockSize <= 0 || idx < 0 || idx >= NumBlocks(size, blockSize) {
		return 0, 0, fmt.Errorf("cache: %w: block %d of a %d-byte object in blocks of %d", fs.ErrInvalid, idx, size, blockSize)
	}
	off = idx * blockSize
	return off, min(blockSize, size-off), nil
}

// Key returns the cache key of block idx of obj: the store's identity, the
// object key, its version, the block size and the index. A block of one
// version is never found under the key of another, so a cache hit can
// never mix versions. Parts are length-prefixed, so no two different
// tuples make the same key.
func Key(storeID string, obj objstore.Object, blockSize, idx int64) string {
	var b strings.Builder
	v := obj.Version
	b.Grow(len(storeID) + len(obj.Key) + len(v.ETag) + len(v.ID) + 56)
	b.WriteString("b1")
	for _, s := range [...]string{storeID, obj.Key, v.ETag, v.ID} {
		b.WriteByte('|')
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	b.WriteByte('|')
	b.WriteString(strconv.FormatInt(blockSize, 10))
	b.WriteByte('|')
	b.WriteString(strconv.FormatInt(idx, 10))
	return b.String()
}
