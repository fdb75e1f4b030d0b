package ossstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"

	"github.com/tierfs/tierfs/objstore"
)

// abortTimeout bounds the AbortMultipartUpload sent after a failed upload
// whose context was cancelled.
const abortTimeout = 30 * time.Second

// Put stores the body of r as key; see objstore.Store.
//
// A body of at most PartSize bytes (known or found by reading) is held in
// memory and sent with one PutObject, which the SDK can then retry. A
// larger one goes through the SDK's Uploader: InitiateMultipartUpload,
// PartSize parts, Concurrency of them at once, CompleteMultipartUpload
// only after the whole body was read and checked against opts.Size, and
// AbortMultipartUpload on any failure, so nothing is stored.
//
// PutOptions.IfNotExist is sent as x-oss-forbid-overwrite, whose refusal
// (409 FileAlreadyExists) fails with objstore.ErrChanged; OSS has no
// If-Match on writes, so PutOptions.IfMatch fails with
// errors.ErrUnsupported. Metadata is sent as x-oss-meta-*.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts objstore.PutOptions) (objstore.Object, error) {
	obj, err := s.put(ctx, key, r, opts)
	var se *oss.ServiceError
	if err != nil && opts.IfNotExist && errors.As(err, &se) && se.Code == "FileAlreadyExists" {
		var oe *objstore.Error
		if errors.As(err, &oe) {
			err = objstore.NewError(oe.Op, oe.Key, objstore.ErrChanged, oe.Err)
		}
	}
	return obj, err
}

func (s *Store) put(ctx context.Context, key string, r io.Reader, opts objstore.PutOptions) (objstore.Object, error) {
	const op = "put"
	if err := s.check(ctx, op, key); err != nil {
		return objstore.Object{}, err
	}
	if err := opts.Check(); err != nil {
		return objstore.Object{}, newError(op, key, nil, err)
	}
	if !opts.IfMatch.IsZero() {
		// OSS has no If-Match on writes; x-oss-forbid-overwrite gives
		// IfNotExist only.
		return objstore.Object{}, newError(op, key, nil, fmt.Errorf("IfMatch: %w", errors.ErrUnsupported))
	}
	partSize := s.partSize
	if opts.PartSize != 0 {
		if opts.PartSize < MinPartSize || opts.PartSize > MaxPartSize {
			return objstore.Object{}, newError(op, key, fs.ErrInvalid, fmt.Errorf("part size %d outside [%d, %d]", opts.PartSize, MinPartSize, MaxPartSize))
		}
		partSize = opts.PartSize
	}
	if opts.Size == 0 || opts.Size <= partSize {
		limit := partSize + 1
		if opts.Size > 0 {
			limit = opts.Size + 1
		}
		var buf bytes.Buffer
		n, err := io.CopyN(&buf, r, limit)
		if err != nil && err != io.EOF {
			return objstore.Object{}, newError(op, key, nil, fmt.Errorf("reading the body: %w", err))
		}
		if opts.Size > 0 && n != opts.Size {
			return objstore.Object{}, sizeError(op, key, opts.Size, n)
		}
		if n <= partSize {
			return s.putObject(ctx, key, buf.Bytes(), opts)
		}
		// Unknown size, more than one part: the rest follows the buffer.
		r = io.MultiReader(bytes.NewReader(buf.Bytes()), r)
	}
	return s.upload(ctx, key, r, opts, partSize)
}

// sizeError reports a body whose length differs from PutOptions.Size.
func sizeError(op, key string, want, got int64) error {
	if got > want {
		return newError(op, key, fs.ErrInvalid, fmt.Errorf("body longer than the given size %d", want))
	}
	return newError(op, key, fs.ErrInvalid, fmt.Errorf("body of %d bytes, given size %d", got, want))
}

// putObject stores data with one PutObject request.
func (s *Store) putObject(ctx context.Context, key string, data []byte, opts objstore.PutOptions) (objstore.Object, error) {
	req := &oss.PutObjectRequest{
		Bucket: oss.Ptr(s.bucket),
		Key:    oss.Ptr(s.fullKey(key)),
		Body:   bytes.NewReader(data),
		// Sent as a header too, so that an empty body is sent as such;
		// see doer.
		ContentLength: oss.Ptr(int64(len(data))),
	}
	setOptions(req, opts)
	res, err := s.client.PutObject(ctx, req, s.callOpts...)
	if err != nil {
		return objstore.Object{}, mapError("put", key, err)
	}
	return objstore.Object{
		Key:       key,
		Size:      int64(len(data)),
		ModTime:   modTime(res.Headers),
		Version:   version(res.ETag, res.VersionId),
		Checksums: checksums(res.HashCRC64),
	}, nil
}

// upload stores the body of r with a multipart upload.
func (s *Store) upload(ctx context.Context, key string, r io.Reader, opts objstore.PutOptions, partSize int64) (objstore.Object, error) {
	const op = "put"
	var exact *exactReader
	if opts.Size > 0 {
		// OSS takes at most 10,000 parts.
		if need := (opts.Size + int64(oss.MaxUploadParts) - 1) / int64(oss.MaxUploadParts); need > partSize {
			partSize = need
		}
		if partSize > MaxPartSize {
			return objstore.Object{}, newError(op, key, fs.ErrInvalid, fmt.Errorf("size %d is more than OSS takes", opts.Size))
		}
		exact = &exactReader{r: r, remain: opts.Size, size: opts.Size}
		r = exact
	} else {
		r = &countingReader{r: r}
	}
	req := &oss.PutObjectRequest{
		Bucket: oss.Ptr(s.bucket),
		Key:    oss.Ptr(s.fullKey(key)),
	}
	setOptions(req, opts)
	concurrency := s.concurrency
	if opts.Concurrency != 0 {
		concurrency = opts.Concurrency
	}
	u := s.client.NewUploader(func(o *oss.UploaderOptions) {
		o.PartSize = partSize
		o.ParallelNum = concurrency
		o.LeavePartsOnError = false
		o.ClientOptions = s.callOpts
	})
	res, err := u.UploadFrom(ctx, req, r)
	if err != nil {
		var ue *oss.UploadError
		if errors.As(err, &ue) && ue.UploadId != "" && ctx.Err() != nil {
			// The Uploader aborts with the caller's context, which is
			// done: abort again on one of our own.
			s.abort(ctx, key, ue.UploadId)
		}
		if exact != nil && exact.err != nil {
			return objstore.Object{}, newError(op, key, fs.ErrInvalid, exact.err)
		}
		return objstore.Object{}, mapError(op, key, err)
	}
	size := opts.Size
	if c, ok := r.(*countingReader); ok {
		size = c.n
	}
	obj := objstore.Object{
		Key:       key,
		Size:      size,
		ModTime:   modTime(res.Headers),
		Version:   version(res.ETag, res.VersionId),
		Checksums: checksums(res.HashCRC64),
	}
	// CompleteMultipartUpload sends no Last-Modified, and some
	// S3-protocol servers (gofakes3) answer it with an ETag other than the
	// one later reads see. One HeadObject, pinned to the new version id
	// where the bucket keeps versions, gives the attributes reads will
	// compare against. It costs one request per upload of several parts;
	// if it fails, the Complete response's attributes stand.
	head := &oss.HeadObjectRequest{Bucket: oss.Ptr(s.bucket), Key: oss.Ptr(s.fullKey(key)), VersionId: res.VersionId}
	if h, err := s.client.HeadObject(ctx, head, s.callOpts...); err == nil && h.ContentLength == size {
		obj.Version = version(h.ETag, h.VersionId)
		if h.LastModified != nil {
			obj.ModTime = *h.LastModified
		}
		if h.HashCRC64 != nil {
			obj.Checksums = checksums(h.HashCRC64)
		}
	}
	return obj, nil
}

// setOptions sets a write request's content type, user metadata and
// x-oss-forbid-overwrite (PutOptions.IfNotExist), which the Uploader
// copies to its CompleteMultipartUpload.
func setOptions(req *oss.PutObjectRequest, opts objstore.PutOptions) {
	if opts.ContentType != "" {
		req.ContentType = oss.Ptr(opts.ContentType)
	}
	if len(opts.Metadata) > 0 {
		req.Metadata = opts.Metadata
	}
	if opts.IfNotExist {
		req.ForbidOverwrite = oss.Ptr("true")
	}
}

// abort ends a multipart upload, so its parts stop costing storage.
// Failures are ignored: a bucket lifecycle rule is the backstop.
func (s *Store) abort(ctx context.Context, key, uploadID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
	defer cancel()
	_, _ = s.client.AbortMultipartUpload(ctx, &oss.AbortMultipartUploadRequest{
		Bucket:   oss.Ptr(s.bucket),
		Key:      oss.Ptr(s.fullKey(key)),
		UploadId: oss.Ptr(uploadID),
	}, s.callOpts...)
}

// modTime returns the Last-Modified of a write response, or its Date (the
// server's clock when it stored the object), or now.
func modTime(h http.Header) time.Time {
	for _, name := range []string{"Last-Modified", "Date"} {
		if v := h.Get(name); v != "" {
			if t, err := http.ParseTime(v); err == nil {
				return t
			}
		}
	}
	return time.Now().UTC().Truncate(time.Second)
}

// exactReader passes on exactly size bytes of r and fails if r ends
// early or has more. The Uploader then never completes the upload.
type exactReader struct {
	r      io.Reader
	size   int64
	remain int64
	err    error // the size mismatch, once found
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.remain == 0 {
		var one [1]byte
		n, err := io.ReadFull(e.r, one[:])
		switch {
		case n > 0:
			e.err = fmt.Errorf("body longer than the given size %d", e.size)
			return 0, e.err
		case err == io.EOF:
			return 0, io.EOF
		default:
			return 0, err
		}
	}
	if int64(len(p)) > e.remain {
		p = p[:e.remain]
	}
	n, err := e.r.Read(p)
	e.remain -= int64(n)
	if err == io.EOF && e.remain > 0 {
		e.err = fmt.Errorf("body of %d bytes, given size %d", e.size-e.remain, e.size)
		return n, e.err
	}
	if err == io.EOF {
		err = nil // the next Read checks for more
	}
	return n, err
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
