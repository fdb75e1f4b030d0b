package peer_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/tierfs/tierfs/cache"
	"github.com/tierfs/tierfs/objstore"
	"github.com/tierfs/tierfs/objstore/memstore"
	"github.com/tierfs/tierfs/peer"
)

// Two members on loopback share one store's blocks: the second joins
// through the first, and each asks the other for the blocks it owns.
// tierfs.WithPeers does this wiring for an FS.
func Example() {
	ctx := context.Background()
	store := memstore.New()
	data := []byte(strings.Repeat("tierfs peer ring ", 40000)) // 680,000 bytes
	obj, err := store.Put(ctx, "model.bin", bytes.NewReader(data), objstore.PutOptions{})
	if err != nil {
		log.Fatal(err)
	}
	var members []*peer.Member
	var caches []*cache.Blocks
	for i := range 2 {
		cfg := peer.Config{
			Name: fmt.Sprintf("member-%d", i), BindAddr: "127.0.0.1", DataAddr: "127.0.0.1:0",
			Secret: []byte("a secret of at least 16 bytes"), Cluster: "example",
			StoreID: "mem://example", BlockSize: 64 << 10, Local: true,
		}
		if i > 0 {
			cfg.Seeds = []string{members[0].GossipAddr()}
		}
		m, err := peer.New(cfg) // validated here
		if err != nil {
			log.Fatal(err)
		}
		// The cache reads the origin through m.Origin, which caps the loads
		// that fall back from the ring (Config.MaxFallbacks).
		blocks, err := cache.New(cache.Config{Store: m.Origin(store), StoreID: cfg.StoreID, BlockSize: cfg.BlockSize, Peers: m})
		if err != nil {
			log.Fatal(err)
		}
		if err := m.Start(ctx, blocks); err != nil { // serves from blocks
			log.Fatal(err)
		}
		defer blocks.Close()
		defer m.Close() // leaves the ring first
		members, caches = append(members, m), append(caches, blocks)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := members[1].WaitMembers(wctx, 2); err != nil {
		log.Fatal(err)
	}
	got := make([]byte, len(data))
	if _, err := caches[1].ReadAt(ctx, obj, got, 0, cache.ReadOptions{}); err != nil {
		log.Fatal(err)
	}
	s := members[1].Stats()
	fmt.Println("members:", s.Members)
	fmt.Println("exact bytes:", bytes.Equal(got, data))
	fmt.Println("some bytes from the other member:", s.BytesFetched > 0)
	// Output:
	// members: 2
	// exact bytes: true
	// some bytes from the other member: true
}
