package filestore_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/filestore"
)

func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "filestore-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	s, err := filestore.New(dir, nil)
	if err != nil {
		panic(err)
	}
	defer s.Close()
	for _, k := range []string{"shards/000.tar", "shards/001.tar", "index.json"} {
		if _, err := s.Put(ctx, k, strings.NewReader("contents of "+k), objstore.PutOptions{}); err != nil {
			panic(err)
		}
	}
	page, err := s.List(ctx, objstore.ListOptions{Delimiter: "/"})
	if err != nil {
		panic(err)
	}
	for _, o := range page.Objects {
		fmt.Println("object", o.Key)
	}
	fmt.Println("prefixes", page.Prefixes)

	obj, err := s.Stat(ctx, "shards/001.tar")
	if err != nil {
		panic(err)
	}
	// Pin the read to the version Stat saw.
	r, err := s.NewRangeReader(ctx, "shards/001.tar", 12, -1, objstore.ReadOptions{Version: obj.Version})
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
	// object index.json
	// prefixes [shards/]
	// shards/001.tar
}
