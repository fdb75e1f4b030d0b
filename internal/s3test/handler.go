package s3test

import (
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
)

var _ http.Handler = (*Server)(nil)

// request is what the front needs to know about one S3 request.
type request struct {
	method string
	bucket string
	key    string
	op     opKind
	kind   countKind // what it counts as; see ObjectStats
}

type opKind int

const (
	opOther   opKind = iota
	opGet            // GET object data
	opHead           // HEAD object
	opPut            // PUT object, CopyObject, UploadPart
	opList           // ListObjects or ListObjectsV2
	opGetMeta        // GET or HEAD of an object subresource, or ListParts
)

// objectSubresources are query parameters that make a request on an object
// URL something other than reading or writing its data.
var objectSubresources = []string{"acl", "tagging", "attributes", "retention", "legal-hold", "torrent", "restore", "select"}

// listQueryParams are the query parameters a listing may carry; a GET on a bucket
// with any other parameter (location, versioning, uploads, ...) is left to
// the backend.
var listQueryParams = map[string]bool{
	"list-type": true, "prefix": true, "delimiter": true, "max-keys": true, "marker": true,
	"continuation-token": true, "start-after": true, "encoding-type": true, "fetch-owner": true,
	"x-id": true, "optional-object-attributes": true,
}

// classify parses a path-style request, turning a virtual-host-style one
// (Host: bucket.127.0.0.1:port or bucket.localhost:port) into path style.
func (s *Server) classify(r *http.Request) request {
	if bucket, ok := s.hostBucket(r.Host); ok {
		p := r.URL.Path
		r.URL.Path = "/" + bucket
		if p != "/" && p != "" {
			r.URL.Path += p
		}
		if r.URL.RawPath != "" {
			r.URL.RawPath = "/" + bucket + r.URL.RawPath
		}
	}
	path := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ := strings.Cut(path, "/")
	rq := request{method: r.Method, bucket: bucket, key: key}
	q := r.URL.Query()
	switch {
	case bucket == "":
	case key == "":
		if r.Method == http.MethodGet && isListing(q) {
			rq.op = opList
		}
	case q.Has("uploadId"):
		if r.Method == http.MethodPut && q.Has("partNumber") {
			rq.op = opPut
		}
	case hasAny(q, objectSubresources):
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			rq.op = opGetMeta
		}
	case r.Method == http.MethodGet:
		rq.op = opGet
	case r.Method == http.MethodHead:
		rq.op = opHead
	case r.Method == http.MethodPut:
		rq.op = opPut
	}
	return rq
}

func isListing(q map[string][]string) bool {
	for k := range q {
		if !listQueryParams[k] && !strings.HasPrefix(strings.ToLower(k), "x-") {
			return false
		}
	}
	return true
}

func hasAny(q map[string][]string, keys []string) bool {
	for _, k := range keys {
		if _, ok := q[k]; ok {
			return true
		}
	}
	return false
}

// hostBucket finds the bucket in a virtual-host-style Host header.
func (s *Server) hostBucket(host string) (string, bool) {
	_, port, err := net.SplitHostPort(strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		return "", false
	}
	for _, base := range []string{".127.0.0.1:" + port, ".localhost:" + port} {
		if b, ok := strings.CutSuffix(host, base); ok && b != "" {
			return b, true
		}
	}
	return "", false
}

// ServeHTTP is the front: it counts, waits out the latency, applies faults
// and, for the built-in backend, the If-Match, conditional write and
// listing fixes, then hands
// the request to gofakes3 or the upstream.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.startHandler() {
		return
	}
	defer s.wg.Done()

	rq := s.classify(r)
	rq.kind = kindOf(rq, r.URL.Query())
	s.count(rq)

	if d := s.currentShaping().Latency; d > 0 {
		if s.testHookLatency != nil {
			s.testHookLatency()
		}
		if !s.wait(r.Context(), d) {
			// Closing or the client left: cut the connection rather than
			// let net/http send an empty 200.
			panic(http.ErrAbortHandler)
		}
	}

	rw := &responseWriter{ResponseWriter: w, s: s, r: r, id: objectID{rq.bucket, rq.key}}
	switch rq.kind {
	case kindGet:
		rw.counting = true
	case kindPut:
		if r.Body != nil && r.Body != http.NoBody {
			rw.putBody = &readCounter{rc: r.Body}
			r.Body = rw.putBody
		}
	}
	if f := s.matchFault(rq); f != nil {
		switch f.Kind {
		case SlowDown:
			writeError(w, r, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
			return
		case InternalError:
			writeError(w, r, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
			return
		case Deny:
			writeError(w, r, http.StatusForbidden, "AccessDenied", "Access Denied")
			return
		case Echo:
			var b strings.Builder
			fmt.Fprintf(&b, "bad request %s?%s", r.URL.Path, r.URL.RawQuery)
			for k, vs := range r.Header {
				fmt.Fprintf(&b, "\n%s: %s", k, strings.Join(vs, ", "))
			}
			writeError(w, r, http.StatusBadRequest, "InvalidRequest", b.String())
			return
		case Hang:
			s.wait(r.Context(), forever)
			panic(http.ErrAbortHandler)
		case Bend:
			if f.Bend.IgnoreRange {
				r.Header.Del("Range")
			}
			rw.bend = &f.Bend
		default:
			rw.fault = f
		}
	}
	defer rw.finish()

	var complete *capture
	if s.backend != nil {
		id := objectID{rq.bucket, rq.key}
		q := r.URL.Query()
		switch {
		case rq.op == opGet || rq.op == opHead:
			if !q.Has("versionId") && s.checkPreconditions(rw, r, rq) {
				return
			}
			rw.fixHeader = s.fixObjectHeaders(r, id)
		case rq.op == opList:
			s.serveList(rw, r, rq.bucket)
			return
		case rq.op == opPut && !q.Has("uploadId"), rq.key != "" && r.Method == http.MethodDelete && !q.Has("uploadId"):
			defer s.lockObject(id)()
			if rq.op == opPut && s.checkWriteConditions(rw, r, rq) {
				return
			}
			s.forgetETag(id)
		case rq.key != "" && r.Method == http.MethodPost && q.Has("uploadId"):
			defer s.lockObject(id)()
			if s.checkWriteConditions(rw, r, rq) {
				return
			}
			complete = new(capture)
			rw.capture = complete
		}
	}
	s.inner.ServeHTTP(rw, r)
	rw.prepare()
	if rw.status == 0 && !rw.cut {
		// Nothing written: net/http answers 200 once we return.
		rw.setStatus(http.StatusOK)
	}
	if complete != nil && rw.status == http.StatusOK {
		s.rememberETag(objectID{rq.bucket, rq.key}, complete.Bytes())
	}
	if !rw.cut {
		// gofakes3 can leave the end of an aws-chunked body unread; net/http
		// would then not reuse the connection (and park a goroutine for
		// 500ms to avoid a RST).
		_, _ = io.Copy(io.Discard, r.Body)
	}
}

// s3Error is the body of an S3 error response.
type s3Error struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Resource  string   `xml:"Resource,omitempty"`
	Condition string   `xml:"Condition,omitempty"`
	RequestID string   `xml:"RequestId"`
}

// writeError answers with an S3 XML error; HEAD responses carry no body.
func writeError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	writeErrorBody(w, r, status, s3Error{Code: code, Message: msg})
}

func writeErrorBody(w http.ResponseWriter, r *http.Request, status int, e s3Error) {
	e.Resource = r.URL.Path
	e.RequestID = "s3test"
	body, err := xml.Marshal(e)
	if err != nil {
		panic(fmt.Sprintf("s3test: marshal error body: %v", err)) // cannot happen: fixed struct of strings
	}
	body = append([]byte(xml.Header), body...)
	h := w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("x-amz-request-id", e.RequestID)
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
