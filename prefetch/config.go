package prefetch

import (
	"fmt"
	"io/fs"
	"time"
)

// Config tunes readahead. The zero value of each field means the default
// given in its comment; DefaultConfig returns them filled in.
type Config struct {
	// Disabled turns readahead off: every read is a demand read (whole
	// blocks while the access looks sequential, only the bytes asked for
	// once it looks random).
	Disabled bool
	// MaxWindow caps how far ahead of a stream's position blocks are
	// fetched, in bytes. The window is twice what the stream has read,
	// doubles when a read has to wait for data, and again for every 50 ms
	// it goes on waiting, and widens to hold the loads the file keeps in
	// flight, up to MaxWindow; it halves when the budget runs short. Zero
	// means 256 MiB.
	MaxWindow int64
	// Concurrency caps the blocks one file fetches at once. A file starts
	// at 8 (or the cap, if lower), adds loads while that raises its
	// measured throughput and sheds them while that loses none (see the
	// package doc). Zero means 32.
	Concurrency int
	// MaxLoads caps the readahead loads in flight over all files, so that
	// many streams at once do not open more connections than the store
	// and the host serve well. A reader waiting for its own block is not
	// held back by it. Zero means 64.
	MaxLoads int
	// Budget bounds, over all files, the bytes of readahead held and of
	// blocks in flight. Readahead reserves before it fetches and is
	// skipped when the budget is short; demand reads wait for it. Zero
	// means 512 MiB.
	Budget int64
	// Forward and Backward bound how far a read may land past (or
	// before) an established stream's position and still count as that
	// stream going on: reads that several goroutines issue in order
	// arrive a little out of order. Blocks within Backward behind a
	// stream are kept for such late reads. Zero means 16 MiB and 4 MiB.
	Forward, Backward int64
	// Streams is how many sequential streams one file tracks, so that a
	// reader alternating between regions still streams. Zero means 4.
	Streams int
	// RandomAfter is how many reads in a row that continue no stream turn
	// a file to random mode, where misses fetch only the bytes asked for.
	// A read that continues a stream turns it back. Zero means 3.
	RandomAfter int
	// IdleTimeout releases the readahead a file holds once it has not
	// been read for this long. Zero means 10s.
	IdleTimeout time.Duration
}

// DefaultConfig returns the defaults: a 256 MiB window, 8 blocks in
// flight per file to start with and up to 32 while more raise the
// throughput, a 512 MiB budget over all files.
func DefaultConfig() Config {
	return Config{
		MaxWindow: 256 << 20, Concurrency: 32, MaxLoads: 64, Budget: 512 << 20,
		Forward: 16 << 20, Backward: 4 << 20, Streams: 4, RandomAfter: 3, IdleTimeout: 10 * time.Second,
	}
}

// ModelLoadConfig is for loading large models on big hosts: a 512 MiB
// window, up to 64 blocks in flight per file and a 4 GiB budget, so that
// one stream can fill a fast link by itself.
func ModelLoadConfig() Config {
	c := DefaultConfig()
	c.MaxWindow, c.Concurrency, c.MaxLoads, c.Budget = 512<<20, 64, 256, 4<<30
	return c
}

// withDefaults fills zero fields and validates the rest.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	fill := func(v *int64, def int64) {
		if *v == 0 {
			*v = def
		}
	}
	fill(&c.MaxWindow, d.MaxWindow)
	fill(&c.Budget, d.Budget)
	fill(&c.Forward, d.Forward)
	fill(&c.Backward, d.Backward)
	if c.Concurrency == 0 {
		c.Concurrency = d.Concurrency
	}
	if c.MaxLoads == 0 {
		c.MaxLoads = d.MaxLoads
	}
	if c.Streams == 0 {
		c.Streams = d.Streams
	}
	if c.RandomAfter == 0 {
		c.RandomAfter = d.RandomAfter
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = d.IdleTimeout
	}
	switch {
	case c.MaxWindow < 0, c.Budget < 0, c.Forward < 0, c.Backward < 0:
		return c, fmt.Errorf("prefetch: %w: negative size in %+v", fs.ErrInvalid, c)
	case c.Concurrency < 0, c.MaxLoads < 0, c.Streams < 0, c.RandomAfter < 0, c.IdleTimeout < 0:
		return c, fmt.Errorf("prefetch: %w: negative count or duration in %+v", fs.ErrInvalid, c)
	}
	return c, nil
}
