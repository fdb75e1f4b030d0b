package s3store

import (
	"net/url"
	"testing"

	"github.com/tierfs/tierfs/internal/reqcount"
)

// TestKindOf: S3 requests, as the SDK sends them in path style and
// virtual-hosted style, by method and URL.
func TestKindOf(t *testing.T) {
	const (
		path    = "http://127.0.0.1:9000/data"       // path style, bucket "data"
		base    = "https://s3.example.com/base/data" // path style under a base path
		virtual = "https://data.s3.us-east-1.amazonaws.com"
	)
	cases := []struct {
		method, url string
		want        reqcount.Kind
	}{
		// Object data.
		{"GET", path + "/k?x-id=GetObject", reqcount.Get},
		{"GET", path + "/dir/k", reqcount.Get},
		{"GET", path + "/dir/k?versionId=3&x-id=GetObject", reqcount.Get},
		{"GET", path + "/k?partNumber=2", reqcount.Get},
		{"GET", path + "/k?response-content-type=text%2Fplain", reqcount.Get},
		{"GET", virtual + "/k?x-id=GetObject", reqcount.Get},
		{"GET", virtual + "/data/k", reqcount.Get}, // a key that starts with the bucket's name
		{"GET", virtual + "/data", reqcount.Get},
		{"GET", base + "/k", reqcount.Get},
		{"HEAD", path + "/k", reqcount.Head},
		{"HEAD", virtual + "/k?versionId=1", reqcount.Head},
		{"HEAD", path, reqcount.Head}, // HeadBucket
		{"PUT", path + "/k?x-id=PutObject", reqcount.Put},
		{"PUT", virtual + "/a/b", reqcount.Put},
		{"PUT", path + "/k?partNumber=1&uploadId=xyz&x-id=UploadPart", reqcount.Put},
		{"PUT", path + "/copy?x-id=CopyObject", reqcount.Put},
		{"DELETE", path + "/k?x-id=DeleteObject", reqcount.Delete},
		{"DELETE", virtual + "/k", reqcount.Delete},
		// Listings.
		{"GET", path + "?list-type=2&prefix=root%2F&encoding-type=url", reqcount.List},
		{"GET", path + "/?list-type=2&delimiter=%2F&max-keys=1000&continuation-token=abc", reqcount.List},
		{"GET", path, reqcount.List}, // ListObjects (v1) without parameters
		{"GET", path + "?prefix=a&marker=b", reqcount.List},
		{"GET", virtual + "/?list-type=2&prefix=root%2F", reqcount.List},
		{"GET", virtual + "/", reqcount.List},
		{"GET", base + "?list-type=2", reqcount.List},
		{"GET", path + "?versions&key-marker=a", reqcount.List},
		{"GET", path + "?uploads&prefix=x", reqcount.List},
		{"GET", path + "/k?uploadId=xyz&x-id=ListParts", reqcount.List},
		// Everything else.
		{"POST", path + "/k?uploads&x-id=CreateMultipartUpload", reqcount.Other},
		{"POST", path + "/k?uploadId=xyz&x-id=CompleteMultipartUpload", reqcount.Other},
		{"DELETE", path + "/k?uploadId=xyz&x-id=AbortMultipartUpload", reqcount.Other},
		{"POST", path + "?delete", reqcount.Other},
		{"GET", path + "/k?acl", reqcount.Other},
		{"GET", path + "/k?tagging", reqcount.Other},
		{"PUT", path + "/k?tagging", reqcount.Other},
		{"DELETE", path + "/k?tagging", reqcount.Other},
		{"GET", path + "/k?attributes", reqcount.Other},
		{"POST", path + "/k?restore", reqcount.Other},
		{"POST", path + "/k?append", reqcount.Other}, // OSS's AppendObject is no S3 request
		{"GET", path + "?location", reqcount.Other},
		{"GET", path + "?versioning", reqcount.Other},
		{"PUT", path, reqcount.Other},                     // CreateBucket
		{"DELETE", path, reqcount.Other},                  // DeleteBucket
		{"GET", "http://127.0.0.1:9000/", reqcount.Other}, // ListBuckets
		{"GET", "http://127.0.0.1:9000/other/k", reqcount.Other},
		{"OPTIONS", path + "/k", reqcount.Other},
	}
	for _, c := range cases {
		u, err := url.Parse(c.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := kindOf(c.method, u, "data", false); got != c.want {
			t.Errorf("%s %s = %v, want %v", c.method, c.url, got, c.want)
		}
	}
	// A host that begins with the bucket's name, in path style: the
	// store's addressing settles it.
	u, _ := url.Parse("http://data.local:9000/data?list-type=2")
	if got := kindOf("GET", u, "data", true); got != reqcount.List {
		t.Errorf("path style on host data.local: GET /data?list-type=2 = %v, want List", got)
	}
	if got := kindOf("GET", u, "data", false); got != reqcount.Get {
		t.Errorf("virtual-hosted on host data.local: GET /data = %v, want Get (key \"data\")", got)
	}
}
