package objstore

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// fakeObject serves ranges of data and can cut, stall or change.
type fakeObject struct {
	mu      sync.Mutex // guards every field below
	data    []byte
	version Version
	cuts    []int64 // bytes each successive body delivers before failing; -1 = whole
	stall   bool    // the next body blocks forever after its first byte
	opens   int
	openErr error // returned by the next re-open
}

type cutBody struct {
	r       io.Reader
	left    int64 // bytes before the cut, or -1
	stall   bool
	closed  chan struct{}
	closeMu sync.Once
}

func (b *cutBody) Read(p []byte) (int, error) {
	select {
	case <-b.closed:
		return 0, errors.New("read on closed body")
	default:
	}
	if b.left == 0 {
		if b.stall {
			<-b.closed
			return 0, errors.New("read on closed body")
		}
		return 0, errors.New("connection reset by peer")
	}
	if b.left > 0 && int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	if b.left > 0 {
		b.left -= int64(n)
	}
	return n, err
}

func (b *cutBody) Close() error {
	b.closeMu.Do(func() { close(b.closed) })
	return nil
}

func (f *fakeObject) open(ctx context.Context, off, length int64, v Version) (io.ReadCloser, Object, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opens++
	if err := ctx.Err(); err != nil {
		return nil, Object{}, err
	}
	if err := f.openErr; err != nil {
		f.openErr = nil
		return nil, Object{}, err
	}
	obj := Object{Key: "k", Size: int64(len(f.data)), Version: f.version}
	if !v.Matches(f.version) {
		return nil, Object{}, NewError("read", "k", ErrChanged, nil)
	}
	if off > int64(len(f.data)) {
		return nil, Object{}, NewError("read", "k", fs.ErrInvalid, nil)
	}
	end := int64(len(f.data))
	if length >= 0 {
		end = min(end, off+length)
	}
	b := &cutBody{r: bytes.NewReader(f.data[off:end]), left: -1, closed: make(chan struct{})}
	if len(f.cuts) > 0 {
		b.left, f.cuts = f.cuts[0], f.cuts[1:]
	}
	if f.stall {
		b.left, b.stall, f.stall = 1, true, false
	}
	return b, obj, nil
}

func testData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

func TestReaderResumesCutBodies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeObject{data: testData(10_000), version: Version{ETag: "e1"}, cuts: []int64{100, 0, 2500}}
		r, err := NewReader(t.Context(), "k", 50, 9000, ReadOptions{}, RetryPolicy{}, f.open)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, f.data[50:9050]) {
			t.Fatal("wrong bytes after resumes")
		}
		if r.Resumes() != 3 || f.opens != 4 {
			t.Errorf("Resumes() = %d, opens = %d; want 3 and 4", r.Resumes(), f.opens)
		}
	})
}

func TestReaderGivesUpWithError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeObject{data: testData(1000), version: Version{ETag: "e1"}, cuts: []int64{10, 10, 10, 10}}
		r, err := NewReader(t.Context(), "k", 0, -1, ReadOptions{}, RetryPolicy{MaxResumes: 3}, f.open)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err == nil {
			t.Fatalf("read %d bytes and no error, want an error", len(got))
		}
		if len(got) != 40 || !bytes.Equal(got, f.data[:40]) {
			t.Errorf("got %d bytes before failing, want the 40 exact bytes received", len(got))
		}
		if _, err2 := r.Read(make([]byte, 1)); err2 == nil {
			t.Error("Read after a final failure succeeded")
		}
	})
}

func TestReaderShortBodyIsNotSuccess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A body that ends with io.EOF before its length is a cut, not the end.
		f := &fakeObject{data: testData(1000), version: Version{ETag: "e1"}}
		short := func(ctx context.Context, off, length int64, v Version) (io.ReadCloser, Object, error) {
			body, obj, err := f.open(ctx, off, length, v)
			if err != nil {
				return nil, obj, err
			}
			return struct {
				io.Reader
				io.Closer
			}{io.LimitReader(body, 100), body}, obj, nil
		}
		r, err := NewReader(t.Context(), "k", 0, -1, ReadOptions{}, RetryPolicy{MaxResumes: 2}, short)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("err = %v, want io.ErrUnexpectedEOF in the chain", err)
		}
		if len(got) != 300 {
			t.Errorf("got %d bytes, want 300 (three bodies of 100)", len(got))
		}
	})
}

func TestReaderVersionChangeOnResume(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeObject{data: testData(1000), version: Version{ETag: "e1"}, cuts: []int64{100}}
		r, err := NewReader(t.Context(), "k", 0, -1, ReadOptions{}, RetryPolicy{}, f.open)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 100)
		if _, err := io.ReadFull(r, buf); err != nil {
			t.Fatal(err)
		}
		f.mu.Lock()
		f.version = Version{ETag: "e2"}
		f.mu.Unlock()
		_, err = io.ReadAll(r)
		if !errors.Is(err, ErrChanged) {
			t.Errorf("err = %v, want ErrChanged", err)
		}
	})
}

func TestReaderPinnedMismatch(t *testing.T) {
	f := &fakeObject{data: testData(10), version: Version{ETag: "new"}}
	// An opener that ignores the pin (as a server ignoring If-Match would):
	// the Reader still refuses the body.
	lax := func(ctx context.Context, off, length int64, v Version) (io.ReadCloser, Object, error) {
		return f.open(ctx, off, length, Version{})
	}
	_, err := NewReader(t.Context(), "k", 0, -1, ReadOptions{Version: Version{ETag: "old"}}, RetryPolicy{}, lax)
	if !errors.Is(err, ErrChanged) {
		t.Errorf("err = %v, want ErrChanged", err)
	}
}

func TestReaderStall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeObject{data: testData(5000), version: Version{ETag: "e1"}, stall: true}
		r, err := NewReader(t.Context(), "k", 0, -1, ReadOptions{}, RetryPolicy{StallTimeout: time.Second}, f.open)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, f.data) || r.Resumes() != 1 {
			t.Errorf("after a stall: %d bytes, %d resumes; want all bytes and 1 resume", len(got), r.Resumes())
		}
	})
}

func TestReaderCancel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		f := &fakeObject{data: testData(1000), version: Version{ETag: "e1"}, cuts: []int64{10}}
		r, err := NewReader(ctx, "k", 0, -1, ReadOptions{}, RetryPolicy{BaseDelay: time.Hour, MaxDelay: time.Hour}, f.open)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error)
		go func() {
			_, err := io.ReadAll(r)
			done <- err
		}()
		synctest.Wait() // the reader is now in its backoff
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
}

func TestReaderCloseAbortsStalledRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeObject{data: testData(1000), version: Version{ETag: "e1"}, stall: true}
		r, err := NewReader(t.Context(), "k", 0, -1, ReadOptions{}, RetryPolicy{StallTimeout: -1}, f.open)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error)
		go func() {
			_, err := io.ReadAll(r)
			done <- err
		}()
		synctest.Wait()
		r.Close()
		if err := <-done; err == nil {
			t.Error("Read aborted by Close returned no error")
		}
	})
}

func TestReaderBadArgs(t *testing.T) {
	f := &fakeObject{data: testData(100), version: Version{ETag: "e1"}}
	for _, c := range []struct {
		key         string
		off, length int64
	}{
		{"k", -1, 1}, {"k", 101, -1}, {"k", 50, 51}, {"k", 1 << 62, 1 << 62}, {"../k", 0, 1}, {"", 0, 1},
	} {
		if _, err := NewReader(t.Context(), c.key, c.off, c.length, ReadOptions{}, RetryPolicy{}, f.open); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("NewReader(%q, %d, %d): err = %v, want fs.ErrInvalid", c.key, c.off, c.length, err)
		}
	}
}
