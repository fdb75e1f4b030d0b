package tierfs_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/tierfs/tierfs"
	"github.com/tierfs/tierfs/consistency"
	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/memstore"
)

// Open a store by URL and read a file. Here the store is a local
// directory; s3://bucket/prefix?region=… and oss://bucket/prefix?endpoint=…
// work the same way.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "tierfs-example")
	defer os.RemoveAll(dir)
	os.MkdirAll(filepath.Join(dir, "llama"), 0o755)
	os.WriteFile(filepath.Join(dir, "llama", "config.json"), []byte(`{"layers": 32}`), 0o644)

	fsys, err := tierfs.Open(context.Background(), "file://"+dir, tierfs.WithMemoryCache(64<<20))
	if err != nil {
		log.Fatal(err)
	}
	defer fsys.Close()
	b, err := fs.ReadFile(fsys, "llama/config.json")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(b))
	// Output: {"layers": 32}
}

// A data loader takes any fs.FS: here it walks the tar shards of a
// dataset, which tierfs serves from its cache after the first epoch.
func ExampleFS_ReadFile_loader() {
	store, _ := memstore.FromMap(map[string][]byte{
		"train/shard-000.tar": tarOf(map[string]string{"0.txt": "cat", "1.txt": "dog"}),
		"train/shard-001.tar": tarOf(map[string]string{"2.txt": "bird"}),
	})
	fsys, err := tierfs.New(store)
	if err != nil {
		log.Fatal(err)
	}
	defer fsys.Close()

	loader := func(data fs.FS) (samples int) {
		shards, _ := fs.Glob(data, "train/shard-*.tar")
		for _, name := range shards {
			b, _ := fs.ReadFile(data, name)
			tr := tar.NewReader(bytes.NewReader(b))
			for _, err := tr.Next(); err == nil; _, err = tr.Next() {
				samples++
			}
		}
		return samples
	}
	for epoch := range 2 {
		fmt.Printf("epoch %d: %d samples, %d origin GETs so far\n", epoch, loader(fsys), fsys.Stats().Requests.Gets)
	}
	// Output:
	// epoch 0: 3 samples, 2 origin GETs so far
	// epoch 1: 3 samples, 2 origin GETs so far
}

// A static dataset: the default policy caches metadata until Refresh (or
// a Warmup), so a change in the store is seen only then.
func Example_readOnly() {
	store, _ := memstore.FromMap(map[string]string{"labels.csv": "a,b\n"})
	fsys, _ := tierfs.New(store, tierfs.WithConsistency(consistency.ReadOnly()))
	defer fsys.Close()

	fi, _ := fsys.Stat("labels.csv")
	store.Put(context.Background(), "labels.csv", bytes.NewReader([]byte("a,b,c\n")), objstoreSize(6))
	fi2, _ := fsys.Stat("labels.csv")
	fsys.Refresh()
	fi3, _ := fsys.Stat("labels.csv")
	fmt.Println(fi.Size(), fi2.Size(), fi3.Size())
	// Output: 4 4 6
}

// A dataset changed by events: metadata is asked again once it is older
// than the TTL. The clock is injected here to show it without waiting.
func Example_ttl() {
	store, _ := memstore.FromMap(map[string]string{"index.json": "[]"})
	now := time.Unix(0, 0)
	fsys, _ := tierfs.New(store,
		tierfs.WithConsistency(consistency.TTL(30*time.Second, 5*time.Second)),
		tierfs.WithClock(func() time.Time { return now }))
	defer fsys.Close()

	fsys.Stat("index.json")
	store.Put(context.Background(), "index.json", bytes.NewReader([]byte("[1]")), objstoreSize(3))
	before, _ := fsys.Stat("index.json")
	now = now.Add(31 * time.Second)
	after, _ := fsys.Stat("index.json")
	fmt.Println(before.Size(), after.Size())
	// Output: 2 3
}

// One read-write workspace: writes go to the store when the writer is
// closed and are read back at once.
func Example_readWrite() {
	store := memstore.New()
	fsys, _ := tierfs.New(store, tierfs.WithConsistency(consistency.ReadWrite(time.Minute)))
	defer fsys.Close()

	w, _ := fsys.Create("checkpoints/step-100.txt")
	io.WriteString(w, "loss=0.42")
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	b, _ := fs.ReadFile(fsys, "checkpoints/step-100.txt")
	fmt.Println(string(b))
	fmt.Println(fsys.Remove("checkpoints/step-100.txt"))
	_, err := fsys.Stat("checkpoints/step-100.txt")
	fmt.Println(err)
	// Output:
	// loss=0.42
	// <nil>
	// stat checkpoints/step-100.txt: file does not exist
}

// CreateContext streams a checkpoint to the store. Abort publishes
// nothing; IfUnchanged makes a writer that lost a race fail with
// objstore.ErrChanged instead of overwriting the winner.
func ExampleFS_CreateContext() {
	ctx := context.Background()
	fsys, _ := tierfs.New(memstore.New(), tierfs.WithConsistency(consistency.ReadWrite(time.Minute)))
	defer fsys.Close()

	// A producer that fails mid-write publishes nothing.
	w, _ := fsys.CreateContext(ctx, "ckpt/latest.bin", nil)
	io.WriteString(w, "half a checkpo")
	w.Abort()
	_, err := fsys.Stat("ckpt/latest.bin")
	fmt.Println(errors.Is(err, fs.ErrNotExist))

	// Two jobs write the same name; the one that closes second loses.
	opts := &tierfs.CreateOptions{ContentType: "application/octet-stream", IfUnchanged: true}
	a, _ := fsys.CreateContext(ctx, "ckpt/latest.bin", opts)
	b, _ := fsys.CreateContext(ctx, "ckpt/latest.bin", opts)
	io.WriteString(a, "step=100")
	io.WriteString(b, "step=101")
	fmt.Println(a.Close())
	fmt.Println(errors.Is(b.Close(), objstore.ErrChanged))
	got, _ := fs.ReadFile(fsys, "ckpt/latest.bin")
	fmt.Println(string(got))

	// A name under a file is refused at once.
	_, err = fsys.CreateContext(ctx, "ckpt/latest.bin/x", nil)
	fmt.Println(errors.Is(err, fs.ErrExist))
	// Output:
	// true
	// <nil>
	// true
	// step=100
	// true
}

func tarOf(files map[string]string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range []string{"0.txt", "1.txt", "2.txt"} {
		if body, ok := files[name]; ok {
			tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body))})
			io.WriteString(tw, body)
		}
	}
	tw.Close()
	return buf.Bytes()
}

func objstoreSize(n int64) objstore.PutOptions { return objstore.PutOptions{Size: n} }

// Stats tells what reads cost: the requests the store saw, by kind, and
// where the bytes readers got came from. A small file the FS does not
// know yet is one GET; read again, it comes from the memory tier.
func ExampleFS_Stats() {
	store, _ := memstore.FromMap(map[string][]byte{"labels.json": bytes.Repeat([]byte("x"), 5000)})
	fsys, err := tierfs.New(store, tierfs.WithMemoryCache(64<<20))
	if err != nil {
		log.Fatal(err)
	}
	defer fsys.Close()
	for range 2 {
		f, err := fsys.Open("labels.json")
		if err != nil {
			log.Fatal(err)
		}
		io.Copy(io.Discard, f)
		f.Close()
	}
	st := fsys.Stats()
	fmt.Printf("requests: %d GET, %d HEAD, %d LIST; %d bytes in\n", st.Requests.Gets, st.Requests.Heads, st.Requests.Lists, st.Requests.BytesIn)
	fmt.Printf("served from %s: %d bytes\n", st.Tiers[0].Name, st.Tiers[0].BytesServed)
	// Output:
	// requests: 1 GET, 0 HEAD, 0 LIST; 5000 bytes in
	// served from memory: 10000 bytes
}
