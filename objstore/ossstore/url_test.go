package ossstore_test

import (
	"errors"
	"io/fs"
	"net/url"
	"strings"
	"testing"

	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/ossstore"
)

func TestParseURL(t *testing.T) {
	t.Parallel()
	good := []struct {
		url, bucket, prefix string
		opts                ossstore.Options
	}{
		{"oss://my-bucket", "my-bucket", "", ossstore.Options{}},
		{"oss://my-bucket/", "my-bucket", "", ossstore.Options{}},
		{"OSS://abc/data/set", "abc", "data/set/", ossstore.Options{}},
		{"oss://abc/data/set/", "abc", "data/set/", ossstore.Options{}},
		{"oss://abc/with%20space/%E6%97%A5", "abc", "with space/日/", ossstore.Options{}},
		{"oss://b-1/p?region=cn-hangzhou", "b-1", "p/", ossstore.Options{Region: "cn-hangzhou"}},
		{"oss://b-1/p?endpoint=oss-cn-beijing.aliyuncs.com", "b-1", "p/", ossstore.Options{Endpoint: "oss-cn-beijing.aliyuncs.com"}},
		{"oss://b-1?endpoint=http://127.0.0.1:9000&region=x&path_style=true", "b-1", "", ossstore.Options{Endpoint: "http://127.0.0.1:9000", Region: "x", PathStyle: true}},
		{"oss://b-1?endpoint=https%3A%2F%2Foss.example.com%3A8443%2F&path_style=false", "b-1", "", ossstore.Options{Endpoint: "https://oss.example.com:8443/"}},
		{"oss://" + strings.Repeat("a", 63), strings.Repeat("a", 63), "", ossstore.Options{}},
	}
	for _, c := range good {
		u, err := objstore.ParseURL(c.url)
		if err != nil {
			t.Fatalf("objstore.ParseURL(%q): %v", c.url, err)
		}
		bucket, prefix, opts, err := ossstore.ParseURL(u)
		if err != nil {
			t.Errorf("ParseURL(%q): %v", c.url, err)
			continue
		}
		if bucket != c.bucket || prefix != c.prefix || opts != c.opts {
			t.Errorf("ParseURL(%q) = %q, %q, %+v; want %q, %q, %+v", c.url, bucket, prefix, opts, c.bucket, c.prefix, c.opts)
		}
	}

	bad := []string{
		"s3://bucket",                                  // other scheme
		"oss://ab",                                     // too short
		"oss://" + strings.Repeat("a", 64),             // too long
		"oss://My-Bucket",                              // upper case
		"oss://my_bucket",                              // underscore
		"oss://my.bucket",                              // dot
		"oss://-bucket",                                // leading hyphen
		"oss://bucket-",                                // trailing hyphen
		"oss://bucket:9000",                            // port
		"oss:///prefix",                                // no bucket
		"oss://bucket//double",                         // empty element
		"oss://bucket/a/../b",                          // dot-dot
		"oss://bucket/./a",                             // dot
		"oss://bucket?unknown=1",                       // unknown parameter
		"oss://bucket?Region=cn-hangzhou",              // parameters are case-sensitive
		"oss://bucket?region=a&region=b",               // repeated
		"oss://bucket?region=CN_Hangzhou",              // bad region
		"oss://bucket?path_style=yes",                  // not a bool
		"oss://bucket?endpoint=ftp://host",             // scheme
		"oss://bucket?endpoint=http://",                // no host
		"oss://bucket?endpoint=http://h/p",             // path
		"oss://bucket?endpoint=http://h?q",             // query
		"oss://bucket?endpoint=http://h:99999",         // port
		"oss://bucket#frag",                            // fragment
		"oss://key:secret@bucket/p",                    // credentials
		"oss://bucket?endpoint=http://key:secret@host", // credentials in the endpoint
		"oss://bucket?endpoint=http://key:secret@host&bogus=1",
	}
	for _, raw := range bad {
		u, err := objstore.ParseURL(raw)
		if err == nil {
			_, _, _, err = ossstore.ParseURL(u)
		}
		if !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("ParseURL(%q): err = %v, want fs.ErrInvalid", raw, err)
			continue
		}
		if strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseURL(%q): error shows the secret: %v", raw, err)
		}
		if !strings.HasPrefix(err.Error(), "objstore: ") {
			t.Errorf("ParseURL(%q): error %q lacks the objstore prefix", raw, err)
		}
	}
}

func TestOpenURLRegistered(t *testing.T) {
	if !strings.Contains(strings.Join(objstore.DefaultURLMux().Schemes(), ","), "oss") {
		t.Fatalf("scheme oss not registered: %q", objstore.DefaultURLMux().Schemes())
	}
	for _, raw := range []string{"oss://bucket?bogus=1", "oss://bucket"} { // the second has no region
		if _, err := objstore.Open(t.Context(), raw); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Open(%q): err = %v, want fs.ErrInvalid", raw, err)
		}
	}
}

// FuzzParseURL checks that ParseURL never panics and that what it accepts
// is what New accepts, with a valid bucket and prefix.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"oss://bucket", "oss://bucket/p/q?region=cn-hangzhou", "oss://b-1?endpoint=http://127.0.0.1:9000&region=x&path_style=true",
		"oss://bucket/%2e%2e/x", "oss://bucket?endpoint=h:1", "oss://u:p@bucket", "oss://bucket#x", "oss://[::1]/x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := url.Parse(raw)
		if err != nil {
			return
		}
		bucket, prefix, opts, err := ossstore.ParseURL(u)
		if err != nil {
			if !errors.Is(err, fs.ErrInvalid) {
				t.Fatalf("ParseURL(%q): err = %v, want fs.ErrInvalid", raw, err)
			}
			if u.User != nil {
				// A password that also appears elsewhere in the URL (as the
				// host, say) cannot be told apart from that part.
				if p, ok := u.User.Password(); ok && len(p) > 3 && strings.Contains(err.Error(), p) && !strings.Contains(u.Redacted(), p) {
					t.Fatalf("ParseURL(%q): error shows the password: %v", raw, err)
				}
			}
			return
		}
		if !ossstore.ValidBucketName(bucket) {
			t.Fatalf("ParseURL(%q) accepted bucket %q", raw, bucket)
		}
		if prefix != "" && (!strings.HasSuffix(prefix, "/") || !objstore.ValidKey(strings.TrimSuffix(prefix, "/"))) {
			t.Fatalf("ParseURL(%q) accepted prefix %q", raw, prefix)
		}
		if opts.Region == "" {
			opts.Region = "cn-hangzhou" // New needs one unless the endpoint names it
		}
		s, err := ossstore.New(t.Context(), bucket, prefix, &opts)
		if err != nil {
			t.Fatalf("ParseURL(%q) accepted what New refuses: %v", raw, err)
		}
		s.Close()
	})
}
