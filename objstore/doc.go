// Package objstore is the contract between tierfs and object storage: the
// [Store] interface every backend implements, the [Object] and [Version]
// types, the errors backends map their codes to, a [Reader] that resumes
// bodies cut short without ever mixing versions, and a [URLMux] that opens
// stores by URL.
//
// objstore knows nothing about caching; it imports nothing else of tierfs.
//
// # Backends
//
// Each backend lives in its own package and registers its URL scheme with
// [DefaultURLMux] when imported:
//
//	s3://bucket/prefix?endpoint=…&region=…&path_style=true  objstore/s3store
//	oss://bucket/prefix?endpoint=…&region=…                 objstore/ossstore
//	file:///abs/dir                                          objstore/filestore
//	mem://name                                               objstore/memstore
//
// A backend passes the conformance suite in objstore/storetest.
//
// # Versions and torn reads
//
// Every object read is pinned to one [Version] (an ETag, or a version id
// where the bucket keeps versions). A read pinned to a version the store no
// longer has fails with an error wrapping [ErrChanged]; it never returns
// bytes of another version. An unpinned read pins itself to the version of
// its first response, so a body resumed after a cut is of the same version.
//
// # Errors
//
// Backends map their service codes once, by type (never by message), to
// the io/fs sentinels and [ErrChanged], wrapped with %w beside the original
// error so that both errors.Is and errors.As work:
//
//	errors.Is(err, fs.ErrNotExist)   // no such key or bucket
//	errors.Is(err, fs.ErrPermission) // access denied
//	errors.Is(err, fs.ErrInvalid)    // bad key, range or URL
//	errors.Is(err, objstore.ErrChanged)
//	errors.Is(err, objstore.ErrBadResponse) // no length, wrong range, no ETag
//
// # Replies checked
//
// Every reply is checked before its bytes count: a body's length must be
// known (Content-Length, or Content-Range for a partial body) and its
// range must be the one asked for, and every object must carry an ETag or
// a version id, or the call fails with an error wrapping
// [ErrBadResponse]. A store that sends no version could not keep an open
// file to one version, so it is refused rather than read unpinned.
//
// # Writes
//
// Store.Put publishes all or nothing. [Writer] (NewWriter) streams a Put
// through a pipe: Write hands bytes to the upload as it runs, Close
// publishes, and Abort or a cancelled context fails the Put's read, so the
// backend aborts its multipart upload and publishes nothing. PutOptions
// carry a content type, metadata, part size, concurrency and a
// precondition (IfMatch, IfNotExist) that a losing writer sees as
// ErrChanged; a backend that cannot check IfMatch (OSS) returns
// errors.ErrUnsupported.
//
// # Keys
//
// Keys are relative to the store's root and follow [ValidKey]: the io/fs
// path rules, so a key that works on one backend works on all, and no key
// names a file outside a local root.
//
// # Counting requests
//
// Every backend in this module is a [RequestCounter]: RequestStats returns
// the requests it sent by kind (Gets, Heads, Lists, Puts, Deletes, Other)
// and the object bytes they carried, as the service saw them: the SDKs'
// retries, a [Reader]'s resumes, the HEAD a read at an object's end falls
// back to and every part of a multipart upload count, each once. The S3
// and OSS backends count at the HTTP transport; the memory and file
// backends count one request per operation, as a server would. The
// conformance suite checks the counts step by step against what the test
// server counted. Each backend's documentation states the limits (a
// client passed in by the caller, a request cancelled in flight).
//
//	before := store.(objstore.RequestCounter).RequestStats()
//	… // the work to measure
//	d := store.(objstore.RequestCounter).RequestStats().Sub(before)
//	fmt.Println(d.Gets, d.BytesIn, d.Requests())
//
// # Closing
//
// A Store that holds resources (connections, files) also implements
// io.Closer; callers that opened a store close it when done.
package objstore
