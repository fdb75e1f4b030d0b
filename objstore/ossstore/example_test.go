package ossstore_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss/credentials"

	"github.com/tierfs/tierfs/internal/s3test"
	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/ossstore"
)

// Example opens a store on a local OSS-protocol server, writes an object
// and reads a range of it back. Against OSS itself, leave out Endpoint
// and PathStyle and put the keys in OSS_ACCESS_KEY_ID and
// OSS_ACCESS_KEY_SECRET, or open "oss://bucket/prefix?region=cn-hangzhou"
// with objstore.Open.
func Example() {
	srv, err := s3test.New(s3test.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	if err := srv.CreateBucket("example-bucket"); err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	s, err := ossstore.New(ctx, "example-bucket", "datasets", &ossstore.Options{
		Endpoint:    srv.URL(),
		Region:      "cn-hangzhou",
		PathStyle:   true, // a local server; OSS itself takes virtual-host style
		Credentials: credentials.NewStaticCredentialsProvider("id", "secret"),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	obj, err := s.Put(ctx, "hello.txt", strings.NewReader("hello, oss"), objstore.PutOptions{})
	if err != nil {
		log.Fatal(err)
	}
	r, err := s.NewRangeReader(ctx, "hello.txt", 7, 3, objstore.ReadOptions{Version: obj.Version})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s (of %d bytes)\n", b, r.Object().Size)
	// Output: oss (of 10 bytes)
}
