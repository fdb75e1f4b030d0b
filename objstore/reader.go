package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// RetryPolicy bounds how a [Reader] resumes a body that was cut off. The
// SDKs retry a failed request, but not a body that breaks after the
// response headers arrived: that part is the Reader's. A first request
// that still fails after the SDK's retries with an error that may pass
// (not a missing key, a changed version, a refusal or a bad reply) is
// tried again from the same budget. The zero value
// means the defaults given per field.
type RetryPolicy struct {
	// MaxResumes is how many times one Reader may re-open its range after
	// a cut body, a stall or a failed open or re-open. Zero means 5;
	// negative means never.
	MaxResumes int
	// BaseDelay is the backoff before the first resume; each later one
	// doubles it, with full jitter, up to MaxDelay. Zero means 50ms.
	BaseDelay time.Duration
	// MaxDelay caps one backoff. Zero means 2s.
	MaxDelay time.Duration
	// StallTimeout ends a body that, over this much time spent waiting on
	// it, brings fewer than MinRate×StallTimeout bytes (with the default
	// MinRate, at least one byte); the range is then resumed like a cut
	// body. Only time spent in Read counts: a caller that reads slowly is
	// not a stalled body. Zero means 30s; negative means no limit.
	StallTimeout time.Duration
	// MinRate is the slowest a body may bring bytes, in bytes per second,
	// measured over windows of StallTimeout: a body trickling a byte now
	// and then never stalls for long, but never gets anywhere either.
	// Zero means DefaultMinRate (4 KiB/s: 120 KiB in the default 30 s);
	// negative means one byte per StallTimeout.
	MinRate int64
}

// DefaultMinRate is the slowest body a Reader accepts by default, in
// bytes per second; see RetryPolicy.MinRate.
const DefaultMinRate = 4 << 10

// DefaultRetryPolicy returns the policy with every default filled in.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxResumes: 5, BaseDelay: 50 * time.Millisecond, MaxDelay: 2 * time.Second, StallTimeout: 30 * time.Second, MinRate: DefaultMinRate}
}

// withDefaults fills zero fields.
func (p RetryPolicy) withDefaults() RetryPolicy {
	d := DefaultRetryPolicy()
	if p.MaxResumes == 0 {
		p.MaxResumes = d.MaxResumes
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = d.BaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = d.MaxDelay
	}
	if p.StallTimeout == 0 {
		p.StallTimeout = d.StallTimeout
	}
	if p.MinRate == 0 {
		p.MinRate = d.MinRate
	}
	return p
}

// windowBytes is how many bytes a body must bring within StallTimeout of
// waiting on it: MinRate×StallTimeout, at least 1.
func (p RetryPolicy) windowBytes() int64 {
	if p.MinRate <= 0 || p.StallTimeout <= 0 {
		return 1
	}
	return max(1, int64(float64(p.MinRate)*p.StallTimeout.Seconds()))
}

// RangeOpener opens the body of the bytes [off, off+length) of one object,
// pinned to v when v is not zero, and returns the attributes of the object
// the body belongs to (Size is the whole object's size). length is never
// negative except on the first call, where it means "to the end". When
// off equals the object's size the opener returns an empty body (S3
// answers such a range with 416, so the opener must fall back to a HEAD).
// A version mismatch must be reported as an error wrapping ErrChanged.
type RangeOpener func(ctx context.Context, off, length int64, v Version) (io.ReadCloser, Object, error)

// Reader reads one byte range of one object version. It is returned by
// [Store.NewRangeReader]; backends build it with [NewReader]. It counts
// the bytes it receives, resumes a body cut short from the next byte with
// the same version pinned, and never ends early without an error. A
// Reader is not safe for concurrent use; Close may be called from another
// goroutine to abort a Read.
type Reader struct {
	ctx    context.Context
	key    string
	open   RangeOpener
	policy RetryPolicy

	obj    Object // attributes of the version being read
	pin    Version
	off    int64 // offset of the next byte to receive
	remain int64 // bytes still to receive

	mu      sync.Mutex    // guards body, which Close may reach from another goroutine
	body    io.ReadCloser // nil between a cut and a successful re-open
	resumes int
	stall   *time.Timer
	stalled atomic.Bool
	// The current window of the stall check: time spent in body reads
	// and bytes they brought since the body last brought windowBytes.
	waited time.Duration
	got    int64
	closed atomic.Bool
	err    error // sticky error after a final failure
}

var _ io.ReadCloser = (*Reader)(nil)

// NewReader opens the range [off, off+length) of key through open and
// returns a Reader over it. A negative length reads to the end.
// opts.Version, if not zero, is the version the read must see; otherwise
// the version of the first response is pinned for every resume. With
// opts.Clamp a range past the end is cut at the end. ctx governs the whole
// read, including later calls to Read.
func NewReader(ctx context.Context, key string, off, length int64, opts ReadOptions, policy RetryPolicy, open RangeOpener) (*Reader, error) {
	pin := opts.Version
	if err := CheckKey("read", key); err != nil {
		return nil, err
	}
	if err := CheckRangeArgs(off, length); err != nil {
		return nil, NewError("read", key, nil, err)
	}
	r := &Reader{ctx: ctx, key: key, open: open, policy: policy.withDefaults(), pin: pin, off: off}
	body, obj, err := open(ctx, off, length, pin)
	for err != nil && !final(err) && r.resumes < r.policy.MaxResumes {
		// A failure the SDK's own retries did not get past (a run of
		// 503s, a reset before the headers): try again after a backoff,
		// from the same budget as the resumes.
		if serr := sleepCtx(ctx, r.backoff(r.resumes)); serr != nil {
			break
		}
		r.resumes++
		body, obj, err = open(ctx, off, length, pin)
	}
	if err != nil {
		return nil, err
	}
	if !pin.Matches(obj.Version) {
		body.Close()
		return nil, NewError("read", key, ErrChanged, fmt.Errorf("want version %s, store has %s", pin, obj.Version))
	}
	if obj.Version.IsZero() {
		// Nothing to pin the resumes to: a cut body could be resumed
		// with bytes of another version.
		body.Close()
		return nil, NewError("read", key, ErrBadResponse, errNoVersion)
	}
	if opts.Clamp && length >= 0 && off <= obj.Size && length > obj.Size-off {
		length = obj.Size - off
	}
	n, err := CheckRange(off, length, obj.Size)
	if err != nil {
		body.Close()
		return nil, NewError("read", key, nil, err)
	}
	r.obj, r.body, r.remain = obj, body, n
	r.pin = obj.Version
	return r, nil
}

// Object returns the attributes of the object version being read.
func (r *Reader) Object() Object { return r.obj }

// Remaining returns how many bytes of the range are still to be read.
func (r *Reader) Remaining() int64 { return r.remain }

// Resumes returns how many times the range was opened again: after a cut,
// or after a failed first request.
func (r *Reader) Resumes() int { return r.resumes }

// Read reads up to len(p) bytes of the range. It returns io.EOF only after
// the whole range was delivered.
func (r *Reader) Read(p []byte) (int, error) {
	if r.closed.Load() {
		return 0, NewError("read", r.key, fs.ErrClosed, nil)
	}
	if r.err != nil {
		return 0, r.err
	}
	if r.remain == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > r.remain {
		p = p[:r.remain]
	}
	for {
		n, err := r.readBody(p)
		r.off += int64(n)
		r.remain -= int64(n)
		if r.remain == 0 {
			return n, nil
		}
		if err == nil {
			if n > 0 {
				return n, nil
			}
			continue
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		if rerr := r.resume(err); rerr != nil {
			r.err = rerr
			return n, rerr
		}
		if n > 0 {
			return n, nil
		}
	}
}

// readBody reads from the current body under the stall timeout.
func (r *Reader) readBody(p []byte) (int, error) {
	r.mu.Lock()
	body := r.body
	r.mu.Unlock()
	if body == nil {
		return 0, errNoBody
	}
	if r.policy.StallTimeout <= 0 {
		return body.Read(p)
	}
	left := r.policy.StallTimeout - r.waited
	if r.stall == nil {
		r.stall = time.AfterFunc(left, func() {
			r.stalled.Store(true)
			body.Close()
		})
	} else {
		r.stall.Reset(left)
	}
	start := time.Now()
	n, err := body.Read(p)
	if !r.stall.Stop() || r.stalled.Load() {
		// The timer fired (or is firing): the body is being closed.
		r.stall = nil
		r.stalled.Store(false)
		got := r.got + int64(n)
		r.waited, r.got = 0, 0
		return n, fmt.Errorf("%w: %d bytes in %v, want at least %d", errStalled, got, r.policy.StallTimeout, r.policy.windowBytes())
	}
	r.waited += time.Since(start)
	r.got += int64(n)
	if r.got >= r.policy.windowBytes() {
		r.waited, r.got = 0, 0
	}
	return n, err
}

var (
	errNoVersion = errors.New("no ETag or version id in the reply")
	errStalled   = errors.New("body stalled")
	errNoBody    = errors.New("no body")
)

// resume re-opens the rest of the range after cause broke the body. It
// returns nil when a new body is in place, or the error to report.
func (r *Reader) resume(cause error) error {
	if r.stall != nil {
		r.stall.Stop()
		r.stall = nil
	}
	r.waited, r.got = 0, 0
	r.mu.Lock()
	if r.body != nil {
		r.body.Close()
		r.body = nil
	}
	r.mu.Unlock()
	for {
		if err := r.ctx.Err(); err != nil {
			return NewError("read", r.key, nil, err)
		}
		if r.closed.Load() {
			return NewError("read", r.key, fs.ErrClosed, nil)
		}
		if r.resumes >= r.policy.MaxResumes {
			return NewError("read", r.key, nil, fmt.Errorf("body cut at byte %d, %d bytes short, after %d resumes: %w", r.off, r.remain, r.resumes, cause))
		}
		if err := sleepCtx(r.ctx, r.backoff(r.resumes)); err != nil {
			return NewError("read", r.key, nil, err)
		}
		r.resumes++
		body, obj, err := r.open(r.ctx, r.off, r.remain, r.pin)
		if err != nil {
			if final(err) {
				return err
			}
			cause = err
			continue
		}
		if !r.pin.Matches(obj.Version) {
			body.Close()
			return NewError("read", r.key, ErrChanged, fmt.Errorf("resumed read got version %s, want %s", obj.Version, r.pin))
		}
		r.mu.Lock()
		if r.closed.Load() { // Close came during the re-open
			r.mu.Unlock()
			body.Close()
			return NewError("read", r.key, fs.ErrClosed, nil)
		}
		r.body = body
		r.mu.Unlock()
		return nil
	}
}

// final reports whether a failed re-open should end the read at once.
func final(err error) bool {
	return errors.Is(err, ErrChanged) || errors.Is(err, ErrBadResponse) || errors.Is(err, fs.ErrNotExist) ||
		errors.Is(err, fs.ErrPermission) || errors.Is(err, fs.ErrInvalid) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// backoff returns the jittered delay before resume number i (from 0).
func (r *Reader) backoff(i int) time.Duration {
	d := r.policy.BaseDelay
	for ; i > 0 && d < r.policy.MaxDelay; i-- {
		d *= 2
	}
	d = min(d, r.policy.MaxDelay)
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

// Close releases the body. It may be called concurrently with Read to
// abort it, and more than once.
func (r *Reader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Swap(true) {
		return nil
	}
	if r.body != nil {
		return r.body.Close()
	}
	return nil
}

// sleepCtx waits for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
