// Package ossstore is the Alibaba Cloud OSS backend of objstore: a
// [Store] over one bucket and key prefix, built on the current Go SDK,
// github.com/aliyun/alibabacloud-oss-go-sdk-v2/oss.
//
// Importing the package registers the "oss" scheme with
// objstore.DefaultURLMux.
//
// # Why this SDK
//
// The v2 SDK (alibabacloud-oss-go-sdk-v2) is used, not the older
// aliyun-oss-go-sdk. The older one was tried: it decodes listed keys that
// contain "%" or "+" wrongly, and a full GET costs about four times as
// much with its default CRC64 check of every body. The v2 SDK asks for
// encoding-type=url listings and decodes them itself, so keys with "%",
// "+", spaces and non-ASCII letters come back exact, and it hashes no
// download body unless asked to (see CRC64 below).
//
// # URL form
//
//	oss://bucket/prefix?endpoint=…&region=…&path_style=true
//
// The bucket follows the OSS naming rules (3 to 63 lower-case letters,
// digits and hyphens, starting and ending with a letter or digit). The
// path, if any, is the key prefix every key of the store lives under; it
// must be a valid key (no empty, "." or ".." elements). Parameters, each
// optional and at most once; any other parameter is an error:
//
//	endpoint    host[:port] (https implied) or http(s)://host[:port];
//	            default: the public endpoint of region,
//	            oss-<region>.aliyuncs.com
//	region      e.g. cn-hangzhou; needed for V4 signing, and found in an
//	            endpoint of the form oss-<region>[-internal].aliyuncs.com
//	path_style  true sends https://endpoint/bucket/key; the default false
//	            sends OSS's own virtual-host style, https://bucket.endpoint/key.
//	            Local S3/OSS-protocol test servers need true. An endpoint
//	            that is an IP address is always addressed path-style
//	            (the SDK decides so).
//	header_timeout  bound on the wait for each reply's headers, e.g.
//	            10s; default 30s, negative for none
//	            (Options.HeaderTimeout)
//
// Credentials never go in the URL (a URL with user information is
// refused): they come from OSS_ACCESS_KEY_ID, OSS_ACCESS_KEY_SECRET and,
// for STS tokens, OSS_SESSION_TOKEN, through the SDK's environment
// provider, which reads them on every request. The v2 SDK has no default
// chain beyond that; use [New] with Options.Credentials (for example
// credentials.NewEcsRoleCredentialsProvider for an ECS RAM role) or
// Options.Client for anything else. Credentials never appear in errors;
// the client New builds does no SDK logging (its debug level prints
// request headers, STS token included), so OSS_SDK_LOG_LEVEL is not
// honoured; pass a Client of your own to log.
//
// # Options
//
// [Options] hold what the URL holds plus Client (an *oss.Client used as
// is), Credentials, PartSize (default 8 MiB, at least 100 KiB, the OSS
// minimum), Concurrency (parts uploaded at once, default 5) and Retry (how
// a Reader resumes cut bodies). New validates them and returns errors
// wrapping fs.ErrInvalid; it sends no request.
//
// # Requests
//
//	Stat            HeadObject
//	NewRangeReader  GetObject with Range, If-Match (the pinned ETag) and
//	                versionId (the pinned version id), and
//	                x-oss-range-behavior: standard, so that a range past the
//	                end is a 416 as in S3 rather than the whole object with
//	                200, OSS's default. The object's size comes from
//	                Content-Range. A zero-length read, or one at the object's
//	                end, is a HeadObject with the same preconditions.
//	List            ListObjectsV2 with encoding-type=url (decoded by the SDK)
//	Put             PutObject for a body of at most PartSize bytes, held in
//	                memory so the SDK can retry it; otherwise the SDK's
//	                Uploader (multipart, PartSize parts, Concurrency at
//	                once), then one HeadObject for the stored attributes
//	Delete          DeleteObject
//
// A Put whose body is shorter or longer than PutOptions.Size fails with
// fs.ErrInvalid and stores nothing: a small body is checked before the
// PutObject is sent, a large one before CompleteMultipartUpload, and the
// Uploader then aborts the upload (if the context was cancelled, the
// store sends the AbortMultipartUpload on a context of its own).
//
// Objects whose names are not valid keys (such as the "dir/" markers the
// OSS console creates) are left out of listings: a Store cannot address
// them.
//
// # Retries and CRC64
//
// The SDK's retries stay on (3 attempts with jittered backoff, for
// connection errors, 5xx and throttling codes): they retry whole requests
// whose body can be rewound, which the store's own [objstore.Reader] never
// does; the Reader resumes a body cut after its response began, pinned to
// the version it started with. The SDK's connection-level read timeout (10
// s without a byte) ends a stalled body before the Reader's StallTimeout
// does; either way the range is resumed.
//
// The SDK's download CRC64 check applies only to its Downloader and
// GetObjectToFile, which this package does not use: GetObject, ranged or
// whole, hashes nothing, so there is nothing to turn off. The upload CRC64
// check stays on: the SDK hashes each PutObject and part as it sends it
// and compares with the x-oss-hash-crc64ecma the server returns (a server
// that returns none, such as a local test server, is not checked). The
// value is reported in Object.Checksums["crc64ecma"] when the server
// sends it.
//
// # SDK workarounds
//
// The HTTP client New builds (not one passed in Options.Client) corrects
// two things the SDK (v1.6.1) does with request bodies. It sends an empty
// PutObject as chunked (the SDK gives every request a body, and net/http
// sends a PUT body of unknown length chunked), which servers that need a
// Content-Length refuse with 411; the store sends it with Content-Length
// 0. And when a server answers a PUT with 500 or 503 before reading its
// body, the SDK rewinds the body for its retry while net/http may still be
// reading it for the failed attempt (a data race the race detector
// reports); each attempt here reads the body through a guard that is cut
// off when the attempt returns. Transparent gzip decoding is also off, so
// an object stored with Content-Encoding: gzip reads back as stored.
//
// # Counting requests
//
// The Store is an objstore.RequestCounter. With the HTTP client New
// builds it counts at the transport, so every request on the wire counts
// once: each attempt of the SDK's retryer, each GET a Reader sends to
// resume a cut body, the GET answered 416 and the HeadObject after it for
// a read at the object's end, InitiateMultipartUpload and
// CompleteMultipartUpload (Other), each UploadPart (a Put), the
// AbortMultipartUpload of a failed upload (Other) and the HeadObject
// after a multipart upload. Requests are classified by method and query
// (see objstore.RequestStats). BytesIn counts the body bytes read from
// 2xx GetObject responses; BytesOut the body length of 2xx PutObject and
// UploadPart requests. A request counts when its response arrives,
// whatever the status; one that fails without a response counts if it
// left for the server (it was written whole, or more of its body was read
// than the transport's write buffer holds), so a request cancelled in the
// short window before its headers were flushed is not counted.
//
// With Options.Client the store cannot reach the client's HTTP client:
// the SDK keeps it in unexported options. It counts from a response
// handler added to each call instead, and the SDK runs such handlers only
// for 2xx responses. So with a caller's client the store counts the
// requests answered 2xx, with their bytes, and misses every request that
// failed: 4xx and 5xx answers (and so the attempts the SDK retried, and the
// GET answered 416 before the HEAD of a read at the end), and transport
// errors. Requests sent on that client by other code are not counted, and
// a client addressing the bucket by CNAME is not classified correctly
// (its URLs do not name the bucket). The client [Store.As] gives of a
// store New built shares its counting transport: requests sent on it
// directly count too.
//
// # Errors
//
// Service errors are classified by their OSS error code and HTTP status
// (errors.As to *oss.ServiceError), never by message:
//
//	NoSuchKey, NoSuchBucket, 404                       fs.ErrNotExist
//	AccessDenied, InvalidAccessKeyId,
//	SignatureDoesNotMatch, security token codes, 403   fs.ErrPermission
//	PreconditionFailed, 412, NoSuchVersion             objstore.ErrChanged
//	InvalidRange, 416, invalid names, SDK parameter    fs.ErrInvalid
//
// Errors are *objstore.Error values whose text starts "objstore: oss: ";
// the SDK's error stays reachable with errors.As.
//
// # As
//
// [Store.As] gives the *oss.Client:
//
//	var c *oss.Client
//	if s.As(&c) { … }
//
// # Closing
//
// [Store.Close] drops the idle connections of a client New built, and
// makes later calls fail with fs.ErrClosed; a client passed in
// Options.Client is left alone.
package ossstore
