package memory

// NewWithHash is New with the key hash replaced, so tests can make keys
// collide.
func NewWithHash(cfg Config, hash func(string) (uint64, uint64)) (*Tier, error) {
	return newTier(cfg, hash, false)
}

// NewWithMetrics is New with ristretto's metrics on.
func NewWithMetrics(cfg Config) (*Tier, error) {
	return newTier(cfg, keyHash, true)
}

// RistrettoGets is how many lookups (Get) ristretto has seen, counted one
// by one as each is made (each one also records an access for the
// frequency sketch, in batches). The tier must be from NewWithMetrics.
func (t *Tier) RistrettoGets() uint64 {
	return t.c.Metrics.Hits() + t.c.Metrics.Misses()
}

// Collisions is how many lookups found an entry of another key under the
// same hash.
func (t *Tier) Collisions() int64 { return t.collisions.Load() }

// PolicyUsed is the cost ristretto's policy holds against MaxCost.
func (t *Tier) PolicyUsed() int64 { return t.c.MaxCost() - t.c.RemainingCost() }

// Held calls f for every entry in ristretto's store.
func (t *Tier) Held(f func(key string, data []byte, cost int64)) {
	t.c.IterValues(func(e *entry) bool {
		f(e.key, e.data, e.cost)
		return false
	})
}
