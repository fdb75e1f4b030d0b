package s3test_test

import (
	"fmt"
	"io"
	"net/http"

	"github.com/tierfs/tierfs/internal/s3test"
)

// A server seeded directly, read over HTTP, and the counts it keeps. Any
// S3 SDK pointed at URL with path-style addressing works the same way.
func Example() {
	s, err := s3test.New(s3test.Config{})
	if err != nil {
		panic(err)
	}
	defer s.Close()
	if err := s.CreateBucket("photos"); err != nil {
		panic(err)
	}
	if err := s.PutObject("photos", "cat.jpg", []byte("meow")); err != nil {
		panic(err)
	}

	// The first GET is refused with SlowDown; the second succeeds.
	s.InjectFault(s3test.Fault{Kind: s3test.SlowDown, Key: "cat.jpg"})
	for range 2 {
		resp, err := http.Get(s.URL() + "/photos/cat.jpg")
		if err != nil {
			panic(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			body = nil // an S3 XML error
		}
		fmt.Printf("%d %q\n", resp.StatusCode, body)
	}
	fmt.Printf("%+v\n", s.Stats("photos", "cat.jpg"))
	// Output:
	// 503 ""
	// 200 "meow"
	// {Requests:2 Gets:2 Heads:0 Lists:0 Puts:0 Deletes:0 Other:0 BodyBytes:4 PutBytes:0}
}
