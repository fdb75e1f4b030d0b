package ossstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"

	"github.com/tierfs/tierfs/internal/s3test"
	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/ossstore"
	"github.com/tierfs/tierfs/objstore/storetest"
)

func TestNewValidation(t *testing.T) {
	t.Parallel()
	ok := func(o ossstore.Options) *ossstore.Options { return &o }
	cases := []struct {
		name           string
		bucket, prefix string
		opts           *ossstore.Options
	}{
		{"bad bucket", "Bad_Bucket", "", ok(ossstore.Options{Region: "cn-hangzhou"})},
		{"bad prefix", "bucket", "a//b", ok(ossstore.Options{Region: "cn-hangzhou"})},
		{"no region", "bucket", "", nil},
		{"endpoint without region", "bucket", "", ok(ossstore.Options{Endpoint: "http://127.0.0.1:1"})},
		{"bad region", "bucket", "", ok(ossstore.Options{Region: "CN hangzhou"})},
		{"bad endpoint", "bucket", "", ok(ossstore.Options{Region: "x", Endpoint: "http://h/path"})},
		{"small part", "bucket", "", ok(ossstore.Options{Region: "x", PartSize: ossstore.MinPartSize - 1})},
		{"huge part", "bucket", "", ok(ossstore.Options{Region: "x", PartSize: ossstore.MaxPartSize + 1})},
		{"negative part", "bucket", "", ok(ossstore.Options{Region: "x", PartSize: -1})},
		{"negative concurrency", "bucket", "", ok(ossstore.Options{Region: "x", Concurrency: -1})},
		{"negative delay", "bucket", "", ok(ossstore.Options{Region: "x", Retry: objstore.RetryPolicy{BaseDelay: -1}})},
	}
	for _, c := range cases {
		s, err := ossstore.New(t.Context(), c.bucket, c.prefix, c.opts)
		if !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("%s: New = %v, %v; want fs.ErrInvalid", c.name, s, err)
		}
	}
	// The region can come from an OSS endpoint; a given Client needs nothing.
	for _, o := range []*ossstore.Options{
		{Endpoint: "oss-cn-shanghai.aliyuncs.com"},
		{Region: "cn-shanghai"},
		{Client: oss.NewClient(oss.NewConfig())},
	} {
		s, err := ossstore.New(t.Context(), "bucket", "p/", o)
		if err != nil {
			t.Errorf("New(%+v): %v", o, err)
			continue
		}
		if s.Prefix() != "p/" || s.Bucket() != "bucket" {
			t.Errorf("New: bucket %q prefix %q", s.Bucket(), s.Prefix())
		}
		s.Close()
	}
}

func TestAsAndClose(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t, s3test.Config{})
	s, _ := newStore(t, srv, "")
	var c *oss.Client
	if !s.As(&c) || c == nil {
		t.Fatal("As(**oss.Client) failed")
	}
	var wrong *http.Client
	if s.As(&wrong) {
		t.Error("As(**http.Client) succeeded")
	}
	if _, err := s.Put(t.Context(), "k", strings.NewReader("data"), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	r, err := s.NewRangeReader(t.Context(), "k", 0, -1, objstore.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.Stat(t.Context(), "k"); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Stat after Close: %v, want fs.ErrClosed", err)
	}
	if _, err := s.List(t.Context(), objstore.ListOptions{}); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("List after Close: %v, want fs.ErrClosed", err)
	}
	if b, err := io.ReadAll(r); err != nil || string(b) != "data" {
		t.Errorf("a Reader opened before Close: %q, %v", b, err)
	}
}

// TestFaults checks how service errors and retries surface.
func TestFaults(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t, s3test.Config{})
	s, bucket := newStore(t, srv, "")
	if _, err := s.Put(t.Context(), "k", strings.NewReader("data"), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	// Denied: fs.ErrPermission on every method.
	srv.InjectFault(s3test.Fault{Kind: s3test.Deny, Bucket: bucket, Times: -1})
	_, err := s.Stat(ctx, "k")
	checkIs(t, "Stat", err, fs.ErrPermission)
	_, err = s.NewRangeReader(ctx, "k", 0, -1, objstore.ReadOptions{})
	checkIs(t, "NewRangeReader", err, fs.ErrPermission)
	_, err = s.NewRangeReader(ctx, "k", 0, 0, objstore.ReadOptions{})
	checkIs(t, "NewRangeReader length 0", err, fs.ErrPermission)
	_, err = s.List(ctx, objstore.ListOptions{})
	checkIs(t, "List", err, fs.ErrPermission)
	_, err = s.Put(ctx, "k2", strings.NewReader("x"), objstore.PutOptions{})
	checkIs(t, "Put", err, fs.ErrPermission)
	checkIs(t, "Delete", s.Delete(ctx, "k"), fs.ErrPermission)
	var se *oss.ServiceError
	if !errors.As(err, &se) && !errors.As(s.Delete(ctx, "k"), &se) {
		t.Error("errors.As(*oss.ServiceError) failed")
	}
	srv.ClearFaults()

	// One 500 or 503: the SDK retries it.
	for _, kind := range []s3test.FaultKind{s3test.InternalError, s3test.SlowDown} {
		srv.ResetStats()
		srv.InjectFault(s3test.Fault{Kind: kind, Method: "GET", Bucket: bucket, Key: "k", Times: 1})
		b, err := readAll(ctx, s, "k")
		if err != nil || string(b) != "data" {
			t.Errorf("read after one %v: %q, %v", kind, b, err)
		}
		if got := srv.Stats(bucket, "k").Gets; got != 2 {
			t.Errorf("after one %v: %d GETs, want 2 (one retry by the SDK)", kind, got)
		}
	}
	// Endless 500s: an error without a sentinel, after the SDK's attempts.
	srv.InjectFault(s3test.Fault{Kind: s3test.InternalError, Method: "GET", Bucket: bucket, Key: "k", Times: -1})
	_, err = readAll(ctx, s, "k")
	if err == nil || errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) || errors.Is(err, objstore.ErrChanged) {
		t.Errorf("read under endless 500s: %v", err)
	}
	srv.ClearFaults()

	// A missing bucket is fs.ErrNotExist.
	gone, err := ossstore.New(ctx, "no-such-bucket", "", testOptions(srv))
	if err != nil {
		t.Fatal(err)
	}
	_, err = gone.Stat(ctx, "k")
	checkIs(t, "Stat in a missing bucket", err, fs.ErrNotExist)
	_, err = gone.List(ctx, objstore.ListOptions{})
	checkIs(t, "List of a missing bucket", err, fs.ErrNotExist)
}

func checkIs(t *testing.T, op string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: err = %v, want %v", op, err, target)
	}
}

func readAll(ctx context.Context, s objstore.Store, key string) ([]byte, error) {
	r, err := s.NewRangeReader(ctx, key, 0, -1, objstore.ReadOptions{})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// TestNoCredentialsInErrors opens a store the way a user does, with keys in
// the environment, and checks that no error of any kind shows them.
func TestNoCredentialsInErrors(t *testing.T) {
	const (
		id     = "LTAIsecretKeyID7f3a9"
		secret = "Sup3rS3cretAccessKeySecretValue"
		token  = "CAIS-sts-session-token-value-91x"
	)
	t.Setenv("OSS_ACCESS_KEY_ID", id)
	t.Setenv("OSS_ACCESS_KEY_SECRET", secret)
	t.Setenv("OSS_SESSION_TOKEN", token)
	srv := s3test.Start(t, s3test.Config{})
	bucket := newBucket(t, srv)
	ctx := t.Context()
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	_, err := objstore.Open(ctx, "oss://"+id+":"+secret+"@"+bucket+"/p")
	add(err)
	_, err = objstore.Open(ctx, "oss://"+bucket+"/p?endpoint=http://"+id+":"+secret+"@127.0.0.1:1&region=x")
	add(err)
	st, err := objstore.Open(ctx, "oss://"+bucket+"/p?endpoint="+srv.URL()+"&region=cn-hangzhou&path_style=true")
	if err != nil {
		t.Fatal(err)
	}
	defer st.(io.Closer).Close()
	if _, err := st.Put(ctx, "k", strings.NewReader("data"), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = st.Stat(ctx, "missing")
	add(err)
	_, err = st.NewRangeReader(ctx, "missing", 0, -1, objstore.ReadOptions{})
	add(err)
	_, err = st.NewRangeReader(ctx, "k", 0, 10, objstore.ReadOptions{Version: objstore.Version{ETag: "stale"}})
	add(err)
	_, err = st.NewRangeReader(ctx, "k", 5, 10, objstore.ReadOptions{})
	add(err)
	srv.InjectFault(s3test.Fault{Kind: s3test.Deny, Bucket: bucket, Times: -1})
	_, err = st.Stat(ctx, "k")
	add(err)
	_, err = st.List(ctx, objstore.ListOptions{})
	add(err)
	_, err = st.Put(ctx, "k", strings.NewReader("x"), objstore.PutOptions{})
	add(err)
	add(st.Delete(ctx, "k"))
	srv.ClearFaults()
	srv.InjectFault(s3test.Fault{Kind: s3test.InternalError, Bucket: bucket, Times: -1})
	_, err = st.Stat(ctx, "k") // after the SDK's retries
	add(err)
	srv.ClearFaults()
	if _, err := st.Put(ctx, "big", bytes.NewReader(storetest.Data(1, 100_000)), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	srv.InjectFault(s3test.Fault{Kind: s3test.ResetAfter, Method: "GET", Bucket: bucket, Key: "p/big", AfterBytes: 10_000, Times: -1})
	_, err = readAll(ctx, st, "big")
	if err == nil {
		t.Error("read with endless cuts succeeded")
	}
	add(err)
	srv.ClearFaults()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = st.Stat(cctx, "k")
	add(err)
	// Without keys in the environment, requests fail (the SDK's provider
	// says so) and say nothing of the keys.
	t.Setenv("OSS_ACCESS_KEY_SECRET", "")
	_, err = st.Stat(ctx, "k")
	if err == nil {
		t.Error("Stat without a secret in the environment succeeded")
	}
	add(err)
	if len(errs) < 13 {
		t.Fatalf("only %d errors collected", len(errs))
	}
	for _, err := range errs {
		for _, form := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
			for _, c := range []string{id, secret, token} {
				if strings.Contains(form, c) {
					t.Errorf("error shows a credential: %s", form)
				}
			}
		}
	}
}

// TestMultipartAborts checks that failed multipart uploads leave no upload
// behind, also when the caller's context is cancelled mid-way.
func TestMultipartAborts(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t, s3test.Config{})
	s, bucket := newStore(t, srv, "")
	var c *oss.Client
	s.As(&c)
	pending := func() int {
		t.Helper()
		res, err := c.ListMultipartUploads(t.Context(), &oss.ListMultipartUploadsRequest{Bucket: oss.Ptr(bucket)})
		if err != nil {
			t.Fatal(err)
		}
		return len(res.Uploads)
	}
	data := storetest.Data(1, 1<<20)

	// Too long and too short for the given size.
	for _, size := range []int64{1<<20 - 1, 1<<20 + 1} {
		_, err := s.Put(t.Context(), "big", bytes.NewReader(data), objstore.PutOptions{Size: size})
		checkIs(t, fmt.Sprintf("Put 1 MiB as %d", size), err, fs.ErrInvalid)
	}
	// Cancelled after several parts.
	ctx, cancel := context.WithCancel(t.Context())
	body := &cancelAfter{r: bytes.NewReader(data), n: 600 << 10, cancel: cancel}
	_, err := s.Put(ctx, "big", body, objstore.PutOptions{})
	checkIs(t, "Put cancelled mid-way", err, context.Canceled)
	if n := pending(); n != 0 {
		t.Errorf("%d multipart uploads left behind", n)
	}
	if _, err := s.Stat(t.Context(), "big"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Stat after failed uploads: %v", err)
	}

	// A part that fails on the server fails the Put (after the SDK's
	// retries) and is aborted too.
	srv.InjectFault(s3test.Fault{Kind: s3test.InternalError, Method: "PUT", Bucket: bucket, Key: "big", Times: -1, SkipFirst: 1})
	_, err = s.Put(t.Context(), "big", bytes.NewReader(data), objstore.PutOptions{Size: int64(len(data))})
	if err == nil {
		t.Error("Put with failing parts succeeded")
	}
	srv.ClearFaults()
	if n := pending(); n != 0 {
		t.Errorf("%d multipart uploads left behind", n)
	}

	// And a good one, with a content type.
	obj, err := s.Put(t.Context(), "big", bytes.NewReader(data), objstore.PutOptions{Size: int64(len(data)), ContentType: "application/x-test"})
	if err != nil {
		t.Fatal(err)
	}
	h, err := c.HeadObject(t.Context(), &oss.HeadObjectRequest{Bucket: oss.Ptr(bucket), Key: oss.Ptr("big")})
	if err != nil {
		t.Fatal(err)
	}
	if oss.ToString(h.ContentType) != "application/x-test" || obj.Size != int64(len(data)) {
		t.Errorf("stored content type %q size %d", oss.ToString(h.ContentType), obj.Size)
	}
}

// cancelAfter cancels a context once n bytes were read from it.
type cancelAfter struct {
	r      io.Reader
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	if c.n <= 0 {
		c.cancel()
		return 0, context.Canceled
	}
	p = p[:min(len(p), c.n)]
	n, err := c.r.Read(p)
	c.n -= n
	return n, err
}

// wire is a fake OSS endpoint for checking what goes over the wire and how
// odd answers are handled.
type wire struct {
	mu   sync.Mutex
	reqs []*http.Request // guarded by mu
	// answer writes the response to each request.
	answer func(w http.ResponseWriter, r *http.Request)
}

func (f *wire) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.reqs = append(f.reqs, r.Clone(context.Background()))
	f.mu.Unlock()
	f.answer(w, r)
}

func (f *wire) last() *http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqs[len(f.reqs)-1]
}

func wireStore(t *testing.T, answer func(w http.ResponseWriter, r *http.Request)) (*ossstore.Store, *wire) {
	f := &wire{answer: answer}
	hs := httptest.NewServer(f)
	t.Cleanup(hs.Close)
	s, err := ossstore.New(t.Context(), "bucket", "pre", &ossstore.Options{
		Endpoint: hs.URL, Region: "cn-hangzhou", PathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("id", "secret"),
		Retry:       objstore.RetryPolicy{MaxResumes: -1},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, f
}

func TestWireRangeRead(t *testing.T) {
	t.Parallel()
	const body = "0123456789"
	s, f := wireStore(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"E1"`)
		w.Header().Set("x-oss-version-id", "V1")
		w.Header().Set("Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT")
		w.Header().Set("Content-Range", "bytes 2-5/10")
		w.Header().Set("Content-Length", "4")
		w.WriteHeader(http.StatusPartialContent)
		io.WriteString(w, body[2:6])
	})
	r, err := s.NewRangeReader(t.Context(), "k", 2, 4, objstore.ReadOptions{Version: objstore.Version{ETag: "E1", ID: "V1"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	r.Close()
	if err != nil || string(b) != "2345" {
		t.Fatalf("read %q, %v", b, err)
	}
	if o := r.Object(); o.Size != 10 || o.Version != (objstore.Version{ETag: "E1", ID: "V1"}) || o.ModTime.IsZero() {
		t.Errorf("Object() = %+v", o)
	}
	req := f.last()
	for h, want := range map[string]string{"Range": "bytes=2-5", "If-Match": `"E1"`, "X-Oss-Range-Behavior": "standard"} {
		if got := req.Header.Get(h); got != want {
			t.Errorf("request header %s = %q, want %q", h, got, want)
		}
	}
	if req.URL.Path != "/bucket/pre/k" || req.URL.Query().Get("versionId") != "V1" {
		t.Errorf("request %s", req.URL)
	}
	if strings.Contains(req.URL.RawQuery, "secret") || req.Header.Get("Authorization") == "" {
		t.Errorf("request not signed in headers: %s %v", req.URL, req.Header)
	}
	// A response of another version than the pin: ErrChanged, whatever
	// the server thought of If-Match.
	_, err = s.NewRangeReader(t.Context(), "k", 2, 4, objstore.ReadOptions{Version: objstore.Version{ETag: "E0"}})
	checkIs(t, "read pinned to another ETag", err, objstore.ErrChanged)
	_, err = s.NewRangeReader(t.Context(), "k", 2, 4, objstore.ReadOptions{Version: objstore.Version{ID: "V0"}})
	checkIs(t, "read pinned to another version id", err, objstore.ErrChanged)
}

// TestWireIgnoredRange: a server that ignores Range (OSS's default for an
// unsatisfiable one) and sends the whole object with 200 must not have its
// first bytes taken for the range.
func TestWireIgnoredRange(t *testing.T) {
	t.Parallel()
	s, _ := wireStore(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"E1"`)
		io.WriteString(w, "0123456789")
	})
	if _, err := s.NewRangeReader(t.Context(), "k", 3, 2, objstore.ReadOptions{}); err == nil {
		t.Error("a 200 with the whole object was taken for bytes 3-4")
	}
	b, err := readAll(t.Context(), s, "k")
	if err != nil || string(b) != "0123456789" {
		t.Errorf("whole read from a 200: %q, %v", b, err)
	}
}

// TestWireEmptyPut: an empty object goes with Content-Length: 0, not as a
// chunked body, which servers requiring a length refuse.
func TestWireEmptyPut(t *testing.T) {
	t.Parallel()
	s, f := wireStore(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"d41d8cd98f00b204e9800998ecf8427e"`)
		w.WriteHeader(http.StatusOK)
	})
	obj, err := s.Put(t.Context(), "empty", strings.NewReader(""), objstore.PutOptions{})
	if err != nil || obj.Size != 0 || obj.Version.ETag != "d41d8cd98f00b204e9800998ecf8427e" {
		t.Fatalf("Put = %+v, %v", obj, err)
	}
	req := f.last()
	if req.ContentLength != 0 || len(req.TransferEncoding) != 0 {
		t.Errorf("empty PUT sent with length %d, transfer encoding %q", req.ContentLength, req.TransferEncoding)
	}
}
