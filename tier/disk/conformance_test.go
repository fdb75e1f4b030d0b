package disk

import (
	"testing"

	"github.com/tierfs/tierfs/tier"
	"github.com/tierfs/tierfs/tier/tiertest"
)

func TestConformance(t *testing.T) {
	tiertest.Run(t, tiertest.Harness{
		New: func(t *testing.T, capacity int64) tier.Tier {
			cfg := tier.DiskConfig{Dirs: []string{t.TempDir(), t.TempDir()}, Quota: capacity}
			return openTier(t, cfg, nil)
		},
		Settle: func(t *testing.T, tr tier.Tier) {
			if err := tr.(*Tier).Flush(t.Context()); err != nil {
				t.Fatal(err)
			}
		},
	})
}
