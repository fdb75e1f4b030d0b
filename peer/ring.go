package peer

import (
	"encoding/binary"
	"hash/fnv"
	"math"
	"slices"
	"strings"
)

// Node is one live member in a View.
type Node struct {
	Name     string  // memberlist's node name, unique in the ring
	DataAddr string  // the block server's address, "host:port"
	Zone     string  // its failure domain, if any
	Weight   float64 // its share of ownership
}

// View is one member's picture of the ring: the live members that share
// its store identity and block size, itself included, sorted by name. A
// View never changes; a new one replaces it when membership changes.
type View struct {
	Nodes   []Node
	changed chan struct{} // closed when a newer view replaces this one
}

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
