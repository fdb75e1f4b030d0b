package s3store

import (
	"net/http"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tierfs/tierfs/internal/reqcount"
	"github.com/tierfs/tierfs/objstore"
)

// RequestStats returns the requests the Store sent to the server so far,
// by kind; see "Counting requests" in the package documentation.
func (s *Store) RequestStats() objstore.RequestStats { return s.counter.Stats() }

// s3Protocol holds the query parameters that make a GET, PUT or DELETE of
// an object URL a request on something other than its data.
var s3Protocol = reqcount.Protocol{
	Subresources: []string{"acl", "attributes", "legal-hold", "restore", "retention", "select", "tagging", "torrent"},
}

// kindOf returns the kind of an S3 request on bucket, addressed in
// either style; pathStyle settles the ambiguous case (see
// reqcount.TargetOf).
func kindOf(method string, u *url.URL, bucket string, pathStyle bool) reqcount.Kind {
	return reqcount.Classify(method, reqcount.TargetOf(u, bucket, pathStyle), u.Query(), &s3Protocol)
}

// requestKind is the Store's reqcount.Classifier.
func (s *Store) requestKind(method string, u *url.URL) reqcount.Kind {
	return kindOf(method, u, s.bucket, s.pathStyle)
}

// countingClient returns a shallow copy of hc whose transport counts the
// requests it sends, classified by kind.
func (s *Store) countingClient(hc *http.Client, kind reqcount.Classifier) *http.Client {
	c := *hc
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = s.counter.Transport(base, kind)
	return &c
}

// countCalls is the per-call option that counts the requests of a call on
// a caller's client (Options.Client): an *http.Client gets a counting
// copy, as Options.HTTPClient does; any other HTTP client (the SDK's
// BuildableClient among them) is wrapped where the SDK calls Do.
// The client's own UsePathStyle settles ambiguous URLs.
func (s *Store) countCalls(o *s3.Options) {
	pathStyle := o.UsePathStyle
	kind := func(method string, u *url.URL) reqcount.Kind { return kindOf(method, u, s.bucket, pathStyle) }
	switch hc := o.HTTPClient.(type) {
	case nil:
	case *http.Client:
		o.HTTPClient = s.countingClient(hc, kind)
	default:
		o.HTTPClient = s.counter.WrapDoer(hc, kind)
	}
}
