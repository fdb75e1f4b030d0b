// Package tierfs reads object storage (S3, Alibaba OSS, any S3-compatible
// store, a local directory) as a plain io/fs.FS, fast: a tiered memory and
// disk cache, sequential readahead and a peer ring that shares cached
// blocks, all in the calling process, with no FUSE mount and no daemon.
//
// The design and the public surface this package grows into are in the
// project's DESIGN.md. What is built so far is the object-store layer:
//
//   - [github.com/tierfs/tierfs/objstore]: the Store contract, version
//     pinning, a Reader that resumes bodies cut mid-stream, and a URL mux;
//   - objstore/s3store, objstore/ossstore, objstore/filestore and
//     objstore/memstore: the backends, opened by URL
//     (s3://bucket/prefix?endpoint=…&region=…&path_style=true,
//     oss://bucket/prefix?endpoint=…&region=…, file:///dir, mem://name);
//   - objstore/storetest: the conformance suite every backend passes.
//
// The cache tiers, the file system, prefetch, consistency policies and
// peers follow in their own packages.
package tierfs
