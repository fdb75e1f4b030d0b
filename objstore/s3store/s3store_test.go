package s3store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/tierfs/tierfs/internal/s3test"
	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/s3store"
	"github.com/tierfs/tierfs/objstore/storetest"
)

// The real server the tests also run against; .ci/start-versitygw starts
// one and prints these.
const (
	envEndpoint = "TIERFS_TEST_S3_ENDPOINT"
	envAccess   = "TIERFS_TEST_S3_ACCESS_KEY"
	envSecret   = "TIERFS_TEST_S3_SECRET_KEY"
)

// Keys the fake server is given; it ignores them.
const (
	fakeAccess = "AKIAFAKETESTKEY00001"
	fakeSecret = "fake/secret+key/that/must/never/show"
)

// TestMain points the SDK's default credential chain, which New uses as a
// user's program would, at the test server's keys and nothing else: no
// profile, no shared files, no instance metadata.
func TestMain(m *testing.M) {
	access, secret := fakeAccess, fakeSecret
	if os.Getenv(envEndpoint) != "" {
		access, secret = os.Getenv(envAccess), os.Getenv(envSecret)
	}
	for _, k := range []string{"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3",
		"AWS_REQUEST_CHECKSUM_CALCULATION", "AWS_RESPONSE_CHECKSUM_VALIDATION", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN"} {
		os.Unsetenv(k)
	}
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           access,
		"AWS_SECRET_ACCESS_KEY":       secret,
		"AWS_REGION":                  "us-east-1",
		"AWS_CONFIG_FILE":             os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE": os.DevNull,
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		os.Setenv(k, v)
	}
	os.Exit(m.Run())
}

// fastRetry resumes cut bodies without the default backoff.
var fastRetry = objstore.RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}

// site is where one test store lives: its bucket and root prefix.
type site struct {
	bucket, prefix string
	fake           bool // on gofakes3, which has quirks of its own
}

// harness adapts stores on srv to storetest. newSite makes a fresh, empty
// root for each store; endpoint is what the stores talk to (srv's URL).
func harness(srv *s3test.Server, newSite func(t *testing.T) site) storetest.Harness {
	var sites sync.Map // *testing.T -> site
	var cuts atomic.Int64
	return storetest.Harness{
		New: func(t *testing.T) objstore.Store {
			st := newSite(t)
			s, err := s3store.New(t.Context(), st.bucket, st.prefix, &s3store.Options{
				Endpoint:  srv.URL(),
				PathStyle: true,
				PartSize:  s3store.MinPartSize,
				Retry:     fastRetry,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			sites.Store(t, site{bucket: s.Bucket(), prefix: s.Prefix(), fake: st.fake})
			return s
		},
		CutReads: func(t *testing.T, key string, after int64, times int) {
			v, ok := sites.Load(t)
			if !ok {
				t.Fatal("CutReads before New")
			}
			st := v.(site)
			kind := s3test.ResetAfter
			if cuts.Add(1)%2 == 0 {
				kind = s3test.EOFAfter
			}
			srv.InjectFault(s3test.Fault{Kind: kind, Method: "GET", Bucket: st.bucket, Key: st.prefix + key, AfterBytes: after, Times: times})
		},
		Bend: func(t *testing.T, key string, b storetest.Bend) bool {
			v, ok := sites.Load(t)
			if !ok {
				t.Fatal("Bend before New")
			}
			st := v.(site)
			if b.IgnoreRange && !st.fake {
				return false // the Range header is signed: a proxy cannot drop it
			}
			srv.BendReads(st.bucket, st.prefix+key, s3test.Bending(b))
			return true
		},
		MultipartSize: s3store.MinPartSize,
		ServerStats: func(t *testing.T) objstore.RequestStats {
			v, ok := sites.Load(t)
			if !ok {
				t.Fatal("ServerStats before New")
			}
			return srv.BucketStats(v.(site).bucket).RequestStats()
		},
		OpenUploads: func(t *testing.T) []string {
			v, ok := sites.Load(t)
			if !ok {
				t.Fatal("OpenUploads before New")
			}
			st := v.(site)
			if st.fake {
				// gofakes3 answers a bucket that never had an upload
				// with 404; s3test lists for it.
				keys, err := srv.OpenUploads(st.bucket, st.prefix)
				if err != nil {
					t.Fatal(err)
				}
				return keys
			}
			return openUploads(t, adminClient(t, srv.URL()), st)
		},
	}
}

// openUploads lists the multipart uploads open under st, through c.
func openUploads(t *testing.T, c *s3.Client, st site) []string {
	t.Helper()
	out, err := c.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: &st.bucket, Prefix: &st.prefix})
	if err != nil {
		t.Fatalf("list multipart uploads of %s: %v", st.bucket, err)
	}
	var keys []string
	for _, u := range out.Uploads {
		keys = append(keys, aws.ToString(u.Key))
	}
	return keys
}

// fakeServer starts the in-process gofakes3 server and returns it with a
// function making fresh buckets on it.
func fakeServer(t *testing.T) (*s3test.Server, func(t *testing.T) site) {
	srv := s3test.Start(t, s3test.Config{})
	var n atomic.Int64
	return srv, func(t *testing.T) site {
		b := fmt.Sprintf("tierfs-fake-%d", n.Add(1))
		if err := srv.CreateBucket(b); err != nil {
			t.Fatal(err)
		}
		return site{bucket: b, prefix: "root/dir/", fake: true}
	}
}

func TestConformanceFake(t *testing.T) {
	srv, newSite := fakeServer(t)
	storetest.Run(t, harness(srv, newSite))
}

// realServer returns the endpoint of the real S3 server named by the
// environment and a fresh bucket on it (removed with its objects at the
// end), or skips the test.
func realServer(t *testing.T) (endpoint, bucket string) {
	endpoint = os.Getenv(envEndpoint)
	if endpoint == "" {
		t.Skipf("SKIPPING tests against a real S3 server: %s is not set. Start one with\n\teval \"$(bash .ci/start-versitygw)\"\n(it sets %s, %s and %s).",
			envEndpoint, envEndpoint, envAccess, envSecret)
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	bucket = "tierfs-test-" + hex.EncodeToString(rnd[:])
	admin := adminClient(t, endpoint)
	if _, err := admin.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
	t.Cleanup(func() { emptyAndDelete(t, admin, bucket) })
	return endpoint, bucket
}

// adminClient returns the SDK client of a store built the ordinary way.
func adminClient(t *testing.T, endpoint string) *s3.Client {
	s, err := s3store.New(t.Context(), "tierfs-admin", "", &s3store.Options{Endpoint: endpoint, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	var c *s3.Client
	if !s.As(&c) {
		t.Fatal("As(**s3.Client) = false")
	}
	return c
}

func emptyAndDelete(t *testing.T, c *s3.Client, bucket string) {
	ctx := context.Background()
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &bucket})
	if err == nil {
		for _, u := range ups.Uploads {
			c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &bucket, Key: u.Key, UploadId: u.UploadId})
		}
	}
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: &bucket})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Errorf("cleanup: list %s: %v", bucket, err)
			return
		}
		for _, o := range page.Contents {
			if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: o.Key}); err != nil {
				t.Errorf("cleanup: delete %s: %v", aws.ToString(o.Key), err)
			}
		}
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &bucket}); err != nil {
		t.Errorf("cleanup: delete bucket %s: %v", bucket, err)
	}
}

// TestConformanceReal runs the suite against the real server, through an
// s3test proxy in front of it that cuts bodies on demand.
func TestConformanceReal(t *testing.T) {
	endpoint, bucket := realServer(t)
	proxy := s3test.Start(t, s3test.Config{Upstream: endpoint})
	var n atomic.Int64
	storetest.Run(t, harness(proxy, func(t *testing.T) site {
		return site{bucket: bucket, prefix: fmt.Sprintf("conformance/%d/", n.Add(1))}
	}))
}

// servers runs fn against the fake server and, when configured, the real
// one (directly, no proxy), each with a fresh root.
func servers(t *testing.T, fn func(t *testing.T, endpoint string, st site)) {
	t.Run("fake", func(t *testing.T) {
		srv, newSite := fakeServer(t)
		fn(t, srv.URL(), newSite(t))
	})
	t.Run("real", func(t *testing.T) {
		endpoint, bucket := realServer(t)
		fn(t, endpoint, site{bucket: bucket, prefix: "root/"})
	})
}

func newStore(t *testing.T, endpoint string, st site, opts *s3store.Options) *s3store.Store {
	t.Helper()
	if opts == nil {
		opts = &s3store.Options{}
	}
	if opts.Client == nil {
		opts.Endpoint, opts.PathStyle = endpoint, true
	}
	s, err := s3store.New(t.Context(), st.bucket, st.prefix, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func put(t *testing.T, s objstore.Store, key string, data []byte) objstore.Object {
	t.Helper()
	obj, err := s.Put(t.Context(), key, bytes.NewReader(data), objstore.PutOptions{Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

func read(ctx context.Context, s objstore.Store, key string, off, n int64, v objstore.Version) ([]byte, error) {
	r, err := s.NewRangeReader(ctx, key, off, n, objstore.ReadOptions{Version: v})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// TestStaleIfMatch: a read pinned to an overwritten version fails with
// ErrChanged, on the first request and on a resume.
func TestStaleIfMatch(t *testing.T) {
	servers(t, func(t *testing.T, endpoint string, st site) {
		s := newStore(t, endpoint, st, nil)
		old := put(t, s, "obj", []byte("version one"))
		got, err := s.Stat(t.Context(), "obj")
		if err != nil || got.Version != old.Version || got.Size != 11 {
			t.Fatalf("Stat = %+v, %v; want version %v", got, err, old.Version)
		}
		cur := put(t, s, "obj", []byte("version two"))
		if cur.Version == old.Version {
			t.Fatalf("overwrite kept version %v", old.Version)
		}
		if _, err := read(t.Context(), s, "obj", 0, -1, old.Version); !errors.Is(err, objstore.ErrChanged) {
			t.Fatalf("pinned read of the old version: err = %v, want ErrChanged", err)
		}
		if _, err := read(t.Context(), s, "obj", 3, 0, old.Version); !errors.Is(err, objstore.ErrChanged) {
			t.Fatalf("empty pinned read of the old version: err = %v, want ErrChanged", err)
		}
		if b, err := read(t.Context(), s, "obj", 8, -1, cur.Version); err != nil || string(b) != "two" {
			t.Fatalf("pinned read of the current version = %q, %v", b, err)
		}
		if err := s.Delete(t.Context(), "obj"); err != nil {
			t.Fatal(err)
		}
		if _, err := read(t.Context(), s, "obj", 0, -1, cur.Version); !errors.Is(err, objstore.ErrChanged) {
			t.Fatalf("pinned read of a deleted object: err = %v, want ErrChanged", err)
		}
		if _, err := read(t.Context(), s, "obj", 0, -1, objstore.Version{}); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("unpinned read of a deleted object: err = %v, want fs.ErrNotExist", err)
		}
	})
}

// TestIfMatchIgnored: bare gofakes3 answers a stale If-Match with 200; the
// store must still refuse the bytes of the other version.
func TestIfMatchIgnored(t *testing.T) {
	backend := s3mem.New()
	if err := backend.CreateBucket("bare"); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	t.Cleanup(hs.Close)
	s := newStore(t, hs.URL, site{bucket: "bare"}, nil)
	old := put(t, s, "k", []byte("aaaa"))
	put(t, s, "k", []byte("bbbb"))
	b, err := read(t.Context(), s, "k", 1, 2, old.Version)
	if !errors.Is(err, objstore.ErrChanged) {
		t.Fatalf("read pinned to a stale version = %q, %v; want ErrChanged", b, err)
	}
}

// TestSlowDownRetried: a 503 SlowDown is retried by the SDK's retryer.
func TestSlowDownRetried(t *testing.T) {
	srv, newSite := fakeServer(t)
	st := newSite(t)
	s := newStore(t, srv.URL(), st, nil)
	put(t, s, "k", []byte("hello"))
	for _, m := range []string{"GET", "HEAD", "PUT"} {
		srv.InjectFault(s3test.Fault{Kind: s3test.SlowDown, Method: m, Bucket: st.bucket, Key: st.prefix + "k", Times: 1})
	}
	srv.ResetStats()
	if b, err := read(t.Context(), s, "k", 0, -1, objstore.Version{}); err != nil || string(b) != "hello" {
		t.Fatalf("read after SlowDown = %q, %v", b, err)
	}
	if _, err := s.Stat(t.Context(), "k"); err != nil {
		t.Fatalf("stat after SlowDown: %v", err)
	}
	put(t, s, "k", []byte("again"))
	got := srv.Stats(st.bucket, st.prefix+"k")
	if got.Gets != 2 || got.Heads != 2 || got.Puts != 2 {
		t.Fatalf("stats %+v: want 2 GETs, 2 HEADs and 2 PUTs (one SlowDown and one retry each)", got)
	}
}

// TestDeny: 403 AccessDenied maps to fs.ErrPermission on every method.
func TestDeny(t *testing.T) {
	srv, newSite := fakeServer(t)
	st := newSite(t)
	s := newStore(t, srv.URL(), st, &s3store.Options{PartSize: s3store.MinPartSize})
	srv.InjectFault(s3test.Fault{Kind: s3test.Deny, Times: -1})
	checkPermission(t, s, false)
}

// checkPermission checks that every method of s fails with fs.ErrPermission
// and that no credential of the test shows in the errors.
func checkPermission(t *testing.T, s objstore.Store, headNotFoundOK bool) {
	t.Helper()
	ctx := t.Context()
	_, statErr := s.Stat(ctx, "k")
	_, readErr := s.NewRangeReader(ctx, "k", 0, -1, objstore.ReadOptions{})
	_, listErr := s.List(ctx, objstore.ListOptions{})
	_, putErr := s.Put(ctx, "k", strings.NewReader("x"), objstore.PutOptions{})
	// Large enough for a multipart upload (the stores here have PartSize
	// MinPartSize), whose first request has no body: a server that refuses
	// a body-bearing request early may reset the connection while the body
	// is still being sent, which is a transport error, not a 403.
	_, bigErr := s.Put(ctx, "big", bytes.NewReader(make([]byte, s3store.MinPartSize+1)), objstore.PutOptions{})
	delErr := s.Delete(ctx, "k")
	for name, err := range map[string]error{"stat": statErr, "read": readErr, "list": listErr, "put": putErr, "multipart put": bigErr, "delete": delErr} {
		if name == "stat" && headNotFoundOK && errors.Is(err, fs.ErrNotExist) {
			// A HEAD response has no body, so no error code: versitygw's
			// 404 for an unknown key looks like a missing object.
			checkNoSecret(t, err)
			continue
		}
		if !errors.Is(err, fs.ErrPermission) {
			t.Errorf("%s: err = %v, want fs.ErrPermission", name, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), "objstore: ") {
			t.Errorf("%s: error %q lacks the objstore prefix", name, err)
		}
		checkNoSecret(t, err)
	}
}

func checkNoSecret(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	for _, secret := range []string{fakeAccess, fakeSecret, os.Getenv(envAccess), os.Getenv(envSecret), os.Getenv("AWS_SECRET_ACCESS_KEY"), os.Getenv("AWS_ACCESS_KEY_ID")} {
		if secret != "" && strings.Contains(msg, secret) {
			t.Errorf("error %q contains a credential", msg)
		}
	}
}

// TestBadCredentials: the real server refuses wrong keys; that is
// fs.ErrPermission, and neither key shows in the error.
func TestBadCredentials(t *testing.T) {
	endpoint, bucket := realServer(t)
	for name, creds := range map[string][2]string{
		"wrong secret": {os.Getenv(envAccess), fakeSecret},
		"unknown key":  {fakeAccess, fakeSecret},
	} {
		t.Run(name, func(t *testing.T) {
			c := s3.New(s3.Options{
				Region:       "us-east-1",
				BaseEndpoint: aws.String(endpoint),
				UsePathStyle: true,
				Credentials:  credentials.NewStaticCredentialsProvider(creds[0], creds[1], ""),
			})
			s := newStore(t, endpoint, site{bucket: bucket, prefix: "creds/"}, &s3store.Options{Client: c, PartSize: s3store.MinPartSize})
			checkPermission(t, s, name == "unknown key")
		})
	}
}

// TestOddKeys: keys that XML cannot carry, or that URL encodings mangle,
// list and read back exactly.
func TestOddKeys(t *testing.T) {
	servers(t, func(t *testing.T, endpoint string, st site) {
		s := newStore(t, endpoint, st, nil)
		keys := []string{"a b+c%20d", "tab\tkey", "x<y>&'\"", "ü/ß/水", "plus+", "pct%2Fslash", "q?a=b#frag", "~!@$^*()=[]{}|;:,"}
		if st.fake {
			// XML 1.0 cannot carry most control characters; s3test
			// answers encoding-type=url, versitygw 1.8.0 ignores it and
			// lists U+FFFD instead.
			keys = append(keys, "ctl\x01\x1fkey")
		}
		for _, k := range keys {
			put(t, s, k, []byte(k))
		}
		page, err := s.List(t.Context(), objstore.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, o := range page.Objects {
			got[o.Key] = true
		}
		for _, k := range keys {
			if !got[k] {
				t.Errorf("List lacks %q (got %v)", k, got)
			}
			if b, err := read(t.Context(), s, k, 0, -1, objstore.Version{}); err != nil || string(b) != k {
				t.Errorf("read %q = %q, %v", k, b, err)
			}
		}
		page, err = s.List(t.Context(), objstore.ListOptions{Prefix: "ü/", Delimiter: "/"})
		if err != nil || len(page.Prefixes) != 1 || page.Prefixes[0] != "ü/ß/" {
			t.Errorf("List(ü/, /) = %+v, %v", page, err)
		}
	})
}

// hookReader is an io.Reader that calls hook after n bytes.
type hookReader struct {
	r    io.Reader
	n    int64
	hook func()
}

func (h *hookReader) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	h.n -= int64(n)
	if h.n <= 0 && h.hook != nil {
		h.hook()
		h.hook = nil
	}
	return n, err
}

// TestMultipartFailures: a failed or cancelled multipart Put stores
// nothing and leaves no upload behind.
func TestMultipartFailures(t *testing.T) {
	servers(t, func(t *testing.T, endpoint string, st site) {
		s := newStore(t, endpoint, st, &s3store.Options{PartSize: s3store.MinPartSize, Concurrency: 2})
		var c *s3.Client
		s.As(&c)
		data := bytes.Repeat([]byte("0123456789abcdef"), 3*s3store.MinPartSize/16+1)
		noUploads := func() {
			t.Helper()
			out, err := c.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: &st.bucket})
			if err != nil {
				t.Logf("ListMultipartUploads: %v (not checked)", err)
				return
			}
			for _, u := range out.Uploads {
				if strings.HasPrefix(aws.ToString(u.Key), st.prefix) {
					t.Errorf("upload of %q left behind", aws.ToString(u.Key))
				}
			}
		}
		notStored := func(key string) {
			t.Helper()
			if _, err := s.Stat(t.Context(), key); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Stat(%s) after a failed Put: %v, want fs.ErrNotExist", key, err)
			}
		}

		// Body longer and shorter than announced.
		for name, size := range map[string]int64{"short": int64(len(data)) + 1, "long": int64(len(data)) - s3store.MinPartSize - 7} {
			_, err := s.Put(t.Context(), name, bytes.NewReader(data), objstore.PutOptions{Size: size})
			if !errors.Is(err, fs.ErrInvalid) {
				t.Errorf("Put %s body: err = %v, want fs.ErrInvalid", name, err)
			}
			notStored(name)
		}

		// Caller cancels while parts are in flight.
		ctx, cancel := context.WithCancel(t.Context())
		body := &hookReader{r: bytes.NewReader(data), n: 2 * s3store.MinPartSize, hook: cancel}
		_, err := s.Put(ctx, "cancelled", body, objstore.PutOptions{})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled Put: err = %v, want context.Canceled", err)
		}
		notStored("cancelled")

		// A reader error.
		boom := errors.New("boom")
		_, err = s.Put(t.Context(), "readerr", io.MultiReader(bytes.NewReader(data[:2*s3store.MinPartSize]), iotestErr{boom}), objstore.PutOptions{})
		if !errors.Is(err, boom) {
			t.Errorf("Put with a failing body: err = %v, want boom", err)
		}
		notStored("readerr")
		noUploads()

		// And a good one, of unknown size, with the size and version reported.
		obj, err := s.Put(t.Context(), "good", bytes.NewReader(data), objstore.PutOptions{ContentType: "application/octet-stream"})
		if err != nil {
			t.Fatal(err)
		}
		st2, err := s.Stat(t.Context(), "good")
		// gofakes3 answers CompleteMultipartUpload with an S3-style
		// "md5-of-parts-N" ETag but stores the whole body's MD5.
		if err != nil || (!st.fake && st2.Version != obj.Version) || st2.Size != int64(len(data)) || obj.Size != int64(len(data)) {
			t.Fatalf("Put = %+v; Stat = %+v, %v", obj, st2, err)
		}
		if d := obj.ModTime.Sub(st2.ModTime).Abs(); d > time.Minute {
			t.Errorf("Put ModTime %v, Stat %v", obj.ModTime, st2.ModTime)
		}
	})
}

type iotestErr struct{ err error }

func (e iotestErr) Read([]byte) (int, error) { return 0, e.err }

func TestOpenURL(t *testing.T) {
	srv, newSite := fakeServer(t)
	st := newSite(t)
	s, err := objstore.Open(t.Context(), "s3://"+st.bucket+"/"+strings.TrimSuffix(st.prefix, "/")+"?endpoint="+srv.URL()+"&path_style=true&region=eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	defer s.(io.Closer).Close()
	put(t, s, "via/url", []byte("ok"))
	if b, err := read(t.Context(), s, "via/url", 0, -1, objstore.Version{}); err != nil || string(b) != "ok" {
		t.Fatalf("read = %q, %v", b, err)
	}
	if got := srv.Stats(st.bucket, st.prefix+"via/url"); got.Puts != 1 || got.Gets != 1 {
		t.Fatalf("server saw %+v", got)
	}
	if _, err := objstore.Open(t.Context(), "s3://"+st.bucket+"/?endpoint="+srv.URL()+"&bogus=1"); !errors.Is(err, fs.ErrInvalid) {
		t.Fatalf("unknown parameter: err = %v, want fs.ErrInvalid", err)
	}
}

func TestNewValidates(t *testing.T) {
	ctx := t.Context()
	c := s3.New(s3.Options{Region: "us-east-1"})
	bad := map[string]struct {
		bucket, prefix string
		opts           s3store.Options
	}{
		"bucket upper":      {"Bucket", "", s3store.Options{}},
		"bucket short":      {"ab", "", s3store.Options{}},
		"bucket ip":         {"192.168.1.1", "", s3store.Options{}},
		"prefix dotdot":     {"bucket", "a/../b", s3store.Options{}},
		"prefix slash":      {"bucket", "/a", s3store.Options{}},
		"prefix double":     {"bucket", "a//b", s3store.Options{}},
		"small part":        {"bucket", "", s3store.Options{PartSize: s3store.MinPartSize - 1}},
		"huge part":         {"bucket", "", s3store.Options{PartSize: s3store.MaxPartSize + 1}},
		"negative part":     {"bucket", "", s3store.Options{PartSize: -1}},
		"concurrency":       {"bucket", "", s3store.Options{Concurrency: -1}},
		"retry":             {"bucket", "", s3store.Options{Retry: objstore.RetryPolicy{BaseDelay: -1}}},
		"endpoint scheme":   {"bucket", "", s3store.Options{Endpoint: "ftp://host"}},
		"endpoint relative": {"bucket", "", s3store.Options{Endpoint: "host:9000"}},
		"endpoint query":    {"bucket", "", s3store.Options{Endpoint: "http://host/?a=b"}},
		"endpoint userinfo": {"bucket", "", s3store.Options{Endpoint: "http://AKIAUSERINFO:" + fakeSecret + "@host"}},
		"region":            {"bucket", "", s3store.Options{Region: "US East"}},
		"client+endpoint":   {"bucket", "", s3store.Options{Client: c, Endpoint: "http://host"}},
		"client+region":     {"bucket", "", s3store.Options{Client: c, Region: "us-east-1"}},
	}
	for name, tc := range bad {
		_, err := s3store.New(ctx, tc.bucket, tc.prefix, &tc.opts)
		if !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("%s: err = %v, want fs.ErrInvalid", name, err)
		}
		checkNoSecret(t, err)
	}
	s, err := s3store.New(ctx, "bucket", "a/b/", &s3store.Options{Client: c})
	if err != nil {
		t.Fatal(err)
	}
	if s.Prefix() != "a/b/" || s.Bucket() != "bucket" {
		t.Errorf("root %q %q", s.Bucket(), s.Prefix())
	}
	s, err = s3store.New(ctx, "bucket", "a/b", nil)
	if err != nil || s.Prefix() != "a/b/" {
		t.Fatalf("New(prefix without slash) = %v, %v", s, err)
	}
	var got *s3.Client
	if !s.As(&got) || got == nil {
		t.Error("As(**s3.Client) failed")
	}
	var wrong *int
	if s.As(&wrong) {
		t.Error("As(**int) = true")
	}
}

func TestClosed(t *testing.T) {
	srv, newSite := fakeServer(t)
	s := newStore(t, srv.URL(), newSite(t), nil)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := t.Context()
	_, e1 := s.Stat(ctx, "k")
	_, e2 := s.NewRangeReader(ctx, "k", 0, -1, objstore.ReadOptions{})
	_, e3 := s.List(ctx, objstore.ListOptions{})
	_, e4 := s.Put(ctx, "k", strings.NewReader(""), objstore.PutOptions{})
	e5 := s.Delete(ctx, "k")
	for i, err := range []error{e1, e2, e3, e4, e5} {
		if !errors.Is(err, fs.ErrClosed) {
			t.Errorf("call %d after Close: err = %v, want fs.ErrClosed", i, err)
		}
	}
}

// TestMissingBucket: a store on a bucket that does not exist reports
// fs.ErrNotExist, also for a pinned read (the bucket, not the version, is
// missing).
func TestMissingBucket(t *testing.T) {
	servers(t, func(t *testing.T, endpoint string, st site) {
		s := newStore(t, endpoint, site{bucket: st.bucket + "-missing"}, nil)
		ctx := t.Context()
		_, e1 := s.Stat(ctx, "k")
		_, e2 := s.NewRangeReader(ctx, "k", 0, -1, objstore.ReadOptions{Version: objstore.Version{ETag: "abc"}})
		_, e3 := s.List(ctx, objstore.ListOptions{})
		_, e4 := s.Put(ctx, "k", strings.NewReader("x"), objstore.PutOptions{})
		for i, err := range []error{e1, e2, e3, e4} {
			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("call %d: err = %v, want fs.ErrNotExist", i, err)
			}
		}
	})
}
