// Package prefetch reads ahead of sequential readers and keeps random
// readers from fetching more than they ask, under one memory budget
// shared by every open file.
//
// # Streams
//
// Each open file ([Reader]) tracks a few sequential streams
// (Config.Streams), so a reader that alternates between two regions still
// streams. A read continues a stream when it lands within Config.Backward
// before or Config.Forward past the stream's position, so reads that
// several goroutines issue in order, and that arrive a little out of
// order, still count as sequential. A stream is established after two
// reads; until then, and for reads that continue no stream, only the bytes
// asked for are fetched.
//
// # Window
//
// A stream's window follows its reader: it is twice the bytes the stream
// has read (a fresh handle's two 4 KiB reads fetch 16 KiB ahead, not
// blocks), growing as the reader keeps up. While it is under a block, the
// stream is young: its readahead is the window's bytes fetched with the
// read that missed (one request), kept by the cache as extents, so the
// next reads find them. From a block on, whole blocks load ahead of the
// stream's position, up to its window, as many at once as the file's
// concurrency (below) and Config.MaxLoads over all files allow (a reader
// waiting for its own block is never held back by that cap). The window also doubles when a
// read has to wait for a block, and again for every 50 ms it goes on
// waiting (a cold stream over a slow link has all its loads in flight
// within a few round trips), up to Config.MaxWindow; it halves when the
// budget is short. Where the cache has no tier to keep a young stream's
// bytes, streams start at two blocks instead; in a peer ring, young
// streams load whole blocks, which the ring shares. The first bytes of a cold
// read arrive after one round trip, since the cache serves a block's
// bytes as they arrive. Blocks behind a stream (beyond Backward) are let
// go; a huge single read lets go of each block once copied, so it streams
// through the budget.
//
// # Concurrency that seeks throughput
//
// A file starts with 6 loads in flight (Config.Concurrency caps it). It
// measures the rate its reader is served over samples of at least 300 ms
// and a round of loads, and probes one sample at a time:
//
//   - if its reader had to wait for loads, it adds half as many loads
//     again (an eighth, once a raise has failed), and keeps them if the
//     rate rose by a tenth over the best sample at the count before (not
//     the last one: a sample the machine's other work took down must not
//     make a raise look as if it paid);
//   - a raise that did not pay (the link's total, the store or the CPUs
//     are the limit) is undone and a quarter of the loads shed at once,
//     and again each sample while the rate stays within a twentieth of
//     the rate before the raise; a shed that loses more is undone;
//   - but once a raise has paid in proportion to the loads it added
//     (four fifths of it, at least), the loads were the limit and each
//     gives the rate it measured: a raise that then does not pay goes
//     straight to the count the best rate needs at that rate a load, and
//     stays there (a link of 20 MB/s a connection and 200 MB/s in all:
//     11 loads), instead of shedding step by step to find it.
//
// The first sample starts once the file has had all its loads in flight,
// and a sample in which the reader jumped elsewhere is taken again. A
// sample ends on a read, or on a reader's wait for a load that passes
// 300 ms since the last: a reader inside its first block on a slow link
// (8 MiB at 20 MB/s takes 0.42 s) has its loads raised before that read
// returns. After a
// shed that failed, probing pauses for three samples, doubled after each
// such failure up to 24, and the next raise that fails from that count
// pauses instead of shedding again. On a store whose connections are slow
// each (a few MB/s, as across regions), a file so finds the width of the
// link by itself; on a link a few connections fill, it keeps no more
// loads in flight than fill it, since each holds a block's buffer and a
// load in flight when the reader jumps elsewhere is fetched for nothing.
// Config.MaxLoads and the budget bound all files together.
//
// A load in the last eighth of its block no longer counts as in flight,
// so the next block's request goes out while the link still carries that
// tail and its round trip passes unseen. Loads that share a link evenly
// end together; without the overlap the loads after them would start
// together and leave the link idle for a round trip each time (scenario
// 1b of the harness lost a sixth of its rate every 0.45 s to it).
//
// A stream holds at most twice the file's loads in flight ahead of its
// reader, loading or loaded: a reader slower than the link paces the
// loads rather than filling its window with blocks it may skip. The last
// blocks of an object (within the file's count of loads of its end) are
// each fetched in two ranges at once (cache.LoadOptions.Parts): no load
// follows them to keep the link busy while they end.
//
// # Loads nobody wants are cancelled
//
// The blocks a Reader holds are references on the cache's loads; letting
// go of a load nobody else holds cancels it. That happens on Close, when
// the reader jumps elsewhere (the loads still running ahead of the stream
// it left, and the rest of the block it was reading: what had arrived of
// that block is kept as an extent), when random mode starts, past a
// shrunk window, and after Config.IdleTimeout without a read. A stream
// that starts inside a block (a skip landed there) reads that block
// sparse and never loads it whole, so the bytes skipped are not fetched.
//
// # Random reads
//
// After Config.RandomAfter reads in a row that continue no stream, a file
// is in random mode: reads fetch only their bytes, which the cache keeps
// as extents (a second read of them is a hit), unless the block is cached
// or being loaded, or has been read densely enough (a sixteenth of it
// asked) to be worth loading whole. A read across blocks fetched that way
// is one request. Three reads of one stream with no stray read between
// them turn streaming back on.
//
// # Planning and fetching
//
// The Reader plans; the cache fetches. The stream detector (detect.go) is
// a pure state machine over the offsets read. Readahead asks the cache
// whether a block is cached (cache.Blocks.Cached, which reads nothing and
// counts nothing) and holds the loads it starts as cache.Handle
// references; letting go of a load nobody else wants (behind the stream,
// past a shrunk window, on Close, on idle) cancels it. Plans are made
// under the Reader's lock and I/O is done outside it.
//
// # Budget
//
// One [Budget] bounds the bytes of readahead held and of blocks loading,
// over all files; the cache's own loads reserve from it too. Readahead
// reserves before it fetches and is skipped when the budget is short; a
// reader never holds memory while it waits for more (it lets go of what it
// holds and fetches only its bytes), so readers cannot starve each other.
// Readahead of a file idle for Config.IdleTimeout is released.
package prefetch
