package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"

	"github.com/tierfs/tierfs/objstore"
)

// abortTimeout bounds the AbortMultipartUpload sent after a failed upload.
// It runs on a context detached from the caller's, so a cancelled Put
// still cleans up its parts.
const abortTimeout = 30 * time.Second

// Put stores r as key: with one PutObject when the body fits in one part
// (PartSize bytes), otherwise with a multipart upload of PartSize parts,
// Concurrency of them in flight. A failed multipart upload is aborted, so
// nothing is stored and the previous version stays. A body whose length
// differs from a non-zero opts.Size fails with fs.ErrInvalid, before any
// upload is completed.
//
// The returned Object has the ETag (and version id, on a versioned bucket)
// of the new version, the number of bytes stored, and as ModTime the Date
// of the server's final response: S3's Last-Modified (which Stat returns)
// may differ from it by a second, and for a multipart upload it is the time
// the upload started. See "Uploads" in the package documentation.
func (s *Store) Put(ctx context.Context, key string, r io.Reader, opts objstore.PutOptions) (objstore.Object, error) {
	if err := s.check("put", key); err != nil {
		return objstore.Object{}, err
	}
	if err := opts.Check(); err != nil {
		return objstore.Object{}, objstore.NewError("put", key, nil, fmt.Errorf("s3: %w", err))
	}
	if err := ctx.Err(); err != nil {
		return objstore.Object{}, objstore.NewError("put", key, nil, err)
	}
	u := &upload{s: s, ctx: ctx, key: key, r: r, opts: opts, partSize: s.partSize, concurrency: s.concurrency}
	if opts.PartSize != 0 {
		if opts.PartSize < MinPartSize || opts.PartSize > MaxPartSize {
			return objstore.Object{}, objstore.NewError("put", key, fs.ErrInvalid, fmt.Errorf("s3: part size %d outside [%d, %d]", opts.PartSize, MinPartSize, MaxPartSize))
		}
		u.partSize = opts.PartSize
	}
	if opts.Concurrency != 0 {
		u.concurrency = opts.Concurrency
	}
	if opts.Size > 0 && (opts.Size+u.partSize-1)/u.partSize > MaxParts {
		u.partSize = (opts.Size + MaxParts - 1) / MaxParts
		if u.partSize > MaxPartSize {
			return objstore.Object{}, objstore.NewError("put", key, fs.ErrInvalid, fmt.Errorf("s3: %d bytes exceed S3's largest object", opts.Size))
		}
	}
	if opts.Size == 0 {
		u.grow = true // unknown size: parts grow; see PartSizeOf
	}
	obj, err := u.run()
	if err != nil {
		return objstore.Object{}, putError(key, err, opts)
	}
	return obj, nil
}

// errSize is the cause of a Put whose body length differs from
// PutOptions.Size.
type errSize struct {
	want, got int64
	more      bool // the body had more than got bytes
}

func (e *errSize) Error() string {
	if e.more {
		return fmt.Sprintf("s3: body longer than the %d bytes PutOptions.Size gives", e.want)
	}
	return fmt.Sprintf("s3: body has %d bytes, PutOptions.Size gives %d", e.got, e.want)
}

// errTooLarge is the cause of a Put of unknown size whose body needs more
// than MaxParts parts.
type errTooLarge struct{ parts, partSize int64 }

func (e *errTooLarge) Error() string {
	return fmt.Sprintf("s3: body needs more than %d parts of %d bytes; raise PartSize", e.parts, e.partSize)
}

// upload is one Put in progress. Only the goroutine of Put uses its fields,
// except parts (guarded by mu) and the buffer pool.
type upload struct {
	s        *Store
	ctx      context.Context
	key      string
	r        io.Reader
	opts     objstore.PutOptions
	partSize int64 // of the first parts
	grow     bool  // later parts grow (PartSizeOf); for bodies of unknown size
	total    int64 // body bytes read so far

	concurrency int

	mu    sync.Mutex // guards parts
	parts []types.CompletedPart
}

// getBuf returns a buffer for part num, reused across Puts when the part
// size is the Store's. The free buffers are a list the Store keeps (up to
// Concurrency+1), not a sync.Pool, which every GC empties: an upload then
// makes no garbage per part, and a process that streams a large file
// stays near its part buffers instead of twice them.
func (u *upload) getBuf(num int32) []byte {
	size := u.partSize
	if u.grow {
		size = PartSizeOf(u.partSize, num)
	}
	if size == u.s.partSize {
		select {
		case b := <-u.s.bufs:
			return b[:size]
		default:
		}
	}
	return make([]byte, size)
}

func (u *upload) putBuf(b []byte) {
	if int64(cap(b)) == u.s.partSize {
		select {
		case u.s.bufs <- b[:cap(b)]:
		default:
		}
	}
}

// read fills buf from the body. eof reports that the body ended (possibly
// with n == len(buf) unknown: a full buffer says nothing). It enforces
// PutOptions.Size.
func (u *upload) read(buf []byte) (n int, eof bool, err error) {
	n, err = io.ReadFull(u.r, buf)
	u.total += int64(n)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		eof, err = true, nil
	case err != nil:
		return n, false, fmt.Errorf("s3: reading the body: %w", err)
	}
	if size := u.opts.Size; size > 0 {
		if u.total > size {
			return n, eof, &errSize{want: size, got: u.total, more: true}
		}
		if eof && u.total != size {
			return n, eof, &errSize{want: size, got: u.total}
		}
	}
	return n, eof, nil
}

func (u *upload) run() (objstore.Object, error) {
	if size := u.opts.Size; size > 0 && size <= u.partSize {
		// Known and small: read one byte more than announced, to catch a
		// longer body, and send it whole.
		buf := make([]byte, size+1)
		n, _, err := u.read(buf)
		if err != nil {
			return objstore.Object{}, err
		}
		return u.single(buf[:n])
	}
	first := u.getBuf(1)
	n, eof, err := u.read(first)
	if err != nil {
		u.putBuf(first)
		return objstore.Object{}, err
	}
	if eof {
		defer u.putBuf(first)
		return u.single(first[:n])
	}
	// The first part is full: look one part ahead to learn whether there
	// is more than one.
	second := u.getBuf(2)
	m, eof2, err := u.read(second)
	if err != nil {
		u.putBuf(first)
		u.putBuf(second)
		return objstore.Object{}, err
	}
	if m == 0 && eof2 {
		defer u.putBuf(first)
		u.putBuf(second)
		return u.single(first[:n])
	}
	return u.multipart(first[:n], second[:m], eof2)
}

func (u *upload) single(body []byte) (objstore.Object, error) {
	in := &s3.PutObjectInput{
		Bucket:        &u.s.bucket,
		Key:           aws.String(u.s.prefix + u.key),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
	}
	if u.opts.ContentType != "" {
		in.ContentType = aws.String(u.opts.ContentType)
	}
	in.Metadata = u.opts.Metadata
	in.IfMatch, in.IfNoneMatch = u.conditions()
	out, err := u.s.client.PutObject(u.ctx, in, u.s.callOpts...)
	if err != nil {
		return objstore.Object{}, err
	}
	return objstore.Object{
		Key:     u.key,
		Size:    int64(len(body)),
		ModTime: serverTime(out.ResultMetadata),
		Version: u.s.version(out.ETag, out.VersionId),
	}, nil
}

// multipart uploads first (a full part), then pending (eof says whether it
// is the last), then the rest of the body. It owns both buffers: each goes
// back to the Store's list once its part is sent, so the upload holds at
// most Concurrency parts in flight and one being filled.
func (u *upload) multipart(first, pending []byte, eof bool) (obj objstore.Object, err error) {
	cin := &s3.CreateMultipartUploadInput{Bucket: &u.s.bucket, Key: aws.String(u.s.prefix + u.key)}
	if u.opts.ContentType != "" {
		cin.ContentType = aws.String(u.opts.ContentType)
	}
	cin.Metadata = u.opts.Metadata
	// The upload's requests run on a context of their own that outlives
	// a failure by partGrace (see there); lapse starts that grace.
	rctx, lapse, stop := lenient(u.ctx, partGrace)
	defer stop()
	created, err := u.s.client.CreateMultipartUpload(rctx, cin, u.s.callOpts...)
	if err != nil {
		u.putBuf(first)
		u.putBuf(pending)
		return objstore.Object{}, withCallerErr(u.ctx, err)
	}
	uploadID := created.UploadId
	defer func() {
		if err != nil {
			err = u.abort(uploadID, withCallerErr(u.ctx, err))
		}
	}()

	// failed ends when a part fails, which stops the sending of more.
	g, failed := errgroup.WithContext(context.Background())
	g.SetLimit(u.concurrency)
	send := func(num int32, b []byte) {
		g.Go(func() error {
			defer u.putBuf(b)
			out, err := u.s.client.UploadPart(rctx, &s3.UploadPartInput{
				Bucket:        &u.s.bucket,
				Key:           aws.String(u.s.prefix + u.key),
				UploadId:      uploadID,
				PartNumber:    aws.Int32(num),
				Body:          bytes.NewReader(b),
				ContentLength: aws.Int64(int64(len(b))),
			}, u.s.callOpts...)
			if err != nil {
				lapse()
				return fmt.Errorf("s3: part %d: %w", num, err)
			}
			u.mu.Lock()
			u.parts = append(u.parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)})
			u.mu.Unlock()
			return nil
		})
	}
	send(1, first)
	var readErr error
	for num := int32(2); ; num++ {
		send(num, pending)
		if eof || failed.Err() != nil || u.ctx.Err() != nil {
			break
		}
		if num == MaxParts {
			// One more byte would need part MaxParts+1.
			var one [1]byte
			if n, _ := io.ReadFull(u.r, one[:]); n > 0 {
				readErr = &errTooLarge{parts: MaxParts, partSize: u.partSize}
			}
			break
		}
		b := u.getBuf(num + 1)
		n, e, err := u.read(b)
		if err != nil {
			u.putBuf(b)
			readErr = err
			break
		}
		if n == 0 && e {
			u.putBuf(b)
			break
		}
		pending, eof = b[:n], e
	}
	if readErr != nil {
		lapse()
	}
	werr := g.Wait()
	if readErr != nil {
		return objstore.Object{}, readErr
	}
	if werr != nil {
		return objstore.Object{}, werr
	}
	if err := u.ctx.Err(); err != nil {
		return objstore.Object{}, err
	}

	slices.SortFunc(u.parts, func(a, b types.CompletedPart) int { return int(aws.ToInt32(a.PartNumber) - aws.ToInt32(b.PartNumber)) })
	complete := &s3.CompleteMultipartUploadInput{
		Bucket:          &u.s.bucket,
		Key:             aws.String(u.s.prefix + u.key),
		UploadId:        uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: u.parts},
	}
	complete.IfMatch, complete.IfNoneMatch = u.conditions()
	out, err := u.s.client.CompleteMultipartUpload(u.ctx, complete, u.s.callOpts...)
	if err != nil {
		return objstore.Object{}, err
	}
	return objstore.Object{
		Key:     u.key,
		Size:    u.total,
		ModTime: serverTime(out.ResultMetadata),
		Version: u.s.version(out.ETag, out.VersionId),
	}, nil
}

// partGrace is how long the requests of a multipart upload (its creation
// and its parts) run on after the upload failed (its body, a part, or the
// caller's context) before they are cut. A server stores a part whose
// body it has, or creates an upload, even if the client has hung up; an
// abort sent before that lands is undone by it and leaves the upload
// open (S3 says an abort may have to be repeated for this reason).
// Waiting for the requests in flight lets one abort, sent after them,
// clean up. Parts still sending their body when the grace ends are cut,
// and a cut body stores nothing.
const partGrace = 2 * time.Second

// lenient returns a context detached from parent that ends grace after
// parent does or after lapse is called, whichever is first; stop ends it
// at once.
func lenient(parent context.Context, grace time.Duration) (ctx context.Context, lapse, stop func()) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	var once sync.Once
	lapse = func() { once.Do(func() { time.AfterFunc(grace, cancel) }) }
	unwatch := context.AfterFunc(parent, lapse)
	return ctx, lapse, func() { unwatch(); cancel() }
}

// withCallerErr returns err, wrapping the caller's context error too when
// ctx ended: a request cut at the grace's end fails with the lenient
// context's error, which says nothing of the caller's cancel.
func withCallerErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w: %w", cerr, err)
	}
	return err
}

// abort cancels a multipart upload after cause, on a context detached from
// the caller's, and returns cause with any abort failure added.
func (u *upload) abort(uploadID *string, cause error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(u.ctx), abortTimeout)
	defer cancel()
	_, err := u.s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket:   &u.s.bucket,
		Key:      aws.String(u.s.prefix + u.key),
		UploadId: uploadID,
	}, u.s.callOpts...)
	if err != nil {
		return fmt.Errorf("%w (abort of the multipart upload also failed: %v)", cause, err)
	}
	return cause
}

// conditions returns the If-Match and If-None-Match headers of the
// request that publishes the object.
func (u *upload) conditions() (ifMatch, ifNoneMatch *string) {
	if u.opts.IfMatch.ETag != "" {
		ifMatch = aws.String(`"` + u.opts.IfMatch.ETag + `"`)
	}
	if u.opts.IfNotExist {
		ifNoneMatch = aws.String("*")
	}
	return ifMatch, ifNoneMatch
}

// putError maps the error of a Put. Under a precondition, a missing key
// (If-Match on a key deleted meanwhile) and S3's 409
// ConditionalRequestConflict (another conditional write won the race)
// are objstore.ErrChanged, as a 412 is.
func putError(key string, err error, opts objstore.PutOptions) error {
	if opts.Conditional() {
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "ConditionalRequestConflict" {
			return objstore.NewError("put", key, objstore.ErrChanged, fmt.Errorf("s3: %w", objstore.RedactError(err)))
		}
	}
	return mapError("put", key, err, !opts.IfMatch.IsZero())
}
