package peer

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/tierfs/tierfs/cache"
	"github.com/tierfs/tierfs/objstore/memstore"
)

// suspicionBound is how long memberlist (DefaultLocalConfig, as
// Config.Local) may take to declare a crashed member of a ring of n dead
// when no other member confirms it, the longest suspicion: a probe
// interval and timeout to notice, then SuspicionMaxTimeoutMult ×
// SuspicionMult × max(1, log10(n)) probe intervals.
func suspicionBound(n int) time.Duration {
	c := memberlist.DefaultLocalConfig()
	susp := float64(c.SuspicionMaxTimeoutMult*c.SuspicionMult) * math.Max(1, math.Log10(float64(n))) * float64(c.ProbeInterval)
	return c.ProbeInterval + c.ProbeTimeout + time.Duration(susp)
}

// TestChurn: while members read fresh objects through the ring, one
// member leaves gracefully, one joins and one crashes (no leave, no
// answers). After each event the views of the members left agree
// within the suspicion time + 2 s, and the blocks of an object that
// change primary owner from the agreed view before to the one after are
// between 0.5/N and 1.5/N; no read fails and every byte is exact.
func TestChurn(t *testing.T) {
	store := memstore.New()
	sync1s := func(i int, c *Config) { c.SyncInterval = time.Second }
	ms := startRing(t, store, 6, sync1s)

	// Readers on three members that stay: each reads a new object of 8
	// blocks, cold, again and again until the events are done.
	stop := make(chan struct{})
	var reads, bad atomic.Int64
	var wg sync.WaitGroup
	for r, m := range ms[:3] {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				obj, data := putObject(t, store, fmt.Sprintf("churn/%d-%d.bin", r, i), 8*testBlock)
				got := make([]byte, len(data))
				if _, err := m.blocks.ReadAt(t.Context(), obj, got, 0, cache.ReadOptions{}); err != nil {
					t.Errorf("%s: read %s: %v", m.Name(), obj.Key, err)
					bad.Add(1)
				} else if !bytes.Equal(got, data) {
					t.Errorf("%s: read %s: wrong bytes", m.Name(), obj.Key)
					bad.Add(1)
				}
				reads.Add(1)
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()

	// agree waits until every member in live sees exactly live and returns
	// the view they agree on and how long it took.
	agree := func(event string, live []*member) (*View, time.Duration) {
		t.Helper()
		start := time.Now()
		var want []string
		for _, m := range live {
			want = append(want, m.Name())
		}
		slices.Sort(want)
		bound := suspicionBound(len(live)+1) + 2*time.Second
		ctx, cancel := context.WithTimeout(t.Context(), bound)
		defer cancel()
		for _, m := range live {
			for {
				v := m.View()
				var names []string
				for _, n := range v.Nodes {
					names = append(names, n.Name)
				}
				if slices.Equal(names, want) {
					break
				}
				select {
				case <-v.Changed():
				case <-ctx.Done():
					t.Fatalf("%s: %s sees %v, not %v, %v after the event (suspicion time + 2 s)", event, m.Name(), names, want, bound)
				}
			}
		}
		return live[0].View(), time.Since(start)
	}
	const nblocks = 4096
	moved := func(event string, before, after *View, n int) {
		t.Helper()
		b, a := planOwners(before, "moved.bin", nblocks), planOwners(after, "moved.bin", nblocks)
		m := 0
		for i := range b {
			if b[i] != a[i] {
				m++
			}
		}
		f := float64(m) / nblocks
		lo, hi := 0.5/float64(n), 1.5/float64(n)
		t.Logf("%s: %.3f of %d blocks changed primary owner (1/N = %.3f)", event, f, nblocks, 1/float64(n))
		if f < lo || f > hi {
			t.Errorf("%s: %.3f of blocks changed primary owner; want between %.3f and %.3f", event, f, lo, hi)
		}
	}

	before, _ := agree("start", ms)
	readsBefore := reads.Load()

	// A graceful leave.
	if err := ms[5].Close(); err != nil {
		t.Errorf("graceful leave: %v", err)
	}
	live := ms[:5]
	after, took := agree("graceful leave", live)
	t.Logf("graceful leave: views agree after %v", took)
	moved("graceful leave", before, after, 6)

	// A join.
	before = after
	cfg := testConfig(ms[0].GossipAddr(), ms[1].GossipAddr())
	cfg.Name = "joiner"
	sync1s(0, &cfg)
	live = append(slices.Clone(live), startMember(t, store, cfg))
	after, took = agree("join", live)
	t.Logf("join: views agree after %v", took)
	moved("join", before, after, 6)

	// A crash.
	before = after
	crash(t, live[4])
	live = slices.Delete(slices.Clone(live), 4, 5)
	after, took = agree("crash", live)
	t.Logf("crash: views agree after %v (longest suspicion %v)", took, suspicionBound(6))
	moved("crash", before, after, 6)

	if n := reads.Load() - readsBefore; n < 3 {
		t.Errorf("%d reads during the events; want reads going on throughout", n)
	}
	t.Logf("%d reads of 8 blocks during the events, %d failed", reads.Load()-readsBefore, bad.Load())
}
