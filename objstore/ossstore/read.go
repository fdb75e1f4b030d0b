package ossstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"strings"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"

	"github.com/tierfs/tierfs/objstore"
)

// NewRangeReader opens [off, off+length) of key; see objstore.Store. Each
// body is one GetObject with a Range header, If-Match set to the pinned
// ETag and versionId to the pinned version id.
func (s *Store) NewRangeReader(ctx context.Context, key string, off, length int64, opts objstore.ReadOptions) (*objstore.Reader, error) {
	if err := s.check(ctx, "read", key); err != nil {
		return nil, err
	}
	open := func(ctx context.Context, off, length int64, v objstore.Version) (io.ReadCloser, objstore.Object, error) {
		return s.openRange(ctx, key, off, length, v)
	}
	return objstore.NewReader(ctx, key, off, length, opts, s.retry, open)
}

// openRange is the objstore.RangeOpener of key.
//
// A zero length, or a range that starts at the object's end (OSS answers
// it with 416), is served by a HeadObject with the same preconditions and
// an empty body, so that a pinned empty read still fails with ErrChanged
// when the object changed.
func (s *Store) openRange(ctx context.Context, key string, off, length int64, v objstore.Version) (io.ReadCloser, objstore.Object, error) {
	if length == 0 {
		return s.openEmpty(ctx, key, off, v)
	}
	req := &oss.GetObjectRequest{
		Bucket: oss.Ptr(s.bucket),
		Key:    oss.Ptr(s.fullKey(key)),
		// OSS by default ignores an unsatisfiable range and sends the
		// whole object with 200; "standard" makes it answer 416 for a
		// start past the end and clip an end past it, as S3 does.
		RangeBehavior: oss.Ptr("standard"),
	}
	if length < 0 {
		req.Range = oss.Ptr(fmt.Sprintf("bytes=%d-", off))
	} else {
		req.Range = oss.Ptr(fmt.Sprintf("bytes=%d-%d", off, off+length-1))
	}
	pin(&req.IfMatch, &req.VersionId, v)
	res, err := s.client.GetObject(ctx, req, s.callOpts...)
	if err != nil {
		var se *oss.ServiceError
		if errors.As(err, &se) && (se.StatusCode == http.StatusRequestedRangeNotSatisfiable || se.Code == "InvalidRange") {
			// Past the end, or at the end: only a HEAD can tell.
			return s.openEmpty(ctx, key, off, v)
		}
		return nil, objstore.Object{}, mapPinned(mapError("read", key, err), err, v)
	}
	obj := objstore.Object{
		Key:       key,
		Version:   version(res.ETag, res.VersionId),
		Checksums: checksums(res.HashCRC64),
	}
	if res.LastModified != nil {
		obj.ModTime = *res.LastModified
	}
	if !v.Matches(obj.Version) {
		res.Body.Close()
		return nil, objstore.Object{}, newError("read", key, objstore.ErrChanged,
			fmt.Errorf("want version %s, store sent %s", v, obj.Version))
	}
	if obj.Version.IsZero() {
		res.Body.Close()
		return nil, objstore.Object{}, newError("read", key, objstore.ErrBadResponse, errNoETag)
	}
	start, end, size, err := bodyRange(res.StatusCode, oss.ToString(res.ContentRange), contentLength(res.Headers))
	if err == nil && start != off {
		err = fmt.Errorf("asked for bytes from %d, store sent from %d", off, start)
	}
	if want := wantEnd(off, length, size); err == nil && res.ContentRange != nil && end != want {
		err = fmt.Errorf("asked for bytes %d to %d, store sent to %d", off, want, end)
	}
	if err != nil {
		res.Body.Close()
		return nil, objstore.Object{}, newError("read", key, objstore.ErrBadResponse, err)
	}
	obj.Size = size
	return res.Body, obj, nil
}

// mapPinned turns mapped, the error of a read pinned to v (if v is not
// zero), from fs.ErrNotExist into objstore.ErrChanged: the pinned
// version is gone, as on every backend. A missing bucket stays
// fs.ErrNotExist.
func mapPinned(mapped, sdkErr error, v objstore.Version) error {
	var se *oss.ServiceError
	if v.IsZero() || !errors.Is(mapped, fs.ErrNotExist) || errors.As(sdkErr, &se) && se.Code == "NoSuchBucket" {
		return mapped
	}
	var oe *objstore.Error
	if errors.As(mapped, &oe) {
		c := *oe
		c.Sentinel = objstore.ErrChanged
		return &c
	}
	return mapped
}

// openEmpty answers a read of no bytes at off: a HeadObject pinned to v,
// an empty body, and the object's attributes. An offset past the end is
// an error wrapping fs.ErrInvalid.
func (s *Store) openEmpty(ctx context.Context, key string, off int64, v objstore.Version) (io.ReadCloser, objstore.Object, error) {
	req := &oss.HeadObjectRequest{
		Bucket: oss.Ptr(s.bucket),
		Key:    oss.Ptr(s.fullKey(key)),
	}
	pin(&req.IfMatch, &req.VersionId, v)
	res, err := s.client.HeadObject(ctx, req, s.callOpts...)
	if err != nil {
		return nil, objstore.Object{}, mapPinned(mapError("read", key, err), err, v)
	}
	obj := objstore.Object{
		Key:       key,
		Size:      res.ContentLength,
		Version:   version(res.ETag, res.VersionId),
		Checksums: checksums(res.HashCRC64),
	}
	if res.LastModified != nil {
		obj.ModTime = *res.LastModified
	}
	if !v.Matches(obj.Version) {
		return nil, objstore.Object{}, newError("read", key, objstore.ErrChanged,
			fmt.Errorf("want version %s, store has %s", v, obj.Version))
	}
	if err := checkHead(res.Headers, obj); err != nil {
		return nil, objstore.Object{}, newError("read", key, objstore.ErrBadResponse, err)
	}
	if off > obj.Size {
		return nil, objstore.Object{}, newError("read", key, fs.ErrInvalid,
			fmt.Errorf("offset %d past the end of a %d-byte object", off, obj.Size))
	}
	return io.NopCloser(strings.NewReader("")), obj, nil
}

// pin sets the If-Match and versionId fields of a request for v.
func pin(ifMatch, versionID **string, v objstore.Version) {
	if v.ETag != "" {
		*ifMatch = oss.Ptr(`"` + v.ETag + `"`)
	}
	if v.ID != "" {
		*versionID = oss.Ptr(v.ID)
	}
}

// bodyRange returns the first and last byte of a GetObject body and the
// size of the whole object, from a 206's Content-Range ("bytes
// 0-99/1000") or a 200's Content-Length (-1 when the reply has none,
// which is an error: the end of the body could not be told from a cut).
func bodyRange(status int, contentRange string, contentLength int64) (start, end, size int64, err error) {
	if status == http.StatusOK && contentRange == "" {
		if contentLength < 0 {
			return 0, 0, 0, errors.New("response without content-length or content-range")
		}
		return 0, contentLength - 1, contentLength, nil
	}
	rest, ok := strings.CutPrefix(contentRange, "bytes ")
	first, rest, ok2 := strings.Cut(rest, "-")
	last, total, ok3 := strings.Cut(rest, "/")
	if !ok || !ok2 || !ok3 {
		return 0, 0, 0, fmt.Errorf("bad content-range %q", contentRange)
	}
	start, err1 := strconv.ParseInt(first, 10, 64)
	end, err2 := strconv.ParseInt(last, 10, 64)
	size, err3 := strconv.ParseInt(total, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || start < 0 || end < start || size <= end {
		return 0, 0, 0, fmt.Errorf("bad content-range %q", contentRange)
	}
	if contentLength >= 0 && contentLength != end-start+1 {
		return 0, 0, 0, fmt.Errorf("content-range %q with content-length %d", contentRange, contentLength)
	}
	return start, end, size, nil
}

// wantEnd is the last byte a read of length bytes at off (negative: to
// the end) must get of an object of size bytes: a range past the end is
// cut there. (A 200 with the whole object, from a server that ignores
// Range, is not held to it: it starts at 0, which the start check refuses
// for off > 0, and at off 0 the Reader reads no more than it asked for.)
func wantEnd(off, length, size int64) int64 {
	if length > 0 && off+length < size {
		return off + length - 1
	}
	return size - 1
}

// contentLength returns the Content-Length of a reply, or -1 when it has
// none: the SDK's field holds 0 then, as if the body were empty.
func contentLength(h http.Header) int64 {
	v := h.Get("Content-Length")
	if v == "" {
		return -1
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

var errNoETag = errors.New("reply without ETag: a read could not be pinned to one version")

// checkHead checks the reply to a HeadObject that obj was built from: it
// must carry a Content-Length (the SDK's 0 for a missing one would make
// an empty file) and an ETag.
func checkHead(h http.Header, obj objstore.Object) error {
	if contentLength(h) < 0 {
		return errors.New("HEAD without content-length")
	}
	if obj.Version.IsZero() {
		return errNoETag
	}
	return nil
}
