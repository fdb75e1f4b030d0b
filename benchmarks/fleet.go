package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sync"
	"sync/atomic"
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
	// Each member keeps the blocks it owns (about 1/N of the model, at
	// most 1.25/N): a quarter of the model leaves room.
	members, err := e.startRing(ctx, size/4+64<<20)
	defer closeAll(members)
	if err != nil {
		return err
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

// startRing starts fleetMembers cold FS values over the bench bucket, each
// with a memory tier of memBytes, in a peer ring on loopback, and waits
// until each sees all. The caller closes them (also on error).
func (e *env) startRing(ctx context.Context, memBytes int64) ([]*benchFS, error) {
	secret := make([]byte, 32)
	rand.Read(secret)
	var members []*benchFS
	var seeds []string
	for i := range fleetMembers {
		fsys, err := e.newFS(ctx,
			tierfs.WithMemoryCache(memBytes),
			tierfs.WithPeers(peer.Config{
				Name: fmt.Sprintf("bench-%d", i), BindAddr: "127.0.0.1", DataAddr: "127.0.0.1:0",
				Seeds: seeds, Secret: secret, Cluster: "bench", Local: true,
			}))
		if err != nil {
			return members, err
		}
		members = append(members, fsys)
		seeds = append(seeds, fsys.Peer().GossipAddr())
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, m := range members {
		if err := m.Peer().WaitMembers(wctx, fleetMembers); err != nil {
			return members, err
		}
	}
	return members, nil
}

func closeAll(members []*benchFS) {
	for _, m := range members {
		m.Close()
	}
}

// Scenario 7d's data set: the 8 members × 2,000 files of 48 KiB.
const (
	fleetDir      = "fleet-files"
	fleetFiles    = 2000
	fleetFileSize = 48 << 10
	fleetWorkers  = 16 // ReadFile calls at once per member
)

// 7d. A fleet on many small files: fleetMembers FS values in a ring read
// the same fleetFiles files of 48 KiB at once with fs.ReadFile,
// fleetWorkers at a time each, every member starting at another place in
// the list. The figure is origin body bytes ÷ data set (goal ≤ 1.05: the
// version comes from the origin by HEAD, the bytes from the ring).
func (e *env) fleetSmallFiles(ctx context.Context) error {
	data := int64(fleetFiles * fleetFileSize)
	sc := fmt.Sprintf("7d. fleet of %d nodes reading %d files of %s at once (%s)", fleetMembers, fleetFiles, human(fleetFileSize), human(data))
	members, err := e.startRing(ctx, data/4+64<<20)
	defer closeAll(members)
	if err != nil {
		return err
	}
	names := make([]string, fleetFiles)
	for i := range names {
		names[i] = fmt.Sprintf("%s/f%05d.bin", fleetDir, i)
	}
	e.srv.ResetStats()
	var total atomic.Int64
	m, err := measure(func() error {
		errs := make([]error, len(members))
		var wg sync.WaitGroup
		for k, fsys := range members {
			wg.Go(func() {
				mine := append(slices.Clone(names[k*fleetFiles/fleetMembers:]), names[:k*fleetFiles/fleetMembers]...)
				errs[k] = forEach(mine, fleetWorkers, func(name string) error {
					b, err := fs.ReadFile(fsys, name)
					if err == nil && len(b) != fleetFileSize {
						err = fmt.Errorf("%s: read %d of %d bytes", name, len(b), fleetFileSize)
					}
					total.Add(int64(len(b)))
					return err
				})
			})
		}
		wg.Wait()
		return errors.Join(errs...)
	})
	if err != nil {
		return fmt.Errorf("7d: %w", err)
	}
	st := e.srv.Total()
	var fetched int64
	for _, fsys := range members {
		fetched += fsys.Stats().Peers.BytesFetched
	}
	r := e.res
	r.add(row{Scenario: sc, Name: "origin body bytes / data set", Value: float64(st.BodyBytes) / float64(data), Unit: "×", Role: roleTierfs,
		Note: fmt.Sprintf("%d GETs, %d HEADs, %s from the origin; %s between members", st.Gets, st.Heads, human(st.BodyBytes), human(fetched))}).atMost(1.05, "×")
	r.add(row{Scenario: sc, Name: "all nodes read in", Value: m.wall.Seconds(), Unit: "s", CPU: m.cpu, Role: roleTierfs,
		Note: fmt.Sprintf("%s read in all; %.0f files/s per node", human(total.Load()), float64(fleetFiles)/m.wall.Seconds())})
	return nil
}
