package s3test_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"
	osscred "github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/tierfs/tierfs/internal/s3test"
)

const bucket = "bkt"

type noBackoff struct{}

func (noBackoff) BackoffDelay(int, error) (time.Duration, error) { return 0, nil }

// newClient returns an AWS SDK client for s that retries up to maxAttempts
// times without waiting.
func newClient(t testing.TB, s *s3test.Server, maxAttempts int) *s3.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.URL()),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		HTTPClient:   &http.Client{Transport: tr},
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = maxAttempts
			o.Backoff = noBackoff{}
			o.RateLimiter = ratelimit.None
		}),
	})
}

func newOSSClient(t *testing.T, s *s3test.Server) *oss.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	cfg := oss.LoadDefaultConfig().
		WithEndpoint(s.URL()).
		WithRegion("us-east-1").
		WithUsePathStyle(true).
		WithHttpClient(&http.Client{Transport: tr}).
		WithCredentialsProvider(osscred.NewStaticCredentialsProvider("AKID", "SECRET"))
	return oss.NewClient(cfg)
}

// startWithBucket starts a server holding bucket.
func startWithBucket(t *testing.T, cfg s3test.Config) *s3test.Server {
	t.Helper()
	s := s3test.Start(t, cfg)
	if err := s.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	return s
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func payload(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func getBody(ctx context.Context, c *s3.Client, key string, optFns ...func(*s3.GetObjectInput)) ([]byte, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	for _, f := range optFns {
		f(in)
	}
	out, err := c.GetObject(ctx, in)
	if err != nil {
		return nil, err
	}
	defer out.Body.Close()
	return io.ReadAll(out.Body)
}

func TestPutGetHeadAndCounts(t *testing.T) {
	s := startWithBucket(t, s3test.Config{})
	c := newClient(t, s, 1)
	ctx := t.Context()
	data := payload(100_000)

	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("dir/obj"), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	got, err := getBody(ctx, c, "dir/obj")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("get: %d bytes, %v", len(got), err)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("dir/obj")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToInt64(head.ContentLength) != int64(len(data)) {
		t.Errorf("head: length %d", aws.ToInt64(head.ContentLength))
	}

	want := s3test.ObjectStats{Requests: 3, Gets: 1, Heads: 1, Puts: 1, BodyBytes: int64(len(data)), PutBytes: int64(len(data))}
	if st := s.Stats(bucket, "dir/obj"); st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}
	if _, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	want.Requests++
	want.Lists++
	if tot := s.Total(); tot != want {
		t.Errorf("total = %+v, want %+v", tot, want)
	}
	if st := s.BucketStats(bucket); st != want {
		t.Errorf("bucket stats = %+v, want %+v", st, want)
	}

	// Direct calls are not counted.
	if err := s.PutObject(bucket, "direct", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteObject(bucket, "direct"); err != nil {
		t.Fatal(err)
	}
	if tot := s.Total(); tot != want {
		t.Errorf("total after direct calls = %+v, want %+v", tot, want)
	}
	s.ResetStats()
	if st, tot := s.Stats(bucket, "dir/obj"), s.Total(); st != (s3test.ObjectStats{}) || tot != (s3test.ObjectStats{}) {
		t.Errorf("after reset: %+v %+v", st, tot)
	}
}

func TestDirectPutIsReadable(t *testing.T) {
	s := startWithBucket(t, s3test.Config{})
	c := newClient(t, s, 1)
	if err := s.PutObject(bucket, "k", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	got, err := getBody(t.Context(), c, "k")
	if err != nil || string(got) != "hello" {
		t.Fatalf("get = %q, %v", got, err)
	}
	if err := s.PutObject("nobucket", "k", nil); err == nil {
		t.Error("put into a missing bucket: no error")
	}
}

func TestRanges(t *testing.T) {
	s := startWithBucket(t, s3test.Config{})
	c := newClient(t, s, 1)
	ctx := t.Context()
	data := payload(1000)
	if err := s.PutObject(bucket, "k", data); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rng, contentRange string
		want              []byte
	}{
		{"bytes=10-19", "bytes 10-19/1000", data[10:20]},
		{"bytes=990-", "bytes 990-999/1000", data[990:]},
		{"bytes=-5", "bytes 995-999/1000", data[995:]},
		{"bytes=995-2000", "bytes 995-999/1000", data[995:]},
	} {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("k"), Range: aws.String(tc.rng)})
		if err != nil {
			t.Fatalf("%s: %v", tc.rng, err)
		}
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		if err != nil || !bytes.Equal(got, tc.want) {
			t.Errorf("%s: %d bytes, %v", tc.rng, len(got), err)
		}
		if cr := aws.ToString(out.ContentRange); cr != tc.contentRange {
			t.Errorf("%s: Content-Range %q, want %q", tc.rng, cr, tc.contentRange)
		}
	}

	// The SDK hides the status; check 206 with a plain request.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/"+bucket+"/k", nil)
	req.Header.Set("Range", "bytes=0-9")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent {
		t.Errorf("plain ranged GET: %s", resp.Status)
	}

	// An object stored with a checksum: a ranged GET must not carry the
	// full-object checksum, which the SDK would check the range against.
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("sum"), Body: bytes.NewReader(data), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32}); err != nil {
		t.Fatal(err)
	}
	for _, rng := range []string{"", "bytes=10-19"} {
		got, err := getBody(ctx, c, "sum", func(in *s3.GetObjectInput) {
			in.ChecksumMode = types.ChecksumModeEnabled
			if rng != "" {
				in.Range = aws.String(rng)
			}
		})
		if err != nil || len(got) == 0 {
			t.Errorf("checksummed GET %q: %d bytes, %v", rng, len(got), err)
		}
	}

	_, err = getBody(ctx, c, "k", func(in *s3.GetObjectInput) { in.Range = aws.String("bytes=1000-") })
	if apiCode(err) != "InvalidRange" || httpStatus(err) != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("range past the end: code %q status %d (%v)", apiCode(err), httpStatus(err), err)
	}
}

func TestConditionalGetHead(t *testing.T) {
	s := startWithBucket(t, s3test.Config{})
	c := newClient(t, s, 1)
	ctx := t.Context()
	if err := s.PutObject(bucket, "k", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	etag := aws.ToString(head.ETag)
	if err := s.PutObject(bucket, "k", []byte("v2")); err != nil {
		t.Fatal(err)
	}

	_, err = getBody(ctx, c, "k", func(in *s3.GetObjectInput) { in.IfMatch = aws.String(etag) })
	if apiCode(err) != "PreconditionFailed" || httpStatus(err) != http.StatusPreconditionFailed {
		t.Errorf("GET stale If-Match: code %q status %d (%v)", apiCode(err), httpStatus(err), err)
	}
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("k"), IfMatch: aws.String(etag)})
	if httpStatus(err) != http.StatusPreconditionFailed {
		t.Errorf("HEAD stale If-Match: code %q status %d (%v)", apiCode(err), httpStatus(err), err)
	}

	head, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	cur := aws.ToString(head.ETag)
	for _, im := range []string{cur, strings.Trim(cur, `"`), "*", `"nope", ` + cur} {
		got, err := getBody(ctx, c, "k", func(in *s3.GetObjectInput) { in.IfMatch = aws.String(im) })
		if err != nil || string(got) != "v2" {
			t.Errorf("GET If-Match %s: %q, %v", im, got, err)
		}
	}
	for _, inm := range []string{cur, strings.Trim(cur, `"`), "*"} {
		_, err = getBody(ctx, c, "k", func(in *s3.GetObjectInput) { in.IfNoneMatch = aws.String(inm) })
		if httpStatus(err) != http.StatusNotModified {
			t.Errorf("GET If-None-Match %s: status %d (%v)", inm, httpStatus(err), err)
		}
	}
	if got, err := getBody(ctx, c, "k", func(in *s3.GetObjectInput) { in.IfNoneMatch = aws.String(etag) }); err != nil || string(got) != "v2" {
		t.Errorf("GET stale If-None-Match: %q, %v", got, err)
	}
	_, err = getBody(ctx, c, "missing", func(in *s3.GetObjectInput) { in.IfMatch = aws.String(etag) })
	if apiCode(err) != "NoSuchKey" {
		t.Errorf("GET missing with If-Match: %v", err)
	}
}

func TestMultipartUpload(t *testing.T) {
	s := startWithBucket(t, s3test.Config{})
	c := newClient(t, s, 1)
	ctx := t.Context()
	parts := [][]byte{payload(6 << 20), []byte("tail")}

	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("mp")})
	if err != nil {
		t.Fatal(err)
	}
	var done []types.CompletedPart
	for i, p := range parts {
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: aws.String(bucket), Key: aws.String("mp"), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p),
		})
		if err != nil {
			t.Fatal(err)
		}
		done = append(done, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	complete, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String("mp"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
	})
	if err != nil {
		t.Fatal(err)
	}
	etag := aws.ToString(complete.ETag)
	if !strings.HasSuffix(etag, `-2"`) {
		t.Errorf("complete ETag = %s", etag)
	}
	// GET, HEAD and listings report the multipart ETag, and If-Match takes it.
	got, err := getBody(ctx, c, "mp", func(in *s3.GetObjectInput) { in.IfMatch = aws.String(etag) })
	if err != nil || !bytes.Equal(got, slices.Concat(parts...)) {
		t.Fatalf("get: %d bytes, %v", len(got), err)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("mp")})
	if err != nil || aws.ToString(head.ETag) != etag {
		t.Errorf("head ETag = %s, %v", aws.ToString(head.ETag), err)
	}
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil || len(list.Contents) != 1 || aws.ToString(list.Contents[0].ETag) != etag {
		t.Errorf("list: %+v, %v", list, err)
	}
	// Create and complete are Other; the parts are Puts.
	want := s3test.ObjectStats{Requests: 6, Gets: 1, Heads: 1, Puts: 2, Other: 2, BodyBytes: int64(len(got)), PutBytes: int64(len(got))}
	if st := s.Stats(bucket, "mp"); st != want {
		t.Errorf("stats = %+v, want %+v", st, want)
	}

	// Overwritten by a plain PUT, the object has a plain ETag again.
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("mp"), Body: strings.NewReader("small")}); err != nil {
		t.Fatal(err)
	}
	head, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("mp")})
	if err != nil || strings.Contains(aws.ToString(head.ETag), "-") {
		t.Errorf("head ETag after PUT = %s, %v", aws.ToString(head.ETag), err)
	}
}

func TestListPagination(t *testing.T) {
	s := startWithBucket(t, s3test.Config{})
	c := newClient(t, s, 1)
	ctx := t.Context()
	var keys []string
	for i := range 2500 {
		k := fmt.Sprintf("k%05d", i)
		if i%10 == 0 {
			k = fmt.Sprintf("d%03d/k%05d", i/100, i) // 25 common prefixes under "/"
		}
		keys = append(keys, k)
		if err := s.PutObject(bucket, k, nil); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(keys)

	var got []string
	pages := 0
	for p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)}); p.HasMorePages(); {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, o := range out.Contents {
			got = append(got, aws.ToString(o.Key))
		}
	}
	if pages != 3 || !slices.Equal(got, keys) {
		t.Errorf("V2: %d pages, %d keys", pages, len(got))
	}

	// V1 without a delimiter: no NextMarker, the client goes on from the last key.
	got, pages = nil, 0
	marker := ""
	for {
		out, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String(bucket), Marker: aws.String(marker), MaxKeys: aws.Int32(700)})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, o := range out.Contents {
			got = append(got, aws.ToString(o.Key))
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		marker = got[len(got)-1]
	}
	if pages != 4 || !slices.Equal(got, keys) {
		t.Errorf("V1: %d pages, %d keys", pages, len(got))
	}

	// With a delimiter, small pages must not repeat a common prefix.
	var entries []string
	for p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Delimiter: aws.String("/"), MaxKeys: aws.Int32(97)}); p.HasMorePages(); {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out.Contents {
			entries = append(entries, aws.ToString(o.Key))
		}
		for _, cp := range out.CommonPrefixes {
			entries = append(entries, aws.ToString(cp.Prefix))
		}
	}
	slices.Sort(entries)
	if n := len(entries); n != 2250+25 || len(slices.Compact(entries)) != n {
		t.Errorf("delimiter listing: %d entries, %d distinct", n, len(slices.Compact(entries)))
	}
	var v1 []string
	marker = ""
	for {
		out, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String(bucket), Delimiter: aws.String("/"), Marker: aws.String(marker), MaxKeys: aws.Int32(10), Prefix: aws.String("d0")})
		if err != nil {
			t.Fatal(err)
		}
		for _, cp := range out.CommonPrefixes {
			v1 = append(v1, aws.ToString(cp.Prefix))
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		marker = aws.ToString(out.NextMarker)
	}
	if len(v1) != 25 || v1[0] != "d000/" || v1[24] != "d024/" || len(slices.Compact(slices.Clone(v1))) != 25 {
		t.Errorf("V1 delimiter listing: %q", v1)
	}
}

// oddKeys are keys that encoding-type=url must carry through.
var oddKeys = []string{
	"plain", "with space", "per%cent", "plus+sign", "amp&ersand", "lt<gt>", "ünïcødé/日本語", "dir/sub dir/x+y%z",
	"quux ab/thud", "foo+1/bar", "tab\there", "q?uery#frag", "eq=sign;semi",
}

func putOddKeys(t *testing.T, s *s3test.Server) []string {
	t.Helper()
	for _, k := range oddKeys {
		if err := s.PutObject(bucket, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	return slices.Sorted(slices.Values(oddKeys))
}

func TestEncodingTypeURLAWS(t *testing.T) {
	s := startWithBucket(t, s3test.Config{})
	c := newClient(t, s, 1)
	ctx := t.Context()
	want := putOddKeys(t, s)

	// The AWS SDK for Go v2 does not decode: the caller does.
	for _, unescape := range []func(string) (string, error){url.PathUnescape, url.QueryUnescape} {
		var got []string
		for p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), EncodingType: types.EncodingTypeUrl, MaxKeys: aws.Int32(4)}); p.HasMorePages(); {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if out.EncodingType != types.EncodingTypeUrl {
				t.Errorf("EncodingType = %q", out.EncodingType)
			}
			for _, o := range out.Contents {
				k, err := unescape(aws.ToString(o.Key))
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, k)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("V2 keys = %q, want %q", got, want)
		}
	}

	out, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String(bucket), EncodingType: types.EncodingTypeUrl, Delimiter: aws.String("/"), Prefix: aws.String("dir/sub dir/")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Contents) != 1 || aws.ToString(out.Contents[0].Key) != "dir/sub%20dir/x%2By%25z" || aws.ToString(out.Prefix) != "dir/sub%20dir/" {
		t.Errorf("V1 with prefix: prefix %q, contents %+v", aws.ToString(out.Prefix), out.Contents)
	}

	// The s3-tests expectations for real S3 (test_bucket_listv2_encoding_basic).
	v2, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), EncodingType: types.EncodingTypeUrl, Delimiter: aws.String("/"), Prefix: aws.String("")})
	if err != nil {
		t.Fatal(err)
	}
	var prefixes []string
	for _, cp := range v2.CommonPrefixes {
		prefixes = append(prefixes, aws.ToString(cp.Prefix))
	}
	if wantCP := []string{"dir/", "foo%2B1/", "quux%20ab/", "%C3%BCn%C3%AFc%C3%B8d%C3%A9/"}; !slices.Equal(prefixes, wantCP) {
		t.Errorf("common prefixes = %q, want %q", prefixes, wantCP)
	}
	if aws.ToString(v2.Delimiter) != "/" {
		t.Errorf("Delimiter = %q", aws.ToString(v2.Delimiter))
	}

	// Without encoding-type the keys come back raw.
	v2, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var raw []string
	for _, o := range v2.Contents {
		raw = append(raw, aws.ToString(o.Key))
	}
	if !slices.Equal(raw, want) || v2.EncodingType != "" {
		t.Errorf("raw keys = %q (EncodingType %q)", raw, v2.EncodingType)
	}
}

func TestEncodingTypeURLOSS(t *testing.T) {
	s := startWithBucket(t, s3test.Config{})
	c := newOSSClient(t, s)
	ctx := t.Context()
	want := putOddKeys(t, s)

	var got []string
	for p := c.NewListObjectsV2Paginator(&oss.ListObjectsV2Request{Bucket: oss.Ptr(bucket), MaxKeys: 3}); p.HasNext(); {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out.Contents {
			got = append(got, oss.ToString(o.Key))
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("V2 keys = %q, want %q", got, want)
	}

	got = nil
	for p := c.NewListObjectsPaginator(&oss.ListObjectsRequest{Bucket: oss.Ptr(bucket), MaxKeys: 5, Delimiter: oss.Ptr("/")}); p.HasNext(); {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out.Contents {
			got = append(got, oss.ToString(o.Key))
		}
		for _, cp := range out.CommonPrefixes {
			got = append(got, oss.ToString(cp.Prefix))
		}
	}
	slices.Sort(got)
	wantV1 := []string{"amp&ersand", "dir/", "eq=sign;semi", "foo+1/", "lt<gt>", "per%cent", "plain", "plus+sign", "q?uery#frag", "quux ab/", "tab\there", "with space", "ünïcødé/"}
	if !slices.Equal(got, wantV1) {
		t.Errorf("V1 entries = %q, want %q", got, wantV1)
	}

	// The OSS SDK reads and writes objects too.
	if _, err := c.PutObject(ctx, &oss.PutObjectRequest{Bucket: oss.Ptr(bucket), Key: oss.Ptr("oss key+1"), Body: strings.NewReader("hi")}); err != nil {
		t.Fatal(err)
	}
	out, err := c.GetObject(ctx, &oss.GetObjectRequest{Bucket: oss.Ptr(bucket), Key: oss.Ptr("oss key+1")})
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil || string(b) != "hi" {
		t.Errorf("OSS get = %q, %v", b, err)
	}
}

func TestFaultErrors(t *testing.T) {
	s := startWithBucket(t, s3test.Config{})
	c := newClient(t, s, 3)
	ctx := t.Context()
	if err := s.PutObject(bucket, "k", []byte("data")); err != nil {
		t.Fatal(err)
	}

	// One SlowDown is retried away by the SDK; only the counters see it.
	s.InjectFault(s3test.Fault{Kind: s3test.SlowDown, Key: "k"})
	if got, err := getBody(ctx, c, "k"); err != nil || string(got) != "data" {
		t.Fatalf("get after one SlowDown: %q, %v", got, err)
	}
	if st := s.Stats(bucket, "k"); st.Gets != 2 {
		t.Errorf("gets = %d, want 2", st.Gets)
	}

	for _, tc := range []struct {
		kind     s3test.FaultKind
		code     string
		attempts int64
	}{
		{s3test.SlowDown, "SlowDown", 3},
		{s3test.InternalError, "InternalError", 3},
		{s3test.Deny, "AccessDenied", 1},
	} {
		s.ResetStats()
		s.InjectFault(s3test.Fault{Kind: tc.kind, Method: "GET", Bucket: bucket, Times: -1})
		_, err := getBody(ctx, c, "k")
		if apiCode(err) != tc.code {
			t.Errorf("%v: code %q (%v)", tc.kind, apiCode(err), err)
		}
		if st := s.Stats(bucket, "k"); st.Gets != tc.attempts {
			t.Errorf("%v: gets = %d, want %d", tc.kind, st.Gets, tc.attempts)
		}
		// A HEAD does not match a GET rule.
		if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")}); err != nil {
			t.Errorf("%v: head: %v", tc.kind, err)
		}
		s.ClearFaults()
	}

	// SkipFirst lets requests through; Times bounds the rule; the key must match.
	s.InjectFault(s3test.Fault{Kind: s3test.Deny, Key: "k", SkipFirst: 1, Times: 2})
	if err := s.PutObject(bucket, "other", []byte("o")); err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, key := range []string{"other", "k", "k", "other", "k", "k"} {
		_, err := getBody(ctx, c, key)
		codes = append(codes, apiCode(err))
	}
	if want := []string{"", "", "AccessDenied", "", "AccessDenied", ""}; !slices.Equal(codes, want) {
		t.Errorf("codes = %q, want %q", codes, want)
	}
	// Faults apply to PUTs, before the body is read.
	s.InjectFault(s3test.Fault{Kind: s3test.SlowDown, Method: "PUT", Times: -1})
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("p"), Body: bytes.NewReader(payload(100_000))})
	if apiCode(err) != "SlowDown" {
		t.Errorf("put: %v", err)
	}
	if st := s.Stats(bucket, "p"); st.Puts != 3 {
		t.Errorf("puts = %d, want 3", st.Puts)
	}
}

func TestFaultCutsBody(t *testing.T) {
	s := startWithBucket(t, s3test.Config{})
	c := newClient(t, s, 3)
	ctx := t.Context()
	data := payload(200_000)
	if err := s.PutObject(bucket, "k", data); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		kind s3test.FaultKind
		ok   func(error) bool
	}{
		{s3test.ResetAfter, func(err error) bool {
			return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF)
		}},
		{s3test.EOFAfter, func(err error) bool { return errors.Is(err, io.ErrUnexpectedEOF) }},
	} {
		s.ResetStats()
		s.InjectFault(s3test.Fault{Kind: tc.kind, Method: "GET", Key: "k", AfterBytes: 10_000})
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
		if err != nil {
			t.Fatalf("%v: %v", tc.kind, err)
		}
		if aws.ToInt64(out.ContentLength) != int64(len(data)) {
			t.Errorf("%v: Content-Length %d", tc.kind, aws.ToInt64(out.ContentLength))
		}
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		if !tc.ok(err) {
			t.Errorf("%v: read error %v", tc.kind, err)
		}
		if len(got) > 10_000 || !bytes.Equal(got, data[:len(got)]) {
			t.Errorf("%v: read %d bytes", tc.kind, len(got))
		}
		if st := s.Stats(bucket, "k"); st.BodyBytes != 10_000 || st.Gets != 1 {
			t.Errorf("%v: stats %+v", tc.kind, st)
		}
		// The next request is served normally.
		if got, err := getBody(ctx, c, "k"); err != nil || !bytes.Equal(got, data) {
			t.Errorf("%v: get after: %d bytes, %v", tc.kind, len(got), err)
		}
	}

	// A reset before any body byte: the SDK sees a reset, headers and all read.
	s.InjectFault(s3test.Fault{Kind: s3test.ResetAfter, Key: "k"})
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
	if err == nil {
		_, err = io.ReadAll(out.Body)
		out.Body.Close()
	}
	if err == nil {
		t.Error("reset after 0 bytes: no error")
	}
}

func TestStall(t *testing.T) {
	s := startWithBucket(t, s3test.Config{})
	c := newClient(t, s, 1)
	data := payload(50_000)
	if err := s.PutObject(bucket, "k", data); err != nil {
		t.Fatal(err)
	}

	// A stall without end: the client gives up through its ctx.
	s.InjectFault(s3test.Fault{Kind: s3test.StallAfter, Key: "k", AfterBytes: 1000})
	ctx, cancel := context.WithCancel(t.Context())
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1000)
	if _, err := io.ReadFull(out.Body, buf); err != nil || !bytes.Equal(buf, data[:1000]) {
		t.Fatalf("first bytes: %v", err)
	}
	cancel()
	if _, err := io.ReadAll(out.Body); !errors.Is(err, context.Canceled) {
		t.Errorf("read after cancel: %v", err)
	}
	out.Body.Close()

	// A bounded stall: the body arrives whole.
	s.InjectFault(s3test.Fault{Kind: s3test.StallAfter, Key: "k", AfterBytes: 1000, Stall: time.Millisecond})
	if got, err := getBody(t.Context(), c, "k"); err != nil || !bytes.Equal(got, data) {
		t.Errorf("bounded stall: %d bytes, %v", len(got), err)
	}

	// Close ends a stall that nobody gives up on.
	s.InjectFault(s3test.Fault{Kind: s3test.StallAfter, Key: "k", AfterBytes: 1000})
	out, err = c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(out.Body, buf); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(out.Body); err == nil {
		t.Error("read after Close: no error")
	}
	out.Body.Close()
}

func TestShapingBandwidth(t *testing.T) {
	s := startWithBucket(t, s3test.Config{})
	c := newClient(t, s, 1)
	ctx := t.Context()
	data := payload(200_000)
	if err := s.PutObject(bucket, "k", data); err != nil {
		t.Fatal(err)
	}

	if got, err := getBody(ctx, c, "k"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("unshaped: %v", err)
	}
	if n := s.ThrottleWaits(); n != 0 {
		t.Errorf("unshaped: %d throttled writes", n)
	}

	for _, sh := range []s3test.Shaping{{ConnBandwidth: 4 << 20}, {TotalBandwidth: 4 << 20}} {
		before := s.ThrottleWaits()
		s.SetShaping(sh)
		if got, err := getBody(ctx, c, "k"); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%+v: %v", sh, err)
		}
		if s.ThrottleWaits() == before {
			t.Errorf("%+v: no write waited", sh)
		}
	}

	s.SetShaping(s3test.Shaping{})
	before := s.ThrottleWaits()
	if _, err := getBody(ctx, c, "k"); err != nil {
		t.Fatal(err)
	}
	if n := s.ThrottleWaits() - before; n != 0 {
		t.Errorf("shaping off: %d throttled writes", n)
	}
}

func TestShapingLatencyAndClose(t *testing.T) {
	s := startWithBucket(t, s3test.Config{Shaping: s3test.Shaping{Latency: time.Hour}})
	waiting := make(chan struct{}, 4)
	s.SetLatencyHook(func() { waiting <- struct{}{} })
	c := newClient(t, s, 1)

	// The client gives up through its ctx.
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
		errc <- err
	}()
	<-waiting
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("head: %v", err)
	}

	// Close ends the wait, and a throttled download, and does not hang.
	if err := s.PutObject(bucket, "k", payload(1<<20)); err != nil {
		t.Fatal(err)
	}
	go func() {
		_, err := getBody(t.Context(), c, "k")
		errc <- err
	}()
	<-waiting
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err == nil {
		t.Error("get across Close: no error")
	}
}

func TestCloseThrottled(t *testing.T) {
	s := startWithBucket(t, s3test.Config{Shaping: s3test.Shaping{ConnBandwidth: 64 << 10}})
	c := newClient(t, s, 1)
	if err := s.PutObject(bucket, "k", payload(1<<20)); err != nil {
		t.Fatal(err)
	}
	out, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	if _, err := io.ReadFull(out.Body, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(out.Body); err == nil {
		t.Error("read across Close: no error")
	}
}

func TestCloseIdempotentNoLeaks(t *testing.T) {
	s, err := s3test.New(s3test.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, s, 1)
	for i := range 5 {
		if _, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(fmt.Sprint(i)), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
	}
	s.InjectFault(s3test.Fault{Kind: s3test.EOFAfter, AfterBytes: 0})
	_, _ = getBody(t.Context(), c, "1")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("second Close = %v", err)
	}
	if err := s.CreateBucket("x"); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("CreateBucket after Close = %v", err)
	}
	// The serving goroutines have closed their connections when Close
	// returns; give them the moment they need to return (up to 5 s of
	// yielding: on a loaded machine an exiting goroutine may wait for a
	// thread the kernel has descheduled).
	g := serverGoroutines()
	for deadline := time.Now().Add(5 * time.Second); g != "" && time.Now().Before(deadline); {
		runtime.Gosched()
		g = serverGoroutines()
	}
	if g != "" {
		t.Errorf("goroutines left after Close:\n%s", g)
	}
}

// serverGoroutines returns the stacks of goroutines serving HTTP or running
// s3test code (other than the test itself).
func serverGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var left []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "net/http.(*conn).serve") || strings.Contains(g, "net/http.(*Server).Serve") ||
			strings.Contains(g, "s3test.(*") {
			left = append(left, g)
		}
	}
	return strings.Join(left, "\n\n")
}

func TestUpstreamProxy(t *testing.T) {
	back := s3test.Start(t, s3test.Config{})
	front := s3test.Start(t, s3test.Config{Upstream: back.URL()})
	if err := front.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	if err := front.PutObject(bucket, "seed", []byte("seeded")); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, front, 2)
	ctx := t.Context()
	data := payload(100_000)
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("a b+c"), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	if got, err := getBody(ctx, c, "a b+c"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("get: %d bytes, %v", len(got), err)
	}
	if got, err := getBody(ctx, c, "seed"); err != nil || string(got) != "seeded" {
		t.Fatalf("get seed: %q, %v", got, err)
	}
	want := s3test.ObjectStats{Requests: 2, Gets: 1, Puts: 1, BodyBytes: int64(len(data)), PutBytes: int64(len(data))}
	if st := front.Stats(bucket, "a b+c"); st != want {
		t.Errorf("front stats = %+v, want %+v", st, want)
	}
	if st := back.Stats(bucket, "a b+c"); st != want {
		t.Errorf("back stats = %+v, want %+v", st, want)
	}

	front.InjectFault(s3test.Fault{Kind: s3test.EOFAfter, Key: "a b+c", AfterBytes: 5000})
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("a b+c")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(out.Body)
	out.Body.Close()
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("proxied EOFAfter: %v", err)
	}
	front.InjectFault(s3test.Fault{Kind: s3test.Deny, Times: -1})
	if _, err := getBody(ctx, c, "seed"); apiCode(err) != "AccessDenied" {
		t.Errorf("proxied Deny: %v", err)
	}
	front.ClearFaults()
	if err := front.DeleteObject(bucket, "seed"); err != nil {
		t.Fatal(err)
	}
	if _, err := getBody(ctx, c, "seed"); apiCode(err) != "NoSuchKey" {
		t.Errorf("get deleted: %v", err)
	}
}

func TestVirtualHostStyle(t *testing.T) {
	s := startWithBucket(t, s3test.Config{})
	if err := s.PutObject(bucket, "dir/k", []byte("vh")); err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL()+"/dir/k", nil)
	req.Host = bucket + "." + strings.TrimPrefix(s.URL(), "http://")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(b) != "vh" {
		t.Errorf("virtual-host GET: %s %q %v", resp.Status, b, err)
	}
	if st := s.Stats(bucket, "dir/k"); st.Gets != 1 {
		t.Errorf("stats = %+v", st)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for _, cfg := range []s3test.Config{
		{Upstream: "127.0.0.1:9000"},
		{Upstream: "ftp://x"},
		{Shaping: s3test.Shaping{Latency: -1}},
	} {
		if s, err := s3test.New(cfg); err == nil {
			s.Close()
			t.Errorf("New(%+v): no error", cfg)
		}
	}
}
