package s3test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"golang.org/x/time/rate"
)

// Config configures a Server. The zero value serves the built-in in-memory
// backend with no shaping.
type Config struct {
	// Upstream, if set, is the base URL of an existing S3-protocol server to
	// proxy to (e.g. a versitygw on loopback) instead of the built-in
	// gofakes3. Counting, faults and shaping still apply; the If-Match and
	// listing fixes do not (a real server does them itself). Optional.
	Upstream string
	// Shaping applied from the start (can be changed later with SetShaping).
	Shaping Shaping
	// FastPartETags makes the built-in backend give multipart parts an
	// ETag of 32 hex digits from a 64-bit maphash of the part and its
	// length instead of its MD5, as S3 gives (the object's ETag is still
	// "md5-of-the-part-ETags-N"). For benchmarks whose client shares the
	// CPUs with the server: hashing uploads with MD5 costs this server
	// about a second and a half of CPU per GiB, which S3 spends on its own
	// machines. Clients do not check part ETags against the data.
	FastPartETags bool
}

// Shaping slows the server down the way a distant object store would.
// Zero fields shape nothing.
type Shaping struct {
	// Latency is the first-byte latency added to every request before the
	// response headers.
	Latency time.Duration
	// ConnBandwidth caps what the server writes on each connection, in
	// bytes/s (0 = no cap).
	ConnBandwidth int64
	// TotalBandwidth caps what the server writes over all connections
	// together, in bytes/s (0 = no cap).
	TotalBandwidth int64
	// UpConnBandwidth and UpTotalBandwidth cap what the server reads
	// (uploads: request bodies) on each connection and over all of them,
	// in bytes/s (0 = no cap); see upload.go.
	UpConnBandwidth  int64
	UpTotalBandwidth int64
}

func (sh Shaping) validate() error {
	if sh.Latency < 0 || sh.ConnBandwidth < 0 || sh.TotalBandwidth < 0 || sh.UpConnBandwidth < 0 || sh.UpTotalBandwidth < 0 {
		return fmt.Errorf("s3test: negative shaping %+v", sh)
	}
	return nil
}

// Server is an S3-protocol server on 127.0.0.1. Its methods may be called
// concurrently.
type Server struct {
	url      string
	backend  *backend     // nil when proxying; see multipart.go
	upstream *url.URL     // nil when serving the built-in backend
	inner    http.Handler // gofakes3 or the reverse proxy
	client   *http.Client // direct requests to the upstream; nil otherwise
	srv      *http.Server
	ln       net.Listener

	done   chan struct{}      // closed by Close; ends latency and stall waits
	ctx    context.Context    // canceled by Close; ends bandwidth waits
	cancel context.CancelFunc // cancels ctx

	// connMu guards closed and conns. wg counts the Serve goroutine, running
	// handlers and accepted connections until net/http is done with them
	// (conn.served); Add is only called under connMu while !closed, so
	// Close's Wait never races an Add from zero.
	connMu sync.Mutex
	closed bool
	conns  map[*conn]struct{}
	wg     sync.WaitGroup

	// mu guards stats, buckets, total, faults and mpETags.
	mu      sync.Mutex
	stats   map[objectID]*ObjectStats
	buckets map[string]*ObjectStats
	total   ObjectStats
	faults  []*faultRule
	mpETags map[objectID]mpETag // see etag.go

	// shapeMu guards shaping. totalLimiter is safe for concurrent use and is
	// reconfigured under shapeMu.
	shapeMu        sync.Mutex
	shaping        Shaping
	totalLimiter   *rate.Limiter
	upTotalLimiter *rate.Limiter // the same for reads; see upload.go

	throttleWaits atomic.Int64 // writes that had to wait for a bandwidth limiter

	testHookLatency func() // called when a request starts waiting out the latency; set by tests before use

	writeLocks [writeLockCount]sync.Mutex // see condwrite.go
}

// New starts a Server listening on 127.0.0.1:0.
func New(cfg Config) (*Server, error) {
	if err := cfg.Shaping.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		done:           make(chan struct{}),
		conns:          make(map[*conn]struct{}),
		stats:          make(map[objectID]*ObjectStats),
		buckets:        make(map[string]*ObjectStats),
		mpETags:        make(map[objectID]mpETag),
		totalLimiter:   rate.NewLimiter(rate.Inf, 0),
		upTotalLimiter: rate.NewLimiter(rate.Inf, 0),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if cfg.Upstream != "" {
		u, err := url.Parse(cfg.Upstream)
		if err != nil {
			return nil, fmt.Errorf("s3test: upstream: %w", err)
		}
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("s3test: upstream %q is not an http(s) base URL", cfg.Upstream)
		}
		s.upstream = u
		tr := &http.Transport{
			DialContext:         (&net.Dialer{}).DialContext,
			DisableCompression:  true,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     30 * time.Second,
		}
		s.client = &http.Client{Transport: tr}
		s.inner = &httputil.ReverseProxy{
			Rewrite: func(pr *httputil.ProxyRequest) {
				pr.SetURL(u)
				// Keep the client's Host: it is part of the SigV4 signature.
				pr.Out.Host = pr.In.Host
			},
			Transport: tr,
			ErrorLog:  log.New(io.Discard, "", 0),
		}
	} else {
		s.backend = newBackend(cfg.FastPartETags)
		s.inner = gofakes3.New(s.backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server()
	}
	s.setShaping(cfg.Shaping)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("s3test: %w", err)
	}
	s.ln = &listener{Listener: ln, s: s}
	s.url = "http://" + ln.Addr().String()
	s.srv = &http.Server{
		Handler:           s,
		ErrorLog:          log.New(io.Discard, "", 0),
		ReadHeaderTimeout: time.Minute,
		ConnState:         connState,
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.srv.Serve(s.ln) // returns http.ErrServerClosed after Close
	}()
	return s, nil
}

// Start is New for tests: it fails tb on error and closes the server in
// tb.Cleanup.
func Start(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	s, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// URL returns the server's base URL, "http://127.0.0.1:port". Clients must
// use path-style addressing (or send Host: bucket.127.0.0.1:port).
func (s *Server) URL() string { return s.url }

// Close stops the server: it closes the listener and every connection, idle,
// active or hijacked, ends latency, stall and bandwidth waits, and waits for
// all of the server's goroutines. Later calls return an error wrapping
// fs.ErrClosed.
func (s *Server) Close() error {
	s.connMu.Lock()
	if s.closed {
		s.connMu.Unlock()
		return errClosed
	}
	s.closed = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.connMu.Unlock()

	close(s.done)
	s.cancel()
	err := s.srv.Close()
	for _, c := range conns {
		_ = c.Close()
	}
	s.wg.Wait()
	if s.client != nil {
		s.client.CloseIdleConnections()
	}
	if err != nil {
		return fmt.Errorf("s3test: close: %w", err)
	}
	return nil
}

var errClosed = fmt.Errorf("s3test: %w", fs.ErrClosed)

func (s *Server) isClosed() bool {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	return s.closed
}

// CreateBucket creates a bucket directly, bypassing the HTTP front: it is not
// counted, shaped or faulted. With an Upstream it sends an unsigned PUT.
func (s *Server) CreateBucket(name string) error {
	if s.isClosed() {
		return errClosed
	}
	if s.backend == nil {
		return s.direct(http.MethodPut, name, "", nil)
	}
	if err := s.backend.CreateBucket(name); err != nil {
		return fmt.Errorf("s3test: create bucket %q: %w", name, err)
	}
	return nil
}

// PutObject stores an object directly; it is not counted, shaped or faulted.
// With an Upstream it sends an unsigned PUT.
func (s *Server) PutObject(bucket, key string, data []byte) error {
	if s.isClosed() {
		return errClosed
	}
	if s.backend == nil {
		return s.direct(http.MethodPut, bucket, key, data)
	}
	s.forgetETag(objectID{bucket, key})
	meta := map[string]string{"Last-Modified": time.Now().UTC().Format(http.TimeFormat)}
	_, err := s.backend.PutObject(bucket, key, meta, bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		return fmt.Errorf("s3test: put %s/%s: %w", bucket, key, err)
	}
	return nil
}

// DeleteObject deletes an object directly; it is not counted, shaped or
// faulted. Deleting a missing object is not an error, as in S3.
func (s *Server) DeleteObject(bucket, key string) error {
	if s.isClosed() {
		return errClosed
	}
	if s.backend == nil {
		return s.direct(http.MethodDelete, bucket, key, nil)
	}
	s.forgetETag(objectID{bucket, key})
	if _, err := s.backend.DeleteObject(bucket, key); err != nil {
		return fmt.Errorf("s3test: delete %s/%s: %w", bucket, key, err)
	}
	return nil
}

// direct sends an unsigned request straight to the upstream.
func (s *Server) direct(method, bucket, key string, body []byte) error {
	u := *s.upstream
	u.Path = strings.TrimSuffix(u.Path, "/") + "/" + bucket
	if key != "" {
		u.Path += "/" + key
	}
	req, err := http.NewRequestWithContext(s.ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("s3test: %s %s: %w", method, u.Path, err)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("s3test: %s %s: %w", method, u.Path, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("s3test: %s %s: %s: %s", method, u.Path, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// SetShaping replaces the shaping; it applies to new requests and to the
// next writes of responses already under way.
func (s *Server) SetShaping(sh Shaping) {
	// A negative value cannot be reported here; treat it as no shaping.
	sh.Latency = max(sh.Latency, 0)
	sh.ConnBandwidth = max(sh.ConnBandwidth, 0)
	sh.TotalBandwidth = max(sh.TotalBandwidth, 0)
	sh.UpConnBandwidth = max(sh.UpConnBandwidth, 0)
	sh.UpTotalBandwidth = max(sh.UpTotalBandwidth, 0)
	s.setShaping(sh)
}

func (s *Server) setShaping(sh Shaping) {
	s.shapeMu.Lock()
	defer s.shapeMu.Unlock()
	s.shaping = sh
	setLimit(s.totalLimiter, sh.TotalBandwidth)
	setLimit(s.upTotalLimiter, sh.UpTotalBandwidth)
}

func (s *Server) currentShaping() Shaping {
	s.shapeMu.Lock()
	defer s.shapeMu.Unlock()
	return s.shaping
}

// wait blocks for d, or until ctx is done or the server closes. It reports
// whether the whole d passed.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-s.done:
	}
	return false
}

// startHandler registers a running handler with wg; it fails once Close has
// begun.
func (s *Server) startHandler() bool {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

var errFaulted = errors.New("s3test: connection cut by an injected fault")
