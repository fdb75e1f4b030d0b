package disk

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tierfs/tierfs/tier"
)

// TestDirRemovedOneOwner: after rm -rf of a live cache directory, another
// tier can make and lock it again (the lock file is a new one); the first
// tier, finding its lock file gone or replaced, gives the directory up:
// its probe never re-admits it, its fills are dropped and it reads none
// of the other's blocks, so the directory has one owner (issue 11,
// finding 7: the first tier's probe re-admitted it and both wrote there).
func TestDirRemovedOneOwner(t *testing.T) {
	for _, remade := range []bool{true, false} {
		name := map[bool]string{true: "remade-by-another", false: "removed"}[remade]
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "cache")
			clock := newFakeClock()
			cfg := tier.DiskConfig{Dirs: []string{path}, Quota: 1 << 30, MinFreeRatio: -1, FillQueue: 100,
				IOTimeout: 5 * time.Second, ProbeInterval: 30 * time.Second}
			first := openTier(t, cfg, &Options{Clock: clock})
			<-first.dirs[0].ready
			for i := range 10 {
				first.Put(t.Context(), testKey(i), testData(i))
			}
			flush(t, first)
			if err := os.RemoveAll(path); err != nil {
				t.Fatal(err)
			}
			var second *Tier
			if remade {
				second = openTier(t, cfg, nil)
				for i := 100; i < 110; i++ {
					second.Put(t.Context(), testKey(i), testData(i))
				}
				flush(t, second)
			} else if err := os.MkdirAll(filepath.Join(path, layoutDir), 0o700); err != nil {
				// The directory made again by hand, with no lock file.
				t.Fatal(err)
			}
			// Maintenance passes and a probe that is due.
			first.maintain()
			clock.Advance(cfg.ProbeInterval)
			first.maintain()
			clock.Advance(cfg.ProbeInterval)
			first.maintain()
			d := first.dirs[0]
			d.mu.Lock()
			sick := d.sick
			d.mu.Unlock()
			if !sick {
				t.Fatal("the first tier re-admitted a directory whose lock file is gone")
			}
			dropped := first.Stats().Dropped
			first.Put(t.Context(), testKey(200), testData(200))
			flush(t, first)
			if first.Stats().Dropped != dropped+1 {
				t.Error("the first tier wrote into a directory it no longer owns")
			}
			if remade {
				for i := 100; i < 110; i++ {
					if _, err := first.ReadAt(t.Context(), testKey(i), make([]byte, 10), 0); !errors.Is(err, tier.ErrMiss) {
						t.Fatalf("the first tier read the second's block: %v", err)
					}
				}
				for i := 100; i < 110; i++ {
					if !readBlock(t, second, testKey(i), testData(i)) {
						t.Fatal("the second tier lost a block")
					}
				}
			} else {
				// Nobody else holds it: a new tier may take it.
				if _, err := os.Stat(filepath.Join(path, lockName)); !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("the first tier made a lock file again: %v", err)
				}
			}
		})
	}
}
