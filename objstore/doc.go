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
//
// # Keys
//
// Keys are relative to the store's root and follow [ValidKey]: the io/fs
// path rules, so a key that works on one backend works on all, and no key
// names a file outside a local root.
//
// # Closing
//
// A Store that holds resources (connections, files) also implements
// io.Closer; callers that opened a store close it when done.
package objstore
