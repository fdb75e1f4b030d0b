package disk_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/tierfs/tierfs/tier"
	"github.com/tierfs/tierfs/tier/disk"
)

func Example() {
	dir, err := os.MkdirTemp("", "tierfs-disk-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	t, err := disk.Open(tier.DiskConfig{Dirs: []string{dir}, Quota: 64 << 20}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer t.Close()

	t.Put(ctx, "object@v1/block/0", []byte("hello, disk tier"))
	t.Flush(ctx) // fills are asynchronous

	p := make([]byte, 9)
	n, err := t.ReadAt(ctx, "object@v1/block/0", p, 7)
	fmt.Printf("%q %v\n", p[:n], err)

	_, err = t.ReadAt(ctx, "object@v1/block/1", p, 0)
	fmt.Println(err)
	// Output:
	// "disk tier" <nil>
	// tier: disk: absent: tier: miss
}
