package reqcount_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tierfs/tierfs/internal/reqcount"
	"github.com/tierfs/tierfs/objstore"
)

var proto = &reqcount.Protocol{Subresources: []string{"acl", "tagging"}, DataPost: "append"}

func TestClassify(t *testing.T) {
	const (
		svc = reqcount.Service
		bkt = reqcount.Bucket
		obj = reqcount.Object
	)
	cases := []struct {
		method string
		target reqcount.Target
		query  string
		want   reqcount.Kind
	}{
		{"HEAD", obj, "", reqcount.Head},
		{"HEAD", bkt, "", reqcount.Head},
		{"GET", obj, "", reqcount.Get},
		{"GET", obj, "x-id=GetObject&versionId=1&partNumber=1", reqcount.Get},
		{"GET", obj, "uploadId=u", reqcount.List},
		{"GET", obj, "acl", reqcount.Other},
		{"GET", bkt, "", reqcount.List},
		{"GET", bkt, "list-type=2&prefix=a&delimiter=%2F&max-keys=5&continuation-token=t&encoding-type=url&x-id=ListObjectsV2", reqcount.List},
		{"GET", bkt, "versions&key-marker=a&version-id-marker=b", reqcount.List},
		{"GET", bkt, "uploads&upload-id-marker=a&max-uploads=3", reqcount.List},
		{"GET", bkt, "location", reqcount.Other},
		{"GET", bkt, "list-type=2&policy", reqcount.Other},
		{"GET", svc, "", reqcount.Other},
		{"PUT", obj, "", reqcount.Put},
		{"PUT", obj, "partNumber=1&uploadId=u", reqcount.Put},
		{"PUT", obj, "tagging", reqcount.Other},
		{"PUT", bkt, "", reqcount.Other},
		{"DELETE", obj, "", reqcount.Delete},
		{"DELETE", obj, "uploadId=u", reqcount.Other},
		{"DELETE", obj, "tagging", reqcount.Other},
		{"DELETE", bkt, "", reqcount.Other},
		{"POST", obj, "uploads", reqcount.Other},
		{"POST", obj, "uploadId=u", reqcount.Other},
		{"POST", obj, "append&position=0", reqcount.Put},
		{"POST", bkt, "delete", reqcount.Other},
		{"PATCH", obj, "", reqcount.Other},
	}
	for _, c := range cases {
		q, err := url.ParseQuery(c.query)
		if err != nil {
			t.Fatal(err)
		}
		if got := reqcount.Classify(c.method, c.target, q, proto); got != c.want {
			t.Errorf("%s target %d ?%s = %v, want %v", c.method, c.target, c.query, got, c.want)
		}
	}
}

func TestTargetOf(t *testing.T) {
	cases := []struct {
		url       string
		pathStyle bool
		want      reqcount.Target
	}{
		{"http://127.0.0.1:9000/b", true, reqcount.Bucket},
		{"http://127.0.0.1:9000/b/", true, reqcount.Bucket},
		{"http://127.0.0.1:9000/b/k", true, reqcount.Object},
		{"http://127.0.0.1:9000/b/b/k", true, reqcount.Object},
		{"http://127.0.0.1:9000/", true, reqcount.Service},
		{"http://127.0.0.1:9000/other/k", true, reqcount.Service},
		{"http://h/base/b", true, reqcount.Bucket},
		{"http://h/base/b/k", true, reqcount.Object},
		{"https://b.s3.amazonaws.com/", false, reqcount.Bucket},
		{"https://b.s3.amazonaws.com", false, reqcount.Bucket},
		{"https://b.s3.amazonaws.com/k", false, reqcount.Object},
		{"https://b.s3.amazonaws.com/b", false, reqcount.Object},
		{"https://B.S3.AMAZONAWS.COM/k", false, reqcount.Object},
		{"http://b:9000/k", false, reqcount.Object}, // host is the bucket: a CNAME
		// Both readings fit: the configured style decides.
		{"http://b.local/b", true, reqcount.Bucket},
		{"http://b.local/b", false, reqcount.Object},
		{"http://b.local/k", true, reqcount.Object},
	}
	for _, c := range cases {
		u, err := url.Parse(c.url)
		if err != nil {
			t.Fatal(err)
		}
		if got := reqcount.TargetOf(u, "b", c.pathStyle); got != c.want {
			t.Errorf("TargetOf(%s, path style %v) = %d, want %d", c.url, c.pathStyle, got, c.want)
		}
	}
}

// classifyPath classifies by path alone: /get, /put, … name the kind.
func classifyPath(method string, u *url.URL) reqcount.Kind {
	switch strings.TrimPrefix(u.Path, "/") {
	case "get":
		return reqcount.Get
	case "head":
		return reqcount.Head
	case "put":
		return reqcount.Put
	}
	return reqcount.Other
}

func TestTransport(t *testing.T) {
	var served atomic.Int64
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		io.Copy(io.Discard, r.Body)
		switch {
		case r.URL.Query().Has("block"):
			select {
			case <-block:
			case <-r.Context().Done():
			}
			return
		case r.URL.Query().Has("status"):
			w.WriteHeader(http.StatusNotFound)
		}
		io.WriteString(w, strings.Repeat("x", 1000))
	}))
	defer srv.Close()
	defer close(block)

	for _, wrap := range []string{"Transport", "WrapDoer"} {
		t.Run(wrap, func(t *testing.T) {
			served.Store(0)
			var c reqcount.Counter
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			var do func(*http.Request) (*http.Response, error)
			if wrap == "Transport" {
				hc := &http.Client{Transport: c.Transport(tr, classifyPath)}
				do = hc.Do
			} else {
				do = c.WrapDoer(&http.Client{Transport: tr}, classifyPath).Do
			}
			send := func(ctx context.Context, method, path string, body io.Reader) (*http.Response, error) {
				req, err := http.NewRequestWithContext(ctx, method, srv.URL+path, body)
				if err != nil {
					t.Fatal(err)
				}
				return do(req)
			}
			check := func(name string, want objstore.RequestStats, wantServed int64) {
				t.Helper()
				if got := c.Stats(); got != want {
					t.Errorf("%s: %+v, want %+v", name, got, want)
				}
				if n := served.Load(); n != wantServed {
					t.Errorf("%s: server saw %d requests, want %d", name, n, wantServed)
				}
			}
			ctx := t.Context()

			// A 2xx Get: counted, and the bytes as they are read.
			resp, err := send(ctx, "GET", "/get", nil)
			if err != nil {
				t.Fatal(err)
			}
			io.CopyN(io.Discard, resp.Body, 300)
			resp.Body.Close()
			check("half-read GET", objstore.RequestStats{Gets: 1, BytesIn: 300}, 1)
			// A 404 Get: counted, its body is no object data.
			resp, err = send(ctx, "GET", "/get?status", nil)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			check("404 GET", objstore.RequestStats{Gets: 2, BytesIn: 300}, 2)
			// Puts: the body length when accepted.
			resp, err = send(ctx, "PUT", "/put", strings.NewReader("hello"))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			resp, err = send(ctx, "PUT", "/put", io.MultiReader(strings.NewReader("unknown length")))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			resp, err = send(ctx, "PUT", "/put?status", strings.NewReader("refused"))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			check("PUTs", objstore.RequestStats{Gets: 2, Puts: 3, BytesIn: 300, BytesOut: 5 + 14}, 5)

			// A request that never leaves is not counted.
			cancelled, cancel := context.WithCancel(ctx)
			cancel()
			if _, err := send(cancelled, "HEAD", "/head", nil); !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled: %v", err)
			}
			check("cancelled before sending", objstore.RequestStats{Gets: 2, Puts: 3, BytesIn: 300, BytesOut: 19}, 5)

			// A request sent whole whose answer never comes is counted.
			short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			if _, err := send(short, "HEAD", "/head?block", nil); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("blocked: %v", err)
			}
			check("sent, then timed out", objstore.RequestStats{Gets: 2, Heads: 1, Puts: 3, BytesIn: 300, BytesOut: 19}, 6)
		})
	}

	t.Run("refused dial", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		var c reqcount.Counter
		hc := &http.Client{Transport: c.Transport(&http.Transport{}, classifyPath)}
		if _, err := hc.Get("http://" + addr + "/get"); err == nil {
			t.Fatal("GET to a closed port succeeded")
		}
		if got := c.Stats(); got != (objstore.RequestStats{}) {
			t.Errorf("refused dial counted %+v", got)
		}
	})
}

type closeCounter struct {
	http.RoundTripper
	closed int
}

func (c *closeCounter) CloseIdleConnections() { c.closed++ }

func TestTransportCloseIdleConnections(t *testing.T) {
	var c reqcount.Counter
	base := &closeCounter{RoundTripper: http.DefaultTransport}
	hc := &http.Client{Transport: c.Transport(base, classifyPath)}
	hc.CloseIdleConnections()
	if base.closed != 1 {
		t.Errorf("CloseIdleConnections reached the base transport %d times, want 1", base.closed)
	}
}

func TestCountResponse(t *testing.T) {
	var c reqcount.Counter
	get, _ := http.NewRequest("GET", "http://h/get", nil)
	resp := &http.Response{StatusCode: 200, Request: get, Body: io.NopCloser(strings.NewReader("abc"))}
	c.CountResponse(resp, classifyPath)
	io.ReadAll(resp.Body)
	put, _ := http.NewRequest("PUT", "http://h/put", strings.NewReader("12345"))
	c.CountResponse(&http.Response{StatusCode: 200, Request: put, Body: http.NoBody}, classifyPath)
	c.CountResponse(&http.Response{StatusCode: 200, Body: http.NoBody}, classifyPath)
	want := objstore.RequestStats{Gets: 1, Puts: 1, Other: 1, BytesIn: 3, BytesOut: 5}
	if got := c.Stats(); got != want {
		t.Errorf("%+v, want %+v", got, want)
	}
}
