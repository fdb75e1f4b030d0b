package s3test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// FaultKind says what an injected fault does to a request.
type FaultKind int

const (
	// SlowDown answers 503 with S3 error code SlowDown, without reading the
	// request body.
	SlowDown FaultKind = iota + 1
	// InternalError answers 500 with S3 error code InternalError.
	InternalError
	// ResetAfter sends the response headers and AfterBytes bytes of the body,
	// then resets the TCP connection (RST).
	ResetAfter
	// EOFAfter sends the response headers, with the full Content-Length, and
	// AfterBytes bytes of the body, then closes the connection cleanly: the
	// client sees an early EOF.
	EOFAfter
	// StallAfter sends the response headers and AfterBytes bytes of the body,
	// then stalls for Stall (0: until the client goes away or the server
	// closes), then sends the rest.
	StallAfter
	// Deny answers 403 with S3 error code AccessDenied.
	Deny
	// Hang reads the request and never answers: the handler waits until
	// the client goes away or the server closes, then drops the
	// connection.
	Hang
	// TrickleAfter sends the response headers and AfterBytes bytes of the
	// body, then the rest one byte every Stall (a body that never stalls
	// for long but never gets anywhere either).
	TrickleAfter
	// Bend answers as the backend does, bent as Fault.Bend says: an origin
	// or a gateway that breaks the rules a client relies on.
	Bend
	// Echo answers 400 with S3 error code InvalidRequest and a message
	// that repeats the request's query and headers, Authorization
	// included, as a careless gateway might.
	Echo
)

// Bending says how a Bend fault bends a reply.
type Bending struct {
	// IgnoreRange answers as if the request had no Range header: 200 and
	// the whole object. Behind a proxy (Config.Upstream) it breaks the
	// request's signature, which covers Range.
	IgnoreRange bool
	// NoLength drops the Content-Length header: a body goes chunked, and a
	// HEAD tells no size.
	NoLength bool
	// NoETag drops the ETag header.
	NoETag bool
}

func (k FaultKind) String() string {
	switch k {
	case SlowDown:
		return "SlowDown"
	case InternalError:
		return "InternalError"
	case ResetAfter:
		return "ResetAfter"
	case EOFAfter:
		return "EOFAfter"
	case StallAfter:
		return "StallAfter"
	case Deny:
		return "Deny"
	case Hang:
		return "Hang"
	case TrickleAfter:
		return "TrickleAfter"
	case Bend:
		return "Bend"
	case Echo:
		return "Echo"
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// Fault is a rule that makes matching requests fail. Rules are matched in
// the order they were injected; the first rule that applies to a request
// wins.
//
// For ResetAfter, EOFAfter and StallAfter the response headers are always
// sent whole and AfterBytes counts body bytes only; if the body is shorter,
// all of it is sent before the fault acts.
type Fault struct {
	Kind       FaultKind
	Method     string        // "" = any; e.g. "GET", "HEAD", "PUT"
	Bucket     string        // "" = any
	Key        string        // "" = any request, listings included (exact key match otherwise)
	AfterBytes int64         // body bytes sent before ResetAfter, EOFAfter or StallAfter act
	Stall      time.Duration // how long StallAfter stalls; 0 = until the client or the server gives up
	Times      int           // how many matching requests it applies to; 0 means 1; -1 means forever
	SkipFirst  int           // let this many matching requests pass first (later rules may still apply to them)
	Bend       Bending       // what Bend does
	// Chance, if in (0, 1), applies the rule to a matching request with
	// this probability only (a request it passes over does not count
	// against Times or SkipFirst); 0 applies it to every one.
	Chance float64
	// Applied, if set, is sent a value, without blocking, each time the
	// rule is applied to a request: a test waits on it for a request to
	// reach the server (give it a buffer).
	Applied chan<- struct{}
}

// faultRule is an injected Fault and what is left of it.
type faultRule struct {
	Fault
	skip  int // matching requests still to let pass
	times int // matching requests still to fault; <0 = forever
}

// InjectFault queues a fault rule. It panics on an unknown Kind, a
// negative AfterBytes, Stall or SkipFirst, or a TrickleAfter without a
// Stall.
func (s *Server) InjectFault(f Fault) {
	if f.Kind < SlowDown || f.Kind > Echo || f.Kind == TrickleAfter && f.Stall <= 0 || f.AfterBytes < 0 || f.Stall < 0 || f.SkipFirst < 0 || f.Times < -1 || f.Chance < 0 || f.Chance > 1 {
		panic(fmt.Sprintf("s3test: invalid fault %+v", f))
	}
	rule := &faultRule{Fault: f, skip: f.SkipFirst, times: f.Times}
	if rule.times == 0 {
		rule.times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, rule)
}

// BendReads makes every GET and HEAD of key in bucket from now on bend
// the rules as b says (a Bend fault for each method, forever).
func (s *Server) BendReads(bucket, key string, b Bending) {
	for _, m := range []string{http.MethodGet, http.MethodHead} {
		s.InjectFault(Fault{Kind: Bend, Method: m, Bucket: bucket, Key: key, Bend: b, Times: -1})
	}
}

// ClearFaults drops every fault rule.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// matchFault consumes and returns the fault for rq, or nil.
func (s *Server) matchFault(rq request) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Method != "" && !strings.EqualFold(f.Method, rq.method) ||
			f.Bucket != "" && f.Bucket != rq.bucket ||
			f.Key != "" && f.Key != rq.key {
			continue
		}
		if f.Chance > 0 && f.Chance < 1 && rand.Float64() >= f.Chance {
			continue
		}
		if f.skip > 0 {
			f.skip--
			continue
		}
		if f.times > 0 {
			f.times--
			if f.times == 0 {
				s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			}
		}
		if f.Applied != nil {
			select {
			case f.Applied <- struct{}{}:
			default:
			}
		}
		out := f.Fault
		return &out
	}
	return nil
}

// responseWriter sits between the front and the backend: it counts GET body
// bytes and applies a body fault (ResetAfter, EOFAfter, StallAfter).
type responseWriter struct {
	http.ResponseWriter
	s *Server
	r *http.Request

	id       objectID     // object the request names
	counting bool         // a Get: count its body bytes if the answer is 2xx
	putBody  *readCounter // a Put's request body, counted if the answer is 2xx; or nil
	fault    *Fault       // body fault to apply, or nil
	written  int64        // body bytes written so far
	fired    bool         // fault has acted
	cut      bool         // connection hijacked and closed by the fault
	dead     bool         // a stall ended by the client or Close: later writes go nowhere

	fixHeader func(http.Header) // run once on the headers before they are sent
	bend      *Bending          // applied to the headers after fixHeader, or nil
	status    int               // status sent, 0 before the headers
	capture   *capture          // keeps a copy of the body, or nil
}

// prepare runs fixHeader once, before the headers go out.
func (w *responseWriter) prepare() {
	if f := w.fixHeader; f != nil {
		w.fixHeader = nil
		f(w.Header())
	}
	if b := w.bend; b != nil {
		w.bend = nil
		if b.NoLength {
			w.Header().Del("Content-Length")
			if w.r.Method != http.MethodHead {
				// Or net/http would count a small body and send its length.
				w.Header().Set("Transfer-Encoding", "chunked")
			}
		}
		if b.NoETag {
			w.Header().Del("ETag")
		}
	}
}

func (w *responseWriter) WriteHeader(code int) {
	w.prepare()
	if w.status == 0 && code >= 200 {
		w.setStatus(code)
	}
	w.ResponseWriter.WriteHeader(code)
}

// setStatus records the status of the answer, before any of it is sent,
// and counts a 2xx Put's body bytes.
func (w *responseWriter) setStatus(code int) {
	w.status = code
	if w.putBody != nil && code/100 == 2 {
		w.s.countPut(w.id, w.putBody.n.Load())
	}
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.cut || w.dead {
		// Not counted: net/http would buffer what the backend writes
		// after the failure (gofakes3 an error message) and drop it.
		return 0, errFaulted
	}
	if w.fault != nil && w.fired && w.fault.Kind == TrickleAfter {
		return w.trickle(p)
	}
	if w.fault != nil && !w.fired {
		if room := w.fault.AfterBytes - w.written; int64(len(p)) >= room {
			n, err := w.write(p[:room])
			if err != nil {
				return n, err
			}
			if !w.fire() {
				return n, errFaulted
			}
			var m int
			if w.fault.Kind == TrickleAfter {
				m, err = w.trickle(p[room:])
			} else {
				m, err = w.write(p[room:])
			}
			return n + m, err
		}
	}
	return w.write(p)
}

func (w *responseWriter) write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	w.prepare()
	if w.status == 0 {
		w.setStatus(http.StatusOK)
	}
	if w.capture != nil {
		w.capture.keep(p)
	}
	// Counted before the write, so that a client that has read the last
	// byte never sees a count without it; a write that fails is taken back.
	count := w.counting && w.status/100 == 2
	if count {
		w.s.countBody(w.id, int64(len(p)))
	}
	n, err := w.ResponseWriter.Write(p)
	w.written += int64(n)
	if count && n < len(p) {
		w.s.countBody(w.id, int64(n-len(p)))
	}
	return n, err
}

// trickle writes p a byte at a time, each after the fault's Stall.
func (w *responseWriter) trickle(p []byte) (int, error) {
	rc := http.NewResponseController(w.ResponseWriter)
	for i := range p {
		if !w.s.wait(w.r.Context(), w.fault.Stall) {
			w.dead = true
			return i, errFaulted
		}
		if _, err := w.write(p[i : i+1]); err != nil {
			return i, err
		}
		if err := rc.Flush(); err != nil {
			return i + 1, err
		}
	}
	return len(p), nil
}

// finish applies a body fault whose byte count the body never reached.
func (w *responseWriter) finish() {
	if w.fault != nil && !w.fired {
		w.fire()
	}
}

// fire flushes what was written and applies the fault. It reports whether
// the response may go on.
func (w *responseWriter) fire() bool {
	w.fired = true
	w.prepare()
	rc := http.NewResponseController(w.ResponseWriter)
	if err := rc.Flush(); err != nil {
		return false
	}
	switch w.fault.Kind {
	case StallAfter:
		d := w.fault.Stall
		if d <= 0 {
			d = forever
		}
		if !w.s.wait(w.r.Context(), d) {
			w.dead = true
			return false
		}
		return true
	case TrickleAfter:
		return true
	case ResetAfter, EOFAfter:
		c, _, err := rc.Hijack()
		if err != nil {
			return false
		}
		w.cut = true
		if sc, ok := c.(*conn); ok && w.fault.Kind == ResetAfter {
			sc.reset()
		} else {
			_ = c.Close()
		}
		return false
	}
	return true
}

// forever is a wait that only ctx or Close ends.
const forever = time.Duration(1<<63 - 1)
