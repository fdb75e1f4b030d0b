package ossstore_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"

	"github.com/tierfs/tierfs/internal/s3test"
	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/ossstore"
	"github.com/tierfs/tierfs/objstore/storetest"
)

// Test credentials: s3test ignores signatures, so any static keys do.
const (
	testKeyID  = "LTAI-test-key-id-0123456789"
	testSecret = "test-secret-abcdefghijklmnopqrstuvwxyz"
)

var bucketSeq atomic.Int64

// newBucket creates a fresh bucket on srv and returns its name.
func newBucket(t *testing.T, srv *s3test.Server) string {
	t.Helper()
	name := fmt.Sprintf("ossstore-test-%d", bucketSeq.Add(1))
	if err := srv.CreateBucket(name); err != nil {
		t.Fatal(err)
	}
	return name
}

// testOptions are the options of a store on srv.
func testOptions(srv *s3test.Server) *ossstore.Options {
	return &ossstore.Options{
		Endpoint:    srv.URL(),
		Region:      "cn-hangzhou",
		PathStyle:   true,
		Credentials: credentials.NewStaticCredentialsProvider(testKeyID, testSecret),
		PartSize:    256 << 10,
		Concurrency: 3,
		Retry:       objstore.RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 10 * time.Millisecond},
	}
}

// newStore returns a store on a fresh bucket of srv, rooted under prefix.
func newStore(t *testing.T, srv *s3test.Server, prefix string) (*ossstore.Store, string) {
	t.Helper()
	bucket := newBucket(t, srv)
	s, err := ossstore.New(t.Context(), bucket, prefix, testOptions(srv))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, bucket
}

func TestConformance(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t, s3test.Config{})
	const prefix = "root/dir"
	var mu sync.Mutex
	buckets := map[*testing.T]string{} // guarded by mu
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) objstore.Store {
			s, bucket := newStore(t, srv, prefix)
			mu.Lock()
			buckets[t] = bucket
			mu.Unlock()
			return s
		},
		CutReads: func(t *testing.T, key string, after int64, times int) {
			mu.Lock()
			bucket := buckets[t]
			mu.Unlock()
			srv.InjectFault(s3test.Fault{Kind: s3test.ResetAfter, Method: "GET", Bucket: bucket, Key: prefix + "/" + key, AfterBytes: after, Times: times})
			t.Cleanup(srv.ClearFaults)
		},
		Bend: func(t *testing.T, key string, b storetest.Bend) bool {
			mu.Lock()
			bucket := buckets[t]
			mu.Unlock()
			srv.BendReads(bucket, prefix+"/"+key, s3test.Bending(b))
			return true
		},
		MultipartSize: 256 << 10,
		OpenUploads: func(t *testing.T) []string {
			mu.Lock()
			bucket := buckets[t]
			mu.Unlock()
			keys, err := srv.OpenUploads(bucket, prefix+"/")
			if err != nil {
				t.Fatal(err)
			}
			return keys
		},
		ServerStats: func(t *testing.T) objstore.RequestStats {
			mu.Lock()
			bucket := buckets[t]
			mu.Unlock()
			return srv.BucketStats(bucket).RequestStats()
		},
	})
}
