package peer

import (
	"context"
	"sync"
)

// Giving up together
//
// When an owner hangs, every member reading its blocks stalls on it at
// about the same time and turns to each block's secondary. The
// secondary is then usually itself waiting on the same owner for the
// same block, and must refuse to join that load (409, see
// Member.loadLocal): the asker would go to the origin, and so would the
// secondary once its own stall timer fired, two origin GETs where one
// does. So a member asks the secondary on a path of its own
// (secondPath), saying it gave up on the primary; the secondary gives up
// on its own fetch of the block from the primary at once, goes on from
// the origin, and the asker joins that load.

// fetchRun is a fetch of a block from a peer in progress.
type fetchRun struct {
	stop context.CancelCauseFunc
	done chan struct{} // closed when the fetch has returned
}

// inflight is a member's fetches from peers in progress, by block key.
type inflight struct {
	mu   sync.Mutex // guards runs
	runs map[string]*fetchRun
}

// track records a fetch of block key from a peer, stopped by stop, and
// returns the function that ends the record once the fetch returns.
func (m *Member) track(key string, stop context.CancelCauseFunc) (untrack func()) {
	r := &fetchRun{stop: stop, done: make(chan struct{})}
	in := &m.inflight
	in.mu.Lock()
	if in.runs == nil {
		in.runs = make(map[string]*fetchRun)
	}
	in.runs[key] = r
	in.mu.Unlock()
	return func() {
		in.mu.Lock()
		if in.runs[key] == r {
			delete(in.runs, key)
		}
		in.mu.Unlock()
		close(r.done)
	}
}

// giveUp stops this member's fetch of block key from a peer, if one is
// running, and returns a channel closed once it has returned; nil if
// none runs.
func (m *Member) giveUp(key string) <-chan struct{} {
	in := &m.inflight
	in.mu.Lock()
	r := in.runs[key]
	in.mu.Unlock()
	if r == nil {
		return nil
	}
	r.stop(errGaveUp)
	return r.done
}
