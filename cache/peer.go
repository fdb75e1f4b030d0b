package cache

import (
	"context"
	"errors"

	"github.com/tierfs/tierfs/objstore"
)

// Peers is where a ring of peers plugs into the lookup chain: a load asks
// it for a block after every tier missed and before the origin. The
// package peer implements it; the cache knows nothing of how.
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

// ErrNoPeer is returned (wrapped) by Peers.Fetch when no peer was asked.
var ErrNoPeer = errors.New("cache: no peer for this block")

// BlockRef names one block for a peer.
type BlockRef struct {
	StoreID   string          // Config.StoreID
	Object    objstore.Object // the object version
	BlockSize int64
	Index     int64
	Key       string // the block's cache key, Key(StoreID, Object, BlockSize, Index)
}
