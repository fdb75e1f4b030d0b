package tierfs

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tierfs/tierfs/consistency"
	"github.com/tierfs/tierfs/peer"
	"github.com/tierfs/tierfs/prefetch"
	"github.com/tierfs/tierfs/tier"
)

// Option configures an FS in Open and New.
type Option func(*options) error

type options struct {
	memBytes    int64 // -1: the default; 0: no memory tier
	disk        *tier.DiskConfig
	blockSize   int64
	policy      consistency.Policy
	log         *slog.Logger
	now         func() time.Time
	baseCtx     context.Context
	storeID     string
	warmWorkers int
	readahead   prefetch.Config
	peers       *peer.Config // nil: no peers
	metrics     prometheus.Registerer
	metaTimeout time.Duration // 0: no bound
}

func defaultOptions() options {
	return options{memBytes: -1, policy: consistency.ReadOnly(), now: time.Now, warmWorkers: 8, readahead: prefetch.DefaultConfig(), metaTimeout: DefaultMetadataTimeout}
}

// WithMemoryCache sets the memory tier's budget in bytes; 0 turns the
// memory tier off. Without this option the budget is an eighth of the
// memory available to the process (the cgroup limit where there is one),
// between 64 MiB and 8 GiB.
func WithMemoryCache(bytes int64) Option {
	return func(o *options) error {
		if bytes < 0 {
			return fmt.Errorf("tierfs: %w: negative memory cache size %d", fs.ErrInvalid, bytes)
		}
		o.memBytes = bytes
		return nil
	}
}

// WithDiskCache adds a disk tier below the memory tier; see
// tier.DiskConfig. Without it there is none.
func WithDiskCache(cfg tier.DiskConfig) Option {
	return func(o *options) error {
		o.disk = &cfg
		return nil
	}
}

// WithBlockSize sets the unit of origin reads and cache entries (default
// cache.DefaultBlockSize, 8 MiB; 64 KiB to 256 MiB). A disk tier shared
// across runs must keep one block size: blocks of another size are not
// found.
func WithBlockSize(bytes int64) Option {
	return func(o *options) error {
		o.blockSize = bytes
		return nil
	}
}

// WithReadahead configures readahead (default prefetch.DefaultConfig();
// prefetch.ModelLoadConfig() for loading large models on big hosts). Its
// Budget bounds the memory of readahead and of blocks in flight over all
// open files.
func WithReadahead(cfg prefetch.Config) Option {
	return func(o *options) error {
		o.readahead = cfg
		return nil
	}
}

// WithConsistency sets the consistency policy (default
// consistency.ReadOnly()).
func WithConsistency(p consistency.Policy) Option {
	return func(o *options) error {
		if p == nil {
			return fmt.Errorf("tierfs: %w: nil consistency policy", fs.ErrInvalid)
		}
		o.policy = p
		return nil
	}
}

// WithLogger sets the logger (default: none). A store that Open opens
// logs its SDK's warnings to it too (see objstore.ContextWithLogger).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		o.log = l
		return nil
	}
}

// WithClock sets the clock the consistency policy reads (default
// time.Now), for tests.
func WithClock(now func() time.Time) Option {
	return func(o *options) error {
		if now == nil {
			return fmt.Errorf("tierfs: %w: nil clock", fs.ErrInvalid)
		}
		o.now = now
		return nil
	}
}

// WithBaseContext sets the context that the fs.FS methods, which take
// none, run under (default: the context given to Open, without its
// cancellation, or an empty context for New). Close cancels it.
func WithBaseContext(ctx context.Context) Option {
	return func(o *options) error {
		if ctx == nil {
			return fmt.Errorf("tierfs: %w: nil base context", fs.ErrInvalid)
		}
		o.baseCtx = ctx
		return nil
	}
}

// DefaultMetadataTimeout is the bound WithMetadataTimeout sets by default.
const DefaultMetadataTimeout = time.Minute

// WithMetadataTimeout bounds each request for metadata that the FS makes
// on behalf of a call: the lookup of a name by Open, OpenContext, Stat,
// ReadFile and ReadDir (a HEAD, or Open's first GET of up to 128 KiB), and
// each page of a directory listing. A store that never answers then fails
// the call with an error wrapping context.DeadlineExceeded instead of
// hanging it; the fs.FS methods take no context to bound it otherwise.
// Default DefaultMetadataTimeout (1 minute); 0 means no bound. Data reads
// are bounded per request by the store (its header timeout and the
// objstore.RetryPolicy's stall and minimum rate) and by the cache's fetch
// timeout.
func WithMetadataTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d < 0 {
			return fmt.Errorf("tierfs: %w: negative metadata timeout %v", fs.ErrInvalid, d)
		}
		o.metaTimeout = d
		return nil
	}
}

// WithStoreID names the store in cache keys (default: the URL given to
// Open, without credentials; for New, "new"). Two FS values that share a
// disk tier must name different stores differently.
func WithStoreID(id string) Option {
	return func(o *options) error {
		o.storeID = id
		return nil
	}
}

// WithWarmupConcurrency sets how many blocks Warmup fetches at once
// (default 8).
func WithWarmupConcurrency(n int) Option {
	return func(o *options) error {
		if n < 1 {
			return fmt.Errorf("tierfs: %w: warmup concurrency %d < 1", fs.ErrInvalid, n)
		}
		o.warmWorkers = n
		return nil
	}
}

// WithPeers makes the FS a member of a ring of processes that share cached
// blocks (see package peer): after its tiers miss, a block is asked of its
// owner in the ring before the origin, and this FS serves the blocks it
// owns to the others. A sparse read (random reads, a young stream's) asks
// the owner only for bytes it already holds, and otherwise goes to the
// origin. It requires an explicit store identity — the URL
// given to Open, or WithStoreID for New — because members share blocks
// only with members of the same identity and block size; cfg.StoreID and
// cfg.BlockSize are filled in from the FS and, if set, must agree with it.
// Block loads that fall back from the ring to the origin are capped at
// cfg.MaxFallbacks at once (peer.DefaultMaxFallbacks, 8, by default).
// Close leaves the ring.
func WithPeers(cfg peer.Config) Option {
	return func(o *options) error {
		o.peers = &cfg
		return nil
	}
}
