package ossstore

import (
	"net/url"
	"testing"

	"github.com/tierfs/tierfs/internal/reqcount"
)

// TestKindOf: OSS requests, as the v2 SDK sends them in virtual-host style
// (its default) and path style, by method and URL.
func TestKindOf(t *testing.T) {
	const (
		virtual = "https://data.oss-cn-hangzhou.aliyuncs.com"
		path    = "http://127.0.0.1:9000/data"
	)
	cases := []struct {
		method, url string
		want        reqcount.Kind
	}{
		{"GET", virtual + "/k", reqcount.Get},
		{"GET", virtual + "/dir/k?versionId=CAEQ", reqcount.Get},
		{"GET", virtual + "/img.jpg?x-oss-process=image%2Fresize%2Cw_100", reqcount.Get},
		{"GET", path + "/k", reqcount.Get},
		{"HEAD", virtual + "/k", reqcount.Head},
		{"HEAD", virtual + "/k?objectMeta", reqcount.Head}, // GetObjectMeta
		{"PUT", virtual + "/k", reqcount.Put},
		{"PUT", virtual + "/k?partNumber=1&uploadId=0004B9", reqcount.Put},
		{"PUT", path + "/k?partNumber=3&uploadId=1", reqcount.Put},
		{"POST", virtual + "/k?append&position=0", reqcount.Put}, // AppendObject
		{"DELETE", virtual + "/k", reqcount.Delete},
		{"DELETE", path + "/a/b", reqcount.Delete},
		{"GET", virtual + "/?list-type=2&prefix=root%2F&encoding-type=url&max-keys=1000", reqcount.List},
		{"GET", virtual + "/?prefix=a&marker=b&delimiter=%2F", reqcount.List}, // ListObjects (v1)
		{"GET", path + "/?list-type=2&continuation-token=x&fetch-owner=false", reqcount.List},
		{"GET", virtual + "/?uploads&encoding-type=url", reqcount.List},
		{"GET", virtual + "/?versions", reqcount.List},
		{"GET", virtual + "/k?uploadId=0004B9&encoding-type=url", reqcount.List},   // ListParts
		{"POST", virtual + "/k?uploads&encoding-type=url", reqcount.Other},         // InitiateMultipartUpload
		{"POST", virtual + "/k?uploadId=0004B9&encoding-type=url", reqcount.Other}, // CompleteMultipartUpload
		{"DELETE", virtual + "/k?uploadId=0004B9", reqcount.Other},                 // AbortMultipartUpload
		{"POST", virtual + "/?delete&encoding-type=url", reqcount.Other},           // DeleteMultipleObjects
		{"GET", virtual + "/k?acl", reqcount.Other},
		{"PUT", virtual + "/k?symlink", reqcount.Other},
		{"GET", virtual + "/k?symlink", reqcount.Other},
		{"PUT", virtual + "/k?tagging", reqcount.Other},
		{"POST", virtual + "/k?restore", reqcount.Other},
		{"GET", virtual + "/?bucketInfo", reqcount.Other},
		{"GET", virtual + "/?stat", reqcount.Other},
		{"PUT", virtual + "/", reqcount.Other},                           // PutBucket
		{"GET", "https://oss-cn-hangzhou.aliyuncs.com/", reqcount.Other}, // ListBuckets
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
}
