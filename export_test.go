package tierfs

// SettleTiers waits until the tiers that admit blocks asynchronously (the
// memory tier) have applied every Put and Delete made so far, so tests
// can read Stats without polling.
func SettleTiers(fsys *FS) {
	for _, t := range fsys.tiers {
		if w, ok := t.(interface{ Wait() }); ok {
			w.Wait()
		}
	}
}

// WaitLoads waits until no block load is in progress.
func (fsys *FS) WaitLoads() { fsys.blocks.Wait() }
