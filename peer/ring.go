package peer

import (
	"encoding/binary"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Node is one live member in a View.
type Node struct {
	Name     string  // memberlist's node name, unique in the ring
	DataAddr string  // the block server's address, "host:port"
	Zone     string  // its failure domain, if any
	Weight   float64 // its share of ownership
}

// View is one member's picture of the ring: the live members that share
// its store identity and block size (and zone, with Config.ZoneLocal),
// itself included, sorted by name. A
// View never changes; a new one replaces it when membership changes.
type View struct {
	Nodes   []Node
	changed chan struct{} // closed when a newer view replaces this one

	// plans caches BlockOwners' assignment of an object version's blocks
	// to primaries, by object (see planKey); cleared when it holds
	// maxPlans.
	mu    sync.Mutex // guards plans
	plans map[string][]int32
}

// LoadFactor bounds a member's share of one object version's blocks in
// BlockOwners: at most ceil(LoadFactor × its weighted share) of them.
const LoadFactor = 1.25

const maxPlans = 4096

// Changed returns a channel closed when a newer view replaces v.
func (v *View) Changed() <-chan struct{} { return v.changed }

// Hash returns a short digest of the member names in v: two members with
// the same hash see the same ring.
func (v *View) Hash() uint64 {
	h := fnv.New64a()
	for _, n := range v.Nodes {
		h.Write([]byte(n.Name))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

func newView(nodes []Node) *View {
	nodes = slices.Clone(nodes)
	slices.SortFunc(nodes, func(a, b Node) int { return strings.Compare(a.Name, b.Name) })
	return &View{Nodes: nodes, changed: make(chan struct{})}
}

// Owners returns the indexes in v.Nodes of the primary and the secondary
// owner of the block with cache key key, by weighted rendezvous hashing:
// each member scores the key, weight / -ln(u) with u uniform in (0, 1)
// drawn from a hash of (member, key), and the highest scores own it. A
// member joining takes about its weighted share of blocks from the
// others and nothing moves between the others; a member leaving gives
// its blocks to their secondaries (a block's secondary becomes its
// primary). secondary is -1 with one member; both are -1 with none.
func (v *View) Owners(key string) (primary, secondary int) {
	primary, secondary = -1, -1
	var best, second float64
	for i, n := range v.Nodes {
		s := score(n.Name, n.Weight, key)
		switch {
		case primary < 0 || s > best:
			secondary, second = primary, best
			primary, best = i, s
		case secondary < 0 || s > second:
			secondary, second = i, s
		}
	}
	return primary, secondary
}

// score is a member's weighted rendezvous score for key.
func score(name string, weight float64, key string) float64 {
	h := fnv.New64a()
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(name)))
	h.Write(n[:])
	h.Write([]byte(name))
	h.Write([]byte(key))
	x := mix64(h.Sum64())
	u := (float64(x>>11) + 0.5) / (1 << 53) // uniform in (0, 1)
	return weight / -math.Log(u)
}

// mix64 is SplitMix64's finalizer: FNV's low bits alone are poorly mixed
// for keys that differ only at the end (the block index).
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// BlockOwners returns the indexes in v.Nodes of the primary and secondary
// owner of block idx of an object version of nblocks blocks, whose
// blocks' cache keys key(i) gives. Primaries are chosen with a bounded
// load, so one hot object's blocks spread over all members: the blocks are
// taken in index order, each by the highest-scoring member (as in Owners)
// that holds fewer than ceil(LoadFactor × nblocks × weight / total
// weight) of them. Every member with the same view computes the same
// assignment. The secondary is the highest-scoring member other than the
// primary. name identifies the object version (for the cache of
// assignments); objects of one block are owned as by Owners.
func (v *View) BlockOwners(name string, nblocks, idx int64, key func(i int64) string) (primary, secondary int) {
	if nblocks <= 1 || len(v.Nodes) <= 1 || idx < 0 || idx >= nblocks {
		return v.Owners(key(idx))
	}
	plan := v.plan(name, nblocks, key)
	primary = int(plan[idx])
	secondary = -1
	var second float64
	k := key(idx)
	for i, n := range v.Nodes {
		if i == primary {
			continue
		}
		if s := score(n.Name, n.Weight, k); secondary < 0 || s > second {
			secondary, second = i, s
		}
	}
	return primary, secondary
}

// plan returns the primaries of an object version's blocks.
func (v *View) plan(name string, nblocks int64, key func(i int64) string) []int32 {
	pk := strconv.FormatInt(nblocks, 10) + "|" + name
	v.mu.Lock()
	p, ok := v.plans[pk]
	v.mu.Unlock()
	if ok {
		return p
	}
	total := 0.0
	for _, n := range v.Nodes {
		total += n.Weight
	}
	caps := make([]int64, len(v.Nodes))
	for i, n := range v.Nodes {
		caps[i] = int64(math.Ceil(LoadFactor * float64(nblocks) * n.Weight / total))
	}
	p = make([]int32, nblocks)
	scores := make([]float64, len(v.Nodes))
	for b := range nblocks {
		k := key(b)
		best := -1
		for i, n := range v.Nodes {
			scores[i] = score(n.Name, n.Weight, k)
			if caps[i] > 0 && (best < 0 || scores[i] > scores[best]) {
				best = i
			}
		}
		caps[best]--
		p[b] = int32(best)
	}
	v.mu.Lock()
	if v.plans == nil || len(v.plans) >= maxPlans {
		v.plans = make(map[string][]int32)
	}
	v.plans[pk] = p
	v.mu.Unlock()
	return p
}
