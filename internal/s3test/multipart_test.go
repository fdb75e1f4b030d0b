package s3test_test

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/tierfs/tierfs/internal/s3test"
)

// mpClient is an S3 client and a multipart upload helper for one key.
type mpClient struct {
	t *testing.T
	c *s3.Client
}

func (m mpClient) create(key string) *string {
	m.t.Helper()
	up, err := m.c.CreateMultipartUpload(m.t.Context(), &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), ContentType: aws.String("application/x-test")})
	if err != nil {
		m.t.Fatal(err)
	}
	return up.UploadId
}

func (m mpClient) part(key string, id *string, num int32, body []byte) types.CompletedPart {
	m.t.Helper()
	out, err := m.c.UploadPart(m.t.Context(), &s3.UploadPartInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: id, PartNumber: aws.Int32(num), Body: bytes.NewReader(body),
	})
	if err != nil {
		m.t.Fatal(err)
	}
	return types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(num)}
}

func (m mpClient) complete(key string, id *string, parts ...types.CompletedPart) (*s3.CompleteMultipartUploadOutput, error) {
	return m.c.CompleteMultipartUpload(m.t.Context(), &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// TestMultipartETagsAndReads checks what S3 reports for a multipart
// object: each part's ETag is its MD5, the object's is the MD5 of the
// parts' MD5s with "-N", and the object reads as its parts in order,
// whole and by ranges across part boundaries, with the upload's content
// type; a part uploaded again replaces the earlier one.
func TestMultipartETagsAndReads(t *testing.T) {
	s := startWithBucket(t, s3test.Config{})
	m := mpClient{t, newClient(t, s, 1)}
	ctx := t.Context()
	parts := [][]byte{payload(5 << 20), bytes.Repeat([]byte("b"), 5<<20), []byte("the tail")}

	id := m.create("obj")
	m.part("obj", id, 2, []byte("replaced below"))
	var done []types.CompletedPart
	for i, p := range parts {
		cp := m.part("obj", id, int32(i+1), p)
		if got, want := aws.ToString(cp.ETag), `"`+md5hex(p)+`"`; got != want {
			t.Errorf("part %d ETag = %s, want %s", i+1, got, want)
		}
		done = append(done, cp)
	}
	out, err := m.complete("obj", id, done...)
	if err != nil {
		t.Fatal(err)
	}
	sums := md5.New()
	for _, p := range parts {
		s := md5.Sum(p)
		sums.Write(s[:])
	}
	want := fmt.Sprintf(`"%s-3"`, hex.EncodeToString(sums.Sum(nil)))
	if got := aws.ToString(out.ETag); got != want {
		t.Errorf("object ETag = %s, want %s", got, want)
	}
	whole := slices.Concat(parts...)
	if got, err := getBody(ctx, m.c, "obj"); err != nil || !bytes.Equal(got, whole) {
		t.Fatalf("GET: %d bytes, %v; want %d", len(got), err, len(whole))
	}
	for _, r := range [][2]int{{0, 0}, {5<<20 - 3, 5<<20 + 3}, {5<<20 - 1, 10<<20 + 2}, {len(whole) - 4, len(whole) - 1}, {7, 10<<20 + 7}} {
		got, err := getBody(ctx, m.c, "obj", func(in *s3.GetObjectInput) { in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", r[0], r[1])) })
		if err != nil || !bytes.Equal(got, whole[r[0]:r[1]+1]) {
			t.Errorf("GET bytes=%d-%d: %d bytes, %v", r[0], r[1], len(got), err)
		}
	}
	got, err := getBody(ctx, m.c, "obj", func(in *s3.GetObjectInput) { in.Range = aws.String("bytes=-5") })
	if err != nil || !bytes.Equal(got, whole[len(whole)-5:]) {
		t.Errorf("GET bytes=-5: %q, %v", got, err)
	}
	head, err := m.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("obj")})
	if err != nil || aws.ToString(head.ETag) != want || aws.ToInt64(head.ContentLength) != int64(len(whole)) || aws.ToString(head.ContentType) != "application/x-test" {
		t.Errorf("HEAD: %s, %d bytes, %s, %v", aws.ToString(head.ETag), aws.ToInt64(head.ContentLength), aws.ToString(head.ContentType), err)
	}
	if _, err := m.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("obj"), IfMatch: aws.String(want)}); err != nil {
		t.Errorf("HEAD If-Match the multipart ETag: %v", err)
	}

	// A second upload of the key replaces the object.
	id = m.create("obj")
	if _, err := m.complete("obj", id, m.part("obj", id, 1, []byte("v2"))); err != nil {
		t.Fatal(err)
	}
	if got, err := getBody(ctx, m.c, "obj"); err != nil || string(got) != "v2" {
		t.Errorf("after the second upload: %q, %v", got, err)
	}
}

// TestMultipartCompleteErrors checks that a part list S3 refuses is
// refused with S3's codes and publishes nothing, the upload staying open
// for a correct list.
func TestMultipartCompleteErrors(t *testing.T) {
	s := startWithBucket(t, s3test.Config{})
	m := mpClient{t, newClient(t, s, 1)}
	ctx := t.Context()
	if err := s.PutObject(bucket, "k", []byte("old")); err != nil {
		t.Fatal(err)
	}
	id := m.create("k")
	p1 := m.part("k", id, 1, payload(5<<20))
	p2 := m.part("k", id, 2, []byte("two"))
	bad := p2
	bad.ETag = aws.String(`"` + md5hex([]byte("other")) + `"`)
	for _, c := range []struct {
		name  string
		parts []types.CompletedPart
		code  string
	}{
		{"wrong ETag", []types.CompletedPart{p1, bad}, "InvalidPart"},
		{"part never uploaded", []types.CompletedPart{p1, p2, {ETag: p2.ETag, PartNumber: aws.Int32(3)}}, "InvalidPart"},
		{"descending", []types.CompletedPart{p2, p1}, "InvalidPartOrder"},
		{"repeated", []types.CompletedPart{p1, p1}, "InvalidPartOrder"},
		{"no parts", nil, "MalformedXML"},
	} {
		if _, err := m.complete("k", id, c.parts...); apiCode(err) != c.code {
			t.Errorf("%s: %v, want %s", c.name, err, c.code)
		}
		if got, err := getBody(ctx, m.c, "k"); err != nil || string(got) != "old" {
			t.Errorf("after %s: %q, %v", c.name, got, err)
		}
	}
	// A subset of the parts is a valid list.
	if _, err := m.complete("k", id, p1); err != nil {
		t.Fatal(err)
	}
	if got, err := getBody(ctx, m.c, "k"); err != nil || !bytes.Equal(got, payload(5<<20)) {
		t.Errorf("after complete: %d bytes, %v", len(got), err)
	}
	// Completed, the upload is gone.
	if _, err := m.complete("k", id, p1); apiCode(err) != "NoSuchUpload" || httpStatus(err) != http.StatusNotFound {
		t.Errorf("second complete: %v, want 404 NoSuchUpload", err)
	}
}

// TestMultipartAbortAndList checks ListParts and ListMultipartUploads with
// their paging, and that an aborted upload is gone: its parts, its
// listing, further parts and its complete.
func TestMultipartAbortAndList(t *testing.T) {
	s := startWithBucket(t, s3test.Config{})
	m := mpClient{t, newClient(t, s, 1)}
	ctx := t.Context()

	id := m.create("dir/a")
	for _, n := range []int32{3, 1, 7} {
		m.part("dir/a", id, n, []byte(strings.Repeat("x", int(n))))
	}
	lp, err := m.c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(bucket), Key: aws.String("dir/a"), UploadId: id, MaxParts: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	if len(lp.Parts) != 2 || aws.ToInt32(lp.Parts[0].PartNumber) != 1 || aws.ToInt32(lp.Parts[1].PartNumber) != 3 || !aws.ToBool(lp.IsTruncated) || aws.ToInt64(lp.Parts[1].Size) != 3 {
		t.Fatalf("ListParts page 1: %+v", lp)
	}
	lp, err = m.c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(bucket), Key: aws.String("dir/a"), UploadId: id, PartNumberMarker: lp.NextPartNumberMarker})
	if err != nil || len(lp.Parts) != 1 || aws.ToInt32(lp.Parts[0].PartNumber) != 7 || aws.ToBool(lp.IsTruncated) {
		t.Fatalf("ListParts page 2: %+v, %v", lp, err)
	}

	ids := map[string]*string{"dir/a": id}
	for _, k := range []string{"dir/b", "e", "dir/a2"} {
		ids[k] = m.create(k)
	}
	second := m.create("dir/a") // two uploads of one key
	var listed []string
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket), Prefix: aws.String("dir/"), MaxUploads: aws.Int32(2)}
	for range 10 {
		out, err := m.c.ListMultipartUploads(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range out.Uploads {
			listed = append(listed, aws.ToString(u.Key)+"#"+aws.ToString(u.UploadId))
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		in.KeyMarker, in.UploadIdMarker = out.NextKeyMarker, out.NextUploadIdMarker
	}
	want := []string{"dir/a#" + *id, "dir/a#" + *second, "dir/a2#" + *ids["dir/a2"], "dir/b#" + *ids["dir/b"]}
	if !slices.Equal(listed, want) {
		t.Errorf("uploads under dir/ = %v, want %v", listed, want)
	}

	if _, err := m.c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("dir/a"), UploadId: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("dir/a"), UploadId: id}); apiCode(err) != "NoSuchUpload" {
		t.Errorf("second abort: %v, want NoSuchUpload", err)
	}
	if _, err := m.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String("dir/a"), UploadId: id, PartNumber: aws.Int32(1), Body: strings.NewReader("x")}); apiCode(err) != "NoSuchUpload" {
		t.Errorf("part after abort: %v, want NoSuchUpload", err)
	}
	if _, err := m.c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(bucket), Key: aws.String("dir/a"), UploadId: id}); apiCode(err) != "NoSuchUpload" {
		t.Errorf("ListParts after abort: %v, want NoSuchUpload", err)
	}
	// An upload id is bound to its key.
	if _, err := m.c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String(bucket), Key: aws.String("e"), UploadId: second}); apiCode(err) != "NoSuchUpload" {
		t.Errorf("ListParts under another key: %v, want NoSuchUpload", err)
	}
	open, err := s.OpenUploads(bucket, "dir/")
	if err != nil || !slices.Equal(open, []string{"dir/a", "dir/a2", "dir/b"}) {
		t.Errorf("OpenUploads = %v, %v", open, err)
	}
	if _, err := m.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("dir/a")}); httpStatus(err) != http.StatusNotFound {
		t.Errorf("HEAD of an aborted upload's key: %v, want 404", err)
	}
}

// TestMultipartObjectLifecycle checks that an object completed by a
// multipart upload lists, copies, is replaced by a PUT and deleted like
// any other, and that a bucket holding one is not empty.
func TestMultipartObjectLifecycle(t *testing.T) {
	s := startWithBucket(t, s3test.Config{})
	m := mpClient{t, newClient(t, s, 1)}
	ctx := t.Context()
	for _, k := range []string{"a/1", "a/3", "b"} {
		if err := s.PutObject(bucket, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	body := payload(5<<20 + 1)
	id := m.create("a/2")
	etag := func() string {
		out, err := m.complete("a/2", id, m.part("a/2", id, 1, body[:5<<20]), m.part("a/2", id, 2, body[5<<20:]))
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.ETag)
	}()

	list, err := m.c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("a/")})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range list.Contents {
		keys = append(keys, aws.ToString(o.Key))
		if aws.ToString(o.Key) == "a/2" && (aws.ToString(o.ETag) != etag || aws.ToInt64(o.Size) != int64(len(body))) {
			t.Errorf("listed a/2: %s, %d bytes; want %s, %d", aws.ToString(o.ETag), aws.ToInt64(o.Size), etag, len(body))
		}
	}
	if !slices.Equal(keys, []string{"a/1", "a/2", "a/3"}) {
		t.Errorf("listed %v", keys)
	}
	dl, err := m.c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Delimiter: aws.String("/")})
	if err != nil || len(dl.Contents) != 1 || len(dl.CommonPrefixes) != 1 || aws.ToString(dl.CommonPrefixes[0].Prefix) != "a/" {
		t.Errorf("delimiter listing: %+v, %v", dl, err)
	}

	if _, err := m.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("copy"), CopySource: aws.String(bucket + "/a/2")}); err != nil {
		t.Fatal(err)
	}
	if got, err := getBody(ctx, m.c, "copy"); err != nil || !bytes.Equal(got, body) {
		t.Errorf("copy: %d bytes, %v", len(got), err)
	}
	// A copy onto a multipart object replaces it.
	if _, err := m.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String(bucket), Key: aws.String("a/2"), CopySource: aws.String(bucket + "/b")}); err != nil {
		t.Fatal(err)
	}
	if got, err := getBody(ctx, m.c, "a/2"); err != nil || string(got) != "b" {
		t.Errorf("a/2 after a copy onto it: %q, %v", got, err)
	}

	id = m.create("mp")
	if _, err := m.complete("mp", id, m.part("mp", id, 1, []byte("mp"))); err != nil {
		t.Fatal(err)
	}
	if _, err := m.c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); apiCode(err) != "BucketNotEmpty" {
		t.Errorf("DeleteBucket: %v, want BucketNotEmpty", err)
	}
	if _, err := m.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("mp")}); err != nil {
		t.Fatal(err)
	}
	if _, err := getBody(ctx, m.c, "mp"); apiCode(err) != "NoSuchKey" {
		t.Errorf("GET after delete: %v, want NoSuchKey", err)
	}
	id = m.create("mp")
	if _, err := m.complete("mp", id, m.part("mp", id, 1, []byte("mp"))); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteObject(bucket, "mp"); err != nil {
		t.Fatal(err)
	}
	if _, err := getBody(ctx, m.c, "mp"); apiCode(err) != "NoSuchKey" {
		t.Errorf("GET after a direct delete: %v, want NoSuchKey", err)
	}
}

// TestReservePartsReuse checks that reserved part buffers are taken by
// parts of their size and given back when the upload is aborted or its
// object deleted, but not while a GET still reads the object: a new
// upload then cannot change the bytes that GET returns.
func TestReservePartsReuse(t *testing.T) {
	const size = 4 << 20
	s := startWithBucket(t, s3test.Config{})
	m := mpClient{t, newClient(t, s, 1)}
	ctx := t.Context()
	if err := s.ReserveParts(size, 4); err != nil {
		t.Fatal(err)
	}
	upload := func(key string, fill byte) []byte {
		t.Helper()
		id := m.create(key)
		var parts []types.CompletedPart
		var all []byte
		for n := range int32(4) {
			p := bytes.Repeat([]byte{fill + byte(n)}, size)
			parts = append(parts, m.part(key, id, n+1, p))
			all = append(all, p...)
		}
		if _, err := m.complete(key, id, parts...); err != nil {
			t.Fatal(err)
		}
		return all
	}
	a := upload("a", 'a')
	if n := s.FreeParts(size); n != 0 {
		t.Fatalf("free parts after an upload of 4: %d", n)
	}

	// Reading a, slowly: the server is still sending it when a is deleted
	// and another object takes the freed buffers.
	out, err := m.c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("a")})
	if err != nil {
		t.Fatal(err)
	}
	defer out.Body.Close()
	head := make([]byte, 1024)
	if _, err := io.ReadFull(out.Body, head); err != nil {
		t.Fatal(err)
	}
	if _, err := m.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("a")}); err != nil {
		t.Fatal(err)
	}
	if n := s.FreeParts(size); n != 0 {
		t.Errorf("free parts while a GET reads the deleted object: %d", n)
	}
	b := upload("b", 'A')
	rest, err := io.ReadAll(out.Body)
	if err != nil || !bytes.Equal(append(head, rest...), a) {
		t.Fatalf("the deleted object read while another was uploaded: %d bytes, %v", len(head)+len(rest), err)
	}
	out.Body.Close()
	if got, err := getBody(ctx, m.c, "b"); err != nil || !bytes.Equal(got, b) {
		t.Fatalf("b: %d bytes, %v", len(got), err)
	}

	// An aborted upload gives its parts back, and so does the deleted
	// object once its reader is done.
	id := m.create("c")
	m.part("c", id, 1, bytes.Repeat([]byte{'c'}, size))
	m.part("c", id, 2, []byte("small parts are not kept"))
	if _, err := m.c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("c"), UploadId: id}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteObject(bucket, "b"); err != nil {
		t.Fatal(err)
	}
	if n := s.FreeParts(size); n != 4 {
		t.Errorf("free parts at the end: %d, want 4 (no more than reserved)", n)
	}
}

// TestFastPartETags checks Config.FastPartETags: part ETags of MD5's shape
// that differ from MD5, equal for equal parts and different for different
// ones, and an object that reads and completes as with MD5.
func TestFastPartETags(t *testing.T) {
	s := startWithBucket(t, s3test.Config{FastPartETags: true})
	m := mpClient{t, newClient(t, s, 1)}
	id := m.create("k")
	p := payload(5 << 20)
	p1, p2, p3 := m.part("k", id, 1, p), m.part("k", id, 2, p), m.part("k", id, 3, p[:len(p)-1])
	e1 := strings.Trim(aws.ToString(p1.ETag), `"`)
	if len(e1) != 32 || e1 == md5hex(p) || aws.ToString(p2.ETag) != aws.ToString(p1.ETag) || aws.ToString(p3.ETag) == aws.ToString(p1.ETag) {
		t.Errorf("part ETags %s %s %s (MD5 %s)", aws.ToString(p1.ETag), aws.ToString(p2.ETag), aws.ToString(p3.ETag), md5hex(p))
	}
	out, err := m.complete("k", id, p1, p2, p3)
	if err != nil || !strings.HasSuffix(aws.ToString(out.ETag), `-3"`) {
		t.Fatalf("complete: %v, %v", out, err)
	}
	if got, err := getBody(t.Context(), m.c, "k"); err != nil || !bytes.Equal(got, slices.Concat(p, p, p[:len(p)-1])) {
		t.Errorf("GET: %d bytes, %v", len(got), err)
	}
}
