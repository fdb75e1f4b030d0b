package reqcount

import (
	"net/url"
	"strings"
)

// Target is what a request URL addresses.
type Target int

const (
	Service Target = iota // no bucket: ListBuckets and the like
	Bucket                // the bucket itself: listings, bucket settings
	Object                // an object in the bucket
)

// Protocol holds what differs between the S3 and OSS protocols in
// [Classify].
type Protocol struct {
	// Subresources are query parameters that make a GET, PUT or DELETE
	// of an object URL something other than its data ("acl", "tagging").
	Subresources []string
	// DataPost, if not empty, is the query parameter of a POST on an
	// object that carries object data (OSS's "append"): a Put.
	DataPost string
}

// listParams are the query parameters a bucket listing may carry.
var listParams = map[string]bool{
	"list-type": true, "prefix": true, "delimiter": true, "max-keys": true, "marker": true,
	"continuation-token": true, "start-after": true, "encoding-type": true, "fetch-owner": true,
	"key-marker": true, "version-id-marker": true, "upload-id-marker": true, "max-uploads": true,
	"optional-object-attributes": true,
}

// Classify returns the kind of a request of method with query q on
// target, by the rules written on objstore.RequestStats:
//
//	HEAD                                           Head
//	GET    object, ?uploadId (ListParts)           List
//	GET    object, a subresource                   Other
//	GET    object                                  Get
//	GET    bucket, ?uploads, ?versions, or only
//	       listing parameters (or none)            List
//	PUT    object, no subresource                  Put   (PutObject, UploadPart, copies)
//	DELETE object, no ?uploadId, no subresource    Delete
//	POST   object, ?<DataPost>                     Put
//	anything else                                  Other
//
// Query parameters starting with "x-" (the AWS SDK's x-id) are ignored.
func Classify(method string, target Target, q url.Values, p *Protocol) Kind {
	switch method {
	case "HEAD":
		return Head
	case "GET":
		switch target {
		case Object:
			switch {
			case q.Has("uploadId"):
				return List
			case hasAny(q, p.Subresources):
				return Other
			}
			return Get
		case Bucket:
			if q.Has("uploads") || q.Has("versions") || onlyListParams(q) {
				return List
			}
		}
	case "PUT":
		if target == Object && !hasAny(q, p.Subresources) {
			return Put
		}
	case "DELETE":
		if target == Object && !q.Has("uploadId") && !hasAny(q, p.Subresources) {
			return Delete
		}
	case "POST":
		if target == Object && p.DataPost != "" && q.Has(p.DataPost) {
			return Put
		}
	}
	return Other
}

func onlyListParams(q url.Values) bool {
	for k := range q {
		if !listParams[k] && !strings.HasPrefix(strings.ToLower(k), "x-") {
			return false
		}
	}
	return true
}

func hasAny(q url.Values, keys []string) bool {
	for _, k := range keys {
		if q.Has(k) {
			return true
		}
	}
	return false
}

// TargetOf returns what u addresses in bucket, under either addressing
// style:
//
//   - virtual-hosted, https://bucket.endpoint/key (or a host that is the
//     bucket's name, a CNAME): the path is the key;
//   - path style, https://endpoint[/base]/bucket/key: the first path
//     element equal to the bucket starts the key.
//
// When both readings fit (an endpoint whose host begins with the bucket's
// name and a path that begins with it too), pathStyle decides: the style
// the client was configured with.
func TargetOf(u *url.URL, bucket string, pathStyle bool) Target {
	path := u.Path
	host := strings.ToLower(u.Hostname())
	virtual := host == bucket || strings.HasPrefix(host, bucket+".")
	seg := "/" + bucket
	atStart := path == seg || strings.HasPrefix(path, seg+"/")
	if virtual && (!atStart || !pathStyle) {
		if strings.TrimPrefix(path, "/") == "" {
			return Bucket
		}
		return Object
	}
	i := 0
	if !atStart {
		if i = strings.Index(path, seg+"/"); i < 0 {
			if strings.HasSuffix(path, seg) {
				return Bucket
			}
			return Service
		}
	}
	if len(path) > i+len(seg)+1 {
		return Object
	}
	return Bucket
}
