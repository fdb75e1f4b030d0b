package s3store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/tierfs/tierfs/objstore"
)

func TestParseURL(t *testing.T) {
	good := []struct {
		url            string
		bucket, prefix string
		opts           Options
	}{
		{"s3://my-bucket", "my-bucket", "", Options{}},
		{"s3://my-bucket/", "my-bucket", "", Options{}},
		{"S3://my.bucket.01/data/train", "my.bucket.01", "data/train/", Options{}},
		{"s3://abc/a/b/c/?region=eu-central-1", "abc", "a/b/c/", Options{Region: "eu-central-1"}},
		{"s3://abc/d%20e?endpoint=http://127.0.0.1:7070&path_style=true", "abc", "d e/",
			Options{Endpoint: "http://127.0.0.1:7070", PathStyle: true}},
		{"s3://abc?endpoint=https%3A%2F%2Fs3.example.com%2Fbase&path_style=0&region=auto", "abc", "",
			Options{Endpoint: "https://s3.example.com/base", Region: "auto"}},
		{"s3://abc/%C3%BC", "abc", "ü/", Options{}},
	}
	for _, tc := range good {
		u, err := objstore.ParseURL(tc.url)
		if err != nil {
			t.Errorf("%s: ParseURL: %v", tc.url, err)
			continue
		}
		b, p, o, err := parseURL(u)
		if err != nil || b != tc.bucket || p != tc.prefix || o != tc.opts {
			t.Errorf("parseURL(%s) = %q, %q, %+v, %v; want %q, %q, %+v", tc.url, b, p, o, err, tc.bucket, tc.prefix, tc.opts)
		}
	}
	bad := []string{
		"s3://",
		"s3:///prefix",
		"s3://ab",
		"s3://UPPER",
		"s3://under_score",
		"s3://-dash",
		"s3://dash-",
		"s3://a..b",
		"s3://10.0.0.1",
		"s3://xn--bucket",
		"s3://bucket-s3alias",
		"s3://bucket:9000/x",
		"s3://" + strings.Repeat("a", 64),
		"s3://bucket/a//b",
		"s3://bucket//a",
		"s3://bucket/a/../b",
		"s3://bucket/./a",
		"s3://bucket/%FF",
		"s3://bucket?unknown=1",
		"s3://bucket?region=a&region=b",
		"s3://bucket?path_style=yes",
		"s3://bucket?endpoint=ftp://host",
		"s3://bucket?endpoint=host:9000",
		"s3://bucket?endpoint=http://",
		"s3://bucket?endpoint=http://host:99999",
		"s3://bucket?endpoint=http://host/?q=1",
		"s3://bucket?endpoint=http://user:pass@host",
		"s3://bucket?region=Bad_Region",
		"s3://bucket#frag",
		"s3://user:secret@bucket/p",
		"gs://bucket",
	}
	for _, raw := range bad {
		u, err := objstore.ParseURL(raw)
		if err == nil {
			_, _, _, err = parseURL(u)
		}
		if !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("%s: err = %v, want fs.ErrInvalid", raw, err)
		}
		if err != nil && (strings.Contains(err.Error(), "secret") || strings.Contains(err.Error(), "pass@")) {
			t.Errorf("%s: error %q shows a credential", raw, err)
		}
	}
}

// FuzzParseURL checks that parseURL never panics, rejects with
// fs.ErrInvalid, and accepts only what New accepts.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"s3://bucket/prefix?endpoint=http://127.0.0.1:9000&region=us-east-1&path_style=true",
		"s3://a.b-c/x/y/",
		"s3://bucket?endpoint=https://[::1]:443/p",
		"s3://user:pw@bucket",
		"s3://bucket/%00?region=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		u, err := objstore.ParseURL(raw)
		if err != nil {
			return
		}
		bucket, prefix, opts, err := parseURL(u)
		if err != nil {
			if !errors.Is(err, fs.ErrInvalid) {
				t.Fatalf("parseURL(%q) error %v does not wrap fs.ErrInvalid", raw, err)
			}
			if u.User != nil {
				// A password that also appears elsewhere in the URL (as the
				// host, say) cannot be told apart from that part.
				if pw, ok := u.User.Password(); ok && len(pw) > 3 && strings.Contains(err.Error(), pw) && !strings.Contains(u.Redacted(), pw) {
					t.Fatalf("error %q shows the password", err)
				}
			}
			return
		}
		if checkBucket(bucket) != nil {
			t.Fatalf("accepted bad bucket %q", bucket)
		}
		if prefix != "" && (!strings.HasSuffix(prefix, "/") || !objstore.ValidKey(strings.TrimSuffix(prefix, "/"))) {
			t.Fatalf("accepted bad prefix %q", prefix)
		}
		if err := opts.checkConnection(); err != nil {
			t.Fatalf("accepted bad options %+v: %v", opts, err)
		}
		if opts.Endpoint != "" {
			e, err := url.Parse(opts.Endpoint)
			if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" || e.User != nil {
				t.Fatalf("accepted bad endpoint %q", opts.Endpoint)
			}
		}
	})
}

func apiErr(code string, status int) error {
	return &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
			Err:      &smithy.GenericAPIError{Code: code, Message: "m"},
		},
		RequestID: "req",
	}
}

func TestMapError(t *testing.T) {
	cases := []struct {
		err    error
		pinned bool
		want   error
	}{
		{apiErr("NoSuchKey", 404), false, fs.ErrNotExist},
		{apiErr("NotFound", 404), false, fs.ErrNotExist},
		{apiErr("NoSuchBucket", 404), false, fs.ErrNotExist},
		{apiErr("NoSuchVersion", 404), false, fs.ErrNotExist},
		{apiErr("", 404), false, fs.ErrNotExist},
		{apiErr("NoSuchKey", 404), true, objstore.ErrChanged},
		{apiErr("NoSuchVersion", 404), true, objstore.ErrChanged},
		{apiErr("NoSuchBucket", 404), true, fs.ErrNotExist},
		{apiErr("AccessDenied", 403), false, fs.ErrPermission},
		{apiErr("InvalidAccessKeyId", 403), false, fs.ErrPermission},
		{apiErr("SignatureDoesNotMatch", 403), false, fs.ErrPermission},
		{apiErr("Forbidden", 403), false, fs.ErrPermission},
		{apiErr("ExpiredToken", 400), false, fs.ErrPermission},
		{apiErr("", 401), false, fs.ErrPermission},
		{apiErr("PreconditionFailed", 412), false, objstore.ErrChanged},
		{apiErr("", 412), true, objstore.ErrChanged},
		{apiErr("InvalidRange", 416), false, fs.ErrInvalid},
		{apiErr("", 416), false, fs.ErrInvalid},
		{&smithy.GenericAPIError{Code: "NoSuchKey"}, false, fs.ErrNotExist},
		{&errVersion{}, false, objstore.ErrChanged},
		{&errSize{want: 3, got: 2}, false, fs.ErrInvalid},
		{&errTooLarge{}, false, fs.ErrInvalid},
	}
	for _, tc := range cases {
		got := mapError("read", "k", tc.err, tc.pinned)
		if !errors.Is(got, tc.want) {
			t.Errorf("mapError(%v, pinned=%v) = %v, want %v", tc.err, tc.pinned, got, tc.want)
		}
		for _, other := range []error{fs.ErrNotExist, fs.ErrPermission, fs.ErrInvalid, objstore.ErrChanged} {
			if other != tc.want && errors.Is(got, other) {
				t.Errorf("mapError(%v) = %v also wraps %v", tc.err, got, other)
			}
		}
		if !errors.Is(got, tc.err) {
			t.Errorf("mapError(%v) = %v lost the cause", tc.err, got)
		}
		if !strings.HasPrefix(got.Error(), `objstore: read "k": `) || !strings.Contains(got.Error(), "s3: ") {
			t.Errorf("message %q", got.Error())
		}
	}
	var ae smithy.APIError
	if err := mapError("stat", "k", apiErr("NoSuchKey", 404), false); !errors.As(err, &ae) || ae.ErrorCode() != "NoSuchKey" {
		t.Errorf("errors.As(smithy.APIError) lost: %v", err)
	}
	for _, cause := range []error{context.Canceled, context.DeadlineExceeded} {
		sdk := &smithy.CanceledError{Err: cause}
		got := mapError("put", "k", fmt.Errorf("operation error S3: PutObject: %w", sdk), false)
		if !errors.Is(got, cause) {
			t.Errorf("ctx error %v lost: %v", cause, got)
		}
		for _, s := range []error{fs.ErrNotExist, fs.ErrPermission, fs.ErrInvalid, objstore.ErrChanged} {
			if errors.Is(got, s) {
				t.Errorf("ctx error mapped to %v", s)
			}
		}
	}
	// Throttling and server errors have no sentinel.
	for _, err := range []error{apiErr("SlowDown", 503), apiErr("InternalError", 500), errors.New("dial tcp: refused")} {
		got := mapError("read", "k", err, true)
		for _, s := range []error{fs.ErrNotExist, fs.ErrPermission, fs.ErrInvalid, objstore.ErrChanged} {
			if errors.Is(got, s) {
				t.Errorf("mapError(%v) = %v wraps %v", err, got, s)
			}
		}
	}
}

func TestParseContentRange(t *testing.T) {
	good := map[string][3]int64{"bytes 0-0/1": {0, 0, 1}, "bytes 5-9/10": {5, 9, 10}, "bytes 100-199/1000": {100, 199, 1000}}
	for in, want := range good {
		s, e, tot, err := parseContentRange(in)
		if err != nil || s != want[0] || e != want[1] || tot != want[2] {
			t.Errorf("parseContentRange(%q) = %d, %d, %d, %v", in, s, e, tot, err)
		}
	}
	for _, in := range []string{"", "bytes */10", "bytes 5-4/10", "bytes 0-9/9", "bits 0-1/2", "bytes 0-1", "bytes a-1/2", "bytes -1-2/5"} {
		if _, _, _, err := parseContentRange(in); err == nil {
			t.Errorf("parseContentRange(%q) accepted", in)
		}
	}
}

func TestCheckBodyRange(t *testing.T) {
	n := func(v int64) *int64 { return &v }
	for _, c := range []struct {
		off, length, start, end, total int64
		cl                             *int64
		ok                             bool
	}{
		{0, 10, 0, 9, 100, nil, true},
		{0, 10, 0, 9, 100, n(10), true},
		{5, -1, 5, 99, 100, n(95), true},
		{90, 20, 90, 99, 100, nil, true}, // clamped at the end
		{0, 10, 0, 8, 100, nil, false},   // short
		{0, 10, 0, 10, 100, nil, false},  // long
		{1, 10, 0, 9, 100, nil, false},   // wrong start
		{0, 10, 0, 9, 100, n(9), false},  // length disagrees
		{5, -1, 5, 98, 100, nil, false},  // not to the end
	} {
		err := checkBodyRange(c.off, c.length, c.start, c.end, c.total, c.cl)
		if (err == nil) != c.ok {
			t.Errorf("checkBodyRange(%+v) = %v, want ok=%v", c, err, c.ok)
		}
	}
}

func TestVersion(t *testing.T) {
	etag, id := `"abc"`, "null"
	if v := version(&etag, &id); v != (objstore.Version{ETag: "abc"}) {
		t.Errorf("version = %+v", v)
	}
	id = "v1"
	if v := version(&etag, &id); v != (objstore.Version{ETag: "abc", ID: "v1"}) {
		t.Errorf("version = %+v", v)
	}
	weak := `W/"x"`
	if v := version(&weak, nil); v.ETag != "x" {
		t.Errorf("weak etag = %+v", v)
	}
}
