package s3test

import (
	"encoding/xml"
	"fmt"
	"hash/maphash"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/johannesboyne/gofakes3"
)

// Conditional writes. gofakes3 ignores If-Match and If-None-Match on
// PutObject and CompleteMultipartUpload; S3 publishes such a write only if
// the precondition holds when it commits, checking and committing as one
// step. The front does the same for the built-in backend: each write of
// an object (PutObject, CopyObject, CompleteMultipartUpload, DeleteObject)
// holds a lock of that object (one of writeLockCount, by hash) from the
// check to the backend's answer, so of two writers with one If-Match,
// exactly one wins. OSS's x-oss-forbid-overwrite: true is honoured as
// OSS does (409 FileAlreadyExists when the key exists).

// writeLockCount is the number of object write locks.
const writeLockCount = 64

var writeLockSeed = maphash.MakeSeed()

// lockObject locks the writes of id and returns the unlock.
func (s *Server) lockObject(id objectID) func() {
	var h maphash.Hash
	h.SetSeed(writeLockSeed)
	h.WriteString(id.bucket)
	h.WriteByte(0)
	h.WriteString(id.key)
	mu := &s.writeLocks[h.Sum64()%writeLockCount]
	mu.Lock()
	return mu.Unlock
}

// checkWriteConditions answers a PutObject or CompleteMultipartUpload
// whose precondition fails, as S3 does: If-Match on a missing key 404
// NoSuchKey, on another ETag 412 PreconditionFailed; If-None-Match: * on
// an existing key 412 PreconditionFailed; x-oss-forbid-overwrite: true on
// an existing key 409 FileAlreadyExists. It reports whether it answered.
// The caller holds the object's write lock.
func (s *Server) checkWriteConditions(w http.ResponseWriter, r *http.Request, rq request) bool {
	im, inm := r.Header.Get("If-Match"), r.Header.Get("If-None-Match")
	forbid := strings.EqualFold(r.Header.Get("X-Oss-Forbid-Overwrite"), "true")
	if im == "" && inm == "" && !forbid {
		return false
	}
	id := objectID{rq.bucket, rq.key}
	etag := ""
	exists := false
	if obj, err := s.backend.HeadObject(rq.bucket, rq.key); err == nil {
		if obj.Contents != nil {
			_ = obj.Contents.Close()
		}
		exists = true
		etag = s.publicETag(id, gofakes3.FormatETag(obj.Hash))
	}
	failed := func(cond string) bool {
		writeErrorBody(w, r, http.StatusPreconditionFailed, s3Error{
			Code:      "PreconditionFailed",
			Message:   "At least one of the pre-conditions you specified did not hold",
			Condition: cond,
		})
		return true
	}
	switch {
	case forbid && exists:
		writeError(w, r, http.StatusConflict, "FileAlreadyExists", "The object you specified already exists and can not be overwritten.")
		return true
	case im != "" && !exists:
		writeError(w, r, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return true
	case im != "" && !etagMatch(im, etag):
		return failed("If-Match")
	case inm != "" && exists && etagMatch(inm, etag):
		return failed("If-None-Match")
	}
	// Checked: gofakes3 would check If-Match again against the ETag it
	// stores, not the multipart one S3 reports.
	r.Header.Del("If-Match")
	r.Header.Del("If-None-Match")
	return false
}

// OpenUploads returns the keys of the multipart uploads open in bucket
// under prefix, as ListMultipartUploads tells them, asking the built-in
// backend directly (not counted, shaped or faulted). With an Upstream it
// fails: list there with a signed request.
func (s *Server) OpenUploads(bucket, prefix string) ([]string, error) {
	if s.isClosed() {
		return nil, errClosed
	}
	if s.backend == nil {
		return nil, fmt.Errorf("s3test: OpenUploads with an Upstream: list uploads there")
	}
	q := url.Values{"uploads": {""}, "prefix": {prefix}}
	req := httptest.NewRequestWithContext(s.ctx, http.MethodGet, "/"+bucket+"?"+q.Encode(), nil)
	rec := httptest.NewRecorder()
	s.inner.ServeHTTP(rec, req)
	if rec.Code == http.StatusNotFound && strings.Contains(rec.Body.String(), "<Code>NoSuchUpload</Code>") {
		// gofakes3's answer for a bucket that never had an upload.
		return nil, nil
	}
	if rec.Code != http.StatusOK {
		return nil, fmt.Errorf("s3test: list uploads of %s: %d %s", bucket, rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	var res struct {
		Uploads []struct {
			Key string `xml:"Key"`
		} `xml:"Upload"`
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &res); err != nil {
		return nil, fmt.Errorf("s3test: list uploads of %s: %w", bucket, err)
	}
	keys := make([]string, 0, len(res.Uploads))
	for _, u := range res.Uploads {
		keys = append(keys, u.Key)
	}
	return keys, nil
}
