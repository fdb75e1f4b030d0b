package objstore

import (
	"fmt"
	"io/fs"
	"unicode/utf8"
)

// MaxKeyLen is the longest key in bytes, as in S3 and OSS.
const MaxKeyLen = 1024

// ValidKey reports whether key may name an object. Keys are slash-separated
// paths as io/fs names them (fs.ValidPath: no leading or trailing slash, no
// empty, "." or ".." element), not ".", valid UTF-8, and at most MaxKeyLen
// bytes. The same rule holds for every backend, so a key that works on one
// works on all, and no key can name a path outside a local root.
func ValidKey(key string) bool {
	return key != "." && len(key) <= MaxKeyLen && utf8.ValidString(key) && fs.ValidPath(key)
}

// CheckKey returns nil if key is valid, or an *Error for op wrapping
// fs.ErrInvalid.
func CheckKey(op, key string) error {
	if !ValidKey(key) {
		return NewError(op, key, fs.ErrInvalid, fmt.Errorf("invalid key"))
	}
	return nil
}

// ValidPrefix reports whether p may be used as a listing prefix: empty, or
// a valid key, or a valid key followed by "/".
func ValidPrefix(p string) bool {
	if p == "" {
		return true
	}
	if p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	return ValidKey(p)
}

// CheckRange validates a read of length bytes at off (a negative length
// meaning "to the end") against an object of size bytes, and returns the
// exact number of bytes the read covers. The range must lie inside the
// object; an empty range at off == size is allowed.
func CheckRange(off, length, size int64) (n int64, err error) {
	switch {
	case size < 0:
		return 0, fmt.Errorf("%w: negative object size %d", fs.ErrInvalid, size)
	case off < 0:
		return 0, fmt.Errorf("%w: negative offset %d", fs.ErrInvalid, off)
	case off > size:
		return 0, fmt.Errorf("%w: offset %d past the end of a %d-byte object", fs.ErrInvalid, off, size)
	case length < 0:
		return size - off, nil
	case length > size-off:
		return 0, fmt.Errorf("%w: range [%d, %d) past the end of a %d-byte object", fs.ErrInvalid, off, off+length, size)
	}
	return length, nil
}

// CheckRangeArgs validates off and length before the object's size is
// known: off must not be negative, and off+length must not overflow.
func CheckRangeArgs(off, length int64) error {
	switch {
	case off < 0:
		return fmt.Errorf("%w: negative offset %d", fs.ErrInvalid, off)
	case length >= 0 && off > maxInt64-length:
		return fmt.Errorf("%w: range [%d, +%d) overflows", fs.ErrInvalid, off, length)
	}
	return nil
}

const maxInt64 = 1<<63 - 1
