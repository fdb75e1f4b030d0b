package cache

import (
	"container/list"
	"strconv"
	"sync"
)

// Sparse reads are cached as extents: the exact bytes a read fetched,
// stored in the tiers like a block under a key of their own (the block's
// key and the extent's offset and length), and found again through an
// index in memory, by block, of the ranges held.
//
// Why exact ranges and not aligned pieces of a block: a random 4 KiB read
// at an unaligned offset covers two 4 KiB pieces, so pieces would fetch
// twice the bytes asked, and pieces any larger more still; an exact range
// fetches what was asked and nothing else. The price is the index, which
// lives in memory only (about 150 bytes an extent): after a restart the
// extents a disk tier holds are not found again, and age out of it like
// any block nobody reads. Whole blocks, which sequential reads, warmups
// and dense random reads load, are found after a restart as before.
//
// An extent that a tier evicted is found missing on its next read and
// forgotten. The index holds at most Config.MaxExtents extents; beyond,
// the least recently used is forgotten and deleted from the tiers.

// extent is a byte range [start, end) of a block held in the tiers under
// key.
type extent struct {
	start, end int64
	key        string
}

// extentKey returns the tier key of the extent [off, off+n) of the block
// with key blockKey. Block keys end in a decimal index and never contain
// "|x", so no extent key equals a block key or another extent's key.
func extentKey(blockKey string, off, n int64) string {
	return blockKey + "|x" + strconv.FormatInt(off, 10) + "+" + strconv.FormatInt(n, 10)
}

// extents is the index of the extents held, by block key.
type extents struct {
	max  int
	drop func(key string) // deletes a forgotten extent from the tiers

	mu     sync.Mutex // guards blocks and lru; never held while calling drop
	blocks map[string][]*list.Element
	lru    *list.List // of *extentEntry, most recently used first
}

type extentEntry struct {
	block string
	extent
}

func newExtents(max int, drop func(string)) *extents {
	return &extents{max: max, drop: drop, blocks: map[string][]*list.Element{}, lru: list.New()}
}

// find returns an extent of block that covers [from, to), marking it used.
func (x *extents) find(block string, from, to int64) (extent, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, el := range x.blocks[block] {
		e := el.Value.(*extentEntry)
		if e.start <= from && to <= e.end {
			x.lru.MoveToFront(el)
			return e.extent, true
		}
	}
	return extent{}, false
}

// next returns the extent of block that starts first after from, of at
// least min bytes, marking it used.
func (x *extents) next(block string, from, min int64) (extent, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	var best *list.Element
	for _, el := range x.blocks[block] {
		e := el.Value.(*extentEntry)
		if e.start > from && e.end-e.start >= min && (best == nil || e.start < best.Value.(*extentEntry).start) {
			best = el
		}
	}
	if best == nil {
		return extent{}, false
	}
	x.lru.MoveToFront(best)
	return best.Value.(*extentEntry).extent, true
}

// add indexes e as an extent of block. Extents of the block that e
// covers are forgotten and deleted from the tiers.
func (x *extents) add(block string, e extent) {
	var victims []string
	x.mu.Lock()
	els := x.blocks[block]
	kept := els[:0]
	for _, el := range els {
		old := el.Value.(*extentEntry)
		switch {
		case old.key == e.key:
			x.lru.MoveToFront(el)
			x.mu.Unlock()
			return
		case e.start <= old.start && old.end <= e.end:
			x.lru.Remove(el)
			victims = append(victims, old.key)
		default:
			kept = append(kept, el)
		}
	}
	x.blocks[block] = append(kept, x.lru.PushFront(&extentEntry{block: block, extent: e}))
	for x.lru.Len() > x.max {
		el := x.lru.Back()
		old := el.Value.(*extentEntry)
		x.removeLocked(old.block, el)
		victims = append(victims, old.key)
	}
	x.mu.Unlock()
	for _, k := range victims {
		x.drop(k)
	}
}

// removeLocked takes el out of block's list and the LRU. x.mu is held.
func (x *extents) removeLocked(block string, el *list.Element) {
	x.lru.Remove(el)
	els := x.blocks[block]
	for i, o := range els {
		if o == el {
			els = append(els[:i], els[i+1:]...)
			break
		}
	}
	if len(els) == 0 {
		delete(x.blocks, block)
	} else {
		x.blocks[block] = els
	}
}

// forget1 forgets the extent e of block, found missing from the tiers.
func (x *extents) forget1(block string, e extent) {
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, el := range x.blocks[block] {
		if el.Value.(*extentEntry).key == e.key {
			x.removeLocked(block, el)
			return
		}
	}
}

// forget forgets every extent of block and deletes them from the tiers.
func (x *extents) forget(block string) {
	x.mu.Lock()
	els := x.blocks[block]
	delete(x.blocks, block)
	keys := make([]string, 0, len(els))
	for _, el := range els {
		x.lru.Remove(el)
		keys = append(keys, el.Value.(*extentEntry).key)
	}
	x.mu.Unlock()
	for _, k := range keys {
		x.drop(k)
	}
}

// len returns how many extents are indexed.
func (x *extents) len() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.lru.Len()
}
