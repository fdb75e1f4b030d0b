package s3test

import (
	"net/http"
	"strings"

	"github.com/johannesboyne/gofakes3"
)

// checkPreconditions answers a GET or HEAD whose If-Match or If-None-Match
// fails, the way S3 does: 412 PreconditionFailed for If-Match, 304 for
// If-None-Match. gofakes3 ignores If-Match and compares If-None-Match only
// as an exact quoted string. It reports whether it answered; a missing
// object is left to gofakes3 (404).
func (s *Server) checkPreconditions(w http.ResponseWriter, r *http.Request, rq request) bool {
	im, inm := r.Header.Get("If-Match"), r.Header.Get("If-None-Match")
	if im == "" && inm == "" {
		return false
	}
	obj, err := s.backend.HeadObject(rq.bucket, rq.key)
	if err != nil {
		return false
	}
	if obj.Contents != nil {
		_ = obj.Contents.Close()
	}
	etag := s.publicETag(objectID{rq.bucket, rq.key}, gofakes3.FormatETag(obj.Hash))
	if im != "" && !etagMatch(im, etag) {
		writeErrorBody(w, r, http.StatusPreconditionFailed, s3Error{
			Code:      "PreconditionFailed",
			Message:   "At least one of the pre-conditions you specified did not hold",
			Condition: "If-Match",
		})
		return true
	}
	if inm != "" && etagMatch(inm, etag) {
		h := w.Header()
		h.Set("ETag", etag)
		if lm := obj.Metadata["Last-Modified"]; lm != "" {
			h.Set("Last-Modified", lm)
		}
		w.WriteHeader(http.StatusNotModified)
		return true
	}
	return false
}

// etagMatch reports whether a comma-separated If-Match or If-None-Match list
// names etag; quotes and a W/ prefix are ignored, and "*" matches any
// existing object.
func etagMatch(list, etag string) bool {
	etag = strings.Trim(etag, `"`)
	for v := range strings.SplitSeq(list, ",") {
		v = strings.TrimPrefix(strings.TrimSpace(v), "W/")
		if v == "*" || strings.Trim(v, `"`) == etag {
			return true
		}
	}
	return false
}
