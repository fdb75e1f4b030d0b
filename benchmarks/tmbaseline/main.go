// Command tmbaseline is the AWS SDK transfer-manager baseline of the tierfs
// benchmark harness. It lives in its own module so that the transfer
// manager never enters the library's go.mod; the harness (go run
// ./benchmarks) builds it and runs it as a subprocess against its loopback
// S3-protocol server, one download per run, and reads one JSON line:
//
//	tmbaseline -endpoint http://127.0.0.1:PORT -bucket b -key k \
//	    -api getobject -type parts -concurrency 0
//
// -api getobject streams transfermanager.Client.GetObject's Body into
// io.Discard with io.Copy; -api download runs DownloadObject into an
// io.WriterAt that discards. -type parts (the transfer manager's default)
// splits by the object's multipart parts, -type ranges by PartSizeBytes
// ranges. -concurrency 0 keeps the transfer manager's default.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	tmtypes "github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// result is what one run prints, as one JSON line on stdout.
type result struct {
	API         string  `json:"api"`
	Type        string  `json:"type"`
	Concurrency int     `json:"concurrency"` // as asked; 0 = the transfer manager's default
	Bytes       int64   `json:"bytes"`
	Seconds     float64 `json:"seconds"`
}

func main() {
	endpoint := flag.String("endpoint", "", "base URL of the S3-protocol server (path-style)")
	bucket := flag.String("bucket", "", "bucket")
	key := flag.String("key", "", "object key")
	api := flag.String("api", "getobject", "getobject (io.Copy of Body) or download (DownloadObject into a WriterAt)")
	typ := flag.String("type", "parts", "parts (the default: split by multipart parts) or ranges (split by part-size ranges)")
	conc := flag.Int("concurrency", 0, "goroutines per download; 0 = the transfer manager's default")
	flag.Parse()
	res, err := run(*endpoint, *bucket, *key, *api, *typ, *conc)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tmbaseline:", err)
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, "tmbaseline:", err)
		os.Exit(1)
	}
}

func run(endpoint, bucket, key, api, typ string, conc int) (result, error) {
	if endpoint == "" || bucket == "" || key == "" {
		return result{}, fmt.Errorf("-endpoint, -bucket and -key are required")
	}
	var gt tmtypes.GetObjectType
	switch typ {
	case "parts":
		gt = tmtypes.GetObjectParts
	case "ranges":
		gt = tmtypes.GetObjectRanges
	default:
		return result{}, fmt.Errorf("-type %q: want parts or ranges", typ)
	}
	client := s3.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("bench", "bench", ""),
		HTTPClient:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 100, DisableCompression: true}},
	}, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	tm := transfermanager.New(client, func(o *transfermanager.Options) {
		o.GetObjectType = gt
		if conc > 0 {
			o.Concurrency = conc
		}
	})
	ctx := context.Background()
	res := result{API: api, Type: typ, Concurrency: conc}
	start := time.Now()
	switch api {
	case "getobject":
		out, err := tm.GetObject(ctx, &transfermanager.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			return res, err
		}
		n, err := io.Copy(io.Discard, out.Body)
		if err != nil {
			return res, err
		}
		res.Bytes = n
	case "download":
		var w discardAt
		_, err := tm.DownloadObject(ctx, &transfermanager.DownloadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), WriterAt: &w})
		if err != nil {
			return res, err
		}
		res.Bytes = w.n.Load()
	default:
		return res, fmt.Errorf("-api %q: want getobject or download", api)
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// discardAt is an io.WriterAt that keeps nothing but a byte count.
// DownloadObject calls WriteAt from several goroutines at once.
type discardAt struct{ n atomic.Int64 }

func (d *discardAt) WriteAt(p []byte, _ int64) (int, error) {
	d.n.Add(int64(len(p)))
	return len(p), nil
}
