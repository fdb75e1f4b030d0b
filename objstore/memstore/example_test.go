package memstore_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/memstore"
)

func ExampleFromMap() {
	ctx := context.Background()
	s, err := memstore.FromMap(map[string]string{
		"data/a.txt": "hello",
		"data/b.txt": "world",
		"README":     "read me",
	})
	if err != nil {
		panic(err)
	}
	page, err := s.List(ctx, objstore.ListOptions{Delimiter: "/"})
	if err != nil {
		panic(err)
	}
	for _, o := range page.Objects {
		fmt.Println("object", o.Key, o.Size)
	}
	fmt.Println("prefixes", page.Prefixes)

	r, err := s.NewRangeReader(ctx, "data/b.txt", 1, 3, objstore.ReadOptions{})
	if err != nil {
		panic(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s\n", b)
	// Output:
	// object README 7
	// prefixes [data/]
	// orl
}

// Cut bodies are resumed by the Reader; the counters show what it took.
func ExampleStore_CutReads() {
	ctx := context.Background()
	s := memstore.New()
	s.SetRetryPolicy(objstore.RetryPolicy{BaseDelay: time.Millisecond})
	if _, err := s.Put(ctx, "big", strings.NewReader(strings.Repeat("x", 1000)), objstore.PutOptions{}); err != nil {
		panic(err)
	}
	s.CutReads("big", 400, 2) // the next 2 bodies end after 400 bytes
	r, err := s.NewRangeReader(ctx, "big", 0, -1, objstore.ReadOptions{})
	if err != nil {
		panic(err)
	}
	defer r.Close()
	n, err := io.Copy(io.Discard, r)
	fmt.Println(n, err, r.Resumes())
	st := s.Stats("big")
	fmt.Println("gets", st.Gets, "body bytes", st.BodyBytes, "faults", st.Faults)
	// Output:
	// 1000 <nil> 2
	// gets 3 body bytes 1000 faults 2
}

// The Store counts what it serves as an S3 server would count requests:
// a Reader's resume after a cut body is one more Get.
func ExampleStore_RequestStats() {
	ctx := context.Background()
	s := memstore.New()
	s.SetRetryPolicy(objstore.RetryPolicy{BaseDelay: time.Millisecond})
	if _, err := s.Put(ctx, "k", strings.NewReader("hello, world"), objstore.PutOptions{}); err != nil {
		panic(err)
	}
	before := s.RequestStats()
	s.CutReads("k", 5, 1)
	r, err := s.NewRangeReader(ctx, "k", 0, -1, objstore.ReadOptions{})
	if err != nil {
		panic(err)
	}
	if _, err := io.Copy(io.Discard, r); err != nil {
		panic(err)
	}
	r.Close()
	if _, err := s.Stat(ctx, "k"); err != nil {
		panic(err)
	}
	d := s.RequestStats().Sub(before)
	fmt.Printf("%d requests: %d gets, %d heads, %d bytes in\n", d.Requests(), d.Gets, d.Heads, d.BytesIn)
	// Output: 3 requests: 2 gets, 1 heads, 12 bytes in
}
