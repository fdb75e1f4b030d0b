package prefetch

import "slices"

// HeldBlocks returns the indexes of the blocks r holds, in order.
func (r *Reader) HeldBlocks() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var idx []int64
	for i := range r.held {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	return idx
}
