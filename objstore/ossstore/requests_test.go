package ossstore_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"testing"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"

	"github.com/tierfs/tierfs/internal/s3test"
	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/ossstore"
	"github.com/tierfs/tierfs/objstore/storetest"
)

// sameCounts runs fn and checks that the store's RequestStats moved
// exactly as the server's counts of bucket did, and returns the delta.
func sameCounts(t *testing.T, s *ossstore.Store, srv *s3test.Server, bucket, name string, fn func()) objstore.RequestStats {
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
// failed multipart uploads are all counted, each as the server counted
// it.
func TestRequestStatsFaults(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t, s3test.Config{})
	opts := testOptions(srv)
	opts.Retry.StallTimeout = 100 * time.Millisecond
	bucket := newBucket(t, srv)
	s, err := ossstore.New(t.Context(), bucket, "", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := t.Context()
	data := storetest.Data(40, 200_000)
	big := storetest.Data(41, int(2*opts.PartSize+1000))
	if _, err := s.Put(ctx, "k", bytes.NewReader(data), objstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	put := func(key string, b []byte) {
		t.Helper()
		if _, err := s.Put(ctx, key, bytes.NewReader(b), objstore.PutOptions{Size: int64(len(b))}); err != nil {
			t.Fatal(err)
		}
	}

	for _, kind := range []s3test.FaultKind{s3test.SlowDown, s3test.InternalError} {
		t.Run(kind.String(), func(t *testing.T) {
			fault := func(method, key string) {
				srv.InjectFault(s3test.Fault{Kind: kind, Method: method, Bucket: bucket, Key: key, Times: 1})
			}
			fault("GET", "k")
			d := sameCounts(t, s, srv, bucket, "GET retried", func() {
				if b, err := readAll(ctx, s, "k"); err != nil || !bytes.Equal(b, data) {
					t.Fatalf("read: %v", err)
				}
			})
			if d.Gets != 2 || d.BytesIn != int64(len(data)) {
				t.Errorf("GET retried: %+v, want 2 Gets", d)
			}
			fault("HEAD", "k")
			if d := sameCounts(t, s, srv, bucket, "HEAD retried", func() {
				if _, err := s.Stat(ctx, "k"); err != nil {
					t.Fatal(err)
				}
			}); d.Heads != 2 {
				t.Errorf("HEAD retried: %+v, want 2 Heads", d)
			}
			fault("GET", "")
			if d := sameCounts(t, s, srv, bucket, "LIST retried", func() {
				if _, err := s.List(ctx, objstore.ListOptions{}); err != nil {
					t.Fatal(err)
				}
			}); d.Lists != 2 {
				t.Errorf("LIST retried: %+v, want 2 Lists", d)
			}
			fault("PUT", "small")
			if d := sameCounts(t, s, srv, bucket, "PUT retried", func() { put("small", data) }); d.Puts != 2 || d.BytesOut != int64(len(data)) {
				t.Errorf("PUT retried: %+v, want 2 Puts, one body out", d)
			}
			srv.InjectFault(s3test.Fault{Kind: kind, Method: "PUT", Bucket: bucket, Key: "big", SkipFirst: 1, Times: 1})
			fault("POST", "big")
			// Initiate (retried), 3 parts (one retried), complete, and
			// the HEAD after it.
			if d := sameCounts(t, s, srv, bucket, "multipart retried", func() { put("big", big) }); d.Puts != 4 || d.Other != 3 || d.Heads != 1 || d.BytesOut != int64(len(big)) {
				t.Errorf("multipart retried: %+v, want 4 Puts, 3 Other, 1 Head", d)
			}
			fault("DELETE", "small")
			if d := sameCounts(t, s, srv, bucket, "DELETE retried", func() {
				if err := s.Delete(ctx, "small"); err != nil {
					t.Fatal(err)
				}
			}); d.Deletes != 2 {
				t.Errorf("DELETE retried: %+v, want 2 Deletes", d)
			}
		})
	}

	t.Run("Deny", func(t *testing.T) {
		srv.InjectFault(s3test.Fault{Kind: s3test.Deny, Bucket: bucket, Times: -1})
		defer srv.ClearFaults()
		sameCounts(t, s, srv, bucket, "denied", func() {
			_, e1 := s.Stat(ctx, "k")
			_, e2 := readAll(ctx, s, "k")
			_, e3 := s.List(ctx, objstore.ListOptions{})
			_, e4 := s.Put(ctx, "k", bytes.NewReader(data), objstore.PutOptions{})
			_, e5 := s.Put(ctx, "big", bytes.NewReader(big), objstore.PutOptions{})
			e6 := s.Delete(ctx, "k")
			for i, err := range []error{e1, e2, e3, e4, e5, e6} {
				if !errors.Is(err, fs.ErrPermission) {
					t.Errorf("call %d: %v, want fs.ErrPermission", i, err)
				}
			}
		})
	})

	for _, kind := range []s3test.FaultKind{s3test.ResetAfter, s3test.EOFAfter, s3test.StallAfter} {
		t.Run("cut "+kind.String(), func(t *testing.T) {
			srv.InjectFault(s3test.Fault{Kind: kind, Method: "GET", Bucket: bucket, Key: "k", AfterBytes: 30_000, Times: 2})
			d := sameCounts(t, s, srv, bucket, "cut bodies", func() {
				r, err := s.NewRangeReader(ctx, "k", 10, -1, objstore.ReadOptions{})
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				if b, err := io.ReadAll(r); err != nil || !bytes.Equal(b, data[10:]) {
					t.Fatalf("read: %d bytes, %v", len(b), err)
				}
			})
			if d.Gets != 3 || d.BytesIn != int64(len(data)-10) {
				t.Errorf("cut bodies: %+v, want 3 Gets and %d bytes", d, len(data)-10)
			}
		})
	}

	t.Run("multipart aborted", func(t *testing.T) {
		d := sameCounts(t, s, srv, bucket, "short multipart body", func() {
			_, err := s.Put(ctx, "short", bytes.NewReader(big), objstore.PutOptions{Size: int64(len(big)) + 1})
			if !errors.Is(err, fs.ErrInvalid) {
				t.Fatalf("short body: %v, want fs.ErrInvalid", err)
			}
		})
		if d.Other < 2 || d.Deletes != 0 {
			t.Errorf("aborted multipart: %+v, want Other for initiate and abort", d)
		}
	})
}

// TestRequestStatsCallerClient: with Options.Client the store sees only
// 2xx responses, so it counts those and nothing else: equal to the server
// without faults, one short per refused attempt.
func TestRequestStatsCallerClient(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t, s3test.Config{})
	bucket := newBucket(t, srv)
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c := oss.NewClient(oss.NewConfig().
		WithEndpoint(srv.URL()).
		WithRegion("cn-hangzhou").
		WithUsePathStyle(true).
		WithHttpClient(&http.Client{Transport: tr}).
		WithCredentialsProvider(credentials.NewStaticCredentialsProvider(testKeyID, testSecret)))
	s, err := ossstore.New(t.Context(), bucket, "p", &ossstore.Options{Client: c, PartSize: 256 << 10, Retry: testOptions(srv).Retry})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	data := storetest.Data(42, 100_000)
	big := storetest.Data(43, 600<<10)
	sameCounts(t, s, srv, bucket, "no faults", func() {
		for key, b := range map[string][]byte{"k": data, "big": big} {
			if _, err := s.Put(ctx, key, bytes.NewReader(b), objstore.PutOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Stat(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		if b, err := readAll(ctx, s, "big"); err != nil || !bytes.Equal(b, big) {
			t.Fatalf("read: %v", err)
		}
		if _, err := s.List(ctx, objstore.ListOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "k"); err != nil {
			t.Fatal(err)
		}
	})
	// A 503 retried by the SDK: the store counts the 2xx attempt only.
	srv.InjectFault(s3test.Fault{Kind: s3test.SlowDown, Method: "GET", Bucket: bucket, Key: "p/big", Times: 1})
	st0, srv0 := s.RequestStats(), srv.BucketStats(bucket).RequestStats()
	if _, err := readAll(ctx, s, "big"); err != nil {
		t.Fatal(err)
	}
	d, ds := s.RequestStats().Sub(st0), srv.BucketStats(bucket).RequestStats().Sub(srv0)
	if d.Gets != 1 || ds.Gets != 2 || d.BytesIn != ds.BytesIn {
		t.Errorf("GET after a 503: store counted %+v, server %+v; want 1 and 2 Gets, the same bytes", d, ds)
	}
}
