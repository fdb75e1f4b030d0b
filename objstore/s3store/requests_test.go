package s3store_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tierfs/tierfs/internal/s3test"
	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/s3store"
	"github.com/tierfs/tierfs/objstore/storetest"
)

// sameCounts runs fn and checks that the store's RequestStats moved
// exactly as the server's counts of bucket did, and returns the delta.
func sameCounts(t *testing.T, s *s3store.Store, srv *s3test.Server, bucket, name string, fn func()) objstore.RequestStats {
	t.Helper()
	st0, srv0 := s.RequestStats(), srv.BucketStats(bucket).RequestStats()
	fn()
	d, ds := s.RequestStats().Sub(st0), srv.BucketStats(bucket).RequestStats().Sub(srv0)
	if d != ds {
		t.Errorf("%s: store counted %+v\n\tserver counted %+v", name, d, ds)
	}
	return d
}

// TestRequestStatsFaults: the SDK's retries of 503 and 500 answers,
// refused requests, cut and stalled bodies that the Reader resumes, and
// failed multipart uploads with their abort are all counted, each as the
// server counted it.
func TestRequestStatsFaults(t *testing.T) {
	srv, newSite := fakeServer(t)
	st := newSite(t)
	retryPolicy := fastRetry
	retryPolicy.StallTimeout = 100 * time.Millisecond
	s := newStore(t, srv.URL(), st, &s3store.Options{PartSize: s3store.MinPartSize, Concurrency: 2, Retry: retryPolicy})
	ctx := t.Context()
	data := storetest.Data(30, 200_000)
	big := storetest.Data(31, 2*s3store.MinPartSize+1000)
	key := st.prefix + "k"
	put(t, s, "k", data)

	for _, kind := range []s3test.FaultKind{s3test.SlowDown, s3test.InternalError} {
		t.Run(kind.String(), func(t *testing.T) {
			fault := func(method, key string) {
				srv.InjectFault(s3test.Fault{Kind: kind, Method: method, Bucket: st.bucket, Key: key, Times: 1})
			}
			fault("GET", key)
			d := sameCounts(t, s, srv, st.bucket, "GET retried", func() {
				if b, err := read(ctx, s, "k", 100, 5000, objstore.Version{}); err != nil || !bytes.Equal(b, data[100:5100]) {
					t.Fatalf("read: %v", err)
				}
			})
			if d.Gets != 2 || d.BytesIn != 5000 {
				t.Errorf("GET retried: %+v, want 2 Gets and 5000 bytes", d)
			}
			fault("HEAD", key)
			d = sameCounts(t, s, srv, st.bucket, "HEAD retried", func() {
				if _, err := s.Stat(ctx, "k"); err != nil {
					t.Fatal(err)
				}
			})
			if d.Heads != 2 {
				t.Errorf("HEAD retried: %+v, want 2 Heads", d)
			}
			fault("GET", "") // the listing names no key
			d = sameCounts(t, s, srv, st.bucket, "LIST retried", func() {
				if _, err := s.List(ctx, objstore.ListOptions{}); err != nil {
					t.Fatal(err)
				}
			})
			if d.Lists != 2 {
				t.Errorf("LIST retried: %+v, want 2 Lists", d)
			}
			fault("PUT", st.prefix+"small")
			d = sameCounts(t, s, srv, st.bucket, "PUT retried", func() { put(t, s, "small", data) })
			if d.Puts != 2 || d.BytesOut != int64(len(data)) {
				t.Errorf("PUT retried: %+v, want 2 Puts and %d bytes out (the refused one not)", d, len(data))
			}
			// The second part of a multipart upload, and its create.
			srv.InjectFault(s3test.Fault{Kind: kind, Method: "PUT", Bucket: st.bucket, Key: st.prefix + "big", SkipFirst: 1, Times: 1})
			fault("POST", st.prefix+"big")
			d = sameCounts(t, s, srv, st.bucket, "multipart retried", func() { put(t, s, "big", big) })
			if d.Puts != 3+1 || d.Other != 2+1 || d.BytesOut != int64(len(big)) {
				t.Errorf("multipart retried: %+v, want 4 Puts, 3 Other and %d bytes out", d, len(big))
			}
			fault("DELETE", st.prefix+"small")
			d = sameCounts(t, s, srv, st.bucket, "DELETE retried", func() {
				if err := s.Delete(ctx, "small"); err != nil {
					t.Fatal(err)
				}
			})
			if d.Deletes != 2 {
				t.Errorf("DELETE retried: %+v, want 2 Deletes", d)
			}
		})
	}

	t.Run("retries spent", func(t *testing.T) {
		srv.InjectFault(s3test.Fault{Kind: s3test.SlowDown, Bucket: st.bucket, Key: key, Times: -1})
		defer srv.ClearFaults()
		d := sameCounts(t, s, srv, st.bucket, "GET failing", func() {
			if _, err := read(ctx, s, "k", 0, -1, objstore.Version{}); err == nil {
				t.Fatal("read succeeded under endless SlowDown")
			}
		})
		// The SDK's 3 attempts, for the first request and for each of the
		// 5 the Reader tries again (RetryPolicy.MaxResumes).
		if d.Gets != 3*(1+5) || d.BytesIn != 0 {
			t.Errorf("GET failing: %+v, want 18 attempts and no bytes", d)
		}
	})

	t.Run("Deny", func(t *testing.T) {
		srv.InjectFault(s3test.Fault{Kind: s3test.Deny, Bucket: st.bucket, Times: -1})
		defer srv.ClearFaults()
		d := sameCounts(t, s, srv, st.bucket, "denied", func() { checkPermission(t, s, false) })
		// Stat, read, list, put, multipart create, delete: one each, no
		// retry, no bytes.
		if want := (objstore.RequestStats{Gets: 1, Heads: 1, Lists: 1, Puts: 1, Deletes: 1, Other: 1}); d != want {
			t.Errorf("denied: %+v, want %+v", d, want)
		}
	})

	for _, kind := range []s3test.FaultKind{s3test.ResetAfter, s3test.EOFAfter, s3test.StallAfter} {
		t.Run("cut "+kind.String(), func(t *testing.T) {
			srv.InjectFault(s3test.Fault{Kind: kind, Method: "GET", Bucket: st.bucket, Key: key, AfterBytes: 30_000, Times: 2})
			var resumes int
			d := sameCounts(t, s, srv, st.bucket, "cut bodies", func() {
				r, err := s.NewRangeReader(ctx, "k", 10, -1, objstore.ReadOptions{})
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				b, err := io.ReadAll(r)
				if err != nil || !bytes.Equal(b, data[10:]) {
					t.Fatalf("read: %d bytes, %v", len(b), err)
				}
				resumes = r.Resumes()
			})
			if resumes != 2 || d.Gets != 3 || d.BytesIn != int64(len(data)-10) {
				t.Errorf("cut bodies: %+v after %d resumes, want 3 Gets and %d bytes", d, resumes, len(data)-10)
			}
		})
	}

	t.Run("multipart aborted", func(t *testing.T) {
		d := sameCounts(t, s, srv, st.bucket, "short multipart body", func() {
			_, err := s.Put(ctx, "short", bytes.NewReader(big), objstore.PutOptions{Size: int64(len(big)) + 1})
			if !errors.Is(err, fs.ErrInvalid) {
				t.Fatalf("short body: %v, want fs.ErrInvalid", err)
			}
		})
		// Create, the parts sent before the end showed the body short,
		// abort (DELETE ?uploadId, an Other).
		if d.Other != 2 || d.Deletes != 0 || d.Puts < 1 || d.BytesOut != d.Puts*s3store.MinPartSize {
			t.Errorf("aborted multipart: %+v, want Other 2 (create, abort) and whole parts out", d)
		}
		srv.InjectFault(s3test.Fault{Kind: s3test.Deny, Method: "PUT", Bucket: st.bucket, Key: st.prefix + "denied-part", Times: -1})
		defer srv.ClearFaults()
		d = sameCounts(t, s, srv, st.bucket, "denied parts", func() {
			if _, err := s.Put(ctx, "denied-part", bytes.NewReader(big), objstore.PutOptions{}); !errors.Is(err, fs.ErrPermission) {
				t.Fatalf("denied parts: %v, want fs.ErrPermission", err)
			}
		})
		if d.Other != 2 || d.Puts < 1 || d.BytesOut != 0 {
			t.Errorf("denied parts: %+v, want Other 2 (create, abort), some refused Puts and no bytes out", d)
		}
	})
}

// TestRequestStatsCallerClients: with a caller's http.Client
// (Options.HTTPClient) or s3.Client (Options.Client), requests and SDK
// retries are still counted as the server counted them.
func TestRequestStatsCallerClients(t *testing.T) {
	srv, newSite := fakeServer(t)
	noBackoff := func(o *retry.StandardOptions) {
		o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		o.RateLimiter = ratelimit.None
	}
	sdkClient := func(hc aws.HTTPClient) *s3.Client {
		return s3.New(s3.Options{
			Region: "us-east-1", BaseEndpoint: aws.String(srv.URL()), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(fakeAccess, fakeSecret, ""),
			HTTPClient:  hc,
			Retryer:     retry.NewStandard(noBackoff),
		})
	}
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	for name, opts := range map[string]*s3store.Options{
		"HTTPClient":              {HTTPClient: &http.Client{Transport: tr}},
		"HTTPClient default":      {HTTPClient: &http.Client{}},
		"Client http.Client":      {Client: sdkClient(&http.Client{Transport: tr})},
		"Client BuildableClient":  {Client: sdkClient(nil)},
		"Client own HTTP wrapper": {Client: sdkClient(doerFunc((&http.Client{Transport: tr}).Do))},
	} {
		t.Run(name, func(t *testing.T) {
			st := newSite(t)
			opts.PartSize = s3store.MinPartSize
			opts.Retry = fastRetry
			s := newStore(t, srv.URL(), st, opts)
			ctx := t.Context()
			data := storetest.Data(32, 50_000)
			srv.InjectFault(s3test.Fault{Kind: s3test.SlowDown, Method: "PUT", Bucket: st.bucket, Times: 1})
			srv.InjectFault(s3test.Fault{Kind: s3test.SlowDown, Method: "GET", Bucket: st.bucket, Key: st.prefix + "k", Times: 1})
			srv.InjectFault(s3test.Fault{Kind: s3test.EOFAfter, Method: "GET", Bucket: st.bucket, Key: st.prefix + "k", AfterBytes: 10_000, Times: 1})
			d := sameCounts(t, s, srv, st.bucket, name, func() {
				put(t, s, "k", data)
				if _, err := s.Stat(ctx, "k"); err != nil {
					t.Fatal(err)
				}
				if b, err := read(ctx, s, "k", 0, -1, objstore.Version{}); err != nil || !bytes.Equal(b, data) {
					t.Fatalf("read: %v", err)
				}
				if b, err := read(ctx, s, "k", int64(len(data)), -1, objstore.Version{}); err != nil || len(b) != 0 {
					t.Fatalf("read at the end: %q, %v", b, err)
				}
				if _, err := s.List(ctx, objstore.ListOptions{}); err != nil {
					t.Fatal(err)
				}
				if err := s.Delete(ctx, "k"); err != nil {
					t.Fatal(err)
				}
			})
			// PUT twice (one SlowDown); HEAD; GET: SlowDown, cut, resume,
			// then 416 and its HEAD; LIST; DELETE.
			want := objstore.RequestStats{Puts: 2, Heads: 2, Gets: 4, Lists: 1, Deletes: 1, BytesIn: int64(len(data)), BytesOut: int64(len(data))}
			if d != want {
				t.Errorf("%+v, want %+v", d, want)
			}
		})
	}
}

type doerFunc func(*http.Request) (*http.Response, error)

func (f doerFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// TestRequestStatsReal: against the real server, the counts follow the
// steps (the server's own counters cannot be read; TestConformanceReal
// compares with the counting proxy in front of it).
func TestRequestStatsReal(t *testing.T) {
	endpoint, bucket := realServer(t)
	s := newStore(t, endpoint, site{bucket: bucket, prefix: "requeststats/"}, &s3store.Options{PartSize: s3store.MinPartSize})
	ctx := t.Context()
	data := storetest.Data(33, 2*s3store.MinPartSize+100)
	st0 := s.RequestStats()
	put(t, s, "big", data)
	if b, err := read(ctx, s, "big", int64(len(data))-1000, -1, objstore.Version{}); err != nil || !bytes.Equal(b, data[len(data)-1000:]) {
		t.Fatalf("read: %v", err)
	}
	if b, err := read(ctx, s, "big", int64(len(data)), -1, objstore.Version{}); err != nil || len(b) != 0 {
		t.Fatalf("read at the end: %q, %v", b, err)
	}
	if _, err := s.List(ctx, objstore.ListOptions{Prefix: "b"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "big"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, "x", strings.NewReader("x"), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	d := s.RequestStats().Sub(st0)
	want := objstore.RequestStats{Puts: 3 + 1, Other: 2, Gets: 2, Heads: 1, Lists: 1, Deletes: 1, BytesIn: 1000, BytesOut: int64(len(data)) + 1}
	if d != want {
		t.Errorf("counted %+v, want %+v", d, want)
	}
}
