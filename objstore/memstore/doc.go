// Package memstore is an [objstore.Store] held in memory, for tests and
// examples. Besides the Store contract it counts the requests it serves
// and injects faults (cut bodies, failed calls, latency, a blocking hook),
// so that the layers above objstore (cache, prefetch, the tierfs FS) can
// test what they ask of the origin and how they cope with a flaky one.
//
//	s, err := memstore.FromMap(map[string]string{"data/a.txt": "hello"})
//	fsys, err := tierfs.New(s)
//	…
//	s.Stats("data/a.txt").Gets // origin GETs the cache let through
//
// # URL form
//
//	mem://name
//
// Importing memstore registers the "mem" scheme with
// objstore.DefaultURLMux. Every open of a mem:// URL on the default mux
// returns a new, empty Store: the name only labels the URL. Sharing a Store
// between all opens of the same name would need a registry that lives as
// long as the process, and process-global state makes two tests in one
// binary see each other's objects. A program that wants mem://name to
// reach a Store it filled builds its own [URLOpener], adds the store with
// [URLOpener.Add] and registers the opener on its own objstore.URLMux.
// Paths (mem://name/prefix) and query parameters are rejected.
//
// # Versions
//
// Every Put makes a new version, even of identical bytes:
// Version.ETag is the hex MD5 of the content, as S3 gives for single-part
// uploads, and Version.ID is a counter of the Store, increased by every
// Put, as a versioned S3 bucket gives a new version id. A read pinned to a
// full Version (both fields, as Stat and Put return it) fails with
// objstore.ErrChanged after any overwrite; a read pinned to the ETag alone
// matches any version with the same bytes, which cannot tear a read.
// Object.Checksums holds "crc32c", base64 of the big-endian CRC-32C, as S3
// encodes it. Stored bytes are never modified: a Reader keeps reading the
// version it opened even after an overwrite, but each body it opens (a
// resume after a cut) checks the pinned version again.
//
// # Listing
//
// List returns keys in byte-wise lexical order, MaxKeys (default 1000)
// entries a page, common prefixes counting toward it as in S3. The
// continuation token is the last key or common prefix of the page.
//
// # Instruments
//
// [Store.Stats], [Store.Total] and [Store.ResetStats] count requests per
// key and in total; [Store.RequestStats] gives the total as
// objstore.RequestStats, so the Store is an objstore.RequestCounter like
// the network backends. [Store.CutReads] ends bodies early,
// [Store.FailNext] fails calls, [Store.SetLatency] delays every request
// with a timer that respects the context (and testing/synctest's fake
// time), and [Store.SetHook] calls a function before every request, which
// may block it or fail it. Bodies are served through objstore.NewReader,
// so resuming a cut body is objstore's shared logic, under the policy set
// with [Store.SetRetryPolicy].
//
// # Errors
//
// Errors are *objstore.Error values whose messages read
// "objstore: <op> "<key>": … mem: …": a missing key wraps fs.ErrNotExist,
// an invalid key, range, prefix or size fs.ErrInvalid, a failed version
// precondition objstore.ErrChanged, and a done context its error.
//
// # Concurrency
//
// All methods are safe for concurrent use. One sync.RWMutex guards the
// objects; the instruments have their own lock, never held together with
// it, nor while a request waits for its latency or runs the hook.
package memstore
