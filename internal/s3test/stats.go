package s3test

import (
	"io"
	"net/url"
	"sync/atomic"

	"github.com/tierfs/tierfs/objstore"
)

// ObjectStats counts requests the server answered through its HTTP front.
// Direct calls (CreateBucket, PutObject, DeleteObject) are not counted.
//
// Every request counts once, when the front receives it, in Requests and
// in exactly one of the kinds below, whatever the answer (an injected
// fault, an error, a 2xx), so Requests is always the sum of the kinds.
// The kinds follow the method and query, as objstore.RequestStats defines
// them for S3 and OSS:
//
//	Gets     GET of object data
//	Heads    HEAD (of an object or a bucket)
//	Lists    GET listing a bucket (ListObjects, ListObjectsV2, ?versions,
//	         ?uploads) or an upload's parts (?uploadId on an object)
//	Puts     PUT of object data: PutObject, UploadPart, CopyObject; and
//	         OSS AppendObject (POST ?append)
//	Deletes  DELETE of an object (not ?uploadId)
//	Other    the rest: multipart create, complete and abort, subresources
//	         (?acl, ?tagging, …), bucket and service requests
type ObjectStats struct {
	Requests int64 // all requests naming this object (any method)
	Gets     int64 // GET requests for object data
	Heads    int64 // HEAD requests
	Lists    int64 // listings
	Puts     int64 // PUT object (including CopyObject) and UploadPart
	Deletes  int64 // DELETE object
	Other    int64 // every other request

	// BodyBytes is the response body bytes of Gets answered 2xx, counted
	// as the front hands them to the connection (after faults cut them);
	// error bodies are not counted.
	BodyBytes int64
	// PutBytes is the request body bytes of Puts answered 2xx: what the
	// backend had read of the body when the answer went out.
	PutBytes int64
}

// RequestStats returns o in the shape of a client's own counts, to
// compare with an objstore.RequestCounter: the kinds as they are, BytesIn
// from BodyBytes and BytesOut from PutBytes.
func (o ObjectStats) RequestStats() objstore.RequestStats {
	return objstore.RequestStats{
		Gets: o.Gets, Heads: o.Heads, Lists: o.Lists, Puts: o.Puts, Deletes: o.Deletes, Other: o.Other,
		BytesIn: o.BodyBytes, BytesOut: o.PutBytes,
	}
}

func (o *ObjectStats) add(d ObjectStats) {
	o.Requests += d.Requests
	o.Gets += d.Gets
	o.Heads += d.Heads
	o.Lists += d.Lists
	o.Puts += d.Puts
	o.Deletes += d.Deletes
	o.Other += d.Other
	o.BodyBytes += d.BodyBytes
	o.PutBytes += d.PutBytes
}

// objectID names one object.
type objectID struct{ bucket, key string }

// countKind is the kind a request is counted as.
type countKind int

const (
	kindOther countKind = iota
	kindGet
	kindHead
	kindList
	kindPut
	kindDelete
)

// countSubresources are the query parameters that make a GET, PUT or
// DELETE on an object URL something other than its data, in S3 and OSS.
var countSubresources = append([]string{"symlink", "objectMeta", "cleanRestoredObject"}, objectSubresources...)

// kindOf classifies a request for counting; see ObjectStats.
func kindOf(rq request, q url.Values) countKind {
	if rq.method == "HEAD" {
		return kindHead
	}
	if rq.bucket == "" {
		return kindOther
	}
	object := rq.key != ""
	switch rq.method {
	case "GET":
		switch {
		case !object && (q.Has("uploads") || q.Has("versions") || isListing(q)):
			return kindList
		case !object:
			return kindOther
		case q.Has("uploadId"):
			return kindList
		case hasAny(q, countSubresources):
			return kindOther
		}
		return kindGet
	case "PUT":
		if object && !hasAny(q, countSubresources) {
			return kindPut
		}
	case "DELETE":
		if object && !q.Has("uploadId") && !hasAny(q, countSubresources) {
			return kindDelete
		}
	case "POST":
		if object && q.Has("append") {
			return kindPut
		}
	}
	return kindOther
}

// count records the start of a request.
func (s *Server) count(rq request) {
	d := ObjectStats{Requests: 1}
	switch rq.kind {
	case kindGet:
		d.Gets = 1
	case kindHead:
		d.Heads = 1
	case kindList:
		d.Lists = 1
	case kindPut:
		d.Puts = 1
	case kindDelete:
		d.Deletes = 1
	default:
		d.Other = 1
	}
	s.addStats(rq.bucket, rq.key, d)
}

// addStats adds d to the total, to bucket's counts and, if key is not
// empty, to the object's.
func (s *Server) addStats(bucket, key string, d ObjectStats) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total.add(d)
	if bucket != "" {
		st := s.buckets[bucket]
		if st == nil {
			st = new(ObjectStats)
			s.buckets[bucket] = st
		}
		st.add(d)
	}
	if key != "" {
		s.statsFor(objectID{bucket, key}).add(d)
	}
}

// countBody records n response body bytes of a 2xx GET of id; n may be
// negative, to take back bytes counted before a write that failed.
func (s *Server) countBody(id objectID, n int64) {
	if n != 0 {
		s.addStats(id.bucket, id.key, ObjectStats{BodyBytes: n})
	}
}

// countPut records n request body bytes of a 2xx Put of id.
func (s *Server) countPut(id objectID, n int64) {
	if n != 0 {
		s.addStats(id.bucket, id.key, ObjectStats{PutBytes: n})
	}
}

// statsFor returns the counters of id, creating them. s.mu must be held.
func (s *Server) statsFor(id objectID) *ObjectStats {
	st := s.stats[id]
	if st == nil {
		st = new(ObjectStats)
		s.stats[id] = st
	}
	return st
}

// Stats returns the counts for one object since the start or the last
// ResetStats.
func (s *Server) Stats(bucket, key string) ObjectStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.stats[objectID{bucket, key}]; st != nil {
		return *st
	}
	return ObjectStats{}
}

// BucketStats returns the counts of all requests on bucket, its listings
// and bucket requests included, since the start or the last ResetStats.
func (s *Server) BucketStats(bucket string) ObjectStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.buckets[bucket]; st != nil {
		return *st
	}
	return ObjectStats{}
}

// Total returns the counts over all requests, including those naming no
// object (listings, bucket operations).
func (s *Server) Total() ObjectStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total
}

// ResetStats sets all counts to zero.
func (s *Server) ResetStats() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.stats)
	clear(s.buckets)
	s.total = ObjectStats{}
}

// readCounter counts the bytes read from a request body. The backend (or
// a reverse proxy's transport) may read it on another goroutine than the
// one that loads the count.
type readCounter struct {
	rc io.ReadCloser
	n  atomic.Int64
}

func (c *readCounter) Read(p []byte) (int, error) {
	n, err := c.rc.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *readCounter) Close() error { return c.rc.Close() }
