// Package disk is the disk tier: immutable blocks in files over one or
// more local directories (usually one per SSD), with a quota, high and low
// watermarks, a free-space floor, per-piece checksums, atomic writes, one
// owner per directory and an index rebuilt at start, so a restarted
// process serves what it cached before.
//
//	t, err := disk.Open(tier.DiskConfig{Dirs: []string{"/mnt/nvme0", "/mnt/nvme1"}, Quota: 200 << 30}, nil)
//
// [Open] validates the [tier.DiskConfig] (errors wrap fs.ErrInvalid; zero
// fields take the defaults documented there) and takes [Options] for what
// the config does not hold: a logger and a [Clock].
//
// # Layout
//
// Each directory holds a lock file, tierfs.lock, and a layout directory
// named for the format, v2/. A later format uses another name, so a
// format change fails safe: neither binary reads the other's files.
// A block lives in v2/ab/abcdef…, where the name is the hex of the first
// 128 bits of the SHA-256 of its key and ab its first byte (at most 256
// subdirectories). No key can name a path outside the directory, and no
// component is longer than 32 bytes. Files are 0600, directories 0700.
// The tier touches nothing else in the directory but the old format's
// directory (below): tierfs keeps its metadata file in meta/ beside v2/
// (see package tierfs).
//
// The layout directory of format 1, v1/, is emptied after the start-up
// rebuild, in the background: its block files, temporary and probe files
// (recognised by their names; a file of any other name is left), then
// each subdirectory and v1/ itself if that leaves them empty. No binary
// of this format reads them and they take room outside the quota. It is
// safe because every format takes the directory's lock before it touches
// its layout directory, and this tier holds it: a binary of format 1
// cannot be using the files (and the sweep stops if the lock file is
// found replaced; see Ownership). Going back to a binary of format 1
// starts with a cold cache.
//
// Blocks are placed over the directories by rendezvous hashing of the key
// hash with a random seed kept in each directory's lock file: the spread is
// even (each directory gets Quota/len(Dirs)), a reordered Dirs list or a
// renamed mount keeps every block where it is, and adding a directory
// moves only the blocks it takes over (the rebuild removes the rest).
//
// # File format and integrity
//
// A block file is a header, zeros, then the data. The header holds a
// magic number, the format version, the piece size (32 KiB), the data
// length, the data offset, the key itself, the CRC32C (Castagnoli,
// hardware accelerated) of every 32 KiB piece of the data and a CRC32C of
// the header. The data starts at the data offset: the header's length
// plus at least 256 bytes, rounded up to 4096 (4096 for a 4 MiB block
// under a key of up to ~3.2 KiB). So the data is page aligned, and the
// header can be rewritten in place under a key up to 256 bytes longer
// (see Moves). A data offset that is not a multiple of 4096, lies inside
// the header or further after it than a writer or a move puts it, makes
// the header bad. Opening a block file checks the header (checksum,
// version, and that it names the key asked for, so two swapped files are
// caught); every ReadAt checks the checksum of every piece the range
// covers, reading partial pieces at the ends of the range whole. A file
// that fails any check (wrong key, bad header, cut short, a piece that
// does not match) is a miss: it is removed from disk and counted in
// Stats.Corrupt. No byte that failed verification is ever returned.
//
// # Reads
//
// A hit costs what its checksums cost, and little else. Each directory
// keeps up to 256/len(Dirs) (at least 16) block files open in an LRU,
// each with its header checked when it was opened, so a block read again
// is not opened, its header not read again. An open file belongs to its
// index entry: Delete, eviction and a failed check drop it with the
// entry (a reader still using it keeps it until it is done; the last one
// closes it), a file opened by a read that raced with a Delete is not
// kept, and Close closes them all.
//
// A block file read from the cache a second time is mapped into memory
// (read only, shared: the page cache's own pages), and a read copies each
// whole piece into the caller's buffer in one pass that loads each
// 8-byte word into a register, folds it into the CRC32C (three streams,
// to keep the crc32 instruction busy) and stores it from that register:
// the bytes returned are the bytes checksummed, and the copy costs
// nothing beside the checksum. pread plus a separate checksum touches
// every byte twice, so it cannot do better than about half the speed of a
// bare pread (the kernel's copy runs at ~26 GB/s, CRC32C at ~24 GB/s on
// the machine measured); the one-pass copy reaches about two thirds
// (BenchmarkHit). A file cut short under its mapping, or a disk error
// while a mapped page is read in, raises SIGBUS: the read turns it into
// a panic (debug.SetPanicOnFault), recovers, and reads again with pread,
// which sees the short file (a damaged block) or the I/O error. Files
// read once, test file systems and other architectures use pread.
//
// [Tier.Contains] answers from the queue of blocks not yet written (a
// queued block is there, as ReadAt serves it) and from the directory's
// index, under the directory's mutex: it opens no file, leaves the cache
// of open files and the LRU order alone, and counts nothing; a sick
// directory answers false. Only before the start-up rebuild has indexed
// a block does it reach the disk, with a stat of the block's path (see
// Restart).
//
// # Writes
//
// Put never waits for the disk: it puts the block on a bounded queue
// (FillQueue) and returns; when the queue is full, the block is dropped
// and counted in Stats.Dropped. FillWorkers goroutines write the queue. A
// block still on the queue is served from the caller's bytes, so a read
// right after a Put hits. [Tier.Flush] waits until the queue is written
// (tests use it).
//
// A worker writes a temporary file created with O_EXCL under a random name
// starting with "tmp-" in the block's own subdirectory, then renames it
// into place, so a reader sees a whole file or none. There is no fsync: a
// killed process loses nothing it wrote, and after a machine crash a
// renamed file whose pages were lost fails its checksums and is a miss.
// Temporary files left by a killed process are removed by the next start.
//
// # Moves
//
// [Tier.Move] (a [tier.Mover]) gives a block another key without
// copying it: it checks the block file's header, writes the new key's
// header over it in place (the same checksums, data length and data
// offset; there is room for a key up to 256 bytes longer), and renames
// the file to the new key's path, replacing any file there. A 4 MiB block
// costs a 4 KiB read, a 4 KiB write and a rename instead of 4 MiB read
// and written again. A block still queued for writing is waited for, as
// is one queued under the new key (either wait ends with the caller's
// context). While a block moves, its old key is a miss and fills of
// either key are dropped. Between two directories on one device the new
// directory's quota is reserved first (evicting if needed) and the charge
// moves with the file; between two devices, or for a key too long for the
// room, Move fails with errors.ErrUnsupported and changes nothing (the
// caller reads the block and puts it again). A move is no hit, miss or
// Put in Stats.
//
// A process killed between the header write and the rename leaves a file
// under the old key's name whose header names the new key; a machine
// crash can also leave the file renamed with the old header (no fsync, as
// for fills). Either is served under neither key: the header's key does
// not match the name's, so the first read is a miss that removes the file
// and counts it in Stats.Corrupt; the start-up rebuild, which reads no
// header, indexes it until then (TestMoveCrash). A read that meets a
// header a Move is rewriting is a plain miss, not damage.
//
// # Space
//
// A block is charged its file size (header and padding included)
// rounded up to the file system's block size (statfs f_bsize), both when
// it is written and when the rebuild finds it: a 4 MiB block takes
// 4 MiB + 4 KiB, as in format 1. Before a write, the worker makes room: if the
// directory's usage, counting blocks being written, would pass
// High×share, it evicts down to Low×share, and it unlinks the victims
// before it writes. Blocks evicted and not yet unlinked still count, so
// the bytes on disk never exceed the share, however many workers fill at
// once. A block that cannot fit is dropped.
//
// A free-space floor (MinFreeRatio of each file system) is kept the same
// way: each fill runs statfs and evicts (or drops the block) if writing it
// would leave less than the floor, and a background pass once a second
// evicts when other programs have eaten into the floor. Two directories on
// one file system each keep the floor without knowing of the other's
// writes in progress. An ENOSPC below the quota (the file system is fuller
// than statfs said, or its overhead is larger than the rounding) evicts
// the block's size and retries once; a second ENOSPC drops the block. A
// reader never sees ENOSPC.
//
// # Eviction order
//
// Exact LRU: per directory, a map from key hash to an entry (hash, charge,
// two list pointers) on an intrusive doubly linked list. A hit moves the
// entry to the front and an eviction takes the back, both O(1) under the
// directory's mutex. Blocks are large (MiB), so a mutex per hit is cheap,
// and LRU keeps the hot blocks of a training epoch or of a model being
// served better than FIFO, with exact, testable behaviour; 2-random
// sampling would save the list pointers (16 bytes an entry) at the price
// of a worse choice. The index takes about 83 bytes per block (measured
// by BenchmarkRestart): 100,000 blocks in about 8 MB.
//
// # Restart
//
// Open takes the locks and returns at once; a walk per directory rebuilds
// the index in the background from names (the key hash) and lstat (size
// and modification time, which orders the rebuilt LRU), without reading
// any header. While a directory is being walked, a read of a key it has
// not indexed yet opens the hashed path directly, verifies it as always,
// and indexes it; blocks are served from the first moment. Contains stats
// the hashed path instead (no open, no read, nothing indexed): a regular
// file there is a yes. Fills wait until the walk of their directory is
// done (the queue absorbs them, then drops), so the usage a fill checks
// against the quota is complete (and so do Moves). The walk also removes
// stale temporary files and blocks that belong to another directory, and
// is followed by the sweep of format 1's files (see Layout).
//
// # Health
//
// File operations go through a small internal interface, so tests inject
// EIO, ENOSPC and stalls. An I/O error (other than ENOSPC and a missing
// file), or a file operation that takes longer than IOTimeout, makes the
// directory sick: its reads are misses (the cache falls back to the next
// tier or the origin) and its fills are dropped, each error counted in
// Stats.Errors. A background pass notices an operation in flight for
// longer than IOTimeout, so a stalled disk is taken out while the stalled
// call still hangs (Go cannot interrupt a read of the page cache into the
// caller's buffer; that one caller waits for the kernel). Every
// ProbeInterval a sick directory is probed (write, read back and remove a
// probe file) and re-admitted when the probe succeeds; its index is kept,
// and every read verifies as always.
//
// # Ownership and Close
//
// A directory is owned by one Tier at a time, in this process or another:
// Open takes flock(LOCK_EX|LOCK_NB) on its lock file and fails with an
// error wrapping [ErrLocked] (which wraps fs.ErrExist) when another holds
// it. A background pass (about once a second) checks that the lock file
// is still the one it locked: after the directory is removed (rm -rf), and
// perhaps made and locked again by another tier, the first tier gives it
// up for good — sick, never probed, its blocks neither read nor written —
// so the directory keeps one owner. (Until that pass, at most a second,
// a fill already under way may still land in the new directory; it is a
// whole block file with its checksums, which the new owner serves only
// once its next rebuild indexes it.) Close is idempotent: it drops the blocks still queued (counted), lets
// a block being written finish, waits for every goroutine of the tier and
// releases the locks. Later calls fail with errors wrapping fs.ErrClosed.
package disk
