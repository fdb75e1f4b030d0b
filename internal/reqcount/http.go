package reqcount

import (
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync"
	"sync/atomic"
)

// Classifier returns the kind of a request from its method and URL. It
// must be safe for concurrent use.
type Classifier func(method string, u *url.URL) Kind

// Doer is the HTTP client interface of the AWS and OSS SDKs.
type Doer interface {
	Do(*http.Request) (*http.Response, error)
}

// Transport returns an http.RoundTripper that sends each request through
// base and counts it in c, classified by classify:
//
//   - A request counts once base returns its response, whatever the
//     status. A request that fails without one counts if its headers left
//     for the server: base wrote the whole request (an httptrace
//     WroteRequest event without error), or flushed the headers to wait
//     for a 100 Continue, or read more of the body than base's write
//     buffer holds (which cannot happen before the buffer holding the
//     headers was flushed). A request that never got so far (a refused
//     dial, a context done while connecting or before the first flush)
//     does not count.
//   - The body of a 2xx response to a Get is counted in BytesIn as it is
//     read.
//   - A 2xx response to a Put adds the request's body length to BytesOut:
//     its ContentLength, or, for a body of unknown length, the bytes base
//     read from it.
//
// The returned RoundTripper also has base's CloseIdleConnections, so an
// http.Client over it can still drop idle connections.
func (c *Counter) Transport(base http.RoundTripper, classify Classifier) http.RoundTripper {
	return &transport{c: c, base: base, classify: classify, bufSize: writeBufferSize(base)}
}

// WrapDoer returns a Doer that sends each request through d and counts it
// as [Counter.Transport] does. It sees only what reaches d.Do: redirects
// that d follows and retries it makes inside one Do count once.
func (c *Counter) WrapDoer(d Doer, classify Classifier) Doer {
	var size int64 = unknownBufferSize
	if hc, ok := d.(*http.Client); ok {
		size = writeBufferSize(hc.Transport)
	}
	return &doer{c: c, d: d, classify: classify, bufSize: size}
}

// unknownBufferSize bounds the write buffer of a transport that is not an
// *http.Transport; a failed request whose body was read past it counts.
const unknownBufferSize = 1 << 20

// writeBufferSize returns the size of rt's write buffer, as far as it is
// known.
func writeBufferSize(rt http.RoundTripper) int64 {
	switch t := rt.(type) {
	case nil:
		return 4 << 10 // http.DefaultTransport
	case *http.Transport:
		if t.WriteBufferSize > 0 {
			return int64(t.WriteBufferSize)
		}
		return 4 << 10 // net/http's default
	}
	return unknownBufferSize
}

type transport struct {
	c        *Counter
	base     http.RoundTripper
	classify Classifier
	bufSize  int64 // base's write buffer size, or a bound
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	return t.c.send(req, t.classify, t.bufSize, t.base.RoundTrip)
}

// CloseIdleConnections closes the idle connections of the base transport,
// if it can.
func (t *transport) CloseIdleConnections() {
	if ci, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

type doer struct {
	c        *Counter
	d        Doer
	classify Classifier
	bufSize  int64
}

func (d *doer) Do(req *http.Request) (*http.Response, error) {
	return d.c.send(req, d.classify, d.bufSize, d.d.Do)
}

// send sends req with do and counts it; see Transport. bufSize is the
// write buffer size of the transport behind do, or a bound on it.
func (c *Counter) send(req *http.Request, classify Classifier, bufSize int64, do func(*http.Request) (*http.Response, error)) (*http.Response, error) {
	kind := classify(req.Method, req.URL)
	var left atomic.Bool // the headers left for the server
	trace := &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				left.Store(true)
			}
		},
		Wait100Continue: func() { left.Store(true) },
	}
	out := req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	var sent *sentBytes
	if out.Body != nil && out.Body != http.NoBody {
		sent = countBody(out)
	}
	resp, err := do(out)
	if err != nil {
		if left.Load() || sent != nil && sent.max() > bufSize {
			c.Add(kind)
		}
		return resp, err
	}
	c.Add(kind)
	if resp.StatusCode/100 == 2 {
		if out.ContentLength > 0 {
			sent = nil // the length is known
		}
		c.countResponse(kind, resp, out.ContentLength, sent)
	}
	return resp, nil
}

// CountResponse counts the request behind resp, a response the caller
// knows reached the service, as [Counter.Transport] would have; the
// request is taken from resp.Request (nil counts as Other). It is for
// clients whose transport is out of reach, where only responses can be
// seen.
func (c *Counter) CountResponse(resp *http.Response, classify Classifier) {
	kind, length := Other, int64(-1)
	if req := resp.Request; req != nil {
		kind, length = classify(req.Method, req.URL), req.ContentLength
	}
	c.Add(kind)
	if resp.StatusCode/100 == 2 {
		c.countResponse(kind, resp, length, nil)
	}
}

// countResponse counts the object bytes of a 2xx response of kind.
func (c *Counter) countResponse(kind Kind, resp *http.Response, length int64, sent *sentBytes) {
	switch kind {
	case Get:
		if resp.Body != nil && resp.Body != http.NoBody {
			resp.Body = &body{rc: resp.Body, c: c}
		}
	case Put:
		switch {
		case sent != nil:
			c.AddOut(sent.load())
		case length > 0:
			c.AddOut(length)
		}
	}
}

// body counts the bytes read from a response body.
type body struct {
	rc io.ReadCloser
	c  *Counter
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.c.AddIn(int64(n))
	return n, err
}

func (b *body) Close() error { return b.rc.Close() }

// sentBytes counts the bytes read from the bodies of one request: the
// first, and those GetBody makes for a transport's own retries.
type sentBytes struct {
	mu     sync.Mutex      // guards bodies
	bodies []*atomic.Int64 // bytes read from each body, in order
}

func (s *sentBytes) next() *atomic.Int64 {
	n := new(atomic.Int64)
	s.mu.Lock()
	s.bodies = append(s.bodies, n)
	s.mu.Unlock()
	return n
}

// load returns the bytes read from the latest body.
func (s *sentBytes) load() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bodies[len(s.bodies)-1].Load()
}

// max returns the most bytes read from one body.
func (s *sentBytes) max() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var m int64
	for _, b := range s.bodies {
		m = max(m, b.Load())
	}
	return m
}

// countBody makes req (a copy the caller owns) count the bytes read from
// its body, and from any body its GetBody makes later.
func countBody(req *http.Request) *sentBytes {
	s := new(sentBytes)
	req.Body = &reqBody{rc: req.Body, n: s.next()}
	if get := req.GetBody; get != nil {
		req.GetBody = func() (io.ReadCloser, error) {
			rc, err := get()
			if err != nil {
				return nil, err
			}
			return &reqBody{rc: rc, n: s.next()}, nil
		}
	}
	return s
}

type reqBody struct {
	rc io.ReadCloser
	n  *atomic.Int64
}

func (b *reqBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func (b *reqBody) Close() error { return b.rc.Close() }
