package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"
)

// ErrAborted is the cause a [Writer] gives its Put when Abort is called;
// Close after Abort returns an error wrapping it.
var ErrAborted = errors.New("objstore: write aborted")

// Writer streams the bytes of one object to a Store as they are written:
// Write hands them to a Put running beside it (which uploads parts while
// more arrive, within the backend's part buffers), Close publishes the
// object, and Abort (or cancelling the context given to NewWriter)
// publishes nothing and aborts any multipart upload. It is the portable
// writer over [Store.Put]; backends need no writer of their own.
//
// A Writer is for one goroutine, except Abort, which may be called from
// another to stop a Write in progress.
type Writer struct {
	ctx  context.Context
	key  string
	pw   *io.PipeWriter
	stop func() bool   // ends the watch on ctx
	done chan struct{} // closed when the Put returned

	obj Object // the Put's result, after done
	err error

	mu      sync.Mutex // guards closing, aborted
	closing bool       // Close or Abort was called
	aborted bool
}

// NewWriter starts a Put of key on s fed by the returned Writer. ctx
// governs the whole upload: cancelling it before Close returns aborts the
// write. opts are checked at once (see PutOptions.Check); opts.Size, if
// set, must be the exact number of bytes that will be written.
func NewWriter(ctx context.Context, s Store, key string, opts PutOptions) (*Writer, error) {
	if err := CheckKey("put", key); err != nil {
		return nil, err
	}
	if err := opts.Check(); err != nil {
		return nil, NewError("put", key, nil, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, NewError("put", key, nil, err)
	}
	pr, pw := io.Pipe()
	w := &Writer{ctx: ctx, key: key, pw: pw, done: make(chan struct{})}
	w.stop = context.AfterFunc(ctx, func() { pw.CloseWithError(ctx.Err()) })
	go func() {
		defer close(w.done)
		w.obj, w.err = s.Put(ctx, key, pr, opts)
		if w.err == nil && ctx.Err() != nil {
			// Cannot happen with a store that checks ctx, as every
			// store of this module does; said for others.
			w.err = NewError("put", key, nil, ctx.Err())
		}
		// A Put that gave up early leaves no reader: Writes must fail,
		// not block.
		err := w.err
		if err == nil {
			err = fmt.Errorf("objstore: write after the object was stored: %w", fs.ErrClosed)
		}
		pr.CloseWithError(err)
	}()
	return w, nil
}

// Write sends p to the upload. It blocks while the backend's part
// buffers are full. After the upload failed (or was aborted), it returns
// the error.
func (w *Writer) Write(p []byte) (int, error) {
	n, err := w.pw.Write(p)
	if err != nil {
		return n, w.writeErr(err)
	}
	return n, nil
}

// writeErr turns the pipe's error into the Put's, once it is known.
func (w *Writer) writeErr(err error) error {
	if w.wasAborted() {
		// Abort closed the pipe under a blocked Write: say so, whether or
		// not the Put has ended yet.
		return NewError("put", w.key, nil, ErrAborted)
	}
	select {
	case <-w.done:
		if w.err != nil {
			return w.err
		}
	default:
	}
	if errors.Is(err, io.ErrClosedPipe) {
		return NewError("put", w.key, nil, fmt.Errorf("write after Close: %w", fs.ErrClosed))
	}
	return NewError("put", w.key, nil, err)
}

// Close ends the body and waits for the upload: nil means the object is
// stored and [Writer.Object] describes it. On error nothing was
// published (unless ctx was cancelled while the store was already
// completing the upload: then the outcome is the store's). Close is
// idempotent: later calls return the first call's result.
func (w *Writer) Close() error {
	w.mu.Lock()
	first := !w.closing
	w.closing = true
	w.mu.Unlock()
	if first {
		if err := w.ctx.Err(); err != nil {
			w.pw.CloseWithError(err) // not EOF: the Put must not publish
		} else {
			w.pw.Close()
		}
	}
	<-w.done
	w.stop()
	if w.wasAborted() {
		return NewError("put", w.key, nil, ErrAborted)
	}
	return w.err
}

func (w *Writer) wasAborted() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.aborted
}

// Abort stops the upload and waits for it to end: nothing is published,
// any multipart upload is aborted, and a Write in progress returns an
// error. It returns nil once the write is abandoned, or an error wrapping
// fs.ErrClosed if Close had already been called (the object may then be
// stored). Abort after Abort returns nil.
func (w *Writer) Abort() error {
	w.mu.Lock()
	if w.closing {
		aborted := w.aborted
		w.mu.Unlock()
		if aborted {
			return nil
		}
		return NewError("put", w.key, nil, fmt.Errorf("abort after Close: %w", fs.ErrClosed))
	}
	w.closing, w.aborted = true, true
	w.mu.Unlock()
	w.pw.CloseWithError(ErrAborted)
	<-w.done
	w.stop()
	if w.err == nil {
		// The store published although the body failed: a Store that
		// breaks its contract. Say so rather than claim an abort.
		return NewError("put", w.key, nil, errors.New("the store published an aborted write"))
	}
	return nil
}

// Object returns the stored object's attributes after a successful
// Close, and the zero Object otherwise.
func (w *Writer) Object() Object {
	select {
	case <-w.done:
		if w.err == nil && !w.wasAborted() {
			return w.obj
		}
	default:
	}
	return Object{}
}
