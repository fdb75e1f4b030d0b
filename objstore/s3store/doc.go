// Package s3store is the objstore.Store backend for Amazon S3 and
// S3-compatible servers (MinIO, Ceph RGW, versitygw, R2, OSS's S3 API, …),
// built on aws-sdk-go-v2.
//
// Importing the package registers the "s3" scheme with
// objstore.DefaultURLMux; [New] opens a Store from Go values.
//
// # URL form
//
//	s3://bucket/prefix?endpoint=http://127.0.0.1:7070&region=us-east-1&path_style=true
//
// The host is the bucket, checked against S3's naming rules (3–63 of
// a-z, 0-9, '.', '-'; not an IP address; no reserved prefix or suffix). The
// path, if any, is the root prefix: keys of the Store are relative to it.
// Parameters, each optional and at most once; any other is an error:
//
//	endpoint        base URL (http or https) of an S3-compatible server; default AWS
//	region          signing region; default the SDK's chain, then us-east-1
//	path_style      true to address buckets as endpoint/bucket (most S3-compatible servers)
//	header_timeout  bound on the wait for each reply's headers, e.g. 10s;
//	                default 30s, negative for none (Options.HeaderTimeout)
//
// Credentials never go in the URL (a URL with user information, also in
// endpoint, is refused): they come from the SDK's default chain only —
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, shared
// config and credentials files, AWS_PROFILE, web identity, container and
// instance roles. No error or log of this package holds a credential: a
// URL is shown with every query value but region, path_style,
// header_timeout and the endpoint's scheme, host and path replaced by
// REDACTED (objstore.Redact); text a server sends back is shown with
// signatures, credential scopes and tokens replaced. The SDK's own log
// (warnings it would print to stderr) is off.
//
// # Options
//
// [Options] sets the client (or the endpoint, region, addressing and HTTP
// client to build one from the SDK's default chain), the multipart part
// size (default 8 MiB, at least 5 MiB) and upload concurrency (default 5),
// version ids, and the objstore.RetryPolicy for resuming cut bodies. New
// validates them and returns an error wrapping fs.ErrInvalid for a bad
// value; it never corrects one silently.
//
// # Reads
//
// NewRangeReader sends GetObject with Range "bytes=off-end" (no Range for a
// whole object from offset 0, so an empty object reads as empty), pinned
// with If-Match to the ETag of the version being read, and with versionId
// when Options.VersionIDs is set. The object's size comes from the
// Content-Range total. A 412 is objstore.ErrChanged; so is a response whose
// ETag differs from the pin (some servers, gofakes3 among them, ignore
// If-Match), and a pinned read of a key that is gone. A 416 (a range from
// the end of the object) falls back to a HEAD pinned the same way: at
// off == size the read is empty, past it fs.ErrInvalid. A body cut short is
// resumed by objstore.Reader from the next byte, pinned to the same
// version.
//
// # Checksums
//
// The client sends request checksums and validates response checksums only
// where an operation requires them (RequestChecksumCalculation and
// ResponseChecksumValidation "when required", set on every call, also on a
// caller's client). Since early 2025 the SDK's default is "when supported":
// every PutObject and UploadPart gets a CRC32 (over https in an
// aws-chunked trailer, x-amz-content-sha256:
// STREAMING-UNSIGNED-PAYLOAD-TRAILER) and every
// GetObject asks for x-amz-checksum-mode: ENABLED. Many S3-compatible
// servers reject or mishandle the trailer encoding, and response validation
// covers only whole-object GETs, while this package reads ranges and
// resumes them from an offset: it would check nothing here but cost headers
// and CPU. Integrity of cached bytes is the cache's business (tierfs
// checksums every block it keeps).
//
// # Listing
//
// List sends ListObjectsV2 with encoding-type=url, so keys with characters
// XML 1.0 cannot carry (most control characters) survive the trip. The SDK
// does not decode such responses; the package decodes keys and common
// prefixes with url.QueryUnescape (as S3 encodes them: '+' for a space),
// but only when the response says it is encoded: a server that ignores the
// parameter (versitygw 1.8.0 does) leaves EncodingType out, and its keys
// are taken as they are. Keys that are not objstore.ValidKey once the root
// prefix is cut off ("dir/" folder markers made by consoles, "a//b",
// "../x", …) are left out of the page: no other method could take them,
// and io/fs cannot name them. So a page may hold fewer than MaxKeys
// entries while more follow; follow ListPage.Next.
//
// # Uploads
//
// Put sends a body that fits in one part (PartSize bytes, known or
// unknown size) with one PutObject; a larger one as a multipart upload
// with Concurrency parts in flight (errgroup), holding at most
// Concurrency+1 part buffers. Any failure — the body's read error, a body
// longer or shorter than PutOptions.Size (fs.ErrInvalid), a failed part, a
// cancelled context — aborts the upload with AbortMultipartUpload on a
// context detached from the caller's (bounded by 30s), so nothing is
// stored and the previous version stays. The abort is sent only after the
// upload's requests in flight have ended: they are given up to 2s to
// finish before they are cut, because a server stores a part (or creates
// an upload) whose request it has whole even when the client hangs up,
// and one landing after the abort would leave the upload open again. A
// known size that would need more than 10,000 parts raises the part size
// for that upload; a body of unknown size keeps PartSize for 900 parts and
// then doubles it every 900 (PartSizeOf), so 10,000 parts hold 5 TiB.
// PutOptions.PartSize and Concurrency replace the Store's for one Put.
// The body is read as it comes, so objstore.Writer streams through Put:
// its Abort fails the read and aborts the upload.
//
// PutOptions.IfMatch and IfNotExist are sent as If-Match and
// If-None-Match: * on PutObject, or on CompleteMultipartUpload (the parts
// go up first; a refused Complete aborts the upload). A refusal (412, or
// 404 under If-Match, or AWS's 409 ConditionalRequestConflict) fails with
// objstore.ErrChanged. ContentType and Metadata go on PutObject or
// CreateMultipartUpload.
//
// The Object returned by Put has the new version's ETag (and version id
// with Options.VersionIDs), the bytes stored, and as ModTime the Date
// header of the server's last response: no HEAD is spent on it. Stat
// returns S3's Last-Modified, which is authoritative; it may differ from
// Put's ModTime by a second, and for a multipart upload it is the time the
// upload was created.
//
// The SDK's upload manager (feature/s3/transfermanager, v0.4.1 when this
// was written) is not used: it is pre-1.0; it aborts a failed upload on the
// caller's context unless FailTimeout is set; when the abort fails it
// replaces the error with one formatted by %v, so errors.Is no longer finds
// the cause (context.Canceled, a size mismatch); it writes to the global
// log package when CompleteMultipartUpload fails; and it knows nothing of
// an announced size to enforce. The multipart code here is short, and
// keeps the cause of every failure reachable.
//
// # Errors
//
// Errors are *objstore.Error values: "objstore: <op> "<key>": <sentinel>:
// s3: <SDK error>". S3 error codes, and failing that HTTP statuses, map to
// sentinels; the SDK error stays reachable with errors.As (smithy.APIError,
// *awshttp.ResponseError), and context errors with errors.Is.
//
//	NoSuchKey, NotFound, NoSuchBucket, NoSuchVersion, 404      fs.ErrNotExist
//	AccessDenied, InvalidAccessKeyId, SignatureDoesNotMatch,
//	ExpiredToken, XAdminUserNotFound (versitygw), 403, 401     fs.ErrPermission
//	PreconditionFailed, 412; another version in the response   objstore.ErrChanged
//	InvalidRange, 416; bad key, range, URL or option           fs.ErrInvalid
//
// A read pinned to a version maps a missing key (not a missing bucket) to
// objstore.ErrChanged: that version is gone. A HEAD response has no body,
// so Stat sees only the status: versitygw's 404 for an unknown access key
// then reads as fs.ErrNotExist. Throttling (503 SlowDown) and server errors
// are retried by the SDK's standard retryer (3 attempts) before they are
// returned, without a sentinel.
//
// # Counting requests
//
// The Store is an objstore.RequestCounter. It counts at the HTTP level, in
// a wrapper around the transport of the client New builds, so every
// request on the wire counts once: each attempt of the SDK's retryer,
// each GET a Reader sends to resume a cut body, the GET answered 416 and
// the HEAD after it for a read at the object's end, each UploadPart and
// the create, complete and abort of a multipart upload. Requests are
// classified by method and query (see objstore.RequestStats): a GET of the
// bucket with listing parameters is a List, PUT ?partNumber&uploadId a
// Put, POST ?uploads and ?uploadId and DELETE ?uploadId are Other.
// BytesIn counts the body bytes read from 2xx GET responses (a body closed
// early counts what was read); BytesOut the body length of 2xx PUTs.
//
// A request counts when its response arrives, whatever the status. One
// that fails without a response counts if it left for the server: the
// transport wrote it whole, flushed its headers to wait for 100 Continue,
// or read more of its body than the transport's write buffer holds. So a
// request cancelled in flight (the other parts of a failing upload) counts
// if the server could have seen it; in the short window between writing
// the headers into the buffer and flushing them, the store counts nothing
// while the first bytes may still leave with the flush, and the server may
// count one request more.
//
// With Options.HTTPClient the Store sends through a shallow copy of it
// whose Transport is wrapped the same way: the counts are as exact, and
// each redirect the client follows counts as the request it is. With
// Options.Client, each call gets the counting wrapper on the client's HTTP
// client: an *http.Client is copied and its Transport wrapped, as above;
// any other aws.HTTPClient (the SDK's default BuildableClient among them)
// is wrapped where the SDK calls Do, so a 307 or 308 redirect it follows
// inside one Do counts once, and a failed request counts when the bounds
// above allow (its write buffer size is not known, so 1 MiB is assumed).
// Requests sent on that client by other code are not counted. The
// other way round, the client [Store.As] gives shares the Store's counting
// transport (unless it came from Options.Client): requests sent on it
// directly count too.
//
// # As
//
// (*Store).As gives the *s3.Client to a **s3.Client:
//
//	var c *s3.Client
//	if store.As(&c) { … }
//
// # Closing
//
// Close closes the idle connections of the HTTP client New built; calls
// after Close fail with an error wrapping fs.ErrClosed.
package s3store
