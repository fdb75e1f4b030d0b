package ossstore

import (
	"net/http"
	"net/url"

	"github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss"

	"github.com/tierfs/tierfs/internal/reqcount"
	"github.com/tierfs/tierfs/objstore"
)

// RequestStats returns the requests the Store sent to OSS so far, by
// kind; see "Counting requests" in the package documentation.
func (s *Store) RequestStats() objstore.RequestStats { return s.counter.Stats() }

// ossProtocol holds the query parameters that make a GET, PUT or DELETE
// of an object URL a request on something other than its data, and the
// one that makes a POST carry data (AppendObject).
var ossProtocol = reqcount.Protocol{
	Subresources: []string{"acl", "cleanRestoredObject", "objectMeta", "restore", "symlink", "tagging"},
	DataPost:     "append",
}

// kindOf returns the kind of an OSS request on bucket, addressed in
// virtual-host or path style; pathStyle settles the ambiguous case (see
// reqcount.TargetOf), which cannot arise with OSS bucket names (no dots).
func kindOf(method string, u *url.URL, bucket string, pathStyle bool) reqcount.Kind {
	return reqcount.Classify(method, reqcount.TargetOf(u, bucket, pathStyle), u.Query(), &ossProtocol)
}

// requestKind is the Store's reqcount.Classifier.
func (s *Store) requestKind(method string, u *url.URL) reqcount.Kind {
	return kindOf(method, u, s.bucket, s.pathStyle)
}

// countResponses is the per-call option that counts the requests of a
// call on a caller's client (Options.Client). The SDK offers no way to
// reach that client's HTTP client, so the store counts from a response
// handler, which the SDK calls only for 2xx responses: see "Counting
// requests" in the package documentation.
func (s *Store) countResponses(o *oss.Options) {
	o.ResponseHandlers = append(o.ResponseHandlers, func(resp *http.Response) error {
		s.counter.CountResponse(resp, s.requestKind)
		return nil
	})
}
