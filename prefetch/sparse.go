package prefetch

import (
	"io"

	"github.com/tierfs/tierfs/cache"
)

// Sparse reads of a block fetch only their bytes until the block looks
// dense: once reads have asked for a sixteenth of it (and at least
// denseMin bytes), the next miss loads it whole.
const (
	denseFraction = 16
	denseMin      = 64 << 10
	maxSparse     = 4096 // blocks tracked per Reader; the record restarts beyond
)

type sparseUse struct {
	bytes int64 // asked by sparse reads
}

// readSparse serves a read that belongs to no established stream, block
// by block: only the bytes asked for (which the cache keeps as an
// extent), unless the block is cached, being loaded, or dense enough to
// load whole. Consecutive blocks read the same way go to the cache in one
// call, so a read across blocks that fetches only its bytes is one
// request.
func (r *Reader) readSparse(p []byte, off int64) (int64, error) {
	type span struct {
		n      int64
		sparse bool
	}
	var spans []span
	r.mu.Lock()
	if r.sparse == nil || len(r.sparse) >= maxSparse {
		r.sparse = map[int64]sparseUse{}
	}
	for done := int64(0); done < int64(len(p)); {
		pos := off + done
		idx := pos / r.bs
		n := min(int64(len(p))-done, (idx+1)*r.bs-pos)
		u := r.sparse[idx]
		sparse := u.bytes < max(r.bs/denseFraction, denseMin)
		u.bytes += n
		r.sparse[idx] = u
		if k := len(spans) - 1; k >= 0 && spans[k].sparse == sparse {
			spans[k].n += n
		} else {
			spans = append(spans, span{n: n, sparse: sparse})
		}
		done += n
	}
	r.mu.Unlock()
	var done int64
	for _, sp := range spans {
		got, err := r.p.blocks.ReadAt(r.ctx, r.obj, p[done:done+sp.n], off+done, cache.ReadOptions{Sparse: sp.sparse})
		done += int64(got)
		if err != nil && err != io.EOF {
			return done, err
		}
		if int64(got) < sp.n {
			break
		}
	}
	return done, nil
}
