// Command httpserve serves a bucket over HTTP with http.FileServerFS: the
// FS's files are io.ReadSeekers, so range requests work, and the handler
// sets each file's ETag to its object version (File.Object), so browsers,
// curl and caches in between revalidate with If-None-Match and get 304 Not
// Modified while the object is unchanged. Directories list as HTML.
//
// With no arguments it starts an S3-protocol server on loopback that
// behaves like a distant object store, with generated files in it; with
// -url it serves a real bucket's prefix.
//
//	go run ./examples/httpserve
//	curl -i -H 'Range: bytes=0-99' http://127.0.0.1:8080/images/img-0001.bin
//	curl -i -H 'If-None-Match: "<the ETag it gave>"' http://127.0.0.1:8080/images/img-0001.bin
//	go run ./examples/httpserve -url 's3://bucket/site?region=us-east-1' -addr :8080
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/tierfs/tierfs"
	"github.com/tierfs/tierfs/internal/s3test"
	"github.com/tierfs/tierfs/objstore"
	_ "github.com/tierfs/tierfs/objstore/s3store" // registers s3://; import the backend of your store
)

func main() {
	url := flag.String("url", "", "the store URL to serve (default: an embedded server with generated files)")
	addr := flag.String("addr", "127.0.0.1:8080", "address to serve on")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, *url, *addr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "httpserve:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, url, addr string) error {
	if url == "" {
		srv, err := startServer()
		if err != nil {
			return err
		}
		defer srv.Close()
		url = "s3://www?region=us-east-1&path_style=true&endpoint=" + srv.URL()
	}
	fsys, err := tierfs.Open(ctx, url, tierfs.WithMemoryCache(256<<20))
	if err != nil {
		return err
	}
	defer fsys.Close()

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: fileServer(fsys), ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("serving on http://%s/\n", ln.Addr())
	go func() {
		<-ctx.Done()
		hs.Shutdown(context.Background())
	}()
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// fileServer is http.FileServerFS(fsys) with an ETag on every file: the
// version of the object it serves.
func fileServer(fsys fs.FS) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.FileServerFS(etagFS{fsys, w.Header()}).ServeHTTP(w, r)
	})
}

// etagFS sets the response's ETag when the file server opens a file, so
// that the header names the version of the bytes served even if the
// object changes between requests (http.ServeContent then answers
// If-None-Match and If-Range from it).
type etagFS struct {
	fs.FS
	h http.Header
}

func (e etagFS) Open(name string) (fs.File, error) {
	f, err := e.FS.Open(name)
	if v, ok := f.(interface{ Object() objstore.Object }); ok {
		ver := v.Object().Version
		tag := ver.ETag
		if tag == "" {
			tag = ver.ID
		}
		e.h.Set("ETag", `"`+tag+`"`)
	}
	return f, err
}

// startServer starts the loopback S3-protocol server with a few generated
// files in bucket www.
func startServer() (*s3test.Server, error) {
	srv, err := s3test.New(s3test.Config{Shaping: s3test.Shaping{Latency: 20 * time.Millisecond, ConnBandwidth: 100e6}})
	if err != nil {
		return nil, err
	}
	if err := fill(srv); err != nil {
		srv.Close()
		return nil, fmt.Errorf("loopback server: %w", err)
	}
	// The SDK's default credential chain reads these; the loopback server
	// accepts any keys. With -url, yours come from the environment.
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_EC2_METADATA_DISABLED": "true"} {
		if os.Getenv(k) == "" {
			os.Setenv(k, v)
		}
	}
	return srv, nil
}

func fill(srv *s3test.Server) error {
	if err := srv.CreateBucket("www"); err != nil {
		return err
	}
	if err := srv.PutObject("www", "README.txt", []byte("Files served from an S3 bucket through tierfs.\n")); err != nil {
		return err
	}
	for i := 1; i <= 4; i++ {
		if err := srv.PutObject("www", fmt.Sprintf("images/img-%04d.bin", i), generated(i)); err != nil {
			return err
		}
	}
	return nil
}

// generated returns the bytes of the generated file images/img-%04d.bin.
func generated(i int) []byte {
	b := make([]byte, 1<<20+i)
	rand.NewChaCha8([32]byte{byte(i)}).Read(b)
	return b
}
