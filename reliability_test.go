package tierfs_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"math"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tierfs/tierfs"
	"github.com/tierfs/tierfs/internal/s3test"
	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/s3store"
	"github.com/tierfs/tierfs/objstore/storetest"
)

// TestBentOrigin reads through an origin that sends no Content-Length,
// ignores Range, or sends no ETag (issue 11, findings 1 and 2): Stat,
// Open and ReadFile fail with objstore.ErrBadResponse instead of
// reporting size 0, reading 0 of 300,000 bytes, or reading unpinned.
func TestBentOrigin(t *testing.T) {
	srv, s3s := s3Store(t, s3test.Shaping{})
	data := storetest.Data(40, 300_000)
	bends := map[string]s3test.Bending{
		"no-length":     {NoLength: true},
		"chunked-whole": {NoLength: true, IgnoreRange: true},
		"no-etag":       {NoETag: true},
	}
	for name, b := range bends {
		if _, err := s3s.Put(t.Context(), name, bytes.NewReader(data), objstore.PutOptions{Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		srv.BendReads("test", "root/"+name, b)
	}
	for cfg, opts := range configs(t) {
		fsys := newFS(t, s3s, opts...)
		for name := range bends {
			if fi, err := fsys.Stat(name); !errors.Is(err, objstore.ErrBadResponse) {
				t.Errorf("%s: Stat(%s) = %v, %v; want ErrBadResponse", cfg, name, fi, err)
			}
			// Ranged GETs whose Content-Range tells the size may serve
			// the exact bytes; nothing else may.
			got, err := fsys.ReadFile(name)
			if !errors.Is(err, objstore.ErrBadResponse) && (err != nil || !bytes.Equal(got, data)) {
				t.Errorf("%s: ReadFile(%s) = %d bytes, %v; want the exact bytes or ErrBadResponse", cfg, name, len(got), err)
			}
			f, err := fsys.Open(name)
			if err != nil {
				if !errors.Is(err, objstore.ErrBadResponse) {
					t.Errorf("%s: Open(%s) = %v; want ErrBadResponse", cfg, name, err)
				}
				continue
			}
			if name == "no-etag" {
				t.Errorf("%s: Open(%s) opened a file that cannot be pinned", cfg, name)
			}
			got, err = io.ReadAll(f)
			f.Close()
			if !errors.Is(err, objstore.ErrBadResponse) && (err != nil || !bytes.Equal(got, data)) {
				t.Errorf("%s: reading %s = %d bytes, %v; want the exact bytes or ErrBadResponse", cfg, name, len(got), err)
			}
		}
	}
}

// versionless is a Store that reports no version for any object, as a
// Store outside this module might.
type versionless struct{ objstore.Store }

func (v versionless) Stat(ctx context.Context, key string) (objstore.Object, error) {
	o, err := v.Store.Stat(ctx, key)
	o.Version = objstore.Version{}
	return o, err
}

func (v versionless) NewRangeReader(ctx context.Context, key string, off, length int64, opts objstore.ReadOptions) (*objstore.Reader, error) {
	open := func(ctx context.Context, off, length int64, ver objstore.Version) (io.ReadCloser, objstore.Object, error) {
		r, err := v.Store.NewRangeReader(ctx, key, off, length, objstore.ReadOptions{Version: ver, Clamp: opts.Clamp})
		if err != nil {
			return nil, objstore.Object{}, err
		}
		o := r.Object()
		o.Version = objstore.Version{}
		return r, o, nil
	}
	return objstore.NewReader(ctx, key, off, length, opts, objstore.RetryPolicy{}, open)
}

// TestVersionlessStore: an FS over a Store that reports no versions
// refuses to open its files (they could not be kept to one version).
func TestVersionlessStore(t *testing.T) {
	fsys := newFS(t, versionless{mustMem(t, testFiles)})
	if _, err := fsys.Stat("dir/a.bin"); !errors.Is(err, objstore.ErrBadResponse) {
		t.Errorf("Stat: %v, want ErrBadResponse", err)
	}
	if got, err := fsys.ReadFile("hello.txt"); !errors.Is(err, objstore.ErrBadResponse) {
		t.Errorf("ReadFile = %q, %v; want ErrBadResponse", got, err)
	}
	if _, err := fsys.Open("dir/a.bin"); !errors.Is(err, objstore.ErrBadResponse) {
		t.Errorf("Open: %v, want ErrBadResponse", err)
	}
	var pe *fs.PathError
	if _, err := fsys.Open("dir/a.bin"); !errors.As(err, &pe) {
		t.Errorf("Open: %v is no *fs.PathError", err)
	}
}

// TestOpenURLSecrets: a secret put in a store URL's query, by mistake or
// inside the endpoint, never shows in Open's error (issue 11, finding 4).
func TestOpenURLSecrets(t *testing.T) {
	const secret = "wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY"
	for _, u := range []string{
		"s3://bucket/p?aws_secret_access_key=" + secret,
		"s3://bucket/p?password=" + secret,
		"oss://bucket/p?region=cn-hangzhou&token=" + secret,
		"s3://bucket/p?endpoint=" + url.QueryEscape("https://h.example/?X-Amz-Signature="+secret) + "&nope=1",
		"oss://bucket/p?endpoint=" + url.QueryEscape("https://h.example/?X-Amz-Signature="+secret) + "&nope=1",
		"s3://bucket/p?region=" + secret + "&region=x",
		"s3://bucket/p?path_style=" + secret,
		"mem://x?key=" + secret,
		"file:///tmp/x?key=" + secret,
		"nosuch://bucket?key=" + secret,
	} {
		fsys, err := tierfs.Open(t.Context(), u)
		if err == nil {
			fsys.Close()
			t.Errorf("Open(%.40s…) succeeded", u)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("Open: error %q holds the secret", err)
		}
		if !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Open(%.40s…): %v, want fs.ErrInvalid", u, err)
		}
	}
}

// returns runs fn and fails the test if it has not returned within a
// watchdog's time: calls that hung before their bound existed must now
// return on their own, well before it.
func returns(t *testing.T, what string, fn func()) {
	t.Helper()
	returnsWithin(t, what, 20*time.Second, fn)
}

// returnsWithin is returns with a watchdog of d.
func returnsWithin(t *testing.T, what string, d time.Duration, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s: still blocked after %v", what, d)
	}
}

// TestMetadataTimeout: against a store that accepts requests and never
// answers (and an SDK client without a header timeout), Open, Stat,
// ReadFile and ReadDir fail with context.DeadlineExceeded once
// WithMetadataTimeout has passed (issue 11, finding 3).
func TestMetadataTimeout(t *testing.T) {
	srv, s3s := s3Store(t, s3test.Shaping{})
	fsys := newFS(t, s3s, tierfs.WithMetadataTimeout(100*time.Millisecond))
	srv.InjectFault(s3test.Fault{Kind: s3test.Hang, Times: -1})
	for name, call := range map[string]func() error{
		"Open":     func() error { _, err := fsys.Open("x"); return err },
		"Stat":     func() error { _, err := fsys.Stat("x"); return err },
		"ReadFile": func() error { _, err := fsys.ReadFile("x"); return err },
		"ReadDir":  func() error { _, err := fsys.ReadDir("."); return err },
	} {
		returns(t, name, func() {
			if err := call(); !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s: %v, want context.DeadlineExceeded", name, err)
			}
		})
	}
}

// TestCloseEndsOpenContext: a read of a file opened with a context of
// its own, blocked on a store that never answers, ends when the FS is
// closed, with an error wrapping fs.ErrClosed (issue 11, findings 3 and
// 5: it outlived Close, and said "context canceled").
func TestCloseEndsOpenContext(t *testing.T) {
	srv, s3s := s3Store(t, s3test.Shaping{})
	data := storetest.Data(41, 300_000)
	if _, err := s3s.Put(t.Context(), "f", bytes.NewReader(data), objstore.PutOptions{Size: int64(len(data))}); err != nil {
		t.Fatal(err)
	}
	fsys, err := tierfs.New(s3s, tierfs.WithMemoryCache(0), tierfs.WithBlockSize(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	f, err := fsys.OpenContext(context.Background(), "f")
	if err != nil {
		t.Fatal(err)
	}
	hung := make(chan struct{}, 1)
	srv.InjectFault(s3test.Fault{Kind: s3test.Hang, Method: "GET", Times: -1, Applied: hung})
	readErr := make(chan error, 1)
	go func() {
		_, err := f.(io.ReaderAt).ReadAt(make([]byte, 1000), 250_000)
		readErr <- err
	}()
	// Wait for the read's GET to reach the server and hang there.
	select {
	case <-hung:
	case <-time.After(10 * time.Second):
		t.Fatal("the read's GET never reached the server")
	}
	returns(t, "Close", func() {
		if err := fsys.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	returns(t, "ReadAt", func() {
		if err := <-readErr; !errors.Is(err, fs.ErrClosed) {
			t.Errorf("ReadAt cut short by Close: %v, want fs.ErrClosed", err)
		}
	})
	f.Close()
}

// TestSeekOverflow: a seek past the largest offset says so, not
// "negative position" (issue 11, finding 5).
func TestSeekOverflow(t *testing.T) {
	fsys := newFS(t, mustMem(t, testFiles))
	f, err := fsys.Open("hello.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sk := f.(io.Seeker)
	if _, err := sk.Seek(10, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	for _, whence := range []int{io.SeekCurrent, io.SeekEnd} {
		_, err := sk.Seek(math.MaxInt64, whence)
		if !errors.Is(err, fs.ErrInvalid) || !strings.Contains(err.Error(), "overflows") {
			t.Errorf("Seek(MaxInt64, %d): %v, want fs.ErrInvalid saying it overflows", whence, err)
		}
	}
	if pos, err := sk.Seek(0, io.SeekCurrent); err != nil || pos != 10 {
		t.Errorf("after failed seeks the offset is %d, %v; want 10", pos, err)
	}
}

// TestFileBesideDir: an object x beside keys x/… is listed once, as a
// file, and after the listing ReadFile("x") still reads it (issue 11,
// finding 5: it was listed twice and then read as a directory).
func TestFileBesideDir(t *testing.T) {
	files := map[string][]byte{"x": []byte("file x"), "x/y": []byte("y"), "x-1": []byte("between"), "z": []byte("z")}
	_, s3s := s3Store(t, s3test.Shaping{})
	for k, v := range files {
		if _, err := s3s.Put(t.Context(), k, bytes.NewReader(v), objstore.PutOptions{Size: int64(len(v))}); err != nil {
			t.Fatal(err)
		}
	}
	// A file store cannot hold x beside x/y.
	for name, s := range map[string]objstore.Store{"mem": mustMem(t, files), "s3": s3s} {
		{
			fsys := newFS(t, s)
			entries, err := fsys.ReadDir(".")
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
				if e.Name() == "x" && e.IsDir() {
					t.Errorf("%s: x listed as a directory", name)
				}
			}
			if strings.Join(names, " ") != "x x-1 z" {
				t.Errorf("%s: ReadDir(.) = %q, want [x x-1 z]", name, names)
			}
			if b, err := fsys.ReadFile("x"); err != nil || string(b) != "file x" {
				t.Errorf("%s: ReadFile(x) after the listing = %q, %v", name, b, err)
			}
			if b, err := fsys.ReadFile("x/y"); err != nil || string(b) != "y" {
				t.Errorf("%s: ReadFile(x/y) = %q, %v", name, b, err)
			}
		}
	}
}

// TestChangedForgetsName: under ReadOnly, a read that finds its version
// gone (objstore.ErrChanged) drops the name from the metadata cache, so
// the next Open reads the new version (issue 11, finding 6: every later
// Open failed until a Refresh that dropped all metadata). Forget does the
// same for one name on demand.
func TestChangedForgetsName(t *testing.T) {
	ms := mustMem(t, map[string][]byte{"a": storetest.Data(50, 200_000), "b": []byte("b1")})
	fsys := newFS(t, ms, tierfs.WithMemoryCache(0))
	if _, err := fsys.Stat("a"); err != nil {
		t.Fatal(err)
	}
	v2 := storetest.Data(51, 200_000)
	if _, err := ms.Put(t.Context(), "a", bytes.NewReader(v2), objstore.PutOptions{Size: int64(len(v2))}); err != nil {
		t.Fatal(err)
	}
	if _, err := fsys.ReadFile("a"); !errors.Is(err, objstore.ErrChanged) {
		t.Fatalf("ReadFile of a replaced version: %v, want objstore.ErrChanged", err)
	}
	if got, err := fsys.ReadFile("a"); err != nil || !bytes.Equal(got, v2) {
		t.Errorf("ReadFile after ErrChanged: %d bytes, %v; want the new version", len(got), err)
	}

	// Forget: the next Stat asks the store.
	if fi, err := fsys.Stat("b"); err != nil || fi.Size() != 2 {
		t.Fatal(fi, err)
	}
	if _, err := ms.Put(t.Context(), "b", strings.NewReader("b-two"), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := fsys.Stat("b"); fi.Size() != 2 {
		t.Fatalf("ReadOnly revalidated b by itself (size %d): the test checks nothing", fi.Size())
	}
	fsys.Forget("b")
	if fi, err := fsys.Stat("b"); err != nil || fi.Size() != 5 {
		t.Errorf("Stat after Forget: %v, %v; want size 5", fi, err)
	}
}

// TestMissingBucket: a store whose bucket does not exist says so, with
// fs.ErrNotExist, rather than reporting a failed listing of the name
// looked up (issue 11, finding 5).
func TestMissingBucket(t *testing.T) {
	srv := s3test.Start(t, s3test.Config{})
	client := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL()), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	s, err := s3store.New(t.Context(), "no-such-bucket", "", &s3store.Options{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	fsys := newFS(t, s)
	for name, call := range map[string]func() error{
		"Stat":    func() error { _, err := fsys.Stat("x"); return err },
		"Open":    func() error { _, err := fsys.Open("x"); return err },
		"ReadDir": func() error { _, err := fsys.ReadDir("."); return err },
	} {
		err := call()
		if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "bucket or root does not exist") {
			t.Errorf("%s on a missing bucket: %v; want fs.ErrNotExist saying the bucket is missing", name, err)
		}
	}
}
