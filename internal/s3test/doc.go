// Package s3test runs an S3-protocol server on 127.0.0.1 for tests,
// examples, demos and benchmarks.
//
// The server is github.com/johannesboyne/gofakes3 over its in-memory
// backend (s3mem), served by net/http, or a reverse proxy to an existing
// S3-protocol server (Config.Upstream), behind a front handler that adds
// what a test of an object-store client needs and gofakes3 lacks:
//
//	s := s3test.Start(t, s3test.Config{})
//	s.CreateBucket("b")
//	s.PutObject("b", "k", data)
//	// point an SDK at s.URL() with path-style addressing; any credentials do
//	st := s.Stats("b", "k") // how many GETs reached the server, bytes sent
//
// # Fidelity fixes
//
// For the built-in backend only (a real upstream does these itself):
//
//   - GET and HEAD honour If-Match (412 PreconditionFailed when the current
//     ETag differs; "*" matches any existing object) and If-None-Match
//     (304), with or without quotes. gofakes3 answers a stale If-Match with
//     200, which would hide every "object changed under me" bug.
//   - PutObject and CompleteMultipartUpload honour If-Match and
//     If-None-Match: * (and OSS's x-oss-forbid-overwrite), checked and
//     committed under one lock of the object, so of two conditional
//     writers exactly one wins; gofakes3 ignores them. See condwrite.go.
//   - Multipart uploads are kept by the fixture's backend (multipart.go),
//     not gofakes3's uploader: a part is read into one buffer of its
//     length and hashed as it arrives, and CompleteMultipartUpload checks
//     the part list as S3 does (InvalidPart, InvalidPartOrder) and
//     publishes the parts as they are, in O(parts), where gofakes3 copied
//     every byte twice and hashed it again under one lock for all uploads
//     (seconds per GiB). ReserveParts faults in part buffers before a
//     measurement (pool.go); Config.FastPartETags hashes parts with
//     maphash instead of MD5.
//   - ListObjects and ListObjectsV2 are answered by the front: they honour
//     encoding-type=url (Key, Prefix, Delimiter, Marker, NextMarker,
//     StartAfter and CommonPrefixes are percent-encoded as S3 does, space as
//     %20, "+" as %2B, "/" kept), which gofakes3 ignores and which the
//     Alibaba OSS SDK always asks for; and a delimiter listing pages without
//     repeating a common prefix on the next page.
//
// # Counting
//
// Every request through the front is counted per object, per bucket and
// in total (Stats, BucketStats, Total), by the kinds objstore.RequestStats
// defines: GETs of data, HEADs, listings, PUTs (object and UploadPart),
// DELETEs and the rest (multipart create, complete and abort, …), with
// the body bytes of 2xx GETs as they are written and of 2xx PUTs as the
// backend read them. A request counts when the front receives it,
// whatever the answer, injected faults included. Direct calls
// (CreateBucket, PutObject, DeleteObject) bypass the front and are not
// counted, so a test can seed data and then assert exactly how many origin
// fetches the code under test made, and compare a client's own counts
// with the server's.
//
// # Faults
//
// InjectFault queues rules matched by method, bucket and key, in order,
// each for a number of requests: S3 errors (SlowDown, InternalError, Deny)
// and transport failures mid-body (ResetAfter sends a TCP RST, EOFAfter
// closes early under a full Content-Length, StallAfter stops sending for a
// while). The transport faults hijack the connection, so the client sees
// exactly what a real network failure shows it. A rule's Applied channel
// tells a test when a request has reached the server and met the rule.
//
// # Shaping
//
// The kernel offers no netem here, so shaping is done in Go: a first-byte
// latency before every response, and bandwidth caps per connection and over
// all connections, as token buckets on the accepted net.Conns' writes, and
// (Shaping.UpConnBandwidth, UpTotalBandwidth) on their reads, so uploads
// cross an emulated link too. SetShaping changes them at any time, for the
// next writes too. OpenUploads lists the multipart uploads a bucket holds
// open, for tests that check an aborted write left none.
//
// # Lifetime
//
// Close closes the listener and every connection, idle, active or
// hijacked, ends every latency, stall and bandwidth wait, and returns only
// when the server's goroutines are gone.
package s3test
