package s3store_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/tierfs/tierfs/internal/s3test"
	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/s3store"
)

// The store talks to an S3-compatible server on loopback; credentials come
// from the SDK's default chain (here AWS_ACCESS_KEY_ID and
// AWS_SECRET_ACCESS_KEY, which the test server does not check).
func ExampleNew() {
	srv, err := s3test.New(s3test.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	if err := srv.CreateBucket("datasets"); err != nil {
		log.Fatal(err)
	}

	ctx := context.Background()
	store, err := s3store.New(ctx, "datasets", "imagenet", &s3store.Options{
		Endpoint:  srv.URL(),
		PathStyle: true,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	if _, err := store.Put(ctx, "labels/train.txt", strings.NewReader("cat\ndog\n"), objstore.PutOptions{}); err != nil {
		log.Fatal(err)
	}
	r, err := store.NewRangeReader(ctx, "labels/train.txt", 4, -1, objstore.ReadOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		log.Fatal(err)
	}
	page, err := store.List(ctx, objstore.ListOptions{Prefix: "labels/"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q of %d bytes; listed %s\n", b, r.Object().Size, page.Objects[0].Key)
	// Output: "dog\n" of 8 bytes; listed labels/train.txt
}

// The store counts every request it sends, as the server counts them: here
// the server refuses the first GET with 503 SlowDown, the SDK retries it,
// and both attempts show.
func ExampleStore_RequestStats() {
	srv, err := s3test.New(s3test.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	if err := srv.CreateBucket("datasets"); err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	store, err := s3store.New(ctx, "datasets", "", &s3store.Options{Endpoint: srv.URL(), PathStyle: true})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()
	if _, err := store.Put(ctx, "a.txt", strings.NewReader("hello"), objstore.PutOptions{}); err != nil {
		log.Fatal(err)
	}

	before, serverBefore := store.RequestStats(), srv.BucketStats("datasets").RequestStats()
	srv.InjectFault(s3test.Fault{Kind: s3test.SlowDown, Method: "GET", Key: "a.txt"})
	r, err := store.NewRangeReader(ctx, "a.txt", 0, -1, objstore.ReadOptions{})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		log.Fatal(err)
	}
	r.Close()
	d := store.RequestStats().Sub(before)
	fmt.Printf("%d GETs, %d bytes in\n", d.Gets, d.BytesIn)
	fmt.Println("the server counted the same:", srv.BucketStats("datasets").RequestStats().Sub(serverBefore) == d)
	// Output:
	// 2 GETs, 5 bytes in
	// the server counted the same: true
}
