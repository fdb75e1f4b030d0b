package disk

import (
	"testing"

	"github.com/tierfs/tierfs/tier"
	"github.com/tierfs/tierfs/tier/tiertest"
)

func TestConformance(t *testing.T) {
	tiertest.Run(t, harness(2))
}

// TestConformanceOneDir runs the suite over one directory, where the
// tier is one exact LRU, so that the suite checks that Contains does not
// count as a use.
func TestConformanceOneDir(t *testing.T) {
	h := harness(1)
	h.LRU = true
	tiertest.Run(t, h)
}

func harness(dirs int) tiertest.Harness {
	return tiertest.Harness{
		New: func(t *testing.T, capacity int64) tier.Tier {
			cfg := tier.DiskConfig{Quota: capacity}
			for range dirs {
				cfg.Dirs = append(cfg.Dirs, t.TempDir())
			}
			return openTier(t, cfg, nil)
		},
		Settle: func(t *testing.T, tr tier.Tier) {
			if err := tr.(*Tier).Flush(t.Context()); err != nil {
				t.Fatal(err)
			}
		},
	}
}
