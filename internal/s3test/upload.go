package s3test

import (
	"net"
	"time"
)

// Upload shaping: Shaping.UpConnBandwidth and UpTotalBandwidth cap the
// bytes the server reads, so that uploads (PutObject, UploadPart) cross an
// emulated link as downloads do. A read takes at most one burst of bytes
// and then waits until the buckets have paid for what it got.

func (c *conn) Read(p []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	sh := c.s.currentShaping()
	if sh.UpConnBandwidth != c.rbw {
		setLimit(c.rlim, sh.UpConnBandwidth)
		c.rbw = sh.UpConnBandwidth
	}
	if sh.UpConnBandwidth <= 0 && sh.UpTotalBandwidth <= 0 {
		return c.Conn.Read(p)
	}
	if sh.UpConnBandwidth > 0 {
		p = p[:min(len(p), burstFor(sh.UpConnBandwidth))]
	}
	if sh.UpTotalBandwidth > 0 {
		p = p[:min(len(p), burstFor(sh.UpTotalBandwidth))]
	}
	n, err := c.Conn.Read(p)
	if n > 0 {
		if werr := c.pay(n); werr != nil && err == nil {
			err = werr
		}
	}
	return n, err
}

// pay waits until the read buckets allow n bytes just read.
func (c *conn) pay(n int) error {
	now := time.Now()
	r1 := c.rlim.ReserveN(now, n)
	r2 := c.s.upTotalLimiter.ReserveN(now, n)
	var d time.Duration
	for _, r := range []interface {
		OK() bool
		DelayFrom(time.Time) time.Duration
	}{r1, r2} {
		if r.OK() {
			d = max(d, r.DelayFrom(now))
		}
	}
	if d <= 0 {
		return nil
	}
	c.s.throttleWaits.Add(1)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-c.ctx.Done():
		return net.ErrClosed
	}
}
