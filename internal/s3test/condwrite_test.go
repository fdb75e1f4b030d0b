package s3test_test

import (
	"bytes"
	"net/http"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/tierfs/tierfs/internal/s3test"
)

func TestConditionalPut(t *testing.T) {
	s := startWithBucket(t, s3test.Config{})
	c := newClient(t, s, 1)
	ctx := t.Context()
	put := func(key, body string, f func(*s3.PutObjectInput)) (*s3.PutObjectOutput, error) {
		in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader([]byte(body))}
		if f != nil {
			f(in)
		}
		return c.PutObject(ctx, in)
	}
	first, err := put("k", "v1", func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") })
	if err != nil {
		t.Fatalf("If-None-Match: * on a new key: %v", err)
	}
	if _, err := put("k", "v2", func(in *s3.PutObjectInput) { in.IfNoneMatch = aws.String("*") }); httpStatus(err) != http.StatusPreconditionFailed {
		t.Errorf("If-None-Match: * on an existing key: %v, want 412", err)
	}
	second, err := put("k", "v2", func(in *s3.PutObjectInput) { in.IfMatch = first.ETag })
	if err != nil {
		t.Fatalf("If-Match the current ETag: %v", err)
	}
	if _, err := put("k", "v3", func(in *s3.PutObjectInput) { in.IfMatch = first.ETag }); apiCode(err) != "PreconditionFailed" {
		t.Errorf("If-Match a replaced ETag: %v, want PreconditionFailed", err)
	}
	if _, err := put("missing", "x", func(in *s3.PutObjectInput) { in.IfMatch = first.ETag }); apiCode(err) != "NoSuchKey" {
		t.Errorf("If-Match on a missing key: %v, want NoSuchKey", err)
	}
	if got, err := getBody(ctx, c, "k"); err != nil || string(got) != "v2" {
		t.Errorf("after refused writes: %q, %v", got, err)
	}

	// A multipart upload is checked at Complete; the upload stays open
	// for the client to abort, as in S3.
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	part, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String("k"), UploadId: up.UploadId, PartNumber: aws.Int32(1), Body: bytes.NewReader([]byte("mp"))})
	if err != nil {
		t.Fatal(err)
	}
	complete := func(ifMatch *string) error {
		_, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
			Bucket: aws.String(bucket), Key: aws.String("k"), UploadId: up.UploadId, IfMatch: ifMatch,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{ETag: part.ETag, PartNumber: aws.Int32(1)}}},
		})
		return err
	}
	if err := complete(first.ETag); apiCode(err) != "PreconditionFailed" {
		t.Errorf("Complete If-Match a replaced ETag: %v, want PreconditionFailed", err)
	}
	if keys, err := s.OpenUploads(bucket, ""); err != nil || len(keys) != 1 || keys[0] != "k" {
		t.Errorf("OpenUploads after a refused Complete: %q, %v; want [k]", keys, err)
	}
	if err := complete(second.ETag); err != nil {
		t.Fatalf("Complete If-Match the current ETag: %v", err)
	}
	if keys, err := s.OpenUploads(bucket, ""); err != nil || len(keys) != 0 {
		t.Errorf("OpenUploads after Complete: %q, %v", keys, err)
	}
	if got, err := getBody(ctx, c, "k"); err != nil || string(got) != "mp" {
		t.Errorf("after Complete: %q, %v", got, err)
	}

	// Of writers racing with one If-Match, exactly one wins.
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i := range 8 {
		wg.Go(func() {
			_, err := put("k", string(rune('a'+i)), func(in *s3.PutObjectInput) { in.IfMatch = head.ETag })
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				won++
			} else if apiCode(err) != "PreconditionFailed" {
				t.Errorf("racing writer: %v", err)
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Errorf("%d of 8 racing If-Match writers won, want 1", won)
	}

	// OSS's x-oss-forbid-overwrite.
	_, err = put("k", "oss", func(in *s3.PutObjectInput) {})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPut, s.URL()+"/"+bucket+"/k", bytes.NewReader([]byte("no")))
	req.Header.Set("x-oss-forbid-overwrite", "true")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict {
		t.Errorf("x-oss-forbid-overwrite on an existing key: %s, want 409", resp.Status)
	}
}

func TestUploadShaping(t *testing.T) {
	s := startWithBucket(t, s3test.Config{})
	c := newClient(t, s, 1)
	ctx := t.Context()
	data := payload(200_000)
	put := func() {
		t.Helper()
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("k"), Body: bytes.NewReader(data)}); err != nil {
			t.Fatal(err)
		}
	}
	put()
	if n := s.ThrottleWaits(); n != 0 {
		t.Errorf("unshaped: %d throttled reads", n)
	}
	for _, sh := range []s3test.Shaping{{UpConnBandwidth: 4 << 20}, {UpTotalBandwidth: 4 << 20}} {
		before := s.ThrottleWaits()
		s.SetShaping(sh)
		put()
		if s.ThrottleWaits() == before {
			t.Errorf("%+v: no read waited", sh)
		}
		if got, err := getBody(ctx, c, "k"); err != nil || !bytes.Equal(got, data) {
			t.Errorf("%+v: read back %d bytes, %v", sh, len(got), err)
		}
	}
	// Download caps leave uploads alone.
	s.SetShaping(s3test.Shaping{ConnBandwidth: 4 << 20})
	before := s.ThrottleWaits()
	put()
	if n := s.ThrottleWaits() - before; n != 0 {
		t.Errorf("download cap: %d throttled upload reads", n)
	}
}
