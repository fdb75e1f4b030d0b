package s3test

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"strings"

	"github.com/johannesboyne/gofakes3"
)

// gofakes3 answers CompleteMultipartUpload with an S3-style ETag
// ("md5-of-part-md5s-N") but stores the object under the MD5 of its whole
// body, which GET, HEAD and listings then report. The front remembers the
// multipart ETag and reports it wherever the stored object is still the one
// the upload completed (same body MD5), as S3 would.

// mpETag is the ETag pair of an object completed by a multipart upload.
type mpETag struct {
	plain     string // what gofakes3 reports, quoted
	multipart string // what CompleteMultipartUpload returned, quoted
}

// publicETag returns the ETag S3 would report for id, whose stored ETag is
// plain.
func (s *Server) publicETag(id objectID, plain string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.mpETags[id]; ok && m.plain == plain {
		return m.multipart
	}
	return plain
}

// forgetETag drops the multipart ETag of id, which is being replaced.
func (s *Server) forgetETag(id objectID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.mpETags, id)
}

// rememberETag records the multipart ETag from a CompleteMultipartUpload
// response body.
func (s *Server) rememberETag(id objectID, body []byte) {
	var res struct {
		ETag string `xml:"ETag"`
	}
	if xml.Unmarshal(body, &res) != nil || !strings.Contains(res.ETag, "-") {
		return
	}
	obj, err := s.backend.HeadObject(id.bucket, id.key)
	if err != nil {
		return
	}
	if obj.Contents != nil {
		_ = obj.Contents.Close()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mpETags[id] = mpETag{plain: gofakes3.FormatETag(obj.Hash), multipart: res.ETag}
}

// requestOnlyHeaders are request headers gofakes3 stores as metadata (it
// keeps every X-Amz-* header of a PUT) and echoes on GET and HEAD, though
// S3 does not.
var requestOnlyHeaders = []string{
	"X-Amz-Date", "X-Amz-Content-Sha256", "X-Amz-Decoded-Content-Length", "X-Amz-Sdk-Checksum-Algorithm",
	"X-Amz-Trailer", "X-Amz-User-Agent", "X-Amz-Security-Token", "X-Amz-Copy-Source", "X-Amz-Metadata-Directive",
}

// fixObjectHeaders makes gofakes3's GET and HEAD headers read like S3's: the
// multipart ETag, no request-only headers, and no full-object checksum on a
// ranged response (the SDK would validate the range against it and fail).
func (s *Server) fixObjectHeaders(r *http.Request, id objectID) func(http.Header) {
	ranged := r.Header.Get("Range") != ""
	return func(h http.Header) {
		for _, k := range requestOnlyHeaders {
			h.Del(k)
		}
		if ranged {
			for k := range h {
				if strings.HasPrefix(k, "X-Amz-Checksum-") {
					delete(h, k)
				}
			}
		}
		if et := h.Get("ETag"); et != "" {
			h.Set("ETag", s.publicETag(id, et))
		}
	}
}

// capture keeps a copy of a small response body.
type capture struct {
	bytes.Buffer
}

func (c *capture) keep(p []byte) {
	if c.Len()+len(p) <= 64<<10 {
		c.Write(p)
	}
}
