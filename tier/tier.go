package tier

import (
	"context"
	"errors"
	"time"
)

// ErrMiss reports that a block is not in the tier: never stored, evicted,
// dropped on admission, or found damaged and removed. A miss is normal; the
// caller goes to the next tier or the origin.
var ErrMiss = errors.New("tier: miss")

// Tier holds immutable blocks by key. Keys are opaque strings made by the
// cache (they name an object version and a block index); a tier knows
// nothing of objects. A key always names the same bytes, so storing a key
// twice stores the same block. All methods are safe for concurrent use.
type Tier interface {
	// ReadAt copies bytes of the block stored under key, from offset off
	// within the block, into p, with the io.ReaderAt contract: it returns
	// len(p) bytes, or fewer with io.EOF when the block ends first. Every
	// byte returned has been verified where the tier keeps checksums. A
	// block that is absent or fails verification is an error wrapping
	// ErrMiss; a negative off is an error wrapping fs.ErrInvalid.
	ReadAt(ctx context.Context, key string, p []byte, off int64) (int, error)

	// Put offers data as the block for key. The tier may keep data
	// itself: the caller must not modify it afterwards. Put does not wait
	// for slow storage: a tier that cannot take the block now (full
	// queue, admission policy, sick disk) drops it and counts the drop;
	// that is not an error. Errors are for misuse (empty key, closed tier).
	Put(ctx context.Context, key string, data []byte) error

	// Delete removes the block for key, if present.
	Delete(ctx context.Context, key string) error

	// Contains reports whether the tier holds the block for key now, so that
	// a ReadAt of it would be served (barring a race with eviction or a
	// failed verification). It reads no block data and changes no statistics,
	// admission frequency or recency. Safe for concurrent use; false after Close.
	Contains(key string) bool

	// Stats returns counters since the tier was opened.
	Stats() Stats

	// Close releases the tier's resources and waits for its goroutines.
	// It is idempotent; other calls after Close fail with an error
	// wrapping fs.ErrClosed.
	Close() error
}

// A Releaser is a Tier that gives back the buffers it is given: it keeps
// a block's bytes in its own storage (a disk tier writes them to a file),
// so the caller may reuse the buffer once the tier is done with it. The
// cache uses it to recycle block buffers instead of allocating one per
// block loaded.
type Releaser interface {
	Tier
	// PutRelease is Put, and calls release (if not nil) when the tier no
	// longer reads data: the block was written, dropped or refused, and
	// no read of the tier still copies from data. It is called at most
	// once, possibly before PutRelease returns, and not at all for a
	// block the tier still held at Close (the buffer is then left to the
	// garbage collector).
	PutRelease(ctx context.Context, key string, data []byte, release func()) error
}

// A Mover can give a block it holds another key without copying its
// bytes: the disk tier rewrites the header of the block's file and renames
// the file, the memory tier stores the same bytes under the new key. The
// writer of a file (package tierfs) uses it at Close to move the blocks
// it wrote under a provisional key to the key of the version the store
// made, instead of reading each block back and putting it again.
type Mover interface {
	Tier
	// Move makes the block stored under from the block stored under to
	// (replacing any block under to) and removes it from under from. It
	// reads and verifies no data: the block keeps the checksums it had,
	// and a ReadAt of to verifies it as any read does.
	//
	// nil means a ReadAt of to serves from's bytes and from is a miss.
	// Otherwise the error says what happened; in every case the block
	// under to is the old one or from's, never a mix, and from is still
	// held or a miss:
	//   - An error wrapping ErrMiss: the tier does not hold from (never
	//     stored, evicted, dropped, found damaged and removed, or on
	//     storage that is unhealthy). Nothing changed under to.
	//   - fs.ErrClosed after Close; fs.ErrInvalid for an empty key or
	//     one the tier refuses in Put; ctx's error if ctx ends while
	//     Move waits (see below). Nothing changed.
	//   - Any other error: the tier holds from but could not move it (to
	//     does not fit where from was, the two keys belong to storage
	//     that cannot move between them, another Move of the same key is
	//     under way, an I/O error). Nothing changed under to; from is
	//     still held unless an I/O error lost it.
	// A caller that gets an error and still wants the block under to
	// falls back to reading from (from this tier or another) and Put of
	// to.
	//
	// A block that Put accepted and the tier has not stored yet (queued
	// for a write behind, or for admission) is there for Move as it is
	// for ReadAt: Move moves it, waiting for the write if the tier must
	// (the disk tier waits for the block's file, and for a queued write
	// under to, which would land on the moved block; for at most ctx).
	// Move(k, k) is nil if the tier holds k and a miss if not.
	//
	// Move is not a hit, a miss or a Put in Stats; Blocks and Bytes stay
	// as they were, less a block under to it replaced. A tier that admits
	// blocks (the memory tier) may refuse the block under to as it may
	// refuse a Put, counted as the tier documents. Safe for concurrent
	// use: a ReadAt of from or to while Move runs sees the block before
	// or after the move, or a miss; of two Moves of one key, at most one
	// succeeds.
	Move(ctx context.Context, from, to string) error
}

// Stats are a tier's counters. Counts are since the tier was opened;
// Bytes and Blocks are current.
type Stats struct {
	Hits      int64 // ReadAt calls served
	Misses    int64 // ReadAt calls that returned ErrMiss
	Puts      int64 // blocks stored
	Dropped   int64 // blocks offered to Put and not stored (queue full, rejected, error)
	Evictions int64 // blocks removed to make room
	Corrupt   int64 // blocks that failed verification and were removed
	Errors    int64 // I/O errors on the tier's storage
	Bytes     int64 // bytes held, as charged against the capacity
	Blocks    int64 // blocks held
	Capacity  int64 // the configured budget in bytes
}

// DiskConfig configures a disk tier (package tier/disk) over one or more
// directories, usually one per local SSD. The zero value of each optional
// field means the default given in its comment.
type DiskConfig struct {
	// Dirs are the cache directories. Each is created (mode 0700) if
	// missing and owned by one process at a time. Blocks are spread over
	// them evenly, by a hash of the key. Required.
	Dirs []string
	// Quota is the total budget in bytes over all Dirs, split evenly,
	// counted as space on disk (file-system block rounding and headers
	// included). Required.
	Quota int64
	// High and Low are watermarks as fractions of Quota: when usage passes
	// High×Quota, blocks are evicted until it is at most Low×Quota.
	// Zero means 0.95 and 0.7; 0 < Low < High ≤ 1.
	High, Low float64
	// MinFreeRatio keeps this fraction of each directory's file system
	// free, whatever the quota, so a disk shared with others never fills.
	// Zero means 0.05; negative means no floor.
	MinFreeRatio float64
	// FillQueue is how many blocks may wait to be written; Put drops
	// blocks beyond it. Zero means 64.
	FillQueue int
	// FillWorkers is how many goroutines write blocks. Zero means 2 per
	// directory.
	FillWorkers int
	// IOTimeout is how long one read or write of a block may take before
	// its directory is counted as sick. Zero means 10s.
	IOTimeout time.Duration
	// ProbeInterval is how often a sick directory is probed for
	// re-admission. Zero means 30s.
	ProbeInterval time.Duration
}

// DefaultDiskConfig returns a config over dirs with the given quota and
// every default filled in.
func DefaultDiskConfig(quota int64, dirs ...string) DiskConfig {
	return DiskConfig{
		Dirs: dirs, Quota: quota, High: 0.95, Low: 0.7, MinFreeRatio: 0.05,
		FillQueue: 64, FillWorkers: 2 * len(dirs), IOTimeout: 10 * time.Second, ProbeInterval: 30 * time.Second,
	}
}
