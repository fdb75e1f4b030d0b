package tierfs

import (
	"log/slog"

	"github.com/tierfs/tierfs/cache"
	"github.com/tierfs/tierfs/tier"
	"github.com/tierfs/tierfs/tier/disk"
	"github.com/tierfs/tierfs/tier/memory"
)

// newTiers builds the tiers the options ask for, fastest first.
func newTiers(o options, log *slog.Logger) ([]tier.Tier, error) {
	var tiers []tier.Tier
	mem := o.memBytes
	if mem < 0 {
		mem = defaultMemoryCache()
	}
	bs := o.blockSize
	if bs == 0 {
		bs = cache.DefaultBlockSize
	}
	if mem > 0 {
		cfg := memory.DefaultConfig(mem)
		cfg.ExpectedBlockSize = bs
		cfg.NumCounters = 0
		m, err := memory.New(cfg)
		if err != nil {
			return nil, err
		}
		tiers = append(tiers, m)
	}
	if o.disk != nil {
		d, err := disk.Open(*o.disk, &disk.Options{Logger: log})
		if err != nil {
			closeTiers(tiers)
			return nil, err
		}
		tiers = append(tiers, d)
	}
	return tiers, nil
}
