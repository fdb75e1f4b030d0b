package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tierfs/tierfs"
	"github.com/tierfs/tierfs/cache"
	"github.com/tierfs/tierfs/peer"
)

// fleetMembers is how many nodes scenario 7c starts at once.
const fleetMembers = 8

// 7c. A fleet of nodes starting at once on one model: fleetMembers FS
// values in this process, each with its own store client and tiers, form
// a peer ring on loopback and read the big object at once, cold. The
// figure is origin bytes ÷ model size (goal ≤ 1.05: each block from the
// origin about once); examples/fleet does the same with OS processes.
func (e *env) fleet(ctx context.Context) error {
	size := e.cfg.size
	sc := fmt.Sprintf("7c. fleet of %d nodes starting at once on one model (%s)", fleetMembers, human(size))
	secret := make([]byte, 32)
	rand.Read(secret)
	var members []*benchFS
	defer func() {
		for _, m := range members {
			m.Close()
		}
	}()
	var seeds []string
	for i := range fleetMembers {
		fsys, err := e.newFS(ctx,
			// Each member keeps the blocks it owns (about 1/N of the model,
			// at most 1.25/N): a quarter of the model leaves room.
			tierfs.WithMemoryCache(size/4+64<<20),
			tierfs.WithPeers(peer.Config{
				Name: fmt.Sprintf("bench-%d", i), BindAddr: "127.0.0.1", DataAddr: "127.0.0.1:0",
				Seeds: seeds, Secret: secret, Cluster: "bench", Local: true,
			}))
		if err != nil {
			return err
		}
		members = append(members, fsys)
		seeds = append(seeds, fsys.Peer().GossipAddr())
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, m := range members {
		if err := m.Peer().WaitMembers(wctx, fleetMembers); err != nil {
			return err
		}
	}
	e.srv.ResetStats()
	var total int64
	var mu sync.Mutex
	m, err := measure(func() error {
		errs := make([]error, len(members))
		var wg sync.WaitGroup
		for i, fsys := range members {
			wg.Go(func() {
				n, err := copyFile(fsys, bigKey)
				if err == nil && n != size {
					err = fmt.Errorf("read %d of %d bytes", n, size)
				}
				errs[i] = err
				mu.Lock()
				total += n
				mu.Unlock()
			})
		}
		wg.Wait()
		return errors.Join(errs...)
	})
	if err != nil {
		return fmt.Errorf("7c: %w", err)
	}
	st := e.srv.Total()
	var fetched, maxServed, served int64
	for _, fsys := range members {
		ps := fsys.Stats().Peers
		fetched += ps.BytesFetched
		served += ps.BytesServed
		maxServed = max(maxServed, ps.BytesServed)
	}
	r := e.res
	r.add(row{Scenario: sc, Name: "origin bytes / model size", Value: float64(st.BodyBytes) / float64(size), Unit: "×", Role: roleTierfs,
		Note: fmt.Sprintf("%d GETs, %s from the origin; %s between members", st.Gets, human(st.BodyBytes), human(fetched))}).atMost(1.05, "×")
	r.add(row{Scenario: sc, Name: "all nodes loaded in", Value: m.wall.Seconds(), Unit: "s", CPU: m.cpu, Role: roleTierfs,
		Note: fmt.Sprintf("%s read in all; %.0f MB/s per node", human(total), mbps(total/int64(len(members)), m.wall))})
	if served > 0 {
		mean := float64(served) / float64(len(members))
		r.add(row{Scenario: sc, Name: "busiest node served / mean", Value: float64(maxServed) / mean, Unit: "×", Role: roleInfo}).
			reference("≤ 1.25× the mean + one block", float64(maxServed) <= 1.25*mean+float64((fleetMembers-1)*cache.DefaultBlockSize))
	}
	return nil
}
