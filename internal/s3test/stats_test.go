package s3test_test

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tierfs/tierfs/internal/s3test"
)

// TestCountKinds: each request counts once, in the kind its method and
// query give it, whatever the backend answers.
func TestCountKinds(t *testing.T) {
	s := startWithBucket(t, s3test.Config{})
	if err := s.PutObject(bucket, "k", []byte("data")); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]func(s3test.ObjectStats) int64{
		"Get":    func(o s3test.ObjectStats) int64 { return o.Gets },
		"Head":   func(o s3test.ObjectStats) int64 { return o.Heads },
		"List":   func(o s3test.ObjectStats) int64 { return o.Lists },
		"Put":    func(o s3test.ObjectStats) int64 { return o.Puts },
		"Delete": func(o s3test.ObjectStats) int64 { return o.Deletes },
		"Other":  func(o s3test.ObjectStats) int64 { return o.Other },
	}
	cases := []struct{ method, path, want string }{
		{"GET", "/bkt/k", "Get"},
		{"GET", "/bkt/k?x-id=GetObject&versionId=1", "Get"},
		{"GET", "/bkt/missing", "Get"},
		{"HEAD", "/bkt/k", "Head"},
		{"HEAD", "/bkt", "Head"},
		{"GET", "/bkt?list-type=2&prefix=a", "List"},
		{"GET", "/bkt/", "List"},
		{"GET", "/bkt?uploads", "List"},
		{"GET", "/bkt?versions", "List"},
		{"GET", "/bkt/k?uploadId=1", "List"},
		{"PUT", "/bkt/new", "Put"},
		{"PUT", "/bkt/new?partNumber=1&uploadId=1", "Put"},
		{"POST", "/bkt/new?append&position=0", "Put"},
		{"DELETE", "/bkt/new", "Delete"},
		{"POST", "/bkt/up?uploads", "Other"},
		{"POST", "/bkt/up?uploadId=1", "Other"},
		{"DELETE", "/bkt/up?uploadId=1", "Other"},
		{"GET", "/bkt/k?acl", "Other"},
		{"PUT", "/bkt/k?tagging", "Other"},
		{"PUT", "/bkt/k?symlink", "Other"},
		{"GET", "/bkt?location", "Other"},
		{"POST", "/bkt?delete", "Other"},
		{"PUT", "/newbucket", "Other"},
		{"GET", "/", "Other"},
	}
	for _, c := range cases {
		before := s.Total()
		req, err := http.NewRequestWithContext(t.Context(), c.method, s.URL()+c.path, strings.NewReader(""))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		after := s.Total()
		if after.Requests-before.Requests != 1 {
			t.Errorf("%s %s: %d requests counted, want 1", c.method, c.path, after.Requests-before.Requests)
		}
		for name, field := range kinds {
			want := int64(0)
			if name == c.want {
				want = 1
			}
			if got := field(after) - field(before); got != want {
				t.Errorf("%s %s: %s moved by %d, want %d", c.method, c.path, name, got, want)
			}
		}
	}
	tot := s.Total()
	if sum := tot.Gets + tot.Heads + tot.Lists + tot.Puts + tot.Deletes + tot.Other; sum != tot.Requests {
		t.Errorf("kinds sum to %d, Requests is %d", sum, tot.Requests)
	}
}

// TestCountBytes: BodyBytes counts object data of 2xx GETs only, PutBytes
// the bodies of 2xx PUTs only, and BucketStats holds a bucket's listings.
func TestCountBytes(t *testing.T) {
	s := startWithBucket(t, s3test.Config{})
	do := func(method, path string, body []byte) int {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, s.URL()+path, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	data := payload(5000)
	if code := do("PUT", "/bkt/k", data); code != 200 {
		t.Fatalf("PUT: %d", code)
	}
	do("GET", "/bkt/k", nil)
	do("GET", "/bkt/missing", nil) // 404 with an XML body
	s.InjectFault(s3test.Fault{Kind: s3test.SlowDown, Method: "PUT", Key: "k"})
	do("PUT", "/bkt/k", data) // refused
	do("GET", "/bkt?list-type=2", nil)
	want := s3test.ObjectStats{Requests: 5, Gets: 2, Puts: 2, Lists: 1, BodyBytes: 5000, PutBytes: 5000}
	if got := s.BucketStats(bucket); got != want {
		t.Errorf("BucketStats = %+v, want %+v", got, want)
	}
	if got := s.BucketStats("other"); got != (s3test.ObjectStats{}) {
		t.Errorf("BucketStats(other) = %+v, want zero", got)
	}
	if got, want := s.Total().RequestStats(), want.RequestStats(); got != want {
		t.Errorf("Total().RequestStats() = %+v, want %+v", got, want)
	}
	s.ResetStats()
	if got := s.BucketStats(bucket); got != (s3test.ObjectStats{}) {
		t.Errorf("BucketStats after ResetStats = %+v", got)
	}
}
