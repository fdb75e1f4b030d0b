package objstore

import (
	"context"
	"io"
	"time"
)

// DefaultHeaderTimeout bounds, by default, the wait for the headers of
// each reply from a network store once its request is sent (the
// backends' Options.HeaderTimeout and the header_timeout URL parameter):
// a server that accepts a connection and never answers fails the request,
// which the SDK retries, rather than hanging it. Bodies are bounded by
// [RetryPolicy] (StallTimeout, MinRate).
const DefaultHeaderTimeout = 30 * time.Second

// Store is the contract every backend implements. Keys are relative to the
// store's root (the bucket and prefix it was opened on) and must satisfy
// [ValidKey]. All methods are safe for concurrent use.
type Store interface {
	// Stat returns the attributes of the current version of key.
	// A missing key is an error wrapping fs.ErrNotExist.
	Stat(ctx context.Context, key string) (Object, error)

	// NewRangeReader opens the bytes [off, off+length) of key; a negative
	// length reads to the end. The range must lie inside the object: an
	// offset or end past the object's size is an error wrapping
	// fs.ErrInvalid. When opts.Version is set, the read is pinned to that
	// version: if the object's current version differs, the error wraps
	// ErrChanged and no byte of another version is returned. An unpinned
	// read pins itself to the version of its first response, so a reader
	// that resumes after a cut body never mixes versions either.
	//
	// The reader returns exactly the requested bytes or an error: a body
	// cut short is resumed (see [RetryPolicy]) and, once retries are spent,
	// reported as an error, never as a short success.
	NewRangeReader(ctx context.Context, key string, off, length int64, opts ReadOptions) (*Reader, error)

	// List returns one page of the keys under opts.Prefix in lexical order.
	List(ctx context.Context, opts ListOptions) (ListPage, error)

	// Put stores the bytes of r as key, replacing any current version, and
	// returns the new object's attributes. Nothing is visible before Put
	// returns successfully, and a failed Put leaves the previous version
	// (if any) in place. Backends upload large bodies in parts.
	Put(ctx context.Context, key string, r io.Reader, opts PutOptions) (Object, error)

	// Delete removes key. Deleting a missing key is not an error, as in S3.
	Delete(ctx context.Context, key string) error
}

// Object describes one version of an object.
type Object struct {
	Key     string    // relative to the store's root
	Size    int64     // bytes
	ModTime time.Time // last modification as the store reports it
	Version Version   // what a pinned read compares against
	// Checksums holds any integrity values the store returned, keyed by
	// algorithm name in lower case ("crc32c", "crc64ecma", "sha256", …),
	// as the store encodes them (usually base64 or decimal). Nil if none.
	Checksums map[string]string
}

// Version identifies one version of an object. The zero Version means
// "whatever is current".
type Version struct {
	// ETag is the entity tag without surrounding quotes. Pinned reads send
	// it as If-Match.
	ETag string
	// ID is the store's version id where the bucket keeps versions. When
	// set, pinned reads address that version directly.
	ID string
}

// IsZero reports whether v names no version.
func (v Version) IsZero() bool { return v.ETag == "" && v.ID == "" }

// String returns a stable text form of v, fit for use in cache keys.
func (v Version) String() string {
	switch {
	case v.ID != "" && v.ETag != "":
		return "id:" + v.ID + "/etag:" + v.ETag
	case v.ID != "":
		return "id:" + v.ID
	case v.ETag != "":
		return "etag:" + v.ETag
	}
	return ""
}

// Matches reports whether an object of version got satisfies a read
// pinned to v: the zero v matches anything; otherwise every field set in
// v must equal the one in got.
func (v Version) Matches(got Version) bool {
	if v.ID != "" && v.ID != got.ID {
		return false
	}
	if v.ETag != "" && v.ETag != got.ETag {
		return false
	}
	return true
}

// ReadOptions qualify NewRangeReader.
type ReadOptions struct {
	// Version pins the read; see Store.NewRangeReader. Zero means current.
	Version Version
	// Clamp cuts a range that runs past the end of the object at the end,
	// instead of refusing it, so a reader that does not know the size yet
	// can ask for "up to n bytes from off" (Reader.Remaining then tells
	// how many it gets). An offset past the end is still an error.
	Clamp bool
}

// ListOptions select one page of a listing.
type ListOptions struct {
	// Prefix restricts the listing to keys that start with it.
	Prefix string
	// Delimiter, usually "/", groups keys that contain it after Prefix
	// into ListPage.Prefixes, so a directory can be listed one level at a
	// time. Empty lists every key under Prefix.
	Delimiter string
	// Token continues a listing: pass ListPage.Next of the previous page.
	Token string
	// MaxKeys caps the entries (objects plus prefixes) in one page.
	// Zero means the backend's default (1000 for S3 and OSS).
	MaxKeys int
}

// ListPage is one page of a listing.
type ListPage struct {
	// Objects are the keys on this page, in lexical order.
	Objects []Object
	// Prefixes are the common prefixes (each ending in the delimiter) on
	// this page, in lexical order.
	Prefixes []string
	// Next is the token for the next page, or "" if this is the last.
	Next string
}

// PutOptions qualify Put.
type PutOptions struct {
	// Size is the length of the body if known; zero means unknown, and
	// the body is read to EOF. Backends use it to choose between a single
	// request and a multipart upload. A body whose length differs from a
	// non-zero Size fails with an error wrapping fs.ErrInvalid and stores
	// nothing.
	Size int64
	// ContentType is stored with the object if the backend keeps one.
	ContentType string
}
