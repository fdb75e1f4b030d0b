package peer

import (
	"fmt"
	"math"
	"testing"
)

func nodes(n int) []Node {
	var ns []Node
	for i := range n {
		ns = append(ns, Node{Name: fmt.Sprintf("member-%d", i), Weight: 1})
	}
	return ns
}

func blockKeys(n int) []string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = fmt.Sprintf("b1|3:mem|10:model.bin|4:etag|0:|8388608|%d", i)
	}
	return ks
}

// owners maps each key to its primary and secondary owner's name.
func owners(v *View, keys []string) (prim, sec []string) {
	for _, k := range keys {
		p, s := v.Owners(k)
		prim = append(prim, v.Nodes[p].Name)
		sn := ""
		if s >= 0 {
			sn = v.Nodes[s].Name
		}
		sec = append(sec, sn)
	}
	return prim, sec
}

func TestOwnersDistribution(t *testing.T) {
	keys := blockKeys(20000)
	for _, tc := range []struct {
		name    string
		weights []float64
	}{
		{"4 equal", []float64{1, 1, 1, 1}},
		{"8 equal", []float64{1, 1, 1, 1, 1, 1, 1, 1}},
		{"16 equal", []float64{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
		{"weighted 1:2:1", []float64{1, 2, 1}},
		{"weighted 0.5:1:1:1.5", []float64{0.5, 1, 1, 1.5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := nodes(len(tc.weights))
			total := 0.0
			for i, w := range tc.weights {
				ns[i].Weight = w
				total += w
			}
			v := newView(ns)
			count := map[string]int{}
			prim, sec := owners(v, keys)
			for i := range prim {
				count[prim[i]]++
				if prim[i] == sec[i] {
					t.Fatalf("key %d: primary and secondary are both %s", i, prim[i])
				}
			}
			for i, n := range ns {
				want := float64(len(keys)) * tc.weights[i] / total
				got := float64(count[n.Name])
				if math.Abs(got-want) > 0.10*want {
					t.Errorf("%s (weight %v) owns %v blocks; want %v ± 10%%", n.Name, tc.weights[i], got, want)
				}
			}
		})
	}
}

func TestOwnersMovement(t *testing.T) {
	keys := blockKeys(10000)
	for _, n := range []int{2, 4, 8, 16} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			base := nodes(n)
			before, beforeSec := owners(newView(base), keys)

			// A member joins: only blocks it takes move.
			joined := append(nodes(n), Node{Name: "newcomer", Weight: 1})
			after, _ := owners(newView(joined), keys)
			moved := 0
			for i := range keys {
				if before[i] != after[i] {
					moved++
					if after[i] != "newcomer" {
						t.Fatalf("key %d moved from %s to %s on a join", i, before[i], after[i])
					}
				}
			}
			checkMoved(t, "join", moved, len(keys), n+1)

			// A member leaves: only its blocks move, each to its secondary.
			left := base[1:]
			after, _ = owners(newView(left), keys)
			moved = 0
			for i := range keys {
				if before[i] != after[i] {
					moved++
					if before[i] != base[0].Name || after[i] != beforeSec[i] {
						t.Fatalf("key %d moved from %s to %s (secondary %s) when %s left", i, before[i], after[i], beforeSec[i], base[0].Name)
					}
				}
			}
			checkMoved(t, "leave", moved, len(keys), n)
		})
	}
}

func checkMoved(t *testing.T, event string, moved, total, n int) {
	t.Helper()
	f := float64(moved) / float64(total)
	if lo, hi := 0.5/float64(n), 1.5/float64(n); f < lo || f > hi {
		t.Errorf("%s with %d members: %.3f of blocks changed owner; want between %.3f and %.3f", event, n, f, lo, hi)
	}
}

func TestOwnersEdge(t *testing.T) {
	if p, s := newView(nil).Owners("k"); p != -1 || s != -1 {
		t.Errorf("empty view: owners %d, %d; want -1, -1", p, s)
	}
	if p, s := newView(nodes(1)).Owners("k"); p != 0 || s != -1 {
		t.Errorf("one member: owners %d, %d; want 0, -1", p, s)
	}
	// Every member computes the same owners, whatever order it learnt of
	// the others in.
	a, b := nodes(5), nodes(5)
	b[0], b[4] = b[4], b[0]
	va, vb := newView(a), newView(b)
	if va.Hash() != vb.Hash() {
		t.Error("same members, different view hashes")
	}
	for _, k := range blockKeys(100) {
		pa, sa := va.Owners(k)
		pb, sb := vb.Owners(k)
		if va.Nodes[pa] != vb.Nodes[pb] || va.Nodes[sa] != vb.Nodes[sb] {
			t.Fatalf("key %q: owners differ with member order", k)
		}
	}
}

func TestMeta(t *testing.T) {
	m := meta{DataAddr: "127.0.0.1:7947", Zone: "us-east-1a", Weight: 1.5, Store: storeHash("s3://bucket/prefix"), BlockSize: 8 << 20}
	b := m.encode()
	got, err := decodeMeta(b)
	if err != nil || got != m {
		t.Fatalf("decode(encode(m)) = %+v, %v; want %+v", got, err, m)
	}
	for i := range b {
		if _, err := decodeMeta(b[:i]); err == nil {
			t.Errorf("metadata cut to %d of %d bytes decoded", i, len(b))
		}
	}
	if _, err := decodeMeta(append(b, 0)); err == nil {
		t.Error("metadata with a trailing byte decoded")
	}
}

func planOwners(v *View, name string, nblocks int64) []string {
	key := func(i int64) string { return fmt.Sprintf("%s|%d", name, i) }
	var out []string
	for i := range nblocks {
		p, s := v.BlockOwners(name, nblocks, i, key)
		if p == s {
			panic("primary is secondary")
		}
		out = append(out, v.Nodes[p].Name)
	}
	return out
}

// TestBlockOwnersBounded: one object's blocks spread over all members,
// none owning more than ceil(LoadFactor × its share), and a join or leave
// moves between 0.5/N and 1.5/N of them.
func TestBlockOwnersBounded(t *testing.T) {
	for _, tc := range []struct {
		members int
		blocks  int64
	}{{4, 32}, {8, 32}, {8, 256}, {16, 1000}, {3, 7}} {
		t.Run(fmt.Sprintf("%d members, %d blocks", tc.members, tc.blocks), func(t *testing.T) {
			var movedJoin, movedLeave, total int
			for obj := range 10 {
				name := fmt.Sprintf("object-%d", obj)
				base := nodes(tc.members)
				before := planOwners(newView(base), name, tc.blocks)
				count := map[string]int64{}
				for _, o := range before {
					count[o]++
				}
				limit := int64(math.Ceil(LoadFactor * float64(tc.blocks) / float64(tc.members)))
				for n, c := range count {
					if c > limit {
						t.Fatalf("%s: %s owns %d of %d blocks; limit %d", name, n, c, tc.blocks, limit)
					}
				}
				joined := planOwners(newView(append(nodes(tc.members), Node{Name: "newcomer", Weight: 1})), name, tc.blocks)
				left := planOwners(newView(base[1:]), name, tc.blocks)
				for i := range before {
					if before[i] != joined[i] {
						movedJoin++
					}
					if before[i] != left[i] {
						movedLeave++
					}
				}
				total += len(before)
			}
			fj, fl := float64(movedJoin)/float64(total), float64(movedLeave)/float64(total)
			t.Logf("moved on a join %.3f (1/N = %.3f), on a leave %.3f (1/N = %.3f)", fj, 1/float64(tc.members+1), fl, 1/float64(tc.members))
			if tc.blocks >= 32 {
				checkMoved(t, "join", movedJoin, total, tc.members+1)
				checkMoved(t, "leave", movedLeave, total, tc.members)
			}
		})
	}
}
