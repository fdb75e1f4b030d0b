// Package tierfs reads object storage (S3, Alibaba OSS, any S3-compatible
// store, a local directory) as a plain io/fs.FS, fast: a memory tier and
// disk tiers in front of the store, one shared fetch per block, and
// version pinning so that no read ever mixes two versions of an object.
// It all runs in the calling process: no FUSE mount, no sidecar.
//
//	import _ "github.com/tierfs/tierfs/objstore/s3store" // registers s3://
//
//	fsys, err := tierfs.Open(ctx, "s3://bucket/datasets/imagenet?region=us-east-1",
//		tierfs.WithMemoryCache(8<<30),
//		tierfs.WithDiskCache(tier.DiskConfig{Dirs: []string{"/mnt/nvme0", "/mnt/nvme1"}, Quota: 200 << 30}),
//	)
//	defer fsys.Close()
//	weights, err := fs.ReadFile(fsys, "llama/model-00001.safetensors")
//
// # Files and directories
//
// Names are slash-separated keys relative to the store's root (the bucket
// and prefix of the URL); directories are key prefixes, listed lazily one
// page at a time. [FS] implements fs.FS, fs.StatFS, fs.ReadDirFS,
// fs.ReadFileFS, fs.SubFS and fs.GlobFS, and passes testing/fstest. An
// open [File] implements io.ReaderAt, io.Seeker and io.WriterTo, so
// archive/zip, archive/tar, net/http's FileServer (with Range requests)
// and any io.ReaderAt consumer work on it. Errors are *fs.PathError
// wrapping the io/fs sentinels; an invalid name is fs.ErrInvalid.
//
// # Versions
//
// A file is a snapshot: it reads the object version it saw when it was
// opened. When the store no longer has that version, reads of blocks not
// in the cache fail with an error wrapping objstore.ErrChanged, never
// returning bytes of another version. A store that reports no version (an
// origin or gateway that sends no ETag) cannot be read: opening its files
// fails with an error wrapping objstore.ErrBadResponse.
//
// # Opening
//
// Opening a file the metadata cache does not know sends one ranged GET
// of its first 128 KiB, not a HEAD: the answer says the file exists, gives
// its size and version, and brings the bytes its first reads need, so the
// first byte costs one round trip. The bytes go to the cache's tiers
// (within their budgets), not to the file. A file smaller than that is
// read with that one request ([FS.ReadFile] too), and a program that reads
// only a file's first bytes (within the first half of them) starts no
// readahead. [FS.Stat] of an unknown name is one HEAD. A name the
// metadata cache knows (from an earlier lookup, a listing, or an earlier
// process: see below) costs nothing.
//
// # Caching
//
// Objects are read in blocks (8 MiB by default; [WithBlockSize]). A block
// is looked up in the memory tier, then the disk tier (read in place, and
// promoted to memory behind the read), then fetched from the store with a
// ranged read pinned to the version, filling the tiers on the way back
// (package cache). Concurrent reads of one block share one fetch.
// Sequential readers are read ahead of; random readers fetch only what
// they ask, which is kept for the next time (package prefetch;
// [WithReadahead]). [FS.Stats] counts the requests the store saw by kind
// and, per tier, lookups, promotions and bytes served. The memory
// tier defaults to an eighth of the memory available to the process;
// [WithMemoryCache] sets it and [WithDiskCache] adds disk tiers, which a
// later process on the same directories finds again, with the metadata
// (see below).
//
// # Consistency
//
// The policy ([WithConsistency]) decides how long metadata is trusted and
// whether [FS.Create] and [FS.Remove] are allowed: consistency.ReadOnly
// (the default, for a static dataset), consistency.TTL (a dataset changed
// by events) and consistency.ReadWrite (one read-write workspace). A
// dataset refreshed on a schedule runs [FS.Warmup] on that schedule.
// Under ReadOnly and TTL, whole directory listings are cached like
// attributes, so a second epoch's fs.WalkDir lists nothing. [FS.Forget]
// drops one name (a read that meets objstore.ErrChanged does it by
// itself), [FS.Refresh] everything.
//
// # Metadata across restarts
//
// With a disk tier and a store identity (the URL given to [Open], or
// [WithStoreID]), the metadata cache — names, sizes, versions, missing
// names and listings, each with the time it was asked — is kept beside the
// disk tier (meta/ in its first directory, a file per store identity), so
// a process restarted on the same directories opens, stats, lists and
// reads what it cached with no request to the store. Under ReadOnly that
// means a restart keeps the versions the last run saw, as a running
// process would: call [FS.Refresh] (or [FS.Warmup]) to see changes made
// meanwhile. Under TTL an entry kept across a restart expires when it
// would have in one process. Under ReadWrite nothing is kept, and the
// file of a read-only run is removed, so nothing the writer changes is
// served stale later. The file is an append log of checksummed records,
// rewritten atomically (temporary file, sync, rename) when it doubles; a
// torn or damaged file is used up to the damage, the rest asked of the
// store again. An FS made by [New] without WithStoreID keeps nothing: it
// could not tell its store from another sharing the directory.
//
// # Writing
//
// Under ReadWrite, [FS.CreateContext] returns a [Writer] that streams the
// file to the store as it is written (a multipart upload on S3 and OSS,
// bounded memory), publishes it at Close and nothing on [Writer.Abort] or
// a cancelled context; [CreateOptions] add a content type, metadata and
// conditions (IfMatch, IfNotExist, IfUnchanged: the loser fails with
// objstore.ErrChanged). The written blocks enter the tiers under the new
// version, so the process reads its writes without an origin GET.
// [FS.Create] is CreateContext with the FS's context and no options;
// [FS.Rename] copies and deletes (not atomic); [FS.RemoveAll] deletes a
// directory's files one by one.
//
// # Warmup
//
// [FS.Warmup] is the "data load" before training: it finds the files
// matching some patterns afresh and fetches them into the tiers with
// bounded concurrency, reporting progress.
package tierfs
