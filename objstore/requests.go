package objstore

// RequestStats counts the requests a store sent to its service, as the
// service saw them: every request on the wire counts once, the SDK's
// retries of a failed request, a [Reader]'s resumes of a cut body and the
// parts of a multipart upload included. Each request falls in exactly one
// kind, so [RequestStats.Requests] is their sum.
//
// The kinds follow what the request does, not whether it succeeded: a GET
// answered 404, 412, 416 or 503 is still a Get. For the S3 and OSS
// protocols (method and query on an object or bucket URL):
//
//	Gets     GET of an object's data (ranged or whole)
//	Heads    HEAD (Stat, and the HEAD a read of no bytes, or of a range
//	         at the object's end, falls back to)
//	Lists    GET that lists a bucket: ListObjects, ListObjectsV2,
//	         ListObjectVersions (?versions), ListMultipartUploads
//	         (?uploads), and ListParts (?uploadId on an object)
//	Puts     PUT of object data: PutObject, UploadPart
//	         (?partNumber&uploadId), CopyObject; OSS AppendObject (POST
//	         ?append)
//	Deletes  DELETE of an object
//	Other    everything else: multipart create (POST ?uploads), complete
//	         (POST ?uploadId) and abort (DELETE ?uploadId), DeleteObjects,
//	         subresources (?acl, ?tagging, …) and bucket requests
//
// Stores without a service (memory, local files) count one request per
// operation the way a server would: a Get per body opened (the first and
// each resume), a Head per Stat, a List per List call, a Put per Put and a
// Delete per Delete. Their package documentation says which calls count.
//
// The byte counts are object data, not protocol overhead: no headers, no
// listing or error bodies.
type RequestStats struct {
	Gets    int64 // object data reads, each attempt and each resume
	Heads   int64 // HEAD requests
	Lists   int64 // listings of a bucket, its versions, uploads or parts
	Puts    int64 // object data writes: PUT object, UploadPart, copies
	Deletes int64 // DELETE object
	Other   int64 // every other request: multipart create/complete/abort, subresources, bucket calls

	// BytesIn is the response body bytes received from successful (2xx)
	// Gets, as read by the caller: a body closed before its end counts
	// the bytes read from it, not those the service had sent.
	BytesIn int64
	// BytesOut is the request body bytes of Puts the service accepted
	// (2xx): whole objects and parts. A part of an upload that was later
	// aborted still counts; a request the service refused does not.
	BytesOut int64
}

// Requests returns the number of requests of all kinds.
func (s RequestStats) Requests() int64 {
	return s.Gets + s.Heads + s.Lists + s.Puts + s.Deletes + s.Other
}

// Sub returns s minus o, field by field: the requests made between two
// snapshots taken with [RequestCounter.RequestStats].
func (s RequestStats) Sub(o RequestStats) RequestStats {
	return RequestStats{
		Gets: s.Gets - o.Gets, Heads: s.Heads - o.Heads, Lists: s.Lists - o.Lists,
		Puts: s.Puts - o.Puts, Deletes: s.Deletes - o.Deletes, Other: s.Other - o.Other,
		BytesIn: s.BytesIn - o.BytesIn, BytesOut: s.BytesOut - o.BytesOut,
	}
}

// Add returns s plus o, field by field: the requests of two stores
// together.
func (s RequestStats) Add(o RequestStats) RequestStats {
	return RequestStats{
		Gets: s.Gets + o.Gets, Heads: s.Heads + o.Heads, Lists: s.Lists + o.Lists,
		Puts: s.Puts + o.Puts, Deletes: s.Deletes + o.Deletes, Other: s.Other + o.Other,
		BytesIn: s.BytesIn + o.BytesIn, BytesOut: s.BytesOut + o.BytesOut,
	}
}

// RequestCounter is implemented by stores that count the requests they
// send. RequestStats returns the counts since the store was made; it is
// safe to call concurrently with the store's other methods. Counts never
// decrease, except through a reset method a store documents.
type RequestCounter interface {
	RequestStats() RequestStats
}
