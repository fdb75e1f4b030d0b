package memstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tierfs/tierfs/objstore"
)

// The operations counted by [Store.Stats] and named in faults. They equal
// the Op of the *objstore.Error the operation returns.
const (
	OpStat   = "stat"   // Store.Stat
	OpRead   = "read"   // one body opened by a Reader (the first or a resume)
	OpList   = "list"   // Store.List; the key is ListOptions.Prefix
	OpPut    = "put"    // Store.Put
	OpDelete = "delete" // Store.Delete
)

// Stats counts the requests a Store served, as an S3 server would see
// them. A request counts once its key is valid and its context is not
// done, whether it then succeeds or fails.
type Stats struct {
	Requests  int64 // all operations
	Heads     int64 // Stat calls
	Gets      int64 // bodies opened: first opens and resumes
	BodyBytes int64 // body bytes delivered to readers
	Puts      int64 // Put calls
	PutBytes  int64 // bytes stored by successful Puts
	Deletes   int64 // Delete calls
	Lists     int64 // List calls; per key under ListOptions.Prefix
	Faults    int64 // injected faults that fired: cut bodies and failed calls
}

func (s *Stats) add(op string) {
	s.Requests++
	switch op {
	case OpStat:
		s.Heads++
	case OpRead:
		s.Gets++
	case OpPut:
		s.Puts++
	case OpDelete:
		s.Deletes++
	case OpList:
		s.Lists++
	}
}

// instruments holds a Store's counters and injected faults. Its lock is
// never held together with Store.mu, nor while waiting or calling a hook.
type instruments struct {
	mu      sync.Mutex // guards every field below
	perKey  map[string]*Stats
	total   Stats
	cuts    map[string]*cut
	fails   []*failure
	latency time.Duration
	hook    func(ctx context.Context, op, key string) error
	policy  objstore.RetryPolicy
}

type cut struct {
	after int64
	times int // < 0: forever
}

type failure struct {
	op, key string // key "" matches every key
	err     error
	times   int // < 0: forever
}

// keyStats returns the counters of key, creating them. Call with mu held.
func (in *instruments) keyStats(key string) *Stats {
	st := in.perKey[key]
	if st == nil {
		if in.perKey == nil {
			in.perKey = make(map[string]*Stats)
		}
		st = new(Stats)
		in.perKey[key] = st
	}
	return st
}

// request accounts for one operation and applies the latency, the hook
// and any FailNext fault to it, in that order.
func (in *instruments) request(ctx context.Context, op, key string) error {
	if err := ctx.Err(); err != nil {
		return ctxErr(op, key, err)
	}
	in.mu.Lock()
	in.total.add(op)
	in.keyStats(key).add(op)
	latency, hook := in.latency, in.hook
	in.mu.Unlock()

	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctxErr(op, key, ctx.Err())
		}
	}
	if hook != nil {
		if err := hook(ctx, op, key); err != nil {
			return objstore.NewError(op, key, nil, fmt.Errorf("mem: hook: %w", err))
		}
	}

	in.mu.Lock()
	defer in.mu.Unlock()
	for i, f := range in.fails {
		if f.op != op || (f.key != "" && f.key != key) {
			continue
		}
		if f.times > 0 {
			f.times--
			if f.times == 0 {
				in.fails = append(in.fails[:i:i], in.fails[i+1:]...)
			}
		}
		in.total.Faults++
		in.keyStats(key).Faults++
		return objstore.NewError(op, key, nil, fmt.Errorf("mem: injected by FailNext: %w", f.err))
	}
	return nil
}

// takeCut reports whether the body being opened for key is to be cut, and
// after how many bytes.
func (in *instruments) takeCut(key string) (after int64, ok bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	c := in.cuts[key]
	if c == nil {
		return 0, false
	}
	if c.times > 0 {
		c.times--
		if c.times == 0 {
			delete(in.cuts, key)
		}
	}
	in.total.Faults++
	in.keyStats(key).Faults++
	return c.after, true
}

func (in *instruments) addBodyBytes(key string, n int) {
	if n <= 0 {
		return
	}
	in.mu.Lock()
	in.total.BodyBytes += int64(n)
	in.keyStats(key).BodyBytes += int64(n)
	in.mu.Unlock()
}

func (in *instruments) addPutBytes(key string, n int) {
	in.mu.Lock()
	in.total.PutBytes += int64(n)
	in.keyStats(key).PutBytes += int64(n)
	in.mu.Unlock()
}

func (in *instruments) retryPolicy() objstore.RetryPolicy {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.policy
}

// Stats returns the counters of key (of ListOptions.Prefix for List).
func (s *Store) Stats(key string) Stats {
	s.inst.mu.Lock()
	defer s.inst.mu.Unlock()
	if st := s.inst.perKey[key]; st != nil {
		return *st
	}
	return Stats{}
}

// RequestStats returns the requests the Store served, as
// objstore.RequestStats: [Store.Total] in that shape. Gets, Heads, Lists,
// Puts and Deletes are Total's; Other is always 0; BytesIn is BodyBytes
// (body bytes delivered to readers) and BytesOut is PutBytes (bytes
// stored by successful Puts). ResetStats resets it too.
func (s *Store) RequestStats() objstore.RequestStats {
	t := s.Total()
	return objstore.RequestStats{
		Gets: t.Gets, Heads: t.Heads, Lists: t.Lists, Puts: t.Puts, Deletes: t.Deletes,
		BytesIn: t.BodyBytes, BytesOut: t.PutBytes,
	}
}

// Total returns the counters of all keys together.
func (s *Store) Total() Stats {
	s.inst.mu.Lock()
	defer s.inst.mu.Unlock()
	return s.inst.total
}

// ResetStats sets every counter to zero. Faults stay in place.
func (s *Store) ResetStats() {
	s.inst.mu.Lock()
	defer s.inst.mu.Unlock()
	s.inst.perKey = nil
	s.inst.total = Stats{}
}

// CutReads makes the next times bodies opened for key end after `after`
// bytes with an error wrapping io.ErrUnexpectedEOF, as a reset connection
// would; times < 0 cuts every body until [Store.ClearFaults], and 0
// removes the cut. A Reader resumes cut bodies (each resume is a new body,
// cut again while the fault lasts) until its retry policy is spent; see
// [Store.SetRetryPolicy].
func (s *Store) CutReads(key string, after int64, times int) {
	s.inst.mu.Lock()
	defer s.inst.mu.Unlock()
	if times == 0 {
		delete(s.inst.cuts, key)
		return
	}
	if s.inst.cuts == nil {
		s.inst.cuts = make(map[string]*cut)
	}
	s.inst.cuts[key] = &cut{after: max(after, 0), times: times}
}

// FailNext makes the next times calls of op (OpStat, OpRead, OpList, OpPut,
// OpDelete) on key fail with an *objstore.Error wrapping err; key "" matches
// every key, and for OpList the key is ListOptions.Prefix. times < 0 fails
// every call until [Store.ClearFaults]. For OpRead every body opened counts,
// so a failure can hit a Reader's resume as well as its first open. Pass a
// sentinel such as fs.ErrNotExist or objstore.ErrChanged as err to see how
// callers treat it; an err without one is treated as transient by Readers.
// Earlier faults are matched first.
func (s *Store) FailNext(op, key string, err error, times int) {
	if times == 0 {
		return
	}
	s.inst.mu.Lock()
	defer s.inst.mu.Unlock()
	s.inst.fails = append(s.inst.fails, &failure{op: op, key: key, err: err, times: times})
}

// SetLatency delays every request by d before it is served, as a remote
// store's first-byte latency would; a request whose context ends meanwhile
// fails with the context's error. Zero removes the delay. The delay uses a
// timer, so tests under testing/synctest see it as fake time.
func (s *Store) SetLatency(d time.Duration) {
	s.inst.mu.Lock()
	defer s.inst.mu.Unlock()
	s.inst.latency = d
}

// SetHook makes every request call hook(ctx, op, key) after the latency and
// before it is served (for OpRead, before each body is opened); a non-nil
// error fails the request with an *objstore.Error wrapping it. hook may
// block, for example on a channel a test closes to release a request, and
// is called concurrently from every goroutine that uses the Store; it
// should return when ctx is done. Nil removes the hook.
func (s *Store) SetHook(hook func(ctx context.Context, op, key string) error) {
	s.inst.mu.Lock()
	defer s.inst.mu.Unlock()
	s.inst.hook = hook
}

// ClearFaults removes every cut, failure, latency and hook.
func (s *Store) ClearFaults() {
	s.inst.mu.Lock()
	defer s.inst.mu.Unlock()
	s.inst.cuts = nil
	s.inst.fails = nil
	s.inst.latency = 0
	s.inst.hook = nil
}

// SetRetryPolicy sets the policy of the Readers the Store opens from now
// on; the zero value means objstore's defaults (5 resumes, backoff from
// 50ms). Tests that cut bodies often lower BaseDelay to run fast.
func (s *Store) SetRetryPolicy(p objstore.RetryPolicy) {
	s.inst.mu.Lock()
	defer s.inst.mu.Unlock()
	s.inst.policy = p
}
