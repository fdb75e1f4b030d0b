package s3test

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Bandwidth caps are token buckets (golang.org/x/time/rate) refilled at the
// cap in bytes/s. The bucket holds 1/50 s of traffic (between 512 B and
// 64 KiB), so the cap holds over short intervals, and writes are cut into
// chunks no larger than that, because a Limiter refuses a reservation larger
// than its burst.
const (
	minBurst = 512
	maxBurst = 64 << 10
)

func burstFor(bw int64) int {
	return int(min(max(bw/50, minBurst), maxBurst))
}

// setLimit makes lim cap at bw bytes/s (0 = no cap).
func setLimit(lim *rate.Limiter, bw int64) {
	if bw <= 0 {
		lim.SetLimit(rate.Inf)
		return
	}
	lim.SetBurst(burstFor(bw))
	lim.SetLimit(rate.Limit(bw))
}

// listener tracks every connection the server accepts, so Close can close
// hijacked ones too, and wraps them for shaping and resets.
type listener struct {
	net.Listener
	s *Server
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	sc := l.s.track(c)
	if sc == nil {
		_ = c.Close()
		return nil, net.ErrClosed
	}
	return sc, nil
}

// track wraps and registers c; it returns nil once Close has begun.
func (s *Server) track(c net.Conn) *conn {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if s.closed {
		return nil
	}
	sc := &conn{Conn: c, s: s, lim: rate.NewLimiter(rate.Inf, 0), rlim: rate.NewLimiter(rate.Inf, 0)}
	sc.ctx, sc.cancel = context.WithCancel(s.ctx)
	s.conns[sc] = struct{}{}
	s.wg.Add(1)
	return sc
}

// conn is an accepted connection whose writes are shaped.
type conn struct {
	net.Conn
	s      *Server
	ctx    context.Context // canceled when the conn or the server closes
	cancel context.CancelFunc

	// wmu serializes writes and guards lim's configuration and bw.
	wmu sync.Mutex
	lim *rate.Limiter // per-connection cap
	bw  int64         // cap lim is set to

	// rmu serializes reads and guards rlim's configuration and rbw.
	rmu  sync.Mutex
	rlim *rate.Limiter // per-connection cap on reads
	rbw  int64

	closeOnce sync.Once
	closeErr  error
	doneOnce  sync.Once // for served
}

// served records that net/http is done with the connection: its serving
// goroutine has closed it and is returning, or a handler hijacked it (and
// the handler is counted on its own).
func (c *conn) served() {
	c.doneOnce.Do(c.s.wg.Done)
}

// connState is the http.Server's ConnState hook.
func connState(c net.Conn, st http.ConnState) {
	if st == http.StateClosed || st == http.StateHijacked {
		if sc, ok := c.(*conn); ok {
			sc.served()
		}
	}
}

func (c *conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	written := 0
	for len(p) > 0 {
		sh := c.s.currentShaping()
		if sh.ConnBandwidth != c.bw {
			setLimit(c.lim, sh.ConnBandwidth)
			c.bw = sh.ConnBandwidth
		}
		chunk := len(p)
		if sh.ConnBandwidth > 0 {
			chunk = min(chunk, burstFor(sh.ConnBandwidth))
		}
		if sh.TotalBandwidth > 0 {
			chunk = min(chunk, burstFor(sh.TotalBandwidth))
		}
		if sh.ConnBandwidth > 0 || sh.TotalBandwidth > 0 {
			ok, err := c.throttle(chunk)
			if err != nil {
				return written, err
			}
			if !ok {
				continue // the shaping changed under us; cut again
			}
		}
		n, err := c.Conn.Write(p[:chunk])
		written += n
		if err != nil {
			return written, err
		}
		p = p[chunk:]
	}
	return written, nil
}

// throttle waits until both the connection's and the server's bucket allow
// n bytes. It reports false, having waited for nothing, if n is larger than
// a bucket's burst, which happens when the shaping changed since n was cut.
func (c *conn) throttle(n int) (bool, error) {
	now := time.Now()
	r1 := c.lim.ReserveN(now, n)
	r2 := c.s.totalLimiter.ReserveN(now, n)
	if !r1.OK() || !r2.OK() {
		r1.CancelAt(now)
		r2.CancelAt(now)
		return false, nil
	}
	d := max(r1.DelayFrom(now), r2.DelayFrom(now))
	if d <= 0 {
		return true, nil
	}
	c.s.throttleWaits.Add(1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true, nil
	case <-c.ctx.Done():
		now = time.Now()
		r1.CancelAt(now)
		r2.CancelAt(now)
		return false, net.ErrClosed
	}
}

// Close closes the connection once and unregisters it.
func (c *conn) Close() error {
	c.closeOnce.Do(func() {
		c.cancel()
		c.s.connMu.Lock()
		delete(c.s.conns, c)
		c.s.connMu.Unlock()
		c.closeErr = c.Conn.Close()
	})
	return c.closeErr
}

// reset closes the connection with a TCP RST instead of a FIN.
func (c *conn) reset() {
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
