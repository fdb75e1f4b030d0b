package cache

import (
	"context"
	"errors"

	"github.com/tierfs/tierfs/objstore"
)

// Peers is where a ring of peers plugs into the lookup chain: a load asks
// it for a block after every tier missed and before the origin (a sparse
// read asks its optional CachedFetcher). The package peer implements it;
// the cache knows nothing of how.
//
// Fetch may be called concurrently, for different blocks.
type Peers interface {
	// Fetch fills dst[from:] with the bytes of the block ref names (dst is
	// the whole block; its first from bytes are already there), calling
	// progress(n) whenever dst[:n] is final, so readers waiting on the
	// block get its bytes as they arrive. Only verified bytes may be
	// announced. It returns how many bytes of dst are final (at least
	// from) and nil once all are; with an error, the load goes on from
	// the origin at the returned offset. An error wrapping ErrNoPeer
	// means no peer was asked (this member owns the block, or no peer is
	// live) and is not counted as a failure.
	Fetch(ctx context.Context, ref BlockRef, dst []byte, from int64, progress func(n int64)) (int64, error)
}

// Owner is an optional interface of Peers: Owns reports, without any
// request, that this member owns the block, so the lookup goes straight to
// the origin and keeps the block for the ring, without marking its load
// as waiting on a peer (a peer asking for it meanwhile joins the load
// instead of being refused with ErrPeerWait).
type Owner interface {
	Owns(ref BlockRef) bool
}

// CachedFetcher is an optional interface of Peers, asked by sparse reads
// (ReadOptions.Sparse): after the tiers and the extents missed and before
// the origin, a sparse read asks it for the bytes it wants of each block.
//
// FetchCached fills dst with the bytes of the block ref names from off
// within the block (off+len(dst) is within the block), only if the
// block's owner already holds them: the owner answers from its tiers,
// never starts a load, and never asks another peer. It returns how many
// bytes of dst, from its start, are final (verified), and nil once all
// are. An error wrapping ErrNoPeer means no peer was asked (this member
// owns the block, or no owner is live); one wrapping ErrNotCached means
// the owner does not hold the bytes; neither is counted as a failure.
// With any error, the read fetches dst[n:] from the origin. Bytes that
// came this way are served from peers (Stats.PeerBytesServed) and kept
// as an extent, like the sparse read's other bytes.
//
// FetchCached may be called concurrently.
type CachedFetcher interface {
	FetchCached(ctx context.Context, ref BlockRef, dst []byte, off int64) (int, error)
}

// ErrNoPeer is returned (wrapped) by Peers.Fetch and
// CachedFetcher.FetchCached when no peer was asked.
var ErrNoPeer = errors.New("cache: no peer for this block")

// ErrNotCached is returned (wrapped) by CachedFetcher.FetchCached when
// the owner does not hold the bytes asked, and by Blocks.ReadCached when
// this cache does not.
var ErrNotCached = errors.New("cache: bytes not cached")

// BlockRef names one block for a peer.
type BlockRef struct {
	StoreID   string          // Config.StoreID
	Object    objstore.Object // the object version
	BlockSize int64
	Index     int64
	Key       string // the block's cache key, Key(StoreID, Object, BlockSize, Index)
}
