package objstore

import (
	"context"
	"fmt"
	"io"
	"io/fs"
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
	// (if any) in place. Backends upload large bodies in parts, streaming
	// them as r yields them: a read error from r (or ctx cancelled) fails
	// the Put, aborts any multipart upload and publishes nothing, which is
	// how [Writer] aborts. opts.IfMatch and opts.IfNotExist make it
	// conditional (see [PutOptions]).
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
	// Metadata is stored with the object as user metadata (S3's
	// x-amz-meta-*, OSS's x-oss-meta-*) if the backend keeps it. Names
	// are case-insensitive ASCII letters, digits and '-'; any other name
	// is an error wrapping fs.ErrInvalid.
	Metadata map[string]string

	// IfMatch, when its ETag is set, makes the Put conditional: the new
	// bytes are published only if the key's current version still has
	// that ETag (If-Match on PutObject and on CompleteMultipartUpload).
	// If it has another, or the key is gone, the Put fails with an error
	// wrapping ErrChanged and stores nothing: of two writers that read
	// one version and both write under IfMatch, exactly one succeeds.
	// A backend that cannot check it fails with errors.ErrUnsupported.
	IfMatch Version
	// IfNotExist makes the Put publish only if the key does not exist
	// (If-None-Match: *); otherwise it fails with an error wrapping
	// ErrChanged and stores nothing. It excludes IfMatch.
	IfNotExist bool

	// PartSize, if not zero, replaces the backend's part size for this
	// Put (S3 and OSS; it must lie within the backend's limits).
	PartSize int64
	// Concurrency, if not zero, replaces the backend's number of parts in
	// flight for this Put; a Put holds up to Concurrency+1 part buffers.
	Concurrency int
}

// Check validates the fields every backend reads the same way: a
// negative Size, PartSize or Concurrency, IfMatch beside IfNotExist, an
// IfMatch with no ETag, and a metadata name outside [A-Za-z0-9-] are
// errors wrapping fs.ErrInvalid.
func (o *PutOptions) Check() error {
	switch {
	case o.Size < 0:
		return fmt.Errorf("%w: negative size %d", fs.ErrInvalid, o.Size)
	case o.PartSize < 0:
		return fmt.Errorf("%w: negative part size %d", fs.ErrInvalid, o.PartSize)
	case o.Concurrency < 0:
		return fmt.Errorf("%w: negative concurrency %d", fs.ErrInvalid, o.Concurrency)
	case o.IfNotExist && !o.IfMatch.IsZero():
		return fmt.Errorf("%w: IfMatch and IfNotExist together", fs.ErrInvalid)
	case !o.IfMatch.IsZero() && o.IfMatch.ETag == "":
		return fmt.Errorf("%w: IfMatch needs an ETag", fs.ErrInvalid)
	}
	for k := range o.Metadata {
		if !validMetaName(k) {
			return fmt.Errorf("%w: metadata name %q", fs.ErrInvalid, k)
		}
	}
	return nil
}

// Conditional reports whether the Put carries a precondition.
func (o *PutOptions) Conditional() bool { return o.IfNotExist || !o.IfMatch.IsZero() }

func validMetaName(k string) bool {
	if k == "" || len(k) > 128 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
