package s3test

// ObjectStats counts requests the server answered through its HTTP front.
// Direct calls (CreateBucket, PutObject, DeleteObject) are not counted.
type ObjectStats struct {
	Requests  int64 // all requests naming this object (any method)
	Gets      int64 // GET requests for object data
	Heads     int64 // HEAD requests for the object
	Puts      int64 // PUT object (including CopyObject) and UploadPart
	BodyBytes int64 // response body bytes actually written for GETs (after faults cut them)
}

func (o *ObjectStats) add(d ObjectStats) {
	o.Requests += d.Requests
	o.Gets += d.Gets
	o.Heads += d.Heads
	o.Puts += d.Puts
	o.BodyBytes += d.BodyBytes
}

// objectID names one object.
type objectID struct{ bucket, key string }

// count records the start of a request.
func (s *Server) count(rq request) {
	var d ObjectStats
	d.Requests = 1
	switch rq.op {
	case opGet:
		d.Gets = 1
	case opHead:
		d.Heads = 1
	case opPut:
		d.Puts = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total.add(d)
	if rq.key != "" {
		s.statsFor(objectID{rq.bucket, rq.key}).add(d)
	}
}

// countBody records n response body bytes written for a GET of id.
func (s *Server) countBody(id objectID, n int64) {
	if n == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total.BodyBytes += n
	s.statsFor(id).BodyBytes += n
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
	s.total = ObjectStats{}
}
