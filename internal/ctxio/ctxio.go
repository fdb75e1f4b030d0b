// Package ctxio has the io helpers the backends share.
package ctxio

import (
	"context"
	"io"
)

// NewReader returns a Reader of r that stops, with ctx's error, once ctx is
// done: a Put that reads its body from a slow source ends with its ctx.
func NewReader(ctx context.Context, r io.Reader) io.Reader { return &reader{ctx: ctx, r: r} }

type reader struct {
	ctx context.Context
	r   io.Reader
}

func (c *reader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
