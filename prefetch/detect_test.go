package prefetch

import (
	"fmt"
	"testing"
)

// The stream detector as a table: each case is a sequence of reads and
// the verdict expected for each.
func TestDetector(t *testing.T) {
	const bs = 1 << 20
	const kb = 1 << 10
	type rd struct {
		off, n int64
		want   verdict
	}
	seq := func(i int) verdict { return verdict{stream: i, created: -1} }
	none := verdict{stream: -1, created: -1}
	made := func(i int) verdict { return verdict{stream: -1, created: i} }
	madeRandom := func(i int) verdict { return verdict{stream: -1, created: i, turnedRandom: true} }
	cases := []struct {
		name  string
		reads []rd
	}{
		{"sequential from the start", []rd{{0, 64 * kb, seq(0)}, {64 * kb, 64 * kb, seq(0)}, {128 * kb, 64 * kb, seq(0)}}},
		{"a stream elsewhere needs two reads", []rd{{100 * bs, 4 * kb, made(1)}, {100*bs + 4*kb, 4 * kb, seq(1)}}},
		{"random reads turn random mode on at the third", []rd{
			{50 * bs, 4 * kb, made(1)}, {10 * bs, 4 * kb, made(2)}, {90 * bs, 4 * kb, madeRandom(3)}, {30 * bs, 4 * kb, made(0)},
		}},
		{"a young stream continues only forward (Parquet footer)", []rd{
			{400*bs - 8, 8, made(1)}, {400*bs - 8 - 256*kb, 256 * kb, made(2)},
		}},
		{"two regions alternating both stream", []rd{
			{0, 64 * kb, seq(0)}, {50 * bs, 64 * kb, made(1)}, {64 * kb, 64 * kb, seq(0)}, {50*bs + 64*kb, 64 * kb, seq(1)},
			{128 * kb, 64 * kb, seq(0)}, {50*bs + 128*kb, 64 * kb, seq(1)},
		}},
		{"out of random mode after three reads continue one stream", []rd{
			{50 * bs, 4 * kb, made(1)}, {10 * bs, 4 * kb, made(2)}, {90 * bs, 4 * kb, madeRandom(3)},
			// A fourth stream replaces the least recently used, the
			// first (at 0), and three reads must continue it.
			{20 * bs, 4 * kb, made(0)}, {20*bs + 4*kb, 4 * kb, none}, {20*bs + 8*kb, 4 * kb, none}, {20*bs + 12*kb, 4 * kb, seq(0)},
		}},
		{"a straggler up to Forward behind continues the stream", []rd{
			{0, bs, seq(0)}, {bs, bs, seq(0)}, {2 * bs, bs, seq(0)}, {bs / 2, 4 * kb, seq(0)},
		}},
		{"an established stream replaced is a reset", []rd{
			{0, bs, seq(0)}, {bs, bs, seq(0)},
			{100 * bs, kb, made(1)}, {200 * bs, kb, made(2)}, {300 * bs, kb, madeRandom(3)},
			{400 * bs, kb, verdict{stream: -1, reset: true, created: 0}},
		}},
	}
	cfg, _ := Config{}.withDefaults()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newDetector(cfg, bs, false)
			for i, r := range c.reads {
				if got := d.classify(r.off, r.n); got != r.want {
					t.Fatalf("read %d (%d+%d): %+v, want %+v; streams %s", i, r.off, r.n, got, r.want, fmt.Sprint(d.streams))
				}
			}
		})
	}
}

// The window starts at two blocks (or twice the first read), doubles up
// to MaxWindow and halves down to one block.
func TestDetectorWindow(t *testing.T) {
	const bs = 1 << 20
	cfg, _ := Config{MaxWindow: 8 * bs}.withDefaults()
	d := newDetector(cfg, bs, false)
	d.classify(0, bs)
	if w := d.streams[0].window; w != 2*bs {
		t.Fatalf("start window %d", w)
	}
	for range 5 {
		d.grow(0)
	}
	if w := d.streams[0].window; w != 8*bs {
		t.Errorf("grown window %d, want MaxWindow", w)
	}
	for range 5 {
		d.shrink(0)
	}
	if w := d.streams[0].window; w != bs {
		t.Errorf("shrunk window %d, want one block", w)
	}
	if w := d.startWindow(3 * bs); w != 6*bs {
		t.Errorf("window of a stream started by a 3-block read: %d", w)
	}
	if !d.wanted(0) || d.wanted(100*bs) {
		t.Error("wanted: the block at the stream's position is wanted, one far past its window is not")
	}
}
