package s3test_test

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/tierfs/tierfs/internal/s3test"
)

// BenchmarkMultipartUpload uploads 512 MiB in 8 MiB parts, 4 at once,
// unshaped, and reports the upload's rate and the seconds the server's
// CompleteMultipartUpload took: the fixture's own cost, which the
// harness's scenario 8 must not be bound by.
func BenchmarkMultipartUpload(b *testing.B) {
	b.Run("unshaped", func(b *testing.B) { benchmarkMultipartUpload(b, s3test.Shaping{}) })
	// The harness's scenario 8 link: 4 connections of 50 MB/s reach the
	// 200 MB/s total cap.
	b.Run("link", func(b *testing.B) {
		benchmarkMultipartUpload(b, s3test.Shaping{Latency: 20 * time.Millisecond, UpConnBandwidth: 50e6, UpTotalBandwidth: 200e6})
	})
}

func benchmarkMultipartUpload(b *testing.B, sh s3test.Shaping) {
	const size, partSize, conc = 512 << 20, 8 << 20, 4
	s := s3test.Start(b, s3test.Config{Shaping: sh})
	if err := s.CreateBucket(bucket); err != nil {
		b.Fatal(err)
	}
	c := newClient(b, s, 1)
	data := payload(partSize)
	ctx := b.Context()
	var complete time.Duration
	b.SetBytes(size)
	b.ResetTimer()
	for i := range b.N {
		key := fmt.Sprintf("mp-%d", i)
		up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			b.Fatal(err)
		}
		var mu sync.Mutex
		var parts []types.CompletedPart
		var g errgroup.Group
		g.SetLimit(conc)
		for n := int32(1); n <= size/partSize; n++ {
			g.Go(func() error {
				out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId,
					PartNumber: aws.Int32(n), Body: bytes.NewReader(data), ContentLength: aws.Int64(partSize)})
				if err != nil {
					return err
				}
				mu.Lock()
				parts = append(parts, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n)})
				mu.Unlock()
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			b.Fatal(err)
		}
		slices.SortFunc(parts, func(x, y types.CompletedPart) int { return int(*x.PartNumber - *y.PartNumber) })
		t0 := time.Now()
		if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
			b.Fatal(err)
		}
		complete += time.Since(t0)
		if err := s.DeleteObject(bucket, key); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(complete.Seconds()/float64(b.N), "complete-s/op")
}
